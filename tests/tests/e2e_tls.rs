//! The gateway over TLS: a dev node given a certificate and key speaks HTTPS only. A client
//! that trusts the certificate deposits and reads through it, `cunzheng submit --ca-cert`
//! does too, and a client that does not trust it, plain HTTP, or a handshake that never ends
//! gets nothing and holds up no one.

use std::{io::Write, os::unix::fs::PermissionsExt, process::Command};

use cunzheng_e2e::{bin, DevNode};
use cunzheng_types::{record::Endpoint, unix_now};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2e_tls_the_gateway_speaks_https_with_its_certificate_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (certified.cert.pem(), certified.key_pair.serialize_pem());
    let (cert, key) = (dir.path().join("gateway.crt"), dir.path().join("gateway.key"));
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, &key_pem).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
    let node = DevNode::start_with(&dir.path().join("node"), &tls).unwrap();
    let api = node.credentials.api.clone();
    assert!(api.starts_with("https://127.0.0.1:"), "{api}");

    // A handshake that is started and never finished holds up no other client.
    let addr = api.trim_start_matches("https://").to_owned();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).unwrap();

    let client = node.client().trusting(cert_pem.as_bytes()).unwrap();
    let voice = Endpoint::from_kind("voice.consent").unwrap();
    let list = [
        json!({"phone": "0123456789ABCDEF0123456789ABCDEF", "deposit_hash": "tls1", "sign_time": unix_now() - 5}),
    ];
    let ts = unix_now();
    let ids = client.tx_ids(voice, &list, ts).unwrap();
    let answer = client.deposit_at(voice, &list, ts).await.unwrap();
    assert_eq!(answer.code, 0, "{answer:?}");
    assert!(client.tx(&ids[0]).await.unwrap().is_some());

    // Without the certificate among its roots, a client refuses the gateway.
    let error = node.client().status().await.unwrap_err();
    assert!(format!("{error:?}").contains("UnknownIssuer"), "{error:?}");
    // Plain HTTP on the same port gets no answer.
    let plain = cunzheng_client::Client::new(&api.replace("https://", "http://"), "demo", "x");
    assert!(plain.status().await.is_err());
    drop(stalled);

    // The command-line tool, told to trust the certificate.
    let csv = dir.path().join("consents.csv");
    let rows: String =
        (0..20).map(|i| format!("{i:032x},tlscli{i},{}\n", unix_now() - 60)).collect();
    std::fs::write(&csv, format!("phone,deposit_hash,sign_time\n{rows}")).unwrap();
    let out = Command::new(bin("cunzheng"))
        .args(["submit", "--quiet", "--endpoint", "/voice/add", "--credentials"])
        .arg(node.data.join("dev-credentials.json"))
        .arg("--ca-cert")
        .arg(&cert)
        .arg(&csv)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
}
