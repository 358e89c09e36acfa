//! Custom checks: from a directory (Trivy Operator-style `__rego_metadata__` in Rego v0, and
//! `# METADATA` with Trivy's `result.new`), from an in-memory map (a ConfigMap's data), and
//! from a checks bundle pushed to the real local registry.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sightline_image::RegistryOptions;
use sightline_policy::bundle;
use sightline_policy::engine::EngineOptions;
use sightline_policy::{parse_documents, CheckSet, Origin, PolicyEngine};

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

fn deployment() -> serde_json::Value {
    let objs = parse_documents(&std::fs::read(testdata("deployment.yaml")).unwrap()).unwrap();
    objs[0].value.clone()
}

fn messages(e: &PolicyEngine, id: &str) -> Vec<String> {
    let results = e.evaluate(&deployment());
    let r = results
        .iter()
        .find(|r| r.check.id == id)
        .unwrap_or_else(|| panic!("{id} did not run"));
    r.failures().iter().map(|f| f.message.clone()).collect()
}

#[test]
fn custom_checks_from_a_directory() {
    let mut set = CheckSet::builtin();
    set.add_dir(&testdata("custom")).unwrap();
    let e = PolicyEngine::new(set, EngineOptions::default()).unwrap();
    assert!(e.load_errors().is_empty(), "{:?}", e.load_errors());

    let t1 = e
        .checks()
        .find(|c| c.id == "TEST001")
        .expect("__rego_metadata__ check");
    assert_eq!(t1.title, "Recommended labels");
    assert_eq!(t1.category, "Custom Check");
    assert_eq!(t1.avd_id, "AVD-TEST-0001");
    assert_eq!(t1.kinds, ["deployment", "statefulset"]);
    assert_eq!(
        messages(&e, "TEST001"),
        ["Deployment 'web' should carry the label app.kubernetes.io/version"]
    );

    // result.new (no import) resolves to the extension and carries the container's lines.
    let results = e.evaluate(&deployment());
    let t2 = results.iter().find(|r| r.check.id == "TEST002").unwrap();
    let f = t2.failures();
    assert_eq!(f.len(), 1, "{:?}", t2.outcome);
    assert_eq!(f[0].message, "container web uses nginx:1.27");
    assert_eq!((f[0].start_line, f[0].end_line), (12, 13));
    // Built-in checks still run beside them.
    assert!(results.iter().any(|r| r.check.id == "KSV001" && r.failed()));
    // A kind the custom checks do not select: only built-ins apply.
    let pod = serde_json::json!({"kind": "Role", "metadata": {"name": "r"}, "rules": []});
    assert!(e
        .evaluate(&pod)
        .iter()
        .all(|r| !r.check.id.starts_with("TEST")));
}

#[test]
fn custom_checks_from_a_configmap() {
    let mut data = BTreeMap::new();
    data.insert(
        "policy.recommended_labels.rego".to_string(),
        std::fs::read_to_string(testdata("custom/recommended_labels.rego")).unwrap(),
    );
    data.insert(
        "policy.recommended_labels.kinds".to_string(),
        "Workload".to_string(),
    );
    let mut set = CheckSet::new();
    set.add_map("trivy-system/trivy-operator-policies-config", &data)
        .unwrap();
    let e = PolicyEngine::new(set, EngineOptions::default()).unwrap();
    assert_eq!(e.checks().count(), 1);
    assert_eq!(messages(&e, "TEST001").len(), 1);
}

/// Registry for the bundle tests, or None (skipped loudly) unless SIGHTLINE_REQUIRE_REGISTRY.
fn registry() -> Option<String> {
    let r = std::env::var("SIGHTLINE_TEST_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5000".into());
    if std::net::TcpStream::connect(&r).is_ok() {
        return Some(r);
    }
    assert!(
        std::env::var_os("SIGHTLINE_REQUIRE_REGISTRY").is_none(),
        "test registry {r} is not running: shared/scripts/test-images.sh start"
    );
    eprintln!("SKIP: test registry {r} not running (shared/scripts/test-images.sh start)");
    None
}

fn bundle_blob(dir: &Path) -> Vec<u8> {
    let mut blob = Vec::new();
    bundle::write_archive(dir, &mut blob).unwrap();
    blob
}

async fn push(reference: &str, opts: &RegistryOptions, blob: Vec<u8>, media_type: &str) -> String {
    bundle::bundle_artifact(blob)
        .with_media_type(media_type)
        .publish(reference, opts)
        .await
        .unwrap()
}

