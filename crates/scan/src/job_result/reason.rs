//! [`FailureReason`]: why a scan of an image digest failed, decided by the scan Job (registry,
//! image) or by the operator (the Job's fate, its result), and counted by
//! `sightline_scan_failures_total{reason}`.

use std::fmt;

/// Why a scan failed: the `reason` label of `sightline_scan_failures_total`, and the reason a
/// scan Job prints on its `SIGHTLINE-ERROR` line.
///
/// The scan Job reports [`Auth`](Self::Auth), [`NotFound`](Self::NotFound),
/// [`Registry`](Self::Registry), [`BadImage`](Self::BadImage) and
/// [`Internal`](Self::Internal); the operator adds [`Timeout`](Self::Timeout),
/// [`Oom`](Self::Oom) and [`BadResult`](Self::BadResult) from what it sees of the Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The registry refused the credentials (401/403).
    Auth,
    /// The image, tag or a blob does not exist (404, manifest unknown, no matching platform).
    NotFound,
    /// The registry could not be reached, answered an error, or timed out.
    Registry,
    /// The image itself is broken or hostile (bad manifest, digest or size mismatch, corrupt
    /// layer, unsupported media type, escaping path, over a limit such as the kept-file size).
    BadImage,
    /// The scan Job ran past `operator.scanJobTimeout` (decided by the operator).
    Timeout,
    /// The scan Pod was OOM-killed (decided by the operator).
    Oom,
    /// The Job's output is not a valid scan result: missing, truncated, corrupt, from another
    /// format version, or over a size cap (decided by the operator).
    BadResult,
    /// Anything else (I/O, a bug, an API error while running the Job).
    Internal,
}

impl FailureReason {
    /// Every reason, in label order.
    pub const ALL: [FailureReason; 8] = [
        FailureReason::Auth,
        FailureReason::NotFound,
        FailureReason::Registry,
        FailureReason::BadImage,
        FailureReason::Timeout,
        FailureReason::Oom,
        FailureReason::BadResult,
        FailureReason::Internal,
    ];

    /// The label value (`auth`, `not_found`, ...), also the word on a `SIGHTLINE-ERROR` line.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Auth => "auth",
            FailureReason::NotFound => "not_found",
            FailureReason::Registry => "registry",
            FailureReason::BadImage => "bad_image",
            FailureReason::Timeout => "timeout",
            FailureReason::Oom => "oom",
            FailureReason::BadResult => "bad_result",
            FailureReason::Internal => "internal",
        }
    }

    /// The reason of a label value; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Self> {
        FailureReason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Classifies a scan error (what the scan Job reports).
    pub fn of(e: &crate::ScanError) -> Self {
        use sightline_image::ImageError as I;
        match e {
            crate::ScanError::Image(i) => match i {
                I::Auth { .. } | I::DockerConfig { .. } => FailureReason::Auth,
                I::NotFound { .. } | I::NoMatchingPlatform { .. } => FailureReason::NotFound,
                I::Registry { .. } | I::Connect { .. } | I::Timeout { .. } => {
                    FailureReason::Registry
                }
                I::InvalidManifest { .. }
                | I::UnsupportedMediaType { .. }
                | I::UnsupportedCompression { .. }
                | I::DigestMismatch { .. }
                | I::SizeMismatch { .. }
                | I::LimitExceeded { .. }
                | I::CorruptLayer { .. }
                | I::HostileEntry { .. }
                | I::SymlinkEscape { .. }
                | I::SymlinkLoop { .. } => FailureReason::BadImage,
                _ => FailureReason::Internal,
            },
            crate::ScanError::Inventory(_) => FailureReason::BadImage,
            _ => FailureReason::Internal,
        }
    }
}

impl fmt::Display for FailureReason {
    /// The label value ([`FailureReason::as_str`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
