use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::TimeZone;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sightline_api::crd::{
    ExposedSecretReportData, ExposedSecretSummary, Vulnerability, VulnerabilityReportData,
    VulnerabilitySummary,
};
use sightline_api::report::{DetectedSecret, ScanResult, CLASS_SECRET};
use sightline_api::vuln::Severity;

use super::size_guard::{fit_to_budget, json_len};
use super::*;

const DIGEST: &str = "sha256:9f2e6fb1c3c5a4e0d1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
const IMAGE: &str = "127.0.0.1:5000/library/debian:bookworm-curl";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

/// The trivy.db written from the shared real advisory fixtures (once per test run).
fn db() -> &'static VulnDb {
    static DB: OnceLock<(PathBuf, VulnDb)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        sightline_vulndb::fixture::write_default_fixture_db(&dir).unwrap();
        let db = VulnDb::open(&dir.join("trivy.db")).unwrap();
        (dir, db)
    })
    .1
}

/// The VulnerabilityReport of [`target`] for [`debian_scan`] with the default settings.
fn default_vulnerability_report() -> VulnerabilityReport {
    vulnerability_report(
        &target(),
        &debian_scan(),
        db(),
        &ReportSettings::default(),
        now(),
    )
    .unwrap()
}

fn target() -> ContainerTarget {
    ContainerTarget {
        resource: ResourceRef {
            kind: "ReplicaSet".into(),
            namespace: "shop".into(),
            name: "checkout-7c9f".into(),
        },
        api_version: "apps/v1".into(),
        uid: "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab".into(),
        container: "checkout".into(),
        image: IMAGE.into(),
        digest: DIGEST.into(),
        spec_hash: "5d8f7b9c4".into(),
    }
}

fn pkg(name: &str, version: &str, src: &str, src_version: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{name}@{version}"),
        "name": name,
        "version": version,
        "src_name": src,
        "src_version": src_version,
        "file_path": "var/lib/dpkg/status"
    })
}

/// A Debian 12 image with old openssl and curl (fixed advisories) plus apt and bash
/// (LOW advisories with no fix), and two secrets.
fn debian_scan() -> ImageScan {
    let mut s: ImageScan = serde_json::from_value(serde_json::json!({
        "artifact_name": IMAGE,
        "image_id": "sha256:abc",
        "inventory": {
            "os": {"family": "debian", "name": "12.15"},
            "os_packages": [
                pkg("apt", "2.6.1", "apt", "2.6.1"),
                pkg("bash", "5.2.15-2+b2", "bash", "5.2.15-2"),
                pkg("curl", "7.88.1-10+deb12u5", "curl", "7.88.1-10+deb12u5"),
                pkg("libssl3", "3.0.11-1~deb12u2", "openssl", "3.0.11-1~deb12u2"),
            ]
        }
    }))
    .unwrap();
    let secret = |rule: &str, severity| DetectedSecret {
        rule_id: rule.into(),
        category: "AWS".into(),
        severity,
        title: format!("{rule} title"),
        matched: "KEY=********".into(),
        offset: 0,
        ..Default::default()
    };
    s.secrets = Some(vec![ScanResult {
        target: "/app/.env".into(),
        class: CLASS_SECRET.into(),
        secrets: vec![
            secret("aws-access-key-id", Severity::Critical),
            secret("aws-secret-access-key", Severity::High),
            secret("generic-token", Severity::Low),
        ],
        ..Default::default()
    }]);
    s
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn names_labels_annotations_and_owner() {
    let s = ReportSettings {
        ttl: Some(Duration::from_secs(24 * 3600)),
        ..Default::default()
    };
    let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap();
    let want_labels = labels(&[
        ("trivy-operator.resource.kind", "ReplicaSet"),
        ("trivy-operator.resource.name", "checkout-7c9f"),
        ("trivy-operator.resource.namespace", "shop"),
        ("trivy-operator.container.name", "checkout"),
        ("resource-spec-hash", "5d8f7b9c4"),
        ("app.kubernetes.io/managed-by", "sightline"),
    ]);
    let want_owner = OwnerReference {
        api_version: "apps/v1".into(),
        kind: "ReplicaSet".into(),
        name: "checkout-7c9f".into(),
        uid: "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab".into(),
        controller: Some(true),
        block_owner_deletion: Some(false),
    };
    let want_meta = ObjectMeta {
        name: Some("replicaset-checkout-7c9f-checkout".into()),
        namespace: Some("shop".into()),
        labels: Some(want_labels),
        annotations: Some(labels(&[(
            "trivy-operator.aquasecurity.github.io/report-ttl",
            "24h0m0s",
        )])),
        owner_references: Some(vec![want_owner]),
        ..Default::default()
    };
    assert_eq!(r.metadata, want_meta);
    let secrets = exposed_secret_report(&target(), &debian_scan(), &s, now()).unwrap();
    assert_eq!(secrets.metadata, want_meta);

    // The wire form of the owner reference.
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["apiVersion"], "aquasecurity.github.io/v1alpha1");
    assert_eq!(j["kind"], "VulnerabilityReport");
    assert_eq!(
        j["metadata"]["ownerReferences"],
        serde_json::json!([{
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "checkout-7c9f",
            "uid": "6b1f5a1e-2a4b-4c1d-9e0f-0123456789ab",
            "controller": true,
            "blockOwnerDeletion": false
        }])
    );

    // No TTL: no annotations at all.
    let r = default_vulnerability_report();
    assert_eq!(r.metadata.annotations, None);
}

