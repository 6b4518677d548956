//! Chain reads: a client's own transaction, public blocks, node status, the OpenAPI document.

use std::sync::Arc;

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    http::{header, HeaderMap},
    response::IntoResponse,
};
use cunzheng_store::{ChainStore, StoreError, TxEntry};
use cunzheng_types::{
    checkpoint, proof::BUNDLE_VERSION, CertifiedHeader, Hash, ProofBundle, Transaction,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::{Answer, ApiError},
    AppState,
};

/// `GET /v1/tx/{id}`: one of the caller's transactions with where it sits in the chain.
/// Authenticated by headers carrying the documented token; another client's transaction
/// answers 10010 as if it did not exist.
pub async fn tx(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let client_id = client_headers(&state, &headers)?;
    let (id, entry, tx) = visible_tx(&state, &id, Caller::Client(client_id))?;
    let header =
        state.chain.store().header(entry.height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    Ok(Answer::success(json!({
        "tx_id": id,
        "tx": tx.to_value(),
        "block_height": entry.height,
        "position": entry.index,
        "block_hash": header.hash(),
        "block_time": header.time,
        "flags": cunzheng_types::compliance::Flags(entry.flags).names(),
    })))
}

/// `GET /v1/proofs/{id}`: the proof bundle of a transaction (see
/// [`cunzheng_types::ProofBundle`]), for the client that owns it (header authentication as
/// `GET /v1/tx/{id}`) or the operator (`Authorization: Bearer`). It proves the record against
/// its block and against the newest block's log, so that it holds offline.
pub async fn proof(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let bundle = authorized_bundle(state, &id, &headers).await?;
    Ok(Answer::success(serde_json::to_value(bundle).map_err(unavailable)?))
}

/// The proof bundle of transaction `id` for a caller authenticated as its client (headers) or
/// as the operator (`Authorization: Bearer`).
pub(crate) async fn authorized_bundle(
    state: Arc<AppState>,
    id: &str,
    headers: &HeaderMap,
) -> Result<ProofBundle, ApiError> {
    let caller = if headers.contains_key(header::AUTHORIZATION) {
        crate::operator::check_admin(&state, headers)?;
        Caller::Operator
    } else {
        Caller::Client(client_headers(&state, headers)?)
    };
    let (id, entry, tx) = visible_tx(&state, id, caller)?;
    tokio::task::spawn_blocking(move || bundle(&state, id, entry, &tx))
        .await
        .map_err(unavailable)?
}

/// The proof bundle of transaction `id` for a caller known by a portal session: a client,
/// to whom another client's transaction is not found, or the operator.
/// `client_id` None is the operator, who sees every record.
pub(crate) async fn session_bundle(
    state: Arc<AppState>,
    id: &str,
    client_id: Option<&str>,
) -> Result<ProofBundle, ApiError> {
    let caller = client_id.map_or(Caller::Operator, Caller::Client);
    let (id, entry, tx) = visible_tx(&state, id, caller)?;
    tokio::task::spawn_blocking(move || bundle(&state, id, entry, &tx))
        .await
        .map_err(unavailable)?
}

fn bundle(
    state: &AppState,
    tx_id: Hash,
    entry: TxEntry,
    tx: &Transaction,
) -> Result<ProofBundle, ApiError> {
    let store = state.chain.store();
    let block = certified(store, entry.height)?;
    let tx_index = u64::from(entry.index);
    let tx_path = store.block_inclusion(entry.height, tx_index).map_err(unavailable)?;

    // The newest committed block is the checkpoint: its log holds every earlier record.
    let checkpoint = certified(store, state.chain.head().height)?;
    let log_index = block.header.log_size - block.header.tx_count + tx_index;
    let log_path =
        store.log_inclusion(log_index, checkpoint.header.log_size).map_err(unavailable)?;
    Ok(ProofBundle {
        version: BUNDLE_VERSION,
        genesis_hash: state.chain.genesis().hash(),
        tx: tx.to_value(),
        tx_id,
        block,
        tx_index,
        tx_path,
        log_index,
        checkpoint,
        log_path,
    })
}

/// A committed header with its certificate.
fn certified(store: &ChainStore, height: u64) -> Result<CertifiedHeader, ApiError> {
    let header = store.header(height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    let certificate = store.certificate(height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    Ok(CertifiedHeader { header, certificate })
}

/// `GET /v1/checkpoint`: the newest checkpoint of the log signed by more than two thirds of
/// the voting power, as a C2SP `tlog-checkpoint` signed note (`text/plain`).
pub async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let note = state.chain.checkpoints().latest().ok_or(ApiError::NotFound)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note))
}

