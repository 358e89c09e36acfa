//! The reconcile of one workload: skip rules → containers (template + sidecars seen on its
//! Pods) → the subject of each (running digest and the platform of the nodes running it) →
//! its stored inventory, or a scan request (which wakes the workload when done) → reports
//! matched in-process against the current DB, written only when something changed.
//!
//! One container's failure never hides the others' reports: every container is handled,
//! stale reports are deleted, and only then is the first failure returned (transient) or
//! recorded (permanent).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;
use sightline_api::naming::{container_report_name, LABEL_RESOURCE_SPEC_HASH};

use super::context::Context;
use super::dbsync::CurrentDb;
use super::error::Error;
use super::kinds::WorkloadObject;
use super::writes;
use crate::reports::{self, ContainerTarget, ReportSettings};
use crate::scan_state::{ScanRequest, ScanStatus, Subject, DEFAULT_PLATFORM};
use crate::sync::MutexExt;
use crate::workload::{self, skip_reason, Workload, WorkloadKind, REVISION_ANNOTATION};

/// Annotation on reports: the image digest they were built from.
pub const DIGEST_ANNOTATION: &str = "sightline.dev/image-digest";
/// Annotation on reports: the platform (`os/arch`) whose image was scanned.
pub const PLATFORM_ANNOTATION: &str = "sightline.dev/platform";
/// Annotation on reports: the vulnerability DB (its UpdatedAt) they were matched against.
pub const DB_ANNOTATION: &str = "sightline.dev/db-updated-at";
/// Annotation on reports: when the image's inventory was taken.
pub const SCANNED_AT_ANNOTATION: &str = "sightline.dev/scanned-at";

/// Every scanned workload is looked at again at least this often (a backstop for a missed
/// event; cheap: an up-to-date workload matches nothing).
const RESYNC: Duration = Duration::from_secs(30 * 60);
/// A workload waiting for a scan is woken when it ends; this requeue is only a backstop.
const WAITING_BACKSTOP: Duration = Duration::from_secs(15 * 60);

/// Reconciles one workload (the controller's reconcile function).
pub async fn reconcile<K: WorkloadObject>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error>
where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    // Every cache listed first (the report caches tell what is already up to date).
    let _ = ctx.ready.subscribe().wait_for(|r| *r).await;
    let started = Instant::now();
    let waiting = ctx.waiting.fetch_add(1, Ordering::SeqCst) + 1;
    ctx.metrics.set_workqueue_depth(waiting);
    let _permit = ctx
        .permits
        .acquire()
        .await
        .expect("the permits are never closed");
    let waiting = ctx.waiting.fetch_sub(1, Ordering::SeqCst) - 1;
    ctx.metrics.set_workqueue_depth(waiting);
    let result = reconcile_workload(obj.as_ref(), &ctx).await;
    ctx.metrics
        .reconcile_finished(K::KIND.as_str(), started.elapsed(), result.is_ok());
    if result.is_ok() {
        if let Some(w) = obj.workload() {
            ctx.failures.locked().remove(&w.key);
        }
    }
    result
}

/// What one reconcile did, for logs (the operator-scale bench reads these lines).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Containers whose reports were written.
    pub written: usize,
    /// Containers whose reports were already up to date.
    pub unchanged: usize,
    /// Containers waiting for a scan or the first DB.
    pub waiting: usize,
}

/// Where one container's reports stand after its reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerState {
    Written,
    Unchanged,
    Waiting,
}

/// What one container came to.
struct ContainerOutcome {
    /// The inventory key it uses.
    key: String,
    /// When to look again (TTL re-scan due, scan backoff over).
    requeue: Option<Duration>,
    /// Its reports.
    state: ContainerState,
}

