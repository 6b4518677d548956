//! Compliance reads: the pre-dial scrub, record search with verdicts, consent histories,
//! filings and report counts.
//!
//! A client reads its own data, authenticated like `GET /v1/tx/{id}` (headers) or, for the
//! scrub, with the documented signed envelope. A consortium member's staff (a carrier, the
//! regulator) or the operator read any client's with `Authorization: Bearer` and a
//! `client_id` parameter, and every such read is appended to the node's audit trail first.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap},
};
use cunzheng_store::{compliance::MAX_PAGE, Found, RecordQuery};
use cunzheng_types::{
    compliance::{
        beijing_day, civil_date, day_of_date, days_in_month, ConsentHistory, ConsentState, Flag,
        Flags,
    },
    record::{parse_unix_seconds, Endpoint},
    tx::filing_value,
    unix_now, unix_now_ms, Channel, Hash, Transaction,
};
use serde_json::{json, Map, Value};

use crate::{
    error::{Answer, ApiError},
    query::{client_headers, unavailable},
    AppState,
};

/// Most phones in one scrub.
pub const MAX_SCRUB: usize = 10_000;

/// Who reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reader {
    /// A client, its own data only.
    Client(String),
    /// A member's staff or the operator, by name, any client's data.
    Member(String),
}

/// The reader of a request authenticated by a Bearer token (the admin token reads as
/// `operator`, a reader token as its name) or by the client headers.
pub(crate) fn reader(state: &AppState, headers: &HeaderMap) -> Result<Reader, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Forbidden)?;
        if crate::operator::check_admin(state, headers).is_ok() {
            return Ok(Reader::Member("operator".into()));
        }
        return state
            .config
            .readers
            .iter()
            .find(|(_, token)| crate::auth::constant_time_eq(token.as_bytes(), given.as_bytes()))
            .map(|(name, _)| Reader::Member(name.clone()))
            .ok_or(ApiError::Forbidden);
    }
    Ok(Reader::Client(client_headers(state, headers)?.to_owned()))
}

/// The client a read is about: the caller itself, or the `client_id` a member names. A member
/// read is written to the audit trail before it is answered.
fn subject(
    state: &AppState,
    reader: &Reader,
    params: &Params,
    action: &str,
) -> Result<String, ApiError> {
    match reader {
        Reader::Client(id) => match params.get("client_id") {
            Some(other) if other != id => Err(ApiError::NotFound),
            _ => Ok(id.clone()),
        },
        Reader::Member(name) => {
            let client_id = params
                .get("client_id")
                .ok_or_else(|| ApiError::BadParam("client_id: missing".into()))?
                .to_owned();
            state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
            let at = unix_now_ms();
            let entry = json!({
                "at": at,
                "reader": name,
                "action": action,
                "client_id": client_id,
                "query": params.raw,
            });
            state
                .chain
                .store()
                .append_audit(at, entry.to_string().as_bytes())
                .map_err(unavailable)?;
            Ok(client_id)
        }
    }
}

/// Query parameters, percent-decoded, with the raw string kept for the audit trail.
pub(crate) struct Params {
    raw: String,
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(raw: Option<String>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or_default();
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(&raw)
            .map_err(|_| ApiError::BadParam("query string does not decode".into()))?;
        Ok(Params { raw, pairs })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn seconds(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                parse_unix_seconds(&Value::String(v.into())).ok_or_else(|| {
                    ApiError::BadParam(format!("{name}: expected 10-digit Unix seconds"))
                })
            })
            .transpose()
    }

    fn channel(&self) -> Result<Channel, ApiError> {
        let v = self.get("channel").ok_or_else(|| ApiError::BadParam("channel: missing".into()))?;
        Channel::parse(v).ok_or_else(|| ApiError::BadParam("channel: expected voice or sms".into()))
    }

    fn phone(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.get(name).map(phone).transpose()
    }
}

/// A phone hash in the stored spelling: 32 hex digits, upper case.
fn phone(p: &str) -> Result<String, ApiError> {
    if p.len() == 32 && p.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(p.to_ascii_uppercase())
    } else {
        Err(ApiError::BadParam(format!("phone {p:?}: expected 32 hex digits")))
    }
}

