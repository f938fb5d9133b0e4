//! Admission control: the endpoint holds at most so many commands at once (each waits up to
//! `COMMAND_TIMEOUT_MS` with its subscription, its record and its waiter); one more is answered "overloaded" at
//! once, before anything is produced, so its fate is certain. Offered beyond what the bank carries, the endpoint
//! sheds the excess instead of keeping it until the memory cgroup kills it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The start of every overloaded answer; the command was not sent.
pub const OVERLOADED: &str = "the endpoint is overloaded";

#[derive(Clone)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    refused: Arc<AtomicU64>,
}

/// A command's place among those held; freed when the command is answered.
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl Admission {
    pub fn new(limit: usize) -> Admission {
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        Admission { permits: Arc::new(Semaphore::new(limit)), limit, refused: Arc::default() }
    }

    /// A place for one more command, or the reason to give its client.
    pub fn admit(&self) -> Result<Admitted, String> {
        self.permits.clone().try_acquire_owned().map(Admitted).map_err(|_| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            format!("{OVERLOADED}: it holds {} commands already; try again later", self.limit)
        })
    }

    /// Commands held now.
    pub fn in_flight(&self) -> usize {
        self.limit - self.permits.available_permits()
    }

    /// Commands refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_limit_commands_are_refused_until_one_is_answered() {
        let admission = Admission::new(2);
        let a = admission.admit().unwrap();
        let _b = admission.admit().unwrap();
        assert_eq!(admission.in_flight(), 2);
        let refused = admission.admit().err().unwrap();
        assert_eq!(refused, "the endpoint is overloaded: it holds 2 commands already; try again later");
        assert_eq!(admission.refused(), 1);
        drop(a);
        assert!(admission.admit().is_ok(), "a place is free again once a command is answered");
    }
}
