//! Hostile images through a scan Job on the real cluster: a Deployment whose image is a
//! case of the hostile corpus (`sightline_testkit::hostile`, pushed to the test registry)
//! makes the operator scan its tag in a Job; the scan fails clearly and the failure is a
//! Warning Event (`ScanFailed`, the scanner's error in the note) on the ReplicaSet and on
//! the Deployment (`kubectl describe deploy/...` shows it); no report is written.
//!
//! The node must never pull a hostile image itself (containerd would unpack the bombs):
//! the Deployments use `imagePullPolicy: Never`, and the test checks that no Pod ever ran
//! the image (every container is waiting with `ErrImageNeverPull`, never started).

mod support;

use std::time::Duration;

use serde_json::Value;
use sightline_testkit::hostile::{self, push, REPO_PREFIX, TAG};
use sightline_testkit::{cluster, wait_for, Cluster};
use support::*;

/// The CI cases, each with what its Event note must contain.
const CASES: &[(&str, &str)] = &[
    ("traversal", "hostile tar entry"),
    ("sparse-4g", "--max-file-size"),
    ("ten-thousand-layers", "--max-layers"),
    ("huge-config", "--max-config-size"),
];

fn deployment(name: &str, image: &str) -> String {
    format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment",
 "metadata": {{"name": "{name}"}},
 "spec": {{"replicas": 1, "selector": {{"matchLabels": {{"app": "{name}"}}}},
  "template": {{"metadata": {{"labels": {{"app": "{name}"}}}},
   "spec": {{"containers": [{{"name": "main", "image": "{image}", "imagePullPolicy": "Never",
     "command": ["sleep", "3600"]}}]}}}}}}}}"#
    )
}

/// The `ScanFailed` Event on `kind/name`, once there is one.
fn scan_failed_event(c: &Cluster, ns: &str, kind: &str, name: &str) -> Option<Value> {
    let ev = c.get_json(&[
        "-n",
        ns,
        "events",
        "--field-selector",
        &format!("involvedObject.kind={kind},involvedObject.name={name}"),
    ])?;
    ev["items"]
        .as_array()?
        .iter()
        .find(|e| e["reason"] == "ScanFailed" && e["type"] == "Warning")
        .cloned()
}

