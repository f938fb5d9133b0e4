//! What a results header records about where a run ran: commit, host and the exact images.

use bench_results::Host;

/// The commit bench was built from (`-dirty` when its sources differed from it), `unknown` when built without git:
/// the code that produced a results file, wherever the experiment file lies.
pub fn git_commit() -> &'static str {
    env!("KGB_GIT_COMMIT")
}

pub fn host() -> Host {
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    Host {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        mem_mib: mem_kib / 1024,
        cpu_model: None,
        kernel: None,
        calibration: None,
    }
}

/// The host with its fingerprint: CPU model, kernel, and the fixed workload timed now (under a second, off the
/// runtime's thread).
pub async fn fingerprint() -> Host {
    let calibration = tokio::task::spawn_blocking(super::calibration::calibrate).await.ok();
    Host { cpu_model: super::calibration::cpu_model(), kernel: super::calibration::kernel(), calibration, ..host() }
}
