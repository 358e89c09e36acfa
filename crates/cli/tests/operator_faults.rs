//! `sightline operator` under faults, on the real cluster and registry: the operator killed
//! in the middle of a scan, and the registry failing (then coming back). Each test runs its
//! own operator (own cache, own namespaces), one test at a time.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use sightline_image::test_support::fault_proxy::{start_proxy_on, Fault};
use sightline_image::RegistryOptions;
use sightline_testkit::{cluster, restart_api_server, summary_total, wait_for, Cluster, Operator};
use support::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn fixture_db_repo(registry: &str, name: &str) -> String {
    let repo = format!("{registry}/{name}-{}/trivy-db", std::process::id());
    publish_fixture_db(&format!("{repo}:2"));
    repo
}

fn no_leftovers(c: &Cluster, system: &str) {
    wait_for(
        Duration::from_secs(90),
        "no scan Jobs, Pods or pull Secrets left",
        || {
            let jobs = c.kubectl(&["-n", system, "get", "jobs", "-o", "name"]);
            let pods = c.kubectl(&["-n", system, "get", "pods", "-o", "name"]);
            let secrets = c.kubectl(&[
                "-n",
                system,
                "get",
                "secrets",
                "-l",
                "app.kubernetes.io/managed-by=sightline",
                "-o",
                "name",
            ]);
            (jobs.trim().is_empty() && pods.trim().is_empty() && secrets.trim().is_empty())
                .then_some(())
        },
    );
}

#[test]
fn operator_killed_mid_scan_adopts_its_job_on_restart() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let (apps, system) = ("sl-fault-kill", "sl-fault-kill-system");
    c.namespace(apps);
    c.namespace(system);
    let work = tempfile::tempdir().unwrap();
    let db = fixture_db_repo(&reg.registry, "sl-fault-kill");
    let mut op = start_operator(&c, work.path(), apps, system, &db, &[]);

    let image = format!("{}/library/alpine:3.23", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "solo",
        &format!("--image={image}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    // Kill the operator as soon as its scan Job exists.
    wait_for(Duration::from_secs(120), "the scan Job", || {
        let jobs = c.kubectl(&["-n", system, "get", "jobs", "-o", "name"]);
        (!jobs.trim().is_empty()).then_some(())
    });
    op.kill();
    let first_log = op.log_text();
    assert_eq!(
        first_log.matches("scan Job created").count(),
        1,
        "{first_log}"
    );

    op.start_again();
    let report = wait_for(
        Duration::from_secs(180),
        "the report after the restart",
        || c.get_json(&["-n", apps, "vulnerabilityreports", "pod-solo-solo"]),
    );
    assert_eq!(report["report"]["os"]["family"], "alpine");
    assert_eq!(report["metadata"]["ownerReferences"][0]["kind"], "Pod");
    let log = op.log_text();
    // The second process adopted the first one's Job: still one Job for the digest.
    assert_eq!(log.matches("scan Job created").count(), 1, "{log}");
    assert!(
        log.contains("tracking scan Job") || log.contains("adopting the existing scan Job"),
        "{log}"
    );
    no_leftovers(&c, system);
    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
}

#[test]
fn registry_failure_is_an_event_a_metric_and_a_retry() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let (apps, system) = ("sl-fault-registry", "sl-fault-registry-system");
    c.namespace(apps);
    c.namespace(system);
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The real registry behind a proxy on the pod network's gateway, failing every
    // manifest request with a 500 (what a registry whose storage is down answers).
    let upstream = reg.registry.clone();
    let gateway = c.pod_registry.split(':').next().unwrap().to_string();
    let proxy = rt.block_on(start_proxy_on(
        &format!("{gateway}:0"),
        &upstream,
        Fault::Manifest500,
    ));
    let proxy_addr = proxy.addr.clone();
    let digest = rt
        .block_on(sightline_image::resolve_digest(
            &format!("{}/library/debian:bookworm-minbase", reg.registry),
            &RegistryOptions::default(),
        ))
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let db = fixture_db_repo(&reg.registry, "sl-fault-registry");
    let op = start_operator(
        &c,
        work.path(),
        apps,
        system,
        &db,
        std::slice::from_ref(&proxy_addr),
    );

    // A Pod pinned by digest to the failing registry (the node cannot pull it either; the
    // operator scans what the spec names).
    let image = format!("{proxy_addr}/library/debian@{digest}");
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "pinned",
        &format!("--image={image}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_for(
        Duration::from_secs(120),
        "sightline_scan_failures_total{reason=\"registry\"}",
        || {
            (op.metric_sum("sightline_scan_failures_total{reason=\"registry\"}") >= 1.0)
                .then_some(())
        },
    );
    let events = wait_for(
        Duration::from_secs(30),
        "a ScanFailed Event on the Pod",
        || {
            let ev = c.kubectl(&[
                "-n",
                apps,
                "get",
                "events",
                "--field-selector",
                "involvedObject.name=pinned",
                "-o",
                "json",
            ]);
            let v: serde_json::Value = serde_json::from_str(&ev).unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["reason"] == "ScanFailed")
                .cloned()
        },
    );
    let note = events["message"]
        .as_str()
        .or(events["note"].as_str())
        .unwrap_or_default();
    assert!(
        note.contains("500") && note.contains("Retrying in 30s"),
        "{events}"
    );
    assert!(c
        .get_json(&["-n", apps, "vulnerabilityreports", "pod-pinned-pinned"])
        .is_none());

    // The registry comes back on the same address: the retry after the backoff succeeds.
    drop(proxy);
    wait_for(
        Duration::from_secs(10),
        "the failing proxy's port to be free",
        || {
            rt.block_on(async { tokio::time::sleep(Duration::from_millis(100)).await });
            std::net::TcpListener::bind(&proxy_addr).ok().map(drop)
        },
    );
    let _proxy = rt.block_on(start_proxy_on(&proxy_addr, &upstream, Fault::None));
    let report = wait_for(
        Duration::from_secs(150),
        "the report after the registry is back",
        || c.get_json(&["-n", apps, "vulnerabilityreports", "pod-pinned-pinned"]),
    );
    assert_eq!(report["report"]["os"]["family"], "debian");
    assert_eq!(
        op.metric_sum("sightline_scans_total{result=\"success\"}"),
        1.0
    );
    no_leftovers(&c, system);
    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
}

