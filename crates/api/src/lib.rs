//! Sightline's API types. Pure data, no I/O.
//!
//! * [`vuln`]: the vulnerability vocabulary shared by the trivy-db reader and the reports
//!   (severity, status, CVSS, data source), with Trivy's serialisations.
//! * [`report`]: the Trivy JSON report schema (SchemaVersion 2) that `sightline image
//!   --format json` emits.

pub mod report;
pub mod vuln;
