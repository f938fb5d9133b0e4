//! Hostile commands against real Kafka, registry and PostgreSQL: a command db-ch cannot store (a NUL byte in a
//! text) is answered as refused and the handler goes on; and an account's events stay in order while the broker
//! stops answering for longer than the producer's message timeout.

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use crate::common::{failed_reason, Client, Running};
use command_handler::store::reason;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::ClientConfig;
use topology::records::Record;
use topology::topics::BALANCE_CHANGED;
use uuid::Uuid;

const ANSWERED_WITHIN: Duration = Duration::from_secs(60);

/// Sends every command before waiting, so the poisoned ones share batches with the others.
#[tokio::test]
async fn a_command_db_ch_refuses_is_answered_and_every_other_command_goes_on() {
    let stack = common::stack().await;
    let running = Running::start(&stack).await;
    let mut client = Client::new(&stack).await;
    let (alice, _) = client.account("alice").await;
    let mut others = Vec::new();
    for n in 0..8 {
        others.push(client.account(&format!("other{n}")).await);
    }

    let transfer = |id, to: &str, description: &str| Record::ConfirmMoneyTransfer {
        id,
        token: "cash".into(),
        amount: 100,
        from: "cash".into(),
        to: to.into(),
        description: description.into(),
    };
    let (nul_to, nul_descr, nul_user) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    client.send("alice", &transfer(nul_to, "NL\0x", "nul in to")).await;
    client.send("alice", &transfer(nul_descr, &alice, "nul\0in descr")).await;
    client.send("bad\0user", &Record::ConfirmAccountCreation { id: nul_user, username: "bad\0user".into() }).await;
    let mut fine = Vec::new();
    for round in 0..5 {
        fine.push(client.transfer("alice", "cash", 100, "cash", &alice).await);
        for (n, (iban, _)) in others.iter().enumerate() {
            fine.push(client.transfer(&format!("other{n}"), "cash", 100 + round, "cash", iban).await);
        }
    }

    let refused = client.wait_for(&[nul_to, nul_descr, nul_user], ANSWERED_WITHIN).await;
    for answer in &refused {
        let why = failed_reason(answer).unwrap_or_else(|| panic!("a poisoned command was not refused: {answer:?}"));
        assert!(why.starts_with(reason::REFUSED) && why.contains("SQLSTATE 22"), "{why}");
    }
    for answer in client.wait_for(&fine, ANSWERED_WITHIN).await {
        assert!(matches!(answer, Record::MoneyTransferConfirmed { .. }), "{answer:?}");
    }
    assert_eq!(common::balance(&stack, &alice).await, 500, "alice's five deposits, nothing of the refused ones");

    // A replay of a refused command is refused again in the same words.
    client.send("alice", &transfer(nul_to, "NL\0x", "nul in to")).await;
    client.feedback.remove(&nul_to);
    assert_eq!(client.one(nul_to).await, refused[0]);
    let stats = running.handler.stats.snapshot();
    assert!(stats.refused >= 4, "every refusal counted: {stats:?}");
    assert_eq!(stats.retries, 0, "a refusal is not retried: {stats:?}");
    running.stop().await;
}

/// Reads every BalanceChanged from the start of the topic until `expected` distinct events were read, in
/// each partition's order; an event id seen again (a re-send) keeps its first place.
async fn events_in_log_order(stack: &stack::Stack, expected: usize) -> Vec<(String, String, i64, i64)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &stack.plan.endpoints.bootstrap)
        .set("group.id", format!("order-{}", Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[BALANCE_CHANGED]).expect("subscribe");
    let registry = topology::registry::Registry::new(&stack.plan.endpoints.registry);
    let (mut seen, mut events) = (std::collections::HashSet::new(), Vec::new());
    while seen.len() < expected {
        let m =
            tokio::time::timeout(ANSWERED_WITHIN, consumer.recv()).await.expect("events keep coming").expect("consume");
        let id = topology::kafka::event_id_of(m.headers()).expect("event id");
        if let Record::BalanceChanged { iban, new_balance, changed_by, .. } =
            registry.decode(m.payload().expect("value")).await.expect("decode")
        {
            if seen.insert(id.clone()) {
                events.push((id, iban, new_balance, changed_by));
            }
        }
    }
    events
}

/// The producer is given a message timeout shorter than the broker's pause: the handler must not give up on a
/// batch and re-send it after later ones (which put an account's balance chain out of order).
#[tokio::test]
async fn an_accounts_events_stay_in_order_through_a_paused_broker() {
    let stack = common::stack().await;
    let running = Running::start_with(&stack, &[("KAFKA_PRODUCER_MESSAGE_TIMEOUT_MS", "2000")]).await;
    let mut client = Client::new(&stack).await;
    let mut accounts = Vec::new();
    for n in 0..4 {
        accounts.push(client.account(&format!("order{n}")).await);
    }
    let broker = stack.started.iter().find(|c| c.contains("kafka")).expect("a broker container").clone();
    let docker = bollard::Docker::connect_with_local_defaults().expect("docker");
    // Paused 6 s (three times the message timeout) while commands flow; sends during the pause wait in this
    // client's producer (10 s) and go on after it.
    let fault = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        docker.pause_container(&broker).await.expect("pause the broker");
        tokio::time::sleep(Duration::from_secs(6)).await;
        docker.unpause_container(&broker).await.expect("unpause the broker");
    });
    let mut ids = Vec::new();
    for round in 0..50 {
        for (n, (iban, _)) in accounts.iter().enumerate() {
            ids.push(client.transfer(&format!("order{n}"), "cash", 100 + round, "cash", iban).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    fault.await.expect("the fault ran");
    client.wait_for(&ids, ANSWERED_WITHIN).await;
    let deposits = client.feedback.values().filter(|r| matches!(r, Record::MoneyTransferConfirmed { .. })).count();
    let events = events_in_log_order(&stack, deposits).await;
    let mut last: HashMap<&str, i64> = HashMap::new();
    for (id, iban, new_balance, changed_by) in &events {
        let before = last.get(iban.as_str()).copied().unwrap_or(0);
        assert_eq!(before + changed_by, *new_balance, "event {id} of {iban} does not follow the one before it");
        last.insert(iban, *new_balance);
    }
    running.stop().await;
}
