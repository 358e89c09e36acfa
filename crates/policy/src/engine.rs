//! [`PolicyEngine`]: compile a [`CheckSet`] once, evaluate objects many times.
//!
//! Checks are compiled to one regorus RVM program (one entry point per check's `deny` rule):
//! about four times faster than the tree-walking interpreter. Checks the RVM cannot run (those
//! calling Rust extensions such as `sightline.secrets` or Trivy's `result.new`) run on the
//! interpreter, and so does any check whose RVM evaluation fails for a reason other than the
//! time limit. Both are prepared once; evaluations borrow a VM or interpreter from a pool, so
//! the engine is `Send + Sync` and threads do not share mutable state.
//!
//! Every check evaluation has a time limit and runs under `catch_unwind`: a looping or
//! panicking check yields an error result for that check only; the others still run.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use regorus::Value;
use serde::Deserialize;

use crate::extensions::{self, Extension};
use crate::metadata::{self, CheckMetadata};
use crate::source::{CheckFile, CheckSet, Origin};

/// How checks are compiled and run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Wall-clock limit of one check's evaluation on one object.
    pub time_limit: Duration,
    /// Registries KSV0125 trusts (`None`: the built-in default list). Exposed to Rego as
    /// `data.sightline.config.trusted_registries`.
    pub trusted_registries: Option<Vec<String>>,
    /// Extensions besides the built-in ones.
    pub extensions: Vec<Extension>,
    /// Compile checks to the RVM (default). `false` runs every check on the interpreter:
    /// slower, and the reference the RVM is tested against.
    pub use_vm: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            time_limit: Duration::from_secs(2),
            trusted_registries: None,
            extensions: Vec::new(),
            use_vm: true,
        }
    }
}

/// A module that was not loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file or map key.
    pub path: String,
    /// Where it came from.
    pub origin: Origin,
    /// What is wrong (parser or compiler message).
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.path, self.origin, self.message)
    }
}

/// Why an engine could not be built at all.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The modules do not compile together and the failing module could not be identified.
    #[error("the checks do not compile: {0}")]
    Compile(String),
    /// A data document could not be merged.
    #[error("data document {0}: {1}")]
    Data(String, String),
    /// A built-in module failed to load: a defect of this build, never silently tolerated
    /// (a missing library would make every check that uses it pass).
    #[error("built-in check {0}")]
    Builtin(LoadError),
}

/// Why one check produced no verdict on one object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The evaluation hit [`EngineOptions::time_limit`].
    #[error("stopped after the {0:?} time limit")]
    TimeLimit(Duration),
    /// The evaluation failed (e.g. a builtin error).
    #[error("evaluation failed: {0}")]
    Failed(String),
    /// The evaluation panicked (in an extension or the engine).
    #[error("evaluation panicked: {0}")]
    Panicked(String),
    /// `deny` returned something that is not a set/array of strings or objects.
    #[error("unexpected deny value: {0}")]
    BadResult(String),
}

/// One failure of a check: its message and the source lines of its cause (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The message.
    pub message: String,
    /// First line of the cause.
    pub start_line: usize,
    /// Last line of the cause.
    pub end_line: usize,
}

/// The verdict of one check on one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No failure.
    Pass,
    /// One or more failures.
    Fail(Vec<Failure>),
    /// No verdict (the check errored).
    Error(EvalError),
}

/// The result of one check on one object.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check.
    pub check: Arc<CheckMetadata>,
    /// Its verdict.
    pub outcome: Outcome,
}

impl CheckResult {
    /// True for [`Outcome::Pass`].
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Pass
    }

    /// True for [`Outcome::Fail`].
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Fail(_))
    }

    /// A one-line description of the outcome (`PASS`, `FAIL: ...`, `ERROR: ...`).
    pub fn outcome_message(&self) -> String {
        match &self.outcome {
            Outcome::Pass => "PASS".into(),
            Outcome::Fail(f) => format!(
                "FAIL: {}",
                f.iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Outcome::Error(e) => format!("ERROR: {e}"),
        }
    }

    /// The failures ([] unless failed).
    pub fn failures(&self) -> &[Failure] {
        match &self.outcome {
            Outcome::Fail(f) => f,
            _ => &[],
        }
    }
}

struct LoadedCheck {
    meta: Arc<CheckMetadata>,
    rule: String,
    vm_index: Option<usize>,
    file: CheckFile,
}

/// Compiled checks, ready to evaluate objects (`Send + Sync`).
pub struct PolicyEngine {
    checks: Vec<LoadedCheck>,
    load_errors: Vec<LoadError>,
    program: Option<Arc<Program>>,
    interpreter: regorus::Engine,
    data: Value,
    timer: ExecutionTimerConfig,
    time_limit: Duration,
    vms: Mutex<Vec<RegoVM>>,
    interpreters: Mutex<Vec<regorus::Engine>>,
    /// Lower-case kind -> entry point of its aggregate (see [`crate::aggregate`]).
    aggregates: BTreeMap<String, usize>,
    /// Entry point of the aggregate for kinds no check names.
    aggregate_other: Option<usize>,
    /// Aggregate evaluations that failed and were redone check by check.
    fallbacks: std::sync::atomic::AtomicU64,
}

