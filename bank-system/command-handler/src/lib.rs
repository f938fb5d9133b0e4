//! The command handler: consumes `commands`, applies each to db-ch in one transaction, and emits the
//! feedback and BalanceChanged events (DESIGN.md §3).
//!
//! - [`store`]: the business rules as database transactions; every outcome is stored with its events,
//!   so a replayed command re-emits exactly what it emitted the first time.
//! - [`handler`]: one message: decode, apply, produce with `event_id` headers, wait for the acks.
//! - [`consumer`]: the consume loop; partitions are spread over workers that keep each partition in order,
//!   offsets are stored only after a message's events are acknowledged (at least once).
//! - [`stats`]: counters served on `/stats`.
//! - [`app`]: settings and connections of one handler process.

pub mod app;
pub mod consumer;
pub mod handler;
pub mod stats;
pub mod store;
