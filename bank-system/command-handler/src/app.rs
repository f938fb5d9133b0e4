//! A command handler process: its connections (from [`crate::settings`]) and the consume loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, Producer};
use topology::{registry::Registry, topics};

use crate::consumer;
use crate::handler::Handler;
use crate::settings::Settings;
use crate::stats::Stats;

/// Why the handler could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Database(#[from] topology::db::DbError),
    #[error(transparent)]
    Tls(#[from] topology::tls::TlsError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
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
        let service = &settings.service;
        let tls = service.kafka.tls.client();
        let pool = topology::db::connect(
            &service.database_url,
            settings.workers + 2,
            topology::sql::DB_CH_SCHEMA,
            "db-ch",
            tls.as_ref(),
        )
        .await?;
        let producer: FutureProducer = settings.producer_config().create()?;
        let consumer: StreamConsumer = service.consumer_config(&settings.group_id).create()?;
        consumer.subscribe(&[topics::COMMANDS])?;
        let handler = Arc::new(Handler {
            pool,
            registry: Arc::new(Registry::with_tls(&service.kafka.schema_registry_url, tls.as_ref())?),
            producer: producer.clone(),
            stats: Arc::new(Stats::default()),
        });
        Ok(App { handler, consumer: Arc::new(consumer), producer, workers: settings.workers })
    }

    /// Consumes until `shutdown` resolves (or Kafka did not take a batch's events); then finishes handed-out
    /// messages, commits offsets, flushes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), consumer::Undelivered> {
        let consumed = consumer::run(self.handler.clone(), self.consumer, self.workers, shutdown).await;
        let _ = self.producer.flush(Duration::from_secs(10));
        consumed
    }
}
