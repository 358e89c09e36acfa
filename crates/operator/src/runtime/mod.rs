//! `sightline operator`: the thin runtime around the pure core — watches and the index,
//! one kube-runtime Controller per workload kind, scan Jobs, the DB loop, the inventory
//! store's garbage collection, HTTP endpoints and leader election — until SIGTERM/SIGINT
//! or the loss of the leader Lease.

pub mod context;
pub mod controller;
pub mod dbsync;
pub mod error;
pub mod health;
pub mod http;
pub mod job_io;
pub mod kinds;
pub mod leader;
pub mod reconcile;
pub mod relist;
pub mod scans;
pub mod watches;
pub mod writes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, store::Writer};
use kube::{Api, Client};
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};
use tokio::sync::{watch, Semaphore};

use crate::config::OperatorConfig;
use crate::metrics::Metrics;
use crate::store::InventoryStore;
use context::{Caches, Context, Indexes, Triggers, RECONCILE_PERMITS};
use dbsync::DbState;
use health::Health;
use kinds::WorkloadObject;
use scans::Scans;

/// Decoded inventories kept in memory (a DB re-match decodes each image once).
const STORE_CACHE_ENTRIES: usize = 64;
/// How often stored inventories no workload uses are looked for.
const GC_EVERY: Duration = Duration::from_secs(10 * 60);

/// What `sightline operator` is started with besides the settings.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The operator's volume: the vulnerability DB and the inventory store live here.
    pub cache_dir: PathBuf,
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

/// Writers of the caches the controllers and watches fill.
struct Writers {
    pods: Writer<Pod>,
    jobs: Writer<Job>,
    deployments: Writer<kube::core::PartialObjectMeta<k8s_openapi::api::apps::v1::Deployment>>,
    nodes: Writer<kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Node>>,
    vulnerability_reports: Writer<kube::core::PartialObjectMeta<VulnerabilityReport>>,
    exposed_secret_reports: Writer<kube::core::PartialObjectMeta<ExposedSecretReport>>,
}

fn caches() -> (Caches, Writers) {
    let (pods, pw) = reflector::store();
    let (jobs, jw) = reflector::store();
    let (deployments, dw) = reflector::store();
    let (nodes, nw) = reflector::store();
    let (vulnerability_reports, vw) = reflector::store();
    let (exposed_secret_reports, ew) = reflector::store();
    (
        Caches {
            pods,
            jobs,
            deployments,
            nodes,
            vulnerability_reports,
            exposed_secret_reports,
        },
        Writers {
            pods: pw,
            jobs: jw,
            deployments: dw,
            nodes: nw,
            vulnerability_reports: vw,
            exposed_secret_reports: ew,
        },
    )
}

