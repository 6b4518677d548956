//! The derived indexes: a client's records by time, by phone, by deposit hash and by flag, and
//! the report counters. Executing a block reads none of them, so they are not written in the
//! block's own batch: a thread of their own writes each committed block's entries while the
//! builder goes on with the next block, and the two writes share the machine's cores.
//!
//! `meta`/`indexed` holds the height of the last block whose entries are written, in the same
//! batch as those entries. A start writes the entries of every committed block above it again
//! from the stored blocks, so a crash between a block's batch and its index batch loses
//! nothing, and no report counter is ever added twice. Searches and reports wait until the
//! indexes cover every block committed when they were asked.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc, Arc,
    },
    thread,
    time::{Duration, Instant},
};

use cunzheng_types::{
    compliance::{beijing_day, Flags},
    SealedTx, Transaction,
};
use parking_lot::{Condvar, Mutex};
use rocksdb::{WriteBatch, DB};
use tracing::{error, info};

use crate::{
    compliance::{be_u64, flag_counter, flag_key, report_key, CF_FLAG, CF_REPORTS},
    keys, Result, StoreError, CF_CLIENT_TIME, CF_DEPOSIT, CF_META, CF_PHONE,
};

pub(crate) const KEY_INDEXED: &[u8] = b"indexed";

/// Committed blocks that may wait for their index entries before a commit waits too: enough
/// to keep the writer busy, few enough that memory stays bounded when it falls behind.
const QUEUE: usize = 2;
/// Longest a search or report waits for the indexes to cover the committed head.
pub(crate) const WAIT: Duration = Duration::from_secs(30);
/// Index entries in one write batch.
const CHUNK: usize = 2_000;
/// Pauses between attempts at a batch that failed (a full disk, say), doubling to the last.
const RETRY: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(400),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// What the index writer needs of one committed block.
pub(crate) struct Job {
    pub height: u64,
    pub txs: Vec<Arc<SealedTx>>,
    /// Verdicts in block order; empty when none is flagged.
    pub flags: Vec<Flags>,
    /// Whether the chain keeps compliance state, and so the flag index and report counters.
    pub compliance: bool,
}

struct Progress {
    /// Height of the last block whose index entries are written.
    indexed: Mutex<u64>,
    advanced: Condvar,
    /// Height of the last committed block.
    committed: AtomicU64,
    /// Set when the store closes: a failing batch is then left for the next start.
    closing: AtomicBool,
}

/// The index writer of a store open for writing, or the fixed progress of a read-only one.
pub(crate) struct Indexer {
    progress: Arc<Progress>,
    queue: Mutex<Option<mpsc::SyncSender<Job>>>,
    thread: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Indexer {
    /// Starts the writer for a database whose indexes cover blocks up to `indexed` and whose
    /// head is at `committed`.
    pub fn start(db: Arc<DB>, indexed: u64, committed: u64) -> std::io::Result<Self> {
        let progress = Arc::new(Progress {
            indexed: Mutex::new(indexed),
            advanced: Condvar::new(),
            committed: AtomicU64::new(committed),
            closing: AtomicBool::new(false),
        });
        let (queue, jobs) = mpsc::sync_channel(QUEUE);
        let shared = progress.clone();
        let thread = thread::Builder::new()
            .name("cunzheng-index".into())
            .spawn(move || run(&db, &shared, jobs))?;
        Ok(Indexer { progress, queue: Mutex::new(Some(queue)), thread: Mutex::new(Some(thread)) })
    }

    /// A read-only store's progress: nothing is written, so searches see what the indexes
    /// held when the writer stopped.
    pub fn fixed(indexed: u64, committed: u64) -> Self {
        Indexer {
            progress: Arc::new(Progress {
                indexed: Mutex::new(indexed),
                advanced: Condvar::new(),
                committed: AtomicU64::new(committed),
                closing: AtomicBool::new(true),
            }),
            queue: Mutex::new(None),
            thread: Mutex::new(None),
        }
    }

    /// Queues a committed block's entries, waiting while the queue is full.
    pub fn enqueue(&self, job: Job) {
        self.progress.committed.fetch_max(job.height, Ordering::AcqRel);
        let height = job.height;
        let queue = self.queue.lock().clone();
        if queue.is_none_or(|q| q.send(job).is_err()) {
            error!(target: "store", height, "the index writer has stopped; the next start writes this block's index entries");
        }
    }

    /// Waits up to `timeout` until the indexes cover every block committed so far.
    pub fn wait_current(&self, timeout: Duration) -> Result<()> {
        let committed = self.progress.committed.load(Ordering::Acquire);
        let deadline = Instant::now() + timeout;
        let mut indexed = self.progress.indexed.lock();
        while *indexed < committed {
            let writing = self.thread.lock().as_ref().is_some_and(|t| !t.is_finished());
            if !writing || self.progress.advanced.wait_until(&mut indexed, deadline).timed_out() {
                return Err(StoreError::IndexBehind { indexed: *indexed, committed });
            }
        }
        Ok(())
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.progress.closing.store(true, Ordering::Release);
        // The writer ends once it has drained the queue.
        self.queue.lock().take();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            if thread.join().is_err() {
                error!(target: "store", "the index writer panicked");
            }
        }
    }
}

