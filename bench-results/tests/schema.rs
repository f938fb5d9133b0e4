//! The published JSON Schemas (docs/schema/) are the ones the types make, and they say what bench accepts: every
//! experiment file shipped in experiments/ and every line of a real results file validate; a file with a
//! misspelt key, a value of the wrong type or a line of an unknown kind does not.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn published(name: &str) -> Value {
    let path = repo().join("docs/schema").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the published schema is JSON")
}

fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::validator_for(schema).expect("a valid JSON Schema")
}

#[test]
fn the_published_schemas_are_the_generated_ones() {
    let generated = |s: schemars::Schema| serde_json::to_value(s).expect("JSON");
    // Compared whole but reported in one line: the schemas are thousands of lines long.
    let experiment = published("experiment.schema.json") == generated(bench_results::schema::experiment());
    assert!(experiment, "docs/schema/experiment.schema.json is stale: bench schema experiment > it");
    let results = published("results.schema.json") == generated(bench_results::schema::results_line());
    assert!(results, "docs/schema/results.schema.json is stale: bench schema results > it");
}

#[test]
fn every_shipped_experiment_validates_and_broken_ones_do_not() {
    let schema = validator(&published("experiment.schema.json"));
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("experiments")).expect("experiments/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let file: Value = toml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("TOML");
            let errors: Vec<String> =
                schema.iter_errors(&file).map(|e| format!("{} at {}", e, e.instance_path)).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} experiment files found");
    for bad in [
        json!({"name": "x", "laod": {}}),
        json!({"name": "x", "load": {"probe_interval_ms": "fast"}}),
        json!({"name": "x", "load": {"model": "half-open"}}),
        json!({"name": "x", "stack": {"brokers": -1}}),
        json!({"description": "no name"}),
    ] {
        assert!(!schema.is_valid(&bad), "accepted {bad}");
    }
}

#[test]
fn every_line_of_a_real_results_file_validates_and_strange_lines_do_not() {
    let schema = validator(&published("results.schema.json"));
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/before-structure/smoke/default/20261201T090154Z-r1.jsonl");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    for (i, line) in lines.iter().enumerate() {
        let errors: Vec<String> = schema.iter_errors(line).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "line {}: {errors:?}", i + 1);
    }
    let mut wrong_kind = lines[1].clone();
    wrong_kind["kind"] = json!("sample");
    let mut wrong_type = lines[1].clone();
    wrong_type["timeout"] = json!("no");
    let mut no_end_reason = lines.last().expect("an end line").clone();
    no_end_reason.as_object_mut().expect("object").remove("ended_by");
    for bad in [wrong_kind, wrong_type, no_end_reason] {
        assert!(!schema.is_valid(&bad), "accepted {bad}");
    }
}
