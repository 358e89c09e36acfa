//! Sightline's Kubernetes API types. Pure data, no I/O.
//!
//! The report schema itself (Trivy JSON, severities, findings) is the kube-free
//! `sightline-report` crate, which the scanning core uses; [`vuln`] and [`report`] re-export
//! its modules under their old paths.
//!
//! * [`vuln`]: the vulnerability vocabulary (re-export of [`sightline_report::vuln`]).
//! * [`report`]: the Trivy JSON report schema (re-export of [`sightline_report::report`]).
//! * [`crd`]: Trivy Operator's report custom resources (`aquasecurity.github.io/v1alpha1`)
//!   and the functions that build a VulnerabilityReport's and an ExposedSecretReport's
//!   `.report` from a [`report::Report`].
//! * [`config_audit`]: ConfigAuditReport / RbacAssessmentReport `.report` from check results
//!   (and, re-exported, the check rows and Trivy's misconfiguration JSON schema).
//! * [`naming`]: report names, labels and hashes as Trivy Operator computes them.

pub mod config_audit;
pub mod crd;
pub mod naming;
pub use sightline_report::{report, vuln};
