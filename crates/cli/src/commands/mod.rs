//! One module per subcommand.

pub mod image;
