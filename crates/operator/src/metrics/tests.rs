use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sightline_api::crd::{
    ExposedSecretReport, ExposedSecretReportData, ExposedSecretReportFields, ExposedSecretSummary,
    VulnerabilityReport, VulnerabilityReportData, VulnerabilityReportFields, VulnerabilitySummary,
};
use sightline_api::naming::{report_labels, ResourceRef};

use super::*;

const DIGEST: &str = "sha256:9f2e6fb1c3c5a4e0d1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";

fn meta(kind: &str, ns: &str, workload: &str, container: &str) -> ObjectMeta {
    let m = report_labels(
        &ResourceRef {
            kind: kind.into(),
            namespace: ns.into(),
            name: workload.into(),
        },
        Some(container),
        Some("abc"),
    );
    ObjectMeta {
        name: Some(sightline_api::naming::container_report_name(
            kind, workload, container,
        )),
        namespace: Some(ns.into()),
        labels: Some(m.labels),
        annotations: (!m.annotations.is_empty()).then_some(m.annotations),
        ..Default::default()
    }
}

fn vuln_report(tag: &str, summary: VulnerabilitySummary) -> VulnerabilityReport {
    let mut data = VulnerabilityReportData {
        summary,
        ..Default::default()
    };
    data.registry.server = "index.docker.io".into();
    data.artifact.repository = "library/nginx".into();
    data.artifact.tag = tag.into();
    data.artifact.digest = DIGEST.into();
    let mut r = VulnerabilityReport::new("x", VulnerabilityReportFields { report: data });
    r.metadata = meta("ReplicaSet", "shop", "web-5d8f", "nginx");
    r
}

fn secret_report() -> ExposedSecretReport {
    let mut data = ExposedSecretReportData {
        summary: ExposedSecretSummary {
            critical_count: 2,
            high_count: 0,
            medium_count: 1,
            low_count: 0,
        },
        ..Default::default()
    };
    data.registry.server = "127.0.0.1:5000".into();
    data.artifact.repository = "private/app".into();
    data.artifact.tag = "1".into();
    let mut r = ExposedSecretReport::new("x", ExposedSecretReportFields { report: data });
    r.metadata = meta("Pod", "default", "app", "app");
    r
}

fn summary(c: u32, h: u32, m: u32, l: u32, u: u32) -> VulnerabilitySummary {
    VulnerabilitySummary {
        critical_count: c,
        high_count: h,
        medium_count: m,
        low_count: l,
        unknown_count: u,
        none_count: 0,
    }
}

/// The sample lines of metric `name` (exact name, followed by `{` or a space).
fn samples<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// Asserts that every one of `lines` is a line of `text`.
fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in\n{text}"
        );
    }
}

/// Every metric name with a `# TYPE` line.
fn typed_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

#[test]
fn trivy_image_vulnerabilities_series() {
    let m = Metrics::new();
    m.set_vulnerability_report(&vuln_report("1.25", summary(1, 2, 3, 4, 5)));
    let text = m.encode();
    let lines = samples(&text, "trivy_image_vulnerabilities");
    let want = |sev: &str, v: u32| {
        format!(
            "trivy_image_vulnerabilities{{namespace=\"shop\",name=\"replicaset-web-5d8f-nginx\",resource_kind=\"ReplicaSet\",resource_name=\"web-5d8f\",container_name=\"nginx\",image_registry=\"index.docker.io\",image_repository=\"library/nginx\",image_tag=\"1.25\",image_digest=\"{DIGEST}\",severity=\"{sev}\"}} {v}"
        )
    };
    let mut got: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    got.sort();
    let mut expected = vec![
        want("Critical", 1),
        want("High", 2),
        want("Medium", 3),
        want("Low", 4),
        want("Unknown", 5),
    ];
    expected.sort();
    assert_eq!(got, expected, "{text}");
    assert!(text.contains("# TYPE trivy_image_vulnerabilities gauge"));
}

#[test]
fn trivy_image_exposedsecrets_series() {
    let m = Metrics::new();
    m.set_exposed_secret_report(&secret_report());
    let text = m.encode();
    let lines = samples(&text, "trivy_image_exposedsecrets");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines.contains(&"trivy_image_exposedsecrets{namespace=\"default\",name=\"pod-app-app\",resource_kind=\"Pod\",resource_name=\"app\",container_name=\"app\",image_registry=\"127.0.0.1:5000\",image_repository=\"private/app\",image_tag=\"1\",image_digest=\"\",severity=\"Critical\"} 2"), "{text}");
    assert!(lines
        .iter()
        .any(|l| l.contains("severity=\"Medium\"") && l.ends_with(" 1")));
    assert!(!text.contains("severity=\"Unknown\""), "{text}");
}

