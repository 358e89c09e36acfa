//! Prometheus metrics: Trivy Operator's report metrics (`trivy_image_vulnerabilities`,
//! `trivy_image_exposedsecrets`), computed from the summaries of the reports this process
//! writes (never by listing reports), and Sightline's own `sightline_*` operational metrics.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use kube::ResourceExt;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use sightline_api::crd::{
    Artifact, ExposedSecretReport, Registry as ImageRegistry, VulnerabilityReport,
};
use sightline_api::naming::{LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME};

type Labels = Vec<(String, String)>;

/// Severity label values of the report metrics, as Trivy Operator writes them.
pub const SEVERITY_LABELS: [&str; 5] = ["Critical", "High", "Medium", "Low", "Unknown"];

/// Names of every metric this module exposes (as they appear in the exposition).
pub const METRIC_NAMES: [&str; 11] = [
    "trivy_image_vulnerabilities",
    "trivy_image_exposedsecrets",
    "sightline_scans_total",
    "sightline_scan_failures_total",
    "sightline_scan_queue_depth",
    "sightline_scan_jobs_running",
    "sightline_workqueue_depth",
    "sightline_inventories_stored",
    "sightline_vulndb_age_seconds",
    "sightline_vulndb_updates_total",
    "sightline_reports_written_total",
];

