//! `sightline config` end to end: the shared Kubernetes manifests and default RBAC, stdin,
//! filters, custom checks, a checks bundle from the real local registry, bad input.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{shared_testdata, sightline, Run};

fn policy_testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policy/testdata")
        .join(p)
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Runs `sightline config` with `stdin` piped in.
fn with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(args)
        .env("HOME", "/nonexistent-home-for-tests")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// (Target, ID, Status) -> messages, of a JSON report.
fn findings(report: &serde_json::Value) -> BTreeMap<(String, String, String), Vec<String>> {
    let mut out: BTreeMap<_, Vec<String>> = BTreeMap::new();
    for r in report["Results"].as_array().into_iter().flatten() {
        let target = r["Target"].as_str().unwrap().to_string();
        for m in r["Misconfigurations"].as_array().into_iter().flatten() {
            let s = |k: &str| m[k].as_str().unwrap().to_string();
            out.entry((target.clone(), s("ID"), s("Status")))
                .or_default()
                .push(s("Message"));
        }
    }
    out
}

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  securityContext:
    runAsNonRoot: true
  containers:
  - name: app
    image: registry.k8s.io/pause:3.9
    securityContext:
      privileged: true
  - name: sidecar
    image: registry.k8s.io/pause:3.9
";

#[test]
fn shared_manifests_stable_json() {
    let dir = path_str(&shared_testdata().join("k8s-manifests"));
    let a = sightline(&["config", "--format", "json", &dir]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let b = sightline(&["config", "--format", "json", &dir]);
    let (mut ja, mut jb) = (a.json(), b.json());
    assert_eq!(ja["SchemaVersion"], 2);
    assert_eq!(ja["ArtifactType"], "filesystem");
    ja.as_object_mut().unwrap().remove("CreatedAt");
    jb.as_object_mut().unwrap().remove("CreatedAt");
    assert_eq!(ja, jb, "two runs give the same report");
    let results = ja["Results"].as_array().unwrap();
    assert!(results.len() > 500, "{} results", results.len());
    // Targets are relative to the directory, sorted, and each carries Trivy's fields.
    let targets: Vec<&str> = results
        .iter()
        .map(|r| r["Target"].as_str().unwrap())
        .collect();
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!(targets, sorted);
    let privileged = results
        .iter()
        .find(|r| r["Target"] == "polaris/runAsPrivileged/failure.yaml")
        .expect("runAsPrivileged failure file");
    assert_eq!(privileged["Class"], "config");
    assert_eq!(privileged["Type"], "kubernetes");
    let m = privileged["Misconfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ID"] == "KSV017")
        .expect("KSV017 fails");
    for k in [
        "Type",
        "ID",
        "AVDID",
        "Title",
        "Description",
        "Message",
        "Resolution",
        "Severity",
        "PrimaryURL",
        "Status",
    ] {
        assert!(m[k].is_string(), "{k} in {m}");
    }
    assert_eq!(m["AVDID"], "AVD-KSV-0017");
    assert_eq!(m["PrimaryURL"], "https://avd.aquasec.com/misconfig/ksv017");
    assert_eq!(m["Status"], "FAIL");
    assert_eq!(m["CauseMetadata"]["Provider"], "Kubernetes");
    assert_eq!(m["CauseMetadata"]["Service"], "general");
    assert!(m["CauseMetadata"]["StartLine"].as_u64().unwrap() > 0);
    // Summary counts agree with the listed failures (no --include-passed: failures only).
    for r in results {
        let listed = r["Misconfigurations"].as_array().map_or(0, |a| a.len());
        assert_eq!(
            usize::try_from(r["MisconfSummary"]["Failures"].as_u64().unwrap()).unwrap(),
            listed,
            "{}",
            r["Target"]
        );
    }
}

