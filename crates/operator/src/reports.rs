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

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde::Serialize;
use sightline_api::crd::{
    exposed_secret_report_data, vulnerability_report_data, ExposedSecret, ExposedSecretReport,
    ExposedSecretReportFields, ImageRefError, Vulnerability, VulnerabilityFields,
    VulnerabilityReport, VulnerabilityReportFields,
};
use sightline_api::naming::{
    container_report_name, go_duration, report_labels, ResourceRef, ANNOTATION_REPORT_TTL,
};
use sightline_api::vuln::Severity;
use sightline_detect::Filters;
use sightline_scan::{build_report_with, ImageScan, ScanError};
use sightline_vulndb::VulnDb;

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

/// A report kind the size guard can trim.
trait Trimmable: Serialize {
    /// One list entry.
    type Entry: Serialize;
    /// The kind, for errors.
    const KIND: &'static str;
    /// The list that is trimmed.
    fn entries(&mut self) -> &mut Vec<Self::Entry>;
    /// An entry's severity.
    fn severity(entry: &Self::Entry) -> Severity;
    /// The object's metadata.
    fn meta(&mut self) -> &mut ObjectMeta;
}

impl Trimmable for VulnerabilityReport {
    type Entry = Vulnerability;
    const KIND: &'static str = "VulnerabilityReport";
    fn entries(&mut self) -> &mut Vec<Vulnerability> {
        &mut self.spec.report.vulnerabilities
    }
    fn severity(entry: &Vulnerability) -> Severity {
        entry.severity
    }
    fn meta(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Trimmable for ExposedSecretReport {
    type Entry = ExposedSecret;
    const KIND: &'static str = "ExposedSecretReport";
    fn entries(&mut self) -> &mut Vec<ExposedSecret> {
        &mut self.spec.report.secrets
    }
    fn severity(entry: &ExposedSecret) -> Severity {
        entry.severity
    }
    fn meta(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The length of `value`'s compact JSON, without keeping the JSON.
fn json_len<T: Serialize + ?Sized>(value: &T) -> Result<usize, serde_json::Error> {
    let mut count = ByteCount(0);
    serde_json::to_writer(&mut count, value)?;
    Ok(count.0)
}

/// The size guard (see the module docs): trims `report`'s entries until its JSON fits
/// `budget`, marking it; returns `(kept, total)` when it trimmed.
fn fit_to_budget<R: Trimmable>(
    report: &mut R,
    budget: usize,
) -> Result<Option<(usize, usize)>, ReportError> {
    let name = report.meta().name.clone().unwrap_or_default();
    let ser_err = |source| ReportError::Serialize {
        kind: R::KIND,
        name: name.clone(),
        source,
    };
    if json_len(report).map_err(ser_err)? <= budget {
        return Ok(None);
    }
    let entries = std::mem::take(report.entries());
    let total = entries.len();
    // Measure the object with an empty list and the longest marker it can get ("<total>/<total>"),
    // so the estimate below is an upper bound.
    set_trimmed(report.meta(), total, total);
    let base = json_len(report).map_err(ser_err)?;
    if base > budget {
        *report.entries() = entries;
        return Err(ReportError::TooLarge {
            kind: R::KIND,
            name,
            bytes: base,
            budget,
        });
    }
    // Each entry costs its JSON plus one separating comma (one comma too many: an upper bound).
    let cost: Vec<usize> = entries
        .iter()
        .map(|e| json_len(e).map(|n| n + 1))
        .collect::<Result<_, _>>()
        .map_err(ser_err)?;
    let mut size = base + cost.iter().sum::<usize>();
    // Drop order: lowest severity first; within a severity, last in the report first.
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by_key(|&i| (R::severity(&entries[i]), std::cmp::Reverse(i)));
    let mut keep = vec![true; total];
    let mut next = 0;
    while size > budget && next < total {
        let i = order[next];
        keep[i] = false;
        size -= cost[i];
        next += 1;
    }
    let mut kept_entries: Vec<R::Entry> = entries
        .into_iter()
        .zip(&keep)
        .filter_map(|(e, k)| k.then_some(e))
        .collect();
    // The estimate is an upper bound, so this normally passes at once; should it ever not,
    // keep dropping in the same order, one entry at a time, re-measuring.
    loop {
        let kept = kept_entries.len();
        set_trimmed(report.meta(), kept, total);
        *report.entries() = kept_entries;
        let size = json_len(report).map_err(ser_err)?;
        if size <= budget {
            return Ok(Some((kept, total)));
        }
        kept_entries = std::mem::take(report.entries());
        if kept_entries.is_empty() {
            return Err(ReportError::TooLarge {
                kind: R::KIND,
                name,
                bytes: size,
                budget,
            });
        }
        let (pos, _) = kept_entries
            .iter()
            .enumerate()
            .min_by_key(|(pos, e)| (R::severity(e), std::cmp::Reverse(*pos)))
            .expect("the list is not empty");
        kept_entries.remove(pos);
    }
}

fn set_trimmed(meta: &mut ObjectMeta, kept: usize, total: usize) {
    meta.annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(TRIMMED_ANNOTATION.to_string(), format!("{kept}/{total}"));
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::OnceLock;

    use chrono::TimeZone;
    use sightline_api::crd::{
        ExposedSecretReportData, ExposedSecretSummary, VulnerabilityReportData,
        VulnerabilitySummary,
    };
    use sightline_api::report::{DetectedSecret, ScanResult, CLASS_SECRET};

    use super::*;

    const DIGEST: &str = "sha256:9f2e6fb1c3c5a4e0d1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
    const IMAGE: &str = "127.0.0.1:5000/library/debian:bookworm-curl";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
    }

    /// The trivy.db written from the shared real advisory fixtures (once per test run).
    fn db() -> &'static VulnDb {
        static DB: OnceLock<(PathBuf, VulnDb)> = OnceLock::new();
        &DB.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap().keep();
            sightline_vulndb::fixture::write_default_fixture_db(&dir).unwrap();
            let db = VulnDb::open(&dir.join("trivy.db")).unwrap();
            (dir, db)
        })
        .1
    }

