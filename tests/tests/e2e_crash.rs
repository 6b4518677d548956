//! A dev node killed with SIGKILL under load loses no acknowledged record, and its chain
//! verifies from genesis after the restart.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use cunzheng_e2e::{missing, verify_chain, DevNode};
use cunzheng_types::{record::Endpoint, unix_now, Hash};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_sigkill_under_load_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let mut node = DevNode::start(&data).unwrap();
    let client = node.client();
    let endpoint = Endpoint::ALL[0];

    // Four writers deposit fresh records until the node disappears.
    let acknowledged: Arc<Mutex<Vec<Hash>>> = Arc::default();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (client, acknowledged) = (client.clone(), acknowledged.clone());
        writers.spawn(async move {
            for call in 0.. {
                let list: Vec<_> = (0..200)
                    .map(|i| json!({"phone": format!("{:032X}", w * 1_000_000 + call * 1000 + i), "deposit_hash": format!("w{w}c{call}i{i}"), "sign_time": unix_now() - 5}))
                    .collect();
                let ts = unix_now();
                let ids = client.tx_ids(endpoint, &list, ts).unwrap();
                match client.deposit_at(endpoint, &list, ts).await {
                    Ok(a) if a.code == 0 => acknowledged.lock().unwrap().extend(ids),
                    Ok(_) => {}
                    Err(_) => return call,
                }
            }
            unreachable!()
        });
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    node.kill();
    while writers.join_next().await.is_some() {}
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(acknowledged.len() >= 200, "the load acknowledged only {} records", acknowledged.len());

    // Restarted on the same data, the node holds every acknowledged record.
    let mut node = DevNode::start(&data).unwrap();
    let client = node.client();
    let lost = missing(&client, acknowledged.clone(), 16).await.unwrap();
    assert!(lost.is_empty(), "{} of {} acknowledged records lost", lost.len(), acknowledged.len());

    let (height, ids) = verify_chain(&client, &node.genesis().unwrap()).await.unwrap();
    assert!(height >= 2);
    let in_chain: std::collections::HashSet<Hash> = ids.into_iter().collect();
    assert!(acknowledged.iter().all(|id| in_chain.contains(id)));

    // It still takes deposits, and stops cleanly on SIGTERM.
    let list = vec![
        json!({"phone": "C6AAA43716949506D38CF6A1BAA2F576", "deposit_hash": "after", "sign_time": unix_now()}),
    ];
    assert_eq!(client.deposit(endpoint, &list).await.unwrap().code, 0);
    assert!(node.terminate().unwrap(), "the node did not exit cleanly on SIGTERM");
}
