//! The audit shown to fail (docs/guide.md, issue #22): on one real stack, a few transfers through the endpoint with
//! the load's own client, then the books broken one way at a time through the test's own read-write sessions. Each
//! break fails exactly its rule, with the counts the test expects from what it changed, and the others hold; the
//! books are restored before the next break.

use std::time::Duration;

use bench_results::experiment::stack::StackSettings;
use bench_results::Audit;
use harness::audit::{audit, audit_within, AnswerLog, Books};
use harness::experiment::Protocol;
use harness::load::bank::{self, Account, Answer, Bank, Transfer};
use harness::load::client::Client;
use stack::{Options, Owner, Services, Stack};
use topology::iban::{CASH, HOUSE_START_BALANCE};
use uuid::Uuid;

type Db = tokio_postgres::Client;

/// The audit's failure names (`Audit::failures`), one per rule.
const MONEY: &str = "money not conserved";
const EVENTS: &str = "events missing";
const STORED: &str = "db-ge rows differ from events";
const ANSWERS: &str = "answers contradict the bank";

/// The money the test creates where it breaks a balance.
const CREATED: i64 = 1234;

/// A read-write session of the test's own (the audit's are read-only).
async fn session(url: &str) -> Db {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("a read-write session");
    tokio::spawn(connection);
    client
}

/// The audit of books the test knows to be settled: db-ge caught up before the first break, so a row the test
/// removed is not worth waiting for.
async fn settled(stack: &Stack, answers: &[(Uuid, Answer)]) -> Audit {
    let e = &stack.plan.endpoints;
    audit_within(&Books::of(e), &mut log(answers), Duration::ZERO).await
}

/// The answers as a run keeps them (on disk).
fn log(answers: &[(Uuid, Answer)]) -> AnswerLog {
    let mut log = AnswerLog::new();
    for (id, answer) in answers {
        log.push(*id, answer);
    }
    log
}

/// Fails the test unless exactly `rule` fails and `audit` is `expected` in every field (the other rules hold).
fn only(rule: &str, audit: &Audit, expected: Audit) {
    assert_eq!(audit.failures(), vec![rule], "{audit:?}");
    assert_eq!(*audit, expected);
}

/// The test's transfers: the answers its client saw, in the order sent.
struct Traffic {
    a: Account,
    answers: Vec<(Uuid, Answer)>,
    /// A confirmed transfer between the two accounts (two events), and a failed one (none).
    internal: Uuid,
    /// A confirmed transfer to an account elsewhere (one event, an outflow).
    outgoing: Uuid,
    failed: Uuid,
}

async fn traffic(url: &str) -> Traffic {
    let client = Client::connect(url, Protocol::GraphqlTransportWs).await.expect("the endpoint accepts the client");
    let tag = &Uuid::new_v4().simple().to_string()[..8];
    let (ua, ub) = (format!("audit-a-{tag}"), format!("audit-b-{tag}"));
    let a = bank::open_account(&client, &ua, &ua).await.expect("account a");
    let b = bank::open_account(&client, &ub, &ub).await.expect("account b");
    let outside = topology::iban::new_iban(&mut rand::thread_rng());
    let send = |from: &Account, token: &str, amount: i64, from_iban: &str, to: &str| Transfer {
        username: from.username.clone(),
        token: token.to_string(),
        amount,
        from: from_iban.to_string(),
        to: to.to_string(),
        descr: "audit rules".into(),
    };
    let plan = [
        (send(&a, &a.token, 10_000, CASH, &a.iban), None),
        (send(&a, &a.token, 3_000, &a.iban, &b.iban), None),
        (send(&b, &b.token, 1_000, &b.iban, &outside), None),
        (send(&a, "bogus-token", 100, &a.iban, &b.iban), Some("invalid token")),
        (send(&a, &a.token, 1_000_000, &a.iban, &b.iban), Some("insufficient funds")),
    ];
    let mut answers = Vec::new();
    for (transfer, reason) in &plan {
        let id = Uuid::new_v4();
        let answer = client.transfer(id, transfer).await.expect("a well-formed answer");
        assert_eq!((answer.success, answer.reason.as_deref()), (reason.is_none(), *reason), "{transfer:?}");
        answers.push((id, answer));
    }
    let (internal, outgoing, failed) = (answers[1].0, answers[2].0, answers[3].0);
    Traffic { a, answers, internal, outgoing, failed }
}

