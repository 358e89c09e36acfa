//! SbomReport and ClusterSbomReport: a CycloneDX bill of materials of a container image.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Artifact, Registry, Scanner};

/// The `.report` of an SbomReport / ClusterSbomReport.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Report is the actual sbom report data.")]
pub struct SbomReportData {
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
    /// Summary is a summary of sbom report.
    pub summary: SbomSummary,
    /// Bom is artifact bill of materials.
    pub components: Bom,
}

/// Component and dependency counts (`.report.summary`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Summary is a summary of sbom report.")]
pub struct SbomSummary {
    /// ComponentsCount is the number of components in bom.
    #[serde(rename = "componentsCount")]
    pub components_count: u32,
    /// DependenciesCount is the number of dependencies in bom.
    #[serde(rename = "dependenciesCount")]
    pub dependencies_count: u32,
}

impl SbomSummary {
    /// Trivy Operator's counts: the BOM's components plus its metadata component, and the
    /// dependency entries.
    pub fn of(bom: &Bom) -> Self {
        SbomSummary {
            components_count: saturating_count(bom.components.len()).saturating_add(1),
            dependencies_count: saturating_count(bom.dependencies.len()),
        }
    }
}

/// A length as the CRD's `u32` count, `u32::MAX` beyond it (never wrapped).
fn saturating_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A CycloneDX BOM as Trivy Operator stores it (`.report.components`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Bom {
    /// `CycloneDX`.
    #[serde(rename = "bomFormat")]
    pub bom_format: String,
    /// CycloneDX spec version, e.g. `1.6`.
    #[serde(rename = "specVersion")]
    pub spec_version: String,
    /// `urn:uuid:...`.
    #[serde(
        rename = "serialNumber",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub serial_number: String,
    /// BOM version.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version: i64,
    /// BOM metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "BomMetadata")]
    pub metadata: Option<BomMetadata>,
    /// Components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Dependency graph.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// BOM metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct BomMetadata {
    /// When the BOM was made.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub timestamp: String,
    /// The tools that made it.
    #[serde(default)]
    pub tools: Tools,
    /// The component the BOM describes (the image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Component")]
    pub component: Option<Component>,
}

/// Tools that made the BOM.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Tools {
    /// The tools, as components.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

/// One CycloneDX component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Component {
    /// Reference used by the dependency graph.
    #[serde(rename = "bom-ref", default, skip_serializing_if = "String::is_empty")]
    pub bom_ref: String,
    /// `library`, `operating-system`, `container`, `application`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Package URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub purl: String,
    /// Supplier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "OrganizationalEntity")]
    pub supplier: Option<OrganizationalEntity>,
    /// Hashes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// Licenses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    /// Properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

/// An organisation (supplier).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct OrganizationalEntity {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url: Vec<String>,
    /// Contacts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<OrganizationalContact>,
}

/// A contact person.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct OrganizationalContact {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// E-mail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Phone.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub phone: String,
}

/// A hash of a component.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Hash {
    /// Algorithm (`SHA-256`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alg: String,
    /// Hex value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
}

/// A license or a license expression.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct LicenseChoice {
    /// A single license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "License")]
    pub license: Option<License>,
    /// An SPDX expression.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// A license.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct License {
    /// SPDX id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// URL.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// A name/value property.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Property {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// One node of the dependency graph.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct Dependency {
    /// The component's `bom-ref`.
    #[serde(rename = "ref", default, skip_serializing_if = "String::is_empty")]
    pub ref_: String,
    /// The `bom-ref`s it depends on.
    #[serde(rename = "dependsOn", default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

/// The body of an SbomReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "SbomReport",
    plural = "sbomreports",
    singular = "sbomreport",
    namespaced,
    no_spec,
    derive = "PartialEq",
    shortname = "sbom",
    shortname = "sboms",
    doc = "SbomReport summarizes components and dependencies found in container image",
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
        description = "The name of the sbom generation scanner"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "The age of the report"
    ),
    printcolumn(
        name = "Components",
        type_ = "integer",
        json_path = ".report.summary.componentsCount",
        priority = 1,
        description = "The number of dependencies in bom"
    ),
    printcolumn(
        name = "Dependencies",
        type_ = "integer",
        json_path = ".report.summary.dependenciesCount",
        priority = 1,
        description = "The the number of components in bom"
    )
)]
pub struct SbomReportFields {
    /// Report is the actual sbom report data.
    pub report: SbomReportData,
}

/// The body of a ClusterSbomReport (its top-level `report` field).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "aquasecurity.github.io",
    version = "v1alpha1",
    kind = "ClusterSbomReport",
    plural = "clustersbomreports",
    singular = "clustersbomreport",
    no_spec,
    derive = "PartialEq",
    shortname = "clustersbom",
    doc = "ClusterSbomReport summarizes components and dependencies found in container image",
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
        description = "The name of the sbom generation scanner"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        description = "The age of the report"
    ),
    printcolumn(
        name = "Components",
        type_ = "integer",
        json_path = ".report.summary.componentsCount",
        priority = 1,
        description = "The number of dependencies in bom"
    ),
    printcolumn(
        name = "Dependencies",
        type_ = "integer",
        json_path = ".report.summary.dependenciesCount",
        priority = 1,
        description = "The the number of components in bom"
    )
)]
pub struct ClusterSbomReportFields {
    /// Report is the actual sbom report data.
    pub report: SbomReportData,
}
