//! `[matrix]` expansion: one variant per combination of values, named after the varied values.

use std::collections::BTreeMap;

use bench_results::experiment::stack::value_text;

use super::Experiment;

/// One configuration of an experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// E.g. `linger.ms=25`, or `default` for an experiment without a matrix.
    pub name: String,
    /// The matrix values that make this variant, by dotted path.
    pub values: BTreeMap<String, toml::Value>,
    /// The experiment with those values written in.
    pub experiment: Experiment,
}

/// Tables whose keys are property names that may themselves contain dots (`linger.ms`):
/// below these, the rest of a dotted path is one key.
fn property_map_depth(segments: &[&str]) -> Option<usize> {
    match segments {
        ["stack", "broker", ..] => Some(2),
        ["stack", "services", _, ..] => Some(3),
        ["stack", "topics", "configs", ..] => Some(3),
        _ => None,
    }
}

/// Splits a dotted matrix path into the tables to descend and the key to set.
fn split_path(path: &str) -> Result<(Vec<&str>, String), String> {
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!("matrix key {path:?} is not a dotted path"));
    }
    match property_map_depth(&segments) {
        Some(depth) if segments.len() > depth => Ok((segments[..depth].to_vec(), segments[depth..].join("."))),
        _ if segments.len() >= 2 => {
            let (last, tables) = segments.split_last().ok_or_else(|| format!("matrix key {path:?} is empty"))?;
            Ok((tables.to_vec(), (*last).to_string()))
        }
        _ => Err(format!("matrix key {path:?} must name a setting inside a table, e.g. \"stack.brokers\"")),
    }
}

fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let (tables, key) = split_path(path)?;
    let mut table = root;
    for segment in tables {
        let entry = table.entry(segment.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table =
            entry.as_table_mut().ok_or_else(|| format!("matrix key {path:?}: {segment:?} is a value, not a table"))?;
    }
    table.insert(key, value);
    Ok(())
}

fn label(path: &str) -> String {
    split_path(path).map(|(_, key)| key).unwrap_or_else(|_| path.to_string())
}

/// The most variants a matrix may make. Each is at least one run of minutes (256 of the 2-minute smoke run take
/// 8 hours), so more is no experiment; and the combinations are built before any is checked, so 8 keys of 8 values
/// (16.7 million) ran the parser out of memory and time.
pub const MAX_VARIANTS: usize = 256;