/// `GET /v1/checkpoint/keys`: the origin of this chain's checkpoints and each member's
/// signed-note verifier key, as a witness or verifier configures them.
pub async fn checkpoint_keys(State(state): State<Arc<AppState>>) -> Answer {
    let genesis = state.chain.genesis();
    let keys: Vec<_> = genesis
        .validators
        .iter()
        .map(|v| {
            let name = checkpoint::key_name(&genesis.chain_id, &v.name);
            json!({"member": v.name, "vkey": checkpoint::verifier_key(&name, &v.public_key)})
        })
        .collect();
    Answer::success(json!({"origin": checkpoint::origin(&genesis.chain_id), "keys": keys}))
}

/// `GET /v1/genesis`: the document every verifier trusts: chain id, validators, operator key.
pub async fn genesis(State(state): State<Arc<AppState>>) -> Answer {
    Answer::success(json!(state.chain.genesis()))
}

/// `?from=N&to=M` of `GET /v1/consistency`.
#[derive(Debug, Deserialize)]
pub struct Sizes {
    from: u64,
    to: u64,
}

/// `GET /v1/consistency?from=N&to=M`: the RFC 9162 proof that the log of the first `from`
/// records is a prefix of the log of the first `to`, with both roots.
pub async fn consistency(
    State(state): State<Arc<AppState>>,
    sizes: Result<Query<Sizes>, QueryRejection>,
) -> Result<Answer, ApiError> {
    let Query(Sizes { from, to }) = sizes
        .map_err(|_| ApiError::BadParam("from, to: expected two log sizes as integers".into()))?;
    let size = state.chain.store().head().map_err(unavailable)?.map_or(0, |h| h.frontier.size);
    if from > to || to > size {
        return Err(ApiError::BadParam(format!(
            "from, to: expected from <= to <= {size}, the committed log size"
        )));
    }
    let answer = tokio::task::spawn_blocking(move || {
        let store = state.chain.store();
        Ok::<_, StoreError>(json!({
            "from": from,
            "to": to,
            "from_root": store.log_root(from)?,
            "to_root": store.log_root(to)?,
            "proof": store.log_consistency(from, to)?,
        }))
    })
    .await
    .map_err(unavailable)?
    .map_err(unavailable)?;
    Ok(Answer::success(answer))
}

/// Who reads a transaction: the operator reads any, a client its own records only.
#[derive(Clone, Copy)]
enum Caller<'a> {
    Operator,
    Client(&'a str),
}

/// The client id of a call authenticated by `X-Client-Id`, `X-Timestamp` and
/// `X-Client-Token` (the documented token formula).
pub(crate) fn client_headers<'a>(
    state: &AppState,
    headers: &'a HeaderMap,
) -> Result<&'a str, ApiError> {
    let client_id = header_str(headers, "x-client-id")?;
    let timestamp = header_str(headers, "x-timestamp")?
        .parse::<u64>()
        .map_err(|_| ApiError::BadParam("X-Timestamp: expected Unix seconds".into()))?;
    let token = header_str(headers, "x-client-token")?;
    state.auth.verify(&state.chain, client_id, timestamp, token, state.config.time_window_secs)?;
    Ok(client_id)
}

