//! The `bench` harness as a library: experiments, load, runs and reports. The stack it measures is brought up by
//! the `stack` crate, which the bank's own tests use too; the files it reads and writes (experiment and results
//! files) are the `bench_results` crate's, which readers of results files use alone.
//!
//! Data flows through these modules in the order a run uses them:
//! - [`experiment`]: an experiment file (TOML) becomes typed settings, and its `[matrix]` named variants.
//! - [`load`]: the probe and the generators, GraphQL over websockets in both subprotocols.
//! - [`run`]: one run as separate steps: bring-up (`stack`), the load loop ([`run::driver`]) writing
//!   results lines, the [`audit`] of the bank's books, the end line, teardown.
//! - [`fit`]: where a run's steps cross the SLO: the capacity search's estimate and the report's drawn curve.
//! - [`report`]: runs (and 2019 results) aggregated per variant and generator level, as HTML and JSON; it reads
//!   results files ([`bench_results`]) only.
//! - [`summary`]: a night's headline figures (`bench report --summary`), the points `bench history` reads.
//! - [`history`]: summaries over nights as series, and where they changed (E-Divisive means); it reads
//!   [`summary`] only, and borrows the report's page writing.
//! - [`browser`]: headless Chromium over the DevTools protocol, for the browser probe.
//! - `testing`: made-up results files for report tests and benchmarks, endpoint doubles.
//!
//! The binary (`src/main.rs`, `src/cli/`) turns command-line flags into these types and prints what happens.

pub mod audit;
pub mod browser;
pub mod experiment;
pub mod fit;
pub mod history;
pub mod input;
pub mod load;
pub mod report;
pub mod run;
pub mod summary;
pub mod testing;

/// Whether `error` is the user's input being wrong (exit code 2) rather than the run or the system failing: each
/// error type of the library says so of itself.
pub fn is_bad_input(error: &(dyn std::error::Error + 'static)) -> bool {
    // A name that would become a path outside its folder, wherever it was read (command line, a file, a label).
    if error.downcast_ref::<bench_results::names::NameError>().is_some() {
        return true;
    }
    if let Some(e) = error.downcast_ref::<experiment::ExperimentError>() {
        return e.is_bad_input();
    }
    if let Some(e) = error.downcast_ref::<report::ReportError>() {
        return e.is_bad_input();
    }
    if let Some(e) = error.downcast_ref::<history::HistoryError>() {
        return e.is_bad_input();
    }
    error.downcast_ref::<bench_results::ResultsError>().is_some_and(bench_results::ResultsError::is_bad_input)
}
