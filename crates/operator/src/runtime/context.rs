//! What every reconcile shares: the API client, settings, caches, the watch-driven index,
//! the inventory store, the scan manager, the DB, metrics, and the triggers that wake a
//! workload's controller.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::PartialObjectMeta;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;
use kube::Client;
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};
use tokio::sync::{mpsc, Semaphore};

use super::dbsync::DbState;
use super::scans::Scans;
use crate::config::OperatorConfig;
use crate::index::{DigestIndex, OwnerIndex, ReportIndex};
use crate::metrics::Metrics;
use crate::store::InventoryStore;
use crate::sync::MutexExt;
use crate::workload::{WorkloadKey, WorkloadKind};

/// Reconciles running at once across all controllers (each builds reports in memory).
pub const RECONCILE_PERMITS: usize = 4;

/// Reflector caches read by reconciles (no API reads in the hot path).
#[derive(Clone)]
pub struct Caches {
    /// Pods (all namespaces), trimmed.
    pub pods: Store<Pod>,
    /// Jobs (for a CronJob's Pods).
    pub jobs: Store<Job>,
    /// Deployments, metadata only (the revision annotation).
    pub deployments: Store<PartialObjectMeta<Deployment>>,
    /// Nodes, metadata only (their os/arch labels: the platform to scan).
    pub nodes: Store<PartialObjectMeta<Node>>,
    /// The operator's VulnerabilityReports, metadata only.
    pub vulnerability_reports: Store<PartialObjectMeta<VulnerabilityReport>>,
    /// The operator's ExposedSecretReports, metadata only.
    pub exposed_secret_reports: Store<PartialObjectMeta<ExposedSecretReport>>,
}

/// The watch-driven index.
#[derive(Default)]
pub struct Indexes {
    /// Pods by their controller's UID.
    pub pods: OwnerIndex,
    /// ReplicaSets by their Deployment's UID.
    pub replica_sets: OwnerIndex,
    /// Jobs by their CronJob's UID.
    pub jobs: OwnerIndex,
    /// Per-container reports by workload.
    pub reports: ReportIndex,
    /// Scan subjects (inventory keys) by workload.
    pub digests: DigestIndex,
}

/// Wakes a workload's controller (one queue per kind; the controller's scheduler merges
/// repeated wake-ups of one key).
#[derive(Clone, Default)]
pub struct Triggers {
    senders: Arc<Mutex<HashMap<WorkloadKind, mpsc::UnboundedSender<WorkloadKey>>>>,
}

impl Triggers {
    /// The receiving end for `kind`'s controller.
    pub fn subscribe(&self, kind: WorkloadKind) -> mpsc::UnboundedReceiver<WorkloadKey> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.senders.locked().insert(kind, tx);
        rx
    }

    /// Reconciles `key` soon.
    pub fn wake(&self, key: WorkloadKey) {
        if let Some(tx) = self.senders.locked().get(&key.kind) {
            let _ = tx.send(key);
        }
    }
}

/// Everything a reconcile needs.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Settings.
    pub config: Arc<OperatorConfig>,
    /// Caches.
    pub caches: Caches,
    /// The watch-driven index.
    pub index: Arc<Indexes>,
    /// Inventory per scan subject.
    pub store: Arc<InventoryStore>,
    /// Scan Jobs.
    pub scans: Arc<Scans>,
    /// The vulnerability DB.
    pub db: Arc<DbState>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Event recorder.
    pub recorder: Recorder,
    /// Wake-ups.
    pub triggers: Triggers,
    /// Bounds reconciles running at once.
    pub permits: Semaphore,
    /// Reconciles waiting for a permit (`sightline_workqueue_depth`).
    pub waiting: AtomicUsize,
    /// Consecutive transient failures per workload (the error policy's backoff).
    pub failures: Mutex<HashMap<WorkloadKey, u32>>,
    /// Workloads to wake when the Pod watch's relist completes.
    pub relist_wakes: Mutex<Vec<WorkloadKey>>,
    /// The watches that completed their first list (readiness). Marked by the watches
    /// themselves: a reflector store's own readiness future holds one waker, and a second
    /// waiter would steal the Controller's.
    pub synced: tokio::sync::watch::Sender<std::collections::BTreeSet<String>>,
    /// Set once every cache synced: reconciles wait for it (a reconcile reading a report
    /// cache that has not listed yet would rescan what its reports already record).
    pub ready: tokio::sync::watch::Sender<bool>,
}

impl Context {
    /// Records that the watch `what` completed a list.
    pub fn mark_synced(&self, what: &str) {
        self.synced.send_if_modified(|s| s.insert(what.to_string()));
    }
}