/// The transaction `id` if `caller` may see it; another client's answers 10010 as if it did
/// not exist.
fn visible_tx(
    state: &AppState,
    id: &str,
    caller: Caller<'_>,
) -> Result<(Hash, TxEntry, Transaction), ApiError> {
    let id =
        Hash::from_hex(id).map_err(|_| ApiError::BadParam("id: expected 64 hex digits".into()))?;
    let entry = state.chain.store().tx(&id).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    let tx = Transaction::from_canonical(&entry.bytes)
        .map_err(|e| ApiError::Unavailable(format!("stored transaction does not decode: {e}")))?;
    if let Caller::Client(client_id) = caller {
        if !matches!(&tx, Transaction::Record(r) if r.client_id == client_id) {
            return Err(ApiError::NotFound);
        }
    }
    Ok((id, entry, tx))
}

/// `GET /v1/blocks/{height}`: header, hash, certificate and transaction ids. Public.
pub async fn block(
    State(state): State<Arc<AppState>>,
    Path(height): Path<String>,
) -> Result<Answer, ApiError> {
    let height: u64 =
        height.parse().map_err(|_| ApiError::BadParam("height: expected an integer".into()))?;
    let store = state.chain.store();
    let block = store.block(height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    let certificate = store.certificate(height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    Ok(Answer::success(json!({
        "height": height,
        "hash": block.header.hash(),
        "header": block.header,
        "certificate": certificate,
        "tx_ids": block.tx_ids,
    })))
}

/// The names of the members whose signatures decided the committed head.
pub(crate) fn head_signers(state: &AppState) -> Vec<String> {
    let (chain, genesis) = (&state.chain, state.chain.genesis());
    match chain.store().certificate(chain.head().height) {
        Ok(Some(cert)) => cert
            .signatures
            .iter()
            .filter_map(|s| genesis.validator(&s.validator).map(|v| v.name.clone()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `GET /v1/status`: the committed head, the members whose signatures decided it, this
/// node's role and the pool.
pub async fn status(State(state): State<Arc<AppState>>) -> Answer {
    let chain = &state.chain;
    let head = chain.head();
    let genesis = chain.genesis();
    let signers = head_signers(&state);
    let connected = state.members_connected.get().map(|names| names());
    Answer::success(json!({
        "role": state.config.role,
        "head_signers": signers,
        "members_connected": connected,
        "chain_id": genesis.chain_id,
        "genesis_hash": genesis.hash(),
        "height": head.height,
        "block_hash": head.hash,
        "block_time": head.time,
        "log_size": head.frontier.size,
        "log_root": head.frontier.root(),
        "pool_pending": chain.pool_len(),
        "validators": genesis.validators.len(),
        "serves_enterprise_api": state.operator.is_some(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /v1/evidence?limit=`: statements of equivocation this node saw, highest height first
/// (default 50, at most 1000). Each holds both signed messages and their signed bytes.
pub async fn evidence(
    State(state): State<Arc<AppState>>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Answer, ApiError> {
    let limit = match raw.as_deref().and_then(|q| q.strip_prefix("limit=")) {
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::BadParam("limit: expected 1 to 1000".into()))?,
        None if raw.as_deref().is_none_or(str::is_empty) => 50,
        None => return Err(ApiError::BadParam("expected only limit=N".into())),
    };
    let stored = state.chain.store().evidence(limit).map_err(unavailable)?;
    let statements: Vec<serde_json::Value> =
        stored.iter().filter_map(|b| serde_json::from_slice(b).ok()).collect();
    Ok(Answer::success(json!({ "evidence": statements })))
}

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json"))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or_else(|| ApiError::BadParam(format!("{name} header: missing")))?
        .to_str()
        .map_err(|_| ApiError::BadParam(format!("{name} header: not text")))
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(e.to_string())
}
