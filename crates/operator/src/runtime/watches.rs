//! The watches that are not a controller's own: Pods (index + wake their workload),
//! Deployments (wake their ReplicaSets), Nodes (platforms), the operator's reports (index,
//! metrics, a report deleted by hand is written again). All retry with [`WatchBackoff`]
//! (0.5 s doubling to 8 s, forever), however long the API server is away; wake-ups caused
//! by a relist wait for its end (see [`super::relist`]).

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};

use super::context::Context;
use super::relist::{changed_in_relist, WatchBackoff};
use crate::index::{ObjKey, ReportIndex};
use crate::sync::MutexExt;
use crate::workload::{controller_of, pod_owner_key, WorkloadKey, WorkloadKind};

/// Strips what the operator never reads from cached objects (managed fields, the
/// last-applied annotation): most of an object's size.
pub fn trim<K: Resource>(o: &mut K) {
    o.managed_fields_mut().clear();
    o.annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Drives `stream` to its end, logging watch errors with what was watched, and marking the
/// watch synced at the end of each list.
async fn drive<K, S>(
    ctx: &Context,
    what: &'static str,
    stream: S,
    mut on_event: impl FnMut(Event<K>),
) where
    S: futures_util::Stream<Item = Result<Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    let mut failing = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                if failing {
                    tracing::info!("watch of {what} recovered");
                    failing = false;
                }
                let done = matches!(ev, Event::InitDone);
                on_event(ev);
                if done {
                    ctx.mark_synced(what);
                }
            }
            Err(e) => {
                // Retried with backoff by the watcher; logged once per outage at warn.
                if failing {
                    tracing::debug!("watch of {what}: {e}");
                } else {
                    tracing::warn!("watch of {what}: {e} (retrying with backoff)");
                    failing = true;
                }
            }
        }
    }
}

/// A metadata-only watch into `writer`.
fn metadata_stream<K>(
    client: Client,
    cfg: watcher::Config,
    writer: Writer<PartialObjectMeta<K>>,
) -> impl futures_util::Stream<Item = Result<Event<PartialObjectMeta<K>>, watcher::Error>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    // `Api<PartialObjectMeta<K>>` makes metadata-only requests.
    let api: Api<PartialObjectMeta<K>> = Api::all(client);
    watcher::watcher(api, cfg)
        .backoff(WatchBackoff::default())
        .modify(|o: &mut PartialObjectMeta<K>| {
            o.metadata.managed_fields = None;
            if let Some(a) = o.metadata.annotations.as_mut() {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        })
        .reflect(writer)
}

/// The workload a Pod's reports belong to, following a Job up to its CronJob.
fn pod_workload(ctx: &Context, pod: &Pod) -> Option<WorkloadKey> {
    let key = pod_owner_key(pod)?;
    if key.kind != WorkloadKind::Job {
        return Some(key);
    }
    let job = ctx
        .caches
        .jobs
        .get(&ObjectRef::new(&key.name).within(&key.namespace));
    match job.as_deref().and_then(|j| controller_of(&j.metadata)) {
        Some(o) if o.kind == "CronJob" => Some(WorkloadKey {
            kind: WorkloadKind::CronJob,
            namespace: key.namespace,
            name: o.name.clone(),
        }),
        _ => Some(key),
    }
}

/// A Pod event (from the Pod controller's watch): the owner index, and a wake-up of the
/// Pod's workload. A relisted Pod that did not change wakes nothing (a relist after an API
/// server restart costs what changed, not the cluster).
pub fn on_pod_event(ctx: &Context, ev: &Event<Pod>) {
    let ix = &ctx.index.pods;
    let owner = |p: &Pod| controller_of(&p.metadata).map(|o| o.uid.clone());
    let key = |p: &Pod| {
        Some(ObjKey::new(
            p.metadata.namespace.as_deref()?,
            p.metadata.name.as_deref()?,
        ))
    };
    let pod = match ev {
        Event::Apply(p) => {
            if let Some(k) = key(p) {
                ix.apply(k, owner(p));
            }
            p
        }
        Event::InitApply(p) => {
            let Some(k) = key(p) else { return };
            ix.init_apply(k, owner(p));
            // Woken when the relist is complete, and only when it changed the Pod.
            if changed_in_relist(&ctx.caches.pods, p, &()) {
                if let Some(w) = pod_workload(ctx, p) {
                    ctx.relist_wakes.locked().push(w);
                }
            }
            return;
        }
        Event::Delete(p) => {
            if let Some(k) = key(p) {
                ix.delete(&k);
            }
            p
        }
        Event::Init => {
            ctx.relist_wakes.locked().clear();
            return ix.init_start();
        }
        Event::InitDone => {
            ix.init_done();
            let wakes = std::mem::take(&mut *ctx.relist_wakes.locked());
            for w in wakes {
                ctx.triggers.wake(w);
            }
            return;
        }
    };
    if let Some(w) = pod_workload(ctx, pod) {
        ctx.triggers.wake(w);
    }
}

