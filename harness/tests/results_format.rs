//! The results format is the contract between runs and their readers: a file written by `bench run` before the
//! results types were reorganised (commit 8ed87fb, a real smoke run on this machine) still reads, and every line
//! of it writes back as the same JSON, so files written now and then are one format.

use std::path::Path;

use harness::results::{EndedBy, Line, Run};

const BEFORE: &str = "tests/fixtures/before-structure/smoke/default/20261201T090154Z-r1.jsonl";

#[test]
fn a_file_written_before_the_change_reads_back_typed() {
    let run = Run::read(Path::new(BEFORE)).expect("the old file reads");
    let h = &run.header;
    assert_eq!((h.experiment.as_str(), h.variant.as_str()), ("smoke", "default"));
    assert_eq!(h.git_commit, "8ed87fb45b1bc08c4317a13100202ca42f7a695c");
    assert_eq!(h.parameters.load.probe_interval_ms, 250);
    assert_eq!(h.parameters.stack.brokers, 1);
    assert_eq!(h.parameters.stack.services.producer["linger.ms"].as_integer(), Some(0));
    assert_eq!(run.rows.len(), 360);
    let end = run.end.as_ref().expect("the run finished");
    assert_eq!(end.ended_by, EndedBy::MaxLoops);
    assert_eq!((end.counts.loops, end.counts.generators, end.counts.transfers), (360, 36, 15616));
    assert!(end.audit.passed);
    // A sample started at every 20th loop lands on a later row; the one started at the last loop never does.
    let sampled: Vec<_> = run.rows.iter().filter_map(|r| r.resources.as_ref()).collect();
    assert_eq!(sampled.len(), 360 / 20 - 1);
    assert!(sampled.iter().all(|s| s.contains_key("bench") && s.contains_key("kgb-graphql-endpoint")));
}

#[test]
fn every_line_of_the_old_file_writes_back_as_the_same_json() {
    let text = std::fs::read_to_string(BEFORE).expect("fixture");
    for (i, line) in text.lines().enumerate() {
        let as_written: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let typed: Line = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let again = serde_json::to_value(&typed).expect("serializes");
        assert_eq!(again, as_written, "line {} changed when read and written again", i + 1);
    }
}
