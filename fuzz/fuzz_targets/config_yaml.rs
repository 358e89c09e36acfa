//! Kubernetes manifests as `sightline config` reads them (`sightline_policy::parse_documents`),
//! each object then evaluated by the built-in checks as the command does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sightline_policy::{input, parse_documents, PolicyEngine};

thread_local! {
    static ENGINE: PolicyEngine = PolicyEngine::builtin().expect("built-in checks compile");
}

fuzz_target!(|data: &[u8]| {
    let Ok(objects) = parse_documents(data) else {
        return;
    };
    for o in objects.iter().take(4) {
        let _ = (&o.kind, &o.name, o.start_line, o.end_line);
        ENGINE.with(|engine| {
            for r in engine.evaluate(&o.value) {
                let _ = r.outcome_message();
            }
        });
        let mut plain = o.value.clone();
        input::strip_annotations(&mut plain);
        assert!(
            !has_meta(&plain),
            "annotations left after strip_annotations"
        );
    }
});

fn has_meta(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key(input::META_KEY) || m.values().any(has_meta),
        Value::Array(a) => a.iter().any(has_meta),
        _ => false,
    }
}