/// `GET /v1/records`: a page of the client's records, newest first, with their verdicts.
/// Parameters: `kind`, `phone`, `deposit_hash`, `from` and `to` (Unix seconds, inclusive),
/// `flag`, `limit` (default 50, at most 1000), `cursor` (the previous page's `next_cursor`).
pub async fn records(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let params = Params::parse(raw)?;
    let reader = reader(&state, &headers)?;
    let mut query = record_query(&params)?;
    query.client_id = subject(&state, &reader, &params, "records")?;
    let answer = tokio::task::spawn_blocking(move || {
        let page = state.chain.store().search(&query).map_err(unavailable)?;
        let records: Vec<Value> = page.records.iter().map(found_value).collect::<Result<_, _>>()?;
        let cursor = page.next.map(|(time, id)| format!("{time}-{id}"));
        Ok::<_, ApiError>(json!({ "records": records, "next_cursor": cursor }))
    })
    .await
    .map_err(unavailable)??;
    Ok(Answer::success(answer))
}

fn record_query(p: &Params) -> Result<RecordQuery, ApiError> {
    let kind = p.get("kind").map(str::to_owned);
    if let Some(k) = &kind {
        if Endpoint::from_kind(k).is_none() {
            return Err(ApiError::BadParam(format!(
                "kind {k:?}: expected a record kind such as voice.call"
            )));
        }
    }
    let flag = p
        .get("flag")
        .map(|f| Flag::parse(f).ok_or_else(|| ApiError::BadParam(format!("flag {f:?}: unknown"))))
        .transpose()?;
    let limit = match p.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::BadParam(format!("limit: expected 1 to {MAX_PAGE}")))?,
        None => 50,
    };
    let before = p
        .get("cursor")
        .map(|c| {
            c.split_once('-')
                .and_then(|(t, id)| Some((t.parse().ok()?, Hash::from_hex(id).ok()?)))
                .ok_or_else(|| ApiError::BadParam("cursor: expected a next_cursor value".into()))
        })
        .transpose()?;
    let deposit_hash = p.get("deposit_hash").map(str::to_owned);
    Ok(RecordQuery {
        client_id: String::new(),
        kind,
        phone: p.phone("phone")?,
        deposit_hash,
        from: p.seconds("from")?.unwrap_or(0),
        to: p.seconds("to")?.unwrap_or(u64::MAX),
        flag,
        before,
        limit,
    })
}

fn found_value(f: &Found) -> Result<Value, ApiError> {
    let tx = Transaction::from_canonical(&f.entry.bytes)
        .map_err(|e| ApiError::Unavailable(format!("stored transaction does not decode: {e}")))?;
    Ok(json!({
        "tx_id": f.id,
        "tx": tx.to_value(),
        "time": f.time,
        "flags": Flags(f.entry.flags).names(),
        "block_height": f.entry.height,
        "position": f.entry.index,
    }))
}

/// `GET /v1/consents?channel=&phone=[&at=]`: a subscriber's grants and withdrawals with the
/// client on one channel, oldest first, and the consent state at `at` (default: now).
pub async fn consents(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let params = Params::parse(raw)?;
    let reader = reader(&state, &headers)?;
    let channel = params.channel()?;
    let phone =
        params.phone("phone")?.ok_or_else(|| ApiError::BadParam("phone: missing".into()))?;
    let at = params.seconds("at")?.unwrap_or_else(unix_now);
    let client_id = subject(&state, &reader, &params, "consents")?;
    let store = state.chain.store();
    let history = store.consent_history(&client_id, channel, &phone).map_err(unavailable)?;
    let mut events = Vec::with_capacity(history.0.len());
    for e in &history.0 {
        let mut v = json!({
            "type": if e.granted { "grant" } else { "withdrawal" },
            "time": e.time,
            "tx_id": e.tx_id,
        });
        if e.granted {
            let entry = store.tx(&e.tx_id).map_err(unavailable)?;
            let deposit = entry
                .and_then(|entry| Transaction::from_canonical(&entry.bytes).ok())
                .and_then(|tx| match tx {
                    Transaction::Record(r) => r.record.deposit_hash().map(str::to_owned),
                    Transaction::Operator(_) => None,
                });
            v["deposit_hash"] = json!(deposit);
        }
        events.push(v);
    }
    Ok(Answer::success(json!({
        "client_id": client_id,
        "channel": channel,
        "phone": phone,
        "events": events,
        "at": at,
        "state": state_value(&history, at),
    })))
}