#[test]
fn long_workload_names_get_hashed_report_names_and_the_name_annotation() {
    let mut t = target();
    t.resource.kind = "StatefulSet".into();
    t.resource.name = format!("a-{}", "x".repeat(70));
    t.api_version = "apps/v1".into();
    let r = exposed_secret_report(&t, &debian_scan(), &ReportSettings::default(), now()).unwrap();
    let name = r.metadata.name.clone().unwrap();
    assert_eq!(
        name,
        container_report_name("StatefulSet", &t.resource.name, "checkout")
    );
    assert!(
        name.starts_with("statefulset-") && name.len() <= 63,
        "{name}"
    );
    let labels = r.metadata.labels.as_ref().unwrap();
    assert!(!labels.contains_key("trivy-operator.resource.name"));
    assert!(labels.contains_key("trivy-operator.resource.name-hash"));
    assert_eq!(
        r.metadata.annotations.as_ref().unwrap()["trivy-operator.resource.name"],
        t.resource.name
    );
    assert_eq!(
        r.metadata.owner_references.as_ref().unwrap()[0].name,
        t.resource.name
    );
}

#[test]
fn vulnerability_report_body_and_summary() {
    let r = default_vulnerability_report();
    let report = &r.spec.report;
    assert_eq!(report.registry.server, "127.0.0.1:5000");
    assert_eq!(report.artifact.repository, "library/debian");
    assert_eq!(report.artifact.tag, "bookworm-curl");
    assert_eq!(report.artifact.digest, DIGEST);
    assert_eq!(report.os.family, "debian");
    assert_eq!(report.update_timestamp, "2026-11-27T12:00:00Z");
    let v = &report.vulnerabilities;
    assert!(v.len() > 10, "{} findings", v.len());
    assert_eq!(report.summary, VulnerabilitySummary::of(v));
    for pkg in ["apt", "bash", "curl", "libssl3"] {
        assert!(v.iter().any(|x| x.resource == pkg), "no finding for {pkg}");
    }
    // apt's LOW advisory has no fix in Debian 12.
    let apt = v
        .iter()
        .find(|x| x.vulnerability_id == "CVE-2011-3374")
        .unwrap();
    assert_eq!(
        (apt.severity, apt.fixed_version.as_str()),
        (Severity::Low, "")
    );
    assert!(report.summary.low_count >= 2);
    assert!(report.summary.unknown_count > 0);
    assert_eq!(trimmed_counts(&r.metadata), None);
}

#[test]
fn filters_apply() {
    let all = default_vulnerability_report().spec.report;
    let fixed = all
        .vulnerabilities
        .iter()
        .filter(|v| !v.fixed_version.is_empty())
        .count();
    assert!(fixed > 0 && fixed < all.vulnerabilities.len());

    let s = ReportSettings {
        filters: Filters {
            ignore_unfixed: true,
            severities: vec![],
        },
        ..Default::default()
    };
    let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now())
        .unwrap()
        .spec
        .report;
    assert_eq!(r.vulnerabilities.len(), fixed);
    assert!(r
        .vulnerabilities
        .iter()
        .all(|v| !v.fixed_version.is_empty()));
    assert_eq!(r.summary, VulnerabilitySummary::of(&r.vulnerabilities));

    let s = ReportSettings {
        filters: Filters {
            ignore_unfixed: false,
            severities: vec![Severity::Low, Severity::Critical],
        },
        ..Default::default()
    };
    let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now())
        .unwrap()
        .spec
        .report;
    assert_eq!(r.summary.low_count, all.summary.low_count);
    assert_eq!(r.summary.unknown_count, 0);
    assert_eq!(
        u32::try_from(r.vulnerabilities.len()).unwrap(),
        all.summary.low_count
    );
    assert!(r
        .vulnerabilities
        .iter()
        .all(|v| v.severity == Severity::Low));

    // The severity filter applies to secrets too.
    let secrets = exposed_secret_report(&target(), &debian_scan(), &s, now())
        .unwrap()
        .spec
        .report;
    let rules: Vec<&str> = secrets.secrets.iter().map(|x| x.rule_id.as_str()).collect();
    assert_eq!(rules, ["aws-access-key-id", "generic-token"]);
}

