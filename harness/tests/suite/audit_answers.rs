//! The audit reads the load's answers back from disk in batches against real databases (a test stack): every
//! answer is compared, across batch boundaries, while the log held only its fixed buffer of them in memory.

use harness::audit::{self, AnswerLog};
use harness::load::bank::Answer;
use uuid::Uuid;

/// Two and a half batches of the audit's.
const N: usize = 25_000;

#[tokio::test]
async fn every_answer_is_checked_in_batches_from_a_bounded_log() {
    let stack = stack::testing::stack("").await;
    let endpoints = stack.plan.endpoints.clone();
    let (ch, connection) = tokio_postgres::connect(&endpoints.db_ch, tokio_postgres::NoTls).await.expect("db-ch");
    tokio::spawn(connection);

    // The bank refused N transfers; the clients were told the same, except three told success, one in each batch.
    let ids: Vec<Uuid> = (0..N).map(|_| Uuid::new_v4()).collect();
    ch.execute(
        "INSERT INTO command_outcome (command_id, kind, command_key, success, reason)
         SELECT unnest($1::uuid[]), 'money_transfer', 'k', false, 'insufficient funds'",
        &[&ids],
    )
    .await
    .expect("outcomes stored");
    let told_success = [0, 12_345, N - 1];
    let mut log = AnswerLog::new();
    let mut most_in_memory = 0;
    for (i, id) in ids.iter().enumerate() {
        let success = told_success.contains(&i);
        log.push(*id, &Answer { success, reason: (!success).then(|| "insufficient funds".into()) });
        most_in_memory = most_in_memory.max(log.in_memory());
    }
    // Two transfers the bank never saw, whose clients were told their fate is unknown: no contradiction.
    for _ in 0..2 {
        log.push(
            Uuid::new_v4(),
            &Answer { success: false, reason: Some("no answer from the bank within 30 s".into()) },
        );
    }
    assert!(most_in_memory <= audit::answers::BUFFER, "the log held {most_in_memory} bytes in memory");

    let audited = audit::audit(&audit::Books::of(&endpoints), &mut log).await;
    assert_eq!(audited.error, None);
    assert_eq!((audited.answers_checked, audited.answers_contradicted), (N + 2, 3), "{audited:?}");
    assert!(audited.money_conserved && audited.events_produced && audited.events_stored_once, "{audited:?}");
}
