//! One-shot resource samples of containers, computed as the 2019 project did:
//! CPU % = Δ container CPU time / Δ system CPU time × 100 (a share of the whole machine),
//! memory MiB = usage − page cache (cgroup v1 `total_cache`, v2 `inactive_file`).

use std::collections::BTreeMap;

use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use super::DockerError;

/// A container's resource use at one moment, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Share of the whole machine's CPU since the engine's previous reading, in percent.
    pub cpu_pct: f64,
    /// Memory in use minus page cache, in MiB.
    pub mem_mib: f64,
}

/// Computes a [`Usage`] from the engine's stats answer; `None` when it lacks the numbers (container gone).
pub fn sample_from(stats: &ContainerStatsResponse) -> Option<Usage> {
    let cpu = stats.cpu_stats.as_ref()?;
    let pre = stats.precpu_stats.as_ref()?;
    let total = cpu.cpu_usage.as_ref()?.total_usage?;
    let pre_total = pre.cpu_usage.as_ref().and_then(|u| u.total_usage).unwrap_or(0);
    let system = cpu.system_cpu_usage?;
    let pre_system = pre.system_cpu_usage.unwrap_or(0);
    let cpu_delta = total.saturating_sub(pre_total) as f64;
    let system_delta = system.saturating_sub(pre_system) as f64;
    let cpu_pct = if system_delta > 0.0 { cpu_delta / system_delta * 100.0 } else { 0.0 };

    let memory = stats.memory_stats.as_ref()?;
    let usage = memory.usage? as f64;
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| s.get("total_cache").or_else(|| s.get("inactive_file")).copied())
        .unwrap_or(0) as f64;
    Some(Usage { cpu_pct, mem_mib: (usage - cache).max(0.0) / (1024.0 * 1024.0) })
}

/// Samples one container (the engine waits about a second to fill the previous CPU reading).
///
/// # Errors
/// The engine's error naming the container.
pub async fn sample(docker: &Docker, name: &str) -> Result<Option<Usage>, DockerError> {
    // one_shot=false makes the engine take two readings, so precpu_stats is filled and CPU % is meaningful.
    let options = StatsOptionsBuilder::default().stream(false).one_shot(false).build();
    let mut stream = docker.stats(name, Some(options));
    match stream.next().await {
        Some(Ok(stats)) => Ok(sample_from(&stats)),
        Some(Err(e)) => Err(DockerError::engine("failed to read stats of container", name)(e)),
        None => Ok(None),
    }
}

/// Samples several containers at once; containers without numbers are left out, and so is one the engine fails
/// on (a container that died must not cost the row every other container's sample).
///
/// # Errors
/// The first engine error when every container failed: then the engine itself is in doubt.
pub async fn sample_all(docker: &Docker, names: &[String]) -> Result<BTreeMap<String, Usage>, DockerError> {
    let samples = futures_util::future::join_all(names.iter().map(|n| sample(docker, n))).await;
    collect(names, samples)
}

fn collect(
    names: &[String],
    samples: Vec<Result<Option<Usage>, DockerError>>,
) -> Result<BTreeMap<String, Usage>, DockerError> {
    let mut found = BTreeMap::new();
    let mut first_error = None;
    for (name, sample) in names.iter().zip(samples) {
        match sample {
            Ok(Some(usage)) => {
                found.insert(name.clone(), usage);
            }
            Ok(None) => {}
            // Left out of the row: the row says which containers it sampled.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) if found.is_empty() => Err(e),
        _ => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failing_container_keeps_the_others_samples() {
        let failed = || Err(DockerError::NameTaken { name: "kgb-db-ch".into() });
        let usage = Usage { cpu_pct: 12.0, mem_mib: 100.0 };
        let names: Vec<String> = ["kgb-kafka-1", "kgb-db-ch", "kgb-db-ge"].iter().map(|s| s.to_string()).collect();
        let got = collect(&names, vec![Ok(Some(usage)), failed(), Ok(None)]).expect("the others are kept");
        assert_eq!(got.keys().collect::<Vec<_>>(), ["kgb-kafka-1"]);
        assert!(collect(&names[1..2], vec![failed()]).is_err(), "all failed: the engine is in doubt");
    }
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};
    use std::collections::HashMap;

    fn stats(
        total: u64,
        pre_total: u64,
        system: u64,
        pre_system: u64,
        usage: u64,
        cache_key: &str,
    ) -> ContainerStatsResponse {
        let cpu = |t, s| ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage { total_usage: Some(t), ..Default::default() }),
            system_cpu_usage: Some(s),
            ..Default::default()
        };
        ContainerStatsResponse {
            cpu_stats: Some(cpu(total, system)),
            precpu_stats: Some(cpu(pre_total, pre_system)),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(usage),
                stats: Some(HashMap::from([(cache_key.to_string(), 64 * 1024 * 1024)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_a_share_of_the_machine_and_memory_excludes_cache_v1() {
        let s = sample_from(&stats(3_000, 1_000, 20_000, 10_000, 192 * 1024 * 1024, "total_cache")).unwrap();
        assert!((s.cpu_pct - 20.0).abs() < 1e-9);
        assert!((s.mem_mib - 128.0).abs() < 1e-9);
    }

    #[test]
    fn memory_excludes_inactive_file_on_cgroup_v2() {
        let s = sample_from(&stats(1, 1, 2, 1, 100 * 1024 * 1024, "inactive_file")).unwrap();
        assert!((s.mem_mib - 36.0).abs() < 1e-9);
        assert_eq!(s.cpu_pct, 0.0);
    }

    #[test]
    fn a_gone_container_has_no_sample() {
        assert!(sample_from(&ContainerStatsResponse::default()).is_none());
    }
}
