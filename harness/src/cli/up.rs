//! `bench up <experiment> [--variant NAME]`.

use std::path::Path;
use std::process::ExitCode;

use harness::experiment::ExperimentFile;
use stack::{Options, Owner, Services, Stack};

use super::progress::Progress;

pub async fn run(path: &Path, variant: Option<String>) -> anyhow::Result<ExitCode> {
    let file = ExperimentFile::load(path)?;
    let variant = match variant {
        Some(name) => file.select(&[name])?.remove(0),
        None => file.variants[0].clone(),
    };
    let docker = stack::docker::connect().await?;
    let progress = Progress::new(&format!("{} [{}]", file.experiment.name, variant.name));
    let report = |line: String| progress.set(line);
    let options = Options { owner: Owner::Up, services: Services::IfPresent };
    // Ctrl-C while coming up removes what was started instead of leaving half a stack behind.
    let interrupt = tokio_util::sync::CancellationToken::new();
    let on_signal = interrupt.clone();
    let listener = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_signal.cancel();
        }
    });
    let brought_up = Stack::up_until(&docker, &variant.experiment.stack, options, &report, &interrupt).await;
    listener.abort();
    progress.finish();
    let stack = match brought_up {
        Ok(stack) => stack,
        Err(stack::StackError::Interrupted) => {
            eprintln!("interrupted: what was started has been removed");
            return Ok(ExitCode::from(130));
        }
        Err(e) => return Err(e.into()),
    };

    let e = &stack.plan.endpoints;
    println!("stack {} ({}, variant {}) ready in {:.1} s", stack.id, file.experiment.name, variant.name, stack.ready_after.as_secs_f64());
    println!("  kafka             {}", e.bootstrap);
    println!("  schema registry   {}", e.registry);
    println!("  db-ch             {}", e.db_ch);
    println!("  db-ge             {}", e.db_ge);
    if stack.running_containers().iter().any(|c| c == "kgb-graphql-endpoint") {
        println!("  graphql           {}  (websocket {})", e.graphql_http, e.graphql_ws);
    }
    if stack.running_containers().iter().any(|c| c == "kgb-frontend") {
        println!("  bank UI           {}", e.frontend);
    }
    if !stack.skipped.is_empty() {
        println!("  not started (no image; `bench images` after `cargo build --release`): {}", stack.skipped.join(", "));
    }
    println!("remove it with `bench down`");
    stack.detach();
    Ok(ExitCode::SUCCESS)
}
