//! Alpine packages from `lib/apk/db/installed`.

use crate::{read_text, FileSource, Inventory, InventoryError, Package};

const INSTALLED: &str = "lib/apk/db/installed";

/// The files this analyzer reads.
pub fn is_wanted(path: &str) -> bool {
    path == INSTALLED
}

/// Adds the installed apk packages of `files` to `inv`.
pub fn collect(files: &dyn FileSource, inv: &mut Inventory) -> Result<(), InventoryError> {
    if let Some(text) = read_text(files, INSTALLED)? {
        parse_into(&text, INSTALLED, inv);
    }
    Ok(())
}

/// Parses an apk `installed` database (blank-line separated `K:value` records).
pub fn parse_into(text: &str, file_path: &str, inv: &mut Inventory) {
    let mut rec = Record::default();
    for line in text.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if let Some(pkg) = rec.take_package(file_path, &mut inv.warnings) {
                inv.os_packages.push(pkg);
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "P" => rec.name = Some(v.to_string()),
            "V" => rec.version = Some(v.to_string()),
            "o" => rec.origin = Some(v.to_string()),
            "A" => rec.arch = v.to_string(),
            "L" => rec.license = v.to_string(),
            _ => {}
        }
    }
}

#[derive(Default)]
struct Record {
    name: Option<String>,
    version: Option<String>,
    origin: Option<String>,
    arch: String,
    license: String,
}

impl Record {
    fn take_package(&mut self, file_path: &str, warnings: &mut Vec<String>) -> Option<Package> {
        let r = std::mem::take(self);
        let name = r.name?;
        let Some(version) = r.version else {
            warnings.push(format!(
                "{file_path}: package {name} has no V: line, skipped"
            ));
            return None;
        };
        let origin = r.origin.unwrap_or_else(|| name.clone());
        let mut p = Package::new(&name, &version, &origin, &version, file_path);
        p.arch = r.arch;
        if !r.license.is_empty() {
            p.licenses = r
                .license
                .split(" AND ")
                .map(|s| s.trim().to_string())
                .collect();
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_with_origin() {
        let text = "C:Q1x=\nP:libcrypto3\nV:3.5.4-r0\nA:x86_64\nL:Apache-2.0\no:openssl\nF:lib\nR:libcrypto.so.3\n\nP:musl\nV:1.2.5-r10\nA:x86_64\no:musl\n\nP:broken\nA:x86_64\n";
        let mut inv = Inventory::default();
        parse_into(text, INSTALLED, &mut inv);
        assert_eq!(inv.os_packages.len(), 2);
        let c = &inv.os_packages[0];
        assert_eq!(
            (c.name.as_str(), c.src_name.as_str(), c.version.as_str()),
            ("libcrypto3", "openssl", "3.5.4-r0")
        );
        assert_eq!(c.src_version, "3.5.4-r0");
        assert_eq!(c.licenses, ["Apache-2.0"]);
        assert_eq!(inv.warnings.len(), 1);
    }
}
