//! The host loop: answers the engine's requests from the block builder and the chain store.
//!
//! | the engine says | the host does |
//! |---|---|
//! | `ConsensusReady` | starts at the height after the stored head |
//! | `GetValue` | waits for pending transactions (up to most of the propose timeout), builds a block with [`Chain::propose`], keeps it, streams it as parts |
//! | `ReceivedProposalPart` | reassembles a member's block, re-executes it with [`Chain::validate`], keeps it |
//! | `Decided` | commits the block with its certificate in one RocksDB batch ([`Chain::commit`]) |
//! | `Finalized` | starts the next height |
//! | `GetDecidedValues` / `ProcessSyncedValue` | serves and takes decided blocks for members that fell behind |
//!
//! Proposed blocks are kept in the store until their height is decided, so a member that
//! restarts mid-height can still answer for the block it proposed or voted for.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use cunzheng_builder::Chain;
use cunzheng_types::{unix_now_ms, Block, Certificate, CommitSignature, PublicKey};
use malachitebft_app::{
    streaming::{StreamContent, StreamId, StreamMessage},
    types::{
        sync::RawDecidedValue, LocallyProposedValue, MisbehaviorEvidence, PeerId, ProposedValue,
    },
};
use malachitebft_app_channel::{AppMsg, Channels, NetworkMsg};
use malachitebft_core_types::{
    self as mal, CommitCertificate, ExtendedCommitCertificate, ExtendedCommitSignature,
    HeightParams, LinearTimeouts, Round, Validity,
};
use malachitebft_engine::host::{Next, SyncedValueOutcome};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use crate::{
    codec::{block_from_parts, decode_block, encode_block, BlockDecodeError, Undecided},
    context::{Address, BlockId, BlockValue, Ctx, Height, ProposalPart, ValidatorSet},
    signing::Signature,
};

/// Most bytes of transactions in one proposal part.
const PART_BYTES: usize = 256 << 10;
/// Most proposal streams being reassembled at once; the oldest is dropped beyond it.
const MAX_STREAMS: usize = 64;
/// Most bytes one proposal stream may carry.
const MAX_STREAM_BYTES: usize = 64 << 20;
/// Heights past the next one for which proposals are kept until this member gets there.
const MAX_AHEAD: u64 = 2;

/// What the host needs beyond the chain.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub validators: ValidatorSet,
    /// This member, when it votes; none on a full node.
    pub me: Option<Address>,
    pub timeouts: LinearTimeouts,
    /// Longest a proposer waits for transactions before proposing a block without any.
    pub idle_block_interval: Duration,
    /// A misbehaviour to show, in tests of the consortium only.
    pub fault: Option<Fault>,
}

/// Ways a member can be made to propose invalid blocks, so that tests show the others refuse
/// them. No configuration file can set one; only a test-only command-line flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The header's `tx_root` does not match the block's transactions.
    BadTxRoot,
    /// The block carries a record of a client the chain does not know.
    ForeignTx,
    /// The block's time is an hour ahead of the proposer's clock.
    FutureTime,
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bad-tx-root" => Ok(Fault::BadTxRoot),
            "foreign-tx" => Ok(Fault::ForeignTx),
            "future-time" => Ok(Fault::FutureTime),
            _ => {
                Err(format!("unknown fault {s:?}: expected bad-tx-root, foreign-tx or future-time"))
            }
        }
    }
}

/// `block` spoiled as `fault` says.
fn spoil(chain: &Chain, block: Block, fault: Fault, me: Address) -> Block {
    match fault {
        Fault::BadTxRoot => {
            let mut block = block;
            block.header.tx_root = cunzheng_types::Hash([0xee; 32]);
            block
        }
        Fault::ForeignTx => {
            let record = cunzheng_types::Record::Withdraw {
                channel: cunzheng_types::Channel::Voice,
                phone: "C6AAA43716949506D38CF6A1BAA2F576".into(),
                at: unix_now_ms() / 1000,
            };
            let tx = cunzheng_types::Transaction::Record(cunzheng_types::RecordTx {
                client_id: "unregistered".into(),
                record,
            });
            let mut txs = block.txs;
            txs.push(Arc::new(cunzheng_types::SealedTx::new(tx)));
            chain.forge(me.public_key(), block.header.time, txs)
        }
        Fault::FutureTime => chain.forge(me.public_key(), unix_now_ms() + 3_600_000, block.txs),
    }
}

