//! Compliance state kept beside the chain: consent histories and per-day counts, which a block's
//! execution reads and writes in the block's batch; flag indexes and report counters, derived
//! from a block's records and their verdicts by the index writer (module `index`); plus the
//! record search. The audit trail of member reads is in `audit`.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `consent` | client id, 0, channel (1), phone (16) | the grants and withdrawals, 41 bytes each |
//! | `daily` | client id, 0, channel (1), phone (16), Beijing day (u32 BE) | records that day (u32 BE) |
//! | `idx_flag` | client id, 0, flag (1), time (u64 BE), tx id | record kind, flags (1 byte each) |
//! | `reports` | client id, 0, Beijing day (u32 BE), counter (1) | count (u64 BE) |
//!
//! A report counter is a record kind's code (1 to 6) or `0x10` plus a flag's index.

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU32, Ordering},
};

use cunzheng_types::{
    compliance::{ConsentEvent, ConsentHistory, Flag, Flags},
    Channel, Hash, Transaction,
};
use rocksdb::{Direction, IteratorMode, WriteBatch};

use crate::{corrupt, keys, ChainStore, Result, TxEntry};

pub(crate) const CF_CONSENT: &str = "consent";
pub(crate) const CF_DAILY: &str = "daily";
pub(crate) const CF_FLAG: &str = "idx_flag";
pub(crate) const CF_REPORTS: &str = "reports";
pub(crate) const CF_AUDIT: &str = "audit_trail";
pub(crate) const CF_EVIDENCE: &str = "evidence";

/// Largest page of a search.
pub const MAX_PAGE: usize = 1000;
/// Index entries one search page may pass over before it answers with what it found and a
/// cursor to go on from.
pub const MAX_SCAN: usize = 200_000;

fn channel_code(c: Channel) -> u8 {
    match c {
        Channel::Voice => 1,
        Channel::Sms => 2,
    }
}

/// Key of a (client, channel, phone) consent history.
pub fn consent_key(client_id: &str, channel: Channel, phone: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 18);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.push(channel_code(channel));
    k.extend_from_slice(&keys::phone_bytes(phone));
    k
}

/// Key of the count of a client's records on a channel to a phone on a Beijing day.
pub fn daily_key(client_id: &str, channel: Channel, phone: &str, day: u32) -> Vec<u8> {
    let mut k = consent_key(client_id, channel, phone);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

pub(crate) fn flag_key(client_id: &str, flag: Flag, time: u64, id: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 42);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.push(flag.index());
    k.extend_from_slice(&time.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

pub(crate) fn report_key(client_id: &str, day: u32, counter: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(client_id.len() + 6);
    k.extend_from_slice(client_id.as_bytes());
    k.push(0);
    k.extend_from_slice(&day.to_be_bytes());
    k.push(counter);
    k
}

/// The report counter of a flag.
pub(crate) fn flag_counter(flag: Flag) -> u8 {
    0x10 + flag.index()
}

fn encode_history(h: &ConsentHistory) -> Vec<u8> {
    let mut out = Vec::with_capacity(41 * h.0.len());
    for e in &h.0 {
        out.extend_from_slice(&e.time.to_be_bytes());
        out.push(u8::from(e.granted));
        out.extend_from_slice(e.tx_id.as_bytes());
    }
    out
}

fn decode_history(b: &[u8]) -> Result<ConsentHistory> {
    if !b.len().is_multiple_of(41) {
        return Err(corrupt("consent history", "ragged length"));
    }
    let events = b
        .chunks_exact(41)
        .map(|c| ConsentEvent {
            time: u64::from_be_bytes(c[..8].try_into().expect("8 bytes")),
            granted: c[8] == 1,
            tx_id: Hash(c[9..].try_into().expect("32 bytes")),
        })
        .collect();
    Ok(ConsentHistory(events))
}

pub(crate) fn be_u64(b: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(b.try_into().map_err(|_| corrupt("counter", "not 8 bytes"))?))
}

/// The compliance state a block's execution changed, as it stands after the block: each
/// consent history a grant or withdrawal touched, each daily count a call or SMS touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComplianceChanges {
    pub consent: Vec<(Vec<u8>, ConsentHistory)>,
    pub daily: Vec<(Vec<u8>, u32)>,
}

/// What a record search asks for. Every field but `client_id` narrows it.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub client_id: String,
    /// A record kind, such as `voice.call`.
    pub kind: Option<String>,
    /// A phone hash, 32 hex digits.
    pub phone: Option<String>,
    pub deposit_hash: Option<String>,
    /// Record times from, inclusive (Unix seconds).
    pub from: u64,
    /// Record times to, inclusive.
    pub to: u64,
    /// Only records carrying this flag.
    pub flag: Option<Flag>,
    /// Go on after this (time, id), exclusive: the cursor of the previous page.
    pub before: Option<(u64, Hash)>,
    pub limit: usize,
}

/// One record a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub id: Hash,
    pub time: u64,
    pub entry: TxEntry,
}

/// A page of a search, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<Found>,
    /// Where the next page starts, when there may be more.
    pub next: Option<(u64, Hash)>,
}

