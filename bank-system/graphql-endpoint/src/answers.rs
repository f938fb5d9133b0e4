//! What the `get_account` and `money_transfer` subscriptions answer: the GraphQL result objects, and the
//! answer to a transfer's feedback record.

use async_graphql::SimpleObject;
use topology::records::Record;

#[derive(SimpleObject, Clone, Debug, PartialEq, Default)]
#[graphql(rename_fields = "snake_case")]
pub struct AccountResult {
    pub iban: Option<String>,
    pub token: Option<String>,
    pub reason: Option<String>,
}

#[derive(SimpleObject, Clone, Debug, PartialEq, Default)]
#[graphql(rename_fields = "snake_case")]
pub struct MoneyTransferResult {
    pub uuid: Option<String>,
    pub success: Option<bool>,
    pub reason: Option<String>,
}

/// The answer to a transfer's feedback record.
pub fn transfer_result(uuid: &str, record: &Record) -> MoneyTransferResult {
    match record {
        Record::MoneyTransferConfirmed { .. } => {
            MoneyTransferResult { uuid: Some(uuid.into()), success: Some(true), reason: None }
        }
        Record::MoneyTransferFailed { reason, .. } => {
            MoneyTransferResult { uuid: Some(uuid.into()), success: Some(false), reason: Some(reason.clone()) }
        }
        other => MoneyTransferResult {
            uuid: Some(uuid.into()),
            success: Some(false),
            reason: Some(format!("unexpected answer {}", other.name())),
        },
    }
}
