//! Config audit and RBAC assessment output: the `.report` of a ConfigAuditReport /
//! RbacAssessmentReport (types in [`crate::crd`]) built from check results, and Trivy's
//! misconfiguration JSON schema (`trivy config --format json`) that `sightline config` emits.
//!
//! The policy engine turns its results into [`CheckRow`]s; everything here is pure data.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::crd::{
    Check, CheckScope, CheckSummary, ConfigAuditReportData, RbacAssessmentReportData, Scanner,
};
use crate::vuln::Severity;

/// One check's verdict on one object, as the reports need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// Check ID (`KSV012`).
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// Category (`Kubernetes Security Check`).
    pub category: String,
    /// Recommended action.
    pub remediation: String,
    /// Pass or fail.
    pub success: bool,
    /// Failure messages (empty when passed).
    pub messages: Vec<String>,
    /// The section audited (e.g. `{type: Container, value: nginx}`), when known.
    pub scope: Option<CheckScope>,
}

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

/// `trivy config --format json`: the whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MisconfReport {
    /// Always 2.
    #[serde(rename = "SchemaVersion")]
    pub schema_version: u32,
    /// RFC 3339 time of the scan.
    #[serde(rename = "CreatedAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// What was scanned (the path given, or `-`).
    #[serde(rename = "ArtifactName")]
    pub artifact_name: String,
    /// `filesystem`.
    #[serde(rename = "ArtifactType")]
    pub artifact_type: String,
    /// One result per file.
    #[serde(rename = "Results", default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<MisconfResult>,
}

/// Successes and failures of one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MisconfSummary {
    /// Passed checks.
    #[serde(rename = "Successes")]
    pub successes: u32,
    /// Failed checks.
    #[serde(rename = "Failures")]
    pub failures: u32,
}

/// One file's misconfigurations (`Results[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MisconfResult {
    /// The file (relative to the scanned directory) or `-`.
    #[serde(rename = "Target")]
    pub target: String,
    /// `config`.
    #[serde(rename = "Class")]
    pub class: String,
    /// `kubernetes`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Counts.
    #[serde(rename = "MisconfSummary")]
    pub summary: MisconfSummary,
    /// Failed checks (and passed ones with `--include-passed`).
    #[serde(
        rename = "Misconfigurations",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub misconfigurations: Vec<Misconfiguration>,
}

/// Where a misconfiguration is (`CauseMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseMetadata {
    /// The object, e.g. `Deployment/default/web`.
    #[serde(rename = "Resource", default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// `Kubernetes`.
    #[serde(rename = "Provider")]
    pub provider: String,
    /// `general`.
    #[serde(rename = "Service")]
    pub service: String,
    /// First line (omitted when unknown).
    #[serde(rename = "StartLine", default, skip_serializing_if = "is_zero")]
    pub start_line: usize,
    /// Last line.
    #[serde(rename = "EndLine", default, skip_serializing_if = "is_zero")]
    pub end_line: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One check verdict (`Misconfigurations[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misconfiguration {
    /// The check category (`Kubernetes Security Check`).
    #[serde(rename = "Type")]
    pub kind: String,
    /// `KSV012`.
    #[serde(rename = "ID")]
    pub id: String,
    /// `AVD-KSV-0012`.
    #[serde(rename = "AVDID")]
    pub avd_id: String,
    /// Title.
    #[serde(rename = "Title")]
    pub title: String,
    /// Description.
    #[serde(rename = "Description")]
    pub description: String,
    /// The failure message (or `No issues found` when passed).
    #[serde(rename = "Message")]
    pub message: String,
    /// The Rego package.
    #[serde(rename = "Namespace")]
    pub namespace: String,
    /// The rule evaluated.
    #[serde(rename = "Query")]
    pub query: String,
    /// Recommended action.
    #[serde(rename = "Resolution")]
    pub resolution: String,
    /// Severity.
    #[serde(rename = "Severity")]
    pub severity: Severity,
    /// Documentation link.
    #[serde(rename = "PrimaryURL")]
    pub primary_url: String,
    /// More links.
    #[serde(rename = "References", default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// `PASS` or `FAIL`.
    #[serde(rename = "Status")]
    pub status: String,
    /// Where.
    #[serde(rename = "CauseMetadata")]
    pub cause: CauseMetadata,
}

impl MisconfResult {
    /// A result for `target` with `misconfigurations`, counting PASS/FAIL into the summary;
    /// misconfigurations are sorted (failures first, severity descending, ID, line).
    pub fn new(target: &str, mut misconfigurations: Vec<Misconfiguration>) -> Self {
        let mut summary = MisconfSummary::default();
        for m in &misconfigurations {
            if m.status == "PASS" {
                summary.successes += 1;
            } else {
                summary.failures += 1;
            }
        }
        misconfigurations.sort_by(|a, b| {
            (
                a.status != "FAIL",
                std::cmp::Reverse(a.severity),
                &a.id,
                a.cause.start_line,
                &a.message,
            )
                .cmp(&(
                    b.status != "FAIL",
                    std::cmp::Reverse(b.severity),
                    &b.id,
                    b.cause.start_line,
                    &b.message,
                ))
        });
        MisconfResult {
            target: target.to_string(),
            class: "config".into(),
            kind: "kubernetes".into(),
            summary,
            misconfigurations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn misconf_result_counts_and_orders() {
        let m = |id: &str, sev, status: &str| Misconfiguration {
            kind: "Kubernetes Security Check".into(),
            id: id.into(),
            avd_id: format!("AVD-{id}"),
            title: String::new(),
            description: String::new(),
            message: String::new(),
            namespace: String::new(),
            query: String::new(),
            resolution: String::new(),
            severity: sev,
            primary_url: String::new(),
            references: vec![],
            status: status.into(),
            cause: CauseMetadata {
                provider: "Kubernetes".into(),
                service: "general".into(),
                ..Default::default()
            },
        };
        let r = MisconfResult::new(
            "a.yaml",
            vec![
                m("KSV003", Severity::Low, "PASS"),
                m("KSV001", Severity::Medium, "FAIL"),
                m("KSV017", Severity::High, "FAIL"),
            ],
        );
        assert_eq!(
            r.summary,
            MisconfSummary {
                successes: 1,
                failures: 2
            }
        );
        let ids: Vec<_> = r.misconfigurations.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["KSV017", "KSV001", "KSV003"]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Class"], "config");
        assert!(v["Misconfigurations"][0]["CauseMetadata"]
            .get("StartLine")
            .is_none());
    }
}
