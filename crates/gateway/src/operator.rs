//! Operator actions over HTTP: register a client (its key sealed on the chain), suspend and
//! reinstate it. Each becomes an operator transaction signed with the operator key and is
//! answered once committed. Closed unless the node holds the operator keys and an admin
//! token is configured.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
};
use cunzheng_types::{
    client_key::{generate_client_id, generate_client_key},
    tx::valid_client_id,
    unix_now_ms, Channel, OperatorAction, SealedTx, Transaction,
};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::json;
use tracing::info;

use crate::{
    error::{Answer, ApiError},
    query::unavailable,
    AppState, OperatorKeys,
};

/// `POST /v1/operator/clients` body.
#[derive(Debug, Deserialize)]
pub struct NewClient {
    /// Chosen id; a random one when absent.
    pub client_id: Option<String>,
    pub channels: Vec<Channel>,
}

/// `POST .../suspend` body.
#[derive(Debug, Deserialize)]
pub struct Suspension {
    pub reason: String,
}

fn operator<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a OperatorKeys, ApiError> {
    check_admin(state, headers)?;
    state.operator.as_ref().ok_or(ApiError::Forbidden)
}

/// Checks the `Authorization: Bearer` token of the operator endpoints, in constant time.
pub(crate) fn check_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state.config.admin_token.as_deref().ok_or(ApiError::Forbidden)?;
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Forbidden)?;
    if given.len() != expected.len()
        || given.bytes().zip(expected.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) != 0
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// Parses a request body after the caller is known to be the operator, so that a stranger
/// learns nothing from the answer and a bad body gets the API's JSON answer.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadParam(format!("body: {e}")))
}

/// Submits one operator transaction and waits for its block.
pub(crate) async fn commit_operator_tx(
    state: &AppState,
    keys: &OperatorKeys,
    action: OperatorAction,
) -> Result<u64, ApiError> {
    let kind = action.kind();
    let tx = Transaction::Operator(action.sign(&keys.signing, unix_now_ms()));
    let receipt = state.chain.submit(vec![Arc::new(SealedTx::new(tx))]).map_err(unavailable)?;
    let timeout = state.config.commit_timeout;
    let height = tokio::time::timeout(timeout, receipt)
        .await
        .map_err(|_| ApiError::Timeout(timeout))?
        .map_err(unavailable)?
        .map_err(|r| ApiError::BadParam(r.reason))?;
    info!(target: "gateway", kind, height, "operator transaction committed");
    Ok(height)
}

/// Registers a client and returns its credentials; the key is shown only here.
pub async fn create_client(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let req: NewClient = body(&bytes)?;
    let client_id = req.client_id.unwrap_or_else(generate_client_id);
    if !valid_client_id(&client_id) {
        return Err(ApiError::BadParam("client_id: expected 1 to 64 of [0-9A-Za-z_-]".into()));
    }
    let mut channels = req.channels;
    channels.sort();
    channels.dedup();
    if channels.is_empty() {
        return Err(ApiError::BadParam("channels: expected voice and/or sms".into()));
    }
    if state.chain.client(&client_id).is_some() {
        return Err(ApiError::BadParam(format!("client_id {client_id} is already registered")));
    }
    let client_key = generate_client_key();
    let (key_nonce, key_ciphertext) = keys.secret.seal(&client_id, &client_key);
    let action = OperatorAction::RegisterClient {
        client_id: client_id.clone(),
        channels: channels.clone(),
        key_nonce,
        key_ciphertext,
    };
    let height = commit_operator_tx(&state, keys, action).await?;
    Ok(Answer::success(json!({
        "client_id": client_id,
        "client_key": client_key,
        "channels": channels,
        "block_height": height,
    })))
}

pub async fn suspend_client(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let req: Suspension = body(&bytes)?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let height = commit_operator_tx(
        &state,
        keys,
        OperatorAction::SuspendClient { client_id, reason: req.reason },
    )
    .await?;
    Ok(Answer::success(json!({ "block_height": height })))
}

pub async fn reinstate_client(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let height =
        commit_operator_tx(&state, keys, OperatorAction::ReinstateClient { client_id }).await?;
    Ok(Answer::success(json!({ "block_height": height })))
}
