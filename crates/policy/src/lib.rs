//! Sightline's policy engine: Kubernetes configuration audit and RBAC assessment with checks
//! written in Rego, evaluated by [regorus](https://github.com/microsoft/regorus).
//!
//! * [`source`]: where checks come from — the built-in set embedded in the binary, a
//!   directory of `.rego` files, an in-memory map (a ConfigMap's `data`), a checks bundle.
//! * [`metadata`]: check metadata (`# METADATA` annotations or `__rego_metadata__`): ID in the
//!   KSV numbering, AVD ID, title, severity, recommended action, the kinds it applies to.
//! * [`engine`]: [`PolicyEngine`] compiles once and evaluates many objects, from any number
//!   of threads, with a per-check time limit and panic isolation.
//! * [`aggregate`]: one RVM entry point per kind evaluating all its checks at once.
//! * [`input`]: Kubernetes YAML/JSON (multi-document, `kind: List`) to objects, each carrying
//!   the source lines of every mapping so failures point at the offending lines.
//! * [`bundle`]: the checks bundle OCI artifact (pull, atomic install in the cache, load).
//! * [`report`]: results to ConfigAuditReport / RbacAssessmentReport rows and to Trivy's
//!   misconfiguration JSON.
//! * [`extensions`]: Rego functions implemented in Rust (`sightline.secrets`, `result.new`).

#![warn(missing_docs)]

pub mod aggregate;
pub mod bundle;
pub mod engine;
pub mod extensions;
pub mod input;
pub mod metadata;
pub mod report;
pub mod source;

pub use engine::{CheckResult, EngineOptions, EvalError, PolicyEngine};
pub use input::{parse_documents, K8sObject, ParseError};
pub use metadata::CheckMetadata;
pub use source::{CheckFile, CheckSet, Origin};

/// The Rego files of the built-in checks, embedded at build time.
pub mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_checks.rs"));
}
