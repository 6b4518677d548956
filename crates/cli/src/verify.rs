//! `cunzheng verify`: checks a proof bundle offline against a genesis document the auditor
//! trusts, printing each check that held and naming the first that fails.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cunzheng_types::{Genesis, ProofBundle};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The proof bundle, as `GET /v1/proofs/{tx_id}` serves it (with or without the answer's
    /// `code`/`data` envelope).
    bundle: PathBuf,
    /// The genesis document to trust, as `GET /v1/genesis` serves it or as the consortium
    /// published it.
    #[arg(long)]
    genesis: PathBuf,
}

/// Reads a JSON document that may stand alone or inside the API's `{"code", "data"}` answer.
fn read_document<T: DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let value = match value {
        Value::Object(mut m) if m.contains_key("code") && m.contains_key("data") => {
            m.remove("data").unwrap_or_default()
        }
        v => v,
    };
    serde_json::from_value(value).with_context(|| format!("{} is not a {what}", path.display()))
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let genesis: Genesis = read_document(&args.genesis, "genesis document")?;
    let bundle: ProofBundle = read_document(&args.bundle, "proof bundle")?;
    println!("verifying {} against chain {}", bundle.tx_id, genesis.chain_id);
    match bundle.verify(&genesis) {
        Ok(held) => {
            for line in held {
                println!("  ok  {line}");
            }
            println!(
                "valid: the record is in block {} of {}",
                bundle.block.header.height, genesis.chain_id
            );
            Ok(())
        }
        Err(e) => bail!("invalid: {e}"),
    }
}
