//! Scan Jobs: the I/O around the [`ScanBook`] state machine — Job and pull-Secret creation,
//! the Job watch (collect finished Jobs, adopt a previous process's, notice vanished ones on
//! a relist), result intake from the Pod log (size-capped), failures with backoff, and
//! stuck scans timed out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::runtime::events::Recorder;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};
use tokio::sync::Notify;

use super::context::Triggers;
use super::job_io::{self, Finished};
use super::writes;
use crate::config::OperatorConfig;
use crate::job::{self, IMAGE_ANNOTATION};
use crate::metrics::{FailureReason, Metrics};
use crate::scan_state::{store_key, ScanBook, ScanRequest, ScanStatus, Subject};
use crate::store::InventoryStore;
use crate::sync::MutexExt;
use crate::workload::{WorkloadKey, WorkloadKind};

/// How long a tag's resolution (from a tag scan) is reused before a new scan resolves it.
const RESOLVED_TTL: Duration = Duration::from_secs(60 * 60);
/// Grace beyond `operator.scanJobTimeout` before a scan still Running is failed as stuck.
const STUCK_GRACE: Duration = Duration::from_secs(120);
/// How often stuck scans and idle failures are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The scan Job manager.
pub struct Scans {
    client: Client,
    config: Arc<OperatorConfig>,
    store: Arc<InventoryStore>,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    scanner_image: String,
    triggers: Triggers,
    book: Mutex<ScanBook>,
    resolved: Mutex<HashMap<String, (String, Instant)>>,
    notify: Notify,
}

impl Scans {
    /// A manager creating Jobs that run `scanner_image`, waking waiters through `triggers`.
    pub fn new(
        client: Client,
        config: Arc<OperatorConfig>,
        store: Arc<InventoryStore>,
        metrics: Arc<Metrics>,
        recorder: Recorder,
        scanner_image: String,
        triggers: Triggers,
    ) -> Arc<Self> {
        Arc::new(Scans {
            client,
            config,
            store,
            metrics,
            recorder,
            scanner_image,
            triggers,
            book: Mutex::new(ScanBook::new()),
            resolved: Mutex::new(HashMap::new()),
            notify: Notify::new(),
        })
    }

    /// Asks for `req.subject`'s inventory. With `join` (the tag subject's key of a digest
    /// subject), a tag scan in flight for the same image answers instead of a second Job.
    pub fn request(&self, req: ScanRequest, join: Option<String>) -> ScanStatus {
        let status = {
            let mut book = self.book.locked();
            let joined = join.and_then(|k| book.join(&k, &req.waiter));
            let status = joined.unwrap_or_else(|| book.request(req, Instant::now()));
            self.metrics.set_queue_depth(book.queued());
            status
        };
        if status == ScanStatus::Queued {
            self.notify.notify_one();
        }
        status
    }

    /// A TTL re-scan of a subject that has an inventory (ignored while one is in flight or
    /// backing off).
    pub fn rescan(&self, req: ScanRequest) {
        self.request(req, None);
    }

    /// The digest a tag subject's key resolved to in a recent tag scan.
    pub fn resolved(&self, tag_key: &str) -> Option<String> {
        let r = self.resolved.locked();
        let (digest, at) = r.get(tag_key)?;
        (at.elapsed() < RESOLVED_TTL).then(|| digest.clone())
    }

    /// Subjects queued or running.
    pub fn in_flight(&self) -> usize {
        let b = self.book.locked();
        b.queued() + b.running()
    }

    /// Creates Jobs while slots are free.
    pub async fn dispatch(self: Arc<Self>) {
        loop {
            let limit =
                usize::try_from(self.config.scan_jobs_concurrent_limit).unwrap_or(usize::MAX);
            loop {
                let next = {
                    let mut book = self.book.locked();
                    let next = book.next_to_start(limit, Instant::now());
                    self.metrics.set_queue_depth(book.queued());
                    self.metrics.set_jobs_running(book.running());
                    next
                };
                let Some(req) = next else { break };
                let this = self.clone();
                tokio::spawn(async move { this.start_job(req).await });
            }
            let _ = tokio::time::timeout(SWEEP_EVERY, self.notify.notified()).await;
        }
    }

