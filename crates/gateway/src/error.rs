//! Every outcome the gateway answers, and its code in the API's table.
//!
//! Deposit endpoints answer HTTP 200 with `{"code", "msg", "data"}` whatever the outcome, as
//! the original document does; query and operator endpoints use the same body with an HTTP
//! status that matches the code.

use std::time::Duration;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use serde_json::Value;

/// A refused or failed call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 10001: `client_token` does not match.
    #[error("client_token does not match")]
    BadToken,
    /// 10001: the request signature is missing, malformed, wrong or replayed.
    #[error("{0}")]
    Signature(&'static str),
    /// 10002: `client_id` unknown.
    #[error("client_id unknown")]
    UnknownClient,
    /// 10003: a parameter is missing or malformed; the text names it.
    #[error("{0}")]
    BadParam(String),
    /// 10004: `timestamp` too far from the server clock.
    #[error("timestamp is more than {0} s away from the server clock")]
    Timestamp(u64),
    /// 10005: `list` empty or too long.
    #[error("list must hold 1 to {0} records")]
    ListSize(usize),
    /// 10006: the client is suspended or has no approved filing.
    #[error("client suspended: {0}")]
    Suspended(String),
    /// 10006: the client has no approved filing on any channel.
    #[error("no approved filing: the client may not deposit yet")]
    NotApproved,
    /// 10007: no approved filing for this channel.
    #[error("no approved filing for channel {0}")]
    NoFiling(&'static str),
    /// 10008: the client's request rate is over its limit.
    #[error("too many requests for this client; retry later")]
    RateLimited,
    /// 10009: the body is larger than the limit.
    #[error("body larger than {0} bytes")]
    BodyTooLarge(usize),
    /// 10010: no such transaction or block (or not visible to this caller).
    #[error("not found")]
    NotFound,
    /// 10011: the operator endpoints need the operator's token.
    #[error("operator token missing or wrong")]
    Forbidden,
    /// 20001: the ledger cannot take the call now; nothing was stored.
    #[error("ledger unavailable: {0}; nothing stored; safe to retry")]
    Unavailable(String),
    /// 20002: not committed within the deadline; retrying is safe.
    #[error("not committed within {} ms; safe to retry", .0.as_millis())]
    Timeout(Duration),
}

impl ApiError {
    /// The code of the API's table.
    pub fn code(&self) -> u32 {
        match self {
            ApiError::BadToken | ApiError::Signature(_) => 10001,
            ApiError::UnknownClient => 10002,
            ApiError::BadParam(_) => 10003,
            ApiError::Timestamp(_) => 10004,
            ApiError::ListSize(_) => 10005,
            ApiError::Suspended(_) | ApiError::NotApproved => 10006,
            ApiError::NoFiling(_) => 10007,
            ApiError::RateLimited => 10008,
            ApiError::BodyTooLarge(_) => 10009,
            ApiError::NotFound => 10010,
            ApiError::Forbidden => 10011,
            ApiError::Unavailable(_) => 20001,
            ApiError::Timeout(_) => 20002,
        }
    }

    /// The HTTP status on query and operator endpoints.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadToken
            | ApiError::Signature(_)
            | ApiError::UnknownClient
            | ApiError::Timestamp(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadParam(_) | ApiError::ListSize(_) => StatusCode::BAD_REQUEST,
            ApiError::Suspended(_)
            | ApiError::NotApproved
            | ApiError::NoFiling(_)
            | ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The answer body.
    pub fn body(&self) -> Answer {
        Answer { code: self.code(), msg: self.to_string(), data: Value::Object(Default::default()) }
    }
}

/// The body of every answer.
#[derive(Debug, Serialize)]
pub struct Answer {
    pub code: u32,
    pub msg: String,
    pub data: Value,
}

impl Answer {
    pub fn success(data: Value) -> Self {
        Answer { code: 0, msg: "success".into(), data }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}
