//! Benchmark: `sightline operator` at scale against the real API server (issue 6, Performance).
//!
//! 2,000 workloads in 10 namespaces over 50 real images (50 distinct digests: a small layer
//! `/etc/bench-id` on Debian 12 minbase or Alpine 3.23, alternately, so inventories are real):
//! half Deployments (their ReplicaSet made by the controller manager), half bare ReplicaSets,
//! each with one Pod that is created but never scheduled (`schedulerName` of no scheduler,
//! plus a `nodeSelector` no node has), so the operator resolves every digest from the
//! registry. The operator runs on the host against the real cluster; its scan Jobs run on
//! the real node. Three operator runs, each measured the same way (time to /readyz and to
//! done, CPU seconds = utime+stime of /proc/PID/stat, peak RSS = VmHWM, then RSS and CPU over
//! a 30 s steady-state window):
//!
//! - `idle`: the bench namespaces empty, before any workload exists (baseline); done = ready.
//! - `first start`: a fresh cache dir; one scan Job per digest, every other workload served
//!   from the inventory store; done = every workload's reports written.
//! - `restart`: a new process over the same cache dir with the reports present; done = every
//!   workload reconciled (reports unchanged); no Job may be created.
//!
//! Progress comes from the operator's own log (its `reports written` lines and the
//! `reconciled` debug lines of `sightline_operator::runtime`), never by scraping /metrics in
//! a loop: one scrape of the ~10k-series exposition per second would skew CPU and RSS.
//! /metrics is read once per phase, after the steady-state window. Jobs are counted three
//! ways: from the API server (a watch on the Jobs of the operator's namespace), from the log
//! ("scan Job created") and from `sightline_scans_total`. After the first start the reports
//! are checked through the API: one VulnerabilityReport and one ExposedSecretReport per
//! workload, each carrying the digest of its workload's image.
//!
//! Run: `scripts/bench.sh operator-scale` (test cluster up: shared/scripts/k8s-cluster.sh).
//! Targets (issue 6): Jobs = unique digests; RSS ≤ 128 MiB (peak RSS of every run).
//! Exits non-zero when a target is missed or a check fails. Deletes what it created (the
//! bench namespaces and the operator's namespace) at the end, on failure too; a run that was
//! killed is cleaned up by the next one. Sizes: SIGHTLINE_BENCH_WORKLOADS (2000),
//! SIGHTLINE_BENCH_IMAGES (50), SIGHTLINE_BENCH_NAMESPACES (10), SIGHTLINE_BENCH_TIMEOUT
//! (seconds per phase, 1800).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sightline_benches::{env_or, mib, release_binary};
use sightline_testkit::{
    http_get, metric_sum, publish_fixture_db, shared_scripts, summary_total, wait_for_every,
    Cluster, Operator,
};

/// The operator's namespace (scan Jobs).
const SYSTEM_NS: &str = "sightline-bench-system";
/// Prefix of the workload namespaces.
const NS_PREFIX: &str = "sl-bench-";
/// Label on every bench workload and Pod.
const BENCH_LABEL: &str = "sightline-bench";
const RSS_TARGET_KIB: u64 = 128 * 1024;
const CONCURRENT_LIMIT: u32 = 10;
/// Poll interval of the setup waits (listings of thousands of objects).
const POLL: Duration = Duration::from_secs(3);
const SETTLE: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(30);
/// `reconciled` (unchanged reports) is a debug line of the runtime module.
const LOG_FILTER: &str = "info,sightline_operator::runtime=debug";
const DIGEST_ANNOTATION: &str = "sightline.dev/image-digest";
const MANAGED: &str = "app.kubernetes.io/managed-by=sightline";

struct Settings {
    workloads: usize,
    images: usize,
    namespaces: Vec<String>,
    timeout: Duration,
    registry: String,
    pod_registry: String,
    work: PathBuf,
}

impl Settings {
    fn from_env(kube: &Cluster) -> Settings {
        let num = |k: &str, d: usize| -> usize {
            env_or(k, &d.to_string())
                .parse()
                .unwrap_or_else(|_| panic!("{k} must be a number"))
        };
        let namespaces = num("SIGHTLINE_BENCH_NAMESPACES", 10);
        Settings {
            workloads: num("SIGHTLINE_BENCH_WORKLOADS", 2000),
            images: num("SIGHTLINE_BENCH_IMAGES", 50),
            namespaces: (0..namespaces).map(|i| format!("{NS_PREFIX}{i}")).collect(),
            timeout: Duration::from_secs(num("SIGHTLINE_BENCH_TIMEOUT", 1800) as u64),
            registry: kube.registry.clone(),
            pod_registry: kube.pod_registry.clone(),
            work: PathBuf::from(env_or("SIGHTLINE_BENCH_DIR", "/var/tmp/sightline-bench"))
                .join("operator-scale"),
        }
    }

    /// Workload `n`: (namespace, name, image index, is a Deployment).
    fn workload(&self, n: usize) -> (&str, String, usize, bool) {
        let ns = &self.namespaces[n * self.namespaces.len() / self.workloads];
        // Kinds alternate per round of images, so every image runs under both kinds.
        (
            ns,
            format!("w-{n:05}"),
            n % self.images,
            (n / self.images).is_multiple_of(2),
        )
    }
}