fn state_value(history: &ConsentHistory, at: u64) -> Value {
    match history.at(at) {
        ConsentState::None => json!({ "consent": false }),
        ConsentState::Granted { since, tx_id } => {
            json!({ "consent": true, "since": since, "tx_id": tx_id })
        }
        ConsentState::Withdrawn { since, at, tx_id } => {
            json!({ "consent": false, "granted_at": since, "withdrawn_at": at, "tx_id": tx_id })
        }
    }
}

/// `POST /v1/scrub`: which of up to 10,000 phone hashes have consent in force now on a
/// channel, and since when. The body is the documented envelope with `param.channel` and
/// `param.phones`, or just `channel` and `phones` under header or Bearer authentication.
pub async fn scrub(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let mut params = Params::parse(raw)?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadParam(format!("body is not valid JSON: {e}")))?;
    let obj =
        body.as_object().ok_or_else(|| ApiError::BadParam("body must be a JSON object".into()))?;
    let signed =
        !headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-client-id");
    let reader = if signed {
        let request = crate::auth::Request {
            method: "POST",
            path: "/v1/scrub",
            headers: &headers,
            body: &bytes,
        };
        Reader::Client(
            crate::deposit::authenticate(&state, &body, &request, |_| Ok(()))?.0.client_id,
        )
    } else {
        reader(&state, &headers)?
    };
    let param = match obj.get("param") {
        Some(Value::Object(p)) => p,
        Some(_) => return Err(ApiError::BadParam("param: expected an object".into())),
        None => obj,
    };
    if let Some(Value::String(id)) = param.get("client_id").or_else(|| obj.get("client_id")) {
        params.pairs.push(("client_id".into(), id.clone()));
    }
    let channel = param
        .get("channel")
        .and_then(Value::as_str)
        .and_then(Channel::parse)
        .ok_or_else(|| ApiError::BadParam("channel: expected voice or sms".into()))?;
    let phones = scrub_phones(param)?;
    let client_id = subject(&state, &reader, &params, "scrub")?;
    let now = unix_now();
    let answer = tokio::task::spawn_blocking(move || {
        let keys: Vec<Vec<u8>> =
            phones.iter().map(|p| cunzheng_store::consent_key(&client_id, channel, p)).collect();
        let histories = state.chain.store().consent_histories(&keys).map_err(unavailable)?;
        let mut in_force = 0;
        let results: Vec<Value> = phones
            .iter()
            .zip(&histories)
            .map(|(p, h)| {
                let mut v = state_value(h, now);
                in_force += usize::from(v["consent"] == true);
                v["phone"] = json!(p);
                v
            })
            .collect();
        Ok::<_, ApiError>(json!({
            "channel": channel,
            "at": now,
            "checked": results.len(),
            "in_force": in_force,
            "results": results,
        }))
    })
    .await
    .map_err(unavailable)??;
    Ok(Answer::success(answer))
}

fn scrub_phones(param: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let list = param
        .get("phones")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::BadParam("phones: expected an array of phone hashes".into()))?;
    if list.is_empty() || list.len() > MAX_SCRUB {
        return Err(ApiError::ListSize(MAX_SCRUB));
    }
    list.iter()
        .map(|p| {
            p.as_str()
                .ok_or_else(|| ApiError::BadParam("phones: expected strings".into()))
                .and_then(phone)
        })
        .collect()
}

