//! Helpers shared by the fuzz targets: the production adaptors the targets need to chain one
//! parser's output into the next stage (as `sightline-scan` does), nothing that parses.

use sightline_inventory::{Inventory, OsFamily, Package};
use sightline_version::Scheme;

/// An image's merged root filesystem as the analyzers read it (the scan's own adaptor).
pub use sightline_scan::RootfsFiles;

/// What follows an analyzer in a scan: every parsed package version validated and compared
/// with its neighbours and a few fixed versions under the OS family's scheme (what matching
/// against advisories does with them), and the inventory's JSON round trip (what a scan Job
/// prints and the operator stores).
pub fn use_inventory(inv: &Inventory) {
    let scheme = match inv.os.as_ref().map(|o| &o.family) {
        Some(OsFamily::Alpine) => Scheme::Apk,
        _ => Scheme::Dpkg,
    };
    compare_versions(&inv.os_packages, scheme);
    let other = if scheme == Scheme::Apk {
        Scheme::Dpkg
    } else {
        Scheme::Apk
    };
    compare_versions(&inv.os_packages, other);
    let json = serde_json::to_vec(inv).expect("an inventory serialises");
    let back: Inventory = serde_json::from_slice(&json).expect("an inventory reads back");
    assert_eq!(&back, inv, "inventory JSON round trip");
}

fn compare_versions(pkgs: &[Package], scheme: Scheme) {
    for (i, p) in pkgs.iter().take(256).enumerate() {
        let _ = sightline_version::validate(scheme, &p.version);
        let _ = sightline_version::validate(scheme, &p.src_version);
        for fixed in [
            "0",
            "1.0-1",
            "2:1.2.3~rc1-1+deb12u1",
            "1.2.3-r4",
            "1.2_alpha3-r0",
        ] {
            let _ = sightline_version::compare(scheme, &p.version, fixed);
        }
        if let Some(prev) = i.checked_sub(1).map(|j| &pkgs[j]) {
            let ab = sightline_version::compare(scheme, &prev.version, &p.version);
            let ba = sightline_version::compare(scheme, &p.version, &prev.version);
            if let (Ok(ab), Ok(ba)) = (ab, ba) {
                assert_eq!(
                    ab,
                    ba.reverse(),
                    "{scheme} compare is not antisymmetric: {:?} vs {:?}",
                    prev.version,
                    p.version
                );
            }
        }
    }
}

/// The OS family of a trivy-db platform bucket name (`debian 12`, `alpine 3.23`, `ubuntu 22.04`).
pub fn family_of_bucket(bucket: &str) -> Option<(OsFamily, String)> {
    let (name, release) = bucket.split_once(' ')?;
    let family = match name {
        "debian" => OsFamily::Debian,
        "ubuntu" => OsFamily::Ubuntu,
        "alpine" => OsFamily::Alpine,
        _ => return None,
    };
    Some((family, release.to_string()))
}
