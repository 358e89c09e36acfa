//! The real test registries and images (shared/scripts/test-images.sh).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::env_or;

/// Environment of the real test images (defaults = test-images.sh defaults).
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// The plain registry (`127.0.0.1:5000`).
    pub registry: String,
    /// The htpasswd registry (`127.0.0.1:5001`).
    pub auth_registry: String,
    /// A docker config with the auth registry's credentials.
    pub docker_config: PathBuf,
    /// The OCI layout holding every test image by tag.
    pub oci_layout: PathBuf,
    /// A `docker save` archive of `bookworm-curl`.
    pub archive: PathBuf,
}

/// The test environment, or `None` (test skipped loudly) when the registry is not up and
/// `SIGHTLINE_REQUIRE_REGISTRY` is unset. With it set (CI), a missing registry fails.
pub fn env() -> Option<TestEnv> {
    let e = TestEnv {
        registry: env_or("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
        auth_registry: env_or("SIGHTLINE_TEST_AUTH_REGISTRY", "127.0.0.1:5001"),
        docker_config: env_or(
            "SIGHTLINE_TEST_DOCKER_CONFIG",
            "/var/tmp/sightline-test/auth/config.json",
        )
        .into(),
        oci_layout: env_or("SIGHTLINE_TEST_OCI_LAYOUT", "/var/tmp/sightline-test/oci").into(),
        archive: env_or(
            "SIGHTLINE_TEST_ARCHIVE",
            "/var/tmp/sightline-test/archives/bookworm-curl.tar",
        )
        .into(),
    };
    let up = std::net::TcpStream::connect(&e.registry).is_ok() && e.oci_layout.is_dir();
    if up {
        return Some(e);
    }
    assert!(
        std::env::var_os("SIGHTLINE_REQUIRE_REGISTRY").is_none(),
        "test registry {} or OCI layout {} missing: run shared/scripts/test-images.sh start",
        e.registry,
        e.oci_layout.display()
    );
    eprintln!("SKIP: test registry not running (shared/scripts/test-images.sh start)");
    None
}

/// Unpacks `layout:tag` into the bundle directory `dest` with umoci (an implementation of
/// layer application independent of sightline's), unless `dest` already holds a rootfs;
/// returns the rootfs.
pub fn umoci_unpack(layout: &Path, tag: &str, dest: &Path) -> PathBuf {
    let rootfs = dest.join("rootfs");
    if !rootfs.is_dir() {
        let out = Command::new("umoci")
            .args(["unpack", "--image", &format!("{}:{tag}", layout.display())])
            .arg(dest)
            .output()
            .expect("umoci (installed by test-images.sh)");
        assert!(
            out.status.success(),
            "umoci unpack {}:{tag}: {}",
            layout.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    rootfs
}
