//! The synchronizer makes the cluster match the topology (docs/bank.md): it creates missing topics
//! (replication capped at the broker count, configs applied), deletes topics that are not in the topology
//! (internal `_`/`__` topics excepted), registers every schema of every topic, and reports topics whose
//! partition count or configs differ. It retries, within bounds, until cluster and registry answer.
//!
//! - [`settings`]: what it is told ([`Args`], read with clap from the environment in its container, and the
//!   `TOPIC_CONFIG_*` configs) and the topics that makes ([`Settings`]).
//! - this module: [`synchronize`], one pass against the cluster and the registry, and its [`Report`].

pub mod settings;

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;
use topology::records;
use topology::registry::Registry;
use topology::topics::subject;

pub use settings::{Args, Settings, TopicSpec};

/// Why synchronizing failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the Kafka cluster at {bootstrap} did not answer within {waited:?}: {last}")]
    ClusterUnreachable { bootstrap: String, waited: Duration, last: String },
    #[error("the schema registry did not accept {subject} within {waited:?}: {last}")]
    RegistryUnreachable { subject: String, waited: Duration, last: String },
    #[error("{action} {topic}: {message}")]
    Admin { action: &'static str, topic: String, message: String },
    #[error(transparent)]
    Tls(#[from] topology::tls::TlsError),
}

/// What was done and what differs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    /// `(subject, schema id)` of every registered schema.
    pub registered: Vec<(String, u32)>,
    /// Human-readable differences that could not be fixed (partition counts, configs).
    pub drift: Vec<String>,
}

impl Report {
    /// In sync when nothing differs.
    pub fn in_sync(&self) -> bool {
        self.drift.is_empty()
    }
}

fn admin_error<'a>(action: &'static str, topic: &'a str) -> impl Fn(String) -> SyncError + 'a {
    move |message| SyncError::Admin { action, topic: topic.to_string(), message }
}

/// Existing topics (name -> partition count) and the broker count, retrying until the cluster answers.
async fn cluster_state(
    admin: &AdminClient<DefaultClientContext>,
    settings: &Settings,
) -> Result<(Vec<(String, usize)>, usize), SyncError> {
    let start = Instant::now();
    loop {
        let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(5));
        let last = match metadata {
            Ok(m) if !m.brokers().is_empty() => {
                let topics = m.topics().iter().map(|t| (t.name().to_string(), t.partitions().len())).collect();
                return Ok((topics, m.brokers().len()));
            }
            Ok(_) => "no brokers in metadata".to_string(),
            Err(e) => e.to_string(),
        };
        if start.elapsed() >= settings.max_wait {
            return Err(SyncError::ClusterUnreachable {
                bootstrap: settings.bootstrap.clone(),
                waited: start.elapsed(),
                last,
            });
        }
        tracing::info!("waiting for the cluster: {last}");
        tokio::time::sleep(settings.retry_interval).await;
    }
}

/// Synchronizes the cluster and the registry with `settings.topics`.
///
/// # Errors
/// [`SyncError`] when the cluster or registry does not answer in time, or an admin operation fails.
pub async fn synchronize(settings: &Settings) -> Result<Report, SyncError> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &settings.bootstrap);
    if let Some(tls) = &settings.tls {
        tls.kafka(&mut config);
    }
    let admin: AdminClient<DefaultClientContext> = config.create().map_err(|e| SyncError::ClusterUnreachable {
        bootstrap: settings.bootstrap.clone(),
        waited: Duration::ZERO,
        last: e.to_string(),
    })?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let (existing, brokers) = cluster_state(&admin, settings).await?;
    let mut report = Report::default();

    let wanted: Vec<&str> = settings.topics.iter().map(|t| t.name.as_str()).collect();
    let stale: Vec<&str> =
        existing.iter().map(|(n, _)| n.as_str()).filter(|n| !n.starts_with('_') && !wanted.contains(n)).collect();
    if !stale.is_empty() {
        for result in admin
            .delete_topics(&stale, &options)
            .await
            .map_err(|e| admin_error("delete", &stale.join(","))(e.to_string()))?
        {
            let name = result.map_err(|(t, e)| admin_error("delete", &t)(e.to_string()))?;
            report.deleted.push(name);
        }
    }

    let configs: Vec<Vec<(String, String)>> = settings.topics.iter().map(|t| t.configs.clone()).collect();
    let mut new_topics = Vec::new();
    for (topic, config) in settings.topics.iter().zip(&configs) {
        match existing.iter().find(|(n, _)| *n == topic.name) {
            None => {
                let replication = topic.replication.min(brokers as i32).max(1);
                let mut new = NewTopic::new(&topic.name, topic.partitions, TopicReplication::Fixed(replication));
                for (k, v) in config {
                    new = new.set(k, v);
                }
                new_topics.push(new);
            }
            Some((_, partitions)) => {
                if *partitions != topic.partitions as usize {
                    report
                        .drift
                        .push(format!("{}: {partitions} partitions, topology says {}", topic.name, topic.partitions));
                }
                report.drift.extend(config_drift(&admin, &options, &topic.name, config).await?);
            }
        }
    }
    if !new_topics.is_empty() {
        for result in admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(|e| admin_error("create", "topics")(e.to_string()))?
        {
            let name = result.map_err(|(t, e)| admin_error("create", &t)(e.to_string()))?;
            report.created.push(name);
        }
    }

    let registry = Registry::with_tls(&settings.registry, settings.tls.as_ref())?;
    for topic in &settings.topics {
        for record in &topic.records {
            let subject = subject(&topic.name, record);
            let schema = records::schema_json(record)
                .ok_or_else(|| admin_error("register", &subject)(format!("{record} is not a bank record")))?;
            let id = register_with_retry(&registry, &subject, &schema, settings).await?;
            report.registered.push((subject, id));
        }
    }
    Ok(report)
}

async fn config_drift(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    topic: &str,
    wanted: &[(String, String)],
) -> Result<Vec<String>, SyncError> {
    let fail = admin_error("describe configs of", topic);
    let results =
        admin.describe_configs([&ResourceSpecifier::Topic(topic)], options).await.map_err(|e| fail(e.to_string()))?;
    let mut drift = Vec::new();
    for result in results {
        let resource = result.map_err(|e| fail(e.to_string()))?;
        for (key, value) in wanted {
            let actual = resource.get(key).and_then(|e| e.value.clone());
            if actual.as_deref() != Some(value.as_str()) {
                drift.push(format!(
                    "{topic}: {key}={}, topology says {value}",
                    actual.unwrap_or_else(|| "(unset)".into())
                ));
            }
        }
    }
    Ok(drift)
}

async fn register_with_retry(
    registry: &Registry,
    subject: &str,
    schema: &str,
    settings: &Settings,
) -> Result<u32, SyncError> {
    let start = Instant::now();
    loop {
        match registry.register(subject, schema).await {
            Ok(id) => return Ok(id),
            Err(e) if start.elapsed() < settings.max_wait => {
                tracing::info!("waiting for the registry: {e}");
                tokio::time::sleep(settings.retry_interval).await;
            }
            Err(e) => {
                return Err(SyncError::RegistryUnreachable {
                    subject: subject.to_string(),
                    waited: start.elapsed(),
                    last: e.to_string(),
                })
            }
        }
    }
}
