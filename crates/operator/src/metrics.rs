//! The operator's Prometheus metrics: Sightline's own `sightline_*` operational metrics and
//! Trivy Operator's report metrics (`trivy_image_vulnerabilities`, `trivy_image_exposedsecrets`).
//!
//! Trivy Operator computes its report metrics on each scrape by listing every report from the
//! API server. Sightline keeps them in-process instead: the report writer hands each report it
//! writes to [`Metrics::set_vulnerability_report`] / [`Metrics::set_exposed_secret_report`]
//! and each report it deletes to [`Metrics::remove_report`], so a scrape costs no API call and
//! no report is ever held in memory. Names, label names, label values (`severity` is
//! `Critical`, `High`, `Medium`, `Low`, `Unknown`) and series per report are Trivy Operator's,
//! so its dashboards and alerts work unchanged.
//!
//! [`Metrics::encode`] renders the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]), what
//! Trivy Operator serves and every Prometheus version scrapes.
//!
//! # Operational metrics
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `sightline_scans_total{result}` | counter | finished scans of an image digest, `result` = `success` / `failure` |
//! | `sightline_scan_failures_total{reason}` | counter | failed scans by [`FailureReason`] (`auth`, `not_found`, `registry`, `bad_image`, `timeout`, `oom`, `bad_result`, `internal`) |
//! | `sightline_scan_duration_seconds` | histogram | time from a scan Job's creation to its result being stored (successful scans) |
//! | `sightline_scan_queue_depth` | gauge | digests waiting for a scan Job slot |
//! | `sightline_workqueue_depth` | gauge | workloads waiting to be reconciled |
//! | `sightline_scan_jobs_running` | gauge | scan Jobs holding a slot (`scanJobsConcurrentLimit`) |
//! | `sightline_inventories_stored` | gauge | digests in the inventory store |
//! | `sightline_vulndb_age_seconds` | gauge | seconds since the vulnerability DB in use was built (its `UpdatedAt`), computed at scrape time once [`Metrics::set_vulndb_updated_at`] was called |
//! | `sightline_vulndb_updates_total` | counter | vulnerability DB updates installed (a new DB swapped in) |
//! | `sightline_rematch_duration_seconds` | histogram | time to re-match every stored inventory after a DB update |
//! | `sightline_reports_written_total{kind}` | counter | reports written, by kind (`VulnerabilityReport`, ...) |
//! | `sightline_reports_trimmed_total{kind}` | counter | reports the size guard trimmed, by kind |
//!
//! Every `reason`, `result` and report `kind` series exists from the start at 0, so
//! `increase()` and absence alerts work before the first event.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};
use sightline_api::naming::{LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME};

/// The `Content-Type` of [`Metrics::encode`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Report kinds the `kind` label takes (pre-created at 0).
pub const REPORT_KINDS: [&str; 2] = ["VulnerabilityReport", "ExposedSecretReport"];

/// Why a scan failed: the `reason` label of `sightline_scan_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The registry refused the credentials (401/403).
    Auth,
    /// The image or tag does not exist (404, manifest unknown).
    NotFound,
    /// The registry could not be reached or answered with an error.
    Registry,
    /// The image is malformed (bad manifest, bad layer, unsupported media type).
    BadImage,
    /// The scan Job ran past `scanJobTimeout`.
    Timeout,
    /// The scan Pod was OOM-killed.
    Oom,
    /// The Job's output is not a valid scan result.
    BadResult,
    /// Anything else (a bug, an API error while running the Job).
    Internal,
}

impl FailureReason {
    /// Every reason, in label order.
    pub const ALL: [FailureReason; 8] = [
        FailureReason::Auth,
        FailureReason::NotFound,
        FailureReason::Registry,
        FailureReason::BadImage,
        FailureReason::Timeout,
        FailureReason::Oom,
        FailureReason::BadResult,
        FailureReason::Internal,
    ];

    /// The label value (`auth`, `not_found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Auth => "auth",
            FailureReason::NotFound => "not_found",
            FailureReason::Registry => "registry",
            FailureReason::BadImage => "bad_image",
            FailureReason::Timeout => "timeout",
            FailureReason::Oom => "oom",
            FailureReason::BadResult => "bad_result",
            FailureReason::Internal => "internal",
        }
    }

    /// The reason of a label value; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        FailureReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// `{reason}` of `sightline_scan_failures_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// `{result}` of `sightline_scans_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

