//! `cunzheng bench` and `cunzheng bench-reads` against a real dev node: every figure they
//! promise is printed and plausible (rates above zero, the node's CPU, memory and disk, the
//! machine's limits), for a consent load, a call load whose records get verdicts and the
//! mixed load.

use cunzheng_e2e::{cunzheng, DevNode};

/// The number after `label` on the line that starts with it.
fn figure(out: &str, label: &str) -> f64 {
    let line =
        out.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no {label}: {out}"));
    line[label.len()..]
        .split_whitespace()
        .find_map(|w| w.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_bench_prints_rate_latency_cpu_memory_disk_and_the_machines_limits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = DevNode::start(&data).unwrap();
    let creds = data.join("dev-credentials.json");
    let (pid, chain) = (node.pid().to_string(), data.join("chain"));
    for endpoint in ["/voice/add", "/voice/sendAddChain"] {
        let (ok, out) = cunzheng([
            "bench",
            "--credentials",
            creds.to_str().unwrap(),
            "--endpoint",
            endpoint,
            "--clients",
            "2",
            "--duration",
            "2",
            "--batch",
            "100",
            "--node-pid",
            &pid,
            "--node-data",
            chain.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
        assert!(figure(&out, "records/s") > 0.0, "{out}");
        assert!(figure(&out, "calls") > 0.0, "{out}");
        assert!(out.contains("(0 refused)"), "{out}");
        assert!(figure(&out, &format!("node {pid}")) > 0.0, "the node used no CPU: {out}");
        assert!(out.contains(" MiB (peak "), "{out}");
        assert!(figure(&out, "disk") > 0.0, "{out}");
        for limit in ["raw rocksdb", "raw sha-256", "raw json"] {
            assert!(figure(&out, limit) > 0.0, "{limit}: {out}");
        }
        assert!(figure(&out, "ratio") > 0.0, "{out}");
    }

    // The mixed load: every operation runs, nothing is refused, and memory is sampled.
    let (ok, out) = cunzheng([
        "bench",
        "--credentials",
        creds.to_str().unwrap(),
        "--mix",
        "--clients",
        "2",
        "--duration",
        "4",
        "--batch",
        "50",
        "--no-raw",
        "--node-pid",
        &pid,
        "--sample-secs",
        "1",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("(0 refused)"), "{out}");
    for op in ["consent", "call", "lookup", "proof", "withdrawal"] {
        assert!(figure(&out, &format!("  {op}")) > 0.0, "{op}: {out}");
    }
    let series = out.lines().find(|l| l.starts_with("rss MiB")).expect("an rss series");
    assert!(series.split(": ").nth(1).unwrap().split(' ').count() >= 2, "{series}");
    assert!(out.lines().any(|l| l.starts_with("records/s every 1 s: ")), "{out}");

    let (ok, out) =
        cunzheng(["bench-reads", "--credentials", creds.to_str().unwrap(), "--repeat", "2"]);
    assert!(ok, "{out}");
    for read in ["scrub", "search newest 50", "search by phone", "search by deposit hash"] {
        assert!(out.lines().any(|l| l.starts_with(read) && l.contains("median")), "{read}: {out}");
    }
}
