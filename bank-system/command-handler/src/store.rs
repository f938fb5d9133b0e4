//! The business rules of docs/bank.md, applied to a batch of commands in one db-ch transaction.
//!
//! A batch reads its state in few statements (the stored outcomes of its command ids, then its accounts,
//! locked in IBAN order in one statement so concurrent batches cannot deadlock), runs the rules in memory in
//! the commands' order, and writes balances, outcomes and events in three statements. Each outcome and its
//! events are stored with the balances, so a crash never half-applies a transfer and a replayed command is
//! answered from what was stored. Per command this is a handful of round trips less than applying one at a
//! time, and one commit (one WAL flush) serves the whole batch.

use std::collections::HashMap;

use rand::SeedableRng;
use subtle::ConstantTimeEq;
use tokio_postgres::types::ToSql;
use topology::iban::{self, CASH};
use uuid::Uuid;

/// The transaction a batch runs in (its statements are prepared once per connection).
pub type Tx<'a> = deadpool_postgres::Transaction<'a>;

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
    /// New: db-ch refused the command's data (a NUL byte in a text, say); the SQLSTATE follows.
    pub const REFUSED: &str = "refused: the bank cannot store this command's data";
}

/// The answer to a command db-ch refused with `e`. It is not stored (its data cannot be): a replay is refused
/// again for the same reason, so it is answered the same way.
pub fn refused(command: &Command, e: &tokio_postgres::Error) -> Outcome {
    let state = e.code().map_or("unknown", |s| s.code());
    let reason = format!("{} (SQLSTATE {state})", reason::REFUSED);
    match command {
        Command::CreateAccount { .. } => Outcome::Account(AccountOutcome::Failed { reason }),
        Command::Transfer(_) => Outcome::Transfer(TransferOutcome { reason: Some(reason), events: Vec::new() }),
    }
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

/// A decoded command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    CreateAccount { id: Uuid, username: String },
    Transfer(Transfer),
}

impl Command {
    pub fn id(&self) -> Uuid {
        match self {
            Command::CreateAccount { id, .. } => *id,
            Command::Transfer(t) => t.id,
        }
    }
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Account(AccountOutcome),
    Transfer(TransferOutcome),
}

/// An outcome and whether it was stored before (a replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub replay: bool,
}

/// Applies `commands` in order inside `tx` (the caller commits). A command id seen before, in db-ch or
/// earlier in the batch, is answered from its first outcome.
pub async fn apply(tx: &Tx<'_>, commands: &[Command]) -> Result<Vec<Applied>, tokio_postgres::Error> {
    let ids: Vec<Uuid> = commands.iter().map(Command::id).collect();
    let mut known = stored(tx, &ids).await?;
    let mut accounts = lock_accounts(tx, commands, &known).await?;
    let mut writes = Writes::default();
    let mut applied = Vec::with_capacity(commands.len());
    for command in commands {
        if let Some(outcome) = known.get(&command.id()) {
            applied.push(Applied { outcome: outcome.clone(), replay: true });
            continue;
        }
        let outcome = match command {
            Command::CreateAccount { id, username } => {
                let outcome = create_account(tx, &mut accounts, username).await?;
                writes.account(*id, username, &outcome);
                Outcome::Account(outcome)
            }
            Command::Transfer(t) => {
                let outcome = transfer(&mut accounts, t);
                writes.transfer(t, &outcome);
                Outcome::Transfer(outcome)
            }
        };
        known.insert(command.id(), outcome.clone());
        applied.push(Applied { outcome, replay: false });
    }
    writes.flush(tx, &accounts).await?;
    Ok(applied)
}

