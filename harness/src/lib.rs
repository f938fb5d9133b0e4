//! The `bench` harness as a library.
//!
//! Data flows through these modules in the order a run uses them:
//! - [`experiment`]: an experiment file (TOML) becomes typed settings, and its `[matrix]` named variants.
//! - [`images`]: the images the stack needs, built offline on this machine and labelled with their input hash.
//! - [`stack`]: one variant's containers planned ([`stack::plan`]), checked for free ports, started in order and
//!   waited on until each really answers; torn down again on success, failure or interrupt.
//! - [`docker`]: the Docker engine through bollard: containers with labels, readiness probes, logs and stats.
//! - [`load`]: the probe and the generators, GraphQL over websockets in both subprotocols.
//! - [`run`]: one run from bring-up to teardown, its load loop ([`run::driver`]) writing [`results`] lines,
//!   then the [`audit`] of the bank's books.
//! - [`report`]: runs (and 2019 results) aggregated per variant and generator level, as HTML and JSON.
//!
//! The binary (`src/main.rs`) turns command-line flags into these types and prints what happens.

pub mod docker;
pub mod audit;
pub mod browser;
pub mod experiment;
pub mod images;
pub mod load;
pub mod report;
pub mod results;
pub mod run;
pub mod stack;
pub mod testing;

/// The label every container and image made by bench carries, so leftovers can always be found.
pub const LABEL_BENCH: &str = "kgb.bench";
