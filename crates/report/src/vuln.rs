//! Vulnerability vocabulary shared by the trivy-db reader and the reports.
//!
//! trivy-db stores severities and statuses as integers; Trivy's JSON report prints them as
//! upper-case (severity) and snake_case (status) strings. Both forms are accepted when reading.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A vulnerability severity, ordered from `Unknown` (lowest) to `Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Severity {
    /// No severity assigned (trivy-db integer 0).
    #[default]
    Unknown,
    /// trivy-db integer 1.
    Low,
    /// trivy-db integer 2.
    Medium,
    /// trivy-db integer 3.
    High,
    /// trivy-db integer 4.
    Critical,
}

impl Severity {
    /// All severities from highest to lowest, the order reports list them in.
    pub const DESCENDING: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Unknown,
    ];

    /// The trivy-db integer encoding.
    pub fn as_int(self) -> u8 {
        self as u8
    }

    /// Decodes trivy-db's integer; out-of-range values are `Unknown`.
    pub fn from_int(v: i64) -> Self {
        match v {
            1 => Severity::Low,
            2 => Severity::Medium,
            3 => Severity::High,
            4 => Severity::Critical,
            _ => Severity::Unknown,
        }
    }

    /// Trivy's upper-case name (`CRITICAL`, `HIGH`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a severity name that is not one of Trivy's five.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSeverity(pub String);

impl fmt::Display for UnknownSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown severity {:?} (expected one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSeverity {}

impl FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "UNKNOWN" => Ok(Severity::Unknown),
            "LOW" => Ok(Severity::Low),
            "MEDIUM" => Ok(Severity::Medium),
            "HIGH" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match IntOrString::deserialize(d)? {
            IntOrString::Int(i) => Ok(Severity::from_int(i)),
            IntOrString::Str(s) if s.is_empty() => Ok(Severity::Unknown),
            IntOrString::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// `CRITICAL|HIGH|MEDIUM|LOW|UNKNOWN`, Trivy Operator's enum for vulnerability severities.
#[cfg(feature = "schemars")]
impl schemars::JsonSchema for Severity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Severity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Severity level of a vulnerability or a configuration audit check.",
            "type": "string",
            "enum": ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]
        })
    }

    fn inline_schema() -> bool {
        true
    }
}

/// Serde helpers that write a [`Severity`] as trivy-db's integer (used for `VendorSeverity`).
pub mod severity_int_map {
    use super::*;

    /// Serialises a map of severities as integers.
    pub fn serialize<S: Serializer>(
        m: &BTreeMap<String, Severity>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let ints: BTreeMap<&String, u8> = m.iter().map(|(k, v)| (k, v.as_int())).collect();
        ints.serialize(s)
    }

    /// Reads a map of severities written as integers or names.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Severity>, D::Error> {
        BTreeMap::<String, Severity>::deserialize(d)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IntOrString {
    Int(i64),
    Str(String),
}

/// The fix status of an advisory (trivy-db `types.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Status {
    /// 0: not stated by the source.
    #[default]
    Unknown,
    /// 1
    NotAffected,
    /// 2
    Affected,
    /// 3
    Fixed,
    /// 4
    UnderInvestigation,
    /// 5
    WillNotFix,
    /// 6
    FixDeferred,
    /// 7
    EndOfLife,
}

impl Status {
    /// Decodes trivy-db's integer; out-of-range values are `Unknown`.
    pub fn from_int(v: i64) -> Self {
        match v {
            1 => Status::NotAffected,
            2 => Status::Affected,
            3 => Status::Fixed,
            4 => Status::UnderInvestigation,
            5 => Status::WillNotFix,
            6 => Status::FixDeferred,
            7 => Status::EndOfLife,
            _ => Status::Unknown,
        }
    }

    /// The trivy-db integer encoding.
    pub fn as_int(self) -> u8 {
        self as u8
    }