/// The outcomes already stored for `ids`.
async fn stored(tx: &Tx<'_>, ids: &[Uuid]) -> Result<HashMap<Uuid, Outcome>, tokio_postgres::Error> {
    let select = tx
        .prepare_cached(
            "SELECT command_id, kind, success, reason, iban, token FROM command_outcome WHERE command_id = ANY($1)",
        )
        .await?;
    let mut known = HashMap::new();
    let mut transfers = Vec::new();
    for row in tx.query(&select, &[&ids]).await? {
        let id: Uuid = row.get(0);
        let outcome = if row.get::<_, &str>(1) == "account_creation" {
            Outcome::Account(if row.get::<_, bool>(2) {
                AccountOutcome::Confirmed { iban: row.get(4), token: row.get(5) }
            } else {
                AccountOutcome::Failed { reason: row.get(3) }
            })
        } else {
            transfers.push(id);
            Outcome::Transfer(TransferOutcome { reason: row.get(3), events: Vec::new() })
        };
        known.insert(id, outcome);
    }
    if transfers.is_empty() {
        return Ok(known);
    }
    let events = tx
        .prepare_cached(
            "SELECT command_id, username, iban, new_balance, changed_by, from_to, description FROM balance_event WHERE command_id = ANY($1) ORDER BY command_id, n",
        )
        .await?;
    for row in tx.query(&events, &[&transfers]).await? {
        if let Some(Outcome::Transfer(outcome)) = known.get_mut(&row.get::<_, Uuid>(0)) {
            outcome.events.push(BalanceEvent {
                username: row.get(1),
                iban: row.get(2),
                new_balance: row.get(3),
                changed_by: row.get(4),
                from_to: row.get(5),
                description: row.get(6),
            });
        }
    }
    Ok(known)
}

/// An account row as the batch sees it; `changed` once a transfer moved its balance.
#[derive(Debug, Clone)]
struct Account {
    username: String,
    token: String,
    balance: i64,
    limit: i64,
    changed: bool,
}

/// Locks and reads every account the batch's new transfers name.
async fn lock_accounts(
    tx: &Tx<'_>,
    commands: &[Command],
    known: &HashMap<Uuid, Outcome>,
) -> Result<HashMap<String, Account>, tokio_postgres::Error> {
    let mut ibans: Vec<&str> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Transfer(t) if !known.contains_key(&t.id) && precheck(t).is_none() => {
                Some([t.from.as_str(), t.to.as_str()])
            }
            _ => None,
        })
        .flatten()
        .filter(|i| *i != CASH)
        .collect();
    ibans.sort_unstable();
    ibans.dedup();
    if ibans.is_empty() {
        return Ok(HashMap::new());
    }
    let select = tx
        .prepare_cached(
            "SELECT iban, username, token, balance, lmt FROM account WHERE iban = ANY($1) ORDER BY iban FOR UPDATE",
        )
        .await?;
    Ok(tx
        .query(&select, &[&ibans])
        .await?
        .into_iter()
        .map(|r| {
            (
                r.get(0),
                Account { username: r.get(1), token: r.get(2), balance: r.get(3), limit: r.get(4), changed: false },
            )
        })
        .collect())
}

async fn create_account(
    tx: &Tx<'_>,
    accounts: &mut HashMap<String, Account>,
    username: &str,
) -> Result<AccountOutcome, tokio_postgres::Error> {
    let (new_iban, token) = {
        let mut rng = rand::rngs::StdRng::from_entropy();
        (iban::new_iban(&mut rng), iban::new_token(&mut rng))
    };
    let insert = tx
        .prepare_cached(
            "INSERT INTO account (iban, username, token, balance, lmt) VALUES ($1, $2, $3, 0, $4) ON CONFLICT (iban) DO NOTHING",
        )
        .await?;
    if tx.execute(&insert, &[&new_iban, &username, &token, &iban::NEW_ACCOUNT_LIMIT]).await? != 1 {
        return Ok(AccountOutcome::Failed { reason: reason::IBAN_EXISTS.to_string() });
    }
    let account = Account {
        username: username.to_string(),
        token: token.clone(),
        balance: 0,
        limit: iban::NEW_ACCOUNT_LIMIT,
        changed: false,
    };
    accounts.insert(new_iban.clone(), account);
    Ok(AccountOutcome::Confirmed { iban: new_iban, token })
}

/// The checks that need no account, in the order of docs/bank.md.
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

