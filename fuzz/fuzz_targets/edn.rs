//! A 2019 EDN file's text through the EDN reader and, as a run, into the rows the report draws.
#![no_main]

use std::path::Path;

use harness::report::edn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = edn::parse(text);
    let _ = edn::run_from_text(Path::new("fuzz.edn"), text, "2019 fuzz").map_err(|e| e.to_string());
});
