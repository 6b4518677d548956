//! The documented API through the real router, on a real RocksDB store and a one-member
//! Malachite consensus: every row of the code table, the original document's quirks, and the
//! chain reads.

mod common;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use std::time::Duration;

use common::*;
use cunzheng_types::{
    client_key::client_token, unix_now, Channel, Genesis, Hash, OperatorAction, Transaction,
};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tower::ServiceExt;

#[tokio::test]
async fn code_0_every_endpoint_answers_after_commit() {
    let node = Node::start(Setup::default()).await;
    let now = unix_now();
    let calls = [
        ("/voice/add", consents(3)),
        (
            "/voice/sendAddChain",
            json!([{"phone": PHONE, "from_num": "075538833883", "start_time": now - 10, "end_time": now, "deposit_hash": "rec1"}]),
        ),
        ("/voice/cancel", json!([{"phone": PHONE}])),
        ("/sms/add", consents(2)),
        (
            "/sms/sendAddChain",
            json!([{"phone": PHONE, "channel_num": "106909570626", "send_time": now, "deposit_hash": "sms1"}]),
        ),
        ("/sms/cancel", json!([{"phone": PHONE}])),
    ];
    let before = node.log_size();
    for (path, list) in calls {
        let n = list.as_array().unwrap().len() as u64;
        let answer = node.post(path, envelope("c1", list)).await;
        assert_eq!(code(&answer), 0, "{path}: {answer}");
        assert_eq!(answer["msg"], "success");
        assert_eq!(answer["data"]["records"], n);
        let height = answer["data"]["block_height"].as_u64().unwrap();
        assert!(height <= node.chain.head().height, "answered before its block was committed");
    }
    assert_eq!(node.log_size() - before, 9);
}

#[tokio::test]
async fn code_10001_wrong_token() {
    let node = Node::start(Setup::default()).await;
    let mut body = envelope("c1", consents(1));
    body["client_token"] = json!(client_token("c1", "another key", unix_now()));
    let answer = node.post("/voice/add", body).await;
    assert_eq!(code(&answer), 10001);
    // A token signed for another timestamp does not match either.
    let mut body = envelope("c1", consents(1));
    body["timestamp"] = json!(unix_now() - 1);
    assert_eq!(code(&node.post("/voice/add", body).await), 10001);
}

#[tokio::test]
async fn code_10002_unknown_client() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("nobody", consents(1))).await), 10002);
}

#[tokio::test]
async fn code_10003_names_the_first_bad_record_and_field() {
    let node = Node::start(Setup::default()).await;
    let mut list = consents(20);
    list[17]["sign_time"] = json!(160_433_938);
    list[18]["phone"] = json!("short");
    let answer = node.post("/voice/add", envelope("c1", list)).await;
    assert_eq!(code(&answer), 10003);
    assert_eq!(answer["msg"], "list[17].sign_time: expected 10-digit Unix seconds");

    for (body, msg) in [
        ("not json", "body is not valid JSON"),
        ("[1, 2]", "body must be a JSON object"),
        (r#"{"client_id": "c1", "client_token": "x"}"#, "timestamp: missing"),
        (r#"{"timestamp": 1700000000, "client_token": "x"}"#, "client_id: missing"),
    ] {
        let answer = node.post_raw("/sms/add", body).await;
        assert_eq!(code(&answer), 10003, "{body}");
        assert!(answer["msg"].as_str().unwrap().starts_with(msg), "{answer}");
    }
    let mut no_list = envelope("c1", json!(null));
    no_list.as_object_mut().unwrap().remove("param");
    assert_eq!(node.post("/sms/add", no_list).await["msg"], "param.list: missing");
}

#[tokio::test]
async fn code_10004_timestamp_outside_the_window() {
    let node = Node::start(Setup::default()).await;
    for ts in [unix_now() - 301, unix_now() + 301] {
        let body = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", KEY, ts), "param": {"list": consents(1)}});
        assert_eq!(code(&node.post("/voice/add", body).await), 10004);
    }
}

#[tokio::test]
async fn code_10005_list_empty_or_too_long() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", json!([]))).await), 10005);
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1001))).await), 10005);
    let now = unix_now();
    let calls: Vec<Value> = (0..501)
        .map(|i| json!({"phone": PHONE, "channel_num": "106909570626", "send_time": now, "deposit_hash": format!("m{i}")}))
        .collect();
    assert_eq!(
        code(&node.post("/sms/sendAddChain", envelope("c1", Value::Array(calls))).await),
        10005
    );
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1000))).await), 0);
}

