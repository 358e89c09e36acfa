//! The one scan pipeline both front ends share (`sightline image` and, later, scan Jobs):
//!
//! 1. [`scan_image`]: image source → layers walked → [`ImageScan`] (metadata + inventory).
//!    Serialisable: it is what a scan Job prints and what the operator stores per digest.
//! 2. [`build_report`]: [`ImageScan`] × vulnerability DB → Trivy-schema [`Report`].

pub mod job_result;

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sightline_api::report::{
    Os, Report, ReportMetadata, ScanResult, CLASS_OS_PKGS, SCHEMA_VERSION,
};
use sightline_detect::{eol, DetectError, Filters};
use sightline_image::{FileFilter, ImageError, ImageSource, Progress, RegistryOptions, Rootfs};
use sightline_inventory::{FileSource, Inventory, InventoryError};
use sightline_vulndb::VulnDb;

/// Scan failures, each with a message that says what went wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Fetching or reading the image failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// An analyzer could not read its files.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// Matching against the DB failed.
    #[error(transparent)]
    Detect(#[from] DetectError),
}

/// What one image holds: its identity and its package inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageScan {
    /// The name the user gave.
    pub artifact_name: String,
    /// Config digest.
    pub image_id: String,
    /// `repo@sha256:...` digests.
    #[serde(default)]
    pub repo_digests: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub repo_tags: Vec<String>,
    /// Uncompressed layer digests, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
    /// The image config JSON.
    #[serde(default)]
    pub config: serde_json::Value,
    /// OS and packages.
    pub inventory: Inventory,
}

/// Keeps the files the inventory analyzers read.
struct AnalyzerFiles;

impl FileFilter for AnalyzerFiles {
    fn wants(&self, path: &str, _size: u64) -> bool {
        sightline_inventory::is_wanted(path)
    }
}

/// The image's merged root filesystem as an analyzer [`FileSource`].
struct RootfsFiles<'a>(&'a Rootfs);

impl FileSource for RootfsFiles<'_> {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.0
            .read(path)
            .map(|f| f.map(|f| f.content.clone()))
            .map_err(|e| e.to_string())
    }
    fn list_dir(&self, dir: &str) -> Vec<String> {
        self.0
            .list_dir(dir)
            .into_iter()
            .map(|(p, _)| p.to_string())
            .collect()
    }
}

/// Fetches `source` and builds its inventory.
pub async fn scan_image(
    source: &ImageSource,
    opts: &RegistryOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImageScan, ScanError> {
    let image =
        sightline_image::fetch_image(source, opts, Arc::new(AnalyzerFiles), progress).await?;
    let inventory = sightline_inventory::analyze(&RootfsFiles(&image.rootfs))?;
    let meta = image.meta;
    Ok(ImageScan {
        artifact_name: meta.name,
        image_id: meta.image_id,
        repo_digests: meta.repo_digests,
        repo_tags: meta.repo_tags,
        diff_ids: meta.layers.iter().map(|l| l.diff_id.clone()).collect(),
        config: meta.config,
        inventory,
    })
}

/// A report plus the warnings met while building it.
#[derive(Debug, Clone)]
pub struct BuiltReport {
    /// The Trivy-schema report.
    pub report: Report,
    /// Warnings for the log (unsupported OS, unparsable versions, ...).
    pub warnings: Vec<String>,
}

/// Matches `scan` against `db` and builds the report, applying `filters`.
pub fn build_report(
    scan: &ImageScan,
    db: &VulnDb,
    filters: &Filters,
    now: DateTime<Utc>,
) -> Result<BuiltReport, ScanError> {
    let inv = &scan.inventory;
    let found = sightline_detect::detect_os(db, inv)?;
    let mut warnings = inv.warnings.clone();
    warnings.extend(found.warnings);
    let mut results = Vec::new();
    if let Some(os) = &inv.os {
        let mut vulns = found.vulnerabilities;
        filters.apply(&mut vulns);
        results.push(ScanResult {
            target: format!("{} ({os})", scan.artifact_name),
            class: CLASS_OS_PKGS.to_string(),
            kind: os.family.to_string(),
            vulnerabilities: vulns,
        });
    }
    let report = Report {
        schema_version: SCHEMA_VERSION,
        created_at: Some(now.to_rfc3339_opts(SecondsFormat::Nanos, true)),
        artifact_name: scan.artifact_name.clone(),
        artifact_type: "container_image".to_string(),
        metadata: ReportMetadata {
            os: inv.os.as_ref().map(|os| Os {
                family: os.family.to_string(),
                name: os.name.clone(),
                eosl: eol::is_eosl(os, now),
            }),
            image_id: scan.image_id.clone(),
            diff_ids: scan.diff_ids.clone(),
            repo_tags: scan.repo_tags.clone(),
            repo_digests: scan.repo_digests.clone(),
            image_config: scan.config.clone(),
        },
        results,
    };
    Ok(BuiltReport { report, warnings })
}