#[test]
fn api_server_restart_mid_run_loses_and_duplicates_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let (apps, system) = ("sl-fault-api", "sl-fault-api-system");
    c.namespace(apps);
    c.namespace(system);
    let work = tempfile::tempdir().unwrap();
    let db = fixture_db_repo(&reg.registry, "sl-fault-api");
    let op = start_operator(&c, work.path(), apps, system, &db, &[]);

    let alpine = format!("{}/library/alpine:3.23", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "before",
        &format!("--image={alpine}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_for(Duration::from_secs(120), "the first scan Job", || {
        let jobs = c.kubectl(&["-n", system, "get", "jobs", "-o", "name"]);
        (!jobs.trim().is_empty()).then_some(())
    });
    // The API server goes away while the scan runs, and comes back.
    restart_api_server(&c);
    let curl = format!("{}/library/debian:bookworm-curl", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "after",
        &format!("--image={curl}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    for (pod, family) in [("before", "alpine"), ("after", "debian")] {
        let name = format!("pod-{pod}-{pod}");
        let r = wait_for(Duration::from_secs(240), &format!("report {name}"), || {
            c.get_json(&["-n", apps, "vulnerabilityreports", &name])
        });
        assert_eq!(r["report"]["os"]["family"], family);
    }
    let log = op.log_text();
    assert_eq!(
        log.matches("scan Job created").count(),
        2,
        "one Job per digest, none repeated:\n{log}"
    );
    assert_eq!(
        op.metric_sum("sightline_scans_total{result=\"success\"}"),
        2.0
    );
    no_leftovers(&c, system);
    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
}

