//! The portal's access rules through the real router on a real store: an enterprise sees only
//! its own records, files and complaints and no operator page; every form needs its CSRF
//! token; registration, login and text messages are limited. (The whole journey in a browser
//! is `tests/tests/e2e_portal.rs`.)

mod common;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use common::{code, consent, envelope, Node, Setup, ADMIN};
use cunzheng_gateway::{
    portal::{PortalConfig, SmsConfig},
    GatewayConfig,
};
use cunzheng_types::unix_now_ms;
use serde_json::json;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

async fn portal_node(uploads: &std::path::Path) -> Node {
    let gateway = GatewayConfig {
        admin_token: Some(ADMIN.into()),
        portal: Some(PortalConfig {
            uploads: uploads.to_owned(),
            sms: SmsConfig::Log,
            dev: true,
            secure_cookies: false,
            operator_secret: Some(ADMIN.into()),
        }),
        ..GatewayConfig::default()
    };
    Node::start(Setup { gateway, ..Setup::default() }).await
}

/// A browser's view of one answer.
struct Answer {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

/// A visitor with a cookie, as a browser keeps it.
struct Visitor<'a> {
    node: &'a Node,
    cookie: Option<String>,
}

impl<'a> Visitor<'a> {
    fn new(node: &'a Node) -> Self {
        Visitor { node, cookie: None }
    }

