//! RBAC assessment of Kubernetes' default (bootstrap) roles and bindings in
//! `shared/testdata/k8s-rbac`: the exact set of failed checks per object, each reasoned below,
//! and cross-checks against the dataset's `summary.json` facts.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sightline_policy::parse_documents;

const FILES: [&str; 6] = [
    "cluster-roles.yaml",
    "controller-roles.yaml",
    "namespace-roles.yaml",
    "cluster-role-bindings.yaml",
    "controller-role-bindings.yaml",
    "namespace-role-bindings.yaml",
];

/// `[namespace/]name` of a role or binding -> its failed checks. Objects not listed fail
/// nothing (in particular `admin`, `edit` and `view`: `rules: null` until the aggregation
/// controller fills them in a live cluster).
const EXPECTED: &[(&str, &[&str])] = &[
    // `*` verbs on `*` resources in `*` API groups (plus `*` on non-resource URLs): every
    // role check fires. KSV0112/KSV0113/KSV0115 do not: they are for namespaced Roles
    // (0112, 0113) or need `resourceNames: [aws-auth]` (0115).
    (
        "cluster-admin",
        &[
            "KSV041", "KSV042", "KSV043", "KSV044", "KSV045", "KSV046", "KSV047", "KSV048",
            "KSV049", "KSV050", "KSV051", "KSV052", "KSV053", "KSV054", "KSV055", "KSV056",
            "KSV0114",
        ],
    ),
    // create/update/patch/delete on roles and rolebindings (KSV050), and get + patch on
    // rolebindings (KSV055). No `bind`, so no KSV051/052.
    ("system:aggregate-to-admin", &["KSV050", "KSV055"]),
    // get/list/watch secrets in a ClusterRole (KSV041), create/update of pods and every
    // workload kind (KSV048), write access to configmaps (KSV049) and to services, endpoints,
    // ingresses and networkpolicies (KSV056). pods/exec and pods/attach are granted but
    // `get pods` is not (it comes from aggregate-to-view), so KSV053/054 do not fire;
    // impersonation is of serviceaccounts only, not groups (no KSV043).
    (
        "system:aggregate-to-edit",
        &["KSV041", "KSV048", "KSV049", "KSV056"],
    ),
    // Reads secrets cluster-wide (KSV041); `*` resources with get/list/watch (KSV046).
    ("system:kube-controller-manager", &["KSV041", "KSV046"]),
    // `*` verbs on the nodes/* subresources (KSV045), among them nodes/proxy (KSV047).
    ("system:kubelet-api-admin", &["KSV045", "KSV047"]),
    // Reads secrets (KSV041) and creates (mirror) pods (KSV048).
    ("system:node", &["KSV041", "KSV048"]),
    // escalate/bind on clusterroles (KSV050); no create on bindings, so no KSV051/052.
    (
        "system:controller:clusterrole-aggregation-controller",
        &["KSV050"],
    ),
    // Controllers that create their pods or child workloads (KSV048).
    ("system:controller:cronjob-controller", &["KSV048"]),
    ("system:controller:daemon-set-controller", &["KSV048"]),
    ("system:controller:deployment-controller", &["KSV048"]),
    ("system:controller:job-controller", &["KSV048"]),
    ("system:controller:persistent-volume-binder", &["KSV048"]),
    ("system:controller:replicaset-controller", &["KSV048"]),
    ("system:controller:replication-controller", &["KSV048"]),
    ("system:controller:statefulset-controller", &["KSV048"]),
    // Manage endpoints / endpointslices (KSV056).
    ("system:controller:endpoint-controller", &["KSV056"]),
    ("system:controller:endpointslice-controller", &["KSV056"]),
    (
        "system:controller:endpointslicemirroring-controller",
        &["KSV056"],
    ),
    // `*` resources in `*` groups with get/list/watch/patch/update/delete: reads secrets
    // (KSV041), deletes pods/log (KSV042), all resources (KSV046), nodes/proxy get (KSV047),
    // updates workloads (KSV048), configmaps (KSV049), RBAC objects (KSV050), get + patch
    // rolebindings (KSV055), networking (KSV056), webhook configurations (KSV0114). No verb
    // `*` (no KSV044/045), no create (no KSV051-054), no impersonate (no KSV043).
    (
        "system:controller:generic-garbage-collector",
        &[
            "KSV041", "KSV042", "KSV046", "KSV047", "KSV048", "KSV049", "KSV050", "KSV055",
            "KSV056", "KSV0114",
        ],
    ),
    // get/list/delete/deletecollection on `*` in `*` groups: the same minus update/patch,
    // hence no KSV048 (create/update workloads) and no KSV055 (patch rolebindings).
    (
        "system:controller:namespace-controller",
        &[
            "KSV041", "KSV042", "KSV046", "KSV047", "KSV049", "KSV050", "KSV056", "KSV0114",
        ],
    ),
    // get/list on resources `*` of the custom and external metrics APIs (KSV046); its
    // `*/scale` rule is a subresource pattern, not `*`.
    ("system:controller:horizontal-pod-autoscaler", &["KSV046"]),
    // create/get on nodes/proxy (KSV047).
    ("system:controller:podcheckpoint-controller", &["KSV047"]),
    // list/watch `*` (KSV046) incl. secrets (KSV041) to count objects per namespace.
    (
        "system:controller:resourcequota-controller",
        &["KSV041", "KSV046"],
    ),
    // Creates/updates the kube-root-ca.crt configmap in every namespace (KSV049).
    ("system:controller:root-ca-cert-publisher", &["KSV049"]),
    // Namespaced Roles: the bootstrap signer updates the cluster-info configmap in
    // kube-public (KSV049) and reads bootstrap-token secrets in kube-system (KSV0113); the
    // token cleaner deletes them (KSV0113); the cloud provider writes configmaps (KSV049).
    (
        "kube-public/system:controller:bootstrap-signer",
        &["KSV049"],
    ),
    (
        "kube-system/system:controller:bootstrap-signer",
        &["KSV0113"],
    ),
    ("kube-system/system:controller:token-cleaner", &["KSV0113"]),
    ("kube-system/system:controller:cloud-provider", &["KSV049"]),
    // The only binding to cluster-admin/admin/edit: cluster-admin to system:masters (KSV0111).
    ("binding:cluster-admin", &["KSV0111"]),
];

