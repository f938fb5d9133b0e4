//! The legacy client's buffers are bounded without letting one subscription stall the socket: an endpoint floods
//! a subscription nobody reads (a small server in this process), and a transfer on the same connection is still
//! answered; the flooded subscription yields what its buffer held, then an error, and the endpoint is told `stop`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::experiment::Protocol;
use harness::load::bank::{self, Bank, Transfer};
use harness::load::client::{Client, ClientError, PER_SUBSCRIPTION};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Transactions the endpoint pushes at once on a `stream_transactions` subscription: far beyond any buffer.
const FLOOD: usize = 1000;

type Stops = Arc<Mutex<Vec<String>>>;

async fn flooding_endpoint(stops: Stops) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("port");
    let url = format!("ws://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, stops.clone()));
        }
    });
    url
}

async fn serve(stream: tokio::net::TcpStream, stops: Stops) {
    let Some(mut socket) = harness::testing::accept_websocket(stream).await else { return };
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap_or_default();
        let id = message["id"].clone();
        let query = message["payload"]["query"].as_str().unwrap_or_default();
        let replies = match message["type"].as_str() {
            Some("stop") => {
                stops.lock().unwrap().push(id.as_str().unwrap_or_default().to_string());
                vec![]
            }
            Some("start") if query.contains("stream_transactions") => (0..FLOOD)
                .map(|i| {
                    let t = json!({"iban": "X", "changed_by": format!("€{i}"), "descr": "d", "direction": "CREDIT"});
                    json!({"id": id, "type": "data", "payload": {"data": {"stream_transactions": t}}})
                })
                .collect(),
            Some("start") => {
                let data = json!({"money_transfer": {"uuid": "x", "success": true, "reason": null}});
                vec![
                    json!({"id": id, "type": "data", "payload": {"data": data}}),
                    json!({"id": id, "type": "complete"}),
                ]
            }
            _ => vec![],
        };
        for reply in replies {
            if socket.feed(Message::text(reply.to_string())).await.is_err() {
                return;
            }
        }
        if socket.flush().await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_subscription_nobody_reads_is_ended_and_the_socket_goes_on() {
    let stops = Stops::default();
    let client = Client::connect(&flooding_endpoint(stops.clone()).await, Protocol::GraphqlWs).await.expect("connects");
    let mut unread = client.subscribe(bank::STREAM, json!({"iban": "X"})).await.expect("subscribes");

    // The transfer's answer comes after the whole flood on the socket: the reader got past it without waiting.
    let transfer = Transfer {
        username: "u".into(),
        token: "t".into(),
        amount: 1,
        from: "A".into(),
        to: "B".into(),
        descr: "d".into(),
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), client.transfer(uuid::Uuid::new_v4(), &transfer)).await;
    assert!(matches!(&answer, Ok(Ok(a)) if a.success), "{answer:?}");

    let mut held = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), unread.next()).await {
        held.push(item);
    }
    let (answers, rest) = held.split_at(held.len().min(PER_SUBSCRIPTION));
    assert_eq!(answers.len(), 256, "the buffer held its capacity of the {FLOOD} pushed");
    assert!(answers
        .iter()
        .enumerate()
        .all(|(i, a)| a.as_ref().is_ok_and(|d| d["stream_transactions"]["changed_by"] == format!("€{i}"))));
    assert!(
        matches!(rest, [Err(ClientError::Unexpected(m))] if m.contains("not read in time")),
        "{} after: {:?}",
        rest.len(),
        rest.first()
    );

    // The endpoint was told to stop the subscription the client ended (its id is the first the client gave).
    let told = async {
        while !stops.lock().unwrap().contains(&"1".to_string()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    assert!(tokio::time::timeout(Duration::from_secs(5), told).await.is_ok(), "no stop: {:?}", stops.lock().unwrap());
}
