//! Analyzers over the real root filesystems built by `shared/scripts/test-images.sh build`.

use std::path::PathBuf;

use sightline_inventory::{analyze, DirFiles, OsFamily};

fn rootfs(var: &str, default: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.to_string()));
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        std::env::var_os("SIGHTLINE_REQUIRE_REGISTRY").is_none(),
        "{} missing: run shared/scripts/test-images.sh build",
        p.display()
    );
    eprintln!(
        "SKIP: {} missing (run shared/scripts/test-images.sh build)",
        p.display()
    );
    None
}

#[test]
fn bookworm_minbase_inventory() {
    let Some(root) = rootfs(
        "SIGHTLINE_TEST_ROOTFS_BOOKWORM",
        "/var/tmp/sightline-test/rootfs-bookworm",
    ) else {
        return;
    };
    let inv = analyze(&DirFiles(root.clone())).unwrap();
    let os = inv.os.clone().unwrap();
    assert_eq!(os.family, OsFamily::Debian);
    let expected_version = std::fs::read_to_string(root.join("etc/debian_version")).unwrap();
    assert_eq!(os.name, expected_version.trim());
    // Every `Package:` stanza of a debootstrap minbase is installed.
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap();
    let stanzas = status
        .lines()
        .filter(|l| l.starts_with("Package: "))
        .count();
    assert_eq!(inv.os_packages.len(), stanzas);
    assert_eq!(stanzas, 88, "the shared README documents 88 packages");
    let sources: std::collections::BTreeSet<_> = inv
        .os_packages
        .iter()
        .map(|p| p.src_name.as_str())
        .collect();
    assert_eq!(
        sources.len(),
        63,
        "the shared README documents 63 source packages"
    );
    let libc = inv.os_packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(libc.src_name, "glibc");
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
}

#[test]
fn alpine_inventory() {
    let Some(root) = rootfs(
        "SIGHTLINE_TEST_ROOTFS_ALPINE",
        "/var/tmp/sightline-test/rootfs-alpine",
    ) else {
        return;
    };
    let inv = analyze(&DirFiles(root)).unwrap();
    let os = inv.os.clone().unwrap();
    assert_eq!(os.family, OsFamily::Alpine);
    assert_eq!(os.platform_bucket().unwrap(), "alpine 3.23");
    assert_eq!(
        inv.os_packages.len(),
        59,
        "the shared README documents 59 packages"
    );
    let origins: std::collections::BTreeSet<_> = inv
        .os_packages
        .iter()
        .map(|p| p.src_name.as_str())
        .collect();
    assert_eq!(origins.len(), 38, "the shared README documents 38 origins");
    let libcrypto = inv
        .os_packages
        .iter()
        .find(|p| p.name == "libcrypto3")
        .unwrap();
    assert_eq!(libcrypto.src_name, "openssl");
}