fn key(kind: &str, namespace: &str, name: &str) -> String {
    let prefix = if kind.ends_with("Binding") {
        "binding:"
    } else {
        ""
    };
    if namespace.is_empty() {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}{namespace}/{name}")
    }
}

#[test]
fn default_roles_exact_findings() {
    let root = support::shared_testdata().join("k8s-rbac");
    let engine = support::engine();
    let mut actual: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in FILES {
        let objects = parse_documents(&std::fs::read(root.join(f)).unwrap()).unwrap();
        for o in objects {
            *counts.entry(f).or_default() += 1;
            let results = engine.evaluate(&o.value);
            assert!(
                !results.is_empty(),
                "{f}: no check applies to {} {}",
                o.kind,
                o.name
            );
            assert!(
                results
                    .iter()
                    .all(|r| !matches!(r.outcome, sightline_policy::engine::Outcome::Error(_))),
                "{f}: {} {} errored",
                o.kind,
                o.name
            );
            let ids = support::failed_ids(&results);
            if !ids.is_empty() {
                let k = key(&o.kind, &o.namespace, &o.name);
                assert!(actual.insert(k.clone(), ids).is_none(), "duplicate {k}");
            }
        }
    }
    // The README's item counts: 69 ClusterRoles, 48 ClusterRoleBindings, 7 Roles, 7 RoleBindings.
    assert_eq!(
        counts["cluster-roles.yaml"] + counts["controller-roles.yaml"],
        69
    );
    assert_eq!(
        counts["cluster-role-bindings.yaml"] + counts["controller-role-bindings.yaml"],
        48
    );
    assert_eq!(counts["namespace-roles.yaml"], 7);
    assert_eq!(counts["namespace-role-bindings.yaml"], 7);

    let expected: BTreeMap<String, Vec<String>> = EXPECTED
        .iter()
        .map(|(k, ids)| {
            let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            v.sort();
            (k.to_string(), v)
        })
        .collect();
    for (k, v) in &actual {
        assert_eq!(Some(v), expected.get(k), "findings of {k}");
    }
    for k in expected.keys() {
        assert!(actual.contains_key(k), "{k}: expected findings, got none");
    }
}

#[test]
fn cross_checks_with_summary() {
    let root = support::shared_testdata().join("k8s-rbac");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("summary.json")).unwrap()).unwrap();
    let d = &summary["derived"];
    let list = |k: &str| -> BTreeSet<String> {
        d[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let with = |ids: &[&str]| -> BTreeSet<String> {
        EXPECTED
            .iter()
            .filter(|(_, f)| f.iter().any(|x| ids.contains(x)))
            .map(|(k, _)| k.to_string())
            .collect()
    };
    // Only cluster-admin is */*/*.
    assert_eq!(with(&["KSV044"]), list("wildcardAll"));
    // Secrets readers: KSV041 (ClusterRoles) and KSV0113 (Roles) find exactly the same roles.
    assert_eq!(with(&["KSV041", "KSV0113"]), list("canReadSecrets"));
    // Pod creators are a subset of KSV048 (which also counts other workload kinds, e.g.
    // the deployment controller creating ReplicaSets).
    assert!(list("canCreatePods").is_subset(&with(&["KSV048"])));
    // bind/escalate holders are flagged by KSV050.
    assert!(list("canBindOrEscalate").is_subset(&with(&["KSV050"])));
    // The one binding to cluster-admin.
    assert_eq!(d["bindingsToClusterAdmin"].as_array().unwrap().len(), 1);
    assert_eq!(
        with(&["KSV0111"]),
        BTreeSet::from(["binding:cluster-admin".to_string()])
    );
}
