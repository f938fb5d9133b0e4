//! TLS for a stack (`[stack] tls = true`): a certificate authority made fresh for each stack, and a certificate
//! for every part signed by it, each part's in a folder of its own (its container sees only that one), all in
//! one folder of the stack that is removed with it. The CA's key is never written: nothing can sign for a
//! stack once it is up.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use topology::tls::{ClientTls, CA_FILE, CERT_FILE, KEY_FILE};

/// Where a part's container sees its folder.
pub const CONTAINER_FOLDER: &str = "/etc/kgb/tls";
/// The folder of bench's own client certificate (readiness, schemas, the audit) and of a user's tools.
pub const CLIENT: &str = "bench";
/// Key then certificate in one file: a Kafka PEM keystore (`ssl.keystore.type=PEM`).
pub const KEYSTORE_FILE: &str = "keystore.pem";

/// The file bench writes first into every stack folder it makes: a folder without it is not one bench made,
/// and bench never removes it.
pub const MARKER_FILE: &str = ".kgb-stack";

/// Why a stack's TLS material could not be made, or its folder not removed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot make the stack's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot remove {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
    /// A folder bench would write into or remove that it cannot prove is its own.
    #[error("{path} is not bench's: {why}; bench leaves it alone (remove it yourself if it is stale)")]
    NotOurs { path: PathBuf, why: String },
    #[error("not a stack id bench makes")]
    Name(#[from] bench_results::names::NameError),
}

/// The folder of stack `stack_id`'s TLS material.
///
/// # Errors
/// [`bench_results::names::NameError`] when the id is not one bench makes (it would leave the folder of every stack).
pub fn folder(stack_id: &str) -> Result<PathBuf, bench_results::names::NameError> {
    bench_results::names::check(bench_results::names::Kind::StackId, stack_id)?;
    Ok(root().join(stack_id))
}

/// The folder of every stack's TLS material: the host's temporary folder, as the stacks do not outlive it.
pub fn root() -> PathBuf {
    std::env::temp_dir().join("kgb-tls")
}

/// bench's own client files in a stack's `folder`.
pub fn client(folder: &Path) -> ClientTls {
    ClientTls::in_folder(&folder.join(CLIENT))
}

/// A part to make a certificate for, and who reads its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPart {
    /// The part's name (its container's, its Service's).
    pub name: String,
    /// Its container reads the key as a user of the image (PostgreSQL's), whom bench cannot make the owner: the
    /// key is then readable by all, inside the stack's folder that only bench's user may enter. Every other key
    /// is 0600 (libpq, for one, refuses a client key that group or others may read).
    pub key_read_by_image_user: bool,
}

/// Makes a CA and, for each of `parts` and for [`CLIENT`], a folder in `folder` with the CA certificate, a
/// certificate for 127.0.0.1, localhost and the part's name (its Service on a pod network) good for both
/// server and client authentication, its key, and the two as a Kafka keystore.
///
/// `folder` must be a new folder directly in [`root`], which is made 0700 when missing and otherwise must be
/// the current user's, a real folder and closed to others.
///
/// # Errors
/// [`TlsError`]; a folder half written is the caller's to remove (as [`remove`] does with the stack).
pub fn write(folder: &Path, parts: &[TlsPart]) -> Result<(), TlsError> {
    let ca_key = KeyPair::generate()?;
    let ca_params = ca_params()?;
    let ca_pem = ca_params.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let root =
        folder.parent().ok_or_else(|| TlsError::NotOurs { path: folder.into(), why: "it has no parent".into() })?;
    private_root(root)?;
    // Fresh, never one that is there already: its contents would not be bench's.
    fs::DirBuilder::new().mode(0o700).create(folder).map_err(written(folder))?;
    write_file(&folder.join(MARKER_FILE), "made by kafka-graphql-bench; `bench down` removes this folder\n", 0o600)?;
    let client = TlsPart { name: CLIENT.to_string(), key_read_by_image_user: false };
    for part in parts.iter().chain([&client]) {
        let key = KeyPair::generate()?;
        let cert = part_params(&part.name)?.signed_by(&key, &issuer)?.pem();
        let key = key.serialize_pem();
        let dir = folder.join(&part.name);
        // The part's container reads these as whatever user its image runs as: the stack's folder above,
        // 0700, keeps other users of the host out.
        fs::DirBuilder::new().mode(0o755).create(&dir).map_err(written(&dir))?;
        let key_mode = if part.key_read_by_image_user { 0o644 } else { 0o600 };
        let files = [
            (CA_FILE, ca_pem.as_str(), 0o644),
            (CERT_FILE, &cert, 0o644),
            (KEY_FILE, &key, key_mode),
            (KEYSTORE_FILE, &format!("{key}{cert}"), key_mode),
        ];
        for (name, text, mode) in files {
            write_file(&dir.join(name), text, mode)?;
        }
    }
    Ok(())
}

