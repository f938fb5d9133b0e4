//! The bank's shared ground: what every service and the harness must agree on.
//!
//! - [`env`](mod@env): the environment variables that configure a bank service (one contract for bench and compose).
//! - [`settings`]: those variables read with clap, in the groups each service flattens into its own settings.
//! - [`topics`]: the four topics and the records each carries (one place to change them).
//! - [`records`]: the seven Avro records and their schemas.
//! - [`registry`]: the Confluent wire format against the schema registry, with caches.
//! - [`kafka`]: producer and consumer configurations with the environment's librdkafka properties; the `event_id` header.
//! - [`iban`]: open-bank IBANs, tokens and the house account; [`money`]: euro cents written Dutch style.
//! - [`sql`]: the schemas of db-ch and db-ge; [`db`]: pools with those schemas applied.
//! - [`https`]: HTTPS and wss:// for the services that answer clients.
//! - [`tls`]: a client's CA, certificate and key applied to librdkafka, PostgreSQL and HTTP clients.
//! - [`errors`]: an error and its causes as one line.
//! - [`service`]: logging, SIGTERM handling and health endpoints shared by the service binaries.

pub mod db;
pub mod env;
pub mod errors;
pub mod https;
pub mod iban;
pub mod kafka;
pub mod money;
pub mod records;
pub mod registry;
pub mod server;
pub mod service;
pub mod settings;
pub mod sql;
pub mod tls;
pub mod topics;
