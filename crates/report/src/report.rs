//! Trivy's JSON report schema (SchemaVersion 2), as `trivy image --format json` writes it.
//!
//! Field names and omission rules follow Trivy (`omitempty` fields are skipped when empty),
//! so existing consumers (jq pipelines, dashboards, ticket bots) parse Sightline's output.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vuln::{severity_int_map, Cvss, DataSource, Severity, Status};

/// The report schema version Trivy writes.
pub const SCHEMA_VERSION: u32 = 2;

/// A whole scan report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always 2.
    #[serde(rename = "SchemaVersion")]
    pub schema_version: u32,
    /// RFC 3339 time of the scan.
    #[serde(rename = "CreatedAt", default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// What was scanned: the image reference or input path.
    #[serde(rename = "ArtifactName")]
    pub artifact_name: String,
    /// `container_image`.
    #[serde(rename = "ArtifactType")]
    pub artifact_type: String,
    /// Image metadata.
    #[serde(rename = "Metadata")]
    pub metadata: ReportMetadata,
    /// One result per target (OS packages, language files, secrets, ...).
    #[serde(rename = "Results", default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ScanResult>,
}

/// The OS block of the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `debian`, `alpine`, `ubuntu`, ...
    #[serde(rename = "Family")]
    pub family: String,
    /// Release, e.g. `12.15`.
    #[serde(rename = "Name")]
    pub name: String,
    /// True when the release is past its end of support.
    #[serde(rename = "EOSL", default, skip_serializing_if = "std::ops::Not::not")]
    pub eosl: bool,
}

/// Image metadata (`Metadata`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportMetadata {
    /// Detected OS.
    #[serde(rename = "OS", default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Os>,
    /// Config digest.
    #[serde(rename = "ImageID", default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// Uncompressed layer digests.
    #[serde(rename = "DiffIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub diff_ids: Vec<String>,
    /// Tags.
    #[serde(rename = "RepoTags", default, skip_serializing_if = "Vec::is_empty")]
    pub repo_tags: Vec<String>,
    /// `repo@sha256:...`.
    #[serde(rename = "RepoDigests", default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// The image config, as stored.
    #[serde(
        rename = "ImageConfig",
        default,
        skip_serializing_if = "serde_json::Value::is_null"
    )]
    pub image_config: serde_json::Value,
}

/// Result class for OS package vulnerabilities.
pub const CLASS_OS_PKGS: &str = "os-pkgs";

/// Result class for exposed secrets.
pub const CLASS_SECRET: &str = "secret";

/// One target's findings (`Results[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    /// e.g. `127.0.0.1:5000/library/debian:bookworm-curl (debian 12.15)`.
    #[serde(rename = "Target")]
    pub target: String,
    /// `os-pkgs`, `lang-pkgs`, `secret`, `config`.
    #[serde(rename = "Class")]
    pub class: String,
    /// For OS packages the OS family (`debian`, `alpine`).
    #[serde(rename = "Type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Vulnerabilities, sorted as Trivy sorts them.
    #[serde(
        rename = "Vulnerabilities",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub vulnerabilities: Vec<DetectedVulnerability>,
    /// Exposed secrets (class `secret`), in file order.
    #[serde(rename = "Secrets", default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<DetectedSecret>,
}

/// The layer a secret was found in (`Secrets[].Layer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretLayer {
    /// Digest of the layer blob as stored.
    #[serde(rename = "Digest", default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Digest of the uncompressed layer tar.
    #[serde(rename = "DiffID", default, skip_serializing_if = "String::is_empty")]
    pub diff_id: String,
    /// The history entry that created the layer.
    #[serde(
        rename = "CreatedBy",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
}

impl SecretLayer {
    /// No layer (findings in the image config).
    pub fn is_empty(&self) -> bool {
        self.digest.is_empty() && self.diff_id.is_empty() && self.created_by.is_empty()
    }
}

