//! Sightline's report schema, shared by the CLI and the operator. Pure data, no I/O, no
//! Kubernetes types (the custom resources built from it live in `sightline-api`).
//!
//! * [`vuln`]: the vulnerability vocabulary shared by the trivy-db reader and the reports
//!   (severity, status, CVSS, data source), with Trivy's serialisations.
//! * [`report`]: the Trivy JSON report schema (SchemaVersion 2) that `sightline image
//!   --format json` emits, and the findings it holds (vulnerabilities, exposed secrets).
//! * [`misconf`]: check verdicts ([`misconf::CheckRow`]) and Trivy's misconfiguration JSON
//!   schema (`sightline config --format json`).
//! * [`image_ref`]: the one image-reference parser (docker normalisation, IPv6 hosts).
//!
//! The `schemars` feature derives `JsonSchema` for the types the CRDs embed; only the CRD
//! crate enables it.

#![warn(missing_docs)]

pub mod image_ref;
pub mod misconf;
pub mod report;
pub mod vuln;
