//! Reconcile errors, split into transient ones (retried with backoff) and permanent ones
//! (recorded as an Event and a metric, not retried until something changes).

use crate::reports::ReportError;
use crate::store::StoreError;

/// Why a reconcile (or one container of it) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was being done (`writing VulnerabilityReport ns/name`).
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// A report could not be built.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The inventory store failed.
    #[error("inventory store: {0}")]
    Store(#[from] StoreError),
    /// Some containers failed (the others' reports were written).
    #[error("{failed} of {total} containers failed; first: {first}")]
    Containers {
        /// Containers that failed.
        failed: usize,
        /// Containers of the workload.
        total: usize,
        /// The first failure.
        first: Box<Error>,
    },
}

impl Error {
    /// An API error while doing `what`.
    pub fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        Error::Kube {
            what: what.into(),
            source,
        }
    }

    /// `true` when retrying can help: the API server or network failed, a conflict, a
    /// throttle. `false` for what the same input will always hit again (an invalid or
    /// too-large object, a report that cannot be built), which is recorded instead.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Kube { source, .. } => match source {
                kube::Error::Api(s) => s.code >= 500 || s.code == 429 || s.code == 409,
                _ => true,
            },
            Error::Report(ReportError::Match { .. }) => true,
            Error::Report(_) => false,
            Error::Store(_) => true,
            Error::Containers { first, .. } => first.is_transient(),
        }
    }

    /// The short reason of an Event / metric label for a permanent failure.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "ApiError",
            Error::Report(ReportError::TooLarge { .. }) => "ReportTooLarge",
            Error::Report(_) => "ReportFailed",
            Error::Store(_) => "StoreError",
            Error::Containers { first, .. } => first.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> Error {
        let status = kube::core::Status::failure("x", "y").with_code(code);
        Error::kube("writing", kube::Error::Api(Box::new(status)))
    }

    #[test]
    fn api_errors_are_classified() {
        assert!(api(500).is_transient());
        assert!(api(503).is_transient());
        assert!(api(429).is_transient());
        assert!(api(409).is_transient());
        assert!(!api(422).is_transient(), "an invalid object stays invalid");
        assert!(!api(413).is_transient(), "too large stays too large");
        let too_large = Error::Report(ReportError::TooLarge {
            kind: "VulnerabilityReport",
            name: "r".into(),
            bytes: 2,
            budget: 1,
        });
        assert!(!too_large.is_transient());
        assert_eq!(too_large.reason(), "ReportTooLarge");
    }
}