/// One line of context around a secret (`Code.Lines[]`), secrets masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeLine {
    /// 1-based line number.
    #[serde(rename = "Number")]
    pub number: usize,
    /// The line, secrets masked.
    #[serde(rename = "Content")]
    pub content: String,
    /// Part of the match.
    #[serde(rename = "IsCause")]
    pub is_cause: bool,
    /// Trivy's annotation (unused, always empty).
    #[serde(rename = "Annotation", default)]
    pub annotation: String,
    /// The line was cut around the secret.
    #[serde(rename = "Truncated")]
    pub truncated: bool,
    /// First line of the match.
    #[serde(rename = "FirstCause")]
    pub first_cause: bool,
    /// Last line of the match.
    #[serde(rename = "LastCause")]
    pub last_cause: bool,
}

/// Context lines of a secret (`Code`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    /// The lines.
    #[serde(rename = "Lines", default)]
    pub lines: Vec<CodeLine>,
}

/// One exposed secret (`Results[].Secrets[]`). Never holds the raw secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectedSecret {
    /// Rule id, e.g. `aws-access-key-id`.
    #[serde(rename = "RuleID")]
    pub rule_id: String,
    /// Category, e.g. `AWS`.
    #[serde(rename = "Category")]
    pub category: String,
    /// Severity of the rule.
    #[serde(rename = "Severity")]
    pub severity: Severity,
    /// Rule title.
    #[serde(rename = "Title")]
    pub title: String,
    /// 1-based first line of the match.
    #[serde(rename = "StartLine")]
    pub start_line: usize,
    /// 1-based last line of the match.
    #[serde(rename = "EndLine")]
    pub end_line: usize,
    /// Context lines, masked.
    #[serde(rename = "Code", default, skip_serializing_if = "code_is_empty")]
    pub code: Code,
    /// The matched line with the secret replaced by `*`.
    #[serde(rename = "Match")]
    pub matched: String,
    /// Byte offset of the secret in the file (Trivy's `Offset`, omitted when 0).
    #[serde(rename = "Offset", default, skip_serializing_if = "is_zero_offset")]
    pub offset: usize,
    /// The layer the file came from (empty for the image config).
    #[serde(
        rename = "Layer",
        default,
        skip_serializing_if = "SecretLayer::is_empty"
    )]
    pub layer: SecretLayer,
}

fn code_is_empty(c: &Code) -> bool {
    c.lines.is_empty()
}

/// Package identity (`PkgIdentifier`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkgIdentifier {
    /// Package URL, e.g. `pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12.15`.
    #[serde(rename = "PURL", default, skip_serializing_if = "String::is_empty")]
    pub purl: String,
}

/// One vulnerability in one package (`Results[].Vulnerabilities[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectedVulnerability {
    /// CVE / GHSA / TEMP id.
    #[serde(rename = "VulnerabilityID")]
    pub vulnerability_id: String,
    /// Vendor advisory ids (DSA/DLA/...).
    #[serde(rename = "VendorIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub vendor_ids: Vec<String>,
    /// `name@version`.
    #[serde(rename = "PkgID", default, skip_serializing_if = "String::is_empty")]
    pub pkg_id: String,
    /// Binary package name.
    #[serde(rename = "PkgName")]
    pub pkg_name: String,
    /// Package URL.
    #[serde(rename = "PkgIdentifier", default)]
    pub pkg_identifier: PkgIdentifier,
    /// Installed version.
    #[serde(rename = "InstalledVersion")]
    pub installed_version: String,
    /// Fixed version (empty when there is none).
    #[serde(
        rename = "FixedVersion",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub fixed_version: String,
    /// Fix status.
    #[serde(rename = "Status")]
    pub status: Status,
    /// Which source the severity came from (`debian`, `nvd`, ...).
    #[serde(
        rename = "SeveritySource",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub severity_source: String,
    /// Main link.
    #[serde(
        rename = "PrimaryURL",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub primary_url: String,
    /// Advisory source.
    #[serde(
        rename = "DataSource",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_source: Option<DataSource>,
    /// Title.
    #[serde(rename = "Title", default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Description.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// Severity.
    #[serde(rename = "Severity")]
    pub severity: Severity,
    /// CWE ids.
    #[serde(rename = "CweIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub cwe_ids: Vec<String>,
    /// Severity per source.
    #[serde(
        rename = "VendorSeverity",
        default,
        with = "severity_int_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vendor_severity: BTreeMap<String, Severity>,
    /// CVSS per source.
    #[serde(rename = "CVSS", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cvss: BTreeMap<String, Cvss>,
    /// References.
    #[serde(rename = "References", default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// Published (RFC 3339).
    #[serde(
        rename = "PublishedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub published_date: Option<String>,
    /// Last modified (RFC 3339).
    #[serde(
        rename = "LastModifiedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified_date: Option<String>,
}