fn main() {
    let kube = Cluster::from_env();
    let s = Settings::from_env(&kube);
    if kube.kubectl_patient(&["get", "--raw", "/readyz"]).is_err() {
        eprintln!(
            "operator-scale: the test cluster is not running ({}): shared/scripts/k8s-cluster.sh start",
            kube.kubeconfig.display()
        );
        std::process::exit(2);
    }
    assert!(
        s.workloads >= s.images && s.images > 0 && !s.namespaces.is_empty(),
        "need at least as many workloads as images"
    );
    let mut cleanup = Cleanup {
        kube: kube.clone(),
        namespaces: s
            .namespaces
            .iter()
            .cloned()
            .chain([SYSTEM_NS.to_string()])
            .collect(),
        watch: None,
    };
    cleanup.delete_leftovers();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&s, &kube, &mut cleanup)
    }));
    drop(cleanup);
    let _ = std::fs::remove_dir_all(s.work.join("cache-idle"));
    let _ = std::fs::remove_dir_all(s.work.join("cache"));
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(_) => {
            eprintln!("operator-scale: FAILED (see the panic above)");
            std::process::exit(1)
        }
    }
}

/// The whole bench; `true` when every check and target passed.
fn run(s: &Settings, kube: &Cluster, cleanup: &mut Cleanup) -> bool {
    let bin = release_binary();
    let _ = std::fs::remove_dir_all(&s.work);
    std::fs::create_dir_all(&s.work).unwrap();

    // --- Setup: CRDs, images, DB, scanner image, namespaces.
    kube.apply_crds();
    let t = Instant::now();
    let digests = push_images(s);
    let unique: BTreeSet<&String> = digests.iter().collect();
    assert_eq!(
        unique.len(),
        s.images,
        "every bench image has its own digest"
    );
    println!(
        "operator-scale: {} images pushed to {}/sightline-bench/img in {:.1}s ({} unique digests)",
        s.images,
        s.registry,
        t.elapsed().as_secs_f64(),
        unique.len()
    );
    let db_repo = format!("{}/sightline-bench/trivy-db", s.registry);
    publish_fixture_db(&format!("{db_repo}:2"));
    let scan_image = kube.scanner_image(&bin);
    kubectl(kube, &["create", "namespace", SYSTEM_NS]);
    for ns in &s.namespaces {
        kubectl(kube, &["create", "namespace", ns]);
    }
    wait_for_every(
        POLL,
        Duration::from_secs(120),
        "the default ServiceAccounts",
        || {
            let out = kube
                .kubectl_patient(&[
                    "get",
                    "serviceaccounts",
                    "-A",
                    "--no-headers",
                    "--field-selector=metadata.name=default",
                ])
                .ok()?;
            let n = out.lines().filter(|l| l.starts_with(NS_PREFIX)).count();
            (n == s.namespaces.len()).then_some(())
        },
    );
    cleanup.watch = Some(JobWatch::start(kube, SYSTEM_NS));
    let jobs = cleanup.watch.as_ref().unwrap();

    let values = s.work.join("values.yaml");
    std::fs::write(
        &values,
        format!(
            "targetNamespaces: {}\noperator:\n  scanJobsConcurrentLimit: {CONCURRENT_LIMIT}\n",
            s.namespaces.join(",")
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "--config",
        values.to_str().unwrap(),
        "--namespace",
        SYSTEM_NS,
        "--scan-job-image",
        &scan_image,
        "--db-repository",
        &db_repo,
        "--insecure-registry",
        &s.pod_registry,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let runner = Runner {
        s,
        kube,
        bin: &bin,
        args: &args,
        jobs,
    };

    // --- Baseline: no workload in the target namespaces.
    let idle = runner.phase("idle", &s.work.join("cache-idle"), Goal::Ready);

    // --- The workloads (created before the operator starts, as on a busy cluster).
    let t = Instant::now();
    create_workloads(s, kube);
    let created = t.elapsed().as_secs_f64();
    wait_for_every(
        POLL,
        Duration::from_secs(1200),
        "every workload's ReplicaSet and Pod",
        || {
            let rs = count_in_bench(
                kube,
                &[
                    "get",
                    "replicasets",
                    "-A",
                    "-l",
                    &format!("{BENCH_LABEL}=1"),
                    "--no-headers",
                ],
            );
            let pods = count_in_bench(
                kube,
                &[
                    "get",
                    "pods",
                    "-A",
                    "-l",
                    &format!("{BENCH_LABEL}=1"),
                    "--no-headers",
                ],
            );
            eprintln!(
                "  [setup] ReplicaSets {rs}/{w}, Pods {pods}/{w}",
                w = s.workloads
            );
            (rs == s.workloads && pods == s.workloads).then_some(())
        },
    );
    let all_there = t.elapsed().as_secs_f64();
    std::thread::sleep(SETTLE); // let status updates settle
    let cluster_pods = kube
        .kubectl_patient(&["get", "pods", "-A", "--no-headers"])
        .map(|o| o.lines().count())
        .unwrap_or(0);
    let deployments = (0..s.workloads).filter(|&n| s.workload(n).3).count();
    println!(
        "operator-scale: {} workloads ({} Deployments + {} ReplicaSets; {} ReplicaSets, {} Pods never scheduled) in {} namespaces: created in {created:.1}s, all ReplicaSets and Pods present after {all_there:.1}s; {cluster_pods} Pods in the whole cluster",
        s.workloads,
        deployments,
        s.workloads - deployments,
        s.workloads,
        s.workloads,
        s.namespaces.len()
    );

    // --- First start over a fresh cache, then a restart over the same cache.
    let cache = s.work.join("cache");
    let first = runner.phase("first start", &cache, Goal::AllWritten);
    let verified = if first.error.is_none() {
        Some(verify_reports(s, kube, &digests))
    } else {
        None
    };
    let restart = runner.phase("restart", &cache, Goal::AllReconciled);
    let ok = report(s, &unique, &idle, &first, &restart, verified.as_ref());
    let churn_ok = if restart.error.is_none() {
        rematch_and_churn(&runner, &cache, &values)
    } else {
        false
    };
    ok && churn_ok
}

/// Workload keys of bench workloads with a `reports written` line in `text`.
fn written_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.contains("reports written "))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("workload="))
                .filter(|k| k.contains(&format!("/{NS_PREFIX}")))
                .map(str::to_string)
        })
        .collect()
}

