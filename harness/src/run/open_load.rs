//! An open-model run's load beside the probe: the pool of connections and accounts, the capacity search running as
//! a task of its own, and each finished step given the probe's figures and the resource samples over its dwell.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::try_join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::search::{self, Drain, Progress, Searched, StepDone};
use crate::audit::Books;
use crate::experiment::{Load, Search};
use crate::load::bank;
use crate::load::client::{Client, ClientError, Endpoint};
use crate::load::deadline::{self, FIRST_COMMAND};
use crate::load::open::{Offerer, Ring};
use bench_results::{ProbeFigures, Sample, Step};

/// The search under way, and what the probe and the sampler saw since the last step.
pub struct OpenLoad {
    task: JoinHandle<Searched>,
    /// Unbounded by construction: one message per step of a search of at most `max_steps` (see `Progress`).
    steps: mpsc::UnboundedReceiver<StepDone>,
    rate: watch::Receiver<f64>,
    cancel: CancellationToken,
    answered: Arc<AtomicU64>,
    probes: Vec<(Instant, Option<Duration>)>,
    /// When each sample came in, its resources and the machine's busy CPU.
    samples: Vec<(Instant, BTreeMap<String, Sample>, Option<f64>)>,
}

/// The read side's database caught up with the events the command handler stored (as the audit waits for it).
impl Drain for Books {
    async fn caught_up(&self, until: Instant) -> bool {
        crate::audit::caught_up(self, until).await
    }
}

/// Opens `load.connections` websockets and `load.accounts` accounts (`open-account-<i>`, spread over the
/// connections), the pool the search offers its transfers over.
///
/// Each connection has its own deadline ([`Client::connect`]). The accounts are asked for all at once and the
/// endpoint hashes their passwords a few at a time, so the last may rightly come long after the first: the
/// deadline is on progress, [`FIRST_COMMAND`] without any account answered.
///
/// # Errors
/// A connection or an account that cannot be opened, or [`ClientError::NoAnswer`].
pub async fn pool(endpoint: &Endpoint, load: &Load) -> Result<Offerer<Client>, ClientError> {
    let clients = try_join_all((0..load.connections).map(|_| Client::connect(endpoint, load.protocol))).await?;
    let mut opening: FuturesUnordered<_> = (0..load.accounts as usize)
        .map(|i| {
            let name = format!("open-account-{i}");
            let client = &clients[i % clients.len()];
            async move { (i, bank::open_account(client, &name, &name).await) }
        })
        .collect();
    let mut accounts = vec![None; load.accounts as usize];
    let mut opened = 0;
    while opened < accounts.len() {
        let what = || format!("get_account for the open model's accounts ({opened} of {} opened)", load.accounts);
        let next = async { opening.next().await.ok_or(ClientError::Closed) };
        let (i, account) = deadline::within(FIRST_COMMAND, &endpoint.url, what, next).await?;
        accounts[i] = Some(account?);
        opened += 1;
    }
    drop(opening);
    Ok(Offerer::new(clients, Ring::new(accounts.into_iter().flatten().collect())))
}

impl OpenLoad {
    /// Starts the search over `offerer` as a task of its own, its arrivals and order of rates drawn from `seed`.
    pub fn start(offerer: Offerer<Client>, cfg: Search, load: &Load, drain: Books, seed: u64) -> OpenLoad {
        let (steps_tx, steps) = mpsc::unbounded_channel();
        let (rate_tx, rate) = watch::channel(0.0);
        let cancel = CancellationToken::new();
        let (token, arrivals, answered) = (cancel.clone(), load.arrivals, Arc::new(AtomicU64::new(0)));
        let counter = answered.clone();
        let task = tokio::spawn(async move {
            let progress = Progress { steps: steps_tx, rate: rate_tx, answered: counter };
            search::search(offerer, &cfg, arrivals, seed, &drain, &progress, &token).await
        });
        OpenLoad { task, steps, rate, cancel, answered, probes: Vec::new(), samples: Vec::new() }
    }

    /// Transfers answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// The rate offered now.
    pub fn rate(&self) -> f64 {
        *self.rate.borrow()
    }

    /// What a probe loop and a resource sample (if one came in, with the machine's busy CPU) saw, for the steps'
    /// figures.
    pub fn saw(
        &mut self,
        slot: Instant,
        probe: Option<Duration>,
        resources: Option<&BTreeMap<String, Sample>>,
        machine: Option<f64>,
    ) {
        self.probes.push((slot, probe));
        if let Some(samples) = resources {
            self.samples.push((Instant::now(), samples.clone(), machine));
        }
    }

    /// The steps finished since the last call, with the probe's and the containers' figures over their dwells.
    pub fn finished_steps(&mut self) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Ok(StepDone { mut step, dwell: (from, to) }) = self.steps.try_recv() {
            step.probe =
                Some(probe_figures(self.probes.iter().filter(|(t, _)| (from..to).contains(t)).map(|(_, p)| *p)));
            let in_dwell = || self.samples.iter().filter(|(t, ..)| (from..to).contains(t));
            step.resources = mean_samples(in_dwell().map(|(_, s, _)| s));
            step.machine_cpu_pct = mean(in_dwell().filter_map(|(.., m)| *m));
            self.probes.retain(|(t, _)| *t >= to);
            self.samples.retain(|(t, ..)| *t >= to);
            steps.push(step);
        }
        steps
    }

    /// Whether the search has ended by itself.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the search (if it still runs) and waits for it: its answers go to the audit.
    pub async fn finish(self) -> Searched {
        self.cancel.cancel();
        self.task.await.unwrap_or_default()
    }
}

fn probe_figures(outcomes: impl Iterator<Item = Option<Duration>>) -> ProbeFigures {
    let mut latencies = Vec::new();
    let mut timeouts = 0;
    for outcome in outcomes {
        match outcome {
            Some(latency) => latencies.push(latency.as_secs_f64() * 1000.0),
            None => timeouts += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let n = latencies.len() + timeouts as usize;
    // Nearest rank, timeouts slower than any answer.
    let quantile = |q: f64| {
        let rank = ((q * n as f64).ceil() as usize).max(1);
        latencies.get(rank - 1).copied()
    };
    ProbeFigures { loops: n as u32, timeouts, p50_ms: quantile(0.5), p99_ms: quantile(0.99) }
}

/// The mean, `None` of nothing.
fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(sum, n), v| (sum + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

fn mean_samples<'a>(samples: impl Iterator<Item = &'a BTreeMap<String, Sample>>) -> BTreeMap<String, Sample> {
    let mut sums: BTreeMap<String, (f64, f64, u32)> = BTreeMap::new();
    for sample in samples {
        for (name, s) in sample {
            let e = sums.entry(name.clone()).or_default();
            *e = (e.0 + s.cpu_pct, e.1 + s.mem_mib, e.2 + 1);
        }
    }
    sums.into_iter()
        .map(|(name, (cpu, mem, n))| (name, Sample { cpu_pct: cpu / f64::from(n), mem_mib: mem / f64::from(n) }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_quantiles_count_timeouts_as_slowest() {
        let ms = |m: u64| Some(Duration::from_millis(m));
        let f = probe_figures([ms(10), ms(20), ms(30), None].into_iter());
        assert_eq!((f.loops, f.timeouts, f.p50_ms), (4, 1, Some(20.0)));
        assert_eq!(f.p99_ms, None, "the slowest of four is the timeout");
    }
}
