//! `bench up <experiment> [--variant NAME] [--platform docker|kubernetes [--dry-run]]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harness::experiment::ExperimentFile;
use stack::{Options, Owner, Platform, Services, Stack};

use harness::run::Interrupts;

use super::platform::PlatformArgs;
use super::progress::Progress;
use super::signals::{self, Signals};

/// What bench says at signals while the stack comes up.
const UP_SIGNALS: Signals = [
    "interrupted: removing what was started",
    "still removing what was started",
    "still removing what was started; if bench is killed, `bench down --all` (with --platform kubernetes for a cluster) removes what is left",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Experiment file (TOML).
    experiment: PathBuf,
    /// Variant to bring up (default: the first).
    #[arg(long)]
    variant: Option<String>,
    /// Print the databases' URLs with their generated password (hidden as *** by default).
    #[arg(long)]
    show_password: bool,
    /// docker: containers on this machine; kubernetes: a namespace on a cluster, placed by the file's [kubernetes].
    #[command(flatten)]
    platform: PlatformArgs,
    /// With --platform kubernetes: have the API server check every object of the stack (server-side dry-run,
    /// in a namespace made for it and removed again) and start nothing.
    #[arg(long)]
    dry_run: bool,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = ExperimentFile::load(&args.experiment)?;
    let variant = match args.variant {
        Some(name) => file.select(&[name])?.remove(0),
        None => file.variants[0].clone(),
    };
    args.platform.check("up");
    args.platform.check_dry_run(args.dry_run);
    args.platform.accepts(&file, std::slice::from_ref(&variant))?;
    let platform = args.platform.connect().await?.context("bench up needs a platform")?;
    let platform = platform.placed(&variant.experiment.kubernetes);
    // Ctrl-C or SIGTERM while coming up removes what was started instead of leaving half a stack behind (a
    // dry-run, whose namespace is real, runs to its end: a few seconds).
    let interrupts = Interrupts::default();
    let received = signals::listen(interrupts.clone(), UP_SIGNALS)?;
    if args.dry_run {
        let checked = dry_run(&platform, &variant.experiment.stack).await?;
        return Ok(if interrupts.interrupted() { received.exit_code() } else { checked });
    }
    let progress = Progress::new(&format!("{} [{}]", file.experiment.name, variant.name));
    let report = |line: String| progress.set(line);
    // A pod cannot be shown a folder of this machine: the UI on a cluster lists no reports.
    let reports = if platform.serves_host_folders() { Some(reports_folder()?) } else { None };
    let options = Options { owner: Owner::Up, services: Services::IfPresent, reports: reports.clone() };
    let brought_up = Stack::up_until(&platform, &variant.experiment.stack, options, &report, &interrupts.first).await;
    progress.finish();
    let stack = match brought_up {
        Ok(stack) => stack,
        Err(stack::StackError::Interrupted) => {
            eprintln!("interrupted: what was started has been removed");
            return Ok(received.exit_code());
        }
        Err(e) => return Err(e.into()),
    };

    let names = format!("{}, variant {}", file.experiment.name, variant.name);
    print_ready(&stack, &names, reports.as_deref(), args.show_password);
    let flag = if platform.name() == "docker" { String::new() } else { format!(" --platform {}", platform.name()) };
    println!("remove it with `bench down{flag}`");
    stack.detach();
    Ok(ExitCode::SUCCESS)
}

/// Where each part of a stack that is up answers, for the user's own tools.
fn print_ready(stack: &Stack, names: &str, reports: Option<&std::path::Path>, show_password: bool) {
    // bench's own port-forwards end when it exits: show where the parts answer without them.
    let reached = stack.reached();
    let e = reached.and_then(|r| r.unforwarded.as_ref()).unwrap_or(&stack.plan.endpoints);
    println!("stack {} ({names}) ready in {:.1} s", stack.id, stack.ready_after.as_secs_f64());
    if let Some((what, location)) = stack.platform().location(&stack.id) {
        println!("  {what:<17} {location}");
    }
    println!("  kafka             {}", e.bootstrap);
    println!("  schema registry   {}", e.registry);
    let shown = |url: &str| if show_password { url.to_string() } else { super::redact::password(url) };
    println!("  db-ch             {}", shown(&e.db_ch));
    println!("  db-ge             {}", shown(&e.db_ge));
    if let Some(tls) = &e.tls {
        // What a user's own tools need to reach a stack that refuses clients without a certificate.
        println!("  tls ca            {}", tls.ca.display());
        println!("  tls client cert   {}", tls.cert.display());
        println!("  tls client key    {}", tls.key.display());
    }
    if stack.running_containers().iter().any(|c| c == "kgb-graphql-endpoint") {
        println!("  graphql           {}  (websocket {})", e.graphql_http, e.graphql_ws);
    }
    if stack.running_containers().iter().any(|c| c == "kgb-frontend") {
        println!("  bank UI           {}", e.frontend);
        if let Some(reports) = reports {
            println!("  reports           {}  (listed on the UI's Results page, read-only)", reports.display());
        }
    }
    if let Some(reached) = reached.filter(|r| !r.forwarded.is_empty()) {
        println!("  bench reached these through port-forwards, which end with it; the addresses above answer after:");
        for command in reached.commands(&stack.plan, &stack.id) {
            println!("    {command}");
        }
    }
    if !stack.skipped.is_empty() {
        println!(
            "  not started (no image; `bench images` after `cargo build --release`): {}",
            stack.skipped.join(", ")
        );
    }
}

/// The server-side dry-run of every object of a stack of `settings`.
async fn dry_run(
    platform: &Platform,
    settings: &bench_results::experiment::stack::StackSettings,
) -> anyhow::Result<ExitCode> {
    let checked = Stack::dry_run(platform, settings).await.context("the server-side dry-run")?;
    println!("the cluster accepted all {} objects of the stack (dry-run: nothing was kept):", checked.len());
    for object in checked {
        println!("  {object}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `reports/` of the current directory (the checkout, where `bench report` writes), made when missing so the
/// frontend has a folder to show; the engine needs its absolute path.
fn reports_folder() -> anyhow::Result<PathBuf> {
    let folder = std::env::current_dir().context("the current directory")?.join("reports");
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    Ok(folder)
}
