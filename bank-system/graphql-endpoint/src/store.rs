//! db-ge: users with salted password hashes, and one transaction row per BalanceChanged event.

use deadpool_postgres::Pool;
use tokio_postgres::Row;
use uuid::Uuid;

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("db-ge: {action}: {message}")]
pub struct StoreError {
    pub action: &'static str,
    pub message: String,
}

fn fail(action: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError { action, message }
}

/// A stored BalanceChanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    pub id: i32,
    pub iban: String,
    pub new_balance: i64,
    pub changed_by: i64,
    pub from_to: String,
    pub descr: String,
}

impl From<Row> for StoredTransaction {
    fn from(r: Row) -> Self {
        StoredTransaction {
            id: r.get(0),
            iban: r.get(1),
            new_balance: r.get(2),
            changed_by: r.get(3),
            from_to: r.get(4),
            descr: r.get(5),
        }
    }
}

const COLUMNS: &str = "id, iban, new_balance, changed_by, from_to, descr";

/// A user of the bank as db-ge knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub password_hash: String,
    pub uuid: Uuid,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub fn new(pool: Pool) -> Store {
        Store { pool }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| fail("connecting")(e.to_string()))
    }

    /// Stores a BalanceChanged once per `event_id`; returns the row (the existing one on a re-delivery) and
    /// whether it was new.
    pub async fn insert_transaction(&self, event_id: &str, t: &StoredTransaction) -> Result<(StoredTransaction, bool), StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "INSERT INTO transaction (event_id, iban, new_balance, changed_by, from_to, descr) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (event_id) DO NOTHING RETURNING {COLUMNS}"
        );
        let inserted = client
            .query_opt(&sql, &[&event_id, &t.iban, &t.new_balance, &t.changed_by, &t.from_to, &t.descr])
            .await
            .map_err(|e| fail("storing a transaction")(e.to_string()))?;
        if let Some(row) = inserted {
            return Ok((row.into(), true));
        }
        let existing = client
            .query_one(&format!("SELECT {COLUMNS} FROM transaction WHERE event_id = $1"), &[&event_id])
            .await
            .map_err(|e| fail("reading a stored transaction")(e.to_string()))?;
        Ok((existing.into(), false))
    }

    pub async fn transaction_by_id(&self, id: i32) -> Result<Option<StoredTransaction>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(&format!("SELECT {COLUMNS} FROM transaction WHERE id = $1"), &[&id])
            .await
            .map_err(|e| fail("reading a transaction")(e.to_string()))?;
        Ok(row.map(Into::into))
    }

    /// Newest first.
    pub async fn transactions_by_iban(&self, iban: &str, max_items: i64) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT {COLUMNS} FROM transaction WHERE iban = $1 ORDER BY id DESC LIMIT $2"), &[&iban, &max_items])
            .await
            .map_err(|e| fail("reading transactions")(e.to_string()))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// The newest transaction of every IBAN.
    pub async fn all_last_transactions(&self) -> Result<Vec<StoredTransaction>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(&format!("SELECT DISTINCT ON (iban) {COLUMNS} FROM transaction ORDER BY iban, id DESC"), &[])
            .await
            .map_err(|e| fail("reading last transactions")(e.to_string()))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT password_hash, uuid FROM cac WHERE username = $1", &[&username])
            .await
            .map_err(|e| fail("reading a user")(e.to_string()))?;
        Ok(row.map(|r| User { password_hash: r.get(0), uuid: r.get(1) }))
    }

    /// Stores a new user; `false` when the name was taken meanwhile.
    pub async fn insert_user(&self, username: &str, password_hash: &str, uuid: Uuid) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO cac (username, password_hash, uuid) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING",
                &[&username, &password_hash, &uuid],
            )
            .await
            .map_err(|e| fail("storing a user")(e.to_string()))?;
        Ok(n == 1)
    }

    /// Forgets the user whose account creation failed, so the name can be tried again.
    pub async fn remove_user_by_uuid(&self, uuid: Uuid) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute("DELETE FROM cac WHERE uuid = $1", &[&uuid])
            .await
            .map_err(|e| fail("removing a user")(e.to_string()))?;
        Ok(())
    }
}
