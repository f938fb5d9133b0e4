//! The load of one run (docs/guide.md): a probe measuring end-to-end latency, and generators that join on a
//! schedule to push the system until its answers time out.
//!
//! - [`client`] and `legacy`: GraphQL subscriptions over websockets in both subprotocols, on what `wire`
//!   holds for both (socket, errors, answers).
//! - [`deadline`]: what the endpoint must answer before the load, and how soon.
//! - [`bank`]: the 2019 operations, and the [`bank::Bank`] trait the state machines are written against.
//! - [`schedule`]: the slot grid shared by probe and generators (no catch-up bursts).
//! - [`probe`], [`chain`], [`generator`]: the probe cycle, the generators' transfer chain and their tasks.
//! - [`open`]: the open model's offered load: a ring of transfers at a rate, over a pool of connections.

pub mod bank;
pub mod browser_probe;
pub mod chain;
pub mod client;
pub mod deadline;
pub mod generator;
mod legacy;
pub mod open;
pub mod probe;
pub mod schedule;
mod wire;
