//! Handling a batch of messages of `commands`: decode, apply in one db-ch transaction, produce the outcomes'
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
use crate::store::{self, AccountOutcome, Command, Outcome, Transfer, TransferOutcome};

/// The database, registry or Kafka failed: the same batch is tried again (a command already applied is then
/// answered from its stored outcome, not applied twice).
#[derive(Debug, thiserror::Error)]
#[error("transient failure: {0}")]
pub struct Transient(pub String);

fn transient(e: impl std::fmt::Display) -> Transient {
    Transient(e.to_string())
}

/// How applying commands to db-ch failed.
enum StoreFailure {
    /// db-ch refused the data ([`topology::db::refuses_the_data`]): the same command will always fail.
    Permanent(tokio_postgres::Error),
    Transient(Transient),
}

impl From<tokio_postgres::Error> for StoreFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        if topology::db::refuses_the_data(&e) {
            StoreFailure::Permanent(e)
        } else {
            StoreFailure::Transient(transient(e))
        }
    }
}

/// One message as read from `commands`.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
}

/// What became of one message of a batch.
pub enum Handled {
    /// Applied (or answered from its stored outcome): these events are to be produced.
    Events(Vec<Outgoing>),
    /// The record can never be handled (undecodable, not a command): skipped, with the reason.
    Poison(String),
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

impl Handler {
    /// Handles a batch; `Ok` means its events are acknowledged and its offsets may be stored.
    pub async fn handle(&self, batch: &[Incoming<'_>]) -> Result<(), Transient> {
        let handled = self.apply(batch).await?;
        self.send(handled.into_iter().flat_map(Handled::events)).await?.await
    }

    /// Decodes a batch and applies its commands, in order, in one db-ch transaction (committed).
    pub async fn apply(&self, batch: &[Incoming<'_>]) -> Result<Vec<Handled>, Transient> {
        let mut decoded = Vec::with_capacity(batch.len());
        for message in batch {
            decoded.push(self.decode(message).await?);
        }
        let commands: Vec<Command> = decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
        let mut outcomes = self.store(&commands).await?.into_iter();
        Ok(decoded
            .into_iter()
            .map(|d| match d.map(|command| (command, outcomes.next())) {
                Ok((command, Some(outcome))) => Handled::Events(events(command, outcome)),
                Ok((_, None)) => Handled::Poison("no outcome".to_string()),
                Err(why) => Handled::Poison(why),
            })
            .collect())
    }

    /// A command, `Err` with the reason for a record that can never be one.
    async fn decode(&self, message: &Incoming<'_>) -> Result<Result<Command, String>, Transient> {
        let Some(payload) = message.payload else { return Ok(Err("no value".to_string())) };
        let record = match self.registry.decode(payload).await {
            Ok(record) => record,
            Err(e @ RegistryError::Http { .. }) => return Err(transient(e)),
            Err(e) => return Ok(Err(e.to_string())),
        };
        let key = message.key.map(|k| String::from_utf8_lossy(k).to_string()).unwrap_or_default();
        Ok(match record {
            Record::ConfirmAccountCreation { id, username } => Ok(Command::CreateAccount { id, username }),
            Record::ConfirmMoneyTransfer { id, token, amount, from, to, description } => {
                Ok(Command::Transfer(Transfer { id, key, token, amount, from, to, description }))
            }
            other => Err(format!("{} is not a command", other.name())),
        })
    }

    /// Applies `commands` in one transaction. When db-ch refuses the data of one of them, the batch is applied
    /// again a command at a time, so that one is answered as refused and the others as usual.
    async fn store(&self, commands: &[Command]) -> Result<Vec<Outcome>, Transient> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        match self.store_together(commands).await {
            Ok(applied) => Ok(applied.into_iter().map(|a| self.counted(a)).collect()),
            Err(StoreFailure::Transient(t)) => Err(t),
            Err(StoreFailure::Permanent(e)) if commands.len() == 1 => {
                Ok(commands.iter().map(|c| self.refuse(c, &e)).collect())
            }
            Err(StoreFailure::Permanent(_)) => self.store_one_by_one(commands).await,
        }
    }

    async fn store_one_by_one(&self, commands: &[Command]) -> Result<Vec<Outcome>, Transient> {
        let mut outcomes = Vec::with_capacity(commands.len());
        for command in commands {
            outcomes.extend(match self.store_together(std::slice::from_ref(command)).await {
                Ok(applied) => applied.into_iter().map(|a| self.counted(a)).collect(),
                Err(StoreFailure::Permanent(e)) => vec![self.refuse(command, &e)],
                Err(StoreFailure::Transient(t)) => return Err(t),
            });
        }
        Ok(outcomes)
    }

    async fn store_together(&self, commands: &[Command]) -> Result<Vec<store::Applied>, StoreFailure> {
        let mut client = self.pool.get().await.map_err(|e| StoreFailure::Transient(transient(e)))?;
        let tx = client.transaction().await?;
        let applied = store::apply(&tx, commands).await?;
        tx.commit().await?;
        Ok(applied)
    }

    fn counted(&self, applied: store::Applied) -> Outcome {
        Stats::count(if applied.replay { &self.stats.replays } else { &self.stats.commands });
        applied.outcome
    }

    fn refuse(&self, command: &Command, e: &tokio_postgres::Error) -> Outcome {
        Stats::count(&self.stats.refused);
        tracing::warn!(command = %command.id(), "db-ch refused the command, answering it as failed: {e}");
        store::refused(command, e)
    }

    /// Hands the events to the producer; the returned future resolves when Kafka acknowledged them all.
    /// Sending is separate from waiting so a worker can apply the next batch while acks are pending.
    pub async fn send(
        &self,
        outgoing: impl IntoIterator<Item = Outgoing>,
    ) -> Result<impl Future<Output = Result<(), Transient>> + Send + 'static, Transient> {
        // Every event is encoded before any is produced, so a registry failure retries a batch of which nothing
        // was sent (a re-send after a part of it would put that part twice, ahead of the rest).
        let mut encoded = Vec::new();
        for o in outgoing {
            let payload = self.registry.encode(o.topic, &o.record).await.map_err(transient)?;
            encoded.push((o, payload));
        }
        let mut deliveries = Vec::with_capacity(encoded.len());
        for (o, payload) in &encoded {
            let record = FutureRecord::to(o.topic).key(&o.key).payload(payload).headers(event_id_headers(&o.event_id));
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

impl Handled {
    fn events(self) -> Vec<Outgoing> {
        match self {
            Handled::Events(events) => events,
            Handled::Poison(_) => Vec::new(),
        }
    }
}

/// The events answering `command`: a transfer's BalanceChanged events, then its feedback.
fn events(command: Command, outcome: Outcome) -> Vec<Outgoing> {
    match (command, outcome) {
        (Command::CreateAccount { id, username }, Outcome::Account(outcome)) => {
            let record = match outcome {
                AccountOutcome::Confirmed { iban, token } => Record::AccountCreationConfirmed { id, iban, token },
                AccountOutcome::Failed { reason } => Record::AccountCreationFailed { id, reason },
            };
            vec![Outgoing { topic: ACCOUNT_CREATION_FEEDBACK, key: username, record, event_id: event_id(id, 0) }]
        }
        (Command::Transfer(t), Outcome::Transfer(outcome)) => transfer_events(t.id, t.key, outcome),
        // An id reused for a command of the other kind: the id names one command, answered as first stored.
        (Command::CreateAccount { id, username }, Outcome::Transfer(outcome)) => transfer_events(id, username, outcome),
        (Command::Transfer(t), Outcome::Account(outcome)) => {
            events(Command::CreateAccount { id: t.id, username: t.key }, Outcome::Account(outcome))
        }
    }
}

fn transfer_events(id: uuid::Uuid, key: String, outcome: TransferOutcome) -> Vec<Outgoing> {
    let TransferOutcome { reason, events } = outcome;
    let mut out: Vec<Outgoing> = events
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
            event_id: event_id(id, n as u32),
        })
        .collect();
    let record = match reason {
        None => Record::MoneyTransferConfirmed { id },
        Some(reason) => Record::MoneyTransferFailed { id, reason },
    };
    out.push(Outgoing { topic: MONEY_TRANSFER_FEEDBACK, key, record, event_id: event_id(id, out.len() as u32) });
    out
}
