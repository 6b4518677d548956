//! The soak: a random member of four is killed with SIGKILL every few seconds, 20 times, while
//! four writers deposit through both operator nodes. Every acknowledged record is on every
//! member at the end, every member's chain verifies from genesis, and all heads are equal.

use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use cunzheng_e2e::{missing, verify_chain, Consortium, ConsortiumOptions};
use cunzheng_types::{record::Endpoint, unix_now, Hash};
use rand::Rng;
use serde_json::{json, Value};

const VOICE_ADD: Endpoint = Endpoint::ALL[0];
const READY: Duration = Duration::from_secs(90);
const KILLS: usize = 20;

fn consents(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"phone": format!("{:032X}", i), "deposit_hash": format!("{tag}x{i}"), "sign_time": unix_now() - 5}))
        .collect()
}

/// Waits until member `i` answers: an operator node (0, 1) once it authenticates the demo
/// client, another member once it serves its head.
async fn up(c: &Consortium, i: usize) {
    if i < 2 {
        return c.wait_ready(i, READY).await.unwrap();
    }
    let deadline = Instant::now() + READY;
    while c.head(i).await.is_none() {
        assert!(Instant::now() < deadline, "member {i} did not come back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until member `i` has the height the highest of the others has now.
async fn caught_up(c: &Consortium, i: usize) {
    let mut top = 0;
    for j in 0..4 {
        if j != i {
            if let Some((h, _)) = c.head(j).await {
                top = top.max(h);
            }
        }
    }
    c.wait_height(i, top, READY).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_soak_sigkill_a_random_member_20_times_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Consortium::new(dir.path(), 4, ConsortiumOptions::default()).unwrap();
    c.start_members().unwrap();
    for i in 0..4 {
        up(&c, i).await;
    }

    let acknowledged: Arc<Mutex<Vec<Hash>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let client = c.client(w % 2);
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.spawn(async move {
            let mut call = 0;
            while !stop.load(Ordering::Relaxed) {
                let list = consents(&format!("soak{w}c{call}"), 50);
                let ts = unix_now();
                let ids = client.tx_ids(VOICE_ADD, &list, ts).unwrap();
                match client.deposit_at(VOICE_ADD, &list, ts).await {
                    Ok(a) if a.code == 0 => acknowledged.lock().unwrap().extend(ids),
                    // Its node is down or the call timed out: nothing was acknowledged.
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
                call += 1;
            }
        });
    }

    let started = Instant::now();
    let mut rng = rand::thread_rng();
    let mut killed = Vec::new();
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1000..2500))).await;
        let i = rng.gen_range(0..4);
        c.kill(i);
        killed.push(i);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2000))).await;
        c.start(i).unwrap();
        up(&c, i).await;
        caught_up(&c, i).await;
    }
    stop.store(true, Ordering::Relaxed);
    while writers.join_next().await.is_some() {}
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    eprintln!(
        "soak: {} kills (members {killed:?}) in {:.0} s, {} records acknowledged",
        killed.len(),
        started.elapsed().as_secs_f64(),
        acknowledged.len()
    );
    assert_eq!(killed.len(), KILLS);
    assert!(acknowledged.len() >= 1000, "the load acknowledged only {}", acknowledged.len());

    // All heads equal, every chain verifies, every acknowledged record on every member.
    let mut top = 0;
    for i in 0..4 {
        top = top.max(c.head(i).await.unwrap().0);
    }
    for i in 0..4 {
        c.wait_height(i, top, READY).await.unwrap();
    }
    let hashes = c.block_hashes(&[0, 1, 2, 3], top).await.unwrap();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "heads differ at {top}: {hashes:?}");
    for i in 0..4 {
        let (_, ids) = verify_chain(&c.client(i), &c.genesis).await.unwrap();
        let chain: HashSet<Hash> = ids.into_iter().collect();
        let lost = acknowledged.iter().filter(|id| !chain.contains(id)).count();
        assert_eq!(lost, 0, "member {i}'s chain lacks {lost} acknowledged records");
    }
    for i in [0, 1] {
        assert!(missing(&c.client(i), acknowledged.clone(), 8).await.unwrap().is_empty());
    }
}
