//! `cunzheng submit` of 100,000 records from a CSV leaves every record findable.

use std::{io::Write, process::Command};

use cunzheng_e2e::{bin, missing, DevNode};
use cunzheng_types::{record::Endpoint, unix_now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_submit_100k_records_from_csv_all_findable() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node")).unwrap();
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
        json!(N + 1),
        "the demo client's registration and the records"
    );
}
