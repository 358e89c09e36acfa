//! Test support: builds a `trivy.db` from Trivy's bolt-fixtures YAML (feature `fixture-writer`).
//!
//! The format is aquasecurity/bolt-fixtures', which Trivy's own tests load: each file is a list
//! of items; a top-level item is a bucket (`{bucket, pairs}`); inside, an item is either a
//! nested bucket (`{bucket, pairs}`, nested to any depth) or a pair (`{key, value}`). Buckets
//! that appear more than once, in one file or across files (e.g. `data-source`), are merged.
//!
//! Values are stored as bolt-fixtures stores them: a mapping or a list as its JSON encoding
//! (`{"FixedVersion":"3.0.22-1~deb12u1","Severity":0,...}`: YAML integers become JSON numbers,
//! quoted YAML strings such as `"0"` stay strings; object keys are sorted, as Go's
//! `json.Marshal` sorts map keys); a scalar (string, number, bool) as its plain text, as Go's
//! `fmt.Sprint` prints it (`value: abc` stores `abc`, not `"abc"`); a missing or null value as
//! `null`. Unlike bolt-fixtures, unknown fields and ambiguous items (both `bucket` and `key`)
//! are errors rather than silently ignored, so a typo in a fixture cannot drop data.
//!
//! The database is written to a temporary file in the output directory and renamed over
//! `trivy.db`, so a reader never sees a half-written file; `metadata.json` is written the same way
//! after it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bbolt_rs::{Bolt, BucketRwApi, BucketRwImpl, DbApi, DbRwAPI, TxRwRefApi};
use serde::ser::Error as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_norway::Value;

use crate::metadata::{temp_path_for, write_metadata};
use crate::{Metadata, DB_FILE};

/// Environment variable naming the project's `shared` directory (the one holding
/// `testdata/vulndb`); by default it is the `shared` directory next to the repository checkout.
pub const SHARED_DIR_ENV: &str = "SIGHTLINE_SHARED_DIR";

/// The fixture files [`write_default_fixture_db`] loads, in [`testdata_dir`].
pub const DEFAULT_FIXTURES: [&str; 2] = ["debian-12.yaml", "alpine-3.23.yaml"];

