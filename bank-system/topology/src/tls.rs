//! TLS for the bank's clients and bench's own: the CA a client trusts and the certificate and key it proves
//! itself with, as PEM files, applied alike to librdkafka, PostgreSQL and HTTP clients. No files anywhere means
//! plaintext, as the stack runs by default.

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
use rdkafka::ClientConfig;

use crate::env;

/// Why a client's TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the TLS file {path} is not usable: {reason}")]
    Bad { path: PathBuf, reason: String },
}

/// A client's TLS files (PEM): the CA it trusts, and its own certificate and (PKCS#8) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The names of the three files in a folder of TLS material, as bench writes them for every part.
pub const CA_FILE: &str = "ca.crt";
pub const CERT_FILE: &str = "tls.crt";
pub const KEY_FILE: &str = "tls.key";

impl ClientTls {
    /// The files of `folder`: [`CA_FILE`], [`CERT_FILE`], [`KEY_FILE`].
    pub fn in_folder(folder: &Path) -> ClientTls {
        ClientTls { ca: folder.join(CA_FILE), cert: folder.join(CERT_FILE), key: folder.join(KEY_FILE) }
    }

    /// librdkafka over TLS with these files; librdkafka checks the broker's name (`https`) by default.
    pub fn kafka(&self, config: &mut ClientConfig) {
        config
            .set("security.protocol", "ssl")
            .set("ssl.ca.location", self.ca.display().to_string())
            .set("ssl.certificate.location", self.cert.display().to_string())
            .set("ssl.key.location", self.key.display().to_string());
    }

    /// A PostgreSQL connector that verifies the server against the CA (chain and name) and shows the client
    /// certificate.
    ///
    /// # Errors
    /// [`TlsError`] naming the file OpenSSL refused.
    pub fn postgres(&self) -> Result<postgres_openssl::MakeTlsConnector, TlsError> {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(bad(&self.ca))?;
        builder.set_ca_file(&self.ca).map_err(bad(&self.ca))?;
        builder.set_certificate_chain_file(&self.cert).map_err(bad(&self.cert))?;
        builder.set_private_key_file(&self.key, SslFiletype::PEM).map_err(bad(&self.key))?;
        builder.check_private_key().map_err(bad(&self.key))?;
        Ok(postgres_openssl::MakeTlsConnector::new(builder.build()))
    }

    /// `builder` trusting only the CA and showing the client certificate.
    ///
    /// # Errors
    /// [`TlsError`] naming the file that is unreadable or not PEM.
    pub fn http(&self, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, TlsError> {
        let ca = reqwest::Certificate::from_pem(&read(&self.ca)?).map_err(bad(&self.ca))?;
        let identity =
            reqwest::Identity::from_pkcs8_pem(&read(&self.cert)?, &read(&self.key)?).map_err(bad(&self.key))?;
        Ok(builder.tls_built_in_root_certs(false).add_root_certificate(ca).identity(identity))
    }
}

fn bad<E: std::fmt::Display>(path: &Path) -> impl FnOnce(E) -> TlsError + '_ {
    move |e| TlsError::Bad { path: path.to_path_buf(), reason: e.to_string() }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

/// A service's TLS files, `TLS_CA`, `TLS_CERT` and `TLS_KEY`: all three, or none for plaintext.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// The CA certificate (PEM) the service trusts for Kafka, PostgreSQL and the registry; with it, TLS.
    #[arg(long, env = env::TLS_CA, requires_all = ["tls_cert", "tls_key"])]
    pub tls_ca: Option<PathBuf>,
    /// The service's own certificate (PEM), shown to the brokers and PostgreSQL.
    #[arg(long, env = env::TLS_CERT, requires = "tls_ca")]
    pub tls_cert: Option<PathBuf>,
    /// The key of that certificate (PEM, PKCS#8).
    #[arg(long, env = env::TLS_KEY, requires = "tls_ca")]
    pub tls_key: Option<PathBuf>,
}

impl TlsSettings {
    /// The files, when TLS is on.
    pub fn client(&self) -> Option<ClientTls> {
        match (&self.tls_ca, &self.tls_cert, &self.tls_key) {
            (Some(ca), Some(cert), Some(key)) => {
                Some(ClientTls { ca: ca.clone(), cert: cert.clone(), key: key.clone() })
            }
            _ => None,
        }
    }
}
