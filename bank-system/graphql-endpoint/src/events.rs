//! The endpoint's consumers: BalanceChanged events are stored once (by their `event_id` header) and pushed to
//! live subscriptions; feedback goes to the waiting subscription by uuid. Feedback has a consumer of its own, so
//! an answer never queues behind the database writes of the events before it (2019 also had a consumer per
//! concern). Every instance has its own consumer groups (`graphql-endpoint-<INSTANCE_ID>` and
//! `…-feedback`), so each sees all events; offsets are stored after the work is done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::FutureExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use tokio::sync::broadcast;
use topology::records::Record;
use topology::registry::Registry;

use crate::store::{Store, StoredTransaction};
use crate::waiters::Waiters;

/// What a consumer needs.
pub struct Events {
    pub consumer: StreamConsumer,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub waiters: Waiters,
    pub transactions: broadcast::Sender<StoredTransaction>,
    /// Records skipped because they could never be handled (served on `/stats` as `skipped_records`).
    pub skipped: Arc<AtomicU64>,
}

/// Runs every consumer until `shutdown`.
pub async fn run_all(events: Vec<Events>, shutdown: tokio_util::sync::CancellationToken) {
    let running: Vec<_> = events.into_iter().map(|e| tokio::spawn(e.run(shutdown.clone().cancelled_owned()))).collect();
    for task in running {
        if let Err(e) = task.await {
            tracing::error!("a consumer failed: {e}");
        }
    }
}

/// Records handled together: what one fetch brought, up to the 2019 `max.poll.records`.
const MAX_BATCH: usize = 100;

impl Events {
    /// Consumes until `shutdown` resolves. Records already fetched are handled as one batch (its events stored
    /// with one commit); none is waited for, so an idle endpoint handles each record as it comes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => break,
                m = self.consumer.recv() => m,
            };
            let mut batch = match message {
                Ok(m) => vec![m],
                Err(e) => {
                    tracing::warn!("consume error: {e}");
                    continue;
                }
            };
            while batch.len() < MAX_BATCH {
                match self.consumer.recv().now_or_never() {
                    Some(Ok(m)) => batch.push(m),
                    Some(Err(e)) => {
                        tracing::warn!("consume error: {e}");
                        break;
                    }
                    None => break,
                }
            }
            // Handling is idempotent (events by event_id, answers to whoever still waits), so a batch that
            // failed on the way is handled again whole.
            let mut backoff = std::time::Duration::from_millis(50);
            while let Err(why) = self.handle(&batch).await {
                tracing::warn!(records = batch.len(), "retrying in {backoff:?}: {why}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
            }
            for m in &batch {
                if let Err(e) = self.consumer.store_offset(m.topic(), m.partition(), m.offset()) {
                    tracing::warn!("storing offset: {e}");
                }
            }
        }
        let _ = self.consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
    }

    /// Handles a batch. Records that can never be handled are logged, counted and skipped; a failure that may
    /// pass (the registry or db-ge unreachable) fails the batch.
    async fn handle(&self, batch: &[BorrowedMessage<'_>]) -> Result<(), String> {
        let (mut events, mut feedback, mut poison) = (Vec::new(), Vec::new(), Vec::new());
        for m in batch {
            match self.decode(m).await {
                Ok(Decoded::Event(event_id, t)) => events.push((event_id, t)),
                Ok(Decoded::Feedback(record)) => feedback.push(record),
                Err(Failure::Poison(why)) => poison.push((m, why)),
                Err(Failure::Transient(why)) => return Err(why),
            }
        }
        // Stored once whichever instance comes first; pushed by every instance to its own subscribers (after a
        // crash before the offset commit, a re-delivered event can be pushed twice).
        for stored in self.store_events(&events).await? {
            let _ = self.transactions.send(stored);
        }
        for record in feedback {
            let id = match &record {
                Record::AccountCreationFailed { id, .. } => {
                    self.store.remove_user_by_uuid(*id).await.map_err(|e| e.to_string())?;
                    *id
                }
                Record::AccountCreationConfirmed { id, .. }
                | Record::MoneyTransferConfirmed { id }
                | Record::MoneyTransferFailed { id, .. } => *id,
                _ => continue,
            };
            if self.waiters.answer(id, &record) > 0 {
                // Records already fetched are handed over without ever waiting, so this loop would keep the
                // thread until the batch is done; yielding lets the woken subscription answer now.
                tokio::task::yield_now().await;
            }
        }
        for (m, why) in poison {
            tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), "skipping record: {why}");
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stores `events` in one statement. When db-ge refuses the data of one (a NUL byte in a text, say), they are
    /// stored one at a time, and each refused one is logged, counted and skipped: trying it again cannot help.
    async fn store_events(&self, events: &[(String, StoredTransaction)]) -> Result<Vec<StoredTransaction>, String> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        match self.store.insert_transactions(events).await {
            Ok(stored) => Ok(stored.into_iter().map(|(t, _new)| t).collect()),
            Err(e) if e.refused && events.len() == 1 => {
                self.skip_refused(&events[0].0, &e);
                Ok(Vec::new())
            }
            Err(e) if e.refused => {
                let mut stored = Vec::with_capacity(events.len());
                for event in events {
                    match self.store.insert_transactions(std::slice::from_ref(event)).await {
                        Ok(one) => stored.extend(one.into_iter().map(|(t, _new)| t)),
                        Err(e) if e.refused => self.skip_refused(&event.0, &e),
                        Err(e) => return Err(e.to_string()),
                    }
                }
                Ok(stored)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn skip_refused(&self, event_id: &str, e: &crate::store::StoreError) {
        tracing::warn!(event_id = event_id.escape_debug().to_string(), "db-ge refused the event, skipping it: {e}");
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    async fn decode(&self, m: &BorrowedMessage<'_>) -> Result<Decoded, Failure> {
        let payload = m.payload().ok_or_else(|| Failure::Poison("no value".into()))?;
        let record = match self.registry.decode(payload).await {
            Ok(r) => r,
            Err(e @ topology::registry::RegistryError::Http { .. }) => return Err(Failure::Transient(e.to_string())),
            Err(e) => return Err(Failure::Poison(e.to_string())),
        };
        match record {
            Record::BalanceChanged { iban, new_balance, changed_by, from_to, description } => {
                let event_id = topology::kafka::event_id_of(m.headers())
                    .ok_or_else(|| Failure::Poison("BalanceChanged without an event_id header".into()))?;
                let t = StoredTransaction { id: 0, iban, new_balance, changed_by, from_to, descr: description };
                Ok(Decoded::Event(event_id, t))
            }
            r @ (Record::AccountCreationFailed { .. }
            | Record::AccountCreationConfirmed { .. }
            | Record::MoneyTransferConfirmed { .. }
            | Record::MoneyTransferFailed { .. }) => Ok(Decoded::Feedback(r)),
            other => Err(Failure::Poison(format!("{} is not an event", other.name()))),
        }
    }
}

enum Decoded {
    /// A BalanceChanged with its `event_id` header.
    Event(String, StoredTransaction),
    Feedback(Record),
}

enum Failure {
    Poison(String),
    Transient(String),
}
