//! `sightline operator`: wires the caches, the work queue, the scan Job manager, the DB
//! updater and the HTTP endpoints together, and runs until SIGTERM/SIGINT.

use std::fmt::Debug;
use std::hash::Hash;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, store::Writer, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use sightline_api::crd::VulnerabilityReport;
use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};
use tokio::sync::Semaphore;

use crate::config::OperatorConfig;
use crate::controller::{Caches, Ctx, WorkQueue};
use crate::dbsync::DbState;
use crate::metrics::Metrics;
use crate::scans::Scans;
use crate::store::InventoryStore;
use crate::workload::{pod_owner_key, WorkloadKey, WorkloadKind};

/// Reconciles running at once.
const WORKERS: usize = 4;
/// Delay before retrying a reconcile that failed (API errors, server restarts).
const RETRY_DELAY: Duration = Duration::from_secs(10);

/// What `sightline operator` is started with besides the settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The operator's volume: the vulnerability DB and the inventory store live here.
    pub cache_dir: PathBuf,
}

/// Strips what the operator never reads from cached objects (managed fields, the
/// last-applied annotation): most of an object's size.
fn trim<K: Resource>(o: &mut K) {
    o.managed_fields_mut().clear();
    o.annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Starts a watch of `api` into a cache; `on_event(obj, deleted)` sees every change.
fn cache<K>(
    api: Api<K>,
    cfg: watcher::Config,
    writer: Writer<K>,
    on_event: impl Fn(&K, bool) + Send + 'static,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    let stream = watcher::watcher(api, cfg)
        .default_backoff()
        .modify(trim::<K>)
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) => on_event(&o, false),
                Ok(Event::Delete(o)) => on_event(&o, true),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    "watch of {}: {e}",
                    std::any::type_name::<K>()
                        .rsplit("::")
                        .next()
                        .unwrap_or("?")
                ),
            }
        }
    });
}

fn key_of<K: Resource>(kind: WorkloadKind, o: &K) -> Option<WorkloadKey> {
    Some(WorkloadKey {
        kind,
        namespace: o.meta().namespace.clone()?,
        name: o.meta().name.clone()?,
    })
}

/// Finds the CronJob API the server serves (batch/v1 from 1.21, batch/v1beta1 before).
async fn cron_job_resource(client: &Client) -> Option<ApiResource> {
    for version in ["v1", "v1beta1"] {
        let gvk = GroupVersionKind::gvk("batch", version, "CronJob");
        if let Ok((ar, _)) = kube::discovery::pinned_kind(client, &gvk).await {
            return Some(ar);
        }
    }
    None
}

