//! The Sightline operator: a pure core inside a thin runtime.
//!
//! The pure core (no API calls; unit-tested without a cluster):
//! * [`config`]: the settings, under the Helm value keys platform teams already set for
//!   Trivy Operator (`trivy.ignoreUnfixed`, `operator.scanJobsConcurrentLimit`, ...).
//! * [`workload`]: workloads as the operator sees them (kinds, containers, running digests,
//!   node platforms, the scope and revision rules deciding whether one is scanned).
//! * [`scan_state`]: the scan state machine per subject (digest + platform): queue, limit,
//!   adoption, relists, timeouts, backoff.
//! * [`job`]: the scan Job and its Job-scoped pull Secret, as pure functions.
//! * [`reports`]: VulnerabilityReport / ExposedSecretReport objects with the etcd size guard.
//! * [`index`]: the watch-driven index (Pods by owner, reports by workload, subjects by
//!   workload) a reconcile reads.
//! * [`lease`]: leader-election rules (observed-time expiry, renew deadline).
//! * [`store`]: the inventory store (redb) by subject.
//! * [`metrics`]: `trivy_image_*` report metrics and `sightline_*` operational metrics.
//!
//! The runtime ([`runtime`]): watches feeding the index, one kube-runtime Controller per
//! workload kind (`reconcile -> Result<Action>`, an error policy), scan Job I/O, the DB loop,
//! HTTP endpoints, leader election.

pub mod config;
pub mod index;
pub mod job;
pub mod lease;
pub mod metrics;
pub mod reports;
pub mod runtime;
pub mod scan_state;
pub mod store;
pub mod sync;
pub mod workload;
