//! The gateway's listening socket: a bound on the connections open at once, and TLS when the
//! node has a certificate.
//!
//! Connections are accepted by a task of their own. Each takes a permit of a semaphore of
//! `max_connections` before it is accepted and gives it back when it closes, so that a flood
//! of idle connections waits in the kernel's backlog instead of taking file descriptors that
//! RocksDB and the consensus network need. A TLS handshake runs in a task per connection,
//! within [`HANDSHAKE_TIMEOUT`], so that a slow client holds up no other.
//!
//! ```text
//!  TcpListener ─▶ permit ─▶ accept ─▶ (TLS handshake) ─▶ channel ─▶ axum::serve
//! ```

use std::{
    io,
    net::SocketAddr,
    path::Path,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, ToSocketAddrs},
    sync::{mpsc, OwnedSemaphorePermit, Semaphore},
    task::JoinHandle,
};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    },
    TlsAcceptor,
};
use tracing::{debug, warn};

pub use tokio_rustls::rustls::ServerConfig;

/// Longest a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted connections waiting for the server to take them.
const QUEUE: usize = 64;

/// Why the TLS certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {error}")]
    Read { path: String, error: io::Error },
    #[error("{0} holds no PEM certificate")]
    NoCertificate(String),
    #[error("{path}: {error}")]
    Pem { path: String, error: String },
    #[error("certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// The server side of TLS from a PEM certificate chain (the server's certificate first) and
/// its PEM private key (PKCS#8, PKCS#1 or SEC1). TLS 1.2 and 1.3, HTTP/1.1 by ALPN.
pub fn tls_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path)
            .map_err(|error| TlsError::Read { path: path.display().to_string(), error })
    };
    let pem_error = |path: &Path, error: rustls::pki_types::pem::Error| TlsError::Pem {
        path: path.display().to_string(),
        error: error.to_string(),
    };
    let certs = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(cert, e))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert.display().to_string()));
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| pem_error(key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The gateway's listener, for `axum::serve`.
pub struct GatewayListener {
    accepted: mpsc::Receiver<(Connection, SocketAddr)>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for GatewayListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayListener").field("local", &self.local).finish_non_exhaustive()
    }
}

impl GatewayListener {
    /// Binds `addr`; at most `max_connections` are open at once; TLS when `tls` is given.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        max_connections: usize,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> io::Result<GatewayListener> {
        let tcp = TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        let (tx, accepted) = mpsc::channel(QUEUE);
        let permits = Arc::new(Semaphore::new(max_connections.max(1)));
        let tls = tls.map(TlsAcceptor::from);
        let task = tokio::spawn(accept_loop(tcp, permits, tls, tx));
        Ok(GatewayListener { accepted, local, task })
    }
}

impl Drop for GatewayListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    tcp: TcpListener,
    permits: Arc<Semaphore>,
    tls: Option<TlsAcceptor>,
    tx: mpsc::Sender<(Connection, SocketAddr)>,
) {
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was taken.
                warn!(target: "http", error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match &tls {
            None => {
                if tx.send((Connection::new(stream, permit), peer)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((Connection::new(stream, permit), peer)).await;
                        }
                        Ok(Err(e)) => {
                            debug!(target: "http", %peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => debug!(target: "http", %peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

impl axum::serve::Listener for GatewayListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The address a connection came from, as handlers read it (`ConnectInfo<Peer>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, GatewayListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, GatewayListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One open connection, plain or TLS, holding its permit until it is dropped.
pub struct Connection {
    stream: Box<dyn Stream>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    fn new(
        stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Connection { stream: Box::new(stream), _permit: permit }
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
