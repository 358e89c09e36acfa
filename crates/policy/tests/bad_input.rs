//! Bad input: invalid YAML, unknown kinds, huge documents, Rego that does not compile, a
//! check that loops past the time limit, a check whose extension panics. Each yields a clear
//! error for that input or check, and every other check still runs.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sightline_policy::engine::{BuildError, EngineOptions, EvalError, Outcome};
use sightline_policy::extensions::Extension;
use sightline_policy::input::ParseError;
use sightline_policy::{parse_documents, CheckSet, PolicyEngine};

fn bad(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/bad")
            .join(name),
    )
    .unwrap()
}

fn pod() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "app"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1", "securityContext": {"privileged": true}}]}
    })
}

fn engine_with(files: &[&str], time_limit: Duration) -> PolicyEngine {
    let mut set = CheckSet::builtin();
    for f in files {
        set.add_module(
            &format!("bad/{f}"),
            &bad(f),
            sightline_policy::Origin::Map("test".into()),
        );
    }
    let boom = Extension {
        name: "test.explode".into(),
        nargs: 1,
        func: Arc::new(|_| panic!("extension exploded")),
    };
    PolicyEngine::new(
        set,
        EngineOptions {
            time_limit,
            extensions: vec![boom],
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn invalid_yaml_is_a_clear_error() {
    let e = parse_documents(b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: [oops\n").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("invalid YAML/JSON") && msg.contains("line"),
        "{msg}"
    );
    let e = parse_documents(b"{\"kind\": \"Pod\"").unwrap_err();
    assert!(matches!(e, ParseError::Syntax(_)), "{e}");
}

#[test]
fn unknown_kinds_get_no_checks() {
    let objs = parse_documents(b"apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n")
        .unwrap();
    assert_eq!(objs.len(), 1);
    assert!(support::engine().evaluate(&objs[0].value).is_empty());
    // No kind at all.
    assert!(support::engine()
        .evaluate(&serde_json::json!({"metadata": {}}))
        .is_empty());
}

#[test]
fn huge_documents() {
    // Over the input limit: refused before parsing.
    let mut big = b"kind: ConfigMap\ndata:\n  x: \"".to_vec();
    big.resize(sightline_policy::input::MAX_INPUT_BYTES + 10, b'a');
    assert!(matches!(
        parse_documents(&big).unwrap_err(),
        ParseError::TooLarge { .. }
    ));
    // Under the limit but large: a Deployment with 2,000 containers evaluates completely.
    let containers: Vec<_> = (0..2000)
        .map(|i| serde_json::json!({"name": format!("c{i}"), "image": "nginx:1"}))
        .collect();
    let d = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
        "spec": {"template": {"spec": {"containers": containers}}}});
    let text = serde_norway::to_string(&d).unwrap();
    let objs = parse_documents(text.as_bytes()).unwrap();
    let start = Instant::now();
    let results = support::engine().evaluate(&objs[0].value);
    let ksv001 = results.iter().find(|r| r.check.id == "KSV001").unwrap();
    assert_eq!(ksv001.failures().len(), 2000);
    assert!(results
        .iter()
        .all(|r| !matches!(r.outcome, Outcome::Error(_))));
    assert!(start.elapsed() < Duration::from_secs(60));
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse_documents(deep.as_bytes()).is_err());
}

#[test]
fn rego_that_does_not_compile_is_left_out_with_its_error() {
    let e = engine_with(
        &["syntax.rego", "unknown_function.rego", "bad_metadata.rego"],
        Duration::from_secs(2),
    );
    let errors: Vec<(String, String)> = e
        .load_errors()
        .iter()
        .map(|l| (l.path.clone(), l.message.clone()))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    let by = |p: &str| {
        errors
            .iter()
            .find(|(path, _)| path == p)
            .map(|(_, m)| m.clone())
            .unwrap()
    };
    assert!(
        by("bad/syntax.rego").contains("bad/syntax.rego:"),
        "{}",
        by("bad/syntax.rego")
    );
    assert!(
        by("bad/unknown_function.rego").contains("no_such_function"),
        "{}",
        by("bad/unknown_function.rego")
    );
    assert!(
        by("bad/bad_metadata.rego").contains("SEVERE"),
        "{}",
        by("bad/bad_metadata.rego")
    );
    // Every built-in check still loads and runs.
    assert_eq!(e.checks().count(), support::engine().checks().count());
    let results = e.evaluate(&pod());
    assert!(results.iter().any(|r| r.check.id == "KSV017" && r.failed()));
}

#[test]
fn built_in_checks_must_load() {
    let mut set = CheckSet::new();
    set.add_module(
        "lib/broken.rego",
        "package x\nf(",
        sightline_policy::Origin::Builtin,
    );
    assert!(matches!(
        PolicyEngine::new(set, EngineOptions::default()),
        Err(BuildError::Builtin(_))
    ));
}

#[test]
fn a_looping_check_hits_the_time_limit_and_others_run() {
    let limit = Duration::from_millis(300);
    let e = engine_with(&["loops.rego"], limit);
    let start = Instant::now();
    let results = e.evaluate(&pod());
    let elapsed = start.elapsed();
    let looping = results
        .iter()
        .find(|r| r.check.id == "BAD003")
        .expect("BAD003 ran");
    assert_eq!(looping.outcome, Outcome::Error(EvalError::TimeLimit(limit)));
    assert!(looping.outcome_message().contains("time limit"));
    assert!(
        elapsed < Duration::from_secs(20),
        "stopped late: {elapsed:?}"
    );
    assert!(results.iter().any(|r| r.check.id == "KSV017" && r.failed()));
    assert!(results
        .iter()
        .filter(|r| r.check.id != "BAD003")
        .all(|r| !matches!(r.outcome, Outcome::Error(_))));
    // The engine stays usable.
    assert!(e
        .evaluate(&pod())
        .iter()
        .any(|r| r.check.id == "KSV017" && r.failed()));
}

#[test]
fn a_panicking_extension_is_isolated() {
    let e = engine_with(&["panics.rego"], Duration::from_secs(2));
    for _ in 0..2 {
        let results = e.evaluate(&pod());
        let p = results
            .iter()
            .find(|r| r.check.id == "BAD004")
            .expect("BAD004 ran");
        match &p.outcome {
            Outcome::Error(EvalError::Panicked(m)) => {
                assert!(m.contains("extension exploded"), "{m}")
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert!(results.iter().any(|r| r.check.id == "KSV017" && r.failed()));
        assert!(results
            .iter()
            .filter(|r| r.check.id != "BAD004")
            .all(|r| !matches!(r.outcome, Outcome::Error(_))));
    }
}

#[test]
fn concurrent_evaluations_agree() {
    let e = support::engine();
    let expected = support::failed_ids(&e.evaluate(&pod()));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    assert_eq!(support::failed_ids(&e.evaluate(&pod())), expected);
                }
            });
        }
    });
}