/// The operator's metrics registry.
pub struct Metrics {
    registry: Registry,
    image_vulnerabilities: Family<Labels, Gauge>,
    image_exposed_secrets: Family<Labels, Gauge>,
    scans: Family<Labels, Counter>,
    scan_failures: Family<Labels, Counter>,
    scan_queue_depth: Gauge,
    scan_jobs_running: Gauge,
    workqueue_depth: Gauge,
    inventories: Gauge,
    db_age: Gauge<u64, AtomicU64>,
    db_updates: Counter,
    reports_written: Family<Labels, Counter>,
    /// (namespace, report name) → the label sets it set, per family (0 = vulns, 1 = secrets).
    series: Mutex<HashMap<(String, String), Vec<(u8, Labels)>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered (all at zero).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Metrics {
            image_vulnerabilities: Family::default(),
            image_exposed_secrets: Family::default(),
            scans: Family::default(),
            scan_failures: Family::default(),
            scan_queue_depth: Gauge::default(),
            scan_jobs_running: Gauge::default(),
            workqueue_depth: Gauge::default(),
            inventories: Gauge::default(),
            db_age: Gauge::default(),
            db_updates: Counter::default(),
            reports_written: Family::default(),
            series: Mutex::new(HashMap::new()),
            registry: Registry::default(),
        };
        registry.register(
            "trivy_image_vulnerabilities",
            "Number of container image vulnerabilities",
            m.image_vulnerabilities.clone(),
        );
        registry.register(
            "trivy_image_exposedsecrets",
            "Number of container image exposed secrets",
            m.image_exposed_secrets.clone(),
        );
        registry.register(
            "sightline_scans",
            "Image scans finished, by result",
            m.scans.clone(),
        );
        registry.register(
            "sightline_scan_failures",
            "Failed image scans, by reason (auth, not_found, registry, bad_image, timeout, oom, bad_result, internal)",
            m.scan_failures.clone(),
        );
        registry.register(
            "sightline_scan_queue_depth",
            "Image digests waiting for a scan Job slot",
            m.scan_queue_depth.clone(),
        );
        registry.register(
            "sightline_scan_jobs_running",
            "Scan Jobs running (holding a slot)",
            m.scan_jobs_running.clone(),
        );
        registry.register(
            "sightline_workqueue_depth",
            "Workloads waiting to be reconciled",
            m.workqueue_depth.clone(),
        );
        registry.register(
            "sightline_inventories_stored",
            "Image inventories in the inventory store",
            m.inventories.clone(),
        );
        registry.register(
            "sightline_vulndb_age_seconds",
            "Seconds since the vulnerability DB in use was built",
            m.db_age.clone(),
        );
        registry.register(
            "sightline_vulndb_updates",
            "Vulnerability DB swaps",
            m.db_updates.clone(),
        );
        registry.register(
            "sightline_reports_written",
            "Reports created or changed, by kind",
            m.reports_written.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition (OpenMetrics).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// A scan stored its inventory.
    pub fn scan_succeeded(&self) {
        self.scans
            .get_or_create(&vec![("result".into(), "success".into())])
            .inc();
    }

    /// A scan failed for `reason`.
    pub fn scan_failed(&self, reason: &str) {
        self.scans
            .get_or_create(&vec![("result".into(), "failure".into())])
            .inc();
        self.scan_failures
            .get_or_create(&vec![("reason".into(), reason.to_string())])
            .inc();
    }

    /// Digests waiting for a slot.
    pub fn set_queue_depth(&self, n: usize) {
        self.scan_queue_depth.set(n as i64);
    }

    /// Jobs holding a slot.
    pub fn set_jobs_running(&self, n: usize) {
        self.scan_jobs_running.set(n as i64);
    }

    /// Workloads waiting in the reconcile queue.
    pub fn set_workqueue_depth(&self, n: usize) {
        self.workqueue_depth.set(n as i64);
    }

    /// Inventories stored.
    pub fn set_inventories(&self, n: usize) {
        self.inventories.set(n as i64);
    }

    /// Age of the DB in use.
    pub fn set_db_age(&self, seconds: u64) {
        self.db_age.set(seconds);
    }

    /// A DB update check finished; `swapped` when a new DB is in use.
    pub fn db_updated(&self, swapped: bool) {
        if swapped {
            self.db_updates.inc();
        }
    }

    /// A report of `kind` was created or changed.
    pub fn report_written(&self, kind: &str) {
        self.reports_written
            .get_or_create(&vec![("kind".into(), kind.to_string())])
            .inc();
    }

    fn base_labels(
        meta: &kube::core::ObjectMeta,
        registry: &ImageRegistry,
        artifact: &Artifact,
    ) -> Labels {
        let labels = meta.labels.clone().unwrap_or_default();
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let resource_name = meta
            .annotations
            .as_ref()
            .and_then(|a| a.get(LABEL_RESOURCE_NAME).cloned())
            .unwrap_or_else(|| get(LABEL_RESOURCE_NAME));
        vec![
            (
                "namespace".into(),
                meta.namespace.clone().unwrap_or_default(),
            ),
            ("name".into(), meta.name.clone().unwrap_or_default()),
            ("resource_kind".into(), get(LABEL_RESOURCE_KIND)),
            ("resource_name".into(), resource_name),
            ("container_name".into(), get(LABEL_CONTAINER_NAME)),
            ("image_registry".into(), registry.server.clone()),
            ("image_repository".into(), artifact.repository.clone()),
            ("image_tag".into(), artifact.tag.clone()),
            ("image_digest".into(), artifact.digest.clone()),
        ]
    }

    fn set_series(
        &self,
        family: u8,
        meta: &kube::core::ObjectMeta,
        base: Labels,
        counts: [u32; 5],
    ) {
        let key = (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        let fam = if family == 0 {
            &self.image_vulnerabilities
        } else {
            &self.image_exposed_secrets
        };
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series.entry(key).or_default();
        // Labels may change (a new tag or digest): drop the old series of this family.
        for (f, labels) in entry.iter().filter(|(f, _)| *f == family) {
            let _ = f;
            fam.remove(labels);
        }
        entry.retain(|(f, _)| *f != family);
        for (sev, n) in SEVERITY_LABELS.iter().zip(counts) {
            let mut labels = base.clone();
            labels.push(("severity".into(), (*sev).to_string()));
            fam.get_or_create(&labels).set(i64::from(n));
            entry.push((family, labels));
        }
    }

    /// Sets `trivy_image_vulnerabilities` for a report (one series per severity).
    pub fn set_vulnerability_report(&self, r: &VulnerabilityReport) {
        let s = &r.spec.report.summary;
        let base = Self::base_labels(
            &r.metadata,
            &r.spec.report.registry,
            &r.spec.report.artifact,
        );
        self.set_series(
            0,
            &r.metadata,
            base,
            [
                s.critical_count,
                s.high_count,
                s.medium_count,
                s.low_count,
                s.unknown_count,
            ],
        );
    }

    /// Sets `trivy_image_exposedsecrets` for a report (one series per severity).
    pub fn set_exposed_secret_report(&self, r: &ExposedSecretReport) {
        let s = &r.spec.report.summary;
        let base = Self::base_labels(
            &r.metadata,
            &r.spec.report.registry,
            &r.spec.report.artifact,
        );
        self.set_series(
            1,
            &r.metadata,
            base,
            [
                s.critical_count,
                s.high_count,
                s.medium_count,
                s.low_count,
                0,
            ],
        );
    }

    /// Drops every series of the reports named `name` in `namespace`.
    pub fn remove_report(&self, namespace: &str, name: &str) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entries) = series.remove(&(namespace.to_string(), name.to_string())) {
            for (f, labels) in entries {
                let fam = if f == 0 {
                    &self.image_vulnerabilities
                } else {
                    &self.image_exposed_secrets
                };
                fam.remove(&labels);
            }
        }
    }

