//! Report names, labels and hashes, as Trivy Operator computes them.
//!
//! Tools written for Trivy Operator find a workload's reports by name
//! (`replicaset-checkout-7c9f-checkout`) or by label (`trivy-operator.resource.name=...`), so
//! Sightline reproduces both exactly:
//!
//! * [`container_report_name`] (VulnerabilityReport, ExposedSecretReport, SbomReport):
//!   `<lower(kind)>-<name>-<container>`; when that is not a valid label value (longer than 63
//!   characters, typically), `<lower(kind)>-<hash(name + "-" + container)>`.
//! * [`resource_report_name`] (ConfigAudit, RbacAssessment, InfraAssessment reports and their
//!   Cluster* variants): `<lower(kind)>-<name>`; when that is not a DNS-1123 label (a `:` in a
//!   ClusterRole name, longer than 63, ...), `<lower(kind)>-<hash(name)>`.
//! * [`compute_hash`] is Trivy Operator's `kube.ComputeHash` of a string: FNV-1a (32 bit) of
//!   go-spew's `%#v` rendering (`(string)<value>`), its decimal digits mapped through
//!   Kubernetes' `rand.SafeEncodeString` alphabet. Same input, same hash as Trivy Operator, so a
//!   report Sightline writes replaces the one Trivy Operator wrote for the same workload.
//! * [`report_labels`] gives `trivy-operator.resource.{kind,name,namespace}`,
//!   `trivy-operator.container.name`, `resource-spec-hash` and
//!   `app.kubernetes.io/managed-by: sightline`; a resource name that is not a valid label value
//!   is moved, as Trivy Operator does, to the `trivy-operator.resource.name-hash` label (its
//!   hash) plus the `trivy-operator.resource.name` annotation (the name).

use std::collections::BTreeMap;

/// Label: the kind of the resource a report is about (`ReplicaSet`, `ClusterRole`, ...).
pub const LABEL_RESOURCE_KIND: &str = "trivy-operator.resource.kind";
/// Label: the resource's name (annotation instead when the name is not a valid label value).
pub const LABEL_RESOURCE_NAME: &str = "trivy-operator.resource.name";
/// Label: [`compute_hash`] of the resource's name, when the name is not a valid label value.
pub const LABEL_RESOURCE_NAME_HASH: &str = "trivy-operator.resource.name-hash";
/// Label: the resource's namespace (empty for cluster-scoped resources).
pub const LABEL_RESOURCE_NAMESPACE: &str = "trivy-operator.resource.namespace";
/// Label: the container a per-container report is about.
pub const LABEL_CONTAINER_NAME: &str = "trivy-operator.container.name";
/// Label: hash of the resource's spec when the report was made; an unchanged hash means the
/// report is still current.
pub const LABEL_RESOURCE_SPEC_HASH: &str = "resource-spec-hash";
/// Label: who manages the object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`] on everything Sightline writes.
pub const MANAGED_BY: &str = "sightline";
/// Annotation: a report's time to live (Trivy Operator's `scannerReportTTL`), e.g. `24h0m0s`.
pub const ANNOTATION_REPORT_TTL: &str = "trivy-operator.aquasecurity.github.io/report-ttl";

