//! An endpoint process: its connections (from [`crate::settings`]), the HTTP/websocket router and the event
//! consumers.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use topology::{registry::Registry, topics};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::commands::Commands;
use crate::events::Events;
use crate::schema::{BankSchema, LiveSubscriptions, Query, SubscriptionRoot};
use crate::settings::Settings;
use crate::state::AppState;
use crate::store::Store;
use crate::waiters::Waiters;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Database(#[from] topology::db::DbError),
    #[error(transparent)]
    Tls(#[from] topology::tls::TlsError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("latency histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

/// A connected endpoint: the router to serve and the consumers to run ([`crate::events::run_all`]).
pub struct App {
    pub router: Router,
    pub events: Vec<Events>,
    pub waiters: Waiters,
    pub shutdown: CancellationToken,
}

impl App {
    pub async fn connect(settings: &Settings) -> Result<App, AppError> {
        let service = &settings.service;
        let tls = service.kafka.tls.client();
        let pool = topology::db::connect(&service.database_url, 32, topology::sql::DB_GE_SCHEMA, "db-ge", tls.as_ref())
            .await?;
        let store = Store::new(pool).with_timeout(settings.store_timeout());
        // The event writer has connections of its own: a flood of queries cannot hold back the live feeds or
        // the audit's catch-up.
        let writer =
            topology::db::connect(&service.database_url, 4, topology::sql::DB_GE_SCHEMA, "db-ge", tls.as_ref()).await?;
        let writer = Store::new(writer).with_timeout(settings.store_timeout());
        let registry = Arc::new(Registry::with_tls(&service.kafka.schema_registry_url, tls.as_ref())?);
        let producer: FutureProducer = settings.producer_config().create()?;
        let group = format!("graphql-endpoint-{}", settings.instance_id);
        let consumer = |group: &str, topics: &[&str]| -> Result<StreamConsumer, AppError> {
            let consumer: StreamConsumer = service.consumer_config(group).create()?;
            consumer.subscribe(topics)?;
            Ok(consumer)
        };
        let balances = consumer(&group, &[topics::BALANCE_CHANGED])?;
        let feedback = consumer(
            &format!("{group}-feedback"),
            &[topics::ACCOUNT_CREATION_FEEDBACK, topics::MONEY_TRANSFER_FEEDBACK],
        )?;
        let waiters = Waiters::default();
        let (transactions, _) = broadcast::channel(4096);
        let overhead = crate::overhead::Overhead::new()?;
        let admission = crate::admission::Admission::new(settings.max_commands_in_flight as usize);
        let commands = Commands {
            store: store.clone(),
            waiters: waiters.clone(),
            producer,
            registry: registry.clone(),
            overhead: overhead.clone(),
            timeout: settings.command_timeout(),
            admission: admission.clone(),
        };
        let live = LiveSubscriptions::default();
        let schema = BankSchema::build(Query, async_graphql::EmptyMutation, SubscriptionRoot)
            .data(live.clone())
            .data(store.clone())
            .data(commands)
            .data(transactions.clone())
            // A document is bounded before it runs: nesting, the work its fields ask for, and the parser's depth.
            .limit_depth(crate::schema::MAX_DEPTH)
            .limit_complexity(crate::schema::MAX_COMPLEXITY)
            .limit_recursive_depth(crate::schema::MAX_RECURSIVE_DEPTH)
            .finish();
        let shutdown = CancellationToken::new();
        let max_subscriptions_per_socket = settings.max_subscriptions_per_socket as usize;
        let state = AppState {
            schema: schema.clone(),
            shutdown: shutdown.clone(),
            max_subscriptions_per_socket,
            origins: settings.cors_origins.0.clone().into(),
            connection_init_timeout: std::time::Duration::from_millis(settings.connection_init_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(settings.ws_idle_timeout_ms),
        };
        let skipped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stats = Stats { live, waiters: waiters.clone(), overhead, skipped: skipped.clone(), admission };
        let router = router(state, &settings.cors_origins.0, stats);
        let events = [balances, feedback]
            .into_iter()
            .map(|consumer| Events {
                consumer,
                registry: registry.clone(),
                store: writer.clone(),
                waiters: waiters.clone(),
                transactions: transactions.clone(),
                skipped: skipped.clone(),
            })
            .collect();
        Ok(App { router, events, waiters, shutdown })
    }
}

/// What `/stats` reports.
#[derive(Clone)]
struct Stats {
    live: LiveSubscriptions,
    waiters: Waiters,
    overhead: crate::overhead::Overhead,
    skipped: Arc<std::sync::atomic::AtomicU64>,
    admission: crate::admission::Admission,
}

impl Stats {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "stream_subscriptions": self.live.count(),
            "waiting_commands": self.waiters.len(),
            "skipped_records": self.skipped.load(std::sync::atomic::Ordering::Relaxed),
            "commands_in_flight": self.admission.in_flight(),
            "max_commands_in_flight": self.admission.limit(),
            "overloaded": self.admission.refused(),
            "transfer_overhead": self.overhead.json(),
        })
    }
}

fn router(state: AppState, origins: &[axum::http::HeaderValue], stats: Stats) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE]);
    let graphiql = || async {
        Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql").finish()).into_response()
    };
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(crate::ws::handler).post(crate::http::handler))
        .route("/graphql-ws", get(crate::ws::handler))
        .with_state(state)
        .merge(topology::service::health_router())
        .route("/stats", get(move || async move { axum::Json(stats.json()) }))
        .layer(cors)
}
