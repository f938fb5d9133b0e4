//! The graphql-endpoint's integration tests in one test binary: one link instead of one per file. Each test that needs
//! a stack takes it from `stack::testing`, whose lock keeps them one at a time.

mod common;

mod api;
mod bad_input;
mod bounds;
mod load;
mod store;
