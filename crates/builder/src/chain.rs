//! The chain as the consensus engine drives it: propose, validate, commit.

use std::{
    collections::HashSet,
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use cunzheng_store::{ChainStore, ClientEntry, Commit, Head, StoreError};
use cunzheng_types::{
    block::BLOCK_VERSION, merkle, unix_now_ms, Block, BlockHeader, Certificate, CertificateError,
    Genesis, Hash, PublicKey, SealedTx,
};
use ed25519_dalek::{SigningKey, VerifyingKey};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::{
    checkpoint::Checkpoints,
    execute::{execute, ClientView, ExecError, Execution},
    pool::{Pool, PoolFull, Receipt},
};

/// How far ahead of a member's clock a block's time may be. Members whose clocks differ by a
/// few seconds still accept each other's blocks; a proposer whose time is far ahead is
/// refused, so that block times, which records' verdicts and evidence certificates rely on,
/// cannot be pushed into the future.
pub const MAX_CLOCK_AHEAD_MS: u64 = 30_000;

/// Limits of the builder.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// Most transactions in one block.
    pub max_block_txs: usize,
    /// Longest a pending transaction waits for a block to be cut.
    pub block_interval: Duration,
    /// Most transactions pending at once; a call that would exceed it is refused whole.
    pub pool_capacity: usize,
    /// Whether blocks are executed with the compliance rules. Off only to measure what they
    /// cost: such a chain has no verdicts, consent histories, counts or reports.
    pub verdicts: bool,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            max_block_txs: 10_000,
            block_interval: Duration::from_millis(100),
            pool_capacity: 200_000,
            verdicts: true,
        }
    }
}

/// Why a block is not the valid next block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("version {0} is not {BLOCK_VERSION}")]
    Version(u32),
    #[error("block is for chain {0}")]
    ChainId(String),
    #[error("height {got} is not the next height {want}")]
    Height { got: u64, want: u64 },
    #[error("prev_hash does not name the head")]
    PrevHash,
    #[error("time {got} is not after the parent's {parent}")]
    Time { got: u64, parent: u64 },
    #[error(
        "time {got} is more than {MAX_CLOCK_AHEAD_MS} ms ahead of this member's clock ({now})"
    )]
    FutureTime { got: u64, now: u64 },
    #[error("proposer is not a validator")]
    Proposer,
    #[error("tx_count does not match the transactions")]
    TxCount,
    #[error("tx_root does not match the transactions")]
    TxRoot,
    #[error("log_root or log_size does not extend the log with these transactions")]
    Log,
    #[error("transaction {0} appears twice")]
    Duplicate(Hash),
    #[error("transaction {0} is already committed")]
    AlreadyCommitted(Hash),
    #[error("transaction {id} is invalid: {error}")]
    Invalid { id: Hash, error: ExecError },
}

