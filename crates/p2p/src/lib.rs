//! Member-to-member gossip over libp2p: transactions, and the members' signatures of the
//! log's checkpoints.
//!
//! A call taken by any member's gateway enters that member's pool; its new transactions are
//! published here and land in every other member's pool, so that whoever proposes the next
//! height can include them. Blocks and votes travel through the consensus engine's own
//! network. A second topic carries each member's signature of each new checkpoint (see
//! `cunzheng_builder::Checkpoints`), so that every member can serve a checkpoint signed by a
//! quorum; each member sends its newest signature again every few seconds for members that
//! restarted.
//!
//! ```text
//!  gateway ─▶ Chain::submit ─▶ outbound queue ─▶ gossipsub topic ─▶ members ─▶ Chain::add_gossiped
//! ```
//!
//! The swarm is permissioned: its identity is the member's validator key, and only the peer
//! ids of genesis members (and any peers configured by hand) may connect; a stranger's
//! connection is refused and logged. Links are encrypted and authenticated by Noise.
//! A message is a borsh list of canonical transaction bytes; each is decoded and checked
//! like any other pooled transaction, and refused by block execution if it breaks a rule.

use std::{collections::HashSet, sync::Arc, time::Duration};

use cunzheng_builder::{Chain, CheckpointSignature};
use cunzheng_types::{Hash, PublicKey, SealedTx};
use ed25519_dalek::SigningKey;
use libp2p::{
    allow_block_list::{self, AllowedPeers},
    futures::StreamExt,
    gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode},
    identity::Keypair,
    noise,
    swarm::{DialError, ListenError, NetworkBehaviour, SwarmEvent},
    tcp, yamux, Multiaddr, Swarm, SwarmBuilder,
};
use tokio::{sync::mpsc, task::JoinHandle};
use tracing::{debug, info, warn};

pub use libp2p::{multiaddr::Protocol, PeerId};

/// Largest gossip message: a call of 1,000 records is about 250 KB.
const MAX_MESSAGE: usize = 4 << 20;
/// Calls waiting to be published; beyond it they wait for this member's own turn to propose.
const QUEUE: usize = 256;
/// How often a member sends its newest checkpoint signature again.
const REPUBLISH: Duration = Duration::from_secs(5);

/// Where this member listens and whom it talks to.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    pub listen: Multiaddr,
    /// The other members' gossip addresses, each ending in `/p2p/<peer id>`.
    pub peers: Vec<Multiaddr>,
    /// The libp2p peer id of every member allowed to connect.
    pub members: Vec<PeerId>,
    /// Transactions of one chain only: the topic is named after its id.
    pub chain_id: String,
}

/// Why gossip did not start.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    #[error("libp2p identity: {0}")]
    Identity(String),
    #[error("gossip setup: {0}")]
    Setup(String),
    #[error("listening on {addr}: {error}")]
    Listen { addr: Multiaddr, error: String },
}

/// The libp2p peer id of a member whose ed25519 public key is `key`.
pub fn peer_id(key: &[u8; 32]) -> Option<PeerId> {
    let public = libp2p::identity::ed25519::PublicKey::try_from_bytes(key).ok()?;
    Some(libp2p::identity::PublicKey::from(public).to_peer_id())
}

struct Topics {
    txs: IdentTopic,
    checkpoints: IdentTopic,
}

struct Queues {
    txs: mpsc::Receiver<Vec<Arc<SealedTx>>>,
    signed: mpsc::Receiver<CheckpointSignature>,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    allowed: allow_block_list::Behaviour<AllowedPeers>,
    gossipsub: gossipsub::Behaviour,
}

/// The running gossip swarm.
pub struct Gossip {
    task: JoinHandle<()>,
    local: PeerId,
    connected: Connected,
}

/// The peers this member's swarm holds a connection to.
pub type Connected = Arc<parking_lot::Mutex<HashSet<PeerId>>>;

impl std::fmt::Debug for Gossip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gossip").field("peer_id", &self.local).finish()
    }
}

