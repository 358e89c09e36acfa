//! Table tests: hundreds of real version pairs whose expected order was
//! produced by the real `dpkg` and `apk` binaries (see testdata/gen-*.sh), plus
//! explicit, hand-reasoned edge cases.

mod common;

use std::cmp::Ordering::{self, Equal, Greater, Less};

use common::{invalid, pairs, rows};
use sightline_version::{apk, compare, dpkg, validate, Scheme, VersionError};

/// Checks every row in both directions; reports all mismatches at once.
fn check_table(scheme: Scheme, min_rows: usize) {
    let rows = rows(pairs(scheme));
    assert!(
        rows.len() >= min_rows,
        "{scheme}: only {} rows, expected at least {min_rows}",
        rows.len()
    );
    let mut failures = Vec::new();
    for r in &rows {
        let forward = compare(scheme, r.a, r.b);
        let backward = compare(scheme, r.b, r.a);
        if forward != Ok(r.expected) || backward != Ok(r.expected.reverse()) {
            failures.push(format!(
                "line {}: {:?} vs {:?}: expected {:?}, got {:?} / reversed {:?}",
                r.line, r.a, r.b, r.expected, forward, backward
            ));
        }
        for v in [r.a, r.b] {
            if compare(scheme, v, v) != Ok(Equal) {
                failures.push(format!("line {}: {v:?} is not equal to itself", r.line));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{scheme}: {} of {} rows wrong:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

fn check_invalid(scheme: Scheme, list: &str, min: usize) {
    let list = invalid(list);
    assert!(
        list.len() >= min,
        "{scheme}: only {} invalid cases",
        list.len()
    );
    for v in list {
        let err = compare(scheme, v, "1").expect_err(v);
        assert_eq!(err.scheme, scheme.name(), "{v:?}");
        assert_eq!(err.version, v);
        assert!(!err.reason.is_empty(), "{v:?}");
        assert_eq!(compare(scheme, "1", v), Err(err.clone()), "{v:?}");
        assert_eq!(validate(scheme, v), Err(err), "{v:?}");
    }
}

#[test]
fn dpkg_pairs_match_real_dpkg() {
    check_table(Scheme::Dpkg, 1500);
}

#[test]
fn apk_pairs_match_real_apk_tools() {
    check_table(Scheme::Apk, 800);
}

#[test]
fn dpkg_bad_syntax_is_an_error() {
    check_invalid(Scheme::Dpkg, common::DPKG_INVALID, 20);
}

#[test]
fn apk_rejected_versions_are_errors() {
    check_invalid(Scheme::Apk, common::APK_INVALID, 30);
}

fn cmp(scheme: Scheme, a: &str, b: &str) -> Ordering {
    let r = compare(scheme, a, b).unwrap_or_else(|e| panic!("{a:?} vs {b:?}: {e}"));
    assert_eq!(
        compare(scheme, b, a).unwrap(),
        r.reverse(),
        "{a:?} vs {b:?} not antisymmetric"
    );
    r
}

/// Asserts `versions` is strictly increasing under `scheme`, pairwise.
fn assert_increasing(scheme: Scheme, versions: &[&str]) {
    for (i, a) in versions.iter().enumerate() {
        for b in &versions[i + 1..] {
            assert_eq!(cmp(scheme, a, b), Less, "{a:?} < {b:?}");
        }
    }
}

#[test]
fn dpkg_edge_cases() {
    let d = |a, b| cmp(Scheme::Dpkg, a, b);
    // Epoch beats everything after it; no epoch is epoch 0.
    assert_eq!(d("1:1.0", "2.0"), Greater);
    assert_eq!(d("0:1.0", "1.0"), Equal);
    assert_eq!(d("1:0", "0:99999"), Greater);
    // `~` sorts before anything, even the end of the string.
    assert_eq!(d("1.0~rc1", "1.0"), Less);
    assert_eq!(d("1.0~~", "1.0~"), Less);
    assert_eq!(d("1.0~~a", "1.0~"), Less);
    assert_increasing(
        Scheme::Dpkg,
        &[
            "1.0~~",
            "1.0~~a",
            "1.0~",
            "1.0~beta1",
            "1.0~rc1",
            "1.0",
            "1.0a",
            "1.0+",
            "1.0.1",
        ],
    );
    // Revisions: numeric, absent == 0, binNMU and stable updates.
    assert_eq!(d("1.0-2", "1.0-10"), Less);
    assert_eq!(d("1.0-0", "1.0"), Equal);
    assert_eq!(d("1.0-1", "1.0"), Greater);
    assert_increasing(
        Scheme::Dpkg,
        &[
            "1.0-1~deb12u1",
            "1.0-1",
            "1.0-1+b1",
            "1.0-1+deb11u1",
            "1.0-1+deb12u1",
            "1.0-1+deb12u2",
            "1.0-1+deb12u10",
            "1.0-2~deb12u1",
        ],
    );
    // Native packages (no revision) and real stable-security fixes.
    assert_eq!(d("3.134", "3.134-1"), Less);
    assert_eq!(d("12.4+deb12u15", "12.4+deb12u9"), Greater);
    assert_eq!(d("3.0.17-1~deb12u2", "3.0.11-1~deb12u2"), Greater);
    assert_eq!(d("2.36-9+deb12u10", "2.36-9+deb12u9"), Greater);
    // Digit runs are numeric (leading zeros ignored, no size limit).
    assert_eq!(d("1.01", "1.1"), Equal);
    assert_eq!(d("1.2.3", "1.2.10"), Less);
    assert_eq!(
        d("12345678901234567890123", "12345678901234567890124"),
        Less
    );
    // The last hyphen splits the revision; colons after the epoch are upstream.
    assert_eq!(d("1.0-1-1", "1.0-1.1"), Greater);
    assert_eq!(d("1:2:3", "1:2.3"), Greater);
    // Blanks around a version are trimmed, as dpkg does.
    assert_eq!(d(" 1.0-1\t", "1.0-1"), Equal);
}

#[test]
fn dpkg_invalid_inputs_are_errors_not_panics() {
    for v in [
        "",
        " ",
        "a1.0",
        "1.0-",
        "1:",
        ":1",
        "1.0:1",
        "2147483648:1",
        "99999999999999999999999:1",
        "1.0_1",
        "1 0",
        "1.0\n",
        "1.0é",
        "\u{0}",
        // dpkg's strtol() accepts a signed epoch; Debian policy says unsigned.
        "+1:1.0",
        "-0:1.0",
    ] {
        let e = dpkg::validate(v).expect_err(v);
        assert_eq!(
            e,
            VersionError {
                scheme: "dpkg",
                version: v.to_owned(),
                reason: e.reason.clone()
            }
        );
    }
    assert_eq!(
        compare(Scheme::Dpkg, "", "1.0").unwrap_err().reason,
        "version string is empty"
    );
}

#[test]
fn apk_edge_cases() {
    let a = |x, y| cmp(Scheme::Apk, x, y);
    // trivy-db stores FixedVersion "0" for "never vulnerable".
    assert_eq!(a("1.2-r0", "0"), Greater);
    assert_eq!(a("0_alpha", "0"), Less);
    // Suffix order, each with an optional number (absent < 0).
    assert_increasing(
        Scheme::Apk,
        &[
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_alpha10",
            "1.0_beta",
            "1.0_beta2",
            "1.0_pre",
            "1.0_pre1",
            "1.0_rc",
            "1.0_rc0",
            "1.0_rc1",
            "1.0",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_git20200101",
            "1.0_git20210101",
            "1.0_hg",
            "1.0_p",
            "1.0_p0",
            "1.0_p1",
            "1.0_p2",
            "1.0a",
            "1.0b",
            "1.0z",
            "1.0.0",
            "1.0.1",
        ],
    );
    // Revisions are numeric; "no revision" sorts below -r0.
    assert_increasing(
        Scheme::Apk,
        &[
            "1.0", "1.0-r0", "1.0-r1", "1.0-r9", "1.0-r10", "1.0-r99", "1.0-r100",
        ],
    );
    assert_eq!(a("1.1.1l-r0", "1.1.1k-r5"), Greater);
    assert_eq!(a("1.1.1a-r0", "1.1.1-r9"), Greater);
    // A post-release suffix or a commit hash outranks the revision.
    assert_eq!(a("1.0_p1", "1.0-r1"), Greater);
    assert_eq!(a("1.0~abc", "1.0-r1"), Greater);
    assert_eq!(a("1.0~abc", "1.0~abd"), Less);
    assert_eq!(a("1.0_rc1~abc", "1.0"), Less);
    // After the first component, a leading zero makes it a string comparison.
    assert_eq!(a("1.01", "1.1"), Less);
    assert_eq!(a("1.01", "1.001"), Greater);
    assert_eq!(a("1.0", "1.00"), Less);
    assert_eq!(a("1.10", "1.09"), Greater);
    assert_eq!(a("01", "1"), Equal);
    assert_eq!(a("1.2.3", "1.2.10"), Less);
    assert_eq!(a("1.2", "1.2.0"), Less);
    // Numbers wrap at 2^64 like apk-tools' apk_blob_pull_uint().
    assert_eq!(a("18446744073709551616", "0"), Equal);
    assert_eq!(a("99999999999999999999", "1"), Greater);
}

#[test]
fn apk_invalid_inputs_are_errors_not_panics() {
    for v in [
        "",
        " 1.0",
        "1.0 ",
        "1.0-1",
        "1:1.0",
        "1.0_foo",
        "1.0-r",
        "1.0A",
        "1.0~",
        "1.0~ABC",
        "1.0-r1~abc",
        "1.0ab",
        "1.0a1",
        "1..0",
        "1.0.",
        "~",
        "_p1",
        "-r1",
        "1é",
        "1.0\u{0}",
    ] {
        let e = apk::validate(v).expect_err(v);
        assert_eq!((e.scheme, e.version.as_str()), ("apk", v));
        assert!(compare(Scheme::Apk, v, v).is_err(), "{v:?}");
    }
    assert_eq!(
        apk::validate("").unwrap_err().reason,
        "version string is empty"
    );
    assert_eq!(
        apk::validate("1.0_foo").unwrap_err().to_string(),
        r#"invalid apk version "1.0_foo": unexpected "_foo" at byte 3"#
    );
}

#[test]
fn each_scheme_rejects_the_others_syntax() {
    assert!(compare(Scheme::Apk, "1:2.3-1", "1").is_err());
    assert!(compare(Scheme::Apk, "1.0+dfsg", "1").is_err());
    assert!(compare(Scheme::Dpkg, "1.0_p1", "1").is_err());
    // ...but plain versions are valid in both.
    assert_eq!(compare(Scheme::Apk, "1.2.3", "1.2.10"), Ok(Less));
    assert_eq!(compare(Scheme::Dpkg, "1.2.3", "1.2.10"), Ok(Less));
}