struct Module<'a> {
    file: &'a CheckFile,
    meta: Option<CheckMetadata>,
}

impl PolicyEngine {
    /// The built-in checks with default options.
    pub fn builtin() -> Result<Self, BuildError> {
        Self::new(CheckSet::builtin(), EngineOptions::default())
    }

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

    /// The loaded checks, sorted by ID (numerically: `KSV011` before `KSV0104`).
    pub fn checks(&self) -> impl Iterator<Item = &CheckMetadata> {
        self.checks.iter().map(|c| c.meta.as_ref())
    }

    /// Modules that were left out, and why.
    pub fn load_errors(&self) -> &[LoadError] {
        &self.load_errors
    }

    /// How many aggregate evaluations failed (an error, the time limit or a panic in one of
    /// their checks) and were redone check by check.
    pub fn aggregate_fallbacks(&self) -> u64 {
        self.fallbacks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many aggregate entry points the program has (one per kind named by an RVM check,
    /// plus one for other kinds); 0 when checks run one by one.
    pub fn aggregate_count(&self) -> usize {
        self.aggregates.len() + usize::from(self.aggregate_other.is_some())
    }

    /// How many checks run on the RVM (the rest run on the interpreter).
    pub fn vm_check_count(&self) -> usize {
        self.checks.iter().filter(|c| c.vm_index.is_some()).count()
    }

    /// Evaluates every check that applies to `object`'s kind. Results are in check-ID order.
    pub fn evaluate(&self, object: &serde_json::Value) -> Vec<CheckResult> {
        let kind = object.get("kind").and_then(|k| k.as_str()).unwrap_or("");
        let applicable: Vec<&LoadedCheck> = self
            .checks
            .iter()
            .filter(|c| c.meta.applies_to(kind))
            .collect();
        if applicable.is_empty() {
            return Vec::new();
        }
        let input = match Value::deserialize(object) {
            Ok(v) => v,
            Err(e) => {
                let err = EvalError::Failed(format!("input is not representable: {e}"));
                return applicable
                    .iter()
                    .map(|c| result(c, Outcome::Error(err.clone())))
                    .collect();
            }
        };
        let mut out: Vec<Option<CheckResult>> = vec![None; applicable.len()];
        let mut on_interpreter = Vec::new();
        if let Some(program) = &self.program {
            let mut vm = self.take_vm(program);
            vm.set_input(input.clone());
            let aggregate = self
                .aggregates
                .get(&kind.to_ascii_lowercase())
                .copied()
                .or(self.aggregate_other);
            let mut aggregated = false;
            if let Some(entry) = aggregate {
                match catch_unwind(AssertUnwindSafe(|| vm.execute_entry_point_by_index(entry))) {
                    Ok(Ok(all)) => {
                        for (i, c) in applicable.iter().enumerate() {
                            if c.vm_index.is_some() {
                                out[i] = Some(result(c, outcome_of(&all[c.rule.as_str()])));
                            }
                        }
                        aggregated = true;
                    }
                    Ok(Err(e)) => {
                        self.fallbacks
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::debug!("aggregate evaluation failed ({e}); checking one by one")
                    }
                    Err(_) => {
                        self.fallbacks
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        vm = self.new_vm(program);
                        vm.set_input(input.clone());
                    }
                }
            }
            for (i, c) in applicable.iter().enumerate() {
                let Some(idx) = c.vm_index else {
                    on_interpreter.push(i);
                    continue;
                };
                if aggregated {
                    continue;
                }
                match catch_unwind(AssertUnwindSafe(|| vm.execute_entry_point_by_index(idx))) {
                    Ok(Ok(v)) => out[i] = Some(result(c, outcome_of(&v))),
                    Ok(Err(e)) => {
                        let msg = e.to_string();
                        if is_timeout(&msg) {
                            out[i] = Some(result(
                                c,
                                Outcome::Error(EvalError::TimeLimit(self.time_limit)),
                            ));
                        } else {
                            tracing::debug!(
                                "{}: RVM failed ({msg}); using the interpreter",
                                c.meta.id
                            );
                            on_interpreter.push(i);
                        }
                    }
                    Err(p) => {
                        out[i] = Some(result(
                            c,
                            Outcome::Error(EvalError::Panicked(panic_text(&p))),
                        ));
                        vm = self.new_vm(program);
                        vm.set_input(input.clone());
                    }
                }
            }
            self.vms.lock().expect("vm pool").push(vm);
        } else {
            on_interpreter = (0..applicable.len()).collect();
        }
        if !on_interpreter.is_empty() {
            let mut engine = self.take_interpreter();
            engine.set_input(input.clone());
            for i in on_interpreter {
                let c = applicable[i];
                match catch_unwind(AssertUnwindSafe(|| engine.eval_rule(c.rule.clone()))) {
                    Ok(Ok(v)) => out[i] = Some(result(c, outcome_of(&v))),
                    Ok(Err(e)) => {
                        let msg = format!("{e:#}");
                        let err = if is_timeout(&msg) {
                            EvalError::TimeLimit(self.time_limit)
                        } else {
                            EvalError::Failed(msg)
                        };
                        out[i] = Some(result(c, Outcome::Error(err)));
                    }
                    Err(p) => {
                        out[i] = Some(result(
                            c,
                            Outcome::Error(EvalError::Panicked(panic_text(&p))),
                        ));
                        engine = self.interpreter.clone();
                        engine.set_input(input.clone());
                    }
                }
            }
            self.interpreters
                .lock()
                .expect("interpreter pool")
                .push(engine);
        }
        out.into_iter().flatten().collect()
    }

    fn take_vm(&self, program: &Arc<Program>) -> RegoVM {
        let pooled = self.vms.lock().expect("vm pool").pop();
        pooled.unwrap_or_else(|| self.new_vm(program))
    }

    fn new_vm(&self, program: &Arc<Program>) -> RegoVM {
        let mut vm = RegoVM::new();
        vm.load_program(program.clone());
        if let Err(e) = vm.set_data(self.data.clone()) {
            tracing::warn!("RVM data: {e}");
        }
        vm.set_execution_timer_config(Some(self.timer));
        vm
    }

    fn take_interpreter(&self) -> regorus::Engine {
        let pooled = self.interpreters.lock().expect("interpreter pool").pop();
        pooled.unwrap_or_else(|| self.interpreter.clone())
    }
}

/// Sort key of a check ID: prefix, then the number (`KSV011` before `KSV0104`).
pub fn id_order(id: &str) -> (String, u64, String) {
    let split = id.find(|c: char| c.is_ascii_digit()).unwrap_or(id.len());
    let (prefix, num) = id.split_at(split);
    (
        prefix.to_string(),
        num.parse().unwrap_or(u64::MAX),
        id.to_string(),
    )
}

fn result(c: &LoadedCheck, outcome: Outcome) -> CheckResult {
    CheckResult {
        check: c.meta.clone(),
        outcome,
    }
}

fn load_error(file: &CheckFile, message: String) -> LoadError {
    LoadError {
        path: file.path.clone(),
        origin: file.origin.clone(),
        message,
    }
}

fn is_timeout(msg: &str) -> bool {
    msg.contains("exceeded time limit")
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
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

/// Compiles the checks that the RVM can run into one program and sets their `vm_index`.
/// A check that calls a function that is neither a builtin nor an extension is a load error
/// (the interpreter would only notice when the call is reached); other checks the RVM cannot
/// compile stay on the interpreter.
fn compile_program(
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

fn add_aggregates(interpreter: &mut regorus::Engine, checks: &[LoadedCheck]) -> Option<Aggregated> {
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

/// Reads a `deny` value: a set or array of strings or `{msg, startline, endline}` objects.
fn outcome_of(v: &Value) -> Outcome {
    let items: Vec<&Value> = match v {
        Value::Undefined | Value::Null => return Outcome::Pass,
        Value::Set(s) => s.iter().collect(),
        Value::Array(a) => a.iter().collect(),
        other => return Outcome::Error(EvalError::BadResult(other.to_string())),
    };
    if items.is_empty() {
        return Outcome::Pass;
    }
    let mut failures = Vec::new();
    for item in items {
        let line = |k: &str| item[k].as_u64().unwrap_or(0) as usize;
        let failure = match item {
            Value::String(s) => Failure {
                message: s.to_string(),
                start_line: 0,
                end_line: 0,
            },
            Value::Object(_) => Failure {
                message: match &item["msg"] {
                    Value::String(s) => s.to_string(),
                    Value::Undefined => String::new(),
                    other => other.to_string(),
                },
                start_line: line("startline"),
                end_line: line("endline"),
            },
            other => return Outcome::Error(EvalError::BadResult(other.to_string())),
        };
        failures.push(failure);
    }
    failures.sort_by(|a, b| (a.start_line, &a.message).cmp(&(b.start_line, &b.message)));
    failures.dedup();
    Outcome::Fail(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<PolicyEngine>();
    }

    #[test]
    fn deny_values() {
        assert_eq!(outcome_of(&Value::Undefined), Outcome::Pass);
        assert_eq!(outcome_of(&Value::from(Vec::<Value>::new())), Outcome::Pass);
        let v =
            Value::from_json_str(r#"["b", {"msg": "a", "startline": 3, "endline": 4}]"#).unwrap();
        let Outcome::Fail(f) = outcome_of(&v) else {
            panic!()
        };
        assert_eq!(f[0].message, "b");
        assert_eq!(
            (f[1].message.as_str(), f[1].start_line, f[1].end_line),
            ("a", 3, 4)
        );
        assert!(matches!(
            outcome_of(&Value::from(1u64)),
            Outcome::Error(EvalError::BadResult(_))
        ));
    }
}