/// `sightline_runtime_tasks_alive` from the operator's /metrics.
fn tasks_alive(op: &Operator) -> Option<f64> {
    match http_get(&op.http, "/metrics") {
        Some((200, text)) => Some(metric_sum(&text, "sightline_runtime_tasks_alive")),
        _ => None,
    }
}

/// One more operator over the reconciled cache (DB checked every 2 s):
/// - re-match: a new DB (the fixture DB built now: another UpdatedAt) installed into its
///   cache as `sightline db update --force` does; measured until every workload's reports
///   were rewritten (no Job may run): workloads per second;
/// - churn: 5 label rounds over every bench Pod (10,000 Pod events at 2,000 workloads);
///   tokio tasks alive (sightline_runtime_tasks_alive) before and after, and RSS.
fn rematch_and_churn(r: &Runner, cache: &Path, values: &Path) -> bool {
    let s = r.s;
    let fast_values = s.work.join("values-rematch.yaml");
    let text = std::fs::read_to_string(values).unwrap();
    std::fs::write(
        &fast_values,
        text.replace("operator:\n", "operator:\n  dbUpdateInterval: 2s\n"),
    )
    .unwrap();
    let args: Vec<String> = r
        .args
        .iter()
        .map(|a| {
            if Path::new(a) == values {
                fast_values.to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let log = s.work.join("operator-rematch.log");
    let mut tail = LogTail::new(&log);
    let (jobs_before, _) = r.jobs.counts();
    let op = Operator::new(r.bin, r.kube, cache, &log, &args)
        .log_filter(LOG_FILTER)
        .spawn();
    let pid = op.pid().expect("the operator runs");
    wait_for_every(POLL, s.timeout, "every workload reconciled", || {
        tail.poll();
        (tail.done.len() >= s.workloads).then_some(())
    });
    std::thread::sleep(SETTLE);
    // A new DB into the operator's cache.
    let db2 = s.work.join("db2");
    let _ = std::fs::remove_dir_all(&db2);
    sightline_vulndb::fixture::write_default_fixture_db(&db2.join("db")).expect("write the DB");
    let repo2 = format!("{}/sightline-bench/trivy-db-rematch", s.registry);
    sightline_testkit::publish_db(
        &format!("{repo2}:2"),
        &db2.join("db"),
        &Default::default(),
        sightline_vulndb::install::DbKind::Vuln.layer_media_type(),
    );
    // Past usize (not on 64-bit) `text.get(offset..)` below is simply empty.
    let offset = usize::try_from(std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0))
        .unwrap_or(usize::MAX);
    let cpu0 = cpu_s(pid);
    let status = Command::new(r.bin)
        .args(["db", "update", "--force", "--cache-dir"])
        .arg(cache)
        .args(["--db-repository", &repo2])
        .stdout(Stdio::null())
        .status()
        .expect("sightline db update runs");
    assert!(status.success(), "sightline db update --force");
    let t0 = Instant::now();
    let rewritten = wait_for_every(
        Duration::from_millis(200),
        s.timeout,
        "every workload's reports rewritten against the new DB",
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let done = written_keys(text.get(offset..).unwrap_or_default()).len();
            (done >= s.workloads).then_some(t0.elapsed().as_secs_f64())
        },
    );
    let rematch_cpu = cpu_s(pid) - cpu0;
    let rematch_rss = rss(pid);
    std::thread::sleep(SETTLE);
    let tasks_before = tasks_alive(&op);
    // Churn: 5 rounds of a label change on every bench Pod.
    let t1 = Instant::now();
    for round in 0..5 {
        for ns in &s.namespaces {
            kubectl(
                r.kube,
                &[
                    "-n",
                    ns,
                    "label",
                    "pods",
                    "--all",
                    "--overwrite",
                    &format!("sightline-churn={round}"),
                ],
            );
        }
    }
    let churn_s = t1.elapsed().as_secs_f64();
    std::thread::sleep(SETTLE * 2);
    let tasks_after = tasks_alive(&op);
    let churn_rss = rss(pid);
    let (jobs_after, _) = r.jobs.counts();
    let mut op = op;
    op.stop();
    let events = 5 * s.workloads;
    println!(
        "  re-match: all {} workloads' reports rewritten {:.1}s after the new DB was installed = {:.0} workloads/s ({:.1} CPU-s, RSS {:.1} MiB, peak {:.1} MiB); Jobs during the run: {}",
        s.workloads,
        rewritten,
        s.workloads as f64 / rewritten,
        rematch_cpu,
        mib(rematch_rss.0),
        mib(rematch_rss.1),
        jobs_after - jobs_before
    );
    println!(
        "  churn: {events} Pod events in {churn_s:.1}s; tokio tasks alive {} before, {} after (target: bounded by the workloads, not the events); RSS {:.1} MiB",
        tasks_before.map_or("-".into(), |t| format!("{t:.0}")),
        tasks_after.map_or("-".into(), |t| format!("{t:.0}")),
        mib(churn_rss.0)
    );
    let bounded = match (tasks_before, tasks_after) {
        (Some(b), Some(a)) => a <= b + 50.0,
        _ => false,
    };
    if !bounded {
        eprintln!("operator-scale: FAILED: tasks alive grew with churn");
    }
    if jobs_after != jobs_before {
        eprintln!("operator-scale: FAILED: the re-match ran scan Jobs");
    }
    bounded && jobs_after == jobs_before
}

// ---------------------------------------------------------------------------------------
// Phases

#[derive(Clone, Copy, PartialEq, Eq)]
enum Goal {
    /// Ready is done (no workload).
    Ready,
    /// Every workload's reports written.
    AllWritten,
    /// Every workload reconciled (reports written or already up to date).
    AllReconciled,
}

#[derive(Default)]
struct Phase {
    name: &'static str,
    ready_s: Option<f64>,
    done_s: Option<f64>,
    cpu_done_s: Option<f64>,
    last_scan_s: Option<f64>,
    peak_rss_kib: u64,
    peak_rss_done_kib: u64,
    steady_rss_kib: u64,
    steady_rss_max_kib: u64,
    steady_cpu_pct: f64,
    jobs_api: usize,
    jobs_max_live: usize,
    jobs_log: usize,
    adopted_log: usize,
    inventories_log: usize,
    workloads_done: usize,
    scans_metric: f64,
    scan_failures_metric: f64,
    reports_written_metric: f64,
    metrics_bytes: usize,
    warn_count: usize,
    warnings: Vec<(String, usize)>,
    api_errors: usize,
    api_errors_to_done: usize,
    stop_s: f64,
    log: PathBuf,
    error: Option<String>,
}

struct Runner<'a> {
    s: &'a Settings,
    kube: &'a Cluster,
    bin: &'a Path,
    args: &'a [String],
    jobs: &'a JobWatch,
}

