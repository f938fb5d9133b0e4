//! `bench images [--check] [--load-into-containerd SOCKET] [--push REGISTRY]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use bollard::Docker;
use stack::images::cluster::{self, Loaded};
use stack::images::{self, build, Status};

use super::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only list what is missing or outdated; exit 1 if anything is.
    #[arg(long)]
    check: bool,
    /// Print nothing when every image is up to date.
    #[arg(long, short)]
    quiet: bool,
    /// Then import the stack's images into this containerd (namespace k8s.io, where a kubelet finds them;
    /// pods use them with imagePullPolicy Never), skipping those already there: a local cluster's node.
    #[arg(long, value_name = "SOCKET", conflicts_with = "check")]
    load_into_containerd: Option<PathBuf>,
    /// Then tag the stack's images as REGISTRY/<name> and push them (no credentials are sent), for a cluster
    /// whose experiment says `[kubernetes] registry = "REGISTRY"`.
    #[arg(long, value_name = "REGISTRY", conflicts_with = "check")]
    push: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let docker = stack::docker::connect().await?;
    let built = build_missing(&docker, args.check, args.quiet).await?;
    if built != ExitCode::SUCCESS || args.check {
        return Ok(built);
    }
    let stack_images = bench_results::experiment::stack::Images::default().all();
    if let Some(socket) = &args.load_into_containerd {
        load(&docker, &stack_images, socket).await?;
    }
    if let Some(registry) = &args.push {
        for image in &stack_images {
            let pushed = cluster::push(&docker, image, registry).await?;
            println!("pushed {pushed}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn load(docker: &Docker, references: &[String], socket: &Path) -> anyhow::Result<()> {
    let total = Instant::now();
    for image in references {
        let start = Instant::now();
        match cluster::load_into_containerd(docker, image, socket).await? {
            Loaded::Imported => {
                println!("imported {image} into {} in {:.1} s", socket.display(), start.elapsed().as_secs_f64())
            }
            Loaded::AlreadyThere => println!("{image} already in {}", socket.display()),
        }
    }
    println!("images on the node in {:.1} s", total.elapsed().as_secs_f64());
    Ok(())
}

/// Builds what is missing or outdated (or with `check` only lists it).
async fn build_missing(docker: &Docker, check: bool, quiet: bool) -> anyhow::Result<ExitCode> {
    let planned = images::plan(docker).await.context("checking the images")?;
    if quiet && planned.iter().all(|i| i.status == Status::Current) {
        return Ok(ExitCode::SUCCESS);
    }
    let mut stale = 0;
    for image in &planned {
        let state = match &image.status {
            Status::Current => "up to date".to_string(),
            Status::Outdated => "outdated".to_string(),
            Status::Missing => "missing".to_string(),
            Status::NoBinary(path) => format!("no binary at {} (cargo build --release)", path.display()),
        };
        if image.status != Status::Current {
            stale += 1;
        }
        println!("{:<34} {state}", image.def.reference);
    }
    if check {
        return Ok(if stale == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let total = Instant::now();
    for image in planned.iter().filter(|i| matches!(i.status, Status::Missing | Status::Outdated)) {
        let start = Instant::now();
        let progress = Progress::new(&format!("building {}", image.def.reference));
        let report = |line: String| progress.set(line);
        build::build(docker, image, &report).await?;
        progress.finish();
        println!("built {} in {:.1} s", image.def.reference, start.elapsed().as_secs_f64());
    }
    let freed = images::prune_superseded(docker).await.context("removing superseded images")?;
    if freed > 0 {
        println!("removed superseded images: {:.0} MB freed", freed as f64 / 1e6);
    }
    let missing_binaries = planned.iter().filter(|i| matches!(i.status, Status::NoBinary(_))).count();
    println!("images ready in {:.1} s", total.elapsed().as_secs_f64());
    if missing_binaries > 0 {
        println!("{missing_binaries} bank image(s) skipped: build the release binaries first (scripts/setup does)");
    }
    Ok(ExitCode::SUCCESS)
}