/// Runs the operator until a shutdown signal (Ok) or the loss of the leader Lease (Err).
pub async fn run(client: Client, config: OperatorConfig, opts: RunOptions) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let scanner_image = config.scan_job.image.clone().context(
        "no scan Job image: set scanJob.image in the values file, OPERATOR_SCAN_JOB_IMAGE or --scan-job-image (the sightline image the operator runs)",
    )?;
    std::fs::create_dir_all(&opts.cache_dir)
        .with_context(|| format!("creating the cache directory {}", opts.cache_dir.display()))?;
    let metrics = Arc::new(Metrics::new());
    let opened = InventoryStore::open(&opts.cache_dir.join("inventory.redb"), STORE_CACHE_ENTRIES)?;
    if let Some(r) = &opened.recovery {
        tracing::warn!(
            moved_to = %r.moved_to.display(),
            "the inventory store was unusable ({}); moved aside, starting empty: images are rescanned",
            r.cause
        );
        metrics.store_recovered();
    }
    let store = Arc::new(opened.store);
    metrics.set_inventories(store.len().unwrap_or(0));
    // Temp directories of DB installs a crash interrupted.
    match sightline_image::artifact::sweep_stale_installs(&opts.cache_dir) {
        Ok(swept) if !swept.is_empty() => {
            tracing::info!(
                count = swept.len(),
                "removed temp directories of interrupted DB installs"
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("sweeping {}: {e}", opts.cache_dir.display()),
    }
    let db = Arc::new(DbState::open(&opts.cache_dir));
    let health = Health::new();
    http::serve(
        &config.health_probe_bind_address,
        &config.metrics_bind_address,
        metrics.clone(),
        health.clone(),
    )
    .await?;

    let mut leadership = if config.leader_election {
        Some(leader::acquire(&client, &config).await)
    } else {
        None
    };

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "sightline".into(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    let triggers = Triggers::default();
    let scans = Scans::new(
        client.clone(),
        config.clone(),
        store.clone(),
        metrics.clone(),
        recorder.clone(),
        scanner_image,
        triggers.clone(),
    );
    let (caches, writers) = caches();
    let ctx = Arc::new(Context {
        client: client.clone(),
        config: config.clone(),
        caches: caches.clone(),
        index: Arc::new(Indexes::default()),
        store: store.clone(),
        scans: scans.clone(),
        db: db.clone(),
        metrics: metrics.clone(),
        recorder,
        triggers: triggers.clone(),
        permits: Semaphore::new(RECONCILE_PERMITS),
        waiting: Default::default(),
        failures: Default::default(),
        relist_wakes: Default::default(),
        synced: tokio::sync::watch::Sender::new(Default::default()),
        ready: tokio::sync::watch::Sender::new(false),
    });

    // Watches, then controllers (each subscribes to its wake-ups before anything wakes it).
    let (rematch_tx, rematch_rx) = watch::channel(0u64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    macro_rules! controller {
        ($ty:ty, $api:expr, $dt:expr, $writer:expr) => {{
            let wake = triggers.subscribe(<$ty as WorkloadObject>::KIND);
            health.spawn(
                concat!("controller ", stringify!($ty)),
                controller::run::<$ty>(
                    ctx.clone(),
                    $api,
                    $dt,
                    $writer,
                    wake,
                    rematch_rx.clone(),
                    stopped(),
                ),
            );
        }};
    }
    controller!(Pod, Api::all(client.clone()), (), writers.pods);
    controller!(ReplicaSet, Api::all(client.clone()), (), Writer::default());
    controller!(
        ReplicationController,
        Api::all(client.clone()),
        (),
        Writer::default()
    );
    controller!(StatefulSet, Api::all(client.clone()), (), Writer::default());
    controller!(DaemonSet, Api::all(client.clone()), (), Writer::default());
    controller!(Job, Api::all(client.clone()), (), writers.jobs);
    let cron_jobs = cron_job_resource(&client).await;
    let served = cron_jobs.is_some();
    match cron_jobs {
        Some(ar) => {
            tracing::info!("watching CronJobs through {}", ar.api_version);
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            controller!(DynamicObject, api, ar.clone(), Writer::new(ar.clone()));
        }
        None => {
            tracing::warn!("the API server serves no batch CronJob API; CronJobs are not scanned")
        }
    }
    health.spawn(
        "watch Deployments",
        watches::deployments(ctx.clone(), writers.deployments),
    );
    health.spawn("watch Nodes", watches::nodes(ctx.clone(), writers.nodes));
    health.spawn(
        "watch VulnerabilityReports",
        watches::reports::<VulnerabilityReport>(
            ctx.clone(),
            writers.vulnerability_reports,
            Metrics::remove_vulnerability_report,
        ),
    );
    health.spawn(
        "watch ExposedSecretReports",
        watches::reports::<ExposedSecretReport>(
            ctx.clone(),
            writers.exposed_secret_reports,
            Metrics::remove_exposed_secret_report,
        ),
    );
    let mut expected = vec![
        "Pod",
        "ReplicaSet",
        "ReplicationController",
        "StatefulSet",
        "DaemonSet",
        "Job",
        "Deployments",
        "Nodes",
        "VulnerabilityReports",
        "ExposedSecretReports",
    ];
    if served {
        expected.push("CronJob");
    }
    wait_ready(&ctx, &expected).await;
    ctx.ready.send_replace(true);
    tracing::info!(
        pods = caches.pods.state().len(),
        indexed_pods = ctx.index.pods.len(),
        inventories = store.len().unwrap_or(0),
        "caches synced"
    );
    health.spawn("scan dispatcher", scans.clone().dispatch());
    health.spawn("scan Job watch", scans.clone().watch_jobs());
    health.spawn("scan sweeper", scans.clone().sweep());
    health.spawn("vulnerability DB updater", db_loop(ctx.clone(), rematch_tx));
    health.spawn("inventory GC", gc_loop(ctx.clone()));
    health.set_ready(true);

    let lost = async {
        match leadership.as_mut() {
            Some(l) => l.lost().await,
            None => std::future::pending().await,
        }
    };
    let result = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        _ = lost => Err(anyhow::anyhow!("lost the leader Lease; stopped so that only one replica acts")),
    };
    tracing::info!("shutting down: in-flight scan Jobs keep running and are adopted by the next operator process");
    health.set_stopping();
    let _ = stop_tx.send(true);
    // Let running reconciles finish their writes (bounded).
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        ctx.permits
            .acquire_many(u32::try_from(RECONCILE_PERMITS).expect("a small constant")),
    )
    .await;
    if config.leader_election && result.is_ok() {
        leader::release(&client, &config).await;
    }
    result
}

/// Waits until every watch in `expected` completed its first list, naming the ones still
/// waiting every 10 s.
async fn wait_ready(ctx: &Context, expected: &[&str]) {
    let mut rx = ctx.synced.subscribe();
    loop {
        let all = |s: &std::collections::BTreeSet<String>| expected.iter().all(|e| s.contains(*e));
        match tokio::time::timeout(Duration::from_secs(10), rx.wait_for(all)).await {
            Ok(_) => return,
            Err(_) => {
                let synced = ctx.synced.borrow().clone();
                let missing: Vec<&str> = expected
                    .iter()
                    .copied()
                    .filter(|e| !synced.contains(*e))
                    .collect();
                tracing::warn!("still waiting for the first list of {} (is the API server reachable, are the CRDs installed, may the operator list them?)", missing.join(", "));
            }
        }
    }
}

/// Keeps the DB current; a new DB re-matches every workload (no Jobs).
async fn db_loop(ctx: Arc<Context>, rematch: watch::Sender<u64>) {
    let mut first = true;
    loop {
        match ctx.db.update(&ctx.config).await {
            Ok(changed) => {
                ctx.metrics.db_updated(changed);
                if changed {
                    if !first {
                        tracing::info!("new vulnerability DB: re-matching every stored inventory");
                    }
                    let started = Instant::now();
                    rematch.send_modify(|n| *n += 1);
                    if !first {
                        let ctx = ctx.clone();
                        tokio::spawn(async move {
                            let took = wait_quiet(&ctx, started).await;
                            ctx.metrics.rematch_finished(took);
                            tracing::info!(seconds = took.as_secs_f64(), "re-match done");
                        });
                    }
                }
                first = false;
            }
            Err(e) => tracing::warn!(
                "vulnerability DB update failed (the current DB stays in use): {e:#}"
            ),
        }
        if let Some(at) = ctx.db.current().and_then(|c| c.updated_at) {
            ctx.metrics
                .set_db_age(u64::try_from((chrono::Utc::now() - at).num_seconds()).unwrap_or(0));
        }
        let delay = if ctx.db.current().is_some() {
            ctx.config.db_update_interval
        } else {
            Duration::from_secs(30)
        };
        tokio::time::sleep(delay).await;
    }
}

/// Time from `started` until reconciles stopped finishing for a second (the re-match's
/// end), bounded by an hour.
async fn wait_quiet(ctx: &Context, started: Instant) -> Duration {
    let mut last = ctx.metrics.reconciles_total();
    let mut last_change = Instant::now();
    while started.elapsed() < Duration::from_secs(3600) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = ctx.metrics.reconciles_total();
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= Duration::from_secs(1)
            && ctx.permits.available_permits() == RECONCILE_PERMITS
        {
            break;
        }
    }
    last_change.saturating_duration_since(started)
}

