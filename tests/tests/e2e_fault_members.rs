//! Members that misbehave or are cut off, in a consortium of four processes under load:
//!
//! - a member stopped with SIGSTOP for a while, then resumed;
//! - a member behind a network namespace whose link is taken down, then brought back
//!   (needs root and iproute2; CI runs as root);
//! - members whose clocks run seconds apart (libfaketime), and one a minute ahead;
//! - a member whose validator key signs in two processes: the others keep both signed votes
//!   (and proposals) as evidence.
//!
//! In each, nothing acknowledged is lost, the chains verify, and the members end on one head.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use cunzheng_e2e::{agree, Consortium, ConsortiumOptions, Launch, Load};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

const READY: Duration = Duration::from_secs(90);
/// libfaketime's library for threaded programs, from Debian's `faketime` package.
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The tests here share two cores; one consortium at a time.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().await
}

/// Waits until every member answers, the operator nodes once they know the demo client.
async fn all_up(c: &Consortium) {
    for i in 0..2 {
        c.wait_ready(i, READY).await.unwrap();
    }
    for i in 2..c.members.len() {
        c.wait_height(i, 1, READY).await.unwrap();
    }
}

/// Waits until node `i` has decided `more` heights past its current head.
async fn advance(c: &Consortium, i: usize, more: u64) -> u64 {
    let (h, _) = c.head(i).await.expect("the node answers");
    c.wait_height(i, h + more, READY).await.unwrap();
    h + more
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_fault_a_member_paused_with_sigstop_resumes_and_catches_up_without_a_fork() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = Consortium::new(dir.path(), 4, ConsortiumOptions::default()).unwrap();
    c.start_members().unwrap();
    all_up(&c).await;
    let load = Load::start(&c, &[0, 1], 2, 50);
    advance(&c, 2, 3).await;

    // Silent: its connections stay open, but it reads, votes and answers nothing.
    let (paused_at, _) = c.head(2).await.unwrap();
    c.pause(2);
    let paused = Instant::now();
    let acknowledged_before = load.acknowledged();
    // The three others still make a quorum and keep deciding.
    let decided = advance(&c, 0, 20).await;
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(paused.elapsed())).await;
    let during = load.acknowledged() - acknowledged_before;
    c.resume(2);
    let silent = paused.elapsed();

    advance(&c, 0, 5).await;
    let acknowledged = load.stop().await;
    let top = agree(&c, &[0, 1, 2, 3], &acknowledged, READY).await.unwrap();
    eprintln!(
        "sigstop: member 3 silent {:.1} s from height {paused_at} while the others reached {decided} \
         and acknowledged {during} records; {} acknowledged in all, every member at {top}",
        silent.as_secs_f64(),
        acknowledged.len()
    );
    assert!(during > 0, "nothing was acknowledged while a member was silent");
    assert!(top > decided);
}

/// A network namespace joined to this one by a veth pair, removed on drop. Inside it is
/// `10.213.<n>.2`, on this side `10.213.<n>.1`; a blackhole route keeps packets for the
/// inside from leaving by another interface while the link is down.
struct Netns {
    name: String,
    link: String,
    subnet: String,
}

