//! Aggregate entry points: one generated Rego rule per object kind that collects the `deny`
//! of every RVM check applying to that kind, so one RVM execution evaluates them all and the
//! library rules they share (containers, pod spec, ...) are computed once per object instead
//! of once per check. The per-check entry points stay: an aggregate execution that errors,
//! times out or panics is redone check by check, which isolates the culprit.

use std::collections::BTreeMap;

use crate::metadata::CheckMetadata;

/// Checks per generated rule.
const CHUNK: usize = 12;

/// Package prefix of the generated modules.
pub const PACKAGE_PREFIX: &str = "sightline_aggregate";

/// One generated aggregate module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    /// Lower-case kind, or `None` for kinds no check names (only kind-less checks apply).
    pub kind: Option<String>,
    /// Module file name.
    pub path: String,
    /// Rego source.
    pub source: String,
    /// The rule to evaluate (`data.<package>.results`), an object keyed by check rule.
    pub rule: String,
}

/// The aggregates for `checks` (each: metadata and its `deny` rule path).
pub fn plan(checks: &[(&CheckMetadata, &str)]) -> Vec<Aggregate> {
    let mut kinds: BTreeMap<Option<String>, Vec<&str>> = BTreeMap::new();
    let named: Vec<String> = {
        let mut k: Vec<String> = checks
            .iter()
            .flat_map(|(m, _)| m.kinds.iter().cloned())
            .filter(|k| k != crate::metadata::NOT_KUBERNETES)
            .collect();
        k.sort();
        k.dedup();
        k
    };
    for kind in named.iter().map(|k| Some(k.clone())).chain([None]) {
        let members: Vec<&str> = checks
            .iter()
            .filter(|(m, _)| match &kind {
                Some(k) => m.applies_to(k),
                None => m.kinds.is_empty(),
            })
            .map(|(_, rule)| *rule)
            .collect();
        if !members.is_empty() {
            kinds.insert(kind, members);
        }
    }
    kinds
        .into_iter()
        .map(|(kind, rules)| {
            let name = match &kind {
                Some(k) => format!(
                    "k_{}",
                    k.chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect::<String>()
                ),
                None => "other".to_string(),
            };
            let package = format!("{PACKAGE_PREFIX}.{name}");
            // Complete rules with one array comprehension per check: always defined (a check
            // whose deny is undefined contributes []), and compilable by the RVM (which has no
            // partial object rules with constant keys, and 255 registers per rule: hence
            // chunks, merged with object.union_n).
            let mut source = format!("package {package}\n\nimport rego.v1\n\n");
            let chunks: Vec<&[&str]> = rules.chunks(CHUNK).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                source.push_str(&format!("part_{i} := {{\n"));
                for r in *chunk {
                    source.push_str(&format!("\t{r:?}: [x | some x in {r}],\n"));
                }
                source.push_str("}\n\n");
            }
            let parts: Vec<String> = (0..chunks.len()).map(|i| format!("part_{i}")).collect();
            source.push_str(&format!(
                "results := object.union_n([{}])\n",
                parts.join(", ")
            ));
            Aggregate {
                kind,
                path: format!("<aggregate {name}>.rego"),
                source,
                rule: format!("data.{package}.results"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_report::vuln::Severity;

    fn meta(id: &str, kinds: &[&str]) -> CheckMetadata {
        CheckMetadata {
            id: id.into(),
            avd_id: String::new(),
            title: String::new(),
            description: String::new(),
            severity: Severity::Low,
            recommended_action: String::new(),
            category: String::new(),
            kinds: kinds.iter().map(|k| k.to_string()).collect(),
            references: vec![],
            package: format!("p.{id}"),
        }
    }

    #[test]
    fn one_aggregate_per_kind_plus_kindless() {
        let (a, b, c) = (
            meta("A", &["pod", "deployment"]),
            meta("B", &["role"]),
            meta("C", &[]),
        );
        let plan = plan(&[
            (&a, "data.p.A.deny"),
            (&b, "data.p.B.deny"),
            (&c, "data.p.C.deny"),
        ]);
        let kinds: Vec<_> = plan.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                None,
                Some("deployment".into()),
                Some("pod".into()),
                Some("role".into())
            ]
        );
        let pod = &plan[2];
        assert!(pod
            .source
            .contains("\t\"data.p.A.deny\": [x | some x in data.p.A.deny],"));
        assert!(pod.source.contains("data.p.C.deny") && !pod.source.contains("data.p.B.deny"));
        assert_eq!(pod.rule, "data.sightline_aggregate.k_pod.results");
        assert!(!plan[0].source.contains("data.p.A.deny"));
    }
}