#[test]
fn updating_a_report_replaces_its_series_and_removal_drops_them() {
    let m = Metrics::new();
    m.set_vulnerability_report(&vuln_report("1.25", summary(1, 0, 0, 0, 0)));
    m.set_exposed_secret_report(&secret_report());
    // Same report, new tag: the old tag's series go away.
    m.set_vulnerability_report(&vuln_report("1.26", summary(0, 1, 0, 0, 0)));
    let text = m.encode();
    let lines = samples(&text, "trivy_image_vulnerabilities");
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines.iter().all(|l| l.contains("image_tag=\"1.26\"")));
    assert!(lines
        .iter()
        .any(|l| l.contains("severity=\"High\"") && l.ends_with(" 1")));

    // A second report stays when the first is removed.
    let mut other = vuln_report("1.26", summary(0, 0, 7, 0, 0));
    other.metadata = meta("DaemonSet", "kube-system", "agent", "agent");
    m.set_vulnerability_report(&other);
    m.remove_report("shop", "replicaset-web-5d8f-nginx");
    let text = m.encode();
    let lines = samples(&text, "trivy_image_vulnerabilities");
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines
        .iter()
        .all(|l| l.contains("name=\"daemonset-agent-agent\"")));
    // The secret report of another workload is untouched; removing it drops it.
    assert_eq!(samples(&text, "trivy_image_exposedsecrets").len(), 4);
    m.remove_report("default", "pod-app-app");
    m.remove_vulnerability_report("kube-system", "daemonset-agent-agent");
    let text = m.encode();
    assert!(
        samples(&text, "trivy_image_vulnerabilities").is_empty(),
        "{text}"
    );
    assert!(
        samples(&text, "trivy_image_exposedsecrets").is_empty(),
        "{text}"
    );
    // Removing what is not there is fine.
    m.remove_report("nowhere", "nothing");
}

#[test]
fn long_workload_names_come_from_the_annotation() {
    let m = Metrics::new();
    let mut r = vuln_report("1", summary(0, 0, 0, 0, 1));
    let long = format!("a-{}", "b".repeat(70));
    r.metadata = meta("StatefulSet", "db", &long, "pg");
    m.set_vulnerability_report(&r);
    let text = m.encode();
    assert!(
        text.contains(&format!("resource_name=\"{long}\"")),
        "{text}"
    );
}

