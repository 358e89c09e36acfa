//! Trivy Operator's report custom resources (`aquasecurity.github.io/v1alpha1`), generated
//! with kube's `CustomResource` derive and schemars.
//!
//! Sightline writes the same objects Trivy Operator writes, so `kubectl get vuln`, dashboards,
//! alerts and policy engines that read Trivy Operator's reports keep working. The kinds, names,
//! scopes, short names, printer columns and every field of `.report` follow Trivy Operator's
//! CRDs; `crates/api/testdata/crd-contract.json` records that interface and
//! `crates/api/tests/crd_contract.rs` checks the generated CRDs against it.
//!
//! Trivy Operator's report objects carry their data in a top-level `report` field instead of
//! `spec` (`#[kube(no_spec)]`): the derived `*Fields` struct of each kind holds that field, and
//! the root type (e.g. [`VulnerabilityReport`]) reaches it as `.spec.report` on the Rust side
//! while it is `.report` on the wire. [`ClusterComplianceReport`] has a real `spec` + `status`.
//!
//! [`all`] returns the finished CRDs (as `sightline crds` prints them and the Helm chart ships
//! them); [`render_yaml`] is their one YAML rendering.

// Each `#[kube(printcolumn(type_ = "integer", priority = 1, ...))]` repeats keys on purpose;
// clippy reads those as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod compliance;
mod config_audit;
mod exposed_secret;
mod image_ref;
mod sbom;
mod vulnerability;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

pub use compliance::*;
pub use config_audit::*;
pub use exposed_secret::*;
pub use image_ref::{digest_from_image_id, ImageRef, ImageRefError};
pub use sbom::*;
pub use vulnerability::*;

/// The API group of every report kind.
pub const GROUP: &str = "aquasecurity.github.io";
/// The API version of every report kind.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of every report object.
pub const API_VERSION: &str = "aquasecurity.github.io/v1alpha1";

/// The scanner name Sightline writes into `.report.scanner.name` (Trivy Operator writes `Trivy`).
pub const SCANNER_NAME: &str = "Sightline";
/// The vendor Sightline writes into `.report.scanner.vendor` (Trivy Operator: `Aqua Security`).
pub const SCANNER_VENDOR: &str = "Sightline";

/// The scanner that generated a report (`.report.scanner`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Scanner is the scanner that generated this report.")]
pub struct Scanner {
    /// Name the name of the scanner.
    pub name: String,
    /// Vendor the name of the vendor providing the scanner.
    pub vendor: String,
    /// Version the version of the scanner.
    pub version: String,
}

impl Scanner {
    /// Sightline itself: name and vendor `Sightline`, version = this crate's version.
    ///
    /// Trivy Operator writes `{name: Trivy, vendor: Aqua Security, version: <trivy version>}`.
    /// Sightline keeps the field's shape (the `Scanner` printer column and dashboards reading
    /// `.report.scanner.name` work unchanged) but names itself, so a report always says which
    /// implementation produced it.
    pub fn sightline() -> Self {
        Scanner {
            name: SCANNER_NAME.to_string(),
            vendor: SCANNER_VENDOR.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The registry an artifact was pulled from (`.report.registry`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "Registry is the registry the Artifact was pulled from.")]
pub struct Registry {
    /// Server the FQDN of registry server.
    #[serde(default)]
    pub server: String,
}

/// The scanned image (`.report.artifact`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(
    description = "Artifact represents a standalone, executable package of software that includes everything needed to\nrun an application."
)]
pub struct Artifact {
    /// Repository is the name of the repository in the Artifact registry.
    #[serde(default)]
    pub repository: String,
    /// Digest is a unique and immutable identifier of an Artifact.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Tag is a mutable, human-readable string used to identify an Artifact.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    /// MimeType represents a type and format of an Artifact.
    #[serde(default, rename = "mimeType", skip_serializing_if = "String::is_empty")]
    pub mime_type: String,
    /// Labels is a map of key value pairs from the scanned artifact
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// The operating system of a scanned image (`.report.os`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[schemars(description = "OS information of the artifact")]
pub struct Os {
    /// Eosl is true if OS version has reached end of service life
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub eosl: bool,
    /// Operating System Family
    #[serde(default)]
    pub family: String,
    /// Name or version of the OS
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

/// Schema of a free-form severity string (checks carry whatever their policy says).
pub(crate) fn severity_string_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "Severity level of a vulnerability or a configuration audit check.",
        "type": "string"
    })
}

/// Schema of an RFC 3339 timestamp (`metav1.Time` on the wire).
pub(crate) fn date_time_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "format": "date-time"
    })
}

