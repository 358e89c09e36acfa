//! ExposedSecretReport: secrets found in plaintext files of a container image.

use kube::CustomResource;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use super::{Artifact, Registry, Scanner};
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
