//! Reader for Trivy's vulnerability DB (schema v2): a BoltDB file `trivy.db` plus
//! `metadata.json`, laid out under `<cache-dir>/db/` as Trivy does.
//!
//! Layout of `trivy.db` (as trivy-db writes it):
//!
//! * one top-level bucket per platform (`"debian 12"`, `"alpine 3.23"`, `"ubuntu 22.04"`, or a
//!   language ecosystem such as `"npm::GitHub Security Advisory npm"`), holding one nested bucket
//!   per package name (Debian *source* package, Alpine *origin*), whose keys are vulnerability
//!   ids and whose values are the JSON of an [`Advisory`];
//! * bucket `vulnerability`: id → JSON of a [`VulnerabilityDetail`];
//! * bucket `data-source`: platform bucket name → JSON of a [`DataSource`].
//!
//! [`VulnDb`] opens the file read-only (memory-mapped by bbolt-rs, never copied into memory),
//! checks the BoltDB header itself before handing the file to bbolt-rs (so an empty, truncated
//! or foreign file is a [`DbError::Corrupt`], never a crash), and is `Send + Sync`: open it once
//! and share it across concurrent scans.
//!
//! With the feature `fixture-writer`, module `fixture` builds a `trivy.db` from Trivy's
//! bolt-fixtures YAML (test support; see `../../shared/testdata/vulndb/README.md`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
pub use sightline_report::vuln::{DataSource, Severity, Status, VulnerabilityDetail};

mod db;
mod header;
pub mod install;
pub mod javadb;
mod metadata;
pub mod shared;
pub mod update;
mod verify;

#[cfg(any(test, feature = "fixture-writer"))]
pub mod fixture;
#[cfg(any(test, feature = "fixture-writer"))]
pub mod synthetic;

#[cfg(test)]
// The tests craft corrupt BoltDB pages from small numbers and noise bytes: truncating casts
// there are intended.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
mod tests;

pub use db::{VulnDb, DEFAULT_LOCK_TIMEOUT};
pub use metadata::{read_metadata, write_metadata};
pub use verify::VerifyStats;

/// Errors from opening or reading the DB. Messages name the file and say what to do.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The DB file does not exist.
    #[error("vulnerability DB not found at {path}: run `sightline db update` or point --cache-dir at a directory holding db/trivy.db")]
    NotFound {
        /// Path looked at.
        path: PathBuf,
    },
    /// The file exists but is not a readable trivy-db BoltDB (empty, truncated, corrupt).
    #[error("vulnerability DB at {path} is corrupt or not a trivy-db file ({reason}): delete it and run `sightline db update`")]
    Corrupt {
        /// Path of the file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// `metadata.json` missing, unreadable or of an unsupported schema version.
    #[error("vulnerability DB metadata at {path}: {reason}")]
    Metadata {
        /// Path of metadata.json.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The file exists but cannot be read (permissions, I/O error, not a regular file).
    #[error("cannot read vulnerability DB at {path}: {source}")]
    Io {
        /// Path of the file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds an exclusive lock on the file (a writer, e.g. a Trivy process
    /// opening the same cache read-write), and it was not released in time.
    #[error("vulnerability DB at {path} is locked by another process (waited {waited_secs}s): stop the other writer (e.g. a Trivy sharing this cache dir) or use a separate --cache-dir")]
    Locked {
        /// Path of the file.
        path: PathBuf,
        /// How long the open waited for the lock.
        waited_secs: u64,
    },
}

/// One advisory for one package in one platform bucket (trivy-db `types.Advisory`).
///
/// Every field is optional in the stored JSON (Go's `omitempty`); a missing or `null` field
/// reads as its default (empty string, empty list, `Unknown`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// CVE / GHSA / TEMP-... id: the key under the package bucket.
    #[serde(skip)]
    pub vulnerability_id: String,
    /// Version that fixes it; empty = no fix yet.
    #[serde(rename = "FixedVersion", default, deserialize_with = "null_default")]
    pub fixed_version: String,
    /// Affected version (some sources).
    #[serde(rename = "AffectedVersion", default, deserialize_with = "null_default")]
    pub affected_version: String,
    /// Vulnerable version ranges (language ecosystems).
    #[serde(
        rename = "VulnerableVersions",
        default,
        deserialize_with = "null_default"
    )]
    pub vulnerable_versions: Vec<String>,
    /// Patched version ranges (language ecosystems).
    #[serde(rename = "PatchedVersions", default, deserialize_with = "null_default")]
    pub patched_versions: Vec<String>,
    /// Per-package (vendor) severity.
    #[serde(rename = "Severity", default, deserialize_with = "null_default")]
    pub severity: Severity,
    /// Fix status.
    #[serde(rename = "Status", default, deserialize_with = "null_default")]
    pub status: Status,
    /// Vendor advisory ids (DSA/DLA/...).
    #[serde(rename = "VendorIDs", default, deserialize_with = "null_default")]
    pub vendor_ids: Vec<String>,
}

/// Reads `null` as the type's default (Go writes `null` for a nil slice without `omitempty`).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata.json` next to `trivy.db`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Schema version; this reader supports 2.
    #[serde(rename = "Version")]
    pub version: u32,
    /// When the next DB build is expected.
    #[serde(rename = "NextUpdate", default)]
    pub next_update: Option<DateTime<Utc>>,
    /// When the DB was built.
    #[serde(rename = "UpdatedAt", default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// When this copy was downloaded.
    #[serde(rename = "DownloadedAt", default)]
    pub downloaded_at: Option<DateTime<Utc>>,
}

impl Metadata {
    /// Metadata of a DB built and downloaded `now`: schema [`SCHEMA_VERSION`], `UpdatedAt` and
    /// `DownloadedAt` = `now`, `NextUpdate` = `now` + 24 h (trivy-db's build interval).
    pub fn fresh(now: DateTime<Utc>) -> Self {
        Metadata {
            version: SCHEMA_VERSION,
            next_update: Some(now + chrono::Duration::hours(24)),
            updated_at: Some(now),
            downloaded_at: Some(now),
        }
    }
}

/// The schema version this reader understands.
pub const SCHEMA_VERSION: u32 = 2;

/// File name of the BoltDB inside [`db_dir`].
pub const DB_FILE: &str = "trivy.db";

/// File name of the metadata inside [`db_dir`].
pub const METADATA_FILE: &str = "metadata.json";

/// Bucket holding vulnerability details (id → [`VulnerabilityDetail`] JSON).
pub const VULNERABILITY_BUCKET: &str = "vulnerability";

/// Bucket holding the data source of each platform bucket (name → [`DataSource`] JSON).
pub const DATA_SOURCE_BUCKET: &str = "data-source";

/// `<cache-dir>/db`.
pub fn db_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("db")
}