/// Kubernetes' `rand.SafeEncodeString` alphabet (no vowels, so no words).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a, 32 bit.
fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The decimal digits of `h` mapped through [`SAFE_ALPHABET`] (`rand.SafeEncodeString`).
fn safe_encode(h: u32) -> String {
    h.to_string()
        .bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// Trivy Operator's `kube.ComputeHash(s)` for a string `s` (e.g. `system:controller:node-controller`
/// → `6f69bb5b79`): at most 10 characters of `[4-9bcdf]`.
pub fn compute_hash(s: &str) -> String {
    let mut spewed = Vec::with_capacity(s.len() + 8);
    spewed.extend_from_slice(b"(string)");
    spewed.extend_from_slice(s.as_bytes());
    safe_encode(fnv1a32(&spewed))
}

/// A stable hash of a resource's spec for the [`LABEL_RESOURCE_SPEC_HASH`] label: FNV-1a of
/// the spec's canonical JSON (object keys sorted, no whitespace), safe-encoded like
/// [`compute_hash`].
///
/// Trivy Operator hashes go-spew's dump of its Go structs, which no other implementation can
/// reproduce; the label is only ever compared with a hash this function made, so the form
/// (`[4-9bcdf]{1,10}`, a valid label value) is what matters.
pub fn spec_hash(spec: &serde_json::Value) -> String {
    let mut out = String::new();
    canonical_json(spec, &mut out);
    safe_encode(fnv1a32(out.as_bytes()))
}

fn canonical_json(v: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_json(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Kubernetes' `IsValidLabelValue`: empty, or at most 63 characters of `[A-Za-z0-9_.-]`
/// starting and ending with an alphanumeric.
pub fn is_valid_label_value(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let b = s.as_bytes();
    b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Kubernetes' `IsDNS1123Label`: 1 to 63 characters of `[a-z0-9-]`, starting and ending with
/// an alphanumeric.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_lower_alnum(b[0])
        && is_lower_alnum(b[b.len() - 1])
        && b.iter().all(|c| is_lower_alnum(*c) || *c == b'-')
}

/// Kubernetes' `IsDNS1123Subdomain` (the rule for most object names): at most 253 characters,
/// dot-separated DNS-1123 labels.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// The name of a per-container report (VulnerabilityReport, ExposedSecretReport, SbomReport)
/// about container `container` of the workload `kind`/`name`.
///
/// Trivy Operator's rule: `<lower(kind)>-<name>-<container>` if that is a valid label value,
/// else `<lower(kind)>-<compute_hash(name + "-" + container)>`. Workload names are DNS-1123
/// subdomains and container names DNS-1123 labels, so a valid label value built from them is
/// also a valid object name; the extra subdomain check only guards against input that did not
/// come from the API server (the hashed form is always valid).
pub fn container_report_name(kind: &str, name: &str, container: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    let full = format!("{kind}-{name}-{container}");
    if is_valid_label_value(&full) && is_dns1123_subdomain(&full) {
        full
    } else {
        format!("{kind}-{}", compute_hash(&format!("{name}-{container}")))
    }
}

/// The name of a per-resource report (ConfigAuditReport, RbacAssessmentReport,
/// InfraAssessmentReport and their Cluster* variants) about `kind`/`name`.
///
/// Trivy Operator's rule: `<lower(kind)>-<name>` if that is a DNS-1123 label, else
/// `<lower(kind)>-<compute_hash(name)>` (e.g. ClusterRole `system:controller:node-controller`
/// → `clusterrole-6f69bb5b79`).
pub fn resource_report_name(kind: &str, name: &str) -> String {
    let kind = kind.to_ascii_lowercase();
    let full = format!("{kind}-{name}");
    if is_dns1123_label(&full) {
        full
    } else {
        format!("{kind}-{}", compute_hash(name))
    }
}

/// The resource a report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    /// Kind, as the API names it (`ReplicaSet`, `Pod`, `ClusterRole`).
    pub kind: String,
    /// Namespace; empty for a cluster-scoped resource.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// Labels and annotations of a report's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportMeta {
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations` (only when the resource name did not fit a label).
    pub annotations: BTreeMap<String, String>,
}

/// The labels (and, for a name that is not a valid label value, the annotation) of a report
/// about `resource`, for `container` when the report is per container, with the
/// `resource-spec-hash` label when `spec_hash` is given (see [`spec_hash`]).
pub fn report_labels(
    resource: &ResourceRef,
    container: Option<&str>,
    spec_hash: Option<&str>,
) -> ReportMeta {
    let mut meta = ReportMeta::default();
    let mut label = |k: &str, v: &str| {
        meta.labels.insert(k.to_string(), v.to_string());
    };
    label(LABEL_RESOURCE_KIND, &resource.kind);
    label(LABEL_RESOURCE_NAMESPACE, &resource.namespace);
    label(LABEL_MANAGED_BY, MANAGED_BY);
    if let Some(c) = container {
        label(LABEL_CONTAINER_NAME, c);
    }
    if let Some(h) = spec_hash {
        label(LABEL_RESOURCE_SPEC_HASH, h);
    }
    if is_valid_label_value(&resource.name) {
        label(LABEL_RESOURCE_NAME, &resource.name);
    } else {
        label(LABEL_RESOURCE_NAME_HASH, &compute_hash(&resource.name));
        meta.annotations
            .insert(LABEL_RESOURCE_NAME.to_string(), resource.name.clone());
    }
    meta
}

/// Formats a duration as Go's `time.Duration.String()` does for whole seconds (`24h0m0s`,
/// `1h30m0s`, `45m0s`, `30s`, `0s`), the form of the [`ANNOTATION_REPORT_TTL`] annotation.
pub fn go_duration(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_hash_matches_trivy_operator() {
        // Expected values from Trivy Operator's own tests (configauditreport builder_test.go:
        // `clusterrole-6f69bb5b79`, `role-65c67c5c64`; rbacassessmentreport: `role-79f88497`).
        assert_eq!(
            compute_hash("system:controller:node-controller"),
            "6f69bb5b79"
        );
        assert_eq!(compute_hash("pod-Reader"), "65c67c5c64");
        assert_eq!(compute_hash("system:controller:cloud-provider"), "79f88497");
    }

    #[test]
    fn resource_report_names() {
        assert_eq!(
            resource_report_name("ReplicaSet", "some-owner"),
            "replicaset-some-owner"
        );
        assert_eq!(
            resource_report_name("ClusterRole", "system:controller:node-controller"),
            "clusterrole-6f69bb5b79"
        );
        assert_eq!(
            resource_report_name("Role", "pod-Reader"),
            "role-65c67c5c64"
        );
        let long = "a".repeat(60);
        assert_eq!(
            resource_report_name("Deployment", &long),
            format!("deployment-{}", compute_hash(&long))
        );
    }

    #[test]
    fn container_report_names() {
        assert_eq!(
            container_report_name("ReplicaSet", "checkout-7c9f", "checkout"),
            "replicaset-checkout-7c9f-checkout"
        );
        // 63 characters fit, 64 do not.
        let name = "n".repeat(63 - "replicaset--c".len());
        let fits = container_report_name("ReplicaSet", &name, "c");
        assert_eq!(fits.len(), 63);
        assert_eq!(fits, format!("replicaset-{name}-c"));
        let name = format!("{name}x");
        let hashed = container_report_name("ReplicaSet", &name, "c");
        assert_eq!(
            hashed,
            format!("replicaset-{}", compute_hash(&format!("{name}-c")))
        );
        assert!(is_dns1123_label(&hashed));
        // Dots are fine in a label value and in an object name.
        assert_eq!(
            container_report_name("Pod", "web.v2", "app"),
            "pod-web.v2-app"
        );
    }

    #[test]
    fn label_value_and_dns_rules() {
        for ok in ["", "a", "A-b_c.d", &"x".repeat(63)] {
            assert!(is_valid_label_value(ok), "{ok:?}");
        }
        for bad in ["-a", "a-", "a:b", "a/b", &"x".repeat(64)] {
            assert!(!is_valid_label_value(bad), "{bad:?}");
        }
        assert!(is_dns1123_label("a-1"));
        for bad in ["", "A", "a.b", "a_b", "-a", &"x".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad:?}");
        }
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(!is_dns1123_subdomain(&"x".repeat(254)));
    }

    #[test]
    fn labels_for_a_container_report() {
        let r = ResourceRef {
            kind: "ReplicaSet".into(),
            namespace: "shop".into(),
            name: "checkout-7c9f".into(),
        };
        let m = report_labels(&r, Some("checkout"), Some("5d8f"));
        let want: BTreeMap<String, String> = [
            ("trivy-operator.resource.kind", "ReplicaSet"),
            ("trivy-operator.resource.name", "checkout-7c9f"),
            ("trivy-operator.resource.namespace", "shop"),
            ("trivy-operator.container.name", "checkout"),
            ("resource-spec-hash", "5d8f"),
            ("app.kubernetes.io/managed-by", "sightline"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(m.labels, want);
        assert!(m.annotations.is_empty());
    }

    #[test]
    fn long_names_move_to_the_hash_label_and_an_annotation() {
        let r = ResourceRef {
            kind: "ClusterRole".into(),
            namespace: String::new(),
            name: "system:controller:node-controller".into(),
        };
        let m = report_labels(&r, None, None);
        assert_eq!(m.labels[LABEL_RESOURCE_NAME_HASH], "6f69bb5b79");
        assert_eq!(m.labels[LABEL_RESOURCE_NAMESPACE], "");
        assert!(!m.labels.contains_key(LABEL_RESOURCE_NAME));
        assert_eq!(
            m.annotations[LABEL_RESOURCE_NAME],
            "system:controller:node-controller"
        );
        assert!(m.labels.values().all(|v| is_valid_label_value(v)));
    }

    #[test]
    fn spec_hash_ignores_key_order_and_sees_changes() {
        let a: serde_json::Value = serde_json::from_str(
            r#"{"containers":[{"name":"a","image":"x:1"}],"hostNetwork":false}"#,
        )
        .unwrap();
        let b: serde_json::Value = serde_json::from_str(
            r#"{"hostNetwork":false,"containers":[{"image":"x:1","name":"a"}]}"#,
        )
        .unwrap();
        let c: serde_json::Value = serde_json::from_str(
            r#"{"hostNetwork":false,"containers":[{"image":"x:2","name":"a"}]}"#,
        )
        .unwrap();
        assert_eq!(spec_hash(&a), spec_hash(&b));
        assert_ne!(spec_hash(&a), spec_hash(&c));
        assert!(is_valid_label_value(&spec_hash(&a)));
    }

    #[test]
    fn go_durations() {
        use std::time::Duration;
        assert_eq!(go_duration(Duration::from_secs(86400)), "24h0m0s");
        assert_eq!(go_duration(Duration::from_secs(5400)), "1h30m0s");
        assert_eq!(go_duration(Duration::from_secs(2700)), "45m0s");
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
