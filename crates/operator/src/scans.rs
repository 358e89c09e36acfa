//! Scan Jobs, one per image digest: the queue (bounded by `scanJobsConcurrentLimit`), Job
//! and pull-Secret creation, result intake from the Pod log, failures with per-digest
//! exponential backoff, and adoption of Jobs a previous operator process left behind.
//!
//! Workloads ask for a digest with [`Scans::request`]; whoever asked (the *waiters*) is
//! woken through the controller's queue when the inventory is stored or the scan failed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams, PropagationPolicy};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, ResourceExt};
use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};
use sightline_scan::job_result::{self, FailureReason, ResultError};
use tokio::sync::{mpsc, Notify};

use crate::config::OperatorConfig;
use crate::job::{self, ScanJobRequest, IMAGE_ANNOTATION};
use crate::metrics::Metrics;
use crate::store::InventoryStore;
use crate::workload::WorkloadKey;

/// First retry delay after a failed scan; doubles per failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(30);
/// Longest delay between retries of one digest.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// Why a scan failed, as `sightline_scan_failures_total{reason}` and Events name it.
pub fn backoff_after(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    BASE_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// One workload's ask for a digest's inventory.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// The running digest.
    pub digest: String,
    /// The image pinned to the digest (`repo@sha256:...`).
    pub image: String,
    /// The workload asking (woken when the scan ends).
    pub waiter: WorkloadKey,
    /// Pull secret names in the workload's namespace (the pod spec's).
    pub pull_secrets: Vec<String>,
    /// The workload's ServiceAccount (its `imagePullSecrets` are used too).
    pub service_account: String,
    /// A re-scan (TTL) of a digest that already has an inventory.
    pub rescan: bool,
}

/// Where a digest's scan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStatus {
    /// Waiting for a free slot.
    Queued,
    /// Its Job runs.
    Running,
    /// The last attempt failed; retried after the backoff.
    BackingOff {
        /// Failure reason (`auth`, `timeout`, ...).
        reason: String,
        /// What went wrong.
        message: String,
        /// Time left before the next attempt.
        retry_in: Duration,
    },
}

#[derive(Debug)]
enum Phase {
    Queued,
    Running {
        collecting: bool,
        since: Instant,
    },
    Failed {
        retry_at: Instant,
        reason: String,
        message: String,
    },
}

#[derive(Debug)]
struct DigestState {
    phase: Phase,
    request: ScanRequest,
    waiters: HashSet<WorkloadKey>,
    failures: u32,
}

#[derive(Default)]
struct State {
    digests: HashMap<String, DigestState>,
    queue: VecDeque<String>,
    /// Jobs counted against the limit (created or adopted, not yet finished).
    running: usize,
    /// UIDs of finished Jobs already collected (until their deletion is seen).
    collected: HashSet<String>,
}

/// The scan Job manager.
pub struct Scans {
    client: Client,
    config: Arc<OperatorConfig>,
    store: Arc<InventoryStore>,
    metrics: Arc<Metrics>,
    recorder: Recorder,
    scanner_image: String,
    wake: mpsc::UnboundedSender<WorkloadKey>,
    state: Mutex<State>,
    notify: Notify,
}