impl Gossip {
    /// Starts the swarm with `key` as its identity and connects `chain`'s pool to it.
    pub fn start(
        chain: Arc<Chain>,
        key: &SigningKey,
        config: GossipConfig,
    ) -> Result<Self, GossipError> {
        let keypair = Keypair::ed25519_from_bytes(key.to_bytes())
            .map_err(|e| GossipError::Identity(e.to_string()))?;
        let local = keypair.public().to_peer_id();
        let topics = Topics {
            txs: IdentTopic::new(format!("cunzheng/{}/txs/1", config.chain_id)),
            checkpoints: IdentTopic::new(format!("cunzheng/{}/checkpoints/1", config.chain_id)),
        };
        let mut swarm = build(keypair, &config, &topics)?;
        swarm.listen_on(config.listen.clone()).map_err(|e| GossipError::Listen {
            addr: config.listen.clone(),
            error: e.to_string(),
        })?;

        let (outbound, queue) = mpsc::channel(QUEUE);
        chain.set_gossip(outbound);
        let (signatures, signed) = mpsc::channel(QUEUE);
        chain.checkpoints().set_gossip(signatures);
        let connected = Connected::default();
        let queues = Queues { txs: queue, signed };
        let task = tokio::spawn(run(swarm, chain, config, topics, queues, connected.clone()));
        Ok(Gossip { task, local, connected })
    }

    pub fn peer_id(&self) -> PeerId {
        self.local
    }

    /// The peers connected now, kept up to date by the swarm.
    pub fn connected(&self) -> Connected {
        self.connected.clone()
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

fn build(
    keypair: Keypair,
    config: &GossipConfig,
    topics: &Topics,
) -> Result<Swarm<Behaviour>, GossipError> {
    let setup = |e: &dyn std::fmt::Display| GossipError::Setup(e.to_string());
    let gossip_config = gossipsub::ConfigBuilder::default()
        .max_transmit_size(MAX_MESSAGE)
        .validation_mode(ValidationMode::Strict)
        .heartbeat_interval(Duration::from_millis(500))
        .build()
        .map_err(|e| setup(&e))?;
    let members = config.members.clone();
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| setup(&e))?
        .with_behaviour(|key| {
            let gossipsub =
                gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), gossip_config)?;
            let mut allowed = allow_block_list::Behaviour::<AllowedPeers>::default();
            members.iter().for_each(|p| {
                allowed.allow_peer(*p);
            });
            Ok(Behaviour { allowed, gossipsub })
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for topic in [&topics.txs, &topics.checkpoints] {
        swarm.behaviour_mut().gossipsub.subscribe(topic).map_err(|e| setup(&e))?;
    }
    Ok(swarm)
}

async fn run(
    mut swarm: Swarm<Behaviour>,
    chain: Arc<Chain>,
    config: GossipConfig,
    topics: Topics,
    mut queues: Queues,
    connected: Connected,
) {
    let members: HashSet<PeerId> = config.members.iter().copied().collect();
    let mut redial = tokio::time::interval(Duration::from_secs(2));
    let mut republish = tokio::time::interval(REPUBLISH);
    loop {
        tokio::select! {
            _ = redial.tick() => dial_missing(&mut swarm, &config.peers),
            _ = republish.tick() => chain.checkpoints().republish(),
            Some(txs) = queues.txs.recv() => publish(&mut swarm, &topics.txs, &txs),
            Some(s) = queues.signed.recv() => publish_signature(&mut swarm, &topics.checkpoints, &s),
            event = swarm.select_next_some() => {
                track(&event, &connected);
                handle(event, &chain, &members, &topics)
            }
        }
    }
}

fn dial_missing(swarm: &mut Swarm<Behaviour>, peers: &[Multiaddr]) {
    for addr in peers {
        let Some(Protocol::P2p(peer)) = addr.iter().last() else { continue };
        if !swarm.is_connected(&peer) {
            if let Err(e) = swarm.dial(addr.clone()) {
                if !matches!(e, DialError::DialPeerConditionFalse(_)) {
                    debug!(target: "p2p", %addr, error = %e, "dial failed");
                }
            }
        }
    }
}

fn publish(swarm: &mut Swarm<Behaviour>, topic: &IdentTopic, txs: &[Arc<SealedTx>]) {
    let bytes = cunzheng_types::wire::encode_gossip(txs);
    match swarm.behaviour_mut().gossipsub.publish(topic.clone(), bytes) {
        Ok(_) => debug!(target: "p2p", txs = txs.len(), "transactions gossiped"),
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
            debug!(target: "p2p", txs = txs.len(), "no member to gossip to")
        }
        Err(e) => warn!(target: "p2p", txs = txs.len(), error = %e, "gossip failed"),
    }
}

