//! Results to ConfigAuditReport / RbacAssessmentReport `.report` data (the operator's path).

mod support;

use sightline_api::config_audit::{config_audit_report, is_rbac_kind, rbac_assessment_report};
use sightline_policy::{parse_documents, report};

#[test]
fn config_audit_and_rbac_reports_from_real_manifests() {
    let root = support::shared_testdata();
    let deployment = root.join("k8s-manifests/polaris/runAsPrivileged/failure.yaml");
    let objs = parse_documents(&std::fs::read(deployment).unwrap()).unwrap();
    let results = support::engine().evaluate(&objs[0].value);
    let rows: Vec<_> = results.iter().filter_map(report::row).collect();
    assert_eq!(rows.len(), results.len());
    assert!(!is_rbac_kind(&objs[0].kind));
    let now = chrono::Utc::now();
    let data = config_audit_report(&rows, now);
    let failed: Vec<_> = results.iter().filter(|r| r.failed()).collect();
    let count = |sev: &str| {
        u32::try_from(
            failed
                .iter()
                .filter(|r| r.check.severity.as_str() == sev)
                .count(),
        )
        .unwrap()
    };
    assert_eq!(data.summary.critical_count, count("CRITICAL"));
    assert_eq!(data.summary.high_count, count("HIGH"));
    assert_eq!(data.summary.medium_count, count("MEDIUM"));
    assert_eq!(data.summary.low_count, count("LOW"));
    let ksv017 = data.checks.iter().find(|c| c.check_id == "KSV017").unwrap();
    assert!(!ksv017.success);
    assert_eq!(ksv017.severity, "HIGH");
    assert_eq!(ksv017.category, "Kubernetes Security Check");
    assert!(ksv017.messages[0].contains("securityContext.privileged"));
    assert!(!ksv017.remediation.is_empty());
    assert_eq!(data.checks.len(), results.len());

    // The cluster-admin ClusterRole: an RbacAssessmentReport.
    let roles =
        parse_documents(&std::fs::read(root.join("k8s-rbac/cluster-roles.yaml")).unwrap()).unwrap();
    let admin = roles.iter().find(|o| o.name == "cluster-admin").unwrap();
    assert!(is_rbac_kind(&admin.kind));
    let results = support::engine().evaluate(&admin.value);
    let rows: Vec<_> = results.iter().filter_map(report::row).collect();
    let data = rbac_assessment_report(&rows);
    // 17 failed checks: KSV041-KSV056 (16) and KSV0114; CRITICAL among them: KSV041, 043,
    // 044, 045, 046, 050, 052 and 0114.
    let failed = data.checks.iter().filter(|c| !c.success).count();
    assert_eq!(failed, 17);
    assert_eq!(data.summary.critical_count, 8);
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["checks"][0]["success"], false);
    assert_eq!(json["scanner"]["name"], "Sightline");
}
