//! Package inventory analyzers: which OS an image runs and which OS packages it has.
//!
//! Analyzers read a handful of files through [`FileSource`] (the image crate's merged root
//! filesystem in production, a directory or a map in tests); [`is_wanted`] tells the layer
//! walker which files to keep. The result, [`Inventory`], is plain serialisable data: it is
//! what a scan Job prints and what the operator stores per image digest.

pub mod apk;
pub mod dpkg;
pub mod os;

use serde::{Deserialize, Serialize};

pub use os::{OsFamily, OsInfo};

/// Read access to an image's files (paths relative to the root, no leading `/`).
pub trait FileSource {
    /// Content of `path` (symlinks followed); `Ok(None)` when absent.
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String>;
    /// Paths of the files directly under `dir` (relative to the root), sorted.
    fn list_dir(&self, dir: &str) -> Vec<String>;
}

/// One installed OS package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Trivy's package id: `name@version`.
    pub id: String,
    /// Binary package name.
    pub name: String,
    /// Installed version, as the package manager prints it (with epoch when present).
    pub version: String,
    /// Source package (dpkg `Source:`) or origin (apk `o:`); equals `name` when absent.
    pub src_name: String,
    /// Source version (dpkg `Source: name (version)`), else the binary version.
    pub src_version: String,
    /// Architecture (`amd64`, `x86_64`, `all`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Licenses as declared (apk `L:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// The database file the package was read from.
    pub file_path: String,
}

impl Package {
    /// Builds a package with Trivy's `name@version` id.
    pub fn new(
        name: &str,
        version: &str,
        src_name: &str,
        src_version: &str,
        file_path: &str,
    ) -> Self {
        Package {
            id: format!("{name}@{version}"),
            name: name.to_string(),
            version: version.to_string(),
            src_name: src_name.to_string(),
            src_version: src_version.to_string(),
            arch: String::new(),
            licenses: Vec::new(),
            file_path: file_path.to_string(),
        }
    }
}

/// What an image contains, as far as vulnerability matching is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The detected OS, if any.
    pub os: Option<OsInfo>,
    /// OS packages, sorted by name then version.
    pub os_packages: Vec<Package>,
    /// Problems that did not stop the analysis (an unparsable stanza, ...), for the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Errors of the analyzers that make the inventory unusable.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// A file could not be read from the image.
    #[error("reading {path} from the image: {reason}")]
    Read {
        /// Path in the image.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The files analyzers read, so the layer walker keeps only these.
pub fn is_wanted(path: &str) -> bool {
    os::is_wanted(path) || dpkg::is_wanted(path) || apk::is_wanted(path)
}

/// Runs every analyzer over `files`.
pub fn analyze(files: &dyn FileSource) -> Result<Inventory, InventoryError> {
    let mut inv = Inventory {
        os: os::detect(files)?,
        ..Default::default()
    };
    dpkg::collect(files, &mut inv)?;
    apk::collect(files, &mut inv)?;
    inv.os_packages
        .sort_by(|a, b| (&a.name, &a.version, &a.arch).cmp(&(&b.name, &b.version, &b.arch)));
    inv.os_packages
        .dedup_by(|a, b| a.id == b.id && a.arch == b.arch);
    Ok(inv)
}

/// Reads a file as UTF-8 (lossy: package databases are text, a stray byte must not lose them).
pub(crate) fn read_text(
    files: &dyn FileSource,
    path: &str,
) -> Result<Option<String>, InventoryError> {
    match files.read_file(path) {
        Ok(Some(b)) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Ok(None) => Ok(None),
        Err(reason) => Err(InventoryError::Read {
            path: path.to_string(),
            reason,
        }),
    }
}

/// Splits a package database made of blank-line separated stanzas of `Key: value` lines
/// (dpkg; apk uses `K:value`). Continuation lines (leading space/tab) are appended to the
/// previous field with a newline.
pub(crate) fn stanzas(text: &str, sep: char) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = cur.last_mut() {
                last.1.push('\n');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(sep) {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A [`FileSource`] over an in-memory map, for tests and for callers that already hold files.
#[derive(Debug, Clone, Default)]
pub struct MemFiles(pub std::collections::BTreeMap<String, Vec<u8>>);

impl FileSource for MemFiles {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.get(path).cloned())
    }
    fn list_dir(&self, dir: &str) -> Vec<String> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.0
            .keys()
            .filter(|k| k.starts_with(&prefix) && !k[prefix.len()..].contains('/'))
            .cloned()
            .collect()
    }
}

/// A [`FileSource`] over an unpacked root filesystem directory (tests and local rootfs scans).
/// Symlinks are resolved inside `root`; a link that leaves it reads as absent.
#[derive(Debug, Clone)]
pub struct DirFiles(pub std::path::PathBuf);

impl DirFiles {
    fn resolve(&self, path: &str) -> Option<std::path::PathBuf> {
        let mut parts: Vec<String> = Vec::new();
        let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(p) = todo.pop() {
            match p.as_str() {
                "" | "." => continue,
                ".." => {
                    parts.pop()?;
                    continue;
                }
                _ => {}
            }
            let candidate = self.0.join(parts.join("/")).join(&p);
            match std::fs::symlink_metadata(&candidate) {
                Ok(m) if m.file_type().is_symlink() => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let target = std::fs::read_link(&candidate).ok()?;
                    let t = target.to_string_lossy().to_string();
                    if t.starts_with('/') {
                        parts.clear();
                    }
                    todo.extend(t.split('/').rev().map(str::to_string));
                }
                _ => parts.push(p),
            }
        }
        Some(self.0.join(parts.join("/")))
    }
}

impl FileSource for DirFiles {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(p) = self.resolve(path) else {
            return Ok(None);
        };
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }
    fn list_dir(&self, dir: &str) -> Vec<String> {
        let Some(p) = self.resolve(dir) else {
            return Vec::new();
        };
        let mut v: Vec<String> = std::fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                    .map(|e| {
                        format!(
                            "{}/{}",
                            dir.trim_end_matches('/'),
                            e.file_name().to_string_lossy()
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_handle_continuations_and_blank_runs() {
        let s = stanzas("A: 1\nB: two\n line\n\n\n\nA: 3\n", ':');
        assert_eq!(s.len(), 2);
        assert_eq!(s[0][1], ("B".into(), "two\nline".into()));
        assert_eq!(s[1][0], ("A".into(), "3".into()));
    }

    #[test]
    fn wanted_files() {
        for p in [
            "etc/os-release",
            "usr/lib/os-release",
            "etc/debian_version",
            "etc/alpine-release",
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base",
            "lib/apk/db/installed",
        ] {
            assert!(is_wanted(p), "{p}");
        }
        for p in [
            "etc/passwd",
            "var/lib/dpkg/status.d/base.md5sums",
            "usr/bin/ls",
            "var/lib/dpkg/status-old",
        ] {
            assert!(!is_wanted(p), "{p}");
        }
    }
}