/// Formats `t` as Kubernetes' `metav1.Time` does: RFC 3339, second precision, UTC `Z`.
pub fn format_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Whether the root of this kind's schema keeps unknown fields (Trivy Operator's
/// `+kubebuilder:pruning:PreserveUnknownFields`, set on every kind but InfraAssessmentReport and
/// ClusterSbomReport).
fn preserves_unknown_fields(kind: &str) -> bool {
    !matches!(kind, "InfraAssessmentReport" | "ClusterSbomReport")
}

/// Every report CRD, finished as the cluster gets them, sorted by name (deterministic).
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        VulnerabilityReport::crd(),
        ClusterVulnerabilityReport::crd(),
        ExposedSecretReport::crd(),
        ConfigAuditReport::crd(),
        ClusterConfigAuditReport::crd(),
        RbacAssessmentReport::crd(),
        ClusterRbacAssessmentReport::crd(),
        InfraAssessmentReport::crd(),
        ClusterInfraAssessmentReport::crd(),
        SbomReport::crd(),
        ClusterSbomReport::crd(),
        ClusterComplianceReport::crd(),
    ];
    for crd in &mut crds {
        finish(crd);
    }
    crds.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    crds
}

/// Applies what the derive cannot express, so the CRD matches Trivy Operator's:
/// `names.listKind`; the root's `apiVersion`/`kind`/`metadata` properties and
/// `x-kubernetes-preserve-unknown-fields`; no `default`s (schemars derives them from
/// `#[serde(default)]`, and the API server would then write them into stored objects); no
/// required `spec` on ClusterComplianceReport.
fn finish(crd: &mut CustomResourceDefinition) {
    let kind = crd.spec.names.kind.clone();
    crd.spec.names.list_kind = Some(format!("{kind}List"));
    for version in &mut crd.spec.versions {
        let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        let mut value = serde_json::to_value(&*schema).expect("a JSON schema serialises");
        strip_defaults(&mut value);
        nullable_strings(&mut value);
        let root = value.as_object_mut().expect("the root schema is an object");
        root.remove("title");
        if kind == "ClusterComplianceReport" {
            root.remove("required");
        }
        root.insert(
            "x-kubernetes-preserve-unknown-fields".into(),
            serde_json::Value::Bool(true),
        );
        if !preserves_unknown_fields(&kind) {
            root.remove("x-kubernetes-preserve-unknown-fields");
        }
        let props = root
            .entry("properties")
            .or_insert_with(|| serde_json::json!({}))
            .as_object_mut()
            .expect("properties is an object");
        props.insert(
            "apiVersion".into(),
            serde_json::json!({"description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string"}),
        );
        props.insert(
            "kind".into(),
            serde_json::json!({"description": "Kind is a string value representing the REST resource this object represents.", "type": "string"}),
        );
        props.insert("metadata".into(), serde_json::json!({"type": "object"}));
        *schema = serde_json::from_value(value).expect("the edited schema is still a schema");
    }
}

/// Marks every `type: string` schema `nullable: true`.
///
/// Trivy Operator writes empty strings (`fixedVersion: ""`, `artifact.tag: ""`, dates it does
/// not know) and marks many of those fields required. Some API servers' validators see an
/// empty string in a custom resource as `null` (the 1.20 test server does: `"" ... must be of
/// type string: "null"` while the stored object keeps `""`), which rejects every report with
/// an unfixed vulnerability. `nullable` accepts those writes everywhere and changes nothing
/// for clients: the stored value is still `""`.
fn nullable_strings(schema: &mut serde_json::Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if obj.get("type").and_then(|t| t.as_str()) == Some("string") {
        obj.insert("nullable".into(), serde_json::Value::Bool(true));
    }
    if let Some(props) = obj.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.values_mut().for_each(nullable_strings);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            nullable_strings(sub);
        }
    }
}

/// Removes `default` from a schema and every schema below it (properties, items,
/// additionalProperties), leaving property *names* alone.
fn strip_defaults(schema: &mut serde_json::Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    obj.remove("default");
    if let Some(props) = obj.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.values_mut().for_each(strip_defaults);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            strip_defaults(sub);
        }
    }
}

/// One CRD as a YAML document (no leading `---`), as the chart's `crds/` files hold it.
pub fn render_yaml(crd: &CustomResourceDefinition) -> String {
    // Serialising a `CustomResourceDefinition` cannot fail: it is plain data with string keys.
    serde_norway::to_string(crd).expect("a CustomResourceDefinition serialises to YAML")
}

/// All CRDs as one multi-document YAML stream (each document starts with `---`), the output
/// of `sightline crds`.
pub fn render_all_yaml() -> String {
    all()
        .iter()
        .map(|crd| format!("---\n{}", render_yaml(crd)))
        .collect()
}

/// The chart file name of a CRD: `<plural>.<group>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default())
}
