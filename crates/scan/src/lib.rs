//! The one scan pipeline both front ends share (`sightline image` and, later, scan Jobs):
//!
//! 1. [`scan_image_with`]: image source → layers walked ONCE → [`ImageScan`] (metadata,
//!    inventory, and the secrets found in every layer and in the image config).
//!    Serialisable: it is what a scan Job prints and what the operator stores per digest.
//! 2. [`build_report`] / [`build_report_with`]: [`ImageScan`] × vulnerability DB →
//!    Trivy-schema [`Report`] (OS package results, then secret results).

pub mod job_result;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sightline_detect::{eol, DetectError, Filters};
use sightline_image::{
    FileFilter, ImageError, ImageMeta, ImageSource, LayerFile, LayerVisitor, Progress,
    RegistryOptions, Rootfs,
};
use sightline_inventory::{FileSource, Inventory, InventoryError};
use sightline_report::report::{
    DetectedSecret, Os, Report, ReportMetadata, ScanResult, SecretLayer, CLASS_OS_PKGS,
    CLASS_SECRET, SCHEMA_VERSION,
};
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
    /// Secrets found in the layers (one result per file path, Target `/<path>`, each
    /// finding with its layer) and in the image config (Target = the artifact name), as
    /// Trivy's `Results[]` of class `secret`. `None` when secret scanning was off; `Some`
    /// and empty when it ran and found nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<ScanResult>>,
}

/// What [`scan_image_with`] does besides reading the image metadata.
#[derive(Clone)]
pub struct ScanOptions {
    /// Build the package inventory (needed for vulnerabilities).
    pub inventory: bool,
    /// Scan every regular file of every layer, and the image config, with this scanner.
    pub secrets: Option<Arc<sightline_secrets::Scanner>>,
}

impl Default for ScanOptions {
    /// The inventory only (what [`scan_image`] does).
    fn default() -> Self {
        ScanOptions {
            inventory: true,
            secrets: None,
        }
    }
}

/// Keeps the files the inventory analyzers read.
struct AnalyzerFiles;

impl FileFilter for AnalyzerFiles {
    fn wants(&self, path: &str, _size: u64) -> bool {
        sightline_inventory::is_wanted(path)
    }
}

/// The image's merged root filesystem as an analyzer [`FileSource`] (what a scan passes to
/// `sightline_inventory::analyze`; the fuzz targets chain their layer walks into it too).
pub struct RootfsFiles<'a>(pub &'a Rootfs);