impl Runner<'_> {
    fn phase(&self, name: &'static str, cache: &Path, goal: Goal) -> Phase {
        let s = self.s;
        let log = s
            .work
            .join(format!("operator-{}.log", name.replace(' ', "-")));
        let mut p = Phase {
            name,
            log: log.clone(),
            ..Default::default()
        };
        let (jobs_before, _) = self.jobs.counts();
        self.jobs.reset_max();
        let mut tail = LogTail::new(&log);
        eprintln!("  [{name}] starting the operator");
        let started = Instant::now();
        let mut op = Operator::new(self.bin, self.kube, cache, &log, self.args)
            .log_filter(LOG_FILTER)
            .spawn();
        let pid = op.pid().expect("the operator runs");
        let mut next_progress = 10.0;
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let t = started.elapsed().as_secs_f64();
            if let Some(st) = op.exit_status() {
                p.error = Some(format!("the operator exited ({st}) after {t:.1}s"));
                break;
            }
            if p.ready_s.is_none() && op.readyz() == Some(200) {
                p.ready_s = Some(t);
            }
            let inventories = tail.inventories;
            tail.poll();
            if tail.inventories > inventories {
                p.last_scan_s = Some(t);
            }
            let done = match goal {
                Goal::Ready => p.ready_s.is_some(),
                Goal::AllWritten | Goal::AllReconciled => tail.done.len() >= s.workloads,
            };
            if done {
                p.done_s = Some(t);
                p.cpu_done_s = Some(cpu_s(pid));
                p.peak_rss_done_kib = rss(pid).1;
                p.api_errors_to_done = tail.api_errors;
                break;
            }
            if t >= next_progress {
                next_progress += 10.0;
                eprintln!(
                    "  [{name} {t:>5.0}s] ready {}, Jobs created {}, inventories stored {}, workloads done {}/{}, RSS {:.1} MiB, CPU {:.1}s",
                    p.ready_s.is_some(),
                    tail.jobs_created,
                    tail.inventories,
                    tail.done.len(),
                    s.workloads,
                    mib(rss(pid).0),
                    cpu_s(pid)
                );
            }
            if started.elapsed() > s.timeout {
                p.error = Some(format!(
                    "timed out after {:.0}s: {}/{} workloads done",
                    s.timeout.as_secs_f64(),
                    tail.done.len(),
                    s.workloads
                ));
                break;
            }
        }
        if p.error.is_none() {
            // Steady state: settle, then a window with no activity of ours but RSS sampling.
            std::thread::sleep(SETTLE);
            let cpu0 = cpu_s(pid);
            let t0 = Instant::now();
            let mut max = 0;
            let mut last = 0;
            while t0.elapsed() < WINDOW {
                std::thread::sleep(Duration::from_secs(1));
                last = rss(pid).0;
                max = max.max(last);
            }
            p.steady_cpu_pct = (cpu_s(pid) - cpu0) / t0.elapsed().as_secs_f64() * 100.0;
            p.steady_rss_kib = last;
            p.steady_rss_max_kib = max;
            match http_get(&op.http, "/metrics") {
                Some((200, text)) => {
                    p.metrics_bytes = text.len();
                    p.scans_metric = metric_sum(&text, "sightline_scans_total{");
                    p.scan_failures_metric = metric_sum(&text, "sightline_scan_failures_total{");
                    p.reports_written_metric =
                        metric_sum(&text, "sightline_reports_written_total{");
                }
                other => p.error = Some(format!("GET /metrics: {other:?}")),
            }
            if let Some(st) = op.exit_status() {
                p.error = Some(format!(
                    "the operator exited ({st}) during the steady-state window"
                ));
            }
        }
        p.peak_rss_kib = rss(pid).1;
        std::thread::sleep(Duration::from_secs(1)); // the Job watch catches up
        p.stop_s = op.stop().as_secs_f64();
        tail.poll();
        let (jobs_after, max_live) = self.jobs.counts();
        p.jobs_api = jobs_after - jobs_before;
        p.jobs_max_live = max_live;
        p.jobs_log = tail.jobs_created;
        p.adopted_log = tail.adopted;
        p.inventories_log = tail.inventories;
        p.workloads_done = tail.done.len();
        p.warn_count = tail.warn_count;
        p.warnings = tail.warnings.clone();
        p.api_errors = tail.api_errors;
        if let Some(e) = &p.error {
            eprintln!(
                "  [{name}] FAILED: {e}\n  --- last lines of {} ---",
                log.display()
            );
            for l in op.log_tail(30).lines() {
                eprintln!("  {l}");
            }
        }
        eprintln!(
            "  [{name}] done in {}; Jobs {} (API) / {} (log); peak RSS {:.1} MiB",
            p.done_s.map_or("-".into(), |d| format!("{d:.1}s")),
            p.jobs_api,
            p.jobs_log,
            mib(p.peak_rss_kib)
        );
        p
    }
}

