//! The soak: a random member of four is killed with SIGKILL every few seconds, 20 times, while
//! four writers deposit through both operator nodes. Every acknowledged record is on every
//! member at the end, every member's chain verifies from genesis, and all heads are equal.

use std::time::{Duration, Instant};

use cunzheng_e2e::{agree, missing, Consortium, ConsortiumOptions, Load};
use rand::Rng;

const READY: Duration = Duration::from_secs(90);
const KILLS: usize = 20;

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

    let load = Load::start(&c, &[0, 1], 2, 50);

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
    let acknowledged = load.stop().await;
    eprintln!(
        "soak: {} kills (members {killed:?}) in {:.0} s, {} records acknowledged",
        killed.len(),
        started.elapsed().as_secs_f64(),
        acknowledged.len()
    );
    assert_eq!(killed.len(), KILLS);
    assert!(acknowledged.len() >= 1000, "the load acknowledged only {}", acknowledged.len());

    // All heads equal, every chain verifies, every acknowledged record on every member.
    agree(&c, &[0, 1, 2, 3], &acknowledged, READY).await.unwrap();
    for i in [0, 1] {
        assert!(missing(&c.client(i), acknowledged.clone(), 8).await.unwrap().is_empty());
    }
}
