//! Checking that the stack's ports on 127.0.0.1 are free before anything starts.

use std::net::TcpListener;

/// A port that is already taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("port 127.0.0.1:{port} (for {wanted_by}) is already taken{}", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
pub struct PortTaken {
    pub port: u16,
    pub wanted_by: String,
    /// `name (pid N)` of the listening process, when it can be found.
    pub holder: Option<String>,
}

/// Fails on the first port of `ports` that cannot be bound on 127.0.0.1.
///
/// # Errors
/// [`PortTaken`] naming the port, who wanted it, and the process holding it where /proc tells.
pub fn check_free(ports: &[(u16, String)]) -> Result<(), PortTaken> {
    for (port, wanted_by) in ports {
        if TcpListener::bind(("127.0.0.1", *port)).is_err() {
            return Err(PortTaken { port: *port, wanted_by: wanted_by.clone(), holder: holder(*port) });
        }
    }
    Ok(())
}

/// The process listening on `port`, found through /proc/net/tcp{,6} and the processes' socket descriptors.
pub fn holder(port: u16) -> Option<String> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|f| listening_inode(f, port))?;
    let target = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| std::fs::read_link(fd.path()).map(|l| l.to_string_lossy() == target).unwrap_or(false))
        {
            let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            return Some(format!("{} (pid {pid})", name.trim()));
        }
    }
    None
}

fn listening_inode(table: &str, port: u16) -> Option<String> {
    let text = std::fs::read_to_string(table).ok()?;
    let wanted = format!(":{port:04X}");
    text.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // local_address is column 1, state column 3 (0A = LISTEN), inode column 9.
        (cols.len() > 9 && cols[1].ends_with(&wanted) && cols[3] == "0A").then(|| cols[9].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_names_the_port_and_this_process() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = check_free(&[(port, "kgb-kafka-1".to_string())]).unwrap_err();
        assert_eq!(err.port, port);
        let holder = err.holder.clone().expect("this test process holds the port");
        assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
        assert!(err.to_string().contains(&format!("127.0.0.1:{port} (for kgb-kafka-1)")), "{err}");
    }

    #[test]
    fn free_ports_pass() {
        let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        assert!(check_free(&[(port, "x".to_string())]).is_ok());
    }
}
