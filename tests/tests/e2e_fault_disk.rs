//! A data directory on a small tmpfs that fills up: the node refuses deposits with 20001 and
//! stores nothing of them, keeps answering reads, takes deposits again once space returns, and
//! its chain verifies from genesis with every acknowledged record in it. Needs root to mount
//! the tmpfs (CI runs as root).

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use cunzheng_e2e::{missing, verify_chain, DevNode};
use cunzheng_types::{record::Endpoint, Hash};
use serde_json::json;

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "mounting a tmpfs at {} needs root", at.display());
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["-B1", "--output=avail"]).arg(dir).output().unwrap();
    String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().trim().parse().unwrap()
}

fn consents(from: u64, n: u64) -> Vec<serde_json::Value> {
    let now = cunzheng_types::unix_now();
    (from..from + n)
        .map(|i| json!({"phone": format!("{:032X}", i), "deposit_hash": format!("disk{i}"), "sign_time": now - 60}))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_fault_disk_full_refuses_deposits_stays_readable_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let _tmpfs = Tmpfs::mount(&disk, "400m");
    let node = DevNode::start(&disk.join("node")).unwrap();
    let client = node.client();
    let voice = Endpoint::from_kind("voice.consent").unwrap();

    let mut acknowledged: Vec<Hash> = Vec::new();
    let first = consents(0, 100);
    let answer = client.deposit(voice, &first).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);
    acknowledged.extend(client.tx_ids(voice, &first, 0).unwrap());

    // Fill the file system to 64 MiB free, under the node's 128 MiB floor.
    let filler = disk.join("filler");
    {
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 8 << 20];
        while free_bytes(&disk) > (64 << 20) + chunk.len() as u64 {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let refused = client.deposit(voice, &consents(1000, 10)).await.unwrap();
    assert_eq!(refused.code, 20001, "{}", refused.msg);
    assert!(refused.msg.contains("free"), "{}", refused.msg);
    for id in client.tx_ids(voice, &consents(1000, 10), 0).unwrap() {
        assert!(
            client.tx(&id).await.unwrap().is_none_or(|a| a.code != 0),
            "a refused record was stored"
        );
    }
    // Still readable.
    assert!(missing(&client, acknowledged.clone(), 4).await.unwrap().is_empty());
    let status = status_body(&node.credentials.api).await;
    assert!(status.contains("\"height\""), "{status}");

    // Space returns: deposits are taken again.
    std::fs::remove_file(&filler).unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let again = consents(2000, 100);
    let answer = client.deposit(voice, &again).await.unwrap();
    assert_eq!(answer.code, 0, "{}", answer.msg);

    let (height, ids) = verify_chain(&client, &node.genesis().unwrap()).await.unwrap();
    assert!(height > 0);
    assert!(missing(&client, acknowledged, 4).await.unwrap().is_empty());
    assert!(ids.len() >= 200);
    drop(node);
}

async fn status_body(api: &str) -> String {
    let out = Command::new("curl").args(["-s", &format!("{api}/v1/status")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
