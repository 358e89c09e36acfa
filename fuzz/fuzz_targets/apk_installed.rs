//! apk `lib/apk/db/installed`, through the analyzer entry point.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sightline_fuzz::use_inventory;
use sightline_inventory::MemFiles;

fuzz_target!(|data: &[u8]| {
    let files = MemFiles(BTreeMap::from([
        ("lib/apk/db/installed".to_string(), data.to_vec()),
        ("etc/alpine-release".to_string(), b"3.23.6\n".to_vec()),
    ]));
    let inv = sightline_inventory::analyze(&files).expect("in-memory files read");
    use_inventory(&inv);
});
