//! Money is exact under concurrency and across restarts of the handler (docs/bank.md).

use crate::common;

use std::collections::HashMap;
use std::time::Duration;

use crate::common::{balance, total_balance, Client, Running};
use bollard::query_parameters::{RestartContainerOptionsBuilder, StopContainerOptionsBuilder};
use futures_util::future::join_all;
use rand::{Rng, SeedableRng};
use stack::docker::container;
use stack::plan::{Check, WaitFor};
use topology::iban::HOUSE_START_BALANCE;
use topology::records::Record;
use uuid::Uuid;

const ACCOUNTS: usize = 50;
const START: i64 = 100_000;

struct Planned {
    id: Uuid,
    from: usize,
    to: usize,
    amount: i64,
}

/// Opens the accounts, deposits `START` in each, and returns (iban, token) per account.
async fn accounts(client: &mut Client, prefix: &str) -> Vec<(String, String)> {
    let ids: Vec<Uuid> = join_all((0..ACCOUNTS).map(|i| client.open_account_key(format!("{prefix}{i}")))).await;
    let answers = client.wait_for(&ids, Duration::from_secs(60)).await;
    let accounts: Vec<(String, String)> = answers
        .into_iter()
        .map(|r| match r {
            Record::AccountCreationConfirmed { iban, token, .. } => (iban, token),
            other => panic!("account not opened: {other:?}"),
        })
        .collect();
    let deposits: Vec<Uuid> = join_all(accounts.iter().enumerate().map(|(i, (iban, _))| {
        client.transfer_owned(format!("{prefix}{i}"), "cash".into(), START, "cash".into(), iban.clone())
    }))
    .await;
    let answers = client.wait_for(&deposits, Duration::from_secs(60)).await;
    assert!(answers.iter().all(|r| matches!(r, Record::MoneyTransferConfirmed { .. })), "deposits confirmed");
    accounts
}

async fn send_transfers(
    client: &Client,
    accounts: &[(String, String)],
    prefix: &str,
    n: usize,
    seed: u64,
) -> Vec<Planned> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let planned: Vec<(usize, usize, i64)> = (0..n)
        .map(|_| {
            let from = rng.gen_range(0..ACCOUNTS);
            let to = (from + rng.gen_range(1..ACCOUNTS)) % ACCOUNTS;
            (from, to, rng.gen_range(1..20_000))
        })
        .collect();
    let ids = join_all(planned.iter().map(|(from, to, amount)| {
        let (from_iban, token) = &accounts[*from];
        client.transfer_owned(
            format!("{prefix}{from}"),
            token.clone(),
            *amount,
            from_iban.clone(),
            accounts[*to].0.clone(),
        )
    }))
    .await;
    ids.into_iter().zip(planned).map(|(id, (from, to, amount))| Planned { id, from, to, amount }).collect()
}

/// Every account's balance equals its deposit plus confirmed credits minus confirmed debits, and no
/// transfer is both confirmed and failed.
async fn check_exact(
    stack: &stack::Stack,
    client: &Client,
    accounts: &[(String, String)],
    planned: &[Planned],
) -> usize {
    let mut expected: HashMap<usize, i64> = (0..ACCOUNTS).map(|i| (i, START)).collect();
    let mut confirmed = 0;
    for p in planned {
        match &client.feedback[&p.id] {
            Record::MoneyTransferConfirmed { .. } => {
                confirmed += 1;
                *expected.entry(p.from).or_default() -= p.amount;
                *expected.entry(p.to).or_default() += p.amount;
            }
            Record::MoneyTransferFailed { reason, .. } => assert_eq!(reason, "insufficient funds"),
            other => panic!("{other:?}"),
        }
    }
    for (i, (iban, _)) in accounts.iter().enumerate() {
        assert_eq!(balance(stack, iban).await, expected[&i], "account {i}");
    }
    confirmed
}