#[tokio::test]
async fn bundle_from_the_registry() {
    let Some(reg) = registry() else { return };
    let reference = format!("{reg}/sightline-test/checks:1");
    let opts = RegistryOptions::default();
    let digest = push(
        &reference,
        &opts,
        bundle_blob(&testdata("bundle")),
        bundle::LAYER_MEDIA_TYPE,
    )
    .await;

    let cache = tempfile::tempdir().unwrap();
    let meta = bundle::pull(&reference, &opts, cache.path()).await.unwrap();
    assert_eq!(meta.digest, digest);
    assert!(cache
        .path()
        .join("policy/content/policies/kubernetes/ksv013_strict.rego")
        .is_file());
    assert_eq!(bundle::installed(cache.path()).unwrap(), meta);

    let mut set = CheckSet::builtin();
    set.extend(bundle::load(cache.path()).unwrap());
    let e = PolicyEngine::new(set, EngineOptions::default()).unwrap();
    assert!(e.load_errors().is_empty(), "{:?}", e.load_errors());
    // The bundle's KSV013 replaces the built-in one; its data document is loaded.
    let ksv013 = e.checks().find(|c| c.id == "KSV013").unwrap();
    assert_eq!(ksv013.package, "bundle.kubernetes.KSV013");
    assert_eq!(e.checks().filter(|c| c.id == "KSV013").count(), 1);
    let mut m = messages(&e, "KSV013");
    m.sort();
    assert_eq!(
        m,
        [
            "bundle: container sidecar is not pinned by digest",
            "bundle: container web is not pinned by digest"
        ]
    );
    assert_eq!(
        messages(&e, "BUNDLE001"),
        ["Deployment web should set spec.replicas (min 2)"]
    );
    assert!(bundle::load(cache.path())
        .unwrap()
        .files
        .iter()
        .all(|f| matches!(&f.origin, Origin::Bundle(r) if r == &reference)));

    // Pulling the same digest again is a no-op (the DownloadedAt stays).
    let again = bundle::pull(&reference, &opts, cache.path()).await.unwrap();
    assert_eq!(again, meta);

    // An artifact without a bundle layer fails and leaves the installed bundle alone.
    let wrong = format!("{reg}/sightline-test/checks:wrong-type");
    push(
        &wrong,
        &opts,
        bundle_blob(&testdata("bundle")),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
    .await;
    let err = bundle::pull(&wrong, &opts, cache.path()).await.unwrap_err();
    assert!(err.to_string().contains("not a checks bundle"), "{err}");
    // A truncated archive fails too.
    let truncated = format!("{reg}/sightline-test/checks:truncated");
    let blob = bundle_blob(&testdata("bundle"));
    push(
        &truncated,
        &opts,
        blob[..blob.len() / 2].to_vec(),
        bundle::LAYER_MEDIA_TYPE,
    )
    .await;
    let err = bundle::pull(&truncated, &opts, cache.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad bundle archive"), "{err}");
    assert_eq!(bundle::installed(cache.path()).unwrap(), meta);
    let names: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["policy"], "no temporary directory is left behind");
}

#[tokio::test]
async fn bundle_from_the_auth_registry() {
    let Some(_) = registry() else { return };
    let reg =
        std::env::var("SIGHTLINE_TEST_AUTH_REGISTRY").unwrap_or_else(|_| "127.0.0.1:5001".into());
    let reference = format!("{reg}/sightline-test/checks:1");
    let opts = RegistryOptions {
        username: Some("sightline".into()),
        password: Some("sightline-test".into()),
        ..Default::default()
    };
    push(
        &reference,
        &opts,
        bundle_blob(&testdata("bundle")),
        bundle::LAYER_MEDIA_TYPE,
    )
    .await;
    let cache = tempfile::tempdir().unwrap();
    // Without credentials the registry refuses.
    let err = bundle::pull(&reference, &RegistryOptions::default(), cache.path())
        .await
        .unwrap_err();
    assert!(!err.to_string().is_empty());
    assert!(bundle::installed(cache.path()).is_none());
    bundle::pull(&reference, &opts, cache.path()).await.unwrap();
    let set = bundle::load(cache.path()).unwrap();
    let e = PolicyEngine::new(set, EngineOptions::default()).unwrap();
    let ids: Vec<_> = e.checks().map(|c| c.id.clone()).collect();
    assert_eq!(ids, ["BUNDLE001", "KSV013"]);
}
