//! Client authentication with the documented token, and per-client rate limits.
//!
//! `client_token = hex(SHA-256("client_id=<id>&client_key=<key>&timestamp=<ts>"))`, compared
//! in constant time and accepted in either case. Client keys are opened from their sealed
//! form on the chain with the operator secret and kept in memory.
//!
//! The optional stronger scheme adds three headers to a signed call: `X-Signature-Timestamp`,
//! `X-Signature-Nonce` (8 to 64 of `[A-Za-z0-9_-]`) and `X-Signature`, the
//! [`request_signature`] over method, path, timestamp, nonce and the body's SHA-256. A client
//! set to `hmac` on the chain (`client.set_auth`) must send them; any client may. A nonce is
//! kept for the time window, so the same request is taken once.

use std::{collections::HashMap, time::Instant};

use axum::http::HeaderMap;

use cunzheng_builder::Chain;
use cunzheng_store::ClientEntry;
use cunzheng_types::{
    client_key::{client_token, request_signature, OperatorSecret},
    unix_now, AuthScheme,
};
use parking_lot::Mutex;

use crate::error::ApiError;

/// A client that proved who it is.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub client_id: String,
    pub entry: ClientEntry,
}

pub struct Auth {
    secret: Option<OperatorSecret>,
    /// Opened keys by client id, with the nonce they were sealed under.
    keys: Mutex<HashMap<String, ([u8; 12], String)>>,
    limiter: Mutex<HashMap<String, Bucket>>,
    /// Nonces of signed requests, by client and nonce, with when they may be forgotten.
    nonces: Mutex<HashMap<(String, String), u64>>,
    rate_per_sec: f64,
    burst: f64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Auth {
    pub fn new(secret: Option<OperatorSecret>, rate_per_sec: f64, burst: f64) -> Self {
        Auth {
            secret,
            keys: Mutex::new(HashMap::new()),
            limiter: Mutex::new(HashMap::new()),
            nonces: Mutex::new(HashMap::new()),
            rate_per_sec,
            burst: burst.max(1.0),
        }
    }

    /// Checks a client's token and timestamp: 10002, 10001, then 10004.
    pub fn verify(
        &self,
        chain: &Chain,
        client_id: &str,
        timestamp: u64,
        token: &str,
        window_secs: u64,
    ) -> Result<Authenticated, ApiError> {
        let entry = chain.client(client_id).ok_or(ApiError::UnknownClient)?;
        let key = self.client_key(client_id, &entry)?;
        let expected = client_token(client_id, &key, timestamp);
        if !constant_time_eq(expected.as_bytes(), token.to_ascii_lowercase().as_bytes()) {
            return Err(ApiError::BadToken);
        }
        if unix_now().abs_diff(timestamp) > window_secs {
            return Err(ApiError::Timestamp(window_secs));
        }
        Ok(Authenticated { client_id: client_id.to_owned(), entry })
    }

    fn client_key(&self, client_id: &str, entry: &ClientEntry) -> Result<String, ApiError> {
        if let Some((nonce, key)) = self.keys.lock().get(client_id) {
            if *nonce == entry.key_nonce {
                return Ok(key.clone());
            }
        }
        let secret = self.secret.as_ref().ok_or_else(|| {
            ApiError::Unavailable("this node does not serve enterprise calls".into())
        })?;
        let key =
            secret.open(client_id, &entry.key_nonce, &entry.key_ciphertext).map_err(|_| {
                ApiError::Unavailable(
                    "client key does not open with this node's operator secret".into(),
                )
            })?;
        self.keys.lock().insert(client_id.to_owned(), (entry.key_nonce, key.clone()));
        Ok(key)
    }

    /// Checks the request signature of an authenticated client's call when it carries one or
    /// its client must send one (10001 otherwise), and takes its nonce.
    pub fn check_signature(
        &self,
        client: &Authenticated,
        request: &Request<'_>,
        window_secs: u64,
    ) -> Result<(), ApiError> {
        let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
        let given = header("x-signature");
        let Some(given) = given else {
            return match client.entry.auth {
                AuthScheme::Hmac => {
                    Err(ApiError::Signature("this client must sign requests (X-Signature)"))
                }
                AuthScheme::Token => Ok(()),
            };
        };
        let timestamp: u64 = header("x-signature-timestamp")
            .and_then(|t| t.parse().ok())
            .ok_or(ApiError::Signature("X-Signature-Timestamp: expected Unix seconds"))?;
        let nonce = header("x-signature-nonce")
            .filter(|n| {
                (8..=64).contains(&n.len())
                    && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .ok_or(ApiError::Signature("X-Signature-Nonce: expected 8 to 64 of [A-Za-z0-9_-]"))?;
        let key = self.client_key(&client.client_id, &client.entry)?;
        let expected =
            request_signature(&key, request.method, request.path, timestamp, nonce, request.body);
        if !constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            return Err(ApiError::Signature("X-Signature does not match the request"));
        }
        let now = unix_now();
        if now.abs_diff(timestamp) > window_secs {
            return Err(ApiError::Timestamp(window_secs));
        }
        let mut nonces = self.nonces.lock();
        if nonces.len() >= MAX_NONCES {
            nonces.retain(|_, forget_at| *forget_at > now);
            if nonces.len() >= MAX_NONCES {
                return Err(ApiError::Unavailable("too many signed requests in the window".into()));
            }
        }
        let forget_at = timestamp + window_secs + 1;
        match nonces.insert((client.client_id.clone(), nonce.to_owned()), forget_at) {
            Some(previous) if previous > now => {
                Err(ApiError::Signature("X-Signature-Nonce was already used"))
            }
            _ => Ok(()),
        }
    }

    /// Takes one call from the client's token bucket, or answers 10008.
    pub fn admit(&self, client_id: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.limiter.lock();
        let b =
            buckets.entry(client_id.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate_per_sec).min(self.burst);
        b.at = now;
        if b.tokens < 1.0 {
            return Err(ApiError::RateLimited);
        }
        b.tokens -= 1.0;
        Ok(())
    }
}

/// Nonces remembered at most; past it, expired ones are dropped, and with none expired the
/// call is refused (20001) rather than a nonce forgotten early.
const MAX_NONCES: usize = 1_000_000;

/// What the request signature covers.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Equality that takes the same time wherever the inputs differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_inputs() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn the_bucket_allows_a_burst_then_refuses() {
        let auth = Auth::new(None, 0.0001, 3.0);
        for _ in 0..3 {
            auth.admit("c").unwrap();
        }
        assert_eq!(auth.admit("c"), Err(ApiError::RateLimited));
        auth.admit("other").unwrap();
    }
}
