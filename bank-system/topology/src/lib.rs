//! The bank's shared ground: what every service and the harness must agree on.
//!
//! - [`env`]: the environment variables that configure a bank service (one contract for bench and compose).
//! - [`topics`]: the four topics and the records each carries (one place to change them).
//! - [`sql`]: the schemas of db-ch and db-ge.

pub mod env;
pub mod sql;
pub mod topics;