/// `ip` with `args`, for cleaning up: whatever is already gone is fine.
fn ip_quietly(args: &[&str]) {
    let _ = Command::new("ip").args(args).stderr(std::process::Stdio::null()).status();
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("iproute2's ip runs");
    assert!(
        out.status.success(),
        "ip {} failed (this test needs root): {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    fn create() -> Netns {
        let n = 20 + std::process::id() % 200;
        let (name, link, inner) = (format!("czns{n}"), format!("czh{n}"), format!("czn{n}"));
        let subnet = format!("10.213.{n}.0/24");
        ip_quietly(&["netns", "del", &name]);
        ip_quietly(&["link", "del", &link]);
        ip_quietly(&["route", "del", "blackhole", &subnet]);
        ip(&["netns", "add", &name]);
        let ns = Netns { name, link, subnet };
        ip(&["link", "add", &ns.link, "type", "veth", "peer", "name", &inner]);
        ip(&["link", "set", &inner, "netns", &ns.name]);
        ip(&["addr", "add", &format!("10.213.{n}.1/24"), "dev", &ns.link]);
        ip(&["link", "set", &ns.link, "up"]);
        ip(&["route", "add", "blackhole", &ns.subnet, "metric", "4000"]);
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all);
        };
        inside(&["addr", "add", &format!("10.213.{n}.2/24"), "dev", &inner]);
        inside(&["link", "set", &inner, "up"]);
        inside(&["link", "set", "lo", "up"]);
        ns
    }

    fn outside(&self) -> String {
        self.subnet.replace(".0/24", ".1")
    }

    fn inside(&self) -> String {
        self.subnet.replace(".0/24", ".2")
    }

    fn link(&self, up: bool) {
        ip(&["link", "set", &self.link, if up { "up" } else { "down" }]);
    }

    /// The head height of the node whose API is `api`, asked from inside the namespace.
    fn height_inside(&self, api: &str) -> u64 {
        let script = format!(
            "import json, urllib.request; print(json.load(urllib.request.urlopen('{api}/v1/status', timeout=5))['data']['height'])"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-c", &script])
            .output()
            .expect("python3 runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().parse().unwrap_or_else(|_| panic!("no height from {api}: {text}"))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        ip_quietly(&["netns", "del", &self.name]);
        ip_quietly(&["link", "del", &self.link]);
        ip_quietly(&["route", "del", "blackhole", &self.subnet]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_fault_a_member_cut_off_by_its_network_link_rejoins_without_a_fork() {
    let _serial = serial().await;
    let ns = Netns::create();
    let dir = tempfile::tempdir().unwrap();
    let ips = vec![ns.outside(), ns.outside(), ns.outside(), ns.inside()];
    let options = ConsortiumOptions { ips, ..ConsortiumOptions::default() };
    let mut c = Consortium::new(dir.path(), 4, options).unwrap();
    for i in 0..3 {
        c.start(i).unwrap();
    }
    let wrapper = ["ip", "netns", "exec", ns.name.as_str()];
    c.launch(3, Launch { wrapper: &wrapper, ..Launch::default() }).unwrap();
    all_up(&c).await;
    let load = Load::start(&c, &[0, 1], 2, 50);
    advance(&c, 3, 3).await;

    // The cable is pulled: the member inside is still running, and alone.
    let (cut_at, _) = c.head(3).await.unwrap();
    ns.link(false);
    let cut = Instant::now();
    let decided = advance(&c, 0, 20).await;
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(cut.elapsed())).await;
    // Alone, it decided nothing the others did not: at most the height it was deciding.
    let alone = ns.height_inside(&c.members[3].api());
    assert!(alone <= cut_at + 1, "a member cut off went from {cut_at} to {alone}");
    ns.link(true);
    let away = cut.elapsed();

    advance(&c, 0, 5).await;
    let acknowledged = load.stop().await;
    let top = agree(&c, &[0, 1, 2, 3], &acknowledged, READY).await.unwrap();
    eprintln!(
        "netns: member 4 cut off {:.1} s at height {cut_at} (still {alone} before the link came back) \
         while the others reached {decided}; {} acknowledged, every member at {top}",
        away.as_secs_f64(),
        acknowledged.len()
    );
    assert!(top > decided);
}

/// The proposer and the time of every block up to `top`, as node 0 serves them.
async fn headers(c: &Consortium, top: u64) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for h in 1..=top {
        let b = c.client(0).block(h).await.unwrap().expect("a decided block");
        let header = &b.data["header"];
        let proposer = header["proposer"].as_str().expect("a proposer").to_owned();
        out.push((proposer, header["time"].as_u64().expect("a time")));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_fault_members_with_clocks_seconds_apart_decide_and_a_minute_ahead_is_refused() {
    let _serial = serial().await;
    assert!(std::path::Path::new(FAKETIME).exists(), "{FAKETIME} is missing: install faketime");
    let dir = tempfile::tempdir().unwrap();
    let mut c = Consortium::new(dir.path(), 4, ConsortiumOptions::default()).unwrap();
    // Member 1 keeps the true time; 2 runs 4 s ahead, 3 runs 4 s behind, 4 a minute ahead.
    // Timers (the monotonic clock) run true everywhere, as they do on a skewed machine.
    let skews = ["", "+4", "-4", "+60"];
    for (i, skew) in skews.iter().enumerate() {
        let env =
            [("LD_PRELOAD", FAKETIME), ("FAKETIME", skew), ("FAKETIME_DONT_FAKE_MONOTONIC", "1")];
        let env = if skew.is_empty() { &[][..] } else { &env[..] };
        c.launch(i, Launch { env, ..Launch::default() }).unwrap();
    }
    all_up(&c).await;
    let load = Load::start(&c, &[0, 1], 2, 50);
    advance(&c, 0, 40).await;
    let acknowledged = load.stop().await;
    let top = agree(&c, &[0, 1, 2, 3], &acknowledged, READY).await.unwrap();

    let key = |i: usize| hex::encode(c.members[i].key.verifying_key().as_bytes());
    let blocks = headers(&c, top).await;
    let by = |i: usize| blocks.iter().filter(|(p, _)| *p == key(i)).count();
    let counts: Vec<usize> = (0..4).map(by).collect();
    eprintln!("clock skew: {top} blocks, proposed by members 1-4: {counts:?}");
    // Seconds apart: the members ahead and behind each had blocks decided.
    assert!(counts[1] > 0 && counts[2] > 0, "blocks by member: {counts:?}");
    // A minute ahead: every block it proposed was refused, and each member says why.
    assert_eq!(counts[3], 0, "a block timed a minute ahead was decided");
    for i in 0..3 {
        assert!(
            c.log(i).contains("ahead of this member's clock"),
            "member {} did not refuse",
            i + 1
        );
    }
    // Block times only go forward, whoever proposed.
    assert!(blocks.windows(2).all(|w| w[0].1 < w[1].1));
}

/// Checks one signed message of a statement with `key`.
fn signed_by(message: &Value, key: &VerifyingKey) -> bool {
    let bytes = hex::decode(message["signed_bytes"].as_str().unwrap_or_default()).unwrap();
    let signature = hex::decode(message["signature"].as_str().unwrap_or_default()).unwrap();
    let Ok(signature) = Signature::from_slice(&signature) else { return false };
    key.verify(&bytes, &signature).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_fault_a_member_signing_two_votes_at_one_height_is_kept_as_evidence() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let options = ConsortiumOptions { full_nodes: 1, ..ConsortiumOptions::default() };
    let mut c = Consortium::new(dir.path(), 4, options).unwrap();
    // Member 4's key also signs in a second process. With no load, the two processes build
    // their blocks after the same idle wait, so at each height member 4 proposes, two
    // different proposals and two different prevotes of it reach the others at once.
    c.double_signer(0, 3).unwrap();
    c.start_members().unwrap();
    c.start(4).unwrap();
    all_up(&c).await;

    let deadline = Instant::now() + READY;
    let statements = loop {
        let answer = c.client(0).evidence(100).await.unwrap();
        let found = answer.data["evidence"].as_array().cloned().unwrap_or_default();
        if !found.is_empty() {
            break found;
        }
        assert!(Instant::now() < deadline, "no evidence within {READY:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // The chain goes on under load with the double signer in it.
    let load = Load::start(&c, &[0, 1], 1, 20);
    advance(&c, 0, 3).await;
    let acknowledged = load.stop().await;
    agree(&c, &[0, 1, 2, 3], &acknowledged, READY).await.unwrap();

    let (name, key) = (c.members[3].name.as_str(), c.members[3].key.verifying_key());
    let votes: Vec<&Value> = statements.iter().filter(|s| s["kind"] == "double_vote").collect();
    let proposals = statements.len() - votes.len();
    eprintln!(
        "evidence: {} statements, {} of double votes, {proposals} of double proposals",
        statements.len(),
        votes.len()
    );
    assert!(!votes.is_empty(), "{statements:?}");
    for s in &votes {
        assert_eq!(s["member"]["name"], name, "{s}");
        assert_eq!(s["member"]["public_key"], hex::encode(key.as_bytes()), "{s}");
        let (first, second) = (&s["first"], &s["second"]);
        // Two votes of one height, round and step, for different blocks (one may be nil).
        assert_ne!(first["block_hash"], second["block_hash"], "{s}");
        assert_ne!(first["signed_bytes"], second["signed_bytes"], "{s}");
        assert!(signed_by(first, &key) && signed_by(second, &key), "{s}");
        let height = s["height"].as_u64().unwrap();
        assert!(height >= 1, "{s}");
    }
    // The other honest members keep evidence of member 4 too.
    for i in 1..3 {
        let deadline = Instant::now() + READY;
        loop {
            let answer = c.client(i).evidence(100).await.unwrap();
            let theirs = answer.data["evidence"].as_array().cloned().unwrap_or_default();
            if theirs.iter().any(|s| s["member"]["name"] == name) {
                break;
            }
            assert!(Instant::now() < deadline, "member {} kept no evidence", i + 1);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