    /// Fails scans stuck in Running past the Job deadline, forgets idle failures.
    pub async fn sweep(self: Arc<Self>) {
        let timeout = self.config.scan_job_timeout + STUCK_GRACE;
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            let stuck = {
                let mut book = self.book.locked();
                book.forget_idle_failures(Instant::now(), Duration::from_secs(3600));
                book.stuck(Instant::now(), timeout)
            };
            self.resolved
                .locked()
                .retain(|_, (_, at)| at.elapsed() < RESOLVED_TTL);
            for (key, name) in stuck {
                let msg = format!(
                    "the scan ran longer than operator.scanJobTimeout ({}s) plus {}s and its Job did not finish",
                    self.config.scan_job_timeout.as_secs(),
                    STUCK_GRACE.as_secs()
                );
                self.fail(&key, FailureReason::Timeout, &msg).await;
                if let Some(name) = name {
                    self.delete_job(&name).await;
                }
            }
        }
    }

    async fn start_job(self: Arc<Self>, req: ScanRequest) {
        let key = req.subject.key();
        match job_io::create(&self.client, &self.config, &self.scanner_image, &req).await {
            Ok(Some((name, uid))) => {
                tracing::info!(job = %name, image = %req.subject.image, platform = %req.subject.platform, "scan Job created");
                self.book.locked().job_created(&req.subject, &name, &uid);
            }
            Ok(None) => {
                tracing::info!(image = %req.subject.image, "adopting the existing scan Job")
            }
            Err(e) => {
                tracing::warn!(image = %req.subject.image, "could not create the scan Job: {e:#}");
                self.fail(
                    &key,
                    FailureReason::Internal,
                    &format!("creating the scan Job: {e:#}"),
                )
                .await;
            }
        }
        self.notify.notify_one();
    }

    /// Watches the operator's scan Jobs until the process stops.
    pub async fn watch_jobs(self: Arc<Self>) {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.config.operator_namespace);
        let cfg = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
        let stream = watcher::watcher(jobs, cfg).backoff(super::relist::WatchBackoff::default());
        let mut stream = std::pin::pin!(stream);
        use futures_util::StreamExt;
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Init) => self.book.locked().relist_start(),
                Ok(Event::InitApply(j)) | Ok(Event::Apply(j)) => self.job_seen(j),
                Ok(Event::Delete(j)) => {
                    let gone = self.book.locked().job_gone(&j.uid().unwrap_or_default());
                    if let Some(key) = gone {
                        let msg =
                            format!("scan Job {} was deleted before it finished", j.name_any());
                        self.fail(&key, FailureReason::Internal, &msg).await;
                    }
                }
                Ok(Event::InitDone) => {
                    let gone = self.book.locked().relist_done();
                    for key in gone {
                        self.fail(
                            &key,
                            FailureReason::Internal,
                            "the scan Job vanished while the operator was not watching",
                        )
                        .await;
                    }
                }
                Err(e) => tracing::warn!("watching scan Jobs: {e}"),
            }
            self.metrics.set_jobs_running(self.book.locked().running());
            self.notify.notify_one();
        }
    }

    fn job_seen(self: &Arc<Self>, j: Job) {
        let Some(image) = j.annotations().get(IMAGE_ANNOTATION).cloned() else {
            return;
        };
        let subject = Subject::from_job(&image, job::job_platform(&j).as_deref());
        let finished = job_io::finished(&j);
        let seen = self.book.locked().job_seen(
            subject.clone(),
            &j.name_any(),
            &j.uid().unwrap_or_default(),
            j.metadata.deletion_timestamp.is_some(),
            finished.is_some(),
            Instant::now(),
        );
        if seen.adopted {
            tracing::info!(job = %j.name_any(), image = %subject.image, "tracking scan Job (created by an earlier operator process)");
        }
        if let (true, Some(finished)) = (seen.collect, finished) {
            let this = self.clone();
            tokio::spawn(async move { this.collect(j, subject, finished).await });
        }
    }

    /// Reads the finished Job's result, stores it (or records the failure), deletes the Job.
    async fn collect(self: Arc<Self>, j: Job, subject: Subject, finished: Finished) {
        let name = j.name_any();
        let key = subject.key();
        let (pod, log) =
            job_io::pod_and_log(&self.client, &self.config.operator_namespace, &name).await;
        let outcome = job_io::outcome(&finished, pod.as_ref(), log.as_deref(), &self.config);
        match outcome {
            Ok(scan) => {
                // A tag scan stores under the digest it resolved to, and remembers it.
                let digest = subject.digest.clone().or_else(|| job_io::digest_of(&scan));
                let store_as = digest
                    .as_deref()
                    .map_or_else(|| key.clone(), |d| store_key(d, &subject.platform));
                match self.store.put(&store_as, &scan, chrono::Utc::now()) {
                    Ok(()) => {
                        if let (None, Some(d)) = (&subject.digest, &digest) {
                            self.resolved
                                .locked()
                                .insert(key.clone(), (d.clone(), Instant::now()));
                        }
                        tracing::info!(job = %name, key = %store_as, packages = scan.inventory.os_packages.len(), "inventory stored");
                        self.metrics.scan_succeeded();
                        let since = self.book.locked().running_since(&key);
                        if let Some(since) = since {
                            self.metrics.observe_scan_duration(since.elapsed());
                        }
                        if let Ok(n) = self.store.len() {
                            self.metrics.set_inventories(n);
                        }
                        let waiters = self.book.locked().succeeded(&key);
                        for w in waiters {
                            self.triggers.wake(w);
                        }
                    }
                    Err(e) => {
                        self.fail(
                            &key,
                            FailureReason::Internal,
                            &format!("storing the inventory: {e}"),
                        )
                        .await
                    }
                }
            }
            Err((reason, message)) => self.fail(&key, reason, &message).await,
        }
        self.delete_job(&name).await;
    }

    async fn delete_job(&self, name: &str) {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.config.operator_namespace);
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        if let Err(e) = jobs.delete(name, &dp).await {
            if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                tracing::warn!(job = %name, "deleting the scan Job: {e}");
            }
        }
    }

    /// The controller reference of a ReplicaSet waiter (read when a scan fails, so the
    /// failure's Event reaches its Deployment too); `None` for other kinds or on error.
    async fn controller_of_replica_set(&self, w: &WorkloadKey) -> Option<OwnerReference> {
        if w.kind != WorkloadKind::ReplicaSet {
            return None;
        }
        let api: Api<ReplicaSet> = Api::namespaced(self.client.clone(), &w.namespace);
        match api.get_metadata_opt(&w.name).await {
            Ok(rs) => rs.and_then(|rs| crate::workload::controller_of(&rs.metadata).cloned()),
            Err(e) => {
                tracing::debug!(workload = %w, "reading the ReplicaSet's owner: {e}");
                None
            }
        }
    }

    /// Records a failure: metric, Event on every waiting workload (and the Deployment of a
    /// ReplicaSet), backoff; the waiters are
    /// woken now and requeue themselves for when the backoff ends.
    async fn fail(&self, key: &str, reason: FailureReason, message: &str) {
        let failure = self
            .book
            .locked()
            .failed(key, reason, message, Instant::now());
        self.notify.notify_one();
        let Some(f) = failure else { return };
        self.metrics.scan_failed(reason);
        tracing::warn!(key = %key, image = %f.image, reason = %reason.as_str(), retry_in_s = f.retry_in.as_secs(), "scan failed: {message}");
        let note = format!(
            "Scanning {} failed ({}): {message}. Retrying in {}s.",
            f.image,
            reason.as_str(),
            f.retry_in.as_secs()
        );
        for w in f.waiters {
            let owner = self.controller_of_replica_set(&w).await;
            for target in writes::event_targets(&w, owner.as_ref()) {
                writes::warn_event_on(&self.recorder, &target, "ScanFailed", "Scan", &note).await;
            }
            self.triggers.wake(w);
        }
    }
}
