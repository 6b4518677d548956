//! A Rust client for the cunzheng API: signed deposits on the six documented endpoints, the
//! transaction ids the ledger will assign, and chain reads.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cunzheng_client::ClientError> {
//! use cunzheng_client::Client;
//! use cunzheng_types::record::Endpoint;
//! let client = Client::from_credentials_file("data/dev-credentials.json".as_ref())?;
//! let list = vec![serde_json::json!({
//!     "phone": "C6AAA43716949506D38CF6A1BAA2F576",
//!     "deposit_hash": "fbd2c729d11db4fb8e4660c9d1769665",
//!     "sign_time": 1604339389
//! })];
//! let answer = client.deposit(Endpoint::ALL[0], &list).await?;
//! assert_eq!(answer.code, 0);
//! # Ok(()) }
//! ```

use std::{path::Path, time::Duration};

use cunzheng_types::{
    client_key::client_token, record::Endpoint, unix_now, Channel, Hash, Record, RecordTx,
    SealedTx, Transaction,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete (connection refused, reset, timed out).
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The credentials file is missing or malformed.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The node answered something that is not the API's JSON.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// A record that the node would refuse.
    #[error("{0}")]
    Record(#[from] cunzheng_types::RecordError),
}

/// The body of every answer.
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    pub code: u32,
    pub msg: String,
    #[serde(default)]
    pub data: Value,
}

/// Credentials as `cunzheng-node --dev` writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub client_id: String,
    pub client_key: String,
    pub api: String,
}

/// A client of one node, acting for one enterprise.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    client_id: String,
    client_key: String,
    /// Add the request signature (`X-Signature`) to signed calls.
    sign_requests: bool,
}

fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(64)
}

impl Client {
    /// A client of the gateway at `api` (`http://` or `https://`); HTTPS certificates are
    /// checked against the Web PKI's roots, and any added with [`Self::trusting`].
    pub fn new(api: &str, client_id: &str, client_key: &str) -> Self {
        let http = http_client().build().expect("http client");
        Client {
            http,
            api: api.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_key: client_key.to_owned(),
            sign_requests: false,
        }
    }

    /// The same client, also trusting the PEM certificates in `pem`: a gateway's own
    /// certificate, or the consortium's certificate authority.
    pub fn trusting(mut self, pem: &[u8]) -> Result<Self, ClientError> {
        let mut builder = http_client();
        for cert in reqwest::Certificate::from_pem_bundle(pem)? {
            builder = builder.add_root_certificate(cert);
        }
        self.http = builder.build()?;
        Ok(self)
    }

    /// The same client, adding the request signature to every deposit: HMAC-SHA256 under the
    /// client key over method, path, timestamp, a fresh nonce and the body's hash.
    pub fn signing_requests(mut self) -> Self {
        self.sign_requests = true;
        self
    }

    /// The headers of the request signature for a POST of `body` to `path` now.
    pub fn signature_headers(&self, path: &str, body: &[u8]) -> [(&'static str, String); 3] {
        let timestamp = unix_now();
        let mut nonce = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let nonce = hex::encode(nonce);
        let signature = cunzheng_types::client_key::request_signature(
            &self.client_key,
            "POST",
            path,
            timestamp,
            &nonce,
            body,
        );
        [
            ("x-signature-timestamp", timestamp.to_string()),
            ("x-signature-nonce", nonce),
            ("x-signature", signature),
        ]
    }

    /// Reads `{"client_id", "client_key", "api"}`.
    pub fn from_credentials_file(path: &Path) -> Result<Self, ClientError> {
        let bytes = std::fs::read(path)
            .map_err(|e| ClientError::Credentials(format!("{}: {e}", path.display())))?;
        let c: Credentials = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Credentials(format!("{}: {e}", path.display())))?;
        Ok(Client::new(&c.api, &c.client_id, &c.client_key))
    }

