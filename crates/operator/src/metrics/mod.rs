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
//! | `sightline_workqueue_depth` | gauge | reconciles triggered and waiting for one of the reconcile slots |
//! | `sightline_runtime_tasks_alive` | gauge | tokio tasks alive (bounded by the workloads, not by churn) |
//! | `sightline_scan_jobs_running` | gauge | scan Jobs holding a slot (`scanJobsConcurrentLimit`) |
//! | `sightline_inventories_stored` | gauge | digests in the inventory store |
//! | `sightline_vulndb_age_seconds` | gauge | seconds since the vulnerability DB in use was built (its `UpdatedAt`), computed at scrape time once [`Metrics::set_vulndb_updated_at`] was called |
//! | `sightline_vulndb_updates_total` | counter | vulnerability DB updates installed (a new DB swapped in) |
//! | `sightline_rematch_duration_seconds` | histogram | time to re-match every stored inventory after a DB update |
//! | `sightline_reports_written_total{kind}` | counter | reports written, by kind (`VulnerabilityReport`, ...) |
//! | `sightline_reports_trimmed_total{kind}` | counter | reports the size guard trimmed, by kind |
//! | `sightline_reconciles_total{kind,result}` | counter | finished reconciles of a workload, by workload kind, `result` = `success` / `error` |
//! | `sightline_reconcile_duration_seconds` | histogram | time one reconcile took |
//! | `sightline_reconcile_errors_total{kind,reason}` | counter | failed reconciles by workload kind and reason (`ApiError`, `ReportTooLarge`, ...) |
//! | `sightline_inventory_store_recoveries_total` | counter | corrupt or unreadable inventory store files moved aside (a fresh store was opened; every image is rescanned) |
//!
//! Every `reason`, `result` and report `kind` series exists from the start at 0, so
//! `increase()` and absence alerts work before the first event.
//!
//! The operational metrics live in `operational` and `reconcile`, the report series in
//! `report_series`; [`Metrics`] registers them all in one registry.

mod operational;
mod reconcile;
mod report_series;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use prometheus_client::registry::Registry;

pub use sightline_scan::job_result::FailureReason;

use self::operational::Operational;
use self::reconcile::ReconcileMetrics;
use self::report_series::ReportSeries;

/// The `Content-Type` of [`Metrics::encode`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Report kinds the `kind` label takes (pre-created at 0).
pub const REPORT_KINDS: [&str; 2] = ["VulnerabilityReport", "ExposedSecretReport"];

/// The operator's metrics registry (see the [module docs](self)). `Send + Sync`; share it in
/// an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    ops: Operational,
    reconcile: ReconcileMetrics,
    reports: ReportSeries,
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
        let ops = Operational::register(&mut registry);
        let reconcile = ReconcileMetrics::register(&mut registry);
        let reports = ReportSeries::register(&mut registry);
        Metrics {
            registry,
            ops,
            reconcile,
            reports,
        }
    }

    /// The metrics in the Prometheus text format ([`CONTENT_TYPE`]), with
    /// `sightline_vulndb_age_seconds` computed now.
    pub fn encode(&self) -> String {
        self.encode_at(Utc::now())
    }

    /// [`Metrics::encode`] as of `now`.
    fn encode_at(&self, now: DateTime<Utc>) -> String {
        self.ops.update_vulndb_age(now);
        self.ops.update_runtime();
        let mut out = String::new();
        // Writing into a String cannot fail, and every label value is escaped by the encoder.
        prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            .expect("encoding metrics into a String");
        out
    }
}