/// A block this member knows of for a height not yet decided.
struct Known {
    round: Round,
    pol_round: Round,
    proposer: Address,
    block: Arc<Block>,
    /// Set once the block has been checked on the head it extends.
    validity: Option<Validity>,
}

/// A proposal stream being reassembled.
#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, StreamContent<ProposalPart>>,
    fin: Option<u64>,
    bytes: usize,
    started: Option<Instant>,
}

/// A block built for `GetValue`, handed back to the loop.
struct Built {
    height: Height,
    round: Round,
    block: Block,
    reply: tokio::sync::oneshot::Sender<LocallyProposedValue<Ctx>>,
}

/// Runs the host loop until the engine stops.
pub async fn run(chain: Arc<Chain>, config: HostConfig, mut channels: Channels<Ctx>) {
    let (built_tx, mut built_rx) = mpsc::channel::<Built>(4);
    let mut host = Host {
        ctx: Ctx::new(chain.genesis().chain_id.clone()),
        chain,
        config,
        network: channels.network.clone(),
        known: HashMap::new(),
        streams: HashMap::new(),
        built_tx,
    };
    loop {
        tokio::select! {
            msg = channels.consensus.recv() => match msg {
                Some(msg) => host.handle(msg).await,
                None => break,
            },
            Some(built) = built_rx.recv() => host.proposed(built).await,
        }
    }
    info!(target: "consensus", "engine stopped; host loop ends");
}

struct Host {
    ctx: Ctx,
    chain: Arc<Chain>,
    config: HostConfig,
    network: mpsc::Sender<NetworkMsg<Ctx>>,
    /// Blocks for undecided heights, by header hash.
    known: HashMap<BlockId, Known>,
    streams: HashMap<(PeerId, StreamId), Stream>,
    built_tx: mpsc::Sender<Built>,
}

impl Host {
    fn next_height(&self) -> Height {
        Height(self.chain.head().height + 1)
    }

    fn params(&self) -> HeightParams<Ctx> {
        HeightParams::new(self.config.validators.clone(), self.config.timeouts, None)
    }

