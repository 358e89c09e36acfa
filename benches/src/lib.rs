//! Helpers shared by the benchmark binaries: timing child processes with their peak RSS,
//! medians, and locating the test images.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time and peak resident set size of one child process run.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall-clock time.
    pub wall: Duration,
    /// Peak RSS in KiB (from `wait4`'s rusage).
    pub max_rss_kib: u64,
}

/// Runs `cmd` to completion with stdout/stderr discarded (stdout to `stdout_to` when given),
/// returning wall time and peak RSS. Panics when the command fails: a benchmark of a failing
/// command means nothing.
pub fn measure(cmd: &mut Command, stdout_to: Option<&Path>) -> Measured {
    cmd.stderr(Stdio::null());
    match stdout_to {
        Some(p) => cmd.stdout(std::fs::File::create(p).expect("stdout file")),
        None => cmd.stdout(Stdio::null()),
    };
    let start = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed with status {status}"
    );
    std::mem::forget(child); // already reaped by wait4
    Measured {
        wall,
        max_rss_kib: usage.ru_maxrss as u64,
    }
}

/// The median of `runs` runs of `f`.
pub fn median_of(runs: usize, mut f: impl FnMut() -> Measured) -> Measured {
    let mut v: Vec<Measured> = (0..runs).map(|_| f()).collect();
    v.sort_by_key(|m| m.wall);
    let mut m = v[v.len() / 2];
    m.max_rss_kib = v.iter().map(|m| m.max_rss_kib).max().unwrap_or(0);
    m
}

/// The median of durations.
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Environment value or default (the defaults of `shared/scripts/test-images.sh`).
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The workspace's `target/release/sightline`.
pub fn release_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/sightline");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --release -p sightline-cli` first",
        bin.display()
    );
    bin
}

/// Layer blob paths of `tag` in an OCI layout (base first) and their media types.
pub fn layout_layers(layout: &Path, tag: &str) -> Vec<(PathBuf, String)> {
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        )
        .unwrap()
    };
    let blob = |d: &str| layout.join("blobs").join(d.replace(':', "/"));
    let index = read(layout.join("index.json"));
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("tag {tag} not in {}", layout.display()));
    let manifest = read(blob(desc["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                blob(l["digest"].as_str().unwrap()),
                l["mediaType"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Formats KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
