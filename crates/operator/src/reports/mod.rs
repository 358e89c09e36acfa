//! The report objects for one workload container: a VulnerabilityReport and an
//! ExposedSecretReport, built from the digest's stored [`ImageScan`], ready to apply.
//!
//! Metadata follows the compatibility contract (DESIGN.md):
//!
//! * name [`container_report_name`]`(kind, name, container)`, in the workload's namespace;
//! * labels (and, for a workload name that is not a label value, the name annotation) from
//!   [`report_labels`], with `resource-spec-hash`;
//! * Trivy Operator's `report-ttl` annotation ([`ANNOTATION_REPORT_TTL`]) when a TTL is set;
//! * one ownerReference to the workload (`controller: true`, `blockOwnerDeletion: false`), so
//!   deleting the workload garbage-collects its reports.
//!
//! # The size guard
//!
//! etcd refuses requests over 1.5 MiB (1,572,864 bytes, its default `--max-request-bytes`), and
//! custom resources are stored as JSON. An image with tens of thousands of findings would give
//! a report that can never be written, so every object is measured (its compact JSON, as
//! `serde_json` writes it) against [`ReportSettings::max_report_bytes`] before it is returned.
//! When it is over budget, whole entries are dropped, deterministically:
//!
//! * lowest severity first (UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL);
//! * within one severity, the last entries in the report's order first (the report keeps
//!   Trivy's order: package, version, severity, ID);
//! * the kept entries stay in their original order.
//!
//! The [`TRIMMED_ANNOTATION`] annotation (`sightline.dev/trimmed: "<kept>/<total>"`) marks a
//! trimmed report, and `.report.summary` still counts **all** findings (after the
//! `ignoreUnfixed`/severity filters), not only the kept entries: the counts, the printer
//! columns and the `trivy_image_vulnerabilities` metric stay truthful, and the full list
//! remains available from the inventory store (`sightline image` on the digest shows it).
//! Entries are dropped whole; their fields are never shortened.
//!
//! Each entry is serialized once to measure it, so trimming 50,000 entries costs about two
//! serializations of the report, not one per dropped entry. A report that does not fit even
//! with no entries at all is a [`ReportError::TooLarge`], never an over-budget object.

mod size_guard;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sightline_api::crd::{
    exposed_secret_report_data, vulnerability_report_data, ExposedSecretReport,
    ExposedSecretReportFields, ImageRefError, VulnerabilityFields, VulnerabilityReport,
    VulnerabilityReportFields,
};
use sightline_api::naming::{
    container_report_name, go_duration, report_labels, ResourceRef, ANNOTATION_REPORT_TTL,
};
use sightline_detect::Filters;
use sightline_scan::{build_report_with, ImageScan, ScanError};
use sightline_vulndb::VulnDb;

use size_guard::fit_to_budget;

/// The default size budget of one report object: 1,400,000 bytes of compact JSON.
///
/// etcd's request limit is 1.5 MiB (1,572,864 bytes) for the whole stored object; the API
/// server adds `metadata.uid`, `resourceVersion`, `creationTimestamp`, `generation` and
/// `managedFields` (small for server-side apply: `.report.vulnerabilities` is an atomic list,
/// so its entries are not listed one by one), and etcd adds the key. The ~170 KB margin covers
/// those many times over. Write reports with server-side apply or a plain create/replace,
/// never client-side apply: its `last-applied-configuration` annotation would double the size.
pub const DEFAULT_MAX_REPORT_BYTES: usize = 1_400_000;

/// Annotation on a report trimmed by the size guard: `"<kept>/<total>"` entries.
pub const TRIMMED_ANNOTATION: &str = "sightline.dev/trimmed";

/// One container of one workload: what its reports are about and owned by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerTarget {
    /// Kind/namespace/name of the workload (ReplicaSet, Pod, StatefulSet, DaemonSet,
    /// ReplicationController, Job, CronJob).
    pub resource: ResourceRef,
    /// The workload's `apiVersion` (`apps/v1`, `v1`, `batch/v1`, `batch/v1beta1`), for the
    /// ownerReference.
    pub api_version: String,
    /// The workload's `metadata.uid`.
    pub uid: String,
    /// The container's name.
    pub container: String,
    /// The image as written in the pod spec (gives `.report.registry` and `.report.artifact`).
    pub image: String,
    /// The running digest (`sha256:...`), for `.report.artifact.digest` of a tag reference.
    pub digest: String,
    /// The `resource-spec-hash` label value.
    pub spec_hash: String,
}

impl ContainerTarget {
    /// The name of this container's per-container reports.
    pub fn report_name(&self) -> String {
        container_report_name(&self.resource.kind, &self.resource.name, &self.container)
    }

    /// The ownerReference every report of this container carries: the workload, as
    /// controller, without blocking the workload's deletion.
    pub fn owner_reference(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.clone(),
            kind: self.resource.kind.clone(),
            name: self.resource.name.clone(),
            uid: self.uid.clone(),
            controller: Some(true),
            block_owner_deletion: Some(false),
        }
    }

    /// `kind/namespace/name container` for messages.
    fn describe(&self) -> String {
        format!(
            "{}/{}/{} container {}",
            self.resource.kind, self.resource.namespace, self.resource.name, self.container
        )
    }
}

