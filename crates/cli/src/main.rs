//! `cunzheng`: the command-line tool for enterprises, operators and load tests.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod bench;
mod bench_reads;
mod keys;
mod operator;
mod submit;
mod verify;

/// Command-line tool for a cunzheng ledger.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deposit every record of a CSV or JSONL file, in signed calls of the allowed size.
    Submit(submit::Args),
    /// Drive concurrent clients against a node and report records/s and call latency.
    Bench(bench::Args),
    /// Time the compliance reads (scrub, record search) against a loaded node.
    BenchReads(bench_reads::Args),
    /// Write a new member or operator key and print its public key.
    Keygen(keys::KeygenArgs),
    /// Build genesis.json from the members' public keys and the operator's.
    Genesis(keys::GenesisArgs),
    /// Check a proof bundle offline against a trusted genesis document.
    Verify(verify::Args),
    /// Replay every block from genesis, through a node's API or a stopped node's data.
    VerifyChain(verify::ChainArgs),
    /// Operator actions on enterprise clients.
    #[command(subcommand)]
    Client(operator::Command),
}

/// Where the API and the enterprise credentials come from.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Credentials file: {"client_id", "client_key", "api"} (as `cunzheng-node --dev` writes).
    #[arg(long, default_value = "data/dev-credentials.json")]
    credentials: PathBuf,
    /// API base URL (overrides the one in the credentials file).
    #[arg(long)]
    api: Option<String>,
    /// PEM certificates to trust for an `https://` API beside the Web PKI's roots, such as the
    /// gateway's own self-signed certificate.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
}

impl Target {
    fn client(&self) -> anyhow::Result<cunzheng_client::Client> {
        let bytes = std::fs::read(&self.credentials)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.credentials.display()))?;
        let c: cunzheng_client::Credentials = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.credentials.display()))?;
        let api = self.api.clone().unwrap_or(c.api);
        let client = cunzheng_client::Client::new(&api, &c.client_id, &c.client_key);
        match &self.ca_cert {
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                Ok(client.trusting(&pem)?)
            }
            None => Ok(client),
        }
    }
}

/// Parses an endpoint path such as `/voice/add`.
fn endpoint(path: &str) -> Result<cunzheng_types::record::Endpoint, String> {
    cunzheng_types::record::Endpoint::ALL
        .into_iter()
        .find(|e| e.path() == path || e.kind() == path)
        .ok_or_else(|| {
            let all: Vec<&str> =
                cunzheng_types::record::Endpoint::ALL.iter().map(|e| e.path()).collect();
            format!("expected one of {}", all.join(", "))
        })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Submit(args) => submit::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::BenchReads(args) => bench_reads::run(args).await,
            Command::Client(cmd) => operator::run(cmd).await,
            Command::Keygen(args) => keys::keygen(&args),
            Command::Genesis(args) => keys::genesis(&args),
            Command::Verify(args) => verify::run(&args),
            Command::VerifyChain(args) => verify::run_chain(&args).await,
        }
    })
}
