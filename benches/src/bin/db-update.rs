//! Benchmark: `sightline db update` of a realistic ≥ 200 MB trivy.db from the local registry,
//! beside the floor measured in the same run: `skopeo copy` of the same artifact to an OCI
//! layout plus `tar -xzf` of its layer (download + unpack, nothing else).
//!
//! Run: `scripts/bench.sh db-update`. Targets (issue 3): ≤ 1.2× the floor, peak RSS ≤ 64 MiB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sightline_benches::*;
use sightline_vulndb::install::{write_archive, DbKind};
use sightline_vulndb::synthetic::write_synthetic_db;
use sightline_vulndb::Metadata;

const RUNS: usize = 3;
const MIN_DB_BYTES: u64 = 200 << 20;

fn main() {
    let registry = env_or("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000");
    let bin = release_binary();
    let work = PathBuf::from(env_or("SIGHTLINE_BENCH_DIR", "/var/tmp/sightline-bench"));
    let src = work.join("synthetic-db");
    let blob = work.join("db.tar.gz");
    let db_file = src.join("trivy.db");
    if std::fs::metadata(&db_file).map(|m| m.len()).unwrap_or(0) < MIN_DB_BYTES || !blob.exists() {
        let t = Instant::now();
        let mut meta = Metadata::fresh(chrono::Utc::now());
        meta.next_update = Some(chrono::Utc::now() + chrono::Duration::days(365));
        let size = write_synthetic_db(&src, MIN_DB_BYTES, &meta).expect("generate DB");
        write_archive(&src, DbKind::Vuln, std::fs::File::create(&blob).unwrap()).unwrap();
        println!(
            "generated {:.0} MiB trivy.db in {:.1}s",
            size as f64 / 1048576.0,
            t.elapsed().as_secs_f64()
        );
    }
    let db_size = std::fs::metadata(&db_file).unwrap().len();
    let blob_size = std::fs::metadata(&blob).unwrap().len();
    let reference = format!("{registry}/sightline-bench/trivy-db:2");
    sightline_testkit::publish_db_archive(
        &reference,
        std::fs::read(&blob).unwrap(),
        &Default::default(),
        DbKind::Vuln.layer_media_type(),
    );
    println!(
        "artifact {reference}: trivy.db {:.0} MiB, layer {:.0} MiB; {RUNS} runs each, median wall, max peak RSS",
        db_size as f64 / 1048576.0,
        blob_size as f64 / 1048576.0
    );

    let floor = median_of(RUNS, || {
        let tmp = tempfile::tempdir_in(&work).unwrap();
        let layout = tmp.path().join("layout");
        let start = Instant::now();
        let copy = measure(
            Command::new("skopeo")
                .args([
                    "copy",
                    "-q",
                    "--src-tls-verify=false",
                    &format!("docker://{reference}"),
                ])
                .arg(format!("oci:{}:2", layout.display())),
            None,
        );
        let layer = layout_layers(&layout, "2")
            .into_iter()
            .next()
            .expect("one layer")
            .0;
        let out = tmp.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let untar = measure(
            Command::new("tar")
                .arg("-xzf")
                .arg(&layer)
                .arg("-C")
                .arg(&out),
            None,
        );
        Measured {
            wall: start.elapsed(),
            max_rss_kib: copy.max_rss_kib.max(untar.max_rss_kib),
        }
    });
    let ours = median_of(RUNS, || {
        let tmp = tempfile::tempdir_in(&work).unwrap();
        let m = measure(
            Command::new(&bin)
                .args([
                    "-q",
                    "db",
                    "update",
                    "--force",
                    "--db-repository",
                    &reference,
                    "--cache-dir",
                ])
                .arg(tmp.path()),
            None,
        );
        check_installed(tmp.path(), db_size);
        m
    });
    let ratio = ours.wall.as_secs_f64() / floor.wall.as_secs_f64();
    println!(
        "{:<52} {:>9} {:>8} {:>12}",
        "what", "wall", "x floor", "peak RSS"
    );
    println!(
        "{:<52} {:>8.2}s {:>8} {:>8.1} MiB",
        "floor: skopeo copy + tar -xzf",
        floor.wall.as_secs_f64(),
        "1.00",
        mib(floor.max_rss_kib)
    );
    println!(
        "{:<52} {:>8.2}s {:>8.2} {:>8.1} MiB",
        "sightline db update (download, check, verify, swap)",
        ours.wall.as_secs_f64(),
        ratio,
        mib(ours.max_rss_kib)
    );
    let ok = ratio <= 1.2 && ours.max_rss_kib <= 64 * 1024;
    println!(
        "target (<= 1.2x floor, peak RSS <= 64 MiB): {}",
        if ok { "MET" } else { "NOT MET" }
    );
}

fn check_installed(cache: &Path, db_size: u64) {
    let got = std::fs::metadata(cache.join("db/trivy.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(got, db_size, "the update installed the whole DB");
}
