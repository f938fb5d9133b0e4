//! Real stacks for the workspace's integration tests: one per test at a time (stacks share fixed ports),
//! torn down when the test's handle is dropped.

use crate::settings::StackSettings;
use crate::{Options, Owner, Services, Stack};

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

/// One broker, registry, both databases and the synchronizer; `stack_toml` is written into `[stack]`
/// (a table there starts with its header, as `[topics]`).
///
/// # Panics
/// When no engine answers or the stack does not come up: a test cannot go on without it.
pub async fn stack(stack_toml: &str) -> TestStack {
    let serial = SERIAL.lock().await;
    let text = format!("brokers = 1\nkafka_jvm_opts = \"-Xms512m -Xmx512m\"\n{stack_toml}");
    let settings: StackSettings = toml::from_str(&text).expect("test stack settings parse");
    let docker = crate::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
    let options = Options { owner: Owner::Run, services: Services::SynchronizerOnly, reports: None };
    let stack = Stack::up(&docker, &settings, options, &|_| {}).await.expect("test stack comes up");
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
