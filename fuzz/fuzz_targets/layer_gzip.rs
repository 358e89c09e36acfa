//! gzip layer blobs (multi-member gzip streams of tars) (whiteouts, opaque dirs, symlinks, hardlinks), split into up to four
//! layers at `LAYER_SEPARATOR`, walked and merged into a `Rootfs`, then analyzed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_fuzz::{use_inventory, RootfsFiles};

fuzz_target!(|data: &[u8]| {
    if let Some(rootfs) = sightline_image::fuzzing::layers(data, true) {
        if let Ok(inv) = sightline_inventory::analyze(&RootfsFiles(&rootfs)) {
            use_inventory(&inv);
        }
    }
});