/// Runs the operator until a shutdown signal.
pub async fn run(client: Client, config: OperatorConfig, opts: RunOptions) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let scanner_image = config.scan_job.image.clone().context(
        "no scan Job image: set scanJob.image in the values file, OPERATOR_SCAN_JOB_IMAGE or --scan-job-image (the sightline image the operator runs)",
    )?;
    std::fs::create_dir_all(&opts.cache_dir)
        .with_context(|| format!("creating the cache directory {}", opts.cache_dir.display()))?;
    let opened = InventoryStore::open(
        &opts.cache_dir.join("inventory.redb"),
        crate::store::DEFAULT_CACHE_ENTRIES,
    )?;
    let store = Arc::new(opened.store);
    let metrics = Arc::new(Metrics::new());
    if opened.recovery.is_some() {
        metrics.store_recovered();
    }
    metrics.set_inventories(store.len().unwrap_or(0));
    let db = Arc::new(DbState::open(&opts.cache_dir));
    let ready = Arc::new(AtomicBool::new(false));

    serve(
        &config.health_probe_bind_address,
        &config.metrics_bind_address,
        metrics.clone(),
        ready.clone(),
    )
    .await?;

    if config.leader_election {
        crate::leader::acquire(&client, &config).await?;
    }

    let (queue, mut rx) = WorkQueue::new();
    let reporter = Reporter {
        controller: "sightline".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<WorkloadKey>();
    let scans = Scans::new(
        client.clone(),
        config.clone(),
        store.clone(),
        metrics.clone(),
        recorder,
        scanner_image,
        wake_tx,
    );
    {
        let q = queue.clone();
        tokio::spawn(async move {
            while let Some(k) = wake_rx.recv().await {
                q.add(k);
            }
        });
    }

    // Caches. Namespaced watches cover all namespaces (scope is decided per workload, so a
    // changed targetNamespaces needs no restart of the watches).
    let watch_cfg = watcher::Config::default();
    let (pods, w) = reflector::store::<Pod>();
    {
        let q = queue.clone();
        cache(
            Api::<Pod>::all(client.clone()),
            watch_cfg.clone(),
            w,
            move |p, _| {
                if let Some(k) = pod_owner_key(p) {
                    q.add(k);
                }
            },
        );
    }
    macro_rules! workload_cache {
        ($ty:ty, $kind:expr) => {{
            let (reader, w) = reflector::store::<$ty>();
            let q = queue.clone();
            cache(
                Api::<$ty>::all(client.clone()),
                watch_cfg.clone(),
                w,
                move |o, _| {
                    if let Some(k) = key_of($kind, o) {
                        q.add(k);
                    }
                },
            );
            reader
        }};
    }
    let replica_sets: Store<ReplicaSet> = workload_cache!(ReplicaSet, WorkloadKind::ReplicaSet);
    let replication_controllers: Store<ReplicationController> =
        workload_cache!(ReplicationController, WorkloadKind::ReplicationController);
    let stateful_sets: Store<StatefulSet> = workload_cache!(StatefulSet, WorkloadKind::StatefulSet);
    let daemon_sets: Store<DaemonSet> = workload_cache!(DaemonSet, WorkloadKind::DaemonSet);
    let jobs: Store<Job> = workload_cache!(Job, WorkloadKind::Job);

    let cron_jobs = match cron_job_resource(&client).await {
        Some(ar) => {
            let writer = Writer::new(ar.clone());
            let reader = writer.as_reader();
            let q = queue.clone();
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            cache(api, watch_cfg.clone(), writer, move |o, _| {
                if let Some(k) = key_of(WorkloadKind::CronJob, o) {
                    q.add(k);
                }
            });
            tracing::info!("watching CronJobs through {}", ar.api_version);
            Some((reader, ar.api_version.clone()))
        }
        None => {
            tracing::warn!("the API server serves no batch CronJob API; CronJobs are not scanned");
            None
        }
    };

    // Metadata-only caches.
    let (deployments, dw) = reflector::store::<PartialObjectMeta<Deployment>>();
    let deployment_events = {
        let rs = replica_sets.clone();
        let q = queue.clone();
        move |d: &PartialObjectMeta<Deployment>, _deleted: bool| {
            let (Some(ns), Some(uid)) = (d.metadata.namespace.clone(), d.metadata.uid.clone())
            else {
                return;
            };
            for r in rs.state_filter(|r| {
                r.metadata.namespace.as_deref() == Some(ns.as_str())
                    && crate::workload::controller_of(&r.metadata).is_some_and(|o| o.uid == uid)
            }) {
                if let Some(k) = key_of(WorkloadKind::ReplicaSet, r.as_ref()) {
                    q.add(k);
                }
            }
        }
    };
    spawn_metadata_cache(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
        dw,
        deployment_events,
    );
    let (vulnerability_reports, vw) = reflector::store::<PartialObjectMeta<VulnerabilityReport>>();
    {
        let q = queue.clone();
        spawn_metadata_cache(
            Api::<VulnerabilityReport>::all(client.clone()),
            watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}")),
            vw,
            move |r: &PartialObjectMeta<VulnerabilityReport>, deleted| {
                // A report deleted by hand is written again.
                if !deleted {
                    return;
                }
                let labels = r.labels();
                let kind = labels
                    .get(sightline_api::naming::LABEL_RESOURCE_KIND)
                    .and_then(|k| WorkloadKind::from_kind(k));
                if let (Some(kind), Some(name), Some(ns)) = (
                    kind,
                    labels.get(sightline_api::naming::LABEL_RESOURCE_NAME),
                    r.metadata.namespace.clone(),
                ) {
                    q.add(WorkloadKey {
                        kind,
                        namespace: ns,
                        name: name.clone(),
                    });
                }
            },
        );
    }

    let caches = Caches {
        pods,
        replica_sets,
        replication_controllers,
        stateful_sets,
        daemon_sets,
        jobs,
        cron_jobs,
        deployments,
        vulnerability_reports,
    };
    wait_ready(&caches).await;
    tracing::info!(
        pods = caches.pods.state().len(),
        replica_sets = caches.replica_sets.state().len(),
        inventories = store.len().unwrap_or(0),
        "caches synced"
    );

    let ctx = Arc::new(Ctx::new(
        client.clone(),
        config.clone(),
        caches,
        store.clone(),
        scans.clone(),
        db.clone(),
        metrics.clone(),
        queue.clone(),
    ));
    tokio::spawn(scans.clone().run());
    tokio::spawn(db_loop(ctx.clone()));
    ready.store(true, Ordering::SeqCst);

    let workers = Arc::new(Semaphore::new(WORKERS));
    let shutdown = shutdown_signal();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            key = rx.recv() => {
                let Some(key) = key else { break };
                queue.start(&key);
                let permit = workers.clone().acquire_owned().await.expect("semaphore open");
                let ctx = ctx.clone();
                tokio::spawn(async move {
                    let started = std::time::Instant::now();
                    match ctx.reconcile(&key).await {
                        Ok(o) if o.written > 0 => tracing::info!(workload = %key, written = o.written, unchanged = o.unchanged, waiting = o.waiting, ms = started.elapsed().as_millis() as u64, "reports written"),
                        Ok(o) => tracing::debug!(workload = %key, "reconciled: {o:?}"),
                        Err(e) => {
                            tracing::warn!(workload = %key, "reconcile failed (retrying in {}s): {e:#}", RETRY_DELAY.as_secs());
                            ctx.queue.add_after(key.clone(), RETRY_DELAY);
                        }
                    }
                    ctx.queue.done(&key);
                    ctx.metrics.set_workqueue_depth(ctx.queue.len());
                    drop(permit);
                });
            }
        }
    }
    tracing::info!("shutting down: in-flight scan Jobs keep running and are adopted by the next operator process");
    ready.store(false, Ordering::SeqCst);
    // Let running reconciles finish their writes (bounded).
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        workers.acquire_many(WORKERS as u32),
    )
    .await;
    if config.leader_election {
        crate::leader::release(&client, &config).await;
    }
    Ok(())
}