#[tokio::test]
async fn code_10006_suspended_client_until_reinstated() {
    let node = Node::start(Setup::default()).await;
    node.operator_tx(OperatorAction::SuspendClient {
        client_id: "c1".into(),
        reason: "complaints".into(),
    })
    .await;
    let answer = node.post("/voice/add", envelope("c1", consents(1))).await;
    assert_eq!(code(&answer), 10006);
    assert!(answer["msg"].as_str().unwrap().contains("complaints"));
    node.operator_tx(OperatorAction::ReinstateClient { client_id: "c1".into() }).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1))).await), 0);
}

#[tokio::test]
async fn code_10007_no_filing_for_the_channel() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("sms-only", consents(1))).await), 10007);
    assert_eq!(
        code(&node.post("/voice/cancel", envelope("sms-only", json!([{"phone": PHONE}]))).await),
        10007
    );
    assert_eq!(code(&node.post("/sms/add", envelope("sms-only", consents(1))).await), 0);
}

#[tokio::test]
async fn code_10008_too_many_requests() {
    let mut setup = Setup::default();
    setup.gateway.rate_per_sec = 0.001;
    setup.gateway.rate_burst = 2.0;
    let node = Node::start(setup).await;
    for n in 0..2 {
        assert_eq!(code(&node.post("/voice/add", envelope("c1", json!([consent(n)]))).await), 0);
    }
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1))).await), 10008);
    // The limit is per client.
    assert_eq!(code(&node.post("/voice/add", envelope("c2", consents(1))).await), 0);
}

#[tokio::test]
async fn code_10009_body_over_the_limit() {
    let mut setup = Setup::default();
    setup.gateway.body_limit = 2048;
    let node = Node::start(setup).await;
    let before = node.log_size();
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(40))).await), 10009);
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(2))).await), 0);
    assert_eq!(node.log_size(), before + 2);
}

#[tokio::test]
async fn code_20001_pool_full_stores_nothing() {
    let mut setup = Setup::default();
    setup.chain.pool_capacity = 5;
    let node = Node::start(setup).await;
    let before = node.log_size();
    let answer = node.post("/voice/add", envelope("c1", consents(6))).await;
    assert_eq!(code(&answer), 20001, "{answer}");
    assert_eq!(node.chain.pool_len(), 0);
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(5))).await), 0);
    assert_eq!(node.log_size(), before + 5);
}

#[tokio::test]
async fn code_20002_not_committed_in_time_then_a_retry_succeeds() {
    let mut setup = Setup { producer: false, ..Setup::default() };
    setup.gateway.commit_timeout = Duration::from_millis(200);
    let node = Node::start(setup).await;
    let body = envelope("c1", consents(3));
    assert_eq!(code(&node.post("/voice/add", body.clone()).await), 20002);
    assert_eq!(node.chain.pool_len(), 3);

    // Blocks resume; the same call retried is acknowledged and stored once.
    let before = node.log_size();
    let _consensus = node.start_consensus().await;
    assert_eq!(code(&node.post("/voice/add", body).await), 0);
    assert_eq!(node.log_size(), before + 3);
}

