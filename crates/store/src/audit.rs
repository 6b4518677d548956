//! The node's audit trail: every read of a client's records by a member's staff, and every
//! decision of operator staff in the portal, appended in order and linked by hashes.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `audit_trail` | sequence (u64 BE), from 1 | Unix ms (u64 BE), chain hash (32), entry JSON |
//!
//! The chain hash of entry `n` is SHA-256 over a domain tag, the chain hash of entry `n - 1`
//! (32 zero bytes before the first), `n`, the time and the entry, so that an entry edited,
//! removed or put in where it was not breaks every hash after it. Times never go back along
//! the trail: an entry appended while the clock reads earlier than the last one takes the
//! last one's time. [`ChainStore::verify_audit_trail`] walks the trail from the first entry;
//! the head (count and hash) can be copied elsewhere, so that a trail rewritten as a whole is
//! also found out.

use cunzheng_types::{hash::sha256, Hash};
use rocksdb::{Direction, IteratorMode, WriteOptions};
use serde::Serialize;

use crate::{compliance::CF_AUDIT, corrupt, ChainStore, Result};

const DOMAIN: &[u8] = b"cunzheng audit trail v1";

/// The newest entry of the trail: how many there are and the chain hash of the last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuditHead {
    pub entries: u64,
    pub hash: Hash,
    #[serde(skip)]
    at_ms: u64,
}

/// One entry as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: u64,
    pub at_ms: u64,
    /// The chain hash up to and including this entry.
    pub hash: Hash,
    /// The entry's JSON, as it was appended.
    pub entry: Vec<u8>,
}

/// Where a walk of the trail found it altered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditBreak {
    /// The first entry whose key, time or hash does not follow from the ones before it.
    pub seq: u64,
    pub reason: String,
}

fn chain_hash(prev: &Hash, seq: u64, at_ms: u64, entry: &[u8]) -> Hash {
    sha256(&[DOMAIN, &prev.0, &seq.to_be_bytes(), &at_ms.to_be_bytes(), entry])
}

fn decode(key: &[u8], value: &[u8]) -> Result<AuditEntry> {
    let bad = |what: &str| corrupt("audit trail", what);
    let seq = u64::from_be_bytes(key.try_into().map_err(|_| bad("key is not 8 bytes"))?);
    if value.len() < 40 {
        return Err(bad("value shorter than 40 bytes"));
    }
    let at_ms = u64::from_be_bytes(value[..8].try_into().expect("8 bytes"));
    let hash = Hash(value[8..40].try_into().expect("32 bytes"));
    Ok(AuditEntry { seq, at_ms, hash, entry: value[40..].to_vec() })
}

impl ChainStore {
    /// The last entry of the trail, read from the database.
    fn read_audit_head(&self) -> Result<AuditHead> {
        let mut iter = self.db.iterator_cf(self.cf(CF_AUDIT), IteratorMode::End);
        match iter.next() {
            Some(item) => {
                let (k, v) = item?;
                let e = decode(&k, &v)?;
                Ok(AuditHead { entries: e.seq, hash: e.hash, at_ms: e.at_ms })
            }
            None => Ok(AuditHead::default()),
        }
    }

    /// The cached head, read from the database the first time.
    fn cached_head(&self, head: &mut Option<AuditHead>) -> Result<AuditHead> {
        match *head {
            Some(h) => Ok(h),
            None => Ok(*head.insert(self.read_audit_head()?)),
        }
    }

    /// The head of the audit trail.
    pub fn audit_head(&self) -> Result<AuditHead> {
        self.cached_head(&mut self.audit.lock())
    }

    /// Appends one entry (JSON) to the audit trail at `at_ms`, synced to disk before it
    /// returns; its place and chain hash.
    pub fn append_audit(&self, at_ms: u64, entry: &[u8]) -> Result<AuditEntry> {
        let mut head = self.audit.lock();
        let last = self.cached_head(&mut head)?;
        let seq = last.entries + 1;
        let at_ms = at_ms.max(last.at_ms);
        let hash = chain_hash(&last.hash, seq, at_ms, entry);
        let mut value = Vec::with_capacity(40 + entry.len());
        value.extend_from_slice(&at_ms.to_be_bytes());
        value.extend_from_slice(&hash.0);
        value.extend_from_slice(entry);
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.put_cf_opt(self.cf(CF_AUDIT), seq.to_be_bytes(), value, &opts)?;
        *head = Some(AuditHead { entries: seq, hash, at_ms });
        Ok(AuditEntry { seq, at_ms, hash, entry: entry.to_vec() })
    }