impl FileSource for RootfsFiles<'_> {
    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, String> {
        self.0
            .read(path)
            .map(|f| f.map(|f| f.content.to_vec()))
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

/// Keeps nothing (a secrets-only scan).
struct NoFiles;

impl FileFilter for NoFiles {
    fn wants(&self, _path: &str, _size: u64) -> bool {
        false
    }
}

/// Fetches `source` and builds its inventory (no secret scanning).
pub async fn scan_image(
    source: &ImageSource,
    opts: &RegistryOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImageScan, ScanError> {
    scan_image_with(source, opts, &ScanOptions::default(), progress).await
}

/// Fetches `source` and, in one pass over its layers, builds its inventory and/or scans
/// every layer (files deleted or replaced by later layers included) and the image config
/// for secrets, as `what` asks.
pub async fn scan_image_with(
    source: &ImageSource,
    opts: &RegistryOptions,
    what: &ScanOptions,
    progress: Arc<dyn Progress>,
) -> Result<ImageScan, ScanError> {
    let filter: Arc<dyn FileFilter> = if what.inventory {
        Arc::new(AnalyzerFiles)
    } else {
        Arc::new(NoFiles)
    };
    let visitor = what.secrets.as_ref().map(|s| {
        Arc::new(SecretVisitor {
            scanner: s.clone(),
            found: Mutex::new(Vec::new()),
        })
    });
    let image = sightline_image::fetch_image_visiting(
        source,
        opts,
        filter,
        visitor.clone().map(|v| v as Arc<dyn LayerVisitor>),
        progress,
    )
    .await?;
    let inventory = if what.inventory {
        sightline_inventory::analyze(&RootfsFiles(&image.rootfs))?
    } else {
        Inventory::default()
    };
    let meta = image.meta;
    let mut config = meta.config.clone();
    let secrets = match (visitor, &what.secrets) {
        (Some(v), Some(scanner)) => {
            let found = std::mem::take(&mut *v.found.lock().expect("secret results"));
            config = masked_config(&meta.config, scanner);
            Some(secret_results(&meta, found, scanner))
        }
        _ => None,
    };
    Ok(ImageScan {
        artifact_name: meta.name,
        image_id: meta.image_id,
        repo_digests: meta.repo_digests,
        repo_tags: meta.repo_tags,
        diff_ids: meta.layers.iter().map(|l| l.diff_id.clone()).collect(),
        config,
        inventory,
        secrets,
    })
}

/// Findings of one file of one layer: (layer, path, hash of the file's content, findings).
/// The hash (never output) tells an unchanged copy in a later layer from a changed file.
type FileSecrets = (usize, String, u64, Vec<DetectedSecret>);

/// Scans each regular file of each layer as it streams by; keeps only findings (masked).
struct SecretVisitor {
    scanner: Arc<sightline_secrets::Scanner>,
    found: Mutex<Vec<FileSecrets>>,
}

thread_local! {
    /// One reusable read buffer per layer-walking thread.
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl LayerVisitor for SecretVisitor {
    fn wants(&self, file: &LayerFile<'_>) -> bool {
        self.scanner.wants(file.path, file.size)
    }

    fn visit(&self, file: &LayerFile<'_>, content: &mut dyn Read) -> std::io::Result<()> {
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            // The head first: a binary file is left unread past it.
            let head = (sightline_secrets::BINARY_SNIFF_LEN as u64).min(file.size);
            content.take(head).read_to_end(&mut buf)?;
            if sightline_secrets::looks_binary(&buf) {
                return Ok(());
            }
            let cap = self.scanner.max_file_size();
            content
                .take(cap.saturating_sub(buf.len() as u64))
                .read_to_end(&mut buf)?;
            let findings = self.scanner.scan(file.path, &buf);
            if !findings.is_empty() {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                buf.hash(&mut h);
                self.found.lock().expect("secret results").push((
                    file.layer,
                    file.path.to_string(),
                    h.finish(),
                    findings,
                ));
            }
            if buf.capacity() > 4 << 20 {
                *buf = Vec::new(); // do not keep a big buffer per thread
            }
            Ok(())
        })
    }
}

/// The layers' `created_by` (history entries that are not `empty_layer`, in order).
fn layer_history(config: &serde_json::Value, layers: usize) -> Vec<String> {
    let mut out: Vec<String> = config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .map(|h| h["created_by"].as_str().unwrap_or_default().to_string())
        .collect();
    out.resize(layers, String::new());
    out
}

/// Groups layer findings per file path (Target `/<path>`, as Trivy prints image paths; an
/// unchanged copy of a file in a later layer is reported once, with the lowest layer), then
/// scans the image config rendered as pretty JSON (Target = the artifact name, no layer).
fn secret_results(
    meta: &ImageMeta,
    mut found: Vec<FileSecrets>,
    scanner: &sightline_secrets::Scanner,
) -> Vec<ScanResult> {
    found.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
    let mut seen: std::collections::HashSet<(String, u64)> = Default::default();
    found.retain(|(_, path, hash, _)| seen.insert((path.clone(), *hash)));
    let history = layer_history(&meta.config, meta.layers.len());
    let mut per_path: BTreeMap<String, Vec<DetectedSecret>> = BTreeMap::new();
    for (layer, path, _, findings) in found {
        let info = SecretLayer {
            digest: meta
                .layers
                .get(layer)
                .map(|l| l.digest.clone())
                .unwrap_or_default(),
            diff_id: meta
                .layers
                .get(layer)
                .map(|l| l.diff_id.clone())
                .unwrap_or_default(),
            created_by: history.get(layer).cloned().unwrap_or_default(),
        };
        let list = per_path.entry(path).or_default();
        list.extend(findings.into_iter().map(|f| DetectedSecret {
            layer: info.clone(),
            ..f
        }));
    }
    let mut results: Vec<ScanResult> = per_path
        .into_iter()
        .map(|(path, mut secrets)| {
            secrets.sort_by(|a, b| {
                (a.start_line, &a.rule_id, &a.layer.diff_id).cmp(&(
                    b.start_line,
                    &b.rule_id,
                    &b.layer.diff_id,
                ))
            });
            ScanResult {
                target: format!("/{path}"),
                class: CLASS_SECRET.to_string(),
                secrets,
                ..Default::default()
            }
        })
        .collect();
    if !meta.config.is_null() {
        let rendered = serde_json::to_string_pretty(&meta.config).unwrap_or_default();
        // Findings in the image config have no layer (the scanner leaves it empty).
        let secrets: Vec<DetectedSecret> = scanner.scan(IMAGE_CONFIG_PATH, rendered.as_bytes());
        if !secrets.is_empty() {
            results.push(ScanResult {
                target: meta.name.clone(),
                class: CLASS_SECRET.to_string(),
                secrets,
                ..Default::default()
            });
        }
    }
    results
}

/// The config with the secrets found in it masked (it is printed whole in the report's
/// `Metadata.ImageConfig` and in the scan Job's result): masked in the same rendering that
/// is scanned, then parsed back. Should masking ever break the JSON, the config is dropped
/// rather than shown with a secret.
fn masked_config(
    config: &serde_json::Value,
    scanner: &sightline_secrets::Scanner,
) -> serde_json::Value {
    if config.is_null() {
        return config.clone();
    }
    let rendered = serde_json::to_string_pretty(config).unwrap_or_default();
    match scanner.mask(IMAGE_CONFIG_PATH, rendered.as_bytes()) {
        None => config.clone(),
        Some(masked) => serde_json::from_slice(&masked).unwrap_or_else(|_| {
            serde_json::json!({"masked": "the image config held secrets and could not be masked"})
        }),
    }
}

/// The path the image config is scanned as (no path filter or path allow rule matches it).
/// Its lines are those of the config rendered as pretty JSON with sorted keys (`jq -S .`).
pub const IMAGE_CONFIG_PATH: &str = "(image config)";

/// A report plus the warnings met while building it.
#[derive(Debug, Clone)]
pub struct BuiltReport {
    /// The Trivy-schema report.
    pub report: Report,
    /// Warnings for the log (unsupported OS, unparsable versions, ...).
    pub warnings: Vec<String>,
}

/// Matches `scan` against `db` and builds the report, applying `filters` (the secrets of
/// the scan, if any, follow the OS result).
pub fn build_report(
    scan: &ImageScan,
    db: &VulnDb,
    filters: &Filters,
    now: DateTime<Utc>,
) -> Result<BuiltReport, ScanError> {
    build_report_with(scan, Some(db), filters, now)
}

/// [`build_report`] with an optional DB: without one (a secrets-only scan) no vulnerability
/// result is built. `filters.severities` applies to secrets too.
pub fn build_report_with(
    scan: &ImageScan,
    db: Option<&VulnDb>,
    filters: &Filters,
    now: DateTime<Utc>,
) -> Result<BuiltReport, ScanError> {
    let inv = &scan.inventory;
    let mut warnings = inv.warnings.clone();
    let mut results = Vec::new();
    if let Some(db) = db {
        let found = sightline_detect::detect_os(db, inv)?;
        warnings.extend(found.warnings);
        if let Some(os) = &inv.os {
            let mut vulns = found.vulnerabilities;
            filters.apply(&mut vulns);
            results.push(ScanResult {
                target: format!("{} ({os})", scan.artifact_name),
                class: CLASS_OS_PKGS.to_string(),
                kind: os.family.to_string(),
                vulnerabilities: vulns,
                ..Default::default()
            });
        }
    }
    for r in scan.secrets.iter().flatten() {
        let mut r = r.clone();
        r.secrets
            .retain(|s| filters.severities.is_empty() || filters.severities.contains(&s.severity));
        if !r.secrets.is_empty() {
            results.push(r);
        }
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
