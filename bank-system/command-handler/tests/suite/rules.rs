//! Every rule and failure reason of docs/bank.md against real Kafka, registry and PostgreSQL.

use crate::common;

use crate::common::{balance, failed_reason, total_balance, Client, Running};
use command_handler::store::reason;
use topology::iban::{HOUSE_IBAN, HOUSE_START_BALANCE, HOUSE_TOKEN};
use topology::records::Record;

const OTHER_BANK: &str = "NL91ABNA0417164300";

#[tokio::test]
async fn rules_reasons_replays_and_poison() {
    let mut stack = common::stack().await;
    let running = Running::start(&stack).await;
    let mut client = Client::new(&stack).await;

    // Account creation, and the same command id again answers the stored account.
    let (alice, alice_token) = client.account("alice").await;
    assert!(topology::iban::is_valid_open_iban(&alice), "{alice}");
    let (bob, _) = client.account("bob").await;
    let id = client.open_account("carol").await;
    let first = client.one(id).await;
    client.send("carol", &Record::ConfirmAccountCreation { id, username: "carol".into() }).await;
    client.feedback.remove(&id);
    assert_eq!(client.one(id).await, first, "a replayed account command answers the stored account");

    // Deposit from cash, then the failure reasons in order.
    let deposit = client.transfer("alice", "cash", 10_000, "cash", &alice).await;
    assert_eq!(client.one(deposit).await, Record::MoneyTransferConfirmed { id: deposit });
    assert_eq!(balance(&stack, &alice).await, 10_000);
    let cases = [
        (0, "cash", alice.as_str(), "cash", reason::AMOUNT_NOT_POSITIVE),
        (-100, "cash", alice.as_str(), "cash", reason::AMOUNT_NOT_POSITIVE),
        (100, "NLxxOPEN123456789x", alice.as_str(), "x", reason::FROM_INVALID),
        (100, "not-an-iban", alice.as_str(), "x", reason::FROM_INVALID),
        (100, alice.as_str(), alice.as_str(), alice_token.as_str(), reason::SAME_ACCOUNT),
        (100, alice.as_str(), bob.as_str(), "00000000000000000000", reason::INVALID_TOKEN),
        (60_001, alice.as_str(), bob.as_str(), alice_token.as_str(), reason::INSUFFICIENT_FUNDS),
        (100, "cash", OTHER_BANK, "cash", reason::BOTH_UNKNOWN),
    ];
    for (amount, from, to, token, expected) in cases {
        let id = client.transfer("alice", token, amount, from, to).await;
        let answer = client.one(id).await;
        assert_eq!(failed_reason(&answer), Some(expected), "{amount} {from} -> {to}: {answer:?}");
    }
    assert_eq!(balance(&stack, &alice).await, 10_000, "failed transfers change nothing");

    // Down to the limit (-€500) is allowed; a transfer to another bank debits only.
    let to_bob = client.transfer("alice", &alice_token, 50_000, &alice, &bob).await;
    assert_eq!(client.one(to_bob).await, Record::MoneyTransferConfirmed { id: to_bob });
    let abroad = client.transfer("alice", &alice_token, 10_000, &alice, OTHER_BANK).await;
    assert_eq!(client.one(abroad).await, Record::MoneyTransferConfirmed { id: abroad });
    assert_eq!(balance(&stack, &alice).await, -50_000);
    assert_eq!(balance(&stack, &bob).await, 50_000);
    // Money from another open-bank IBAN that is not here enters the bank without a token check.
    let stranger = format!("NL{}OPEN0000000001", topology::iban::check_digits("0000000001").expect("ten digits"));
    let incoming = client.transfer("x", "whatever", 700, &stranger, &bob).await;
    assert_eq!(client.one(incoming).await, Record::MoneyTransferConfirmed { id: incoming });

    // A duplicated transfer changes nothing twice and re-emits the same events.
    let house_before = balance(&stack, HOUSE_IBAN).await;
    let paid = client.transfer("bob", HOUSE_TOKEN, 1_234, HOUSE_IBAN, &bob).await;
    assert_eq!(client.one(paid).await, Record::MoneyTransferConfirmed { id: paid });
    let record = Record::ConfirmMoneyTransfer {
        id: paid,
        token: HOUSE_TOKEN.into(),
        amount: 1_234,
        from: HOUSE_IBAN.into(),
        to: bob.clone(),
        description: "test".into(),
    };
    client.send("bob", &record).await;
    client.feedback.remove(&paid);
    assert_eq!(client.one(paid).await, Record::MoneyTransferConfirmed { id: paid });
    assert_eq!(balance(&stack, HOUSE_IBAN).await, house_before - 1_234);
    // The events travel on their own topic: wait until both arrived twice (first time and replay).
    let ids = [format!("{paid}:0"), format!("{paid}:1")];
    client.wait_for_events(&ids, 2, std::time::Duration::from_secs(30)).await;
    let events: Vec<_> = client.balance_changed.iter().filter(|(k, _)| k.starts_with(&paid.to_string())).collect();
    assert_eq!(events.len(), 2, "debit and credit, each with its own event_id: {events:?}");
    assert!(events.iter().all(|(_, (_, seen))| *seen == 2), "the replay re-emits both with the same ids");
    let debit = &client.balance_changed[&format!("{paid}:0")].0;
    assert!(matches!(debit, Record::BalanceChanged { changed_by: -1_234, from_to, .. } if *from_to == bob));

    // Sent back to back, so usually applied as one batch: a deposit, a payment that needs it, the same payment
    // again. The batch sees its own earlier changes and answers the repeat from the first outcome.
    let (dave, dave_token) = client.account("dave").await;
    let replays_before = running.handler.stats.snapshot().replays;
    let deposit = client.transfer("dave", "cash", 500, "cash", &dave).await;
    let pay_id = uuid::Uuid::new_v4();
    let pay = Record::ConfirmMoneyTransfer {
        id: pay_id,
        token: dave_token.clone(),
        amount: 50_400,
        from: dave.clone(),
        to: bob.clone(),
        description: "needs the deposit".into(),
    };
    client.send("dave", &pay).await;
    client.send("dave", &pay).await;
    assert_eq!(client.one(deposit).await, Record::MoneyTransferConfirmed { id: deposit });
    assert_eq!(client.one(pay_id).await, Record::MoneyTransferConfirmed { id: pay_id });
    assert_eq!(balance(&stack, &dave).await, 500 - 50_400, "applied once, after the deposit");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while running.handler.stats.snapshot().replays == replays_before && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(running.handler.stats.snapshot().replays - replays_before, 1, "the repeat is a replay");
    let entered_by_dave = 500;

    // Poison records are skipped and counted; the partition keeps flowing.
    let poison_before = running.handler.stats.snapshot().poison;
    client.send_raw("alice", &[1, 0, 0, 0, 1, 2, 3]).await; // wrong magic byte
    client.send_raw("alice", &[0, 0, 0, 0x7f, 0x7f, 2]).await; // unknown schema id
    client.send_raw("alice", &[0, 0, 0]).await; // truncated
    let mut valid = client
        .registry
        .encode(
            topology::topics::COMMANDS,
            &Record::ConfirmAccountCreation { id: uuid::Uuid::new_v4(), username: "x".into() },
        )
        .await
        .expect("encode");
    valid.truncate(valid.len() - 3); // truncated Avro body
    client.send_raw("alice", &valid).await;
    let after = client.transfer("alice", "cash", 1, "cash", &alice).await;
    assert_eq!(client.one(after).await, Record::MoneyTransferConfirmed { id: after });
    assert_eq!(running.handler.stats.snapshot().poison - poison_before, 4);

    // Money is conserved: what entered from outside minus what left to another bank.
    let entered = 10_000 + 700 + 1 + entered_by_dave;
    assert_eq!(total_balance(&stack).await, HOUSE_START_BALANCE + entered - 10_000);

    running.stop().await;
    // The client's consumer leaves its group on drop: with the brokers already gone that can wait forever.
    drop(client);
    stack.teardown().await.expect("teardown");
}
