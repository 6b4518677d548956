//! Chain reads: a client's own transaction, public blocks, node status, the OpenAPI document.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap},
    response::IntoResponse,
};
use cunzheng_types::{Hash, Transaction};
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
    let client_id = header_str(&headers, "x-client-id")?;
    let timestamp = header_str(&headers, "x-timestamp")?
        .parse::<u64>()
        .map_err(|_| ApiError::BadParam("X-Timestamp: expected Unix seconds".into()))?;
    let token = header_str(&headers, "x-client-token")?;
    state.auth.verify(&state.chain, client_id, timestamp, token, state.config.time_window_secs)?;
    let id =
        Hash::from_hex(&id).map_err(|_| ApiError::BadParam("id: expected 64 hex digits".into()))?;

    let store = state.chain.store();
    let entry = store.tx(&id).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    let tx = Transaction::from_canonical(&entry.bytes)
        .map_err(|e| ApiError::Unavailable(format!("stored transaction does not decode: {e}")))?;
    if !matches!(&tx, Transaction::Record(r) if r.client_id == client_id) {
        return Err(ApiError::NotFound);
    }
    let header = store.header(entry.height).map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    Ok(Answer::success(json!({
        "tx_id": id,
        "tx": tx.to_value(),
        "block_height": entry.height,
        "position": entry.index,
        "block_hash": header.hash(),
        "block_time": header.time,
    })))
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

/// `GET /v1/status`: the committed head, the members whose signatures decided it, this
/// node's role and the pool.
pub async fn status(State(state): State<Arc<AppState>>) -> Answer {
    let chain = &state.chain;
    let head = chain.head();
    let genesis = chain.genesis();
    let signers: Vec<&str> = match chain.store().certificate(head.height) {
        Ok(Some(cert)) => cert
            .signatures
            .iter()
            .filter_map(|s| genesis.validator(&s.validator).map(|v| v.name.as_str()))
            .collect(),
        _ => Vec::new(),
    };
    Answer::success(json!({
        "role": state.config.role,
        "head_signers": signers,
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
