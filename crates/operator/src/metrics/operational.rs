//! Sightline's own `sightline_*` metrics: scans, queues, the inventory store, the
//! vulnerability DB and report writes (the table in the [module docs](super)).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{FailureReason, Metrics, REPORT_KINDS};

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

/// The operational metrics' handles (registered in [`Metrics`]' registry).
#[derive(Debug)]
pub(super) struct Operational {
    scans: Family<ResultLabel, Counter>,
    scan_failures: Family<ReasonLabel, Counter>,
    scan_duration: Histogram,
    scan_queue_depth: Gauge,
    workqueue_depth: Gauge,
    scan_jobs_running: Gauge,
    inventories_stored: Gauge,
    store_recoveries: Counter,
    vulndb_age: Gauge,
    tasks_alive: Gauge,
    /// The DB's `UpdatedAt` (Unix seconds), `i64::MIN` while unknown.
    vulndb_updated_at: AtomicI64,
    vulndb_updates: Counter,
    rematch_duration: Histogram,
    reports_written: Family<KindLabel, Counter>,
    reports_trimmed: Family<KindLabel, Counter>,
}

impl Operational {
    /// Registers every operational metric in `registry`, with every `reason`, `result` and
    /// `kind` series at 0.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let ops = Operational {
            scans: Family::default(),
            scan_failures: Family::default(),
            scan_duration: Histogram::new([
                1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0,
            ]),
            scan_queue_depth: Gauge::default(),
            workqueue_depth: Gauge::default(),
            scan_jobs_running: Gauge::default(),
            inventories_stored: Gauge::default(),
            store_recoveries: Counter::default(),
            vulndb_age: Gauge::default(),
            tasks_alive: Gauge::default(),
            vulndb_updated_at: AtomicI64::new(i64::MIN),
            vulndb_updates: Counter::default(),
            rematch_duration: Histogram::new([
                0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
            ]),
            reports_written: Family::default(),
            reports_trimmed: Family::default(),
        };
        registry.register(
            "sightline_runtime_tasks_alive",
            "Tokio tasks alive in the operator process (bounded by the workloads, not by churn)",
            ops.tasks_alive.clone(),
        );
        // prometheus-client appends `_total` to counter names.
        registry.register(
            "sightline_scans",
            "Finished scans of an image digest, by result (success, failure)",
            ops.scans.clone(),
        );
        registry.register(
            "sightline_scan_failures",
            "Failed scans of an image digest, by reason (auth, not_found, registry, bad_image, timeout, oom, bad_result, internal)",
            ops.scan_failures.clone(),
        );
        registry.register(
            "sightline_scan_duration_seconds",
            "Time from a scan Job's creation to its result being stored, for successful scans",
            ops.scan_duration.clone(),
        );
        registry.register(
            "sightline_scan_queue_depth",
            "Image digests waiting for a scan Job slot",
            ops.scan_queue_depth.clone(),
        );
        registry.register(
            "sightline_workqueue_depth",
            "Workloads waiting to be reconciled",
            ops.workqueue_depth.clone(),
        );
        registry.register(
            "sightline_scan_jobs_running",
            "Scan Jobs holding a slot (bounded by scanJobsConcurrentLimit)",
            ops.scan_jobs_running.clone(),
        );
        registry.register(
            "sightline_inventories_stored",
            "Image digests with an inventory in the inventory store",
            ops.inventories_stored.clone(),
        );
        registry.register(
            "sightline_inventory_store_recoveries",
            "Corrupt or unreadable inventory store files moved aside (a fresh store was opened; every image is rescanned)",
            ops.store_recoveries.clone(),
        );
        registry.register(
            "sightline_vulndb_age_seconds",
            "Seconds since the vulnerability DB in use was built (its UpdatedAt)",
            ops.vulndb_age.clone(),
        );
        registry.register(
            "sightline_vulndb_updates",
            "Vulnerability DB updates installed",
            ops.vulndb_updates.clone(),
        );
        registry.register(
            "sightline_rematch_duration_seconds",
            "Time to re-match every stored inventory against an updated vulnerability DB",
            ops.rematch_duration.clone(),
        );
        registry.register(
            "sightline_reports_written",
            "Reports written, by kind",
            ops.reports_written.clone(),
        );
        registry.register(
            "sightline_reports_trimmed",
            "Reports trimmed by the size guard to fit etcd's object size limit, by kind",
            ops.reports_trimmed.clone(),
        );

        for result in ["success", "failure"] {
            let _ = ops.scans.get_or_create(&ResultLabel { result });
        }
        for reason in FailureReason::ALL {
            let _ = ops.scan_failures.get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            });
        }
        for kind in REPORT_KINDS {
            let label = KindLabel {
                kind: kind.to_string(),
            };
            let _ = ops.reports_written.get_or_create(&label);
            let _ = ops.reports_trimmed.get_or_create(&label);
        }
        ops
    }

    /// Sets `sightline_runtime_tasks_alive` from the tokio runtime the scrape runs on.
    pub(super) fn update_runtime(&self) {
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            self.tasks_alive.set(to_i64(h.metrics().num_alive_tasks()));
        }
    }

    /// Sets `sightline_vulndb_age_seconds` as of `now`, once the DB's `UpdatedAt` is known.
    pub(super) fn update_vulndb_age(&self, now: DateTime<Utc>) {
        let updated = self.vulndb_updated_at.load(Ordering::Relaxed);
        if updated != i64::MIN {
            self.vulndb_age.set((now.timestamp() - updated).max(0));
        }
    }
}

