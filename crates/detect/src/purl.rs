//! Package URLs (purl spec) for OS packages, in the form Trivy emits.

use sightline_inventory::{OsFamily, OsInfo, Package};

/// `pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12.15` (epoch as a
/// qualifier), `pkg:apk/alpine/musl@1.2.5-r10?arch=x86_64&distro=3.23.6`; empty for
/// families without a purl type.
pub fn os_package(os: &OsInfo, pkg: &Package) -> String {
    let (ty, namespace, distro) = match os.family {
        OsFamily::Debian => ("deb", "debian", format!("debian-{}", os.name)),
        OsFamily::Ubuntu => ("deb", "ubuntu", format!("ubuntu-{}", os.name)),
        OsFamily::Alpine => ("apk", "alpine", os.name.clone()),
        OsFamily::Other(_) => return String::new(),
    };
    let (epoch, version) = match pkg.version.split_once(':') {
        Some((e, v)) if ty == "deb" && e.chars().all(|c| c.is_ascii_digit()) => (Some(e), v),
        _ => (None, pkg.version.as_str()),
    };
    let mut quals = Vec::new();
    if !pkg.arch.is_empty() {
        quals.push(format!("arch={}", encode(&pkg.arch)));
    }
    quals.push(format!("distro={}", encode(&distro)));
    if let Some(e) = epoch.filter(|e| *e != "0") {
        quals.push(format!("epoch={e}"));
    }
    format!(
        "pkg:{ty}/{namespace}/{}@{}?{}",
        encode(&pkg.name),
        encode(version),
        quals.join("&")
    )
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_and_alpine_purls() {
        let os = OsInfo {
            family: OsFamily::Debian,
            name: "12.15".into(),
        };
        let mut p = Package::new(
            "bsdutils",
            "1:2.38.1-5+deb12u3",
            "util-linux",
            "2.38.1-5",
            "x",
        );
        p.arch = "amd64".into();
        assert_eq!(
            os_package(&os, &p),
            "pkg:deb/debian/bsdutils@2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12.15&epoch=1"
        );
        let os = OsInfo {
            family: OsFamily::Alpine,
            name: "3.23.6".into(),
        };
        let mut p = Package::new("musl", "1.2.5-r10", "musl", "1.2.5-r10", "x");
        p.arch = "x86_64".into();
        assert_eq!(
            os_package(&os, &p),
            "pkg:apk/alpine/musl@1.2.5-r10?arch=x86_64&distro=3.23.6"
        );
    }
}