/// Removes stack `stack_id`'s TLS folder, when bench can prove it made it (see [`remove_folder`]); one that is
/// not there is no error.
///
/// # Errors
/// [`TlsError::Name`] for an id bench does not make, [`TlsError::NotOurs`], or the file system's.
pub fn remove(stack_id: &str) -> Result<(), TlsError> {
    let folder = folder(stack_id)?;
    match fs::symlink_metadata(root()) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => private_root(&root())?,
    }
    remove_folder(&folder)
}

/// Removes the TLS folders of every stack (`bench down --all`): each that bench can prove it made. The root
/// stays (0700, the current user's).
///
/// # Errors
/// The first folder that is not bench's (after removing the others), or the file system's.
pub fn remove_all() -> Result<(), TlsError> {
    let root = root();
    match fs::symlink_metadata(&root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        _ => private_root(&root)?,
    }
    let entries = fs::read_dir(&root).map_err(|source| TlsError::Remove { path: root.clone(), source })?;
    let mut refused = None;
    for entry in entries {
        let entry = entry.map_err(|source| TlsError::Remove { path: root.clone(), source })?;
        let name = entry.file_name();
        let checked = match name.to_str() {
            Some(id) => folder(id).map_err(TlsError::from).and_then(|f| remove_folder(&f)),
            None => Err(TlsError::NotOurs { path: entry.path(), why: "its name is not a stack id".into() }),
        };
        if let Err(e) = checked {
            refused.get_or_insert(e);
        }
    }
    refused.map_or(Ok(()), Err)
}

