//! The Helm chart's CRDs (`deploy/helm/sightline/crds/`) are what the code generates:
//! one file per CRD, byte for byte, and no other file. Regenerate with `scripts/gen-crds.sh`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/helm/sightline/crds")
}

fn checked_in() -> BTreeMap<String, String> {
    std::fs::read_dir(chart_dir())
        .expect("deploy/helm/sightline/crds exists")
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
fn chart_crds_are_the_generated_ones() {
    let generated: BTreeMap<String, String> = sightline_api::crd::all()
        .iter()
        .map(|c| {
            (
                sightline_api::crd::file_name(c),
                sightline_api::crd::render_yaml(c),
            )
        })
        .collect();
    let files = checked_in();
    let mut problems = Vec::new();
    for (name, want) in &generated {
        match files.get(name) {
            None => problems.push(format!("{name}: missing")),
            Some(got) if got != want => {
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| got.lines().count().min(want.lines().count()))
                    + 1;
                problems.push(format!("{name}: differs from the code from line {line} on"));
            }
            Some(_) => {}
        }
    }
    for name in files.keys().filter(|n| !generated.contains_key(*n)) {
        problems.push(format!("{name}: not a CRD the code generates"));
    }
    assert!(
        problems.is_empty(),
        "deploy/helm/sightline/crds is out of date (run scripts/gen-crds.sh):\n{}",
        problems.join("\n")
    );
}

#[test]
fn chart_files_parse_back_into_the_generated_crds() {
    // The YAML is the API server's input: it must read back into the same objects.
    let generated: BTreeMap<String, CustomResourceDefinition> = sightline_api::crd::all()
        .into_iter()
        .map(|c| (sightline_api::crd::file_name(&c), c))
        .collect();
    for (name, text) in checked_in() {
        let parsed: CustomResourceDefinition =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(&parsed), generated.get(&name), "{name}");
    }
}

#[test]
fn the_stream_is_every_file_in_name_order() {
    let stream = sightline_api::crd::render_all_yaml();
    let joined: String = checked_in()
        .values()
        .map(|text| format!("---\n{text}"))
        .collect();
    assert_eq!(stream, joined);
    assert_eq!(stream.matches("\n---\n").count() + 1, 12);
}
