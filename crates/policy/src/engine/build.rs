//! Engine construction: metadata, data documents, parsing and compiling the modules.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Value;
use serde::Deserialize;

use super::program::{add_aggregates, compile_program};
use super::{id_order, load_error, BuildError, EngineOptions, LoadedCheck, PolicyEngine};
use crate::extensions::{self, Extension};
use crate::metadata::{self, CheckMetadata};
use crate::source::{CheckFile, CheckSet, Origin};

struct Module<'a> {
    file: &'a CheckFile,
    meta: Option<CheckMetadata>,
}

impl PolicyEngine {
    /// Compiles `set`. Modules that do not parse or compile are left out and listed in
    /// [`Self::load_errors`]; the others are usable.
    pub fn new(set: CheckSet, opts: EngineOptions) -> Result<Self, BuildError> {
        let mut load_errors = Vec::new();
        let mut modules: Vec<Module> = Vec::new();
        for file in &set.files {
            match metadata::from_annotations(&file.source) {
                Ok(meta) => modules.push(Module { file, meta }),
                Err(e) => load_errors.push(load_error(file, e.to_string())),
            }
        }
        // A later check with the same ID replaces an earlier one.
        let mut last: BTreeMap<String, usize> = BTreeMap::new();
        for (i, m) in modules.iter().enumerate() {
            if let Some(meta) = &m.meta {
                last.insert(meta.id.clone(), i);
            }
        }
        let modules: Vec<Module> = modules
            .into_iter()
            .enumerate()
            .filter(|(i, m)| m.meta.as_ref().is_none_or(|meta| last[&meta.id] == *i))
            .map(|(_, m)| m)
            .collect();

        let data = build_data(&set, &opts)?;
        let exts: Vec<Extension> = extensions::builtin()
            .into_iter()
            .chain(opts.extensions.iter().cloned())
            .collect();
        let timer = ExecutionTimerConfig {
            limit: opts.time_limit,
            check_interval: NonZeroU32::new(64).expect("non-zero"),
        };

        // Parse each module (Rego v1 first, then v0 for older checks and bundles), then
        // compile them together, leaving out any module the compiler names, until it passes.
        let mut parsed: Vec<(Module, bool)> = Vec::new();
        for m in modules {
            match parse_mode(m.file) {
                Ok(v0) => parsed.push((m, v0)),
                Err(e) => load_errors.push(load_error(m.file, e)),
            }
        }
        let (interpreter, parsed) = loop {
            let engine = build_interpreter(&parsed, &exts, &data, timer)?;
            match prepare(&engine, &parsed) {
                Ok(()) => break (engine, parsed),
                Err(msg) => {
                    let culprit = parsed
                        .iter()
                        .position(|(m, _)| msg.contains(m.file.path.as_str()))
                        .ok_or_else(|| BuildError::Compile(msg.clone()))?;
                    let (m, _) = parsed.remove(culprit);
                    load_errors.push(load_error(m.file, msg));
                }
            }
        };

        // Checks: modules with annotation metadata, or with a `__rego_metadata__` rule.
        let mut checks = Vec::new();
        let mut probe = interpreter.clone();
        for (m, _) in &parsed {
            let meta = match &m.meta {
                Some(meta) => Some(meta.clone()),
                None => match rule_metadata(&mut probe, m.file) {
                    Ok(meta) => meta,
                    Err(e) => {
                        load_errors.push(load_error(m.file, e));
                        None
                    }
                },
            };
            if let Some(meta) = meta {
                checks.push(LoadedCheck {
                    rule: format!("data.{}.deny", meta.package),
                    meta: Arc::new(meta),
                    vm_index: None,
                    file: m.file.clone(),
                });
            }
        }
        checks.sort_by_key(|c| id_order(&c.meta.id));
        let ext_names: Vec<&str> = exts.iter().map(|x| x.name.as_str()).collect();
        let mut interpreter = interpreter;
        let mut program = if opts.use_vm {
            compile_program(&interpreter, &mut checks, &ext_names, &mut load_errors)
        } else {
            None
        };
        let (mut aggregates, mut aggregate_other) = (BTreeMap::new(), None);
        if let Some(p) = program.as_ref() {
            if let Some((with_aggs, by_kind, other)) = add_aggregates(&mut interpreter, &checks) {
                program = Some(with_aggs);
                aggregates = by_kind;
                aggregate_other = other;
            } else {
                tracing::debug!("aggregate entry points unavailable; checks run one by one");
                program = Some(p.clone());
            }
        }
        if let Some(e) = load_errors.iter().find(|e| e.origin == Origin::Builtin) {
            return Err(BuildError::Builtin(e.clone()));
        }
        Ok(PolicyEngine {
            checks,
            load_errors,
            program,
            interpreter,
            data,
            timer,
            time_limit: opts.time_limit,
            vms: Mutex::new(Vec::new()),
            interpreters: Mutex::new(Vec::new()),
            aggregates,
            aggregate_other,
            fallbacks: Default::default(),
        })
    }
}