    pub fn api(&self) -> &str {
        &self.api
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The documented envelope around `list`, signed for `timestamp`.
    pub fn envelope(&self, list: &[Value], timestamp: u64) -> Value {
        json!({
            "timestamp": timestamp,
            "client_id": self.client_id,
            "client_token": client_token(&self.client_id, &self.client_key, timestamp),
            "param": { "list": list },
        })
    }

    /// Deposits `list` on `endpoint`, signed now.
    pub async fn deposit(&self, endpoint: Endpoint, list: &[Value]) -> Result<Answer, ClientError> {
        self.deposit_at(endpoint, list, unix_now()).await
    }

    /// Deposits `list` on `endpoint` with a given call timestamp (a withdrawal's time).
    pub async fn deposit_at(
        &self,
        endpoint: Endpoint,
        list: &[Value],
        timestamp: u64,
    ) -> Result<Answer, ClientError> {
        let body = serde_json::to_vec(&self.envelope(list, timestamp)).expect("json");
        self.post_deposit(endpoint, body).await
    }

    async fn post_deposit(&self, endpoint: Endpoint, body: Vec<u8>) -> Result<Answer, ClientError> {
        let mut request = self
            .http
            .post(format!("{}{}", self.api, endpoint.path()))
            .header("content-type", "application/json");
        if self.sign_requests {
            for (name, value) in self.signature_headers(endpoint.path(), &body) {
                request = request.header(name, value);
            }
        }
        let resp = request.body(body).send().await?;
        answer(resp).await
    }

    /// Deposits the records of `list`, a JSON array already written out, on `endpoint`, signed
    /// now. A load generator writes its records as text this way, without building a
    /// `serde_json::Value` for each one.
    pub async fn deposit_json(
        &self,
        endpoint: Endpoint,
        list: &str,
    ) -> Result<Answer, ClientError> {
        let timestamp = unix_now();
        let head = json!({
            "timestamp": timestamp,
            "client_id": self.client_id,
            "client_token": client_token(&self.client_id, &self.client_key, timestamp),
        });
        let head = serde_json::to_string(&head).expect("json");
        let mut body = String::with_capacity(head.len() + list.len() + 16);
        body.push_str(&head[..head.len() - 1]);
        body.push_str(r#","param":{"list":"#);
        body.push_str(list);
        body.push_str("}}");
        self.post_deposit(endpoint, body.into_bytes()).await
    }

    /// The ids the ledger will give these records when deposited with `timestamp`.
    pub fn tx_ids(
        &self,
        endpoint: Endpoint,
        list: &[Value],
        timestamp: u64,
    ) -> Result<Vec<Hash>, ClientError> {
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                let record = Record::from_json(endpoint, i, v, timestamp, unix_now())?;
                let tx =
                    Transaction::Record(RecordTx { client_id: self.client_id.clone(), record });
                Ok(SealedTx::new(tx).id())
            })
            .collect()
    }

    /// `GET /v1/tx/{id}`: the record and where it is, or `None` when the node has no such
    /// record of this client.
    pub async fn tx(&self, id: &Hash) -> Result<Option<Answer>, ClientError> {
        self.get_own(&format!("/v1/tx/{id}")).await
    }

    /// `GET /v1/proofs/{id}`: the proof bundle of one of this client's records, or `None` if
    /// the chain has no such record of this client.
    pub async fn proof(&self, id: &Hash) -> Result<Option<Answer>, ClientError> {
        self.get_own(&format!("/v1/proofs/{id}")).await
    }