    fn target() -> ContainerTarget {
        ContainerTarget {
            resource: ResourceRef {
                kind: "ReplicaSet".into(),
                namespace: "shop".into(),
                name: "checkout-7c9f".into(),
            },
            api_version: "apps/v1".into(),
            uid: "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab".into(),
            container: "checkout".into(),
            image: IMAGE.into(),
            digest: DIGEST.into(),
            spec_hash: "5d8f7b9c4".into(),
        }
    }

    fn pkg(name: &str, version: &str, src: &str, src_version: &str) -> serde_json::Value {
        serde_json::json!({
            "id": format!("{name}@{version}"),
            "name": name,
            "version": version,
            "src_name": src,
            "src_version": src_version,
            "file_path": "var/lib/dpkg/status"
        })
    }

    /// A Debian 12 image with old openssl and curl (fixed advisories) plus apt and bash
    /// (LOW advisories with no fix), and two secrets.
    fn debian_scan() -> ImageScan {
        let mut s: ImageScan = serde_json::from_value(serde_json::json!({
            "artifact_name": IMAGE,
            "image_id": "sha256:abc",
            "inventory": {
                "os": {"family": "debian", "name": "12.15"},
                "os_packages": [
                    pkg("apt", "2.6.1", "apt", "2.6.1"),
                    pkg("bash", "5.2.15-2+b2", "bash", "5.2.15-2"),
                    pkg("curl", "7.88.1-10+deb12u5", "curl", "7.88.1-10+deb12u5"),
                    pkg("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
                ]
            }
        }))
        .unwrap();
        let secret = |rule: &str, severity| DetectedSecret {
            rule_id: rule.into(),
            category: "AWS".into(),
            severity,
            title: format!("{rule} title"),
            matched: "KEY=********".into(),
            offset: 0,
            ..Default::default()
        };
        s.secrets = Some(vec![ScanResult {
            target: "/app/.env".into(),
            class: CLASS_SECRET.into(),
            secrets: vec![
                secret("aws-access-key-id", Severity::Critical),
                secret("aws-secret-access-key", Severity::High),
                secret("generic-token", Severity::Low),
            ],
            ..Default::default()
        }]);
        s
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_labels_annotations_and_owner() {
        let s = ReportSettings {
            ttl: Some(Duration::from_secs(24 * 3600)),
            ..Default::default()
        };
        let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap();
        let want_labels = labels(&[
            ("trivy-operator.resource.kind", "ReplicaSet"),
            ("trivy-operator.resource.name", "checkout-7c9f"),
            ("trivy-operator.resource.namespace", "shop"),
            ("trivy-operator.container.name", "checkout"),
            ("resource-spec-hash", "5d8f7b9c4"),
            ("app.kubernetes.io/managed-by", "sightline"),
        ]);
        let want_owner = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "checkout-7c9f".into(),
            uid: "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab".into(),
            controller: Some(true),
            block_owner_deletion: Some(false),
        };
        let want_meta = ObjectMeta {
            name: Some("replicaset-checkout-7c9f-checkout".into()),
            namespace: Some("shop".into()),
            labels: Some(want_labels),
            annotations: Some(labels(&[(
                "trivy-operator.aquasecurity.github.io/report-ttl",
                "24h0m0s",
            )])),
            owner_references: Some(vec![want_owner]),
            ..Default::default()
        };
        assert_eq!(r.metadata, want_meta);
        let secrets = exposed_secret_report(&target(), &debian_scan(), &s, now()).unwrap();
        assert_eq!(secrets.metadata, want_meta);

        // The wire form of the owner reference.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["apiVersion"], "aquasecurity.github.io/v1alpha1");
        assert_eq!(j["kind"], "VulnerabilityReport");
        assert_eq!(
            j["metadata"]["ownerReferences"],
            serde_json::json!([{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "checkout-7c9f",
                "uid": "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab",
                "controller": true,
                "blockOwnerDeletion": false
            }])
        );

        // No TTL: no annotations at all.
        let r = vulnerability_report(
            &target(),
            &debian_scan(),
            db(),
            &ReportSettings::default(),
            now(),
        )
        .unwrap();
        assert_eq!(r.metadata.annotations, None);
    }

    #[test]
    fn long_workload_names_get_hashed_report_names_and_the_name_annotation() {
        let mut t = target();
        t.resource.kind = "StatefulSet".into();
        t.resource.name = format!("a-{}", "x".repeat(70));
        t.api_version = "apps/v1".into();
        let r =
            exposed_secret_report(&t, &debian_scan(), &ReportSettings::default(), now()).unwrap();
        let name = r.metadata.name.clone().unwrap();
        assert_eq!(
            name,
            container_report_name("StatefulSet", &t.resource.name, "checkout")
        );
        assert!(
            name.starts_with("statefulset-") && name.len() <= 63,
            "{name}"
        );
        let labels = r.metadata.labels.as_ref().unwrap();
        assert!(!labels.contains_key("trivy-operator.resource.name"));
        assert!(labels.contains_key("trivy-operator.resource.name-hash"));
        assert_eq!(
            r.metadata.annotations.as_ref().unwrap()["trivy-operator.resource.name"],
            t.resource.name
        );
        assert_eq!(
            r.metadata.owner_references.as_ref().unwrap()[0].name,
            t.resource.name
        );
    }

    #[test]
    fn vulnerability_report_body_and_summary() {
        let r = vulnerability_report(
            &target(),
            &debian_scan(),
            db(),
            &ReportSettings::default(),
            now(),
        )
        .unwrap();
        let report = &r.spec.report;
        assert_eq!(report.registry.server, "127.0.0.1:5000");
        assert_eq!(report.artifact.repository, "library/debian");
        assert_eq!(report.artifact.tag, "bookworm-curl");
        assert_eq!(report.artifact.digest, DIGEST);
        assert_eq!(report.os.family, "debian");
        assert_eq!(report.update_timestamp, "2026-11-27T12:00:00Z");
        let v = &report.vulnerabilities;
        assert!(v.len() > 10, "{} findings", v.len());
        assert_eq!(report.summary, VulnerabilitySummary::of(v));
        for pkg in ["apt", "bash", "curl", "libssl3"] {
            assert!(v.iter().any(|x| x.resource == pkg), "no finding for {pkg}");
        }
        // apt's LOW advisory has no fix in Debian 12.
        let apt = v
            .iter()
            .find(|x| x.vulnerability_id == "CVE-2011-3374")
            .unwrap();
        assert_eq!(
            (apt.severity, apt.fixed_version.as_str()),
            (Severity::Low, "")
        );
        assert!(report.summary.low_count >= 2);
        assert!(report.summary.unknown_count > 0);
        assert_eq!(trimmed_counts(&r.metadata), None);
    }

    #[test]
    fn filters_apply() {
        let all = vulnerability_report(
            &target(),
            &debian_scan(),
            db(),
            &ReportSettings::default(),
            now(),
        )
        .unwrap()
        .spec
        .report;
        let fixed = all
            .vulnerabilities
            .iter()
            .filter(|v| !v.fixed_version.is_empty())
            .count();
        assert!(fixed > 0 && fixed < all.vulnerabilities.len());

        let s = ReportSettings {
            filters: Filters {
                ignore_unfixed: true,
                severities: vec![],
            },
            ..Default::default()
        };
        let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now())
            .unwrap()
            .spec
            .report;
        assert_eq!(r.vulnerabilities.len(), fixed);
        assert!(r
            .vulnerabilities
            .iter()
            .all(|v| !v.fixed_version.is_empty()));
        assert_eq!(r.summary, VulnerabilitySummary::of(&r.vulnerabilities));

        let s = ReportSettings {
            filters: Filters {
                ignore_unfixed: false,
                severities: vec![Severity::Low, Severity::Critical],
            },
            ..Default::default()
        };
        let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now())
            .unwrap()
            .spec
            .report;
        assert_eq!(r.summary.low_count, all.summary.low_count);
        assert_eq!(r.summary.unknown_count, 0);
        assert_eq!(r.vulnerabilities.len() as u32, all.summary.low_count);
        assert!(r
            .vulnerabilities
            .iter()
            .all(|v| v.severity == Severity::Low));

