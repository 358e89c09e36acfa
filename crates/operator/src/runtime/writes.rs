//! API writes of the reconcile: reports by server-side apply, stale reports deleted,
//! Events on workloads.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, ResourceExt};
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};

use super::error::Error;
use crate::workload::{api_version_of, WorkloadKey};

/// Field manager of the operator's server-side applies.
pub const FIELD_MANAGER: &str = "sightline";
/// Longest Event note (the API server rejects notes over 1 KiB).
const MAX_NOTE: usize = 1000;

/// Writes `obj` by server-side apply (forced: the operator owns its reports).
pub async fn apply<K>(client: &Client, obj: &K) -> Result<(), Error>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    let kind = K::kind(&Default::default()).to_string();
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .map_err(|e| Error::kube(format!("writing {kind} {ns}/{}", obj.name_any()), e))?;
    Ok(())
}

/// Deletes the VulnerabilityReport and ExposedSecretReport named `name` (absent is fine).
pub async fn delete_reports(client: &Client, namespace: &str, name: &str) -> Result<(), Error> {
    let dp = DeleteParams::default();
    let vr: Api<VulnerabilityReport> = Api::namespaced(client.clone(), namespace);
    let esr: Api<ExposedSecretReport> = Api::namespaced(client.clone(), namespace);
    for result in [
        vr.delete(name, &dp).await.map(|_| ()),
        esr.delete(name, &dp).await.map(|_| ()),
    ] {
        match result {
            Ok(()) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(Error::kube(
                    format!("deleting report {namespace}/{name}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Publishes a Warning Event on workload `w` (failures are logged, not returned: an Event
/// is a notice, never a reason to fail).
pub async fn warn_event(
    recorder: &Recorder,
    w: &WorkloadKey,
    reason: &str,
    action: &str,
    note: &str,
) {
    let reference = ObjectReference {
        api_version: Some(api_version_of(w.kind).into()),
        kind: Some(w.kind.as_str().into()),
        namespace: Some(w.namespace.clone()),
        name: Some(w.name.clone()),
        ..Default::default()
    };
    let ev = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(truncate(note, MAX_NOTE)),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, &reference).await {
        tracing::warn!("publishing an Event on {w}: {e}");
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn notes_are_cut_on_char_boundaries() {
        let s = "é".repeat(600);
        let t = super::truncate(&s, 1000);
        assert!(t.len() <= 1000 + "…".len());
        assert!(t.ends_with('…'));
    }
}
