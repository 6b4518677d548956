//! The RocksDB chain store: blocks, commit certificates, transactions, secondary indexes,
//! consent history and registered clients, in one database per node.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `meta` | `head`, `genesis` | the chain head (height, hash, log frontier); genesis JSON |
//! | `blocks` | height (u64 BE) | header (JCS) |
//! | `block_txs` | height (u64 BE) | transaction ids in order, 32 bytes each |
//! | `certs` | height (u64 BE) | commit certificate (JSON) |
//! | `txs` | tx id | height, position and canonical bytes |
//! | `idx_client_time` | client id, 0, record kind (1), time (u64 BE), tx id | record kind, flags (1 byte each) |
//! | `idx_phone` | phone (16 bytes), client id, 0, time (u64 BE), tx id | record kind, flags |
//! | `idx_deposit` | deposit hash, 0, tx id | empty |
//! | `clients` | client id | sealed key, status, filings |
//! | `undecided` | height (u64 BE), header hash | a proposed block not yet decided (consensus) |
//! | `log_tiles` | tile level (1 byte), index (u64 BE) | up to 256 hashes of the Merkle log ([`log`]) |
//! | `block_tree` | height (u64 BE) | roots of the block's whole 256-leaf subtrees, 32 bytes each |
//!
//! The compliance state (consent histories, daily counts, flag indexes, report counters) is
//! described in [`compliance`]. A consent costs five keys (`txs`, `idx_client_time`,
//! `idx_phone`, `idx_deposit`, `consent`), a withdrawal four (it has no deposit hash), a call
//! or SMS four, plus one per flag it carries and its phone's daily count.
//!
//! A decided block is written in one atomic, synced write batch together with the new head,
//! so reopening after a crash at any point yields the last whole block and nothing of a
//! later one. The indexes by time, phone, deposit hash and flag, and the report counters, are
//! derived from the stored blocks: a thread of their own writes them just after (module `index`),
//! and a start rewrites those of any block a crash left without them.

pub mod audit;
mod bench;
mod block_tree;
pub mod compliance;
mod index;
mod inner;
mod keys;
pub mod log;
pub mod portal;

use std::{path::Path, sync::Arc};

pub use bench::raw_batch_write;
pub use compliance::{
    consent_key, daily_key, ComplianceChanges, Found, Page, RecordQuery, ReportCounts,
};
use compliance::{CF_AUDIT, CF_CONSENT, CF_DAILY, CF_EVIDENCE, CF_FLAG, CF_REPORTS};
use cunzheng_types::{
    compliance::{Filing, Flags},
    merkle::{self, Frontier},
    AuthScheme, Block, BlockHeader, Certificate, Channel, Genesis, Hash, SealedTx,
};
use portal::CF_PORTAL;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode,
    Options, WriteBatch, WriteOptions, DB,
};
use serde::{Deserialize, Serialize};
use tracing::info;

const CF_META: &str = "meta";
const CF_BLOCKS: &str = "blocks";
const CF_BLOCK_TXS: &str = "block_txs";
const CF_CERTS: &str = "certs";
const CF_TXS: &str = "txs";
const CF_CLIENT_TIME: &str = "idx_client_time";
const CF_PHONE: &str = "idx_phone";
const CF_DEPOSIT: &str = "idx_deposit";
const CF_CLIENTS: &str = "clients";
const CF_UNDECIDED: &str = "undecided";
const CF_LOG: &str = "log_tiles";
const CF_BLOCK_TREE: &str = "block_tree";

const ALL_CFS: [&str; 19] = [
    CF_META,
    CF_BLOCKS,
    CF_BLOCK_TXS,
    CF_CERTS,
    CF_TXS,
    CF_CLIENT_TIME,
    CF_PHONE,
    CF_DEPOSIT,
    CF_CLIENTS,
    CF_UNDECIDED,
    CF_LOG,
    CF_BLOCK_TREE,
    CF_CONSENT,
    CF_DAILY,
    CF_FLAG,
    CF_REPORTS,
    CF_AUDIT,
    CF_PORTAL,
    CF_EVIDENCE,
];

