//! The Sightline operator: glue around the scanning core.
//!
//! * [`config`]: the operator's settings, under the Helm value keys platform teams already
//!   set for Trivy Operator (`trivy.ignoreUnfixed`, `operator.scanJobsConcurrentLimit`, ...),
//!   from a values-style YAML file (a mounted ConfigMap) with environment overrides.
//! * [`job`]: the scan Job for one image digest (restricted Pod Security, pull secrets,
//!   scheduling knobs), as a pure function of the settings and the workload.
//! * [`store`]: the inventory store, each scanned image digest's inventory in an embedded
//!   redb file on the operator's volume (survives restarts; re-matched on DB updates).
//! * [`workload`]: workloads as the operator sees them (kinds, containers, running digests,
//!   the rules deciding whether one is scanned).

pub mod config;
pub mod job;
pub mod store;
pub mod workload;
