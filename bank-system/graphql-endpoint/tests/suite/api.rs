//! The API against a real stack: the endpoint in-process, the command handler in its container, clients over
//! both websocket subprotocols and plain HTTP.

use crate::common::{graphql_http, transfer, Endpoint, WsClient, GET_ACCOUNT, STREAM};
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn the_api_over_both_protocols_and_http() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let (base, ws) = (endpoint.base.clone(), endpoint.ws.clone());
    let mut current = WsClient::connect(&format!("{ws}/graphql"), false).await;
    let mut legacy = WsClient::connect(&format!("{ws}/graphql-ws"), true).await;

    // Accounts: new, the same again, wrong password; the legacy client without connection_init.
    let alice =
        current.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "alice-password"})).await["get_account"].clone();
    let (iban, token) =
        (alice["iban"].as_str().expect("iban").to_string(), alice["token"].as_str().expect("token").to_string());
    let again = legacy.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "alice-password"})).await["get_account"].clone();
    assert_eq!(again, alice, "same user, same account");
    let wrong =
        current.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "not-her-password"})).await["get_account"].clone();
    assert_eq!(wrong["reason"], "incorrect password");
    let bob = legacy.one(GET_ACCOUNT, json!({"u": "bob-user", "p": "bob-password"})).await["get_account"].clone();
    let bob_iban = bob["iban"].as_str().expect("bob's iban").to_string();

    // A live feed of alice's credits of at least €5 whose description mentions "gift", any case.
    let credits = current.subscribe(STREAM, json!({"iban": iban, "min": 500, "dir": "CREDIT", "descr": "GIFT"})).await;
    let all_of_alice = legacy.subscribe(STREAM, json!({"iban": iban})).await;
    let bobs = current.subscribe(STREAM, json!({"iban": bob_iban})).await;

    // Transfers: deposit, an upper-case uuid, and each failure relayed verbatim.
    let deposit = Uuid::new_v4().to_string().to_uppercase();
    let r =
        transfer(&mut current, &deposit, "alice-user", "cash", 123_456, ("cash", &iban), "a gift from grandma").await;
    assert_eq!(r, json!({"uuid": deposit, "success": true, "reason": null}));
    let small = Uuid::new_v4().to_string();
    assert_eq!(
        transfer(&mut legacy, &small, "alice-user", "cash", 100, ("cash", &iban), "small gift").await["success"],
        true
    );
    let cases = [
        (Uuid::new_v4().to_string(), "bogus-token", 100, iban.as_str(), bob_iban.as_str(), "invalid token"),
        (
            Uuid::new_v4().to_string(),
            token.as_str(),
            100_000_000,
            iban.as_str(),
            bob_iban.as_str(),
            "insufficient funds",
        ),
        (Uuid::new_v4().to_string(), token.as_str(), 100, "NL00nonsense", bob_iban.as_str(), "from is invalid"),
        (
            "not-a-uuid".to_string(),
            token.as_str(),
            100,
            iban.as_str(),
            bob_iban.as_str(),
            "uuid \"not-a-uuid\" is not a valid uuid",
        ),
        (Uuid::new_v4().to_string(), token.as_str(), 0, iban.as_str(), bob_iban.as_str(), "amount must be positive"),
        (Uuid::new_v4().to_string(), token.as_str(), 100, iban.as_str(), "", "to must not be empty"),
    ];
    for (id, tok, amount, from, to, reason) in cases {
        let r = transfer(&mut current, &id, "alice-user", tok, amount, (from, to), "x").await;
        assert_eq!(r["success"], false, "{r}");
        assert_eq!(r["reason"], reason, "{r}");
    }
    let paid = Uuid::new_v4().to_string();
    let r = transfer(&mut legacy, &paid, "alice-user", &token, 2_329, (&iban, &bob_iban), "groceries").await;
    assert_eq!(r["success"], true, "{r}");

    // The filtered feed saw only the €1.234,56 gift; the unfiltered one saw the three changes in order.
    let gift = current.next_data(&credits).await["stream_transactions"].clone();
    assert_eq!(gift["changed_by"], "€1.234,56");
    assert_eq!(gift["new_balance"], "€1.234,56");
    assert_eq!(gift["direction"], "CREDIT");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(legacy.next_data(&all_of_alice).await["stream_transactions"].clone());
    }
    let changes: Vec<&str> = seen.iter().map(|t| t["changed_by"].as_str().expect("changed_by")).collect();
    assert_eq!(changes, ["€1.234,56", "€1,00", "€23,29"]);
    assert_eq!(seen[2]["direction"], "DEBIT");
    assert_eq!(seen[2]["new_balance"], "€1.212,27");

    // Bob's credit is an event of its own (another key, maybe another partition): wait until it is stored.
    let credit = current.next_data(&bobs).await["stream_transactions"].clone();
    assert_eq!(credit["from_to"], iban.as_str());

    // Queries over HTTP.
    let by_iban = graphql_http(
        &base,
        "query($i: String!) { transactions_by_iban(iban: $i, max_items: 2) { id changed_by } }",
        json!({"i": iban}),
    )
    .await;
    let rows = by_iban["data"]["transactions_by_iban"].as_array().expect("list").clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["changed_by"], "€23,29", "newest first");
    let id = rows[0]["id"].clone();
    let one =
        graphql_http(&base, "query($id: Int!) { transaction_by_id(id: $id) { iban descr } }", json!({"id": id})).await;
    assert_eq!(one["data"]["transaction_by_id"], json!({"iban": iban, "descr": "groceries"}));
    let last = graphql_http(&base, "{ all_last_transactions { iban changed_by } }", json!({})).await;
    let last = last["data"]["all_last_transactions"].as_array().expect("list").clone();
    assert!(last.contains(&json!({"iban": bob_iban, "changed_by": "€23,29"})), "{last:?}");
    assert!(last.contains(&json!({"iban": iban, "changed_by": "€23,29"})), "{last:?}");

    // Malformed GraphQL gets GraphQL errors, not a crash.
    let bad = graphql_http(&base, "{ transactions_by_iban(iban: 3) { nope } }", json!({})).await;
    assert!(bad["errors"].as_array().is_some_and(|e| !e.is_empty()), "{bad}");
    let bad = graphql_http(
        &base,
        "query($i: String!) { transactions_by_iban(iban: $i, max_items: -1) { id } }",
        json!({"i": iban}),
    )
    .await;
    assert!(bad["errors"][0]["message"].as_str().is_some_and(|m| m.contains("max_items")), "{bad}");
    let health = reqwest::get(format!("{base}/health")).await.expect("health");
    assert!(health.status().is_success());

    // Graceful shutdown completes open subscriptions and closes the sockets.
    endpoint.stop().await;
    current.expect_closed().await;
    legacy.expect_closed().await;
}
