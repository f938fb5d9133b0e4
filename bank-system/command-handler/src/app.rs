//! A command handler process: settings from the environment, connections, and the consume loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, Producer};
use topology::{env, kafka, registry::Registry, topics};

use crate::handler::Handler;
use crate::stats::Stats;
use crate::consumer;

/// Why the handler could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("setting {name}: {problem}")]
    Setting { name: &'static str, problem: String },
    #[error(transparent)]
    Database(#[from] topology::db::DbError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Everything a command handler needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub vars: Vec<(String, String)>,
    pub database_url: String,
    pub registry_url: String,
    pub workers: usize,
    pub group_id: String,
}

impl Settings {
    /// From variables (usually the environment); see [`topology::env`].
    pub fn from_vars(vars: Vec<(String, String)>) -> Result<Settings, AppError> {
        let get = |name: &str| env::lookup(&vars, name);
        let database_url = get(env::DATABASE_URL)
            .ok_or(AppError::Setting { name: env::DATABASE_URL, problem: "missing: it must name db-ch".into() })?;
        let workers = match get("WORKERS") {
            None => 16,
            Some(w) => w.parse().map_err(|_| AppError::Setting { name: "WORKERS", problem: format!("{w:?} is not a number") })?,
        };
        Ok(Settings {
            database_url,
            registry_url: get(env::SCHEMA_REGISTRY_URL).unwrap_or_else(|| env::DEFAULT_REGISTRY.into()),
            workers,
            group_id: get("GROUP_ID").unwrap_or_else(|| "command-handler".into()),
            vars,
        })
    }
}

/// A connected handler, ready to consume.
pub struct App {
    pub handler: Arc<Handler>,
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    workers: usize,
}

impl App {
    /// Connects to db-ch (creating its tables; retried for up to 60 s while it starts) and to Kafka.
    pub async fn connect(settings: &Settings) -> Result<App, AppError> {
        let pool = topology::db::connect(&settings.database_url, settings.workers + 2, topology::sql::DB_CH_SCHEMA, "db-ch").await?;
        let producer: FutureProducer = kafka::producer_config(&settings.vars).create()?;
        let consumer: StreamConsumer = kafka::consumer_config(&settings.vars, &settings.group_id).create()?;
        consumer.subscribe(&[topics::COMMANDS])?;
        let handler = Arc::new(Handler {
            pool,
            registry: Arc::new(Registry::new(&settings.registry_url)),
            producer: producer.clone(),
            stats: Arc::new(Stats::default()),
        });
        Ok(App { handler, consumer: Arc::new(consumer), producer, workers: settings.workers })
    }

    /// Consumes until `shutdown` resolves; then finishes handed-out messages, commits offsets, flushes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        consumer::run(self.handler.clone(), self.consumer, self.workers, shutdown).await;
        let _ = self.producer.flush(Duration::from_secs(10));
    }
}