#[tokio::test]
async fn the_original_documents_quirks_are_accepted() {
    let node = Node::start(Setup::default()).await;
    let ts = unix_now();
    // Top-level list without param, keys with stray spaces, times as strings, upper-case
    // phone and token, the envelope's timestamp as a string.
    let body = json!({
        "timestamp": ts.to_string(),
        "client_id": "c1",
        "client_token": client_token("c1", KEY, ts).to_uppercase(),
        "list": [
            {"phone": PHONE.to_uppercase(), " deposit_hash ": "fbd2c729d11db4fb8e4660c9d1769665", "sign_time ": "1604339389"},
            {"phone": PHONE.to_uppercase(), " deposit_hash ": "fbd2c729d11db4fb8e4660c9d1769665", "sign_time ": "1604339389", "extra": true}
        ]
    });
    let before = node.log_size();
    let answer = node.post("/voice/add", body).await;
    assert_eq!(code(&answer), 0, "{answer}");
    // The seed's two identical records are one record.
    assert_eq!(node.log_size(), before + 1);
}

#[tokio::test]
async fn a_batch_with_one_bad_record_stores_nothing() {
    let node = Node::start(Setup::default()).await;
    let before = node.log_size();
    let mut list = consents(500);
    list[499]["deposit_hash"] = json!("not-alphanumeric!");
    let answer = node.post("/voice/add", envelope("c1", list)).await;
    assert_eq!(code(&answer), 10003);
    assert_eq!(answer["msg"], "list[499].deposit_hash: expected 1 to 64 letters or digits");
    assert_eq!(node.chain.pool_len(), 0);
    assert_eq!(node.log_size(), before);
}

#[tokio::test]
async fn a_retried_batch_stores_nothing_twice() {
    let node = Node::start(Setup::default()).await;
    let before = node.log_size();
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(100))).await), 0);
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(100))).await), 0);
    assert_eq!(node.log_size(), before + 100);
    // The same records from another client are that client's own records.
    assert_eq!(code(&node.post("/voice/add", envelope("c2", consents(100))).await), 0);
    assert_eq!(node.log_size(), before + 200);
}

#[tokio::test]
async fn a_later_withdrawal_of_the_same_phone_is_a_new_record() {
    let node = Node::start(Setup::default()).await;
    let before = node.log_size();
    let first = envelope("c1", json!([{"phone": PHONE}]));
    assert_eq!(code(&node.post("/sms/cancel", first).await), 0);
    let ts = unix_now() + 1;
    let later = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", KEY, ts), "param": {"list": [{"phone": PHONE}]}});
    assert_eq!(code(&node.post("/sms/cancel", later).await), 0);
    assert_eq!(node.log_size(), before + 2);
}

#[tokio::test]
async fn get_tx_returns_the_callers_own_record_only() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1))).await), 0);
    let tx = Transaction::Record(cunzheng_types::RecordTx {
        client_id: "c1".into(),
        record: cunzheng_types::Record::Consent {
            channel: Channel::Voice,
            phone: PHONE.to_uppercase(),
            deposit_hash: "dep0".into(),
            sign_time: 1_604_339_389,
        },
    });
    let id = tx.id().to_hex();

    let (status, answer) = node.get(&format!("/v1/tx/{id}"), &auth_headers("c1")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let data = &answer["data"];
    assert_eq!(data["tx_id"], id);
    assert_eq!(data["tx"], tx.to_value());
    assert_eq!(data["position"], 0);
    let height = data["block_height"].as_u64().unwrap();
    let block = node.chain.store().block(height).unwrap().unwrap();
    assert_eq!(data["block_hash"], block.header.hash().to_hex());

    let (status, answer) = node.get(&format!("/v1/tx/{id}"), &auth_headers("c2")).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, 10010));
    let unknown = Hash([7; 32]).to_hex();
    let (status, _) = node.get(&format!("/v1/tx/{unknown}"), &auth_headers("c1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut bad = auth_headers("c1");
    bad[2].1 = "00".repeat(32);
    let (status, answer) = node.get(&format!("/v1/tx/{id}"), &bad).await;
    assert_eq!((status, code(&answer)), (StatusCode::UNAUTHORIZED, 10001));
    let (status, answer) = node.get("/v1/tx/xyz", &auth_headers("c1")).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, 10003));
}

