//! The command-handler's integration tests in one test binary: one link instead of one per file. Each test that needs
//! a stack takes it from `stack::testing`, whose lock keeps them one at a time.

mod common;

mod consistency;
mod poison;
mod rules;