/// Errors of the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid block: {0}")]
    Block(#[from] BlockError),
    #[error("invalid certificate: {0}")]
    Certificate(#[from] CertificateError),
    #[error(transparent)]
    PoolFull(#[from] PoolFull),
    #[error("genesis operator key is not an ed25519 key")]
    OperatorKey,
    #[error("this database was written without the compliance rules (a measurement run); start on a new data directory")]
    WithoutCompliance,
}

/// A block known valid on top of the head it was checked against.
struct Checked {
    block_hash: Hash,
    exec: Execution,
    frontier: merkle::Frontier,
}

struct State {
    head: Head,
    clients: ClientView,
}

/// One node's view of the chain: the store, the pool and the state at the head.
pub struct Chain {
    store: ChainStore,
    genesis: Genesis,
    operator: VerifyingKey,
    config: ChainConfig,
    pool: Pool,
    state: RwLock<State>,
    /// Serializes commits; validation and proposal read a consistent head under it.
    commit_lock: Mutex<()>,
    /// The last block this node proposed or validated, with its execution, so that
    /// committing it does not execute it again.
    checked: Mutex<Option<Checked>>,
    height: watch::Sender<u64>,
    /// Where new transactions go to reach the other members.
    gossip: OnceLock<mpsc::Sender<Vec<Arc<SealedTx>>>>,
    /// The members' signatures of the log's checkpoints.
    checkpoints: Checkpoints,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("chain_id", &self.genesis.chain_id).finish()
    }
}

impl Chain {
    /// Opens the chain on `store`, writing `genesis` on first start.
    pub fn open(
        store: ChainStore,
        genesis: Genesis,
        config: ChainConfig,
    ) -> Result<Self, ChainError> {
        store.init_genesis(&genesis)?;
        if !config.verdicts {
            warn!(target: "builder", "executing without the compliance rules: no verdicts, for measurement only");
            store.mark_without_compliance()?;
        } else if store.written_without_compliance()? {
            return Err(ChainError::WithoutCompliance);
        }
        let operator = genesis.operator_key.verifying_key().ok_or(ChainError::OperatorKey)?;
        let head = store.head()?.unwrap_or_else(|| Head {
            height: 0,
            hash: genesis.hash(),
            time: genesis.genesis_time,
            frontier: merkle::Frontier::default(),
        });
        let clients = ClientView::new(store.clients()?);
        info!(target: "builder", height = head.height, log_size = head.frontier.size, clients = clients.len(), "chain opened");
        let (height, _) = watch::channel(head.height);
        Ok(Chain {
            pool: Pool::new(config.pool_capacity),
            store,
            operator,
            config,
            state: RwLock::new(State { head, clients }),
            commit_lock: Mutex::new(()),
            checked: Mutex::new(None),
            height,
            gossip: OnceLock::new(),
            checkpoints: Checkpoints::new(genesis.clone()),
            genesis,
        })
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }

    /// Makes this node sign the checkpoint of every block that grows the log with `key`, its
    /// validator key, starting with the current head's.
    pub fn sign_checkpoints(&self, key: SigningKey) {
        self.checkpoints.set_signer(key);
        let head = self.head();
        if head.frontier.size > 0 {
            self.checkpoints.sign(head.frontier.size, head.frontier.root());
        }
    }

    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The committed head.
    pub fn head(&self) -> Head {
        self.state.read().head.clone()
    }

    /// Follows the committed height.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    pub fn client(&self, id: &str) -> Option<ClientEntry> {
        self.state.read().clients.get(id).cloned()
    }

    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Queues a call's transactions, all or none. The receipt resolves once every one of them
    /// is in a committed block.
    pub fn submit(&self, txs: Vec<Arc<SealedTx>>) -> Result<Receipt, ChainError> {
        let submitted = self.pool.submit(txs, |ids| self.store.contains(ids))??;
        if !submitted.added.is_empty() {
            if let Some(gossip) = self.gossip.get() {
                // The other members learn of the call's new transactions, so whoever proposes
                // next can include them. A full outbound queue only delays them: they stay
                // here until a block of this member's holds them.
                if gossip.try_send(submitted.added).is_err() {
                    debug!(target: "builder", "gossip queue full; transactions wait for this member's turn");
                }
            }
        }
        Ok(submitted.receipt)
    }

    /// Sends the transactions of every later call to `gossip`, once.
    pub fn set_gossip(&self, gossip: mpsc::Sender<Vec<Arc<SealedTx>>>) {
        let _ = self.gossip.set(gossip);
    }

    /// Pools transactions another member gossiped, without passing them on again. Returns how
    /// many were new here.
    pub fn add_gossiped(&self, txs: Vec<Arc<SealedTx>>) -> Result<usize, ChainError> {
        let submitted = self.pool.submit(txs, |ids| self.store.contains(ids))??;
        Ok(submitted.added.len())
    }

    /// Blocks until a block is worth proposing or `deadline` passes; returns the pending count.
    pub fn wait_for_block(&self, deadline: Instant) -> usize {
        self.pool.wait_for_block(self.config.max_block_txs, self.config.block_interval, deadline)
    }

    /// Wakes anything waiting in [`Chain::wait_for_block`].
    pub fn wake(&self) {
        self.pool.wake();
    }

    /// Builds the next block from the pool. Transactions that the rules refuse are dropped
    /// from the pool and their callers told why.
    pub fn propose(&self, proposer: PublicKey, time_ms: u64) -> Block {
        let _guard = self.commit_lock.lock();
        let state = self.state.read();
        let candidates = self.pool.reap(self.config.max_block_txs);
        let height = state.head.height + 1;
        let verdicts = self.config.verdicts;
        let exec = match execute(
            &state.clients,
            &self.store,
            &self.operator,
            height,
            candidates,
            verdicts,
        ) {
            Ok(exec) => exec,
            Err(e) => {
                // The store cannot be read: propose an empty block rather than a wrong one; the
                // transactions stay pooled for a later height.
                warn!(target: "builder", error = %e, "compliance state unreadable; proposing no transactions");
                Execution::default()
            }
        };
        if !exec.rejected.is_empty() {
            warn!(target: "builder", rejected = exec.rejected.len(), "pool transactions refused by the rules");
            let why: Vec<(Hash, String)> =
                exec.rejected.iter().map(|(id, e)| (*id, e.to_string())).collect();
            self.pool.reject(&why);
        }

        let (header, frontier) = self.next_header(&state.head, proposer, time_ms, &exec.accepted);
        let block = Block { header, txs: exec.accepted.clone() };
        *self.checked.lock() = Some(Checked { block_hash: block.header.hash(), exec, frontier });
        block
    }

    /// The header of the block over `txs` on top of `head`, and the log it extends to.
    fn next_header(
        &self,
        head: &Head,
        proposer: PublicKey,
        time_ms: u64,
        txs: &[Arc<SealedTx>],
    ) -> (BlockHeader, merkle::Frontier) {
        let ids: Vec<Hash> = txs.iter().map(|t| t.id()).collect();
        let mut frontier = head.frontier.clone();
        ids.iter().for_each(|id| frontier.push(*id));
        let header = BlockHeader {
            version: BLOCK_VERSION,
            chain_id: self.genesis.chain_id.clone(),
            height: head.height + 1,
            time: time_ms.max(head.time + 1),
            prev_hash: head.hash,
            tx_root: merkle::root(&ids),
            tx_count: ids.len() as u64,
            log_root: frontier.root(),
            log_size: frontier.size,
            proposer,
        };
        (header, frontier)
    }

    /// A well-formed next block over `txs`, executed by no rule. Only fault-injection tests of
    /// the consortium build one, to show that members refuse what the rules refuse.
    pub fn forge(&self, proposer: PublicKey, time_ms: u64, txs: Vec<Arc<SealedTx>>) -> Block {
        let (header, _) = self.next_header(&self.state.read().head, proposer, time_ms, &txs);
        Block { header, txs }
    }

    /// Checks that `block` is a valid next block, re-executing its transactions.
    pub fn validate(&self, block: &Block) -> Result<(), ChainError> {
        let _guard = self.commit_lock.lock();
        let (exec, frontier) = self.check(block, &self.state.read())?;
        *self.checked.lock() = Some(Checked { block_hash: block.header.hash(), exec, frontier });
        Ok(())
    }

    fn check(
        &self,
        block: &Block,
        state: &State,
    ) -> Result<(Execution, merkle::Frontier), ChainError> {
        let h = &block.header;
        let head = &state.head;
        let fail = |e: BlockError| Err(ChainError::Block(e));
        if h.version != BLOCK_VERSION {
            return fail(BlockError::Version(h.version));
        }
        if h.chain_id != self.genesis.chain_id {
            return fail(BlockError::ChainId(h.chain_id.clone()));
        }
        if h.height != head.height + 1 {
            return fail(BlockError::Height { got: h.height, want: head.height + 1 });
        }
        if h.prev_hash != head.hash {
            return fail(BlockError::PrevHash);
        }
        if h.time <= head.time {
            return fail(BlockError::Time { got: h.time, parent: head.time });
        }
        let now = unix_now_ms();
        if h.time > now + MAX_CLOCK_AHEAD_MS {
            return fail(BlockError::FutureTime { got: h.time, now });
        }
        if self.genesis.validator(&h.proposer).is_none() {
            return fail(BlockError::Proposer);
        }
        if h.tx_count != block.txs.len() as u64 {
            return fail(BlockError::TxCount);
        }

        let ids = block.tx_ids();
        if merkle::root(&ids) != h.tx_root {
            return fail(BlockError::TxRoot);
        }
        let mut frontier = head.frontier.clone();
        ids.iter().for_each(|id| frontier.push(*id));
        if frontier.size != h.log_size || frontier.root() != h.log_root {
            return fail(BlockError::Log);
        }
        let mut seen = HashSet::with_capacity(ids.len());
        if let Some(dup) = ids.iter().find(|id| !seen.insert(**id)) {
            return fail(BlockError::Duplicate(*dup));
        }
        let committed = self.store.contains(&ids)?;
        if let Some((id, _)) = ids.iter().zip(committed).find(|(_, c)| *c) {
            return fail(BlockError::AlreadyCommitted(*id));
        }

        let exec = execute(
            &state.clients,
            &self.store,
            &self.operator,
            h.height,
            block.txs.clone(),
            self.config.verdicts,
        )?;
        if let Some((id, error)) = exec.rejected.first() {
            return fail(BlockError::Invalid { id: *id, error: error.clone() });
        }
        Ok((exec, frontier))
    }

    /// Commits a decided block: checks its certificate against genesis, re-executes it, and
    /// writes block, certificate, indexes, clients and head in one atomic batch. Then resolves
    /// the receipts of its transactions.
    pub fn commit(&self, block: &Block, certificate: &Certificate) -> Result<(), ChainError> {
        let _guard = self.commit_lock.lock();
        certificate.verify(&block.header, &self.genesis)?;
        // A block checked on this head already need not be executed again: the head has not
        // moved since (commits hold the lock), and the same header over the same transactions
        // executes the same way.
        let hash = block.header.hash();
        let cached = self.checked.lock().take().filter(|c| {
            c.block_hash == hash
                && block.header.prev_hash == self.state.read().head.hash
                && c.exec.accepted.len() == block.txs.len()
                && c.exec.accepted.iter().zip(&block.txs).all(|(a, b)| a.id() == b.id())
        });
        let (exec, frontier) = match cached {
            Some(c) => (c.exec, c.frontier),
            None => self.check(block, &self.state.read())?,
        };

        let started = Instant::now();
        self.store.commit(&Commit {
            block,
            certificate,
            frontier: &frontier,
            clients: &exec.clients,
            flags: if exec.flags.iter().all(|f| f.is_clean()) { &[] } else { &exec.flags },
            compliance: exec.compliance.as_ref(),
        })?;
        let height = block.header.height;
        {
            let mut state = self.state.write();
            state.head =
                Head { height, hash: block.header.hash(), time: block.header.time, frontier };
            state.clients.apply(&exec.clients);
        }
        // Signed before the receipts resolve, so a caller answered for this block finds its
        // checkpoint served already.
        if !block.txs.is_empty() {
            let (size, root) = (block.header.log_size, block.header.log_root);
            self.checkpoints.sign(size, root);
        }
        self.pool.committed(&block.tx_ids(), height);
        self.height.send_replace(height);
        debug!(target: "builder", height, txs = block.txs.len(), write_ms = started.elapsed().as_millis() as u64, "block committed");
        Ok(())
    }
}
