//! TLS for a stack (`[stack] tls = true`): a certificate authority made fresh for each stack, and a certificate
//! for every part signed by it, each part's in a folder of its own (its container sees only that one), all in
//! one folder of the stack that is removed with it. The CA's key is never written: nothing can sign for a
//! stack once it is up.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use topology::tls::{ClientTls, CA_FILE, CERT_FILE, KEY_FILE};

/// Where a part's container sees its folder.
pub const CONTAINER_FOLDER: &str = "/etc/kgb/tls";
/// The folder of bench's own client certificate (readiness, schemas, the audit) and of a user's tools.
pub const CLIENT: &str = "bench";
/// Key then certificate in one file: a Kafka PEM keystore (`ssl.keystore.type=PEM`).
pub const KEYSTORE_FILE: &str = "keystore.pem";

/// Why a stack's TLS material could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the stack's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The folder of stack `stack_id`'s TLS material.
pub fn folder(stack_id: &str) -> PathBuf {
    root().join(stack_id)
}

/// The folder of every stack's TLS material: the host's temporary folder, as the stacks do not outlive it.
fn root() -> PathBuf {
    std::env::temp_dir().join("kgb-tls")
}

/// bench's own client files in a stack's `folder`.
pub fn client(folder: &Path) -> ClientTls {
    ClientTls::in_folder(&folder.join(CLIENT))
}

/// Makes a CA and, for each of `parts` and for [`CLIENT`], a folder in `folder` with the CA certificate, a
/// certificate for 127.0.0.1, localhost and the part's name (its Service on a pod network) good for both
/// server and client authentication, its key, and the two as a Kafka keystore.
///
/// # Errors
/// [`TlsError`]; a folder half written is the caller's to remove (as [`remove`] does with the stack).
pub fn write(folder: &Path, parts: &[String]) -> Result<(), TlsError> {
    let ca_key = KeyPair::generate()?;
    let ca_params = ca_params()?;
    let ca_pem = ca_params.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca_params, ca_key);
    private_folder(&root())?;
    private_folder(folder)?;
    for part in parts.iter().map(String::as_str).chain([CLIENT]) {
        let key = KeyPair::generate()?;
        let cert = part_params(part)?.signed_by(&key, &issuer)?.pem();
        let key = key.serialize_pem();
        let dir = folder.join(part);
        // The part's container reads these as whatever user its image runs as: the stack's folder above,
        // 0700, keeps other users of the host out.
        fs::DirBuilder::new().mode(0o755).create(&dir).map_err(written(&dir))?;
        for (name, text) in [(CA_FILE, ca_pem.as_str()), (CERT_FILE, &cert), (KEY_FILE, &key), (KEYSTORE_FILE, &format!("{key}{cert}"))] {
            write_file(&dir.join(name), text)?;
        }
    }
    Ok(())
}

/// Removes stack `stack_id`'s TLS folder; one that is not there is no error.
///
/// # Errors
/// The file system's.
pub fn remove(stack_id: &str) -> std::io::Result<()> {
    remove_folder(&folder(stack_id))
}

/// Removes the TLS folders of every stack (`bench down --all`).
///
/// # Errors
/// The file system's.
pub fn remove_all() -> std::io::Result<()> {
    remove_folder(&root())
}

fn remove_folder(path: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, "kafka-graphql-bench stack CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    valid_from_yesterday(&mut params);
    Ok(params)
}

fn part_params(part: &str) -> Result<CertificateParams, rcgen::Error> {
    // Every part listens and connects on loopback, by address or by name; on a pod network, by its Service's
    // name, which is the part's.
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string(), part.to_string()])?;
    params.distinguished_name.push(DnType::CommonName, part);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    valid_from_yesterday(&mut params);
    Ok(params)
}

/// A day either side of a clock that differs a little between host and tools, and a year ahead: a stack
/// lives for hours, a `bench up` stack for days at most.
fn valid_from_yesterday(params: &mut CertificateParams) {
    let day = |d: chrono::DateTime<chrono::Utc>| rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8);
    let now = chrono::Utc::now();
    params.not_before = day(now - chrono::Duration::days(1));
    params.not_after = day(now + chrono::Duration::days(365));
}

fn written(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Write { path: path.to_path_buf(), source }
}

fn private_folder(path: &Path) -> Result<(), TlsError> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(path).map_err(written(path))
}

fn write_file(path: &Path, text: &str) -> Result<(), TlsError> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o644).open(path).map_err(written(path))?;
    file.write_all(text.as_bytes()).map_err(written(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::{X509StoreContext, X509};

    fn cert(path: &Path) -> X509 {
        X509::from_pem(&fs::read(path).unwrap()).unwrap()
    }

    /// Checked with OpenSSL, the library every client of the stack uses, not with rcgen that made them.
    #[test]
    fn every_part_gets_a_certificate_of_the_stack_ca_that_openssl_accepts_and_only_that_one() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("stack");
        write(&folder, &["kgb-kafka-1".to_string(), "kgb-db-ch".to_string()]).unwrap();
        let other = dir.path().join("other");
        write(&other, &["kgb-kafka-1".to_string()]).unwrap();
        for part in ["kgb-kafka-1", "kgb-db-ch", CLIENT] {
            let files = ClientTls::in_folder(&folder.join(part));
            let ca = cert(&files.ca);
            let leaf = cert(&files.cert);
            let verify = |ca: &X509| {
                let mut store = X509StoreBuilder::new().unwrap();
                store.add_cert(ca.clone()).unwrap();
                let store = store.build();
                let mut context = X509StoreContext::new().unwrap();
                context.init(&store, &leaf, &openssl::stack::Stack::new().unwrap(), |c| c.verify_cert()).unwrap()
            };
            assert!(verify(&ca), "{part}: signed by its stack's CA");
            assert!(!verify(&cert(&other.join("kgb-kafka-1").join(CA_FILE))), "{part}: another stack's CA does not vouch for it");
            let names = leaf.subject_alt_names().unwrap();
            assert!(names.iter().any(|n| n.ipaddress() == Some(&[127, 0, 0, 1][..])), "{part}: for 127.0.0.1");
            assert!(names.iter().any(|n| n.dnsname() == Some("localhost")), "{part}: for localhost");
            let key = openssl::pkey::PKey::private_key_from_pem(&fs::read(&files.key).unwrap()).unwrap();
            assert!(leaf.public_key().unwrap().public_eq(&key), "{part}: the key is the certificate's");
            let keystore = fs::read_to_string(folder.join(part).join(KEYSTORE_FILE)).unwrap();
            assert!(keystore.starts_with("-----BEGIN PRIVATE KEY-----") && keystore.contains("BEGIN CERTIFICATE"), "{part}");
        }
        assert!(!fs::read_dir(&folder).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("ca.key")));
    }
}
