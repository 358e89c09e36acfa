//! ExposedSecretReport: secrets found in plaintext files of a container image, and the
//! function that builds its `.report` from Sightline's Trivy-schema scan report.

use chrono::{DateTime, Utc};
use kube::CustomResource;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{Artifact, ImageRef, ImageRefError, Registry, Scanner};
use crate::report::{DetectedSecret, Report, CLASS_SECRET};
use crate::vuln::Severity;

/// The `.report` of an ExposedSecretReport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Report is the actual exposed secret report data.")]
pub struct ExposedSecretReportData {
    /// UpdateTimestamp is a timestamp representing the server time in UTC when this report was updated.
    #[serde(rename = "updateTimestamp")]
    #[schemars(schema_with = "super::date_time_schema")]
    pub update_timestamp: String,
    /// Scanner is the scanner that generated this report.
    pub scanner: Scanner,
    /// Registry is the registry the Artifact was pulled from.
    #[serde(default)]
    pub registry: Registry,
    /// Artifact represents a standalone, executable package of software that includes everything needed to
    /// run an application.
    pub artifact: Artifact,
    /// Summary is the exposed secrets counts grouped by Severity.
    pub summary: ExposedSecretSummary,
    /// Exposed secrets is a list of passwords, api keys, tokens and others items found in the Artifact.
    pub secrets: Vec<ExposedSecret>,
}

/// Counts of exposed secrets per severity (`.report.summary`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Summary is the exposed secrets counts grouped by Severity.")]
pub struct ExposedSecretSummary {
    /// CriticalCount is the number of exposed secrets with Critical Severity.
    #[serde(rename = "criticalCount")]
    pub critical_count: u32,
    /// HighCount is the number of exposed secrets with High Severity.
    #[serde(rename = "highCount")]
    pub high_count: u32,
    /// MediumCount is the number of exposed secrets with Medium Severity.
    #[serde(rename = "mediumCount")]
    pub medium_count: u32,
    /// LowCount is the number of exposed secrets with Low Severity.
    #[serde(rename = "lowCount")]
    pub low_count: u32,
}

impl ExposedSecretSummary {
    /// Counts `secrets` by severity. As in Trivy Operator, `UNKNOWN` is not counted (the
    /// summary has no field for it).
    pub fn of<'a>(secrets: impl IntoIterator<Item = &'a ExposedSecret>) -> Self {
        let mut s = ExposedSecretSummary::default();
        for secret in secrets {
            match secret.severity {
                Severity::Critical => s.critical_count += 1,
                Severity::High => s.high_count += 1,
                Severity::Medium => s.medium_count += 1,
                Severity::Low => s.low_count += 1,
                Severity::Unknown => {}
            }
        }
        s
    }
}

/// Secret severities: Trivy Operator's enum has no `UNKNOWN` here.
fn secret_severity_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Severity level of a vulnerability or a configuration audit check.",
        "type": "string",
        "enum": ["CRITICAL", "HIGH", "MEDIUM", "LOW"]
    })
}

/// One exposed secret (`.report.secrets[]`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "ExposedSecret is the spec for a exposed secret record.")]
pub struct ExposedSecret {
    /// Target is where the exposed secret was found.
    pub target: String,
    /// RuleID is rule the identifier.
    #[serde(rename = "ruleID")]
    pub rule_id: String,
    /// Title of the rule.
    pub title: String,
    /// Category of the rule (`AWS`, `GitHub`, ...).
    pub category: String,
    /// Severity of the rule.
    #[schemars(schema_with = "secret_severity_schema")]
    pub severity: Severity,
    /// Match where the exposed rule matched.
    #[serde(rename = "match")]
    pub match_: String,
}

impl ExposedSecret {
    /// The CRD entry of a Trivy JSON secret finding found in `target`.
    ///
    /// The two share `ruleID`, `title`, `category`, `severity` and `match` but not their wire
    /// names (Trivy JSON is PascalCase, the CRD camelCase, with a different field order), so
    /// this copy is the one place that maps between them.
    pub fn from_finding(target: &str, s: &DetectedSecret) -> Self {
        ExposedSecret {
            target: target.to_string(),
            rule_id: s.rule_id.clone(),
            title: s.title.clone(),
            category: s.category.clone(),
            severity: s.severity,
            match_: s.matched.clone(),
        }
    }
}

/// The body of an ExposedSecretReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ExposedSecretReport",
    plural = "exposedsecretreports",
    singular = "exposedsecretreport",
    namespaced,
    no_spec,
    derive = "PartialEq",
    shortname = "exposedsecret",
    shortname = "exposedsecrets",
    doc = "ExposedSecretReport summarizes exposed secrets in plaintext files built into container images.",
    printcolumn(
        name = "Repository",
        type_ = "string",
        json_path = ".report.artifact.repository",
        description = "The name of image repository"
    ),
    printcolumn(
        name = "Tag",
        type_ = "string",
        json_path = ".report.artifact.tag",
        description = "The name of image tag"
    ),
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the exposed secret scanner"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "The age of the report"
    ),
    printcolumn(
        name = "Critical",
        type_ = "integer",
        json_path = ".report.summary.criticalCount",
        priority = 1,
        description = "The number of critical exposed secrets"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of high exposed secrets"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of medium exposed secrets"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of low exposed secrets"
    )
)]
pub struct ExposedSecretReportFields {
    /// Report is the actual exposed secret report data.
    pub report: ExposedSecretReportData,
}