impl ChainStore {
    /// The consent histories under `keys` ([`consent_key`]), empty where none is stored.
    pub fn consent_histories(&self, keys: &[Vec<u8>]) -> Result<Vec<ConsentHistory>> {
        let cf = self.cf(CF_CONSENT);
        self.db
            .batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .map(|v| v?.map_or(Ok(ConsentHistory::default()), |b| decode_history(&b)))
            .collect()
    }

    /// A subscriber's consent history with one client on one channel, in time order.
    pub fn consent_history(
        &self,
        client_id: &str,
        channel: Channel,
        phone: &str,
    ) -> Result<ConsentHistory> {
        let key = consent_key(client_id, channel, phone);
        Ok(self.consent_histories(&[key])?.pop().unwrap_or_default())
    }

    /// The counts under `keys` ([`daily_key`]), 0 where none is stored.
    pub fn daily_counts(&self, keys: &[Vec<u8>]) -> Result<Vec<u32>> {
        let cf = self.cf(CF_DAILY);
        self.db
            .batched_multi_get_cf(cf, keys.iter(), false)
            .into_iter()
            .map(|v| match v? {
                None => Ok(0),
                Some(b) => Ok(u32::from_be_bytes(
                    b.as_ref().try_into().map_err(|_| corrupt("daily count", "not 4 bytes"))?,
                )),
            })
            .collect()
    }

    /// Adds to `batch` the compliance state a block's execution changed: consent histories and
    /// daily counts. Its flag index entries and report counters are derived ([`crate::index`]).
    pub(crate) fn put_compliance(&self, batch: &mut WriteBatch, changes: &ComplianceChanges) {
        // Sorted keys insert into the memtable much faster than random ones.
        let mut consent: Vec<&(Vec<u8>, ConsentHistory)> = changes.consent.iter().collect();
        consent.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let cf = self.cf(CF_CONSENT);
        for (key, history) in consent {
            batch.put_cf(cf, key, encode_history(history));
        }
        let mut daily: Vec<&(Vec<u8>, u32)> = changes.daily.iter().collect();
        daily.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let cf = self.cf(CF_DAILY);
        for (key, count) in daily {
            batch.put_cf(cf, key, count.to_be_bytes());
        }
    }

    /// A page of a client's records matching `q`, newest first. It reads the narrowest index
    /// the query names: deposit hash, then phone, then flag, then the client's time index of
    /// the kind asked for (or all six kinds, merged).
    pub fn search(&self, q: &RecordQuery) -> Result<Page> {
        self.indexes_current()?;
        let limit = q.limit.clamp(1, MAX_PAGE);
        let kind = match &q.kind {
            Some(k) => Some(keys::kind_code_of(k).ok_or_else(|| corrupt("query", "unknown kind"))?),
            None => None,
        };
        let upper = q.before.unwrap_or((q.to, Hash([0xff; 32])));
        let inclusive = q.before.is_none();
        let wanted = |time: u64, id: &Hash, code: u8| {
            time >= q.from
                && time <= q.to
                && kind.is_none_or(|k| k == code)
                && (time, *id) <= upper
                && (inclusive || (time, *id) != upper)
        };
        if let Some(deposit) = &q.deposit_hash {
            // Few records share a deposit hash: read them all, keep the matches, one page.
            let mut prefix = deposit.as_bytes().to_vec();
            prefix.push(0);
            let mut records = Vec::new();
            for id in self.ids_under(crate::CF_DEPOSIT, &prefix)? {
                if let Some(entry) = self.tx(&id)? {
                    if let Ok(Transaction::Record(r)) = Transaction::from_canonical(&entry.bytes) {
                        let code = keys::kind_code(&r.record);
                        let phone_ok = q
                            .phone
                            .as_deref()
                            .is_none_or(|p| p.eq_ignore_ascii_case(r.record.phone()));
                        let flag_ok = q.flag.is_none_or(|f| Flags(entry.flags).has(f));
                        let time = r.record.time();
                        if r.client_id == q.client_id
                            && phone_ok
                            && flag_ok
                            && wanted(time, &id, code)
                        {
                            records.push(Found { id, time, entry });
                        }
                    }
                }
            }
            records.sort_unstable_by_key(|r| std::cmp::Reverse((r.time, r.id)));
            records.truncate(limit);
            return Ok(Page { records, next: None });
        }

        let mut candidates: Vec<(u64, Hash)> = Vec::new();
        let mut next = None;
        // The narrowest index the query names; the client's time index is split by kind,
        // so a search by kind reads only that kind and one without merges the six.
        let sources: Vec<(&str, Vec<u8>)> = match (&q.phone, q.flag) {
            (Some(phone), _) => vec![(
                crate::CF_PHONE,
                keys::phone_client_prefix(&keys::phone_bytes(phone), &q.client_id),
            )],
            (None, Some(flag)) => {
                let mut p = q.client_id.as_bytes().to_vec();
                p.push(0);
                p.push(flag.index());
                vec![(CF_FLAG, p)]
            }
            (None, None) => kind
                .map_or_else(|| (1..=6).collect(), |k| vec![k])
                .into_iter()
                .map(|code| (crate::CF_CLIENT_TIME, keys::client_kind_prefix(&q.client_id, code)))
                .collect(),
        };
        let mut merged = Vec::with_capacity(sources.len());
        for (cf, prefix) in sources {
            let mut start = prefix.clone();
            start.extend_from_slice(&upper.0.to_be_bytes());
            start.extend_from_slice(upper.1.as_bytes());
            let iter =
                self.db.iterator_cf(self.cf(cf), IteratorMode::From(&start, Direction::Reverse));
            let mut source = Source { iter, prefix, from: q.from, head: None };
            source.advance()?;
            merged.push(source);
        }
        let mut last_seen = None;
        for scanned in 0.. {
            // The source whose head is the newest.
            let Some(newest) = merged
                .iter_mut()
                .filter(|s| s.head.is_some())
                .max_by_key(|s| s.head.map(|h| (h.0, h.1)))
            else {
                break;
            };
            let (time, id, code, flags) = newest.head.expect("filtered");
            newest.advance()?;
            if scanned == MAX_SCAN {
                next = last_seen;
                break;
            }
            last_seen = Some((time, id));
            let flag_ok = q.flag.is_none_or(|f| Flags(flags).has(f));
            if flag_ok && wanted(time, &id, code) {
                candidates.push((time, id));
                if candidates.len() == limit {
                    next = Some((time, id));
                    break;
                }
            }
        }

        let ids: Vec<Hash> = candidates.iter().map(|(_, id)| *id).collect();
        let cf = self.cf(crate::CF_TXS);
        let values = self.db.batched_multi_get_cf(cf, ids.iter().map(|i| i.as_bytes()), false);
        let mut records = Vec::with_capacity(ids.len());
        for ((time, id), value) in candidates.into_iter().zip(values) {
            let value = value?.ok_or_else(|| corrupt("index", format!("{id} has no entry")))?;
            let entry: TxEntry =
                postcard::from_bytes(&value).map_err(|e| corrupt("transaction", e))?;
            records.push(Found { id, time, entry });
        }
        Ok(Page { records, next })
    }

