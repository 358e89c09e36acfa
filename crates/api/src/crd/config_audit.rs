//! Check-based reports: ConfigAuditReport, RbacAssessmentReport, InfraAssessmentReport and
//! their Cluster* variants. All carry a list of [`Check`] results and a [`CheckSummary`] of the
//! failed ones.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Scanner;
pub use sightline_report::misconf::CheckScope;

/// The result of one audit step (`.report.checks[]`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Check provides the result of conducting a single audit step.")]
pub struct Check {
    /// The check id (`KSV001`, `KCV0001`, ...).
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// Title of the check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// What the check looks for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM`, `LOW` (as the policy declares it).
    #[schemars(schema_with = "super::severity_string_schema")]
    pub severity: String,
    /// Category, e.g. `Kubernetes Security Check`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Failure messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Remediation provides description or links to external resources to remediate failing check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// Whether the resource passed the check.
    pub success: bool,
    /// Scope indicates the section of config that was audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "CheckScope")]
    pub scope: Option<CheckScope>,
}

/// Counts of failed checks per severity (`.report.summary` of every check-based report).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct CheckSummary {
    /// CriticalCount is the number of failed checks with critical severity.
    #[serde(rename = "criticalCount")]
    pub critical_count: u32,
    /// HighCount is the number of failed checks with high severity.
    #[serde(rename = "highCount")]
    pub high_count: u32,
    /// MediumCount is the number of failed checks with medium severity.
    #[serde(rename = "mediumCount")]
    pub medium_count: u32,
    /// LowCount is the number of failed check with low severity.
    #[serde(rename = "lowCount")]
    pub low_count: u32,
}

impl CheckSummary {
    /// Counts the failed `checks` by severity (Trivy Operator's `*SummaryFromChecks`): passed
    /// checks and severities other than CRITICAL/HIGH/MEDIUM/LOW are not counted.
    pub fn of<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Self {
        let mut s = CheckSummary::default();
        for c in checks.into_iter().filter(|c| !c.success) {
            match c.severity.as_str() {
                "CRITICAL" => s.critical_count += 1,
                "HIGH" => s.high_count += 1,
                "MEDIUM" => s.medium_count += 1,
                "LOW" => s.low_count += 1,
                _ => {}
            }
        }
        s
    }
}

/// The `.report` of a ConfigAuditReport / ClusterConfigAuditReport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ConfigAuditReportData {
    /// When the report was last updated (RFC 3339).
    #[serde(
        rename = "updateTimestamp",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    #[schemars(schema_with = "super::date_time_schema")]
    pub update_timestamp: String,
    /// Scanner is the spec for a scanner generating a security assessment report.
    #[serde(default)]
    pub scanner: Scanner,
    /// ConfigAuditSummary counts failed checks by severity.
    #[serde(default)]
    pub summary: CheckSummary,
    /// Checks provides results of conducting audit steps.
    pub checks: Vec<Check>,
}

/// The `.report` of an RbacAssessmentReport / ClusterRbacAssessmentReport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RbacAssessmentReportData {
    /// Scanner is the spec for a scanner generating a security assessment report.
    pub scanner: Scanner,
    /// RbacAssessmentSummary counts failed checks by severity.
    pub summary: CheckSummary,
    /// Checks provides results of conducting audit steps.
    pub checks: Vec<Check>,
}

/// The `.report` of an InfraAssessmentReport / ClusterInfraAssessmentReport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct InfraAssessmentReportData {
    /// Scanner is the spec for a scanner generating a security assessment report.
    pub scanner: Scanner,
    /// InfraAssessmentSummary counts failed checks by severity.
    pub summary: CheckSummary,
    /// Checks provides results of conducting audit steps.
    pub checks: Vec<Check>,
}

/// The body of a ConfigAuditReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ConfigAuditReport",
    plural = "configauditreports",
    singular = "configauditreport",
    namespaced,
    no_spec,
    derive = "PartialEq",
    shortname = "configaudit",
    shortname = "configaudits",
    doc = "ConfigAuditReport is a specification for the ConfigAuditReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the config audit scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct ConfigAuditReportFields {
    /// The config audit result.
    pub report: ConfigAuditReportData,
}

/// The body of a ClusterConfigAuditReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ClusterConfigAuditReport",
    plural = "clusterconfigauditreports",
    singular = "clusterconfigauditreport",
    no_spec,
    derive = "PartialEq",
    shortname = "clusterconfigaudit",
    doc = "ClusterConfigAuditReport is a specification for the ClusterConfigAuditReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the config audit scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct ClusterConfigAuditReportFields {
    /// The config audit result.
    pub report: ConfigAuditReportData,
}

/// The body of an RbacAssessmentReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "RbacAssessmentReport",
    plural = "rbacassessmentreports",
    singular = "rbacassessmentreport",
    namespaced,
    no_spec,
    derive = "PartialEq",
    shortname = "rbacassessment",
    shortname = "rbacassessments",
    doc = "RbacAssessmentReport is a specification for the RbacAssessmentReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the rbac assessment scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct RbacAssessmentReportFields {
    /// The RBAC assessment result.
    pub report: RbacAssessmentReportData,
}

/// The body of a ClusterRbacAssessmentReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ClusterRbacAssessmentReport",
    plural = "clusterrbacassessmentreports",
    singular = "clusterrbacassessmentreport",
    no_spec,
    derive = "PartialEq",
    shortname = "clusterrbacassessmentreport",
    doc = "ClusterRbacAssessmentReport is a specification for the ClusterRbacAssessmentReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the rbac assessment scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct ClusterRbacAssessmentReportFields {
    /// The RBAC assessment result.
    pub report: RbacAssessmentReportData,
}

/// The body of an InfraAssessmentReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "InfraAssessmentReport",
    plural = "infraassessmentreports",
    singular = "infraassessmentreport",
    namespaced,
    no_spec,
    derive = "PartialEq",
    shortname = "infraassessment",
    shortname = "infraassessments",
    doc = "InfraAssessmentReport is a specification for the InfraAssessmentReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the infra assessment scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct InfraAssessmentReportFields {
    /// The infra assessment result.
    pub report: InfraAssessmentReportData,
}

/// The body of a ClusterInfraAssessmentReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ClusterInfraAssessmentReport",
    plural = "clusterinfraassessmentreports",
    singular = "clusterinfraassessmentreport",
    no_spec,
    derive = "PartialEq",
    shortname = "clusterinfraassessment",
    doc = "ClusterInfraAssessmentReport is a specification for the ClusterInfraAssessmentReport resource.",
    printcolumn(
        name = "Scanner",
        type_ = "string",
        json_path = ".report.scanner.name",
        description = "The name of the infra assessement scanner"
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
        description = "The number of failed checks with critical severity"
    ),
    printcolumn(
        name = "High",
        type_ = "integer",
        json_path = ".report.summary.highCount",
        priority = 1,
        description = "The number of failed checks with high severity"
    ),
    printcolumn(
        name = "Medium",
        type_ = "integer",
        json_path = ".report.summary.mediumCount",
        priority = 1,
        description = "The number of failed checks with medium severity"
    ),
    printcolumn(
        name = "Low",
        type_ = "integer",
        json_path = ".report.summary.lowCount",
        priority = 1,
        description = "The number of failed checks with low severity"
    )
)]
pub struct ClusterInfraAssessmentReportFields {
    /// The infra assessment result.
    pub report: InfraAssessmentReportData,
}
