//! Wiring of a ledger node: configuration, keys, the chain store, the consensus engine and the
//! HTTP gateway, with a clean shutdown on SIGTERM or Ctrl-C.

mod config;
mod dev;
mod keys;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::serve::Listener;
use cunzheng_builder::Chain;
use cunzheng_consensus::{Consensus, EngineSettings, Fault, Multiaddr};
use cunzheng_gateway::{
    listener::{GatewayListener, Peer},
    router, AppState, MembersConnected,
};
use cunzheng_p2p::{Connected, Gossip, GossipConfig, PeerId};
use cunzheng_store::ChainStore;
use cunzheng_types::Genesis;
use tracing::{error, info, warn};

pub use crate::config::Config;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`), with colours only on a terminal so
/// that log files read as plain `key=value` text. A node with no peers (the dev node, a
/// consortium of one) silences the engine's network layer, which otherwise reports every
/// message it had no peer to send to as an error.
pub fn init_logging(alone: bool) {
    use std::io::IsTerminal;

    let from_env = std::env::var("RUST_LOG").ok();
    let mut filter = tracing_subscriber::EnvFilter::new(from_env.as_deref().unwrap_or("info"));
    let network = "arc_malachitebft_network";
    if alone && !from_env.is_some_and(|f| f.contains(network)) {
        filter = filter.add_directive(format!("{network}=off").parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

/// Runs the node until SIGTERM or Ctrl-C.
pub async fn run(config: Config, dev: bool, fault: Option<Fault>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    keep_private(&config.data_dir)?;
    if dev {
        dev::prepare(&config)?;
    }

    let genesis_path = config.path(&config.keys.genesis);
    let genesis: Genesis = serde_json::from_slice(
        &std::fs::read(&genesis_path)
            .with_context(|| format!("reading {}", genesis_path.display()))?,
    )
    .with_context(|| format!("parsing {}", genesis_path.display()))?;
    let validator = match &config.keys.validator_key {
        Some(path) => Some(keys::read_signing_key(&config.path(path))?),
        None => None,
    };
    let operator = keys::read_operator(&config)?;
    let admin_token = keys::read_admin_token(&config)?;
    let readers = keys::read_reader_tokens(&config)?;

    let store = ChainStore::open(&config.data_dir.join("chain"))
        .with_context(|| format!("opening the chain store in {}", config.data_dir.display()))?;
    let chain = Arc::new(Chain::open(store.clone(), genesis, config.chain_config())?);
    match store.verify_audit_trail()? {
        Ok(head) => {
            info!(target: "node", entries = head.entries, head = %head.hash, "audit trail verified")
        }
        Err(b) => {
            error!(target: "node", entry = b.seq, reason = %b.reason, "the audit trail was altered")
        }
    }

    // A member's libp2p identity is its validator key unless `keys.node_key` names another; a
    // full node has a key of its own.
    let node_key = match (&validator, &config.keys.node_key) {
        (Some(k), None) => k.clone(),
        _ => keys::node_key(&config)?,
    };
    let role = if validator.is_some() { "member" } else { "full node" };
    if let Some(fault) = fault {
        warn!(target: "node", ?fault, "started with a test fault: this member proposes invalid blocks");
    }
    if let Some(key) = &validator {
        chain.sign_checkpoints(key.clone());
    }
    let settings = EngineSettings { fault, ..config.engine_settings()? };
    let consensus = Consensus::start(chain.clone(), &node_key, validator, settings).await?;
    let gossip = match config.gossip_addresses()? {
        Some((listen, peers)) => {
            let gossip = GossipConfig {
                members: members(chain.genesis(), &peers),
                listen,
                peers,
                chain_id: chain.genesis().chain_id.clone(),
            };
            Some(Gossip::start(chain.clone(), &node_key, gossip)?)
        }
        None => None,
    };

    let tls = config.tls()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = GatewayListener::bind(&config.http.addr, config.http.max_connections, tls)
        .await
        .with_context(|| format!("binding {}", config.http.addr))?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut gateway = config.gateway_config(admin_token.clone(), readers);
    if operator.is_some() {
        gateway.portal = Some(config.portal_config(dev, admin_token)?);
    }
    let state = AppState::new(chain.clone(), gateway, operator.clone());
    if let Some(gossip) = &gossip {
        state.set_members_connected(members_connected(chain.genesis(), gossip.connected()));
    }
    info!(target: "node", %addr, scheme, role, chain_id = %chain.genesis().chain_id, height = chain.head().height, max_connections = config.http.max_connections, "serving http");

    if dev {
        let operator = operator.context("the dev node needs the operator keys")?;
        dev::ensure_demo_client(&config, &chain, &operator, format!("{scheme}://{addr}")).await?;
    } else if let (Some(path), Some(operator)) = (&config.keys.demo_credentials, operator) {
        // The consortium may still be gathering: register in the background until it decides.
        let (client_id, client_key) = dev::read_credentials(&config.path(path))?;
        let chain = chain.clone();
        tokio::spawn(async move {
            let wait = std::time::Duration::from_secs(10);
            while let Err(e) =
                dev::ensure_client(&chain, &operator, &client_id, &client_key, wait).await
            {
                warn!(target: "node", client_id, error = %e, "demo client not registered yet; retrying");
            }
        });
    }

    // The peer address reaches handlers, for the portal's per-address limits.
    axum::serve(listener, router(state).into_make_service_with_connect_info::<Peer>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("http server")?;

    info!(target: "node", "stopping consensus");
    if let Some(g) = gossip {
        g.stop();
    }
    consensus.stop().await;
    if let Err(e) = store.flush() {
        warn!(target: "node", error = %e, "flush at shutdown failed; the write-ahead log still holds every block");
    }
    info!(target: "node", height = chain.head().height, "stopped");
    Ok(())
}

/// Makes the data directory the owner's only: it holds the chain, portal sessions, uploaded
/// files and, on a dev node, keys.
fn keep_private(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private (chmod 700)", dir.display()))?;
        info!(target: "node", dir = %dir.display(), was = format!("{:o}", mode & 0o777), "data directory made private (700)");
    }
    Ok(())
}

/// The peers allowed to gossip: every genesis member, and any peer configured by hand.
/// The genesis names of the members among the connected gossip peers, in genesis order.
fn members_connected(genesis: &Genesis, connected: Connected) -> MembersConnected {
    let named: Vec<(PeerId, String)> = genesis
        .validators
        .iter()
        .filter_map(|v| cunzheng_p2p::peer_id(&v.public_key.0).map(|p| (p, v.name.clone())))
        .collect();
    Box::new(move || {
        let now = connected.lock();
        named.iter().filter(|(p, _)| now.contains(p)).map(|(_, n)| n.clone()).collect()
    })
}

fn members(genesis: &Genesis, peers: &[Multiaddr]) -> Vec<PeerId> {
    let configured = peers.iter().filter_map(|a| match a.iter().last() {
        Some(cunzheng_p2p::Protocol::P2p(p)) => Some(p),
        _ => None,
    });
    genesis
        .validators
        .iter()
        .filter_map(|v| cunzheng_p2p::peer_id(&v.public_key.0))
        .chain(configured)
        .collect()
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    info!(target: "node", "shutdown requested");
}