    /// Counts of a client's records per kind and per flag over Beijing days `first..=last`,
    /// by the record's own time.
    pub fn report_counts(&self, client_id: &str, first: u32, last: u32) -> Result<ReportCounts> {
        self.indexes_current()?;
        let start = report_key(client_id, first, 0);
        let end = report_key(client_id, last, u8::MAX);
        let mut out = ReportCounts::default();
        let iter = self
            .db
            .iterator_cf(self.cf(CF_REPORTS), IteratorMode::From(&start, Direction::Forward));
        for item in iter {
            let (k, v) = item?;
            if k.as_ref() > end.as_slice() {
                break;
            }
            let counter = *k.last().ok_or_else(|| corrupt("report key", "empty"))?;
            let n = be_u64(&v)?;
            if let Some(kind) = keys::kind_name(counter) {
                *out.kinds.entry(kind).or_default() += n;
            } else if let Some(flag) = Flag::ALL.into_iter().find(|f| flag_counter(*f) == counter) {
                *out.flags.entry(flag.as_str()).or_default() += n;
            }
        }
        Ok(out)
    }
}

impl ChainStore {
    /// Keeps one statement of equivocation (JSON), under the height it concerns.
    pub fn append_evidence(&self, height: u64, statement: &[u8]) -> Result<()> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let mut key = height.to_be_bytes().to_vec();
        key.extend_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut opts = rocksdb::WriteOptions::default();
        opts.set_sync(true);
        self.db.put_cf_opt(self.cf(CF_EVIDENCE), key, statement, &opts)?;
        Ok(())
    }

    /// The newest `limit` statements of equivocation, highest height first.
    pub fn evidence(&self, limit: usize) -> Result<Vec<Vec<u8>>> {
        let iter = self.db.iterator_cf(self.cf(CF_EVIDENCE), IteratorMode::End);
        iter.take(limit).map(|item| Ok(item?.1.to_vec())).collect()
    }
}

/// One index range read newest first, its next entry held in `head`.
struct Source<'a> {
    iter: rocksdb::DBIteratorWithThreadMode<'a, rocksdb::DB>,
    prefix: Vec<u8>,
    from: u64,
    /// time, id, kind code, flags
    head: Option<(u64, Hash, u8, u8)>,
}

impl Source<'_> {
    fn advance(&mut self) -> Result<()> {
        self.head = match self.iter.next().transpose()? {
            Some((k, v)) if k.starts_with(&self.prefix) => {
                let (time, id) = keys::split_time_id(&k[self.prefix.len()..])
                    .ok_or_else(|| corrupt("index key", "short"))?;
                let code = v.first().copied().unwrap_or_default();
                let flags = v.get(1).copied().unwrap_or_default();
                (time >= self.from).then_some((time, id, code, flags))
            }
            _ => None,
        };
        Ok(())
    }
}

/// Counts per record kind and per flag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportCounts {
    pub kinds: BTreeMap<&'static str, u64>,
    pub flags: BTreeMap<&'static str, u64>,
}
