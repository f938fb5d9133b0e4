//! Handling one message of `commands`: decode, apply in one db-ch transaction, produce the outcome's
//! events with their `event_id` headers, and wait until Kafka acknowledged them all.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::try_join_all;
use rdkafka::producer::{FutureProducer, FutureRecord};
use topology::kafka::{event_id, event_id_headers};
use topology::records::Record;
use topology::registry::{Registry, RegistryError};
use topology::topics::{ACCOUNT_CREATION_FEEDBACK, BALANCE_CHANGED, MONEY_TRANSFER_FEEDBACK};

use crate::stats::Stats;
use crate::store::{self, AccountOutcome, Transfer};

/// Why a message was not handled.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The record can never be handled (undecodable, not a command): skip it.
    #[error("poison record: {0}")]
    Poison(String),
    /// The database, registry or Kafka failed: try the same message again.
    #[error("transient failure: {0}")]
    Transient(String),
}

/// One event to produce.
pub struct Outgoing {
    topic: &'static str,
    key: String,
    record: Record,
    event_id: String,
}

pub struct Handler {
    pub pool: deadpool_postgres::Pool,
    pub registry: Arc<Registry>,
    pub producer: FutureProducer,
    pub stats: Arc<Stats>,
}

fn transient(e: impl std::fmt::Display) -> HandleError {
    HandleError::Transient(e.to_string())
}

impl Handler {
    /// Handles one message; `Ok` means its events are acknowledged and its offset may be stored.
    pub async fn handle(&self, key: Option<&[u8]>, payload: Option<&[u8]>) -> Result<(), HandleError> {
        let outgoing = self.apply(key, payload).await?;
        self.send(outgoing).await?.await
    }

    /// Decodes and applies one message in db-ch (committed), returning the events to produce.
    pub async fn apply(&self, key: Option<&[u8]>, payload: Option<&[u8]>) -> Result<Vec<Outgoing>, HandleError> {
        let payload = payload.ok_or_else(|| HandleError::Poison("no value".to_string()))?;
        let record = match self.registry.decode(payload).await {
            Ok(record) => record,
            Err(e @ RegistryError::Http { .. }) => return Err(transient(e)),
            Err(e) => return Err(HandleError::Poison(e.to_string())),
        };
        let key = key.map(|k| String::from_utf8_lossy(k).to_string()).unwrap_or_default();
        match record {
            Record::ConfirmAccountCreation { id, username } => self.create_account(id, username).await,
            Record::ConfirmMoneyTransfer { id, token, amount, from, to, description } => {
                self.transfer(Transfer { id, key, token, amount, from, to, description }).await
            }
            other => Err(HandleError::Poison(format!("{} is not a command", other.name()))),
        }
    }

    async fn create_account(&self, id: uuid::Uuid, username: String) -> Result<Vec<Outgoing>, HandleError> {
        let mut client = self.pool.get().await.map_err(transient)?;
        let tx = client.transaction().await.map_err(transient)?;
        let applied = store::create_account(&tx, id, &username).await.map_err(transient)?;
        tx.commit().await.map_err(transient)?;
        self.count(applied.replay);
        let record = match applied.outcome {
            AccountOutcome::Confirmed { iban, token } => Record::AccountCreationConfirmed { id, iban, token },
            AccountOutcome::Failed { reason } => Record::AccountCreationFailed { id, reason },
        };
        Ok(vec![Outgoing { topic: ACCOUNT_CREATION_FEEDBACK, key: username, record, event_id: event_id(id, 0) }])
    }

    async fn transfer(&self, t: Transfer) -> Result<Vec<Outgoing>, HandleError> {
        let mut client = self.pool.get().await.map_err(transient)?;
        let tx = client.transaction().await.map_err(transient)?;
        let applied = store::transfer(&tx, &t).await.map_err(transient)?;
        tx.commit().await.map_err(transient)?;
        self.count(applied.replay);
        let outcome = applied.outcome;
        let mut out: Vec<Outgoing> = outcome
            .events
            .into_iter()
            .enumerate()
            .map(|(n, e)| Outgoing {
                topic: BALANCE_CHANGED,
                key: e.username,
                record: Record::BalanceChanged {
                    iban: e.iban,
                    new_balance: e.new_balance,
                    changed_by: e.changed_by,
                    from_to: e.from_to,
                    description: e.description,
                },
                event_id: event_id(t.id, n as u32),
            })
            .collect();
        let record = match outcome.reason {
            None => Record::MoneyTransferConfirmed { id: t.id },
            Some(reason) => Record::MoneyTransferFailed { id: t.id, reason },
        };
        out.push(Outgoing { topic: MONEY_TRANSFER_FEEDBACK, key: t.key, record, event_id: event_id(t.id, out.len() as u32) });
        Ok(out)
    }

    fn count(&self, replay: bool) {
        Stats::count(if replay { &self.stats.replays } else { &self.stats.commands });
    }

    /// Hands the events to the producer; the returned future resolves when Kafka acknowledged them all.
    /// Sending is separate from waiting so a worker can apply the next command while acks are pending.
    pub async fn send(&self, outgoing: Vec<Outgoing>) -> Result<impl Future<Output = Result<(), HandleError>> + Send + 'static, HandleError> {
        let mut deliveries = Vec::with_capacity(outgoing.len());
        for o in &outgoing {
            let payload = self.registry.encode(o.topic, &o.record).await.map_err(transient)?;
            let record = FutureRecord::to(o.topic).key(&o.key).payload(&payload).headers(event_id_headers(&o.event_id));
            let delivery = self.producer.send_result(record).map_err(|(e, _)| transient(format!("produce: {e}")))?;
            deliveries.push(delivery);
        }
        Ok(async move {
            for delivery in try_join_all(deliveries).await.map_err(|_| transient("producer closed"))? {
                delivery.map_err(|(e, _)| transient(format!("produce: {e}")))?;
            }
            Ok(())
        })
    }
}