/// Deployments (metadata): a new revision wakes its ReplicaSets (which one is current
/// changed).
pub async fn deployments(ctx: Arc<Context>, writer: Writer<PartialObjectMeta<Deployment>>) {
    let stream =
        metadata_stream::<Deployment>(ctx.client.clone(), watcher::Config::default(), writer);
    let mut pending: Vec<WorkloadKey> = Vec::new();
    let replica_sets = |d: &PartialObjectMeta<Deployment>| -> Vec<WorkloadKey> {
        let (Some(ns), Some(uid)) = (d.metadata.namespace.as_deref(), d.metadata.uid.as_deref())
        else {
            return Vec::new();
        };
        ctx.index
            .replica_sets
            .children(uid)
            .into_iter()
            .map(|rs| WorkloadKey {
                kind: WorkloadKind::ReplicaSet,
                namespace: ns.to_string(),
                name: rs.name,
            })
            .collect()
    };
    drive(&ctx, "Deployments", stream, |ev| match ev {
        Event::Apply(d) => replica_sets(&d)
            .into_iter()
            .for_each(|k| ctx.triggers.wake(k)),
        // A relisted Deployment that changed: its ReplicaSets once the relist is complete.
        Event::InitApply(d) => {
            if changed_in_relist(&ctx.caches.deployments, &d, &()) {
                pending.extend(replica_sets(&d));
            }
        }
        Event::Init => pending.clear(),
        Event::InitDone => pending.drain(..).for_each(|k| ctx.triggers.wake(k)),
        Event::Delete(_) => {}
    })
    .await;
}

/// Nodes (metadata): their platform labels, read by reconciles.
pub async fn nodes(ctx: Arc<Context>, writer: Writer<PartialObjectMeta<Node>>) {
    let stream = metadata_stream::<Node>(ctx.client.clone(), watcher::Config::default(), writer);
    drive(&ctx, "Nodes", stream, |_| {}).await;
}

/// One of the operator's report kinds (metadata): the report index, metric series removed
/// with their report, and a workload woken when one of its reports vanished (deleted by
/// hand: it is written again; its workload gone: nothing to do).
pub async fn reports<K>(
    ctx: Arc<Context>,
    writer: Writer<PartialObjectMeta<K>>,
    remove_metrics: fn(&crate::metrics::Metrics, &str, &str),
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    let cfg = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"));
    let stream = metadata_stream::<K>(ctx.client.clone(), cfg, writer);
    // The report index follows the VulnerabilityReports (written last, so they stand for
    // both); ExposedSecretReports only need their metric series removed with them.
    let track = K::kind(&Default::default()) == "VulnerabilityReport";
    let what = if track {
        "VulnerabilityReports"
    } else {
        "ExposedSecretReports"
    };
    let ix = &ctx.index.reports;
    let parts = |r: &PartialObjectMeta<K>| {
        let ns = r.metadata.namespace.clone()?;
        let w = ReportIndex::workload_of_labels(&ns, r.labels());
        Some((ObjKey::new(&ns, &r.name_any()), w))
    };
    drive(&ctx, what, stream, |ev| match ev {
        Event::Apply(r) if track => {
            if let Some((k, w)) = parts(&r) {
                ix.apply(k, w);
            }
        }
        Event::InitApply(r) if track => {
            if let Some((k, w)) = parts(&r) {
                ix.init_apply(k, w);
            }
        }
        Event::Init if track => ix.init_start(),
        Event::InitDone if track => {
            for w in ix.init_done() {
                ctx.triggers.wake(w);
            }
        }
        Event::Delete(r) => {
            if let Some((k, w)) = parts(&r) {
                if track {
                    ix.delete(&k);
                }
                remove_metrics(&ctx.metrics, &k.namespace, &k.name);
                if let Some(w) = w {
                    ctx.triggers.wake(w);
                }
            }
        }
        _ => {}
    })
    .await;
}