#[tokio::test]
async fn blocks_are_public_and_their_certificates_verify() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(4))).await), 0);
    let head = node.chain.head().height;
    let mut prev = node.chain.genesis().hash();
    for h in 1..=head {
        let (status, answer) = node.get(&format!("/v1/blocks/{h}"), &[]).await;
        assert_eq!(status, StatusCode::OK);
        let header: cunzheng_types::BlockHeader =
            serde_json::from_value(answer["data"]["header"].clone()).unwrap();
        let cert: cunzheng_types::Certificate =
            serde_json::from_value(answer["data"]["certificate"].clone()).unwrap();
        assert_eq!(header.prev_hash, prev);
        assert_eq!(answer["data"]["hash"], header.hash().to_hex());
        cert.verify(&header, node.chain.genesis()).unwrap();
        let ids: Vec<Hash> = serde_json::from_value(answer["data"]["tx_ids"].clone()).unwrap();
        assert_eq!(cunzheng_types::merkle::root(&ids), header.tx_root);
        prev = header.hash();
    }
    let (status, answer) = node.get(&format!("/v1/blocks/{}", head + 1), &[]).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, 10010));
}

#[tokio::test]
async fn status_metrics_and_openapi_are_served() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/sms/add", envelope("c1", consents(2))).await), 0);
    let (_, status) = node.get("/v1/status", &[]).await;
    assert_eq!(status["data"]["chain_id"], "gateway-test");
    assert_eq!(status["data"]["height"], node.chain.head().height);
    assert_eq!(status["data"]["log_size"], node.log_size());

    let (status, metrics) = node.get("/metrics", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(text.contains(r#"cunzheng_api_calls_total{path="/sms/add",code="0"} 1"#), "{text}");
    assert!(text.contains(r#"cunzheng_records_deposited_total{kind="sms.consent"} 2"#), "{text}");
    assert!(text.contains("cunzheng_chain_height"), "{text}");

    let (status, doc) = node.get("/openapi.json", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.0.3");
    for endpoint in cunzheng_types::record::Endpoint::ALL {
        assert!(doc["paths"][endpoint.path()]["post"].is_object(), "{}", endpoint.path());
    }
    for path in [
        "/v1/tx/{id}",
        "/v1/blocks/{height}",
        "/v1/status",
        "/metrics",
        "/v1/operator/clients",
        "/v1/operator/clients/{id}/filings",
        "/v1/scrub",
        "/v1/records",
        "/v1/consents",
        "/v1/reports",
        "/v1/filings",
        "/v1/audit-trail",
        "/v1/proofs/{id}",
        "/v1/genesis",
        "/v1/consistency",
        "/v1/checkpoint",
        "/v1/checkpoint/keys",
        "/v1/certificates/{id}",
        "/verify",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}

#[tokio::test]
async fn the_operator_registers_a_client_whose_credentials_work() {
    let node = Node::start(Setup::default()).await;
    let create = |auth: Option<&str>| {
        let mut req =
            Request::post("/v1/operator/clients").header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", format!("Bearer {a}"));
        }
        let filing = json!({"channels": ["voice"], "business_type": "营销", "hours": "09:00-20:00",
            "daily_limit": 3, "numbers": [{"comm_type": "voice", "number_type": "mobile",
            "number": "13800000000", "carrier": "中国移动"}]});
        req.body(Body::from(json!({"client_id": "newco", "filing": filing}).to_string())).unwrap()
    };
    let (status, answer) = node.send(create(Some("wrong"))).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, 10011));
    let (status, answer) = node.send(create(None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");

    let (status, answer) = node.send(create(Some(ADMIN))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let key = answer["data"]["client_key"].as_str().unwrap().to_owned();
    let ts = unix_now();
    let body = json!({"timestamp": ts, "client_id": "newco", "client_token": client_token("newco", &key, ts), "param": {"list": consents(1)}});
    assert_eq!(code(&node.post("/voice/add", body).await), 0);
    // The key on the chain is sealed, never in the clear.
    let entry = node.chain.client("newco").unwrap();
    assert!(!entry.key_ciphertext.windows(key.len()).any(|w| w == key.as_bytes()));

    let (status, _) = node.send(create(Some(ADMIN))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an id is registered once");
}

#[tokio::test]
async fn operator_bodies_are_checked_after_the_token_and_answered_in_json() {
    let node = Node::start(Setup::default()).await;
    let post = |auth: &str, body: &str| {
        Request::post("/v1/operator/clients")
            .header("authorization", format!("Bearer {auth}"))
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    let (status, answer) = node.send(post("wrong", "not json")).await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, 10011));
    let (status, answer) = node.send(post(ADMIN, "not json")).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, 10003), "{answer}");
    assert!(answer["msg"].as_str().unwrap().starts_with("body:"), "{answer}");
    let fax = r#"{"filing": {"channels": ["fax"], "business_type": "x", "hours": "09:00-20:00", "daily_limit": 1}}"#;
    let (_, answer) = node.send(post(ADMIN, fax)).await;
    assert_eq!(code(&answer), 10003, "{answer}");
    let late = r#"{"filing": {"channels": ["sms"], "business_type": "x", "hours": "9-20", "daily_limit": 1}}"#;
    let (_, answer) = node.send(post(ADMIN, late)).await;
    assert!(answer["msg"].as_str().unwrap().starts_with("hours:"), "{answer}");
}

fn voice_consent_id(client: &str, n: u64) -> String {
    Transaction::Record(cunzheng_types::RecordTx {
        client_id: client.into(),
        record: cunzheng_types::Record::Consent {
            channel: Channel::Voice,
            phone: PHONE.to_uppercase(),
            deposit_hash: format!("dep{n}"),
            sign_time: 1_604_339_389 + n,
        },
    })
    .id()
    .to_hex()
}

#[tokio::test]
async fn a_proof_bundle_verifies_offline_for_its_owner_and_the_operator() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(7))).await), 0);
    // Later blocks, so that the checkpoint is past the record's block.
    assert_eq!(code(&node.post("/sms/add", envelope("c2", consents(3))).await), 0);
    let genesis = node.chain.genesis().clone();

    for n in [0, 3, 6] {
        let id = voice_consent_id("c1", n);
        let (status, answer) = node.get(&format!("/v1/proofs/{id}"), &auth_headers("c1")).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let bundle: cunzheng_types::ProofBundle =
            serde_json::from_value(answer["data"].clone()).unwrap();
        assert_eq!(bundle.tx_id.to_hex(), id);
        assert_eq!(bundle.checkpoint.header.height, node.chain.head().height);
        assert!(bundle.checkpoint.header.height > bundle.block.header.height);
        let held = bundle.verify(&genesis).unwrap();
        assert_eq!(held.len(), 6);
    }

    let id = voice_consent_id("c1", 2);
    let admin = [("authorization", format!("Bearer {ADMIN}"))];
    let (status, answer) = node.get(&format!("/v1/proofs/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let bundle: cunzheng_types::ProofBundle =
        serde_json::from_value(answer["data"].clone()).unwrap();
    bundle.verify(&genesis).unwrap();
}

#[tokio::test]
async fn a_proof_is_refused_to_strangers_and_for_unknown_ids() {
    let node = Node::start(Setup::default()).await;
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(1))).await), 0);
    let id = voice_consent_id("c1", 0);

    let (status, answer) = node.get(&format!("/v1/proofs/{id}"), &auth_headers("c2")).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, 10010));
    let wrong = [("authorization", "Bearer not-the-token".to_owned())];
    let (_, answer) = node.get(&format!("/v1/proofs/{id}"), &wrong).await;
    assert_eq!(code(&answer), 10011);
    let (_, answer) = node.get(&format!("/v1/proofs/{id}"), &[]).await;
    assert_eq!(code(&answer), 10003, "{answer}");
    let unknown = Hash([7; 32]).to_hex();
    let (status, _) = node.get(&format!("/v1/proofs/{unknown}"), &auth_headers("c1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn genesis_is_public_and_is_the_chains() {
    let node = Node::start(Setup::default()).await;
    let (status, answer) = node.get("/v1/genesis", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let genesis: Genesis = serde_json::from_value(answer["data"].clone()).unwrap();
    assert_eq!(&genesis, node.chain.genesis());
}

#[tokio::test]
async fn consistency_proofs_hold_between_committed_log_sizes() {
    let node = Node::start(Setup::default()).await;
    let mut sizes = vec![node.log_size()];
    for round in 0..3 {
        let list = Value::Array((0..5).map(|i| consent(10 * round + i)).collect());
        assert_eq!(code(&node.post("/voice/add", envelope("c1", list)).await), 0);
        sizes.push(node.log_size());
    }
    let last = *sizes.last().unwrap();
    for from in 0..=last {
        let (status, answer) =
            node.get(&format!("/v1/consistency?from={from}&to={last}"), &[]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let d = &answer["data"];
        let proof: Vec<Hash> = serde_json::from_value(d["proof"].clone()).unwrap();
        let root = |k: &str| Hash::from_hex(d[k].as_str().unwrap()).unwrap();
        cunzheng_types::merkle::verify_consistency(
            from,
            last,
            &proof,
            &root("from_root"),
            &root("to_root"),
        )
        .unwrap();
        assert_eq!(root("to_root"), node.chain.head().frontier.root());
    }
    for query in [
        format!("from=3&to={}", last + 1),
        "from=5&to=2".into(),
        "from=x&to=1".into(),
        String::new(),
    ] {
        let (status, answer) = node.get(&format!("/v1/consistency?{query}"), &[]).await;
        assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, 10003), "{query}: {answer}");
    }
}

#[tokio::test]
async fn the_checkpoint_is_a_signed_note_of_the_committed_log() {
    let node = Node::start(Setup::default()).await;
    let (status, answer) = node.get("/v1/checkpoint", &[]).await;
    assert_eq!((status, code(&answer)), (StatusCode::NOT_FOUND, 10010), "no member signed yet");

    node.chain.sign_checkpoints(SigningKey::from_bytes(&[1; 32]));
    assert_eq!(code(&node.post("/voice/add", envelope("c1", consents(3))).await), 0);
    let resp = node
        .app
        .clone()
        .oneshot(Request::get("/v1/checkpoint").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let note = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    let note = String::from_utf8(note.to_vec()).unwrap();
    let (checkpoint, signers) =
        cunzheng_types::checkpoint::open(&note, node.chain.genesis()).unwrap();
    assert_eq!(signers, ["v"]);
    let head = node.chain.head();
    assert_eq!((checkpoint.size, checkpoint.root), (head.frontier.size, head.frontier.root()));

    let (_, answer) = node.get("/v1/checkpoint/keys", &[]).await;
    assert_eq!(answer["data"]["origin"], "cunzheng/gateway-test");
    let vkey = answer["data"]["keys"][0]["vkey"].as_str().unwrap();
    assert!(vkey.starts_with("gateway-test/v+"), "{vkey}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_of_equivocation_is_served_highest_height_first() {
    let node = Node::start(Setup::default()).await;
    let (status, empty) = node.get("/v1/evidence", &[]).await;
    assert_eq!((status, empty["data"]["evidence"].clone()), (StatusCode::OK, json!([])));
    for (height, name) in [(3u64, "carrier"), (9, "notary")] {
        let statement = json!({"kind": "double_vote", "height": height, "member": {"name": name}});
        node.chain.store().append_evidence(height, statement.to_string().as_bytes()).unwrap();
    }
    let (_, answer) = node.get("/v1/evidence", &[]).await;
    let heights: Vec<u64> = answer["data"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["height"].as_u64().unwrap())
        .collect();
    assert_eq!(heights, [9, 3]);
    let (_, one) = node.get("/v1/evidence?limit=1", &[]).await;
    assert_eq!(one["data"]["evidence"].as_array().unwrap().len(), 1);
    let (status, bad) = node.get("/v1/evidence?limit=0", &[]).await;
    assert_eq!((status, code(&bad)), (StatusCode::BAD_REQUEST, 10003));
}