/// The clean books the test expects from its own traffic: a €100 deposit, €30 between the accounts, €10 sent out.
fn expected_clean(answers: usize) -> Audit {
    Audit {
        passed: true,
        money_conserved: true,
        events_produced: true,
        events_stored_once: true,
        no_transfer_confirmed_and_failed: true,
        balance_sum: HOUSE_START_BALANCE + 10_000 - 1_000,
        expected_sum: HOUSE_START_BALANCE + 10_000 - 1_000,
        confirmed_transfers: 3,
        answers_checked: answers,
        ..Audit::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_rule_fails_alone_when_the_books_are_broken_its_way() {
    let _serial = crate::support::serial_async().await;
    let docker = stack::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
    let settings: StackSettings =
        toml::from_str("brokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n").expect("settings");
    let options = Options { owner: Owner::Run, services: Services::Require, reports: None };
    // Dropped on every way out of this test, a failed assertion included: its containers go with it.
    let mut stack = Stack::up(&docker, &settings, options, &|_| {}).await.expect("the stack comes up");
    tokio::time::timeout(Duration::from_secs(180), every_break(&stack))
        .await
        .expect("traffic and audits end within 3 minutes");
    let removed = stack.teardown().await.expect("the stack goes away");
    assert!(removed.iter().any(|c| c == "kgb-graphql-endpoint"), "{removed:?}");
}

async fn every_break(stack: &Stack) {
    let e = &stack.plan.endpoints;
    let t = traffic(&e.graphql_ws).await;
    let (ch, ge) = (session(&e.db_ch).await, session(&e.db_ge).await);

    let clean = expected_clean(t.answers.len());
    assert_eq!(audit(&Books::of(e), &mut log(&t.answers)).await, clean, "the untouched books pass");
    let events: i64 = ge.query_one("SELECT count(*) FROM transaction", &[]).await.expect("rows").get(0);
    assert_eq!(events, 4, "deposit 1, internal 2, outgoing 1, failed 0");
    let first_event = format!("{}:{}", t.internal, first_n(&ch, t.internal).await);

    money_created_in_db_ch(stack, &ch, &t, &clean).await;
    money_created_in_db_ge(stack, &ge, &t, &first_event, &clean).await;
    event_never_produced(stack, (&ch, &ge), &t, &first_event, &clean).await;
    event_missing_in_db_ge(stack, &ge, &t, &first_event, &clean).await;
    row_duplicated_in_db_ge(stack, &ge, &t, &first_event, &clean).await;
    row_without_event_in_db_ge(stack, &ge, &t, &first_event, &clean).await;
    answers_contradicted(stack, &t, &clean).await;
}

/// The `n` of the first event a transfer produced (the audit names events `<command id>:<n>`).
async fn first_n(ch: &Db, command: Uuid) -> i32 {
    ch.query_one("SELECT min(n) FROM balance_event WHERE command_id = $1", &[&command])
        .await
        .expect("its events")
        .get(0)
}

async fn execute(db: &Db, statement: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> u64 {
    db.execute(statement, params).await.unwrap_or_else(|err| panic!("{statement}: {err}"))
}

/// Restores a break and checks the books are clean again, so the next break starts from them.
async fn restored(stack: &Stack, t: &Traffic, clean: &Audit) {
    assert_eq!(settled(stack, &t.answers).await, *clean, "the books are restored");
}

async fn money_created_in_db_ch(stack: &Stack, ch: &Db, t: &Traffic, clean: &Audit) {
    let raise = "UPDATE account SET balance = balance + $1 WHERE iban = $2";
    assert_eq!(execute(ch, raise, &[&CREATED, &t.a.iban]).await, 1);
    let audit = settled(stack, &t.answers).await;
    let expected =
        Audit { passed: false, money_conserved: false, balance_sum: clean.balance_sum + CREATED, ..clean.clone() };
    only(MONEY, &audit, expected);
    execute(ch, raise, &[&-CREATED, &t.a.iban]).await;
    restored(stack, t, clean).await;
}

/// db-ge shows the client a balance the bank does not hold.
async fn money_created_in_db_ge(stack: &Stack, ge: &Db, t: &Traffic, event: &str, clean: &Audit) {
    let raise = "UPDATE transaction SET new_balance = new_balance + $1 WHERE event_id = $2";
    assert_eq!(execute(ge, raise, &[&CREATED, &event]).await, 1);
    let audit = settled(stack, &t.answers).await;
    let expected = Audit { passed: false, events_stored_once: false, rows_differing_from_event: 1, ..clean.clone() };
    only(STORED, &audit, expected);
    execute(ge, raise, &[&-CREATED, &event]).await;
    restored(stack, t, clean).await;
}

/// One BalanceChanged of a confirmed transfer never happened: gone from db-ch, and so never stored in db-ge.
async fn event_never_produced(stack: &Stack, (ch, ge): (&Db, &Db), t: &Traffic, event: &str, clean: &Audit) {
    let n = first_n(ch, t.internal).await;
    execute(ch, "CREATE TEMP TABLE gone (LIKE balance_event)", &[]).await;
    let take = "WITH e AS (DELETE FROM balance_event WHERE command_id = $1 AND n = $2 RETURNING *) INSERT INTO gone SELECT * FROM e";
    assert_eq!(execute(ch, take, &[&t.internal, &n]).await, 1);
    execute(ge, "CREATE TEMP TABLE gone (LIKE transaction)", &[]).await;
    let take = "WITH r AS (DELETE FROM transaction WHERE event_id = $1 RETURNING *) INSERT INTO gone SELECT * FROM r";
    assert_eq!(execute(ge, take, &[&event]).await, 1);
    let audit = settled(stack, &t.answers).await;
    let expected = Audit { passed: false, events_produced: false, transfers_with_wrong_events: 1, ..clean.clone() };
    only(EVENTS, &audit, expected);
    execute(ch, "INSERT INTO balance_event SELECT * FROM gone", &[]).await;
    execute(ge, "INSERT INTO transaction SELECT * FROM gone", &[]).await;
    execute(ch, "DROP TABLE gone", &[]).await;
    execute(ge, "DROP TABLE gone", &[]).await;
    restored(stack, t, clean).await;
}

/// The command handler produced the event; db-ge never stored it.
async fn event_missing_in_db_ge(stack: &Stack, ge: &Db, t: &Traffic, event: &str, clean: &Audit) {
    execute(ge, "CREATE TEMP TABLE gone (LIKE transaction)", &[]).await;
    let take = "WITH r AS (DELETE FROM transaction WHERE event_id = $1 RETURNING *) INSERT INTO gone SELECT * FROM r";
    assert_eq!(execute(ge, take, &[&event]).await, 1);
    let audit = settled(stack, &t.answers).await;
    let expected = Audit { passed: false, events_stored_once: false, events_missing_in_db_ge: 1, ..clean.clone() };
    only(STORED, &audit, expected);
    execute(ge, "INSERT INTO transaction SELECT * FROM gone", &[]).await;
    execute(ge, "DROP TABLE gone", &[]).await;
    restored(stack, t, clean).await;
}

/// A re-delivered event stored twice. The schema's unique `event_id` forbids that, so the test lifts it first: the
/// audit must not rely on a constraint of a deployment it did not create.
async fn row_duplicated_in_db_ge(stack: &Stack, ge: &Db, t: &Traffic, event: &str, clean: &Audit) {
    execute(ge, "ALTER TABLE transaction DROP CONSTRAINT transaction_event_id_key", &[]).await;
    let copy = "INSERT INTO transaction (event_id, iban, new_balance, changed_by, from_to, descr) \
                SELECT event_id, iban, new_balance, changed_by, from_to, descr FROM transaction WHERE event_id = $1 RETURNING id";
    let id: i32 = ge.query_one(copy, &[&event]).await.expect("the copy").get(0);
    let audit = settled(stack, &t.answers).await;
    let expected = Audit { passed: false, events_stored_once: false, rows_without_event: 1, ..clean.clone() };
    only(STORED, &audit, expected);
    execute(ge, "DELETE FROM transaction WHERE id = $1", &[&id]).await;
    execute(ge, "ALTER TABLE transaction ADD CONSTRAINT transaction_event_id_key UNIQUE (event_id)", &[]).await;
    restored(stack, t, clean).await;
}

/// A db-ge row for an event the command handler never produced (a copy under an event id of its own).
async fn row_without_event_in_db_ge(stack: &Stack, ge: &Db, t: &Traffic, event: &str, clean: &Audit) {
    let made_up = format!("{}:99", t.internal);
    let copy = "INSERT INTO transaction (event_id, iban, new_balance, changed_by, from_to, descr) \
                SELECT $2, iban, new_balance, changed_by, from_to, descr FROM transaction WHERE event_id = $1";
    assert_eq!(execute(ge, copy, &[&event, &made_up]).await, 1);
    let audit = settled(stack, &t.answers).await;
    let expected = Audit { passed: false, events_stored_once: false, rows_without_event: 1, ..clean.clone() };
    only(STORED, &audit, expected);
    execute(ge, "DELETE FROM transaction WHERE event_id = $1", &[&made_up]).await;
    restored(stack, t, clean).await;
}

/// What the clients were told, contradicted three ways (confirmed → failed, failed → confirmed, confirmed but unknown
/// to the bank) and once not (no answer in time: the fate was unknown to the client, whatever the bank did).
async fn answers_contradicted(stack: &Stack, t: &Traffic, clean: &Audit) {
    let refused = Answer { success: false, reason: Some("insufficient funds".into()) };
    let confirmed = Answer { success: true, reason: None };
    let unknown_fate = Answer { success: false, reason: Some("no answer from the bank within 30 s".into()) };
    let mut told: Vec<(Uuid, Answer)> = t
        .answers
        .iter()
        .map(|(id, answer)| match *id {
            id if id == t.internal => (id, refused.clone()),
            id if id == t.failed => (id, confirmed.clone()),
            id if id == t.outgoing => (id, unknown_fate.clone()),
            id => (id, answer.clone()),
        })
        .collect();
    told.push((Uuid::new_v4(), confirmed));
    let audit = settled(stack, &told).await;
    let expected = Audit {
        passed: false,
        no_transfer_confirmed_and_failed: false,
        answers_checked: 6,
        answers_contradicted: 3,
        ..clean.clone()
    };
    only(ANSWERS, &audit, expected);
}