#[test]
fn exposed_secret_report_body_and_summary() {
    let r = exposed_secret_report(&target(), &debian_scan(), &ReportSettings::default(), now())
        .unwrap();
    let report = &r.spec.report;
    assert_eq!(report.artifact.digest, DIGEST);
    assert_eq!(report.secrets.len(), 3);
    assert_eq!(report.secrets[0].target, "/app/.env");
    assert_eq!(
        report.summary,
        ExposedSecretSummary {
            critical_count: 1,
            high_count: 1,
            medium_count: 0,
            low_count: 1,
        }
    );
    // A scan with secret scanning off: an empty report.
    let mut scan = debian_scan();
    scan.secrets = None;
    let r = exposed_secret_report(&target(), &scan, &ReportSettings::default(), now()).unwrap();
    assert!(r.spec.report.secrets.is_empty());
    assert_eq!(r.spec.report.summary, ExposedSecretSummary::default());
}

#[test]
fn bad_image_reference_is_an_error_naming_the_container() {
    let mut t = target();
    t.image = "Not/A:-valid".into();
    let err = vulnerability_report(&t, &debian_scan(), db(), &ReportSettings::default(), now())
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ReportError::Image { .. }), "{msg}");
    assert!(
        msg.contains("ReplicaSet/shop/checkout-7c9f container checkout"),
        "{msg}"
    );
}

/// A report of `n` findings with long descriptions, in Trivy's order, severities mixed.
fn huge_report(n: usize) -> VulnerabilityReport {
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];
    let vulnerabilities: Vec<Vulnerability> = (0..n)
        .map(|i| Vulnerability {
            vulnerability_id: format!("CVE-2026-{i:05}"),
            resource: format!("pkg{:04}", i / 10),
            installed_version: "1.0-1".into(),
            fixed_version: if i % 3 == 0 {
                String::new()
            } else {
                "1.0-2".into()
            },
            severity: severities[(i * 7 + i / 10) % 5],
            title: format!("pkg{:04}: a problem in a function", i / 10),
            description: format!("Issue {i}: ").repeat(40),
            primary_link: format!("https://avd.aquasec.com/nvd/cve-2026-{i:05}"),
            links: vec![format!(
                "https://security-tracker.debian.org/tracker/CVE-2026-{i:05}"
            )],
            target: format!("{IMAGE} (debian 12.15)"),
            class: "os-pkgs".into(),
            package_type: "debian".into(),
            ..Default::default()
        })
        .collect();
    let data = VulnerabilityReportData {
        summary: VulnerabilitySummary::of(&vulnerabilities),
        vulnerabilities,
        ..Default::default()
    };
    let mut r = VulnerabilityReport::new(
        &target().report_name(),
        VulnerabilityReportFields { report: data },
    );
    r.metadata = metadata(&target(), &ReportSettings::default());
    r
}

