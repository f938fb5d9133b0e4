//! The two commands the API sends: account creation (with the user's password checked or stored here) and
//! money transfers. Input is checked first, with a clear reason and never a hang; the waiter is registered
//! before the command is produced, so the feedback cannot arrive unseen.

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord};
use topology::records::Record;
use topology::registry::Registry;
use topology::topics::COMMANDS;
use uuid::Uuid;

use crate::admission::Admission;
use crate::answers::{transfer_result, AccountResult, MoneyTransferResult};
use crate::overhead::Overhead;
use crate::store::Store;
use crate::waiters::Waiters;

/// The start of every reason given when the bank's answer did not come: the command's fate is unknown (Kafka may
/// still take it, the bank may still apply it), and the harness's audit recognises such answers by these words.
pub const NO_ANSWER: &str = "no answer from the bank";

/// Longer usernames and passwords are refused before hashing.
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Longer `from` and `to` are refused: an IBAN has 18 characters, `cash` 4.
pub const MAX_IBAN_BYTES: usize = 64;
/// Longer tokens are refused: the bank's have 20 characters.
pub const MAX_TOKEN_BYTES: usize = 64;
/// Longer descriptions are refused: each is stored twice and sent to every subscription that follows an account.
pub const MAX_DESCR_BYTES: usize = 1024;

/// The first problem with a text field: too long, or a control character (a NUL byte, which PostgreSQL cannot
/// store in a text, a line break or an escape, which the UI cannot show).
pub fn check_text(name: &str, value: &str, max_bytes: usize) -> Option<String> {
    if value.len() > max_bytes {
        return Some(format!("{name} must be at most {max_bytes} bytes"));
    }
    value
        .chars()
        .find(|c| c.is_control())
        .map(|c| format!("{name} must not contain control characters (found U+{:04X})", c as u32))
}

#[derive(Clone)]
pub struct Commands {
    pub store: Store,
    pub waiters: Waiters,
    pub producer: FutureProducer,
    pub registry: Arc<Registry>,
    /// The endpoint's own time per money transfer; Kafka and the handler are not in it.
    pub overhead: Overhead,
    /// A command's whole wait, from its arrival to its answer (`COMMAND_TIMEOUT_MS`).
    pub timeout: Duration,
    /// How many commands may be held at once (`MAX_COMMANDS_IN_FLIGHT`).
    pub admission: Admission,
}

/// The arguments of `money_transfer`.
#[derive(Debug, Clone)]
pub struct TransferRequest {
    pub uuid: String,
    pub username: String,
    pub token: String,
    pub amount: i64,
    pub from: String,
    pub to: String,
    pub descr: String,
}

/// Parses a client's uuid, in any case.
pub fn parse_uuid(s: &str) -> Option<Uuid> {
    Uuid::parse_str(s.trim()).ok()
}

/// The first problem with a transfer's input, if any.
pub fn check_transfer(r: &TransferRequest) -> Option<String> {
    if parse_uuid(&r.uuid).is_none() {
        return Some(format!("uuid {:?} is not a valid uuid", r.uuid));
    }
    if r.amount <= 0 {
        return Some("amount must be positive".into());
    }
    for (name, value) in [("username", &r.username), ("from", &r.from), ("to", &r.to)] {
        if value.trim().is_empty() {
            return Some(format!("{name} must not be empty"));
        }
    }
    [
        ("username", &r.username, MAX_PASSWORD_BYTES),
        ("token", &r.token, MAX_TOKEN_BYTES),
        ("from", &r.from, MAX_IBAN_BYTES),
        ("to", &r.to, MAX_IBAN_BYTES),
        ("descr", &r.descr, MAX_DESCR_BYTES),
    ]
    .into_iter()
    .find_map(|(name, value, max)| check_text(name, value, max))
}

fn account_reason(reason: impl Into<String>) -> AccountResult {
    AccountResult { reason: Some(reason.into()), ..AccountResult::default() }
}

impl Commands {
    /// Hands the command to the producer; returns when that happened, then waits for Kafka's ack. Failures
    /// before the hand-over are certain (the command was not sent); after it, Kafka may still have it.
    async fn produce(&self, key: &str, record: &Record) -> Result<Instant, String> {
        let payload = self.registry.encode(COMMANDS, record).await.map_err(|e| {
            tracing::error!("encoding {}: {e}", record.name());
            "internal error: the endpoint could not encode the command".to_string()
        })?;
        let delivery =
            self.producer.send_result(FutureRecord::to(COMMANDS).key(key).payload(&payload)).map_err(|(e, _)| {
                tracing::error!("queueing {} for Kafka: {e}", record.name());
                match e.rdkafka_error_code() {
                    Some(RDKafkaErrorCode::QueueFull) => {
                        "the endpoint is overloaded: its queue to Kafka is full".to_string()
                    }
                    _ => "internal error: the endpoint could not queue the command for Kafka".to_string(),
                }
            })?;
        let handed_over = Instant::now();
        match delivery.await {
            Ok(Ok(_)) => Ok(handed_over),
            Ok(Err((e, _))) => {
                tracing::warn!("Kafka did not take {}: {e}", record.name());
                Err(format!("{NO_ANSWER}: Kafka did not confirm that it took the command"))
            }
            Err(_) => Err(format!("{NO_ANSWER}: the endpoint is stopping")),
        }
    }

