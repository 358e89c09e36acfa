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
//! * [`reports`]: VulnerabilityReport / ExposedSecretReport objects for one workload
//!   container, with the etcd size guard.
//! * [`metrics`]: `trivy_image_*` report metrics and `sightline_*` operational metrics.
//! * [`scans`]: scan Jobs per digest (queue, limit, result intake, backoff, adoption).
//! * [`dbsync`]: the operator's vulnerability DB, kept current and swapped in place.
//! * [`controller`]: caches, work queue and the reconcile of one workload.
//! * [`leader`]: Lease-based leader election.
//! * [`runtime`]: `sightline operator` (wiring, HTTP endpoints, shutdown).

pub mod config;
pub mod controller;
pub mod dbsync;
pub mod job;
pub mod leader;
pub mod metrics;
pub mod reports;
pub mod runtime;
pub mod scans;
pub mod store;
pub mod sync;
pub mod workload;
