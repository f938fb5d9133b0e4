//! Real stacks for the workspace's integration tests: one per test at a time (stacks share fixed ports),
//! torn down when the test's handle is dropped.

pub mod synthetic;

use std::path::Path;

use crate::experiment::ExperimentFile;
use crate::stack::{Options, Owner, Services, Stack};

/// Serializes stacks within one test binary.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A stack held for one test; derefs to [`Stack`]. Dropping it removes the containers.
pub struct TestStack {
    stack: Stack,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl std::ops::Deref for TestStack {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl std::ops::DerefMut for TestStack {
    fn deref_mut(&mut self) -> &mut Stack {
        &mut self.stack
    }
}

/// One broker, registry, both databases and the synchronizer; `stack_toml` is merged into `[stack]`.
///
/// # Panics
/// When no engine answers or the stack does not come up: a test cannot go on without it.
pub async fn stack(stack_toml: &str) -> TestStack {
    let serial = SERIAL.lock().await;
    let text = format!("name = \"test\"\n[stack]\nbrokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n{stack_toml}");
    let file = ExperimentFile::parse(Path::new("test.toml"), &text).expect("test experiment parses");
    let docker = crate::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
    let options = Options { owner: Owner::Run, services: Services::SynchronizerOnly };
    let stack = Stack::up(&docker, &file.experiment.stack, options, &|_| {}).await.expect("test stack comes up");
    TestStack { stack, _serial: serial }
}

/// Every container bench started that still exists (for tests that run `bench` and check its cleanup), asked
/// from a runtime of its own so plain `#[test]`s can call it.
///
/// # Panics
/// When no engine answers: such a test cannot go on.
pub fn leftover_containers() -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let docker = crate::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
        crate::docker::container::list_labelled(&docker, crate::LABEL_BENCH).await.expect("the engine lists containers")
    })
}

/// The server side of a websocket handshake for endpoint doubles in tests and benchmarks: accepts `stream` and
/// answers with the subprotocol the client asked for, as the bank's endpoint does. `None` when the handshake fails.
pub async fn accept_websocket(stream: tokio::net::TcpStream) -> Option<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
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