/// Errors from building a fixture DB.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// A fixture file cannot be read.
    #[error("cannot read fixture {path}: {source}")]
    Read {
        /// The fixture file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A fixture file is not YAML, or not a list of items.
    #[error("fixture {path} is not a bolt-fixtures YAML list: {source}")]
    Yaml {
        /// The fixture file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_norway::Error,
    },
    /// A fixture item is malformed (names the item's bucket path).
    #[error("fixture {path}: {reason}")]
    Invalid {
        /// The fixture file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// The fixture directory does not exist.
    #[error("fixture directory {path} not found: set {SHARED_DIR_ENV} to the project's `shared` directory (the one holding testdata/vulndb)")]
    NoTestdata {
        /// The directory looked at.
        path: PathBuf,
    },
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// bbolt-rs refused a write (e.g. a key where a bucket already is).
    #[error("cannot write {path}: {reason}")]
    Bolt {
        /// The DB file written.
        path: PathBuf,
        /// bbolt's error and the bucket path where it happened.
        reason: String,
    },
}

/// The `testdata/vulndb` directory: `$SIGHTLINE_SHARED_DIR/testdata/vulndb` if the variable is
/// set, else `shared/testdata/vulndb` next to the repository checkout holding this crate.
pub fn testdata_dir() -> PathBuf {
    match std::env::var_os(SHARED_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("testdata").join("vulndb"),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared")
            .join("testdata")
            .join("vulndb"),
    }
}

/// The paths of [`DEFAULT_FIXTURES`] in [`testdata_dir`].
pub fn default_fixture_files() -> Vec<PathBuf> {
    let dir = testdata_dir();
    DEFAULT_FIXTURES.iter().map(|f| dir.join(f)).collect()
}

/// Writes `out_dir/trivy.db` from the shared Debian 12 and Alpine 3.23 fixtures, and
/// `out_dir/metadata.json` (schema 2, built and downloaded now, next update in 24 h).
pub fn write_default_fixture_db(out_dir: &Path) -> Result<(), FixtureError> {
    let dir = testdata_dir();
    if !dir.is_dir() {
        return Err(FixtureError::NoTestdata { path: dir });
    }
    let files = default_fixture_files();
    let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    write_db(&files, out_dir, &Metadata::fresh(chrono::Utc::now()))
}

/// Loads `yaml_files` (bolt-fixtures YAML) into one BoltDB and writes it atomically to
/// `out_dir/trivy.db`, then `out_dir/metadata.json` from `metadata`. Creates `out_dir`.
pub fn write_db(
    yaml_files: &[&Path],
    out_dir: &Path,
    metadata: &Metadata,
) -> Result<(), FixtureError> {
    let mut buckets = Vec::new();
    for file in yaml_files {
        buckets.extend(load_file(file)?);
    }

    fs::create_dir_all(out_dir).map_err(|source| FixtureError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let target = out_dir.join(DB_FILE);
    let tmp = temp_path_for(&target);
    let result = write_bolt(&tmp, &buckets).and_then(|()| {
        finish_file(&tmp, &target).map_err(|source| FixtureError::Write {
            path: target.clone(),
            source,
        })
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    write_metadata(out_dir, metadata).map_err(|source| FixtureError::Write {
        path: out_dir.join(crate::METADATA_FILE),
        source,
    })
}

/// A fixture item after validation.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Bucket { name: String, pairs: Vec<Node> },
    Pair { key: String, value: Vec<u8> },
}

/// One item as written in the YAML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    #[serde(default)]
    bucket: Option<Value>,
    #[serde(default)]
    pairs: Option<Vec<RawItem>>,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    value: Option<Value>,
}

/// Reads one fixture file into its top-level buckets.
fn load_file(path: &Path) -> Result<Vec<Node>, FixtureError> {
    let text = fs::read_to_string(path).map_err(|source| FixtureError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        ParseError::Yaml(source) => FixtureError::Yaml {
            path: path.to_path_buf(),
            source,
        },
        ParseError::Invalid(reason) => FixtureError::Invalid {
            path: path.to_path_buf(),
            reason,
        },
    })
}

#[derive(Debug)]
enum ParseError {
    Yaml(serde_norway::Error),
    Invalid(String),
}

/// Parses a fixture document into its top-level buckets (an empty document is no buckets).
fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
    let items: Option<Vec<RawItem>> = serde_norway::from_str(text).map_err(ParseError::Yaml)?;
    let mut out = Vec::new();
    for (i, item) in items.unwrap_or_default().into_iter().enumerate() {
        let at = format!("top-level item {}", i + 1);
        let node = convert(item, &at).map_err(ParseError::Invalid)?;
        if let Node::Pair { key, .. } = &node {
            return Err(ParseError::Invalid(format!(
                "{at}: key `{key}` at the top level; top-level items must be buckets"
            )));
        }
        out.push(node);
    }
    Ok(out)
}

/// Validates one item (`at` says where it is, for messages).
fn convert(item: RawItem, at: &str) -> Result<Node, String> {
    let bucket = match &item.bucket {
        None => None,
        Some(v) => match scalar_text(v) {
            Some(name) if name.is_empty() => None,
            Some(name) => Some(name),
            None => return Err(format!("{at}: `bucket` must be a string")),
        },
    };
    if let Some(name) = bucket {
        if item.key.is_some() || item.value.is_some() {
            return Err(format!(
                "{at}: bucket `{name}` also has `key`/`value`; an item is a bucket or a pair"
            ));
        }
        let mut pairs = Vec::new();
        for (i, child) in item.pairs.unwrap_or_default().into_iter().enumerate() {
            pairs.push(convert(child, &format!("{at} > `{name}` item {}", i + 1))?);
        }
        return Ok(Node::Bucket { name, pairs });
    }
    let key = match item.key.as_ref().map(scalar_text) {
        Some(Some(key)) if !key.is_empty() => key,
        Some(Some(_)) | None => {
            return Err(format!("{at}: an item needs a non-empty `bucket` or `key`"))
        }
        Some(None) => return Err(format!("{at}: `key` must be a string")),
    };
    if item.pairs.is_some() {
        return Err(format!(
            "{at}: key `{key}` has `pairs`; only buckets have pairs"
        ));
    }
    let value = encode_value(item.value.as_ref()).map_err(|e| format!("{at}: key `{key}`: {e}"))?;
    Ok(Node::Pair { key, value })
}

