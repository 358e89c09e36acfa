//! Check results to report rows: [`CheckRow`]s for ConfigAuditReport / RbacAssessmentReport
//! (built into CRDs by `sightline_api::config_audit`) and Trivy-schema [`Misconfiguration`]s.

use sightline_report::misconf::{CauseMetadata, CheckRow, Misconfiguration};

use crate::engine::{CheckResult, Outcome};
use crate::input::K8sObject;

/// The report row of one result (errored checks are not rows: they have no verdict).
pub fn row(r: &CheckResult) -> Option<CheckRow> {
    let m = &r.check;
    let (success, messages) = match &r.outcome {
        Outcome::Pass => (true, Vec::new()),
        Outcome::Fail(f) => (false, f.iter().map(|f| f.message.clone()).collect()),
        Outcome::Error(_) => return None,
    };
    Some(CheckRow {
        id: m.id.clone(),
        title: m.title.clone(),
        description: m.description.clone(),
        severity: m.severity,
        category: m.category.clone(),
        remediation: m.recommended_action.clone(),
        success,
        messages,
        scope: None,
    })
}

/// `Namespace/Kind/name` style resource name Trivy prints (`Deployment/web`, or with the
/// namespace when set).
pub fn resource_name(o: &K8sObject) -> String {
    if o.namespace.is_empty() {
        format!("{}/{}", o.kind, o.name)
    } else {
        format!("{}/{}/{}", o.kind, o.namespace, o.name)
    }
}

/// Trivy-schema misconfigurations of `results` on `object`: one FAIL per failure (with its
/// cause lines, else the object's lines), and with `include_passed` one PASS per passed check.
pub fn misconfigurations(
    object: &K8sObject,
    results: &[CheckResult],
    include_passed: bool,
) -> Vec<Misconfiguration> {
    let mut out = Vec::new();
    for r in results {
        let m = &r.check;
        let base = |message: String, status: &str, start: usize, end: usize| Misconfiguration {
            kind: m.category.clone(),
            id: m.id.clone(),
            avd_id: m.avd_id.clone(),
            title: m.title.clone(),
            description: m.description.clone(),
            message,
            namespace: m.package.clone(),
            query: format!("data.{}.deny", m.package),
            resolution: m.recommended_action.clone(),
            severity: m.severity,
            primary_url: m.primary_url(),
            references: {
                let mut refs = vec![m.primary_url()];
                refs.extend(m.references.iter().cloned());
                refs
            },
            status: status.to_string(),
            cause: CauseMetadata {
                resource: resource_name(object),
                provider: "Kubernetes".into(),
                service: "general".into(),
                start_line: start,
                end_line: end,
            },
        };
        match &r.outcome {
            Outcome::Pass if include_passed => out.push(base(
                "No issues found".into(),
                "PASS",
                object.start_line,
                object.end_line,
            )),
            Outcome::Fail(failures) => {
                for f in failures {
                    let (s, e) = if f.start_line > 0 {
                        (f.start_line, f.end_line.max(f.start_line))
                    } else {
                        (object.start_line, object.end_line)
                    };
                    out.push(base(f.message.clone(), "FAIL", s, e));
                }
            }
            _ => {}
        }
    }
    out
}
