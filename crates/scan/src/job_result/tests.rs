use sightline_inventory::{Inventory, OsFamily, OsInfo, Package};
use sightline_report::report::{DetectedSecret, ScanResult, CLASS_SECRET};

use super::*;

// Field by field, so fields added to ImageScan later need no change here.
#[allow(clippy::field_reassign_with_default)]
fn sample() -> ImageScan {
    let mut inventory = Inventory {
        os: Some(OsInfo {
            family: OsFamily::Debian,
            name: "12.15".into(),
        }),
        ..Default::default()
    };
    for i in 0..500 {
        inventory.os_packages.push(Package::new(
            &format!("pkg{i}"),
            "1.0-1",
            "src",
            "1.0-1",
            "var/lib/dpkg/status",
        ));
    }
    let mut scan = ImageScan::default();
    scan.artifact_name = "127.0.0.1:5000/library/debian:bookworm-curl".into();
    scan.image_id = "sha256:00".into();
    scan.repo_digests = vec!["127.0.0.1:5000/library/debian@sha256:11".into()];
    scan.diff_ids = vec!["sha256:22".into()];
    scan.config = serde_json::json!({"architecture": "amd64"});
    scan.inventory = inventory;
    scan
}

/// `n` secret findings in one file.
fn secrets(n: usize) -> Option<Vec<ScanResult>> {
    Some(vec![ScanResult {
        target: "/app/.env".into(),
        class: CLASS_SECRET.into(),
        secrets: vec![
            DetectedSecret {
                rule_id: "generic-token".into(),
                ..Default::default()
            };
            n
        ],
        ..Default::default()
    }])
}

#[test]
fn round_trips_through_an_interleaved_log() {
    let scan = sample();
    let line = encode(&scan);
    assert!(
        line.len() < 20_000,
        "500 packages compress well: {} bytes",
        line.len()
    );
    let log = format!("INFO pulling\nprogress 10%\n{line}\nWARN something on stderr\n");
    assert_eq!(decode(&log).unwrap(), scan);
}

#[test]
fn failures_are_classified() {
    let line = encode_failure(
        FailureReason::Auth,
        "127.0.0.1:5001: authentication failed (401 Unauthorized)",
    );
    let log = format!("INFO pulling\n{line}\n");
    let err = decode(&log).unwrap_err();
    assert_eq!(
        err,
        ResultError::ScanFailed {
            reason: FailureReason::Auth,
            message: "127.0.0.1:5001: authentication failed (401 Unauthorized)".into()
        }
    );
    assert_eq!(err.reason(), FailureReason::Auth);
    let e = crate::ScanError::Image(sightline_image::ImageError::Timeout {
        registry: "r".into(),
        timeout: std::time::Duration::from_secs(1),
        during: "x".into(),
    });
    assert_eq!(FailureReason::of(&e), FailureReason::Registry);
    // An unknown reason word (a newer scanner) counts as internal.
    let odd = format!("{ERROR_MARKER} {VERSION} cosmic_ray \"bit flip\"");
    assert_eq!(decode(&odd).unwrap_err().reason(), FailureReason::Internal);
    assert_eq!(
        decode("nothing").unwrap_err().reason(),
        FailureReason::BadResult
    );
}

#[test]
fn reasons_round_trip_through_their_label() {
    for r in FailureReason::ALL {
        assert_eq!(FailureReason::parse(r.as_str()), Some(r));
        assert_eq!(r.to_string(), r.as_str());
    }
    assert_eq!(FailureReason::parse("nope"), None);
}

#[test]
fn damaged_logs_are_refused_clearly() {
    let line = encode(&sample());
    assert_eq!(decode("INFO nothing here\n"), Err(ResultError::Missing));
    let truncated = &line[..line.len() - 40];
    assert!(matches!(decode(truncated), Err(ResultError::Corrupt(_))));
    let v2 = line.replacen(" v1 ", " v2 ", 1);
    assert!(matches!(decode(&v2), Err(ResultError::Version { .. })));
    let bad_digest = {
        let mut p: Vec<&str> = line.split(' ').collect();
        let zeros = "0".repeat(64);
        p[3] = &zeros;
        p.join(" ")
    };
    assert_eq!(
        decode(&bad_digest),
        Err(ResultError::Corrupt(Corruption::Digest))
    );
    assert_eq!(
        decode(&format!("{MARKER} {VERSION} 12")),
        Err(ResultError::Corrupt(Corruption::MissingField("digest")))
    );
}

