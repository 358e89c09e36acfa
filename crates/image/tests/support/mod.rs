//! Shared helpers of the integration tests: the test environment (real registries, OCI
//! layout, archive from `test-images.sh`), skopeo ground truth, a recording `Progress`, and
//! a fault-injecting TCP proxy that sits in front of the REAL registry.

#![allow(dead_code)]

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sightline_image::{FileFilter, Progress};

/// Where the real test components are (`test-images.sh env`).
#[derive(Debug, Clone)]
pub struct Env {
    pub registry: String,
    pub auth_registry: String,
    pub docker_config: PathBuf,
    pub oci_layout: PathBuf,
    pub archive: PathBuf,
    pub rootfs_bookworm: PathBuf,
    pub rootfs_alpine: PathBuf,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

pub fn env() -> Env {
    let cache = var("SIGHTLINE_TEST_CACHE", "/var/tmp/sightline-test");
    Env {
        registry: var("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
        auth_registry: var("SIGHTLINE_TEST_AUTH_REGISTRY", "127.0.0.1:5001"),
        docker_config: var(
            "SIGHTLINE_TEST_DOCKER_CONFIG",
            &format!("{cache}/auth/config.json"),
        )
        .into(),
        oci_layout: var("SIGHTLINE_TEST_OCI_LAYOUT", &format!("{cache}/oci")).into(),
        archive: var(
            "SIGHTLINE_TEST_ARCHIVE",
            &format!("{cache}/archives/bookworm-curl.tar"),
        )
        .into(),
        rootfs_bookworm: var(
            "SIGHTLINE_TEST_ROOTFS_BOOKWORM",
            &format!("{cache}/rootfs-bookworm"),
        )
        .into(),
        rootfs_alpine: var(
            "SIGHTLINE_TEST_ROOTFS_ALPINE",
            &format!("{cache}/rootfs-alpine"),
        )
        .into(),
    }
}

fn reachable(addr: &str) -> bool {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

fn have_skopeo() -> bool {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Skips (loudly) or fails when something the test needs is missing: it fails when
/// `SIGHTLINE_REQUIRE_REGISTRY` is set (CI), skips otherwise.
fn require(test: &str, missing: Vec<String>) -> bool {
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var_os("SIGHTLINE_REQUIRE_REGISTRY").is_some() {
        panic!("{test}: SIGHTLINE_REQUIRE_REGISTRY is set but {what} (run ../shared/scripts/test-images.sh start)");
    }
    eprintln!("SKIP {test}: {what} (run test-images.sh start; set SIGHTLINE_REQUIRE_REGISTRY=1 to fail instead)");
    false
}

/// The environment with both registries up and skopeo installed, or `None` (skip).
pub fn registry_env(test: &str) -> Option<Env> {
    let env = env();
    let mut missing = Vec::new();
    for r in [&env.registry, &env.auth_registry] {
        if !reachable(r) {
            missing.push(format!("no registry at {r}"));
        }
    }
    if !have_skopeo() {
        missing.push("skopeo is not installed".into());
    }
    require(test, missing).then_some(env)
}

/// The environment with the OCI layout, archive and rootfs copies present, or `None`.
pub fn local_env(test: &str) -> Option<Env> {
    let env = env();
    let mut missing = Vec::new();
    for p in [
        &env.oci_layout.join("index.json"),
        &env.archive,
        &env.rootfs_bookworm,
        &env.rootfs_alpine,
    ] {
        if !p.exists() {
            missing.push(format!("{} is missing", p.display()));
        }
    }
    if !have_skopeo() {
        missing.push("skopeo is not installed".into());
    }
    require(test, missing).then_some(env)
}

/// skopeo is needed (tests that build layouts and push or convert them).
pub fn skopeo_or_skip(test: &str) -> bool {
    require(
        test,
        if have_skopeo() {
            vec![]
        } else {
            vec!["skopeo is not installed".into()]
        },
    )
}

/// Runs skopeo, panicking with its stderr on failure.
pub fn skopeo(args: &[&str]) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Ground truth from skopeo: raw manifest bytes (as served) and raw config bytes.
pub struct Truth {
    pub manifest: Vec<u8>,
    pub manifest_json: serde_json::Value,
    pub config: Vec<u8>,
    pub config_json: serde_json::Value,
}

impl Truth {
    pub fn config_digest(&self) -> String {
        self.manifest_json["config"]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    }
    pub fn layer_digests(&self) -> Vec<String> {
        self.manifest_json["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    }
    pub fn diff_ids(&self) -> Vec<String> {
        self.config_json["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    }
}

/// `skopeo inspect --raw` and `--config --raw` of `image` (`docker://...`, `oci:...`).
pub fn truth(image: &str, extra: &[&str]) -> Truth {
    let mut args = vec!["inspect", "--raw"];
    args.extend_from_slice(extra);
    args.push(image);
    let manifest = skopeo(&args);
    let mut args = vec!["inspect", "--config", "--raw"];
    args.extend_from_slice(extra);
    args.push(image);
    let config = skopeo(&args);
    Truth {
        manifest_json: serde_json::from_slice(&manifest).unwrap(),
        manifest,
        config_json: serde_json::from_slice(&config).unwrap(),
        config,
    }
}

/// The files the OS / package analyzers read (with the usual symlink targets).
pub fn os_filter() -> Arc<dyn FileFilter> {
    Arc::new(|path: &str, _size: u64| {
        matches!(
            path,
            "etc/os-release"
                | "usr/lib/os-release"
                | "etc/debian_version"
                | "etc/alpine-release"
                | "var/lib/dpkg/status"
                | "lib/apk/db/installed"
        ) || path.starts_with("var/lib/dpkg/status.d/")
    })
}

/// Keeps everything (small test images only).
pub fn all_files() -> Arc<dyn FileFilter> {
    Arc::new(|_: &str, _: u64| true)
}

/// `Package:` stanzas of a dpkg status file.
pub fn count_packages(status: &[u8]) -> usize {
    String::from_utf8_lossy(status)
        .lines()
        .filter(|l| l.starts_with("Package: "))
        .count()
}

/// `P:` records of an apk installed database.
pub fn count_apk_packages(db: &[u8]) -> usize {
    String::from_utf8_lossy(db)
        .lines()
        .filter(|l| l.starts_with("P:"))
        .count()
}

pub fn read_host(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A [`Progress`] that records every call.
#[derive(Default)]
pub struct Recorder {
    pub started: Mutex<Vec<(String, u64)>>,
    pub bytes: Mutex<std::collections::HashMap<String, u64>>,
    pub finished: Mutex<Vec<String>>,
}

impl Progress for Recorder {
    fn layer_started(&self, digest: &str, size: u64) {
        self.started
            .lock()
            .unwrap()
            .push((digest.to_string(), size));
    }
    fn layer_bytes(&self, digest: &str, n: u64) {
        *self
            .bytes
            .lock()
            .unwrap()
            .entry(digest.to_string())
            .or_default() += n;
    }
    fn layer_finished(&self, digest: &str) {
        self.finished.lock().unwrap().push(digest.to_string());
    }
}

#[allow(unused_imports)]
pub use sightline_image::test_support::fault_proxy::{
    start_proxy, start_proxy_on, Fault, FaultProxy, INJECTED_500_BODY,
};

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> String {
    sightline_image::test_support::sha256_digest(bytes)
}
