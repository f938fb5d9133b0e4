//! The nightly matrix runs each variant on its own machine and reports over the merged results: that report must
//! be exactly the one the same files give on one machine, whatever folders they come from and in whatever order.

use crate::support::{bench, Within, QUICK};

use std::path::Path;

use harness::testing::synthetic::Synthetic;

const VARIANTS: [&str; 3] = ["linger.ms=0", "linger.ms=10", "linger.ms=100"];

fn write_variant(results: &Path, variant_index: usize) {
    for repeat in 1..=3 {
        Synthetic {
            experiment: "nightly",
            variant: VARIANTS[variant_index],
            repeat,
            hostname: &format!("runner-{variant_index}"),
            loops: 300 + 40 * repeat,
            loops_per_generator: 30,
            containers: &["kgb-kafka-1", "kgb-command-handler"],
            base_ms: 10.0 + 5.0 * variant_index as f64,
            seed: (variant_index as u64) * 10 + u64::from(repeat),
        }
        .write(results)
        .expect("synthetic run written");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            assert!(!target.exists(), "{} would be overwritten by the merge", target.display());
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The page and the JSON of a report, without the one thing that must differ: the inputs it names as its sources.
fn report(dir: &Path, args: &[&str], out: &str) -> (String, String) {
    let out = dir.join(out);
    let run = bench().current_dir(dir).arg("report").args(args).arg("--out").arg(&out).output_within(QUICK);
    assert!(run.status.success(), "bench report {args:?}: {}", String::from_utf8_lossy(&run.stderr));
    let html = std::fs::read_to_string(&out).expect("html");
    let (before, rest) = html.split_once("Runs read from: ").expect("the page names its sources");
    let html = format!("{before}{}", rest.split_once(".\n").map_or("", |(_, after)| after));
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).expect("json")).expect("json");
    let sources = json.as_object_mut().and_then(|o| o.remove("sources")).expect("the JSON names its sources");
    let named: Vec<&str> = sources.as_array().expect("a list").iter().filter_map(|s| s.as_str()).collect();
    assert_eq!(named, args.iter().take_while(|a| !a.starts_with("--")).copied().collect::<Vec<_>>());
    (html, json.to_string())
}

#[test]
fn results_merged_from_several_machines_report_exactly_as_on_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::write(d.join("nightly.toml"), "name = \"nightly\"\n").expect("experiment");
    for i in 0..VARIANTS.len() {
        write_variant(&d.join("one"), i);
        write_variant(&d.join(format!("machine-{i}/results")), i);
    }
    // What the workflow's download step does: every machine's results/ poured into one folder.
    std::fs::create_dir_all(d.join("merged")).expect("mkdir");
    for i in 0..VARIANTS.len() {
        copy_tree(&d.join(format!("machine-{i}/results")), &d.join("merged"));
    }

    let one = report(d, &["nightly.toml", "--results", "one"], "one/report.html");
    let merged = report(d, &["nightly.toml", "--results", "merged"], "merged/report.html");
    let folders = report(d, &["machine-2/results", "machine-0/results", "machine-1/results"], "folders.html");
    assert!(one.0.contains("nightly/linger.ms=10/"), "runs are named by experiment, variant and file");
    assert!(one.1.contains("\"linger.ms=100\""), "every variant is in the report");
    assert_eq!(one.1, merged.1, "JSON of merged results differs from one machine's");
    assert_eq!(one.0, merged.0, "page of merged results differs from one machine's");
    assert_eq!(one.1, folders.1, "JSON from several folders differs from one machine's");
    assert_eq!(one.0, folders.0, "page from several folders differs from one machine's");
}
