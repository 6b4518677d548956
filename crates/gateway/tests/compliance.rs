//! The compliance rules at their exact edges, each on a real node (router, RocksDB, one-member
//! Malachite consensus): consent before and after a call, withdrawals, the allowed hours in
//! Beijing time, the daily limit across Beijing midnight, filed numbers, suspension and
//! filings, filing changes; then the enterprise and member reads built on them.

mod common;

use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use common::*;
use cunzheng_types::{
    client_key::client_token, compliance::Hours, unix_now, Channel, OperatorAction,
};
use serde_json::{json, Value};

/// 2026-12-01 00:00:00 in Beijing (2026-11-30 16:00 UTC).
const DAY1: u64 = 1_796_054_400;
/// A phone hash per case, so that cases do not share consent or counts.
fn phone(n: u8) -> String {
    format!("{:032X}", u128::from(n) * 0x1111_1111)
}

fn at(h: u64, m: u64, s: u64) -> u64 {
    DAY1 + h * 3600 + m * 60 + s
}

fn grant(phone: &str, sign_time: u64, deposit: &str) -> Value {
    json!([{"phone": phone, "deposit_hash": deposit, "sign_time": sign_time}])
}

fn call(phone: &str, start: u64, deposit: &str) -> Value {
    call_from(phone, "075538833883", start, deposit)
}

fn call_from(phone: &str, from: &str, start: u64, deposit: &str) -> Value {
    json!([{"phone": phone, "from_num": from, "start_time": start, "end_time": start + 30, "deposit_hash": deposit}])
}

impl Node {
    async fn deposit(&self, client: &str, path: &str, list: Value) {
        let answer = self.post(path, envelope(client, list)).await;
        assert_eq!(code(&answer), 0, "{path}: {answer}");
    }

