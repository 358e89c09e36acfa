//! `sightline crds` prints exactly the chart's CRDs (deploy/helm/sightline/crds, checked
//! against the code by crates/api/tests/chart_crds.rs), and `--output-dir` writes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/helm/sightline/crds")
}

fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn prints_the_chart_crds_as_one_stream() {
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .arg("crds")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want: String = files(&chart_dir())
        .values()
        .map(|t| format!("---\n{t}"))
        .collect();
    assert_eq!(stdout, want);
    let kinds: Vec<String> = serde_norway::Deserializer::from_str(&stdout)
        .map(|doc| {
            let v = <serde_norway::Value as serde::Deserialize>::deserialize(doc).unwrap();
            v["spec"]["names"]["kind"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(kinds.len(), 12);
    assert!(kinds.contains(&"VulnerabilityReport".to_string()));
    assert!(kinds.contains(&"ClusterComplianceReport".to_string()));
}

#[test]
fn output_dir_writes_one_file_per_crd() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("crds");
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["crds", "--output-dir"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    assert_eq!(files(&target), files(&chart_dir()));
}

#[test]
fn an_unwritable_output_dir_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["crds", "--output-dir"])
        .arg(blocker.join("crds"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("file/crds"), "{stderr}");
}
