//! The audit after the load (docs/guide.md): the bank's books must add up whatever the load did to it.
//! It reads both databases once db-ge has caught up with the events, and compares them with what the
//! load's clients were told.

pub mod answers;
mod stored;

use std::collections::HashMap;
use std::time::Duration;

use topology::tls::ClientTls;
use uuid::Uuid;

use crate::load::bank::Answer;
pub use answers::{AnswerLog, AnswerReader};
use bench_results::Audit;
use stored::{stored_once, Stored};

/// Answers compared with the bank's outcomes per query: one batch's ids and outcomes are all the audit holds of
/// them, whatever the run's length.
pub const BATCH: usize = 10_000;

/// The endpoint's answer when the bank did not answer in time: the transfer's fate is unknown, not failed.
const NO_ANSWER: &str = "no answer from the bank";

/// How long db-ge may take to store the last events after the load stopped.
const CATCH_UP: Duration = Duration::from_secs(30);

/// How long db-ch's events must stay as they are, db-ge holding them all, before the books are read. A load
/// stopped by a signal (or an open model's timeouts) leaves commands in flight that the bank still handles: read
/// at the first moment db-ge matched, the books then gained a transfer's two events between that count and the
/// comparison, and the audit reported them missing in db-ge.
const SETTLED: Duration = Duration::from_secs(2);

/// Where the books are: both databases (`postgres://` URLs), and the CA, certificate and key that reach them
/// when they require TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Books {
    pub db_ch: String,
    pub db_ge: String,
    pub tls: Option<ClientTls>,
}

impl Books {
    /// The books of a stack bench brought up.
    pub fn of(endpoints: &stack::Endpoints) -> Books {
        Books { db_ch: endpoints.db_ch.clone(), db_ge: endpoints.db_ge.clone(), tls: endpoints.tls.clone() }
    }
}

/// Audits `books` against the `answers` the load received.
pub async fn audit(books: &Books, answers: &mut AnswerLog) -> Audit {
    audit_within(books, answers, CATCH_UP).await
}

/// [`audit`] with its own bound on the wait for db-ge to catch up: books known to be settled (a test that
/// removed a db-ge row on purpose) need not wait for rows that will never come.
pub async fn audit_within(books: &Books, answers: &mut AnswerLog, catch_up: Duration) -> Audit {
    match run(books, answers, catch_up).await {
        Ok(audit) => audit,
        Err(e) => Audit::not_done(e),
    }
}

type Db = tokio_postgres::Client;

/// The audit only reads, also on a deployment bench did not start (`--platform external`): its sessions are
/// read-only, so no statement of it can change the books it checks (the services create their own tables).
pub fn read_only_config(url: &str, database: &str) -> Result<tokio_postgres::Config, String> {
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| format!("{database}: the URL is not usable: {e}"))?;
    config.options("-c default_transaction_read_only=on");
    config.connect_timeout(Duration::from_secs(10));
    Ok(config)
}

/// How long one attempt at a session may take in all. The driver's connect timeout covers only the TCP connect;
/// a database that accepts and never answers (a frozen container) would hold the audit for ever without this.
const SESSION_LIMIT: Duration = Duration::from_secs(10);