    /// The flags of `client`'s record with `deposit`, as the record search answers them.
    async fn flags(&self, client: &str, deposit: &str) -> Vec<String> {
        let (status, answer) =
            self.get(&format!("/v1/records?deposit_hash={deposit}"), &auth_headers(client)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let records = answer["data"]["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "one record with {deposit}: {answer}");
        serde_json::from_value(records[0]["flags"].clone()).unwrap()
    }

    async fn bearer(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.get(path, &[("authorization", format!("Bearer {token}"))]).await
    }
}

async fn node() -> Node {
    Node::start(Setup::default()).await
}

#[tokio::test]
async fn a_grant_counts_from_its_second_not_one_later() {
    let node = node().await;
    let (a, b) = (phone(1), phone(2));
    let start = at(10, 0, 0);
    node.deposit("c1", "/voice/add", grant(&a, start + 1, "glate")).await;
    node.deposit("c1", "/voice/add", grant(&b, start, "gsame")).await;
    node.deposit("c1", "/voice/sendAddChain", call(&a, start, "calla")).await;
    node.deposit("c1", "/voice/sendAddChain", call(&b, start, "callb")).await;
    assert_eq!(node.flags("c1", "calla").await, ["no_consent"]);
    assert!(node.flags("c1", "callb").await.is_empty());
    // A grant on the other channel is no consent for this one.
    node.deposit("c1", "/sms/add", grant(&phone(3), start - 10, "gsms")).await;
    node.deposit("c1", "/voice/sendAddChain", call(&phone(3), start, "callc")).await;
    assert_eq!(node.flags("c1", "callc").await, ["no_consent"]);
}

#[tokio::test]
async fn a_withdrawal_before_or_at_the_start_withdraws_and_after_it_does_not() {
    let node = node().await;
    let p = phone(4);
    let w = unix_now();
    node.deposit("c1", "/voice/add", grant(&p, w - 1000, "g")).await;
    let withdrawal = json!({"timestamp": w, "client_id": "c1",
        "client_token": client_token("c1", KEY, w), "param": {"list": [{"phone": p}]}});
    assert_eq!(code(&node.post("/voice/cancel", withdrawal).await), 0);
    node.deposit("c1", "/voice/sendAddChain", call(&p, w - 1, "after")).await;
    node.deposit("c1", "/voice/sendAddChain", call(&p, w, "at")).await;
    node.deposit("c1", "/voice/sendAddChain", call(&p, w + 1, "before")).await;
    assert!(node.flags("c1", "after").await.is_empty(), "withdrawn after the start");
    assert_eq!(node.flags("c1", "at").await, ["withdrawn"]);
    assert_eq!(node.flags("c1", "before").await, ["withdrawn"]);
}

#[tokio::test]
async fn the_window_admits_0900_and_refuses_0859_59_and_2000() {
    let node = node().await;
    let hours: Hours = "09:00-20:00".parse().unwrap();
    node.register_filed("hours", Some(filing("H1", vec![Channel::Voice], hours, 100))).await;
    let p = phone(5);
    node.deposit("hours", "/voice/add", grant(&p, DAY1 - 86_400, "g")).await;
    for (deposit, t) in [("t0859", at(8, 59, 59)), ("t0900", at(9, 0, 0)), ("t2000", at(20, 0, 0))]
    {
        node.deposit("hours", "/voice/sendAddChain", call(&p, t, deposit)).await;
    }
    assert_eq!(node.flags("hours", "t0859").await, ["outside_hours"]);
    assert!(node.flags("hours", "t0900").await.is_empty());
    assert_eq!(node.flags("hours", "t2000").await, ["outside_hours"]);
}

#[tokio::test]
async fn the_daily_limit_counts_per_beijing_day() {
    let node = node().await;
    node.register_filed("limit", Some(filing("L1", vec![Channel::Voice], Hours::ALL_DAY, 2))).await;
    let p = phone(6);
    node.deposit("limit", "/voice/add", grant(&p, DAY1 - 86_400, "g")).await;
    let midnight = at(24, 0, 0);
    let calls = [
        ("d11", midnight - 2),
        ("d12", midnight - 1),
        ("d21", midnight),
        ("d13", midnight - 3),
        ("d22", midnight + 1),
        ("d23", midnight + 2),
    ];
    for (deposit, t) in calls {
        node.deposit("limit", "/voice/sendAddChain", call(&p, t, deposit)).await;
    }
    for clean in ["d11", "d12", "d21", "d22"] {
        assert!(node.flags("limit", clean).await.is_empty(), "{clean}");
    }
    assert_eq!(node.flags("limit", "d13").await, ["over_daily_limit"]);
    assert_eq!(node.flags("limit", "d23").await, ["over_daily_limit"]);
    // Another phone has its own count.
    node.deposit("limit", "/voice/add", grant(&phone(7), DAY1 - 86_400, "g7")).await;
    node.deposit("limit", "/voice/sendAddChain", call(&phone(7), midnight - 1, "other")).await;
    assert!(node.flags("limit", "other").await.is_empty());
}

#[tokio::test]
async fn an_unfiled_number_is_flagged_and_a_filed_one_is_not() {
    let node = node().await;
    let p = phone(8);
    node.deposit("c1", "/voice/add", grant(&p, at(9, 0, 0), "g")).await;
    node.deposit("c1", "/voice/sendAddChain", call_from(&p, "075538833883", at(10, 0, 0), "filed"))
        .await;
    node.deposit(
        "c1",
        "/voice/sendAddChain",
        call_from(&p, "+8675500000000", at(10, 0, 0), "unfiled"),
    )
    .await;
    assert!(node.flags("c1", "filed").await.is_empty());
    assert_eq!(node.flags("c1", "unfiled").await, ["unfiled_number"]);
    // On SMS the channel number is checked against the SMS numbers of the filing.
    node.deposit("c1", "/sms/add", grant(&p, at(9, 0, 0), "gs")).await;
    let sms = |num: &str, deposit: &str| json!([{"phone": p, "channel_num": num, "send_time": at(10, 0, 0), "deposit_hash": deposit}]);
    node.deposit("c1", "/sms/sendAddChain", sms("106909570626", "smsfiled")).await;
    node.deposit("c1", "/sms/sendAddChain", sms("075538833883", "smsunfiled")).await;
    assert!(node.flags("c1", "smsfiled").await.is_empty());
    assert_eq!(node.flags("c1", "smsunfiled").await, ["unfiled_number"]);
}

#[tokio::test]
async fn a_client_deposits_only_while_filed_and_not_suspended() {
    let node = node().await;
    node.register_filed("newco", None).await;
    let consent = grant(&phone(9), at(9, 0, 0), "g");
    let answer = node.post("/voice/add", envelope("newco", consent.clone())).await;
    assert_eq!(code(&answer), 10006, "no filing yet: {answer}");
    let f = filing("N1", vec![Channel::Sms], Hours::ALL_DAY, 5);
    node.operator_tx(OperatorAction::ApproveFiling { client_id: "newco".into(), filing: f }).await;
    assert_eq!(code(&node.post("/voice/add", envelope("newco", consent.clone())).await), 10007);
    assert_eq!(code(&node.post("/sms/add", envelope("newco", consent.clone())).await), 0);

    node.operator_tx(OperatorAction::SuspendClient {
        client_id: "newco".into(),
        reason: "投诉".into(),
    })
    .await;
    assert_eq!(code(&node.post("/sms/add", envelope("newco", consent.clone())).await), 10006);
    node.operator_tx(OperatorAction::ReinstateClient { client_id: "newco".into() }).await;
    node.operator_tx(OperatorAction::RevokeFiling {
        client_id: "newco".into(),
        filing_id: "N1".into(),
        reason: "expired".into(),
    })
    .await;
    assert_eq!(code(&node.post("/sms/add", envelope("newco", consent)).await), 10006);
}

#[tokio::test]
async fn a_filing_change_applies_from_its_block_on() {
    let node = node().await;
    let narrow: Hours = "09:00-20:00".parse().unwrap();
    node.register_filed("chg", Some(filing("C1", vec![Channel::Voice], narrow, 100))).await;
    let p = phone(10);
    node.deposit("chg", "/voice/add", grant(&p, DAY1 - 86_400, "g")).await;
    node.deposit("chg", "/voice/sendAddChain", call(&p, at(21, 0, 0), "beforechange")).await;
    let before_height = node.chain.head().height;

    let wide = filing("C1", vec![Channel::Voice], "09:00-22:00".parse().unwrap(), 100);
    node.operator_tx(OperatorAction::ChangeFiling { client_id: "chg".into(), filing: wide }).await;
    node.deposit("chg", "/voice/sendAddChain", call(&p, at(21, 0, 0), "afterchange")).await;

    assert_eq!(node.flags("chg", "beforechange").await, ["outside_hours"]);
    assert!(node.flags("chg", "afterchange").await.is_empty());
    let (_, answer) = node.get("/v1/filings", &auth_headers("chg")).await;
    let filing = &answer["data"]["filings"][0];
    assert_eq!(filing["hours"], "09:00-22:00", "{answer}");
    let changed_at = filing["changed_at"].as_u64().unwrap();
    assert!(changed_at > before_height && filing["approved_at"].as_u64().unwrap() <= before_height);
}

#[tokio::test]
async fn scrub_answers_consent_in_force_now_and_since_when() {
    let node = node().await;
    let now = unix_now();
    let (granted, withdrawn, future, none) = (phone(11), phone(12), phone(13), phone(14));
    node.deposit("c1", "/voice/add", grant(&granted, now - 500, "g1")).await;
    node.deposit("c1", "/voice/add", grant(&withdrawn, now - 500, "g2")).await;
    node.deposit("c1", "/voice/cancel", json!([{"phone": withdrawn}])).await;
    node.deposit("c1", "/voice/add", grant(&future, now + 3600, "g3")).await;

    // The documented signed envelope.
    let ts = unix_now();
    let body = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", KEY, ts),
        "param": {"channel": "voice", "phones": [granted, withdrawn, future, none.to_lowercase()]}});
    let answer = node.post("/v1/scrub", body).await;
    assert_eq!(code(&answer), 0, "{answer}");
    let data = &answer["data"];
    assert_eq!((data["checked"].as_u64(), data["in_force"].as_u64()), (Some(4), Some(1)), "{data}");
    let results = data["results"].as_array().unwrap();
    assert_eq!(results[0]["consent"], true);
    assert_eq!(results[0]["since"], now - 500);
    assert_eq!(results[1]["consent"], false);
    assert!(results[1]["withdrawn_at"].is_u64());
    assert_eq!(results[2]["consent"], false, "a grant signed later is not in force now");
    assert_eq!(results[3]["phone"], none, "phones answer in the stored spelling");