    /// A visitor with a session made in the store, as login makes it.
    fn with_session(node: &'a Node, subject: serde_json::Value) -> Self {
        let token = hex::encode(rand_bytes());
        let key = format!("sess/{}", hex::encode(Sha256::digest(token.as_bytes())));
        let session = json!({ "subject": subject, "expires_ms": unix_now_ms() + 3_600_000 });
        node.chain.store().portal_write(&[(key, Some(session.to_string().into_bytes()))]).unwrap();
        Visitor { node, cookie: Some(token) }
    }

    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Answer {
        let req = match &self.cookie {
            Some(c) => req.header(header::COOKIE, format!("cz_session={c}")),
            None => req,
        };
        let resp = self.node.app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let cookies: Vec<String> = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &cookies {
            if let Some(v) = c.strip_prefix("cz_session=") {
                let v = v.split(';').next().unwrap();
                self.cookie = (!v.is_empty()).then(|| v.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Answer { status, location, cookies, body: String::from_utf8_lossy(&bytes).into() }
    }

    async fn get(&mut self, path: &str) -> Answer {
        self.send(Request::get(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap();
        let req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.send(req, Body::from(body)).await
    }

    async fn multipart(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Answer {
        let boundary = "----cunzhengboundary7MA4YWxk";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        for (name, file, bytes) in files {
            body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend(*bytes);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
        self.send(req, Body::from(body)).await
    }

    /// The CSRF token the page at `path` carries for this visitor.
    async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        let at = page.body.find("name=\"_csrf\" value=\"").expect("a form") + 20;
        page.body[at..at + 64].to_owned()
    }
}

fn rand_bytes() -> [u8; 32] {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// An enterprise account linked to `client`, written to the store as the portal writes one.
fn account(node: &Node, phone: &str, client: &str) {
    let value = json!({
        "phone": phone, "password": "", "created_ms": 0, "certification": null,
        "client_id": client, "key_shown": true,
    });
    node.chain
        .store()
        .portal_write(&[(format!("acct/{phone}"), Some(value.to_string().into_bytes()))])
        .unwrap();
}

fn enterprise(phone: &str) -> serde_json::Value {
    json!({ "role": "enterprise", "phone": phone })
}

const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enterprise_sees_only_its_own_records_files_and_complaints_and_no_operator_page() {
    let uploads = tempfile::tempdir().unwrap();
    let node = portal_node(uploads.path()).await;
    account(&node, "13800000001", "c1");
    account(&node, "13800000002", "c2");
    let mut a = Visitor::with_session(&node, enterprise("13800000001"));
    let mut b = Visitor::with_session(&node, enterprise("13800000002"));
    let mut op = Visitor::with_session(&node, json!({ "role": "operator", "name": "staff" }));

    // One record each.
    for (client, n) in [("c1", 1), ("c2", 2)] {
        assert_eq!(code(&node.post("/voice/add", envelope(client, json!([consent(n)]))).await), 0);
    }
    let records = |body: &str| body.matches("class=\"record\"").count();
    let page_a = a.get("/portal/records").await;
    assert_eq!(records(&page_a.body), 1);
    assert!(page_a.body.contains("dep1") && !page_a.body.contains("dep2"));
    let at = page_a.body.find("/portal/records/").unwrap() + 16;
    let tx_a = page_a.body[at..at + 64].to_owned();
    assert_eq!(a.get(&format!("/portal/records/{tx_a}/certificate")).await.status, StatusCode::OK);
    assert_eq!(a.get(&format!("/portal/records/{tx_a}/proof")).await.status, StatusCode::OK);
    for what in ["proof", "certificate", "certificate.pdf"] {
        assert_eq!(
            b.get(&format!("/portal/records/{tx_a}/{what}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
    // A search by A's deposit hash finds nothing for B.
    assert_eq!(records(&b.get("/portal/records?deposit_hash=dep1").await.body), 0);

    // A complaint routed to c1, answered by A with a file.
    let csrf = op.csrf("/portal/admin/complaints").await;
    let opened = op
        .post(
            "/portal/admin/complaints",
            &[
                ("_csrf", &csrf),
                ("phone", "13912345678"),
                ("time", "2026-12-01T10:00"),
                ("channel", "voice"),
                ("client_id", "c1"),
                ("description", "未经同意的来电"),
            ],
        )
        .await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let complaint = opened.location.rsplit('/').next().unwrap().to_owned();
    let path = format!("/portal/complaints/{complaint}");
    let csrf = a.csrf(&path).await;
    let answered = a
        .multipart(&path, &[("_csrf", &csrf), ("text", "已获授权")], &[("evidence", "e.pdf", PDF)])
        .await;
    assert_eq!(answered.status, StatusCode::SEE_OTHER, "{}", answered.body);
    let sha = hex::encode(Sha256::digest(PDF));
    assert_eq!(a.get(&format!("/portal/files/{sha}")).await.status, StatusCode::OK);
    assert!(op.get(&format!("/portal/admin/files/{sha}")).await.status == StatusCode::OK);

    assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND);
    assert!(!b.get("/portal/complaints").await.body.contains(&complaint));
    assert_eq!(b.get(&format!("/portal/files/{sha}")).await.status, StatusCode::NOT_FOUND);
    let csrf_b = b.csrf("/portal/account").await;
    let answer_b = b.multipart(&path, &[("_csrf", &csrf_b), ("text", "冒充")], &[]).await;
    assert_eq!(answer_b.status, StatusCode::NOT_FOUND);

    // No operator page, read or write, for an enterprise; the login page for a stranger.
    for page in [
        "/portal/admin",
        "/portal/admin/outbox",
        "/portal/admin/complaints",
        "/portal/admin/enterprises",
        "/portal/admin/consortium",
        &format!("/portal/admin/files/{sha}"),
        &format!("/portal/admin/records/{tx_a}/proof"),
    ] {
        assert_eq!(a.get(page).await.status, StatusCode::FORBIDDEN, "{page}");
    }
    let forged = a
        .post(
            "/portal/admin/enterprises/c2",
            &[("_csrf", &csrf_b), ("decision", "suspend"), ("reason", "x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(node.chain.client("c2").unwrap().suspended.is_none());
    // Operators do not get enterprise pages either.
    assert_eq!(op.get("/portal/records").await.status, StatusCode::FORBIDDEN);
    let mut stranger = Visitor::new(&node);
    for page in ["/portal/overview", "/portal/records", &format!("/portal/files/{sha}")] {
        let answer = stranger.get(page).await;
        assert_eq!(
            (answer.status, answer.location.as_str()),
            (StatusCode::SEE_OTHER, "/portal/login"),
            "{page}"
        );
    }
    assert_eq!(stranger.get("/portal/admin").await.location, "/portal/admin/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_csrf_token_changes_nothing() {
    let uploads = tempfile::tempdir().unwrap();
    let node = portal_node(uploads.path()).await;
    account(&node, "13800000001", "c1");
    let mut a = Visitor::with_session(&node, enterprise("13800000001"));
    let mut op = Visitor::with_session(&node, json!({ "role": "operator", "name": "staff" }));

    let cert = a
        .multipart(
            "/portal/certification",
            &[("company", "某公司"), ("credit_code", "91350100M000100Y43")],
            &[("licence", "l.pdf", PDF)],
        )
        .await;
    assert_eq!(cert.status, StatusCode::FORBIDDEN);
    assert!(!a.get("/portal/account").await.body.contains("某公司"));

    let other = Visitor::with_session(&node, enterprise("13800000001"));
    let foreign = {
        let mut o = other;
        o.csrf("/portal/account").await
    };
    let suspend = op
        .post(
            "/portal/admin/enterprises/c1",
            &[("_csrf", &foreign), ("decision", "suspend"), ("reason", "x")],
        )
        .await;
    assert_eq!(suspend.status, StatusCode::FORBIDDEN, "a token of another session is refused");
    let logout = a.post("/portal/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(a.get("/portal/overview").await.status, StatusCode::OK, "the session is still open");
    assert!(node.chain.client("c1").unwrap().suspended.is_none());

    // With the token, logout ends the session on the server.
    let csrf = a.csrf("/portal/account").await;
    let token = a.cookie.clone().unwrap();
    assert_eq!(a.post("/portal/logout", &[("_csrf", &csrf)]).await.status, StatusCode::SEE_OTHER);
    let mut replay = Visitor { node: &node, cookie: Some(token) };
    assert_eq!(replay.get("/portal/overview").await.location, "/portal/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_by_sms_code_login_and_their_limits() {
    let uploads = tempfile::tempdir().unwrap();
    let node = portal_node(uploads.path()).await;
    let mut op = Visitor::new(&node);
    let csrf = op.csrf("/portal/admin/login").await;
    let wrong = op
        .post("/portal/admin/login", &[("_csrf", &csrf), ("name", "staff"), ("secret", "guess")])
        .await;
    assert!(wrong.body.contains("口令错误"));
    let login = op
        .post("/portal/admin/login", &[("_csrf", &csrf), ("name", "staff"), ("secret", ADMIN)])
        .await;
    assert_eq!(login.location, "/portal/admin");
    let cookie = login.cookies.iter().find(|c| c.starts_with("cz_session=")).unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    let mut e = Visitor::new(&node);
    let csrf = e.csrf("/portal/register").await;
    let phone = "13800138123";
    let sent = e
        .post(
            "/portal/sms-code",
            &[("_csrf", &csrf), ("purpose", "register"), ("code_phone", phone)],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let again = e
        .post(
            "/portal/sms-code",
            &[("_csrf", &csrf), ("purpose", "register"), ("code_phone", phone)],
        )
        .await;
    assert!(again.body.contains("发送过于频繁"), "one code a minute per number");
    let outbox = op.get("/portal/admin/outbox").await.body;
    let at = outbox.find("验证码是 ").unwrap() + "验证码是 ".len();
    let sms = outbox[at..at + 6].to_owned();

    let weak = e
        .post(
            "/portal/register",
            &[
                ("_csrf", &csrf),
                ("phone", phone),
                ("code", &sms),
                ("password", "short"),
                ("password2", "short"),
            ],
        )
        .await;
    assert!(weak.body.contains("id=\"password-error\""));
    let ok = e
        .post(
            "/portal/register",
            &[
                ("_csrf", &csrf),
                ("phone", phone),
                ("code", &sms),
                ("password", "good-pass-1"),
                ("password2", "good-pass-1"),
            ],
        )
        .await;
    assert_eq!(ok.location, "/portal/account", "{}", ok.body);
    // The code is used up.
    let mut e2 = Visitor::new(&node);
    let csrf2 = e2.csrf("/portal/register").await;
    let reuse = e2
        .post(
            "/portal/register",
            &[
                ("_csrf", &csrf2),
                ("phone", "13800138124"),
                ("code", &sms),
                ("password", "good-pass-1"),
                ("password2", "good-pass-1"),
            ],
        )
        .await;
    assert!(reuse.body.contains("id=\"code-error\""));
    // The stored password is an argon2 hash.
    let stored = node.chain.store().portal_get(&format!("acct/{phone}")).unwrap().unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert!(stored["password"].as_str().unwrap().starts_with("$argon2id$"));

    // Five wrong passwords lock the number for a while, even for the right one.
    let mut thief = Visitor::new(&node);
    let csrf = thief.csrf("/portal/login").await;
    for _ in 0..5 {
        let tried = thief
            .post(
                "/portal/login",
                &[("_csrf", &csrf), ("phone", phone), ("password", "wrong-pass-1")],
            )
            .await;
        assert!(tried.body.contains("手机号或密码错误"));
    }
    let locked = thief
        .post("/portal/login", &[("_csrf", &csrf), ("phone", phone), ("password", "good-pass-1")])
        .await;
    assert!(locked.body.contains("尝试次数过多"));
    assert_eq!(locked.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_logs_nobody_in_and_is_deleted() {
    let uploads = tempfile::tempdir().unwrap();
    let node = portal_node(uploads.path()).await;
    account(&node, "13800000001", "c1");
    let token = hex::encode(rand_bytes());
    let key = format!("sess/{}", hex::encode(Sha256::digest(token.as_bytes())));
    let expired = json!({ "subject": enterprise("13800000001"), "expires_ms": unix_now_ms() - 1 });
    node.chain
        .store()
        .portal_write(&[(key.clone(), Some(expired.to_string().into_bytes()))])
        .unwrap();
    let mut v = Visitor { node: &node, cookie: Some(token) };
    assert_eq!(v.get("/portal/overview").await.location, "/portal/login");
    assert!(node.chain.store().portal_get(&key).unwrap().is_none());
}