/// Expands the file's `[matrix]` into variants; without a matrix, one variant named `default`.
///
/// # Errors
/// A message naming the matrix key whose path or values do not fit the experiment.
pub fn expand(file: &toml::Table) -> Result<Vec<Variant>, String> {
    let mut base = file.clone();
    let matrix = match base.remove("matrix") {
        None => toml::Table::new(),
        Some(toml::Value::Table(t)) => t,
        Some(_) => return Err("[matrix] must be a table of dotted keys to lists of values".to_string()),
    };
    let mut axes: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for (path, values) in matrix {
        match values {
            toml::Value::Array(values) if !values.is_empty() => axes.push((path, values)),
            _ => return Err(format!("matrix key {path:?} must list at least one value, e.g. [0, 10]")),
        }
    }

    let count =
        axes.iter().try_fold(1usize, |n, (_, values)| n.checked_mul(values.len()).filter(|n| *n <= MAX_VARIANTS));
    if count.is_none() {
        let sizes: Vec<String> = axes.iter().map(|(path, values)| format!("{} {path:?}", values.len())).collect();
        return Err(format!("matrix: {} make more than {MAX_VARIANTS} variants", sizes.join(" × ")));
    }

    let mut combos: Vec<BTreeMap<String, toml::Value>> = vec![BTreeMap::new()];
    for (path, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut c = combo.clone();
                    c.insert(path.clone(), v.clone());
                    c
                })
            })
            .collect();
    }

    combos
        .into_iter()
        .map(|values| {
            let mut table = base.clone();
            for (path, value) in &values {
                set_path(&mut table, path, value.clone())?;
            }
            let experiment: Experiment = toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| format!("matrix {values:?}: {}", e.message()))?;
            // The name is a folder of the results: a value that could not name one (`/`, a space, a leading
            // '.') is made to fit the same way every time, rather than the matrix refused for a value that is
            // right for its setting (`-Xms1g -Xmx1g`); two values that then read the same are refused.
            let name = if values.is_empty() {
                "default".to_string()
            } else {
                let name =
                    values.iter().map(|(p, v)| format!("{}={}", label(p), value_text(v))).collect::<Vec<_>>().join(",");
                bench_results::names::sanitize(&name)
            };
            bench_results::names::check(bench_results::names::Kind::Variant, &name)
                .map_err(|e| format!("matrix: {e}: name fewer or shorter values"))?;
            Ok(Variant { name, values, experiment })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn dotted_property_names_stay_one_key() {
        let variants =
            expand(&table("name = \"linger\"\n[matrix]\n\"stack.services.producer.linger.ms\" = [0, 25]\n")).unwrap();
        let names: Vec<_> = variants.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["linger.ms=0", "linger.ms=25"]);
        let producer = &variants[1].experiment.stack.services.producer;
        assert_eq!(producer["linger.ms"], toml::Value::Integer(25));
        assert_eq!(producer.len(), 1);
    }

    #[test]
    fn combinations_are_the_cartesian_product() {
        let variants = expand(&table(
            "name = \"b\"\n[matrix]\n\"stack.services.producer.batch.size\" = [16384, 65536]\n\"stack.services.producer.compression.type\" = [\"none\", \"lz4\", \"zstd\"]\n",
        ))
        .unwrap();
        assert_eq!(variants.len(), 6);
        assert_eq!(variants[0].name, "batch.size=16384,compression.type=none");
    }

    #[test]
    fn more_variants_than_can_run_is_an_error_before_they_are_built() {
        let values = "[1, 2, 3, 4, 5, 6, 7, 8, 9]";
        let text = format!("name = \"m\"\n[matrix]\n\"load.max_loops\" = {values}\n\"load.max_timeouts\" = {values}\n\"load.probe_interval_ms\" = {values}\n");
        let err = expand(&table(&text)).unwrap_err();
        assert!(err.starts_with("matrix: 9 \"load.max_loops\" × 9 \"load.max_timeouts\" × 9 \"load.probe_interval_ms\" make more than 256"), "{err}");
        let two = format!("name = \"m\"\n[matrix]\n\"load.max_loops\" = {values}\n\"load.max_timeouts\" = {values}\n");
        assert_eq!(expand(&table(&two)).unwrap().len(), 81);
    }

    #[test]
    fn values_that_cannot_name_a_folder_make_variant_names_that_can_the_same_way_every_time() {
        let text = "name = \"j\"\n[matrix]\n\"stack.kafka_jvm_opts\" = [\"../../x\", \"-Xms1g /y\"]\n";
        let names: Vec<String> = expand(&table(text)).unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["kafka_jvm_opts=.._.._x", "kafka_jvm_opts=-Xms1g__y"]);
        let long = format!("name = \"j\"\n[matrix]\n\"stack.kafka_jvm_opts\" = [\"{}\"]\n", "x".repeat(200));
        let err = expand(&table(&long)).unwrap_err();
        assert!(err.starts_with("matrix: variant name \"kafka_jvm_opts=xxx"), "{err}");
    }

    #[test]
    fn a_path_into_a_value_is_an_error() {
        let err = expand(&table("name = \"b\"\n[matrix]\n\"name.x\" = [1]\n")).unwrap_err();
        assert!(err.contains("name.x"), "{err}");
        let err = expand(&table("name = \"b\"\n[matrix]\n\"stack.nope\" = [1]\n")).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = expand(&table("name = \"b\"\n[matrix]\n\"stack.brokers\" = []\n")).unwrap_err();
        assert!(err.contains("stack.brokers"), "{err}");
    }
}
