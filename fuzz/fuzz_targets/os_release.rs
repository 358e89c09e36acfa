//! OS detection: the bytes as each release file alone (os-release, lsb-release,
//! debian_version, alpine-release), then as all of them at once.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use sightline_inventory::{os, MemFiles};

const FILES: &[&str] = &[
    "etc/os-release",
    "usr/lib/os-release",
    "etc/lsb-release",
    "etc/debian_version",
    "etc/alpine-release",
];

fuzz_target!(|data: &[u8]| {
    let _ = os::parse_key_values(&String::from_utf8_lossy(data));
    let mut all = BTreeMap::new();
    for path in FILES {
        let one = MemFiles(BTreeMap::from([(path.to_string(), data.to_vec())]));
        if let Some(info) = os::detect(&one).expect("in-memory files read") {
            let _ = (info.platform_bucket(), info.to_string());
            let _ = sightline_detect::eol::end_of_support(&info);
        }
        all.insert(path.to_string(), data.to_vec());
    }
    if let Some(info) = os::detect(&MemFiles(all)).expect("in-memory files read") {
        let _ = (info.platform_bucket(), info.to_string());
        let json = serde_json::to_string(&info).expect("serialises");
        let back: sightline_inventory::OsInfo = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, info, "OsInfo JSON round trip");
    }
});
