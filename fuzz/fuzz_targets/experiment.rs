//! An experiment file's text through parsing, validation and matrix expansion, then what `bench run --dry-run`
//! and `bench matrix` compute from each variant.
#![no_main]

use std::path::Path;

use harness::experiment::{estimate, ExperimentFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match ExperimentFile::parse(Path::new("fuzz.toml"), text) {
        Ok(file) => {
            for v in &file.variants {
                let _ = estimate::Bound::of(&v.experiment).total();
                let _ = estimate::max_generators(&v.experiment);
            }
            let _ = file.external(&file.variants).map_err(|e| e.to_string());
        }
        Err(e) => drop(e.to_string()),
    }
});