/// The text of a scalar (string, number, bool), as Go's `fmt.Sprint` prints it.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar_text(&t.value),
        Value::Null | Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// The bytes stored for a value (see the module docs).
fn encode_value(v: Option<&Value>) -> Result<Vec<u8>, String> {
    match v {
        None | Some(Value::Null) => Ok(b"null".to_vec()),
        Some(Value::Tagged(t)) => encode_value(Some(&t.value)),
        Some(Value::Number(n)) if n.as_f64().is_some_and(|f| !f.is_finite()) => {
            Err(format!("{n} cannot be stored (not a finite number)"))
        }
        Some(scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            Ok(scalar_text(scalar).unwrap_or_default().into_bytes())
        }
        Some(other @ (Value::Sequence(_) | Value::Mapping(_))) => {
            serde_json::to_vec(&Json(other)).map_err(|e| e.to_string())
        }
    }
}

/// A YAML value serialised as Go's `json.Marshal` would: object keys sorted, integers as
/// integers, non-finite floats refused.
struct Json<'a>(&'a Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    s.serialize_i64(i)
                } else if let Some(u) = n.as_u64() {
                    s.serialize_u64(u)
                } else {
                    match n.as_f64() {
                        Some(f) if f.is_finite() => s.serialize_f64(f),
                        _ => Err(S::Error::custom(format!(
                            "{n} cannot be stored (not a finite number)"
                        ))),
                    }
                }
            }
            Value::String(v) => s.serialize_str(v),
            Value::Sequence(seq) => s.collect_seq(seq.iter().map(Json)),
            Value::Mapping(map) => {
                let mut entries = Vec::with_capacity(map.len());
                for (k, v) in map {
                    let key = scalar_text(k).ok_or_else(|| {
                        S::Error::custom(format!("mapping key {k:?} is not a string"))
                    })?;
                    entries.push((key, Json(v)));
                }
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                s.collect_map(entries)
            }
            Value::Tagged(t) => Json(&t.value).serialize(s),
        }
    }
}

/// Creates the BoltDB at `path` (which must not exist) and writes `buckets` in one transaction.
fn write_bolt(path: &Path, buckets: &[Node]) -> Result<(), FixtureError> {
    let bolt_err = |reason: String| FixtureError::Bolt {
        path: path.to_path_buf(),
        reason,
    };
    let mut db = Bolt::open(path).map_err(|e| bolt_err(format!("creating it: {e}")))?;
    let mut failed_at = String::new();
    let result = db.update(|mut tx| {
        for node in buckets {
            let Node::Bucket { name, pairs } = node else {
                continue; // `parse` only lets buckets through at the top level
            };
            let mut path = vec![name.as_str()];
            let mut bucket = tx
                .create_bucket_if_not_exists(name.as_bytes())
                .inspect_err(|_| failed_at = show(&path))?;
            write_pairs(&mut bucket, pairs, &mut path, &mut failed_at)?;
        }
        Ok(())
    });
    db.close();
    result.map_err(|e| bolt_err(format!("{e} at {failed_at}")))
}