impl Scans {
    /// A manager creating Jobs that run `scanner_image`, waking waiters through `wake`.
    pub fn new(
        client: Client,
        config: Arc<OperatorConfig>,
        store: Arc<InventoryStore>,
        metrics: Arc<Metrics>,
        recorder: Recorder,
        scanner_image: String,
        wake: mpsc::UnboundedSender<WorkloadKey>,
    ) -> Arc<Self> {
        Arc::new(Scans {
            client,
            config,
            store,
            metrics,
            recorder,
            scanner_image,
            wake,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for `req.digest`'s inventory. Returns where its scan stands; the waiter is woken
    /// when it ends (stored or failed).
    pub fn request(&self, req: ScanRequest) -> ScanStatus {
        let mut st = self.lock();
        let now = Instant::now();
        let digest = req.digest.clone();
        let status = match st.digests.get_mut(&digest) {
            Some(d) => {
                d.waiters.insert(req.waiter.clone());
                match &d.phase {
                    Phase::Queued => ScanStatus::Queued,
                    Phase::Running { .. } => ScanStatus::Running,
                    Phase::Failed {
                        retry_at,
                        reason,
                        message,
                    } if *retry_at > now => ScanStatus::BackingOff {
                        reason: reason.clone(),
                        message: message.clone(),
                        retry_in: *retry_at - now,
                    },
                    Phase::Failed { .. } => {
                        d.phase = Phase::Queued;
                        d.request = req;
                        st.queue.push_back(digest);
                        ScanStatus::Queued
                    }
                }
            }
            None => {
                let mut waiters = HashSet::new();
                waiters.insert(req.waiter.clone());
                st.digests.insert(
                    digest.clone(),
                    DigestState {
                        phase: Phase::Queued,
                        request: req,
                        waiters,
                        failures: 0,
                    },
                );
                st.queue.push_back(digest);
                ScanStatus::Queued
            }
        };
        self.metrics.set_queue_depth(st.queue.len());
        drop(st);
        if status == ScanStatus::Queued {
            self.notify.notify_one();
        }
        status
    }

    /// Digests queued or running (for logs and readiness).
    pub fn in_flight(&self) -> usize {
        let st = self.lock();
        st.digests
            .values()
            .filter(|d| !matches!(d.phase, Phase::Failed { .. }))
            .count()
    }

    /// Runs the dispatcher (creates Jobs while slots are free) and the Job watcher (collects
    /// results, adopts leftovers) until the process stops.
    pub async fn run(self: Arc<Self>) {
        let dispatcher = {
            let this = self.clone();
            async move { this.dispatch_loop().await }
        };
        let watcher = {
            let this = self.clone();
            async move { this.watch_jobs().await }
        };
        tokio::join!(dispatcher, watcher);
    }

    async fn dispatch_loop(self: Arc<Self>) {
        loop {
            let next = {
                let mut st = self.lock();
                let limit = self.config.scan_jobs_concurrent_limit as usize;
                let mut next = None;
                while st.running < limit {
                    let Some(digest) = st.queue.pop_front() else {
                        break;
                    };
                    let Some(d) = st.digests.get_mut(&digest) else {
                        continue;
                    };
                    if !matches!(d.phase, Phase::Queued) {
                        continue;
                    }
                    d.phase = Phase::Running {
                        collecting: false,
                        since: Instant::now(),
                    };
                    st.running += 1;
                    next = Some(digest);
                    break;
                }
                self.metrics.set_queue_depth(st.queue.len());
                self.metrics.set_jobs_running(st.running);
                next
            };
            match next {
                Some(digest) => {
                    let this = self.clone();
                    tokio::spawn(async move { this.start_job(digest).await });
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// Creates the Job (and its pull Secret) for a digest just moved to Running.
    async fn start_job(self: Arc<Self>, digest: String) {
        let req = {
            let st = self.lock();
            match st.digests.get(&digest) {
                Some(d) => d.request.clone(),
                None => return,
            }
        };
        if let Err(e) = self.create_job(&req).await {
            tracing::warn!(digest = %digest, image = %req.image, "could not create the scan Job: {e:#}");
            self.fail(
                &digest,
                FailureReason::Internal,
                &format!("creating the scan Job: {e:#}"),
                true,
            )
            .await;
        }
    }

    async fn create_job(&self, req: &ScanRequest) -> anyhow::Result<()> {
        let ns = &self.config.operator_namespace;
        let docker_config = self.pull_config(req).await?;
        // Interim: the main session's rewrite passes the workload's platform.
        let platform = "linux/amd64";
        let name = job::job_name(&req.digest, platform);
        let nonce = job::pull_secret_nonce();
        let spec = ScanJobRequest {
            image: req.image.clone(),
            digest: req.digest.clone(),
            platform: platform.to_string(),
            namespace: ns.clone(),
            scanner_image: self.scanner_image.clone(),
            pull_secret: docker_config
                .as_ref()
                .map(|_| job::pull_secret_name(&name, &nonce)),
            registry_timeout_secs: 60,
        };
        let job_obj = job::scan_job(&self.config, &spec);
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let created = match jobs.create(&PostParams::default(), &job_obj).await {
            Ok(j) => j,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tracing::info!(job = %name, digest = %req.digest, "adopting the existing scan Job");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(job = %name, image = %req.image, "scan Job created");
        if let Some(mut secret) = docker_config.and_then(|c| job::pull_secret(&created, &c)) {
            secret.metadata.owner_references = Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: name.clone(),
                uid: created.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(false),
            }]);
            let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
            match secrets.create(&PostParams::default(), &secret).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The merged docker config of the workload's pull secrets and its ServiceAccount's, or
    /// `None` when it has none.
    async fn pull_config(&self, req: &ScanRequest) -> anyhow::Result<Option<Vec<u8>>> {
        let ns = &req.waiter.namespace;
        let mut names = req.pull_secrets.clone();
        let sas: Api<ServiceAccount> = Api::namespaced(self.client.clone(), ns);
        match sas.get_opt(&req.service_account).await {
            Ok(Some(sa)) => names.extend(
                sa.image_pull_secrets
                    .iter()
                    .flatten()
                    .map(|r| r.name.clone()),
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!("reading ServiceAccount {ns}/{}: {e}", req.service_account),
        }
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Ok(None);
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let mut secrets = Vec::new();
        for n in &names {
            match api.get_opt(n).await? {
                Some(s) => secrets.push(s),
                None => tracing::warn!("pull secret {ns}/{n} does not exist; pulling without it"),
            }
        }
        if secrets.is_empty() {
            return Ok(None);
        }
        let merged = job::merge_pull_secrets(&secrets)?;
        Ok(Some(merged))
    }

    /// Watches the operator's scan Jobs: finished ones are collected (also those a previous
    /// process left), unknown running ones adopted.
    async fn watch_jobs(self: Arc<Self>) {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.config.operator_namespace);
        let cfg = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
        let mut stream = watcher::watcher(jobs, cfg).default_backoff().boxed();
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(WatchEvent::Apply(j)) | Ok(WatchEvent::InitApply(j)) => self.job_seen(j),
                Ok(WatchEvent::Delete(j)) => self.job_gone(&j).await,
                Ok(_) => {}
                Err(e) => tracing::warn!("watching scan Jobs: {e}"),
            }
        }
    }

    fn job_seen(self: &Arc<Self>, j: Job) {
        let name = j.name_any();
        let Some(digest) = job_digest(&j) else { return };
        let finished = job_finished(&j);
        let uid = j.uid().unwrap_or_default();
        let mut st = self.lock();
        if j.metadata.deletion_timestamp.is_some() || st.collected.contains(&uid) {
            return;
        }
        let adopt = !st.digests.contains_key(&digest)
            || !matches!(st.digests[&digest].phase, Phase::Running { .. });
        if adopt {
            // A Job this process did not create (restart) or re-created by the API.
            let image = j
                .annotations()
                .get(IMAGE_ANNOTATION)
                .cloned()
                .unwrap_or_default();
            let waiters = st
                .digests
                .remove(&digest)
                .map(|d| d.waiters)
                .unwrap_or_default();
            st.queue.retain(|q| q != &digest);
            st.running += 1;
            st.digests.insert(
                digest.clone(),
                DigestState {
                    phase: Phase::Running {
                        collecting: false,
                        since: Instant::now(),
                    },
                    request: ScanRequest {
                        digest: digest.clone(),
                        image,
                        waiter: WorkloadKey {
                            kind: crate::workload::WorkloadKind::Pod,
                            namespace: String::new(),
                            name: String::new(),
                        },
                        pull_secrets: Vec::new(),
                        service_account: String::new(),
                        rescan: false,
                    },
                    waiters,
                    failures: 0,
                },
            );
            tracing::info!(job = %name, digest = %digest, "tracking scan Job");
        }
        let Some(finished) = finished else {
            self.metrics.set_jobs_running(st.running);
            return;
        };
        let d = st.digests.get_mut(&digest).expect("inserted above");
        if let Phase::Running { collecting, .. } = &mut d.phase {
            if *collecting {
                return;
            }
            *collecting = true;
        }
        // A finished Job never holds a slot.
        st.collected.insert(uid);
        st.running = st.running.saturating_sub(1);
        self.metrics.set_jobs_running(st.running);
        drop(st);
        self.notify.notify_one();
        let this = self.clone();
        tokio::spawn(async move { this.collect(j, digest, finished).await });
    }

    async fn job_gone(self: &Arc<Self>, j: &Job) {
        if let Some(uid) = j.uid() {
            if self.lock().collected.remove(&uid) {
                return;
            }
        }
        let Some(digest) = job_digest(j) else { return };
        let still_running = {
            let st = self.lock();
            matches!(
                st.digests.get(&digest).map(|d| &d.phase),
                Some(Phase::Running {
                    collecting: false,
                    ..
                })
            )
        };
        if still_running {
            {
                let mut st = self.lock();
                st.running = st.running.saturating_sub(1);
            }
            self.fail(
                &digest,
                FailureReason::Internal,
                &format!("scan Job {} was deleted before it finished", j.name_any()),
                false,
            )
            .await;
        }
    }

    /// Reads the finished Job's result, stores it (or records the failure), deletes the Job.
    async fn collect(self: Arc<Self>, j: Job, digest: String, finished: Finished) {
        let name = j.name_any();
        let ns = self.config.operator_namespace.clone();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let pod = match pods
            .list(&ListParams::default().labels(&format!("job-name={name}")))
            .await
        {
            Ok(list) => list.items.into_iter().next(),
            Err(e) => {
                tracing::warn!(job = %name, "listing the scan Job's Pod: {e}");
                None
            }
        };
        let log = match &pod {
            Some(p) => pods
                .logs(
                    &p.name_any(),
                    &LogParams {
                        container: Some("scanner".into()),
                        limit_bytes: Some(job_result::MAX_LOG_BYTES),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| tracing::warn!(job = %name, "reading the scan Job's log: {e}"))
                .ok(),
            None => None,
        };
        let outcome = match (&finished, log.as_deref().map(job_result::decode)) {
            (_, Some(Ok(scan))) => Ok(scan),
            (_, Some(Err(ResultError::ScanFailed { reason, message }))) => Err((reason, message)),
            (Finished::Failed(why), other) => {
                let oom = pod.as_ref().is_some_and(pod_oom_killed);
                let (reason, text) = if oom {
                    (
                        FailureReason::Oom,
                        "the scanner was OOM-killed: raise scanJob.resources.limits.memory"
                            .to_string(),
                    )
                } else if why == "DeadlineExceeded" {
                    (
                        FailureReason::Timeout,
                        format!(
                            "the scan Job ran longer than operator.scanJobTimeout ({}s)",
                            self.config.scan_job_timeout.as_secs()
                        ),
                    )
                } else if let Some(p) = pod.as_ref().and_then(pod_waiting_reason) {
                    (
                        FailureReason::Internal,
                        format!("the scan Pod never ran: {p}"),
                    )
                } else {
                    match other {
                        Some(Err(e)) => (e.reason(), e.to_string()),
                        _ => (
                            FailureReason::Internal,
                            format!("the scan Job failed ({why}) and left no log"),
                        ),
                    }
                };
                Err((reason, text))
            }
            (Finished::Succeeded, Some(Err(e))) => Err((e.reason(), e.to_string())),
            (Finished::Succeeded, None) => Err((
                FailureReason::BadResult,
                "the scan Job succeeded but its log could not be read".to_string(),
            )),
        };
        match outcome {
            Ok(scan) => {
                let stored = self.store.put(&digest, &scan, chrono::Utc::now());
                match stored {
                    Ok(()) => {
                        tracing::info!(
                            job = %name, digest = %digest,
                            packages = scan.inventory.os_packages.len(),
                            "inventory stored"
                        );
                        self.metrics.scan_succeeded();
                        let since = match self.lock().digests.get(&digest).map(|d| &d.phase) {
                            Some(Phase::Running { since, .. }) => Some(*since),
                            _ => None,
                        };
                        if let Some(since) = since {
                            self.metrics.observe_scan_duration(since.elapsed());
                        }
                        if let Ok(n) = self.store.len() {
                            self.metrics.set_inventories(n);
                        }
                        let waiters = {
                            let mut st = self.lock();
                            st.digests
                                .remove(&digest)
                                .map(|d| d.waiters)
                                .unwrap_or_default()
                        };
                        for w in waiters {
                            let _ = self.wake.send(w);
                        }
                    }
                    Err(e) => {
                        self.fail(
                            &digest,
                            FailureReason::Internal,
                            &format!("storing the inventory: {e}"),
                            false,
                        )
                        .await
                    }
                }
            }
            Err((reason, message)) => self.fail(&digest, reason, &message, false).await,
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        if let Err(e) = jobs.delete(&name, &dp).await {
            if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                tracing::warn!(job = %name, "deleting the scan Job: {e}");
            }
        }
    }

    /// Records a failure: metric, Event on every waiting workload, backoff, and a wake-up
    /// of the waiters once the backoff has passed.
    async fn fail(
        self: &Arc<Self>,
        digest: &str,
        reason: FailureReason,
        message: &str,
        release_slot: bool,
    ) {
        let (waiters, retry_in, image) = {
            let mut st = self.lock();
            if release_slot {
                st.running = st.running.saturating_sub(1);
            }
            let Some(d) = st.digests.get_mut(digest) else {
                return;
            };
            d.failures += 1;
            let retry_in = backoff_after(d.failures);
            d.phase = Phase::Failed {
                retry_at: Instant::now() + retry_in,
                reason: reason.to_string(),
                message: message.to_string(),
            };
            (
                d.waiters.iter().cloned().collect::<Vec<_>>(),
                retry_in,
                d.request.image.clone(),
            )
        };
        self.notify.notify_one();
        self.metrics.scan_failed(reason);
        tracing::warn!(
            digest = %digest, image = %image, reason = %reason,
            retry_in_s = retry_in.as_secs(),
            "scan failed: {message}"
        );
        let note = format!(
            "Scanning {image} failed ({reason}): {message}. Retrying in {}s.",
            retry_in.as_secs()
        );
        for w in &waiters {
            self.event(w, "ScanFailed", &note).await;
        }
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(retry_in).await;
            for w in waiters {
                let _ = this.wake.send(w);
            }
        });
    }

    /// Publishes a Warning Event on a workload.
    pub async fn event(&self, w: &WorkloadKey, reason: &str, note: &str) {
        let reference = ObjectReference {
            api_version: Some(crate::controller::api_version_of(w.kind).into()),
            kind: Some(w.kind.as_str().into()),
            namespace: Some(w.namespace.clone()),
            name: Some(w.name.clone()),
            ..Default::default()
        };
        let ev = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(truncate(note, 1000)),
            action: "Scan".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &reference).await {
            tracing::warn!("publishing an Event on {w}: {e}");
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finished {
    Succeeded,
    /// Failed, with the condition's reason (`DeadlineExceeded`, `BackoffLimitExceeded`).
    Failed(String),
}

fn job_finished(j: &Job) -> Option<Finished> {
    let status = j.status.as_ref()?;
    for c in status.conditions.iter().flatten() {
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Complete" => return Some(Finished::Succeeded),
            "Failed" => return Some(Finished::Failed(c.reason.clone().unwrap_or_default())),
            _ => {}
        }
    }
    None
}

/// The digest a scan Job scans: from its image annotation (`repo@sha256:...`).
fn job_digest(j: &Job) -> Option<String> {
    let image = j.annotations().get(IMAGE_ANNOTATION)?;
    let (_, digest) = image.rsplit_once('@')?;
    Some(digest.to_string())
}

fn pod_oom_killed(p: &Pod) -> bool {
    p.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .any(|t| t.reason.as_deref() == Some("OOMKilled"))
}

fn pod_waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find_map(|w| {
            let reason = w.reason.clone()?;
            Some(match &w.message {
                Some(m) => format!("{reason}: {m}"),
                None => reason,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_after(1), Duration::from_secs(30));
        assert_eq!(backoff_after(2), Duration::from_secs(60));
        assert_eq!(backoff_after(3), Duration::from_secs(120));
        assert_eq!(backoff_after(20), MAX_BACKOFF);
    }

    #[test]
    fn job_digest_from_annotation() {
        let mut j = Job::default();
        j.metadata.annotations = Some(
            [(
                IMAGE_ANNOTATION.to_string(),
                "10.88.0.1:5000/library/debian@sha256:abc".to_string(),
            )]
            .into(),
        );
        assert_eq!(job_digest(&j).as_deref(), Some("sha256:abc"));
    }
}
