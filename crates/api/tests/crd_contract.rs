//! The generated CRDs against `testdata/crd-contract.json`, the record of Trivy Operator's CRD
//! interface: every kind with its names, scope, short names, categories, subresources and
//! printer columns, and every field of its schema with type, required fields, enums and where
//! unknown fields are kept. Any difference fails with the list of differences.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{json, Value};

fn contract() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/crd-contract.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read the contract"))
        .expect("the contract is JSON")
}

/// The schema of a CRD in the contract's shape.
#[derive(Default)]
struct Flat {
    fields: BTreeMap<String, String>,
    required: BTreeMap<String, Vec<String>>,
    enums: BTreeMap<String, Vec<String>>,
    preserve: Vec<String>,
}

fn flatten(path: &str, schema: &Value, flat: &mut Flat) {
    let ty = schema["type"].as_str().unwrap_or_else(|| {
        panic!("{path}: a schema without a type (structural schemas need one): {schema}")
    });
    flat.fields.insert(path.to_string(), ty.to_string());
    if let Some(e) = schema.get("enum") {
        flat.enums.insert(
            path.to_string(),
            e.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect(),
        );
    }
    if schema["x-kubernetes-preserve-unknown-fields"] == json!(true) {
        flat.preserve.push(path.to_string());
    }
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        let mut r: Vec<String> = req
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        r.sort();
        flat.required.insert(path.to_string(), r);
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            flatten(&format!("{path}.{name}"), sub, flat);
        }
    }
    if let Some(items) = schema.get("items") {
        flatten(&format!("{path}[]"), items, flat);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        flatten(&format!("{path}{{}}"), values, flat);
    }
}

fn root_schema(crd: &CustomResourceDefinition) -> Value {
    assert_eq!(crd.spec.versions.len(), 1, "one version, v1alpha1");
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("a schema"),
    )
    .unwrap()
}

fn flat_of(crd: &CustomResourceDefinition) -> Flat {
    let root = root_schema(crd);
    let mut flat = Flat::default();
    for (name, sub) in root["properties"].as_object().expect("root properties") {
        if !["apiVersion", "kind", "metadata"].contains(&name.as_str()) {
            flatten(name, sub, &mut flat);
        }
    }
    flat
}

/// Differences between two maps, as readable lines.
fn diff_maps<V: PartialEq + std::fmt::Debug>(
    what: &str,
    want: &BTreeMap<String, V>,
    got: &BTreeMap<String, V>,
    out: &mut Vec<String>,
) {
    for (k, w) in want {
        match got.get(k) {
            None => out.push(format!("{what} {k}: missing (contract: {w:?})")),
            Some(g) if g != w => out.push(format!("{what} {k}: {g:?}, contract says {w:?}")),
            _ => {}
        }
    }
    for (k, g) in got {
        if !want.contains_key(k) {
            out.push(format!("{what} {k}: {g:?} is not in the contract"));
        }
    }
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

fn list_map(v: &Value) -> BTreeMap<String, Vec<String>> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Every difference between one generated CRD and the contract's entry for its kind.
fn differences(crd: &CustomResourceDefinition, want: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let names = &crd.spec.names;
    let mut check = |what: &str, got: Value, want: &Value| {
        if &got != want {
            out.push(format!("{what}: {got}, contract says {want}"));
        }
    };
    check("plural", json!(names.plural), &want["plural"]);
    check("singular", json!(names.singular), &want["singular"]);
    check("listKind", json!(names.list_kind), &want["listKind"]);
    check("scope", json!(crd.spec.scope), &want["scope"]);
    check(
        "shortNames",
        json!(names.short_names.clone().unwrap_or_default()),
        &want["shortNames"],
    );
    check(
        "categories",
        json!(names.categories.clone().unwrap_or_default()),
        &want["categories"],
    );
    let version = &crd.spec.versions[0];
    check("version", json!(version.name), &json!("v1alpha1"));
    check("served", json!(version.served), &json!(true));
    check("storage", json!(version.storage), &json!(true));
    let mut subresources = Vec::new();
    if let Some(s) = &version.subresources {
        if s.status.is_some() {
            subresources.push("status");
        }
        if s.scale.is_some() {
            subresources.push("scale");
        }
    }
    check("subresources", json!(subresources), &want["subresources"]);
    let columns: Vec<Value> = version
        .additional_printer_columns
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.type_,
                "jsonPath": c.json_path,
                "priority": c.priority.unwrap_or(0),
                "description": c.description,
            })
        })
        .collect();
    check("printerColumns", json!(columns), &want["printerColumns"]);
    let root = root_schema(crd);
    check(
        "root x-kubernetes-preserve-unknown-fields",
        json!(root["x-kubernetes-preserve-unknown-fields"] == json!(true)),
        &want["rootPreservesUnknownFields"],
    );

    let flat = flat_of(crd);
    diff_maps("field", &str_map(&want["fields"]), &flat.fields, &mut out);
    diff_maps(
        "required of",
        &list_map(&want["required"]),
        &flat.required,
        &mut out,
    );
    diff_maps("enum of", &list_map(&want["enums"]), &flat.enums, &mut out);
    let want_preserve = strings(&want["preserveUnknownFieldsAt"]);
    if flat.preserve != want_preserve {
        out.push(format!(
            "x-kubernetes-preserve-unknown-fields at {:?}, contract says {want_preserve:?}",
            flat.preserve
        ));
    }
    out
}

