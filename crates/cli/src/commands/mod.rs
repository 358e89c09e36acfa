//! One module per subcommand.

pub mod config;
pub mod crds;
pub mod db;
pub mod image;
pub mod limit_args;
pub mod operator;
pub mod registry_args;
pub mod scan_job;