/// Applies one transfer to `accounts` (the batch's locked rows): every check first, then both changes.
fn transfer(accounts: &mut HashMap<String, Account>, t: &Transfer) -> TransferOutcome {
    let fail = |why: &str| TransferOutcome { reason: Some(why.to_string()), events: Vec::new() };
    if let Some(why) = precheck(t) {
        return fail(why);
    }
    let debit = match accounts.get(&t.from) {
        Some(from) => {
            if !tokens_match(&from.token, &t.token) {
                return fail(reason::INVALID_TOKEN);
            }
            match from.balance.checked_sub(t.amount) {
                Some(new_balance) if new_balance >= from.limit => Some(new_balance),
                _ => return fail(reason::INSUFFICIENT_FUNDS),
            }
        }
        None if !accounts.contains_key(&t.to) => return fail(reason::BOTH_UNKNOWN),
        None => None,
    };
    let credit = match accounts.get(&t.to) {
        Some(to) => match to.balance.checked_add(t.amount) {
            Some(new_balance) => Some(new_balance),
            None => return fail(reason::AMOUNT_TOO_LARGE),
        },
        None => None,
    };
    let mut events = Vec::with_capacity(2);
    for (iban, new_balance, changed_by, other) in
        [(&t.from, debit, -t.amount, &t.to), (&t.to, credit, t.amount, &t.from)]
    {
        let (Some(new_balance), Some(account)) = (new_balance, accounts.get_mut(iban)) else { continue };
        account.balance = new_balance;
        account.changed = true;
        events.push(BalanceEvent {
            username: account.username.clone(),
            iban: iban.clone(),
            new_balance,
            changed_by,
            from_to: other.clone(),
            description: t.description.clone(),
        });
    }
    TransferOutcome { reason: None, events }
}

/// What a batch stores, column by column, written with one statement per table.
#[derive(Default)]
struct Writes {
    ids: Vec<Uuid>,
    kinds: Vec<&'static str>,
    keys: Vec<String>,
    success: Vec<bool>,
    reasons: Vec<Option<String>>,
    ibans: Vec<Option<String>>,
    tokens: Vec<Option<String>>,
    amounts: Vec<Option<i64>>,
    froms: Vec<Option<String>>,
    tos: Vec<Option<String>>,
    events: Events,
}

#[derive(Default)]
struct Events {
    ids: Vec<Uuid>,
    ns: Vec<i32>,
    usernames: Vec<String>,
    ibans: Vec<String>,
    new_balances: Vec<i64>,
    changed_by: Vec<i64>,
    from_to: Vec<String>,
    descriptions: Vec<String>,
}

impl Writes {
    fn outcome(&mut self, id: Uuid, kind: &'static str, key: &str, reason: Option<&str>) {
        self.ids.push(id);
        self.kinds.push(kind);
        self.keys.push(key.to_string());
        self.success.push(reason.is_none());
        self.reasons.push(reason.map(str::to_string));
    }

    fn account(&mut self, id: Uuid, username: &str, outcome: &AccountOutcome) {
        let (reason, iban, token) = match outcome {
            AccountOutcome::Confirmed { iban, token } => (None, Some(iban.clone()), Some(token.clone())),
            AccountOutcome::Failed { reason } => (Some(reason.as_str()), None, None),
        };
        self.outcome(id, "account_creation", username, reason);
        self.ibans.push(iban);
        self.tokens.push(token);
        self.amounts.push(None);
        self.froms.push(None);
        self.tos.push(None);
    }

    fn transfer(&mut self, t: &Transfer, outcome: &TransferOutcome) {
        self.outcome(t.id, "money_transfer", &t.key, outcome.reason.as_deref());
        self.ibans.push(None);
        self.tokens.push(None);
        self.amounts.push(Some(t.amount));
        self.froms.push(Some(t.from.clone()));
        self.tos.push(Some(t.to.clone()));
        let events = &mut self.events;
        for (n, e) in outcome.events.iter().enumerate() {
            events.ids.push(t.id);
            events.ns.push(n as i32);
            events.usernames.push(e.username.clone());
            events.ibans.push(e.iban.clone());
            events.new_balances.push(e.new_balance);
            events.changed_by.push(e.changed_by);
            events.from_to.push(e.from_to.clone());
            events.descriptions.push(e.description.clone());
        }
    }