#[tokio::test]
async fn a_thousand_concurrent_transfers_among_fifty_accounts_keep_money_exact() {
    let mut stack = common::stack().await;
    let running = Running::start(&stack).await;
    let mut client = Client::new(&stack).await;
    let accounts = accounts(&mut client, "c").await;

    let planned = send_transfers(&client, &accounts, "c", 1_000, 7).await;
    let ids: Vec<Uuid> = planned.iter().map(|p| p.id).collect();
    client.wait_for(&ids, Duration::from_secs(120)).await;
    let confirmed = check_exact(&stack, &client, &accounts, &planned).await;
    assert!(confirmed > 500, "most transfers should pass: {confirmed}");
    assert_eq!(total_balance(&stack).await, HOUSE_START_BALANCE + START * ACCOUNTS as i64);
    // Each confirmed transfer produced one debit and one credit event, each exactly once.
    let confirmed_ids: Vec<Uuid> = planned
        .iter()
        .filter(|p| matches!(client.feedback[&p.id], Record::MoneyTransferConfirmed { .. }))
        .map(|p| p.id)
        .collect();
    let events: Vec<String> = confirmed_ids.iter().flat_map(|id| [format!("{id}:0"), format!("{id}:1")]).collect();
    client.wait_for_events(&events, 1, Duration::from_secs(60)).await;
    for id in &events {
        assert_eq!(client.balance_changed[id].1, 1, "event {id} arrived once");
    }
    let failed_with_events = planned
        .iter()
        .filter(|p| !confirmed_ids.contains(&p.id))
        .filter(|p| client.balance_changed.contains_key(&format!("{}:0", p.id)))
        .count();
    assert_eq!(failed_with_events, 0, "a failed transfer emits no BalanceChanged");
    running.stop().await;
    // The client's consumer leaves its group on drop: with the brokers already gone that can wait forever.
    drop(client);
    stack.teardown().await.expect("teardown");
}

#[tokio::test]
async fn a_handler_restarted_mid_stream_neither_loses_nor_double_applies() {
    let mut stack = common::stack().await;
    let docker = stack::docker::connect().await.expect("engine");
    let part = stack.plan.services.iter().find(|p| p.spec.name == "kgb-command-handler").expect("planned").clone();
    container::start(&docker, &part.spec).await.expect("handler container starts (scripts/setup builds its image)");
    stack.wait_for(&part.wait).await.expect("handler ready");
    let mut client = Client::new(&stack).await;
    let accounts = accounts(&mut client, "r").await;

    // Graceful: SIGTERM finishes what was handed out and exits 0.
    let first = send_transfers(&client, &accounts, "r", 300, 11).await;
    let stop = StopContainerOptionsBuilder::default().t(20).build();
    docker.stop_container(&part.spec.name, Some(stop)).await.expect("stop");
    assert_eq!(container::wait_exit(&docker, &part.spec.name).await.expect("exit code"), 0, "SIGTERM exits cleanly");
    docker.start_container(&part.spec.name, None).await.expect("start again");
    let second = send_transfers(&client, &accounts, "r", 300, 12).await;
    // Abrupt: killed while transfers are in flight, then started again.
    let kill = RestartContainerOptionsBuilder::default().t(0).build();
    docker.restart_container(&part.spec.name, Some(kill)).await.expect("kill and restart");
    let third = send_transfers(&client, &accounts, "r", 300, 13).await;
    stack
        .wait_for(&WaitFor {
            check: Check::Http { url: stack.plan.endpoints.command_handler_health.clone(), tls: None },
            ..part.wait.clone()
        })
        .await
        .expect("handler ready again");

    let planned: Vec<Planned> = first.into_iter().chain(second).chain(third).collect();
    let ids: Vec<Uuid> = planned.iter().map(|p| p.id).collect();
    client.wait_for(&ids, Duration::from_secs(120)).await;
    check_exact(&stack, &client, &accounts, &planned).await;
    assert_eq!(total_balance(&stack).await, HOUSE_START_BALANCE + START * ACCOUNTS as i64);
    let stored: i64 = common::db(&stack)
        .await
        .query_one("SELECT count(*) FROM command_outcome WHERE kind = 'money_transfer'", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored as usize, planned.len() + ACCOUNTS, "one stored outcome per command");
    // The client's consumer leaves its group on drop: with the brokers already gone that can wait forever.
    drop(client);
    stack.teardown().await.expect("teardown");
}
