//! `bench images [--check]`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
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
}

pub async fn run(Args { check, quiet }: Args) -> anyhow::Result<ExitCode> {
    let docker = stack::docker::connect().await?;
    let planned = images::plan(&docker).await.context("checking the images")?;
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
        build::build(&docker, image, &report).await?;
        progress.finish();
        println!("built {} in {:.1} s", image.def.reference, start.elapsed().as_secs_f64());
    }
    let freed = images::prune_superseded(&docker).await.context("removing superseded images")?;
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
