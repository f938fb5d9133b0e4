//! An endpoint process: settings, connections, the HTTP/websocket router and the event consumer.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQL;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use topology::{env, kafka, registry::Registry, topics};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::commands::Commands;
use crate::events::Events;
use crate::schema::{BankSchema, LiveSubscriptions, Query, SubscriptionRoot};
use crate::state::AppState;
use crate::store::Store;
use crate::waiters::Waiters;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("setting {name}: {problem}")]
    Setting { name: &'static str, problem: String },
    #[error(transparent)]
    Database(#[from] topology::db::DbError),
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("latency histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub vars: Vec<(String, String)>,
    pub database_url: String,
    pub registry_url: String,
    /// Names this instance's consumer group; every instance needs its own to see all feedback.
    pub instance_id: String,
    pub cors_origins: Vec<String>,
}

impl Settings {
    pub fn from_vars(vars: Vec<(String, String)>) -> Result<Settings, AppError> {
        let get = |name: &str| env::lookup(&vars, name);
        let database_url =
            get(env::DATABASE_URL).ok_or(AppError::Setting { name: env::DATABASE_URL, problem: "missing: it must name db-ge".into() })?;
        let cors = get("CORS_ORIGINS").unwrap_or_else(|| "http://localhost:8181,http://127.0.0.1:8181".into());
        Ok(Settings {
            database_url,
            registry_url: get(env::SCHEMA_REGISTRY_URL).unwrap_or_else(|| env::DEFAULT_REGISTRY.into()),
            instance_id: get("INSTANCE_ID").unwrap_or_else(|| "1".into()),
            cors_origins: cors.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            vars,
        })
    }
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
        let store = Store::new(topology::db::connect(&settings.database_url, 32, topology::sql::DB_GE_SCHEMA, "db-ge").await?);
        let registry = Arc::new(Registry::new(&settings.registry_url));
        let producer: FutureProducer = kafka::producer_config(&settings.vars).create()?;
        let group = format!("graphql-endpoint-{}", settings.instance_id);
        let consumer = |group: &str, topics: &[&str]| -> Result<StreamConsumer, AppError> {
            let consumer: StreamConsumer = kafka::consumer_config(&settings.vars, group).create()?;
            consumer.subscribe(topics)?;
            Ok(consumer)
        };
        let balances = consumer(&group, &[topics::BALANCE_CHANGED])?;
        let feedback = consumer(&format!("{group}-feedback"), &[topics::ACCOUNT_CREATION_FEEDBACK, topics::MONEY_TRANSFER_FEEDBACK])?;
        let waiters = Waiters::default();
        let (transactions, _) = broadcast::channel(4096);
        let overhead = crate::overhead::Overhead::new()?;
        let commands =
            Commands { store: store.clone(), waiters: waiters.clone(), producer, registry: registry.clone(), overhead: overhead.clone() };
        let live = LiveSubscriptions::default();
        let schema = BankSchema::build(Query, async_graphql::EmptyMutation, SubscriptionRoot)
            .data(live.clone())
            .data(store.clone())
            .data(commands)
            .data(transactions.clone())
            .finish();
        let shutdown = CancellationToken::new();
        let state = AppState { schema: schema.clone(), shutdown: shutdown.clone() };
        let skipped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stats = Stats { live, waiters: waiters.clone(), overhead, skipped: skipped.clone() };
        let router = router(schema, state, &settings.cors_origins, stats)?;
        let events = [balances, feedback]
            .into_iter()
            .map(|consumer| Events {
                consumer,
                registry: registry.clone(),
                store: store.clone(),
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
}

impl Stats {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "stream_subscriptions": self.live.count(),
            "waiting_commands": self.waiters.len(),
            "skipped_records": self.skipped.load(std::sync::atomic::Ordering::Relaxed),
            "transfer_overhead": self.overhead.json(),
        })
    }
}

fn router(schema: BankSchema, state: AppState, origins: &[String], stats: Stats) -> Result<Router, AppError> {
    let origins = origins
        .iter()
        .map(|o| o.parse().map_err(|_| AppError::Setting { name: "CORS_ORIGINS", problem: format!("{o:?} is not an origin") }))
        .collect::<Result<Vec<axum::http::HeaderValue>, _>>()?;
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([axum::http::header::CONTENT_TYPE]);
    let graphiql = || async { Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql").finish()).into_response() };
    Ok(Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(crate::ws::handler).post_service(GraphQL::new(schema)))
        .route("/graphql-ws", get(crate::ws::handler))
        .with_state(state)
        .merge(topology::service::health_router())
        .route(
            "/stats",
            get(move || async move { axum::Json(stats.json()) }),
        )
        .layer(cors))
}
