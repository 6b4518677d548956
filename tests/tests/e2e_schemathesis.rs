//! schemathesis against the node's own `/openapi.json`, on a real dev node: every generated
//! request (3,000 or so, with the operator's token so that operator endpoints run too) gets no
//! 5xx, a documented status code, the documented content type and a body of the documented
//! schema. `scripts/install-deps.sh --test` installs schemathesis from PyPI.

use std::process::Command;

use cunzheng_e2e::DevNode;

#[test]
fn e2e_schemathesis_every_answer_is_documented_and_none_is_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node")).unwrap();
    let admin = std::fs::read_to_string(node.data.join("admin.token")).unwrap();
    let out = Command::new("st")
        .args(["run", &format!("{}/openapi.json", node.credentials.api)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--max-examples",
            "30",
            "--seed",
            "20261204",
            "--no-color",
        ])
        .args(["-H", &format!("Authorization: Bearer {}", admin.trim())])
        .current_dir(dir.path())
        .output()
        .expect("schemathesis runs (scripts/install-deps.sh --test installs it)");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    // "3232 generated, 3232 passed": the run reached the API, many times.
    let cases = report.lines().find(|l| l.contains(" generated, ")).unwrap_or("").trim();
    eprintln!("schemathesis: {cases}");
    let generated: u64 = cases.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(generated > 1000, "{report}");
}
