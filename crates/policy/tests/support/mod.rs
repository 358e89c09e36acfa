//! Shared helpers of the policy crate's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sightline_policy::{CheckResult, PolicyEngine};

/// `../shared/testdata` next to the checkout (or `$SIGHTLINE_SHARED_DIR/testdata`).
pub fn shared_testdata() -> PathBuf {
    match std::env::var_os("SIGHTLINE_SHARED_DIR") {
        Some(d) => PathBuf::from(d).join("testdata"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    }
}

/// The built-in engine, compiled once per test binary.
pub fn engine() -> &'static PolicyEngine {
    static E: OnceLock<PolicyEngine> = OnceLock::new();
    E.get_or_init(|| PolicyEngine::builtin().expect("built-in checks compile"))
}

/// IDs of the failed checks among `results`, sorted.
pub fn failed_ids(results: &[CheckResult]) -> Vec<String> {
    let mut v: Vec<String> = results
        .iter()
        .filter(|r| r.failed())
        .map(|r| r.check.id.clone())
        .collect();
    v.sort();
    v
}
