//! Check verdicts and Trivy's misconfiguration JSON schema (`trivy config --format json`),
//! which `sightline config` emits.
//!
//! The policy engine turns its results into [`CheckRow`]s; the CLI writes them as
//! [`MisconfReport`], the operator as ConfigAuditReport / RbacAssessmentReport custom resources
//! (built in `sightline-api`). Everything here is pure data.

use serde::{Deserialize, Serialize};

use crate::vuln::Severity;

/// The section of a resource a check looked at (`.report.checks[].scope`).
///
/// E.g. `{type: Container, value: nginx}`, `{type: JSONPath, value:
/// .spec.containers[0].securityContext}` or `{type: ConfigMapKey, value: password}`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "schemars",
    derive(schemars::JsonSchema),
    schemars(description = "Scope indicates the section of config that was audited.")
)]
pub struct CheckScope {
    /// Type indicates type of this scope, e.g. Container, ConfigMapKey or JSONPath.
    #[serde(rename = "type")]
    pub type_: String,
    /// Value indicates value of this scope that depends on Type, e.g. container name, ConfigMap key or JSONPath expression
    pub value: String,
}

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
