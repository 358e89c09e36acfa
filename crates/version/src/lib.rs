//! Version comparators per package ecosystem.
//!
//! STUB: the API below is the contract; bodies are being written.

use std::cmp::Ordering;

/// A version ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian/Ubuntu dpkg ordering (epoch, upstream with `~`, revision).
    Dpkg,
    /// Alpine apk-tools ordering (`_alpha`.. `_p` suffixes, `-r` revision).
    Apk,
}

/// A version string that the scheme cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    /// Scheme name.
    pub scheme: &'static str,
    /// The offending string.
    pub version: String,
    /// Why.
    pub reason: String,
}

/// Compares two versions under `scheme`.
pub fn compare(_scheme: Scheme, _a: &str, _b: &str) -> Result<Ordering, VersionError> {
    todo!()
}