/// A checkpoint signature on the wire: borsh of (size, root, signer, signature).
type SignatureWire = (u64, [u8; 32], [u8; 32], [u8; 64]);

fn publish_signature(swarm: &mut Swarm<Behaviour>, topic: &IdentTopic, s: &CheckpointSignature) {
    let wire: SignatureWire = (s.size, s.root.0, s.signer.0, s.signature);
    let bytes = borsh::to_vec(&wire).expect("writing to a vector does not fail");
    match swarm.behaviour_mut().gossipsub.publish(topic.clone(), bytes) {
        Ok(_) | Err(gossipsub::PublishError::Duplicate) => {
            debug!(target: "p2p", size = s.size, "checkpoint signature gossiped")
        }
        Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
        Err(e) => warn!(target: "p2p", size = s.size, error = %e, "checkpoint gossip failed"),
    }
}

fn received_signature(chain: &Chain, from: PeerId, data: &[u8]) {
    let Ok((size, root, signer, signature)) = borsh::from_slice::<SignatureWire>(data) else {
        warn!(target: "p2p", %from, bytes = data.len(), "undecodable checkpoint signature");
        return;
    };
    let s = CheckpointSignature { size, root: Hash(root), signer: PublicKey(signer), signature };
    match chain.checkpoints().add(&s) {
        Ok(new) => debug!(target: "p2p", %from, size, new, "checkpoint signature received"),
        Err(e) => warn!(target: "p2p", %from, size, error = %e, "checkpoint signature refused"),
    }
}

/// Keeps `connected` to the peers with at least one open connection.
fn track(event: &SwarmEvent<BehaviourEvent>, connected: &Connected) {
    match event {
        SwarmEvent::ConnectionEstablished { peer_id, .. } => {
            connected.lock().insert(*peer_id);
        }
        SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
            connected.lock().remove(peer_id);
        }
        _ => {}
    }
}

fn handle(
    event: SwarmEvent<BehaviourEvent>,
    chain: &Arc<Chain>,
    members: &HashSet<PeerId>,
    topics: &Topics,
) {
    match event {
        SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
            propagation_source,
            message,
            ..
        })) => {
            if message.topic == topics.checkpoints.hash() {
                received_signature(chain, propagation_source, &message.data)
            } else {
                received(chain, propagation_source, &message.data)
            }
        }
        SwarmEvent::NewListenAddr { address, .. } => {
            info!(target: "p2p", %address, "gossip listening")
        }
        SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
            debug!(target: "p2p", %peer_id, addr = %endpoint.get_remote_address(), "member connected")
        }
        SwarmEvent::IncomingConnectionError {
            send_back_addr,
            error: ListenError::Denied { cause },
            ..
        } => {
            warn!(target: "p2p", addr = %send_back_addr, reason = %cause, "connection from a stranger refused")
        }
        SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. }
            if !members.contains(&peer) =>
        {
            warn!(target: "p2p", %peer, error = %error, "dial to a non-member refused")
        }
        _ => {}
    }
}

fn received(chain: &Arc<Chain>, from: PeerId, data: &[u8]) {
    let txs = match cunzheng_types::wire::decode_gossip(data) {
        Ok(txs) => txs,
        Err(e) => {
            warn!(target: "p2p", %from, bytes = data.len(), error = %e, "gossip message refused");
            return;
        }
    };
    let chain = chain.clone();
    // The pool checks the store; keep that off the swarm's task.
    tokio::task::spawn_blocking(move || match chain.add_gossiped(txs) {
        Ok(n) => debug!(target: "p2p", %from, new = n, "gossiped transactions pooled"),
        Err(e) => warn!(target: "p2p", %from, error = %e, "gossiped transactions not pooled"),
    });
}
