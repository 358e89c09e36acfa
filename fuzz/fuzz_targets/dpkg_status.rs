//! dpkg `status` / distroless `status.d/*` files, through the analyzer entry point.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sightline_fuzz::use_inventory;
use sightline_inventory::MemFiles;

fuzz_target!(|data: &[u8]| {
    for path in ["var/lib/dpkg/status", "var/lib/dpkg/status.d/base"] {
        let files = MemFiles(BTreeMap::from([
            (path.to_string(), data.to_vec()),
            ("etc/debian_version".to_string(), b"12.15\n".to_vec()),
        ]));
        let inv = sightline_inventory::analyze(&files).expect("in-memory files read");
        use_inventory(&inv);
    }
});
