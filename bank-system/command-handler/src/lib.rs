//! The command handler: consumes `commands`, applies each to db-ch in one transaction, and emits the
//! feedback and BalanceChanged events (docs/bank.md).
//!
//! [`app`] connects from its [`settings`] and runs [`consumer`], which hands each message to [`handler`], which
//! applies it with [`store`] and produces what the outcome says. Each module below imports only modules listed
//! after it, so there are no circles.
//!
//! - [`app`]: the connections of one handler process, made from its settings, and its consume loop.
//! - [`consumer`]: the consume loop; partitions are spread over workers that keep each partition in order,
//!   offsets are stored only after a message's events are acknowledged (at least once).
//! - [`handler`]: one message: decode, apply, produce with `event_id` headers, wait for the acks.
//! - [`store`]: the business rules as database transactions; every outcome is stored with its events,
//!   so a replayed command re-emits exactly what it emitted the first time.
//! - [`stats`]: counters served on `/stats`.
//! - [`settings`]: what a handler is told, by the environment in its container (clap, [`topology::settings`]).

pub mod app;
pub mod consumer;
pub mod handler;
pub mod settings;
pub mod stats;
pub mod store;