    /// `GET /v1/certificates/{id}`: the evidence certificate (HTML) of one of this client's
    /// records, or `None` if the chain has no such record of this client.
    pub async fn certificate(&self, id: &Hash) -> Result<Option<String>, ClientError> {
        let resp = self.signed_get(&format!("/v1/certificates/{id}")).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(resp.error_for_status()?.text().await?))
    }

    /// `GET /v1/certificates/{id}/pdf`: the same certificate as a PDF document.
    pub async fn certificate_pdf(&self, id: &Hash) -> Result<Option<Vec<u8>>, ClientError> {
        let resp = self.signed_get(&format!("/v1/certificates/{id}/pdf")).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(resp.error_for_status()?.bytes().await?.to_vec()))
    }

    /// `GET /v1/genesis`: the genesis document the chain started from.
    pub async fn genesis(&self) -> Result<Answer, ClientError> {
        answer(self.http.get(format!("{}/v1/genesis", self.api)).send().await?).await
    }

    /// `GET /v1/checkpoint`: the newest quorum-signed checkpoint note, or `None` while there
    /// is none.
    pub async fn checkpoint(&self) -> Result<Option<String>, ClientError> {
        let resp = self.http.get(format!("{}/v1/checkpoint", self.api)).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(resp.error_for_status()?.text().await?))
    }

    /// `GET /v1/checkpoint/keys`: the checkpoints' origin and the members' verifier keys.
    pub async fn checkpoint_keys(&self) -> Result<Answer, ClientError> {
        answer(self.http.get(format!("{}/v1/checkpoint/keys", self.api)).send().await?).await
    }

    /// `GET /v1/consistency?from=..&to=..`.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Answer, ClientError> {
        let url = format!("{}/v1/consistency?from={from}&to={to}", self.api);
        answer(self.http.get(url).send().await?).await
    }

    /// `POST /v1/scrub`: which of `phones` have consent in force now on `channel`, signed with
    /// the documented envelope.
    pub async fn scrub(&self, channel: Channel, phones: &[String]) -> Result<Answer, ClientError> {
        let ts = unix_now();
        let body = serde_json::json!({
            "timestamp": ts,
            "client_id": self.client_id,
            "client_token": client_token(&self.client_id, &self.client_key, ts),
            "param": {"channel": channel, "phones": phones},
        });
        answer(self.http.post(format!("{}/v1/scrub", self.api)).json(&body).send().await?).await
    }

    /// `GET /v1/records?<query>`: a page of this client's records with their verdicts;
    /// `query` is the URL query string, such as `flag=no_consent&limit=20`.
    pub async fn records(&self, query: &str) -> Result<Answer, ClientError> {
        answer(self.signed_get(&format!("/v1/records?{query}")).await?).await
    }

    /// A GET of a member's staff, with `Authorization: Bearer <token>`: `path` with its query,
    /// such as `/v1/records?client_id=acme01`.
    pub async fn member_get(&self, path: &str, token: &str) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.api);
        answer(self.http.get(url).bearer_auth(token).send().await?).await
    }

    /// A GET with header authentication; `None` for 404.
    async fn get_own(&self, path: &str) -> Result<Option<Answer>, ClientError> {
        let resp = self.signed_get(path).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer(resp).await.map(Some)
    }

    /// A GET carrying `X-Client-Id`, `X-Timestamp` and `X-Client-Token`.
    async fn signed_get(&self, path: &str) -> Result<reqwest::Response, ClientError> {
        let ts = unix_now();
        Ok(self
            .http
            .get(format!("{}{path}", self.api))
            .header("x-client-id", &self.client_id)
            .header("x-timestamp", ts.to_string())
            .header("x-client-token", client_token(&self.client_id, &self.client_key, ts))
            .send()
            .await?)
    }

    /// `GET /v1/blocks/{height}`, or `None` above the head.
    pub async fn block(&self, height: u64) -> Result<Option<Answer>, ClientError> {
        let resp = self.http.get(format!("{}/v1/blocks/{height}", self.api)).send().await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        answer(resp).await.map(Some)
    }

    /// `GET /v1/evidence?limit=`: the statements of double signing this node kept.
    pub async fn evidence(&self, limit: usize) -> Result<Answer, ClientError> {
        let url = format!("{}/v1/evidence?limit={limit}", self.api);
        answer(self.http.get(url).send().await?).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Answer, ClientError> {
        answer(self.http.get(format!("{}/v1/status", self.api)).send().await?).await
    }
}

async fn answer(resp: reqwest::Response) -> Result<Answer, ClientError> {
    let status = resp.status();
    let bytes = resp.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|_| {
        ClientError::Unexpected(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)))
    })
}