#[test]
fn an_announced_size_over_the_cap_is_refused_before_decoding() {
    let huge = format!("{MARKER} {VERSION} 999999999999 00 AAAA");
    let err = decode(&huge).unwrap_err();
    assert_eq!(
        err,
        ResultError::TooLarge(OverLimit {
            limit: Limit::DecodedBytes,
            found: 999_999_999_999,
            max: MAX_DECODED_BYTES,
        })
    );
    assert_eq!(err.reason(), FailureReason::BadResult);
    let msg = err.to_string();
    assert!(
        msg.contains("999999999999 bytes of JSON, over the cap of 67108864"),
        "{msg}"
    );
}

#[test]
fn caps_agree_with_each_other() {
    // The longest line a result of MAX_DECODED_BYTES can give passes the encoded cap, and
    // the log limit leaves room for the scanner's other lines.
    const {
        assert!(MAX_ENCODED_BYTES > MAX_DECODED_BYTES / 3 * 4);
        assert!(MAX_ENCODED_BYTES < MAX_DECODED_BYTES / 3 * 4 + (1 << 20));
        assert!(MAX_LOG_BYTES as usize > MAX_ENCODED_BYTES);
    }
    // Incompressible input: gzip's output stays under the packed bound.
    let noise: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&noise).unwrap();
    let packed = gz.finish().unwrap();
    assert!(packed.len() <= noise.len() + noise.len() / 1024 + 1024);
}

#[test]
fn sizes_at_the_cap_pass_and_over_it_are_refused() {
    let line = encode(&sample());
    let json_len = serde_json::to_vec(&sample()).unwrap().len();
    let at = Limits {
        encoded_bytes: line.len(),
        decoded_bytes: json_len,
        ..Limits::DEFAULT
    };
    assert_eq!(decode_with(&line, &at).unwrap(), sample());

    let short_line = Limits {
        encoded_bytes: line.len() - 1,
        ..at
    };
    let err = decode_with(&line, &short_line).unwrap_err();
    assert!(
        matches!(&err, ResultError::TooLarge(o) if o.limit == Limit::EncodedBytes),
        "{err}"
    );
    assert!(
        err.to_string().contains("bytes in its result line"),
        "{err}"
    );

    let small_json = Limits {
        decoded_bytes: json_len - 1,
        ..at
    };
    let err = decode_with(&line, &small_json).unwrap_err();
    assert_eq!(
        err,
        ResultError::TooLarge(OverLimit {
            limit: Limit::DecodedBytes,
            found: json_len,
            max: json_len - 1
        })
    );
}

#[test]
fn package_and_finding_counts_at_the_cap_pass_and_over_it_are_refused() {
    // The real caps, checked on a scan built in memory (encoding 500,000 packages would
    // only test gzip's speed).
    let mut scan = sample();
    let pkg = scan.inventory.os_packages[0].clone();
    scan.inventory.os_packages = vec![pkg.clone(); MAX_PACKAGES];
    scan.secrets = secrets(MAX_SECRET_FINDINGS);
    assert_eq!(check_counts(&scan, &Limits::DEFAULT), Ok(()));

    scan.inventory.os_packages.push(pkg);
    let err = ResultError::from(check_counts(&scan, &Limits::DEFAULT).unwrap_err());
    assert_eq!(
        err.to_string(),
        "the scan Job's result is refused: 500001 packages, over the cap of 500000; the inventory is not stored"
    );
    scan.inventory.os_packages.pop();

    if let Some(results) = scan.secrets.as_mut() {
        results.push(secrets(1).unwrap().remove(0));
    }
    assert_eq!(
        check_counts(&scan, &Limits::DEFAULT),
        Err(OverLimit {
            limit: Limit::SecretFindings,
            found: MAX_SECRET_FINDINGS + 1,
            max: MAX_SECRET_FINDINGS
        })
    );

    // Through the decoder, with small caps.
    let mut small = sample();
    small.secrets = secrets(3);
    let line = encode(&small);
    let at = Limits {
        packages: 500,
        secret_findings: 3,
        ..Limits::DEFAULT
    };
    assert_eq!(decode_with(&line, &at).unwrap(), small);
    let over = [
        (
            Limits {
                packages: 499,
                ..at
            },
            Limit::Packages,
        ),
        (
            Limits {
                secret_findings: 2,
                ..at
            },
            Limit::SecretFindings,
        ),
    ];
    for (limits, limit) in over {
        let err = decode_with(&line, &limits).unwrap_err();
        assert!(
            matches!(&err, ResultError::TooLarge(o) if o.limit == limit),
            "{err}"
        );
    }
}
