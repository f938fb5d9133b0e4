//! Readiness: a part is ready when it answers for real (and, on Kubernetes, its pod is Ready), checked by
//! polling, never by sleeping a fixed time.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use topology::tls::ClientTls;

use crate::plan::{Check, ReadinessError, WaitFor};
use crate::platform::Platform;

const LOG_LINES: usize = 30;

/// Polls the check until it passes, the part dies, or the timeout passes.
///
/// # Errors
/// [`ReadinessError`] with the part's last log lines.
pub async fn wait(platform: &Platform, stack_id: &str, wait: &WaitFor) -> Result<Duration, ReadinessError> {
    let start = Instant::now();
    let logs = || platform.logs_tail(stack_id, &wait.container, LOG_LINES);
    if wait.check == Check::Exited {
        return wait_exited(platform, stack_id, wait, start).await;
    }
    loop {
        let last = match platform.platform_ready(stack_id, &wait.container).await {
            Ok(()) => match check(&wait.check).await {
                Ok(()) => return Ok(start.elapsed()),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if let Some(stopped) = platform.stopped(stack_id, &wait.container).await {
            let (code, why) = (stopped.code_or_none(), stopped.details());
            return Err(ReadinessError::Died { container: wait.container.clone(), code, why, logs: logs().await });
        }
        if start.elapsed() >= wait.timeout {
            return Err(ReadinessError::Timeout {
                container: wait.container.clone(),
                waited: start.elapsed(),
                last,
                logs: logs().await,
            });
        }
        tokio::time::sleep(wait.interval).await;
    }
}

async fn wait_exited(
    platform: &Platform,
    stack_id: &str,
    wait: &WaitFor,
    start: Instant,
) -> Result<Duration, ReadinessError> {
    let exited = tokio::time::timeout(wait.timeout, platform.wait_exit(stack_id, &wait.container)).await;
    let logs = || platform.logs_tail(stack_id, &wait.container, LOG_LINES);
    let container = wait.container.clone();
    match exited {
        Ok(Ok(0)) => Ok(start.elapsed()),
        Ok(Ok(code)) => {
            Err(ReadinessError::Died { container, code, why: format!("exit code {code}"), logs: logs().await })
        }
        Ok(Err(why)) => Err(ReadinessError::Died { container, code: -1, why, logs: logs().await }),
        Err(_) => Err(ReadinessError::Timeout {
            container,
            waited: start.elapsed(),
            last: "still running".to_string(),
            logs: logs().await,
        }),
    }
}

/// One check: `Ok` when ready, else why not.
pub async fn check(check: &Check) -> Result<(), String> {
    match check {
        Check::KafkaBrokers { bootstrap, expected, tls } => kafka_brokers(bootstrap, *expected, tls.clone()).await,
        Check::Http { url, tls } => http_ok(url, tls.as_ref()).await,
        Check::Postgres { url, tls } => postgres_ok(url, tls.as_ref()).await,
        Check::Exited => Err("an exit is awaited, not polled".to_string()),
    }
}

async fn kafka_brokers(bootstrap: &str, expected: usize, tls: Option<ClientTls>) -> Result<(), String> {
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &bootstrap).set("socket.connection.setup.timeout.ms", "1000");
        if let Some(tls) = &tls {
            tls.kafka(&mut config);
        }
        let consumer: BaseConsumer = config.create().map_err(|e| e.to_string())?;
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(2)).map_err(|e| e.to_string())?;
        let brokers = metadata.brokers().len();
        if brokers >= expected {
            Ok(())
        } else {
            Err(format!("metadata lists {brokers} of {expected} brokers"))
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn http_ok(url: &str, tls: Option<&ClientTls>) -> Result<(), String> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(2));
    if let Some(tls) = tls {
        builder = tls.http(builder).map_err(|e| e.to_string())?;
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("GET {url} answered {}", response.status()))
    }
}

async fn postgres_ok(url: &str, tls: Option<&ClientTls>) -> Result<(), String> {
    let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| e.to_string())?;
    let client = topology::db::session(&config, tls).await.map_err(|e| topology::errors::chain(&e))?;
    client.simple_query("SELECT 1").await.map(|_| ()).map_err(|e| e.to_string())
}
