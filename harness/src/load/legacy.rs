//! The legacy `graphql-ws` subprotocol (subscriptions-transport-ws) as 2019 clients spoke it: `start` without
//! `connection_init`, answers as `data`, `stop` to end a subscription. One reader task routes answers by id.
//!
//! Both directions are bounded. Outgoing messages wait for room ([`OUTGOING`]): a caller that sends faster than the
//! socket takes them waits instead of queueing without end. The reader never waits for a subscriber: one slow
//! subscription must not stall the socket every other one shares, so a subscription whose buffer
//! ([`PER_SUBSCRIPTION`]) is full is ended there: its route is dropped, the endpoint told to `stop`, and its
//! stream yields an [`ClientError::Unexpected`] after the answers it holds, which the load counts as an error.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::wire::{data_of, Answers, ClientError, Socket};

/// Messages waiting for the socket. Each is a `start` or `stop` of a few hundred bytes, so this holds at most a few
/// hundred KB per connection, and lets the open model's bursts of starts through without waiting while the
/// writer keeps up.
pub const OUTGOING: usize = 1024;

/// Answers a subscription holds for a reader that has not taken them. A command gets one answer; a stream one per
/// event of its account, read as they come: a subscriber this far behind is stuck, not slow.
pub const PER_SUBSCRIPTION: usize = 256;

/// Where the reader puts a subscription's answers, and the flag it sets when it ended the subscription for being full.
struct Route {
    answers: mpsc::Sender<Result<Value, ClientError>>,
    overflowed: Arc<AtomicBool>,
}

type Routes = Arc<Mutex<HashMap<u64, Route>>>;

/// A legacy-protocol connection; dropping it closes the socket.
pub struct Client {
    outgoing: mpsc::Sender<Message>,
    routes: Routes,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    pub(super) fn start(socket: Socket) -> Client {
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queue) = mpsc::channel::<Message>(OUTGOING);
        let routes: Routes = Arc::default();
        tokio::spawn(async move {
            while let Some(message) = queue.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (reader_routes, reader_outgoing) = (routes.clone(), outgoing.clone());
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                match message {
                    Message::Text(text) => route(&reader_routes, &reader_outgoing, &text),
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            // Every open subscription learns that no answer will come.
            // (One whose buffer is full reads the end of its stream as that.)
            for (_, route) in lock(&reader_routes).drain() {
                let _ = route.answers.try_send(Err(ClientError::Closed));
            }
        });
        Client { outgoing, routes, next_id: AtomicU64::new(1), reader }
    }

    pub(super) async fn subscribe(&self, query: &'static str, variables: Value) -> Result<Answers, ClientError> {
        if self.reader.is_finished() {
            return Err(ClientError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, answers) = mpsc::channel(PER_SUBSCRIPTION);
        let overflowed = Arc::new(AtomicBool::new(false));
        lock(&self.routes).insert(id, Route { answers: sender, overflowed: overflowed.clone() });
        // Made before the send: a caller that gives up while it waits for room drops it, which removes the route.
        let subscription =
            Subscription { id, answers, overflowed, outgoing: self.outgoing.clone(), routes: self.routes.clone() };
        let start = json!({"id": id.to_string(), "type": "start", "payload": {"query": query, "variables": variables}});
        self.outgoing.send(Message::text(start.to_string())).await.map_err(|_| ClientError::Closed)?;
        Ok(subscription.boxed())
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        send_later(&self.outgoing, Message::Close(None));
    }
}

/// Sends `message` from where waiting is not possible (a `drop`, the reader): now if there is room, otherwise from a
/// task of its own once there is (dropped when the runtime is gone, as the connection then is).
fn send_later(outgoing: &mpsc::Sender<Message>, message: Message) {
    if let Err(mpsc::error::TrySendError::Full(message)) = outgoing.try_send(message) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let outgoing = outgoing.clone();
            runtime.spawn(async move { outgoing.send(message).await });
        }
    }
}

fn stop(id: u64) -> Message {
    Message::text(json!({"id": id.to_string(), "type": "stop"}).to_string())
}

fn lock(routes: &Routes) -> std::sync::MutexGuard<'_, HashMap<u64, Route>> {
    // A panic while holding this lock cannot leave the map half-changed (single inserts and removes).
    routes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn route(routes: &Routes, outgoing: &mpsc::Sender<Message>, text: &str) {
    let Ok(message) = serde_json::from_str::<Value>(text) else { return };
    let Some(id) = message.get("id").and_then(Value::as_str).and_then(|id| id.parse::<u64>().ok()) else { return };
    let mut routes = lock(routes);
    match message.get("type").and_then(Value::as_str) {
        Some("data") => {
            let Some(route) = routes.get(&id) else { return };
            let answer = data_of(message.get("payload").cloned().unwrap_or(Value::Null));
            if let Err(mpsc::error::TrySendError::Full(_)) = route.answers.try_send(answer) {
                route.overflowed.store(true, Ordering::Relaxed);
                routes.remove(&id);
                tracing::debug!(id, "a subscription's reader fell {PER_SUBSCRIPTION} answers behind; ended it");
                send_later(outgoing, stop(id));
            }
        }
        Some("error") => {
            if let Some(route) = routes.remove(&id) {
                // A full buffer ends in the overflow error instead, which is as much an error to the load.
                let error = ClientError::Graphql(message.get("payload").map(Value::to_string).unwrap_or_default());
                if route.answers.try_send(Err(error)).is_err() {
                    route.overflowed.store(true, Ordering::Relaxed);
                }
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
    answers: mpsc::Receiver<Result<Value, ClientError>>,
    /// Set by the reader when it ended this subscription for a full buffer; reported once, after the answers held.
    overflowed: Arc<AtomicBool>,
    outgoing: mpsc::Sender<Message>,
    routes: Routes,
}

impl Stream for Subscription {
    type Item = Result<Value, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.answers.poll_recv(cx) {
            Poll::Ready(None) if self.overflowed.swap(false, Ordering::Relaxed) => {
                Poll::Ready(Some(Err(ClientError::Unexpected(format!(
                    "more than {PER_SUBSCRIPTION} answers were not read in time; the subscription was ended"
                )))))
            }
            polled => polled,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if lock(&self.routes).remove(&self.id).is_some() {
            send_later(&self.outgoing, stop(self.id));
        }
    }
}
