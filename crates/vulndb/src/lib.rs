//! Reader for Trivy's vulnerability DB (schema v2): a BoltDB file `trivy.db` plus
//! `metadata.json`, laid out under `<cache-dir>/db/` as Trivy does.
//!
//! STUB: the API below is the contract; bodies are being written.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
pub use sightline_api::vuln::{DataSource, Severity, Status, VulnerabilityDetail};

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
}

/// One advisory for one package in one platform bucket (trivy-db `types.Advisory`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// CVE / GHSA / TEMP-... id: the key under the package bucket.
    #[serde(skip)]
    pub vulnerability_id: String,
    /// Version that fixes it; empty = no fix yet.
    #[serde(rename = "FixedVersion", default)]
    pub fixed_version: String,
    /// Affected version (some sources).
    #[serde(rename = "AffectedVersion", default)]
    pub affected_version: String,
    /// Vulnerable version ranges (language ecosystems).
    #[serde(rename = "VulnerableVersions", default)]
    pub vulnerable_versions: Vec<String>,
    /// Patched version ranges (language ecosystems).
    #[serde(rename = "PatchedVersions", default)]
    pub patched_versions: Vec<String>,
    /// Per-package (vendor) severity.
    #[serde(rename = "Severity", default)]
    pub severity: Severity,
    /// Fix status.
    #[serde(rename = "Status", default)]
    pub status: Status,
    /// Vendor advisory ids (DSA/DLA/...).
    #[serde(rename = "VendorIDs", default)]
    pub vendor_ids: Vec<String>,
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

/// The schema version this reader understands.
pub const SCHEMA_VERSION: u32 = 2;

/// `<cache-dir>/db`.
pub fn db_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("db")
}

/// An open, read-only trivy.db. `Send + Sync`: share one across concurrent scans.
pub struct VulnDb {
    _p: (),
}

impl VulnDb {
    /// Opens `trivy.db` read-only.
    pub fn open(_path: &Path) -> Result<Self, DbError> {
        todo!()
    }

    /// Opens `<cache_dir>/db/trivy.db` after checking `metadata.json` (schema version 2).
    pub fn open_cache(_cache_dir: &Path) -> Result<(Self, Metadata), DbError> {
        todo!()
    }

    /// Advisories for `pkg` in platform bucket `platform` (e.g. `"debian 12"`), sorted by id.
    pub fn advisories(&self, _platform: &str, _pkg: &str) -> Result<Vec<Advisory>, DbError> {
        todo!()
    }

    /// Details of a vulnerability from the `vulnerability` bucket.
    pub fn vulnerability(&self, _id: &str) -> Result<Option<VulnerabilityDetail>, DbError> {
        todo!()
    }

    /// The data source of a platform bucket (bucket `data-source`).
    pub fn data_source(&self, _platform: &str) -> Result<Option<DataSource>, DbError> {
        todo!()
    }
}