#[test]
fn huge_report_is_trimmed_under_budget_deterministically() {
    let original = huge_report(30_000);
    let full_size = json_len(&original).unwrap();
    assert!(full_size > 10 * DEFAULT_MAX_REPORT_BYTES, "{full_size}");

    let started = std::time::Instant::now();
    let mut a = original.clone();
    let trimmed = fit_to_budget(&mut a, DEFAULT_MAX_REPORT_BYTES).unwrap();
    let elapsed = started.elapsed();
    eprintln!("trimmed {full_size} bytes of 30,000 entries in {elapsed:?}");
    let mut b = original.clone();
    fit_to_budget(&mut b, DEFAULT_MAX_REPORT_BYTES).unwrap();

    let json_a = serde_json::to_vec(&a).unwrap();
    assert_eq!(json_a, serde_json::to_vec(&b).unwrap(), "not deterministic");
    assert!(json_a.len() <= DEFAULT_MAX_REPORT_BYTES, "{}", json_a.len());
    // Close to the budget: the estimate wastes at most a comma per entry.
    assert!(
        json_a.len() > DEFAULT_MAX_REPORT_BYTES - 5_000,
        "{}",
        json_a.len()
    );

    let kept = &a.spec.report.vulnerabilities;
    assert_eq!(trimmed, Some((kept.len(), 30_000)));
    assert_eq!(
        a.metadata.annotations.as_ref().unwrap()[TRIMMED_ANNOTATION],
        format!("{}/30000", kept.len())
    );
    assert_eq!(trimmed_counts(&a.metadata), Some((kept.len(), 30_000)));
    // The summary still counts every finding.
    assert_eq!(a.spec.report.summary, original.spec.report.summary);
    assert_eq!(a.spec.report.summary.total(), 30_000);

    // Lowest severities went first: every kept entry is at least as severe as every
    // dropped one, and within the boundary severity the kept ones are the first ones.
    let all = &original.spec.report.vulnerabilities;
    let kept_ids: std::collections::HashSet<&str> =
        kept.iter().map(|v| v.vulnerability_id.as_str()).collect();
    let min_kept = kept.iter().map(|v| v.severity).min().unwrap();
    let max_dropped = all
        .iter()
        .filter(|v| !kept_ids.contains(v.vulnerability_id.as_str()))
        .map(|v| v.severity)
        .max()
        .unwrap();
    assert!(
        min_kept >= max_dropped,
        "{min_kept:?} kept, {max_dropped:?} dropped"
    );
    assert!(kept.iter().all(|v| v.severity > Severity::Unknown));
    let boundary: Vec<bool> = all
        .iter()
        .filter(|v| v.severity == max_dropped)
        .map(|v| kept_ids.contains(v.vulnerability_id.as_str()))
        .collect();
    let first_dropped = boundary.iter().position(|k| !k).unwrap();
    assert!(boundary[first_dropped..].iter().all(|k| !k));
    // Kept entries keep their order.
    let positions: Vec<usize> = kept
        .iter()
        .map(|v| v.vulnerability_id[9..].parse().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    // Kept entries are untouched.
    assert_eq!(
        kept[0],
        *all.iter()
            .find(|v| v.vulnerability_id == kept[0].vulnerability_id)
            .unwrap()
    );
    // Linear work (about 2 s in a debug build here); re-serializing the report
    // once per dropped entry would take hours.
    assert!(elapsed.as_secs() < 20, "{elapsed:?}");
}

#[test]
fn report_under_budget_is_untouched() {
    let original = huge_report(100);
    let mut r = original.clone();
    assert_eq!(
        fit_to_budget(&mut r, DEFAULT_MAX_REPORT_BYTES).unwrap(),
        None
    );
    assert_eq!(r, original);
    // Exactly at the budget fits.
    let size = json_len(&original).unwrap();
    assert_eq!(fit_to_budget(&mut r, size).unwrap(), None);
    assert_eq!(
        fit_to_budget(&mut r, size - 1).unwrap().map(|t| t.1),
        Some(100)
    );
    assert!(json_len(&r).unwrap() < size);
}

#[test]
fn trimming_through_the_public_functions() {
    let full = default_vulnerability_report();
    let size = json_len(&full).unwrap();
    let s = ReportSettings {
        max_report_bytes: size - 2_000,
        ..Default::default()
    };
    let r = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap();
    assert!(json_len(&r).unwrap() <= s.max_report_bytes);
    let total = full.spec.report.vulnerabilities.len();
    let kept = r.spec.report.vulnerabilities.len();
    assert!(kept < total);
    assert_eq!(trimmed_counts(&r.metadata), Some((kept, total)));
    assert_eq!(r.spec.report.summary, full.spec.report.summary);
    // The fixture's findings are UNKNOWN and LOW: the UNKNOWN ones went first.
    assert!(
        r.spec
            .report
            .vulnerabilities
            .iter()
            .filter(|v| v.severity == Severity::Low)
            .count()
            == full.spec.report.summary.low_count as usize
    );

    // Secrets: the LOW one goes first.
    let full = exposed_secret_report(&target(), &debian_scan(), &ReportSettings::default(), now())
        .unwrap();
    let size = json_len(&full).unwrap();
    let s = ReportSettings {
        max_report_bytes: size - 10,
        ..Default::default()
    };
    let r = exposed_secret_report(&target(), &debian_scan(), &s, now()).unwrap();
    let rules: Vec<&str> = r
        .spec
        .report
        .secrets
        .iter()
        .map(|x| x.rule_id.as_str())
        .collect();
    assert_eq!(rules, ["aws-access-key-id", "aws-secret-access-key"]);
    assert_eq!(trimmed_counts(&r.metadata), Some((2, 3)));
    assert_eq!(r.spec.report.summary.low_count, 1);
}

#[test]
fn a_budget_too_small_for_an_empty_report_is_an_error() {
    let s = ReportSettings {
        max_report_bytes: 300,
        ..Default::default()
    };
    let err = vulnerability_report(&target(), &debian_scan(), db(), &s, now()).unwrap_err();
    assert!(
        matches!(err, ReportError::TooLarge { budget: 300, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("replicaset-checkout-7c9f-checkout"));
    let empty = ExposedSecretReport::new(
        "x",
        ExposedSecretReportFields {
            report: ExposedSecretReportData::default(),
        },
    );
    let mut r = empty.clone();
    assert!(fit_to_budget(&mut r, 10).is_err());
}
