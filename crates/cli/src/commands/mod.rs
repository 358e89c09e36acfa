//! One module per subcommand.

pub mod db;
pub mod image;
pub mod registry_args;
