//! Agreement with the Polaris and Kubescape regolibrary test manifests in
//! `shared/testdata/k8s-manifests` (606 files with a known pass/fail for a named check).
//!
//! Each upstream check whose meaning one of our checks covers is mapped to our check IDs
//! (`MAPPING`); a file is flagged when any of its objects fails any mapped check. A file is
//! *unmapped* when its upstream check has no equivalent (the README of this crate lists
//! them, with the reason) or when none of the mapped checks applies to any object of the
//! file (e.g. a ServiceAccount-only file for a workload check). Every disagreement is listed
//! in `KNOWN_DISAGREEMENTS` with its reason; the test fails when the actual set differs, and
//! when agreement on mapped files drops below 95%.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sightline_policy::parse_documents;

/// Upstream check -> our check IDs (flagged iff any of them fails).
const MAPPING: &[(&str, &[&str])] = &[
    // Polaris
    ("automountServiceAccountToken", &["KSV036"]),
    ("cpuLimitsMissing", &["KSV011"]),
    ("cpuRequestsMissing", &["KSV015"]),
    ("memoryLimitsMissing", &["KSV018"]),
    ("memoryRequestsMissing", &["KSV016"]),
    ("dangerousCapabilities", &["KSV022"]),
    ("hostIPCSet", &["KSV008"]),
    ("hostNetworkSet", &["KSV009"]),
    ("hostPIDSet", &["KSV010"]),
    ("hostPathSet", &["KSV023"]),
    ("hostPortSet", &["KSV024"]),
    ("notReadOnlyRootFilesystem", &["KSV014"]),
    ("privilegeEscalationAllowed", &["KSV001"]),
    ("procMount", &["KSV027"]),
    ("runAsPrivileged", &["KSV017"]),
    ("runAsRootAllowed", &["KSV012"]),
    ("tagNotSpecified", &["KSV013"]),
    ("sensitiveConfigmapContent", &["KSV0109", "KSV01010"]),
    // regolibrary
    ("alert-any-hostpath", &["KSV023"]),
    ("automount-service-account", &["KSV036"]),
    ("container-hostPort", &["KSV024"]),
    ("containers-mounting-docker-socket", &["KSV006"]),
    ("drop-capability-netraw", &["KSV003"]),
    ("host-network-access", &["KSV009"]),
    ("host-pid-ipc-privileges", &["KSV008", "KSV010"]),
    ("immutable-container-filesystem", &["KSV014"]),
    ("insecure-capabilities", &["KSV022"]),
    ("non-root-containers", &["KSV012"]),
    ("resources-cpu-limits", &["KSV011"]),
    ("resources-cpu-requests", &["KSV015"]),
    ("resources-memory-limits", &["KSV018"]),
    ("resources-memory-requests", &["KSV016"]),
    ("rule-allow-privilege-escalation", &["KSV001"]),
    ("rule-credentials-configmap", &["KSV0109", "KSV01010"]),
    ("rule-privileged-container", &["KSV017", "KSV005"]),
    ("set-procmount-default", &["KSV027"]),
    ("set-seccomp-profile", &["KSV030"]),
    ("set-seccomp-profile-RuntimeDefault", &["KSV030"]),
    // regolibrary RBAC rules alert on subjects; the Role/ClusterRole files of a case fail with
    // them (the binding files are judged on the role, which our role checks do not see: they
    // count as not applicable).
    ("rule-can-list-get-secrets-v1", &["KSV041", "KSV0113"]),
    ("rule-can-bind-escalate", &["KSV050"]),
    ("rule-can-create-pod", &["KSV048"]),
];

/// Cases of a mapped upstream check whose meaning our check does not cover (path prefix,
/// reason): left out of the agreement figure.
const UNMAPPED_CASES: &[(&str, &str)] = &[
    (
        "regolibrary/containers-mounting-docker-socket/cronjob-containerd/",
        "containerd socket: KSV006 is about docker.sock only",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/cronjob-crio/",
        "CRI-O socket: KSV006 is about docker.sock only",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/pod-containerd/",
        "containerd socket: KSV006 is about docker.sock only",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/pod-crio/",
        "CRI-O socket: KSV006 is about docker.sock only",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/workloads-containerd/",
        "containerd socket: KSV006 is about docker.sock only",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/workloads-crio/",
        "CRI-O socket: KSV006 is about docker.sock only",
    ),
];

