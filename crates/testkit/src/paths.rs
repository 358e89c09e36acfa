//! Where things are: the workspace, the shared directory next to the checkout (scripts and
//! test data), and a cache directory holding the fixture DB.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Environment value or `default` (the defaults are those of the shared scripts).
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The workspace root (this crate lives in `crates/testkit`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared directory: `SIGHTLINE_SHARED_DIR`, else `../shared` next to the checkout.
fn shared_dir() -> PathBuf {
    match std::env::var_os("SIGHTLINE_SHARED_DIR") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("../shared"),
    }
}

/// The shared scripts (`k8s-cluster.sh`, `test-images.sh`, `lib/`).
pub fn shared_scripts() -> PathBuf {
    shared_dir().join("scripts")
}

/// The shared test data (advisory fixtures, manifests, ...).
pub fn shared_testdata() -> PathBuf {
    shared_dir().join("testdata")
}

/// A cache dir holding `db/trivy.db` + `db/metadata.json` written from the real fixtures,
/// built once per process.
pub fn fixture_cache() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temp dir");
        sightline_vulndb::fixture::write_default_fixture_db(&d.path().join("db"))
            .expect("write the fixture DB");
        d
    })
    .path()
}