async fn reconcile_workload<K: WorkloadObject>(obj: &K, ctx: &Context) -> Result<Action, Error>
where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    let Some(w) = obj.workload() else {
        return Ok(Action::await_change());
    };
    let revision = deployment_revision(ctx, &w);
    if let Some(skip) = skip_reason(&w, &ctx.config, revision.as_deref()) {
        tracing::trace!(workload = %w.key, "skipped: {skip}");
        ctx.index.digests.remove(&w.key);
        return Ok(Action::await_change());
    }
    let pods = pods_of(ctx, &w);
    let containers = containers_with_sidecars(&w, &pods);
    let digests = workload::running_digests(pods.iter().map(|p| p.as_ref()));
    let platform = platform_of(ctx, &pods);
    let db = ctx.db.current();
    let spec_hash = w.spec_hash();

    let mut keep = Vec::new();
    let mut results = Vec::new();
    let started = Instant::now();
    for (name, image) in &containers {
        let report_name = container_report_name(w.key.kind.as_str(), &w.key.name, name);
        let result = container(
            ctx,
            &w,
            name,
            &report_name,
            image,
            digests.get(name).map(String::as_str),
            &platform,
            &spec_hash,
            db.as_ref(),
        )
        .await;
        keep.push(report_name);
        results.push((name.clone(), result));
    }
    if let Err(e) = delete_stale(ctx, &w, &keep).await {
        results.push((String::new(), Err(e)));
    }
    let settled = settle(results, containers.len());
    ctx.index.digests.set(&w.key, settled.keys);
    let outcome = settled.outcome;
    if outcome.written > 0 {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(workload = %w.key, written = outcome.written, unchanged = outcome.unchanged, waiting = outcome.waiting, ms, "reports written");
    } else {
        tracing::debug!(workload = %w.key, "reconciled: {outcome:?}");
    }
    for (container, e) in settled.permanent {
        // Recorded, not retried until the workload or the DB changes.
        tracing::error!(workload = %w.key, container, "{e}");
        ctx.metrics.reconcile_error(w.key.kind.as_str(), e.reason());
        writes::warn_event(&ctx.recorder, &w.key, e.reason(), "Report", &e.to_string()).await;
    }
    match settled.transient {
        Some(e) => Err(e),
        None => Ok(Action::requeue(
            settled.requeue.unwrap_or(RESYNC).min(RESYNC),
        )),
    }
}

/// A reconcile's containers, settled.
struct Settled {
    outcome: Outcome,
    /// Inventory keys the workload uses.
    keys: BTreeSet<String>,
    /// The earliest requeue any container asked for.
    requeue: Option<Duration>,
    /// Permanent failures, to record.
    permanent: Vec<(String, Error)>,
    /// The first transient failure (with the count of all failures), to return.
    transient: Option<Error>,
}

/// Settles the results of every container (all of them ran: one container's failure never
/// hides the others' reports).
fn settle(results: Vec<(String, Result<ContainerOutcome, Error>)>, total: usize) -> Settled {
    let mut s = Settled {
        outcome: Outcome::default(),
        keys: BTreeSet::new(),
        requeue: None,
        permanent: Vec::new(),
        transient: None,
    };
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    for (container, r) in results {
        match r {
            Ok(o) => {
                s.keys.insert(o.key);
                match o.state {
                    ContainerState::Written => s.outcome.written += 1,
                    ContainerState::Unchanged => s.outcome.unchanged += 1,
                    ContainerState::Waiting => s.outcome.waiting += 1,
                }
                if let Some(d) = o.requeue {
                    s.requeue = Some(s.requeue.map_or(d, |r| r.min(d)));
                }
            }
            Err(e) if e.is_transient() => {
                if s.transient.is_none() {
                    s.transient = Some(Error::Containers {
                        failed,
                        total,
                        first: Box::new(e),
                    });
                } else {
                    tracing::warn!(container, "{e}");
                }
            }
            Err(e) => s.permanent.push((container, e)),
        }
    }
    s
}

