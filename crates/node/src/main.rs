//! `cunzheng-node`: runs a ledger node.
//!
//! ```text
//! cunzheng-node --dev [--data DIR] [--http ADDR]     a one-validator chain with a demo client
//! cunzheng-node --config node.toml [--data DIR]      a configured node
//!               [--tls-cert PEM --tls-key PEM]      HTTPS instead of HTTP
//! ```

use std::path::PathBuf;

use clap::Parser;

/// A cunzheng ledger node.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Start a one-validator development chain, creating keys, genesis and a demo client.
    #[arg(long)]
    dev: bool,
    /// Node configuration (TOML).
    #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// Data directory (overrides the configuration).
    #[arg(long)]
    data: Option<PathBuf>,
    /// HTTP listen address (overrides the configuration).
    #[arg(long)]
    http: Option<String>,
    /// TLS certificate chain (PEM): the gateway speaks HTTPS (overrides the configuration).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of the certificate.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Test only: propose invalid blocks (bad-tx-root, foreign-tx, future-time), so that tests show the
    /// other members refuse them.
    #[arg(long, hide = true)]
    fault: Option<cunzheng_consensus::Fault>,
    /// Measuring only: a dev chain that executes no compliance rule (no verdicts, consent
    /// histories, counts or reports), to set deposit throughput without them beside the
    /// throughput with them. Its data directory is refused by a node that computes verdicts.
    #[arg(long, hide = true, requires = "dev")]
    without_verdicts: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => cunzheng_node::Config::load(path)?,
        None => cunzheng_node::Config::dev(),
    };
    let mut config = config.with_overrides(args.data, args.http);
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.http.tls_cert = Some(std::path::absolute(cert)?);
        config.http.tls_key = Some(std::path::absolute(key)?);
    }
    config.without_verdicts = args.without_verdicts;
    cunzheng_node::init_logging(config.consensus.peers.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(cunzheng_node::run(config, args.dev, args.fault))
}