#[test]
fn operational_metrics() {
    let m = Metrics::new();
    let text = m.encode();
    // Every reason, result and kind exists at 0 before any event.
    for reason in FailureReason::ALL {
        assert!(
            text.contains(&format!(
                "sightline_scan_failures_total{{reason=\"{}\"}} 0\n",
                reason.as_str()
            )),
            "{text}"
        );
    }
    assert!(text.contains("sightline_scans_total{result=\"success\"} 0\n"));
    assert!(text.contains("sightline_reports_written_total{kind=\"VulnerabilityReport\"} 0\n"));
    assert!(text.contains("sightline_reports_trimmed_total{kind=\"ExposedSecretReport\"} 0\n"));

    m.scan_failed(FailureReason::Auth);
    m.scan_failed(FailureReason::Auth);
    m.scan_failed(FailureReason::Oom);
    m.scan_failed(FailureReason::Internal);
    m.store_recovered();
    m.scan_succeeded();
    m.observe_scan_duration(Duration::from_secs(7));
    m.set_queue_depth(12);
    m.set_workqueue_depth(4);
    m.set_jobs_running(3);
    m.set_inventories(50);
    m.report_written("VulnerabilityReport");
    m.report_trimmed("VulnerabilityReport");
    m.rematch_finished(Duration::from_millis(2500));
    let built = Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap();
    m.db_updated(false);
    m.db_updated(true);
    m.set_db_age(99);
    assert!(m
        .encode()
        .lines()
        .any(|l| l == "sightline_vulndb_age_seconds 99"));
    m.set_vulndb_updated_at(built);
    let text = m.encode_at(built + chrono::Duration::seconds(3600));
    assert_lines(
        &text,
        &[
            "sightline_scan_failures_total{reason=\"auth\"} 2",
            "sightline_scan_failures_total{reason=\"oom\"} 1",
            "sightline_scan_failures_total{reason=\"timeout\"} 0",
            "sightline_scan_failures_total{reason=\"internal\"} 1",
            "sightline_scans_total{result=\"failure\"} 4",
            "sightline_scans_total{result=\"success\"} 1",
            "sightline_scan_queue_depth 12",
            "sightline_workqueue_depth 4",
            "sightline_scan_jobs_running 3",
            "sightline_inventories_stored 50",
            "sightline_inventory_store_recoveries_total 1",
            "sightline_vulndb_age_seconds 3600",
            "sightline_vulndb_updates_total 1",
            "sightline_reports_written_total{kind=\"VulnerabilityReport\"} 1",
            "sightline_reports_trimmed_total{kind=\"VulnerabilityReport\"} 1",
            "sightline_scan_duration_seconds_count 1",
            "sightline_scan_duration_seconds_sum 7.0",
            "sightline_scan_duration_seconds_bucket{le=\"10\"} 1",
            "sightline_scan_duration_seconds_bucket{le=\"5\"} 0",
            "sightline_rematch_duration_seconds_count 1",
        ],
    );
    // The DB age is computed at scrape time.
    m.set_vulndb_updated_at(built + chrono::Duration::seconds(600));
    let text = m.encode_at(built + chrono::Duration::seconds(3600));
    assert!(text
        .lines()
        .any(|l| l == "sightline_vulndb_age_seconds 3000"));
    assert_eq!(
        FailureReason::parse("bad_result"),
        Some(FailureReason::BadResult)
    );
    assert_eq!(FailureReason::parse("nope"), None);
}

#[test]
fn exposed_names_are_exact() {
    let m = Metrics::new();
    m.set_vulnerability_report(&vuln_report("1", summary(1, 0, 0, 0, 0)));
    m.set_exposed_secret_report(&secret_report());
    // Families with labels appear once they have a series.
    m.reconcile_finished("Pod", Duration::from_millis(1), true);
    m.reconcile_error("Pod", "ApiError");
    let names = typed_names(&m.encode());
    let want: BTreeSet<String> = [
        "sightline_scans_total",
        "sightline_scan_failures_total",
        "sightline_scan_duration_seconds",
        "sightline_scan_queue_depth",
        "sightline_workqueue_depth",
        "sightline_runtime_tasks_alive",
        "sightline_scan_jobs_running",
        "sightline_inventories_stored",
        "sightline_inventory_store_recoveries_total",
        "sightline_reconciles_total",
        "sightline_reconcile_duration_seconds",
        "sightline_reconcile_errors_total",
        "sightline_vulndb_age_seconds",
        "sightline_vulndb_updates_total",
        "sightline_rematch_duration_seconds",
        "sightline_reports_written_total",
        "sightline_reports_trimmed_total",
        "trivy_image_vulnerabilities",
        "trivy_image_exposedsecrets",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, want);
    // No doubled suffix anywhere.
    assert!(!m.encode().contains("_total_total"));
}

