//! How a part ended, in the same words on Docker and on Kubernetes: its exit code, whether the kernel killed it
//! for exceeding its memory limit, and how often the platform restarted it. Recorded in results files, so it
//! reads and writes as JSON.

use serde::{Deserialize, Serialize};

/// The exit code of a process killed by SIGKILL (128 + 9): what the memory cgroup's OOM killer sends, and also
/// `docker kill`, so the code alone does not say "out of memory"; only the platform's own flag does.
pub const SIGKILL_EXIT: i64 = 137;

/// How a part stopped (or last stopped, when the platform restarted it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Ending {
    /// Exit code of the run that ended; `None` when it never ran (an image that cannot be pulled) or is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// The kernel's memory cgroup killed it: Docker's `State.OOMKilled`, a pod container's terminated reason
    /// `OOMKilled`.
    pub oom_killed: bool,
    /// Times the platform restarted it (a pod's `restartCount`; Docker restarts nothing of bench's).
    pub restarts: u32,
    /// Running again when it was looked at (restarted by Kubernetes, or on Docker a process inside it was killed
    /// while the part itself lived on).
    pub running: bool,
    /// The platform's own words when they say more than the code (`ImagePullBackOff: ...`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
}

impl Ending {
    /// An exit with this code and nothing else known.
    pub fn exited(code: i64) -> Ending {
        Ending { code: Some(code), ..Ending::default() }
    }

    /// Counts as a part that died: not running, or running only because the platform restarted it.
    pub fn died(&self) -> bool {
        !self.running || self.restarts > 0
    }

    /// The exit code, or -1 when there was none (as the readiness error has always said).
    pub fn code_or_none(&self) -> i64 {
        self.code.unwrap_or(-1)
    }
}

impl Ending {
    /// `killed for exceeding its memory limit (OOMKilled), exit code 137, restarted 2 times`: what is known, as
    /// the readiness error's parenthesis.
    pub fn details(&self) -> String {
        let mut details: Vec<String> = Vec::new();
        if self.oom_killed {
            details.push("killed for exceeding its memory limit (OOMKilled)".into());
        }
        if let Some(code) = self.code {
            details.push(format!("exit code {code}"));
        }
        if !self.why.is_empty() {
            details.push(self.why.clone());
        }
        match self.restarts {
            0 => {}
            1 => details.push("restarted once".into()),
            n => details.push(format!("restarted {n} times")),
        }
        if details.is_empty() {
            return "no exit code".into();
        }
        details.join(", ")
    }
}

/// What follows a part's name in the terminal and the report: `was killed for exceeding its memory limit
/// (OOMKilled), exit code 137`, `was no longer running at the end: exit code 1`.
impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let details = self.details();
        match (self.oom_killed, self.died()) {
            (true, false) => write!(f, "had a process {details}, and still runs"),
            (true, true) => write!(f, "was {details}"),
            (false, _) if self.running => write!(f, "was restarted: {details}"),
            (false, _) => write!(f, "was no longer running at the end: {details}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oom_kill_is_named_as_such() {
        let oom = Ending { code: Some(SIGKILL_EXIT), oom_killed: true, ..Ending::default() };
        assert_eq!(oom.to_string(), "was killed for exceeding its memory limit (OOMKilled), exit code 137");
        let again = Ending { restarts: 2, running: true, ..oom.clone() };
        assert_eq!(
            again.to_string(),
            "was killed for exceeding its memory limit (OOMKilled), exit code 137, restarted 2 times"
        );
        assert_eq!(Ending::exited(1).to_string(), "was no longer running at the end: exit code 1");
        let killed = Ending { oom_killed: true, running: true, ..Ending::default() };
        assert!(!killed.died(), "the part itself lives on");
        assert!(again.died() && oom.died());
    }

    #[test]
    fn an_ending_reads_with_fields_missing() {
        let read: Ending = serde_json::from_str(r#"{"code":137,"oom_killed":true}"#).unwrap();
        assert_eq!(read, Ending { code: Some(137), oom_killed: true, ..Ending::default() });
    }
}