#[test]
fn a_report_too_big_for_etcd_is_trimmed_not_rejected() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let (apps, system) = ("sl-fault-size", "sl-fault-size-system");
    c.namespace(apps);
    c.namespace(system);
    let work = tempfile::tempdir().unwrap();
    // The real fixtures plus 8,000 unfixed advisories for Debian 12's bash: a report of
    // ~2.5 MB, over etcd's 1.5 MiB object limit.
    let dir = sightline_vulndb::fixture::testdata_dir();
    let debian = std::fs::read_to_string(dir.join("debian-12.yaml")).unwrap();
    let anchor = "    - bucket: \"bash\"\n      pairs:\n";
    let mut extra = String::new();
    for i in 0..8000 {
        extra.push_str(&format!(
            "        - key: \"CVE-2098-{i:05}\"\n          value:\n            FixedVersion: \"\"\n            Severity: {}\n            Status: 2\n",
            i % 5
        ));
    }
    let patched = debian.replacen(anchor, &format!("{anchor}{extra}"), 1);
    let yaml = work.path().join("debian-12-big.yaml");
    std::fs::write(&yaml, patched).unwrap();
    let alpine = dir.join("alpine-3.23.yaml");
    let db_dir = work.path().join("bigdb");
    sightline_vulndb::fixture::write_db(
        &[yaml.as_path(), alpine.as_path()],
        &db_dir,
        &sightline_vulndb::Metadata::fresh(chrono::Utc::now()),
    )
    .unwrap();
    let repo = format!(
        "{}/sl-fault-size-{}/trivy-db",
        reg.registry,
        std::process::id()
    );
    publish_db(
        &format!("{repo}:2"),
        &db_dir,
        &RegistryOptions::default(),
        sightline_vulndb::install::DbKind::Vuln.layer_media_type(),
    );
    let op = start_operator(&c, work.path(), apps, system, &repo, &[]);
    let image = format!("{}/library/debian:bookworm-minbase", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "big",
        &format!("--image={image}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    let report = wait_for(Duration::from_secs(180), "the trimmed report", || {
        c.get_json(&["-n", apps, "vulnerabilityreports", "pod-big-big"])
    });
    let size = serde_json::to_vec(&report).unwrap().len();
    assert!(size < 1_572_864, "stored report is {size} bytes");
    let mark = report["metadata"]["annotations"]["sightline.dev/trimmed"]
        .as_str()
        .unwrap_or_else(|| panic!("not marked trimmed: {}", &report["metadata"]));
    let (kept, total) = mark.split_once('/').unwrap();
    let (kept, total): (u64, u64) = (kept.parse().unwrap(), total.parse().unwrap());
    assert!(total >= 8000 && kept < total, "{mark}");
    assert_eq!(
        report["report"]["vulnerabilities"]
            .as_array()
            .unwrap()
            .len() as u64,
        kept
    );
    let counted = summary_total(&report);
    assert_eq!(counted, total, "the summary counts every finding");
    // The lowest severities went first: every CRITICAL finding is still there.
    let kept_critical = report["report"]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["severity"] == "CRITICAL")
        .count() as u64;
    assert_eq!(
        kept_critical,
        report["report"]["summary"]["criticalCount"]
            .as_u64()
            .unwrap()
    );
    assert!(op.metric_sum("sightline_reports_trimmed_total{kind=\"VulnerabilityReport\"}") >= 1.0);
    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
}

#[test]
fn with_leader_election_one_replica_acts_and_a_standby_takes_over() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let (apps, system) = ("sl-fault-leader", "sl-fault-leader-system");
    c.namespace(apps);
    c.namespace(system);
    let db = fixture_db_repo(&reg.registry, "sl-fault-leader");
    let (w1, w2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = |w: &std::path::Path| {
        let values = w.join("values.yaml");
        std::fs::write(
            &values,
            format!("targetNamespaces: {apps}\noperator:\n  leaderElectionEnabled: true\n  leaderElectionId: sl-fault-leader-lock\ntrivy:\n  dbRepository: {db}\n  nonSslRegistries: [{}]\n", c.pod_registry),
        )
        .unwrap();
        vec![
            "--config".to_string(),
            values.to_str().unwrap().to_string(),
            "--namespace".into(),
            system.into(),
            "--scan-job-image".into(),
            c.scanner_image(bin()),
        ]
    };
    let mut leader = Operator::new(
        bin(),
        &c,
        &w1.path().join("cache"),
        &w1.path().join("a.log"),
        &args(w1.path()),
    )
    .start();
    let standby = Operator::new(
        bin(),
        &c,
        &w2.path().join("cache"),
        &w2.path().join("b.log"),
        &args(w2.path()),
    )
    .spawn();
    let lease = c
        .get_json(&["-n", system, "lease", "sl-fault-leader-lock"])
        .expect("the Lease exists");
    let holder = lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        standby.readyz(),
        Some(503),
        "the standby waits for the Lease"
    );

    let alpine = format!("{}/library/alpine:3.23", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "one",
        &format!("--image={alpine}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_for(Duration::from_secs(180), "the leader's report", || {
        c.get_json(&["-n", apps, "vulnerabilityreports", "pod-one-one"])
    });
    assert!(
        !standby.log_text().contains("scan Job created"),
        "the standby acted:\n{}",
        standby.log_text()
    );

    // The leader dies without releasing the Lease: the standby takes over once it expires.
    leader.kill();
    wait_for(
        Duration::from_secs(60),
        "the standby to become ready",
        || (standby.readyz() == Some(200)).then_some(()),
    );
    let lease = c
        .get_json(&["-n", system, "lease", "sl-fault-leader-lock"])
        .unwrap();
    assert_ne!(lease["spec"]["holderIdentity"].as_str().unwrap(), holder);
    let minbase = format!("{}/library/debian:bookworm-minbase", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "run",
        "two",
        &format!("--image={minbase}"),
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_for(Duration::from_secs(180), "the new leader's report", || {
        c.get_json(&["-n", apps, "vulnerabilityreports", "pod-two-two"])
    });
    drop(standby);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
}
