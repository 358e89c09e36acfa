//! The RVM (the fast path) and the interpreter (the reference) give the same results on
//! every object of the shared manifests and default RBAC.

mod support;

use sightline_policy::engine::EngineOptions;
use sightline_policy::{parse_documents, CheckSet, PolicyEngine};

fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(p);
        }
    }
}

#[test]
fn rvm_and_interpreter_agree() {
    let vm = support::engine();
    let interp = PolicyEngine::new(
        CheckSet::builtin(),
        EngineOptions {
            use_vm: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(interp.vm_check_count(), 0);
    assert!(
        vm.vm_check_count() >= 60,
        "{} checks on the RVM",
        vm.vm_check_count()
    );
    let mut paths = Vec::new();
    files(
        &support::shared_testdata().join("k8s-manifests"),
        &mut paths,
    );
    files(&support::shared_testdata().join("k8s-rbac"), &mut paths);
    paths.sort();
    let mut objects = 0;
    for p in &paths {
        let Ok(objs) = parse_documents(&std::fs::read(p).unwrap()) else {
            continue;
        };
        for o in objs {
            objects += 1;
            let a: Vec<(String, String)> = vm
                .evaluate(&o.value)
                .iter()
                .map(|r| (r.check.id.clone(), r.outcome_message()))
                .collect();
            let b: Vec<(String, String)> = interp
                .evaluate(&o.value)
                .iter()
                .map(|r| (r.check.id.clone(), r.outcome_message()))
                .collect();
            assert_eq!(a, b, "{}: {} {}", p.display(), o.kind, o.name);
        }
    }
    assert!(objects > 700, "{objects} objects");
}

#[test]
fn aggregates_compile_for_every_kind() {
    let e = support::engine();
    // pod, replicaset, replicationcontroller, deployment, statefulset, daemonset, job, cronjob,
    // configmap, networkpolicy, limitrange, resourcequota, role, clusterrole, rolebinding,
    // clusterrolebinding (KSV0109 runs on the interpreter; KSV01010 keeps configmap here).
    assert_eq!(e.aggregate_count(), 16);
}