/// How reports are built.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// `trivy.ignoreUnfixed` and `trivy.severity` (the severity filter applies to secrets too).
    pub filters: Filters,
    /// `operator.scannerReportTTL`: written as the report-ttl annotation.
    pub ttl: Option<Duration>,
    /// The size budget of one report object, in bytes of compact JSON (see the module docs).
    pub max_report_bytes: usize,
}

impl Default for ReportSettings {
    /// No filters, no TTL, [`DEFAULT_MAX_REPORT_BYTES`].
    fn default() -> Self {
        ReportSettings {
            filters: Filters::default(),
            ttl: None,
            max_report_bytes: DEFAULT_MAX_REPORT_BYTES,
        }
    }
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Matching the inventory against the vulnerability DB failed.
    #[error("{target}: matching {digest} against the vulnerability DB failed: {source}")]
    Match {
        /// The container (`kind/namespace/name container c`).
        target: String,
        /// The image digest.
        digest: String,
        /// The matching error (boxed: it is large and rare).
        #[source]
        source: Box<ScanError>,
    },
    /// The container's image reference does not parse.
    #[error("{target}: {source}")]
    Image {
        /// The container (`kind/namespace/name container c`).
        target: String,
        /// The parse error (names the reference).
        #[source]
        source: ImageRefError,
    },
    /// The report does not fit the size budget even with no entries.
    #[error("{kind} {name}: {bytes} bytes with no findings at all, over the {budget}-byte budget (max_report_bytes); raise the budget")]
    TooLarge {
        /// The report kind.
        kind: &'static str,
        /// The report name.
        name: String,
        /// Its size with an empty list.
        bytes: usize,
        /// The budget.
        budget: usize,
    },
    /// The object could not be serialized to measure it (not expected for these types).
    #[error("{kind} {name}: cannot serialize the report: {source}")]
    Serialize {
        /// The report kind.
        kind: &'static str,
        /// The report name.
        name: String,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// The VulnerabilityReport of container `t`: `scan` matched against `db`, filtered by
/// `s.filters`, with the default [`VulnerabilityFields`] (links, target, class, packageType),
/// metadata per the contract, trimmed to `s.max_report_bytes` (see the module docs).
pub fn vulnerability_report(
    t: &ContainerTarget,
    scan: &ImageScan,
    db: &VulnDb,
    s: &ReportSettings,
    now: DateTime<Utc>,
) -> Result<VulnerabilityReport, ReportError> {
    let built = build_report_with(scan, Some(db), &s.filters, now).map_err(|source| {
        ReportError::Match {
            target: t.describe(),
            digest: t.digest.clone(),
            source: Box::new(source),
        }
    })?;
    let data = vulnerability_report_data(
        &built.report,
        &t.image,
        Some(&t.digest),
        VulnerabilityFields::default(),
        now,
    )
    .map_err(|source| ReportError::Image {
        target: t.describe(),
        source,
    })?;
    let mut report =
        VulnerabilityReport::new(&t.report_name(), VulnerabilityReportFields { report: data });
    report.metadata = metadata(t, s);
    fit_to_budget(&mut report, s.max_report_bytes)?;
    Ok(report)
}

/// The ExposedSecretReport of container `t`: the secret findings of `scan` (severity filter
/// of `s.filters` applied), metadata per the contract, trimmed to `s.max_report_bytes`.
/// A scan without secret results gives a report with no secrets and zero counts.
pub fn exposed_secret_report(
    t: &ContainerTarget,
    scan: &ImageScan,
    s: &ReportSettings,
    now: DateTime<Utc>,
) -> Result<ExposedSecretReport, ReportError> {
    // No DB: only the secret results are built (no inventory matching).
    let built =
        build_report_with(scan, None, &s.filters, now).map_err(|source| ReportError::Match {
            target: t.describe(),
            digest: t.digest.clone(),
            source: Box::new(source),
        })?;
    let data = exposed_secret_report_data(&built.report, &t.image, Some(&t.digest), now).map_err(
        |source| ReportError::Image {
            target: t.describe(),
            source,
        },
    )?;
    let mut report =
        ExposedSecretReport::new(&t.report_name(), ExposedSecretReportFields { report: data });
    report.metadata = metadata(t, s);
    fit_to_budget(&mut report, s.max_report_bytes)?;
    Ok(report)
}

/// `(kept, total)` entries of a report the size guard trimmed (its [`TRIMMED_ANNOTATION`]);
/// `None` for a complete report.
pub fn trimmed_counts(meta: &ObjectMeta) -> Option<(usize, usize)> {
    let value = meta.annotations.as_ref()?.get(TRIMMED_ANNOTATION)?;
    let (kept, total) = value.split_once('/')?;
    Some((kept.parse().ok()?, total.parse().ok()?))
}

/// Name, namespace, labels, annotations and owner of a report about `t`.
fn metadata(t: &ContainerTarget, s: &ReportSettings) -> ObjectMeta {
    let meta = report_labels(&t.resource, Some(&t.container), Some(&t.spec_hash));
    let mut annotations: BTreeMap<String, String> = meta.annotations;
    if let Some(ttl) = s.ttl {
        annotations.insert(ANNOTATION_REPORT_TTL.to_string(), go_duration(ttl));
    }
    ObjectMeta {
        name: Some(t.report_name()),
        namespace: Some(t.resource.namespace.clone()),
        labels: Some(meta.labels),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![t.owner_reference()]),
        ..ObjectMeta::default()
    }
}
