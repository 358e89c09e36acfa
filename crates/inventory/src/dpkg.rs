//! Debian/Ubuntu packages from `var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`.

use crate::{read_text, stanzas, FileSource, Inventory, InventoryError, Package};

const STATUS: &str = "var/lib/dpkg/status";
const STATUS_D: &str = "var/lib/dpkg/status.d";

/// The files this analyzer reads.
pub fn is_wanted(path: &str) -> bool {
    if path == STATUS {
        return true;
    }
    match path.strip_prefix("var/lib/dpkg/status.d/") {
        Some(name) => !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums"),
        None => false,
    }
}

/// Adds the installed dpkg packages of `files` to `inv`.
pub fn collect(files: &dyn FileSource, inv: &mut Inventory) -> Result<(), InventoryError> {
    if let Some(text) = read_text(files, STATUS)? {
        parse_into(&text, STATUS, inv);
    }
    for path in files.list_dir(STATUS_D) {
        if !is_wanted(&path) {
            continue;
        }
        if let Some(text) = read_text(files, &path)? {
            parse_into(&text, &path, inv);
        }
    }
    Ok(())
}

/// Parses one dpkg status file, appending installed packages and warnings.
pub fn parse_into(text: &str, file_path: &str, inv: &mut Inventory) {
    for stanza in stanzas(text, ':') {
        let field = |k: &str| {
            stanza
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            if let Some(name) = field("Package") {
                inv.warnings.push(format!(
                    "{file_path}: package {name} has no Version, skipped"
                ));
            }
            continue;
        };
        // Only installed packages count: `install ok installed`, or `hold ok installed`.
        // distroless status.d entries carry no Status field at all.
        if let Some(status) = field("Status") {
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let (src_name, src_version) = match field("Source") {
            Some(src) => parse_source(src, version),
            None => (name.to_string(), version.to_string()),
        };
        let mut pkg = Package::new(name, version, &src_name, &src_version, file_path);
        pkg.arch = field("Architecture").unwrap_or_default().to_string();
        inv.os_packages.push(pkg);
    }
}

/// `Source: name` or `Source: name (version)`.
fn parse_source(src: &str, bin_version: &str) -> (String, String) {
    match src.split_once('(') {
        Some((n, v)) => (
            n.trim().to_string(),
            v.trim().trim_end_matches(')').trim().to_string(),
        ),
        None => (src.trim().to_string(), bin_version.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.17-1~deb12u2\nDescription: x\n more\n\nPackage: libgcc-s1\nStatus: install ok installed\nArchitecture: amd64\nSource: gcc-12 (12.2.0-14+deb12u1)\nVersion: 12.2.0-14+deb12u1\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: bsdutils\nStatus: install ok installed\nSource: util-linux (2.38.1-5)\nVersion: 1:2.38.1-5+deb12u3\n";

    #[test]
    fn parses_installed_packages_with_sources() {
        let mut inv = Inventory::default();
        parse_into(STATUS_TEXT, STATUS, &mut inv);
        let names: Vec<_> = inv.os_packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["libssl3", "libgcc-s1", "bsdutils"]);
        let ssl = &inv.os_packages[0];
        assert_eq!(
            (ssl.src_name.as_str(), ssl.src_version.as_str()),
            ("openssl", "3.0.17-1~deb12u2")
        );
        assert_eq!(ssl.id, "libssl3@3.0.17-1~deb12u2");
        let bsd = &inv.os_packages[2];
        assert_eq!(
            (bsd.src_name.as_str(), bsd.src_version.as_str()),
            ("util-linux", "2.38.1-5")
        );
        assert_eq!(bsd.version, "1:2.38.1-5+deb12u3");
    }

    #[test]
    fn status_d_files_are_wanted_but_not_md5sums() {
        assert!(is_wanted("var/lib/dpkg/status.d/libc6"));
        assert!(!is_wanted("var/lib/dpkg/status.d/libc6.md5sums"));
        assert!(!is_wanted("var/lib/dpkg/status.d/sub/x"));
    }
}
