//! Starting and stopping the Malachite engine with this ledger's context and host.

use std::{path::PathBuf, sync::Arc, time::Duration};

use bytesize::ByteSize;
use cunzheng_builder::Chain;
use ed25519_dalek::SigningKey;
use malachitebft_app::{
    config::{ConsensusConfig, NodeConfig, P2pConfig, ValueSyncConfig},
    net::Multiaddr,
    types::{codec::Codec, Keypair},
};
use malachitebft_app_channel::{
    start_engine, ConsensusContext, EngineHandle, NetworkContext, NetworkIdentity, RequestContext,
    Signer, SyncContext, WalContext,
};
use malachitebft_core_types::LinearTimeouts;
use tokio::task::JoinHandle;
use tracing::info;

use crate::{
    codec::WireCodec,
    context::{Address, Ctx, ValidatorSet, ValidatorSetError},
    host::{self, Fault, HostConfig},
    signing::{ChainSigner, ChainVerifier},
};

/// Largest sync response and request-response message, in MiB.
const SYNC_MIB: u64 = 64;

/// How this member takes part.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// A readable name for logs.
    pub moniker: String,
    /// Where the member listens for other members, e.g. `/ip4/127.0.0.1/tcp/27001`.
    pub listen: Multiaddr,
    /// The other members' addresses; only these are dialled or accepted.
    pub peers: Vec<Multiaddr>,
    /// Folder of the engine's write-ahead log.
    pub wal_dir: PathBuf,
    pub timeouts: LinearTimeouts,
    /// Longest a proposer waits for transactions before proposing a block without any.
    pub idle_block_interval: Duration,
    /// A misbehaviour to show, in tests of the consortium only.
    pub fault: Option<Fault>,
}

impl EngineSettings {
    /// A consortium of one on loopback: no peers, the engine's default timeouts, and a block
    /// at most every second when idle.
    pub fn solo(wal_dir: PathBuf) -> Self {
        EngineSettings {
            moniker: "solo".into(),
            listen: "/ip4/127.0.0.1/tcp/0".parse().expect("a valid multiaddr"),
            peers: Vec::new(),
            wal_dir,
            timeouts: LinearTimeouts::default(),
            idle_block_interval: Duration::from_secs(1),
            fault: None,
        }
    }
}

/// Why the engine did not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("genesis validator set: {0}")]
    Validators(#[from] ValidatorSetError),
    #[error("the validator key is not in the genesis validator set")]
    NotAValidator,
    #[error("network identity: {0}")]
    Identity(String),
    #[error("consensus engine: {0}")]
    Engine(String),
}

/// The engine's settings in the shape it reads them.
#[derive(Clone, Debug)]
struct NodeSettings {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for NodeSettings {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// A running engine and its host loop.
pub struct Consensus {
    engine: EngineHandle,
    host: JoinHandle<()>,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus").finish_non_exhaustive()
    }
}

impl Consensus {
    /// Starts the engine on `chain`. `node_key` is the member's libp2p identity; `validator`
    /// its voting key, or none for a full node that follows and verifies without voting.
    pub async fn start(
        chain: Arc<Chain>,
        node_key: &SigningKey,
        validator: Option<SigningKey>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let genesis = chain.genesis().clone();
        let validators = ValidatorSet::from_genesis(&genesis)?;
        let me = validator.as_ref().map(|k| Address(k.verifying_key().to_bytes()));
        if me.is_some_and(|a| genesis.validator(&a.public_key()).is_none()) {
            return Err(EngineError::NotAValidator);
        }
        // The engine needs an address even on a full node; it never signs with it.
        let address = me.unwrap_or(Address(node_key.verifying_key().to_bytes()));

        let ctx = Ctx::new(genesis.chain_id.clone());
        let keypair = Keypair::ed25519_from_bytes(node_key.to_bytes())
            .map_err(|e| EngineError::Identity(e.to_string()))?;
        let identity = match &validator {
            Some(key) => {
                let signer = ChainSigner::new(genesis.chain_id.clone(), key.clone());
                let peer_id = keypair.public().to_peer_id().to_bytes();
                let proof = signer
                    .sign_validator_proof(key.verifying_key().to_bytes().to_vec(), peer_id)
                    .await
                    .map_err(|e| EngineError::Identity(e.to_string()))?;
                let proof =
                    WireCodec.encode(&proof).map_err(|e| EngineError::Identity(e.to_string()))?;
                NetworkIdentity::new_validator(
                    settings.moniker.clone(),
                    keypair,
                    address.to_string(),
                    proof,
                )
            }
            None => NetworkIdentity::new(settings.moniker.clone(), keypair, None),
        };

        // A block of the largest size (10,000 records of a few hundred bytes) must fit one
        // sync response and one request-response message, or a member that fell behind could
        // never fetch it.
        let p2p = P2pConfig {
            listen_addr: settings.listen.clone(),
            persistent_peers: settings.peers.clone(),
            persistent_peers_only: true,
            rpc_max_size: ByteSize::mib(SYNC_MIB),
            ..P2pConfig::default()
        };
        let value_sync = ValueSyncConfig {
            max_response_size: ByteSize::mib(SYNC_MIB),
            ..ValueSyncConfig::default()
        };
        let config = NodeSettings {
            moniker: settings.moniker.clone(),
            consensus: ConsensusConfig { p2p, ..ConsensusConfig::default() },
            value_sync,
        };
        let verifier = ChainVerifier::new(genesis.chain_id.clone());
        let consensus = match validator {
            Some(key) => ConsensusContext::new_validator(
                address,
                Box::new(verifier),
                Box::new(ChainSigner::new(genesis.chain_id.clone(), key)),
            ),
            None => ConsensusContext::new_full_node(address, Box::new(verifier)),
        };

        std::fs::create_dir_all(&settings.wal_dir).map_err(|e| {
            EngineError::Engine(format!("creating {}: {e}", settings.wal_dir.display()))
        })?;
        let (channels, engine) = start_engine(
            ctx,
            config,
            WalContext::new(settings.wal_dir.join("consensus.wal"), WireCodec),
            NetworkContext::new(identity, WireCodec),
            consensus,
            SyncContext::new(WireCodec),
            RequestContext::new(100),
        )
        .await
        .map_err(|e| EngineError::Engine(format!("{e:#}")))?;

        let host_config = HostConfig {
            validators,
            me,
            timeouts: settings.timeouts,
            idle_block_interval: settings.idle_block_interval,
            fault: settings.fault,
        };
        let host = tokio::spawn(host::run(chain, host_config, channels));
        info!(target: "consensus", moniker = %settings.moniker, listen = %settings.listen, peers = settings.peers.len(), validator = me.is_some(), "consensus engine started");
        Ok(Consensus { engine, host })
    }

    /// Stops the engine; the block being committed, if any, is finished first.
    pub async fn stop(self) {
        let _ = self.engine.actor.stop_and_wait(None, Some(Duration::from_secs(5))).await;
        self.engine.handle.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.host).await;
    }
}
