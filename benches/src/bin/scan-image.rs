//! Benchmark: `sightline image` on bookworm-curl from the local registry and from the OCI
//! layout, beside the floor measured in the same run: `gzip -dc` of the same layer blobs.
//! Also DB open + match time in-process, separately.
//!
//! Run: `scripts/bench.sh scan-image` (builds release binaries, starts the registries).
//! Targets (issue 2): full scan <= 1.5x the floor, peak RSS <= 100 MiB.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use sightline_benches::*;

const RUNS: usize = 7;

fn main() {
    let registry = env_or("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000");
    let layout = std::path::PathBuf::from(env_or(
        "SIGHTLINE_TEST_OCI_LAYOUT",
        "/var/tmp/sightline-test/oci",
    ));
    let bin = release_binary();
    let cache = tempfile::tempdir().unwrap();
    sightline_vulndb::fixture::write_default_fixture_db(&cache.path().join("db")).unwrap();
    let cache_s = cache.path().to_str().unwrap().to_string();

    let layers = layout_layers(&layout, "bookworm-curl");
    let compressed: u64 = layers
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "image bookworm-curl: {} layers, {:.1} MiB compressed; {} runs each, median wall, max peak RSS",
        layers.len(),
        compressed as f64 / 1048576.0,
        RUNS
    );

    // Floor: decompress every layer blob, nothing else.
    let floor = median_of(RUNS, || {
        let start = Instant::now();
        let mut rss = 0;
        for (blob, _) in &layers {
            let m = measure(Command::new("gzip").arg("-dc").arg(blob), None);
            rss = rss.max(m.max_rss_kib);
        }
        Measured {
            wall: start.elapsed(),
            max_rss_kib: rss,
        }
    });
    let image_ref = format!("{registry}/library/debian:bookworm-curl");
    let layout_ref = format!("oci:{}:bookworm-curl", layout.display());
    let scan = |extra: &[&str]| {
        let mut c = Command::new(&bin);
        c.args([
            "-q",
            "image",
            "--skip-db-update",
            "--cache-dir",
            &cache_s,
            "--format",
            "json",
        ]);
        c.args(extra);
        measure(&mut c, None)
    };
    let reg = median_of(RUNS, || scan(&[&image_ref]));
    let oci = median_of(RUNS, || scan(&["--input", &layout_ref]));

    // DB open + match, in-process, on the inventory of the same image.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let source = sightline_image::ImageSource::from_input(&layout_ref).unwrap();
    let inv = rt
        .block_on(sightline_scan::scan_image(
            &source,
            &Default::default(),
            Arc::new(sightline_image::NoProgress),
        ))
        .unwrap();
    let mut opens = Vec::new();
    let mut matches = Vec::new();
    let mut findings = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let (db, _) = sightline_vulndb::VulnDb::open_cache(cache.path()).unwrap();
        opens.push(t.elapsed());
        let t = Instant::now();
        let r = sightline_scan::build_report(&inv, &db, &Default::default(), chrono::Utc::now())
            .unwrap();
        matches.push(t.elapsed());
        findings = r
            .report
            .results
            .iter()
            .map(|r| r.vulnerabilities.len())
            .sum();
    }

    let ratio = |m: Measured| m.wall.as_secs_f64() / floor.wall.as_secs_f64();
    println!(
        "{:<44} {:>9} {:>8} {:>12}",
        "what", "wall", "x floor", "peak RSS"
    );
    println!(
        "{:<44} {:>8.3}s {:>8} {:>8.1} MiB",
        "floor: gzip -dc of the layer blobs",
        floor.wall.as_secs_f64(),
        "1.00",
        mib(floor.max_rss_kib)
    );
    println!(
        "{:<44} {:>8.3}s {:>8.2} {:>8.1} MiB",
        "sightline image (registry 127.0.0.1)",
        reg.wall.as_secs_f64(),
        ratio(reg),
        mib(reg.max_rss_kib)
    );
    println!(
        "{:<44} {:>8.3}s {:>8.2} {:>8.1} MiB",
        "sightline image (OCI layout)",
        oci.wall.as_secs_f64(),
        ratio(oci),
        mib(oci.max_rss_kib)
    );
    println!(
        "DB open (median) {:.2} ms, match {} packages -> {} findings (median) {:.2} ms",
        median(opens).as_secs_f64() * 1e3,
        inv.inventory.os_packages.len(),
        findings,
        median(matches).as_secs_f64() * 1e3
    );
    let ok = ratio(reg) <= 1.5
        && ratio(oci) <= 1.5
        && reg.max_rss_kib <= 100 * 1024
        && oci.max_rss_kib <= 100 * 1024;
    println!(
        "target (<= 1.5x floor, peak RSS <= 100 MiB): {}",
        if ok { "MET" } else { "NOT MET" }
    );
}
