//! Node-local portal data: accounts, sessions, certifications, filing applications,
//! complaints and the metadata of uploaded files. None of it is chain data: each operator node
//! keeps its own, in one column family, as JSON values under textual keys.

use rocksdb::{Direction, IteratorMode, WriteBatch, WriteOptions};

use crate::{ChainStore, Result};

pub(crate) const CF_PORTAL: &str = "portal";

/// The largest number of entries one prefix scan returns.
pub const MAX_PORTAL_SCAN: usize = 10_000;

impl ChainStore {
    /// The value under a portal key.
    pub fn portal_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(CF_PORTAL), key.as_bytes())?)
    }

    /// Writes puts (`Some`) and deletes (`None`) in one synced batch: all of them or none.
    pub fn portal_write(&self, changes: &[(String, Option<Vec<u8>>)]) -> Result<()> {
        let cf = self.cf(CF_PORTAL);
        let mut batch = WriteBatch::default();
        for (key, value) in changes {
            match value {
                Some(v) => batch.put_cf(cf, key.as_bytes(), v),
                None => batch.delete_cf(cf, key.as_bytes()),
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        Ok(self.db.write_opt(batch, &opts)?)
    }

    /// The entries whose keys start with `prefix`, in key order, at most [`MAX_PORTAL_SCAN`].
    pub fn portal_scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let iter = self.db.iterator_cf(
            self.cf(CF_PORTAL),
            IteratorMode::From(prefix.as_bytes(), Direction::Forward),
        );
        let mut out = Vec::new();
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(prefix.as_bytes()) || out.len() == MAX_PORTAL_SCAN {
                break;
            }
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }
}
