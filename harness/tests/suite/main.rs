//! Every integration test of the harness, in one test binary as cargo's own testsuite is: one link instead of
//! thirty, and one `support` module, so one lock keeps stack-using tests (which share fixed ports) one at a time.
//! `cargo test -p harness --test suite kubernetes::` runs one file's tests.

mod support;

mod audit_answers;
mod audit_rules;
mod backpressure;
mod baseline;
mod blocks;
mod capacity_method;
mod cli;
mod client;
mod deadline;
mod external;
mod faults;
mod frontend;
mod history;
mod hostile;
mod images;
mod interrupt;
mod kubernetes;
mod merge;
mod names;
mod overload;
mod provenance;
mod report;
mod report_capacity;
mod report_statistics;
mod run;
mod search;
mod search_run;
mod silent_endpoint;
mod stack;
mod tls;
mod workflow;