impl DetectedVulnerability {
    /// The highest CVSS score across sources, preferring the severity source, then NVD
    /// (what reports show as `score`).
    pub fn score(&self) -> Option<f64> {
        let pick = |c: &Cvss| {
            [c.v40_score, c.v3_score, c.v2_score]
                .into_iter()
                .find(|s| *s > 0.0)
        };
        [self.severity_source.as_str(), "nvd"]
            .iter()
            .filter_map(|k| self.cvss.get(*k).and_then(pick))
            .next()
            .or_else(|| self.cvss.values().filter_map(pick).reduce(f64::max))
    }
}

/// Trivy's result ordering: package name, installed version, severity (high first), id.
pub fn sort_vulnerabilities(v: &mut [DetectedVulnerability]) {
    v.sort_by(|a, b| {
        a.pkg_name
            .cmp(&b.pkg_name)
            .then_with(|| a.installed_version.cmp(&b.installed_version))
            .then_with(|| b.severity.cmp(&a.severity))
            .then_with(|| a.vulnerability_id.cmp(&b.vulnerability_id))
    });
}

/// Counts per severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    /// CRITICAL.
    pub critical: usize,
    /// HIGH.
    pub high: usize,
    /// MEDIUM.
    pub medium: usize,
    /// LOW.
    pub low: usize,
    /// UNKNOWN.
    pub unknown: usize,
}

impl SeverityCounts {
    /// Counts the severities of `vulns`.
    pub fn of<'a>(vulns: impl IntoIterator<Item = &'a DetectedVulnerability>) -> Self {
        let mut c = SeverityCounts::default();
        for v in vulns {
            c.add(v.severity);
        }
        c
    }

    /// Adds one finding of `s`.
    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Unknown => self.unknown += 1,
        }
    }

    /// Total findings.
    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.unknown
    }
}

/// `Offset` is omitted when 0, as Trivy's `omitempty` does.
fn is_zero_offset(v: &usize) -> bool {
    *v == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_trivy_names_and_omits_empties() {
        let v = DetectedVulnerability {
            vulnerability_id: "CVE-2024-1".into(),
            pkg_name: "libssl3".into(),
            pkg_id: "libssl3@1".into(),
            installed_version: "1".into(),
            status: Status::Affected,
            severity: Severity::High,
            ..Default::default()
        };
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["VulnerabilityID"], "CVE-2024-1");
        assert_eq!(j["Status"], "affected");
        assert_eq!(j["Severity"], "HIGH");
        assert!(j.get("FixedVersion").is_none());
        assert!(j.get("CVSS").is_none());
        let back: DetectedVulnerability = serde_json::from_value(j).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn score_prefers_severity_source_then_nvd() {
        let mut v = DetectedVulnerability::default();
        v.cvss.insert(
            "redhat".into(),
            Cvss {
                v3_score: 5.0,
                ..Default::default()
            },
        );
        assert_eq!(v.score(), Some(5.0));
        v.cvss.insert(
            "nvd".into(),
            Cvss {
                v3_score: 9.8,
                v2_score: 7.5,
                ..Default::default()
            },
        );
        assert_eq!(v.score(), Some(9.8));
        v.severity_source = "redhat".into();
        assert_eq!(v.score(), Some(5.0));
    }

    #[test]
    fn sorting_and_counts() {
        let mk = |p: &str, id: &str, s| DetectedVulnerability {
            pkg_name: p.into(),
            vulnerability_id: id.into(),
            severity: s,
            ..Default::default()
        };
        let mut v = vec![
            mk("b", "CVE-1", Severity::Low),
            mk("a", "CVE-2", Severity::Low),
            mk("a", "CVE-3", Severity::Critical),
        ];
        sort_vulnerabilities(&mut v);
        let ids: Vec<_> = v.iter().map(|x| x.vulnerability_id.as_str()).collect();
        assert_eq!(ids, ["CVE-3", "CVE-2", "CVE-1"]);
        let c = SeverityCounts::of(&v);
        assert_eq!((c.critical, c.low, c.total()), (1, 2, 3));
    }
}