/// Builds an ExposedSecretReport's `.report` from a scan report, as Trivy Operator does.
///
/// * `image` is the workload container's image as written in its spec; it gives
///   `.report.registry` and `.report.artifact` (see [`ImageRef`]);
/// * `running_digest` (the Pod's `imageID`, or the digest that was scanned) fills
///   `artifact.digest` for a tag reference;
/// * `now` becomes `updateTimestamp`.
///
/// Every `Secrets[]` entry of every `Results[]` entry of class `secret` becomes one
/// `secrets[]` entry, in the report's order: `target` = the result's Target (the file path,
/// or the artifact name for the image config), `ruleID`, `title`, `category`, `severity`
/// and `match` (already masked) from the finding. The summary counts them per severity
/// ([`ExposedSecretSummary::of`]); `scanner` is [`Scanner::sightline`].
pub fn exposed_secret_report_data(
    report: &Report,
    image: &str,
    running_digest: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ExposedSecretReportData, ImageRefError> {
    let image = ImageRef::parse(image)?;
    let secrets: Vec<ExposedSecret> = report
        .results
        .iter()
        .filter(|r| r.class == CLASS_SECRET)
        .flat_map(|r| {
            r.secrets
                .iter()
                .map(move |s| ExposedSecret::from_finding(&r.target, s))
        })
        .collect();
    Ok(ExposedSecretReportData {
        update_timestamp: super::format_time(now),
        scanner: Scanner::sightline(),
        registry: image.registry(),
        artifact: image.artifact(running_digest),
        summary: ExposedSecretSummary::of(&secrets),
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::report::{ReportMetadata, ScanResult, CLASS_OS_PKGS};

    fn secret(rule: &str, category: &str, severity: Severity) -> DetectedSecret {
        DetectedSecret {
            rule_id: rule.into(),
            category: category.into(),
            severity,
            title: format!("{category} secret"),
            start_line: 3,
            end_line: 3,
            matched: "key = ********".into(),
            offset: 0,
            ..Default::default()
        }
    }

    #[test]
    fn secrets_from_secret_results_only() {
        let digest = "sha256:9f2e6fb1c3c5a4e0d1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718";
        let report = Report {
            schema_version: 2,
            created_at: None,
            artifact_name: "127.0.0.1:5000/private/app:1".into(),
            artifact_type: "container_image".into(),
            metadata: ReportMetadata::default(),
            results: vec![
                ScanResult {
                    target: "app (debian 12.15)".into(),
                    class: CLASS_OS_PKGS.into(),
                    // A secret-looking entry in a non-secret result is not a secret finding.
                    secrets: vec![secret("ignored", "X", Severity::Critical)],
                    ..Default::default()
                },
                ScanResult {
                    target: "/app/.env".into(),
                    class: CLASS_SECRET.into(),
                    secrets: vec![
                        secret("aws-access-key-id", "AWS", Severity::Critical),
                        secret("github-pat", "GitHub", Severity::High),
                    ],
                    ..Default::default()
                },
                ScanResult {
                    target: "127.0.0.1:5000/private/app:1".into(),
                    class: CLASS_SECRET.into(),
                    secrets: vec![secret(
                        "private-key",
                        "AsymmetricPrivateKey",
                        Severity::Unknown,
                    )],
                    ..Default::default()
                },
            ],
        };
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let data =
            exposed_secret_report_data(&report, "127.0.0.1:5000/private/app:1", Some(digest), now)
                .unwrap();
        assert_eq!(data.update_timestamp, "2026-01-02T03:04:05Z");
        assert_eq!(data.scanner, Scanner::sightline());
        assert_eq!(data.registry.server, "127.0.0.1:5000");
        assert_eq!(data.artifact.repository, "private/app");
        assert_eq!(data.artifact.tag, "1");
        assert_eq!(data.artifact.digest, digest);
        let got: Vec<(&str, &str, &str, Severity)> = data
            .secrets
            .iter()
            .map(|s| {
                (
                    s.target.as_str(),
                    s.rule_id.as_str(),
                    s.category.as_str(),
                    s.severity,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("/app/.env", "aws-access-key-id", "AWS", Severity::Critical),
                ("/app/.env", "github-pat", "GitHub", Severity::High),
                (
                    "127.0.0.1:5000/private/app:1",
                    "private-key",
                    "AsymmetricPrivateKey",
                    Severity::Unknown
                ),
            ]
        );
        assert_eq!(data.secrets[0].title, "AWS secret");
        assert_eq!(data.secrets[0].match_, "key = ********");
        // UNKNOWN has no summary field, as in Trivy Operator.
        assert_eq!(
            data.summary,
            ExposedSecretSummary {
                critical_count: 1,
                high_count: 1,
                medium_count: 0,
                low_count: 0,
            }
        );
        // The wire form uses Trivy Operator's field names.
        let wire = serde_json::to_value(&data.secrets[0]).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({
                "target": "/app/.env",
                "ruleID": "aws-access-key-id",
                "title": "AWS secret",
                "category": "AWS",
                "severity": "CRITICAL",
                "match": "key = ********"
            })
        );
        assert!(exposed_secret_report_data(&report, "Bad/Image", None, now).is_err());
    }
}
