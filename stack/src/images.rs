//! The images of the stack, built on this machine from nothing but Debian's and Maven Central's packages.
//!
//! Each image is labelled with a hash of its inputs (its build files, what it fetches, its parent's hash, and
//! for bank services the binary), so `bench images` rebuilds exactly what changed.

pub mod build;
pub mod catalog;
pub mod cluster;
pub mod mirror;

use std::path::PathBuf;

use bollard::Docker;
use sha2::{Digest, Sha256};

pub use catalog::{ImageDef, Source};

use crate::docker::{is_not_found, DockerError};
use crate::options::Services;
use crate::plan::{Part, StackPlan};

/// Label holding an image's input hash.
pub const LABEL_INPUT_HASH: &str = "kgb.input-hash";

/// Where an image stands against its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Present with the current input hash.
    Current,
    /// Present, built from other inputs.
    Outdated,
    /// Not present.
    Missing,
    /// A bank image whose release binary has not been built.
    NoBinary(PathBuf),
}

/// An image definition with its computed input hash.
#[derive(Debug, Clone)]
pub struct Planned {
    pub def: &'static ImageDef,
    pub hash: String,
    pub status: Status,
}

/// Errors of `bench images`.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("building {image} failed: {message}")]
    Build { image: String, message: String },
}

/// Directory holding the workspace's release binaries: `KGB_BIN_DIR`, else the folder of the running `bench`.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KGB_BIN_DIR") {
        return PathBuf::from(dir);
    }
    std::env::current_exe().ok().and_then(|p| p.parent().map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("."))
}

/// Computes every image's input hash (parents first) and compares it with the image present.
pub async fn plan(docker: &Docker) -> Result<Vec<Planned>, ImageError> {
    let mut planned: Vec<Planned> = Vec::new();
    for def in catalog::ALL {
        let parent_hash = def
            .parent
            .and_then(|p| planned.iter().find(|x| x.def.reference == p))
            .map(|x| x.hash.clone())
            .unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(def.reference.as_bytes());
        hasher.update(parent_hash.as_bytes());
        for (name, content) in def.files {
            hasher.update(name.as_bytes());
            hasher.update(content.as_bytes());
        }
        hasher.update(format!("{:?}", def.source).as_bytes());
        if let Source::BankBinary { bin } = def.source {
            let path = bin_dir().join(bin);
            match std::fs::read(&path) {
                Ok(bytes) => hasher.update(&bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    planned.push(Planned { def, hash: String::new(), status: Status::NoBinary(path) });
                    continue;
                }
                Err(source) => return Err(ImageError::Read { path, source }),
            }
        }
        let hash = hex::encode(hasher.finalize());
        let status = status(docker, def.reference, &hash).await?;
        planned.push(Planned { def, hash, status });
    }
    Ok(planned)
}

async fn status(docker: &Docker, reference: &str, hash: &str) -> Result<Status, DockerError> {
    match docker.inspect_image(reference).await {
        Ok(image) => {
            let label = image.config.and_then(|c| c.labels).and_then(|mut l| l.remove(LABEL_INPUT_HASH));
            Ok(if label.as_deref() == Some(hash) { Status::Current } else { Status::Outdated })
        }
        Err(e) if is_not_found(&e) => Ok(Status::Missing),
        Err(e) => Err(DockerError::engine("failed to inspect image", reference)(e)),
    }
}

/// Checks that every image in `references` is present.
///
/// # Errors
/// [`DockerError::MissingImage`] naming the first absent image.
pub async fn require(docker: &Docker, references: &[String]) -> Result<(), DockerError> {
    for reference in references {
        match docker.inspect_image(reference).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => return Err(DockerError::MissingImage { image: reference.clone() }),
            Err(e) => return Err(DockerError::engine("failed to inspect image", reference)(e)),
        }
    }
    Ok(())
}

/// Image reference -> image id, for every image named (missing ones are left out).
pub async fn ids(docker: &Docker, images: &[String]) -> std::collections::BTreeMap<String, String> {
    let mut ids = std::collections::BTreeMap::new();
    for image in images {
        if let Ok(inspect) = docker.inspect_image(image).await {
            if let Some(id) = inspect.id {
                ids.insert(image.clone(), id);
            }
        }
    }
    ids
}

/// Names of the bank containers not to start (the plan keeps them, so tests can start them later): by the
/// choice, and with [`Services::IfPresent`] those whose image is missing.
///
/// # Errors
/// The engine's, or a required image missing.
pub async fn skipped(docker: &Docker, plan: &StackPlan, services: Services) -> Result<Vec<String>, DockerError> {
    let names = |parts: &[Part]| parts.iter().map(|p| p.spec.name.clone()).collect::<Vec<_>>();
    let synchronizer = std::slice::from_ref(&plan.synchronizer);
    Ok(match services {
        Services::None => [names(synchronizer), names(&plan.services)].concat(),
        Services::SynchronizerOnly => {
            require(docker, std::slice::from_ref(&plan.synchronizer.spec.image)).await?;
            names(&plan.services)
        }
        Services::Require => {
            let all: Vec<String> = synchronizer.iter().chain(&plan.services).map(|p| p.spec.image.clone()).collect();
            require(docker, &all).await?;
            Vec::new()
        }
        Services::IfPresent if !exists(docker, &plan.synchronizer.spec.image).await? => {
            [names(synchronizer), names(&plan.services)].concat()
        }
        Services::IfPresent => {
            let mut missing = Vec::new();
            for part in &plan.services {
                if !exists(docker, &part.spec.image).await? {
                    missing.push(part.spec.name.clone());
                }
            }
            missing
        }
    })
}

/// Whether an image is present.
pub async fn exists(docker: &Docker, reference: &str) -> Result<bool, DockerError> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(DockerError::engine("failed to inspect image", reference)(e)),
    }
}

/// Removes bench's images that a rebuild left without a tag: each rebuild of a bank image leaves the previous one
/// behind with its binary layer (10–30 MB), and a machine that rebuilds nightly piles them up. Images a container
/// still uses stay.
/// Returns the bytes freed.
///
/// # Errors
/// The engine's error.
pub async fn prune_superseded(docker: &Docker) -> Result<u64, DockerError> {
    let filters = std::collections::HashMap::from([
        ("dangling".to_string(), vec!["true".to_string()]),
        ("label".to_string(), vec![format!("{}=1", crate::docker::container::LABEL_BENCH)]),
    ]);
    let options = bollard::query_parameters::PruneImagesOptionsBuilder::default().filters(&filters).build();
    let pruned = docker
        .prune_images(Some(options))
        .await
        .map_err(DockerError::engine("failed to prune images", "superseded kgb images"))?;
    Ok(pruned.space_reclaimed.map_or(0, |b| u64::try_from(b).unwrap_or(0)))
}