    async fn handle(&mut self, msg: AppMsg<Ctx>) {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let height = self.next_height();
                self.load_undecided(height);
                info!(target: "consensus", %height, validators = self.config.validators.validators().len(), "consensus ready");
                let _ = reply.send((height, self.params()));
            }
            AppMsg::StartedRound { height, round, proposer, role, reply_value } => {
                debug!(target: "consensus", %height, %round, %proposer, ?role, "round started");
                let values = self.values_for(height, round).await;
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue { height, round, timeout, reply } => {
                self.get_value(height, round, timeout, reply).await;
            }
            AppMsg::ReceivedProposalPart { from, published_by, part, reply } => {
                let value = self.received_part(published_by.unwrap_or(from), part).await;
                let _ = reply.send(value);
            }
            AppMsg::Decided { certificate, reply, .. } => {
                self.decided(&certificate).await;
                let _ = reply.send(());
            }
            AppMsg::Finalized { certificate, evidence, reply, .. } => {
                if !evidence.is_empty() {
                    self.keep_evidence(certificate.height, &evidence);
                }
                let next = self.next_height();
                let next = if next > certificate.height {
                    Next::Start(next, self.params())
                } else {
                    warn!(target: "consensus", height = %certificate.height, "decided block not committed; restarting the height");
                    Next::Restart(certificate.height, self.params())
                };
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided_values(*range.start(), *range.end());
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue { height, round, proposer, value_bytes, reply } => {
                let outcome = self.synced_value(height, round, proposer, &value_bytes).await;
                let _ = reply.send(outcome);
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(<Height as mal::Height>::INITIAL);
            }
            AppMsg::RestreamProposal { height, round, valid_round, address, value_id } => {
                match self.known.get(&value_id) {
                    Some(k) => {
                        let block = k.block.clone();
                        self.publish(height, round, valid_round, address, &block).await;
                    }
                    None => {
                        debug!(target: "consensus", %height, %round, block = %value_id, "no such block to restream")
                    }
                }
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions { extensions, reply, .. } => {
                let verdicts = extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect();
                let _ = reply.send(verdicts);
            }
        }
    }

    /// Reloads the blocks kept for `height` by an earlier run.
    fn load_undecided(&mut self, height: Height) {
        let kept = match self.chain.store().undecided(height.0) {
            Ok(kept) => kept,
            Err(e) => {
                error!(target: "consensus", %height, error = %e, "reading kept proposals failed");
                return;
            }
        };
        for (hash, bytes) in kept {
            let Ok(u) = borsh::from_slice::<Undecided>(&bytes) else { continue };
            let Ok(block) = decode_block(&u.block) else { continue };
            if block.header.hash() != hash {
                continue;
            }
            let known = Known {
                round: u.round,
                pol_round: u.pol_round,
                proposer: u.proposer,
                block: Arc::new(block),
                validity: None,
            };
            self.known.insert(hash.into(), known);
        }
    }

    /// Keeps `k` in memory and in the store.
    fn keep(&mut self, id: BlockId, k: Known) {
        let u = Undecided {
            round: k.round,
            pol_round: k.pol_round,
            proposer: k.proposer,
            block: encode_block(&k.block),
        };
        let bytes = borsh::to_vec(&u).expect("writing to a vector does not fail");
        if let Err(e) = self.chain.store().put_undecided(k.block.header.height, &id.hash(), &bytes)
        {
            warn!(target: "consensus", block = %id, error = %e, "keeping a proposal failed");
        }
        self.known.insert(id, k);
    }

    /// Checks `id` on the current head once; blocks for later heights wait.
    async fn validity(&mut self, id: BlockId) -> Option<Validity> {
        let k = self.known.get(&id)?;
        if let Some(v) = k.validity {
            return Some(v);
        }
        if Height(k.block.header.height) != self.next_height() {
            return None;
        }
        let (chain, block) = (self.chain.clone(), k.block.clone());
        let (round, proposer) = (k.round, k.proposer);
        let result = tokio::task::spawn_blocking(move || chain.validate(&block)).await;
        let validity = match result {
            Ok(Ok(())) => Validity::Valid,
            Ok(Err(e)) => {
                let height = block_height(&self.known, id);
                warn!(target: "consensus", height, %round, %proposer, block = %id, error = %e, "invalid proposal refused");
                Validity::Invalid
            }
            Err(e) => {
                error!(target: "consensus", block = %id, error = %e, "block validation panicked");
                Validity::Invalid
            }
        };
        if let Some(k) = self.known.get_mut(&id) {
            k.validity = Some(validity);
        }
        Some(validity)
    }

    fn proposed_value(&self, id: BlockId, validity: Validity) -> Option<ProposedValue<Ctx>> {
        let k = self.known.get(&id)?;
        Some(ProposedValue {
            height: Height(k.block.header.height),
            round: k.round,
            valid_round: k.pol_round,
            proposer: k.proposer,
            value: BlockValue(id),
            validity,
        })
    }

    /// The blocks already known for a round, checked: after a restart, or when parts arrived
    /// before this member reached the height.
    async fn values_for(&mut self, height: Height, round: Round) -> Vec<ProposedValue<Ctx>> {
        let ids: Vec<BlockId> = self
            .known
            .iter()
            .filter(|(_, k)| Height(k.block.header.height) == height && k.round == round)
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Some(validity) = self.validity(id).await {
                out.extend(self.proposed_value(id, validity));
            }
        }
        out
    }

