//! The evidence certificate (HTML and PDF) and the verification page in a real browser:
//! headless Chromium opens the page the certificate links to, checks the bundle with WebCrypto,
//! and says valid; a tampered bundle in the same page says invalid.

use std::process::Command;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use cunzheng_e2e::DevNode;
use cunzheng_types::{canonical::to_jcs, record::Endpoint, sha256, unix_now};
use serde_json::{json, Value};

/// The DOM of `url` after Chromium ran its scripts.
fn rendered(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=15000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("chromium runs (scripts/install-deps.sh --test installs it)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The verdict of the verification page of `api` given `bundle` and `genesis` in its address.
fn verdict_for(api: &str, bundle: &Value, genesis: &Value) -> String {
    let page = format!(
        "{api}/verify#bundle={}&genesis={}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(bundle).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(genesis).unwrap())
    );
    verdict(&rendered(&page)).to_owned()
}

/// The verdict element of a rendered verification page.
fn verdict(dom: &str) -> &str {
    let at = dom.find(r#"id="result""#).expect("the page has a result");
    &dom[at..at + dom[at..].find("</p>").unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_browser_the_verification_page_checks_a_certificates_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(&dir.path().join("node")).unwrap();
    let client = node.client();
    let now = unix_now();
    let list = vec![
        json!({"phone": "C6AAA43716949506D38CF6A1BAA2F576", "deposit_hash": "contract42", "sign_time": now - 60}),
    ];
    let id = client.tx_ids(Endpoint::ALL[0], &list, now).unwrap()[0];
    assert_eq!(client.deposit_at(Endpoint::ALL[0], &list, now).await.unwrap().code, 0);

    // The certificate names the record, its block, the signers and the bundle's digest.
    let html = client.certificate(&id).await.unwrap().expect("the owner gets its certificate");
    let bundle = client.proof(&id).await.unwrap().unwrap().data;
    let height = bundle["block"]["header"]["height"].as_u64().unwrap();
    assert!(html.contains(&id.to_hex()) && html.contains("contract42"), "{html}");
    assert!(html.contains(&format!(r#"<td id="height">{height}</td>"#)), "{html}");
    assert!(html.contains(r#"<td id="signers">dev</td>"#), "{html}");
    assert!(html.contains("<svg"), "the certificate carries a QR code");
    let digest = sha256(&[&to_jcs(&bundle).unwrap()]);
    assert!(html.contains(&format!(r#"<td id="digest">{digest}</td>"#)), "{html}");

    // The PDF states the same: its text holds the record, the block and the digest.
    let pdf = client.certificate_pdf(&id).await.unwrap().expect("the owner gets the PDF");
    let file = dir.path().join("certificate.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let out = Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    for expected in [id.to_hex(), "contract42".into(), digest.to_hex(), format!("#tx={id}")] {
        assert!(text.contains(&expected), "{expected} missing from the PDF: {text}");
    }

    // Its link opens the verification page, which checks the bundle in the browser.
    let at = html.find(r#"id="open" href=""#).unwrap() + r#"id="open" href=""#.len();
    let link = &html[at..at + html[at..].find('"').unwrap()];
    let page = format!("{}{link}", node.credentials.api);
    let dom = rendered(&page);
    assert!(verdict(&dom).contains(r#"data-result="valid""#), "{}", verdict(&dom));
    assert!(dom.contains("log_path places it at"), "every check is listed: {dom}");

    // The same page with the record's deposit hash changed says invalid, and why.
    let genesis = client.genesis().await.unwrap().data;
    let mut forged: Value = bundle.clone();
    forged["tx"]["deposit_hash"] = json!("contract43");
    let v = verdict_for(&node.credentials.api, &forged, &genesis);
    assert!(v.contains(r#"data-result="invalid""#) && v.contains("leaf hash"), "{v}");

    // A zeroed signature in the block's certificate: the page refuses the certificate.
    let mut forged: Value = bundle.clone();
    forged["block"]["certificate"]["signatures"][0]["signature"] = json!("00".repeat(64));
    let v = verdict_for(&node.credentials.api, &forged, &genesis);
    assert!(v.contains(r#"data-result="invalid""#) && v.contains("block certificate"), "{v}");

    assert!(node.terminate().unwrap());
}
