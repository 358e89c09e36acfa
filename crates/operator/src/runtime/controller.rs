//! One kube-runtime `Controller` per workload kind, all built by [`run`]: the kind's watch
//! feeds its reflector and the index, Pod/report/scan wake-ups arrive through
//! `reconcile_on`, a new DB re-matches everything through `reconcile_all_on`, and errors go
//! through [`error_policy`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::reflector::{store::Writer, ObjectRef};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use tokio::sync::{mpsc, watch};

use super::context::Context;
use super::error::Error;
use super::kinds::WorkloadObject;
use super::reconcile::reconcile;
use super::relist::{self, WatchBackoff};
use super::watches::trim;
use crate::index::ObjKey;
use crate::sync::MutexExt;
use crate::workload::{controller_of, WorkloadKey, WorkloadKind};

/// Reconciles of one kind running at once (all kinds share [`super::context::RECONCILE_PERMITS`]).
const CONCURRENCY: u16 = 4;
/// Wake-ups of one key within this window are merged into one reconcile.
const DEBOUNCE: Duration = Duration::from_millis(200);
/// First retry delay of a transient failure; doubles per consecutive failure.
const RETRY_BASE: Duration = Duration::from_secs(5);
/// Longest retry delay of a transient failure.
const RETRY_MAX: Duration = Duration::from_secs(300);

/// The retry delay after `failures` consecutive transient failures of one workload.
pub fn retry_after(failures: u32) -> Duration {
    RETRY_BASE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(10))
        .min(RETRY_MAX)
}

/// The error policy: transient errors back off per workload (5 s doubling to 5 min);
/// permanent ones were already recorded by the reconcile and wait for a change.
pub fn error_policy<K: WorkloadObject>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action
where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    let Some(w) = obj.workload() else {
        return Action::await_change();
    };
    let failures = {
        let mut f = ctx.failures.locked();
        let n = f.entry(w.key.clone()).or_default();
        *n += 1;
        *n
    };
    match retry_delay(err, failures) {
        Some(delay) => {
            tracing::warn!(workload = %w.key, failures, "reconcile failed (retrying in {}s): {err}", delay.as_secs());
            Action::requeue(delay)
        }
        None => {
            tracing::error!(workload = %w.key, "{err} (not retried until the workload or the DB changes)");
            Action::await_change()
        }
    }
}

/// When to retry after the `failures`-th consecutive failure: transient errors back off,
/// permanent ones are not retried (`None`: wait for a change).
pub fn retry_delay(err: &Error, failures: u32) -> Option<Duration> {
    err.is_transient().then(|| retry_after(failures))
}

/// The owner UID a workload object is indexed under (ReplicaSets by Deployment, Jobs by
/// CronJob), and the index to use.
fn owner_index(ctx: &Context, kind: WorkloadKind) -> Option<&crate::index::OwnerIndex> {
    match kind {
        WorkloadKind::ReplicaSet => Some(&ctx.index.replica_sets),
        WorkloadKind::Job => Some(&ctx.index.jobs),
        _ => None,
    }
}

fn obj_key<K: Resource>(o: &K) -> Option<ObjKey> {
    Some(ObjKey::new(
        o.meta().namespace.as_deref()?,
        o.meta().name.as_deref()?,
    ))
}

/// Keeps the index in step with the kind's watch; forgets deleted workloads.
pub fn on_event<K: WorkloadObject>(ctx: &Context, ev: &Event<K>)
where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    let owners = owner_index(ctx, K::KIND);
    let owner_uid = |o: &K| controller_of(o.meta()).map(|r| r.uid.clone());
    let forget = |k: &ObjKey| {
        let key = WorkloadKey {
            kind: K::KIND,
            namespace: k.namespace.clone(),
            name: k.name.clone(),
        };
        ctx.index.digests.remove(&key);
        ctx.failures.locked().remove(&key);
    };
    match ev {
        Event::Apply(o) => {
            if let (Some(ix), Some(k)) = (owners, obj_key(o)) {
                ix.apply(k, owner_uid(o));
            }
        }
        Event::Delete(o) => {
            if let Some(k) = obj_key(o) {
                if let Some(ix) = owners {
                    ix.delete(&k);
                }
                forget(&k);
            }
        }
        Event::Init => {
            if let Some(ix) = owners {
                ix.init_start();
            }
        }
        Event::InitApply(o) => {
            if let (Some(ix), Some(k)) = (owners, obj_key(o)) {
                ix.init_apply(k, owner_uid(o));
            }
        }
        Event::InitDone => {
            if let Some(ix) = owners {
                for k in ix.init_done() {
                    forget(&k);
                }
            }
            ctx.mark_synced(K::KIND.as_str());
        }
    }
}

/// The Controller of kind `K`: triggered by `objects` (the kind's watch), by `wake` (Pods,
/// reports, finished scans) and by every change of `rematch` (a new DB: everything), stopped
/// gracefully by `shutdown`. Requeues go through its scheduler: one timer per key.
pub fn build<K: WorkloadObject>(
    objects: impl futures_util::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
    reader: kube::runtime::reflector::Store<K>,
    dyntype: K::DynamicType,
    wake: mpsc::UnboundedReceiver<WorkloadKey>,
    rematch: watch::Receiver<u64>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) -> Controller<K>
