//! The endpoint's consumers: BalanceChanged events are stored once (by their `event_id` header) and pushed to
//! live subscriptions; feedback goes to the waiting subscription by uuid. Feedback has a consumer of its own, so
//! an answer never queues behind the database writes of the events before it (2019 also had a consumer per
//! concern). Every instance has its own consumer groups (`graphql-endpoint-<INSTANCE_ID>` and
//! `…-feedback`), so each sees all events; offsets are stored after the work is done.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
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

impl Events {
    /// Consumes until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let message = tokio::select! {
                _ = &mut shutdown => break,
                m = self.consumer.recv() => m,
            };
            let m = match message {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!("consume error: {e}");
                    continue;
                }
            };
            let event_id = topology::kafka::event_id_of(m.headers());
            let mut backoff = std::time::Duration::from_millis(50);
            loop {
                match self.handle(m.payload(), event_id.as_deref()).await {
                    Ok(()) => break,
                    Err(Failure::Poison(why)) => {
                        tracing::warn!(topic = m.topic(), partition = m.partition(), offset = m.offset(), "skipping record: {why}");
                        self.skipped.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(Failure::Transient(why)) => {
                        tracing::warn!(topic = m.topic(), offset = m.offset(), "retrying in {backoff:?}: {why}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
                    }
                }
            }
            if let Err(e) = self.consumer.store_offset(m.topic(), m.partition(), m.offset()) {
                tracing::warn!("storing offset: {e}");
            }
        }
        let _ = self.consumer.commit_consumer_state(rdkafka::consumer::CommitMode::Sync);
    }

    async fn handle(&self, payload: Option<&[u8]>, event_id: Option<&str>) -> Result<(), Failure> {
        let payload = payload.ok_or_else(|| Failure::Poison("no value".into()))?;
        let record = match self.registry.decode(payload).await {
            Ok(r) => r,
            Err(e @ topology::registry::RegistryError::Http { .. }) => return Err(Failure::Transient(e.to_string())),
            Err(e) => return Err(Failure::Poison(e.to_string())),
        };
        match &record {
            Record::BalanceChanged { iban, new_balance, changed_by, from_to, description } => {
                let event_id = event_id.ok_or_else(|| Failure::Poison("BalanceChanged without an event_id header".into()))?;
                let t = StoredTransaction {
                    id: 0,
                    iban: iban.clone(),
                    new_balance: *new_balance,
                    changed_by: *changed_by,
                    from_to: from_to.clone(),
                    descr: description.clone(),
                };
                // Stored once whichever instance comes first; pushed by every instance to its own subscribers
                // (after a crash before the offset commit, a re-delivered event can be pushed twice).
                let (stored, _new) = self.store.insert_transaction(event_id, &t).await.map_err(|e| Failure::Transient(e.to_string()))?;
                let _ = self.transactions.send(stored);
            }
            Record::AccountCreationFailed { id, .. } => {
                self.store.remove_user_by_uuid(*id).await.map_err(|e| Failure::Transient(e.to_string()))?;
                self.waiters.answer(*id, &record);
            }
            Record::AccountCreationConfirmed { id, .. } | Record::MoneyTransferConfirmed { id } | Record::MoneyTransferFailed { id, .. } => {
                if self.waiters.answer(*id, &record) > 0 {
                    // Records already fetched are handed over without ever waiting, so this loop would keep the
                    // thread until the fetch is used up; yielding lets the woken subscription answer now.
                    tokio::task::yield_now().await;
                }
            }
            other => return Err(Failure::Poison(format!("{} is not an event", other.name()))),
        }
        Ok(())
    }
}

enum Failure {
    Poison(String),
    Transient(String),
}
