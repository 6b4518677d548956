//! Four members as processes on loopback, deciding every block with Malachite over libp2p:
//! agreement, a member killed under load, strangers, a lost quorum, and a late full node.

use std::{collections::HashSet, time::Duration};

use cunzheng_e2e::{cunzheng, missing, verify_chain, Consortium, ConsortiumOptions, Load};
use cunzheng_types::{record::Endpoint, unix_now, Hash};
use serde_json::{json, Value};

const VOICE_ADD: Endpoint = Endpoint::ALL[0];
const READY: Duration = Duration::from_secs(60);

fn consents(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"phone": format!("{:032X}", i), "deposit_hash": format!("{tag}x{i}"), "sign_time": unix_now() - 5}))
        .collect()
}

/// One consortium at a time: four members each are as much as two cores carry.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

async fn started(members: usize, options: ConsortiumOptions) -> (tempfile::TempDir, Consortium) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Consortium::new(dir.path(), members, options).unwrap();
    c.start_members().unwrap();
    c.wait_ready(0, READY).await.unwrap();
    (dir, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_call_to_member_2_is_found_on_member_1_and_in_member_4s_block() {
    let _serial = serial().await;
    let (_dir, c) = started(4, ConsortiumOptions::default()).await;
    c.wait_ready(1, READY).await.unwrap();

    let list = consents("m2", 20);
    let ts = unix_now();
    let ids = c.client(1).tx_ids(VOICE_ADD, &list, ts).unwrap();
    let answer = c.client(1).deposit_at(VOICE_ADD, &list, ts).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    let height = answer.data["block_height"].as_u64().unwrap();

    // Each member writes a decided block on its own; member 1 has it once it reaches the height.
    c.wait_height(0, height, READY).await.unwrap();
    let found = c.client(0).tx(&ids[0]).await.unwrap().expect("member 1 finds the record");
    assert_eq!(found.data["block_height"], json!(height));
    c.wait_height(3, height, READY).await.unwrap();
    let hashes = c.block_hashes(&[0, 1, 2, 3], height).await.unwrap();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "members disagree at {height}: {hashes:?}");
    let block = c.client(3).block(height).await.unwrap().unwrap();
    let in_block: HashSet<Hash> = serde_json::from_value(block.data["tx_ids"].clone()).unwrap();
    assert!(ids.iter().all(|id| in_block.contains(id)));
    let signers = block.data["certificate"]["signatures"].as_array().unwrap().len();
    assert!(signers >= 3, "a certificate needs more than two thirds of four, got {signers}");

    // The record's proof bundle from member 2 holds offline under the consortium's genesis.
    let bundle = c.client(1).proof(&ids[0]).await.unwrap().expect("the owner gets its bundle");
    let bundle: cunzheng_types::ProofBundle = serde_json::from_value(bundle.data).unwrap();
    let held = bundle.verify(&c.genesis).unwrap();
    assert_eq!(bundle.block.header.height, height, "{held:?}");

    // Member 4 serves a checkpoint of that log that at least three members signed.
    let size = bundle.block.header.log_size;
    let deadline = std::time::Instant::now() + READY;
    let (checkpoint, signers) = loop {
        if let Some(note) = c.client(3).checkpoint().await.unwrap() {
            let opened = cunzheng_types::checkpoint::open(&note, &c.genesis).unwrap();
            if opened.0.size >= size {
                break opened;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no quorum checkpoint of size {size}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(signers.len() >= 3, "{signers:?}");
    let consistency = c.client(3).consistency(size, checkpoint.size).await.unwrap();
    assert_eq!(consistency.code, 0, "{}", consistency.msg);

    // Member 1's status names the other three members it is connected to.
    let others = json!(["operator-2", "carrier", "regulator"]);
    let deadline = std::time::Instant::now() + READY;
    loop {
        let status = c.client(0).status().await.unwrap();
        if status.data["members_connected"] == others {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", status.data);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_member_killed_under_load_catches_up_and_nothing_is_lost() {
    let _serial = serial().await;
    let (_dir, mut c) = started(4, ConsortiumOptions::default()).await;
    c.wait_ready(1, READY).await.unwrap();

    // Two writers per operator node deposit until told to stop.
    let load = Load::start(&c, &[0, 1], 2, 100);
    tokio::time::sleep(Duration::from_secs(3)).await;
    c.kill(2);
    let killed_at = c.head(0).await.unwrap().0;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (during, _) = c.head(0).await.unwrap();
    assert!(during > killed_at, "three members stopped deciding after one was killed");
    let acknowledged = load.stop().await;
    assert!(acknowledged.len() >= 400, "the load acknowledged only {}", acknowledged.len());

    // The operator's nodes serve the records to their client; every member's chain holds them.
    for i in [0, 1] {
        let lost = missing(&c.client(i), acknowledged.clone(), 8).await.unwrap();
        assert!(lost.is_empty(), "member {i} lacks {} acknowledged records", lost.len());
    }
    let (head, _) = c.head(0).await.unwrap();
    c.wait_height(3, head, READY).await.unwrap();
    let (_, ids) = verify_chain(&c.client(3), &c.genesis).await.unwrap();
    let on_regulator: HashSet<Hash> = ids.into_iter().collect();
    assert!(acknowledged.iter().all(|id| on_regulator.contains(id)));

    // Restarted, the killed member syncs to the others' head.
    c.start(2).unwrap();
    let (target, _) = c.head(0).await.unwrap();
    c.wait_height(2, target, READY).await.unwrap();
    let hashes = c.block_hashes(&[0, 1, 2, 3], target).await.unwrap();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "heads differ at {target}: {hashes:?}");
    let (_, ids) = verify_chain(&c.client(2), &c.genesis).await.unwrap();
    let on_restarted: HashSet<Hash> = ids.into_iter().collect();
    assert!(acknowledged.iter().all(|id| on_restarted.contains(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_key_outside_genesis_can_neither_vote_nor_follow() {
    let _serial = serial().await;
    let (dir, c) = started(4, ConsortiumOptions::default()).await;

    // A node whose validator key is not in genesis refuses to start as a member.
    let (config, _) = c.stranger("intruder", true).unwrap();
    let out = std::process::Command::new(cunzheng_e2e::bin("cunzheng-node"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not in the genesis validator set"), "{stderr}");

    // The same stranger as a follower is refused by every member: it learns no block.
    let (config, api) = c.stranger("eavesdropper", false).unwrap();
    let log = std::fs::File::create(dir.path().join("eavesdropper.log")).unwrap();
    let mut follower = std::process::Command::new(cunzheng_e2e::bin("cunzheng-node"))
        .arg("--config")
        .arg(&config)
        .stderr(log)
        .spawn()
        .unwrap();
    let (h, _) = c.head(0).await.unwrap();
    c.wait_height(0, h + 3, READY).await.unwrap();
    let status: Value = reqwest_status(&api).await;
    let _ = follower.kill();
    let _ = follower.wait();
    assert_eq!(status["data"]["height"], json!(0), "a stranger synced blocks: {status}");

    // Every block is still signed by members only.
    let (_, ids) = verify_chain(&c.client(0), &c.genesis).await.unwrap();
    assert!(!ids.is_empty());
}

async fn reqwest_status(api: &str) -> Value {
    let client = cunzheng_client::Client::new(api, "none", "none");
    for _ in 0..50 {
        if let Ok(a) = client.status().await {
            return serde_json::to_value(&a.data).map(|d| json!({ "data": d })).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the stranger's gateway did not answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_two_of_four_down_decides_nothing_until_one_returns() {
    let _serial = serial().await;
    let options = ConsortiumOptions { commit_timeout_ms: 3000, ..Default::default() };
    let (_dir, mut c) = started(4, options).await;
    c.wait_ready(1, READY).await.unwrap();
    c.kill(2);
    c.kill(3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (stalled, _) = c.head(0).await.unwrap();

    // Safety over liveness: without a quorum the call times out and nothing is decided.
    let list = consents("noquorum", 5);
    let answer = c.client(0).deposit(VOICE_ADD, &list).await.unwrap();
    assert_eq!(answer.code, 20002, "{}", answer.msg);
    let (after, _) = c.head(0).await.unwrap();
    assert!(after <= stalled + 1, "blocks decided without a quorum: {stalled} -> {after}");

    // One member back: three of four decide again, the pending call included.
    c.start(2).unwrap();
    c.wait_height(0, after + 2, READY).await.unwrap();
    let answer = c.client(0).deposit(VOICE_ADD, &list).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    let (head, _) = c.head(2).await.unwrap();
    for height in 1..=head {
        let hashes = c.block_hashes(&[0, 1, 2], height).await.unwrap();
        assert!(hashes.iter().all(|h| *h == hashes[0]), "fork at {height}: {hashes:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_full_node_started_late_syncs_the_whole_chain() {
    let _serial = serial().await;
    let options = ConsortiumOptions { full_nodes: 1, ..Default::default() };
    let (_dir, mut c) = started(4, options).await;
    for call in 0..5 {
        let answer =
            c.client(0).deposit(VOICE_ADD, &consents(&format!("f{call}"), 50)).await.unwrap();
        assert_eq!(answer.code, 0, "{}", answer.msg);
    }
    let (target, _) = c.head(0).await.unwrap();

    let full = c.members.len();
    c.start(full).unwrap();
    c.wait_height(full, target, READY).await.unwrap();
    let hashes = c.block_hashes(&[0, full], target).await.unwrap();
    assert_eq!(hashes[0], hashes[1]);
    let (_, ids) = verify_chain(&c.client(full), &c.genesis).await.unwrap();
    assert!(ids.len() >= 250);
    // It follows without voting: no certificate carries its key.
    let status = c.client(full).status().await.unwrap();
    assert_eq!(status.data["role"], json!("full node"), "{}", status.data);
}

/// Member 3 (the carrier) proposes invalid blocks; the others refuse every one of them.
async fn a_faulty_proposer_is_voted_down(fault: &str) {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = Consortium::new(dir.path(), 4, ConsortiumOptions::default()).unwrap();
    for i in [0, 1, 3] {
        c.start(i).unwrap();
    }
    c.start_with(2, &["--fault", fault]).unwrap();
    c.wait_ready(0, READY).await.unwrap();

    // Past several heights whose first proposer is the carrier: (h - 1) mod 4 == 2.
    c.wait_height(0, 12, READY).await.unwrap();
    let carrier = c.members[2].key.verifying_key().to_bytes();
    let mut faulty_heights = 0;
    for height in 1..=12u64 {
        let block = c.client(0).block(height).await.unwrap().unwrap();
        let proposer = block.data["header"]["proposer"].as_str().unwrap().to_owned();
        assert_ne!(
            proposer,
            hex::encode(carrier),
            "a block of the faulty member was decided at {height}"
        );
        if (height - 1) % 4 == 2 {
            faulty_heights += 1;
            let round = block.data["certificate"]["round"].as_u64().unwrap();
            assert!(round >= 1, "height {height} was decided in the faulty member's round");
        }
    }
    assert!(faulty_heights >= 2);
    let hashes = c.block_hashes(&[0, 1, 3], 12).await.unwrap();
    assert!(hashes.iter().all(|h| *h == hashes[0]));

    // Each member names the height and the member it refused.
    let named = format!("proposer={}", hex::encode(&carrier[..4]));
    for i in [0, 1, 3] {
        let log = c.log(i);
        let refusals: Vec<&str> =
            log.lines().filter(|l| l.contains("invalid proposal refused")).collect();
        assert!(!refusals.is_empty(), "member {i} logged no refusal");
        assert!(
            refusals.iter().all(|l| l.contains(&named) && l.contains("height=")),
            "{refusals:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_proposal_with_a_bad_tx_root_is_voted_down() {
    a_faulty_proposer_is_voted_down("bad-tx-root").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_proposal_with_a_stranger_clients_record_is_voted_down() {
    a_faulty_proposer_is_voted_down("foreign-tx").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_a_proposal_timed_an_hour_ahead_is_voted_down() {
    a_faulty_proposer_is_voted_down("future-time").await;
}

/// The records of client `demo` with their verdicts, as member `i` answers a reader.
async fn verdicts(c: &Consortium, i: usize) -> Value {
    let path = "/v1/records?client_id=demo&kind=voice.call";
    let answer = c.client(i).member_get(path, &c.reader_token).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    answer.data["records"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_consortium_members_agree_on_verdicts() {
    let _serial = serial().await;
    let (_dir, c) = started(4, ConsortiumOptions::default()).await;
    // 2026-12-01 00:00:00 in Beijing; the demo filing allows 09:00-20:00, 3 calls per phone a
    // day, from 075538833883.
    let day = 1_796_054_400u64;
    let (p0, p1) = (format!("{:032X}", 0xA0), format!("{:032X}", 0xA1));
    let consent = vec![json!({"phone": p0, "deposit_hash": "vg", "sign_time": day})];
    let answer = c.client(0).deposit_at(VOICE_ADD, &consent, unix_now()).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    let call = |phone: &str, from: &str, start: u64, deposit: &str| json!({"phone": phone, "from_num": from, "start_time": start, "end_time": start + 60, "deposit_hash": deposit});
    let calls: Vec<Value> = (0..4)
        .map(|i| call(&p0, "075538833883", day + 10 * 3600 + i, &format!("vc{i}")))
        .chain([call(&p1, "075500000000", day + 21 * 3600, "vx")])
        .collect();
    let answer = c.client(0).deposit_at(Endpoint::ALL[1], &calls, unix_now()).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    let height = answer.data["block_height"].as_u64().unwrap();

    c.wait_height(2, height, READY).await.unwrap();
    c.wait_height(3, height, READY).await.unwrap();
    let (carrier, regulator) = (verdicts(&c, 2).await, verdicts(&c, 3).await);
    assert_eq!(carrier, regulator, "two members give different verdicts");
    let flags: Vec<(String, Value)> = carrier
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["tx"]["deposit_hash"].as_str().unwrap().to_owned(), r["flags"].clone()))
        .collect();
    assert_eq!(
        flags,
        vec![
            ("vx".into(), json!(["no_consent", "outside_hours", "unfiled_number"])),
            ("vc3".into(), json!(["over_daily_limit"])),
            ("vc2".into(), json!([])),
            ("vc1".into(), json!([])),
            ("vc0".into(), json!([])),
        ]
    );

    // Each member logged the reader's read in its own trail.
    let trail = c.client(3).member_get("/v1/audit-trail", &c.reader_token).await.unwrap();
    let entries = trail.data["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", trail.data);
    assert_eq!(
        (entries[0]["reader"].as_str(), entries[0]["client_id"].as_str()),
        (Some("auditor"), Some("demo"))
    );

    // Every member's gateway refuses a client the rules refuse: one without a filing (10006),
    // then the demo client once suspended (10006), whichever member the call reaches.
    let admin = c.dir.join("admin.token");
    let operator = |args: &[&str]| {
        let mut all = vec!["client"];
        all.extend_from_slice(args);
        all.extend(["--api", &c.demo.api, "--admin-token-file", admin.to_str().unwrap()]);
        let (ok, out) = cunzheng(&all);
        assert!(ok, "{out}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let added = operator(&["add", "--id", "nofile"]);
    let key = added["client_key"].as_str().unwrap();
    let nofile = |i: usize| cunzheng_client::Client::new(&c.members[i].api(), "nofile", key);
    let height = added["block_height"].as_u64().unwrap();
    for i in 0..4 {
        c.wait_height(i, height, READY).await.unwrap();
        let answer = nofile(i).deposit(VOICE_ADD, &consent).await.unwrap();
        assert_eq!(answer.code, 10006, "member {}: {}", i + 1, answer.msg);
    }
    let suspended = operator(&["suspend", "demo", "--reason", "complaints"]);
    let height = suspended["block_height"].as_u64().unwrap();
    for i in 0..4 {
        c.wait_height(i, height, READY).await.unwrap();
        let answer = c.client(i).deposit(VOICE_ADD, &consent).await.unwrap();
        assert_eq!(answer.code, 10006, "member {}: {}", i + 1, answer.msg);
    }
}
