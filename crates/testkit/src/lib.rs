//! Test harness shared by the CLI's integration tests and the benches, so each piece is
//! written once: the real test registries ([`registry`]), the real test cluster and a
//! `sightline operator` process on the host ([`cluster`], [`operator`]), polling waits
//! ([`wait`]), the shared test data ([`paths`]), DB publishing ([`publish`]) and the
//! hostile-image corpus ([`hostile`]).
//!
//! The `sightline` binary is not visible from a library (`CARGO_BIN_EXE_*` exists only in
//! the CLI crate's own tests), so whatever runs it takes its path: tests pass
//! `env!("CARGO_BIN_EXE_sightline")`, benches the release binary.

pub mod cluster;
pub mod hostile;
pub mod http;
pub mod operator;
pub mod paths;
pub mod publish;
pub mod registry;
#[allow(unsafe_code)]
pub mod sys;
pub mod wait;

pub use cluster::{cluster, restart_api_server, summary_total, Cluster};
pub use http::{http_get, metric_sum};
pub use operator::Operator;
pub use paths::{env_or, fixture_cache, shared_scripts, shared_testdata, workspace_root};
pub use publish::{publish_db, publish_db_archive, publish_fixture_db};
pub use registry::{env, umoci_unpack, TestEnv};
pub use wait::{wait_for, wait_for_every};
