//! Evaluation of one object: the aggregate or per-check RVM entry points, then the
//! interpreter for the rest, each under a time limit and `catch_unwind`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::Value;
use serde::Deserialize;

use super::outcome::outcome_of;
use super::{CheckResult, EvalError, LoadedCheck, Outcome, PolicyEngine};

impl PolicyEngine {
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

fn result(c: &LoadedCheck, outcome: Outcome) -> CheckResult {
    CheckResult {
        check: c.meta.clone(),
        outcome,
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
