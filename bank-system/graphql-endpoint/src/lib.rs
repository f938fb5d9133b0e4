//! The GraphQL endpoint: the read side and the API every client and the harness talk to (docs/bank.md).
//!
//! A command goes in through a subscription ([`ws`] or HTTP) to [`schema`], which hands it to [`commands`]:
//! checked, registered with [`waiters`], produced to Kafka. The [`events`] consumers hand its feedback to the
//! waiter, and [`answers`] turns it into the subscription's answer. BalanceChanged events go the other way:
//! [`events`] stores them in [`store`] and broadcasts them to the `stream_transactions` subscriptions of
//! [`schema`]. Each module below imports only modules listed after it, so there are no circles.
//!
//! - [`app`]: the connections, consumers and router of one endpoint process, made from its [`settings`].
//! - [`http`]: GraphQL over POST: JSON only, body and batch bounded.
//! - [`ws`]: both websocket subprotocols, legacy clients without `connection_init` included; the upgrade's
//!   `Origin`, message sizes and silent sockets bounded.
//! - [`state`]: what every request shares (the schema, the shutdown token).
//! - [`sockets`]: how many subscriptions one websocket may have open at once (its own executor of the schema).
//! - [`schema`]: queries and subscriptions with the 2019 names; filters of `stream_transactions`.
//! - [`commands`]: `get_account` and `money_transfer`: input checks, passwords, produce and wait.
//! - [`admission`]: how many commands the endpoint holds at once; one more is answered "overloaded".
//! - [`answers`]: what those two subscriptions answer, and the answer to a transfer's feedback.
//! - [`events`]: the consumers: BalanceChanged stored once and pushed live; feedback handed to waiters.
//! - [`waiters`]: feedback routed to the waiting subscription by uuid.
//! - [`overhead`]: the endpoint's own time per transfer, in its two halves (`/stats`).
//! - [`store`]: db-ge, users and transactions.
//! - [`settings`]: what an endpoint is told, by the environment in its container (clap, [`topology::settings`]).

pub mod admission;
pub mod answers;
pub mod app;
pub mod commands;
pub mod events;
pub mod http;
pub mod overhead;
pub mod schema;
pub mod settings;
pub mod sockets;
pub mod state;
pub mod store;
pub mod waiters;
pub mod ws;
