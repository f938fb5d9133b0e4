//! GraphQL over websockets in both subprotocols, picked from `Sec-WebSocket-Protocol`. 2019 clients speak the
//! legacy `graphql-ws` protocol and send `start` without `connection_init`; async-graphql closes such a
//! connection, so for that protocol a `connection_init` is put in front when the client sent none.

use async_graphql::http::{WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use std::str::FromStr;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{future, stream, FutureExt, SinkExt, Stream, StreamExt};

use crate::sockets::{Limited, SocketSlots};
use crate::state::AppState;

/// The largest websocket message (and frame) taken: far above any document of the bank's schema (see
/// [`crate::http::MAX_BODY_BYTES`]); a larger one closes the socket (1009, message too big).
pub const MAX_MESSAGE_BYTES: usize = crate::http::MAX_BODY_BYTES;

const CONNECTION_INIT: &[u8] = br#"{"type":"connection_init","payload":{}}"#;

fn is_connection_init(message: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(message)
        .map(|v| v.get("type").and_then(|t| t.as_str()) == Some("connection_init"))
        .unwrap_or(false)
}

/// Puts a `connection_init` in front of a legacy client's messages when its first message is another one.
pub fn with_connection_init(
    input: impl Stream<Item = Bytes> + Send + Unpin + 'static,
) -> impl Stream<Item = Bytes> + Send {
    stream::once(async move {
        let mut input = input;
        let first = input.next().await;
        (first, input)
    })
    .flat_map(|(first, rest)| {
        let init = match &first {
            Some(m) if !is_connection_init(m) => Some(Bytes::from_static(CONNECTION_INIT)),
            _ => None,
        };
        stream::iter(init.into_iter().chain(first)).chain(rest)
    })
}

/// The subprotocol the client asked for; a client that names neither is refused.
fn protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|list| list.split(',').find_map(|p| WebSocketProtocols::from_str(p.trim()).ok()))
}

/// Whether the page that opens the socket may: browsers always send their page's `Origin`, and only those of
/// `CORS_ORIGINS` may drive the bank; a client that sends none is not a page another site could have opened.
fn origin_allowed(headers: &HeaderMap, origins: &[axum::http::HeaderValue]) -> Result<(), String> {
    match headers.get(axum::http::header::ORIGIN) {
        None => Ok(()),
        Some(origin) if origins.contains(origin) => Ok(()),
        Some(origin) => {
            Err(format!("origin {origin:?} may not open a websocket here (CORS_ORIGINS lists those that may)"))
        }
    }
}

