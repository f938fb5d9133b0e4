//! Shared by the endpoint's tests and benchmarks: a minimal client of both websocket subprotocols, the
//! 2019 operations, and an endpoint running in-process against a real stack.

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use graphql_endpoint::app::App;
use graphql_endpoint::settings::{Settings, WithKafkaProperties};
use serde_json::{json, Value};
use stack::docker::container;
use stack::testing::TestStack;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A minimal client of either subprotocol: one subscription at a time per call.
pub struct WsClient {
    socket: Socket,
    legacy: bool,
    next_id: u32,
    /// Data of other subscriptions read while waiting for one.
    buffered: Vec<Value>,
}

impl WsClient {
    pub async fn connect(url: &str, legacy: bool) -> WsClient {
        let mut request = url.into_client_request().expect("request");
        let protocol = if legacy { "graphql-ws" } else { "graphql-transport-ws" };
        request.headers_mut().insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("websocket connects");
        if !legacy {
            // The current protocol requires the handshake; legacy 2019 clients send `start` straight away.
            socket.send(Message::text(json!({"type": "connection_init"}).to_string())).await.expect("init");
            let ack = Self::read(&mut socket).await;
            assert_eq!(ack["type"], "connection_ack", "{ack}");
        }
        WsClient { socket, legacy, next_id: 0, buffered: Vec::new() }
    }

    async fn read(socket: &mut Socket) -> Value {
        loop {
            let message =
                tokio::time::timeout(Duration::from_secs(40), socket.next()).await.expect("an answer in time");
            match message.expect("socket open").expect("frame") {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    if v["type"] != "ka" && v["type"] != "ping" {
                        return v;
                    }
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => {}
            }
        }
    }

    pub async fn subscribe(&mut self, query: &str, variables: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let kind = if self.legacy { "start" } else { "subscribe" };
        let message = json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}});
        self.socket.send(Message::text(message.to_string())).await.expect("send");
        id
    }

    /// The next data payload of subscription `id`.
    pub async fn next_data(&mut self, id: &str) -> Value {
        self.next_payload(id).await["data"].clone()
    }

    /// The next payload of subscription `id`, data and errors.
    pub async fn next_payload(&mut self, id: &str) -> Value {
        if let Some(i) = self.buffered.iter().position(|v| v["id"] == id) {
            return self.buffered.remove(i)["payload"].clone();
        }
        loop {
            let v = Self::read(&mut self.socket).await;
            assert!(v["type"] != "error", "subscription error: {v}");
            if v["type"] == "next" || v["type"] == "data" {
                if v["id"] == id {
                    return v["payload"].clone();
                }
                self.buffered.push(v);
            }
        }
    }

    /// Reads until the server says subscription `id` is complete (data of others is kept for later).
    pub async fn until_complete(&mut self, id: &str) {
        loop {
            let v = Self::read(&mut self.socket).await;
            match v["type"].as_str() {
                Some("complete") if v["id"] == id => return,
                Some("next" | "data") => self.buffered.push(v),
                _ => {}
            }
        }
    }

    /// Ends subscription `id` from the client's side (`complete`, or `stop` in the legacy protocol).
    pub async fn complete(&mut self, id: &str) {
        let kind = if self.legacy { "stop" } else { "complete" };
        self.socket.send(Message::text(json!({"id": id, "type": kind}).to_string())).await.expect("send");
    }

    /// Waits until the server closes the connection (a close frame or the end of the stream).
    pub async fn expect_closed(&mut self) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.expect("closed in time") {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn one(&mut self, query: &str, variables: Value) -> Value {
        let id = self.subscribe(query, variables).await;
        self.next_data(&id).await
    }
}

pub const GET_ACCOUNT: &str =
    "subscription($u: String!, $p: String!) { get_account(username: $u, password: $p) { iban token reason } }";
pub const TRANSFER: &str = "subscription($id: String!, $u: String!, $t: String!, $a: Int!, $f: String!, $to: String!, $d: String!) {
  money_transfer(uuid: $id, username: $u, token: $t, amount: $a, from: $f, to: $to, descr: $d) { uuid success reason } }";