    /// The reason given when `deadline` passed while `doing`.
    fn too_late(&self, doing: &str) -> String {
        format!("{NO_ANSWER} within {} s: {doing}", self.timeout.as_secs_f64())
    }

    /// Sends `record` and waits for the feedback of `id`, registering first; produce and answer share one
    /// `deadline`, so whatever Kafka does, the client is answered by then. With `received`, the endpoint's own
    /// share of the time is recorded in [`Commands::overhead`].
    async fn ask(
        &self,
        id: Uuid,
        key: &str,
        record: &Record,
        deadline: Instant,
        received: Option<Instant>,
    ) -> Result<Record, String> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let mut waiter = self.waiters.register(id);
        let handed_over = tokio::time::timeout_at(deadline, self.produce(key, record))
            .await
            .map_err(|_| self.too_late("Kafka did not acknowledge the command (are the brokers reachable?)"))??;
        match tokio::time::timeout_at(deadline, &mut waiter.answer).await {
            Ok(Ok((answer, answered_at))) => {
                if let Some(received) = received {
                    self.overhead.record(handed_over - received, answered_at.elapsed());
                }
                Ok(answer)
            }
            Ok(Err(_)) => Err(format!("{NO_ANSWER}: the endpoint is stopping")),
            Err(_) => Err(self.too_late("Kafka took the command, the bank's feedback did not come")),
        }
    }

    pub async fn get_account(&self, username: &str, password: &str) -> AccountResult {
        let deadline = Instant::now() + self.timeout;
        if username.trim().is_empty() {
            return account_reason("username must not be empty");
        }
        if password.is_empty() {
            return account_reason("password must not be empty");
        }
        if password.len() > MAX_PASSWORD_BYTES || username.len() > MAX_PASSWORD_BYTES {
            // Hashing is slow on purpose: a megabyte password would hold a hashing thread for every login.
            return account_reason(format!("username and password must be at most {MAX_PASSWORD_BYTES} bytes"));
        }
        if let Some(reason) = check_text("username", username, MAX_PASSWORD_BYTES) {
            return account_reason(reason);
        }
        let _admitted = match self.admission.admit() {
            Ok(admitted) => admitted,
            Err(reason) => return account_reason(reason),
        };
        let checked = tokio::time::timeout_at(deadline.into(), self.user_command_id(username, password)).await;
        let id = match checked {
            Ok(Ok(id)) => id,
            Ok(Err(result)) => return result,
            Err(_) => return account_reason(self.too_late("the endpoint could not check the password in time")),
        };
        let record = Record::ConfirmAccountCreation { id, username: username.to_string() };
        match self.ask(id, username, &record, deadline, None).await {
            Ok(Record::AccountCreationConfirmed { iban, token, .. }) => {
                AccountResult { iban: Some(iban), token: Some(token), reason: None }
            }
            Ok(Record::AccountCreationFailed { reason, .. }) => account_reason(reason),
            Ok(other) => account_reason(format!("unexpected answer {}", other.name())),
            Err(e) => account_reason(e),
        }
    }

    /// The command id of this user: the stored one when the password is right, a new one for a new user.
    async fn user_command_id(&self, username: &str, password: &str) -> Result<Uuid, AccountResult> {
        let store_error = |e: crate::store::StoreError| account_reason(e.for_client());
        if let Some(user) = self.store.user(username).await.map_err(store_error)? {
            return if verify(password, &user.password_hash).await {
                Ok(user.uuid)
            } else {
                Err(account_reason("incorrect password"))
            };
        }
        let hash = hash(password).await.map_err(|e| {
            tracing::error!("hashing a password: {e}");
            account_reason("internal error: the endpoint could not hash the password")
        })?;
        let id = Uuid::new_v4();
        if self.store.insert_user(username, &hash, id).await.map_err(store_error)? {
            return Ok(id);
        }
        // Registered by a concurrent request meanwhile: check against that one.
        match self.store.user(username).await.map_err(store_error)? {
            Some(user) if verify(password, &user.password_hash).await => Ok(user.uuid),
            _ => Err(account_reason("incorrect password")),
        }
    }

    pub async fn money_transfer(&self, r: TransferRequest) -> MoneyTransferResult {
        let received = Instant::now();
        if let Some(reason) = check_transfer(&r) {
            return MoneyTransferResult { uuid: Some(r.uuid), success: Some(false), reason: Some(reason) };
        }
        let Some(id) = parse_uuid(&r.uuid) else {
            return MoneyTransferResult {
                uuid: Some(r.uuid),
                success: Some(false),
                reason: Some("uuid is not a valid uuid".into()),
            };
        };
        let _admitted = match self.admission.admit() {
            Ok(admitted) => admitted,
            Err(reason) => {
                return MoneyTransferResult { uuid: Some(r.uuid), success: Some(false), reason: Some(reason) }
            }
        };
        let record = Record::ConfirmMoneyTransfer {
            id,
            token: r.token.clone(),
            amount: r.amount,
            from: r.from.clone(),
            to: r.to.clone(),
            description: r.descr.clone(),
        };
        match self.ask(id, &r.username, &record, received + self.timeout, Some(received)).await {
            Ok(answer) => transfer_result(&r.uuid, &answer),
            Err(e) => MoneyTransferResult { uuid: Some(r.uuid), success: Some(false), reason: Some(e) },
        }
    }
}

