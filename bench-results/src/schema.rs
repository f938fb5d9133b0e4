//! JSON Schemas of the two files, generated from the types that read and write them, so they cannot drift from
//! what bench accepts. `bench schema` prints them; docs/schema/ holds the published copies, which a test keeps equal.

use schemars::{schema_for, Schema};

use crate::experiment::Experiment;
use crate::records::Line;

/// The experiment file (TOML, validated as its JSON image).
pub fn experiment() -> Schema {
    titled(schema_for!(Experiment), "bench experiment file")
}

/// One line of a results file (JSON Lines: every line is one of these, tagged by `kind`).
pub fn results_line() -> Schema {
    titled(schema_for!(Line), "bench results file line")
}

fn titled(mut schema: Schema, title: &str) -> Schema {
    schema.insert("title".into(), title.into());
    schema
}
