//! The HTTP gateway: the six documented enterprise endpoints, chain queries, compliance reads,
//! operator actions, the web portal ([`portal`]), Prometheus metrics and the OpenAPI document.
//!
//! A deposit is answered `code: 0` only after every record of the call is in a committed
//! block; every other outcome is one of the API's codes (see [`error::ApiError`]), mapped in
//! one place. The gateway knows the chain only through [`cunzheng_builder::Chain`].

mod auth;
mod certificate;
pub mod compliance;
mod deposit;
mod disk;
pub mod error;
pub mod listener;
mod metrics;
mod operator;
mod pdf;
pub mod portal;
mod query;

use std::{sync::Arc, time::Duration};

use axum::{
    routing::{get, post, put},
    Router,
};
use cunzheng_builder::Chain;
use cunzheng_types::{client_key::OperatorSecret, record::Endpoint};
use ed25519_dalek::SigningKey;

pub use crate::error::ApiError;
use crate::{auth::Auth, metrics::Metrics};

/// Settings of the gateway.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Largest request body, in bytes (10009 above it).
    pub body_limit: usize,
    /// Largest distance between a call's `timestamp` and the server clock, in seconds.
    pub time_window_secs: u64,
    /// How long a deposit waits for its block before answering 20002.
    pub commit_timeout: Duration,
    /// Calls per second each client may make on average (10008 above it).
    pub rate_per_sec: f64,
    /// Calls a client may make in a burst.
    pub rate_burst: f64,
    /// Bearer token for the operator endpoints; they are closed without one.
    pub admin_token: Option<String>,
    /// What this node is in the consortium, as `/v1/status` reports it.
    pub role: &'static str,
    /// Members' staff who may read any client's records, as (name, Bearer token). Each read
    /// is written to the audit trail under the name.
    pub readers: Vec<(String, String)>,
    /// The web portal, served by nodes that hold the operator keys.
    pub portal: Option<portal::PortalConfig>,
    /// The node's data directory, whose free space is watched.
    pub data_dir: Option<std::path::PathBuf>,
    /// Below this many free bytes in `data_dir`, deposits and operator actions answer 20001.
    pub min_free_bytes: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            body_limit: 4 << 20,
            time_window_secs: 300,
            commit_timeout: Duration::from_secs(10),
            rate_per_sec: 1000.0,
            rate_burst: 2000.0,
            admin_token: None,
            role: "member",
            readers: Vec::new(),
            portal: None,
            data_dir: None,
            min_free_bytes: 128 << 20,
        }
    }
}

/// The operator's keys, held by the operator's nodes only.
#[derive(Clone, Debug)]
pub struct OperatorKeys {
    /// Signs operator transactions.
    pub signing: SigningKey,
    /// Seals client keys on the chain.
    pub secret: OperatorSecret,
}

/// What every handler shares.
pub struct AppState {
    chain: Arc<Chain>,
    config: GatewayConfig,
    operator: Option<OperatorKeys>,
    auth: Auth,
    metrics: Metrics,
    /// The names of the other members this node is connected to, where it gossips.
    members_connected: std::sync::OnceLock<MembersConnected>,
    portal: Option<portal::Portal>,
    disk: disk::DiskGuard,
}

/// Names the other members this node is connected to now.
pub type MembersConnected = Box<dyn Fn() -> Vec<String> + Send + Sync>;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish()
    }
}

impl AppState {
    pub fn new(
        chain: Arc<Chain>,
        config: GatewayConfig,
        operator: Option<OperatorKeys>,
    ) -> Arc<Self> {
        let auth = Auth::new(
            operator.as_ref().map(|o| o.secret.clone()),
            config.rate_per_sec,
            config.rate_burst,
        );
        let portal = match (&config.portal, &operator) {
            (Some(p), Some(_)) => Some(portal::Portal::new(p.clone(), chain.store().clone())),
            _ => None,
        };
        let disk = disk::DiskGuard::new(config.data_dir.clone(), config.min_free_bytes);
        Arc::new(AppState {
            disk,
            portal,
            chain,
            config,
            operator,
            auth,
            metrics: Metrics::new(),
            members_connected: std::sync::OnceLock::new(),
        })
    }

    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// Where `/v1/status` learns which members this node is connected to.
    pub fn set_members_connected(&self, source: MembersConnected) {
        let _ = self.members_connected.set(source);
    }
}

/// The gateway's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let mut app = Router::new();
    for endpoint in Endpoint::ALL {
        app = app.route(
            endpoint.path(),
            post(move |s, headers, body| deposit::handle(s, endpoint, headers, body)),
        );
    }
    app.route("/v1/tx/{id}", get(query::tx))
        .route("/v1/proofs/{id}", get(query::proof))
        .route("/v1/genesis", get(query::genesis))
        .route("/v1/checkpoint", get(query::checkpoint))
        .route("/v1/certificates/{id}", get(certificate::certificate))
        .route("/v1/certificates/{id}/pdf", get(certificate::certificate_pdf))
        .route("/verify", get(certificate::verify_page))
        .route("/v1/checkpoint/keys", get(query::checkpoint_keys))
        .route("/v1/consistency", get(query::consistency))
        .route("/v1/blocks/{height}", get(query::block))
        .route("/v1/status", get(query::status))
        .route("/v1/evidence", get(query::evidence))
        .route("/metrics", get(metrics::render))
        .route("/openapi.json", get(query::openapi))
        .route("/v1/operator/clients", post(operator::create_client))
        .route("/v1/operator/clients/{id}/suspend", post(operator::suspend_client))
        .route("/v1/operator/clients/{id}/reinstate", post(operator::reinstate_client))
        .route("/v1/operator/clients/{id}/rotate-key", post(operator::rotate_key))
        .route("/v1/operator/clients/{id}/auth", post(operator::set_auth))
        .route("/v1/operator/clients/{id}/filings", post(operator::approve_filing))
        .route("/v1/operator/clients/{id}/filings/{filing_id}", put(operator::change_filing))
        .route(
            "/v1/operator/clients/{id}/filings/{filing_id}/revoke",
            post(operator::revoke_filing),
        )
        .route("/v1/scrub", post(compliance::scrub))
        .route("/v1/records", get(compliance::records))
        .route("/v1/consents", get(compliance::consents))
        .route("/v1/reports", get(compliance::reports))
        .route("/v1/filings", get(compliance::filings))
        .route("/v1/audit-trail", get(compliance::audit_trail))
        .merge(portal::router())
        .with_state(state)
}
