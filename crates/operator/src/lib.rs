//! The Sightline operator: glue around the scanning core.
//!
//! * [`config`]: the operator's settings, under the Helm value keys platform teams already
//!   set for Trivy Operator (`trivy.ignoreUnfixed`, `operator.scanJobsConcurrentLimit`, ...),
//!   from a values-style YAML file (a mounted ConfigMap) with environment overrides.
//! * [`job`]: the scan Job for one image digest (restricted Pod Security, pull secrets,
//!   scheduling knobs), as a pure function of the settings and the workload.
//! * [`store`]: the inventory store, each scanned image digest's inventory in an embedded
//!   redb file on the operator's volume (survives restarts; re-matched on DB updates).
//! * [`reports`]: the VulnerabilityReport and ExposedSecretReport of one workload container
//!   (names, labels, owner, TTL annotation), with the size guard that keeps each under
//!   etcd's object limit.
//! * [`metrics`]: the Prometheus registry: `sightline_*` operational metrics and Trivy
//!   Operator's `trivy_image_vulnerabilities` / `trivy_image_exposedsecrets`, kept from the
//!   reports as they are written (never by listing reports).

pub mod config;
pub mod job;
pub mod metrics;
pub mod reports;
pub mod store;