/// `{kind}` of the report counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// The labels of `trivy_image_vulnerabilities` and `trivy_image_exposedsecrets`, in Trivy
/// Operator's order.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabels {
    namespace: String,
    name: String,
    resource_kind: String,
    resource_name: String,
    container_name: String,
    image_registry: String,
    image_repository: String,
    image_tag: String,
    image_digest: String,
    severity: &'static str,
}

/// Which report family a series index entry belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum ReportFamily {
    Vulnerabilities,
    ExposedSecrets,
}

/// Key of the series index: (family, namespace, report name).
type ReportKey = (ReportFamily, String, String);

/// The operator's metrics registry (see the [module docs](self)). `Send + Sync`; share it in
/// an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    scans: Family<ResultLabel, Counter>,
    scan_failures: Family<ReasonLabel, Counter>,
    scan_duration: Histogram,
    scan_queue_depth: Gauge,
    workqueue_depth: Gauge,
    scan_jobs_running: Gauge,
    inventories_stored: Gauge,
    vulndb_age: Gauge,
    /// The DB's `UpdatedAt` (Unix seconds), `i64::MIN` while unknown.
    vulndb_updated_at: AtomicI64,
    vulndb_updates: Counter,
    rematch_duration: Histogram,
    reports_written: Family<KindLabel, Counter>,
    reports_trimmed: Family<KindLabel, Counter>,
    image_vulnerabilities: Family<ImageLabels, Gauge>,
    image_exposed_secrets: Family<ImageLabels, Gauge>,
    /// The label sets exported for each report, so a changed or deleted report's old series
    /// are removed (held while the families are changed, so the two stay consistent).
    series: Mutex<HashMap<ReportKey, Vec<ImageLabels>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered (label-less series and every
    /// `reason`/`result`/`kind` series at 0).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let scans = Family::<ResultLabel, Counter>::default();
        let scan_failures = Family::<ReasonLabel, Counter>::default();
        let scan_duration = Histogram::new([
            1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
        ]);
        let scan_queue_depth = Gauge::default();
        let workqueue_depth = Gauge::default();
        let scan_jobs_running = Gauge::default();
        let inventories_stored = Gauge::default();
        let vulndb_age = Gauge::default();
        let vulndb_updates = Counter::default();
        let rematch_duration = Histogram::new([
            0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
        ]);
        let reports_written = Family::<KindLabel, Counter>::default();
        let reports_trimmed = Family::<KindLabel, Counter>::default();
        let image_vulnerabilities = Family::<ImageLabels, Gauge>::default();
        let image_exposed_secrets = Family::<ImageLabels, Gauge>::default();

        // prometheus-client appends `_total` to counter names.
        registry.register(
            "sightline_scans",
            "Finished scans of an image digest, by result (success, failure)",
            scans.clone(),
        );
        registry.register(
            "sightline_scan_failures",
            "Failed scans of an image digest, by reason (auth, not_found, registry, bad_image, timeout, oom, bad_result, internal)",
            scan_failures.clone(),
        );
        registry.register(
            "sightline_scan_duration_seconds",
            "Time from a scan Job's creation to its result being stored, for successful scans",
            scan_duration.clone(),
        );
        registry.register(
            "sightline_scan_queue_depth",
            "Image digests waiting for a scan Job slot",
            scan_queue_depth.clone(),
        );
        registry.register(
            "sightline_workqueue_depth",
            "Workloads waiting to be reconciled",
            workqueue_depth.clone(),
        );
        registry.register(
            "sightline_scan_jobs_running",
            "Scan Jobs holding a slot (bounded by scanJobsConcurrentLimit)",
            scan_jobs_running.clone(),
        );
        registry.register(
            "sightline_inventories_stored",
            "Image digests with an inventory in the inventory store",
            inventories_stored.clone(),
        );
        registry.register(
            "sightline_vulndb_age_seconds",
            "Seconds since the vulnerability DB in use was built (its UpdatedAt)",
            vulndb_age.clone(),
        );
        registry.register(
            "sightline_vulndb_updates",
            "Vulnerability DB updates installed",
            vulndb_updates.clone(),
        );
        registry.register(
            "sightline_rematch_duration_seconds",
            "Time to re-match every stored inventory against an updated vulnerability DB",
            rematch_duration.clone(),
        );
        registry.register(
            "sightline_reports_written",
            "Reports written, by kind",
            reports_written.clone(),
        );
        registry.register(
            "sightline_reports_trimmed",
            "Reports trimmed by the size guard to fit etcd's object size limit, by kind",
            reports_trimmed.clone(),
        );
        registry.register(
            "trivy_image_vulnerabilities",
            "Number of container image vulnerabilities",
            image_vulnerabilities.clone(),
        );
        registry.register(
            "trivy_image_exposedsecrets",
            "Number of image exposed secrets",
            image_exposed_secrets.clone(),
        );

        for result in ["success", "failure"] {
            let _ = scans.get_or_create(&ResultLabel { result });
        }
        for reason in FailureReason::ALL {
            let _ = scan_failures.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        for kind in REPORT_KINDS {
            let label = KindLabel {
                kind: kind.to_string(),
            };
            let _ = reports_written.get_or_create(&label);
            let _ = reports_trimmed.get_or_create(&label);
        }

        Metrics {
            registry,
            scans,
            scan_failures,
            scan_duration,
            scan_queue_depth,
            workqueue_depth,
            scan_jobs_running,
            inventories_stored,
            vulndb_age,
            vulndb_updated_at: AtomicI64::new(i64::MIN),
            vulndb_updates,
            rematch_duration,
            reports_written,
            reports_trimmed,
            image_vulnerabilities,
            image_exposed_secrets,
            series: Mutex::new(HashMap::new()),
        }
    }

    /// The metrics in the Prometheus text format ([`CONTENT_TYPE`]), with
    /// `sightline_vulndb_age_seconds` computed now.
    pub fn encode(&self) -> String {
        self.encode_at(Utc::now())
    }

    /// [`Metrics::encode`] as of `now`.
    fn encode_at(&self, now: DateTime<Utc>) -> String {
        let updated = self.vulndb_updated_at.load(Ordering::Relaxed);
        if updated != i64::MIN {
            self.vulndb_age.set((now.timestamp() - updated).max(0));
        }
        let mut out = String::new();
        // Writing into a String cannot fail, and every label value is escaped by the encoder.
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("encoding metrics into a String");
        out
    }

    /// A scan finished and its inventory was stored:
    /// `sightline_scans_total{result="success"}`. Report its duration with
    /// [`Metrics::observe_scan_duration`].
    pub fn scan_succeeded(&self) {
        self.scans
            .get_or_create(&ResultLabel { result: "success" })
            .inc();
    }

    /// A successful scan took `duration` from its Job's creation to its inventory being
    /// stored (`sightline_scan_duration_seconds`).
    pub fn observe_scan_duration(&self, duration: Duration) {
        self.scan_duration.observe(duration.as_secs_f64());
    }

    /// A scan failed: `sightline_scan_failures_total{reason}` and
    /// `sightline_scans_total{result="failure"}`. `reason` is a [`FailureReason`] label value
    /// (`auth`, `not_found`, ...; see [`FailureReason::as_str`]); any other string counts as
    /// `internal`, so the label keeps its eight values.
    pub fn scan_failed(&self, reason: &str) {
        let reason = FailureReason::parse(reason).unwrap_or(FailureReason::Internal);
        self.scan_failures
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
        self.scans
            .get_or_create(&ResultLabel { result: "failure" })
            .inc();
    }

    /// `sightline_scan_queue_depth`: digests waiting for a Job slot.
    pub fn set_queue_depth(&self, n: usize) {
        self.scan_queue_depth.set(to_i64(n));
    }

    /// `sightline_workqueue_depth`: workloads waiting to be reconciled.
    pub fn set_workqueue_depth(&self, n: usize) {
        self.workqueue_depth.set(to_i64(n));
    }

    /// `sightline_scan_jobs_running`: Jobs holding a slot.
    pub fn set_jobs_running(&self, n: usize) {
        self.scan_jobs_running.set(to_i64(n));
    }

    /// `sightline_inventories_stored`: digests in the inventory store.
    pub fn set_inventories(&self, n: usize) {
        self.inventories_stored.set(to_i64(n));
    }

    /// The vulnerability DB in use was built at `updated_at` (its metadata's `UpdatedAt`);
    /// `sightline_vulndb_age_seconds` counts from there at each scrape.
    pub fn set_vulndb_updated_at(&self, updated_at: DateTime<Utc>) {
        self.vulndb_updated_at
            .store(updated_at.timestamp(), Ordering::Relaxed);
    }

    /// Sets `sightline_vulndb_age_seconds` directly, for a caller that computes the age itself.
    /// Once [`Metrics::set_vulndb_updated_at`] was called, the age is computed at each scrape
    /// instead (and stays current between calls).
    pub fn set_db_age(&self, seconds: u64) {
        self.vulndb_age
            .set(i64::try_from(seconds).unwrap_or(i64::MAX));
    }

    /// A vulnerability DB update check finished; `swapped` when a new DB was installed
    /// (`sightline_vulndb_updates_total`). Call [`Metrics::set_vulndb_updated_at`] with the
    /// new DB's `UpdatedAt` too.
    pub fn db_updated(&self, swapped: bool) {
        if swapped {
            self.vulndb_updates.inc();
        }
    }

    /// Re-matching every stored inventory took `duration`
    /// (`sightline_rematch_duration_seconds`).
    pub fn rematch_finished(&self, duration: Duration) {
        self.rematch_duration.observe(duration.as_secs_f64());
    }

    /// A report of `kind` (`VulnerabilityReport`, ...) was written
    /// (`sightline_reports_written_total{kind}`).
    pub fn report_written(&self, kind: &str) {
        self.reports_written
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// A report of `kind` was trimmed by the size guard
    /// (`sightline_reports_trimmed_total{kind}`).
    pub fn report_trimmed(&self, kind: &str) {
        self.reports_trimmed
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// Exports `trivy_image_vulnerabilities` for report `r` (one series per severity:
    /// Critical, High, Medium, Low, Unknown, valued from `.report.summary`), replacing the
    /// series of an earlier version of the same report (same namespace and name).
    pub fn set_vulnerability_report(&self, r: &VulnerabilityReport) {
        let report = &r.spec.report;
        let s = &report.summary;
        let base = ImageLabels::of(
            &r.metadata,
            &report.registry.server,
            &report.artifact.repository,
            &report.artifact.tag,
            &report.artifact.digest,
        );
        let values = [
            ("Critical", s.critical_count),
            ("High", s.high_count),
            ("Medium", s.medium_count),
            ("Low", s.low_count),
            ("Unknown", s.unknown_count),
        ];
        self.set_report(
            ReportFamily::Vulnerabilities,
            &self.image_vulnerabilities,
            base,
            &values,
        );
    }

    /// Exports `trivy_image_exposedsecrets` for report `r` (one series per severity:
    /// Critical, High, Medium, Low, as Trivy Operator has no Unknown count for secrets),
    /// replacing the series of an earlier version of the same report.
    pub fn set_exposed_secret_report(&self, r: &ExposedSecretReport) {
        let report = &r.spec.report;
        let s = &report.summary;
        let base = ImageLabels::of(
            &r.metadata,
            &report.registry.server,
            &report.artifact.repository,
            &report.artifact.tag,
            &report.artifact.digest,
        );
        let values = [
            ("Critical", s.critical_count),
            ("High", s.high_count),
            ("Medium", s.medium_count),
            ("Low", s.low_count),
        ];
        self.set_report(
            ReportFamily::ExposedSecrets,
            &self.image_exposed_secrets,
            base,
            &values,
        );
    }

    /// The number of reports with exported series (both kinds counted).
    pub fn reports_tracked(&self) -> usize {
        self.series.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Removes the series of the VulnerabilityReport and the ExposedSecretReport named `name`
    /// in `namespace` (a workload container's reports share their name).
    pub fn remove_report(&self, namespace: &str, name: &str) {
        self.remove_vulnerability_report(namespace, name);
        self.remove_exposed_secret_report(namespace, name);
    }

    /// Removes the `trivy_image_vulnerabilities` series of one VulnerabilityReport.
    pub fn remove_vulnerability_report(&self, namespace: &str, name: &str) {
        self.remove_series(
            ReportFamily::Vulnerabilities,
            &self.image_vulnerabilities,
            namespace,
            name,
        );
    }

    /// Removes the `trivy_image_exposedsecrets` series of one ExposedSecretReport.
    pub fn remove_exposed_secret_report(&self, namespace: &str, name: &str) {
        self.remove_series(
            ReportFamily::ExposedSecrets,
            &self.image_exposed_secrets,
            namespace,
            name,
        );
    }

    fn set_report(
        &self,
        which: ReportFamily,
        family: &Family<ImageLabels, Gauge>,
        base: ImageLabels,
        values: &[(&'static str, u32)],
    ) {
        let key = (which, base.namespace.clone(), base.name.clone());
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let new: Vec<ImageLabels> = values
            .iter()
            .map(|&(severity, _)| ImageLabels {
                severity,
                ..base.clone()
            })
            .collect();
        if let Some(old) = series.get(&key) {
            for labels in old.iter().filter(|l| !new.contains(l)) {
                family.remove(labels);
            }
        }
        for (labels, (_, value)) in new.iter().zip(values) {
            family.get_or_create(labels).set(i64::from(*value));
        }
        series.insert(key, new);
    }

    fn remove_series(
        &self,
        which: ReportFamily,
        family: &Family<ImageLabels, Gauge>,
        namespace: &str,
        name: &str,
    ) {
        let key = (which, namespace.to_string(), name.to_string());
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = series.remove(&key) {
            for labels in &old {
                family.remove(labels);
            }
        }
    }
}

impl ImageLabels {
    /// The labels of a report's series, severity left empty: `namespace` and `name` from the
    /// report's metadata, `resource_kind`, `resource_name` and `container_name` from its labels
    /// (as Trivy Operator reads them; a workload name too long for a label is taken from the
    /// `trivy-operator.resource.name` annotation instead of being left empty), the image from
    /// `.report.registry` and `.report.artifact`.
    fn of(meta: &ObjectMeta, registry: &str, repository: &str, tag: &str, digest: &str) -> Self {
        let label = |k: &str| {
            meta.labels
                .as_ref()
                .and_then(|l| l.get(k))
                .cloned()
                .unwrap_or_default()
        };
        let resource_name = meta
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_RESOURCE_NAME))
            .or_else(|| {
                meta.annotations
                    .as_ref()
                    .and_then(|a| a.get(LABEL_RESOURCE_NAME))
            })
            .cloned()
            .unwrap_or_default();
        ImageLabels {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            resource_kind: label(LABEL_RESOURCE_KIND),
            resource_name,
            container_name: label(LABEL_CONTAINER_NAME),
            image_registry: registry.to_string(),
            image_repository: repository.to_string(),
            image_tag: tag.to_string(),
            image_digest: digest.to_string(),
            severity: "",
        }
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use chrono::TimeZone;
    use sightline_api::crd::{
        ExposedSecretReportData, ExposedSecretReportFields, ExposedSecretSummary,
        VulnerabilityReportData, VulnerabilityReportFields, VulnerabilitySummary,
    };
    use sightline_api::naming::{report_labels, ResourceRef};

    use super::*;

    const DIGEST: &str = "sha256:9f2e6fb1c3c5a4e0d1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";

    fn meta(kind: &str, ns: &str, workload: &str, container: &str) -> ObjectMeta {
        let m = report_labels(
            &ResourceRef {
                kind: kind.into(),
                namespace: ns.into(),
                name: workload.into(),
            },
            Some(container),
            Some("abc"),
        );
        ObjectMeta {
            name: Some(sightline_api::naming::container_report_name(
                kind, workload, container,
            )),
            namespace: Some(ns.into()),
            labels: Some(m.labels),
            annotations: (!m.annotations.is_empty()).then_some(m.annotations),
            ..Default::default()
        }
    }

    fn vuln_report(tag: &str, summary: VulnerabilitySummary) -> VulnerabilityReport {
        let mut data = VulnerabilityReportData {
            summary,
            ..Default::default()
        };
        data.registry.server = "index.docker.io".into();
        data.artifact.repository = "library/nginx".into();
        data.artifact.tag = tag.into();
        data.artifact.digest = DIGEST.into();
        let mut r = VulnerabilityReport::new("x", VulnerabilityReportFields { report: data });
        r.metadata = meta("ReplicaSet", "shop", "web-5d8f", "nginx");
        r
    }

    fn secret_report() -> ExposedSecretReport {
        let mut data = ExposedSecretReportData {
            summary: ExposedSecretSummary {
                critical_count: 2,
                high_count: 0,
                medium_count: 1,
                low_count: 0,
            },
            ..Default::default()
        };
        data.registry.server = "127.0.0.1:5000".into();
        data.artifact.repository = "private/app".into();
        data.artifact.tag = "1".into();
        let mut r = ExposedSecretReport::new("x", ExposedSecretReportFields { report: data });
        r.metadata = meta("Pod", "default", "app", "app");
        r
    }

    fn summary(c: u32, h: u32, m: u32, l: u32, u: u32) -> VulnerabilitySummary {
        VulnerabilitySummary {
            critical_count: c,
            high_count: h,
            medium_count: m,
            low_count: l,
            unknown_count: u,
            none_count: 0,
        }
    }

    /// The sample lines of metric `name` (exact name, followed by `{` or a space).
    fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| {
                l.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .collect()
    }

    /// Every metric name with a `# TYPE` line.
    fn typed_names(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn trivy_image_vulnerabilities_series() {
        let m = Metrics::new();
        m.set_vulnerability_report(&vuln_report("1.25", summary(1, 2, 3, 4, 5)));
        let text = m.encode();
        let lines = samples(&text, "trivy_image_vulnerabilities");
        let want = |sev: &str, v: u32| {
            format!(
                "trivy_image_vulnerabilities{{namespace=\"shop\",name=\"replicaset-web-5d8f-nginx\",resource_kind=\"ReplicaSet\",resource_name=\"web-5d8f\",container_name=\"nginx\",image_registry=\"index.docker.io\",image_repository=\"library/nginx\",image_tag=\"1.25\",image_digest=\"{DIGEST}\",severity=\"{sev}\"}} {v}"
            )
        };
        let mut got: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        got.sort();
        let mut expected = vec![
            want("Critical", 1),
            want("High", 2),
            want("Medium", 3),
            want("Low", 4),
            want("Unknown", 5),
        ];
        expected.sort();
        assert_eq!(got, expected, "{text}");
        assert!(text.contains("# TYPE trivy_image_vulnerabilities gauge"));
    }

    #[test]
    fn trivy_image_exposedsecrets_series() {
        let m = Metrics::new();
        m.set_exposed_secret_report(&secret_report());
        let text = m.encode();
        let lines = samples(&text, "trivy_image_exposedsecrets");
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines.contains(&"trivy_image_exposedsecrets{namespace=\"default\",name=\"pod-app-app\",resource_kind=\"Pod\",resource_name=\"app\",container_name=\"app\",image_registry=\"127.0.0.1:5000\",image_repository=\"private/app\",image_tag=\"1\",image_digest=\"\",severity=\"Critical\"} 2"), "{text}");
        assert!(lines
            .iter()
            .any(|l| l.contains("severity=\"Medium\"") && l.ends_with(" 1")));
        assert!(!text.contains("severity=\"Unknown\""), "{text}");
    }

    #[test]
    fn updating_a_report_replaces_its_series_and_removal_drops_them() {
        let m = Metrics::new();
        m.set_vulnerability_report(&vuln_report("1.25", summary(1, 0, 0, 0, 0)));
        m.set_exposed_secret_report(&secret_report());
        // Same report, new tag: the old tag's series go away.
        m.set_vulnerability_report(&vuln_report("1.26", summary(0, 1, 0, 0, 0)));
        let text = m.encode();
        let lines = samples(&text, "trivy_image_vulnerabilities");
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines.iter().all(|l| l.contains("image_tag=\"1.26\"")));
        assert!(lines
            .iter()
            .any(|l| l.contains("severity=\"High\"") && l.ends_with(" 1")));

        // A second report stays when the first is removed.
        let mut other = vuln_report("1.26", summary(0, 0, 7, 0, 0));
        other.metadata = meta("DaemonSet", "kube-system", "agent", "agent");
        m.set_vulnerability_report(&other);
        m.remove_report("shop", "replicaset-web-5d8f-nginx");
        let text = m.encode();
        let lines = samples(&text, "trivy_image_vulnerabilities");
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines
            .iter()
            .all(|l| l.contains("name=\"daemonset-agent-agent\"")));
        // The secret report of another workload is untouched; removing it drops it.
        assert_eq!(samples(&text, "trivy_image_exposedsecrets").len(), 4);
        m.remove_report("default", "pod-app-app");
        m.remove_vulnerability_report("kube-system", "daemonset-agent-agent");
        let text = m.encode();
        assert!(
            samples(&text, "trivy_image_vulnerabilities").is_empty(),
            "{text}"
        );
        assert!(
            samples(&text, "trivy_image_exposedsecrets").is_empty(),
            "{text}"
        );
        // Removing what is not there is fine.
        m.remove_report("nowhere", "nothing");
    }

    #[test]
    fn long_workload_names_come_from_the_annotation() {
        let m = Metrics::new();
        let mut r = vuln_report("1", summary(0, 0, 0, 0, 1));
        let long = format!("a-{}", "b".repeat(70));
        r.metadata = meta("StatefulSet", "db", &long, "pg");
        m.set_vulnerability_report(&r);
        let text = m.encode();
        assert!(
            text.contains(&format!("resource_name=\"{long}\"")),
            "{text}"
        );
    }

    #[test]
    fn operational_metrics() {
        let m = Metrics::new();
        let text = m.encode();
        // Every reason, result and kind exists at 0 before any event.
        for reason in FailureReason::ALL {
            assert!(
                text.contains(&format!(
                    "sightline_scan_failures_total{{reason=\"{}\"}} 0\n",
                    reason.as_str()
                )),
                "{text}"
            );
        }
        assert!(text.contains("sightline_scans_total{result=\"success\"} 0\n"));
        assert!(text.contains("sightline_reports_written_total{kind=\"VulnerabilityReport\"} 0\n"));
        assert!(text.contains("sightline_reports_trimmed_total{kind=\"ExposedSecretReport\"} 0\n"));

        m.scan_failed("auth");
        m.scan_failed(FailureReason::Auth.as_str());
        m.scan_failed("oom");
        m.scan_failed("something new");
        m.scan_succeeded();
        m.observe_scan_duration(Duration::from_secs(7));
        m.set_queue_depth(12);
        m.set_workqueue_depth(4);
        m.set_jobs_running(3);
        m.set_inventories(50);
        m.report_written("VulnerabilityReport");
        m.report_trimmed("VulnerabilityReport");
        m.rematch_finished(Duration::from_millis(2500));
        let built = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
        m.db_updated(false);
        m.db_updated(true);
        m.set_db_age(99);
        assert!(m
            .encode()
            .lines()
            .any(|l| l == "sightline_vulndb_age_seconds 99"));
        m.set_vulndb_updated_at(built);
        let text = m.encode_at(built + chrono::Duration::seconds(3600));
        for line in [
            "sightline_scan_failures_total{reason=\"auth\"} 2",
            "sightline_scan_failures_total{reason=\"oom\"} 1",
            "sightline_scan_failures_total{reason=\"timeout\"} 0",
            "sightline_scan_failures_total{reason=\"internal\"} 1",
            "sightline_scans_total{result=\"failure\"} 4",
            "sightline_scans_total{result=\"success\"} 1",
            "sightline_scan_queue_depth 12",
            "sightline_workqueue_depth 4",
            "sightline_scan_jobs_running 3",
            "sightline_inventories_stored 50",
            "sightline_vulndb_age_seconds 3600",
            "sightline_vulndb_updates_total 1",
            "sightline_reports_written_total{kind=\"VulnerabilityReport\"} 1",
            "sightline_reports_trimmed_total{kind=\"VulnerabilityReport\"} 1",
            "sightline_scan_duration_seconds_count 1",
            "sightline_scan_duration_seconds_sum 7.0",
            "sightline_scan_duration_seconds_bucket{le=\"10\"} 1",
            "sightline_scan_duration_seconds_bucket{le=\"5\"} 0",
            "sightline_rematch_duration_seconds_count 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // The DB age is computed at scrape time.
        m.set_vulndb_updated_at(built + chrono::Duration::seconds(600));
        let text = m.encode_at(built + chrono::Duration::seconds(3600));
        assert!(text
            .lines()
            .any(|l| l == "sightline_vulndb_age_seconds 3000"));
        assert_eq!(
            FailureReason::parse("bad_result"),
            Some(FailureReason::BadResult)
        );
        assert_eq!(FailureReason::parse("nope"), None);
    }

    #[test]
    fn exposed_names_are_exact() {
        let m = Metrics::new();
        m.set_vulnerability_report(&vuln_report("1", summary(1, 0, 0, 0, 0)));
        m.set_exposed_secret_report(&secret_report());
        let names = typed_names(&m.encode());
        let want: BTreeSet<String> = [
            "sightline_scans_total",
            "sightline_scan_failures_total",
            "sightline_scan_duration_seconds",
            "sightline_scan_queue_depth",
            "sightline_workqueue_depth",
            "sightline_scan_jobs_running",
            "sightline_inventories_stored",
            "sightline_vulndb_age_seconds",
            "sightline_vulndb_updates_total",
            "sightline_rematch_duration_seconds",
            "sightline_reports_written_total",
            "sightline_reports_trimmed_total",
            "trivy_image_vulnerabilities",
            "trivy_image_exposedsecrets",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(names, want);
        // No doubled suffix anywhere.
        assert!(!m.encode().contains("_total_total"));
    }

    /// The metrics row of DESIGN.md's compatibility contract: every metric it names is either
    /// exported here (with exactly the listed labels) or explicitly left to another module.
    #[test]
    fn design_contract_metrics() {
        let shared = sightline_vulndb::fixture::testdata_dir()
            .parent()
            .and_then(|p| p.parent())
            .map(|p| p.join("DESIGN.md"))
            .unwrap();
        let design = std::fs::read_to_string(&shared).unwrap_or_else(|e| {
            panic!(
                "cannot read {} ({e}): set SIGHTLINE_SHARED_DIR to the project's shared directory",
                shared.display()
            )
        });
        let row = design
            .lines()
            .find(|l| l.starts_with("| metrics |"))
            .expect("DESIGN.md has a metrics row in its contract table");
        let contract: BTreeSet<String> = row
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
            .filter(|w| w.starts_with("trivy_") || w.starts_with("sightline_"))
            .map(String::from)
            .collect();
        // Here; the other report kinds' metrics belong to their controllers.
        let covered = ["trivy_image_vulnerabilities", "trivy_image_exposedsecrets"];
        let elsewhere = [
            "trivy_resource_configaudits",
            "trivy_role_rbacassessments",
            "trivy_clusterrole_clusterrbacassessments",
            "trivy_resource_infraassessments",
            "trivy_cluster_compliance",
            "trivy_vulnerability_id",
        ];
        let known: BTreeSet<String> = covered
            .iter()
            .chain(elsewhere.iter())
            .map(|s| s.to_string())
            .chain(["sightline_*".to_string()])
            .collect();
        assert_eq!(
            contract, known,
            "DESIGN.md's metrics row changed: decide where each metric is exported"
        );

        let m = Metrics::new();
        m.set_vulnerability_report(&vuln_report("1", summary(1, 0, 0, 0, 0)));
        m.set_exposed_secret_report(&secret_report());
        let text = m.encode();
        // trivy_image_vulnerabilities' labels, exactly as the contract lists them.
        let listed = row
            .split("trivy_image_vulnerabilities{")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("the row lists trivy_image_vulnerabilities' labels");
        let listed: Vec<&str> = listed.split(',').collect();
        for name in covered {
            let lines = samples(&text, name);
            assert!(!lines.is_empty(), "{name} missing in\n{text}");
            for line in lines {
                let labels = &line[line.find('{').unwrap() + 1..line.rfind('}').unwrap()];
                let keys: Vec<&str> = labels
                    .split("\",")
                    .map(|kv| kv.split('=').next().unwrap())
                    .collect();
                assert_eq!(keys, listed, "{line}");
            }
        }
        // Every sightline_* metric DESIGN.md names anywhere is exported.
        let names = typed_names(&text);
        for word in design.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if word.starts_with("sightline_") && word.len() > "sightline_".len() {
                let family = word
                    .strip_suffix("_bucket")
                    .or_else(|| word.strip_suffix("_count"))
                    .or_else(|| word.strip_suffix("_sum"))
                    .unwrap_or(word);
                assert!(
                    names.contains(family),
                    "DESIGN.md names {word}: not exported"
                );
            }
        }
    }

    #[test]
    fn shared_across_threads() {
        let m = Arc::new(Metrics::new());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for j in 0..50 {
                        let mut r = vuln_report("1", summary(j, 0, 0, 0, 0));
                        r.metadata = meta("Pod", "ns", &format!("p{i}-{j}"), "c");
                        m.set_vulnerability_report(&r);
                        m.scan_failed("registry");
                        if j % 2 == 0 {
                            m.remove_report("ns", r.metadata.name.as_deref().unwrap());
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let text = m.encode();
        assert_eq!(
            samples(&text, "trivy_image_vulnerabilities").len(),
            4 * 25 * 5
        );
        assert_eq!(m.reports_tracked(), 4 * 25);
        assert!(text.contains("sightline_scan_failures_total{reason=\"registry\"} 200\n"));
    }
}