/// One container: its subject, its inventory (or a scan request), its reports.
#[allow(clippy::too_many_arguments)]
async fn container(
    ctx: &Context,
    w: &Workload,
    name: &str,
    report_name: &str,
    image: &str,
    running: Option<&str>,
    platform: &str,
    spec_hash: &str,
    db: Option<&CurrentDb>,
) -> Result<ContainerOutcome, Error> {
    let tag = Subject::new(image, None, platform);
    let digest = running
        .map(str::to_string)
        .or_else(|| ctx.scans.resolved(&tag.key()))
        .or_else(|| reported_digest(ctx, &w.key.namespace, report_name, spec_hash, platform));
    let subject = Subject::new(image, digest.as_deref(), platform);
    let key = subject.key();
    let stored = match ctx.store.get(&key) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(key = %key, "inventory store: {e}; the image is rescanned");
            None
        }
    };
    let request = |subject: Subject| ScanRequest {
        subject,
        waiter: w.key.clone(),
        pull_secrets: w.image_pull_secrets(),
        service_account: w.service_account(),
    };
    let Some(stored) = stored else {
        // A tag scan in flight for the same image answers for the digest too.
        let join = digest.is_some().then(|| tag.key());
        let status = ctx.scans.request(request(subject), join);
        let requeue = match &status {
            ScanStatus::BackingOff { retry_in, .. } => *retry_in + Duration::from_secs(1),
            _ => WAITING_BACKSTOP,
        };
        tracing::debug!(workload = %w.key, container = name, key = %key, "waiting for a scan: {status:?}");
        return Ok(ContainerOutcome {
            key,
            requeue: Some(requeue),
            state: ContainerState::Waiting,
        });
    };
    let now = Utc::now();
    let mut requeue = None;
    // TTL backstop: re-scan (the old inventory keeps serving until the new one lands).
    if let Some(ttl) = ctx.config.scanner_report_ttl {
        let due = ttl.saturating_sub(jitter(&key, ttl));
        let age = (now - stored.scanned_at).to_std().unwrap_or_default();
        if age >= due {
            ctx.scans.rescan(request(subject.clone()));
        } else {
            requeue = Some(due - age + Duration::from_secs(1));
        }
    }
    let Some(db) = db else {
        // The DB loop re-matches every workload once the first DB is installed.
        return Ok(ContainerOutcome {
            key,
            requeue,
            state: ContainerState::Waiting,
        });
    };
    let target = ContainerTarget {
        resource: w.resource(),
        api_version: w.api_version.clone(),
        uid: w.uid.clone(),
        container: name.to_string(),
        image: image.to_string(),
        digest: subject.digest.clone().unwrap_or_default(),
        spec_hash: spec_hash.to_string(),
    };
    let settings = ReportSettings {
        filters: sightline_detect::Filters {
            ignore_unfixed: ctx.config.ignore_unfixed,
            severities: ctx.config.severities.clone(),
        },
        ttl: ctx.config.scanner_report_ttl,
        ..Default::default()
    };
    let marks = [
        (DIGEST_ANNOTATION, target.digest.clone()),
        (PLATFORM_ANNOTATION, platform.to_string()),
        (DB_ANNOTATION, db.version.clone()),
        (
            SCANNED_AT_ANNOTATION,
            sightline_api::crd::format_time(stored.scanned_at),
        ),
    ];
    // Up to date and its metric series known: nothing to match. (After a restart the
    // series are rebuilt once from a fresh match.)
    let fresh = up_to_date(ctx, &w.key.namespace, report_name, spec_hash, &marks);
    if fresh && ctx.metrics.has_report(&w.key.namespace, report_name) {
        return Ok(ContainerOutcome {
            key,
            requeue,
            state: ContainerState::Unchanged,
        });
    }
    let mut vr = reports::vulnerability_report(&target, &stored.scan, &db.db, &settings, now)?;
    let mut esr = reports::exposed_secret_report(&target, &stored.scan, &settings, now)?;
    for (k, v) in &marks {
        vr.annotations_mut().insert(k.to_string(), v.clone());
        esr.annotations_mut().insert(k.to_string(), v.clone());
    }
    ctx.metrics.set_vulnerability_report(&vr);
    ctx.metrics.set_exposed_secret_report(&esr);
    if fresh {
        return Ok(ContainerOutcome {
            key,
            requeue,
            state: ContainerState::Unchanged,
        });
    }
    // The VulnerabilityReport last: its marks say both are current.
    writes::apply(&ctx.client, &esr).await?;
    writes::apply(&ctx.client, &vr).await?;
    ctx.metrics.report_written("ExposedSecretReport");
    ctx.metrics.report_written("VulnerabilityReport");
    if let Some((kept, total)) = reports::trimmed_counts(&vr.metadata) {
        tracing::warn!(report = %report_name, kept, total, "VulnerabilityReport trimmed to fit etcd's object size limit (lowest severities dropped; the summary counts all)");
        ctx.metrics.report_trimmed("VulnerabilityReport");
    }
    if reports::trimmed_counts(&esr.metadata).is_some() {
        ctx.metrics.report_trimmed("ExposedSecretReport");
    }
    Ok(ContainerOutcome {
        key,
        requeue,
        state: ContainerState::Written,
    })
}

/// `true` when both cached reports carry the same spec hash and marks (a crash between the
/// two writes leaves them different, and both are written again).
fn up_to_date(
    ctx: &Context,
    ns: &str,
    name: &str,
    spec_hash: &str,
    marks: &[(&str, String)],
) -> bool {
    let vr = ctx
        .caches
        .vulnerability_reports
        .get(&ObjectRef::new(name).within(ns));
    let esr = ctx
        .caches
        .exposed_secret_reports
        .get(&ObjectRef::new(name).within(ns));
    both_current(
        vr.as_deref().map(|r| &r.metadata),
        esr.as_deref().map(|r| &r.metadata),
        spec_hash,
        marks,
    )
}

