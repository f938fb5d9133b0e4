//! The results format is the contract between runs and their readers: a file written by `bench run` before the
//! results types were reorganised (commit 8ed87fb, a real smoke run on this machine) still reads, and every field of
//! every line writes back unchanged, so files written now and then are one format. Fields are only ever added
//! (with defaults: the open model's settings, for one), never renamed or dropped.

use std::path::Path;

use bench_results::{EndedBy, Line, Run};

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

/// Whether every field of `old` is in `new` with the same value (`new` may have more fields in its objects).
fn kept(old: &serde_json::Value, new: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => o.iter().try_for_each(|(k, v)| match n.get(k) {
            Some(w) => kept(v, w, &format!("{at}.{k}")),
            None => Err(format!("{at}.{k} was dropped")),
        }),
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            o.iter().zip(n).enumerate().try_for_each(|(i, (v, w))| kept(v, w, &format!("{at}[{i}]")))
        }
        (o, n) if o == n => Ok(()),
        (o, n) => Err(format!("{at} changed from {o} to {n}")),
    }
}

#[test]
fn every_field_of_the_old_file_writes_back_unchanged() {
    let text = std::fs::read_to_string(BEFORE).expect("fixture");
    let mut added = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let as_written: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let typed: Line = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let again = serde_json::to_value(&typed).expect("serializes");
        kept(&as_written, &again, "").unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        if i == 0 {
            let load = |v: &serde_json::Value| v["parameters"]["load"].as_object().cloned().unwrap_or_default();
            added.extend(load(&again).keys().filter(|k| !load(&as_written).contains_key(*k)).cloned());
        }
    }
    // What the header gained since: the open model's load settings, at their defaults.
    let expected: std::collections::BTreeSet<String> =
        ["accounts", "arrivals", "connections", "model"].map(String::from).into();
    assert_eq!(added, expected);
}
