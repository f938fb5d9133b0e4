//! The business rules of DESIGN.md §3 as db-ch transactions. Each command's outcome, and the
//! BalanceChanged events it caused, are stored in the same transaction as the balance changes: a crash
//! never half-applies a transfer, and a replayed command is answered from what was stored.

use rand::SeedableRng;
use subtle::ConstantTimeEq;
use tokio_postgres::Transaction;
use topology::iban::{self, CASH};
use uuid::Uuid;

/// Failure reasons, verbatim as clients see them.
pub mod reason {
    pub const IBAN_EXISTS: &str = "generated iban already exists, try again";
    pub const AMOUNT_NOT_POSITIVE: &str = "amount must be positive";
    pub const FROM_INVALID: &str = "from is invalid";
    pub const SAME_ACCOUNT: &str = "from and to can't be same for transfer";
    pub const INVALID_TOKEN: &str = "invalid token";
    pub const INSUFFICIENT_FUNDS: &str = "insufficient funds";
    pub const BOTH_UNKNOWN: &str = "both to and from not known at this bank";
    /// New: a credit that would overflow a 64-bit balance.
    pub const AMOUNT_TOO_LARGE: &str = "amount too large";
}

/// The answer to a ConfirmAccountCreation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountOutcome {
    Confirmed { iban: String, token: String },
    Failed { reason: String },
}

/// One account's balance change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceEvent {
    /// The account's user: the event's key.
    pub username: String,
    pub iban: String,
    pub new_balance: i64,
    /// Negative for the debit.
    pub changed_by: i64,
    /// The other party.
    pub from_to: String,
    pub description: String,
}

/// The answer to a ConfirmMoneyTransfer: `reason` is `None` when confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferOutcome {
    pub reason: Option<String>,
    pub events: Vec<BalanceEvent>,
}

/// A money transfer command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: Uuid,
    pub key: String,
    pub token: String,
    pub amount: i64,
    pub from: String,
    pub to: String,
    pub description: String,
}

/// An outcome and whether it was stored before (a replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied<T> {
    pub outcome: T,
    pub replay: bool,
}

/// Applies a ConfirmAccountCreation inside `tx` (the caller commits).
pub async fn create_account(tx: &Transaction<'_>, id: Uuid, username: &str) -> Result<Applied<AccountOutcome>, tokio_postgres::Error> {
    let stored = tx
        .query_opt("SELECT success, reason, iban, token FROM command_outcome WHERE command_id = $1", &[&id])
        .await?;
    if let Some(row) = stored {
        let outcome = if row.get::<_, bool>(0) {
            AccountOutcome::Confirmed { iban: row.get(2), token: row.get(3) }
        } else {
            AccountOutcome::Failed { reason: row.get(1) }
        };
        return Ok(Applied { outcome, replay: true });
    }
    let (new_iban, token) = {
        let mut rng = rand::rngs::StdRng::from_entropy();
        (iban::new_iban(&mut rng), iban::new_token(&mut rng))
    };
    let inserted = tx
        .execute(
            "INSERT INTO account (iban, username, token, balance, lmt) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (iban) DO NOTHING",
            &[&new_iban, &username, &token, &iban::NEW_ACCOUNT_LIMIT],
        )
        .await?;
    let outcome = if inserted == 1 {
        AccountOutcome::Confirmed { iban: new_iban, token }
    } else {
        AccountOutcome::Failed { reason: reason::IBAN_EXISTS.to_string() }
    };
    let (success, why, iban, token) = match &outcome {
        AccountOutcome::Confirmed { iban, token } => (true, None, Some(iban.as_str()), Some(token.as_str())),
        AccountOutcome::Failed { reason } => (false, Some(reason.as_str()), None, None),
    };
    tx.execute(
        "INSERT INTO command_outcome (command_id, kind, command_key, success, reason, iban, token) VALUES ($1, 'account_creation', $2, $3, $4, $5, $6)",
        &[&id, &username, &success, &why, &iban, &token],
    )
    .await?;
    Ok(Applied { outcome, replay: false })
}

struct Account {
    iban: String,
    username: String,
    token: String,
    balance: i64,
    limit: i64,
}

/// The checks that need no account, in the order of DESIGN.md §3.
pub fn precheck(t: &Transfer) -> Option<&'static str> {
    if t.amount <= 0 {
        Some(reason::AMOUNT_NOT_POSITIVE)
    } else if t.from != CASH && !iban::is_valid_open_iban(&t.from) {
        Some(reason::FROM_INVALID)
    } else if t.from == t.to {
        Some(reason::SAME_ACCOUNT)
    } else {
        None
    }
}

fn tokens_match(stored: &str, given: &str) -> bool {
    stored.len() == given.len() && bool::from(stored.as_bytes().ct_eq(given.as_bytes()))
}

