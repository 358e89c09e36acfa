//! One module per subcommand.

pub mod crds;
pub mod db;
pub mod image;
pub mod registry_args;
