//! A command handler process: settings from the environment, connections, and the consume loop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, Producer};
use topology::{env, kafka, registry::Registry, topics};

use crate::handler::Handler;
use crate::stats::Stats;
use crate::{consumer, store};

/// Why the handler could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("setting {name}: {problem}")]
    Setting { name: &'static str, problem: String },
    #[error("db-ch did not answer within {0:?}: {1}")]
    Database(Duration, String),
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
        let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
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
        let pool = connect_pool(&settings.database_url, settings.workers + 2).await?;
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

async fn connect_pool(url: &str, size: usize) -> Result<deadpool_postgres::Pool, AppError> {
    let bad_url = |e: String| AppError::Setting { name: env::DATABASE_URL, problem: e };
    let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| bad_url(e.to_string()))?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    let pool = deadpool_postgres::Pool::builder(manager).max_size(size).build().map_err(|e| bad_url(e.to_string()))?;
    let start = Instant::now();
    let limit = Duration::from_secs(60);
    loop {
        let attempt = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            store::apply_schema(&**client).await.map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(()) => return Ok(pool),
            Err(e) if start.elapsed() < limit => {
                tracing::info!("waiting for db-ch: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(AppError::Database(limit, e)),
        }
    }
}
