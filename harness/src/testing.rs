//! Test helpers of the harness, for its own tests and benchmarks: made-up results files for reports, a double of
//! the bank for the capacity search, and a websocket accept for endpoint doubles. Compiled in every build (not
//! behind a feature), so the tests reuse the release build's harness instead of compiling it a second time.
//! Stacks for tests are `stack::testing`'s.

pub mod double;
pub mod history;
pub mod queue;
pub mod synthetic;

/// The server side of a websocket handshake for endpoint doubles in tests and benchmarks: accepts `stream` and
/// answers with the subprotocol the client asked for, as the bank's endpoint does. `None` when the handshake fails.
pub async fn accept_websocket(
    stream: tokio::net::TcpStream,
) -> Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    #[allow(clippy::result_large_err)] // the signature tungstenite's handshake callback requires
    let echo_protocol = |request: &Request, mut response: Response| {
        if let Some(p) = request.headers().get("Sec-WebSocket-Protocol") {
            response.headers_mut().insert("Sec-WebSocket-Protocol", p.clone());
        }
        Ok(response)
    };
    tokio_tungstenite::accept_hdr_async(stream, echo_protocol).await.ok()
}