/// A read-only session to `url`, retried for a few seconds (a database just restarted by a fault).
async fn read_only(url: &str, database: &str, tls: Option<&ClientTls>) -> Result<Db, String> {
    let config = read_only_config(url, database)?;
    let mut last = String::new();
    for _ in 0..20 {
        match tokio::time::timeout(SESSION_LIMIT, topology::db::session(&config, tls)).await {
            Ok(Ok(client)) => return Ok(client),
            // Files that cannot be used will not become usable by waiting.
            Ok(Err(e @ topology::db::DbError::Tls(_))) => return Err(format!("{database}: {e}")),
            Ok(Err(e)) => last = topology::errors::chain(&e),
            // Waiting again would only repeat the silence.
            Err(_) => {
                return Err(format!(
                    "{database} accepted the connection but did not answer within {} s",
                    SESSION_LIMIT.as_secs()
                ))
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("{database} did not answer: {last}"))
}

fn sql(what: &'static str) -> impl Fn(tokio_postgres::Error) -> String {
    move |e| format!("{what}: {e}")
}

async fn run(books: &Books, answers: &mut AnswerLog, wait: Duration) -> Result<Audit, String> {
    let ch = read_only(&books.db_ch, "db-ch", books.tls.as_ref()).await?;
    let ge = read_only(&books.db_ge, "db-ge", books.tls.as_ref()).await?;
    catch_up(&ch, &ge, tokio::time::Instant::now() + wait, SETTLED).await?;
    let (balance_sum, expected_sum, confirmed) = money(&ch).await?;
    let wrong_events = wrong_events(&ch).await?;
    let stored = stored_once(&ch, &ge).await?;
    let (answers_checked, contradicted) = contradicted(&ch, answers).await?;
    let mut audit = Audit {
        passed: false,
        money_conserved: balance_sum == expected_sum,
        events_produced: wrong_events == 0,
        events_stored_once: stored == Stored::default(),
        no_transfer_confirmed_and_failed: contradicted == 0,
        balance_sum,
        expected_sum,
        confirmed_transfers: confirmed,
        transfers_with_wrong_events: wrong_events,
        events_missing_in_db_ge: stored.missing,
        rows_without_event: stored.extra,
        rows_differing_from_event: stored.differing,
        answers_checked,
        answers_contradicted: contradicted,
        error: None,
    };
    audit.passed = audit.failures().is_empty();
    Ok(audit)
}

/// db-ge stores events asynchronously: waits until it holds as many rows as db-ch produced events, with db-ch's
/// count unchanged for `settled`, or `until`; whether it does.
async fn catch_up(ch: &Db, ge: &Db, until: tokio::time::Instant, settled: Duration) -> Result<bool, String> {
    let mut held: Option<(i64, tokio::time::Instant)> = None;
    loop {
        let events: i64 =
            ch.query_one("SELECT count(*) FROM balance_event", &[]).await.map_err(sql("counting events"))?.get(0);
        let rows: i64 =
            ge.query_one("SELECT count(*) FROM transaction", &[]).await.map_err(sql("counting rows"))?.get(0);
        let now = tokio::time::Instant::now();
        let since = match held {
            Some((count, since)) if count == events => since,
            _ => now,
        };
        held = Some((events, since));
        if rows >= events && now - since >= settled {
            return Ok(true);
        }
        if now >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Whether db-ge caught up with db-ch's events by `until` (an open-model run drains after a failed step with it).
/// It only reads (read-only sessions, tried once); a database it cannot reach counts as not caught up.
pub async fn caught_up(books: &Books, until: tokio::time::Instant) -> bool {
    let connect = |url: &str, database: &str| {
        let config = read_only_config(url, database);
        let tls = books.tls.as_ref();
        async move { topology::db::session(&config.ok()?, tls).await.ok() }
    };
    let (Some(ch), Some(ge)) = (connect(&books.db_ch, "db-ch").await, connect(&books.db_ge, "db-ge").await) else {
        return false;
    };
    catch_up(&ch, &ge, until, Duration::ZERO).await.unwrap_or(false)
}

/// (sum of balances, what it should be: start + inflows − outflows, confirmed transfers).
async fn money(ch: &Db) -> Result<(i64, i64, i64), String> {
    let money = ch
        .query_one(
            "SELECT (SELECT sum(balance) FROM account)::bigint,
                    coalesce(sum(amount) FILTER (WHERE from_party NOT IN (SELECT iban FROM account)), 0)::bigint,
                    coalesce(sum(amount) FILTER (WHERE to_party NOT IN (SELECT iban FROM account)), 0)::bigint,
                    count(*)
             FROM command_outcome WHERE kind = 'money_transfer' AND success",
            &[],
        )
        .await
        .map_err(sql("summing balances"))?;
    let (balance_sum, inflows, outflows, confirmed): (i64, i64, i64, i64) =
        (money.get(0), money.get(1), money.get(2), money.get(3));
    Ok((balance_sum, topology::iban::HOUSE_START_BALANCE + inflows - outflows, confirmed))
}

/// Transfers whose BalanceChanged events are not one per account of this bank they touched (none when failed).
async fn wrong_events(ch: &Db) -> Result<i64, String> {
    let row = ch
        .query_one(
            "SELECT count(*) FROM command_outcome o WHERE o.kind = 'money_transfer' AND
               (SELECT count(*) FROM balance_event e WHERE e.command_id = o.command_id) <>
               CASE WHEN o.success
                 THEN (EXISTS (SELECT 1 FROM account a WHERE a.iban = o.from_party))::int
                    + (EXISTS (SELECT 1 FROM account a WHERE a.iban = o.to_party))::int
                 ELSE 0 END",
            &[],
        )
        .await
        .map_err(sql("matching events to transfers"))?;
    Ok(row.get(0))
}

/// (answers checked, of them those the bank's stored outcomes contradict), [`BATCH`] answers at a time.
async fn contradicted(ch: &Db, answers: &mut AnswerLog) -> Result<(usize, usize), String> {
    let outcomes = ch
        .prepare(
            "SELECT command_id, success FROM command_outcome WHERE kind = 'money_transfer' AND command_id = ANY($1)",
        )
        .await
        .map_err(sql("reading outcomes"))?;
    let mut reader = answers.reader()?;
    let (mut checked, mut contradicted) = (0, 0);
    loop {
        let batch = reader.batch(BATCH).map_err(|e| format!("reading the answers back: {e}"))?;
        if batch.is_empty() {
            return Ok((checked, contradicted));
        }
        let ids: Vec<Uuid> = batch.iter().map(|(id, _)| *id).collect();
        let stored: HashMap<Uuid, bool> = ch
            .query(&outcomes, &[&ids])
            .await
            .map_err(sql("reading outcomes"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        checked += batch.len();
        contradicted += batch.iter().filter(|(id, answer)| contradicts(answer, stored.get(id).copied())).count();
    }
}

/// Whether a client's answer contradicts the bank's stored outcome (`None`: the bank never saw the command).
fn contradicts(answer: &Answer, stored: Option<bool>) -> bool {
    if answer.success {
        return stored != Some(true);
    }
    let unknown_fate = answer.reason.as_deref().is_some_and(|r| r.starts_with(NO_ANSWER));
    !unknown_fate && stored == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(success: bool, reason: Option<&str>) -> Answer {
        Answer { success, reason: reason.map(String::from) }
    }

    #[test]
    fn answers_contradict_only_a_different_fate() {
        assert!(!contradicts(&answer(true, None), Some(true)));
        assert!(contradicts(&answer(true, None), Some(false)));
        assert!(contradicts(&answer(true, None), None), "confirmed but unknown to the bank");
        assert!(contradicts(&answer(false, Some("invalid token")), Some(true)));
        assert!(!contradicts(&answer(false, Some("invalid token")), Some(false)));
        assert!(!contradicts(&answer(false, Some("no answer from the bank within 30 s")), Some(true)));
    }

    #[test]
    fn failures_name_each_broken_rule() {
        let mut a = Audit {
            money_conserved: true,
            events_produced: true,
            events_stored_once: true,
            no_transfer_confirmed_and_failed: true,
            ..Audit::default()
        };
        assert!(a.failures().is_empty());
        a.events_stored_once = false;
        assert_eq!(a.failures(), vec!["db-ge rows differ from events"]);
        assert_eq!(Audit::not_done("db-ch gone").failures(), vec!["not done"]);
    }
}
