//! The RVM program: which checks it runs, and the per-kind aggregate entry points.

use std::collections::BTreeMap;
use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;

use super::{load_error, LoadError, LoadedCheck};
use crate::metadata::CheckMetadata;

/// Compiles the checks that the RVM can run into one program and sets their `vm_index`.
/// A check that calls a function that is neither a builtin nor an extension is a load error
/// (the interpreter would only notice when the call is reached); other checks the RVM cannot
/// compile stay on the interpreter.
pub(super) fn compile_program(
    engine: &regorus::Engine,
    checks: &mut Vec<LoadedCheck>,
    extensions: &[&str],
    load_errors: &mut Vec<LoadError>,
) -> Option<Arc<Program>> {
    let first = checks.first()?;
    let mut e = engine.clone();
    let policy = e
        .compile_with_entrypoint(&first.rule.as_str().into())
        .ok()?;
    let compile = |rules: &[&str]| Compiler::compile_from_policy(&policy, rules);
    let all: Vec<&str> = checks.iter().map(|c| c.rule.as_str()).collect();
    if let Ok(p) = compile(&all) {
        for (slot, c) in checks.iter_mut().enumerate() {
            c.vm_index = Some(slot);
        }
        return Some(p);
    }
    let mut on_vm = Vec::new();
    let mut unknown = Vec::new();
    for (i, c) in checks.iter().enumerate() {
        match compile(&[c.rule.as_str()]) {
            Ok(_) => on_vm.push(i),
            Err(err) => {
                let msg = err.to_string();
                if let Some(name) = unknown_function(&msg) {
                    if !extensions.contains(&name) {
                        unknown.push((i, msg));
                    }
                }
            }
        }
    }
    for (i, msg) in unknown.iter().rev() {
        let c = checks.remove(*i);
        load_errors.push(load_error(&c.file, msg.trim().to_string()));
        on_vm.retain(|&j| j != *i);
        for j in on_vm.iter_mut().filter(|j| **j > *i) {
            *j -= 1;
        }
    }
    let rules: Vec<&str> = on_vm.iter().map(|&i| checks[i].rule.as_str()).collect();
    if rules.is_empty() {
        return None;
    }
    let program = compile(&rules).ok()?;
    for (slot, &i) in on_vm.iter().enumerate() {
        checks[i].vm_index = Some(slot);
    }
    Some(program)
}

/// Adds the aggregate modules for the RVM checks to `interpreter` and compiles the program
/// again with per-check entry points (same slots as before) followed by the aggregates.
/// Returns the program, kind -> aggregate entry, and the entry for other kinds.
type Aggregated = (Arc<Program>, BTreeMap<String, usize>, Option<usize>);

pub(super) fn add_aggregates(
    interpreter: &mut regorus::Engine,
    checks: &[LoadedCheck],
) -> Option<Aggregated> {
    let mut on_vm: Vec<&LoadedCheck> = checks.iter().filter(|c| c.vm_index.is_some()).collect();
    on_vm.sort_by_key(|c| c.vm_index);
    let members: Vec<(&CheckMetadata, &str)> = on_vm
        .iter()
        .map(|c| (c.meta.as_ref(), c.rule.as_str()))
        .collect();
    let plan = crate::aggregate::plan(&members);
    let mut engine = interpreter.clone();
    let fail = |what: &str, e: String| tracing::warn!("aggregate entry points: {what}: {e}");
    for a in &plan {
        if let Err(e) = engine.add_policy(a.path.clone(), a.source.clone()) {
            fail(&a.path, e.to_string());
            return None;
        }
    }
    let first = on_vm.first()?;
    let policy = match engine
        .clone()
        .compile_with_entrypoint(&first.rule.as_str().into())
    {
        Ok(p) => p,
        Err(e) => {
            fail("compiling", e.to_string());
            return None;
        }
    };
    let mut rules: Vec<&str> = on_vm.iter().map(|c| c.rule.as_str()).collect();
    rules.extend(plan.iter().map(|a| a.rule.as_str()));
    let program = match Compiler::compile_from_policy(&policy, &rules) {
        Ok(p) => p,
        Err(e) => {
            fail("compiling for the RVM", e.to_string());
            return None;
        }
    };
    let mut by_kind = BTreeMap::new();
    let mut other = None;
    for (j, a) in plan.iter().enumerate() {
        let entry = on_vm.len() + j;
        match &a.kind {
            Some(k) => {
                by_kind.insert(k.clone(), entry);
            }
            None => other = Some(entry),
        }
    }
    *interpreter = engine;
    Some((program, by_kind, other))
}

/// The name in an RVM "Unknown function: 'name'" error.
fn unknown_function(msg: &str) -> Option<&str> {
    let rest = &msg[msg.find("Unknown function: '")? + "Unknown function: '".len()..];
    rest.split('\'').next()
}