fn run(db: &DB, progress: &Progress, jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        let mut attempt = 0;
        loop {
            match write(db, &job) {
                Ok(()) => break,
                Err(e) if progress.closing.load(Ordering::Acquire) => {
                    error!(target: "store", height = job.height, error = %e, "index entries not written; the next start writes them");
                    return;
                }
                Err(e) => {
                    let pause = RETRY[attempt.min(RETRY.len() - 1)];
                    error!(target: "store", height = job.height, error = %e, retry_ms = pause.as_millis() as u64, "index entries not written");
                    thread::sleep(pause);
                    attempt += 1;
                }
            }
        }
        *progress.indexed.lock() = job.height;
        progress.advanced.notify_all();
    }
}

/// Writes one block's index entries, then its report counters together with `indexed` moved to
/// its height. The entries go in batches of [`CHUNK`]: a block's own batch waits for any write
/// in progress, and should not wait for a whole block of index entries. Writing an entry again
/// puts the same value under the same key, so a crash between two batches only leaves entries
/// that the next start writes again; the counters, which add, are in the last batch with
/// `indexed`. No batch is synced: a crash that loses one loses `indexed` with it, and the next
/// block's synced batch makes them durable meanwhile.
pub(crate) fn write(db: &DB, job: &Job) -> Result<()> {
    let cf = |name| db.cf_handle(name).expect("column families are created at open");
    let n = job.txs.len();
    let mut client_time = Vec::with_capacity(n);
    let mut phone = Vec::with_capacity(n);
    let mut deposit = Vec::with_capacity(n);
    let mut flagged = Vec::new();
    let mut reports: HashMap<Vec<u8>, u64> = HashMap::new();
    for (i, tx) in job.txs.iter().enumerate() {
        let Transaction::Record(r) = tx.tx() else { continue };
        let (client, record, id) = (r.client_id.as_str(), &r.record, tx.id());
        let flags = job.flags.get(i).copied().unwrap_or_default();
        let (kind, time) = (keys::kind_code(record), record.time());
        let value = [kind, flags.0];
        client_time.push((keys::client_time(client, kind, time, &id), value));
        phone.push((keys::phone(&keys::phone_bytes(record.phone()), client, time, &id), value));
        if let Some(hash) = record.deposit_hash() {
            deposit.push(keys::deposit(hash, &id));
        }
        if job.compliance {
            let day = beijing_day(time);
            *reports.entry(report_key(client, day, kind)).or_default() += 1;
            for flag in flags.iter() {
                *reports.entry(report_key(client, day, flag_counter(flag))).or_default() += 1;
                flagged.push((flag_key(client, flag, time, &id), value));
            }
        }
    }

    // Keys that arrive in order insert into the memtable far faster than random ones.
    let mut out = Chunked { db, batch: WriteBatch::default() };
    for (name, mut entries) in
        [(CF_CLIENT_TIME, client_time), (CF_PHONE, phone), (CF_FLAG, flagged)]
    {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let cf = cf(name);
        for (k, v) in entries {
            out.put(cf, &k, &v)?;
        }
    }
    deposit.sort_unstable();
    let cf_deposit = cf(CF_DEPOSIT);
    for k in deposit {
        out.put(cf_deposit, &k, &[])?;
    }
    let mut batch = out.batch;

    // Only this writer changes the counters, one block after another.
    let mut reports: Vec<_> = reports.into_iter().collect();
    reports.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let cf_reports = cf(CF_REPORTS);
    let stored = db.batched_multi_get_cf(cf_reports, reports.iter().map(|(k, _)| k), false);
    for ((key, n), before) in reports.into_iter().zip(stored) {
        let before = before?.map(|b| be_u64(&b)).transpose()?.unwrap_or(0);
        batch.put_cf(cf_reports, key, (before + n).to_be_bytes());
    }
    batch.put_cf(cf(CF_META), KEY_INDEXED, job.height.to_be_bytes());
    db.write(batch)?;
    Ok(())
}

/// A write batch that is written out whenever it holds [`CHUNK`] entries.
struct Chunked<'a> {
    db: &'a DB,
    batch: WriteBatch,
}

impl Chunked<'_> {
    fn put(&mut self, cf: &rocksdb::ColumnFamily, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.put_cf(cf, key, value);
        if self.batch.len() >= CHUNK {
            self.db.write(std::mem::take(&mut self.batch))?;
        }
        Ok(())
    }
}

/// Writes the index entries of the committed blocks above `indexed`, up to `head`, from the
/// stored blocks; returns the height they then cover.
pub(crate) fn catch_up(store: &crate::ChainStore, indexed: u64, head: u64) -> Result<u64> {
    if indexed >= head {
        return Ok(indexed);
    }
    info!(target: "store", from = indexed + 1, to = head, "writing the index entries of blocks committed before the last stop");
    let compliance = !store.written_without_compliance()?;
    for height in indexed + 1..=head {
        let (txs, flags) = store.block_entries(height)?;
        write(&store.db, &Job { height, txs, flags, compliance })?;
    }
    Ok(head)
}