    async fn get_value(
        &mut self,
        height: Height,
        round: Round,
        timeout: Duration,
        reply: tokio::sync::oneshot::Sender<LocallyProposedValue<Ctx>>,
    ) {
        let Some(me) = self.config.me else { return };

        // A proposer asked again for the same round must propose the same block.
        let again = self
            .known
            .iter()
            .find(|(_, k)| {
                k.proposer == me && k.round == round && Height(k.block.header.height) == height
            })
            .map(|(id, k)| (*id, k.block.clone()));
        if let Some((id, block)) = again {
            let _ = reply.send(LocallyProposedValue::new(height, round, BlockValue(id)));
            self.publish(height, round, Round::Nil, me, &block).await;
            return;
        }

        // Waiting for transactions happens off the loop, so that votes and parts keep flowing.
        let chain = self.chain.clone();
        let built = self.built_tx.clone();
        let wait = (timeout * 3 / 4).min(self.config.idle_block_interval);
        let fault = self.config.fault;
        tokio::spawn(async move {
            let block = tokio::task::spawn_blocking(move || {
                chain.wait_for_block(Instant::now() + wait);
                let block = chain.propose(me.public_key(), unix_now_ms());
                match fault {
                    Some(fault) => {
                        warn!(target: "consensus", %height, %round, ?fault, "proposing an invalid block (test fault)");
                        spoil(&chain, block, fault, me)
                    }
                    None => block,
                }
            })
            .await;
            match block {
                Ok(block) => {
                    let _ = built.send(Built { height, round, block, reply }).await;
                }
                Err(e) => {
                    error!(target: "consensus", %height, error = %e, "building a block panicked")
                }
            }
        });
    }

    /// A block this member built: keep it, answer the engine, stream it.
    async fn proposed(&mut self, built: Built) {
        let Built { height, round, block, reply } = built;
        let Some(me) = self.config.me else { return };
        if Height(block.header.height) != height {
            // The head moved while the block was built (a sync); the engine will ask again.
            debug!(target: "consensus", %height, "built block is for another height");
            return;
        }
        let id = BlockId::from(block.header.hash());
        let block = Arc::new(block);
        info!(target: "consensus", %height, %round, block = %id, txs = block.txs.len(), "proposing block");
        let known = Known {
            round,
            pol_round: Round::Nil,
            proposer: me,
            block: block.clone(),
            validity: Some(Validity::Valid),
        };
        self.keep(id, known);
        let _ = reply.send(LocallyProposedValue::new(height, round, BlockValue(id)));
        self.publish(height, round, Round::Nil, me, &block).await;
    }

    /// Streams `block` to the other members as proposal parts.
    async fn publish(
        &self,
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
        block: &Block,
    ) {
        let mut id = height.0.to_be_bytes().to_vec();
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        let stream_id = StreamId::new(Bytes::from(id));

        let mut parts = vec![ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
            header: block.header.canonical_bytes(),
        }];
        let mut chunk = Vec::new();
        let mut size = 0;
        for tx in &block.txs {
            if size + tx.bytes().len() > PART_BYTES && !chunk.is_empty() {
                parts.push(ProposalPart::Txs(std::mem::take(&mut chunk)));
                size = 0;
            }
            size += tx.bytes().len();
            chunk.push(tx.bytes().to_vec());
        }
        if !chunk.is_empty() {
            parts.push(ProposalPart::Txs(chunk));
        }
        parts.push(ProposalPart::Fin);

