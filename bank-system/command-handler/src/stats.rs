//! Counters of a command handler, served as JSON on `GET /stats`.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub acknowledged: AtomicU64,
    pub replays: AtomicU64,
    pub poison: AtomicU64,
    pub refused: AtomicU64,
    pub retries: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Commands applied (first time).
    pub commands: u64,
    /// Messages done: their events acknowledged by Kafka (or skipped as poison), their offsets stored.
    pub acknowledged: u64,
    /// Commands seen before, answered from the stored outcome.
    pub replays: u64,
    /// Records skipped because they could not be decoded or were not commands.
    pub poison: u64,
    /// Commands whose data db-ch refused (SQLSTATE classes 22, 23, 54), answered as failed.
    pub refused: u64,
    /// Transient failures retried.
    pub retries: u64,
}

impl Stats {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            commands: self.commands.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            replays: self.replays.load(Ordering::Relaxed),
            poison: self.poison.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    pub fn count(counter: &AtomicU64) {
        Stats::add(counter, 1);
    }

    pub fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
