//! The bounded pool of transactions waiting for a block, and the receipts that tell callers
//! when their transactions are committed.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::Instant,
};

use cunzheng_types::{Hash, SealedTx};
use parking_lot::{Condvar, Mutex};
use tokio::sync::oneshot;

/// The pool has no room for the transactions of a call; nothing was added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction pool is full ({pending} pending, room for {capacity})")]
pub struct PoolFull {
    pub pending: usize,
    pub capacity: usize,
}

/// A pooled transaction was dropped without being committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transaction {tx_id} rejected: {reason}")]
pub struct Rejected {
    pub tx_id: Hash,
    pub reason: String,
}

/// Resolves with the highest block height holding the call's transactions once all of them
/// are committed, or with the reason one of them was dropped.
pub type Receipt = oneshot::Receiver<Result<u64, Rejected>>;

/// A call accepted into the pool.
pub(crate) struct Submitted {
    pub receipt: Receipt,
    /// The call's transactions that the pool did not hold and no committed block holds.
    pub added: Vec<Arc<SealedTx>>,
}

/// Tracks one call's transactions.
struct Waiter {
    remaining: AtomicUsize,
    height: AtomicU64,
    done: Mutex<Option<oneshot::Sender<Result<u64, Rejected>>>>,
}

impl Waiter {
    fn committed(&self, height: u64) {
        self.height.fetch_max(height, Ordering::Relaxed);
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(tx) = self.done.lock().take() {
                let _ = tx.send(Ok(self.height.load(Ordering::Relaxed)));
            }
        }
    }

    fn rejected(&self, why: Rejected) {
        if let Some(tx) = self.done.lock().take() {
            let _ = tx.send(Err(why));
        }
    }
}

struct Entry {
    tx: Arc<SealedTx>,
    waiters: Vec<Arc<Waiter>>,
    arrived: Instant,
}

struct Inner {
    entries: HashMap<Hash, Entry>,
    /// Arrival order; ids no longer in `entries` are skipped and dropped lazily.
    order: VecDeque<Hash>,
}

impl Inner {
    /// Drops ids from the front of `order` that are no longer pending.
    fn trim(&mut self) {
        while self.order.front().is_some_and(|id| !self.entries.contains_key(id)) {
            self.order.pop_front();
        }
    }

    /// When the oldest pending transaction arrived.
    fn oldest(&mut self) -> Option<Instant> {
        self.trim();
        self.order.front().and_then(|id| self.entries.get(id)).map(|e| e.arrived)
    }
}

/// Pending transactions, bounded by `capacity`.
pub(crate) struct Pool {
    inner: Mutex<Inner>,
    arrived: Condvar,
    capacity: usize,
}

impl Pool {
    pub fn new(capacity: usize) -> Self {
        Pool {
            inner: Mutex::new(Inner { entries: HashMap::new(), order: VecDeque::new() }),
            arrived: Condvar::new(),
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Adds a call's transactions, all or none. `committed` answers, for ids not pooled,
    /// which are already in a committed block; it runs under the pool lock, so a transaction
    /// is never missed between the store and the pool.
    pub fn submit<E>(
        &self,
        txs: Vec<Arc<SealedTx>>,
        committed: impl FnOnce(&[Hash]) -> Result<Vec<bool>, E>,
    ) -> Result<Result<Submitted, PoolFull>, E> {
        let (send, receipt) = oneshot::channel();
        let mut inner = self.inner.lock();

        // Distinct ids of this call that the pool does not hold yet.
        let mut seen = std::collections::HashSet::with_capacity(txs.len());
        let mut fresh: Vec<Arc<SealedTx>> = Vec::with_capacity(txs.len());
        let mut pooled: Vec<Hash> = Vec::new();
        for tx in txs {
            if !seen.insert(tx.id()) {
                continue;
            }
            if inner.entries.contains_key(&tx.id()) {
                pooled.push(tx.id());
            } else {
                fresh.push(tx);
            }
        }
        let fresh_ids: Vec<Hash> = fresh.iter().map(|t| t.id()).collect();
        let in_store = committed(&fresh_ids)?;
        let new: Vec<Arc<SealedTx>> =
            fresh.into_iter().zip(in_store).filter(|(_, c)| !c).map(|(t, _)| t).collect();

        if inner.entries.len() + new.len() > self.capacity {
            return Ok(Err(PoolFull { pending: inner.entries.len(), capacity: self.capacity }));
        }
        let waiting = pooled.len() + new.len();
        let waiter = Arc::new(Waiter {
            remaining: AtomicUsize::new(waiting),
            height: AtomicU64::new(0),
            done: Mutex::new(None),
        });
        if waiting == 0 {
            // Everything is committed already.
            let _ = send.send(Ok(0));
            return Ok(Ok(Submitted { receipt, added: Vec::new() }));
        }
        *waiter.done.lock() = Some(send);

        for id in pooled {
            inner.entries.get_mut(&id).expect("checked above").waiters.push(waiter.clone());
        }
        let arrived = Instant::now();
        for tx in &new {
            inner.order.push_back(tx.id());
            let entry = Entry { tx: tx.clone(), waiters: vec![waiter.clone()], arrived };
            inner.entries.insert(tx.id(), entry);
        }
        drop(inner);
        self.arrived.notify_all();
        Ok(Ok(Submitted { receipt, added: new }))
    }

    /// Up to `max` pending transactions in arrival order, left in the pool.
    pub fn reap(&self, max: usize) -> Vec<Arc<SealedTx>> {
        let mut inner = self.inner.lock();
        inner.trim();
        let inner = &*inner;
        inner
            .order
            .iter()
            .filter_map(|id| inner.entries.get(id))
            .take(max)
            .map(|e| e.tx.clone())
            .collect()
    }

    /// Removes committed transactions and resolves their waiters.
    pub fn committed(&self, ids: &[Hash], height: u64) {
        let mut inner = self.inner.lock();
        for id in ids {
            if let Some(e) = inner.entries.remove(id) {
                e.waiters.iter().for_each(|w| w.committed(height));
            }
        }
        inner.trim();
    }

    /// Drops transactions that can never be committed and fails their callers.
    pub fn reject(&self, rejected: &[(Hash, String)]) {
        let mut inner = self.inner.lock();
        for (id, reason) in rejected {
            if let Some(e) = inner.entries.remove(id) {
                let why = Rejected { tx_id: *id, reason: reason.clone() };
                e.waiters.iter().for_each(|w| w.rejected(why.clone()));
            }
        }
        inner.trim();
    }

    /// Blocks until a block should be cut: `max` transactions are pending, or the oldest
    /// pending one has waited `interval`, or `deadline` passes. Returns the pending count.
    pub fn wait_for_block(
        &self,
        max: usize,
        interval: std::time::Duration,
        deadline: Instant,
    ) -> usize {
        let mut inner = self.inner.lock();
        loop {
            let pending = inner.entries.len();
            let now = Instant::now();
            if pending >= max || now >= deadline {
                return pending;
            }
            let until = match inner.oldest() {
                Some(t) if t + interval <= now => return pending,
                Some(t) => (t + interval).min(deadline),
                None => deadline,
            };
            self.arrived.wait_until(&mut inner, until);
        }
    }

    /// Wakes a producer waiting in [`Pool::wait_for_block`].
    pub fn wake(&self) {
        self.arrived.notify_all();
    }
}
