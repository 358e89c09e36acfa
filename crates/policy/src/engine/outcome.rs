//! The verdict of a check on an object, and how a `deny` value becomes one.

use std::sync::Arc;

use regorus::Value;

use super::EvalError;
use crate::metadata::CheckMetadata;

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

/// Reads a `deny` value: a set or array of strings or `{msg, startline, endline}` objects.
pub(super) fn outcome_of(v: &Value) -> Outcome {
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
        // A line a check reports that does not fit usize is as unknown as a missing one (0).
        let line = |k: &str| {
            item[k]
                .as_u64()
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
        };
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
