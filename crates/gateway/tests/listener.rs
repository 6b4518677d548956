//! The gateway's listener: at most `max_connections` are open at once, and the next waits
//! until one closes; a certificate or key that cannot be used is refused with its reason.

use std::time::Duration;

use axum::{routing::get, Router};
use cunzheng_gateway::listener::{tls_config, GatewayListener, TlsError};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn request(stream: &mut TcpStream) {
    stream.write_all(b"GET / HTTP/1.1\r\nhost: gateway\r\n\r\n").await.unwrap();
}

/// Reads one whole answer of the test route ("ok" as its body).
async fn answer(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let listener = GatewayListener::bind("127.0.0.1:0", 2, None).await.unwrap();
    let addr = axum::serve::Listener::local_addr(&listener).unwrap();
    let app = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Two kept-alive connections take both places.
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    for s in [&mut first, &mut second] {
        request(s).await;
        assert!(answer(s).await.starts_with("HTTP/1.1 200"));
    }

    // A third is let in by the kernel, but not served while both are open.
    let mut third = TcpStream::connect(addr).await.unwrap();
    request(&mut third).await;
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(waited.is_err(), "a connection beyond the limit was served");

    // One closes: the third is served, and the second still is.
    drop(first);
    let served = tokio::time::timeout(Duration::from_secs(10), answer(&mut third)).await;
    assert!(served.expect("served once a place was free").starts_with("HTTP/1.1 200"));
    request(&mut second).await;
    assert!(answer(&mut second).await.starts_with("HTTP/1.1 200"));
}

#[test]
fn unusable_tls_files_are_refused_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let err = tls_config(&missing, &missing).unwrap_err();
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let err = tls_config(&empty, &empty).unwrap_err();
    assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");

    // A certificate with another certificate's key.
    let one = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, one.cert.pem()).unwrap();
    std::fs::write(&key, other.key_pair.serialize_pem()).unwrap();
    let err = tls_config(&cert, &key).unwrap_err();
    assert!(matches!(err, TlsError::Config(_)), "{err}");

    std::fs::write(&key, one.key_pair.serialize_pem()).unwrap();
    assert!(tls_config(&cert, &key).is_ok());
}
