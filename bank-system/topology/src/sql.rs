//! Database schemas of the two bank databases, applied idempotently by the services at start and by bench.

/// db-ch: accounts, command outcomes and the events they produced; includes the house account.
pub const DB_CH_SCHEMA: &str = include_str!("../sql/db-ch.sql");
/// db-ge: users (salted password hashes) and one row per BalanceChanged event.
pub const DB_GE_SCHEMA: &str = include_str!("../sql/db-ge.sql");