/// The metrics row of DESIGN.md's compatibility contract: every metric it names is either
/// exported here (with exactly the listed labels) or explicitly left to another module.
#[test]
fn design_contract_metrics() {
    let shared = sightline_vulndb::fixture::testdata_dir()
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("DESIGN.md"))
        .unwrap();
    let design = std::fs::read_to_string(&shared).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): set SIGHTLINE_SHARED_DIR to the project's shared directory",
            shared.display()
        )
    });
    let row = design
        .lines()
        .find(|l| l.starts_with("| metrics |"))
        .expect("DESIGN.md has a metrics row in its contract table");
    let contract: BTreeSet<String> = row
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
        .filter(|w| w.starts_with("trivy_") || w.starts_with("sightline_"))
        .map(String::from)
        .collect();
    // Here; the other report kinds' metrics belong to their controllers.
    let covered = ["trivy_image_vulnerabilities", "trivy_image_exposedsecrets"];
    let elsewhere = [
        "trivy_resource_configaudits",
        "trivy_role_rbacassessments",
        "trivy_clusterrole_clusterrbacassessments",
        "trivy_resource_infraassessments",
        "trivy_cluster_compliance",
        "trivy_vulnerability_id",
    ];
    let known: BTreeSet<String> = covered
        .iter()
        .chain(elsewhere.iter())
        .map(|s| s.to_string())
        .chain(["sightline_*".to_string()])
        .collect();
    assert_eq!(
        contract, known,
        "DESIGN.md's metrics row changed: decide where each metric is exported"
    );

    let m = Metrics::new();
    m.set_vulnerability_report(&vuln_report("1", summary(1, 0, 0, 0, 0)));
    m.set_exposed_secret_report(&secret_report());
    let text = m.encode();
    // trivy_image_vulnerabilities' labels, exactly as the contract lists them.
    let listed = row
        .split("trivy_image_vulnerabilities{")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("the row lists trivy_image_vulnerabilities' labels");
    let listed: Vec<&str> = listed.split(',').collect();
    for name in covered {
        let lines = samples(&text, name);
        assert!(!lines.is_empty(), "{name} missing in\n{text}");
        for line in lines {
            let labels = &line[line.find('{').unwrap() + 1..line.rfind('}').unwrap()];
            let keys: Vec<&str> = labels
                .split("\",")
                .map(|kv| kv.split('=').next().unwrap())
                .collect();
            assert_eq!(keys, listed, "{line}");
        }
    }
    // Every sightline_* metric DESIGN.md names anywhere is exported.
    let names = typed_names(&text);
    for word in design.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("sightline_") && word.len() > "sightline_".len() {
            let family = word
                .strip_suffix("_bucket")
                .or_else(|| word.strip_suffix("_count"))
                .or_else(|| word.strip_suffix("_sum"))
                .unwrap_or(word);
            assert!(
                names.contains(family),
                "DESIGN.md names {word}: not exported"
            );
        }
    }
}

#[test]
fn shared_across_threads() {
    let m = Arc::new(Metrics::new());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let m = Arc::clone(&m);
            std::thread::spawn(move || {
                for j in 0..50 {
                    let mut r = vuln_report("1", summary(j, 0, 0, 0, 0));
                    r.metadata = meta("Pod", "ns", &format!("p{i}-{j}"), "c");
                    m.set_vulnerability_report(&r);
                    m.scan_failed(FailureReason::Registry);
                    if j % 2 == 0 {
                        m.remove_report("ns", r.metadata.name.as_deref().unwrap());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let text = m.encode();
    assert_eq!(
        samples(&text, "trivy_image_vulnerabilities").len(),
        4 * 25 * 5
    );
    assert_eq!(m.reports_tracked(), 4 * 25);
    assert!(text.contains("sightline_scan_failures_total{reason=\"registry\"} 200\n"));
}

#[test]
fn reconcile_metrics() {
    let m = Metrics::new();
    assert_eq!(m.reconciles_total(), 0);
    m.reconcile_finished("ReplicaSet", Duration::from_millis(30), true);
    m.reconcile_finished("ReplicaSet", Duration::from_millis(30), false);
    m.reconcile_finished("Pod", Duration::from_secs(2), true);
    m.reconcile_error("ReplicaSet", "ApiError");
    assert_eq!(m.reconciles_total(), 3);
    let text = m.encode();
    assert_lines(
        &text,
        &[
            "sightline_reconciles_total{kind=\"ReplicaSet\",result=\"success\"} 1",
            "sightline_reconciles_total{kind=\"ReplicaSet\",result=\"error\"} 1",
            "sightline_reconciles_total{kind=\"Pod\",result=\"success\"} 1",
            "sightline_reconcile_errors_total{kind=\"ReplicaSet\",reason=\"ApiError\"} 1",
            "sightline_reconcile_duration_seconds_count 3",
        ],
    );
}

#[test]
fn has_report_needs_both_kinds() {
    let m = Metrics::new();
    let name = "replicaset-web-5d8f-nginx";
    assert!(!m.has_report("shop", name));
    m.set_vulnerability_report(&vuln_report("1", summary(1, 0, 0, 0, 0)));
    assert!(!m.has_report("shop", name), "the secret report is missing");
    let mut secrets = secret_report();
    secrets.metadata = meta("ReplicaSet", "shop", "web-5d8f", "nginx");
    m.set_exposed_secret_report(&secrets);
    assert!(m.has_report("shop", name));
    assert!(!m.has_report("other", name));
    m.remove_report("shop", name);
    assert!(!m.has_report("shop", name));
}