        let n = parts.len() as u64;
        let contents = parts.into_iter().map(StreamContent::Data).chain([StreamContent::Fin]);
        for (sequence, content) in (0..=n).zip(contents) {
            let msg = StreamMessage::new(stream_id.clone(), sequence, content);
            if self.network.send(NetworkMsg::PublishProposalPart(msg)).await.is_err() {
                warn!(target: "consensus", %height, "network stopped; proposal not streamed");
                return;
            }
        }
    }

    /// Adds a received part; when its stream is complete, the block's proposed value.
    async fn received_part(
        &mut self,
        peer: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<Ctx>> {
        let key = (peer, msg.stream_id.clone());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            let oldest = self.streams.iter().min_by_key(|(_, s)| s.started).map(|(k, _)| k.clone());
            oldest.and_then(|k| self.streams.remove(&k));
        }
        let stream = self.streams.entry(key.clone()).or_default();
        stream.started.get_or_insert_with(Instant::now);
        stream.bytes += part_size(&msg.content);
        if stream.bytes > MAX_STREAM_BYTES {
            warn!(target: "consensus", %peer, "proposal stream too large; dropped");
            self.streams.remove(&key);
            return None;
        }
        if matches!(msg.content, StreamContent::Fin) {
            stream.fin = Some(msg.sequence);
        }
        stream.parts.insert(msg.sequence, msg.content);
        let complete = stream.fin.is_some_and(|f| stream.parts.len() as u64 == f + 1);
        if !complete {
            return None;
        }

        let stream = self.streams.remove(&key)?;
        let (init, block) = match assemble(stream) {
            Ok(v) => v,
            Err((why, Some(init))) => {
                warn!(target: "consensus", %peer, height = %init.height, round = %init.round, proposer = %init.proposer, why, "invalid proposal refused");
                return None;
            }
            Err((why, None)) => {
                warn!(target: "consensus", %peer, why, "malformed proposal stream");
                return None;
            }
        };
        let id = BlockId::from(block.header.hash());
        let height = Height(block.header.height);
        let next = self.next_height();
        if height < next || height.0 > next.0 + MAX_AHEAD {
            debug!(target: "consensus", %peer, %height, "proposal outside the heights being decided");
            return None;
        }
        // Only the round's proposer may propose; a new block (no proof-of-lock round) must
        // also name it as its builder.
        let expected =
            mal::Context::select_proposer(&self.ctx, &self.config.validators, height, init.round)
                .address;
        let builder = Address::from(block.header.proposer);
        if init.proposer != expected || (init.pol_round.is_nil() && builder != expected) {
            warn!(target: "consensus", %peer, %height, round = %init.round, claimed = %init.proposer, %expected, "proposal from a member not proposing this round");
            return None;
        }
        debug!(target: "consensus", height = block.header.height, round = %init.round, block = %id, txs = block.txs.len(), "proposal received");
        if !self.known.contains_key(&id) {
            let known = Known {
                round: init.round,
                pol_round: init.pol_round,
                proposer: init.proposer,
                block: Arc::new(block),
                validity: None,
            };
            self.keep(id, known);
        } else if let Some(k) = self.known.get_mut(&id) {
            // The same block re-proposed in a later round.
            (k.round, k.pol_round, k.proposer) = (init.round, init.pol_round, init.proposer);
        }
        let validity = self.validity(id).await?;
        self.proposed_value(id, validity)
    }

    async fn decided(&mut self, certificate: &CommitCertificate<Ctx>) {
        let height = certificate.height;
        let id = certificate.value_id;
        let Some(block) = self.known.get(&id).map(|k| k.block.clone()) else {
            error!(target: "consensus", %height, block = %id, "decided block is unknown here; waiting for sync");
            return;
        };
        let Some(cert) = to_certificate(certificate) else {
            error!(target: "consensus", %height, "decided certificate has no round");
            return;
        };
        let chain = self.chain.clone();
        let committed = {
            let block = block.clone();
            tokio::task::spawn_blocking(move || chain.commit(&block, &cert)).await
        };
        match committed {
            Ok(Ok(())) => {
                info!(target: "consensus", %height, round = %certificate.round, block = %id, txs = block.txs.len(), signers = certificate.commit_signatures.len(), "block decided");
                self.known.retain(|_, k| k.block.header.height > height.0);
            }
            Ok(Err(e)) => {
                error!(target: "consensus", %height, block = %id, error = %e, "decided block not committed")
            }
            Err(e) => error!(target: "consensus", %height, error = %e, "commit panicked"),
        }
    }

    /// Keeps what Malachite saw of equivocation at `height`, for `GET /v1/evidence`.
    fn keep_evidence(&self, height: Height, evidence: &MisbehaviorEvidence<Ctx>) {
        for statement in crate::evidence::statements(self.chain.genesis(), evidence) {
            warn!(target: "consensus", %height, member = %statement["member"]["name"], kind = %statement["kind"], "equivocation recorded");
            if let Err(e) =
                self.chain.store().append_evidence(height.0, statement.to_string().as_bytes())
            {
                error!(target: "consensus", %height, error = %e, "equivocation evidence not stored");
            }
        }
    }

    fn decided_values(&self, from: Height, to: Height) -> Vec<RawDecidedValue<Ctx>> {
        let store = self.chain.store();
        let mut out = Vec::new();
        for h in from.0..=to.0.min(self.chain.head().height) {
            let (Ok(Some(block)), Ok(Some(cert))) = (store.full_block(h), store.certificate(h))
            else {
                warn!(target: "consensus", height = h, "decided block missing from the store");
                break;
            };
            out.push(RawDecidedValue {
                certificate: from_certificate(&cert),
                value_bytes: Bytes::from(encode_block(&block)),
            });
        }
        out
    }

    async fn synced_value(
        &mut self,
        height: Height,
        round: Round,
        proposer: Address,
        bytes: &[u8],
    ) -> SyncedValueOutcome<Ctx> {
        let block = match decode_block(bytes) {
            Ok(b) if b.header.height == height.0 => b,
            Ok(_) => return SyncedValueOutcome::PeerFault,
            Err(e) => {
                warn!(target: "consensus", %height, error = %e, "undecodable synced block");
                return SyncedValueOutcome::PeerFault;
            }
        };
        let id = BlockId::from(block.header.hash());
        if !self.known.contains_key(&id) {
            let known = Known {
                round,
                pol_round: Round::Nil,
                proposer,
                block: Arc::new(block),
                validity: None,
            };
            self.keep(id, known);
        }
        match self.validity(id).await {
            Some(validity) => match self.proposed_value(id, validity) {
                Some(v) => SyncedValueOutcome::Verdict(ProposedValue { round, proposer, ..v }),
                None => SyncedValueOutcome::LocalTransientError,
            },
            None => SyncedValueOutcome::LocalTransientError,
        }
    }
}