fn note(e: &Value) -> String {
    e["message"]
        .as_str()
        .or(e["note"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Every container of the Deployment's Pods refused to pull and never started.
fn pods_never_ran(c: &Cluster, ns: &str, name: &str) -> Result<usize, String> {
    let pods = c
        .get_json(&["-n", ns, "pods", "-l", &format!("app={name}")])
        .ok_or("listing pods")?;
    let mut refused = 0;
    for p in pods["items"].as_array().into_iter().flatten() {
        for s in p["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let state = &s["state"];
            if !state["running"].is_null()
                || !state["terminated"].is_null()
                || !s["lastState"]["terminated"].is_null()
                || s["imageID"].as_str().is_some_and(|i| !i.is_empty())
            {
                return Err(format!("a Pod ran the hostile image: {s}"));
            }
            if state["waiting"]["reason"] == "ErrImageNeverPull" {
                refused += 1;
            }
        }
    }
    Ok(refused)
}

#[test]
fn hostile_images_fail_their_scan_jobs_with_an_event_on_the_deployment() {
    let Some(c) = cluster() else { return };
    let Some(reg) = support::env() else { return };
    c.apply_crds();
    let dir = hostile::corpus_dir();
    for (name, _) in CASES {
        let case = hostile::case(name).unwrap();
        hostile::build_case(&dir, case).expect("building the hostile corpus");
        let pushed = push::push_case(&dir, case, &reg.registry).expect("pushing the corpus");
        assert!(matches!(pushed, push::Pushed::Registry(_)), "{pushed:?}");
    }
    let (apps, system) = ("sl-hostile", "sl-hostile-system");
    c.namespace(apps);
    c.namespace(system);
    let work = tempfile::tempdir().unwrap();
    let db = format!(
        "{}/sl-hostile-{}/trivy-db",
        reg.registry,
        std::process::id()
    );
    publish_fixture_db(&format!("{db}:2"));
    let started = std::time::Instant::now();
    let op = start_operator(&c, work.path(), apps, system, &db, &[]);

    for (name, _) in CASES {
        let image = format!("{}/{REPO_PREFIX}/{name}:{TAG}", c.pod_registry);
        let manifest = work.path().join(format!("{name}.json"));
        std::fs::write(&manifest, deployment(&format!("hostile-{name}"), &image)).unwrap();
        c.kubectl(&["-n", apps, "apply", "-f", manifest.to_str().unwrap()]);
    }
    let mut rows = Vec::new();
    for (name, want) in CASES {
        let d = format!("hostile-{name}");
        let rs_name = wait_for(Duration::from_secs(60), "the ReplicaSet", || {
            let rs = c.get_json(&["-n", apps, "replicasets", "-l", &format!("app={d}")])?;
            rs["items"][0]["metadata"]["name"]
                .as_str()
                .map(str::to_string)
        });
        let report = format!("replicaset-{rs_name}-main");
        // The failure's Event, or (a scan that was not stopped) the report.
        let outcome = wait_for(
            Duration::from_secs(300),
            &format!("a ScanFailed Event on deployment/{d} or a report"),
            || match scan_failed_event(&c, apps, "Deployment", &d) {
                Some(e) => Some(Ok(note(&e))),
                None => c
                    .get_json(&["-n", apps, "vulnerabilityreports", &report])
                    .map(|_| Err("the scan succeeded: a report was written".to_string())),
            },
        );
        let mut wrong = Vec::new();
        match &outcome {
            Ok(text) => {
                if !(text.contains(want) && text.contains(&format!("{REPO_PREFIX}/{name}:{TAG}"))) {
                    wrong.push(format!("the Event names neither the image nor {want:?}"));
                }
                let describe = c.kubectl(&["-n", apps, "describe", "deployment", &d]);
                if !(describe.contains("ScanFailed") && describe.contains("Warning")) {
                    wrong.push("kubectl describe deploy shows no ScanFailed".into());
                }
                // The ReplicaSet (the workload the reports belong to) has it too.
                if scan_failed_event(&c, apps, "ReplicaSet", &rs_name).is_none() {
                    wrong.push(format!("no ScanFailed Event on replicaset/{rs_name}"));
                }
                if c.get_json(&["-n", apps, "vulnerabilityreports", &report])
                    .is_some()
                {
                    wrong.push("a report was written".into());
                }
            }
            Err(e) => wrong.push(e.clone()),
        }
        let text = match outcome {
            Ok(t) | Err(t) => t,
        };
        eprintln!("{name:<22} {text}");
        rows.push((name.to_string(), text, wrong));
    }
    // The kubelet refused every pull: no Pod ever ran a hostile image.
    for (name, _) in CASES {
        let d = format!("hostile-{name}");
        let refused = wait_for(
            Duration::from_secs(60),
            "ErrImageNeverPull on every Pod",
            || match pods_never_ran(&c, apps, &d) {
                Ok(n) if n > 0 => Some(n),
                Ok(_) => None,
                Err(e) => panic!("{d}: {e}"),
            },
        );
        assert!(refused >= 1);
    }
    eprintln!(
        "\nscan-Job outcomes ({:.0}s from the operator's start):",
        started.elapsed().as_secs_f64()
    );
    for (name, text, wrong) in &rows {
        let verdict = if wrong.is_empty() {
            "ok".to_string()
        } else {
            wrong.join("; ")
        };
        eprintln!("  {name:<22} [{verdict}] {text}");
    }
    drop(op);
    let _ = c.kubectl_try(&["delete", "namespace", apps, system, "--wait=false"]);
    let failed: Vec<String> = rows
        .iter()
        .filter(|(_, _, w)| !w.is_empty())
        .map(|(n, t, w)| format!("{n}: {} ({t})", w.join("; ")))
        .collect();
    assert_no_case_failed(&failed);
}
