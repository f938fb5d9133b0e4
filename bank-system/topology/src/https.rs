//! HTTPS and `wss://` for the services that answer clients (the GraphQL endpoint and the UI, with `[stack]
//! tls_endpoint = true`): a listener whose connections are TLS. Each handshake runs on a task of its own with a
//! deadline, at most [`HANDSHAKES`] at once, so a client that never finishes one holds up nobody else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor, SslFiletype, SslMethod};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_openssl::SslStream;

use crate::env;
use crate::tls::TlsError;

/// How long a client may take over its handshake.
pub const HANDSHAKE: Duration = Duration::from_secs(10);
/// Handshakes under way at once; further connections wait to be accepted.
pub const HANDSHAKES: usize = 1024;

/// The certificate and key a service answers HTTPS with (`HTTPS_CERT`, `HTTPS_KEY`): both, or none for HTTP.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpsSettings {
    /// Answer HTTPS (and wss://) with this certificate (PEM) instead of HTTP.
    #[arg(long, env = env::HTTPS_CERT, requires = "https_key")]
    pub https_cert: Option<PathBuf>,
    /// The key of that certificate (PEM).
    #[arg(long, env = env::HTTPS_KEY, requires = "https_cert")]
    pub https_key: Option<PathBuf>,
}

/// Serves `router` on `tcp` within `limits` until `shutdown`, over TLS when `https` names a certificate and key.
///
/// # Errors
/// [`TlsError`] when the files are unusable, else the server's I/O error.
pub async fn serve(
    tcp: TcpListener,
    router: axum::Router,
    https: &HttpsSettings,
    limits: &crate::server::Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    match (&https.https_cert, &https.https_key) {
        (Some(cert), Some(key)) => {
            let listener = TlsListener::new(tcp, cert, key)?;
            crate::server::serve(listener, router, limits, shutdown).await.map_err(ServeError::Io)
        }
        _ => crate::server::serve(tcp, router, limits, shutdown).await.map_err(ServeError::Io),
    }
}

/// Why a service stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("serving: {0}")]
    Io(#[source] std::io::Error),
}

/// TCP connections whose TLS handshake completed, for `axum::serve`.
pub struct TlsListener {
    accepted: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts on `tcp` with `cert` and `key`.
    ///
    /// # Errors
    /// [`ServeError::Tls`] naming the file OpenSSL refused, [`ServeError::Io`] when the socket has no address.
    pub fn new(tcp: TcpListener, cert: &Path, key: &Path) -> Result<TlsListener, ServeError> {
        let bad = |path: &Path| {
            let path = path.to_path_buf();
            move |e: openssl::error::ErrorStack| TlsError::Bad { path, reason: e.to_string() }
        };
        let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(bad(cert))?;
        builder.set_certificate_chain_file(cert).map_err(bad(cert))?;
        builder.set_private_key_file(key, SslFiletype::PEM).map_err(bad(key))?;
        builder.check_private_key().map_err(bad(key))?;
        let local = tcp.local_addr().map_err(ServeError::Io)?;
        let (sender, accepted) = mpsc::channel(64);
        let accepting = tokio::spawn(accept(tcp, Arc::new(builder.build()), sender));
        Ok(TlsListener { accepted, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

async fn accept(
    tcp: TcpListener,
    acceptor: Arc<SslAcceptor>,
    accepted: mpsc::Sender<(SslStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
        let (stream, peer) = match tcp.accept().await {
            Ok(connection) => connection,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (acceptor, accepted) = (acceptor.clone(), accepted.clone());
        tokio::spawn(async move {
            let handshake = async {
                let mut stream = SslStream::new(Ssl::new(acceptor.context()).ok()?, stream).ok()?;
                Pin::new(&mut stream).accept().await.ok()?;
                Some(stream)
            };
            match tokio::time::timeout(HANDSHAKE, handshake).await {
                Ok(Some(stream)) => {
                    drop(permit);
                    let _ = accepted.send((stream, peer)).await;
                }
                _ => tracing::debug!(%peer, "TLS handshake failed or took longer than {HANDSHAKE:?}"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accepting task ended (only when dropped): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::X509;
    use tokio::io::AsyncWriteExt;

    /// A self-signed certificate for 127.0.0.1, written as PEM files: (folder, cert, key, the certificate).
    fn self_signed() -> (tempfile::TempDir, PathBuf, PathBuf, Vec<u8>) {
        let key = PKey::from_ec_key(
            openssl::ec::EcKey::generate(
                &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        let mut cert = X509::builder().unwrap();
        cert.set_version(2).unwrap();
        cert.set_subject_name(&name).unwrap();
        cert.set_issuer_name(&name).unwrap();
        cert.set_pubkey(&key).unwrap();
        cert.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        cert.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        let san = SubjectAlternativeName::new().ip("127.0.0.1").build(&cert.x509v3_context(None, None)).unwrap();
        cert.append_extension(san).unwrap();
        cert.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        let pem = cert.build().to_pem().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert_path, &pem).unwrap();
        std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (dir, cert_path, key_path, pem)
    }

    #[tokio::test]
    async fn answers_https_only_and_a_client_stuck_in_its_handshake_holds_up_nobody() {
        let (_dir, cert, key, pem) = self_signed();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let https = HttpsSettings { https_cert: Some(cert), https_key: Some(key) };
        let server = tokio::spawn(async move {
            serve(tcp, crate::service::health_router(), &https, &Default::default(), std::future::pending()).await
        });

        // Connected, never says a word: with the handshake in accept(), every later client would wait on it.
        let mut stuck = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stuck.write_all(b"\x16\x03\x01").await.unwrap();
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let answer = client.get(format!("https://127.0.0.1:{port}/health")).send().await.expect("answered over HTTPS");
        assert_eq!(answer.text().await.unwrap(), "ok");
        let plain = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let refused = plain.get(format!("http://127.0.0.1:{port}/health")).send().await;
        assert!(refused.is_err(), "plaintext HTTP gets no answer: {refused:?}");
        server.abort();
    }

    #[tokio::test]
    async fn unusable_files_are_an_error_naming_the_file() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let https = HttpsSettings {
            https_cert: Some("/nonexistent/tls.crt".into()),
            https_key: Some("/nonexistent/tls.key".into()),
        };
        let err = serve(tcp, crate::service::health_router(), &https, &Default::default(), std::future::pending())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/tls.crt"), "{err}");
    }
}