pub const STREAM: &str = "subscription($iban: String, $min: Int, $max: Int, $dir: dtype, $descr: String) {
  stream_transactions(iban: $iban, min_amount: $min, max_amount: $max, direction: $dir, descr_includes: $descr) {
    id iban new_balance changed_by from_to descr direction } }";

/// `route` is (from, to).
pub async fn transfer(
    c: &mut WsClient,
    id: &str,
    user: &str,
    token: &str,
    amount: i64,
    route: (&str, &str),
    descr: &str,
) -> Value {
    let (from, to) = route;
    let vars = json!({"id": id, "u": user, "t": token, "a": amount, "f": from, "to": to, "d": descr});
    c.one(TRANSFER, vars).await["money_transfer"].clone()
}

pub async fn graphql_http(base: &str, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("POST /graphql")
        .json()
        .await
        .expect("json")
}

/// The command handler in its container and an endpoint in this process on a free port.
pub struct Endpoint {
    pub base: String,
    pub ws: String,
    pub shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    events: Option<tokio::task::JoinHandle<()>>,
    /// The endpoint runs on a runtime of its own: a test that fails leaves it to shut down in the background.
    /// On the test's runtime its Kafka consumers would be dropped on the test's thread after the stack is gone,
    /// and closing a consumer without brokers waits forever: the failing test would hang instead of failing.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Endpoint {
    pub async fn start(stack: &TestStack) -> Endpoint {
        Self::start_with(stack, &[]).await
    }

    /// Like [`Endpoint::start`], with more settings (`("COMMAND_TIMEOUT_MS", "3000")`).
    pub async fn start_with(stack: &TestStack, settings: &[(&str, &str)]) -> Endpoint {
        let docker = stack::docker::connect().await.expect("engine");
        let handler =
            stack.plan.services.iter().find(|p| p.spec.name == "kgb-command-handler").expect("planned").clone();
        container::start(&docker, &handler.spec).await.expect("handler container (scripts/setup builds its image)");
        stack.wait_for(&handler.wait).await.expect("handler ready");
        let e = &stack.plan.endpoints;
        let vars = vec![
            ("KAFKA_BOOTSTRAP_SERVERS".to_string(), e.bootstrap.clone()),
            ("SCHEMA_REGISTRY_URL".to_string(), e.registry.clone()),
            ("DATABASE_URL".to_string(), e.db_ge.clone()),
        ];
        let vars: Vec<(String, String)> =
            vars.into_iter().chain(settings.iter().map(|(k, v)| (k.to_string(), v.to_string()))).collect();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        let started = runtime.spawn(async move {
            let settings = Settings::from_vars(vars).expect("settings");
            let app = App::connect(&settings).await.expect("endpoint connects");
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("port");
            let base = format!("http://{}", listener.local_addr().expect("addr"));
            let shutdown = app.shutdown.clone();
            let events = tokio::spawn(graphql_endpoint::events::run_all(app.events, shutdown.clone()));
            let stopped = shutdown.clone().cancelled_owned();
            let server =
                tokio::spawn(
                    async move { topology::server::serve(listener, app.router, &settings.limits, stopped).await },
                );
            (base, shutdown, server, events)
        });
        let (base, shutdown, server, events) = started.await.expect("the endpoint starts");
        Endpoint {
            ws: base.replace("http://", "ws://"),
            base,
            shutdown,
            server: Some(server),
            events: Some(events),
            runtime: Some(runtime),
        }
    }

    /// Graceful shutdown: open subscriptions complete, sockets close, the consumer stops.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let (server, events) = (self.server.take().expect("running"), self.events.take().expect("running"));
        let stopped = tokio::time::timeout(Duration::from_secs(60), async {
            server.await.expect("server task").expect("server stops cleanly");
            events.await.expect("consumer stops");
        });
        stopped.await.expect("the endpoint stops within 60 s");
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