#[test]
fn every_kind_of_the_contract_is_generated_and_nothing_else() {
    let contract = contract();
    assert_eq!(contract["group"], sightline_api::crd::GROUP);
    assert_eq!(contract["version"], sightline_api::crd::VERSION);
    let want: BTreeSet<&str> = contract["kinds"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let crds = sightline_api::crd::all();
    let got: BTreeSet<String> = crds.iter().map(|c| c.spec.names.kind.clone()).collect();
    let got: BTreeSet<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    for crd in &crds {
        assert_eq!(crd.spec.group, "aquasecurity.github.io");
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{}.aquasecurity.github.io", crd.spec.names.plural).as_str())
        );
    }
}

#[test]
fn generated_crds_match_the_contract() {
    let contract = contract();
    let mut report = Vec::new();
    for crd in sightline_api::crd::all() {
        let kind = crd.spec.names.kind.clone();
        let want = &contract["kinds"][&kind];
        for d in differences(&crd, want) {
            report.push(format!("{kind}: {d}"));
        }
    }
    assert!(
        report.is_empty(),
        "the CRDs differ from Trivy Operator's (testdata/crd-contract.json):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_comparison_sees_a_changed_field_a_dropped_column_and_a_lost_short_name() {
    // The comparison itself must notice drift: break a copy of a generated CRD three ways.
    let contract = contract();
    let mut crd = sightline_api::crd::all()
        .into_iter()
        .find(|c| c.spec.names.kind == "VulnerabilityReport")
        .unwrap();
    assert!(differences(&crd, &contract["kinds"]["VulnerabilityReport"]).is_empty());

    crd.spec.names.short_names = Some(vec!["vuln".into()]);
    let v = &mut crd.spec.versions[0];
    v.additional_printer_columns.as_mut().unwrap().remove(1);
    let schema = v
        .schema
        .as_mut()
        .unwrap()
        .open_api_v3_schema
        .as_mut()
        .unwrap();
    let mut value = serde_json::to_value(&*schema).unwrap();
    value["properties"]["report"]["properties"]["summary"]["properties"]["criticalCount"]["type"] =
        json!("string");
    *schema = serde_json::from_value(value).unwrap();

    let d = differences(&crd, &contract["kinds"]["VulnerabilityReport"]);
    assert!(d.iter().any(|l| l.starts_with("shortNames")), "{d:?}");
    assert!(d.iter().any(|l| l.starts_with("printerColumns")), "{d:?}");
    assert!(
        d.iter()
            .any(|l| l.contains("field report.summary.criticalCount")),
        "{d:?}"
    );
}
