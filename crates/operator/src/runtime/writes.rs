//! API writes of the reconcile: reports by server-side apply, stale reports deleted,
//! Events on workloads.

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, ResourceExt};
use sightline_api::crd::{ExposedSecretReport, VulnerabilityReport};

use super::error::Error;
use crate::workload::{api_version_of, WorkloadKey, WorkloadKind};

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

/// The objects a workload's Warning Event goes to: the workload itself, and the Deployment
/// controlling it when it is a Deployment's ReplicaSet (`owner`: the ReplicaSet's controller
/// reference), since that is what `kubectl describe deploy/...` shows.
pub fn event_targets(w: &WorkloadKey, owner: Option<&OwnerReference>) -> Vec<ObjectReference> {
    let mut out = vec![ObjectReference {
        api_version: Some(api_version_of(w.kind).into()),
        kind: Some(w.kind.as_str().into()),
        namespace: Some(w.namespace.clone()),
        name: Some(w.name.clone()),
        ..Default::default()
    }];
    if let Some(o) = owner.filter(|o| {
        w.kind == WorkloadKind::ReplicaSet && o.kind == "Deployment" && o.controller == Some(true)
    }) {
        out.push(ObjectReference {
            api_version: Some(o.api_version.clone()),
            kind: Some(o.kind.clone()),
            namespace: Some(w.namespace.clone()),
            name: Some(o.name.clone()),
            uid: Some(o.uid.clone()),
            ..Default::default()
        });
    }
    out
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
    for reference in event_targets(w, None) {
        warn_event_on(recorder, &reference, reason, action, note).await;
    }
}

/// Publishes a Warning Event on `reference` (failures are logged, not returned).
pub async fn warn_event_on(
    recorder: &Recorder,
    reference: &ObjectReference,
    reason: &str,
    action: &str,
    note: &str,
) {
    let ev = Event {
        type_: EventType::Warning,
        reason: reason.into(),
        note: Some(truncate(note, MAX_NOTE)),
        action: action.into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&ev, reference).await {
        tracing::warn!(
            "publishing an Event on {}/{}: {e}",
            reference.kind.as_deref().unwrap_or_default(),
            reference.name.as_deref().unwrap_or_default()
        );
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
    use super::*;

    fn owner(kind: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: "web".into(),
            uid: "u-1".into(),
            controller: Some(controller),
            ..Default::default()
        }
    }

    fn key(kind: WorkloadKind) -> WorkloadKey {
        WorkloadKey {
            kind,
            namespace: "ns".into(),
            name: "web-7c9f".into(),
        }
    }

    #[test]
    fn a_deployments_replica_set_warns_on_the_deployment_too() {
        let t = event_targets(
            &key(WorkloadKind::ReplicaSet),
            Some(&owner("Deployment", true)),
        );
        let names: Vec<_> = t
            .iter()
            .map(|r| (r.kind.clone().unwrap(), r.name.clone().unwrap()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("ReplicaSet".to_string(), "web-7c9f".to_string()),
                ("Deployment".to_string(), "web".to_string())
            ]
        );
        assert_eq!(t[1].namespace.as_deref(), Some("ns"));
        assert_eq!(t[1].uid.as_deref(), Some("u-1"));
        assert_eq!(t[1].api_version.as_deref(), Some("apps/v1"));
    }

    #[test]
    fn other_owners_and_kinds_warn_on_the_workload_only() {
        assert_eq!(event_targets(&key(WorkloadKind::ReplicaSet), None).len(), 1);
        // Not the controller, or not a Deployment: only the workload.
        let t = event_targets(
            &key(WorkloadKind::ReplicaSet),
            Some(&owner("Deployment", false)),
        );
        assert_eq!(t.len(), 1);
        let t = event_targets(
            &key(WorkloadKind::ReplicaSet),
            Some(&owner("Rollout", true)),
        );
        assert_eq!(t.len(), 1);
        // A Job owned by a "Deployment" is not a Deployment's ReplicaSet.
        let t = event_targets(&key(WorkloadKind::Job), Some(&owner("Deployment", true)));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].kind.as_deref(), Some("Job"));
    }

    #[test]
    fn notes_are_cut_on_char_boundaries() {
        let s = "é".repeat(600);
        let t = super::truncate(&s, 1000);
        assert!(t.len() <= 1000 + "…".len());
        assert!(t.ends_with('…'));
    }
}
