//! Real stacks for the workspace's integration tests: one per test at a time (stacks share fixed ports),
//! torn down when the test's handle is dropped. Its helpers panic, so only tests call them; the module is compiled
//! in every build (not behind a feature) so the tests reuse the release build's `stack` instead of compiling
//! `stack` and everything above it again.

use crate::options::{Options, Services};
use crate::plan::Owner;
use crate::stack::Stack;
use bench_results::experiment::stack::StackSettings;

/// Serializes stacks within one test binary: [`stack`] takes it, and so does a test that brings a stack up
/// another way (through `bench`) or starts a container another test's leftover check would see.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One stack at a time, for a `#[tokio::test]`; held across awaits, released when dropped (a panic too).
/// Not for a test that then calls [`stack`], which takes it itself.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

/// One stack at a time, for a synchronous test.
pub fn serial_blocking() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.blocking_lock()
}

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
    block_on(|docker| async move {
        crate::docker::container::list_labelled(&docker, crate::docker::container::LABEL_BENCH)
            .await
            .expect("the engine lists containers")
    })
}

/// The containers of one stack (its `kgb.stack` label), so a test checks what it started and nothing else.
///
/// # Panics
/// When no engine answers: such a test cannot go on.
pub fn containers_of(stack_id: &str) -> Vec<String> {
    block_on(|docker| async move {
        let label = format!("{}={stack_id}", crate::docker::container::LABEL_STACK);
        crate::docker::container::list_labelled(&docker, &label).await.expect("the engine lists containers")
    })
}

/// The stack a container belongs to (its `kgb.stack` label), for a test that finds its stack by a container's
/// name (names are unique, so a test that saw its run start `kgb-kafka-1` knows that one is its own).
///
/// # Panics
/// When no engine answers or the container is not bench's.
pub fn stack_of(container: &str) -> String {
    block_on(|docker| async move {
        let info = docker.inspect_container(container, None).await.expect("the engine inspects the container");
        let mut labels = info.config.and_then(|c| c.labels).unwrap_or_default();
        labels.remove(crate::docker::container::LABEL_STACK).unwrap_or_else(|| panic!("{container} has no stack label"))
    })
}

/// A container standing for a developer's own `bench up` stack (the labels `bench up` gives, a name no stack
/// uses, an idle process binding no port), for tests that must show their cleanup leaves it alone. Removed on drop.
pub struct DevelopersContainer {
    pub name: String,
}

impl DevelopersContainer {
    /// # Panics
    /// When no engine answers or the base image (`bench images`) is missing.
    pub fn start() -> DevelopersContainer {
        let name = format!("kgb-developers-own-{}", std::process::id());
        let spec = crate::docker::container::ContainerSpec {
            name: name.clone(),
            image: crate::images::catalog::BASE.to_string(),
            env: Vec::new(),
            args: vec!["sleep".into(), "600".into()],
            labels: std::collections::HashMap::from([
                (crate::docker::container::LABEL_STACK.to_string(), format!("developers-own-{}", std::process::id())),
                (crate::docker::container::LABEL_OWNER.to_string(), "up".to_string()),
            ]),
            memory_mib: Some(16),
            cpus: None,
            read_only: Vec::new(),
        };
        block_on(|docker| async move {
            crate::docker::container::start(&docker, &spec).await.expect("the stand-in container starts")
        });
        DevelopersContainer { name }
    }

    pub fn exists(&self) -> bool {
        leftover_containers().contains(&self.name)
    }
}

impl Drop for DevelopersContainer {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Runs while a test panics too: an error here must not abort the process.
        let _ = std::thread::spawn(move || {
            block_on(|docker| async move { crate::docker::container::remove(&docker, &name).await })
        })
        .join();
    }
}

/// Runs `work` with an engine client on a runtime of its own, so plain `#[test]`s can call it.
fn block_on<F, T>(work: impl FnOnce(bollard::Docker) -> F) -> T
where
    F: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let docker = crate::docker::connect().await.expect("a Docker engine (scripts/setup starts one)");
        work(docker).await
    })
}