fn block_height(known: &HashMap<BlockId, Known>, id: BlockId) -> u64 {
    known.get(&id).map_or(0, |k| k.block.header.height)
}

fn part_size(content: &StreamContent<ProposalPart>) -> usize {
    match content {
        StreamContent::Data(ProposalPart::Init { header, .. }) => header.len(),
        StreamContent::Data(ProposalPart::Txs(txs)) => txs.iter().map(Vec::len).sum(),
        StreamContent::Data(ProposalPart::Fin) | StreamContent::Fin => 0,
    }
}

/// The first part of a stream.
#[derive(Clone, Copy)]
struct Init {
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: Address,
}

/// A complete stream's block: `Init`, then transactions, then `Fin`. A stream that opens
/// well but is no valid block is refused with what it claimed to be.
fn assemble(stream: Stream) -> Result<(Init, Block), (&'static str, Option<Init>)> {
    let mut parts = stream.parts.into_values();
    let Some(StreamContent::Data(ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
        header,
    })) = parts.next()
    else {
        return Err(("stream does not open with the block header", None));
    };
    let init = Init { height, round, pol_round, proposer };
    let fail = |why| Err((why, Some(init)));
    let mut txs = Vec::new();
    let mut finished = false;
    for part in parts {
        match part {
            StreamContent::Data(ProposalPart::Txs(chunk)) if !finished => txs.extend(chunk),
            StreamContent::Data(ProposalPart::Fin) if !finished => finished = true,
            StreamContent::Fin if finished => {}
            _ => return fail("parts out of order"),
        }
    }
    if !finished {
        return fail("stream has no end part");
    }
    let block = match block_from_parts(&header, txs) {
        Ok(b) => b,
        Err(BlockDecodeError::NotTheHeadersTxs) => {
            return fail("the transactions do not match the header's tx_root")
        }
        Err(_) => return fail("parts are not a block"),
    };
    if block.header.height != height.0 {
        return fail("header height differs from the stream's");
    }
    if round.as_u32().is_none() {
        return fail("proposal without a round");
    }
    Ok((init, block))
}

/// The engine's commit certificate as the ledger stores it.
pub fn to_certificate(c: &CommitCertificate<Ctx>) -> Option<Certificate> {
    Some(Certificate {
        height: c.height.0,
        round: c.round.as_u32()?,
        block_hash: c.value_id.hash(),
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| CommitSignature {
                validator: PublicKey(s.address.0),
                signature: s.signature.0,
            })
            .collect(),
    })
}

/// A stored certificate as the engine syncs it.
pub fn from_certificate(c: &Certificate) -> ExtendedCommitCertificate<Ctx> {
    ExtendedCommitCertificate {
        height: Height(c.height),
        round: Round::new(c.round),
        value_id: BlockId::from(c.block_hash),
        commit_signatures: c
            .signatures
            .iter()
            .map(|s| {
                ExtendedCommitSignature::new(Address(s.validator.0), Signature(s.signature), None)
            })
            .collect(),
    }
}
