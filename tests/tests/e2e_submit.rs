//! `cunzheng submit` of 100,000 records from a CSV leaves every record findable, and
//! `cunzheng verify-chain` replays that chain, through the API and from the stopped node's
//! data, and names a block whose bytes were edited on disk.

use std::{io::Write, process::Command};

use cunzheng_e2e::{bin, cunzheng, missing, DevNode};
use cunzheng_types::{record::Endpoint, unix_now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_submit_100k_records_from_csv_all_findable_and_the_chain_replays() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(&dir.path().join("node")).unwrap();
    let client = node.client();
    let endpoint = Endpoint::ALL[3];

    let sign_time = unix_now() - 3600;
    let csv = dir.path().join("consents.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
    writeln!(f, "phone,deposit_hash,sign_time").unwrap();
    let mut list = Vec::with_capacity(N);
    for i in 0..N {
        let (phone, deposit) = (format!("{i:032x}"), format!("consent{i}"));
        writeln!(f, "{phone},{deposit},{sign_time}").unwrap();
        list.push(json!({"phone": phone, "deposit_hash": deposit, "sign_time": sign_time}));
    }
    drop(f);

    let out = Command::new(bin("cunzheng"))
        .args([
            "submit",
            "--quiet",
            "--endpoint",
            "/sms/add",
            "--concurrency",
            "4",
            "--credentials",
        ])
        .arg(node.data.join("dev-credentials.json"))
        .arg(&csv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "submit failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("{N} stored, 0 refused")), "{stdout}");

    let ids = client.tx_ids(endpoint, &list, unix_now()).unwrap();
    let lost = missing(&client, ids, 32).await.unwrap();
    assert!(lost.is_empty(), "{} of {N} records not findable", lost.len());
    let status = client.status().await.unwrap();
    assert_eq!(
        status.data["log_size"],
        json!(N + 2),
        "the demo client's registration, its filing and the records"
    );

    let head = status.data["height"].as_u64().unwrap();

    // Through the public API: headers, certificates, ids and the log.
    let genesis = node.data.join("genesis.json");
    let (ok, text) = verify_chain(&["--api", &node.credentials.api], &genesis);
    assert!(ok, "{text}");
    // Empty blocks may be decided meanwhile: the log holds exactly the records.
    assert!(text.contains(&format!(" blocks, {} transactions in the log", N + 2)), "{text}");

    // From the stopped node's data: every transaction's bytes too.
    assert!(node.terminate().unwrap());
    let data = node.data.to_str().unwrap();
    let (ok, text) = verify_chain(&["--data", data], &genesis);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("{} transactions decoded and checked", N + 2)), "{text}");

    // One header's time edited in the database: the replay stops at that height.
    let edited = head / 2 + 1;
    edit_header_time(&node.data.join("chain"), edited);
    let (ok, text) = verify_chain(&["--data", data], &genesis);
    assert!(!ok, "an edited block passed: {text}");
    assert!(
        text.contains(&format!("invalid at height {edited}: block {edited} certificate")),
        "{text}"
    );
}

/// `cunzheng verify-chain ARGS --genesis GENESIS`: success, and what it printed.
fn verify_chain(args: &[&str], genesis: &std::path::Path) -> (bool, String) {
    let genesis = genesis.to_str().unwrap();
    cunzheng(["verify-chain"].iter().chain(args).chain(&["--genesis", genesis]))
}

/// Rewrites the stored header of block `height` with its time one millisecond later, as an
/// edit of the database on disk would.
fn edit_header_time(db: &std::path::Path, height: u64) {
    let names = rocksdb::DB::list_cf(&rocksdb::Options::default(), db).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), db, &names).unwrap();
    let blocks = db.cf_handle("blocks").unwrap();
    let key = height.to_be_bytes();
    let mut header: serde_json::Value =
        serde_json::from_slice(&db.get_cf(blocks, key).unwrap().unwrap()).unwrap();
    header["time"] = json!(header["time"].as_u64().unwrap() + 1);
    db.put_cf(blocks, key, serde_json::to_vec(&header).unwrap()).unwrap();
}