    /// Writes the changed balances, the outcomes and the events. The statements are pipelined: sent
    /// together, executed in order (events after the outcomes they reference).
    async fn flush(&self, tx: &Tx<'_>, accounts: &HashMap<String, Account>) -> Result<(), tokio_postgres::Error> {
        let (changed_ibans, balances): (Vec<&str>, Vec<i64>) =
            accounts.iter().filter(|(_, a)| a.changed).map(|(iban, a)| (iban.as_str(), a.balance)).unzip();
        let update = tx
            .prepare_cached("UPDATE account SET balance = u.balance FROM unnest($1::text[], $2::int8[]) AS u(iban, balance) WHERE account.iban = u.iban")
            .await?;
        let outcomes = tx
            .prepare_cached(
                "INSERT INTO command_outcome (command_id, kind, command_key, success, reason, iban, token, amount, from_party, to_party) \
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bool[], $5::text[], $6::text[], $7::text[], $8::int8[], $9::text[], $10::text[])",
            )
            .await?;
        let events = tx
            .prepare_cached(
                "INSERT INTO balance_event (command_id, n, username, iban, new_balance, changed_by, from_to, description) \
                 SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::text[])",
            )
            .await?;
        let e = &self.events;
        let update_params: [&(dyn ToSql + Sync); 2] = [&changed_ibans, &balances];
        let outcome_params: [&(dyn ToSql + Sync); 10] = [
            &self.ids,
            &self.kinds,
            &self.keys,
            &self.success,
            &self.reasons,
            &self.ibans,
            &self.tokens,
            &self.amounts,
            &self.froms,
            &self.tos,
        ];
        let event_params: [&(dyn ToSql + Sync); 8] =
            [&e.ids, &e.ns, &e.usernames, &e.ibans, &e.new_balances, &e.changed_by, &e.from_to, &e.descriptions];
        futures_util::try_join!(
            tx.execute(&update, &update_params),
            tx.execute(&outcomes, &outcome_params),
            tx.execute(&events, &event_params),
        )?;
        Ok(())
    }
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

    fn account(balance: i64) -> Account {
        Account { username: "u".into(), token: "t".into(), balance, limit: iban::NEW_ACCOUNT_LIMIT, changed: false }
    }

    #[test]
    fn a_batch_sees_its_earlier_transfers() {
        // The sender needs a valid open-bank IBAN: the house IBAN stands in for a new account here.
        let (a, b, idle) =
            (iban::HOUSE_IBAN.to_string(), "NL02OPEN0000000002".to_string(), "NL03OPEN0000000003".to_string());
        let mut accounts =
            HashMap::from([(a.clone(), account(0)), (b.clone(), account(0)), (idle.clone(), account(0))]);
        let spend = |amount| transfer(amount, &a, &b);
        assert_eq!(super::transfer(&mut accounts, &spend(50_001)).reason.as_deref(), Some(reason::INSUFFICIENT_FUNDS));
        assert_eq!((accounts[&a].balance, accounts[&b].balance), (0, 0), "a failed transfer changes nothing");
        let deposit = super::transfer(&mut accounts, &transfer(1, "cash", &a));
        assert_eq!((deposit.reason, deposit.events.len()), (None, 1), "a deposit credits only");
        let spent = super::transfer(&mut accounts, &spend(50_001));
        assert_eq!(spent.reason, None, "the deposit just before counts");
        assert_eq!((accounts[&a].balance, accounts[&b].balance), (-50_000, 50_001));
        assert!(accounts[&a].changed && accounts[&b].changed && !accounts[&idle].changed);
        assert_eq!(spent.events.iter().map(|e| e.changed_by).collect::<Vec<_>>(), vec![-50_001, 50_001]);
    }

    #[test]
    fn an_overflowing_credit_fails_whole() {
        let to = "NL02OPEN0000000002".to_string();
        let mut accounts =
            HashMap::from([(iban::HOUSE_IBAN.to_string(), account(100)), (to.clone(), account(i64::MAX - 10))]);
        let t = transfer(50, iban::HOUSE_IBAN, &to);
        assert_eq!(super::transfer(&mut accounts, &t).reason.as_deref(), Some(reason::AMOUNT_TOO_LARGE));
        assert_eq!(accounts[iban::HOUSE_IBAN].balance, 100, "the debit is not applied either");
        let unknown = transfer(5, "cash", "NL91ABNA0417164300");
        assert_eq!(super::transfer(&mut accounts, &unknown).reason.as_deref(), Some(reason::BOTH_UNKNOWN));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(tokens_match("123", "123"));
        assert!(!tokens_match("123", "12"));
        assert!(!tokens_match("123", "124"));
    }
}
