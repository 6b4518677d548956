//! The optional request signature: a client set to `hmac` on the chain must add it; it covers
//! the body, so a seen request cannot carry another body, and its nonce is taken once.

mod common;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use common::{code, consent, envelope, Node, Setup, ADMIN, KEY};
use cunzheng_types::{client_key::request_signature, unix_now, AuthScheme, OperatorAction};
use serde_json::{json, Value};

async fn post(
    node: &Node,
    path: &str,
    body: &[u8],
    signature: Option<(u64, &str, String)>,
) -> Value {
    let mut req = Request::post(path).header("content-type", "application/json");
    if let Some((ts, nonce, sig)) = signature {
        req = req
            .header("x-signature-timestamp", ts.to_string())
            .header("x-signature-nonce", nonce)
            .header("x-signature", sig);
    }
    let (status, answer) = node.send(req.body(Body::from(body.to_vec())).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    answer
}

fn signed(path: &str, body: &[u8], nonce: &str) -> Option<(u64, &'static str, String)> {
    let ts = unix_now();
    let nonce: &'static str = Box::leak(nonce.to_owned().into_boxed_str());
    Some((ts, nonce, request_signature(KEY, "POST", path, ts, nonce, body)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_set_to_hmac_must_sign_each_request_once() {
    let node = Node::start(Setup::default()).await;
    let path = "/voice/add";
    let body = envelope("c1", json!([consent(1)])).to_string().into_bytes();

    // Any client may sign; a wrong signature is refused even when not required.
    assert_eq!(code(&post(&node, path, &body, signed(path, &body, "nonce-0001")).await), 0);
    let wrong = Some((unix_now(), "nonce-0002", "00".repeat(32)));
    assert_eq!(code(&post(&node, path, &body, wrong).await), 10001);

    node.operator_tx(OperatorAction::SetAuth { client_id: "c1".into(), scheme: AuthScheme::Hmac })
        .await;
    assert_eq!(node.chain.client("c1").unwrap().auth, AuthScheme::Hmac);

    let body = envelope("c1", json!([consent(2)])).to_string().into_bytes();
    let refused = post(&node, path, &body, None).await;
    assert_eq!(code(&refused), 10001, "{refused}");
    assert!(refused["msg"].as_str().unwrap().contains("must sign"));

    let sig = signed(path, &body, "nonce-0003");
    assert_eq!(code(&post(&node, path, &body, sig.clone()).await), 0);
    // The same request again: the nonce is spent.
    let replay = post(&node, path, &body, sig.clone()).await;
    assert_eq!(code(&replay), 10001);
    assert!(replay["msg"].as_str().unwrap().contains("already used"));
    // The seen signature with another body, or on another path, does not verify.
    let other = envelope("c1", json!([consent(3)])).to_string().into_bytes();
    let (ts, _, s) = sig.clone().unwrap();
    assert_eq!(code(&post(&node, path, &other, Some((ts, "nonce-0004", s.clone()))).await), 10001);
    assert_eq!(code(&post(&node, "/sms/add", &body, Some((ts, "nonce-0005", s))).await), 10001);
    // An old signature timestamp is refused like an old token.
    let old = unix_now() - 3600;
    let stale = request_signature(KEY, "POST", path, old, "nonce-0006", &other);
    assert_eq!(code(&post(&node, path, &other, Some((old, "nonce-0006", stale))).await), 10004);
    // Malformed nonces are refused.
    assert_eq!(code(&post(&node, path, &other, signed(path, &other, "short")).await), 10001);

    // Other clients are unaffected; and the operator can go back to the token alone.
    let c2 = envelope("c2", json!([consent(4)])).to_string().into_bytes();
    assert_eq!(code(&post(&node, path, &c2, None).await), 0);
    let (status, set) = node
        .send(
            Request::post("/v1/operator/clients/c1/auth")
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::from(r#"{"scheme":"token"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!((status, code(&set)), (StatusCode::OK, 0), "{set}");
    assert_eq!(code(&post(&node, path, &other, None).await), 0);
}