where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    let dt = dyntype.clone();
    let wakes = futures_util::stream::unfold(wake, move |mut rx| {
        let dt = dt.clone();
        async move {
            let k = rx.recv().await?;
            Some((
                ObjectRef::<K>::new_with(&k.name, dt).within(&k.namespace),
                rx,
            ))
        }
    });
    let rematches = futures_util::stream::unfold(rematch, |mut rx| async move {
        rx.changed().await.ok()?;
        Some(((), rx))
    });
    Controller::for_stream_with(objects, reader, dyntype)
        .with_config(
            ControllerConfig::default()
                .concurrency(CONCURRENCY)
                .debounce(DEBOUNCE),
        )
        .reconcile_on(wakes)
        .reconcile_all_on(rematches)
        .graceful_shutdown_on(shutdown)
}

/// Runs the controller of kind `K` (its watch, index upkeep and reconciles) until
/// `shutdown` resolves.
pub async fn run<K: WorkloadObject>(
    ctx: Arc<Context>,
    api: Api<K>,
    dyntype: K::DynamicType,
    writer: Writer<K>,
    wake: mpsc::UnboundedReceiver<WorkloadKey>,
    rematch: watch::Receiver<u64>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) where
    K::DynamicType: Clone + Eq + std::hash::Hash + std::fmt::Debug + Unpin + Send + Sync,
{
    let reader = writer.as_reader();
    let index_ctx = ctx.clone();
    let events = watcher::watcher(api, watcher::Config::default())
        .backoff(WatchBackoff::default())
        .modify(trim::<K>)
        .reflect(writer)
        .inspect(move |ev| {
            if let Ok(ev) = ev {
                K::observe(&index_ctx, ev);
            }
        });
    let objects = relist::triggers(events, reader.clone(), dyntype.clone());
    let kind = K::KIND;
    build(objects, reader, dyntype, wake, rematch, shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|res| async move {
            match res {
                Ok(_) => {}
                Err(kube::runtime::controller::Error::ObjectNotFound(r)) => {
                    tracing::trace!("{kind} {r} is gone")
                }
                Err(kube::runtime::controller::Error::ReconcilerFailed(..)) => {}
                Err(e) => tracing::warn!("{kind} controller: {e}"),
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pod(i: usize) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some(format!("p{i}"));
        p
    }

    /// Regression (issue 10): every reconcile scheduled another timer task (up to the TTL,
    /// 24 h), so with Pod churn timers piled up per key. Through the Controller's scheduler a
    /// requeue is one entry per key: 10,000 wake-ups of 10 keys, each reconcile asking for a
    /// requeue in 24 h, leave the live task count bounded by the keys, not the churn.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pod_churn_keeps_one_timer_per_key() {
        const KEYS: usize = 10;
        let (reader, mut writer) = reflector::store::<Pod>();
        writer.apply_watcher_event(&Event::Init);
        for i in 0..KEYS {
            writer.apply_watcher_event(&Event::InitApply(pod(i)));
        }
        writer.apply_watcher_event(&Event::InitDone);
        let (wake_tx, wake_rx) = mpsc::unbounded_channel();
        let (_rematch_tx, rematch_rx) = watch::channel(0u64);
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let shutdown = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        let reconciles = Arc::new(AtomicUsize::new(0));
        let controller = build::<Pod>(
            futures_util::stream::pending(),
            reader,
            (),
            wake_rx,
            rematch_rx,
            shutdown,
        );
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = metrics.num_alive_tasks();
        let task = tokio::spawn(
            controller
                .run(
                    |_p: Arc<Pod>, n: Arc<AtomicUsize>| async move {
                        n.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, std::io::Error>(Action::requeue(Duration::from_secs(24 * 3600)))
                    },
                    |_p, _e, _n| Action::await_change(),
                    reconciles.clone(),
                )
                .for_each(|_| async {}),
        );
        for round in 0..10_000 / KEYS {
            for i in 0..KEYS {
                wake_tx
                    .send(WorkloadKey {
                        kind: WorkloadKind::Pod,
                        namespace: "ns".into(),
                        name: format!("p{i}"),
                    })
                    .unwrap();
            }
            if round % 50 == 0 {
                tokio::time::sleep(DEBOUNCE + Duration::from_millis(50)).await;
            }
        }
        tokio::time::sleep(DEBOUNCE * 3).await;
        let alive = metrics.num_alive_tasks();
        let done = reconciles.load(Ordering::SeqCst);
        assert!(done >= KEYS, "every key reconciled ({done})");
        assert!(
            alive <= before + 4,
            "{alive} tasks alive after 10,000 wake-ups of {KEYS} keys ({before} before): timers pile up"
        );
        stop_tx.send(true).unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let api = |code: u16| {
            Error::kube(
                "writing",
                kube::Error::Api(Box::new(
                    kube::core::Status::failure("x", "y").with_code(code),
                )),
            )
        };
        assert_eq!(retry_delay(&api(500), 1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(&api(500), 3), Some(Duration::from_secs(20)));
        assert_eq!(retry_delay(&api(422), 1), None);
    }

    #[test]
    fn transient_retries_back_off_and_cap() {
        assert_eq!(retry_after(1), Duration::from_secs(5));
        assert_eq!(retry_after(2), Duration::from_secs(10));
        assert_eq!(retry_after(4), Duration::from_secs(40));
        assert_eq!(retry_after(30), RETRY_MAX);
    }
}
