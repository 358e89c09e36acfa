//! Image references (`sightline_report::image_ref`) and the registry client's reference built
//! from them (`sightline-image`). A parsed reference written back out must parse to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_report::image_ref::ImageReference;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = ImageReference::parse(input);
    let client = sightline_image::fuzzing::reference(input);
    assert_eq!(
        parsed.is_ok(),
        client.is_some(),
        "the two entry points disagree on {input:?}"
    );
    if let Ok(r) = parsed {
        let _ = r.is_docker_hub();
        let mut again = format!("{}/{}", r.registry, r.repository);
        if let Some(t) = &r.tag {
            again = format!("{again}:{t}");
        }
        if let Some(d) = &r.digest {
            again = format!("{again}@{d}");
        }
        let reparsed = ImageReference::parse(&again).unwrap_or_else(|e| {
            panic!("{input:?} parsed, its normal form {again:?} does not: {e}")
        });
        assert_eq!(reparsed, r, "{input:?} -> {again:?}");
    }
});
