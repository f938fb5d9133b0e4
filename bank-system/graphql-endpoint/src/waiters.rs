//! Feedback routing: a map from command uuid to the subscriptions waiting for its answer, O(1) per feedback
//! (2019 scanned every subscriber). A waiter is registered before its command is produced, and its guard
//! removes it when the subscription ends, answered or not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;
use topology::records::Record;
use uuid::Uuid;

/// The subscriptions waiting for one uuid, each with its registration number.
type Waiting = Vec<(u64, oneshot::Sender<Answer>)>;

/// Feedback and when the consumer handed it over.
pub type Answer = (Record, Instant);

#[derive(Default, Clone)]
pub struct Waiters {
    inner: Arc<Mutex<HashMap<Uuid, Waiting>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

/// A registered waiter; dropping it unregisters.
pub struct Waiter {
    pub answer: oneshot::Receiver<Answer>,
    id: Uuid,
    slot: u64,
    waiters: Waiters,
}

impl Waiters {
    /// Registers interest in the feedback for `id`.
    pub fn register(&self, id: Uuid) -> Waiter {
        let slot = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut map) = self.inner.lock() {
            map.entry(id).or_default().push((slot, tx));
        }
        Waiter { answer: rx, id, slot, waiters: self.clone() }
    }

    /// Hands `record` to everyone waiting for `id`; returns how many were.
    pub fn answer(&self, id: Uuid, record: &Record) -> usize {
        let waiting = self.inner.lock().ok().and_then(|mut map| map.remove(&id)).unwrap_or_default();
        let n = waiting.len();
        let now = Instant::now();
        for (_, tx) in waiting {
            let _ = tx.send((record.clone(), now));
        }
        n
    }

    /// Number of uuids waited for (for tests and stats).
    pub fn len(&self) -> usize {
        self.inner.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Ok(mut map) = self.waiters.inner.lock() {
            if let Some(list) = map.get_mut(&self.id) {
                list.retain(|(slot, _)| *slot != self.slot);
                if list.is_empty() {
                    map.remove(&self.id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_of_an_id_gets_the_answer_and_guards_clean_up() {
        let waiters = Waiters::default();
        let id = Uuid::new_v4();
        let mut a = waiters.register(id);
        let mut b = waiters.register(id);
        let other = waiters.register(Uuid::new_v4());
        assert_eq!(waiters.answer(id, &Record::MoneyTransferConfirmed { id }), 2);
        assert_eq!((&mut a.answer).await.unwrap().0, Record::MoneyTransferConfirmed { id });
        assert_eq!((&mut b.answer).await.unwrap().0, Record::MoneyTransferConfirmed { id });
        assert_eq!(waiters.len(), 1);
        drop(other);
        assert!(waiters.is_empty(), "an abandoned subscription leaves no waiter");
    }
}