    // SMS consent is another channel's.
    let ts = unix_now();
    let body = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", KEY, ts),
        "param": {"channel": "sms", "phones": [granted]}});
    assert_eq!(node.post("/v1/scrub", body).await["data"]["in_force"], 0);

    let ts = unix_now();
    let too_many: Vec<String> = (0..10_001u32).map(|i| format!("{i:032X}")).collect();
    let body = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", KEY, ts),
        "param": {"channel": "voice", "phones": too_many}});
    let req = Request::post("/v1/scrub").body(Body::from(body.to_string())).unwrap();
    let (status, answer) = node.send(req).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, 10005));
}

#[tokio::test]
async fn record_search_filters_pages_newest_first_and_reports_count() {
    let node = node().await;
    let p = phone(15);
    node.deposit("c1", "/voice/add", grant(&p, at(8, 0, 0), "g")).await;
    for i in 0..5u64 {
        let from = if i % 2 == 0 { "075538833883" } else { "075500000000" };
        node.deposit(
            "c1",
            "/voice/sendAddChain",
            call_from(&p, from, at(10, 0, i), &format!("c{i}")),
        )
        .await;
    }
    let deposits = |answer: &Value| -> Vec<String> {
        answer["data"]["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["tx"]["deposit_hash"].as_str().unwrap().to_owned())
            .collect()
    };
    let headers = auth_headers("c1");
    let (_, answer) = node.get("/v1/records?kind=voice.call&limit=2", &headers).await;
    assert_eq!(deposits(&answer), ["c4", "c3"]);
    let cursor = answer["data"]["next_cursor"].as_str().unwrap().to_owned();
    let (_, answer) =
        node.get(&format!("/v1/records?kind=voice.call&limit=2&cursor={cursor}"), &headers).await;
    assert_eq!(deposits(&answer), ["c2", "c1"]);
    let (_, answer) = node.get("/v1/records?flag=unfiled_number", &headers).await;
    assert_eq!(deposits(&answer), ["c3", "c1"]);
    let (_, answer) = node
        .get(&format!("/v1/records?phone={p}&from={}&to={}", at(10, 0, 1), at(10, 0, 3)), &headers)
        .await;
    assert_eq!(deposits(&answer), ["c3", "c2", "c1"]);
    let (_, answer) =
        node.get(&format!("/v1/records?phone={p}&kind=voice.consent"), &headers).await;
    assert_eq!(deposits(&answer), ["g"]);
    let (status, answer) = node.get("/v1/records?flag=rude", &headers).await;
    assert_eq!((status, code(&answer)), (StatusCode::BAD_REQUEST, 10003));

    let (_, answer) = node.get("/v1/reports?period=day&date=2026-12-01", &headers).await;
    let data = &answer["data"];
    assert_eq!(data["kinds"]["voice.call"], 5, "{answer}");
    assert_eq!(data["kinds"]["voice.consent"], 1);
    assert_eq!(data["flags"]["unfiled_number"], 2);
    let (_, answer) = node.get("/v1/reports?period=month&date=2026-12", &headers).await;
    assert_eq!(answer["data"]["records"], 6, "{answer}");
    let (_, answer) = node.get("/v1/reports?period=month&date=2026-11", &headers).await;
    assert_eq!(answer["data"]["records"], 0);
    let (_, answer) = node.get("/v1/reports?period=day&date=2026-02-30", &headers).await;
    assert_eq!(code(&answer), 10003);
}

#[tokio::test]
async fn members_read_any_client_and_every_read_is_audited() {
    let node = node().await;
    let p = phone(16);
    node.deposit("c2", "/voice/add", grant(&p, at(9, 0, 0), "g")).await;
    node.deposit("c2", "/voice/sendAddChain", call(&p, at(8, 0, 0), "early")).await;

    // A client sees only its own records.
    let (status, _) = node.get("/v1/records?client_id=c2", &auth_headers("c1")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = node.bearer("/v1/records?client_id=c2", "not-a-member").await;
    assert_eq!((status, code(&answer)), (StatusCode::FORBIDDEN, 10011));

    let (status, answer) = node.bearer("/v1/records?client_id=c2&kind=voice.call", READER).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let record = &answer["data"]["records"][0];
    assert_eq!(record["tx"]["deposit_hash"], "early");
    assert_eq!(record["flags"], json!(["no_consent"]));
    let (_, answer) =
        node.bearer(&format!("/v1/consents?client_id=c2&channel=voice&phone={p}"), READER).await;
    let events = answer["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{answer}");
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["deposit_hash"].as_str()),
        (Some("grant"), Some("g"))
    );
    assert_eq!(answer["data"]["state"]["consent"], true);
    let (status, _) = node.bearer("/v1/records", READER).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a member names the client");

    let (status, answer) = node.bearer("/v1/audit-trail", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    let entries = answer["data"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{answer}");
    assert_eq!(entries[0]["action"], "consents");
    assert_eq!(
        (entries[1]["reader"].as_str(), entries[1]["client_id"].as_str()),
        (Some("regulator"), Some("c2"))
    );
    assert_eq!(entries[1]["query"], "client_id=c2&kind=voice.call");
    // Hash-chained, newest first, and the head names the newest.
    assert_eq!((entries[0]["seq"].as_u64(), entries[1]["seq"].as_u64()), (Some(2), Some(1)));
    assert_eq!(answer["data"]["head"]["entries"], 2);
    assert_eq!(answer["data"]["head"]["hash"], entries[0]["chain_hash"]);
    assert_ne!(entries[0]["chain_hash"], entries[1]["chain_hash"]);
    let (status, _) = node.get("/v1/audit-trail", &auth_headers("c1")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "clients do not read the trail");
}

#[tokio::test]
async fn a_rotated_key_replaces_the_old_one() {
    let node = node().await;
    let req = Request::post("/v1/operator/clients/c1/rotate-key")
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    let (status, answer) = node.send(req).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let new_key = answer["data"]["client_key"].as_str().unwrap().to_owned();
    let list = grant(&phone(17), at(9, 0, 0), "g");
    assert_eq!(code(&node.post("/voice/add", envelope("c1", list.clone())).await), 10001);
    let ts = unix_now();
    let body = json!({"timestamp": ts, "client_id": "c1", "client_token": client_token("c1", &new_key, ts), "param": {"list": list}});
    assert_eq!(code(&node.post("/voice/add", body).await), 0);
}