/// The operator's reports through the API after the first start.
#[derive(Default)]
struct Verified {
    vulnerability_reports: usize,
    exposed_secret_reports: usize,
    digest_ok: usize,
    distinct_digests: usize,
    with_findings: usize,
    findings: u64,
    report_bytes: usize,
    problems: Vec<String>,
}

fn verify_reports(s: &Settings, kube: &Cluster, digests: &[String]) -> Verified {
    let mut v = Verified::default();
    let mut seen = BTreeSet::new();
    let mut workloads = HashSet::new();
    for ns in &s.namespaces {
        let text = kubectl(
            kube,
            &[
                "get",
                "vulnerabilityreports",
                "-n",
                ns,
                "-l",
                MANAGED,
                "-o",
                "json",
            ],
        );
        v.report_bytes += text.len();
        let list: serde_json::Value = serde_json::from_str(&text).expect("kubectl prints JSON");
        for item in list["items"].as_array().into_iter().flatten() {
            v.vulnerability_reports += 1;
            let meta = &item["metadata"];
            let name = meta["labels"]["trivy-operator.resource.name"]
                .as_str()
                .unwrap_or_default();
            let digest = meta["annotations"][DIGEST_ANNOTATION]
                .as_str()
                .unwrap_or_default();
            seen.insert(digest.to_string());
            // "w-NNNNN" (bare ReplicaSet) or "w-NNNNN-<pod-template-hash>" (a Deployment's).
            let n: Option<usize> = name
                .strip_prefix("w-")
                .and_then(|r| r.split('-').next())
                .and_then(|d| d.parse().ok());
            match n {
                Some(n) if n < s.workloads => {
                    workloads.insert(n);
                    if digests[n % s.images] == digest {
                        v.digest_ok += 1;
                    } else if v.problems.len() < 5 {
                        v.problems.push(format!(
                            "{ns}/{name}: digest {digest}, expected {}",
                            digests[n % s.images]
                        ));
                    }
                }
                _ => v
                    .problems
                    .push(format!("{ns}: a report of an unknown workload {name:?}")),
            }
            let total = summary_total(item);
            v.findings += total;
            if total > 0 {
                v.with_findings += 1;
            }
        }
    }
    v.distinct_digests = seen.len();
    if workloads.len() != s.workloads {
        v.problems.push(format!(
            "VulnerabilityReports cover {} of {} workloads",
            workloads.len(),
            s.workloads
        ));
    }
    v.exposed_secret_reports = count_in_bench(
        kube,
        &[
            "get",
            "exposedsecretreports",
            "-A",
            "-l",
            MANAGED,
            "--no-headers",
        ],
    );
    v
}