const KEY_HEAD: &[u8] = b"head";
const KEY_GENESIS: &[u8] = b"genesis";
const KEY_FORMAT: &[u8] = b"format";
const KEY_WITHOUT_COMPLIANCE: &[u8] = b"without_compliance";

/// The layout of the stored values. A database of another layout is refused at open.
pub const FORMAT: u32 = 5;

/// Errors of the chain store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed (I/O, a full disk, a lock held by another process).
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    /// Stored bytes do not decode: the database is damaged or of another format.
    #[error("corrupt {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The database belongs to another chain.
    #[error("the database holds another genesis (chain {stored})")]
    GenesisMismatch { stored: String },
    /// A block that does not extend the stored head.
    #[error("block {height} does not extend the head at {head}")]
    NotNext { height: u64, head: u64 },
    /// The database was written by a version of the node with another layout.
    #[error("the database has layout {found}, this node reads layout {FORMAT}: replay the chain into a new data directory")]
    Format { found: u32 },
    /// The derived indexes did not catch up with the committed head in time.
    #[error("the indexes cover blocks up to {indexed}, the chain is at {committed}")]
    IndexBehind { indexed: u64, committed: u64 },
    /// A proof was asked for a log size or leaf the chain does not have.
    #[error("log of {size} leaves has no leaf {index}")]
    OutsideLog { index: u64, size: u64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The tip of the stored chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub height: u64,
    /// Header hash of the block at `height` (the genesis hash at height 0).
    pub hash: Hash,
    /// Header time of that block, Unix ms.
    pub time: u64,
    /// The Merkle log over every transaction id so far.
    pub frontier: Frontier,
}

/// Where a transaction is and what it says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxEntry {
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Canonical (JCS) bytes.
    pub bytes: Vec<u8>,
    /// The verdict of a call or SMS record ([`Flags`]); 0 for every other transaction.
    pub flags: u8,
}

/// A stored block: its header and transaction ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlock {
    pub header: BlockHeader,
    pub tx_ids: Vec<Hash>,
}

/// A registered client as the chain knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientEntry {
    pub key_nonce: [u8; 12],
    pub key_ciphertext: Vec<u8>,
    /// Why the client is suspended, if it is.
    pub suspended: Option<String>,
    /// The block that registered it.
    pub registered_at: u64,
    /// Its approved filings; no two cover the same channel.
    pub filings: Vec<FilingEntry>,
    /// How its calls must be signed.
    pub auth: AuthScheme,
}

/// An approved filing and the blocks that approved and last changed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingEntry {
    pub filing: Filing,
    pub approved_at: u64,
    pub changed_at: u64,
}

impl ClientEntry {
    /// The approved filing that covers `channel`.
    pub fn filing(&self, channel: Channel) -> Option<&Filing> {
        self.filings.iter().map(|f| &f.filing).find(|f| f.covers(channel))
    }
}

/// Everything one decided block changes.
#[derive(Debug)]
pub struct Commit<'a> {
    pub block: &'a Block,
    pub certificate: &'a Certificate,
    /// The log frontier after this block's transactions.
    pub frontier: &'a Frontier,
    /// Clients registered or changed by this block's operator transactions.
    pub clients: &'a [(String, ClientEntry)],
    /// The verdict of each transaction, in block order; empty when none is flagged.
    pub flags: &'a [Flags],
    /// The compliance state the block's execution changed; `None` only on a chain measuring
    /// what that state costs, which writes no compliance state at all.
    pub compliance: Option<&'a ComplianceChanges>,
}

/// The node's chain database.
#[derive(Clone)]
pub struct ChainStore {
    db: Arc<DB>,
    /// The audit trail's head, read at the first append and kept from then on.
    audit: Arc<parking_lot::Mutex<Option<audit::AuditHead>>>,
    /// Writes the derived indexes of committed blocks.
    indexer: Arc<index::Indexer>,
    /// Inner nodes of full log tiles and whole block chunks, shared by the proofs served.
    inner: Arc<inner::InnerTrees>,
}

