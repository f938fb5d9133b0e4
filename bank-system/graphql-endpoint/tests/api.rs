//! The API against a real stack: the endpoint in-process, the command handler in its container, clients over
//! both websocket subprotocols and plain HTTP.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use graphql_endpoint::app::{App, Settings};
use harness::docker::{container, readiness};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A minimal client of either subprotocol: one subscription at a time per call.
struct WsClient {
    socket: Socket,
    legacy: bool,
    next_id: u32,
    /// Data of other subscriptions read while waiting for one.
    buffered: Vec<Value>,
}

impl WsClient {
    async fn connect(url: &str, legacy: bool) -> WsClient {
        let mut request = url.into_client_request().expect("request");
        let protocol = if legacy { "graphql-ws" } else { "graphql-transport-ws" };
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        if !legacy {
            // The current protocol requires the handshake; legacy 2019 clients send `start` straight away.
            socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.expect("init");
            let ack = Self::read(&mut socket).await;
            assert_eq!(ack["type"], "connection_ack", "{ack}");
        }
        WsClient { socket, legacy, next_id: 0, buffered: Vec::new() }
    }

    async fn read(socket: &mut Socket) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(40), socket.next()).await.expect("an answer in time");
            match message.expect("socket open").expect("frame") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    if v["type"] != "ka" && v["type"] != "ping" {
                        return v;
                    }
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let kind = if self.legacy { "start" } else { "subscribe" };
        let message = json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}});
        self.socket.send(Message::text(message.to_string())).await.expect("send");
        id
    }

    /// The next data payload of subscription `id`.
    async fn next_data(&mut self, id: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["id"] == id) {
            return self.buffered.remove(i)["payload"]["data"].clone();
        }
        loop {
            let v = Self::read(&mut self.socket).await;
            assert!(v["type"] != "error", "subscription error: {v}");
            if v["type"] == "next" || v["type"] == "data" {
                if v["id"] == id {
                    return v["payload"]["data"].clone();
                }
                self.buffered.push(v);
            }
        }
    }

    async fn one(&mut self, query: &str, variables: Value) -> Value {
        let id = self.subscribe(query, variables).await;
        self.next_data(&id).await
    }
}

const GET_ACCOUNT: &str = "subscription($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }";
const TRANSFER: &str = "subscription($id: String!, $u: String!, $t: String!, $a: Int!, $f: String!, $to: String!, $d: String!) {
  money_transfer(uuid: $id, username: $u, token: $t, amount: $a, from: $f, to: $to, descr: $d) { uuid success reason } }";
const STREAM: &str = "subscription($iban: String, $min: Int, $max: Int, $dir: dtype, $descr: String) {
  stream_transactions(iban: $iban, min_amount: $min, max_amount: $max, direction: $dir, descr_includes: $descr) {
    id iban new_balance changed_by from_to descr direction } }";

/// `route` is (from, to).
async fn transfer(c: &mut WsClient, id: &str, user: &str, token: &str, amount: i64, route: (&str, &str), descr: &str) -> Value {
    let (from, to) = route;
    let vars = json!({"id": id, "u": user, "t": token, "a": amount, "f": from, "to": to, "d": descr});
    c.one(TRANSFER, vars).await["money_transfer"].clone()
}