fn report(
    s: &Settings,
    unique: &BTreeSet<&String>,
    idle: &Phase,
    first: &Phase,
    restart: &Phase,
    verified: Option<&Verified>,
) -> bool {
    let w = s.workloads;
    let digests = unique.len();
    let secs = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}s"));
    println!();
    println!(
        "operator-scale: {w} workloads over {} images ({digests} unique digests) in {} namespaces; scanJobsConcurrentLimit {CONCURRENT_LIMIT}; steady state = {}s window after {}s settle",
        s.images,
        s.namespaces.len(),
        WINDOW.as_secs(),
        SETTLE.as_secs()
    );
    println!(
        "{:<28} {:>7} {:>9} {:>11} {:>10} {:>10} {:>11} {:>10} {:>6} {:>6}",
        "run",
        "ready",
        "done",
        "CPU to done",
        "RSS @done",
        "peak RSS",
        "steady RSS",
        "steady CPU",
        "Jobs",
        "stop"
    );
    for (label, p) in [
        ("idle (0 workloads)", idle),
        ("first start (fresh cache)", first),
        ("restart (inventory store)", restart),
    ] {
        println!(
            "{:<28} {:>7} {:>9} {:>10} {:>6.1} MiB {:>6.1} MiB {:>7.1} MiB {:>9.1}% {:>6} {:>5.1}s",
            label,
            secs(p.ready_s),
            secs(p.done_s),
            secs(p.cpu_done_s),
            mib(p.peak_rss_done_kib),
            mib(p.peak_rss_kib),
            mib(p.steady_rss_kib),
            p.steady_cpu_pct,
            p.jobs_api,
            p.stop_s
        );
    }
    println!("  done: idle = /readyz; first start = all {w} workloads' reports written; restart = all {w} workloads reconciled");
    println!("  CPU = utime+stime of the operator process (seconds; steady CPU in % of one core); RSS @done = VmHWM when done; peak RSS = VmHWM at the end of the run (steady window and one /metrics scrape included); steady RSS = VmRSS at the end of the window (max in window: idle {:.1}, first {:.1}, restart {:.1} MiB)",
        mib(idle.steady_rss_max_kib), mib(first.steady_rss_max_kib), mib(restart.steady_rss_max_kib));
    for p in [idle, first, restart] {
        println!(
            "  {}: Jobs {} from the API, {} \"scan Job created\" + {} adopted in the log, sightline_scans_total {} (failures {}), max {} Jobs at once; inventories stored {}, last at {}; reports written (metric) {}; workloads done {}; /metrics {:.0} KiB; {} WARN/ERROR log lines; log {}",
            p.name,
            p.jobs_api,
            p.jobs_log,
            p.adopted_log,
            p.scans_metric,
            p.scan_failures_metric,
            p.jobs_max_live,
            p.inventories_log,
            secs(p.last_scan_s),
            p.reports_written_metric,
            p.workloads_done,
            p.metrics_bytes as f64 / 1024.0,
            p.warn_count,
            p.log.display()
        );
        for (l, n) in &p.warnings {
            println!("      {n:>4} x {l}");
        }
    }
    if let (Some(d), Some(l)) = (first.done_s, first.last_scan_s) {
        println!(
            "  first start: {digests} scans done at {l:.1}s; all {w} workloads' reports written {:.1}s later (served from the inventory store)",
            d - l
        );
    }
    let mut ok = true;
    let mut check = |what: String, pass: bool| {
        println!(
            "  check {:<78} {}",
            what,
            if pass { "ok" } else { "FAILED" }
        );
        ok &= pass;
    };
    for p in [idle, first, restart] {
        if let Some(e) = &p.error {
            check(format!("{} ran to completion ({e})", p.name), false);
        }
        if p.api_errors > 0 {
            check(
                format!(
                    "{}: no API-server outage ({} failed watches/connections, {} before done)",
                    p.name, p.api_errors, p.api_errors_to_done
                ),
                false,
            );
            println!("      the API server restarted or dropped the watches (another test?): the operator relisted every cache and reconciled again; the figures after include that; run again");
        }
    }
    match verified {
        Some(v) => {
            check(
                format!(
                    "VulnerabilityReports in the API = {w} (got {})",
                    v.vulnerability_reports
                ),
                v.vulnerability_reports == w,
            );
            check(
                format!(
                    "ExposedSecretReports in the API = {w} (got {})",
                    v.exposed_secret_reports
                ),
                v.exposed_secret_reports == w,
            );
            check(
                format!(
                    "each report has its workload's image digest ({}/{w}; {} distinct)",
                    v.digest_ok, v.distinct_digests
                ),
                v.digest_ok == w && v.distinct_digests == digests,
            );
            check(
                format!(
                    "reports carry real findings ({}/{w} non-empty, {} findings, {:.1} KiB/report)",
                    v.with_findings,
                    v.findings,
                    v.report_bytes as f64 / 1024.0 / v.vulnerability_reports.max(1) as f64
                ),
                v.with_findings > 0,
            );
            for pr in &v.problems {
                println!("      {pr}");
            }
        }
        None => check("reports verified through the API".into(), false),
    }
    check(
        format!(
            "first start: no scan failures (sightline_scan_failures_total {})",
            first.scan_failures_metric
        ),
        first.scan_failures_metric == 0.0,
    );
    check(
        format!(
            "first start: Jobs agree (API {}, log {}, sightline_scans_total {})",
            first.jobs_api,
            first.jobs_log + first.adopted_log,
            first.scans_metric
        ),
        first.jobs_api == first.jobs_log + first.adopted_log
            && first.scans_metric == first.jobs_api as f64,
    );
    check(
        format!("idle: no Job ({})", idle.jobs_api),
        idle.jobs_api == 0 && idle.jobs_log == 0,
    );
    println!("targets (issue 6):");
    let peak = [idle, first, restart]
        .iter()
        .map(|p| p.peak_rss_kib)
        .max()
        .unwrap_or(0);
    let t1 = first.error.is_none() && first.jobs_api == digests && first.jobs_log == digests;
    let t2 = restart.error.is_none() && restart.jobs_api == 0 && restart.jobs_log == 0;
    let t3 = peak > 0 && peak <= RSS_TARGET_KIB;
    println!(
        "  Jobs = unique digests ({digests}): first start {} Jobs  {}",
        first.jobs_api,
        if t1 { "MET" } else { "NOT MET" }
    );
    println!(
        "  restart over the inventory store creates no Job: {} Jobs  {}",
        restart.jobs_api,
        if t2 { "MET" } else { "NOT MET" }
    );
    println!(
        "  RSS <= 128 MiB: peak {:.1} MiB (idle {:.1}, first start {:.1}, restart {:.1})  {}",
        mib(peak),
        mib(idle.peak_rss_kib),
        mib(first.peak_rss_kib),
        mib(restart.peak_rss_kib),
        if t3 { "MET" } else { "NOT MET" }
    );
    let all = ok && t1 && t2 && t3;
    println!(
        "operator-scale: {}",
        if all { "all targets MET" } else { "FAILED" }
    );
    all
}

// ---------------------------------------------------------------------------------------
// Setup