    /// The newest `limit` entries at or before `before_ms`, newest first.
    pub fn audit_trail(&self, before_ms: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_AUDIT), IteratorMode::End) {
            let (k, v) = item?;
            // Entries newer than `before_ms` are passed over by their time alone.
            if v.get(..8).is_some_and(|t| u64::from_be_bytes(t.try_into().expect("8")) > before_ms)
            {
                continue;
            }
            out.push(decode(&k, &v)?);
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// Walks the whole trail from its first entry and checks every key, time and chain hash.
    /// The head when all follow; otherwise the first entry that does not.
    pub fn verify_audit_trail(&self) -> Result<std::result::Result<AuditHead, AuditBreak>> {
        let mut head = AuditHead::default();
        let from = 0u64.to_be_bytes();
        let iter =
            self.db.iterator_cf(self.cf(CF_AUDIT), IteratorMode::From(&from, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            let broken =
                |seq: u64, reason: &str| Ok(Err(AuditBreak { seq, reason: reason.into() }));
            let e = match decode(&k, &v) {
                Ok(e) => e,
                Err(_) => return broken(head.entries + 1, "the entry cannot be read"),
            };
            if e.seq != head.entries + 1 {
                return broken(head.entries + 1, "missing: the next entry kept is a later one");
            }
            if e.at_ms < head.at_ms {
                return broken(e.seq, "its time is before the previous entry's");
            }
            if chain_hash(&head.hash, e.seq, e.at_ms, &e.entry) != e.hash {
                return broken(e.seq, "its chain hash does not follow from the entries before it");
            }
            head = AuditHead { entries: e.seq, hash: e.hash, at_ms: e.at_ms };
        }
        Ok(Ok(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ChainStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ChainStore::open(&dir.path().join("db")).unwrap();
        (dir, store)
    }

    #[test]
    fn entries_chain_in_order_and_times_never_go_back() {
        let (_dir, store) = store();
        assert_eq!(store.verify_audit_trail().unwrap(), Ok(AuditHead::default()));
        let a = store.append_audit(2_000, br#"{"n":1}"#).unwrap();
        // The clock stepped back: the entry keeps the trail's order and takes the last time.
        let b = store.append_audit(1_000, br#"{"n":2}"#).unwrap();
        let c = store.append_audit(3_000, br#"{"n":3}"#).unwrap();
        assert_eq!((a.seq, b.seq, c.seq), (1, 2, 3));
        assert_eq!(b.at_ms, 2_000);
        let head = store.verify_audit_trail().unwrap().unwrap();
        assert_eq!((head.entries, head.hash), (3, c.hash));
        assert_eq!(store.audit_head().unwrap(), head);

        let newest = store.audit_trail(u64::MAX, 2).unwrap();
        assert_eq!(newest.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2]);
        let before = store.audit_trail(2_500, 10).unwrap();
        assert_eq!(before.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(before[1].entry, br#"{"n":1}"#);
    }

    #[test]
    fn the_head_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let hash = {
            let store = ChainStore::open(&path).unwrap();
            store.append_audit(1, b"{}").unwrap();
            store.append_audit(2, b"{}").unwrap().hash
        };
        let store = ChainStore::open(&path).unwrap();
        let next = store.append_audit(3, b"{}").unwrap();
        assert_eq!(next.seq, 3);
        assert_eq!(next.hash, chain_hash(&hash, 3, 3, b"{}"));
        assert!(store.verify_audit_trail().unwrap().is_ok());
    }

    #[test]
    fn an_edited_removed_or_inserted_entry_is_found() {
        let (_dir, store) = store();
        for n in 0..5u64 {
            store.append_audit(1_000 + n, format!(r#"{{"n":{n}}}"#).as_bytes()).unwrap();
        }
        let cf = store.cf(CF_AUDIT);
        let key = 3u64.to_be_bytes();
        let original = store.db.get_cf(cf, key).unwrap().unwrap();

        // The entry's text changed, its hash kept.
        let mut edited = original.clone();
        *edited.last_mut().unwrap() = b']';
        store.db.put_cf(cf, key, &edited).unwrap();
        let broken = store.verify_audit_trail().unwrap().unwrap_err();
        assert_eq!(broken.seq, 3, "{broken:?}");

        // Removed.
        store.db.delete_cf(cf, key).unwrap();
        let broken = store.verify_audit_trail().unwrap().unwrap_err();
        assert_eq!(broken.seq, 3, "{broken:?}");
        assert!(broken.reason.contains("missing"), "{broken:?}");

        // Put back as it was: whole again.
        store.db.put_cf(cf, key, &original).unwrap();
        assert_eq!(store.verify_audit_trail().unwrap().unwrap().entries, 5);

        // A forged sixth entry whose hash does not follow.
        let mut forged = original.clone();
        forged[8..40].copy_from_slice(&[7; 32]);
        store.db.put_cf(cf, 6u64.to_be_bytes(), &forged).unwrap();
        assert_eq!(store.verify_audit_trail().unwrap().unwrap_err().seq, 6);
    }
}
