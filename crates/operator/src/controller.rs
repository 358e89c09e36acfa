//! The workload controller: caches of the watched kinds, a de-duplicating work queue, and
//! the reconcile step that turns one workload into its reports.
//!
//! Reconciling a workload: skip rules → containers (template + sidecars seen on its Pods) →
//! running digests (Pod `imageID`, else the registry) → stored inventory per digest (or a
//! scan request, which wakes the workload when done) → reports matched in-process against
//! the current DB, written only when something changed (spec hash, digest, DB, scan time).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};
use sightline_api::naming::{
    LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME, LABEL_RESOURCE_SPEC_HASH,
};
use tokio::sync::mpsc;

use crate::config::OperatorConfig;
use crate::dbsync::DbState;
use crate::metrics::Metrics;
use crate::reports::{self, ContainerTarget, ReportSettings};
use crate::scans::{ScanRequest, ScanStatus, Scans};
use crate::store::InventoryStore;
use crate::workload::{
    self, pin_image, skip_reason, Workload, WorkloadKey, WorkloadKind, REVISION_ANNOTATION,
};

/// Annotation on reports: the image digest they were built from.
pub const DIGEST_ANNOTATION: &str = "sightline.dev/image-digest";
/// Annotation on reports: the vulnerability DB (its UpdatedAt) they were matched against.
pub const DB_ANNOTATION: &str = "sightline.dev/db-updated-at";
/// Annotation on reports: when the image's inventory was taken.
pub const SCANNED_AT_ANNOTATION: &str = "sightline.dev/scanned-at";
/// Field manager of the operator's server-side applies.
pub const FIELD_MANAGER: &str = "sightline";

/// How long a tag → digest resolution from the registry is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(5 * 60);

/// `apiVersion` of a workload kind (CronJob: the version the server serves is used for
/// ownerReferences; this is the Event reference's).
pub fn api_version_of(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Pod | WorkloadKind::ReplicationController => "v1",
        WorkloadKind::ReplicaSet | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => "apps/v1",
        WorkloadKind::Job => "batch/v1",
        WorkloadKind::CronJob => "batch/v1beta1",
    }
}

/// The reflector caches the controller reads (no API reads in the hot path).
#[derive(Clone)]
pub struct Caches {
    /// Pods (all namespaces), trimmed.
    pub pods: Store<Pod>,
    /// ReplicaSets.
    pub replica_sets: Store<ReplicaSet>,
    /// ReplicationControllers.
    pub replication_controllers: Store<ReplicationController>,
    /// StatefulSets.
    pub stateful_sets: Store<StatefulSet>,
    /// DaemonSets.
    pub daemon_sets: Store<DaemonSet>,
    /// Jobs.
    pub jobs: Store<Job>,
    /// CronJobs (batch/v1 or v1beta1, whichever the server serves), with their apiVersion.
    pub cron_jobs: Option<(Store<DynamicObject>, String)>,
    /// Deployments, metadata only (for the revision annotation).
    pub deployments: Store<PartialObjectMeta<Deployment>>,
    /// The operator's VulnerabilityReports, metadata only.
    pub vulnerability_reports: Store<PartialObjectMeta<VulnerabilityReport>>,
}

/// A de-duplicating work queue of workloads (a key is queued at most once; a key that
/// changes while being reconciled is reconciled again afterwards).
pub struct WorkQueue {
    tx: mpsc::UnboundedSender<WorkloadKey>,
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    queued: HashSet<WorkloadKey>,
    active: HashSet<WorkloadKey>,
    dirty: HashSet<WorkloadKey>,
}

impl WorkQueue {
    /// A queue and the receiving end the workers read.
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<WorkloadKey>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(WorkQueue {
                tx,
                state: Mutex::new(QueueState::default()),
            }),
            rx,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `key` unless it already is.
    pub fn add(&self, key: WorkloadKey) {
        let mut st = self.lock();
        if st.active.contains(&key) {
            st.dirty.insert(key);
            return;
        }
        if st.queued.insert(key.clone()) {
            let _ = self.tx.send(key);
        }
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: WorkloadKey, delay: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            this.add(key);
        });
    }

    /// Marks `key` as being reconciled (call when taking it off the channel).
    pub fn start(&self, key: &WorkloadKey) {
        let mut st = self.lock();
        st.queued.remove(key);
        st.active.insert(key.clone());
    }

    /// Marks `key` done; re-queues it if it changed meanwhile.
    pub fn done(&self, key: &WorkloadKey) {
        let again = {
            let mut st = self.lock();
            st.active.remove(key);
            st.dirty.remove(key)
        };
        if again {
            self.add(key.clone());
        }
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.lock().queued.len()
    }

    /// `true` when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything a reconcile needs.
