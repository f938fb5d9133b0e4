//! The bank as the load sees it: the 2019 operations, and [`Bank`], the one call probe and generators make, so
//! their state machines can be tested against a scripted bank on a paused clock.

use std::future::Future;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::client::{Client, ClientError};

pub const GET_ACCOUNT: &str =
    "subscription($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }";
pub const TRANSFER: &str = "subscription($id: String!, $u: String!, $t: String!, $a: Int!, $f: String!, $to: String!, $d: String!) {
  money_transfer(uuid: $id, username: $u, token: $t, amount: $a, from: $f, to: $to, descr: $d) { uuid success reason } }";
pub const STREAM: &str =
    "subscription($iban: String) { stream_transactions(iban: $iban) { iban changed_by descr direction } }";

/// An account opened through `get_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub iban: String,
    pub token: String,
}

/// A money transfer as the load sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub username: String,
    pub token: String,
    /// Euro cents.
    pub amount: i64,
    pub from: String,
    pub to: String,
    pub descr: String,
}

/// The endpoint's answer to a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub success: bool,
    pub reason: Option<String>,
}

/// A transaction pushed on `stream_transactions`: enough to recognise the probe's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub changed_by: String,
    pub descr: String,
    pub credit: bool,
}

/// The one operation the load repeats.
pub trait Bank: Send + Sync {
    fn transfer(&self, id: Uuid, transfer: &Transfer) -> impl Future<Output = Result<Answer, ClientError>> + Send;
}

impl Bank for Client {
    async fn transfer(&self, id: Uuid, t: &Transfer) -> Result<Answer, ClientError> {
        let vars = json!({"id": id.to_string(), "u": t.username, "t": t.token, "a": t.amount, "f": t.from, "to": t.to, "d": t.descr});
        let data = self.first(TRANSFER, vars).await?;
        let result = &data["money_transfer"];
        let success =
            result["success"].as_bool().ok_or_else(|| ClientError::Unexpected(format!("no success in {data}")))?;
        Ok(Answer { success, reason: result["reason"].as_str().map(String::from) })
    }
}

/// Opens (or logs in to) an account; a refusal is an error naming the reason.
///
/// # Errors
/// The connection's error, or [`ClientError::Unexpected`] with the endpoint's reason.
pub async fn open_account(client: &Client, username: &str, password: &str) -> Result<Account, ClientError> {
    let data = client.first(GET_ACCOUNT, json!({"u": username, "p": password})).await?;
    let result = &data["get_account"];
    match (result["iban"].as_str(), result["token"].as_str()) {
        (Some(iban), Some(token)) => Ok(Account { username: username.into(), iban: iban.into(), token: token.into() }),
        _ => Err(ClientError::Unexpected(format!("get_account({username}) answered {result}"))),
    }
}

/// Transactions [`follow`] holds for a reader that has not taken them yet. The probe's account gets one transaction
/// per loop and the probe reads during every loop, so a handful is the most it ever holds; when more pile up the
/// forwarding waits (backpressure up to the connection's per-subscription buffer) instead of growing.
pub const FOLLOW_BUFFER: usize = 64;

/// Subscribes to the transactions of `iban` and forwards them to a channel (closed when the subscription ends).
///
/// # Errors
/// When the subscription cannot start.
pub async fn follow(
    client: &Client,
    iban: &str,
) -> Result<mpsc::Receiver<Result<Transaction, ClientError>>, ClientError> {
    let mut answers = client.subscribe(STREAM, json!({"iban": iban})).await?;
    let (sender, receiver) = mpsc::channel(FOLLOW_BUFFER);
    tokio::spawn(async move {
        while let Some(answer) = answers.next().await {
            if sender.send(answer.and_then(|data| transaction(&data))).await.is_err() {
                break;
            }
        }
    });
    Ok(receiver)
}

fn transaction(data: &Value) -> Result<Transaction, ClientError> {
    let t = &data["stream_transactions"];
    match (t["changed_by"].as_str(), t["descr"].as_str(), t["direction"].as_str()) {
        (Some(changed_by), Some(descr), Some(direction)) => {
            Ok(Transaction { changed_by: changed_by.into(), descr: descr.into(), credit: direction == "CREDIT" })
        }
        _ => Err(ClientError::Unexpected(format!("transaction without changed_by, descr or direction: {data}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_are_read_from_the_stream_payload() {
        let data = json!({"stream_transactions": {"iban": "x", "changed_by": "€11,11", "descr": "drinks", "direction": "DEBIT"}});
        assert_eq!(
            transaction(&data).unwrap(),
            Transaction { changed_by: "€11,11".into(), descr: "drinks".into(), credit: false }
        );
        assert!(transaction(&json!({"stream_transactions": null})).is_err());
    }
}
