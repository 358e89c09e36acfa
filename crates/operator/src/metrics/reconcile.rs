//! The workload controllers' metrics: reconciles by kind and result, their duration, and
//! the permanent errors by reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Metrics;

/// `{kind, result}` of `sightline_reconciles_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    kind: String,
    result: &'static str,
}

/// `{kind, reason}` of `sightline_reconcile_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    kind: String,
    reason: String,
}

/// The reconcile metrics' handles (registered in [`Metrics`]' registry).
#[derive(Debug)]
pub(super) struct ReconcileMetrics {
    reconciles: Family<ReconcileLabels, Counter>,
    duration: Histogram,
    errors: Family<ErrorLabels, Counter>,
    /// Every finished reconcile, for [`Metrics::reconciles_total`].
    total: AtomicU64,
}

impl ReconcileMetrics {
    /// Registers the reconcile metrics in `registry`.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = ReconcileMetrics {
            reconciles: Family::default(),
            duration: Histogram::new([0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0]),
            errors: Family::default(),
            total: AtomicU64::new(0),
        };
        registry.register(
            "sightline_reconciles",
            "Finished reconciles of a workload, by workload kind and result (success, error)",
            m.reconciles.clone(),
        );
        registry.register(
            "sightline_reconcile_duration_seconds",
            "Time one reconcile of a workload took",
            m.duration.clone(),
        );
        registry.register(
            "sightline_reconcile_errors",
            "Reconciles that failed, by workload kind and reason",
            m.errors.clone(),
        );
        m
    }
}

impl Metrics {
    /// A reconcile of a workload of `kind` finished after `duration`, `ok` or not
    /// (`sightline_reconciles_total{kind,result}`, `sightline_reconcile_duration_seconds`).
    pub fn reconcile_finished(&self, kind: &str, duration: Duration, ok: bool) {
        let labels = ReconcileLabels {
            kind: kind.to_string(),
            result: if ok { "success" } else { "error" },
        };
        self.reconcile.reconciles.get_or_create(&labels).inc();
        self.reconcile.duration.observe(duration.as_secs_f64());
        self.reconcile.total.fetch_add(1, Ordering::Relaxed);
    }

    /// A reconcile of a workload of `kind` failed for `reason` (a short CamelCase word,
    /// as its Event has it): `sightline_reconcile_errors_total{kind,reason}`.
    pub fn reconcile_error(&self, kind: &str, reason: &str) {
        self.reconcile
            .errors
            .get_or_create(&ErrorLabels {
                kind: kind.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The number of reconciles finished so far (all kinds and results).
    pub fn reconciles_total(&self) -> u64 {
        self.reconcile.total.load(Ordering::Relaxed)
    }
}
