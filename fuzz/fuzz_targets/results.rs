//! A results file's bytes through the reader, then into the rows the report draws.
#![no_main]

use std::path::Path;

use bench_results::Run;
use harness::report::RunRows;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Run::parse(Path::new("fuzz.jsonl"), data) {
        Ok(run) => drop(RunRows::from_run(run)),
        Err(e) => drop(e.to_string()),
    }
});