/// Builds and pushes the bench images; returns their digests as pushed, by index.
fn push_images(s: &Settings) -> Vec<String> {
    let cache = PathBuf::from(env_or("SIGHTLINE_TEST_CACHE", "/var/tmp/sightline-test"));
    let script = shared_scripts().join("lib/oci-image.py");
    let dir = s.work.join("images");
    std::fs::create_dir_all(&dir).unwrap();
    let next = Arc::new(Mutex::new(0usize));
    let out = Arc::new(Mutex::new(vec![String::new(); s.images]));
    std::thread::scope(|sc| {
        for _ in 0..4 {
            let (next, out, dir, cache, script) = (&next, &out, &dir, &cache, &script);
            sc.spawn(move || loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    let i = *n;
                    *n += 1;
                    i
                };
                if i >= s.images {
                    return;
                }
                let base = if i % 2 == 0 {
                    "bookworm-minbase"
                } else {
                    "alpine-3.23"
                };
                let id = dir.join(format!("id-{i}"));
                std::fs::write(&id, format!("sightline bench image {i}\n")).unwrap();
                let layout = dir.join(format!("oci-{i}"));
                let _ = std::fs::remove_dir_all(&layout);
                sh(Command::new("python3")
                    .arg(script)
                    .arg(&layout)
                    .arg("image")
                    .arg("--base")
                    .arg(format!("{}:{base}", cache.join("oci").display()))
                    .arg("--add")
                    .arg(format!("{}:/etc/bench-id", id.display()))
                    .arg("--comment")
                    .arg(format!("sightline operator-scale bench image {i}")));
                let digest_file = dir.join(format!("digest-{i}"));
                sh(Command::new("skopeo")
                    .args(["copy", "-q", "--dest-tls-verify=false", "--digestfile"])
                    .arg(&digest_file)
                    .arg(format!("oci:{}:image", layout.display()))
                    .arg(format!("docker://{}/sightline-bench/img:{i}", s.registry)));
                let d = std::fs::read_to_string(&digest_file)
                    .unwrap()
                    .trim()
                    .to_string();
                assert!(d.starts_with("sha256:"), "skopeo digest file: {d:?}");
                out.lock().unwrap()[i] = d;
                let _ = std::fs::remove_dir_all(&layout);
            });
        }
    });
    let v = out.lock().unwrap().clone();
    v
}

/// The workloads, one `kubectl create -f` of a List per namespace, all namespaces at once.
fn create_workloads(s: &Settings, kube: &Cluster) {
    let mut lists: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for n in 0..s.workloads {
        let (ns, name, image, deployment) = s.workload(n);
        let labels = serde_json::json!({ "app": name, BENCH_LABEL: "1" });
        let template = serde_json::json!({
            "metadata": { "labels": labels },
            "spec": {
                // No scheduler serves this name: the Pod is created and stays Pending,
                // with no scheduling attempts (and no node would match anyway).
                "schedulerName": "sightline-bench-unscheduled",
                "nodeSelector": { BENCH_LABEL: "none" },
                "automountServiceAccountToken": false,
                "containers": [{
                    "name": "app",
                    "image": format!("{}/sightline-bench/img:{image}", s.pod_registry),
                }],
            },
        });
        let mut spec = serde_json::json!({
            "replicas": 1,
            "selector": { "matchLabels": { "app": name } },
            "template": template,
        });
        if deployment {
            spec["progressDeadlineSeconds"] = 86400.into();
            spec["revisionHistoryLimit"] = 1.into();
        }
        lists.entry(ns).or_default().push(serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": if deployment { "Deployment" } else { "ReplicaSet" },
            "metadata": { "name": name, "labels": labels },
            "spec": spec,
        }));
    }
    let mut children = Vec::new();
    for (ns, items) in lists {
        let file = s.work.join(format!("workloads-{ns}.json"));
        let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
        std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
        let child = kube
            .kubectl_command()
            .args(["create", "-n", ns, "-f"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        children.push((ns, child));
    }
    for (ns, child) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "creating the workloads of {ns}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---------------------------------------------------------------------------------------
// The operator process

/// utime + stime of process `pid` in seconds.
fn cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    let hz = rustix::param::clock_ticks_per_second().max(1) as f64;
    ticks as f64 / hz
}

/// (VmRSS, VmHWM) of process `pid` in KiB.
fn rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Follows the operator's log file.
struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
    /// Workloads of the bench namespaces whose reports are all written or up to date.
    done: HashSet<String>,
    jobs_created: usize,
    adopted: usize,
    inventories: usize,
    warn_count: usize,
    /// Distinct WARN/ERROR messages (first 120 characters) and how often each came.
    warnings: Vec<(String, usize)>,
    /// WARN/ERROR lines of failed watches or API connections (the API server restarted or
    /// dropped its watches: the operator relists its caches).
    api_errors: usize,
}

