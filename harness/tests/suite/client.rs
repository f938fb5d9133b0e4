//! The load's websocket clients against a misbehaving endpoint (a small server in this process): wrong answers
//! and GraphQL errors are counted as errors, never a crash, in both subprotocols.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use harness::experiment::Protocol;
use harness::load::bank::{self, Account, Bank, Transfer};
use harness::load::client::{Client, ClientError};
use harness::load::generator;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// What the fake endpoint answers to every operation.
#[derive(Clone, Copy)]
enum Misbehaviour {
    /// `success` is a string, not a boolean.
    WrongType,
    /// A GraphQL error instead of data.
    Errors,
}

async fn fake_endpoint(misbehaviour: Misbehaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("port");
    let url = format!("ws://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, misbehaviour));
        }
    });
    url
}

async fn serve(stream: tokio::net::TcpStream, misbehaviour: Misbehaviour) {
    let Some(mut socket) = harness::testing::accept_websocket(stream).await else { return };
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap_or_default();
        let id = message["id"].clone();
        let reply = match message["type"].as_str() {
            Some("connection_init") => vec![json!({"type": "connection_ack"})],
            Some(kind @ ("subscribe" | "start")) => {
                let payload = match misbehaviour {
                    Misbehaviour::WrongType => json!({"data": {
                        "money_transfer": {"uuid": "x", "success": "yes", "reason": null},
                        "get_account": {"iban": null, "token": null, "reason": "nobody home"}}}),
                    Misbehaviour::Errors => json!({"data": null, "errors": [{"message": "the bank is closed"}]}),
                };
                let next = if kind == "start" { "data" } else { "next" };
                vec![json!({"id": id, "type": next, "payload": payload}), json!({"id": id, "type": "complete"})]
            }
            _ => vec![],
        };
        for r in reply {
            if socket.send(Message::text(r.to_string())).await.is_err() {
                return;
            }
        }
    }
}

fn transfer() -> Transfer {
    Transfer {
        username: "u".into(),
        token: "t".into(),
        amount: 100,
        from: "A".into(),
        to: "B".into(),
        descr: "d".into(),
    }
}

#[tokio::test]
async fn wrong_answers_and_graphql_errors_are_errors_in_both_protocols() {
    for protocol in [Protocol::GraphqlTransportWs, Protocol::GraphqlWs] {
        let client = Client::connect(&fake_endpoint(Misbehaviour::WrongType).await, protocol).await.expect("connects");
        let answer = client.transfer(uuid::Uuid::new_v4(), &transfer()).await;
        assert!(matches!(answer, Err(ClientError::Unexpected(_))), "{protocol:?}: {answer:?}");
        let account = bank::open_account(&client, "u", "p").await;
        assert!(
            matches!(&account, Err(ClientError::Unexpected(m)) if m.contains("nobody home")),
            "{protocol:?}: {account:?}"
        );

        let client = Client::connect(&fake_endpoint(Misbehaviour::Errors).await, protocol).await.expect("connects");
        let answer = client.transfer(uuid::Uuid::new_v4(), &transfer()).await;
        assert_eq!(answer, Err(ClientError::Graphql("the bank is closed".into())), "{protocol:?}");
    }
}

#[tokio::test]
async fn a_generator_counts_wrong_answers_and_keeps_going() {
    let url = fake_endpoint(Misbehaviour::WrongType).await;
    let client = Client::connect(&url, Protocol::GraphqlWs).await.expect("connects");
    let account = |n: &str| Account { username: n.into(), iban: n.into(), token: n.into() };
    let (reports, mut received) = tokio::sync::mpsc::channel(1024);
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.cancel();
    });
    generator::run_chain(1, &client, (&account("a"), &account("b")), Duration::from_millis(50), &reports, &cancel)
        .await;
    drop(reports);
    let mut all = Vec::new();
    while let Some(r) = received.recv().await {
        all.push(r);
    }
    assert!(all.len() >= 5, "the chain went on after errors: {} transfers", all.len());
    assert!(all.iter().all(|r| r.error && r.answered.is_none()), "{all:?}");
}

#[tokio::test]
async fn an_endpoint_that_is_not_there_is_a_connect_error_naming_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("port");
    let url = format!("ws://{}/graphql", listener.local_addr().expect("addr"));
    drop(listener);
    let err = Client::connect(&url, Protocol::GraphqlTransportWs).await.err().expect("refused");
    assert!(err.to_string().contains(&url), "{err}");
}
