//! Helpers shared by the benchmark binaries: timing child processes with their peak RSS,
//! medians, and locating the test images.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[allow(unsafe_code)]
mod sys;
pub use sys::wait_rusage;

/// Wall time and peak resident set size of one child process run.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall-clock time.
    pub wall: Duration,
    /// Peak RSS in KiB (from `wait4`'s rusage).
    pub max_rss_kib: u64,
}

/// Runs `cmd` to completion with stdout/stderr discarded (stdout to `stdout_to` when given),
/// returning wall time and peak RSS, measured by the small `rss-run` parent (see there).
/// Panics when the command fails: a benchmark of a failing command means nothing.
pub fn measure(cmd: &mut Command, stdout_to: Option<&Path>) -> Measured {
    let out = tempfile::NamedTempFile::new().expect("temp file");
    let rss_run = std::env::current_exe()
        .expect("current exe")
        .with_file_name("rss-run");
    assert!(
        rss_run.exists(),
        "{} missing: build the benches crate",
        rss_run.display()
    );
    let mut wrapped = Command::new(rss_run);
    wrapped
        .arg(out.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    wrapped.stderr(Stdio::null());
    match stdout_to {
        Some(p) => wrapped.stdout(std::fs::File::create(p).expect("stdout file")),
        None => wrapped.stdout(Stdio::null()),
    };
    let status = wrapped.status().expect("run rss-run");
    assert!(status.success(), "rss-run failed for {cmd:?}");
    let text = std::fs::read_to_string(out.path()).expect("rss-run output");
    let f: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(f[2], 0, "{cmd:?} failed with exit code {}", f[2]);
    Measured {
        wall: Duration::from_nanos(f[1]),
        max_rss_kib: f[0],
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

pub use sightline_testkit::env_or;

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
