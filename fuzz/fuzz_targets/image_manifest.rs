//! Manifest / index / image-config JSON (`sightline-image` `manifest.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sightline_image::fuzzing::manifest(data);
});