pub struct Ctx {
    /// API client.
    pub client: Client,
    /// Settings.
    pub config: Arc<OperatorConfig>,
    /// Caches.
    pub caches: Caches,
    /// Digest → inventory.
    pub store: Arc<InventoryStore>,
    /// Scan Jobs.
    pub scans: Arc<Scans>,
    /// The vulnerability DB.
    pub db: Arc<DbState>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The work queue.
    pub queue: Arc<WorkQueue>,
    /// Report names written per workload (for metric removal when it goes away).
    written: Mutex<HashMap<WorkloadKey, Vec<String>>>,
    /// Image → (digest, when resolved) from the registry.
    resolved: Mutex<HashMap<String, (String, Instant)>>,
}

/// What one reconcile did, for logs and tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Reports written (created or changed).
    pub written: usize,
    /// Reports already up to date.
    pub unchanged: usize,
    /// Containers waiting for a scan.
    pub waiting: usize,
}

impl Ctx {
    /// A context over started caches.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        config: Arc<OperatorConfig>,
        caches: Caches,
        store: Arc<InventoryStore>,
        scans: Arc<Scans>,
        db: Arc<DbState>,
        metrics: Arc<Metrics>,
        queue: Arc<WorkQueue>,
    ) -> Self {
        Ctx {
            client,
            config,
            caches,
            store,
            scans,
            db,
            metrics,
            queue,
            written: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// The workload behind `key`, from the caches.
    pub fn workload(&self, key: &WorkloadKey) -> Option<Workload> {
        let c = &self.caches;
        let ns = key.namespace.as_str();
        let name = key.name.as_str();
        match key.kind {
            WorkloadKind::Pod => c
                .pods
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_pod(&o)),
            WorkloadKind::ReplicaSet => c
                .replica_sets
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_replica_set(&o)),
            WorkloadKind::ReplicationController => c
                .replication_controllers
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_replication_controller(&o)),
            WorkloadKind::StatefulSet => c
                .stateful_sets
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_stateful_set(&o)),
            WorkloadKind::DaemonSet => c
                .daemon_sets
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_daemon_set(&o)),
            WorkloadKind::Job => c
                .jobs
                .get(&ObjectRef::new(name).within(ns))
                .and_then(|o| Workload::from_job(&o)),
            WorkloadKind::CronJob => {
                let (store, api_version) = c.cron_jobs.as_ref()?;
                store
                    .state()
                    .into_iter()
                    .find(|o| {
                        o.metadata.name.as_deref() == Some(name)
                            && o.metadata.namespace.as_deref() == Some(ns)
                    })
                    .and_then(|o| Workload::from_cron_job(api_version, &o.metadata, &o.data))
            }
        }
    }

    /// Every workload key in the caches (for a full re-match after a DB update).
    pub fn all_keys(&self) -> Vec<WorkloadKey> {
        let c = &self.caches;
        let mut keys = Vec::new();
        let mut push = |kind: WorkloadKind, ns: Option<String>, name: Option<String>| {
            if let (Some(namespace), Some(name)) = (ns, name) {
                keys.push(WorkloadKey {
                    kind,
                    namespace,
                    name,
                });
            }
        };
        for o in c.pods.state() {
            push(
                WorkloadKind::Pod,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        for o in c.replica_sets.state() {
            push(
                WorkloadKind::ReplicaSet,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        for o in c.replication_controllers.state() {
            push(
                WorkloadKind::ReplicationController,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        for o in c.stateful_sets.state() {
            push(
                WorkloadKind::StatefulSet,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        for o in c.daemon_sets.state() {
            push(
                WorkloadKind::DaemonSet,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        for o in c.jobs.state() {
            push(
                WorkloadKind::Job,
                o.metadata.namespace.clone(),
                o.metadata.name.clone(),
            );
        }
        if let Some((store, _)) = &c.cron_jobs {
            for o in store.state() {
                push(
                    WorkloadKind::CronJob,
                    o.metadata.namespace.clone(),
                    o.metadata.name.clone(),
                );
            }
        }
        keys
    }

    /// Pods whose controller is `w` (for a Pod workload: the Pod itself).
    fn pods_of(&self, w: &Workload) -> Vec<Arc<Pod>> {
        if w.key.kind == WorkloadKind::Pod {
            return self
                .caches
                .pods
                .get(&ObjectRef::new(&w.key.name).within(&w.key.namespace))
                .into_iter()
                .collect();
        }
        self.caches
            .pods
            .state()
            .into_iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == Some(w.key.namespace.as_str())
                    && workload::controller_of(&p.metadata).is_some_and(|o| o.uid == w.uid)
            })
            .collect()
    }

    /// The revision of the Deployment owning a ReplicaSet.
    fn deployment_revision(&self, w: &Workload) -> Option<String> {
        if w.key.kind != WorkloadKind::ReplicaSet {
            return None;
        }
        let owner = workload::controller_of(&w.meta).filter(|o| o.kind == "Deployment")?;
        let d = self
            .caches
            .deployments
            .get(&ObjectRef::new(&owner.name).within(&w.key.namespace))?;
        d.metadata
            .annotations
            .as_ref()?
            .get(REVISION_ANNOTATION)
            .cloned()
    }

    /// Workloads a Deployment's change concerns: its ReplicaSets.
    pub fn replica_sets_of_deployment(&self, namespace: &str, uid: &str) -> Vec<WorkloadKey> {
        self.caches
            .replica_sets
            .state()
            .into_iter()
            .filter(|rs| {
                rs.metadata.namespace.as_deref() == Some(namespace)
                    && workload::controller_of(&rs.metadata).is_some_and(|o| o.uid == uid)
            })
            .filter_map(|rs| {
                Some(WorkloadKey {
                    kind: WorkloadKind::ReplicaSet,
                    namespace: namespace.to_string(),
                    name: rs.metadata.name.clone()?,
                })
            })
            .collect()
    }

    /// Forgets a workload that is gone (its reports go with it through ownerReferences).
    pub fn forget(&self, key: &WorkloadKey) {
        let names = self
            .written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        for name in names.into_iter().flatten() {
            self.metrics.remove_report(&key.namespace, &name);
        }
    }

    /// Resolves `image`'s tag in the registry (cached for a few minutes).
    async fn resolve(&self, image: &str) -> Result<String, String> {
        if let Some((d, at)) = self
            .resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(image)
        {
            if at.elapsed() < RESOLVE_TTL {
                return Ok(d.clone());
            }
        }
        let opts = sightline_image::RegistryOptions {
            insecure_registries: self.config.insecure_registries.clone(),
            timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let d = sightline_image::resolve_digest(image, &opts)
            .await
            .map_err(|e| e.to_string())?;
        self.resolved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(image.to_string(), (d.clone(), Instant::now()));
        Ok(d)
    }

    /// Reconciles one workload.
    pub async fn reconcile(&self, key: &WorkloadKey) -> anyhow::Result<Outcome> {
        let mut outcome = Outcome::default();
        let Some(w) = self.workload(key) else {
            self.forget(key);
            return Ok(outcome);
        };
        let revision = self.deployment_revision(&w);
        if let Some(skip) = skip_reason(&w, &self.config, revision.as_deref()) {
            tracing::trace!(workload = %key, "skipped: {skip}");
            return Ok(outcome);
        }
        let pods = self.pods_of(&w);
        // Containers: the template's, plus any a Pod has beyond it (injected sidecars).
        let mut containers: BTreeMap<String, String> = w.containers().into_iter().collect();
        let mut order: Vec<String> = w.containers().into_iter().map(|(n, _)| n).collect();
        for p in &pods {
            if let Some(spec) = &p.spec {
                for (name, image) in workload::containers_of(spec) {
                    if let std::collections::btree_map::Entry::Vacant(e) =
                        containers.entry(name.clone())
                    {
                        order.push(name);
                        e.insert(image);
                    }
                }
            }
        }
        let digests = workload::running_digests(pods.iter().map(|p| p.as_ref()));
        let spec_hash = w.spec_hash();
        let now = Utc::now();
        let db = self.db.current();
        let mut names = Vec::new();
        let mut next_ttl: Option<Duration> = None;
        for name in order {
            let image = containers[&name].clone();
            let digest = match digests.get(&name) {
                Some(d) => d.clone(),
                None => {
                    match self.resolve(&image).await {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!(workload = %key, container = %name, "cannot resolve the digest of {image}: {e}");
                            self.scans
                            .event(key, "DigestUnresolved", &format!("Cannot resolve the digest of {image} (container {name}): {e}"))
                            .await;
                            self.queue.add_after(key.clone(), Duration::from_secs(60));
                            continue;
                        }
                    }
                }
            };
            let stored = match self.store.get(&digest) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(digest = %digest, "inventory store: {e}; the image is rescanned");
                    None
                }
            };
            let request = |rescan: bool| ScanRequest {
                digest: digest.clone(),
                image: pin_image(&image, &digest),
                waiter: key.clone(),
                pull_secrets: w.image_pull_secrets(),
                service_account: w.service_account(),
                rescan,
            };
            let Some(stored) = stored else {
                outcome.waiting += 1;
                match self.scans.request(request(false)) {
                    ScanStatus::BackingOff {
                        reason, retry_in, ..
                    } => {
                        tracing::debug!(workload = %key, digest = %digest, "scan backing off ({reason}), {}s left", retry_in.as_secs());
                    }
                    s => tracing::debug!(workload = %key, digest = %digest, "scan {s:?}"),
                }
                continue;
            };
            // TTL backstop: re-scan (the old inventory keeps serving until the new one lands).
            if let Some(ttl) = self.config.scanner_report_ttl {
                let due = ttl.saturating_sub(jitter(&digest, ttl));
                let age = (now - stored.scanned_at).to_std().unwrap_or_default();
                if age >= due {
                    self.scans.request(request(true));
                } else {
                    let left = due - age;
                    next_ttl = Some(next_ttl.map_or(left, |n| n.min(left)));
                }
            }
            let Some(db) = db.as_ref() else {
                outcome.waiting += 1;
                continue;
            };
            let target = ContainerTarget {
                resource: w.resource(),
                api_version: w.api_version.clone(),
                uid: w.uid.clone(),
                container: name.clone(),
                image: image.clone(),
                digest: digest.clone(),
                spec_hash: spec_hash.clone(),
            };
            let settings = ReportSettings {
                filters: sightline_detect::Filters {
                    ignore_unfixed: self.config.ignore_unfixed,
                    severities: self.config.severities.clone(),
                },
                ttl: self.config.scanner_report_ttl,
                ..Default::default()
            };
            let marks = [
                (DIGEST_ANNOTATION, digest.clone()),
                (DB_ANNOTATION, db.version.clone()),
                (
                    SCANNED_AT_ANNOTATION,
                    sightline_api::crd::format_time(stored.scanned_at),
                ),
            ];
            let mut vr =
                reports::vulnerability_report(&target, &stored.scan, &db.db, &settings, now)?;
            let mut esr = reports::exposed_secret_report(&target, &stored.scan, &settings, now)?;
            for (k, v) in &marks {
                vr.annotations_mut().insert(k.to_string(), v.clone());
                esr.annotations_mut().insert(k.to_string(), v.clone());
            }
            let report_name = vr.name_any();
            names.push(report_name.clone());
            self.metrics.set_vulnerability_report(&vr);
            self.metrics.set_exposed_secret_report(&esr);
            if self.up_to_date(&w.key.namespace, &report_name, &spec_hash, &marks) {
                outcome.unchanged += 1;
                continue;
            }
            self.apply(&vr).await?;
            self.apply(&esr).await?;
            self.metrics.report_written("VulnerabilityReport");
            self.metrics.report_written("ExposedSecretReport");
            if let Some((kept, total)) = reports::trimmed_counts(&vr.metadata) {
                tracing::warn!(report = %report_name, kept, total, "VulnerabilityReport trimmed to fit etcd's object size limit (lowest severities dropped; the summary counts all)");
                self.metrics.report_trimmed("VulnerabilityReport");
            }
            if reports::trimmed_counts(&esr.metadata).is_some() {
                self.metrics.report_trimmed("ExposedSecretReport");
            }
            outcome.written += 1;
        }
        self.delete_stale(&w, &names).await;
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), names);
        if let Some(left) = next_ttl {
            self.queue
                .add_after(key.clone(), left + Duration::from_secs(1));
        }
        Ok(outcome)
    }

    /// `true` when the cached report carries the same spec hash and marks.
    fn up_to_date(&self, ns: &str, name: &str, spec_hash: &str, marks: &[(&str, String)]) -> bool {
        let Some(existing) = self
            .caches
            .vulnerability_reports
            .get(&ObjectRef::new(name).within(ns))
        else {
            return false;
        };
        let labels = existing.labels();
        let annotations = existing.annotations();
        labels.get(LABEL_RESOURCE_SPEC_HASH).map(String::as_str) == Some(spec_hash)
            && marks.iter().all(|(k, v)| annotations.get(*k) == Some(v))
    }

    async fn apply<K>(&self, obj: &K) -> anyhow::Result<()>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        K::DynamicType: Default,
    {
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        api.patch(
            &obj.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "writing {} {ns}/{}: {e}",
                K::kind(&Default::default()),
                obj.name_any()
            )
        })?;
        Ok(())
    }

    /// Deletes this workload's reports for containers it no longer has.
    async fn delete_stale(&self, w: &Workload, keep: &[String]) {
        let stale: Vec<String> = self
            .caches
            .vulnerability_reports
            .state()
            .into_iter()
            .filter(|r| {
                r.metadata.namespace.as_deref() == Some(w.key.namespace.as_str())
                    && r.labels().get(LABEL_RESOURCE_KIND).map(String::as_str)
                        == Some(w.key.kind.as_str())
                    && r.labels().get(LABEL_RESOURCE_NAME) == Some(&w.key.name)
                    && r.labels().contains_key(LABEL_CONTAINER_NAME)
                    && !keep.contains(&r.name_any())
            })
            .map(|r| r.name_any())
            .collect();
        for name in stale {
            tracing::info!(workload = %w.key, report = %name, "deleting the report of a container the workload no longer has");
            let dp = DeleteParams::default();
            let vr: Api<VulnerabilityReport> =
                Api::namespaced(self.client.clone(), &w.key.namespace);
            let esr: Api<ExposedSecretReport> =
                Api::namespaced(self.client.clone(), &w.key.namespace);
            let _ = vr.delete(&name, &dp).await;
            let _ = esr.delete(&name, &dp).await;
            self.metrics.remove_report(&w.key.namespace, &name);
        }
    }
}

/// A stable per-digest share (0–10 %) of the TTL, so a fleet of images scanned together is
/// not re-scanned in one stampede.
pub fn jitter(digest: &str, ttl: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in digest.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let permille = h % 101;
    ttl.mul_f64(permille as f64 / 1000.0)
}

/// The time an inventory was taken, as reports carry it.
pub fn scanned_at_mark(t: DateTime<Utc>) -> String {
    sightline_api::crd::format_time(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_is_stable_and_bounded() {
        let ttl = Duration::from_secs(24 * 3600);
        let a = jitter("sha256:aaa", ttl);
        assert_eq!(a, jitter("sha256:aaa", ttl));
        assert!(a <= ttl / 10);
        let spread: HashSet<u64> = (0..50)
            .map(|i| jitter(&format!("sha256:{i}"), ttl).as_secs())
            .collect();
        assert!(spread.len() > 20, "jitter spreads digests: {spread:?}");
    }

    #[tokio::test]
    async fn queue_dedupes_and_requeues_dirty_keys() {
        let (q, mut rx) = WorkQueue::new();
        let k = WorkloadKey {
            kind: WorkloadKind::Pod,
            namespace: "ns".into(),
            name: "a".into(),
        };
        q.add(k.clone());
        q.add(k.clone());
        assert_eq!(rx.recv().await.unwrap(), k);
        assert!(rx.try_recv().is_err());
        q.start(&k);
        q.add(k.clone()); // changed while being reconciled
        assert!(rx.try_recv().is_err());
        q.done(&k);
        assert_eq!(rx.recv().await.unwrap(), k);
    }
}
