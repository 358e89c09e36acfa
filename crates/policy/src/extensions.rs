//! Rego functions implemented in Rust, registered on the interpreter:
//!
//! * `sightline.secrets(text)`: the findings of Sightline's secret scanner (the
//!   `sightline-secrets` crate, the same rules `sightline image` applies to files) in `text`,
//!   as `[{rule_id, category, title, severity, start_line, end_line}]`. The matched secret
//!   itself is never returned, so it cannot leak into a report.
//! * `result.new(msg, cause)`: Trivy's result constructor, for custom checks and bundles
//!   written for Trivy: `{msg, startline, endline}` with the lines of `cause`'s
//!   `__defsec_metadata`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use regorus::Value;
use sightline_secrets::Scanner;

/// A Rust function callable from Rego.
pub type ExtensionFn = Arc<dyn Fn(Vec<Value>) -> anyhow::Result<Value> + Send + Sync>;

/// One extension: its Rego name (`pkg.fn`), arity and implementation.
#[derive(Clone)]
pub struct Extension {
    /// The name Rego calls it by, e.g. `sightline.secrets`.
    pub name: String,
    /// Number of arguments.
    pub nargs: u8,
    /// The function.
    pub func: ExtensionFn,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Extension({}/{})", self.name, self.nargs)
    }
}

/// The built-in extensions: `sightline.secrets` and `result.new`.
pub fn builtin() -> Vec<Extension> {
    vec![
        Extension {
            name: "sightline.secrets".into(),
            nargs: 1,
            func: Arc::new(secrets),
        },
        Extension {
            name: "result.new".into(),
            nargs: 2,
            func: Arc::new(result_new),
        },
    ]
}

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(Scanner::builtin)
}

/// `sightline.secrets(text)`.
pub fn secrets(args: Vec<Value>) -> anyhow::Result<Value> {
    let text = args
        .first()
        .and_then(|v| v.as_string().ok())
        .ok_or_else(|| anyhow::anyhow!("sightline.secrets: the argument must be a string"))?;
    let findings = scanner().scan("configmap", text.as_bytes());
    let items: Vec<Value> = findings
        .into_iter()
        .map(|f| {
            let mut m = BTreeMap::new();
            m.insert(Value::from("rule_id"), Value::from(f.rule_id));
            m.insert(Value::from("category"), Value::from(f.category));
            m.insert(Value::from("title"), Value::from(f.title));
            m.insert(Value::from("severity"), Value::from(f.severity.as_str()));
            m.insert(Value::from("start_line"), Value::from(f.start_line as u64));
            m.insert(Value::from("end_line"), Value::from(f.end_line as u64));
            Value::from(m)
        })
        .collect();
    Ok(Value::from(items))
}

/// `result.new(msg, cause)`.
pub fn result_new(args: Vec<Value>) -> anyhow::Result<Value> {
    let mut it = args.into_iter();
    let msg = it.next().unwrap_or(Value::Undefined);
    let cause = it.next().unwrap_or(Value::Undefined);
    let line = |k: &str| -> Value {
        let v = &cause[crate::input::META_KEY][k];
        if v == &Value::Undefined {
            Value::from(0u64)
        } else {
            v.clone()
        }
    };
    let mut m = BTreeMap::new();
    m.insert(Value::from("msg"), msg);
    m.insert(Value::from("startline"), line("startline"));
    m.insert(Value::from("endline"), line("endline"));
    Ok(Value::from(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_new_reads_lines() {
        let cause =
            Value::from_json_str(r#"{"name":"c","__defsec_metadata":{"startline":3,"endline":9}}"#)
                .unwrap();
        let r = result_new(vec![Value::from("m"), cause]).unwrap();
        assert_eq!(r["startline"], Value::from(3u64));
        assert_eq!(r["endline"], Value::from(9u64));
        let r = result_new(vec![Value::from("m"), Value::new_object()]).unwrap();
        assert_eq!(r["startline"], Value::from(0u64));
    }

    #[test]
    fn secrets_never_return_the_secret() {
        let text = "url: postgres://app:S3cr3tPassw0rdValue@db.internal:5432/orders";
        let r = secrets(vec![Value::from(text)]).unwrap();
        let json = r.to_json_str().unwrap();
        assert!(!json.contains("S3cr3tPassw0rdValue"), "{json}");
        assert!(secrets(vec![Value::from(1u64)]).is_err());
    }
}
