//! `sightline operator` end to end on the real cluster (shared/scripts/k8s-cluster.sh: a
//! Kubernetes 1.20 API server and a real node running the scan Jobs) with the real test
//! registries and images. The operator runs on the host; its scan Jobs run in the cluster
//! from the scanner image built from this very binary (scripts/scanner-image.sh).
//!
//! One test walks the user scenario step by step (one operator, so the steps build on each
//! other: digests scanned once, re-matched on a DB update, reports garbage-collected).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sightline_testkit::{cluster, summary_total, wait_for, Cluster, Operator};
use support::*;

/// A DB like the fixture DB plus one advisory (`CVE-2099-0001`, unfixed) for Debian 12's
/// `bash`, in `out/`.
fn db_with_extra_advisory(out: &Path) {
    let dir = sightline_vulndb::fixture::testdata_dir();
    let debian = std::fs::read_to_string(dir.join("debian-12.yaml")).unwrap();
    let anchor = "    - bucket: \"bash\"\n      pairs:\n";
    assert!(debian.contains(anchor), "the Debian fixture lists bash");
    let extra = "        - key: \"CVE-2099-0001\"\n          value:\n            FixedVersion: \"\"\n            Severity: 4\n            Status: 2\n";
    let patched = debian.replacen(anchor, &format!("{anchor}{extra}"), 1);
    let tmp = out.join("debian-12-extra.yaml");
    std::fs::write(&tmp, patched).unwrap();
    let alpine = dir.join("alpine-3.23.yaml");
    let meta = sightline_vulndb::Metadata::fresh(chrono::Utc::now());
    sightline_vulndb::fixture::write_db(&[tmp.as_path(), alpine.as_path()], &out.join("db"), &meta)
        .unwrap();
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("{prefix}-{}-{n}", std::process::id())
}

/// The (only) ReplicaSet of a Deployment at its current revision.
fn current_rs(c: &Cluster, ns: &str, deployment: &str) -> Value {
    wait_for(
        Duration::from_secs(60),
        "the Deployment's current ReplicaSet",
        || {
            let d = c.get_json(&["-n", ns, "deployment", deployment])?;
            let rev = d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()?
                .to_string();
            let list = c.get_json(&["-n", ns, "replicasets"])?;
            list["items"]
                .as_array()?
                .iter()
                .find(|rs| {
                    rs["metadata"]["ownerReferences"][0]["name"] == deployment
                        && rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                            == rev.as_str()
                })
                .cloned()
        },
    )
}

/// The report `kind` `ns/name`, waited for up to `timeout` (on failure the operator's log is
/// printed when the panic drops the operator).
fn report(c: &Cluster, kind: &str, ns: &str, name: &str, timeout: Duration) -> Value {
    wait_for(timeout, &format!("{kind} {ns}/{name}"), || {
        c.get_json(&["-n", ns, kind, name])
    })
}

/// Count of "scan Job created" log lines for images containing `image_part`.
/// Scan Jobs created for images of `repo` (`library/debian`): by digest (`repo@sha256:..`)
/// once a Pod reported it, else by tag (`repo:tag`, resolved in the Job).
fn jobs_created(op: &Operator, repo: &str) -> usize {
    let (pinned, tagged) = (format!("{repo}@"), format!("{repo}:"));
    op.log_text()
        .lines()
        .filter(|l| l.contains("scan Job created") && (l.contains(&pinned) || l.contains(&tagged)))
        .count()
}

