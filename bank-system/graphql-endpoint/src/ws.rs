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

const CONNECTION_INIT: &[u8] = br#"{"type":"connection_init","payload":{}}"#;

fn is_connection_init(message: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(message)
        .map(|v| v.get("type").and_then(|t| t.as_str()) == Some("connection_init"))
        .unwrap_or(false)
}

/// Puts a `connection_init` in front of a legacy client's messages when its first message is another one.
pub fn with_connection_init(input: impl Stream<Item = Bytes> + Send + Unpin + 'static) -> impl Stream<Item = Bytes> + Send {
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

pub async fn handler(State(state): State<AppState>, headers: HeaderMap, upgrade: WebSocketUpgrade) -> Response {
    let Some(protocol) = protocol(&headers) else {
        let message = "Sec-WebSocket-Protocol must name graphql-transport-ws or graphql-ws";
        return (StatusCode::BAD_REQUEST, message).into_response();
    };
    // tungstenite zeroes its whole read buffer before every read (128 KiB by default): with thousands of sockets
    // that is memory, and with a message per read it is CPU. GraphQL messages are far smaller; larger ones grow it.
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(4096)
        .on_upgrade(move |socket| serve(socket, state, protocol))
}

async fn serve(socket: WebSocket, state: AppState, protocol: WebSocketProtocols) {
    let (mut sink, input) = socket.split();
    let input = input
        .take_while(|m| future::ready(m.is_ok()))
        .filter_map(|m| future::ready(match m {
            Ok(Message::Text(t)) => Some(Bytes::from(t.as_str().to_owned())),
            Ok(Message::Binary(b)) => Some(b),
            _ => None,
        }));
    let input: std::pin::Pin<Box<dyn Stream<Item = Bytes> + Send>> = match protocol {
        WebSocketProtocols::SubscriptionsTransportWS => Box::pin(with_connection_init(Box::pin(input))),
        WebSocketProtocols::GraphQLWS => Box::pin(input),
    };
    let shutdown = state.shutdown.clone();
    let executor = Limited { schema: state.schema.clone(), slots: SocketSlots::new(state.max_subscriptions_per_socket) };
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
    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server stopping".into() }))).await;
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
