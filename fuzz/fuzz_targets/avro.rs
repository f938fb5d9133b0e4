//! A Kafka record's value in the Confluent wire format (magic byte, schema id, Avro body), its body decoded as
//! each of the bank's records: a consumer meets any bytes under any id.
#![no_main]

use std::sync::OnceLock;

use apache_avro::Schema;
use libfuzzer_sys::fuzz_target;
use topology::records::{schema, RECORD_NAMES};
use topology::registry::{decode_body, split_wire};

/// Parsed once: parsing seven schemas per input would be most of the fuzzer's time.
fn schemas() -> &'static [(&'static str, Schema)] {
    static SCHEMAS: OnceLock<Vec<(&'static str, Schema)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| RECORD_NAMES.iter().filter_map(|name| Some((*name, schema(name)?))).collect())
}

fuzz_target!(|data: &[u8]| {
    let Ok((_id, body)) = split_wire(data) else { return };
    for (name, schema) in schemas() {
        let _ = decode_body(name, schema, body).map_err(|e| e.to_string());
    }
});