/// Removes stored inventories no workload has used for a whole GC period.
async fn gc_loop(ctx: Arc<Context>) {
    let mut unused_since = std::collections::HashMap::new();
    loop {
        tokio::time::sleep(GC_EVERY).await;
        match gc_pass(&ctx.store, &ctx.index, &mut unused_since, Instant::now()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "inventory store: removed images no workload runs any more"
            ),
            Err(e) => tracing::warn!("inventory store GC: {e}"),
        }
        ctx.metrics.set_inventories(ctx.store.len().unwrap_or(0));
    }
}

/// One GC pass: an inventory is removed once no workload used it for a whole period.
pub fn gc_pass(
    store: &InventoryStore,
    index: &Indexes,
    unused_since: &mut std::collections::HashMap<String, Instant>,
    now: Instant,
) -> Result<usize, crate::store::StoreError> {
    let keys = store.digests()?;
    unused_since.retain(|k, _| keys.contains(k));
    for k in keys {
        if index.digests.in_use(&k) {
            unused_since.remove(&k);
        } else {
            unused_since.entry(k).or_insert(now);
        }
    }
    let expired = |k: &str| {
        unused_since
            .get(k)
            .is_some_and(|since| now.saturating_duration_since(*since) >= GC_EVERY)
    };
    store.retain(|k| !expired(k))
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{WorkloadKey, WorkloadKind};
    use sightline_scan::ImageScan;

    fn scan() -> ImageScan {
        serde_json::from_value(serde_json::json!({
            "artifact_name": "reg/app:1",
            "image_id": "sha256:abc",
            "inventory": {"os": {"family": "alpine", "name": "3.23.0"}, "os_packages": []}
        }))
        .unwrap()
    }

    /// Regression (issue 10): the inventory store was never garbage-collected; inventories of
    /// images no workload runs any more stayed forever. One that no workload used for a whole
    /// GC period is removed; one in use, or unused for less, stays.
    #[test]
    fn unused_inventories_are_collected_after_a_period() {
        let dir = tempfile::tempdir().unwrap();
        let store = InventoryStore::open(&dir.path().join("inventory.redb"), 8)
            .unwrap()
            .store;
        let now = chrono::Utc::now();
        for key in ["used|linux/amd64", "gone|linux/amd64"] {
            store.put(key, &scan(), now).unwrap();
        }
        let index = Indexes::default();
        let w = WorkloadKey {
            kind: WorkloadKind::Pod,
            namespace: "ns".into(),
            name: "a".into(),
        };
        index
            .digests
            .set(&w, ["used|linux/amd64".to_string()].into());
        let mut since = std::collections::HashMap::new();
        let t0 = Instant::now();
        assert_eq!(
            gc_pass(&store, &index, &mut since, t0).unwrap(),
            0,
            "just noticed"
        );
        let later = t0 + GC_EVERY;
        assert_eq!(gc_pass(&store, &index, &mut since, later).unwrap(), 1);
        assert_eq!(
            store.digests().unwrap(),
            vec!["used|linux/amd64".to_string()]
        );
        // The workload goes away: its inventory follows one period later.
        index.digests.remove(&w);
        assert_eq!(gc_pass(&store, &index, &mut since, later).unwrap(), 0);
        assert_eq!(
            gc_pass(&store, &index, &mut since, later + GC_EVERY).unwrap(),
            1
        );
        assert!(store.is_empty().unwrap());
    }
}
