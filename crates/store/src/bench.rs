//! The storage engine's own ceiling, measured on the same records: the yardstick that
//! `cunzheng bench` reports the node's rate against.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use rocksdb::{Options, WriteBatch, WriteOptions, DB};

/// Writes `(key, value)` pairs into a fresh RocksDB at `path` in synced batches of `batch`
/// pairs, one key per record, and returns the time taken.
pub fn raw_batch_write(
    path: &Path,
    records: &[(Vec<u8>, Vec<u8>)],
    batch: usize,
) -> Result<Duration, rocksdb::Error> {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    o.set_write_buffer_size(64 << 20);
    let db = DB::open(&o, path)?;
    let mut w = WriteOptions::default();
    w.set_sync(true);

    let start = Instant::now();
    for chunk in records.chunks(batch.max(1)) {
        let mut b = WriteBatch::default();
        for (k, v) in chunk {
            b.put(k, v);
        }
        db.write_opt(b, &w)?;
    }
    Ok(start.elapsed())
}
