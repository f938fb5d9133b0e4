//! db-ge: users with salted password hashes, and one transaction row per BalanceChanged event.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio_postgres::Row;
use uuid::Uuid;

/// A database failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("db-ge: {action}: {message}")]
pub struct StoreError {
    pub action: &'static str,
    pub message: String,
    /// db-ge refused the data itself ([`topology::db::refuses_the_data`]): the same statement will always fail.
    pub refused: bool,
}

/// What a client is told when db-ge fails, always in these words: SQL, driver and connection text are the
/// endpoint's log's, not the client's.
pub const STORE_FAILED: &str = "internal error: the bank could not use its store";

impl StoreError {
    /// Logs the detail and returns what a client may see ([`STORE_FAILED`]).
    pub fn for_client(&self) -> &'static str {
        tracing::error!("{self}");
        STORE_FAILED
    }
}

fn fail(action: &'static str) -> impl Fn(String) -> StoreError {
    move |message| StoreError { action, message, refused: false }
}

fn db_fail(action: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError { action, refused: topology::db::refuses_the_data(&e), message: e.to_string() }
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

/// How long one use of db-ge may take unless [`Store::with_timeout`] says otherwise.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Store {
    pool: Pool,
    timeout: Duration,
}

impl Store {
    pub fn new(pool: Pool) -> Store {
        Store { pool, timeout: STORE_TIMEOUT }
    }

    /// Every use of db-ge (a free connection, its statements) bounded by `timeout`: a database that stops
    /// answering (paused, a network partition) fails the query with a reason instead of holding its client.
    /// A server-side statement timeout would not do: a server that does not answer cannot enforce it.
    pub fn with_timeout(self, timeout: Duration) -> Store {
        Store { timeout, ..self }
    }

    async fn bounded<T>(
        &self,
        action: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| Err(fail(action)(format!("no answer within {:?}", self.timeout))))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| fail("connecting")(e.to_string()))
    }

    /// Stores BalanceChanged events once per `event_id`, the whole batch in one statement and one commit (a
    /// commit per event capped the read side near 1,000 events/s). Returns, for each event in order, its row (the
    /// one stored before, for a re-delivery) and whether this call stored it. Rows get their ids in batch order.
    pub async fn insert_transactions(
        &self,
        events: &[(String, StoredTransaction)],
    ) -> Result<Vec<(StoredTransaction, bool)>, StoreError> {
        self.bounded("storing transactions", async {
            let client = self.client().await?;
            let column = |f: fn(&(String, StoredTransaction)) -> String| events.iter().map(f).collect::<Vec<String>>();
            let number = |f: fn(&StoredTransaction) -> i64| events.iter().map(|(_, t)| f(t)).collect::<Vec<i64>>();
            let event_ids = column(|(e, _)| e.clone());
            let (ibans, parties, descrs) = (column(|(_, t)| t.iban.clone()), column(|(_, t)| t.from_to.clone()), column(|(_, t)| t.descr.clone()));
            let (balances, changes) = (number(|t| t.new_balance), number(|t| t.changed_by));
            let insert = client
                .prepare_cached(&format!(
                    "INSERT INTO transaction (event_id, iban, new_balance, changed_by, from_to, descr) \
                     SELECT e, i, b, c, f, d FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[]) \
                     WITH ORDINALITY AS u(e, i, b, c, f, d, n) ORDER BY n \
                     ON CONFLICT (event_id) DO NOTHING RETURNING {COLUMNS}, event_id"
                ))
                .await
                .map_err(|e| fail("preparing the insert of transactions")(e.to_string()))?;
            let inserted = client
                .query(&insert, &[&event_ids, &ibans, &balances, &changes, &parties, &descrs])
                .await
                .map_err(db_fail("storing transactions"))?;
            let mut new: HashMap<String, StoredTransaction> = inserted.into_iter().map(|r| (r.get(6), r.into())).collect();
            let mut stored: HashMap<String, StoredTransaction> = HashMap::new();
            let before: Vec<&String> = event_ids.iter().filter(|e| !new.contains_key(*e)).collect();
            if !before.is_empty() {
                let rows = client
                    .query(&format!("SELECT {COLUMNS}, event_id FROM transaction WHERE event_id = ANY($1)"), &[&before])
                    .await
                    .map_err(|e| fail("reading stored transactions")(e.to_string()))?;
                stored.extend(rows.into_iter().map(|r| (r.get(6), r.into())));
            }
            event_ids
                .iter()
                .map(|e| match new.remove(e) {
                    // The first of a batch's copies of an event is the one stored; later copies are re-deliveries.
                    Some(row) => {
                        stored.insert(e.clone(), row.clone());
                        Ok((row, true))
                    }
                    None => stored.get(e).cloned().map(|row| (row, false)).ok_or_else(|| fail("reading stored transactions")(format!("event {e} was neither stored nor found"))),
                })
                .collect()
        })
        .await
    }

    pub async fn transaction_by_id(&self, id: i32) -> Result<Option<StoredTransaction>, StoreError> {
        self.bounded("reading a transaction", async {
            let row = self
                .client()
                .await?
                .query_opt(&format!("SELECT {COLUMNS} FROM transaction WHERE id = $1"), &[&id])
                .await
                .map_err(|e| fail("reading a transaction")(e.to_string()))?;
            Ok(row.map(Into::into))
        })
        .await
    }

    /// Newest first.
    pub async fn transactions_by_iban(&self, iban: &str, max_items: i64) -> Result<Vec<StoredTransaction>, StoreError> {
        self.bounded("reading transactions", async {
            let rows = self
                .client()
                .await?
                .query(
                    &format!("SELECT {COLUMNS} FROM transaction WHERE iban = $1 ORDER BY id DESC LIMIT $2"),
                    &[&iban, &max_items],
                )
                .await
                .map_err(|e| fail("reading transactions")(e.to_string()))?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// The newest transaction of every IBAN.
    pub async fn all_last_transactions(&self) -> Result<Vec<StoredTransaction>, StoreError> {
        self.bounded("reading last transactions", async {
            let rows = self
                .client()
                .await?
                .query(&format!("SELECT DISTINCT ON (iban) {COLUMNS} FROM transaction ORDER BY iban, id DESC"), &[])
                .await
                .map_err(|e| fail("reading last transactions")(e.to_string()))?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
        .await
    }

    pub async fn user(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.bounded("reading a user", async {
            let row = self
                .client()
                .await?
                .query_opt("SELECT password_hash, uuid FROM cac WHERE username = $1", &[&username])
                .await
                .map_err(|e| fail("reading a user")(e.to_string()))?;
            Ok(row.map(|r| User { password_hash: r.get(0), uuid: r.get(1) }))
        })
        .await
    }

    /// Stores a new user; `false` when the name was taken meanwhile.
    pub async fn insert_user(&self, username: &str, password_hash: &str, uuid: Uuid) -> Result<bool, StoreError> {
        self.bounded("storing a user", async {
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
        })
        .await
    }

    /// Forgets the user whose account creation failed, so the name can be tried again.
    pub async fn remove_user_by_uuid(&self, uuid: Uuid) -> Result<(), StoreError> {
        self.bounded("removing a user", async {
            self.client()
                .await?
                .execute("DELETE FROM cac WHERE uuid = $1", &[&uuid])
                .await
                .map_err(|e| fail("removing a user")(e.to_string()))?;
            Ok(())
        })
        .await
    }
}