        // The severity filter applies to secrets too.
        let secrets = exposed_secret_report(&target(), &debian_scan(), &s, now())
            .unwrap()
            .spec
            .report;
        let rules: Vec<&str> = secrets.secrets.iter().map(|x| x.rule_id.as_str()).collect();
        assert_eq!(rules, ["aws-access-key-id", "generic-token"]);
    }

    #[test]
    fn exposed_secret_report_body_and_summary() {
        let r = exposed_secret_report(&target(), &debian_scan(), &ReportSettings::default(), now())
            .unwrap();
        let report = &r.spec.report;
        assert_eq!(report.artifact.digest, DIGEST);
        assert_eq!(report.secrets.len(), 3);
        assert_eq!(report.secrets[0].target, "/app/.env");
        assert_eq!(
            report.summary,
            ExposedSecretSummary {
                critical_count: 1,
                high_count: 1,
                medium_count: 0,
                low_count: 1,
            }
        );
        // A scan with secret scanning off: an empty report.
        let mut scan = debian_scan();
        scan.secrets = None;
        let r = exposed_secret_report(&target(), &scan, &ReportSettings::default(), now()).unwrap();
        assert!(r.spec.report.secrets.is_empty());
        assert_eq!(r.spec.report.summary, ExposedSecretSummary::default());
    }

    #[test]
    fn bad_image_reference_is_an_error_naming_the_container() {
        let mut t = target();
        t.image = "Not/A:-valid".into();
        let err = vulnerability_report(&t, &debian_scan(), db(), &ReportSettings::default(), now())
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ReportError::Image { .. }), "{msg}");
        assert!(
            msg.contains("ReplicaSet/shop/checkout-7c9f container checkout"),
            "{msg}"
        );
    }

    /// A report of `n` findings with long descriptions, in Trivy's order, severities mixed.
    fn huge_report(n: usize) -> VulnerabilityReport {
        let severities = [
            Severity::Critical,
            Severity::High,
            Severity::Medium,
            Severity::Low,
            Severity::Unknown,
        ];
        let vulnerabilities: Vec<Vulnerability> = (0..n)
            .map(|i| Vulnerability {
                vulnerability_id: format!("CVE-2026-{i:05}"),
                resource: format!("pkg{:04}", i / 10),
                installed_version: "1.0-1".into(),
                fixed_version: if i % 3 == 0 {
                    String::new()
                } else {
                    "1.0-2".into()
                },
                severity: severities[(i * 7 + i / 10) % 5],
                title: format!("pkg{:04}: a problem in a function", i / 10),
                description: format!("Issue {i}: ").repeat(40),
                primary_link: format!("https://avd.aquasec.com/nvd/cve-2026-{i:05}"),
                links: vec![format!(
                    "https://security-tracker.debian.org/tracker/CVE-2026-{i:05}"
                )],
                target: format!("{IMAGE} (debian 12.15)"),
                class: "os-pkgs".into(),
                package_type: "debian".into(),
                ..Default::default()
            })
            .collect();
        let data = VulnerabilityReportData {
            summary: VulnerabilitySummary::of(&vulnerabilities),
            vulnerabilities,
            ..Default::default()
        };
        let mut r = VulnerabilityReport::new(
            &target().report_name(),
            VulnerabilityReportFields { report: data },
        );
        r.metadata = metadata(&target(), &ReportSettings::default());
        r
    }

    #[test]
    fn huge_report_is_trimmed_under_budget_deterministically() {
        let original = huge_report(30_000);
        let full_size = json_len(&original).unwrap();
        assert!(full_size > 10 * DEFAULT_MAX_REPORT_BYTES, "{full_size}");

        let started = std::time::Instant::now();
        let mut a = original.clone();
        let trimmed = fit_to_budget(&mut a, DEFAULT_MAX_REPORT_BYTES).unwrap();
        let elapsed = started.elapsed();
        eprintln!("trimmed {full_size} bytes of 30,000 entries in {elapsed:?}");
        let mut b = original.clone();
        fit_to_budget(&mut b, DEFAULT_MAX_REPORT_BYTES).unwrap();

        let json_a = serde_json::to_vec(&a).unwrap();
        assert_eq!(json_a, serde_json::to_vec(&b).unwrap(), "not deterministic");
        assert!(json_a.len() <= DEFAULT_MAX_REPORT_BYTES, "{}", json_a.len());
        // Close to the budget: the estimate wastes at most a comma per entry.
        assert!(
            json_a.len() > DEFAULT_MAX_REPORT_BYTES - 5_000,
            "{}",
            json_a.len()
        );

        let kept = &a.spec.report.vulnerabilities;
        assert_eq!(trimmed, Some((kept.len(), 30_000)));
        assert_eq!(
            a.metadata.annotations.as_ref().unwrap()[TRIMMED_ANNOTATION],
            format!("{}/30000", kept.len())
        );
        assert_eq!(trimmed_counts(&a.metadata), Some((kept.len(), 30_000)));
        // The summary still counts every finding.
        assert_eq!(a.spec.report.summary, original.spec.report.summary);
        assert_eq!(a.spec.report.summary.total(), 30_000);

        // Lowest severities went first: every kept entry is at least as severe as every
        // dropped one, and within the boundary severity the kept ones are the first ones.
        let all = &original.spec.report.vulnerabilities;
        let kept_ids: std::collections::HashSet<&str> =
            kept.iter().map(|v| v.vulnerability_id.as_str()).collect();
        let min_kept = kept.iter().map(|v| v.severity).min().unwrap();
        let max_dropped = all
            .iter()
            .filter(|v| !kept_ids.contains(v.vulnerability_id.as_str()))
            .map(|v| v.severity)
            .max()
            .unwrap();
        assert!(
            min_kept >= max_dropped,
            "{min_kept:?} kept, {max_dropped:?} dropped"
        );
        assert!(kept.iter().all(|v| v.severity > Severity::Unknown));
        let boundary: Vec<bool> = all
            .iter()
            .filter(|v| v.severity == max_dropped)
            .map(|v| kept_ids.contains(v.vulnerability_id.as_str()))
            .collect();
        let first_dropped = boundary.iter().position(|k| !k).unwrap();
        assert!(boundary[first_dropped..].iter().all(|k| !k));
        // Kept entries keep their order.
        let positions: Vec<usize> = kept
            .iter()
            .map(|v| v.vulnerability_id[9..].parse().unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
        // Kept entries are untouched.
        assert_eq!(
            kept[0],
            *all.iter()
                .find(|v| v.vulnerability_id == kept[0].vulnerability_id)
                .unwrap()
        );
        // Linear work (about 2 s in a debug build here); re-serializing the report
        // once per dropped entry would take hours.
        assert!(elapsed.as_secs() < 20, "{elapsed:?}");
    }

    #[test]
    fn report_under_budget_is_untouched() {
        let original = huge_report(100);
        let mut r = original.clone();
        assert_eq!(
            fit_to_budget(&mut r, DEFAULT_MAX_REPORT_BYTES).unwrap(),
            None
        );
        assert_eq!(r, original);
        // Exactly at the budget fits.
        let size = json_len(&original).unwrap();
        assert_eq!(fit_to_budget(&mut r, size).unwrap(), None);
        assert_eq!(
            fit_to_budget(&mut r, size - 1).unwrap().map(|t| t.1),
            Some(100)
        );
        assert!(json_len(&r).unwrap() < size);
    }

    #[test]
    fn trimming_through_the_public_functions() {
        let full = vulnerability_report(
            &target(),
            &debian_scan(),
            db(),
            &ReportSettings::default(),
            now(),
        )
        .unwrap();
        let size = json_len(&full).unwrap();
        let s = ReportSettings {
            max_report_bytes: size - 2_000,
            ..Default::default()
        };
        let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap();
        assert!(json_len(&r).unwrap() <= s.max_report_bytes);
        let total = full.spec.report.vulnerabilities.len();
        let kept = r.spec.report.vulnerabilities.len();
        assert!(kept < total);
        assert_eq!(trimmed_counts(&r.metadata), Some((kept, total)));
        assert_eq!(r.spec.report.summary, full.spec.report.summary);
        // The fixture's findings are UNKNOWN and LOW: the UNKNOWN ones went first.
        assert!(
            r.spec
                .report
                .vulnerabilities
                .iter()
                .filter(|v| v.severity == Severity::Low)
                .count()
                == full.spec.report.summary.low_count as usize
        );

        // Secrets: the LOW one goes first.
        let full =
            exposed_secret_report(&target(), &debian_scan(), &ReportSettings::default(), now())
                .unwrap();
        let size = json_len(&full).unwrap();
        let s = ReportSettings {
            max_report_bytes: size - 10,
            ..Default::default()
        };
        let r = exposed_secret_report(&target(), &debian_scan(), &s, now()).unwrap();
        let rules: Vec<&str> = r
            .spec
            .report
            .secrets
            .iter()
            .map(|x| x.rule_id.as_str())
            .collect();
        assert_eq!(rules, ["aws-access-key-id", "aws-secret-access-key"]);
        assert_eq!(trimmed_counts(&r.metadata), Some((2, 3)));
        assert_eq!(r.spec.report.summary.low_count, 1);
    }

    #[test]
    fn a_budget_too_small_for_an_empty_report_is_an_error() {
        let s = ReportSettings {
            max_report_bytes: 300,
            ..Default::default()
        };
        let err = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap_err();
        assert!(
            matches!(err, ReportError::TooLarge { budget: 300, .. }),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains("replicaset-checkout-7c9f-checkout"));
        let empty = ExposedSecretReport::new(
            "x",
            ExposedSecretReportFields {
                report: ExposedSecretReportData::default(),
            },
        );
        let mut r = empty.clone();
        assert!(fit_to_budget(&mut r, 10).is_err());
    }
}
