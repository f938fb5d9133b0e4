//! GraphQL subscriptions over one websocket, in either subprotocol (docs/bank.md): `graphql-transport-ws`
//! through graphql-ws-client, the legacy `graphql-ws` of 2019 clients through [`super::legacy`].

use futures_util::StreamExt;
use graphql_ws_client::graphql::GraphqlOperation;
use serde::Serialize;
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::deadline::{self, FIRST_ANSWER};
use super::legacy;
pub use super::legacy::PER_SUBSCRIPTION;
use super::wire::{data_of, Socket};
pub use super::wire::{Answers, ClientError};
use crate::experiment::Protocol;

/// Where the GraphQL endpoint's websocket is: its URL, and for `wss://` the CA certificate (PEM) that verifies it
/// (without one, the system's roots).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub ca: Option<std::path::PathBuf>,
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Endpoint {
        Endpoint { url: url.to_string(), ca: None }
    }
}

impl From<&String> for Endpoint {
    fn from(url: &String) -> Endpoint {
        Endpoint::from(url.as_str())
    }
}

impl From<&Endpoint> for Endpoint {
    fn from(endpoint: &Endpoint) -> Endpoint {
        endpoint.clone()
    }
}

impl Endpoint {
    /// A TLS connector trusting only the CA, when there is one and the URL is `wss://`.
    fn connector(&self) -> Result<Option<tokio_tungstenite::Connector>, String> {
        let Some(ca) = self.ca.as_ref().filter(|_| self.url.starts_with("wss://")) else { return Ok(None) };
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read the CA certificate {}: {e}", ca.display()))?;
        let certificate = native_tls::Certificate::from_pem(&pem)
            .map_err(|e| format!("{} is not a PEM certificate: {e}", ca.display()))?;
        let connector = native_tls::TlsConnector::builder()
            .disable_built_in_roots(true)
            .add_root_certificate(certificate)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Some(tokio_tungstenite::Connector::NativeTls(connector)))
    }
}

/// One websocket connection to the GraphQL endpoint.
pub enum Client {
    Transport(graphql_ws_client::Client),
    Legacy(legacy::Client),
}

impl Client {
    /// Opens a websocket to `endpoint` speaking `protocol` (and for `graphql-transport-ws`, completes the
    /// handshake).
    ///
    /// Each step has [`FIRST_ANSWER`] for the endpoint's answer.
    ///
    /// # Errors
    /// [`ClientError::Connect`] naming the url, or [`ClientError::NoAnswer`] naming the step that got no answer.
    pub async fn connect(endpoint: impl Into<Endpoint>, protocol: Protocol) -> Result<Client, ClientError> {
        let endpoint: Endpoint = endpoint.into();
        let url = endpoint.url.as_str();
        let connect_error = |message: String| ClientError::Connect { url: url.to_string(), message };
        let connector = endpoint.connector().map_err(connect_error)?;
        let mut request = url.into_client_request().map_err(|e| connect_error(e.to_string()))?;
        let name = match protocol {
            Protocol::GraphqlTransportWs => "graphql-transport-ws",
            Protocol::GraphqlWs => "graphql-ws",
        };
        request.headers_mut().insert("Sec-WebSocket-Protocol", http_value(name));
        let handshake = async {
            let connecting =
                tokio_tungstenite::connect_async_tls_with_config(request, Some(socket_config()), true, connector);
            connecting.await.map_err(|e| connect_error(e.to_string()))
        };
        let (socket, _) = deadline::within(FIRST_ANSWER, url, || "the websocket handshake".into(), handshake).await?;
        match protocol {
            Protocol::GraphqlWs => Ok(Client::Legacy(legacy::Client::start(socket))),
            Protocol::GraphqlTransportWs => {
                let init = async {
                    graphql_ws_client::Client::build(Connection(socket)).await.map_err(|e| connect_error(e.to_string()))
                };
                let (client, actor) =
                    deadline::within(FIRST_ANSWER, url, || "connection_init with a connection_ack".into(), init)
                        .await?;
                tokio::spawn(std::future::IntoFuture::into_future(actor));
                Ok(Client::Transport(client))
            }
        }
    }

    /// Starts a subscription.
    ///
    /// # Errors
    /// [`ClientError::Closed`] when the connection is gone.
    pub async fn subscribe(&self, query: &'static str, variables: Value) -> Result<Answers, ClientError> {
        match self {
            Client::Legacy(c) => c.subscribe(query, variables).await,
            Client::Transport(c) => {
                let subscription =
                    c.subscribe(Operation { query, variables }).await.map_err(|_| ClientError::Closed)?;
                Ok(subscription
                    .map(|answer| answer.map_err(|e| ClientError::Unexpected(e.to_string())).and_then(|data| data))
                    .boxed())
            }
        }
    }

    /// The answer of a subscription that answers once (the 2019 commands and `get_account`).
    ///
    /// The endpoint completes such a subscription right after its answer; waiting for that `complete` instead of
    /// stopping the subscription ourselves saves a message each way per command, a large part of bench's CPU.
    ///
    /// # Errors
    /// The subscription's error, or [`ClientError::Closed`] when it ends without an answer.
    pub async fn first(&self, query: &'static str, variables: Value) -> Result<Value, ClientError> {
        let mut answers = self.subscribe(query, variables).await?;
        let first = answers.next().await.unwrap_or(Err(ClientError::Closed));
        if first.is_ok() {
            while answers.next().await.is_some() {}
        }
        first
    }
}

/// Small read buffers: tungstenite zeroes its whole read buffer before every read (128 KiB by default), which was
/// a tenth of bench's CPU; our messages are well under 4 KiB and larger frames still grow the buffer.
fn socket_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096)
}

fn http_value(name: &'static str) -> tokio_tungstenite::tungstenite::http::HeaderValue {
    tokio_tungstenite::tungstenite::http::HeaderValue::from_static(name)
}

#[derive(Serialize)]
struct Operation {
    query: &'static str,
    variables: Value,
}

impl GraphqlOperation for Operation {
    type Response = Result<Value, ClientError>;
    type Error = std::convert::Infallible;

    fn decode(&self, payload: Value) -> Result<Self::Response, Self::Error> {
        Ok(data_of(payload))
    }
}

/// tokio-tungstenite's socket as graphql-ws-client's connection (its own adapters target other tungstenite versions).
struct Connection(Socket);

impl graphql_ws_client::Connection for Connection {
    async fn receive(&mut self) -> Option<graphql_ws_client::Message> {
        use graphql_ws_client::Message as M;
        loop {
            return Some(match self.0.next().await?.ok()? {
                Message::Text(text) => M::Text(text.to_string()),
                Message::Ping(_) => M::Ping,
                Message::Pong(_) => M::Pong,
                Message::Close(frame) => M::Close {
                    code: frame.as_ref().map(|f| f.code.into()),
                    reason: frame.map(|f| f.reason.to_string()),
                },
                Message::Binary(_) | Message::Frame(_) => continue,
            });
        }
    }

    async fn send(&mut self, message: graphql_ws_client::Message) -> Result<(), graphql_ws_client::Error> {
        use futures_util::SinkExt;
        use graphql_ws_client::Message as M;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        let message = match message {
            M::Text(text) => Message::text(text),
            M::Close { code, reason } => Message::Close(
                code.zip(reason).map(|(code, reason)| CloseFrame { code: code.into(), reason: reason.into() }),
            ),
            M::Ping => Message::Ping(Default::default()),
            M::Pong => Message::Pong(Default::default()),
        };
        self.0.send(message).await.map_err(|e| graphql_ws_client::Error::Send(e.to_string()))
    }
}