fn write_pairs<'n>(
    bucket: &mut BucketRwImpl<'_, '_>,
    nodes: &'n [Node],
    path: &mut Vec<&'n str>,
    failed_at: &mut String,
) -> bbolt_rs::Result<()> {
    for node in nodes {
        match node {
            Node::Bucket { name, pairs } => {
                path.push(name);
                let mut child = bucket
                    .create_bucket_if_not_exists(name.as_bytes())
                    .inspect_err(|_| *failed_at = show(path))?;
                write_pairs(&mut child, pairs, path, failed_at)?;
                path.pop();
            }
            Node::Pair { key, value } => {
                bucket
                    .put(key.as_bytes(), value)
                    .inspect_err(|_| *failed_at = format!("{}, key `{key}`", show(path)))?;
            }
        }
    }
    Ok(())
}

fn show(path: &[&str]) -> String {
    let parts: Vec<String> = path.iter().map(|p| format!("`{p}`")).collect();
    format!("bucket {}", parts.join("/"))
}

/// Makes the finished DB readable by everyone (bbolt creates it 0600) and renames it over
/// `target`.
fn finish_file(tmp: &Path, target: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(tmp, fs::Permissions::from_mode(0o644))?;
    }
    fs::File::open(tmp)?.sync_all()?;
    fs::rename(tmp, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(text: &str) -> Vec<u8> {
        let nodes = parse(text).unwrap();
        let Node::Bucket { pairs, .. } = &nodes[0] else {
            panic!("not a bucket")
        };
        let Node::Pair { value, .. } = &pairs[0] else {
            panic!("not a pair")
        };
        value.clone()
    }

    #[test]
    fn mapping_values_are_json_with_ints_as_numbers_and_sorted_keys() {
        let v = pair(
            "- bucket: b\n  pairs:\n    - key: k\n      value:\n        Status: 5\n        FixedVersion: \"0\"\n        Severity: 1\n        VendorIDs: [\"DSA-1\"]\n",
        );
        assert_eq!(
            String::from_utf8(v).unwrap(),
            r#"{"FixedVersion":"0","Severity":1,"Status":5,"VendorIDs":["DSA-1"]}"#
        );
    }

    #[test]
    fn scalar_values_are_stored_as_text_like_bolt_fixtures() {
        let v = |yaml: &str| {
            String::from_utf8(pair(&format!(
                "- bucket: b\n  pairs:\n    - key: k\n      value: {yaml}\n"
            )))
            .unwrap()
        };
        assert_eq!(v("jkl"), "jkl");
        assert_eq!(v("\"0\""), "0");
        assert_eq!(v("123"), "123");
        assert_eq!(v("true"), "true");
        assert_eq!(v("[1, \"a\"]"), r#"[1,"a"]"#);
        assert_eq!(v("null"), "null");
        assert!(parse("- bucket: b\n  pairs:\n    - key: k\n      value: .inf\n").is_err());
    }

    #[test]
    fn nested_buckets_and_numeric_keys() {
        let nodes = parse(
            "- bucket: a\n  pairs:\n    - bucket: b\n      pairs:\n        - bucket: c\n          pairs:\n            - key: 1\n              value: {x: 1}\n",
        )
        .unwrap();
        assert_eq!(
            nodes,
            vec![Node::Bucket {
                name: "a".into(),
                pairs: vec![Node::Bucket {
                    name: "b".into(),
                    pairs: vec![Node::Bucket {
                        name: "c".into(),
                        pairs: vec![Node::Pair {
                            key: "1".into(),
                            value: br#"{"x":1}"#.to_vec()
                        }]
                    }]
                }]
            }]
        );
    }

    #[test]
    fn malformed_items_are_errors_naming_where() {
        let err = |text: &str| match parse(text) {
            Err(ParseError::Invalid(reason)) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        };
        assert!(err("- key: k\n  value: 1\n").contains("top level"));
        assert!(err("- bucket: a\n  pairs:\n    - value: 1\n").contains("`a` item 1"));
        assert!(err("- bucket: a\n  key: k\n").contains("bucket or a pair"));
        assert!(err("- bucket: a\n  pairs:\n    - key: k\n      pairs: []\n").contains("pairs"));
        assert!(matches!(
            parse("- bucket: a\n  pair: []\n"),
            Err(ParseError::Yaml(_))
        ));
        assert!(matches!(parse("bucket: a\n"), Err(ParseError::Yaml(_))));
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
