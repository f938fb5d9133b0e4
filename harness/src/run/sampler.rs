//! Resource samples taken off the probe's path: every container's CPU and memory from the engine (about a second
//! a sample; on Kubernetes from the metrics API), bench's own, and the whole machine's busy CPU over the same window as the engine's readings, so a
//! run knows how much CPU another program took from the machine it measures (interference).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stack::Platform;
use tokio::task::JoinHandle;

use super::machine::{self, Ticks};
use super::usage::{cpu_time, OwnUsage};
use bench_results::{BenchPeak, Interference, Sample};

/// A finished sample, for a row.
pub struct Sampled {
    /// Container (and `bench`) -> resource use.
    pub resources: BTreeMap<String, Sample>,
    /// How busy the whole machine was over the engine's readings, % of all cores.
    pub machine_cpu_pct: Option<f64>,
}

/// What the engine and /proc/stat said over one sampling window.
struct Window {
    /// `None` when the engine failed: nothing is then known of the containers.
    containers: Option<BTreeMap<String, Sample>>,
    machine_pct: Option<f64>,
    /// bench's own CPU over the same window, % of the machine.
    bench_pct: f64,
    /// The engine's own processes over the same window, % of the machine: part of running the stack.
    engine_pct: f64,
}

/// The moment a window opens or closes: the machine's ticks, bench's CPU time, the clock.
#[derive(Clone, Copy)]
struct Mark(Option<Ticks>, Duration, Instant, u64);

impl Mark {
    fn now() -> Mark {
        Mark(Ticks::read(), cpu_time(), Instant::now(), machine::engine_ticks())
    }
}

pub struct Sampler {
    platform: Option<Platform>,
    stack_id: String,
    containers: Vec<String>,
    own: OwnUsage,
    pending: Option<(Sample, JoinHandle<Window>)>,
    interference: Tally,
}

impl Sampler {
    /// Samples `containers` of stack `stack_id` on `platform` (none without one: then only bench and the machine).
    pub fn new(platform: Option<Platform>, stack_id: &str, containers: Vec<String>) -> Sampler {
        let stack_id = stack_id.to_string();
        Sampler { platform, stack_id, containers, own: OwnUsage::new(), pending: None, interference: Tally::default() }
    }

    /// Starts a sample unless one is under way; `transfers` is the count answered so far, for bench's own window.
    pub fn start(&mut self, transfers: u64) {
        if self.pending.is_some() {
            return;
        }
        let (platform, stack_id, names) = (self.platform.clone(), self.stack_id.clone(), self.containers.clone());
        let task = tokio::spawn(async move {
            // Opened here, off the driver's path: reading the engine's processes scans /proc.
            let opened = Mark::now();
            let containers = match platform {
                Some(platform) => platform.sample(&stack_id, &names).await.map(|usages| {
                    usages
                        .into_iter()
                        .map(|(name, u)| (name, Sample { cpu_pct: u.cpu_pct, mem_mib: u.mem_mib }))
                        .collect()
                }),
                None => None,
            };
            window(opened, Mark::now(), containers)
        });
        self.pending = Some((self.own.sample(transfers), task));
    }

    /// The finished sample, if any; its interference joins the run's.
    pub async fn take(&mut self) -> Option<Sampled> {
        if !self.pending.as_ref().is_some_and(|(_, task)| task.is_finished()) {
            return None;
        }
        let (own, task) = self.pending.take()?;
        let window =
            task.await.unwrap_or(Window { containers: None, machine_pct: None, bench_pct: 0.0, engine_pct: 0.0 });
        // Only Docker's readings cover this window, and only its engine's processes are known to be the
        // stack's: a metrics API averages over tens of seconds, and a cluster's own processes are not counted.
        let comparable = self.platform.as_ref().is_some_and(Platform::samples_here);
        if let (true, Some(containers), Some(machine_pct)) = (comparable, &window.containers, window.machine_pct) {
            let stack_pct = containers.values().map(|s| s.cpu_pct).sum::<f64>() + window.engine_pct;
            self.interference.add(machine::interference_pct(machine_pct, stack_pct, window.bench_pct));
        }
        let mut resources = window.containers.unwrap_or_default();
        resources.insert("bench".to_string(), own);
        Some(Sampled { resources, machine_cpu_pct: window.machine_pct })
    }

    /// bench's sampled window with the most transfers per second.
    pub fn bench_peak(&self) -> Option<BenchPeak> {
        self.own.peak()
    }

    /// The interference over the samples so far; `None` before the first.
    pub fn interference(&self) -> Option<Interference> {
        self.interference.figures()
    }
}

/// The machine's busy share and bench's own between two marks. bench's share is measured over this window rather
/// than taken from its row sample (which covers the time since the previous sample), so that all three figures
/// the interference subtracts cover the same seconds.
fn window(opened: Mark, closed: Mark, containers: Option<BTreeMap<String, Sample>>) -> Window {
    let machine_pct = closed.0.zip(opened.0).and_then(|(c, o)| c.busy_pct_since(o));
    let wall = closed.2.duration_since(opened.2).as_secs_f64();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    let cpu = closed.1.saturating_sub(opened.1).as_secs_f64();
    let bench_pct = if wall > 0.0 { cpu / wall / cpus * 100.0 } else { 0.0 };
    let ticks = closed.0.zip(opened.0).map_or(0, |(c, o)| c.total_since(o));
    let engine_pct = if ticks > 0 { closed.3.saturating_sub(opened.3) as f64 / ticks as f64 * 100.0 } else { 0.0 };
    Window { containers, machine_pct, bench_pct, engine_pct }
}

/// Interference per sample, summed up.
#[derive(Default)]
struct Tally {
    sum: f64,
    max: f64,
    samples: u32,
}

impl Tally {
    fn add(&mut self, pct: f64) {
        self.sum += pct;
        self.max = self.max.max(pct);
        self.samples += 1;
    }

    fn figures(&self) -> Option<Interference> {
        (self.samples > 0).then(|| Interference {
            mean_pct: self.sum / f64::from(self.samples),
            max_pct: self.max,
            samples: self.samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_keeps_mean_and_maximum() {
        let mut tally = Tally::default();
        assert_eq!(tally.figures(), None);
        for pct in [1.0, 7.0, 4.0] {
            tally.add(pct);
        }
        assert_eq!(tally.figures(), Some(Interference { mean_pct: 4.0, max_pct: 7.0, samples: 3 }));
    }
}
