//! Workloads as the operator sees them: which object a report is about, its containers,
//! the digests they run, and the rules that decide whether it is scanned at all.
//!
//! Pure functions over the API types; the controller feeds them objects from its caches.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sightline_api::naming::ResourceRef;

use crate::config::OperatorConfig;

/// The annotation a Deployment and its ReplicaSets carry with the rollout revision.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// The workload kinds the operator scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// A Pod no controller owns.
    Pod,
    /// apps/v1 ReplicaSet (usually a Deployment's revision).
    ReplicaSet,
    /// v1 ReplicationController.
    ReplicationController,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// batch/v1 Job no CronJob owns.
    Job,
    /// batch CronJob (v1, or v1beta1 on servers older than 1.21).
    CronJob,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 7] = [
        WorkloadKind::Pod,
        WorkloadKind::ReplicaSet,
        WorkloadKind::ReplicationController,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
    ];

    /// The API kind (`ReplicaSet`).
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::ReplicationController => "ReplicationController",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
    }

    /// The kind from its API name.
    pub fn from_kind(kind: &str) -> Option<Self> {
        WorkloadKind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The name in `targetWorkloads` (`replicaset`).
    pub fn config_name(self) -> String {
        self.as_str().to_ascii_lowercase()
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `apiVersion` of a workload kind, for Event references (a CronJob's ownerReferences use
/// the version the server serves, from the object itself).
pub fn api_version_of(kind: WorkloadKind) -> &'static str {
    match kind {
        WorkloadKind::Pod | WorkloadKind::ReplicationController => "v1",
        WorkloadKind::ReplicaSet | WorkloadKind::StatefulSet | WorkloadKind::DaemonSet => "apps/v1",
        WorkloadKind::Job => "batch/v1",
        WorkloadKind::CronJob => "batch/v1beta1",
    }
}

/// Identifies one workload: the unit the operator reconciles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadKey {
    /// Its kind.
    pub kind: WorkloadKind,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl fmt::Display for WorkloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// What the operator needs of one workload object.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Which workload.
    pub key: WorkloadKey,
    /// `apiVersion` of the object (for report ownerReferences).
    pub api_version: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata`, for owner references and annotations.
    pub meta: ObjectMeta,
    /// The pod spec it runs (the template for controllers, the spec for a Pod).
    pub pod_spec: PodSpec,
}

impl Workload {
    /// The report subject.
    pub fn resource(&self) -> ResourceRef {
        ResourceRef {
            kind: self.key.kind.as_str().to_string(),
            namespace: self.key.namespace.clone(),
            name: self.key.name.clone(),
        }
    }

    /// A Pod.
    pub fn from_pod(p: &Pod) -> Option<Self> {
        Self::new(WorkloadKind::Pod, "v1", &p.metadata, p.spec.clone())
    }

    /// A ReplicaSet.
    pub fn from_replica_set(o: &ReplicaSet) -> Option<Self> {
        let spec = o.spec.template.as_ref()?.spec.clone();
        Self::new(WorkloadKind::ReplicaSet, "apps/v1", &o.metadata, spec)
    }

    /// A ReplicationController.
    pub fn from_replication_controller(o: &ReplicationController) -> Option<Self> {
        let spec = o
            .spec
            .as_ref()
            .and_then(|s| s.template.as_ref())?
            .spec
            .clone();
        Self::new(WorkloadKind::ReplicationController, "v1", &o.metadata, spec)
    }

    /// A StatefulSet.
    pub fn from_stateful_set(o: &StatefulSet) -> Option<Self> {
        let spec = o.spec.template.spec.clone();
        Self::new(WorkloadKind::StatefulSet, "apps/v1", &o.metadata, spec)
    }

    /// A DaemonSet.
    pub fn from_daemon_set(o: &DaemonSet) -> Option<Self> {
        let spec = o.spec.template.spec.clone();
        Self::new(WorkloadKind::DaemonSet, "apps/v1", &o.metadata, spec)
    }

    /// A Job.
    pub fn from_job(o: &Job) -> Option<Self> {
        let spec = o.spec.as_ref()?.template.spec.clone();
        Self::new(WorkloadKind::Job, "batch/v1", &o.metadata, spec)
    }

    /// A CronJob of either API version, from its JSON (`spec.jobTemplate.spec.template.spec`).
    pub fn from_cron_job(
        api_version: &str,
        meta: &ObjectMeta,
        data: &serde_json::Value,
    ) -> Option<Self> {
        let spec = data.pointer("/spec/jobTemplate/spec/template/spec")?;
        let spec: PodSpec = serde_json::from_value(spec.clone()).ok()?;
        Self::new(WorkloadKind::CronJob, api_version, meta, Some(spec))
    }

    fn new(
        kind: WorkloadKind,
        api_version: &str,
        meta: &ObjectMeta,
        spec: Option<PodSpec>,
    ) -> Option<Self> {
        Some(Workload {
            key: WorkloadKey {
                kind,
                namespace: meta.namespace.clone()?,
                name: meta.name.clone()?,
            },
            api_version: api_version.to_string(),
            uid: meta.uid.clone()?,
            meta: meta.clone(),
            pod_spec: spec?,
        })
    }

    /// Every container (init containers first, as the Pod starts them) as (name, image).
    pub fn containers(&self) -> Vec<(String, String)> {
        containers_of(&self.pod_spec)
    }

    /// The `resource-spec-hash`: changes when the pod spec changes.
    pub fn spec_hash(&self) -> String {
        let value = serde_json::to_value(&self.pod_spec).unwrap_or_default();
        sightline_api::naming::spec_hash(&value)
    }

    /// Names of the pull secrets the pod spec lists.
    pub fn image_pull_secrets(&self) -> Vec<String> {
        self.pod_spec
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|r| r.name.clone())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// The ServiceAccount the pods run as.
    pub fn service_account(&self) -> String {
        self.pod_spec
            .service_account_name
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into())
    }
}

/// (name, image) of every init container and container of `spec`.
pub fn containers_of(spec: &PodSpec) -> Vec<(String, String)> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .filter_map(|c| Some((c.name.clone(), c.image.clone()?)))
        .collect()
}

/// The platform (`os/arch`) of a node from its well-known labels (`kubernetes.io/os`,
/// `kubernetes.io/arch`, or their `beta.` forms on old nodes).
pub fn node_platform(labels: &BTreeMap<String, String>) -> Option<String> {
    let get = |k: &str| {
        labels
            .get(&format!("kubernetes.io/{k}"))
            .or_else(|| labels.get(&format!("beta.kubernetes.io/{k}")))
    };
    Some(format!("{}/{}", get("os")?, get("arch")?))
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

/// The workload a Pod's reports belong to: its controller when that is a kind the operator
/// scans (ReplicaSet, ReplicationController, StatefulSet, DaemonSet, Job), else the Pod itself.
pub fn pod_owner_key(pod: &Pod) -> Option<WorkloadKey> {
    let namespace = pod.metadata.namespace.clone()?;
    match controller_of(&pod.metadata) {
        Some(o) => match WorkloadKind::from_kind(&o.kind) {
            Some(kind) if kind != WorkloadKind::Pod && kind != WorkloadKind::CronJob => {
                Some(WorkloadKey {
                    kind,
                    namespace,
                    name: o.name.clone(),
                })
            }
            _ => Some(WorkloadKey {
                kind: WorkloadKind::Pod,
                namespace,
                name: pod.metadata.name.clone()?,
            }),
        },
        None => Some(WorkloadKey {
            kind: WorkloadKind::Pod,
            namespace,
            name: pod.metadata.name.clone()?,
        }),
    }
}

/// Why a workload is not scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Its namespace is outside `targetNamespaces` or matches `excludeNamespaces`.
    NamespaceOutOfScope,
    /// Its kind is not in `targetWorkloads`.
    KindNotTargeted,
    /// A Pod owned by a controller that is scanned instead.
    OwnedByController(String),
    /// A Job created by a CronJob (the CronJob is scanned).
    OwnedByCronJob,
    /// A ReplicaSet that is not its Deployment's current revision.
    NotCurrentRevision,
    /// Being deleted.
    Deleting,
    /// One of Sightline's own scan Jobs (or its Pod).
    OwnScanJob,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NamespaceOutOfScope => f.write_str("namespace not in scope"),
            Skip::KindNotTargeted => f.write_str("kind not in targetWorkloads"),
            Skip::OwnedByController(k) => write!(f, "owned by a {k}, which is scanned instead"),
            Skip::OwnedByCronJob => f.write_str("created by a CronJob, which is scanned instead"),
            Skip::NotCurrentRevision => f.write_str("not the Deployment's current revision"),
            Skip::Deleting => f.write_str("being deleted"),
            Skip::OwnScanJob => f.write_str("a Sightline scan Job"),
        }
    }
}

/// Decides whether `w` is scanned. `deployment_revision` is the revision annotation of the
/// Deployment owning `w` when `w` is a ReplicaSet owned by one (`None` when it has none or
/// the Deployment is unknown).
pub fn skip_reason(
    w: &Workload,
    config: &OperatorConfig,
    deployment_revision: Option<&str>,
) -> Option<Skip> {
    if w.meta.deletion_timestamp.is_some() {
        return Some(Skip::Deleting);
    }
    use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};
    if w.meta
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_MANAGED_BY))
        .is_some_and(|x| x == MANAGED_BY)
    {
        return Some(Skip::OwnScanJob);
    }
    if !config.namespace_in_scope(&w.key.namespace) {
        return Some(Skip::NamespaceOutOfScope);
    }
    if !config
        .target_workloads
        .iter()
        .any(|t| *t == w.key.kind.config_name())
    {
        return Some(Skip::KindNotTargeted);
    }
    let owner = controller_of(&w.meta);
    match w.key.kind {
        WorkloadKind::Pod => {
            if let Some(o) = owner {
                if matches!(
                    WorkloadKind::from_kind(&o.kind),
                    Some(
                        WorkloadKind::ReplicaSet
                            | WorkloadKind::ReplicationController
                            | WorkloadKind::StatefulSet
                            | WorkloadKind::DaemonSet
                            | WorkloadKind::Job
                    )
                ) {
                    return Some(Skip::OwnedByController(o.kind.clone()));
                }
            }
        }
        WorkloadKind::Job if owner.is_some_and(|o| o.kind == "CronJob") => {
            return Some(Skip::OwnedByCronJob);
        }
        WorkloadKind::ReplicaSet
            if config.scan_only_current_revisions
                && owner.is_some_and(|o| o.kind == "Deployment")
                && !is_current_revision(&w.meta, deployment_revision) =>
        {
            return Some(Skip::NotCurrentRevision);
        }
        _ => {}
    }
    None
}

/// `true` when a Deployment's ReplicaSet (`rs`) is its current revision: both carry the same
/// `deployment.kubernetes.io/revision`. An unknown Deployment revision counts as current (the
/// ReplicaSet is scanned rather than silently skipped).
pub fn is_current_revision(rs: &ObjectMeta, deployment_revision: Option<&str>) -> bool {
    let Some(want) = deployment_revision else {
        return true;
    };
    rs.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .is_some_and(|r| r == want)
}

/// The digests the containers of `pods` run, by container name, from
/// `status.containerStatuses[].imageID` (and init containers'). Only repo digests
/// (`repo@sha256:...`) count: a bare image ID is the runtime's config digest, which no
/// registry serves. When pods disagree (a rollout in progress), the first pod wins.
pub fn running_digests<'a>(pods: impl IntoIterator<Item = &'a Pod>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pod in pods {
        let Some(status) = &pod.status else { continue };
        for cs in status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
        {
            if !cs.image_id.contains('@') {
                continue;
            }
            let digest = sightline_api::crd::digest_from_image_id(&cs.image_id);
            if digest.starts_with("sha256:") && digest.len() == 71 {
                out.entry(cs.name.clone()).or_insert(digest);
            }
        }
    }
    out
}

/// `repo@digest` for an image reference as written in a pod spec (`repo:tag`, `repo`, or
/// already `repo@digest`): what the scan Job pulls.
pub fn pin_image(image: &str, digest: &str) -> String {
    let repo = match image.rsplit_once('@') {
        Some((repo, _)) => repo,
        None => image,
    };
    // Strip a tag: the last ':' after the last '/'.
    let slash = repo.rfind('/').map_or(0, |i| i + 1);
    let repo = match repo[slash..].rfind(':') {
        Some(i) => &repo[..slash + i],
        None => repo,
    };
    format!("{repo}@{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerStatus, PodStatus};

    fn meta(ns: &str, name: &str, owner: Option<(&str, &str)>) -> ObjectMeta {
        ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            uid: Some(format!("uid-{name}")),
            owner_references: owner.map(|(kind, n)| {
                vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: kind.into(),
                    name: n.into(),
                    uid: format!("uid-{n}"),
                    controller: Some(true),
                    block_owner_deletion: None,
                }]
            }),
            ..Default::default()
        }
    }

    fn pod(ns: &str, name: &str, owner: Option<(&str, &str)>) -> Pod {
        Pod {
            metadata: meta(ns, name, owner),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    image: Some("10.88.0.1:5000/library/debian:bookworm-curl".into()),
                    ..Default::default()
                }],
                init_containers: Some(vec![Container {
                    name: "init".into(),
                    image: Some("alpine:3".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn node_platform_from_labels() {
        let l = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let arm = l(&[
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "arm64"),
        ]);
        assert_eq!(node_platform(&arm).as_deref(), Some("linux/arm64"));
        let old = l(&[
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", "amd64"),
        ]);
        assert_eq!(node_platform(&old).as_deref(), Some("linux/amd64"));
        assert_eq!(node_platform(&l(&[])), None);
    }

    #[test]
    fn pods_map_to_their_scanned_controller() {
        let p = pod("ns", "web-abc", Some(("ReplicaSet", "web-7c9f")));
        let key = pod_owner_key(&p).unwrap();
        assert_eq!(key.kind, WorkloadKind::ReplicaSet);
        assert_eq!(key.name, "web-7c9f");
        let bare = pod("ns", "solo", None);
        assert_eq!(pod_owner_key(&bare).unwrap().kind, WorkloadKind::Pod);
        // A controller the operator does not know (a custom resource): the Pod is scanned.
        let custom = pod("ns", "x-0", Some(("Rollout", "x")));
        assert_eq!(pod_owner_key(&custom).unwrap().kind, WorkloadKind::Pod);
    }

    #[test]
    fn skip_rules() {
        let c = OperatorConfig {
            exclude_namespaces: vec!["kube-*".into()],
            ..Default::default()
        };
        let owned = Workload::from_pod(&pod("ns", "web-abc", Some(("ReplicaSet", "web")))).unwrap();
        assert_eq!(
            skip_reason(&owned, &c, None),
            Some(Skip::OwnedByController("ReplicaSet".into()))
        );
        let bare = Workload::from_pod(&pod("ns", "solo", None)).unwrap();
        assert_eq!(skip_reason(&bare, &c, None), None);
        let mut scan_pod = bare.clone();
        scan_pod.meta.labels = Some(
            [(
                "app.kubernetes.io/managed-by".to_string(),
                "sightline".to_string(),
            )]
            .into(),
        );
        assert_eq!(skip_reason(&scan_pod, &c, None), Some(Skip::OwnScanJob));
        let system = Workload::from_pod(&pod("kube-system", "solo", None)).unwrap();
        assert_eq!(
            skip_reason(&system, &c, None),
            Some(Skip::NamespaceOutOfScope)
        );
        let only_rs = OperatorConfig {
            target_workloads: vec!["replicaset".into()],
            ..Default::default()
        };
        assert_eq!(
            skip_reason(&bare, &only_rs, None),
            Some(Skip::KindNotTargeted)
        );

        let mut job = bare.clone();
        job.key.kind = WorkloadKind::Job;
        job.meta = meta("ns", "nightly-123", Some(("CronJob", "nightly")));
        assert_eq!(skip_reason(&job, &c, None), Some(Skip::OwnedByCronJob));
    }

    #[test]
    fn only_the_current_revision_of_a_deployment() {
        let c = OperatorConfig::default();
        let mut rs = Workload::from_pod(&pod("ns", "web-1", None)).unwrap();
        rs.key.kind = WorkloadKind::ReplicaSet;
        rs.meta = meta("ns", "web-1", Some(("Deployment", "web")));
        rs.meta.annotations = Some([(REVISION_ANNOTATION.to_string(), "1".to_string())].into());
        assert_eq!(skip_reason(&rs, &c, Some("1")), None);
        assert_eq!(
            skip_reason(&rs, &c, Some("2")),
            Some(Skip::NotCurrentRevision)
        );
        // Unknown Deployment: scanned.
        assert_eq!(skip_reason(&rs, &c, None), None);
        let all = OperatorConfig {
            scan_only_current_revisions: false,
            ..Default::default()
        };
        assert_eq!(skip_reason(&rs, &all, Some("2")), None);
    }

    #[test]
    fn digests_from_container_statuses() {
        let d = format!("sha256:{}", "a".repeat(64));
        let mut p = pod("ns", "solo", None);
        p.status = Some(PodStatus {
            container_statuses: Some(vec![
                ContainerStatus {
                    name: "app".into(),
                    image_id: format!("10.88.0.1:5000/library/debian@{d}"),
                    ..Default::default()
                },
                ContainerStatus {
                    name: "side".into(),
                    // A bare config digest: not a registry digest.
                    image_id: format!("sha256:{}", "b".repeat(64)),
                    ..Default::default()
                },
            ]),
            init_container_statuses: Some(vec![ContainerStatus {
                name: "init".into(),
                image_id: format!("docker-pullable://alpine@{d}"),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let got = running_digests([&p]);
        assert_eq!(got.get("app"), Some(&d));
        assert_eq!(got.get("init"), Some(&d));
        assert_eq!(got.get("side"), None);
    }

    #[test]
    fn containers_and_hash() {
        let w = Workload::from_pod(&pod("ns", "solo", None)).unwrap();
        let names: Vec<String> = w.containers().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["init", "app"]);
        let h = w.spec_hash();
        let mut w2 = w.clone();
        w2.pod_spec.containers[0].image = Some("other:1".into());
        assert_ne!(h, w2.spec_hash());
        assert_eq!(h, w.spec_hash());
    }

    #[test]
    fn pinning_images() {
        let d = "sha256:abc";
        assert_eq!(
            pin_image("10.88.0.1:5000/library/debian:bookworm-curl", d),
            "10.88.0.1:5000/library/debian@sha256:abc"
        );
        assert_eq!(
            pin_image("10.88.0.1:5000/library/debian", d),
            "10.88.0.1:5000/library/debian@sha256:abc"
        );
        assert_eq!(pin_image("nginx@sha256:old", d), "nginx@sha256:abc");
        assert_eq!(
            pin_image("reg:5000/a/b:1@sha256:old", d),
            "reg:5000/a/b@sha256:abc"
        );
    }
}
