//! Built images onto a cluster: imported into a node's containerd (namespace `k8s.io`, where the kubelet looks;
//! pods use them with `imagePullPolicy: Never`), or tagged and pushed to a registry the cluster pulls from.

use std::path::Path;
use std::process::Stdio;

use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::docker::DockerError;

/// The containerd label that says which Docker image (by id) an imported image is, so an unchanged image is
/// not imported again.
const LABEL_DOCKER_ID: &str = "kgb.docker-id";

#[derive(Debug, thiserror::Error)]
pub enum ClusterImageError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("running `ctr` ({action}) for containerd at {socket}: install containerd (scripts/setup does)")]
    NoCtr {
        action: &'static str,
        socket: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`ctr {action}` for {image} at {socket} failed: {stderr}")]
    Ctr { action: &'static str, image: String, socket: String, stderr: String },
    #[error("pushing {image}: {message}")]
    Push { image: String, message: String },
}

/// What happened to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Imported,
    AlreadyThere,
}

/// containerd's name for a Docker reference (`kgb/kafka:4.1.1` -> `docker.io/kgb/kafka:4.1.1`).
pub fn containerd_name(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    let has_registry = reference.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    match (has_registry, reference.contains('/')) {
        (true, _) => reference.to_string(),
        (false, true) => format!("docker.io/{reference}"),
        (false, false) => format!("docker.io/library/{reference}"),
    }
}

/// Imports `reference` from the engine into the containerd at `socket`, unless the same image is there.
///
/// # Errors
/// [`ClusterImageError`] naming the image and what failed.
pub async fn load_into_containerd(
    docker: &Docker,
    reference: &str,
    socket: &Path,
) -> Result<Loaded, ClusterImageError> {
    let id = match docker.inspect_image(reference).await {
        Ok(image) => image.id.unwrap_or_default(),
        Err(e) if crate::docker::is_not_found(&e) => {
            return Err(DockerError::MissingImage { image: reference.to_string() }.into())
        }
        Err(e) => return Err(DockerError::engine("failed to inspect image", reference)(e).into()),
    };
    let name = containerd_name(reference);
    if imported_id(socket, &name).await?.as_deref() == Some(id.as_str()) {
        return Ok(Loaded::AlreadyThere);
    }
    import(docker, reference, socket).await?;
    ctr(socket, "images label", &name, &["images", "label", &name, &format!("{LABEL_DOCKER_ID}={id}")]).await?;
    Ok(Loaded::Imported)
}

/// The Docker id recorded on containerd's image `name`, if it is there.
async fn imported_id(socket: &Path, name: &str) -> Result<Option<String>, ClusterImageError> {
    let listing = ctr(socket, "images ls", name, &["images", "ls", &format!("name=={name}")]).await?;
    let prefix = format!("{LABEL_DOCKER_ID}=");
    Ok(listing
        .lines()
        .skip(1)
        .flat_map(|line| line.split([' ', ',']))
        .find_map(|field| field.strip_prefix(&prefix).map(str::to_string)))
}

/// `docker save` streamed into `ctr images import -`.
async fn import(docker: &Docker, reference: &str, socket: &Path) -> Result<(), ClusterImageError> {
    let no_ctr =
        |source| ClusterImageError::NoCtr { action: "images import", socket: socket.display().to_string(), source };
    let mut child = tokio::process::Command::new("ctr")
        .arg("-a")
        .arg(socket)
        .args(["-n", "k8s.io", "images", "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(no_ctr)?;
    let mut stdin = child.stdin.take().ok_or_else(|| no_ctr(std::io::Error::other("no stdin")))?;
    let mut tar = docker.export_image(reference);
    while let Some(chunk) = tar.next().await {
        let chunk = chunk.map_err(DockerError::engine("failed to export image", reference))?;
        if stdin.write_all(&chunk).await.is_err() {
            break; // ctr stopped reading: its stderr says why
        }
    }
    drop(stdin);
    let out = child.wait_with_output().await.map_err(no_ctr)?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(ClusterImageError::Ctr {
            action: "images import",
            image: reference.to_string(),
            socket: socket.display().to_string(),
            stderr,
        })
    }
}

async fn ctr(socket: &Path, action: &'static str, image: &str, args: &[&str]) -> Result<String, ClusterImageError> {
    let out = tokio::process::Command::new("ctr")
        .arg("-a")
        .arg(socket)
        .args(["-n", "k8s.io"])
        .args(args)
        .output()
        .await
        .map_err(|source| ClusterImageError::NoCtr { action, socket: socket.display().to_string(), source })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(ClusterImageError::Ctr { action, image: image.to_string(), socket: socket.display().to_string(), stderr })
    }
}

/// Tags `reference` as `REGISTRY/reference` and pushes it, sending no credentials (a registry that wants them
/// is not supported yet); returns the pushed reference, which `[kubernetes] registry = REGISTRY` makes pods pull.
///
/// # Errors
/// [`ClusterImageError::Push`] with the registry's message.
pub async fn push(docker: &Docker, reference: &str, registry: &str) -> Result<String, ClusterImageError> {
    let target = format!("{registry}/{reference}");
    let (repo, tag) = target.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((&target, "latest"));
    let options = TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
    docker.tag_image(reference, Some(options)).await.map_err(DockerError::engine("failed to tag image", reference))?;
    let options = PushImageOptionsBuilder::default().tag(tag).build();
    let mut progress = docker.push_image(repo, Some(options), None);
    while let Some(step) = progress.next().await {
        let failed = |message: String| ClusterImageError::Push { image: target.clone(), message };
        let step = step.map_err(|e| failed(e.to_string()))?;
        if let Some(e) = step.error_detail.and_then(|d| d.message) {
            return Err(failed(e));
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_references_get_containerd_names() {
        use super::containerd_name as n;
        assert_eq!(n("kgb/kafka:4.1.1"), "docker.io/kgb/kafka:4.1.1");
        assert_eq!(n("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(n("registry.example:5000/kgb/kafka:4.1.1"), "registry.example:5000/kgb/kafka:4.1.1");
        assert_eq!(n("localhost/kgb/x:1"), "localhost/kgb/x:1");
    }
}
