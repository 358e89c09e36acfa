//! Version comparators per package ecosystem.
//!
//! [`compare`] is the single entry point; the per-scheme modules ([`dpkg`],
//! [`apk`]) hold the rules and a `validate` helper each. A string the scheme
//! cannot parse is a [`VersionError`], never a panic and never a guess.

use std::cmp::Ordering;
use std::fmt;

pub mod apk;
pub mod dpkg;

/// A version ordering scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian/Ubuntu dpkg ordering (epoch, upstream with `~`, revision).
    Dpkg,
    /// Alpine apk-tools ordering (`_alpha`.. `_p` suffixes, `-r` revision).
    Apk,
}

impl Scheme {
    /// The scheme's short name, as used in [`VersionError::scheme`] (`"dpkg"`, `"apk"`).
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Apk => "apk",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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

impl VersionError {
    pub(crate) fn new(scheme: Scheme, version: &str, reason: impl Into<String>) -> Self {
        VersionError {
            scheme: scheme.name(),
            version: version.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Compares two versions under `scheme`.
///
/// Errors if either string is not a valid version of that scheme (the first
/// invalid one is reported).
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match scheme {
        Scheme::Dpkg => dpkg::compare(a, b),
        Scheme::Apk => apk::compare(a, b),
    }
}

/// Checks that `version` is valid under `scheme`, without comparing it to anything.
pub fn validate(scheme: Scheme, version: &str) -> Result<(), VersionError> {
    match scheme {
        Scheme::Dpkg => dpkg::validate(version),
        Scheme::Apk => apk::validate(version),
    }
}
