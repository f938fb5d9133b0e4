//! 500 websocket clients at once, each doing transfers: every answer arrives, every transaction is stored once.

use crate::common::{graphql_http, transfer, Endpoint, WsClient, GET_ACCOUNT};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use uuid::Uuid;

const CLIENTS: usize = 500;
const TRANSFERS_EACH: usize = 2;
const ACCOUNTS: usize = 10;

#[tokio::test]
async fn five_hundred_concurrent_clients_each_doing_transfers() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let url = format!("{}/graphql", endpoint.ws);

    let mut opener = WsClient::connect(&url, false).await;
    let mut ibans = Vec::new();
    for i in 0..ACCOUNTS {
        let a = opener.one(GET_ACCOUNT, json!({"u": format!("load-{i}"), "p": "load-password"})).await["get_account"]
            .clone();
        ibans.push(a["iban"].as_str().expect("iban").to_string());
    }

    let clients = join_all((0..CLIENTS).map(|c| {
        let (url, ibans) = (url.clone(), ibans.clone());
        async move {
            // Half the clients speak the legacy protocol, as 2019 browsers did.
            let mut client = WsClient::connect(&url, c % 2 == 1).await;
            let mut results = Vec::new();
            for t in 0..TRANSFERS_EACH {
                let to = &ibans[(c + t) % ACCOUNTS];
                let id = Uuid::new_v4().to_string();
                let r =
                    transfer(&mut client, &id, &format!("load-{}", c % ACCOUNTS), "cash", 100, ("cash", to), "load")
                        .await;
                results.push(r);
            }
            results
        }
    }))
    .await;

    let results: Vec<_> = clients.into_iter().flatten().collect();
    assert_eq!(results.len(), CLIENTS * TRANSFERS_EACH);
    let failed: Vec<_> = results.iter().filter(|r| r["success"] != true).collect();
    assert!(failed.is_empty(), "{} failed, e.g. {:?}", failed.len(), failed.first());

    // db-ge ends up with exactly one row per BalanceChanged (events trail the answers a little).
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let mut stored = 0;
        for iban in &ibans {
            let q = "query($i: String!) { transactions_by_iban(iban: $i, max_items: 1000) { id } }";
            let rows = graphql_http(&endpoint.base, q, json!({"i": iban})).await;
            stored += rows["data"]["transactions_by_iban"].as_array().expect("rows").len();
        }
        if stored >= CLIENTS * TRANSFERS_EACH || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(stored, CLIENTS * TRANSFERS_EACH);
    endpoint.stop().await;
}