impl LogTail {
    fn new(path: &Path) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            offset: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            partial: String::new(),
            done: HashSet::new(),
            jobs_created: 0,
            adopted: 0,
            inventories: 0,
            warn_count: 0,
            warnings: Vec::new(),
            api_errors: 0,
        }
    }

    fn poll(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return;
        };
        self.offset += n as u64;
        self.partial.push_str(&String::from_utf8_lossy(&buf));
        let text = std::mem::take(&mut self.partial);
        let mut lines: Vec<&str> = text.split('\n').collect();
        let rest = lines.pop().unwrap_or("");
        for l in lines {
            self.line(l);
        }
        self.partial = rest.to_string();
    }

    fn line(&mut self, l: &str) {
        let t = l.trim_start();
        if t.starts_with("WARN") || t.starts_with("ERROR") {
            self.warn_count += 1;
            if [
                "watch",
                "client error",
                "Service Unavailable",
                "eof in poll",
            ]
            .iter()
            .any(|p| t.contains(p))
            {
                self.api_errors += 1;
            }
            let key: String = t.chars().take(120).collect();
            if let Some((_, n)) = self.warnings.iter_mut().find(|(k, _)| *k == key) {
                *n += 1;
            } else if self.warnings.len() < 8 {
                self.warnings.push((key, 1));
            }
        }
        if t.contains("scan Job created") {
            self.jobs_created += 1;
        } else if t.contains("adopting the existing scan Job") {
            self.adopted += 1;
        } else if t.contains("inventory stored") {
            self.inventories += 1;
        }
        let Some(key) = t
            .split_whitespace()
            .find_map(|w| w.strip_prefix("workload="))
        else {
            return;
        };
        if !key.contains(&format!("/{NS_PREFIX}")) {
            return;
        }
        // INFO reports written workload=K written=1 unchanged=0 waiting=0 ms=..
        // DEBUG reconciled: Outcome { written: 0, unchanged: 1, waiting: 0 } workload=K
        let num = |pat: &str| -> Option<usize> {
            let i = t.find(pat)? + pat.len();
            t[i..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        let counts = if t.contains("reports written ") {
            (num(" written="), num(" unchanged="), num(" waiting="))
        } else if t.contains("reconciled: Outcome") {
            (num("written: "), num("unchanged: "), num("waiting: "))
        } else {
            return;
        };
        if let (Some(w), Some(u), Some(0)) = counts {
            if w + u > 0 {
                self.done.insert(key.to_string());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// kubectl, the Job watch, cleanup

/// Runs kubectl (retrying while the API server is away); panics when it fails.
fn kubectl(kube: &Cluster, args: &[&str]) -> String {
    kube.kubectl_patient(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Lines of an `-A --no-headers` table in the bench namespaces.
fn count_in_bench(kube: &Cluster, args: &[&str]) -> usize {
    kube.kubectl_patient(args)
        .map(|o| o.lines().filter(|l| l.starts_with(NS_PREFIX)).count())
        .unwrap_or(0)
}

/// Counts the Jobs created in a namespace from a `kubectl get jobs --watch` (restarted
/// when the server closes the watch; its initial listing counts no Job twice).
struct JobWatch {
    state: Arc<Mutex<JobState>>,
    stop: Arc<AtomicBool>,
    pid: Arc<AtomicI32>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct JobState {
    live: BTreeSet<String>,
    added: usize,
    max_live: usize,
}

impl JobWatch {
    fn start(kube: &Cluster, ns: &str) -> JobWatch {
        let state = Arc::new(Mutex::new(JobState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let pid = Arc::new(AtomicI32::new(0));
        let (st, sp, pd, kube, ns) = (
            state.clone(),
            stop.clone(),
            pid.clone(),
            kube.clone(),
            ns.to_string(),
        );
        let thread = std::thread::spawn(move || {
            while !sp.load(Ordering::SeqCst) {
                let mut child = kube
                    .kubectl_command()
                    .args([
                        "get",
                        "jobs",
                        "-n",
                        &ns,
                        "--watch",
                        "--output-watch-events",
                        "-o",
                    ])
                    .arg("jsonpath={.type} {.object.metadata.name}{\"\\n\"}")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("kubectl runs");
                pd.store(child.id() as i32, Ordering::SeqCst);
                let out = child.stdout.take().unwrap();
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let Some((ty, name)) = line.trim().split_once(' ') else {
                        continue;
                    };
                    let mut s = st.lock().unwrap();
                    match ty {
                        "ADDED" => {
                            if s.live.insert(name.to_string()) {
                                s.added += 1;
                            }
                            s.max_live = s.max_live.max(s.live.len());
                        }
                        "DELETED" => {
                            s.live.remove(name);
                        }
                        _ => {}
                    }
                }
                let _ = child.wait();
                pd.store(0, Ordering::SeqCst);
                if !sp.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
        // The watch is up once kubectl has listed (nothing yet to list): give it a moment.
        std::thread::sleep(Duration::from_secs(2));
        JobWatch {
            state,
            stop,
            pid,
            thread: Some(thread),
        }
    }

    /// (Jobs added so far, most Jobs existing at once since the last reset).
    fn counts(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.added, s.max_live)
    }

    fn reset_max(&self) {
        let mut s = self.state.lock().unwrap();
        s.max_live = s.live.len();
    }
}

impl Drop for JobWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let pid = self.pid.load(Ordering::SeqCst);
        if pid > 0 {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Deletes the bench's namespaces (and stops the Job watch) when dropped.
struct Cleanup {
    kube: Cluster,
    namespaces: Vec<String>,
    watch: Option<JobWatch>,
}

impl Cleanup {
    /// Namespaces of an earlier run that did not clean up (killed).
    fn delete_leftovers(&self) {
        let existing: Vec<String> = self
            .kube
            .kubectl_patient(&["get", "namespaces", "-o", "name"])
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("namespace/"))
            .filter(|n| n.starts_with(NS_PREFIX) || *n == SYSTEM_NS)
            .map(str::to_string)
            .collect();
        if !existing.is_empty() {
            eprintln!(
                "operator-scale: deleting the namespaces of an earlier run: {}",
                existing.join(" ")
            );
            self.delete(&existing);
        }
    }

    fn delete(&self, namespaces: &[String]) {
        let t = Instant::now();
        let mut args = vec![
            "delete",
            "namespace",
            "--ignore-not-found",
            "--wait=true",
            "--timeout=900s",
        ];
        args.extend(namespaces.iter().map(String::as_str));
        if let Err(e) = self.kube.kubectl_patient(&args) {
            eprintln!("operator-scale: cleanup: {e}");
        }
        eprintln!(
            "operator-scale: deleted namespaces {} in {:.1}s",
            namespaces.join(" "),
            t.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.watch.take();
        self.delete(&self.namespaces);
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers

/// Runs a command; panics with its stderr when it fails.
fn sh(cmd: &mut Command) {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
