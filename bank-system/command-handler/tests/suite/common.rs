//! A real stack (one broker, registry, databases, synchronizer) with the handler running in-process,
//! and a client that sends commands and collects their feedback.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use command_handler::app::App;
use command_handler::handler::Handler;
use command_handler::settings::{Settings, WithKafkaProperties};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use stack::Stack;
use topology::records::Record;
use topology::registry::Registry;
use topology::topics::{ACCOUNT_CREATION_FEEDBACK, BALANCE_CHANGED, COMMANDS, MONEY_TRANSFER_FEEDBACK};
use uuid::Uuid;

pub use stack::testing::TestStack;

pub async fn stack() -> TestStack {
    stack::testing::stack("[topics]\npartitions = 8\n").await
}

fn vars(stack: &Stack) -> Vec<(String, String)> {
    let e = &stack.plan.endpoints;
    vec![
        ("KAFKA_BOOTSTRAP_SERVERS".into(), e.bootstrap.clone()),
        ("SCHEMA_REGISTRY_URL".into(), e.registry.clone()),
        ("DATABASE_URL".into(), e.db_ch.clone()),
        ("KAFKA_PRODUCER_ACKS".into(), "all".into()),
    ]
}

/// A handler consuming in this process until stopped.
pub struct Running {
    pub handler: Arc<Handler>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), command_handler::consumer::Undelivered>>,
}

impl Running {
    pub async fn start(stack: &Stack) -> Running {
        Running::start_with(stack, &[]).await
    }

    /// With more environment variables than the stack's.
    pub async fn start_with(stack: &Stack, extra: &[(&str, &str)]) -> Running {
        let mut vars = vars(stack);
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let settings = Settings::from_vars(vars).expect("settings");
        let app = App::connect(&settings).await.expect("handler connects");
        let handler = app.handler.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        Running { handler, stop, task }
    }

    /// Graceful stop, as on SIGTERM.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.expect("handler task").expect("Kafka took every event");
    }

    /// An abrupt stop: the task is dropped wherever it is.
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A Kafka client of the bank: sends commands, collects everything on the feedback topics.
pub struct Client {
    pub registry: Registry,
    producer: FutureProducer,
    consumer: StreamConsumer,
    /// Feedback by command id.
    pub feedback: HashMap<Uuid, Record>,
    /// BalanceChanged events by event id, with how often each id arrived.
    pub balance_changed: HashMap<String, (Record, usize)>,
    /// When each command's feedback was read.
    pub received_at: HashMap<Uuid, Instant>,
}

impl Client {
    pub async fn new(stack: &Stack) -> Client {
        Client::subscribed(stack, &[ACCOUNT_CREATION_FEEDBACK, MONEY_TRANSFER_FEEDBACK, BALANCE_CHANGED]).await
    }

    /// A client reading only the feedback topics (a quarter of a transfer's records).
    pub async fn feedback_only(stack: &Stack) -> Client {
        Client::subscribed(stack, &[ACCOUNT_CREATION_FEEDBACK, MONEY_TRANSFER_FEEDBACK]).await
    }