/// Every file where our verdict differs from upstream's, and why.
const KNOWN_DISAGREEMENTS: &[(&str, &str)] = &[
    (
        "polaris/automountServiceAccountToken/success.serviceaccount.yaml",
        "Polaris follows the Pod to its ServiceAccount in the same file (automountServiceAccountToken: \
         false there); KSV036 judges each object alone and the Pod spec does not disable the token",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/cronjob/input/cronjob.yaml",
        "the hostPath is the directory /var/run/docker, not the socket /var/run/docker.sock that KSV006 \
         looks for",
    ),
    (
        "regolibrary/containers-mounting-docker-socket/pod/input/pod.yaml",
        "the hostPath is the directory /var/run/docker, not the socket /var/run/docker.sock that KSV006 \
         looks for",
    ),
    (
        "regolibrary/rule-credentials-configmap/env-value-akia-key/input/configmap.yaml",
        "the value is AKIAIOSFODNN7EXAMPLE, AWS's documented example key, which the secret rules \
         (sightline-secrets, shared with image scans) deliberately allow",
    ),
    (
        "regolibrary/set-procmount-default/workload/input/deployment.yaml",
        "regolibrary requires procMount to be set explicitly; KSV027 flags only non-default values, \
         and an unset procMount is the default",
    ),
    (
        "regolibrary/set-seccomp-profile-RuntimeDefault/pod/input/pod.yaml",
        "containers use a Localhost seccomp profile, which KSV030 accepts (the Restricted Pod Security \
         Standard allows RuntimeDefault or Localhost); regolibrary accepts RuntimeDefault only",
    ),
    (
        "regolibrary/set-seccomp-profile-RuntimeDefault/workloads/input/deployment.yaml",
        "a container uses a Localhost seccomp profile, which KSV030 accepts (the Restricted Pod Security \
         Standard allows RuntimeDefault or Localhost); regolibrary accepts RuntimeDefault only",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    NotApplicable,
}

#[test]
fn agreement_with_polaris_and_regolibrary() {
    let root = support::shared_testdata().join("k8s-manifests");
    let index: BTreeMap<String, serde_json::Value> = serde_json::from_slice(
        &std::fs::read(root.join("expectations.json")).expect("expectations.json"),
    )
    .unwrap();
    assert_eq!(index.len(), 606, "the dataset has 606 indexed files");
    let mapping: BTreeMap<&str, &[&str]> = MAPPING.iter().copied().collect();
    let engine = support::engine();

    let (mut mapped, mut agree) = (0usize, 0usize);
    let mut unmapped_checks: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_applicable = Vec::new();
    let mut disagreements: BTreeMap<String, String> = BTreeMap::new();
    for (path, e) in &index {
        let check = e["check"].as_str().unwrap();
        let expected = e["expected"].as_str().unwrap();
        // Every file parses (the dataset's promise), mapped or not.
        let bytes = std::fs::read(root.join(path)).unwrap();
        let objects = parse_documents(&bytes).unwrap_or_else(|err| panic!("{path}: {err}"));
        let unmapped_case = UNMAPPED_CASES
            .iter()
            .any(|(prefix, _)| path.starts_with(prefix));
        let Some(ids) = mapping.get(check).filter(|_| !unmapped_case) else {
            *unmapped_checks.entry(check.to_string()).or_default() += 1;
            continue;
        };
        let mut verdict = Verdict::NotApplicable;
        for o in &objects {
            for r in engine.evaluate(&o.value) {
                if !ids.contains(&r.check.id.as_str()) {
                    continue;
                }
                if r.failed() {
                    verdict = Verdict::Fail;
                } else if verdict == Verdict::NotApplicable {
                    verdict = Verdict::Pass;
                }
            }
        }
        if verdict == Verdict::NotApplicable {
            not_applicable.push(path.clone());
            continue;
        }
        mapped += 1;
        let ours = if verdict == Verdict::Fail {
            "fail"
        } else {
            "pass"
        };
        if ours == expected {
            agree += 1;
        } else {
            disagreements.insert(
                path.clone(),
                format!("{check}: upstream {expected}, ours {ours}"),
            );
        }
    }
    let known: BTreeMap<&str, &str> = KNOWN_DISAGREEMENTS.iter().copied().collect();
    let actual: BTreeSet<&str> = disagreements.keys().map(String::as_str).collect();
    let listed: BTreeSet<&str> = known.keys().copied().collect();
    let pct = 100.0 * agree as f64 / mapped.max(1) as f64;
    println!(
        "k8s-manifests: {} files; mapped {mapped}, agree {agree}, disagree {}, agreement {pct:.1}%; \
         unmapped (no equivalent check) {}; unmapped (no mapped check applies to the file's kinds) {}",
        index.len(),
        mapped - agree,
        unmapped_checks.values().sum::<usize>(),
        not_applicable.len()
    );
    for (p, d) in &disagreements {
        println!("DISAGREE {p}: {d}");
    }
    for p in &not_applicable {
        println!("N/A {p}");
    }
    assert_eq!(
        actual.difference(&listed).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "new disagreements (explain them in KNOWN_DISAGREEMENTS or fix the check)"
    );
    assert_eq!(
        listed.difference(&actual).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "listed disagreements that no longer occur"
    );
    assert!(pct >= 95.0, "agreement {pct:.1}% < 95%");
}
