//! `cunzheng verify`: checks a proof bundle offline against a genesis document the auditor
//! trusts, printing each check that held and naming the first that fails.
//!
//! `cunzheng verify-chain`: replays every block from genesis (see
//! [`cunzheng_types::replay`]), through a node's public API or from a stopped node's data
//! directory, and names the first height that breaks a rule.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cunzheng_client::Client;
use cunzheng_store::ChainStore;
use cunzheng_types::{
    proof::BundleVerifier, replay::Replay, BlockHeader, Certificate, Genesis, Hash, ProofBundle,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Proof bundles, as `GET /v1/proofs/{tx_id}` serves them (with or without the answer's
    /// `code`/`data` envelope). Several are checked in one batch: a header certified once
    /// is not checked again.
    #[arg(required = true)]
    bundles: Vec<PathBuf>,
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
    let mut verifier = BundleVerifier::new(&genesis);
    let mut invalid = 0usize;
    for path in &args.bundles {
        let bundle: ProofBundle = match read_document(path, "proof bundle") {
            Ok(b) => b,
            Err(e) => {
                println!("{}: invalid: {e:#}", path.display());
                invalid += 1;
                continue;
            }
        };
        println!("verifying {} against chain {}", bundle.tx_id, genesis.chain_id);
        match verifier.verify(&bundle) {
            Ok(held) => {
                for line in held {
                    println!("  ok  {line}");
                }
                println!(
                    "valid: the record is in block {} of {}",
                    bundle.block.header.height, genesis.chain_id
                );
            }
            Err(e) => {
                println!("invalid: {e}");
                invalid += 1;
            }
        }
    }
    if args.bundles.len() > 1 {
        println!("{} valid, {invalid} invalid", args.bundles.len() - invalid);
    }
    if invalid > 0 {
        bail!("{invalid} of {} bundles invalid", args.bundles.len());
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["api", "data"])))]
pub struct ChainArgs {
    /// A node's API base URL: replays headers, certificates, transaction ids and the log (the
    /// transactions themselves are not public).
    #[arg(long)]
    api: Option<String>,
    /// A stopped node's data directory (or its `chain` database): replays everything, each
    /// transaction's bytes and signatures included.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The genesis document to trust. Without it the source's own genesis is used, which
    /// shows the chain consistent but not that it is the chain you meant.
    #[arg(long)]
    genesis: Option<PathBuf>,
}

/// One block as a source gives it.
struct Fetched {
    header: BlockHeader,
    certificate: Certificate,
    ids: Vec<Hash>,
    txs: Option<Vec<Vec<u8>>>,
}

enum Source {
    Api(Client),
    Data(ChainStore),
}

impl Source {
    async fn genesis(&self) -> anyhow::Result<Genesis> {
        match self {
            Source::Api(c) => Ok(serde_json::from_value(c.genesis().await?.data)?),
            Source::Data(s) => s.genesis()?.context("the database holds no genesis"),
        }
    }

    async fn head(&self) -> anyhow::Result<u64> {
        match self {
            Source::Api(c) => {
                c.status().await?.data["height"].as_u64().context("status without height")
            }
            Source::Data(s) => Ok(s.head()?.map_or(0, |h| h.height)),
        }
    }

    async fn block(&self, height: u64) -> anyhow::Result<Option<Fetched>> {
        match self {
            Source::Api(c) => {
                let Some(answer) = c.block(height).await? else { return Ok(None) };
                let d = answer.data;
                Ok(Some(Fetched {
                    header: serde_json::from_value(d["header"].clone())?,
                    certificate: serde_json::from_value(d["certificate"].clone())?,
                    ids: serde_json::from_value(d["tx_ids"].clone())?,
                    txs: None,
                }))
            }
            Source::Data(s) => {
                let Some(block) = s.block(height)? else { return Ok(None) };
                let certificate = s.certificate(height)?.context("certificate missing")?;
                let txs = s.block_tx_bytes(height, &block.tx_ids)?;
                Ok(Some(Fetched {
                    header: block.header,
                    certificate,
                    ids: block.tx_ids,
                    txs: Some(txs),
                }))
            }
        }
    }
}

pub async fn run_chain(args: &ChainArgs) -> anyhow::Result<()> {
    let source = match (&args.api, &args.data) {
        (Some(api), _) => Source::Api(Client::new(api, "", "")),
        (None, Some(dir)) => {
            let db = if dir.join("chain").is_dir() { dir.join("chain") } else { dir.clone() };
            Source::Data(
                ChainStore::open_read_only(&db)
                    .with_context(|| format!("opening {} (is the node stopped?)", db.display()))?,
            )
        }
        (None, None) => bail!("give --api or --data"),
    };
    let genesis = match &args.genesis {
        Some(path) => {
            let trusted: Genesis = read_document(path, "genesis document")?;
            let served = source.genesis().await?;
            if served != trusted {
                bail!(
                    "invalid: the chain starts from another genesis ({}) than {} ({})",
                    served.hash(),
                    path.display(),
                    trusted.hash()
                );
            }
            trusted
        }
        None => {
            eprintln!("no --genesis given: trusting the genesis the chain itself holds");
            source.genesis().await?
        }
    };
    let head = source.head().await?;
    println!(
        "replaying chain {} ({}) from genesis to height {head}",
        genesis.chain_id,
        genesis.hash()
    );

    let bar = ProgressBar::new(head);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} blocks {per_sec} eta {eta}")?);
    let mut replay = Replay::new(&genesis);
    let mut checked_txs = 0u64;
    loop {
        let height = replay.height() + 1;
        let block = match source.block(height).await {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                bar.abandon();
                bail!("invalid at height {height}: {e:#}");
            }
        };
        if let Err(e) =
            replay.apply(&block.header, &block.certificate, &block.ids, block.txs.as_deref())
        {
            bar.abandon();
            bail!("invalid at height {height}: {e}");
        }
        checked_txs += block.txs.map_or(0, |t| t.len() as u64);
        bar.inc(1);
    }
    bar.finish_and_clear();
    if replay.height() < head {
        bail!("invalid: the chain ends at height {} below its head {head}", replay.height());
    }
    println!(
        "valid: {} blocks, {} transactions in the log, {} transactions decoded and checked",
        replay.height(),
        replay.log_size(),
        checked_txs
    );
    Ok(())
}
