//! bench's own resource use, so a results file shows that the harness did not steal the machine it measures.

use std::time::{Duration, Instant};

use crate::docker::stats::Sample;

/// CPU time this process used so far (all threads, user + system).
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let micros = |t: libc::timeval| u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Resident memory of this process in MiB (no page cache: it is not counted in RSS).
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Samples bench like a container: CPU as a share of the whole machine since the previous sample.
pub struct OwnUsage {
    cpus: f64,
    last: (Instant, Duration),
}

impl OwnUsage {
    pub fn new() -> OwnUsage {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        OwnUsage { cpus, last: (Instant::now(), cpu_time()) }
    }

    pub fn sample(&mut self) -> Sample {
        let now = (Instant::now(), cpu_time());
        let wall = now.0.duration_since(self.last.0).as_secs_f64();
        let cpu = now.1.saturating_sub(self.last.1).as_secs_f64();
        self.last = now;
        let cpu_pct = if wall > 0.0 { cpu / wall / self.cpus * 100.0 } else { 0.0 };
        Sample { cpu_pct, mem_mib: rss_mib() }
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
        let s = OwnUsage::new().sample();
        assert!(s.cpu_pct >= 0.0 && s.mem_mib > 1.0);
    }
}
