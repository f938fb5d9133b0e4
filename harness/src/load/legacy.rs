//! The legacy `graphql-ws` subprotocol (subscriptions-transport-ws) as 2019 clients spoke it: `start` without
//! `connection_init`, answers as `data`, `stop` to end a subscription. One reader task routes answers by id.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::wire::{data_of, Answers, ClientError, Socket};

type Routes = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Result<Value, ClientError>>>>>;

/// A legacy-protocol connection; dropping it closes the socket.
pub struct Client {
    outgoing: mpsc::UnboundedSender<Message>,
    routes: Routes,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    pub(super) fn start(socket: Socket) -> Client {
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Message>();
        let routes: Routes = Arc::default();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader_routes = routes.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                match message {
                    Message::Text(text) => route(&reader_routes, &text),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            // Every open subscription learns that no answer will come.
            for (_, sender) in lock(&reader_routes).drain() {
                let _ = sender.send(Err(ClientError::Closed));
            }
        });
        Client { outgoing, routes, next_id: AtomicU64::new(1), reader }
    }

    pub(super) fn subscribe(&self, query: &'static str, variables: Value) -> Result<Answers, ClientError> {
        if self.reader.is_finished() {
            return Err(ClientError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, answers) = mpsc::unbounded_channel();
        lock(&self.routes).insert(id, sender);
        let start = json!({"id": id.to_string(), "type": "start", "payload": {"query": query, "variables": variables}});
        self.outgoing.send(Message::text(start.to_string())).map_err(|_| ClientError::Closed)?;
        Ok(Subscription { id, answers, outgoing: self.outgoing.clone(), routes: self.routes.clone() }.boxed())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        let _ = self.outgoing.send(Message::Close(None));
    }
}

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::UnboundedSender<Result<Value, ClientError>>>> {
    // A panic while holding this lock cannot leave the map half-changed (single inserts and removes).
    routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn route(routes: &Routes, text: &str) {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return };
    let Some(id) = message.get("id").and_then(Value::as_str).and_then(|id| id.parse::<u64>().ok()) else { return };
    let mut routes = lock(routes);
    match message.get("type").and_then(Value::as_str) {
        Some("data") => {
            if let Some(sender) = routes.get(&id) {
                let _ = sender.send(data_of(message.get("payload").cloned().unwrap_or(Value::Null)));
            }
        }
        Some("error") => {
            if let Some(sender) = routes.remove(&id) {
                let _ = sender.send(Err(ClientError::Graphql(message.get("payload").map(Value::to_string).unwrap_or_default())));
            }
        }
        Some("complete") => {
            routes.remove(&id);
        }
        _ => {}
    }
}

/// One subscription's answers; dropping it sends `stop`.
struct Subscription {
    id: u64,
    answers: mpsc::UnboundedReceiver<Result<Value, ClientError>>,
    outgoing: mpsc::UnboundedSender<Message>,
    routes: Routes,
}

impl Stream for Subscription {
    type Item = Result<Value, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.answers.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if lock(&self.routes).remove(&self.id).is_some() {
            let _ = self.outgoing.send(Message::text(json!({"id": self.id.to_string(), "type": "stop"}).to_string()));
        }
    }
}