async fn graphql_http(base: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_api_over_both_protocols_and_http() {
    let stack = harness::testing::stack("").await;
    let docker = harness::docker::connect().await.expect("engine");
    let handler = stack.plan.services.iter().find(|p| p.spec.name == "kgb-command-handler").expect("planned").clone();
    container::start(&docker, &handler.spec).await.expect("handler container (scripts/setup builds its image)");
    readiness::wait(&docker, &handler.wait).await.expect("handler ready");

    let e = &stack.plan.endpoints;
    let vars = vec![
        ("KAFKA_BOOTSTRAP_SERVERS".to_string(), e.bootstrap.clone()),
        ("SCHEMA_REGISTRY_URL".to_string(), e.registry.clone()),
        ("DATABASE_URL".to_string(), e.db_ge.clone()),
    ];
    let app = App::connect(&Settings::from_vars(vars).expect("settings")).await.expect("endpoint connects");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let ws = base.replace("http://", "ws://");
    let shutdown = app.shutdown.clone();
    let events = tokio::spawn(app.events.run(shutdown.clone().cancelled_owned()));
    let stopped = shutdown.clone().cancelled_owned();
    let server = tokio::spawn(async move { axum::serve(listener, app.router).with_graceful_shutdown(stopped).await });

    let mut current = WsClient::connect(&format!("{ws}/graphql"), false).await;
    let mut legacy = WsClient::connect(&format!("{ws}/graphql-ws"), true).await;

    // Accounts: new, the same again, wrong password; the legacy client without connection_init.
    let alice = current.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "alice-password"})).await["get_account"].clone();
    let (iban, token) = (alice["iban"].as_str().expect("iban").to_string(), alice["token"].as_str().expect("token").to_string());
    let again = legacy.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "alice-password"})).await["get_account"].clone();
    assert_eq!(again, alice, "same user, same account");
    let wrong = current.one(GET_ACCOUNT, json!({"u": "alice-user", "p": "not-her-password"})).await["get_account"].clone();
    assert_eq!(wrong["reason"], "incorrect password");
    let bob = legacy.one(GET_ACCOUNT, json!({"u": "bob-user", "p": "bob-password"})).await["get_account"].clone();
    let bob_iban = bob["iban"].as_str().expect("bob's iban").to_string();

    // A live feed of alice's credits of at least €5 whose description mentions "gift", any case.
    let credits = current.subscribe(STREAM, json!({"iban": iban, "min": 500, "dir": "CREDIT", "descr": "GIFT"})).await;
    let all_of_alice = legacy.subscribe(STREAM, json!({"iban": iban})).await;

    // Transfers: deposit, an upper-case uuid, and each failure relayed verbatim.
    let deposit = Uuid::new_v4().to_string().to_uppercase();
    let r = transfer(&mut current, &deposit, "alice-user", "cash", 123_456, ("cash", &iban), "a gift from grandma").await;
    assert_eq!(r, json!({"uuid": deposit, "success": true, "reason": null}));
    let small = Uuid::new_v4().to_string();
    assert_eq!(transfer(&mut legacy, &small, "alice-user", "cash", 100, ("cash", &iban), "small gift").await["success"], true);
    let cases = [
        (Uuid::new_v4().to_string(), "bogus-token", 100, iban.as_str(), bob_iban.as_str(), "invalid token"),
        (Uuid::new_v4().to_string(), token.as_str(), 100_000_000, iban.as_str(), bob_iban.as_str(), "insufficient funds"),
        (Uuid::new_v4().to_string(), token.as_str(), 100, "NL00nonsense", bob_iban.as_str(), "from is invalid"),
        ("not-a-uuid".to_string(), token.as_str(), 100, iban.as_str(), bob_iban.as_str(), "uuid \"not-a-uuid\" is not a valid uuid"),
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

    // Queries over HTTP.
    let by_iban = graphql_http(&base, "query($i: String!) { transactions_by_iban(iban: $i, max_items: 2) { id changed_by } }", json!({"i": iban})).await;
    let rows = by_iban["data"]["transactions_by_iban"].as_array().expect("list").clone();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["changed_by"], "€23,29", "newest first");
    let id = rows[0]["id"].clone();
    let one = graphql_http(&base, "query($id: Int!) { transaction_by_id(id: $id) { iban descr } }", json!({"id": id})).await;
    assert_eq!(one["data"]["transaction_by_id"], json!({"iban": iban, "descr": "groceries"}));
    let last = graphql_http(&base, "{ all_last_transactions { iban changed_by } }", json!({})).await;
    let last = last["data"]["all_last_transactions"].as_array().expect("list").clone();
    assert!(last.contains(&json!({"iban": bob_iban, "changed_by": "€23,29"})), "{last:?}");
    assert!(last.contains(&json!({"iban": iban, "changed_by": "€23,29"})), "{last:?}");

    // Malformed GraphQL gets GraphQL errors, not a crash.
    let bad = graphql_http(&base, "{ transactions_by_iban(iban: 3) { nope } }", json!({})).await;
    assert!(bad["errors"].as_array().is_some_and(|e| !e.is_empty()), "{bad}");
    let bad = graphql_http(&base, "query($i: String!) { transactions_by_iban(iban: $i, max_items: -1) { id } }", json!({"i": iban})).await;
    assert!(bad["errors"][0]["message"].as_str().is_some_and(|m| m.contains("max_items")), "{bad}");
    let health = reqwest::get(format!("{base}/health")).await.expect("health");
    assert!(health.status().is_success());

    // Graceful shutdown completes open subscriptions and closes the sockets.
    shutdown.cancel();
    server.await.expect("server task").expect("server stops cleanly");
    events.await.expect("consumer stops");
}