#[test]
fn shared_rbac_findings_and_exit_code() {
    let dir = path_str(&shared_testdata().join("k8s-rbac"));
    let run = sightline(&[
        "config",
        "--format",
        "json",
        "--severity",
        "CRITICAL",
        "--exit-code",
        "3",
        &dir,
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let f = findings(&run.json());
    let admin = &f[&(
        "cluster-roles.yaml".to_string(),
        "KSV044".to_string(),
        "FAIL".to_string(),
    )];
    assert_eq!(admin, &["ClusterRole 'cluster-admin' shouldn't grant all verbs ('*') on all resources ('*') of all API groups"]);
    assert!(
        f.keys().all(|(_, id, _)| [
            "KSV041", "KSV043", "KSV044", "KSV045", "KSV046", "KSV050", "KSV052", "KSV0112",
            "KSV0114", "KSV0115"
        ]
        .contains(&id.as_str())),
        "only CRITICAL checks: {f:?}"
    );
    // --output writes the same report to a file.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("report.json");
    let run = sightline(&[
        "config",
        "-f",
        "json",
        "--severity",
        "CRITICAL",
        "-o",
        file.to_str().unwrap(),
        &dir,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(findings(&written), f);
    // Table output names the file and the lines of the rule.
    let run = sightline(&["config", "--severity", "CRITICAL", &dir]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("cluster-roles.yaml (kubernetes)"),
        "{}",
        run.stdout
    );
    assert!(run
        .stdout
        .contains("AVD-KSV-0044 (CRITICAL): ClusterRole 'cluster-admin'"));
}

#[test]
fn stdin_multi_document_and_lists_with_cause_lines() {
    let list = "\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: Role\n  metadata: {name: reader, namespace: shop}\n  rules:\n  - apiGroups: [\"\"]\n    resources: [secrets]\n    verbs: [get]\n";
    let run = with_stdin(
        &["config", "--format", "json", "-"],
        &format!("{POD}{list}"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let r = &report["Results"][0];
    assert_eq!(r["Target"], "-");
    let ms = r["Misconfigurations"].as_array().unwrap();
    let ksv017 = ms.iter().find(|m| m["ID"] == "KSV017").unwrap();
    assert_eq!(
        ksv017["Message"],
        "Container 'app' of Pod 'web' should set 'securityContext.privileged' to false"
    );
    // The container `app` spans lines 10-13.
    assert_eq!(
        (
            ksv017["CauseMetadata"]["StartLine"].as_u64(),
            ksv017["CauseMetadata"]["EndLine"].as_u64()
        ),
        (Some(10), Some(13))
    );
    assert_eq!(ksv017["CauseMetadata"]["Resource"], "Pod/shop/web");
    // runAsNonRoot at pod level covers both containers.
    assert!(ms.iter().all(|m| m["ID"] != "KSV012"));
    // The Role inside the List: secrets readable in its namespace (KSV0113), rule lines.
    let ksv0113 = ms.iter().find(|m| m["ID"] == "KSV0113").unwrap();
    assert_eq!(ksv0113["CauseMetadata"]["StartLine"], 25);
    assert_eq!(ksv0113["CauseMetadata"]["EndLine"], 27);
}

#[test]
fn severity_filter_and_include_passed() {
    let run = with_stdin(&["config", "-f", "json", "--severity", "HIGH", "-"], POD);
    let ids: Vec<String> = run.json()["Results"][0]["Misconfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["Severity"], "HIGH");
            m["ID"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        ids.contains(&"KSV017".to_string()) && ids.contains(&"KSV014".to_string()),
        "{ids:?}"
    );
    let run = with_stdin(&["config", "-f", "json", "--include-passed", "-"], POD);
    let r = &run.json()["Results"][0];
    let ms = r["Misconfigurations"].as_array().unwrap();
    let passed = ms.iter().filter(|m| m["Status"] == "PASS").count();
    assert_eq!(
        passed as u64,
        r["MisconfSummary"]["Successes"].as_u64().unwrap()
    );
    assert!(ms.iter().any(|m| m["ID"] == "KSV009"
        && m["Status"] == "PASS"
        && m["Message"] == "No issues found"));
    // Failures come first.
    let first_pass = ms.iter().position(|m| m["Status"] == "PASS").unwrap();
    assert!(ms[first_pass..].iter().all(|m| m["Status"] == "PASS"));
}

#[test]
fn custom_policy_directory_and_trusted_registries() {
    let custom = path_str(&policy_testdata("custom"));
    let deployment = path_str(&policy_testdata("deployment.yaml"));
    let run = sightline(&["config", "-f", "json", "--policy", &custom, &deployment]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = findings(&run.json());
    let key = |id: &str| (deployment.clone(), id.to_string(), "FAIL".to_string());
    assert_eq!(
        f[&key("TEST001")],
        ["Deployment 'web' should carry the label app.kubernetes.io/version"]
    );
    assert_eq!(f[&key("TEST002")], ["container web uses nginx:1.27"]);
    assert_eq!(f[&key("KSV0125")].len(), 2);
    let run = sightline(&[
        "config",
        "-f",
        "json",
        "--trusted-registries",
        "docker.io,registry.internal.example",
        &deployment,
    ]);
    assert!(!findings(&run.json()).contains_key(&key("KSV0125")));
}

#[test]
fn checks_bundle_from_the_registry() {
    let Some(env) = support::env() else { return };
    let reference = format!("{}/sightline-test/cli-checks:1", env.registry);
    let mut blob = Vec::new();
    sightline_policy::bundle::write_archive(&policy_testdata("bundle"), &mut blob).unwrap();
    sightline_policy::bundle::bundle_artifact(blob)
        .publish_blocking(&reference, &Default::default())
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let cache_s = path_str(cache.path());
    let deployment = path_str(&policy_testdata("deployment.yaml"));
    let args = [
        "config",
        "-f",
        "json",
        "--cache-dir",
        &cache_s,
        "--checks-bundle-repository",
        &reference,
        &deployment,
    ];
    let run = sightline(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let f = findings(&run.json());
    let key = |id: &str| (deployment.clone(), id.to_string(), "FAIL".to_string());
    assert_eq!(
        f[&key("BUNDLE001")],
        ["Deployment web should set spec.replicas (min 2)"]
    );
    assert_eq!(
        f[&key("KSV013")].len(),
        2,
        "the bundle's KSV013 replaces the built-in one"
    );
    assert!(cache.path().join("policy/metadata.json").is_file());
    // Offline: the cached bundle is used without the registry.
    let offline = [
        "config",
        "-f",
        "json",
        "--cache-dir",
        &cache_s,
        "--checks-bundle-repository",
        "127.0.0.1:1/nothing:1",
        "--skip-check-update",
        &deployment,
    ];
    let run = sightline(&offline);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(findings(&run.json()).contains_key(&key("BUNDLE001")));
    // An unreachable repository with no cached bundle is an error.
    let empty = tempfile::tempdir().unwrap();
    let run = sightline(&[
        "config",
        "--cache-dir",
        empty.path().to_str().unwrap(),
        "--checks-bundle-repository",
        "127.0.0.1:1/nothing:1",
        "--timeout",
        "5s",
        &deployment,
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("checks bundle"), "{}", run.stderr);
}

#[test]
fn bad_input() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.yaml");
    std::fs::write(&bad, "kind: Pod\nmetadata: [oops\n").unwrap();
    let run = sightline(&["config", bad.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("bad.yaml") && run.stderr.contains("invalid YAML"),
        "{}",
        run.stderr
    );
    // Inside a directory, an unparsable file is skipped with a warning; the others are audited.
    std::fs::write(d.path().join("pod.yaml"), POD).unwrap();
    std::fs::write(
        d.path().join("widget.yaml"),
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    )
    .unwrap();
    let run = sightline(&["config", "-f", "json", d.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("bad.yaml"), "{}", run.stderr);
    let targets: Vec<String> = run.json()["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(targets, ["pod.yaml"], "unknown kinds get no result");
    // Only unknown kinds.
    let run = sightline(&["config", d.path().join("widget.yaml").to_str().unwrap()]);
    assert_eq!(run.code, 0);
    assert!(run
        .stdout
        .contains("No Kubernetes objects with applicable checks"));
    // A custom check that does not compile is reported and left out; the rest runs.
    let policies = d.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("broken.rego"),
        "package broken\ndeny contains msg if {\n",
    )
    .unwrap();
    let run = sightline(&[
        "config",
        "-f",
        "json",
        "--policy",
        policies.to_str().unwrap(),
        d.path().join("pod.yaml").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("broken.rego"), "{}", run.stderr);
    assert!(findings(&run.json())
        .keys()
        .any(|(_, id, _)| id == "KSV017"));
    // A missing path.
    let run = sightline(&["config", "/nonexistent/manifests"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("/nonexistent/manifests"));
}