/// Applies a ConfirmMoneyTransfer inside `tx` (the caller commits).
pub async fn transfer(tx: &Transaction<'_>, t: &Transfer) -> Result<Applied<TransferOutcome>, tokio_postgres::Error> {
    if let Some(stored) = stored_transfer(tx, t.id).await? {
        return Ok(Applied { outcome: stored, replay: true });
    }
    let outcome = match precheck(t) {
        Some(why) => TransferOutcome { reason: Some(why.to_string()), events: Vec::new() },
        None => apply_transfer(tx, t).await?,
    };
    tx.execute(
        "INSERT INTO command_outcome (command_id, kind, command_key, success, reason, amount, from_party, to_party) VALUES ($1, 'money_transfer', $2, $3, $4, $5, $6, $7)",
        &[&t.id, &t.key, &outcome.reason.is_none(), &outcome.reason, &t.amount, &t.from, &t.to],
    )
    .await?;
    for (n, e) in outcome.events.iter().enumerate() {
        tx.execute(
            "INSERT INTO balance_event (command_id, n, username, iban, new_balance, changed_by, from_to, description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[&t.id, &(n as i32), &e.username, &e.iban, &e.new_balance, &e.changed_by, &e.from_to, &e.description],
        )
        .await?;
    }
    Ok(Applied { outcome, replay: false })
}

async fn stored_transfer(tx: &Transaction<'_>, id: Uuid) -> Result<Option<TransferOutcome>, tokio_postgres::Error> {
    let Some(row) = tx.query_opt("SELECT reason FROM command_outcome WHERE command_id = $1", &[&id]).await? else {
        return Ok(None);
    };
    let events = tx
        .query(
            "SELECT username, iban, new_balance, changed_by, from_to, description FROM balance_event WHERE command_id = $1 ORDER BY n",
            &[&id],
        )
        .await?
        .into_iter()
        .map(|r| BalanceEvent {
            username: r.get(0),
            iban: r.get(1),
            new_balance: r.get(2),
            changed_by: r.get(3),
            from_to: r.get(4),
            description: r.get(5),
        })
        .collect();
    Ok(Some(TransferOutcome { reason: row.get(0), events }))
}

async fn apply_transfer(tx: &Transaction<'_>, t: &Transfer) -> Result<TransferOutcome, tokio_postgres::Error> {
    // Both rows locked in one statement, in IBAN order, so concurrent transfers cannot deadlock.
    let ibans = vec![t.from.clone(), t.to.clone()];
    let rows = tx
        .query(
            "SELECT iban, username, token, balance, lmt FROM account WHERE iban = ANY($1) ORDER BY iban FOR UPDATE",
            &[&ibans],
        )
        .await?;
    let mut accounts: Vec<Account> = rows
        .into_iter()
        .map(|r| Account { iban: r.get(0), username: r.get(1), token: r.get(2), balance: r.get(3), limit: r.get(4) })
        .collect();
    let from = accounts.iter().position(|a| a.iban == t.from);
    let to = accounts.iter().position(|a| a.iban == t.to);
    let fail = |why: &str| TransferOutcome { reason: Some(why.to_string()), events: Vec::new() };
    let mut events = Vec::new();

    if let Some(f) = from {
        let account = &accounts[f];
        if !tokens_match(&account.token, &t.token) {
            return Ok(fail(reason::INVALID_TOKEN));
        }
        match account.balance.checked_sub(t.amount) {
            Some(new_balance) if new_balance >= account.limit => {
                events.push(BalanceEvent {
                    username: account.username.clone(),
                    iban: account.iban.clone(),
                    new_balance,
                    changed_by: -t.amount,
                    from_to: t.to.clone(),
                    description: t.description.clone(),
                });
                accounts[f].balance = new_balance;
            }
            _ => return Ok(fail(reason::INSUFFICIENT_FUNDS)),
        }
    } else if to.is_none() {
        return Ok(fail(reason::BOTH_UNKNOWN));
    }
    if let Some(r) = to {
        let account = &accounts[r];
        let Some(new_balance) = account.balance.checked_add(t.amount) else {
            return Ok(fail(reason::AMOUNT_TOO_LARGE));
        };
        events.push(BalanceEvent {
            username: account.username.clone(),
            iban: account.iban.clone(),
            new_balance,
            changed_by: t.amount,
            from_to: t.from.clone(),
            description: t.description.clone(),
        });
        accounts[r].balance = new_balance;
    }
    for e in &events {
        tx.execute("UPDATE account SET balance = $2 WHERE iban = $1", &[&e.iban, &e.new_balance]).await?;
    }
    Ok(TransferOutcome { reason: None, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transfer(amount: i64, from: &str, to: &str) -> Transfer {
        Transfer {
            id: Uuid::new_v4(),
            key: "u".into(),
            token: "t".into(),
            amount,
            from: from.into(),
            to: to.into(),
            description: "d".into(),
        }
    }

    #[test]
    fn prechecks_run_in_the_documented_order() {
        assert_eq!(precheck(&transfer(0, "nonsense", "nonsense")), Some(reason::AMOUNT_NOT_POSITIVE));
        assert_eq!(precheck(&transfer(-5, "cash", "x")), Some(reason::AMOUNT_NOT_POSITIVE));
        assert_eq!(precheck(&transfer(5, "nonsense", "nonsense")), Some(reason::FROM_INVALID));
        // An 18-character non-IBAN crashed the 2019 handler.
        assert_eq!(precheck(&transfer(5, "NLxxOPENxxxxxxxxxx", "x")), Some(reason::FROM_INVALID));
        assert_eq!(precheck(&transfer(5, "cash", "cash")), Some(reason::SAME_ACCOUNT));
        assert_eq!(precheck(&transfer(5, iban::HOUSE_IBAN, iban::HOUSE_IBAN)), Some(reason::SAME_ACCOUNT));
        assert_eq!(precheck(&transfer(5, "cash", iban::HOUSE_IBAN)), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match("123", "123"));
        assert!(!tokens_match("123", "12"));
        assert!(!tokens_match("123", "124"));
    }
}
