//! `bench up <experiment> [--variant NAME] [--platform docker|kubernetes [--dry-run]]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use harness::experiment::ExperimentFile;
use stack::{Engine, Options, Owner, Services, Stack};

use harness::run::Interrupts;

use super::cluster::{KubeArgs, Platform};
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
    #[arg(long, value_enum, default_value_t = Platform::Docker)]
    platform: Platform,
    #[command(flatten)]
    cluster: KubeArgs,
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
    let kubernetes = args.platform == Platform::Kubernetes;
    args.cluster.only_with(kubernetes);
    if args.dry_run && !kubernetes {
        clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, "--dry-run needs --platform kubernetes\n").exit();
    }
    let engine = if kubernetes {
        file.for_kubernetes(std::slice::from_ref(&variant))?;
        Engine::Kubernetes(Box::new(args.cluster.connect().await?.placed(variant.experiment.kubernetes.clone())))
    } else {
        Engine::Docker(stack::docker::connect().await?)
    };
    // Ctrl-C or SIGTERM while coming up removes what was started instead of leaving half a stack behind (a
    // dry-run, whose namespace is real, runs to its end: a few seconds).
    let interrupts = Interrupts::default();
    let received = signals::listen(interrupts.clone(), UP_SIGNALS)?;
    if let (true, Engine::Kubernetes(cluster)) = (args.dry_run, &engine) {
        let checked = dry_run(cluster, &variant.experiment.stack).await?;
        return Ok(if interrupts.interrupted() { received.exit_code() } else { checked });
    }
    let progress = Progress::new(&format!("{} [{}]", file.experiment.name, variant.name));
    let report = |line: String| progress.set(line);
    // A pod cannot be shown a folder of this machine: the UI on Kubernetes lists no reports.
    let reports = if kubernetes { None } else { Some(reports_folder()?) };
    // On a cluster the node's images are not bench's to list: every service is started.
    let services = if kubernetes { Services::Require } else { Services::IfPresent };
    let options = Options { owner: Owner::Up, services, reports: reports.clone() };
    let brought_up = Stack::up_until(&engine, &variant.experiment.stack, options, &report, &interrupts.first).await;
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
    print_ready(&stack, &engine, &names, reports.as_deref(), args.show_password);
    println!("remove it with `bench down{}`", if kubernetes { " --platform kubernetes" } else { "" });
    stack.detach();
    Ok(ExitCode::SUCCESS)
}

/// Where each part of a stack that is up answers, for the user's own tools.
fn print_ready(stack: &Stack, engine: &Engine, names: &str, reports: Option<&std::path::Path>, show_password: bool) {
    // bench's own port-forwards end when it exits: show where the parts answer without them.
    let reached = stack.reached();
    let e = reached.and_then(|r| r.unforwarded.as_ref()).unwrap_or(&stack.plan.endpoints);
    println!("stack {} ({names}) ready in {:.1} s", stack.id, stack.ready_after.as_secs_f64());
    if let Engine::Kubernetes(cluster) = engine {
        println!("  namespace         {} on {}", stack::kube::namespace(&stack.id), cluster.server());
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
        print_forwards(&reached.forwarded, stack);
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
    cluster: &stack::kube::Cluster,
    settings: &bench_results::experiment::stack::StackSettings,
) -> anyhow::Result<ExitCode> {
    let checked = Stack::dry_run(cluster, settings).await.context("the server-side dry-run")?;
    println!("{} accepted all {} objects of the stack (dry-run: nothing was kept):", cluster.server(), checked.len());
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

/// What reaches the parts bench reached through its port-forwards, now that they end with it.
fn print_forwards(forwarded: &[(u16, String)], stack: &stack::Stack) {
    let namespace = stack::kube::namespace(&stack.id);
    println!("  bench reached these through port-forwards, which end with it; the addresses above answer after:");
    for (port, part) in forwarded {
        let Some(role) = stack.plan.parts().find(|p| p.spec.name == *part).map(|p| p.role) else { continue };
        // On a pod network a broker's metadata names Services a client outside the cluster cannot resolve.
        let note = if role == stack::Role::Kafka { "  (metadata only, outside the cluster)" } else { "" };
        println!(
            "    kubectl -n {namespace} port-forward {}/{part} {port}{note}",
            stack::kube::manifests::workload(role)
        );
    }
}