/// Password hashing uses 19 MiB per hash (argon2 defaults); at most two run at once, so a crowd of logins
/// queues for the CPU (which hashing saturates anyway) instead of multiplying that memory.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// The permit moves into the blocking task, so it is held as long as the hash runs: a client that goes away
/// drops the waiting future, not the hash, and must not free its permit for another 19 MiB hash.
async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let permit = HASHING.acquire().await.map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let _held = permit;
        work()
    })
    .await
    .map_err(|e| e.to_string())
}

/// A salted argon2 hash, computed off the async threads.
async fn hash(password: &str) -> Result<String, String> {
    let password = password.to_string();
    off_thread(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
    })
    .await?
}

async fn verify(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    off_thread(move || {
        PasswordHash::new(&stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uuid: &str, amount: i64, username: &str, from: &str, to: &str) -> TransferRequest {
        TransferRequest {
            uuid: uuid.into(),
            username: username.into(),
            token: "t".into(),
            amount,
            from: from.into(),
            to: to.into(),
            descr: "d".into(),
        }
    }

    #[test]
    fn input_is_checked_with_clear_reasons() {
        let id = Uuid::new_v4().to_string().to_uppercase();
        assert_eq!(check_transfer(&request(&id, 1, "u", "cash", "x")), None, "upper-case uuids are fine");
        assert!(check_transfer(&request("nope", 1, "u", "cash", "x")).unwrap().contains("not a valid uuid"));
        assert_eq!(check_transfer(&request(&id, 0, "u", "cash", "x")).as_deref(), Some("amount must be positive"));
        assert_eq!(check_transfer(&request(&id, -1, "u", "cash", "x")).as_deref(), Some("amount must be positive"));
        assert_eq!(check_transfer(&request(&id, 1, " ", "cash", "x")).as_deref(), Some("username must not be empty"));
        assert_eq!(check_transfer(&request(&id, 1, "u", "", "x")).as_deref(), Some("from must not be empty"));
        assert_eq!(check_transfer(&request(&id, 1, "u", "cash", "")).as_deref(), Some("to must not be empty"));
    }

    #[test]
    fn text_fields_refuse_control_characters_and_length() {
        let id = Uuid::new_v4().to_string();
        let nul = check_transfer(&request(&id, 1, "u", "cash", "NL\0x")).unwrap();
        assert_eq!(nul, "to must not contain control characters (found U+0000)");
        let mut r = request(&id, 1, "u", "cash", "x");
        r.descr = "line\nbreak".into();
        assert_eq!(check_transfer(&r).unwrap(), "descr must not contain control characters (found U+000A)");
        r.descr = "é".repeat(MAX_DESCR_BYTES / 2);
        assert_eq!(check_transfer(&r), None, "exactly the limit, in bytes");
        r.descr.push('x');
        assert_eq!(check_transfer(&r).unwrap(), format!("descr must be at most {MAX_DESCR_BYTES} bytes"));
        r.descr = "ünïcödé is fine".into();
        r.token = "\u{1b}[2J".into();
        assert!(check_transfer(&r).unwrap().starts_with("token must not contain control characters"));
        assert!(check_transfer(&request(&id, 1, "u\u{7f}", "cash", "x")).unwrap().starts_with("username"));
    }

    #[test]
    fn uuids_match_in_any_case() {
        let id = Uuid::new_v4();
        assert_eq!(parse_uuid(&id.to_string().to_uppercase()), Some(id));
        assert_eq!(parse_uuid("not-a-uuid"), None);
    }

    #[tokio::test]
    async fn passwords_are_salted_hashes() {
        let a = hash("secret-password").await.unwrap();
        let b = hash("secret-password").await.unwrap();
        assert_ne!(a, b, "salted");
        assert!(!a.contains("secret-password"));
        assert!(verify("secret-password", &a).await);
        assert!(!verify("other", &a).await);
    }
}
