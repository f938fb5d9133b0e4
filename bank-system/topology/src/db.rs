//! The services' PostgreSQL pools: created from a URL, with the service's tables applied, retried (bounded)
//! while the database starts; and single sessions, for bench's own checks. Both over TLS when given
//! [`ClientTls`] files.

use std::time::{Duration, Instant};

use crate::tls::{ClientTls, TlsError};

/// Whether PostgreSQL refused the data itself, so trying the same statement again can never succeed: data
/// exceptions (SQLSTATE class 22, such as a NUL byte in a text), integrity violations (23) and program limits
/// (54). Everything else (a lost connection, a serialization failure, a server shutting down) may pass.
pub fn refuses_the_data(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|state| matches!(state.code().get(..2), Some("22" | "23" | "54")))
}

/// Why a pool or a session could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not usable: {0}")]
    BadUrl(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{database} did not answer within {waited:?}: {last}")]
    Unreachable { database: &'static str, waited: Duration, last: String },
    #[error("cannot connect: {0}")]
    Connect(#[source] tokio_postgres::Error),
}

/// A pool of `size` connections to `url` once `schema` applied cleanly; `database` names it in errors.
pub async fn connect(
    url: &str,
    size: usize,
    schema: &str,
    database: &'static str,
    tls: Option<&ClientTls>,
) -> Result<deadpool_postgres::Pool, DbError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| DbError::BadUrl(e.to_string()))?;
    let recycling = deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast };
    let manager = match tls {
        None => deadpool_postgres::Manager::from_config(config, tokio_postgres::NoTls, recycling),
        Some(tls) => deadpool_postgres::Manager::from_config(config, tls.postgres()?, recycling),
    };
    let pool =
        deadpool_postgres::Pool::builder(manager).max_size(size).build().map_err(|e| DbError::BadUrl(e.to_string()))?;
    let start = Instant::now();
    let limit = Duration::from_secs(60);
    loop {
        let attempt = async {
            let client = pool.get().await.map_err(|e| e.to_string())?;
            client.batch_execute(schema).await.map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(()) => return Ok(pool),
            Err(e) if start.elapsed() < limit => {
                tracing::info!("waiting for {database}: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(last) => return Err(DbError::Unreachable { database, waited: start.elapsed(), last }),
        }
    }
}

/// One session of `config`, its connection driven on a task of its own until the client is dropped.
///
/// # Errors
/// [`DbError::Tls`] for unusable files, else [`DbError::Connect`] with PostgreSQL's or TLS's refusal.
pub async fn session(
    config: &tokio_postgres::Config,
    tls: Option<&ClientTls>,
) -> Result<tokio_postgres::Client, DbError> {
    let client = match tls {
        None => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(DbError::Connect)?;
            tokio::spawn(connection);
            client
        }
        Some(tls) => {
            let (client, connection) = config.connect(tls.postgres()?).await.map_err(DbError::Connect)?;
            tokio::spawn(connection);
            client
        }
    };
    Ok(client)
}
