//! The six documented endpoints: authenticate, validate every record, queue the call's
//! transactions, and answer once they are all in a committed block.

use std::{sync::Arc, time::Instant};

use axum::{body::Body, extract::State, http::HeaderMap};
use cunzheng_builder::ChainError;
use cunzheng_store::ClientEntry;
use cunzheng_types::{
    record::{parse_unix_seconds, Endpoint},
    unix_now, Record, RecordTx, SealedTx, Transaction,
};
use serde_json::{json, Map, Value};
use tracing::{debug, warn};

use crate::{
    auth::{Authenticated, Request},
    error::{Answer, ApiError},
    AppState,
};

/// Answers a deposit call; every outcome is HTTP 200 with a code.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let started = Instant::now();
    let result = deposit(&state, endpoint, &headers, body).await;
    let answer = match result {
        Ok((count, height)) => {
            state.metrics.records(endpoint, count);
            Answer::success(json!({ "records": count, "block_height": height }))
        }
        Err(e) => {
            debug!(target: "gateway", path = endpoint.path(), code = e.code(), msg = %e, "deposit refused");
            e.body()
        }
    };
    state.metrics.call(endpoint, answer.code, started.elapsed());
    answer
}

async fn deposit(
    state: &AppState,
    endpoint: Endpoint,
    headers: &HeaderMap,
    body: Body,
) -> Result<(usize, u64), ApiError> {
    let limit = state.config.body_limit;
    let bytes =
        axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::BodyTooLarge(limit))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadParam(format!("body is not valid JSON: {e}")))?;
    let request = Request { method: "POST", path: endpoint.path(), headers, body: &bytes };
    let (client, envelope) =
        authenticate(state, &value, &request, |entry| standing(entry, endpoint))?;

    let list = envelope.list()?;
    if list.is_empty() || list.len() > endpoint.max_records() {
        return Err(ApiError::ListSize(endpoint.max_records()));
    }
    let now = unix_now();
    let txs = list
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let record = Record::from_json(endpoint, i, v, envelope.timestamp, now)
                .map_err(|e| ApiError::BadParam(e.to_string()))?;
            let tx = Transaction::Record(RecordTx { client_id: client.client_id.clone(), record });
            Ok(Arc::new(SealedTx::new(tx)))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let count = txs.len();

    state.disk.check()?;
    let receipt = state.chain.submit(txs).map_err(|e| match e {
        ChainError::PoolFull(full) => ApiError::Unavailable(full.to_string()),
        other => {
            warn!(target: "gateway", error = %other, "deposit could not be queued");
            ApiError::Unavailable("the ledger could not take the call".into())
        }
    })?;
    let timeout = state.config.commit_timeout;
    match tokio::time::timeout(timeout, receipt).await {
        Err(_) => Err(ApiError::Timeout(timeout)),
        Ok(Err(_)) => Err(ApiError::Unavailable("the node is shutting down".into())),
        Ok(Ok(Ok(height))) => Ok((count, height)),
        Ok(Ok(Err(rejected))) => Err(refusal(state, &client.client_id, endpoint, rejected.reason)),
    }
}

/// The client of a body in the documented envelope (`timestamp`, `client_id`,
/// `client_token`): its token and timestamp checked, then the request signature when sent or
/// required, then `standing`, then its rate. Returns
/// the envelope too, for the call's other members.
pub(crate) fn authenticate<'a>(
    state: &AppState,
    body: &'a Value,
    request: &Request<'_>,
    standing: impl FnOnce(&ClientEntry) -> Result<(), ApiError>,
) -> Result<(Authenticated, Envelope<'a>), ApiError> {
    let envelope = Envelope::parse(body)?;
    let verified = state.auth.verify(
        &state.chain,
        envelope.client_id,
        envelope.timestamp,
        envelope.client_token,
        state.config.time_window_secs,
    );
    let client = match verified {
        // A member node holds no operator secret and cannot check the token; it still answers
        // 10006 or 10007 for a client the chain's rules refuse, as every member would.
        Err(ApiError::Unavailable(reason)) => {
            if let Some(entry) = state.chain.client(envelope.client_id) {
                standing(&entry)?;
            }
            return Err(ApiError::Unavailable(reason));
        }
        other => other?,
    };
    state.auth.check_signature(&client, request, state.config.time_window_secs)?;
    standing(&client.entry)?;
    state.auth.admit(&client.client_id)?;
    Ok((client, envelope))
}

/// Whether a client may deposit on `endpoint`'s channel: 10006 when suspended or without any
/// approved filing, 10007 without one for this channel.
fn standing(client: &ClientEntry, endpoint: Endpoint) -> Result<(), ApiError> {
    if let Some(reason) = &client.suspended {
        return Err(ApiError::Suspended(reason.clone()));
    }
    if client.filings.is_empty() {
        return Err(ApiError::NotApproved);
    }
    if client.filing(endpoint.channel).is_none() {
        return Err(ApiError::NoFiling(endpoint.channel.as_str()));
    }
    Ok(())
}

/// Maps a transaction dropped at proposal to the client's current standing.
fn refusal(state: &AppState, client_id: &str, endpoint: Endpoint, reason: String) -> ApiError {
    match state.chain.client(client_id).map(|c| standing(&c, endpoint)) {
        Some(Err(e)) => e,
        _ => ApiError::Unavailable(reason),
    }
}

/// The documented envelope, with keys matched after trimming white space.
pub(crate) struct Envelope<'a> {
    timestamp: u64,
    client_id: &'a str,
    client_token: &'a str,
    members: &'a Map<String, Value>,
}

/// The member of `obj` whose trimmed key is `name`.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.trim() == name).map(|(_, v)| v))
}

impl<'a> Envelope<'a> {
    fn parse(value: &'a Value) -> Result<Self, ApiError> {
        let members = value
            .as_object()
            .ok_or_else(|| ApiError::BadParam("body must be a JSON object".into()))?;
        let string = |name: &str| -> Result<&'a str, ApiError> {
            match member(members, name) {
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(ApiError::BadParam(format!("{name}: expected a string"))),
                None => Err(ApiError::BadParam(format!("{name}: missing"))),
            }
        };
        let timestamp = member(members, "timestamp")
            .ok_or_else(|| ApiError::BadParam("timestamp: missing".into()))
            .and_then(|v| {
                parse_unix_seconds(v).ok_or_else(|| {
                    ApiError::BadParam("timestamp: expected 10-digit Unix seconds".into())
                })
            })?;
        let client_id = string("client_id")?;
        let client_token = string("client_token")?;
        Ok(Envelope { timestamp, client_id, client_token, members })
    }

    /// `param.list`, or a top-level `list` as the original's examples print it.
    fn list(&self) -> Result<&'a Vec<Value>, ApiError> {
        let param_list = match member(self.members, "param") {
            Some(Value::Object(p)) => member(p, "list"),
            Some(_) => return Err(ApiError::BadParam("param: expected an object".into())),
            None => None,
        };
        match param_list.or_else(|| member(self.members, "list")) {
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(ApiError::BadParam("list: expected an array".into())),
            None => Err(ApiError::BadParam("param.list: missing".into())),
        }
    }
}
