//! Docker `config.json` / pull-secret configs as the scanner reads them
//! (`sightline-image` `auth::from_docker_config`, the parser a scan Job applies to the merged
//! pull Secret the operator mounts).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sightline_image::fuzzing::docker_config(data);
});
