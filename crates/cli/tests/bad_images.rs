//! Bad input through the whole binary: hostile layers, corrupt blobs, tampered manifests, and
//! a real registry behind a fault-injecting proxy (500s, hangs). Each must be a clear error,
//! exit code 1, no panic, and nothing written outside the scanner's own memory.

mod support;

use std::time::{Duration, Instant};

use sightline_image::test_support::fault_proxy::{start_proxy, Fault};
use sightline_image::test_support::{OciLayoutWriter, TarBuilder, TestLayer, OCI_MANIFEST};
use support::*;

fn debian_base() -> TarBuilder {
    TarBuilder::new()
        .dir("etc")
        .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
        .file("etc/debian_version", "12.15\n")
        .file(
            "var/lib/dpkg/status",
            "Package: apt\nStatus: install ok installed\nVersion: 2.6.1\nArchitecture: amd64\n\n",
        )
}

fn scan_layout(dir: &std::path::Path, tag: &str) -> Run {
    scan_json(&["--input", &format!("oci:{}:{tag}", dir.display())])
}

#[test]
fn a_well_formed_synthetic_image_scans() {
    // The control for the cases below: the same builder, no fault, a real finding.
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    w.add_image("ok", &[TestLayer::gzip(&debian_base().build())])
        .unwrap();
    let run = scan_layout(tmp.path(), "ok");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = findings(&run.json());
    assert!(
        f.iter().any(|f| f.pkg == "apt" && f.id == "CVE-2011-3374"),
        "{f:?}"
    );
}

#[test]
fn path_traversal_entry_is_rejected_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    // Enough `..` to reach `/` from anywhere, then the absolute path of a file that must not appear.
    let escape = format!(
        "{}{}",
        "../".repeat(12),
        victim
            .join("pwned")
            .display()
            .to_string()
            .trim_start_matches('/')
    );
    let mut w = OciLayoutWriter::create(&tmp.path().join("layout")).unwrap();
    let layer = debian_base()
        .file(&escape, "owned")
        .file("../../etc/passwd", "root::0:0::/:/bin/sh\n")
        .build();
    w.add_image("t", &[TestLayer::gzip(&layer)]).unwrap();
    let run = scan_layout(&tmp.path().join("layout"), "t");
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(
        run.stderr.contains("escapes") || run.stderr.contains("hostile"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "no partial report on failure");
    assert!(
        !victim.join("pwned").exists(),
        "a hostile entry reached the host filesystem"
    );
}

#[test]
fn symlink_escape_on_an_analyzed_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let layer = TarBuilder::new()
        .dir("etc")
        .symlink("etc/os-release", "/../../../../etc/os-release")
        .file("etc/debian_version", "12.15\n")
        .build();
    w.add_image("t", &[TestLayer::gzip(&layer)]).unwrap();
    let run = scan_layout(tmp.path(), "t");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("etc/os-release"), "{}", run.stderr);
}

#[test]
fn truncated_gzip_layer_names_the_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let mut b = debian_base();
    for i in 0..64 {
        b = b.file(
            &format!("usr/share/doc/f{i}"),
            format!("{i:04}").repeat(4000),
        );
    }
    let tar = b.build();
    let keep = TestLayer::gzip(&tar).blob.len() / 2;
    let img = w
        .add_image("t", &[TestLayer::truncated_gzip(&tar, keep)])
        .unwrap();
    let run = scan_layout(tmp.path(), "t");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&img.layer_digests[0]), "{}", run.stderr);
}

#[test]
fn manifest_not_matching_its_digest_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let good = w
        .write_image(&[TestLayer::gzip(&debian_base().build())], "amd64")
        .unwrap();
    let evil = w
        .write_image(
            &[TestLayer::gzip(
                &TarBuilder::new()
                    .file("etc/os-release", "ID=alpine\n")
                    .build(),
            )],
            "amd64",
        )
        .unwrap();
    // index.json names the good manifest; its blob now holds the other manifest.
    let evil_bytes = std::fs::read(w.blob_path(&evil.manifest_digest)).unwrap();
    w.overwrite_blob(&good.manifest_digest, &evil_bytes)
        .unwrap();
    w.tag(
        Some("t"),
        OCI_MANIFEST,
        &good.manifest_digest,
        good.manifest_size,
    )
    .unwrap();
    let run = scan_layout(tmp.path(), "t");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("digest") && run.stderr.contains(&good.manifest_digest),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_500_and_hang_are_clear_errors() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env.registry, Fault::Manifest500).await;
    let image = format!("{}/library/debian:bookworm-curl", proxy.addr);
    let run = tokio::task::spawn_blocking(move || scan_json(&[&image]))
        .await
        .unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&proxy.addr) && run.stderr.contains("500"),
        "{}",
        run.stderr
    );

    let hang = start_proxy(&env.registry, Fault::Hang).await;
    let image = format!("{}/library/debian:bookworm-curl", hang.addr);
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || scan_json(&["--timeout", "2s", &image]))
        .await
        .unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the timeout bounds a hung registry"
    );
    assert!(run.stderr.contains(&hang.addr), "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("timed out") || run.stderr.contains("timeout"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layer_corrupted_in_transit_is_a_digest_error() {
    let Some(env) = env() else { return };
    let proxy = start_proxy(&env.registry, Fault::Corrupt("/blobs/".into())).await;
    let image = format!("{}/library/alpine:3.23", proxy.addr);
    let run = tokio::task::spawn_blocking(move || scan_json(&[&image]))
        .await
        .unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("digest") || run.stderr.contains("corrupt"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_overflowing_timeout_is_a_usage_error_naming_the_flag() {
    // Each of these once reached `Duration::from_secs_f64` and panicked (or was accepted).
    for bad in [
        "1e30",
        "99999999999999999999999h",
        &"9".repeat(400),
        "-5s",
        "NaN",
    ] {
        let run = sightline(&["image", &format!("--timeout={bad}"), "debian:12"]);
        assert_eq!(run.code, 2, "--timeout {bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("--timeout"),
            "--timeout {bad}: {}",
            run.stderr
        );
    }
    let run = sightline(&[
        "image",
        "--timeout",
        "99999999999999999999999h",
        "debian:12",
    ]);
    assert!(run.stderr.contains("at most"), "{}", run.stderr);
}
