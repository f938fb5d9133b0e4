//! Making one image: debootstrap + import for the base, a Dockerfile build for the rest.
//! Builds run with host networking (the engine has no bridge) so `apt-get` and Maven reach their registries.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;

use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use bollard::{body_full, Docker};
use futures_util::StreamExt;
use tokio::process::Command;

use super::catalog::{Maven, Source};
use super::mirror;
use super::{bin_dir, ImageError, Planned, LABEL_INPUT_HASH};
use crate::docker::container::LABEL_BENCH;

/// Where scratch folders for image builds go (debootstrap needs a real filesystem, not tmpfs).
fn scratch() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix("kgb-image-").tempdir_in(std::env::temp_dir())
}

fn build_error(image: &str) -> impl Fn(String) -> ImageError + '_ {
    move |message| ImageError::Build { image: image.to_string(), message }
}

/// Builds (or rebuilds) one image; `progress` receives one-line status updates.
///
/// # Errors
/// [`ImageError::Build`] with the tail of the failing step's output.
pub async fn build(docker: &Docker, image: &Planned, progress: &(dyn Fn(String) + Sync)) -> Result<(), ImageError> {
    let reference = image.def.reference;
    let fail = build_error(reference);
    let dir = scratch().map_err(|e| fail(format!("cannot make a scratch folder: {e}")))?;
    match image.def.source {
        Source::Debootstrap { suite, include } => {
            let mirror = mirror::debian(suite);
            progress(format!("debootstrap {suite} from {mirror}"));
            let root = dir.path().join("root");
            run(
                Command::new("debootstrap")
                    .args(["--variant=minbase", &format!("--include={include}"), suite])
                    .arg(&root)
                    .arg(&mirror),
                "debootstrap",
            )
            .await
            .map_err(&fail)?;
            progress("importing the root filesystem".to_string());
            let tarball = dir.path().join("root.tar");
            run(Command::new("tar").arg("-C").arg(&root).arg("-cf").arg(&tarball).arg("."), "tar")
                .await
                .map_err(&fail)?;
            import(docker, reference, &image.hash, &tarball).await.map_err(&fail)
        }
        Source::Dockerfile { maven } => {
            write_files(dir.path(), image.def.files).map_err(&fail)?;
            if let Some(maven) = maven {
                progress("fetching from Maven Central".to_string());
                fetch_maven(dir.path(), maven).await.map_err(&fail)?;
            }
            build_context(docker, reference, &image.hash, dir.path(), HashMap::new(), progress).await.map_err(&fail)
        }
        Source::BankBinary { bin } => {
            write_files(dir.path(), image.def.files).map_err(&fail)?;
            let from = bin_dir().join(bin);
            std::fs::copy(&from, dir.path().join(bin))
                .map_err(|e| fail(format!("cannot copy {}: {e}", from.display())))?;
            let args = HashMap::from([("BIN".to_string(), bin.to_string())]);
            build_context(docker, reference, &image.hash, dir.path(), args, progress).await.map_err(&fail)
        }
    }
}

fn write_files(dir: &Path, files: &[(&str, &str)]) -> Result<(), String> {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    Ok(())
}

/// Runs a command to completion; on failure the message holds the tail of its output.
async fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot start {what}: {e} (scripts/setup installs it)"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = text.lines().rev().take(20).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} exited with {}:\n{}", output.status, tail.join("\n")))
}

async fn fetch_maven(dir: &Path, maven: Maven) -> Result<(), String> {
    let mut command = Command::new("mvn");
    command.args(["-q", "-B"]).current_dir(dir);
    match maven {
        Maven::Dependencies { dir: out, scope } => {
            command.arg("-f").arg(dir.join("pom.xml")).arg("dependency:copy-dependencies");
            command.arg(format!("-DoutputDirectory={}", dir.join(out).display()));
            if let Some(scope) = scope {
                command.arg(format!("-DincludeScope={scope}"));
            }
        }
        Maven::Artifact { dir: out, coordinates } => {
            command.arg("dependency:copy").arg(format!("-Dartifact={coordinates}"));
            command.arg(format!("-DoutputDirectory={}", dir.join(out).display()));
        }
    }
    run(&mut command, "mvn").await
}

fn labels(hash: &str) -> HashMap<String, String> {
    HashMap::from([(LABEL_INPUT_HASH.to_string(), hash.to_string()), (LABEL_BENCH.to_string(), "1".to_string())])
}

async fn build_context(
    docker: &Docker,
    reference: &str,
    hash: &str,
    dir: &Path,
    args: HashMap<String, String>,
    progress: &(dyn Fn(String) + Sync),
) -> Result<(), String> {
    let context = {
        let mut tar = tar::Builder::new(Vec::new());
        tar.append_dir_all(".", dir).map_err(|e| format!("cannot pack the build context: {e}"))?;
        tar.into_inner().map_err(|e| format!("cannot pack the build context: {e}"))?
    };
    let options = BuildImageOptionsBuilder::default()
        .t(reference)
        .dockerfile("Dockerfile")
        .networkmode("host")
        .rm(true)
        .forcerm(true)
        .labels(&labels(hash))
        .buildargs(&args)
        .build();
    let mut stream = docker.build_image(options, None, Some(body_full(context.into())));
    let mut output: Vec<String> = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    output.push(error);
                    return Err(tail(&output));
                }
                if let Some(line) = info.stream {
                    let line = line.trim_end().to_string();
                    if line.starts_with("Step ") {
                        progress(line.clone());
                    }
                    if !line.is_empty() {
                        output.push(line);
                    }
                }
            }
            Err(e) => {
                output.push(e.to_string());
                return Err(tail(&output));
            }
        }
    }
    Ok(())
}

fn tail(lines: &[String]) -> String {
    lines[lines.len().saturating_sub(20)..].join("\n")
}

async fn import(docker: &Docker, reference: &str, hash: &str, tarball: &Path) -> Result<(), String> {
    let (repo, tag) = reference.split_once(':').unwrap_or((reference, "latest"));
    let bytes = tokio::fs::read(tarball).await.map_err(|e| format!("cannot read {}: {e}", tarball.display()))?;
    let changes = vec![format!("LABEL {LABEL_INPUT_HASH}={hash} {LABEL_BENCH}=1")];
    let options = CreateImageOptionsBuilder::default().from_src("-").repo(repo).tag(tag).changes(changes).build();
    let mut stream = docker.create_image(Some(options), Some(body_full(bytes.into())), None);
    while let Some(item) = stream.next().await {
        item.map_err(|e| format!("import failed: {e}"))?;
    }
    Ok(())
}