fn vulns_of(r: &Value) -> std::collections::BTreeSet<(String, String, String, String)> {
    r["report"]["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["vulnerabilityID"].as_str().unwrap().to_string(),
                v["resource"].as_str().unwrap().to_string(),
                v["installedVersion"].as_str().unwrap().to_string(),
                v["fixedVersion"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn sightline_cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sightline {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn operator_scans_running_digests_once_and_writes_reports() {
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let image = c.scanner_image(bin());
    let apps = "sl-e2e-apps";
    let system = "sl-e2e-system";
    c.namespace(apps);
    c.namespace(system);

    let work = tempfile::tempdir().unwrap();
    let db_repo = format!("{}/{}/trivy-db", reg.registry, unique("sl-e2e"));
    publish_fixture_db(&format!("{db_repo}:2"));
    let values = work.path().join("values.yaml");
    std::fs::write(
        &values,
        format!(
            "targetNamespaces: {apps}\noperator:\n  scanJobsConcurrentLimit: 2\n  dbUpdateInterval: 2s\n  scannerReportTTL: 24h\ntrivy:\n  dbRepository: {db_repo}\n  nonSslRegistries:\n    a: {}\n    b: {}\n",
            c.pod_registry, c.pod_auth_registry
        ),
    )
    .unwrap();
    let cache: PathBuf = work.path().join("cache");
    let op = Operator::new(
        bin(),
        &c,
        &cache,
        &work.path().join("operator.log"),
        &[
            "--config".into(),
            values.to_str().unwrap().into(),
            "--namespace".into(),
            system.into(),
            "--scan-job-image".into(),
            image.clone(),
        ],
    )
    .start();

    // 1. The quick start: a Deployment on bookworm-curl gets its report with the findings
    //    `sightline image` computes for the same image and DB.
    let curl = format!("{}/library/debian:bookworm-curl", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "create",
        "deployment",
        "vuln-demo",
        &format!("--image={curl}"),
        "--",
        "sleep",
        "infinity",
    ]);
    let rs = current_rs(&c, apps, "vuln-demo");
    let rs_name = rs["metadata"]["name"].as_str().unwrap().to_string();
    let vr_name = format!("replicaset-{rs_name}-debian");
    let vr = report(
        &c,
        "vulnerabilityreports",
        apps,
        &vr_name,
        Duration::from_secs(180),
    );
    let labels = &vr["metadata"]["labels"];
    assert_eq!(labels["trivy-operator.resource.kind"], "ReplicaSet");
    assert_eq!(labels["trivy-operator.resource.name"], rs_name.as_str());
    assert_eq!(labels["trivy-operator.resource.namespace"], apps);
    assert_eq!(labels["trivy-operator.container.name"], "debian");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "sightline");
    assert!(labels["resource-spec-hash"]
        .as_str()
        .is_some_and(|h| !h.is_empty()));
    let owner = &vr["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "ReplicaSet");
    assert_eq!(owner["uid"], rs["metadata"]["uid"]);
    assert_eq!(owner["controller"], true);
    assert_eq!(vr["report"]["artifact"]["repository"], "library/debian");
    assert_eq!(vr["report"]["artifact"]["tag"], "bookworm-curl");
    assert_eq!(vr["report"]["registry"]["server"], c.pod_registry.as_str());
    assert_eq!(vr["report"]["os"]["family"], "debian");
    // Same findings as the CLI on the same image with the same DB.
    let cli = scan_json(&[&format!("{}/library/debian:bookworm-curl", reg.registry)]).json();
    let want: std::collections::BTreeSet<_> = cli["Results"][0]["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["VulnerabilityID"].as_str().unwrap().to_string(),
                v["PkgName"].as_str().unwrap().to_string(),
                v["InstalledVersion"].as_str().unwrap().to_string(),
                v["FixedVersion"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(want.len() > 100, "the CLI finds the bookworm-curl findings");
    assert_eq!(vulns_of(&vr), want);
    let total = summary_total(&vr);
    assert_eq!(usize::try_from(total).unwrap(), want.len());
    // The seed's command works as written.
    let cols = c.kubectl(&[
        "get",
        "vulnerabilityreports",
        "-A",
        "-o",
        "custom-columns=NS:.metadata.namespace,WORKLOAD:.metadata.labels.trivy-operator\\.resource\\.name,CRIT:.report.summary.criticalCount,HIGH:.report.summary.highCount",
    ]);
    assert!(
        cols.lines()
            .any(|l| l.starts_with(apps) && l.contains(&rs_name)),
        "{cols}"
    );
    let wide = c.kubectl(&["-n", apps, "get", "vulnerabilityreports", "-o", "wide"]);
    assert!(
        wide.contains(&vr_name) && wide.contains("Sightline"),
        "{wide}"
    );
    assert_eq!(jobs_created(&op, "library/debian"), 1);

    // 2. Two Deployments on one image: one scan Job.
    let alpine = format!("{}/library/alpine:3.23", c.pod_registry);
    for d in ["web-a", "web-b"] {
        c.kubectl(&[
            "-n",
            apps,
            "create",
            "deployment",
            d,
            &format!("--image={alpine}"),
            "--",
            "sleep",
            "infinity",
        ]);
    }
    for d in ["web-a", "web-b"] {
        let rs = current_rs(&c, apps, d);
        let name = format!(
            "replicaset-{}-alpine",
            rs["metadata"]["name"].as_str().unwrap()
        );
        let r = report(
            &c,
            "vulnerabilityreports",
            apps,
            &name,
            Duration::from_secs(180),
        );
        assert_eq!(r["report"]["os"]["family"], "alpine");
    }
    assert_eq!(jobs_created(&op, "library/alpine"), 1, "{}", op.log_text());

    // 3. The private image, its pull secret on the ServiceAccount: a VulnerabilityReport and
    //    an ExposedSecretReport with the planted secrets, masked.
    c.kubectl(&[
        "-n",
        apps,
        "create",
        "secret",
        "generic",
        "regcred",
        "--type=kubernetes.io/dockerconfigjson",
        &format!(
            "--from-file=.dockerconfigjson={}",
            c.pod_docker_config.display()
        ),
    ]);
    c.kubectl(&[
        "-n",
        apps,
        "patch",
        "serviceaccount",
        "default",
        "-p",
        r#"{"imagePullSecrets":[{"name":"regcred"}]}"#,
    ]);
    let private = format!("{}/private/app:1", c.pod_auth_registry);
    c.kubectl(&[
        "-n",
        apps,
        "create",
        "deployment",
        "private-app",
        &format!("--image={private}"),
        "--",
        "sleep",
        "infinity",
    ]);
    let rs = current_rs(&c, apps, "private-app");
    let name = format!(
        "replicaset-{}-app",
        rs["metadata"]["name"].as_str().unwrap()
    );
    let vr_app = report(
        &c,
        "vulnerabilityreports",
        apps,
        &name,
        Duration::from_secs(240),
    );
    assert_eq!(vr_app["report"]["os"]["family"], "debian");
    let esr = report(
        &c,
        "exposedsecretreports",
        apps,
        &name,
        Duration::from_secs(30),
    );
    let secrets = esr["report"]["secrets"].as_array().unwrap();
    let targets: Vec<&str> = secrets
        .iter()
        .map(|s| s["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.iter().any(|t| t.contains("opt/app/config/.env")),
        "{targets:?}"
    );
    assert!(secrets.len() >= 4, "{esr}");
    for s in secrets {
        // A private key's match is its BEGIN line (the key body is masked in Code).
        if !s["ruleID"].as_str().unwrap().starts_with("private-key") {
            assert!(s["match"].as_str().unwrap().contains('*'), "masked: {s}");
        }
    }
    // The Job-scoped pull Secret went with its Job.
    let leftover = c.kubectl(&[
        "-n",
        system,
        "get",
        "secrets",
        "-l",
        "app.kubernetes.io/managed-by=sightline",
        "-o",
        "name",
    ]);
    wait_for(
        Duration::from_secs(60),
        "scan Jobs and pull Secrets deleted",
        || {
            let jobs = c.kubectl(&["-n", system, "get", "jobs", "-o", "name"]);
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
            (jobs.trim().is_empty() && secrets.trim().is_empty()).then_some(())
        },
    );
    let _ = leftover;

    // 4. A rolling update to a new image scans only the new digest.
    let minbase = format!("{}/library/debian:bookworm-minbase", c.pod_registry);
    c.kubectl(&[
        "-n",
        apps,
        "set",
        "image",
        "deployment/vuln-demo",
        &format!("debian={minbase}"),
    ]);
    wait_for(
        Duration::from_secs(60),
        "the rollout's new revision",
        || {
            let d = c.get_json(&["-n", apps, "deployment", "vuln-demo"])?;
            (d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2").then_some(())
        },
    );
    let rs2 = current_rs(&c, apps, "vuln-demo");
    let rs2_name = rs2["metadata"]["name"].as_str().unwrap().to_string();
    assert_ne!(rs2_name, rs_name);
    let vr2 = report(
        &c,
        "vulnerabilityreports",
        apps,
        &format!("replicaset-{rs2_name}-debian"),
        Duration::from_secs(180),
    );
    assert_eq!(vr2["report"]["artifact"]["tag"], "bookworm-minbase");
    assert_eq!(
        jobs_created(&op, "library/debian"),
        2,
        "one Job per digest: curl, then minbase"
    );

    // 5. A new DB re-matches every stored inventory: reports change, no Job.
    let jobs_before = op.log_text().matches("scan Job created").count();
    let db2 = tempfile::tempdir().unwrap();
    db_with_extra_advisory(db2.path());
    let db2_repo = format!("{}/{}/trivy-db", reg.registry, unique("sl-e2e-db2"));
    publish_db(
        &format!("{db2_repo}:2"),
        &db2.path().join("db"),
        &Default::default(),
        sightline_vulndb::install::DbKind::Vuln.layer_media_type(),
    );
    sightline_cli(&[
        "db",
        "update",
        "--force",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--db-repository",
        &db2_repo,
    ]);
    let updated = wait_for(
        Duration::from_secs(90),
        "reports re-matched against the new DB",
        || {
            let r = c.get_json(&[
                "-n",
                apps,
                "vulnerabilityreports",
                &format!("replicaset-{rs2_name}-debian"),
            ])?;
            r["report"]["vulnerabilities"]
                .as_array()?
                .iter()
                .any(|v| v["vulnerabilityID"] == "CVE-2099-0001")
                .then_some(r)
        },
    );
    assert_eq!(
        vulns_of(&updated).len(),
        vulns_of(&vr2).len() + 1,
        "exactly the new advisory was added"
    );
    // The private app (also Debian with bash) was re-matched too.
    wait_for(Duration::from_secs(60), "the app report re-matched", || {
        let r = c.get_json(&["-n", apps, "vulnerabilityreports", &name])?;
        r["report"]["vulnerabilities"]
            .as_array()?
            .iter()
            .any(|v| v["vulnerabilityID"] == "CVE-2099-0001")
            .then_some(())
    });
    assert_eq!(
        op.log_text().matches("scan Job created").count(),
        jobs_before,
        "no Job for a DB update"
    );

    // 6. Metrics from in-process summaries.
    let metrics = op.metrics();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("trivy_image_vulnerabilities{")
                && l.contains(&format!("namespace=\"{apps}\""))
                && l.contains("severity=\"Low\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("sightline_scans_total{result=\"success\"} 4"),
        "{metrics}"
    );

    // 7. Deleting a Deployment garbage-collects its reports (ownerReferences).
    let rs_a = current_rs(&c, apps, "web-a");
    let name_a = format!(
        "replicaset-{}-alpine",
        rs_a["metadata"]["name"].as_str().unwrap()
    );
    c.kubectl(&["-n", apps, "delete", "deployment", "web-a"]);
    wait_for(
        Duration::from_secs(120),
        "web-a's report garbage-collected",
        || {
            c.get_json(&["-n", apps, "vulnerabilityreports", &name_a])
                .is_none()
                .then_some(())
        },
    );

    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, "--wait=false"]);
    let _ = c.kubectl_try(&["delete", "namespace", system, "--wait=false"]);
}
