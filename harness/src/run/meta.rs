//! What a results header records about where a run ran: commit, host and the exact images.

use std::collections::BTreeMap;
use std::path::Path;

use bollard::Docker;

use crate::results::Host;

/// The commit of the repository holding `near` (the experiment file), `unknown` outside a git checkout.
pub fn git_commit(near: &Path) -> String {
    let folder = near.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let output = std::process::Command::new("git").arg("-C").arg(folder).args(["rev-parse", "HEAD"]).output();
    match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => "unknown".to_string(),
    }
}

pub fn host() -> Host {
    let mem_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok()))
        .unwrap_or(0);
    Host {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        mem_mib: mem_kib / 1024,
    }
}

/// Image reference -> image id, for every image named (missing ones are left out).
pub async fn image_ids(docker: &Docker, images: &[String]) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for image in images {
        if let Ok(inspect) = docker.inspect_image(image).await {
            if let Some(id) = inspect.id {
                ids.insert(image.clone(), id);
            }
        }
    }
    ids
}
