//! Operator actions over HTTP: approve an enterprise as a client (its key sealed on the chain),
//! approve, change and revoke its filings, suspend and reinstate it, rotate its key. Each
//! becomes an operator transaction signed with the operator key and is answered once
//! committed. Closed unless the node holds the operator keys and an admin token is configured.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::HeaderMap,
};
use cunzheng_types::{
    client_key::{generate_client_id, generate_client_key},
    compliance::{FiledNumber, Filing},
    tx::{filing_value, valid_client_id},
    unix_now_ms, AuthScheme, Channel, OperatorAction, SealedTx, Transaction,
};
use rand::RngCore;
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
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Chosen id; a random one when absent.
    pub client_id: Option<String>,
    /// A filing approved with the client, in the same block.
    pub filing: Option<FilingRequest>,
}

/// A filing as the operator submits it: numbers in any order, repeats dropped.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilingRequest {
    /// Chosen id; a random one when absent.
    pub filing_id: Option<String>,
    pub channels: Vec<Channel>,
    pub business_type: String,
    /// `HH:MM-HH:MM`, Asia/Shanghai time.
    pub hours: String,
    pub daily_limit: u32,
    #[serde(default)]
    pub numbers: Vec<FiledNumber>,
}

impl FilingRequest {
    /// The filing in canonical form, checked.
    fn into_filing(self, filing_id: Option<String>) -> Result<Filing, ApiError> {
        let filing_id = filing_id.or(self.filing_id).unwrap_or_else(|| {
            let mut b = [0u8; 6];
            rand::rngs::OsRng.fill_bytes(&mut b);
            format!("F{}", hex::encode_upper(b))
        });
        let hours = self.hours.parse().map_err(|e| ApiError::BadParam(format!("hours: {e}")))?;
        let mut filing = Filing {
            filing_id,
            channels: self.channels,
            business_type: self.business_type,
            hours,
            daily_limit: self.daily_limit,
            numbers: self.numbers,
        };
        filing.normalize();
        filing.validate().map_err(|e| ApiError::BadParam(e.to_string()))?;
        Ok(filing)
    }
}

/// `POST .../revoke` body.
#[derive(Debug, Deserialize)]
pub struct Revocation {
    pub reason: String,
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

/// Submits operator transactions, in order, and waits for their blocks.
pub(crate) async fn commit_operator_txs(
    state: &AppState,
    keys: &OperatorKeys,
    actions: Vec<OperatorAction>,
) -> Result<u64, ApiError> {
    state.disk.check()?;
    let kinds: Vec<&str> = actions.iter().map(|a| a.kind()).collect();
    let kind = kinds.join(",");
    let issued_at = unix_now_ms();
    let txs = actions
        .into_iter()
        .map(|a| Arc::new(SealedTx::new(Transaction::Operator(a.sign(&keys.signing, issued_at)))))
        .collect();
    let receipt = state.chain.submit(txs).map_err(unavailable)?;
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
    let filing = req.filing.map(|f| f.into_filing(None)).transpose()?;
    if state.chain.client(&client_id).is_some() {
        return Err(ApiError::BadParam(format!("client_id {client_id} is already registered")));
    }
    let client_key = generate_client_key();
    let (key_nonce, key_ciphertext) = keys.secret.seal(&client_id, &client_key);
    let mut actions = vec![OperatorAction::RegisterClient {
        client_id: client_id.clone(),
        key_nonce,
        key_ciphertext,
    }];
    if let Some(filing) = &filing {
        actions.push(OperatorAction::ApproveFiling {
            client_id: client_id.clone(),
            filing: filing.clone(),
        });
    }
    let height = commit_operator_txs(&state, keys, actions).await?;
    Ok(Answer::success(json!({
        "client_id": client_id,
        "client_key": client_key,
        "filing": filing.as_ref().map(filing_value),
        "block_height": height,
    })))
}

/// `POST /v1/operator/clients/{id}/filings`: approves a filing.
pub async fn approve_filing(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let filing = body::<FilingRequest>(&bytes)?.into_filing(None)?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let action = OperatorAction::ApproveFiling { client_id, filing: filing.clone() };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "filing": filing_value(&filing), "block_height": height })))
}

/// `PUT /v1/operator/clients/{id}/filings/{filing_id}`: replaces an approved filing; records
/// are judged by the new one from its block on.
pub async fn change_filing(
    State(state): State<Arc<AppState>>,
    Path((client_id, filing_id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let filing = body::<FilingRequest>(&bytes)?.into_filing(Some(filing_id))?;
    approved_filing(&state, &client_id, &filing.filing_id)?;
    let action = OperatorAction::ChangeFiling { client_id, filing: filing.clone() };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "filing": filing_value(&filing), "block_height": height })))
}

/// `POST /v1/operator/clients/{id}/filings/{filing_id}/revoke`.
pub async fn revoke_filing(
    State(state): State<Arc<AppState>>,
    Path((client_id, filing_id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let req: Revocation = body(&bytes)?;
    approved_filing(&state, &client_id, &filing_id)?;
    let action = OperatorAction::RevokeFiling { client_id, filing_id, reason: req.reason };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "block_height": height })))
}

/// 10010 unless the client has the approved filing `filing_id`.
fn approved_filing(state: &AppState, client_id: &str, filing_id: &str) -> Result<(), ApiError> {
    let client = state.chain.client(client_id).ok_or(ApiError::NotFound)?;
    match client.filings.iter().any(|f| f.filing.filing_id == filing_id) {
        true => Ok(()),
        false => Err(ApiError::NotFound),
    }
}

/// `POST /v1/operator/clients/{id}/rotate-key`: seals a new key on the chain and shows it
/// once; the old key stops working when the block commits.
pub async fn rotate_key(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let client_key = generate_client_key();
    let (key_nonce, key_ciphertext) = keys.secret.seal(&client_id, &client_key);
    let action =
        OperatorAction::RotateKey { client_id: client_id.clone(), key_nonce, key_ciphertext };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({
        "client_id": client_id,
        "client_key": client_key,
        "block_height": height,
    })))
}

/// `POST .../auth` body: `{"scheme": "token" | "hmac"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSetting {
    pub scheme: String,
}

/// `POST /v1/operator/clients/{id}/auth`: sets whether the client must add the request
/// signature to its calls, from the block that commits it on.
pub async fn set_auth(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    let req: AuthSetting = body(&bytes)?;
    let scheme = AuthScheme::parse(&req.scheme)
        .ok_or_else(|| ApiError::BadParam("scheme: expected token or hmac".into()))?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let action = OperatorAction::SetAuth { client_id, scheme };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "scheme": scheme.as_str(), "block_height": height })))
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
    let action = OperatorAction::SuspendClient { client_id, reason: req.reason };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "block_height": height })))
}

pub async fn reinstate_client(
    State(state): State<Arc<AppState>>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Answer, ApiError> {
    let keys = operator(&state, &headers)?;
    state.chain.client(&client_id).ok_or(ApiError::NotFound)?;
    let action = OperatorAction::ReinstateClient { client_id };
    let height = commit_operator_txs(&state, keys, vec![action]).await?;
    Ok(Answer::success(json!({ "block_height": height })))
}
