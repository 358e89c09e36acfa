//! Check metadata, read the way Trivy reads it: from the `# METADATA` comment block above
//! the `package` line (OPA rich metadata, with Trivy's `custom:` keys), or from the older
//! `__rego_metadata__` / `__rego_input__` rules.

use serde::{Deserialize, Serialize};
use sightline_report::vuln::Severity;

/// Everything a report says about a check besides its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMetadata {
    /// Short ID in the KSV/KCV numbering, e.g. `KSV012`.
    pub id: String,
    /// Long AVD ID, e.g. `AVD-KSV-0012`.
    pub avd_id: String,
    /// One-line title.
    pub title: String,
    /// What the check looks for and why it matters.
    pub description: String,
    /// Severity of a failure.
    pub severity: Severity,
    /// What to do about a failure.
    pub recommended_action: String,
    /// Category, e.g. `Kubernetes Security Check`.
    pub category: String,
    /// Lower-case kinds the check applies to (`pod`, `clusterrole`, ...); empty = every kind;
    /// [`NOT_KUBERNETES`] for checks of other input types.
    pub kinds: Vec<String>,
    /// Reference URLs.
    pub references: Vec<String>,
    /// The Rego package (`builtin.kubernetes.KSV012`).
    pub package: String,
}

/// The RBAC kinds a `type: rbac` selector stands for.
pub const RBAC_KINDS: [&str; 4] = ["role", "clusterrole", "rolebinding", "clusterrolebinding"];

/// The default category.
pub const DEFAULT_CATEGORY: &str = "Kubernetes Security Check";

impl CheckMetadata {
    /// True when the check applies to objects of `kind` (case-insensitive).
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k.eq_ignore_ascii_case(kind))
    }

    /// The page of the check in Aqua's vulnerability database (`PrimaryURL` in Trivy JSON:
    /// the lower-cased ID).
    pub fn primary_url(&self) -> String {
        format!(
            "https://avd.aquasec.com/misconfig/{}",
            self.id.to_ascii_lowercase()
        )
    }

    /// The first reference, else [`Self::primary_url`].
    pub fn reference(&self) -> String {
        self.references
            .first()
            .cloned()
            .unwrap_or_else(|| self.primary_url())
    }
}

/// The `package` a Rego source declares (`None` when there is no package line).
pub fn package_of(source: &str) -> Option<String> {
    source.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("package ")?;
        Some(rest.trim().trim_end_matches(';').to_string())
    })
}

