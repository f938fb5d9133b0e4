//! The endpoint's servers are bounded against hostile clients, on a real stack: slow and silent clients are
//! disconnected while a transfer beside them is answered, oversized messages and bodies are refused, a page of
//! another origin cannot open a websocket, and a document's work is counted by the rows it may return.

use std::time::{Duration, Instant};

use crate::common::{graphql_http, transfer, Endpoint, WsClient, GET_ACCOUNT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(ws: &str, origin: Option<&str>) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let mut request = format!("{ws}/graphql").into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await.map(|(socket, _)| socket)
}

/// The close code the server ends `socket` with, waiting at most `within`; `None` if it ended without one.
async fn closed_with(socket: &mut Socket, within: Duration) -> Option<u16> {
    loop {
        match tokio::time::timeout(within, socket.next()).await.expect("the server closed the socket in time") {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code.into()),
            None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// A deposit on a fresh account; its latency.
async fn deposit(endpoint: &Endpoint, user: &str) -> Duration {
    let mut client = WsClient::connect(&format!("{}/graphql", endpoint.ws), false).await;
    let account = client.one(GET_ACCOUNT, json!({"u": user, "p": "pw"})).await["get_account"].clone();
    let iban = account["iban"].as_str().unwrap_or_else(|| panic!("an account: {account}")).to_string();
    let start = Instant::now();
    let r =
        transfer(&mut client, &Uuid::new_v4().to_string(), user, "cash", 100, ("cash", &iban), "beside the slow ones")
            .await;
    assert_eq!(r["success"], true, "{r}");
    start.elapsed()
}

#[tokio::test]
async fn slow_and_silent_clients_are_disconnected_while_a_transfer_beside_them_is_answered() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start_with(
        &stack,
        &[
            ("HEADER_TIMEOUT_MS", "1000"),
            ("CONNECTION_INIT_TIMEOUT_MS", "1000"),
            ("WS_IDLE_TIMEOUT_MS", "1500"),
            ("MAX_CONNECTIONS", "2000"),
        ],
    )
    .await;
    let quiet = deposit(&endpoint, "before-the-slow-ones").await;
    let address = endpoint.base.trim_start_matches("http://").to_string();
    // 1,000 clients that start a request and never finish its headers (slowloris).
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let mut c = TcpStream::connect(&address).await.expect("connect");
        c.write_all(b"GET /graphql HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n").await.expect("write");
        slow.push(c);
    }
    let mut silent = open(&endpoint.ws, None).await.expect("a websocket");
    let mut idle = open(&endpoint.ws, None).await.expect("a websocket");
    idle.send(Message::text(json!({"type": "connection_init"}).to_string())).await.expect("init");
    let beside = deposit(&endpoint, "beside-the-slow-ones").await;
    println!("a deposit's latency: {quiet:?} alone, {beside:?} beside 1,000 slow connections");

    assert_eq!(closed_with(&mut silent, Duration::from_secs(5)).await, Some(4408), "no connection_init: closed");
    assert_eq!(closed_with(&mut idle, Duration::from_secs(5)).await, Some(4408), "nothing open and silent: closed");
    let started = Instant::now();
    for c in &mut slow {
        let mut rest = Vec::new();
        let left = Duration::from_secs(10).saturating_sub(started.elapsed());
        tokio::time::timeout(left, c.read_to_end(&mut rest))
            .await
            .expect("every slow client disconnected within 10 s")
            .ok();
    }
    println!("1,000 slow clients disconnected {:?} after the last one connected", started.elapsed());
    endpoint.stop().await;
}

#[tokio::test]
async fn oversized_messages_bodies_and_batches_are_refused() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let huge = "x".repeat(graphql_endpoint::ws::MAX_MESSAGE_BYTES + 1);

    let mut socket = open(&endpoint.ws, None).await.expect("a websocket");
    socket.send(Message::text(json!({"type": "connection_init", "payload": {"pad": huge}}).to_string())).await.ok();
    assert_eq!(closed_with(&mut socket, Duration::from_secs(5)).await, Some(1009), "message too big");

    let http = reqwest::Client::new();
    let post = |body: String, kind: &'static str| {
        http.post(format!("{}/graphql", endpoint.base)).header("content-type", kind).body(body).send()
    };
    let big = post(json!({"query": "{ __typename }", "variables": {"pad": huge}}).to_string(), "application/json")
        .await
        .expect("answered");
    assert_eq!(big.status(), 413);
    let multipart = post("--b\r\n\r\n--b--".into(), "multipart/form-data; boundary=b").await.expect("answered");
    assert_eq!(multipart.status(), 415, "no multipart uploads");
    let batch = |n: usize| serde_json::Value::Array(vec![json!({"query": "{ __typename }"}); n]).to_string();
    let too_many = post(batch(graphql_endpoint::http::MAX_BATCH + 1), "application/json").await.expect("answered");
    assert_eq!(too_many.status(), 400);
    assert!(too_many.text().await.expect("text").contains("at most 16 operations"));
    let fine: Value = post(batch(2), "application/json").await.expect("answered").json().await.expect("json");
    assert_eq!(fine, json!([{"data": {"__typename": "Query"}}, {"data": {"__typename": "Query"}}]));
    endpoint.stop().await;
}

#[tokio::test]
async fn only_pages_of_cors_origins_may_open_a_websocket() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start_with(&stack, &[("CORS_ORIGINS", "http://127.0.0.1:8181")]).await;
    match open(&endpoint.ws, Some("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a cross-origin upgrade must be refused with 403: {:?}", other.map(|_| "upgraded")),
    }
    assert!(open(&endpoint.ws, Some("http://127.0.0.1:8181")).await.is_ok(), "the frontend's origin may");
    assert!(open(&endpoint.ws, None).await.is_ok(), "a client that is not a page may");
    endpoint.stop().await;
}

#[tokio::test]
async fn a_documents_work_counts_the_rows_it_may_return() {
    let stack = stack::testing::stack("").await;
    let endpoint = Endpoint::start(&stack).await;
    let page = |alias: usize| {
        format!("a{alias}: transactions_by_iban(iban: \"NL07OPEN0123456789\", max_items: 1000) {{ id iban new_balance changed_by from_to descr direction }}")
    };
    let one = graphql_http(&endpoint.base, &format!("{{ {} }}", page(0)), json!({})).await;
    assert!(one.get("errors").is_none(), "one full page is a legal document: {one}");
    let aliased: String = (0..60).map(page).collect::<Vec<_>>().join(" ");
    let refused = graphql_http(&endpoint.base, &format!("{{ {aliased} }}"), json!({})).await;
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "60 aliased pages of 1,000 rows are refused before they run: {refused}");
    endpoint.stop().await;
}