pub async fn handler(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    if let Err(reason) = origin_allowed(&headers, &state.origins) {
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    let Some(protocol) = protocol(&headers) else {
        let message = "Sec-WebSocket-Protocol must name graphql-transport-ws or graphql-ws";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    // tungstenite zeroes its whole read buffer before every read (128 KiB by default): with thousands of sockets
    // that is memory, and with a message per read it is CPU. GraphQL messages are far smaller; larger ones grow it.
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(4096)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

async fn serve(socket: WebSocket, state: AppState, protocol: WebSocketProtocols) {
    let (mut sink, input) = socket.split();
    let ended = Ended::default();
    let broken = ended.clone();
    let input = input
        .take_while(move |m| {
            if let Err(e) = m {
                end(&broken, close_for(e));
            }
            future::ready(m.is_ok())
        })
        .filter_map(|m| {
            future::ready(match m {
                Ok(Message::Text(t)) => Some(Bytes::from(t.as_str().to_owned())),
                Ok(Message::Binary(b)) => Some(b),
                _ => None,
            })
        });
    let slots = SocketSlots::new(state.max_subscriptions_per_socket);
    let input = bounded_in_time(input, slots.clone(), state.connection_init_timeout, state.idle_timeout, ended.clone());
    let input: std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>> = match protocol {
        WebSocketProtocols::SubscriptionsTransportWS => Box::pin(with_connection_init(Box::pin(input))),
        WebSocketProtocols::GraphQLWS => Box::pin(input),
    };
    let shutdown = state.shutdown.clone();
    let executor = Limited { schema: state.schema.clone(), slots };
    let output = async_graphql::http::WebSocket::new(executor, input, protocol)
        .map(|m| match m {
            WsMessage::Text(text) => Message::Text(text.into()),
            WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame { code, reason: reason.into() })),
        })
        // On shutdown, open subscriptions complete: the connection is closed normally.
        .take_until(async move { shutdown.cancelled().await });
    futures_util::pin_mut!(output);
    // Messages that are ready together go out in one write: a command's answer and its `complete` reach the
    // client as one segment, which saves a wake-up and a read on both sides.
    while let Some(message) = output.next().await {
        if sink.feed(message).await.is_err() {
            return;
        }
        while let Some(Some(message)) = output.next().now_or_never() {
            if sink.feed(message).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let close = match ended.lock().map(|why| *why) {
        Ok(Some((code, why))) => CloseFrame { code, reason: why.into() },
        _ => CloseFrame { code: 1001, reason: "server stopping".into() },
    };
    let _ = sink.send(Message::Close(Some(close))).await;
}

/// Why the server ended a socket's input, if it did: the close code and reason to send.
type Ended = std::sync::Arc<std::sync::Mutex<Option<(u16, &'static str)>>>;

fn end(ended: &Ended, why: (u16, &'static str)) {
    if let Ok(mut ended) = ended.lock() {
        ended.get_or_insert(why);
    }
}

/// The close frame for a client whose input broke. axum hides tungstenite's error type, so a message over
/// [`MAX_MESSAGE_BYTES`] is told by its text ("Message too long" / "Space limit exceeded"); the websocket test
/// sends one and checks the code.
fn close_for(e: &axum::Error) -> (u16, &'static str) {
    let text = e.to_string();
    if text.contains("too long") || text.contains("Space limit") {
        (1009, "message too big: at most 64 KiB")
    } else {
        (1002, "unreadable websocket frame")
    }
}

/// The client's messages until it falls silent: its first must come within `init`, and later it may be silent
/// for `idle` only while an operation of its own is open (a subscription it follows, a command it waits for).
fn bounded_in_time(
    input: impl Stream<Item = Bytes> + Send + Unpin + 'static,
    slots: SocketSlots,
    init: std::time::Duration,
    idle: std::time::Duration,
    why: Ended,
) -> impl Stream<Item = Bytes> + Send + Unpin + 'static {
    let bounded = stream::unfold((input, true), move |(mut input, first)| {
        let (slots, why) = (slots.clone(), why.clone());
        async move {
            loop {
                let wait = if first { init } else { idle };
                match tokio::time::timeout(wait, input.next()).await {
                    Ok(Some(message)) => return Some((message, (input, false))),
                    Ok(None) => return None,
                    Err(_) if !first && slots.open() > 0 => continue,
                    Err(_) => {
                        end(
                            &why,
                            (
                                4408,
                                if first {
                                    "no connection_init in time"
                                } else {
                                    "idle: no operation and no message in time"
                                },
                            ),
                        );
                        return None;
                    }
                }
            }
        }
    });
    // async-graphql polls its input again after it ended; a bare unfold panics on that.
    Box::pin(bounded.fuse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_legacy_start_gets_a_connection_init_in_front() {
        let start = Bytes::from_static(br#"{"type":"start","id":"1","payload":{"query":"subscription { x }"}}"#);
        let out: Vec<Bytes> = with_connection_init(stream::iter(vec![start.clone()])).collect().await;
        assert_eq!(out, vec![Bytes::from_static(CONNECTION_INIT), start]);
    }

    #[tokio::test]
    async fn a_client_that_initialises_is_left_alone() {
        let init = Bytes::from_static(br#"{"type":"connection_init"}"#);
        let out: Vec<Bytes> = with_connection_init(stream::iter(vec![init.clone()])).collect().await;
        assert_eq!(out, vec![init]);
    }
}