#[derive(Deserialize, Default)]
struct Annotation {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    related_resources: Vec<RelatedResource>,
    #[serde(default)]
    custom: Option<Custom>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RelatedResource {
    Url(String),
    Ref { r#ref: String },
}

#[derive(Deserialize, Default)]
struct Custom {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    avd_id: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    recommended_action: Option<String>,
    #[serde(default)]
    recommended_actions: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    input: Option<InputSpec>,
}

#[derive(Deserialize, Default, Debug)]
pub(crate) struct InputSpec {
    #[serde(default)]
    selector: Vec<Selector>,
}

#[derive(Deserialize, Default, Debug)]
struct Selector {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    subtypes: Vec<Subtype>,
}

#[derive(Deserialize, Default, Debug)]
struct Subtype {
    #[serde(default)]
    kind: Option<String>,
}

/// Why a check's metadata is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(pub String);

/// Reads the `# METADATA` block of `source`. `Ok(None)` when there is none or it carries no
/// `custom.id` (a library module, not a check).
pub fn from_annotations(source: &str) -> Result<Option<CheckMetadata>, MetadataError> {
    let Some(package) = package_of(source) else {
        return Ok(None);
    };
    let mut block: Option<Vec<&str>> = None;
    for line in source.lines() {
        let t = line.trim_start();
        if t.starts_with("package ") {
            break;
        }
        if t == "# METADATA" {
            block = Some(Vec::new());
            continue;
        }
        match (&mut block, t.strip_prefix('#')) {
            (Some(b), Some(rest)) => b.push(rest.strip_prefix(' ').unwrap_or(rest)),
            (Some(_), None) => block = None,
            _ => {}
        }
    }
    let Some(lines) = block else { return Ok(None) };
    let yaml = lines.join("\n");
    let ann: Annotation = serde_norway::from_str(&yaml)
        .map_err(|e| MetadataError(format!("invalid # METADATA block: {e}")))?;
    let Some(custom) = ann.custom else {
        return Ok(None);
    };
    let Some(id) = custom.id.clone().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let severity = parse_severity(custom.severity.as_deref(), &id)?;
    let kinds = kinds_of(custom.input.as_ref());
    Ok(Some(CheckMetadata {
        avd_id: custom.avd_id.clone().unwrap_or_else(|| avd_of(&id)),
        id,
        title: ann.title.unwrap_or_default(),
        description: ann.description.unwrap_or_default(),
        severity,
        recommended_action: custom
            .recommended_action
            .or(custom.recommended_actions)
            .unwrap_or_default(),
        category: custom
            .category
            .unwrap_or_else(|| DEFAULT_CATEGORY.to_string()),
        kinds,
        references: ann
            .related_resources
            .into_iter()
            .map(|r| match r {
                RelatedResource::Url(u) => u,
                RelatedResource::Ref { r#ref } => r#ref,
            })
            .collect(),
        package,
    }))
}

/// Builds metadata from the values of `__rego_metadata__` and `__rego_input__` (JSON).
pub fn from_rules(
    package: &str,
    meta: &serde_json::Value,
    input: Option<&serde_json::Value>,
) -> Result<CheckMetadata, MetadataError> {
    let s = |k: &str| {
        meta.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let id = s("id");
    if id.is_empty() {
        return Err(MetadataError("__rego_metadata__ has no id".into()));
    }
    let severity = parse_severity(Some(&s("severity")), &id)?;
    let input_spec: Option<InputSpec> = input.and_then(|v| serde_json::from_value(v.clone()).ok());
    let url = s("url");
    Ok(CheckMetadata {
        avd_id: meta
            .get("avd_id")
            .and_then(|v| v.as_str())
            .map(String::from)
            .unwrap_or_else(|| avd_of(&id)),
        title: s("title"),
        description: s("description"),
        severity,
        recommended_action: {
            let a = s("recommended_actions");
            if a.is_empty() {
                s("recommended_action")
            } else {
                a
            }
        },
        category: {
            let t = s("type");
            if t.is_empty() {
                DEFAULT_CATEGORY.to_string()
            } else {
                t
            }
        },
        kinds: kinds_of(input_spec.as_ref()),
        references: if url.is_empty() { vec![] } else { vec![url] },
        package: package.to_string(),
        id,
    })
}

fn parse_severity(s: Option<&str>, id: &str) -> Result<Severity, MetadataError> {
    match s {
        None | Some("") => Ok(Severity::Unknown),
        Some(s) => s
            .parse()
            .map_err(|e| MetadataError(format!("check {id}: {e}"))),
    }
}

/// Stands in the kind list of a check whose selectors name only non-Kubernetes inputs
/// (a checks bundle also carries Dockerfile, Terraform and cloud checks): no kind matches it.
pub const NOT_KUBERNETES: &str = "<not kubernetes>";

fn kinds_of(input: Option<&InputSpec>) -> Vec<String> {
    let mut kinds = Vec::new();
    let Some(input) = input else { return kinds };
    let mut kubernetes = false;
    for sel in &input.selector {
        match sel.kind.as_str() {
            "kubernetes" | "rbac" | "" => kubernetes = true,
            _ => continue,
        }
        let typed: Vec<String> = sel
            .subtypes
            .iter()
            .filter_map(|s| s.kind.as_ref().map(|k| k.to_ascii_lowercase()))
            .collect();
        if !typed.is_empty() {
            kinds.extend(typed);
        } else if sel.kind == "rbac" {
            kinds.extend(RBAC_KINDS.iter().map(|k| k.to_string()));
        } else {
            // `type: kubernetes` without subtypes: every kind.
            return Vec::new();
        }
    }
    if !kubernetes && !input.selector.is_empty() {
        return vec![NOT_KUBERNETES.to_string()];
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

/// `KSV012` -> `AVD-KSV-0012`; `KSV0104` -> `AVD-KSV-0104`; other IDs are returned as is.
pub fn avd_of(id: &str) -> String {
    let split = id.find(|c: char| c.is_ascii_digit()).unwrap_or(id.len());
    let (prefix, num) = id.split_at(split);
    if prefix.is_empty() || num.is_empty() || !num.chars().all(|c| c.is_ascii_digit()) {
        return id.to_string();
    }
    let num = if num.len() < 4 {
        format!("{num:0>4}")
    } else {
        num.to_string()
    };
    format!("AVD-{prefix}-{num}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r#"# METADATA
# title: "Runs as root user"
# description: "Force non-root."
# related_resources:
# - https://kubesec.io/basics/containers-securitycontext-runasnonroot-true/
# custom:
#   id: KSV012
#   avd_id: AVD-KSV-0012
#   severity: MEDIUM
#   recommended_action: "Set runAsNonRoot."
#   input:
#     selector:
#     - type: kubernetes
#       subtypes:
#         - kind: Pod
#         - kind: deployment
package builtin.kubernetes.KSV012

deny contains "x" if false
"#;

    #[test]
    fn reads_annotations() {
        let m = from_annotations(SRC).unwrap().unwrap();
        assert_eq!(m.id, "KSV012");
        assert_eq!(m.avd_id, "AVD-KSV-0012");
        assert_eq!(m.severity, Severity::Medium);
        assert_eq!(m.kinds, ["deployment", "pod"]);
        assert!(m.applies_to("Pod") && m.applies_to("DEPLOYMENT") && !m.applies_to("Role"));
        assert_eq!(m.package, "builtin.kubernetes.KSV012");
        assert_eq!(m.category, DEFAULT_CATEGORY);
        assert_eq!(m.primary_url(), "https://avd.aquasec.com/misconfig/ksv012");
    }

    #[test]
    fn library_modules_have_no_metadata() {
        assert_eq!(from_annotations("package lib.x\nf := 1\n").unwrap(), None);
        let bad = "# METADATA\n# custom:\n#   id: X1\n#   severity: SEVERE\npackage a\n";
        assert!(from_annotations(bad).unwrap_err().0.contains("SEVERE"));
    }

    #[test]
    fn rbac_selector_and_avd_ids() {
        let spec: InputSpec =
            serde_json::from_value(serde_json::json!({"selector": [{"type": "rbac"}]})).unwrap();
        assert_eq!(kinds_of(Some(&spec)).len(), 4);
        // A bundle's Dockerfile check never applies to Kubernetes objects.
        let spec: InputSpec =
            serde_json::from_value(serde_json::json!({"selector": [{"type": "dockerfile"}]}))
                .unwrap();
        assert_eq!(kinds_of(Some(&spec)), [NOT_KUBERNETES]);
        assert_eq!(avd_of("KSV012"), "AVD-KSV-0012");
        assert_eq!(avd_of("KSV0104"), "AVD-KSV-0104");
        assert_eq!(avd_of("KSV01010"), "AVD-KSV-01010");
        assert_eq!(avd_of("recommended_labels"), "recommended_labels");
    }

    #[test]
    fn reads_rule_metadata() {
        let meta = serde_json::json!({"id": "CUSTOM1", "title": "t", "severity": "LOW",
            "type": "Custom", "recommended_actions": "fix it", "url": "https://x"});
        let input = serde_json::json!({"selector": [{"type": "kubernetes", "subtypes": [{"kind": "Deployment"}]}]});
        let m = from_rules("user.custom", &meta, Some(&input)).unwrap();
        assert_eq!(m.kinds, ["deployment"]);
        assert_eq!(m.category, "Custom");
        assert_eq!(m.recommended_action, "fix it");
        assert_eq!(m.references, ["https://x"]);
    }
}