    /// Trivy's report name (`affected`, `will_not_fix`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::NotAffected => "not_affected",
            Status::Affected => "affected",
            Status::Fixed => "fixed",
            Status::UnderInvestigation => "under_investigation",
            Status::WillNotFix => "will_not_fix",
            Status::FixDeferred => "fix_deferred",
            Status::EndOfLife => "end_of_life",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "unknown" | "" => Status::Unknown,
            "not_affected" => Status::NotAffected,
            "affected" => Status::Affected,
            "fixed" => Status::Fixed,
            "under_investigation" => Status::UnderInvestigation,
            "will_not_fix" => Status::WillNotFix,
            "fix_deferred" => Status::FixDeferred,
            "end_of_life" => Status::EndOfLife,
            other => return Err(format!("unknown status {other:?}")),
        })
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Status {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match IntOrString::deserialize(d)? {
            IntOrString::Int(i) => Ok(Status::from_int(i)),
            IntOrString::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// CVSS vectors and scores of one source (trivy-db `types.CVSS`): the `CVSS` map of Trivy's
/// JSON report and the `cvss` map of a VulnerabilityReport entry, which use the same names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "schemars",
    derive(schemars::JsonSchema),
    schemars(
        description = "CVSS vectors and scores of one source (`.report.vulnerabilities[].cvss.<source>`)."
    )
)]
pub struct Cvss {
    /// CVSS v2 vector.
    #[serde(rename = "V2Vector", default, skip_serializing_if = "String::is_empty")]
    pub v2_vector: String,
    /// CVSS v3 vector.
    #[serde(rename = "V3Vector", default, skip_serializing_if = "String::is_empty")]
    pub v3_vector: String,
    /// CVSS v4.0 vector.
    #[serde(
        rename = "V40Vector",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub v40_vector: String,
    /// CVSS v2 score.
    #[serde(rename = "V2Score", default, skip_serializing_if = "is_zero")]
    pub v2_score: f64,
    /// CVSS v3 score.
    #[serde(rename = "V3Score", default, skip_serializing_if = "is_zero")]
    pub v3_score: f64,
    /// CVSS v4.0 score.
    #[serde(rename = "V40Score", default, skip_serializing_if = "is_zero")]
    pub v40_score: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// Where an advisory comes from (trivy-db bucket `data-source`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSource {
    /// Source id, e.g. `debian`, `alpine`, `ubuntu`.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Human name, e.g. `Debian Security Tracker`.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Home page of the source.
    #[serde(rename = "URL", default)]
    pub url: String,
}

/// Vulnerability details from trivy-db's `vulnerability` bucket (`types.Vulnerability`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityDetail {
    /// Short title.
    #[serde(rename = "Title", default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Long description.
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    /// The vulnerability's own severity name (may be empty).
    #[serde(rename = "Severity", default, skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// CWE identifiers.
    #[serde(rename = "CweIDs", default, skip_serializing_if = "Vec::is_empty")]
    pub cwe_ids: Vec<String>,
    /// Severity per source id (`nvd`, `debian`, `redhat`, ...).
    #[serde(
        rename = "VendorSeverity",
        default,
        with = "severity_int_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub vendor_severity: BTreeMap<String, Severity>,
    /// CVSS per source id.
    #[serde(rename = "CVSS", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cvss: BTreeMap<String, Cvss>,
    /// Reference URLs.
    #[serde(rename = "References", default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// First publication (RFC 3339).
    #[serde(
        rename = "PublishedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub published_date: Option<String>,
    /// Last modification (RFC 3339).
    #[serde(
        rename = "LastModifiedDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_modified_date: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_reads_ints_and_names_and_writes_names() {
        let s: Severity = serde_json::from_str("3").unwrap();
        assert_eq!(s, Severity::High);
        let s: Severity = serde_json::from_str("\"critical\"").unwrap();
        assert_eq!(s, Severity::Critical);
        assert_eq!(serde_json::to_string(&Severity::Low).unwrap(), "\"LOW\"");
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
        assert!("bogus".parse::<Severity>().is_err());
    }

    #[test]
    fn status_round_trips() {
        let s: Status = serde_json::from_str("5").unwrap();
        assert_eq!(s, Status::WillNotFix);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"will_not_fix\"");
        for i in 0..8 {
            let st = Status::from_int(i);
            assert_eq!(st.as_int() as i64, i);
            assert_eq!(st.as_str().parse::<Status>().unwrap(), st);
        }
    }

    #[test]
    fn vulnerability_detail_reads_trivy_db_json() {
        let j = r#"{"Title":"t","Severity":"HIGH","VendorSeverity":{"nvd":4,"debian":1},
            "CVSS":{"nvd":{"V3Vector":"CVSS:3.1/AV:N","V3Score":9.8}},
            "PublishedDate":"2024-01-02T03:04:05Z"}"#;
        let v: VulnerabilityDetail = serde_json::from_str(j).unwrap();
        assert_eq!(v.vendor_severity["nvd"], Severity::Critical);
        assert_eq!(v.cvss["nvd"].v3_score, 9.8);
        let back = serde_json::to_value(&v).unwrap();
        assert_eq!(back["VendorSeverity"]["debian"], 1);
    }
}