/// `GET /v1/reports?period=day&date=YYYY-MM-DD` or `period=month&date=YYYY-MM`: the client's
/// record counts per kind and per flag over that Asia/Shanghai day or month, by each record's
/// own time.
pub async fn reports(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let params = Params::parse(raw)?;
    let reader = reader(&state, &headers)?;
    let (period, first, last, date) = report_period(&params)?;
    let client_id = subject(&state, &reader, &params, "reports")?;
    let counts = state.chain.store().report_counts(&client_id, first, last).map_err(unavailable)?;
    let total: u64 = counts.kinds.values().sum();
    Ok(Answer::success(json!({
        "client_id": client_id,
        "period": period,
        "date": date,
        "records": total,
        "kinds": counts.kinds,
        "flags": counts.flags,
    })))
}

/// The period, its first and last Beijing day, and its date as written.
fn report_period(p: &Params) -> Result<(&'static str, u32, u32, String), ApiError> {
    let today = civil_date(beijing_day(unix_now()));
    let bad = |what: &str| ApiError::BadParam(format!("date: expected {what}"));
    match p.get("period").unwrap_or("day") {
        "day" => {
            let (y, m, d) = match p.get("date") {
                Some(s) => parse_date(s).ok_or_else(|| bad("YYYY-MM-DD"))?,
                None => today,
            };
            let day = day_of_date(y, m, d).ok_or_else(|| bad("a date since 1970-01-01"))?;
            Ok(("day", day, day, format!("{y:04}-{m:02}-{d:02}")))
        }
        "month" => {
            let (y, m) = match p.get("date") {
                Some(s) => parse_date(&format!("{s}-01"))
                    .map(|(y, m, _)| (y, m))
                    .ok_or_else(|| bad("YYYY-MM"))?,
                None => (today.0, today.1),
            };
            let first = day_of_date(y, m, 1).ok_or_else(|| bad("a month since 1970-01"))?;
            let last = first + days_in_month(y, m) - 1;
            Ok(("month", first, last, format!("{y:04}-{m:02}")))
        }
        _ => Err(ApiError::BadParam("period: expected day or month".into())),
    }
}

fn parse_date(s: &str) -> Option<(i32, u32, u32)> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Some((y.parse().ok()?, m.parse().ok()?, d.parse().ok()?))
}

/// `GET /v1/filings`: the client's standing and approved filings.
pub async fn filings(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let params = Params::parse(raw)?;
    let reader = reader(&state, &headers)?;
    let client_id = subject(&state, &reader, &params, "filings")?;
    let client = state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let filings: Vec<Value> = client
        .filings
        .iter()
        .map(|f| {
            let mut v = filing_value(&f.filing);
            v["approved_at"] = json!(f.approved_at);
            v["changed_at"] = json!(f.changed_at);
            v
        })
        .collect();
    Ok(Answer::success(json!({
        "client_id": client_id,
        "registered_at": client.registered_at,
        "suspended": client.suspended,
        "filings": filings,
    })))
}

/// `GET /v1/audit-trail?before=<Unix ms>&limit=`: the member reads this node answered and the
/// decisions of operator staff, newest first, each with its place and chain hash, and the
/// trail's head. For members and the operator only.
pub async fn audit_trail(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let params = Params::parse(raw)?;
    if !matches!(reader(&state, &headers)?, Reader::Member(_)) {
        return Err(ApiError::Forbidden);
    }
    let before = match params.get("before") {
        Some(b) => b.parse().map_err(|_| ApiError::BadParam("before: expected Unix ms".into()))?,
        None => u64::MAX,
    };
    let limit = params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100usize).clamp(1, 1000);
    let store = state.chain.store();
    let entries = store.audit_trail(before, limit).map_err(unavailable)?;
    let head = store.audit_head().map_err(unavailable)?;
    let entries: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let mut v: Value = serde_json::from_slice(&e.entry).ok()?;
            let fields = v.as_object_mut()?;
            fields.insert("seq".into(), json!(e.seq));
            fields.insert("chain_hash".into(), json!(e.hash));
            Some(v)
        })
        .collect();
    Ok(Answer::success(json!({ "entries": entries, "head": head })))
}