fn spawn_metadata_cache<K>(
    api: Api<K>,
    cfg: watcher::Config,
    writer: Writer<PartialObjectMeta<K>>,
    on_event: impl Fn(&PartialObjectMeta<K>, bool) + Send + 'static,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    let api: Api<PartialObjectMeta<K>> = Api::all(api.into_client());
    let stream = watcher::watcher(api, cfg)
        .default_backoff()
        .modify(|o: &mut PartialObjectMeta<K>| {
            o.metadata.managed_fields = None;
            if let Some(a) = o.metadata.annotations.as_mut() {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        })
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.next().await {
            match ev {
                Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) => on_event(&o, false),
                Ok(Event::Delete(o)) => on_event(&o, true),
                Ok(_) => {}
                Err(e) => tracing::warn!("metadata watch: {e}"),
            }
        }
    });
}

async fn wait_ready(c: &Caches) {
    let _ = c.pods.wait_until_ready().await;
    let _ = c.replica_sets.wait_until_ready().await;
    let _ = c.replication_controllers.wait_until_ready().await;
    let _ = c.stateful_sets.wait_until_ready().await;
    let _ = c.daemon_sets.wait_until_ready().await;
    let _ = c.jobs.wait_until_ready().await;
    if let Some((s, _)) = &c.cron_jobs {
        let _ = s.wait_until_ready().await;
    }
    let _ = c.deployments.wait_until_ready().await;
    let _ = c.vulnerability_reports.wait_until_ready().await;
}