    async fn subscribed(stack: &Stack, topics: &[&str]) -> Client {
        let e = &stack.plan.endpoints;
        // Configured as the GraphQL endpoint's producer is, since it stands in for the endpoint.
        let properties = [("acks".to_string(), "all".to_string())].into();
        let producer: FutureProducer =
            topology::kafka::producer_config(&e.bootstrap, &properties).create().expect("producer");
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &e.bootstrap)
            .set("group.id", format!("test-{}", Uuid::new_v4()))
            .set("auto.offset.reset", "earliest")
            // Closing waits up to the session timeout when the stack is already gone.
            .set("session.timeout.ms", "6000")
            .create()
            .expect("consumer");
        consumer.subscribe(topics).expect("subscribe");
        Client {
            registry: Registry::new(&e.registry),
            producer,
            consumer,
            feedback: HashMap::new(),
            balance_changed: HashMap::new(),
            received_at: HashMap::new(),
        }
    }

    pub async fn send_raw(&self, key: &str, payload: &[u8]) {
        self.producer
            .send(FutureRecord::to(COMMANDS).key(key).payload(payload), Duration::from_secs(10))
            .await
            .expect("command produced");
    }

    pub async fn send(&self, key: &str, record: &Record) {
        let payload = self.registry.encode(COMMANDS, record).await.expect("encode");
        self.send_raw(key, &payload).await;
    }

    pub async fn open_account(&self, username: &str) -> Uuid {
        let id = Uuid::new_v4();
        self.send(username, &Record::ConfirmAccountCreation { id, username: username.into() }).await;
        id
    }

    /// Like [`Client::open_account`] with owned arguments, for many at once.
    pub async fn open_account_key(&self, username: String) -> Uuid {
        self.open_account(&username).await
    }

    /// Like [`Client::transfer`] with owned arguments, for many at once.
    pub async fn transfer_owned(&self, key: String, token: String, amount: i64, from: String, to: String) -> Uuid {
        self.transfer(&key, &token, amount, &from, &to).await
    }

    pub async fn transfer(&self, key: &str, token: &str, amount: i64, from: &str, to: &str) -> Uuid {
        let id = Uuid::new_v4();
        let record = Record::ConfirmMoneyTransfer {
            id,
            token: token.into(),
            amount,
            from: from.into(),
            to: to.into(),
            description: "test".into(),
        };
        self.send(key, &record).await;
        id
    }

    /// Reads feedback until every id in `ids` has some, or panics after `timeout`.
    pub async fn wait_for(&mut self, ids: &[Uuid], timeout: Duration) -> Vec<Record> {
        // Kept as a set, not recounted per record: recounting made reading 20,000 answers quadratic, and the
        // throughput benchmark measured this client instead of the system.
        let mut pending: HashSet<Uuid> = ids.iter().filter(|id| !self.feedback.contains_key(id)).copied().collect();
        let missing = move |_: &Self, read: Option<&Read>| {
            if let Some(Read::Feedback(id)) = read {
                pending.remove(id);
            }
            pending.len()
        };
        self.read_until(missing, timeout, "commands without feedback").await;
        ids.iter().map(|id| self.feedback[id].clone()).collect()
    }

    /// Reads until feedback for `total` distinct commands has arrived, or panics after `timeout`.
    pub async fn wait_for_total(&mut self, total: usize, timeout: Duration) {
        self.read_until(|c, _| total.saturating_sub(c.feedback.len()), timeout, "commands without feedback").await;
    }

    /// Reads until every event id in `ids` arrived at least `times` times, or panics after `timeout`.
    pub async fn wait_for_events(&mut self, ids: &[String], times: usize, timeout: Duration) {
        let seen = |c: &Self, id: &str| c.balance_changed.get(id).map_or(0, |(_, n)| *n);
        let mut pending: HashSet<String> = ids.iter().filter(|id| seen(self, id) < times).cloned().collect();
        let missing = move |c: &Self, read: Option<&Read>| {
            if let Some(Read::Event(id)) = read {
                if seen(c, id) >= times {
                    pending.remove(id);
                }
            }
            pending.len()
        };
        self.read_until(missing, timeout, "events missing").await;
    }

    /// Reads records until `missing` (told each record read) says nothing is missing.
    async fn read_until(
        &mut self,
        mut missing: impl FnMut(&Self, Option<&Read>) -> usize,
        timeout: Duration,
        what: &str,
    ) {
        let deadline = Instant::now() + timeout;
        let mut read = None;
        loop {
            let short = missing(self, read.as_ref());
            if short == 0 {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let next = tokio::time::timeout(left, self.consumer.recv()).await;
            let Ok(Ok(m)) = next else {
                panic!("{short} {what} after {timeout:?}");
            };
            let payload = m.payload().expect("payload");
            let record = self.registry.decode(payload).await.expect("feedback decodes");
            let event_id = topology::kafka::event_id_of(m.headers()).expect("every event has an event_id");
            read = Some(match &record {
                Record::BalanceChanged { .. } => {
                    self.balance_changed.entry(event_id.clone()).or_insert((record.clone(), 0)).1 += 1;
                    Read::Event(event_id)
                }
                Record::AccountCreationConfirmed { id, .. }
                | Record::AccountCreationFailed { id, .. }
                | Record::MoneyTransferConfirmed { id }
                | Record::MoneyTransferFailed { id, .. } => {
                    self.received_at.entry(*id).or_insert_with(Instant::now);
                    self.feedback.insert(*id, record.clone());
                    Read::Feedback(*id)
                }
                other => panic!("unexpected record on a feedback topic: {other:?}"),
            });
        }
    }

    pub async fn one(&mut self, id: Uuid) -> Record {
        self.wait_for(&[id], Duration::from_secs(30)).await.remove(0)
    }

    /// Opens an account and returns (iban, token).
    pub async fn account(&mut self, username: &str) -> (String, String) {
        let id = self.open_account(username).await;
        match self.one(id).await {
            Record::AccountCreationConfirmed { iban, token, .. } => (iban, token),
            other => panic!("account {username} not opened: {other:?}"),
        }
    }
}

/// What [`Client::read_until`] just read.
enum Read {
    Feedback(Uuid),
    Event(String),
}

pub fn failed_reason(record: &Record) -> Option<&str> {
    match record {
        Record::MoneyTransferFailed { reason, .. } | Record::AccountCreationFailed { reason, .. } => Some(reason),
        _ => None,
    }
}

pub async fn db(stack: &Stack) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(&stack.plan.endpoints.db_ch, tokio_postgres::NoTls).await.expect("db-ch");
    tokio::spawn(connection);
    client
}

/// Sum of all balances in db-ch.
pub async fn total_balance(stack: &Stack) -> i64 {
    db(stack).await.query_one("SELECT sum(balance)::bigint FROM account", &[]).await.expect("sum").get(0)
}

pub async fn balance(stack: &Stack, iban: &str) -> i64 {
    db(stack).await.query_one("SELECT balance FROM account WHERE iban = $1", &[&iban]).await.expect("account").get(0)
}
