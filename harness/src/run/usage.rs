//! bench's own resource use, so a results file shows that the harness did not steal the machine it measures.

use std::time::{Duration, Instant};

use bench_results::{BenchPeak, Sample};

/// CPU time this process used so far (all threads, user + system).
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let micros =
        |t: libc::timeval| u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Resident memory of this process in MiB (no page cache: it is not counted in RSS).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Samples bench like a container: CPU as a share of the whole machine since the previous sample. It also keeps
/// the sampled window with the most transfers per second: the whole run's CPU per transfer counts the ramp's quiet
/// start, where every transfer pays for its own wake-ups, and says little about what bench took from the machine
/// at the load that decided the run.
pub struct OwnUsage {
    cpus: f64,
    last: (Instant, Duration, u64),
    peak: Option<BenchPeak>,
}

/// Windows shorter than this are too noisy to stand for the run's peak.
const MIN_WINDOW: Duration = Duration::from_secs(1);

impl OwnUsage {
    pub fn new() -> OwnUsage {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        OwnUsage { cpus, last: (Instant::now(), cpu_time(), 0), peak: None }
    }

    /// A sample since the previous one; `transfers` is the count answered so far.
    pub fn sample(&mut self, transfers: u64) -> Sample {
        let cpu_pct = self.window(Instant::now(), cpu_time(), transfers);
        Sample { cpu_pct, mem_mib: rss_mib() }
    }

    /// Closes the window ending at `at`, with bench's CPU time and transfers so far; its CPU % of the machine.
    fn window(&mut self, at: Instant, cpu_so_far: Duration, transfers: u64) -> f64 {
        let wall = at.duration_since(self.last.0);
        let cpu = cpu_so_far.saturating_sub(self.last.1).as_secs_f64();
        let driven = transfers.saturating_sub(self.last.2);
        self.last = (at, cpu_so_far, transfers);
        let cpu_pct = if wall > Duration::ZERO { cpu / wall.as_secs_f64() / self.cpus * 100.0 } else { 0.0 };
        if wall >= MIN_WINDOW && driven > 0 {
            let window = BenchPeak {
                transfers_per_s: driven as f64 / wall.as_secs_f64(),
                cpu_pct,
                cpu_ms_per_1000_transfers: cpu * 1e6 / driven as f64,
            };
            if self.peak.is_none_or(|p| window.transfers_per_s > p.transfers_per_s) {
                self.peak = Some(window);
            }
        }
        cpu_pct
    }

    /// The sampled window with the most transfers per second, if any window drove transfers.
    pub fn peak(&self) -> Option<BenchPeak> {
        self.peak
    }
}

impl Default for OwnUsage {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work_and_memory_is_read() {
        let before = cpu_time();
        let mut x = 0u64;
        for i in 0..30_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > before);
        assert!(rss_mib() > 1.0);
        let s = OwnUsage::new().sample(0);
        assert!(s.cpu_pct >= 0.0 && s.mem_mib > 1.0);
    }

    #[test]
    fn the_peak_is_the_window_with_the_most_transfers_per_second() {
        let start = Instant::now();
        let mut usage = OwnUsage { cpus: 2.0, last: (start, Duration::ZERO, 0), peak: None };
        let at = |s: u64| start + Duration::from_secs(s);
        // 5 s, 500 transfers (100/s) for 100 ms of CPU: 1 % of 2 cores, 200 ms per 1,000.
        assert!((usage.window(at(5), Duration::from_millis(100), 500) - 1.0).abs() < 1e-9);
        let first = usage.peak().unwrap();
        assert!((first.transfers_per_s - 100.0).abs() < 1e-9 && (first.cpu_ms_per_1000_transfers - 200.0).abs() < 1e-9);
        // 5 s, 4,500 more (900/s) for 450 ms more: the new peak, 100 ms per 1,000, 4.5 % of the machine.
        usage.window(at(10), Duration::from_millis(550), 5000);
        let busiest = usage.peak().unwrap();
        assert!((busiest.transfers_per_s - 900.0).abs() < 1e-9);
        assert!((busiest.cpu_ms_per_1000_transfers - 100.0).abs() < 1e-9 && (busiest.cpu_pct - 4.5).abs() < 1e-9);
        // A quieter window, or one too short to trust, leaves the peak alone.
        usage.window(at(15), Duration::from_millis(600), 5100);
        usage.window(at(15) + Duration::from_millis(200), Duration::from_millis(700), 7000);
        assert_eq!(usage.peak(), Some(busiest));
    }
}
