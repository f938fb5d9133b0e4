//! Counters of a command handler, served as JSON on `GET /stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub replays: AtomicU64,
    pub poison: AtomicU64,
    pub retries: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Commands applied (first time).
    pub commands: u64,
    /// Commands seen before, answered from the stored outcome.
    pub replays: u64,
    /// Records skipped because they could not be decoded or were not commands.
    pub poison: u64,
    /// Transient failures retried.
    pub retries: u64,
}

impl Stats {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            commands: self.commands.load(Ordering::Relaxed),
            replays: self.replays.load(Ordering::Relaxed),
            poison: self.poison.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
