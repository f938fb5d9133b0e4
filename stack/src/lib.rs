//! The bank's stack, on a Docker engine or a Kubernetes cluster: what `bench` and the bank's own tests both
//! bring up. Its settings are the experiment file's `[stack]` (the `bench_results` crate's types).
//!
//! Data flows down these modules:
//! - [`plan`]: the settings become the stack's parts (images, environment, limits, readiness checks).
//! - [`ports`]: every planned port is checked free before anything starts.
//! - [`images`]: the images the plan names, built offline on this machine and labelled with their input hash.
//! - [`tls`]: with `[stack] tls = true`, a CA per stack and a certificate per part, in a folder of the stack.
//! - [`platform`]: where the parts run, the one interface to both of these, which nothing else tells apart:
//!   - [`docker`]: the engine through bollard: labelled containers, logs and resource samples;
//!   - [`kube`]: a Kubernetes cluster through kube-rs: a namespace per stack, the parts as its objects.
//! - [`readiness`]: a part is ready when it answers for real.
//! - [`Stack`]: one lifecycle, plan -> free ports -> images present -> infrastructure up and ready ->
//!   database schemas -> synchronizer to completion -> bank services ready; and teardown, which also runs on drop.
//! - `testing`: real stacks for integration tests, one at a time per test binary.
//!
//! Nothing here knows about load, results or reports: those are the harness's.

pub mod docker;
pub mod error;
pub mod images;
pub mod kube;
pub mod options;
pub mod plan;
pub mod platform;
pub mod ports;
pub mod readiness;
mod stack;
pub mod testing;
pub mod tls;

pub use docker::container::LABEL_BENCH;
pub use error::StackError;
pub use options::{Options, Services};
pub use plan::{Endpoints, Owner, Part, Role, StackPlan};
pub use platform::Platform;
pub use ports::PortTaken;
pub use stack::Stack;