/// `Ok(true)` when the module is Rego v0 (parses only without `rego.v1` rules).
fn parse_mode(file: &CheckFile) -> Result<bool, String> {
    let mut e = regorus::Engine::new();
    match e.add_policy(file.path.clone(), file.source.clone()) {
        Ok(_) => Ok(false),
        Err(v1_err) => {
            let mut e = regorus::Engine::new();
            e.set_rego_v0(true);
            match e.add_policy(file.path.clone(), file.source.clone()) {
                Ok(_) => Ok(true),
                Err(_) => Err(format!("{v1_err:#}")),
            }
        }
    }
}

fn build_interpreter(
    modules: &[(Module, bool)],
    exts: &[Extension],
    data: &Value,
    timer: ExecutionTimerConfig,
) -> Result<regorus::Engine, BuildError> {
    let mut e = regorus::Engine::new();
    e.set_execution_timer_config(timer);
    for x in exts {
        let f = x.func.clone();
        e.add_extension(
            x.name.clone(),
            x.nargs,
            Box::new(move |args: Vec<Value>| f(args)),
        )
        .map_err(|err| BuildError::Compile(format!("extension {}: {err}", x.name)))?;
    }
    e.add_data(data.clone())
        .map_err(|err| BuildError::Data("(merged)".into(), err.to_string()))?;
    for (m, v0) in modules {
        e.set_rego_v0(*v0);
        // Parsed before: cannot fail here.
        if let Err(err) = e.add_policy(m.file.path.clone(), m.file.source.clone()) {
            return Err(BuildError::Compile(format!("{}: {err}", m.file.path)));
        }
    }
    e.set_rego_v0(false);
    Ok(e)
}

/// Compiles all modules together (type and reference checks across modules).
fn prepare(engine: &regorus::Engine, modules: &[(Module, bool)]) -> Result<(), String> {
    let Some((first, _)) = modules.first() else {
        return Ok(());
    };
    let package = metadata::package_of(&first.file.source).unwrap_or_default();
    let mut e = engine.clone();
    e.compile_with_entrypoint(&format!("data.{package}").into())
        .map(|_| ())
        .or_else(|err| {
            let msg = format!("{err:#}");
            // A package with no rules at that path is not a compile error.
            if msg.contains("not a valid rule path") || msg.contains("not found") {
                e.eval_rule(format!("data.{package}.__sightline_probe__"))
                    .map(|_| ())
                    .or_else(|err| {
                        let m = format!("{err:#}");
                        if m.contains("not a valid rule path") || m.contains("not found") {
                            Ok(())
                        } else {
                            Err(m)
                        }
                    })
            } else {
                Err(msg)
            }
        })
}

fn rule_metadata(
    engine: &mut regorus::Engine,
    file: &CheckFile,
) -> Result<Option<CheckMetadata>, String> {
    let Some(package) = metadata::package_of(&file.source) else {
        return Ok(None);
    };
    if !file.source.contains("__rego_metadata__") {
        return Ok(None);
    }
    let meta = engine
        .eval_rule(format!("data.{package}.__rego_metadata__"))
        .map_err(|e| format!("__rego_metadata__: {e:#}"))?;
    if meta == Value::Undefined {
        return Ok(None);
    }
    let input = engine
        .eval_rule(format!("data.{package}.__rego_input__"))
        .ok()
        .filter(|v| v != &Value::Undefined);
    let to_json = |v: &Value| -> Result<serde_json::Value, String> {
        serde_json::from_str(&v.to_json_str().map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())
    };
    let meta = to_json(&meta)?;
    let input = input.as_ref().map(to_json).transpose()?;
    metadata::from_rules(&package, &meta, input.as_ref())
        .map(Some)
        .map_err(|e| e.to_string())
}

fn build_data(set: &CheckSet, opts: &EngineOptions) -> Result<Value, BuildError> {
    let mut merged = serde_json::Map::new();
    for (name, v) in &set.data {
        let serde_json::Value::Object(m) = v else {
            return Err(BuildError::Data(name.clone(), "not an object".into()));
        };
        merge(&mut merged, m.clone());
    }
    if let Some(regs) = &opts.trusted_registries {
        let cfg = serde_json::json!({"sightline": {"config": {"trusted_registries": regs}}});
        if let serde_json::Value::Object(m) = cfg {
            merge(&mut merged, m);
        }
    }
    Value::deserialize(&serde_json::Value::Object(merged))
        .map_err(|e| BuildError::Data("(merged)".into(), e.to_string()))
}

fn merge(
    into: &mut serde_json::Map<String, serde_json::Value>,
    from: serde_json::Map<String, serde_json::Value>,
) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(serde_json::Value::Object(a)), serde_json::Value::Object(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}
