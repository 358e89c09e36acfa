//! Sightline's API types. Pure data, no I/O.
//!
//! * [`vuln`]: the vulnerability vocabulary shared by the trivy-db reader and the reports
//!   (severity, status, CVSS, data source), with Trivy's serialisations.
//! * [`report`]: the Trivy JSON report schema (SchemaVersion 2) that `sightline image
//!   --format json` emits.
//! * [`crd`]: Trivy Operator's report custom resources (`aquasecurity.github.io/v1alpha1`)
//!   and the functions that build a VulnerabilityReport's and an ExposedSecretReport's
//!   `.report` from a [`report::Report`].
//! * [`config_audit`]: ConfigAuditReport / RbacAssessmentReport `.report` from check results,
//!   and Trivy's misconfiguration JSON schema (`sightline config --format json`).
//! * [`naming`]: report names, labels and hashes as Trivy Operator computes them.

pub mod config_audit;
pub mod crd;
pub mod naming;
pub mod report;
pub mod vuln;
