//! ClusterComplianceReport: a compliance spec (CIS, NSA, PSS, ...) in `spec` and its results in
//! `status` (the only report kind with `spec` + `status` and a status subresource).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The cron pattern Trivy Operator validates `spec.cron` with.
pub const CRON_PATTERN: &str = r"^(((([\*]{1}){1})|((\*\/){0,1}(([0-9]{1}){1}|(([1-5]{1}){1}([0-9]{1}){1}){1}))) ((([\*]{1}){1})|((\*\/){0,1}(([0-9]{1}){1}|(([1]{1}){1}([0-9]{1}){1}){1}|([2]{1}){1}([0-3]{1}){1}))) ((([\*]{1}){1})|((\*\/){0,1}(([1-9]{1}){1}|(([1-2]{1}){1}([0-9]{1}){1}){1}|([3]{1}){1}([0-1]{1}){1}))) ((([\*]{1}){1})|((\*\/){0,1}(([1-9]{1}){1}|(([1-2]{1}){1}([0-9]{1}){1}){1}|([3]{1}){1}([0-1]{1}){1}))|(jan|feb|mar|apr|may|jun|jul|aug|sep|okt|nov|dec)) ((([\*]{1}){1})|((\*\/){0,1}(([0-7]{1}){1}))|(sun|mon|tue|wed|thu|fri|sat)))$";

/// `spec.reportType`: whether `status` carries the summary or every check.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ReportType {
    /// `summary`: `status.summaryReport`.
    #[default]
    #[serde(rename = "summary")]
    Summary,
    /// `all`: `status.detailReport`.
    #[serde(rename = "all")]
    All,
}

/// A control's severity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ControlSeverity {
    /// CRITICAL.
    #[serde(rename = "CRITICAL")]
    Critical,
    /// HIGH.
    #[serde(rename = "HIGH")]
    High,
    /// MEDIUM.
    #[serde(rename = "MEDIUM")]
    Medium,
    /// LOW.
    #[serde(rename = "LOW")]
    Low,
    /// UNKNOWN.
    #[default]
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

/// A control's status when none of its resources exists.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ControlStatus {
    /// PASS.
    #[serde(rename = "PASS")]
    Pass,
    /// WARN.
    #[serde(rename = "WARN")]
    Warn,
    /// FAIL.
    #[serde(rename = "FAIL")]
    Fail,
}

/// The compliance specification (`spec`).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ClusterComplianceReport",
    plural = "clustercompliancereports",
    singular = "clustercompliancereport",
    status = "ComplianceReportStatus",
    derive = "PartialEq",
    shortname = "compliance",
    doc = "ClusterComplianceReport is a specification for the ClusterComplianceReport resource.",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "The age of the report"
    ),
    printcolumn(
        name = "Fail",
        type_ = "integer",
        json_path = ".status.summary.failCount",
        priority = 1,
        description = "The number of checks that failed"
    ),
    printcolumn(
        name = "Pass",
        type_ = "integer",
        json_path = ".status.summary.passCount",
        priority = 1,
        description = "The number of checks that passed"
    )
)]
#[schemars(description = "ReportSpec represent the compliance specification")]
pub struct ComplianceReportSpec {
    /// cron define the intervals for report generation
    #[schemars(extend("pattern" = CRON_PATTERN))]
    pub cron: String,
    /// `summary` or `all`.
    #[serde(rename = "reportType")]
    pub report_type: ReportType,
    /// The compliance spec: its controls and the checks they map to.
    pub compliance: Compliance,
}

/// A compliance specification (`spec.compliance`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Compliance {
    /// Spec id, e.g. `k8s-cis-1.23`.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Spec version.
    pub version: String,
    /// Links.
    #[serde(rename = "relatedResources")]
    pub related_resources: Vec<String>,
    /// Platform, e.g. `k8s`.
    pub platform: String,
    /// Spec type, e.g. `cis`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Control represent the cps controls data and mapping checks
    pub controls: Vec<Control>,
}

/// A control and the checks that implement it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Control represent the cps controls data and mapping checks")]
pub struct Control {
    /// id define the control check id
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The checks (by id) that implement the control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<SpecCheck>,
    /// Node-collector commands the control needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Commands>,
    /// define the severity of the control
    pub severity: ControlSeverity,
    /// define the default value for check status in case resource not found
    #[serde(
        rename = "defaultStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "ControlStatus")]
    pub default_status: Option<ControlStatus>,
}

/// A check a control maps to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "SpecCheck represent the scanner who perform the control check")]
pub struct SpecCheck {
    /// id define the check id as produced by scanner
    pub id: String,
}

/// A node-collector command a control needs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Commands represent the commands to be executed by the node-collector")]
pub struct Commands {
    /// id define the commands id
    pub id: String,
}

/// The results (`status`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ComplianceReportStatus {
    /// Pass/fail counts of the controls.
    #[serde(default)]
    pub summary: ComplianceSummary,
    /// When the results were computed (RFC 3339).
    #[serde(rename = "updateTimestamp")]
    #[schemars(schema_with = "super::date_time_schema")]
    pub update_timestamp: String,
    /// Every control with its checks (`reportType: all`).
    #[serde(
        rename = "detailReport",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "ComplianceDetailReport", extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub detail_report: Option<ComplianceDetailReport>,
    /// Failed-check counts per control (`reportType: summary`).
    #[serde(
        rename = "summaryReport",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "ComplianceSummaryReport", extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub summary_report: Option<ComplianceSummaryReport>,
}

/// Pass/fail counts (`status.summary`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ComplianceSummary {
    /// Controls that failed.
    #[serde(rename = "failCount", default, skip_serializing_if = "is_zero")]
    pub fail_count: u32,
    /// Controls that passed.
    #[serde(rename = "passCount", default, skip_serializing_if = "is_zero")]
    pub pass_count: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// Failed-check counts per control (`status.summaryReport`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(
    description = "SummaryReport represents a kubernetes scan report with consolidated findings"
)]
pub struct ComplianceSummaryReport {
    /// Spec id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Spec title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// One entry per control.
    #[serde(
        rename = "controlCheck",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub control_check: Vec<ControlCheckSummary>,
}

/// One control in the summary.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ControlCheckSummary {
    /// Control id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Control name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Control severity.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// Failed checks (absent for a control with no checks, e.g. a manual one).
    #[serde(rename = "totalFail", default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "i64")]
    pub total_fail: Option<i64>,
}

/// Every control with its check results (`status.detailReport`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "ComplianceReport represents a kubernetes scan report")]
pub struct ComplianceDetailReport {
    /// Spec id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Spec title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Spec description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Spec version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// The spec's related resources (Trivy Operator's field name).
    #[serde(
        rename = "relatedVersion",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub related_version: Vec<String>,
    /// One entry per control.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ControlCheckResult>,
}

/// One control's results.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ControlCheckResult {
    /// Control id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Control name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Control description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The control's default status.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Control severity.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// The failed checks, or one passed entry when none failed.
    pub checks: Vec<ComplianceCheck>,
}

/// One check result of a control.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(
    description = "ComplianceCheck provides the result of conducting a single compliance step."
)]
pub struct ComplianceCheck {
    /// Check id.
    #[serde(rename = "checkID")]
    pub check_id: String,
    /// The resource the check ran on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target: String,
    /// Title.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Severity.
    #[schemars(schema_with = "super::severity_string_schema")]
    pub severity: String,
    /// Category.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub category: String,
    /// Failure messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Remediation provides description or links to external resources to remediate failing check.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remediation: String,
    /// Whether the check passed.
    pub success: bool,
}
