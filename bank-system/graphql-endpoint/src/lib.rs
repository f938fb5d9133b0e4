//! The GraphQL endpoint: the read side and the API every client and the harness talk to (DESIGN.md §3).
//!
//! - [`schema`]: queries and subscriptions with the 2019 names; filters of `stream_transactions`.
//! - [`commands`]: `get_account` and `money_transfer`: input checks, passwords, produce and wait.
//! - [`answers`]: what those two subscriptions answer, and the answer to a transfer's feedback.
//! - [`waiters`]: feedback routed to the waiting subscription by uuid.
//! - [`events`]: the consumer: BalanceChanged stored once and pushed live; feedback handed to waiters.
//! - [`overhead`]: the endpoint's own time per transfer, in its two halves (`/stats`).
//! - [`store`]: db-ge, users and transactions.
//! - [`ws`]: both websocket subprotocols, legacy clients without `connection_init` included.
//! - [`state`]: what every request shares (the schema, the shutdown token).
//! - [`app`]: settings, connections and the router of one endpoint process.

pub mod answers;
pub mod app;
pub mod commands;
pub mod events;
pub mod overhead;
pub mod schema;
pub mod state;
pub mod store;
pub mod waiters;
pub mod ws;