/// `true` when both reports exist and each carries `spec_hash` and every mark.
pub fn both_current(
    vr: Option<&ObjectMeta>,
    esr: Option<&ObjectMeta>,
    spec_hash: &str,
    marks: &[(&str, String)],
) -> bool {
    let current = |m: &ObjectMeta| {
        let empty = BTreeMap::new();
        let labels = m.labels.as_ref().unwrap_or(&empty);
        let annotations = m.annotations.as_ref().unwrap_or(&empty);
        labels.get(LABEL_RESOURCE_SPEC_HASH).map(String::as_str) == Some(spec_hash)
            && marks.iter().all(|(k, v)| annotations.get(*k) == Some(v))
    };
    matches!((vr, esr), (Some(v), Some(e)) if current(v) && current(e))
}

/// The digest of the current report of this container when it was built from the same spec
/// on the same platform: what a tag resolved to, remembered across restarts.
fn reported_digest(
    ctx: &Context,
    ns: &str,
    report: &str,
    spec_hash: &str,
    platform: &str,
) -> Option<String> {
    let r = ctx
        .caches
        .vulnerability_reports
        .get(&ObjectRef::new(report).within(ns))?;
    let a = r.annotations();
    (r.labels().get(LABEL_RESOURCE_SPEC_HASH).map(String::as_str) == Some(spec_hash)
        && a.get(PLATFORM_ANNOTATION).map(String::as_str) == Some(platform))
    .then(|| a.get(DIGEST_ANNOTATION).cloned())
    .flatten()
    .filter(|d| d.starts_with("sha256:"))
}

/// Deletes this workload's reports of containers it no longer has.
async fn delete_stale(ctx: &Context, w: &Workload, keep: &[String]) -> Result<(), Error> {
    for name in ctx.index.reports.reports_of(&w.key) {
        if keep.contains(&name) {
            continue;
        }
        tracing::info!(workload = %w.key, report = %name, "deleting the report of a container the workload no longer has");
        writes::delete_reports(&ctx.client, &w.key.namespace, &name).await?;
        ctx.metrics.remove_report(&w.key.namespace, &name);
    }
    Ok(())
}

/// The workload's Pods, from the index (a Pod workload: itself; a CronJob: its Jobs' Pods).
fn pods_of(ctx: &Context, w: &Workload) -> Vec<Arc<Pod>> {
    let get = |k: crate::index::ObjKey| {
        ctx.caches
            .pods
            .get(&ObjectRef::new(&k.name).within(&k.namespace))
    };
    match w.key.kind {
        WorkloadKind::Pod => ctx
            .caches
            .pods
            .get(&ObjectRef::new(&w.key.name).within(&w.key.namespace))
            .into_iter()
            .collect(),
        WorkloadKind::CronJob => ctx
            .index
            .jobs
            .children(&w.uid)
            .into_iter()
            .filter_map(|j| {
                ctx.caches
                    .jobs
                    .get(&ObjectRef::new(&j.name).within(&j.namespace))
            })
            .filter_map(|j| j.metadata.uid.clone())
            .flat_map(|uid| ctx.index.pods.children(&uid))
            .filter_map(get)
            .collect(),
        _ => ctx
            .index
            .pods
            .children(&w.uid)
            .into_iter()
            .filter_map(get)
            .collect(),
    }
}

/// Containers: the template's, plus any a Pod has beyond it (injected sidecars), in order.
fn containers_with_sidecars(w: &Workload, pods: &[Arc<Pod>]) -> Vec<(String, String)> {
    let mut out = w.containers();
    for p in pods {
        if let Some(spec) = &p.spec {
            for (name, image) in workload::containers_of(spec) {
                if !out.iter().any(|(n, _)| *n == name) {
                    out.push((name, image));
                }
            }
        }
    }
    out
}

/// The revision of the Deployment owning a ReplicaSet.
fn deployment_revision(ctx: &Context, w: &Workload) -> Option<String> {
    if w.key.kind != WorkloadKind::ReplicaSet {
        return None;
    }
    let owner = workload::controller_of(&w.meta).filter(|o| o.kind == "Deployment")?;
    let d = ctx
        .caches
        .deployments
        .get(&ObjectRef::new(&owner.name).within(&w.key.namespace))?;
    d.metadata
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)
        .cloned()
}