/// Keeps the DB current; a new DB re-queues every workload (re-match, no Jobs).
async fn db_loop(ctx: Arc<Ctx>) {
    let mut first = true;
    loop {
        match ctx.db.update(&ctx.config).await {
            Ok(changed) => {
                ctx.metrics.db_updated(changed);
                if changed && !first {
                    let keys = ctx.all_keys();
                    tracing::info!(
                        workloads = keys.len(),
                        "new vulnerability DB: re-matching every stored inventory"
                    );
                    let started = std::time::Instant::now();
                    for k in keys {
                        ctx.queue.add(k);
                    }
                    // Re-match time: until the queue has drained (bounded wait).
                    let ctx2 = ctx.clone();
                    tokio::spawn(async move {
                        while !ctx2.queue.is_empty()
                            && started.elapsed() < Duration::from_secs(3600)
                        {
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        ctx2.metrics.rematch_finished(started.elapsed());
                        tracing::info!(
                            seconds = started.elapsed().as_secs_f64(),
                            "re-match: queued work drained"
                        );
                    });
                } else if changed {
                    // The first DB: workloads waiting for it are reconciled again.
                    for k in ctx.all_keys() {
                        ctx.queue.add(k);
                    }
                }
                first = false;
            }
            Err(e) => tracing::warn!(
                "vulnerability DB update failed (the current DB stays in use): {e:#}"
            ),
        }
        if let Some(cur) = ctx.db.current() {
            if let Some(at) = cur.updated_at {
                ctx.metrics
                    .set_db_age((chrono::Utc::now() - at).num_seconds().max(0) as u64);
            }
        }
        let delay = if ctx.db.current().is_some() {
            ctx.config.db_update_interval
        } else {
            Duration::from_secs(30)
        };
        tokio::time::sleep(delay).await;
    }
}

fn parse_bind(addr: &str) -> anyhow::Result<SocketAddr> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.parse()
        .with_context(|| format!("bad bind address {addr:?} (expected host:port or :port)"))
}

/// Serves `/healthz` and `/readyz` on one address and `/metrics` on another (or both on one).
async fn serve(
    health: &str,
    metrics_addr: &str,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    use axum::http::StatusCode;
    use axum::routing::get;
    let health_routes = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    if ready.load(Ordering::SeqCst) {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
                    }
                }
            }),
        );
    let metrics_routes = axum::Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.encode(),
                )
            }
        }),
    );
    let h = parse_bind(health)?;
    let m = parse_bind(metrics_addr)?;
    if h == m {
        let app = health_routes.merge(metrics_routes);
        let listener = tokio::net::TcpListener::bind(h)
            .await
            .with_context(|| format!("binding {h}"))?;
        tokio::spawn(async move { axum::serve(listener, app).await });
    } else {
        let hl = tokio::net::TcpListener::bind(h)
            .await
            .with_context(|| format!("binding {h}"))?;
        let ml = tokio::net::TcpListener::bind(m)
            .await
            .with_context(|| format!("binding {m}"))?;
        tokio::spawn(async move { axum::serve(hl, health_routes).await });
        tokio::spawn(async move { axum::serve(ml, metrics_routes).await });
    }
    tracing::info!("serving /healthz /readyz on {h}, /metrics on {m}");
    Ok(())
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}