impl Metrics {
    /// A scan finished and its inventory was stored:
    /// `sightline_scans_total{result="success"}`. Report its duration with
    /// [`Metrics::observe_scan_duration`].
    pub fn scan_succeeded(&self) {
        self.ops
            .scans
            .get_or_create(&ResultLabel { result: "success" })
            .inc();
    }

    /// A successful scan took `duration` from its Job's creation to its inventory being
    /// stored (`sightline_scan_duration_seconds`).
    pub fn observe_scan_duration(&self, duration: Duration) {
        self.ops.scan_duration.observe(duration.as_secs_f64());
    }

    /// A scan failed for `reason`: `sightline_scan_failures_total{reason}` and
    /// `sightline_scans_total{result="failure"}`.
    pub fn scan_failed(&self, reason: FailureReason) {
        self.ops
            .scan_failures
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
        self.ops
            .scans
            .get_or_create(&ResultLabel { result: "failure" })
            .inc();
    }

    /// `sightline_scan_queue_depth`: digests waiting for a Job slot.
    pub fn set_queue_depth(&self, n: usize) {
        self.ops.scan_queue_depth.set(to_i64(n));
    }

    /// `sightline_workqueue_depth`: workloads waiting to be reconciled.
    pub fn set_workqueue_depth(&self, n: usize) {
        self.ops.workqueue_depth.set(to_i64(n));
    }

    /// `sightline_scan_jobs_running`: Jobs holding a slot.
    pub fn set_jobs_running(&self, n: usize) {
        self.ops.scan_jobs_running.set(to_i64(n));
    }

    /// `sightline_inventories_stored`: digests in the inventory store.
    pub fn set_inventories(&self, n: usize) {
        self.ops.inventories_stored.set(to_i64(n));
    }

    /// A corrupt or unreadable inventory store file was moved aside and a fresh store opened
    /// (`sightline_inventory_store_recoveries_total`).
    pub fn store_recovered(&self) {
        self.ops.store_recoveries.inc();
    }

    /// The vulnerability DB in use was built at `updated_at` (its metadata's `UpdatedAt`);
    /// `sightline_vulndb_age_seconds` counts from there at each scrape.
    pub fn set_vulndb_updated_at(&self, updated_at: DateTime<Utc>) {
        self.ops
            .vulndb_updated_at
            .store(updated_at.timestamp(), Ordering::Relaxed);
    }

    /// Sets `sightline_vulndb_age_seconds` directly, for a caller that computes the age itself.
    /// Once [`Metrics::set_vulndb_updated_at`] was called, the age is computed at each scrape
    /// instead (and stays current between calls).
    pub fn set_db_age(&self, seconds: u64) {
        self.ops
            .vulndb_age
            .set(i64::try_from(seconds).unwrap_or(i64::MAX));
    }

    /// A vulnerability DB update check finished; `swapped` when a new DB was installed
    /// (`sightline_vulndb_updates_total`). Call [`Metrics::set_vulndb_updated_at`] with the
    /// new DB's `UpdatedAt` too.
    pub fn db_updated(&self, swapped: bool) {
        if swapped {
            self.ops.vulndb_updates.inc();
        }
    }

    /// Re-matching every stored inventory took `duration`
    /// (`sightline_rematch_duration_seconds`).
    pub fn rematch_finished(&self, duration: Duration) {
        self.ops.rematch_duration.observe(duration.as_secs_f64());
    }

    /// A report of `kind` (`VulnerabilityReport`, ...) was written
    /// (`sightline_reports_written_total{kind}`).
    pub fn report_written(&self, kind: &str) {
        self.ops
            .reports_written
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }

    /// A report of `kind` was trimmed by the size guard
    /// (`sightline_reports_trimmed_total{kind}`).
    pub fn report_trimmed(&self, kind: &str) {
        self.ops
            .reports_trimmed
            .get_or_create(&KindLabel {
                kind: kind.to_string(),
            })
            .inc();
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