impl std::fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStore").field("path", &self.db.path()).finish()
    }
}

/// Memory all memtables together may hold before the largest is flushed.
const MEMTABLES_BYTES: usize = 256 << 20;
/// The block cache every column family shares; it also holds the tables' index and filter
/// blocks, so that a growing database does not grow the node's memory with it.
const BLOCK_CACHE_BYTES: usize = 128 << 20;
/// Groups of 256 hashes whose inner trees proofs keep (16 KiB each, so 16 MiB in all).
const INNER_TREES: usize = 1_024;

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.increase_parallelism(2);
    o.set_max_background_jobs(2);
    o.set_bytes_per_sync(1 << 20);
    o.set_db_write_buffer_size(MEMTABLES_BYTES);
    o
}

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_write_buffer_size(64 << 20);
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    t.set_cache_index_and_filter_blocks(true);
    t.set_pin_l0_filter_and_index_blocks_in_cache(true);
    if [CF_TXS, CF_CONSENT, CF_DAILY].contains(&name) {
        // Most lookups at submission are for ids that are not there yet, and most phones of a
        // block have no consent history or count yet: bloom filters let those lookups skip
        // both the memtable and the tables.
        t.set_bloom_filter(10.0, false);
        o.set_memtable_whole_key_filtering(true);
        o.set_memtable_prefix_bloom_ratio(0.05);
    }
    o.set_block_based_table_factory(&t);
    o
}

fn descriptors() -> Result<Vec<ColumnFamilyDescriptor>> {
    let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES)?;
    Ok(ALL_CFS.iter().map(|n| ColumnFamilyDescriptor::new(*n, cf_options(n, &cache))).collect())
}

