//! The services' PostgreSQL pools: created from a URL, with the service's tables applied, retried (bounded)
//! while the database starts.

use std::time::{Duration, Instant};

/// Why a pool could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not usable: {0}")]
    BadUrl(String),
    #[error("{database} did not answer within {waited:?}: {last}")]
    Unreachable { database: &'static str, waited: Duration, last: String },
}

/// A pool of `size` connections to `url` once `schema` applied cleanly; `database` names it in errors.
pub async fn connect(url: &str, size: usize, schema: &str, database: &'static str) -> Result<deadpool_postgres::Pool, DbError> {
    let config: tokio_postgres::Config = url.parse().map_err(|e: tokio_postgres::Error| DbError::BadUrl(e.to_string()))?;
    let manager = deadpool_postgres::Manager::from_config(
        config,
        tokio_postgres::NoTls,
        deadpool_postgres::ManagerConfig { recycling_method: deadpool_postgres::RecyclingMethod::Fast },
    );
    let pool = deadpool_postgres::Pool::builder(manager).max_size(size).build().map_err(|e| DbError::BadUrl(e.to_string()))?;
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
