//! Where checks come from: the built-in set embedded in the binary, directories of `.rego`
//! files (plus JSON/YAML data documents), in-memory maps (a ConfigMap's `data`, as the
//! operator reads it) and checks bundles. A [`CheckSet`] collects them in order; a later
//! check with the ID of an earlier one replaces it (a bundle or custom check supersedes the
//! built-in one of the same ID, as in Trivy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where a check file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary.
    Builtin,
    /// A file under a custom policy directory.
    Directory(PathBuf),
    /// A key of an in-memory map (e.g. a ConfigMap).
    Map(String),
    /// A checks bundle (its reference or cache path).
    Bundle(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => f.write_str("built-in"),
            Origin::Directory(d) => write!(f, "{}", d.display()),
            Origin::Map(m) => write!(f, "{m}"),
            Origin::Bundle(b) => write!(f, "bundle {b}"),
        }
    }
}

/// One Rego module.
#[derive(Debug, Clone)]
pub struct CheckFile {
    /// A name for messages (relative path or map key).
    pub path: String,
    /// The Rego source.
    pub source: String,
    /// Where it came from.
    pub origin: Origin,
}

/// Rego modules and data documents to compile into a
/// [`PolicyEngine`](crate::PolicyEngine).
#[derive(Debug, Clone, Default)]
pub struct CheckSet {
    /// The modules, in load order.
    pub files: Vec<CheckFile>,
    /// Data documents (merged under `data`).
    pub data: Vec<(String, serde_json::Value)>,
}

/// An I/O or format error while reading check sources.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Reading a path failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A data document does not parse.
    #[error("{path}: invalid data document: {reason}")]
    Data {
        /// The file or key.
        path: String,
        /// The parser's message.
        reason: String,
    },
}

/// Files larger than this are not read as checks or data.
const MAX_FILE: u64 = 8 << 20;

impl CheckSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in checks and their libraries.
    pub fn builtin() -> Self {
        let mut s = Self::new();
        s.add_builtin();
        s
    }

    /// Adds the built-in checks.
    pub fn add_builtin(&mut self) -> &mut Self {
        for (path, src) in crate::builtin::BUILTIN_FILES {
            self.files.push(CheckFile {
                path: (*path).to_string(),
                source: (*src).to_string(),
                origin: Origin::Builtin,
            });
        }
        self
    }

    /// Adds one module.
    pub fn add_module(&mut self, path: &str, source: &str, origin: Origin) -> &mut Self {
        self.files.push(CheckFile {
            path: path.to_string(),
            source: source.to_string(),
            origin,
        });
        self
    }

    /// Adds every `.rego` file (except `*_test.rego`) under `dir`, recursively, and every
    /// `.json`/`.yaml`/`.yml` data document; hidden entries are skipped. A single file may be
    /// given instead of a directory.
    pub fn add_dir(&mut self, dir: &Path) -> Result<&mut Self, SourceError> {
        let mut paths = Vec::new();
        walk(dir, &mut paths)?;
        for p in paths {
            let rel = p
                .strip_prefix(dir)
                .ok()
                .filter(|r| !r.as_os_str().is_empty())
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let io = |source| SourceError::Io {
                path: p.clone(),
                source,
            };
            let len = std::fs::metadata(&p).map_err(io)?.len();
            if len > MAX_FILE {
                tracing::warn!("{}: {len} bytes, skipped (over {MAX_FILE})", p.display());
                continue;
            }
            let text = std::fs::read_to_string(&p).map_err(io)?;
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.ends_with(".rego") {
                if !name.ends_with("_test.rego") {
                    self.add_module(&rel, &text, Origin::Directory(p.clone()));
                }
            } else {
                self.add_data(&p.to_string_lossy(), &text)?;
            }
        }
        Ok(self)
    }

    /// Adds the entries of a map: `*.rego` keys are modules, `*.json`/`*.yaml` keys data.
    /// Trivy Operator's policy ConfigMap keys (`policy.<name>.rego`) fit.
    pub fn add_map(
        &mut self,
        origin_name: &str,
        map: &BTreeMap<String, String>,
    ) -> Result<&mut Self, SourceError> {
        for (k, v) in map {
            let name = format!("{origin_name}/{k}");
            if k.ends_with(".rego") {
                self.add_module(&name, v, Origin::Map(origin_name.to_string()));
            } else if is_data_name(k) {
                self.add_data(&name, v)?;
            }
        }
        Ok(self)
    }

    /// Adds a data document (JSON or YAML text).
    pub fn add_data(&mut self, name: &str, text: &str) -> Result<&mut Self, SourceError> {
        let v: serde_json::Value = serde_norway::from_str(text).map_err(|e| SourceError::Data {
            path: name.to_string(),
            reason: e.to_string(),
        })?;
        if !v.is_null() {
            self.data.push((name.to_string(), v));
        }
        Ok(self)
    }

    /// Appends another set (its checks replace same-ID checks of this one at compile time).
    pub fn extend(&mut self, other: CheckSet) -> &mut Self {
        self.files.extend(other.files);
        self.data.extend(other.data);
        self
    }
}

fn is_data_name(name: &str) -> bool {
    [".json", ".yaml", ".yml"].iter().any(|e| name.ends_with(e))
}

fn walk(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    let io = |source| SourceError::Io {
        path: p.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(p).map_err(io)?;
    if meta.is_file() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            walk(&e, out)?;
        } else if name.ends_with(".rego") || is_data_name(name) {
            out.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_set_is_embedded() {
        let s = CheckSet::builtin();
        assert!(s.files.iter().any(|f| f.path == "lib/k8s.rego"));
        assert!(s.files.len() > 60);
    }

    #[test]
    fn directories_and_maps() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/a.rego"), "package a\n").unwrap();
        std::fs::write(d.path().join("a_test.rego"), "package a_test\n").unwrap();
        std::fs::write(d.path().join("data.yaml"), "x: 1\n").unwrap();
        std::fs::write(d.path().join(".hidden.rego"), "package h\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "ignored").unwrap();
        let mut s = CheckSet::new();
        s.add_dir(d.path()).unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].path, "sub/a.rego");
        assert_eq!(s.data[0].1, serde_json::json!({"x": 1}));

        let mut m = BTreeMap::new();
        m.insert("policy.x.rego".to_string(), "package x\n".to_string());
        m.insert("policy.x.kinds".to_string(), "Workload".to_string());
        let mut s = CheckSet::new();
        s.add_map("configmap/policies", &m).unwrap();
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].origin, Origin::Map("configmap/policies".into()));
        assert!(CheckSet::new().add_dir(Path::new("/nonexistent")).is_err());
    }
}