impl ChainStore {
    /// Opens or creates the database at `path`, and starts its index writer once the indexes
    /// cover every committed block.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Arc::new(DB::open_cf_descriptors(&db_options(), path, descriptors()?)?);
        let mut store = ChainStore {
            db,
            audit: Arc::default(),
            indexer: Arc::new(index::Indexer::fixed(0, 0)),
            inner: Arc::new(inner::InnerTrees::new(INNER_TREES)),
        };
        store.check_format()?;
        store.ensure_log()?;
        let head = store.head()?.map_or(0, |h| h.height);
        let indexed = index::catch_up(&store, store.indexed()?, head)?;
        let indexer = index::Indexer::start(store.db.clone(), indexed, head)
            .map_err(|e| corrupt("index writer", e))?;
        store.indexer = Arc::new(indexer);
        Ok(store)
    }

    /// Marks a new database with [`FORMAT`], brings one of layout 4 to it, and refuses one of
    /// any other layout.
    fn check_format(&self) -> Result<()> {
        let found = match self.stored_format()? {
            Some(found) => found,
            None if self.db.get_pinned_cf(self.cf(CF_META), KEY_GENESIS)?.is_some() => 1,
            None => {
                self.set_format(0)?;
                FORMAT
            }
        };
        match found {
            FORMAT => Ok(()),
            // Layout 4 wrote every index in the block's own batch: they cover the head.
            4 => {
                let head = self.head()?.map_or(0, |h| h.height);
                info!(target: "store", head, "database brought from layout 4 to {FORMAT}");
                self.set_format(head)
            }
            found => Err(StoreError::Format { found }),
        }
    }

    fn stored_format(&self) -> Result<Option<u32>> {
        self.db
            .get_pinned_cf(self.cf(CF_META), KEY_FORMAT)?
            .map(|b| {
                Ok(u32::from_be_bytes(
                    b.as_ref().try_into().map_err(|_| corrupt("format", "not 4 bytes"))?,
                ))
            })
            .transpose()
    }

    /// Writes [`FORMAT`] and the height the derived indexes cover, in one synced batch.
    fn set_format(&self, indexed: u64) -> Result<()> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META), KEY_FORMAT, FORMAT.to_be_bytes());
        batch.put_cf(self.cf(CF_META), index::KEY_INDEXED, indexed.to_be_bytes());
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }

    /// Height of the last block whose derived index entries are written.
    fn indexed(&self) -> Result<u64> {
        match self.db.get_pinned_cf(self.cf(CF_META), index::KEY_INDEXED)? {
            Some(b) => compliance::be_u64(&b),
            // Layout 4, read only: its indexes were written with each block.
            None => Ok(self.head()?.map_or(0, |h| h.height)),
        }
    }

    /// Opens the database at `path` for reading only, as an auditor replays a stopped node's
    /// chain: nothing is written, not even the log tiles or index entries it lacks.
    pub fn open_read_only(path: &Path) -> Result<Self> {
        let mut options = db_options();
        options.create_if_missing(false);
        let db = DB::open_cf_descriptors_read_only(&options, path, descriptors()?, false)?;
        let mut store = ChainStore {
            db: Arc::new(db),
            audit: Arc::default(),
            indexer: Arc::new(index::Indexer::fixed(0, 0)),
            inner: Arc::new(inner::InnerTrees::new(INNER_TREES)),
        };
        match store.stored_format()? {
            Some(4 | FORMAT) => {}
            Some(_) | None => return Err(StoreError::Format { found: 1 }),
        }
        let head = store.head()?.map_or(0, |h| h.height);
        store.indexer = Arc::new(index::Indexer::fixed(store.indexed()?, head));
        Ok(store)
    }

    /// Waits until the derived indexes cover every block committed so far.
    pub(crate) fn indexes_current(&self) -> Result<()> {
        self.indexer.wait_current(index::WAIT)
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("column families are created at open")
    }

    /// Stores `genesis` on first start; afterwards checks that it is the same document.
    pub fn init_genesis(&self, genesis: &Genesis) -> Result<()> {
        match self.genesis()? {
            Some(stored) if stored == *genesis => Ok(()),
            Some(stored) => Err(StoreError::GenesisMismatch { stored: stored.chain_id }),
            None => {
                let bytes = serde_json::to_vec(genesis).expect("genesis serializes");
                let mut opts = WriteOptions::default();
                opts.set_sync(true);
                self.db.put_cf_opt(self.cf(CF_META), KEY_GENESIS, bytes, &opts)?;
                info!(target: "store", chain_id = %genesis.chain_id, "genesis stored");
                Ok(())
            }
        }
    }

    /// Marks the database as written without compliance state (a measurement run).
    pub fn mark_without_compliance(&self) -> Result<()> {
        self.db.put_cf(self.cf(CF_META), KEY_WITHOUT_COMPLIANCE, [1])?;
        Ok(())
    }

    /// Whether [`ChainStore::mark_without_compliance`] marked the database.
    pub fn written_without_compliance(&self) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_META), KEY_WITHOUT_COMPLIANCE)?.is_some())
    }

    pub fn genesis(&self) -> Result<Option<Genesis>> {
        self.db
            .get_pinned_cf(self.cf(CF_META), KEY_GENESIS)?
            .map(|b| serde_json::from_slice(&b).map_err(|e| corrupt("genesis", e)))
            .transpose()
    }

    /// The stored head, or `None` before the first block.
    pub fn head(&self) -> Result<Option<Head>> {
        self.db
            .get_pinned_cf(self.cf(CF_META), KEY_HEAD)?
            .map(|b| postcard::from_bytes(&b).map_err(|e| corrupt("head", e)))
            .transpose()
    }

    /// Writes a decided block, its certificate, its transactions, the compliance state it
    /// changed and the new head in one synced batch, then queues its derived index entries.
    /// The block must extend the stored head.
    pub fn commit(&self, c: &Commit<'_>) -> Result<()> {
        let header = &c.block.header;
        let head_height = self.head()?.map_or(0, |h| h.height);
        if header.height != head_height + 1 {
            return Err(StoreError::NotNext { height: header.height, head: head_height });
        }

        let n = c.block.txs.len();
        if !c.flags.is_empty() && c.flags.len() != n {
            return Err(corrupt(
                "commit",
                format!("{} verdicts for {n} transactions", c.flags.len()),
            ));
        }
        let mut batch = WriteBatch::default();
        self.put_block(&mut batch, c);
        if let Some(changes) = c.compliance {
            self.put_compliance(&mut batch, changes);
        }
        let before = header.log_size.checked_sub(header.tx_count).ok_or_else(|| {
            corrupt("block header", format!("log_size {} below tx_count", header.log_size))
        })?;
        self.put_log(&mut batch, before, &c.block.tx_ids())?;
        for (id, entry) in c.clients {
            let bytes = postcard::to_allocvec(entry).expect("client entry serializes");
            batch.put_cf(self.cf(CF_CLIENTS), id.as_bytes(), bytes);
        }
        let head = Head {
            height: header.height,
            hash: header.hash(),
            time: header.time,
            frontier: c.frontier.clone(),
        };
        batch.put_cf(self.cf(CF_META), KEY_HEAD, postcard::to_allocvec(&head).expect("head"));
        // Proposals for this height and below can never be decided now.
        batch.delete_range_cf(self.cf(CF_UNDECIDED), [0u8; 8], (header.height + 1).to_be_bytes());

        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        self.indexer.enqueue(index::Job {
            height: header.height,
            txs: c.block.txs.clone(),
            flags: c.flags.to_vec(),
            compliance: c.compliance.is_some(),
        });
        Ok(())
    }

    /// Adds a block's entries to `batch`, its transactions in the order of their ids: RocksDB's
    /// memtable inserts keys that arrive in order far faster than random ones.
    fn put_block(&self, batch: &mut WriteBatch, c: &Commit<'_>) {
        let header = &c.block.header;
        let height_key = header.height.to_be_bytes();
        let n = c.block.txs.len();
        let mut ids = Vec::with_capacity(32 * n);
        let mut txs = Vec::with_capacity(n);
        for (index, tx) in c.block.txs.iter().enumerate() {
            ids.extend_from_slice(tx.id().as_bytes());
            let flags = c.flags.get(index).copied().unwrap_or_default();
            let entry = TxEntry {
                height: header.height,
                index: index as u32,
                bytes: tx.bytes().to_vec(),
                flags: flags.0,
            };
            txs.push((tx.id(), postcard::to_allocvec(&entry).expect("tx")));
        }
        txs.sort_unstable_by_key(|a| a.0);
        let cf = self.cf(CF_TXS);
        txs.into_iter().for_each(|(id, entry)| batch.put_cf(cf, id.as_bytes(), entry));
        batch.put_cf(self.cf(CF_BLOCKS), height_key, header.canonical_bytes());
        batch.put_cf(self.cf(CF_BLOCK_TXS), height_key, ids);
        let chunks = log::encode(&block_tree::chunk_roots(&c.block.tx_ids()));
        batch.put_cf(self.cf(CF_BLOCK_TREE), height_key, chunks);
        let cert = serde_json::to_vec(c.certificate).expect("certificate serializes");
        batch.put_cf(self.cf(CF_CERTS), height_key, cert);
    }

    /// Adds the log tiles that appending `leaves` to a log of `size` leaves changes.
    fn put_log(&self, batch: &mut WriteBatch, size: u64, leaves: &[Hash]) -> Result<()> {
        for (level, index, tile) in log::append(size, leaves, |l, i| self.log_tile(l, i))? {
            batch.put_cf(self.cf(CF_LOG), log::tile_key(level, index), log::encode(&tile));
        }
        Ok(())
    }

    /// A stored log tile, empty when absent.
    fn log_tile(&self, level: u8, index: u64) -> Result<Vec<Hash>> {
        match self.db.get_pinned_cf(self.cf(CF_LOG), log::tile_key(level, index))? {
            Some(b) => log::decode(&b).ok_or_else(|| corrupt("log tile", "ragged length")),
            None => Ok(Vec::new()),
        }
    }

    /// Audit path of leaf `index` in the log of its first `size` leaves (RFC 9162), read from
    /// O(log size) tiles. `size` must not exceed the committed log.
    pub fn log_inclusion(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        if index >= size || size > self.log_size()? {
            return Err(StoreError::OutsideLog { index, size });
        }
        let mut tiles = log::TileReader::sharing(|l, i| self.log_tile(l, i), &self.inner);
        merkle::inclusion_proof_in(&mut tiles, size, index).map_err(log_error)
    }

    /// Consistency proof between the log's first `first` and first `second` leaves.
    pub fn log_consistency(&self, first: u64, second: u64) -> Result<Vec<Hash>> {
        if first > second || second > self.log_size()? {
            return Err(StoreError::OutsideLog { index: first, size: second });
        }
        let mut tiles = log::TileReader::sharing(|l, i| self.log_tile(l, i), &self.inner);
        merkle::consistency_proof_in(&mut tiles, first, second).map_err(log_error)
    }

    /// The root of the log's first `size` leaves.
    pub fn log_root(&self, size: u64) -> Result<Hash> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        if size > self.log_size()? {
            return Err(StoreError::OutsideLog { index: size - 1, size });
        }
        let mut tiles = log::TileReader::sharing(|l, i| self.log_tile(l, i), &self.inner);
        merkle::range_root_in(&mut tiles, size).map_err(log_error)
    }

    fn log_size(&self) -> Result<u64> {
        Ok(self.head()?.map_or(0, |h| h.frontier.size))
    }

    /// Writes the log tiles of every committed block if the database predates them.
    fn ensure_log(&self) -> Result<()> {
        let Some(head) = self.head()? else { return Ok(()) };
        let size = head.frontier.size;
        if size == 0 {
            return Ok(());
        }
        let (last, holds) = log::last_leaf_tile(size);
        if self.log_tile(0, last)?.len() == holds {
            return Ok(());
        }
        info!(target: "store", leaves = size, "writing the merkle log tiles");
        let mut done = 0u64;
        for height in 1..=head.height {
            let block =
                self.block(height)?.ok_or_else(|| corrupt("chain", "a block is missing"))?;
            let mut batch = WriteBatch::default();
            self.put_log(&mut batch, done, &block.tx_ids)?;
            self.db.write(batch)?;
            done += block.tx_ids.len() as u64;
        }
        Ok(())
    }

    /// The header of the block at `height`.
    pub fn header(&self, height: u64) -> Result<Option<BlockHeader>> {
        self.db
            .get_pinned_cf(self.cf(CF_BLOCKS), height.to_be_bytes())?
            .map(|b| serde_json::from_slice(&b).map_err(|e| corrupt("block header", e)))
            .transpose()
    }

    /// The block at `height`: its header and transaction ids.
    pub fn block(&self, height: u64) -> Result<Option<StoredBlock>> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let ids = self
            .db
            .get_pinned_cf(self.cf(CF_BLOCK_TXS), height.to_be_bytes())?
            .ok_or_else(|| corrupt("block", "transaction ids missing"))?;
        if ids.len() % 32 != 0 {
            return Err(corrupt("block", "transaction ids are not 32-byte hashes"));
        }
        let tx_ids =
            ids.chunks_exact(32).map(|c| Hash(c.try_into().expect("32-byte chunk"))).collect();
        Ok(Some(StoredBlock { header, tx_ids }))
    }

    /// Audit path of transaction `index` of the block at `height` to its `tx_root`, from the
    /// stored roots of its 256-leaf subtrees and the leaves of at most two of them: about 300
    /// hashes for a block of 10,000 instead of all of them, and none once those two chunks are
    /// in the shared inner trees, when the block's ids are not even read.
    pub fn block_inclusion(&self, height: u64, index: u64) -> Result<Vec<Hash>> {
        let key = height.to_be_bytes();
        let header = self.header(height)?.ok_or_else(|| corrupt("block", "header missing"))?;
        let count = header.tx_count;
        if index >= count {
            return Err(StoreError::OutsideLog { index, size: count });
        }
        let read_ids = || -> Result<_> {
            let ids = self
                .db
                .get_pinned_cf(self.cf(CF_BLOCK_TXS), key)?
                .ok_or_else(|| corrupt("block", "transaction ids missing"))?;
            if ids.len() as u64 != 32 * count {
                return Err(corrupt("block", "transaction ids do not match the header's count"));
            }
            Ok(ids)
        };
        let (chunks, ids) = match self.db.get_pinned_cf(self.cf(CF_BLOCK_TREE), key)? {
            Some(b) => {
                (log::decode_any(&b).ok_or_else(|| corrupt("block tree", "ragged length"))?, None)
            }
            // A block committed before the subtree roots were kept.
            None => {
                let ids = read_ids()?;
                (block_tree::chunk_roots(&log::decode_any(&ids).unwrap_or_default()), Some(ids))
            }
        };
        let path = |ids: Option<&[u8]>| {
            let shared = Some((&*self.inner, height));
            let mut tree = block_tree::BlockTree { count, ids, chunks: &chunks, shared };
            merkle::inclusion_proof_in(&mut tree, count, index)
        };
        // The ids are read only for a chunk that the shared inner trees lack.
        if let Ok(found) = path(ids.as_deref()) {
            return Ok(found);
        }
        let ids = match ids {
            Some(ids) => ids,
            None => read_ids()?,
        };
        path(Some(&ids)).map_err(|_| corrupt("block", "a path lacks leaves it was given"))
    }

    pub fn certificate(&self, height: u64) -> Result<Option<Certificate>> {
        self.db
            .get_pinned_cf(self.cf(CF_CERTS), height.to_be_bytes())?
            .map(|b| serde_json::from_slice(&b).map_err(|e| corrupt("certificate", e)))
            .transpose()
    }

    pub fn tx(&self, id: &Hash) -> Result<Option<TxEntry>> {
        self.db
            .get_pinned_cf(self.cf(CF_TXS), id.as_bytes())?
            .map(|b| postcard::from_bytes(&b).map_err(|e| corrupt("transaction", e)))
            .transpose()
    }

    /// The block at `height` with every transaction, as it was decided.
    pub fn full_block(&self, height: u64) -> Result<Option<Block>> {
        let Some(stored) = self.block(height)? else {
            return Ok(None);
        };
        let (txs, _) = self.entries_of(&stored.tx_ids)?;
        Ok(Some(Block { header: stored.header, txs }))
    }

    /// The transactions of the committed block at `height` and their verdicts.
    pub(crate) fn block_entries(&self, height: u64) -> Result<(Vec<Arc<SealedTx>>, Vec<Flags>)> {
        let stored = self.block(height)?.ok_or_else(|| corrupt("chain", "a block is missing"))?;
        self.entries_of(&stored.tx_ids)
    }

    fn entries_of(&self, ids: &[Hash]) -> Result<(Vec<Arc<SealedTx>>, Vec<Flags>)> {
        let cf = self.cf(CF_TXS);
        let values = self.db.batched_multi_get_cf(cf, ids.iter().map(|i| i.as_bytes()), false);
        let mut txs = Vec::with_capacity(ids.len());
        let mut flags = Vec::with_capacity(ids.len());
        for (id, value) in ids.iter().zip(values) {
            let value =
                value?.ok_or_else(|| corrupt("block", format!("transaction {id} missing")))?;
            let entry: TxEntry =
                postcard::from_bytes(&value).map_err(|e| corrupt("transaction", e))?;
            let tx =
                SealedTx::from_canonical(entry.bytes).map_err(|e| corrupt("transaction", e))?;
            if tx.id() != *id {
                return Err(corrupt("transaction", format!("{id} holds another transaction")));
            }
            txs.push(Arc::new(tx));
            flags.push(Flags(entry.flags));
        }
        Ok((txs, flags))
    }

    /// Keeps a proposal that consensus may still decide, durably, so that a restart can
    /// answer for it. Removed when a block at its height or above is committed.
    pub fn put_undecided(&self, height: u64, hash: &Hash, bytes: &[u8]) -> Result<()> {
        let mut key = height.to_be_bytes().to_vec();
        key.extend_from_slice(hash.as_bytes());
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.put_cf_opt(self.cf(CF_UNDECIDED), key, bytes, &opts)?;
        Ok(())
    }

    /// The proposals kept for `height`, by header hash.
    pub fn undecided(&self, height: u64) -> Result<Vec<(Hash, Vec<u8>)>> {
        let prefix = height.to_be_bytes();
        let iter = self
            .db
            .iterator_cf(self.cf(CF_UNDECIDED), IteratorMode::From(&prefix, Direction::Forward));
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let hash = k[8..].try_into().map_err(|_| corrupt("undecided key", "not 40 bytes"))?;
            out.push((Hash(hash), v.to_vec()));
        }
        Ok(out)
    }

    /// For each id, whether a committed block holds it.
    pub fn contains(&self, ids: &[Hash]) -> Result<Vec<bool>> {
        let cf = self.cf(CF_TXS);
        self.db
            .batched_multi_get_cf(cf, ids.iter().map(|i| i.as_bytes()), false)
            .into_iter()
            .map(|r| r.map(|v| v.is_some()).map_err(StoreError::from))
            .collect()
    }

    pub fn client(&self, id: &str) -> Result<Option<ClientEntry>> {
        self.db
            .get_pinned_cf(self.cf(CF_CLIENTS), id.as_bytes())?
            .map(|b| postcard::from_bytes(&b).map_err(|e| corrupt("client", e)))
            .transpose()
    }

    /// Every registered client.
    pub fn clients(&self) -> Result<Vec<(String, ClientEntry)>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_CLIENTS), IteratorMode::Start) {
            let (k, v) = item?;
            let id = String::from_utf8(k.to_vec()).map_err(|e| corrupt("client id", e))?;
            out.push((id, postcard::from_bytes(&v).map_err(|e| corrupt("client", e))?));
        }
        Ok(out)
    }

    pub(crate) fn ids_under(&self, cf: &str, prefix: &[u8]) -> Result<Vec<Hash>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(cf), IteratorMode::From(prefix, Direction::Forward))
        {
            let (k, _) = item?;
            if !k.starts_with(prefix) || k.len() != prefix.len() + 32 {
                break;
            }
            out.push(Hash(k[prefix.len()..].try_into().expect("32 bytes")));
        }
        Ok(out)
    }

    /// The canonical bytes of transactions `ids` of the block at `height`, in order. An id
    /// without an entry, or whose entry places it elsewhere, is corruption.
    pub fn block_tx_bytes(&self, height: u64, ids: &[Hash]) -> Result<Vec<Vec<u8>>> {
        let cf = self.cf(CF_TXS);
        let found = self.db.multi_get_cf(ids.iter().map(|id| (cf, id.as_bytes())));
        let mut out = Vec::with_capacity(ids.len());
        for (index, (got, id)) in found.into_iter().zip(ids).enumerate() {
            let bytes = got?.ok_or_else(|| corrupt("txs", format!("transaction {id} missing")))?;
            let entry: TxEntry =
                postcard::from_bytes(&bytes).map_err(|e| corrupt("transaction entry", e))?;
            if entry.height != height || entry.index as usize != index {
                let place = format!(
                    "{id} is listed at {height}/{index}, stored at {}/{}",
                    entry.height, entry.index
                );
                return Err(corrupt("txs", place));
            }
            out.push(entry.bytes);
        }
        Ok(out)
    }

    /// Flushes memtables to disk once the derived indexes cover the head (used at shutdown so
    /// the next start replays no WAL and rewrites no index entries).
    pub fn flush(&self) -> Result<()> {
        self.indexes_current()?;
        for name in ALL_CFS {
            self.db.flush_cf(self.cf(name))?;
        }
        Ok(())
    }
}

fn log_error(e: log::TileError<StoreError>) -> StoreError {
    match e {
        log::TileError::Read(e) => e,
        missing => corrupt("log tile", missing),
    }
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, detail: e.to_string() }
}

#[cfg(test)]
mod tests;
