//! The scan-Job result line the operator parses from a Pod log (`sightline_scan::job_result`):
//! the bytes as a whole log, then as the JSON payload of a well-framed line (gzip, length,
//! sha256 and base64 right, so the JSON reaches the decoder). A decoded scan must survive
//! `encode` → `decode` unchanged, and is then built into a report (no DB: its secrets part).
#![no_main]

use std::io::Write;

use base64::Engine as _;
use chrono::TimeZone;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use sightline_scan::job_result::{self, ResultError};
use sightline_scan::ImageScan;

fn frame(json: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(json).expect("in-memory write");
    let packed = gz.finish().expect("in-memory write");
    format!(
        "scanner log line\n{} {} {} {} {}\n",
        job_result::MARKER,
        job_result::VERSION,
        json.len(),
        hex::encode(Sha256::digest(json)),
        base64::engine::general_purpose::STANDARD.encode(packed)
    )
}

fn use_result(result: Result<ImageScan, ResultError>) {
    match result {
        Ok(scan) => {
            let again = job_result::decode(&job_result::encode(&scan)).expect("own line decodes");
            assert_eq!(again, scan, "ImageScan encode/decode round trip");
            let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            let filters = sightline_detect::Filters::default();
            if let Ok(built) = sightline_scan::build_report_with(&scan, None, &filters, now) {
                let _ = serde_json::to_vec(&built.report).expect("a report serialises");
            }
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    use_result(job_result::decode(&String::from_utf8_lossy(data)));
    use_result(job_result::decode(&frame(data)));
});