/// The platform of the nodes the Pods run on (the first scheduled Pod's node decides),
/// else [`DEFAULT_PLATFORM`].
fn platform_of(ctx: &Context, pods: &[Arc<Pod>]) -> String {
    let mut nodes: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.as_deref())
        .collect();
    nodes.sort_unstable();
    nodes
        .into_iter()
        .find_map(|n| {
            let node = ctx.caches.nodes.get(&ObjectRef::new(n))?;
            workload::node_platform(node.labels())
        })
        .unwrap_or_else(|| DEFAULT_PLATFORM.to_string())
}

/// A stable per-key share (0–10 %) of the TTL, so a fleet of images scanned together is not
/// re-scanned in one stampede.
pub fn jitter(key: &str, ttl: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let permille = h % 101;
    ttl.mul_f64(permille as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn meta(spec: &str, digest: &str) -> ObjectMeta {
        ObjectMeta {
            labels: Some([(LABEL_RESOURCE_SPEC_HASH.to_string(), spec.to_string())].into()),
            annotations: Some([(DIGEST_ANNOTATION.to_string(), digest.to_string())].into()),
            ..Default::default()
        }
    }

    /// Regression (issue 10): only the VulnerabilityReport was checked, so a crash between
    /// the two writes left the ExposedSecretReport stale for good.
    #[test]
    fn both_reports_must_be_current() {
        let marks = [(DIGEST_ANNOTATION, "sha256:new".to_string())];
        let new = meta("h1", "sha256:new");
        let old = meta("h1", "sha256:old");
        assert!(both_current(Some(&new), Some(&new), "h1", &marks));
        assert!(
            !both_current(Some(&new), Some(&old), "h1", &marks),
            "stale ESR"
        );
        assert!(!both_current(Some(&new), None, "h1", &marks), "missing ESR");
        assert!(!both_current(None, Some(&new), "h1", &marks), "missing VR");
        assert!(
            !both_current(Some(&new), Some(&new), "h2", &marks),
            "spec changed"
        );
    }

    fn ok(
        key: &str,
        state: ContainerState,
        requeue: Option<u64>,
    ) -> Result<ContainerOutcome, Error> {
        Ok(ContainerOutcome {
            key: key.into(),
            requeue: requeue.map(Duration::from_secs),
            state,
        })
    }

    fn api(code: u16) -> Error {
        Error::kube(
            "writing",
            kube::Error::Api(Box::new(
                kube::core::Status::failure("x", "y").with_code(code),
            )),
        )
    }

    /// Regression (issue 10): a `?` in the container loop skipped the remaining containers
    /// and the stale-report cleanup, and a permanent error was retried every 10 s forever.
    #[test]
    fn one_containers_failure_hides_nothing() {
        let s = settle(
            vec![
                ("a".into(), ok("k1", ContainerState::Written, Some(60))),
                ("b".into(), Err(api(422))),
                ("c".into(), ok("k2", ContainerState::Unchanged, Some(30))),
                ("d".into(), ok("k3", ContainerState::Waiting, None)),
            ],
            4,
        );
        assert_eq!(
            s.outcome,
            Outcome {
                written: 1,
                unchanged: 1,
                waiting: 1
            }
        );
        assert_eq!(s.keys.len(), 3);
        assert_eq!(s.requeue, Some(Duration::from_secs(30)));
        assert_eq!(s.permanent.len(), 1, "recorded, not retried");
        assert!(s.transient.is_none());

        let s = settle(
            vec![
                ("a".into(), Err(api(503))),
                ("b".into(), ok("k2", ContainerState::Written, None)),
                ("c".into(), Err(api(500))),
            ],
            3,
        );
        assert_eq!(s.outcome.written, 1, "b's reports were written");
        let e = s.transient.expect("retried with backoff");
        assert!(e.is_transient());
        assert!(e.to_string().starts_with("2 of 3 containers failed"), "{e}");
    }

    #[test]
    fn jitter_is_stable_and_bounded() {
        let ttl = Duration::from_secs(24 * 3600);
        let a = jitter("sha256:aaa|linux/amd64", ttl);
        assert_eq!(a, jitter("sha256:aaa|linux/amd64", ttl));
        assert!(a <= ttl / 10);
        let spread: HashSet<u64> = (0..50)
            .map(|i| jitter(&format!("sha256:{i}"), ttl).as_secs())
            .collect();
        assert!(spread.len() > 20, "jitter spreads digests: {spread:?}");
    }
}