    /// Number of reports with series (for tests and logs).
    pub fn reports_tracked(&self) -> usize {
        self.series.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The name a report object carries (helper for callers holding a report).
pub fn report_key<K: ResourceExt>(r: &K) -> (String, String) {
    (r.namespace().unwrap_or_default(), r.name_any())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::ObjectMeta;
    use sightline_api::crd::{VulnerabilityReportData, VulnerabilitySummary};

    fn report(tag: &str) -> VulnerabilityReport {
        let mut r = VulnerabilityReport::new(
            "x",
            sightline_api::crd::VulnerabilityReportFields {
                report: VulnerabilityReportData {
                    summary: VulnerabilitySummary {
                        critical_count: 2,
                        high_count: 5,
                        ..Default::default()
                    },
                    ..Default::default()
                },
            },
        );
        r.metadata = ObjectMeta {
            name: Some("replicaset-web-7c9f-app".into()),
            namespace: Some("shop".into()),
            labels: Some(
                [
                    (LABEL_RESOURCE_KIND.to_string(), "ReplicaSet".to_string()),
                    (LABEL_RESOURCE_NAME.to_string(), "web-7c9f".to_string()),
                    (LABEL_CONTAINER_NAME.to_string(), "app".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        };
        r.spec.report.registry.server = "10.88.0.1:5000".into();
        r.spec.report.artifact.repository = "library/debian".into();
        r.spec.report.artifact.tag = tag.into();
        r.spec.report.artifact.digest = "sha256:abc".into();
        r
    }

    #[test]
    fn report_series_follow_the_contract_and_go_away() {
        let m = Metrics::new();
        m.set_vulnerability_report(&report("bookworm-curl"));
        let text = m.encode();
        let line = text
            .lines()
            .find(|l| {
                l.starts_with("trivy_image_vulnerabilities{") && l.contains("severity=\"Critical\"")
            })
            .unwrap_or_else(|| panic!("{text}"));
        for want in [
            "namespace=\"shop\"",
            "name=\"replicaset-web-7c9f-app\"",
            "resource_kind=\"ReplicaSet\"",
            "resource_name=\"web-7c9f\"",
            "container_name=\"app\"",
            "image_registry=\"10.88.0.1:5000\"",
            "image_repository=\"library/debian\"",
            "image_tag=\"bookworm-curl\"",
            "image_digest=\"sha256:abc\"",
        ] {
            assert!(line.contains(want), "{want} missing in {line}");
        }
        assert!(line.ends_with(" 2"), "{line}");
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("trivy_image_vulnerabilities{"))
                .count(),
            5
        );
        // A new tag replaces the series rather than adding to them.
        m.set_vulnerability_report(&report("bookworm-curl-2"));
        let text = m.encode();
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("trivy_image_vulnerabilities{"))
                .count(),
            5
        );
        m.remove_report("shop", "replicaset-web-7c9f-app");
        assert!(!m
            .encode()
            .lines()
            .any(|l| l.starts_with("trivy_image_vulnerabilities{")));
    }

    #[test]
    fn every_metric_name_is_exposed() {
        let m = Metrics::new();
        m.scan_failed("timeout");
        m.scan_succeeded();
        m.report_written("VulnerabilityReport");
        m.set_vulnerability_report(&report("x"));
        let mut r = ExposedSecretReport::new("x", Default::default());
        r.metadata = report("x").metadata;
        m.set_exposed_secret_report(&r);
        let text = m.encode();
        for name in METRIC_NAMES {
            assert!(
                text.lines().any(|l| l.starts_with(name)
                    && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' '))),
                "{name} not exposed:\n{text}"
            );
        }
        assert!(
            text.contains("sightline_scan_failures_total{reason=\"timeout\"} 1"),
            "{text}"
        );
    }
}
