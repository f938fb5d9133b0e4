//! An endpoint double for benchmarks: a websocket server on 127.0.0.1 that answers every transfer after `delay`,
//! as the bank would (a wrong token fails with `invalid token`, €1,000 with `insufficient funds`), in both
//! subprotocols, on a thread and runtime of its own so it does not share bench's.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// Starts a double on a thread of its own; returns its websocket URL.
///
/// # Errors
/// No port on 127.0.0.1 can be bound.
pub fn endpoint(delay: Duration) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("ws://{}/graphql", listener.local_addr()?);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("endpoint runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, delay));
            }
        });
    });
    Ok(url)
}

async fn serve(stream: tokio::net::TcpStream, delay: Duration) {
    let Some(mut socket) = super::accept_websocket(stream).await else { return };
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let message: Value = serde_json::from_str(&text).unwrap_or_default();
        let id = &message["id"];
        let replies = match message["type"].as_str() {
            Some("connection_init") => vec![json!({"type": "connection_ack"})],
            Some(kind @ ("subscribe" | "start")) => {
                let vars = &message["payload"]["variables"];
                let reason = if vars["t"] == "bogus-token" {
                    Some("invalid token")
                } else if vars["a"] == 100_000 {
                    Some("insufficient funds")
                } else {
                    None
                };
                let data =
                    json!({"money_transfer": {"uuid": vars["id"], "success": reason.is_none(), "reason": reason}});
                let next = if kind == "start" { "data" } else { "next" };
                vec![json!({"id": id, "type": next, "payload": {"data": data}}), json!({"id": id, "type": "complete"})]
            }
            _ => continue,
        };
        if delay > Duration::ZERO {
            tokio::time::sleep(delay).await;
        }
        // The bank's endpoint sends an answer and its `complete` in one write.
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
