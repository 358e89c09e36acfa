//! Config audit and RBAC assessment output: the `.report` of a ConfigAuditReport /
//! RbacAssessmentReport (types in [`crate::crd`]) built from check results.
//!
//! The check rows and Trivy's misconfiguration JSON schema live in
//! [`sightline_report::misconf`] and are re-exported here under their old paths.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::crd::{Check, CheckSummary, ConfigAuditReportData, RbacAssessmentReportData, Scanner};

pub use sightline_report::misconf::{
    CauseMetadata, CheckRow, MisconfReport, MisconfResult, MisconfSummary, Misconfiguration,
};

impl From<&CheckRow> for Check {
    fn from(r: &CheckRow) -> Check {
        Check {
            check_id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            severity: r.severity.as_str().to_string(),
            category: r.category.clone(),
            messages: r.messages.clone(),
            remediation: r.remediation.clone(),
            success: r.success,
            scope: r.scope.clone(),
        }
    }
}

/// Checks in report order: failed first, then by descending severity, then by ID.
fn checks_of(rows: &[CheckRow]) -> Vec<Check> {
    let mut rows: Vec<&CheckRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (a.success, std::cmp::Reverse(a.severity), &a.id).cmp(&(
            b.success,
            std::cmp::Reverse(b.severity),
            &b.id,
        ))
    });
    rows.into_iter().map(Check::from).collect()
}

/// The `.report` of a ConfigAuditReport (or ClusterConfigAuditReport): every check with its
/// verdict, the failed checks counted by severity, Sightline as the scanner, `now` as the
/// update timestamp.
pub fn config_audit_report(rows: &[CheckRow], now: DateTime<Utc>) -> ConfigAuditReportData {
    let checks = checks_of(rows);
    ConfigAuditReportData {
        update_timestamp: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        scanner: Scanner::sightline(),
        summary: CheckSummary::of(&checks),
        checks,
    }
}

/// The `.report` of an RbacAssessmentReport (or ClusterRbacAssessmentReport).
pub fn rbac_assessment_report(rows: &[CheckRow]) -> RbacAssessmentReportData {
    let checks = checks_of(rows);
    RbacAssessmentReportData {
        scanner: Scanner::sightline(),
        summary: CheckSummary::of(&checks),
        checks,
    }
}

/// True for the kinds whose report is an RbacAssessmentReport (Role, ClusterRole) rather than
/// a ConfigAuditReport.
pub fn is_rbac_kind(kind: &str) -> bool {
    matches!(kind, "Role" | "ClusterRole")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vuln::Severity;

    fn row(id: &str, sev: Severity, success: bool) -> CheckRow {
        CheckRow {
            id: id.into(),
            title: format!("{id} title"),
            description: "d".into(),
            severity: sev,
            category: "Kubernetes Security Check".into(),
            remediation: "r".into(),
            success,
            messages: if success {
                vec![]
            } else {
                vec![format!("{id} failed")]
            },
            scope: None,
        }
    }

    #[test]
    fn config_audit_report_fields_and_summary() {
        let rows = [
            row("KSV001", Severity::Medium, false),
            row("KSV017", Severity::High, false),
            row("KSV003", Severity::Low, true),
            row("KSV044", Severity::Critical, false),
        ];
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = config_audit_report(&rows, now);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["updateTimestamp"], "2024-05-01T10:00:00Z");
        assert_eq!(v["scanner"]["name"], "Sightline");
        assert_eq!(
            v["summary"],
            serde_json::json!({"criticalCount": 1, "highCount": 1, "mediumCount": 1, "lowCount": 0})
        );
        let ids: Vec<_> = r.checks.iter().map(|c| c.check_id.as_str()).collect();
        assert_eq!(ids, ["KSV044", "KSV017", "KSV001", "KSV003"]);
        let c = &v["checks"][0];
        for key in [
            "checkID",
            "title",
            "description",
            "severity",
            "category",
            "messages",
            "remediation",
            "success",
        ] {
            assert!(c.get(key).is_some(), "{key} missing in {c}");
        }
        assert_eq!(c["severity"], "CRITICAL");
        assert_eq!(v["checks"][3]["success"], true);
    }

    #[test]
    fn rbac_report_has_no_timestamp() {
        let r = rbac_assessment_report(&[row("KSV041", Severity::Critical, false)]);
        let v = serde_json::to_value(&r).unwrap();
        assert!(v.get("updateTimestamp").is_none());
        assert_eq!(v["summary"]["criticalCount"], 1);
        assert!(is_rbac_kind("ClusterRole") && !is_rbac_kind("Deployment"));
    }
}
