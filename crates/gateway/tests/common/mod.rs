//! A node for the gateway's tests: the real router on a real RocksDB store and a one-member
//! Malachite consensus, with three clients registered and filed.
#![allow(dead_code)] // each test file uses its own part of the harness

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode},
    Router,
};
use cunzheng_builder::{Chain, ChainConfig};
use cunzheng_consensus::{Consensus, EngineSettings};
use cunzheng_gateway::{router, AppState, GatewayConfig, OperatorKeys};
use cunzheng_store::ChainStore;
use cunzheng_types::{
    client_key::{client_token, OperatorSecret},
    compliance::{FiledNumber, Filing, Hours},
    unix_now, Channel, Genesis, OperatorAction, SealedTx, Transaction, Validator,
};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const PHONE: &str = "c6aaa43716949506d38cf6a1baa2f576";
pub const KEY: &str = "k3y-of-client";
pub const ADMIN: &str = "admin-token";
/// The Bearer token of the member reader `regulator`.
pub const READER: &str = "regulator-reader-token";

pub struct Node {
    pub _dir: tempfile::TempDir,
    pub app: Router,
    pub chain: Arc<Chain>,
    pub operator: OperatorKeys,
    pub consensus: Option<Consensus>,
}

pub struct Setup {
    pub chain: ChainConfig,
    pub gateway: GatewayConfig,
    pub producer: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            chain: ChainConfig {
                block_interval: Duration::from_millis(5),
                ..ChainConfig::default()
            },
            gateway: GatewayConfig {
                admin_token: Some(ADMIN.into()),
                readers: vec![("regulator".into(), READER.into())],
                ..GatewayConfig::default()
            },
            producer: true,
        }
    }
}

impl Node {
    pub async fn start(setup: Setup) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let validator = SigningKey::from_bytes(&[1; 32]);
        let operator = OperatorKeys {
            signing: SigningKey::from_bytes(&[2; 32]),
            secret: OperatorSecret([3; 32]),
        };
        let genesis = Genesis {
            chain_id: "gateway-test".into(),
            genesis_time: 0,
            validators: vec![Validator {
                name: "v".into(),
                public_key: validator.verifying_key().into(),
                power: 1,
            }],
            operator_key: operator.signing.verifying_key().into(),
        };
        let chain = Arc::new(
            Chain::open(ChainStore::open(&dir.path().join("chain")).unwrap(), genesis, setup.chain)
                .unwrap(),
        );

        // Clients are registered on a running consensus, whatever the test then needs.
        let node =
            Node { _dir: dir, app: Router::new(), chain: chain.clone(), operator, consensus: None };
        let mut node = Node { consensus: Some(node.start_consensus().await), ..node };
        node.register("c1", vec![Channel::Voice, Channel::Sms]).await;
        node.register("c2", vec![Channel::Voice, Channel::Sms]).await;
        node.register("sms-only", vec![Channel::Sms]).await;
        if !setup.producer {
            node.consensus.take().unwrap().stop().await;
        }
        let state = AppState::new(chain, setup.gateway, Some(node.operator.clone()));
        Node { app: router(state), ..node }
    }

    /// The member decides blocks again after a stop; its write-ahead log is in the data dir.
    pub async fn start_consensus(&self) -> Consensus {
        let key = SigningKey::from_bytes(&[1; 32]);
        let settings = EngineSettings {
            idle_block_interval: Duration::from_millis(50),
            ..EngineSettings::solo(self._dir.path().join("wal"))
        };
        Consensus::start(self.chain.clone(), &key, Some(key.clone()), settings).await.unwrap()
    }

    pub async fn operator_tx(&self, action: OperatorAction) {
        let tx = Transaction::Operator(
            action.sign(&self.operator.signing, cunzheng_types::unix_now_ms()),
        );
        let receipt = self.chain.submit(vec![Arc::new(SealedTx::new(tx))]).unwrap();
        tokio::time::timeout(Duration::from_secs(10), receipt).await.unwrap().unwrap().unwrap();
    }

    /// Registers `id` and approves a filing on `channels` that allows any hour, 1,000 records
    /// per phone a day and the two numbers of the documented examples.
    pub async fn register(&self, id: &str, channels: Vec<Channel>) {
        let filing = filing(&format!("{id}-F1"), channels, Hours::ALL_DAY, 1000);
        self.register_filed(id, Some(filing)).await;
    }

    /// Registers `id` with the test key and approves `filing`, if any.
    pub async fn register_filed(&self, id: &str, filing: Option<Filing>) {
        let (key_nonce, key_ciphertext) = self.operator.secret.seal(id, KEY);
        self.operator_tx(OperatorAction::RegisterClient {
            client_id: id.into(),
            key_nonce,
            key_ciphertext,
        })
        .await;
        if let Some(filing) = filing {
            self.operator_tx(OperatorAction::ApproveFiling { client_id: id.into(), filing }).await;
        }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<Body>) -> Value {
        let req = Request::post(path)
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap();
        let (status, body) = self.send(req).await;
        assert_eq!(status, StatusCode::OK, "deposit endpoints answer 200: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.post_raw(path, body.to_string()).await
    }

    pub async fn get(&self, path: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub fn log_size(&self) -> u64 {
        self.chain.head().frontier.size
    }
}

/// A filing with the documented examples' numbers on its channels.
pub fn filing(id: &str, channels: Vec<Channel>, hours: Hours, daily_limit: u32) -> Filing {
    let number = |comm_type, number: &str| FiledNumber {
        comm_type,
        number_type: "fixed".into(),
        number: number.into(),
        carrier: "China Telecom".into(),
    };
    let mut numbers = Vec::new();
    if channels.contains(&Channel::Voice) {
        numbers.push(number(Channel::Voice, "075538833883"));
    }
    if channels.contains(&Channel::Sms) {
        numbers.push(number(Channel::Sms, "106909570626"));
    }
    let mut f = Filing {
        filing_id: id.into(),
        channels,
        business_type: "marketing".into(),
        hours,
        daily_limit,
        numbers,
    };
    f.normalize();
    f
}

pub fn envelope(client: &str, list: Value) -> Value {
    let ts = unix_now();
    json!({"timestamp": ts, "client_id": client, "client_token": client_token(client, KEY, ts), "param": {"list": list}})
}

pub fn consent(n: u64) -> Value {
    json!({"phone": PHONE, "deposit_hash": format!("dep{n}"), "sign_time": 1_604_339_389 + n})
}

pub fn consents(n: u64) -> Value {
    Value::Array((0..n).map(consent).collect())
}

pub fn code(v: &Value) -> u64 {
    v["code"].as_u64().unwrap_or_else(|| panic!("no code in {v}"))
}

pub fn auth_headers(client: &str) -> Vec<(&'static str, String)> {
    let ts = unix_now();
    vec![
        ("x-client-id", client.to_owned()),
        ("x-timestamp", ts.to_string()),
        ("x-client-token", client_token(client, KEY, ts)),
    ]
}
