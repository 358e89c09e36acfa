//! The compact result a scan Job prints to stdout, and its decoding from a Pod log.
//!
//! Success is one line: `SIGHTLINE-RESULT v1 <bytes> <sha256> <base64(gzip(json(ImageScan)))>`.
//! A failed scan prints `SIGHTLINE-ERROR v1 <reason> <message as a JSON string>` instead, so
//! the operator can count failures by [`FailureReason`] and choose a retry policy. The
//! marker makes it findable in a log where stdout and stderr interleave; the length and
//! digest detect a truncated or mangled log (the operator then retries the scan rather than
//! storing a wrong inventory); the version lets an operator refuse a result from an
//! incompatible scanner image with a clear message.

use std::io::{Read, Write};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::ImageScan;

/// The marker that starts the result line.
pub const MARKER: &str = "SIGHTLINE-RESULT";

/// The marker that starts a failure line.
pub const ERROR_MARKER: &str = "SIGHTLINE-ERROR";

/// The format version this build writes and reads.
pub const VERSION: &str = "v1";

/// Decoded results larger than this are refused (a hostile or broken log cannot make the
/// operator allocate without bound).
pub const MAX_DECODED_BYTES: usize = 256 << 20;

/// Why a scan failed, as `sightline_scan_failures_total{reason}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// The registry refused the credentials (401/403).
    Auth,
    /// The image, tag or a blob does not exist.
    NotFound,
    /// The registry could not be reached, answered an error, or timed out.
    Registry,
    /// The image itself is broken or hostile (digest mismatch, corrupt layer, escaping path).
    BadImage,
    /// Anything else (I/O, internal).
    Internal,
}

impl FailureReason {
    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Auth => "auth",
            FailureReason::NotFound => "not_found",
            FailureReason::Registry => "registry",
            FailureReason::BadImage => "bad_image",
            FailureReason::Internal => "internal",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "auth" => FailureReason::Auth,
            "not_found" => FailureReason::NotFound,
            "registry" => FailureReason::Registry,
            "bad_image" => FailureReason::BadImage,
            _ => FailureReason::Internal,
        }
    }

    /// Classifies a scan error.
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

/// Encodes a failure as one line (no trailing newline).
pub fn encode_failure(reason: FailureReason, message: &str) -> String {
    let msg = serde_json::to_string(message).expect("a string serialises");
    format!("{ERROR_MARKER} {VERSION} {} {msg}", reason.as_str())
}

/// Why a log did not yield a result.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResultError {
    /// The scan Job reported a failure.
    #[error("the scan failed ({}): {message}", reason.as_str())]
    ScanFailed {
        /// Its classification.
        reason: FailureReason,
        /// Its message.
        message: String,
    },
    /// No line starts with the marker (the Job failed before printing, or the log was cut).
    #[error("no {MARKER} line in the scan Job's log (the scan failed before it finished, or the log was truncated)")]
    Missing,
    /// The line is from another format version.
    #[error("the scan Job printed a {found} result; this operator reads {VERSION}: use the same sightline version for the operator and its scan Jobs")]
    Version {
        /// The version found.
        found: String,
    },
    /// The line is malformed, truncated or does not match its digest.
    #[error("the scan Job's result is corrupt: {0}")]
    Corrupt(String),
}

/// Encodes `scan` as one result line (no trailing newline).
pub fn encode(scan: &ImageScan) -> String {
    let json = serde_json::to_vec(scan).expect("ImageScan serialises");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).expect("in-memory write");
    let packed = gz.finish().expect("in-memory write");
    let digest = hex::encode(Sha256::digest(&json));
    let b64 = base64::engine::general_purpose::STANDARD.encode(packed);
    format!("{MARKER} {VERSION} {} {digest} {b64}", json.len())
}