/// The current user (the effective one, who owns what bench makes).
fn current_user() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Checks that `path` is a folder (not a link to one) owned by the current user that no one else may enter,
/// making it 0700 first when missing.
fn private_root(path: &Path) -> Result<(), TlsError> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(written(path)(e)),
        _ => {}
    }
    let meta = fs::symlink_metadata(path).map_err(written(path))?;
    let not_ours = |why: String| Err(TlsError::NotOurs { path: path.into(), why });
    if !meta.file_type().is_dir() {
        return not_ours("it is not a folder (a symbolic link or a file)".into());
    }
    if meta.uid() != current_user() {
        return not_ours(format!(
            "it is owned by uid {}, not by the current user (uid {})",
            meta.uid(),
            current_user()
        ));
    }
    if meta.mode() & 0o077 != 0 {
        return not_ours(format!(
            "its mode is {:o}: group or others may enter it (bench makes it 0700)",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Removes `path` only if bench made it: a real folder (a symbolic link is never followed), owned by the
/// current user, holding the [`MARKER_FILE`] bench writes first. Its contents go without following any link
/// inside (`remove_dir_all` removes links, not what they point to). One that is not there is no error.
fn remove_folder(path: &Path) -> Result<(), TlsError> {
    let meta = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        other => other.map_err(|source| TlsError::Remove { path: path.into(), source })?,
    };
    let not_ours = |why: &str| Err(TlsError::NotOurs { path: path.into(), why: why.into() });
    if !meta.file_type().is_dir() {
        return not_ours("it is not a folder (a symbolic link or a file)");
    }
    if meta.uid() != current_user() {
        return not_ours("another user owns it");
    }
    match fs::symlink_metadata(path.join(MARKER_FILE)) {
        Ok(m) if m.file_type().is_file() => {}
        _ => {
            return not_ours(&format!(
                "it has no {MARKER_FILE} file, which bench writes into every stack folder it makes"
            ))
        }
    }
    fs::remove_dir_all(path).map_err(|source| TlsError::Remove { path: path.into(), source })
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

/// Writes a new file of `mode` (the umask can only take from it: none here is wider than meant).
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), TlsError> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(written(path))?;
    file.write_all(text.as_bytes()).map_err(written(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::x509::store::X509StoreBuilder;
    use openssl::x509::{X509StoreContext, X509};
    use std::os::unix::fs::PermissionsExt;

    fn cert(path: &Path) -> X509 {
        X509::from_pem(&fs::read(path).unwrap()).unwrap()
    }

    fn parts(names: &[&str]) -> Vec<TlsPart> {
        names
            .iter()
            .map(|n| TlsPart { name: n.to_string(), key_read_by_image_user: n.starts_with("kgb-db-") })
            .collect()
    }

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    /// A root for stack folders as bench makes it: 0700, the current user's.
    fn root_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    /// libpq's rule for a client key (`be-secure-openssl.c`, `fe-secure-openssl.c`): owned by the user, no
    /// group or other bits. A wider key is refused ("has group or world access"); `bench up` prints this key.
    #[test]
    fn keys_are_0600_as_libpq_demands_and_the_stack_folder_0700_with_bench_s_marker() {
        let dir = root_dir();
        let folder = dir.path().join("20261201T000000-abcdef");
        write(&folder, &parts(&["kgb-kafka-1", "kgb-db-ch"])).unwrap();
        assert_eq!(mode(&folder), 0o700, "no other user enters the stack's folder");
        assert!(fs::symlink_metadata(folder.join(MARKER_FILE)).unwrap().is_file());
        for part in ["kgb-kafka-1", CLIENT] {
            for file in [KEY_FILE, KEYSTORE_FILE] {
                let path = folder.join(part).join(file);
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                assert_eq!(fs::metadata(&path).unwrap().uid(), current_user());
            }
            assert_eq!(mode(&folder.join(part).join(CERT_FILE)), 0o644);
        }
        // PostgreSQL's image reads it as its own user, then copies it to a 0600 file of its own.
        assert_eq!(mode(&folder.join("kgb-db-ch").join(KEY_FILE)), 0o644);
    }

    #[test]
    fn a_root_owned_by_another_user_or_open_to_others_or_a_link_is_refused_naming_it() {
        let dir = root_dir();
        let foreign = dir.path().join("foreign");
        fs::create_dir(&foreign).unwrap();
        fs::set_permissions(&foreign, fs::Permissions::from_mode(0o700)).unwrap();
        // nobody: bench's tests run as root, which may give a folder away.
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown (the tests run as root)");
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o770)).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(root_dir().keep(), &link).unwrap();
        for (root, why) in [(&foreign, "owned by uid 65534"), (&open, "mode is 770"), (&link, "not a folder")] {
            let e = write(&root.join("stack"), &parts(&["kgb-kafka-1"])).unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e, TlsError::NotOurs { .. })
                    && text.contains(&root.display().to_string())
                    && text.contains(why),
                "{text}"
            );
            assert!(fs::symlink_metadata(root.join("stack")).is_err(), "nothing written in {}", root.display());
        }
    }

    #[test]
    fn a_missing_root_is_made_0700_and_a_stack_folder_is_never_reused() {
        let dir = root_dir();
        let root = dir.path().join("kgb-tls");
        let folder = root.join("s1");
        write(&folder, &parts(&[])).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert!(
            matches!(write(&folder, &parts(&[])), Err(TlsError::Write { .. })),
            "a folder already there is not bench's to fill"
        );
    }

    #[test]
    fn only_folders_bench_made_are_removed_never_through_a_link() {
        let dir = root_dir();
        let victim = root_dir();
        fs::write(victim.path().join("victim"), "keep").unwrap();
        let ours = dir.path().join("ours");
        write(&ours, &parts(&["kgb-kafka-1"])).unwrap();
        // A link inside a stack folder goes, what it points to stays.
        std::os::unix::fs::symlink(victim.path(), ours.join("link")).unwrap();
        let unmarked = dir.path().join("unmarked");
        fs::create_dir(&unmarked).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(victim.path(), &link).unwrap();
        let foreign = dir.path().join("foreign");
        write(&foreign, &parts(&[])).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), None).expect("chown (the tests run as root)");
        for (path, why) in [(&unmarked, "no .kgb-stack"), (&link, "not a folder"), (&foreign, "another user")] {
            let text = remove_folder(path).unwrap_err().to_string();
            assert!(text.contains(&path.display().to_string()) && text.contains(why), "{text}");
            assert!(fs::symlink_metadata(path).is_ok(), "{} stays", path.display());
        }
        remove_folder(&ours).unwrap();
        assert!(!ours.exists());
        assert_eq!(fs::read_to_string(victim.path().join("victim")).unwrap(), "keep");
        remove_folder(&dir.path().join("gone")).expect("one that is not there is no error");
    }

    #[test]
    fn a_stack_id_that_leaves_the_root_names_no_folder() {
        for bad in ["..", "../x", "a/b", "", "."] {
            assert!(matches!(remove(bad), Err(TlsError::Name(_))), "{bad:?}");
            assert!(folder(bad).is_err(), "{bad:?}");
        }
    }

    /// Checked with OpenSSL, the library every client of the stack uses, not with rcgen that made them.
    #[test]
    fn every_part_gets_a_certificate_of_the_stack_ca_that_openssl_accepts_and_only_that_one() {
        let dir = root_dir();
        let folder = dir.path().join("stack");
        write(&folder, &parts(&["kgb-kafka-1", "kgb-db-ch"])).unwrap();
        let other = dir.path().join("other");
        write(&other, &parts(&["kgb-kafka-1"])).unwrap();
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
            assert!(
                !verify(&cert(&other.join("kgb-kafka-1").join(CA_FILE))),
                "{part}: another stack's CA does not vouch for it"
            );
            let names = leaf.subject_alt_names().unwrap();
            assert!(names.iter().any(|n| n.ipaddress() == Some(&[127, 0, 0, 1][..])), "{part}: for 127.0.0.1");
            assert!(names.iter().any(|n| n.dnsname() == Some("localhost")), "{part}: for localhost");
            let key = openssl::pkey::PKey::private_key_from_pem(&fs::read(&files.key).unwrap()).unwrap();
            assert!(leaf.public_key().unwrap().public_eq(&key), "{part}: the key is the certificate's");
            let keystore = fs::read_to_string(folder.join(part).join(KEYSTORE_FILE)).unwrap();
            assert!(
                keystore.starts_with("-----BEGIN PRIVATE KEY-----") && keystore.contains("BEGIN CERTIFICATE"),
                "{part}"
            );
        }
        assert!(!fs::read_dir(&folder).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains("ca.key")));
    }
}