/// Finds and decodes the result (or failure) line in a Pod log (the last one wins).
pub fn decode(log: &str) -> Result<ImageScan, ResultError> {
    let last = log
        .lines()
        .rev()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| {
            l.strip_prefix(MARKER)
                .map(|rest| (true, rest))
                .or_else(|| l.strip_prefix(ERROR_MARKER).map(|rest| (false, rest)))
        });
    let line = match last.ok_or(ResultError::Missing)? {
        (true, line) => line,
        (false, line) => {
            let mut parts = line.trim_start().splitn(3, ' ');
            let (_version, reason, message) = (parts.next(), parts.next(), parts.next());
            let message = message
                .and_then(|m| serde_json::from_str::<String>(m).ok())
                .unwrap_or_else(|| "(no message)".into());
            return Err(ResultError::ScanFailed {
                reason: FailureReason::parse(reason.unwrap_or_default()),
                message,
            });
        }
    };
    let mut parts = line.split_ascii_whitespace();
    let corrupt = |m: &str| ResultError::Corrupt(m.to_string());
    let version = parts.next().ok_or_else(|| corrupt("no version"))?;
    if version != VERSION {
        return Err(ResultError::Version {
            found: version.to_string(),
        });
    }
    let len: usize = parts
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| corrupt("no length"))?;
    if len > MAX_DECODED_BYTES {
        return Err(ResultError::Corrupt(format!(
            "announced size {len} exceeds the {MAX_DECODED_BYTES}-byte limit"
        )));
    }
    let digest = parts.next().ok_or_else(|| corrupt("no digest"))?;
    let b64 = parts.next().ok_or_else(|| corrupt("no payload"))?;
    let packed = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| ResultError::Corrupt(format!("payload is not base64: {e}")))?;
    let mut json = Vec::with_capacity(len.min(MAX_DECODED_BYTES));
    flate2::read::GzDecoder::new(packed.as_slice())
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|e| ResultError::Corrupt(format!("payload does not decompress: {e}")))?;
    if json.len() != len {
        return Err(ResultError::Corrupt(format!(
            "payload is {} bytes, the header says {len}",
            json.len()
        )));
    }
    if hex::encode(Sha256::digest(&json)) != digest {
        return Err(corrupt("payload does not match its sha256"));
    }
    serde_json::from_slice(&json)
        .map_err(|e| ResultError::Corrupt(format!("payload is not a scan result: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_inventory::{Inventory, OsFamily, OsInfo, Package};

    // Field by field, so fields added to ImageScan later need no change here.
    #[allow(clippy::field_reassign_with_default)]
    fn sample() -> ImageScan {
        let mut inventory = Inventory {
            os: Some(OsInfo {
                family: OsFamily::Debian,
                name: "12.15".into(),
            }),
            ..Default::default()
        };
        for i in 0..500 {
            inventory.os_packages.push(Package::new(
                &format!("pkg{i}"),
                "1.0-1",
                "src",
                "1.0-1",
                "var/lib/dpkg/status",
            ));
        }
        let mut scan = ImageScan::default();
        scan.artifact_name = "127.0.0.1:5000/library/debian:bookworm-curl".into();
        scan.image_id = "sha256:00".into();
        scan.repo_digests = vec!["127.0.0.1:5000/library/debian@sha256:11".into()];
        scan.diff_ids = vec!["sha256:22".into()];
        scan.config = serde_json::json!({"architecture": "amd64"});
        scan.inventory = inventory;
        scan
    }

    #[test]
    fn round_trips_through_an_interleaved_log() {
        let scan = sample();
        let line = encode(&scan);
        assert!(
            line.len() < 20_000,
            "500 packages compress well: {} bytes",
            line.len()
        );
        let log = format!("INFO pulling\nprogress 10%\n{line}\nWARN something on stderr\n");
        assert_eq!(decode(&log).unwrap(), scan);
    }

    #[test]
    fn failures_are_classified() {
        let line = encode_failure(
            FailureReason::Auth,
            "127.0.0.1:5001: authentication failed (401 Unauthorized)",
        );
        let log = format!("INFO pulling\n{line}\n");
        assert_eq!(
            decode(&log),
            Err(ResultError::ScanFailed {
                reason: FailureReason::Auth,
                message: "127.0.0.1:5001: authentication failed (401 Unauthorized)".into()
            })
        );
        let e = crate::ScanError::Image(sightline_image::ImageError::Timeout {
            registry: "r".into(),
            timeout: std::time::Duration::from_secs(1),
            during: "x".into(),
        });
        assert_eq!(FailureReason::of(&e), FailureReason::Registry);
    }

    #[test]
    fn damaged_logs_are_refused_clearly() {
        let line = encode(&sample());
        assert_eq!(decode("INFO nothing here\n"), Err(ResultError::Missing));
        let truncated = &line[..line.len() - 40];
        assert!(matches!(decode(truncated), Err(ResultError::Corrupt(_))));
        let v2 = line.replacen(" v1 ", " v2 ", 1);
        assert!(matches!(decode(&v2), Err(ResultError::Version { .. })));
        let bad_digest = {
            let mut p: Vec<&str> = line.split(' ').collect();
            let zeros = "0".repeat(64);
            p[3] = &zeros;
            p.join(" ")
        };
        assert_eq!(
            decode(&bad_digest),
            Err(ResultError::Corrupt(
                "payload does not match its sha256".into()
            ))
        );
        let huge = format!("{MARKER} {VERSION} 999999999999 00 AAAA");
        assert!(matches!(decode(&huge), Err(ResultError::Corrupt(m)) if m.contains("limit")));
    }
}
