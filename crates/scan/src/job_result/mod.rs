//! The compact result a scan Job prints to stdout, and its decoding from a Pod log.
//!
//! Success is one line: `SIGHTLINE-RESULT v1 <bytes> <sha256> <base64(gzip(json(ImageScan)))>`.
//! A failed scan prints `SIGHTLINE-ERROR v1 <reason> <message as a JSON string>` instead, so
//! the operator can count failures by [`FailureReason`] and choose a retry policy. The
//! marker makes it findable in a log where stdout and stderr interleave; the length and
//! digest detect a truncated or mangled log (the operator then retries the scan rather than
//! storing a wrong inventory); the version lets an operator refuse a result from an
//! incompatible scanner image with a clear message.
//!
//! # Caps
//!
//! A hostile or broken log cannot make the operator allocate without bound: a result is
//! refused ([`ResultError::TooLarge`], counted as [`FailureReason::BadResult`]) when its line
//! is longer than [`MAX_ENCODED_BYTES`], its JSON larger than [`MAX_DECODED_BYTES`] (64 MiB),
//! or it holds more than [`MAX_PACKAGES`] packages or [`MAX_SECRET_FINDINGS`] secret
//! findings. Real images are far below: a distribution image with 5,000 packages gives about
//! 1.5 MB of JSON, which gzip shrinks to a few hundred KB. The operator reads at most
//! [`MAX_LOG_BYTES`] of a scan Pod's log.

mod reason;
#[cfg(test)]
mod tests;

use std::io::{Read, Write};

use base64::Engine as _;
use sha2::{Digest, Sha256};

pub use reason::FailureReason;

use crate::ImageScan;

/// The marker that starts the result line.
pub const MARKER: &str = "SIGHTLINE-RESULT";

/// The marker that starts a failure line.
pub const ERROR_MARKER: &str = "SIGHTLINE-ERROR";

/// The format version this build writes and reads.
pub const VERSION: &str = "v1";

/// Results whose JSON is larger than this (64 MiB) are refused.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// The gzip of [`MAX_DECODED_BYTES`] of input it cannot compress: stored deflate blocks cost
/// 5 bytes each and the gzip header and trailer 18; one byte per KiB plus 1 KiB bounds both.
const MAX_PACKED_BYTES: usize = MAX_DECODED_BYTES + MAX_DECODED_BYTES / 1024 + 1024;

/// The result line's header: marker, version, length, hex sha256 and separators (about 100
/// bytes), rounded up.
const MAX_HEADER_BYTES: usize = 128;

/// Result lines longer than this are refused before decoding: the longest line a result of
/// [`MAX_DECODED_BYTES`] can give (so the two caps agree), about 85 MiB.
pub const MAX_ENCODED_BYTES: usize = MAX_HEADER_BYTES + MAX_PACKED_BYTES.div_ceil(3) * 4;

/// What the scanner may log before its result line (a few lines at `info`), with room to
/// spare.
const LOG_MARGIN_BYTES: usize = 1 << 20;

/// The most of a scan Pod's log the operator reads (`LogParams::limit_bytes`): a result line
/// of [`MAX_ENCODED_BYTES`] plus 1 MiB for the scanner's other log lines.
pub const MAX_LOG_BYTES: i64 = (MAX_ENCODED_BYTES + LOG_MARGIN_BYTES) as i64;

/// Results listing more packages than this are refused.
pub const MAX_PACKAGES: usize = 500_000;

/// Results with more secret findings than this are refused.
pub const MAX_SECRET_FINDINGS: usize = 100_000;

/// The caps [`decode`] applies (a parameter so tests can reach the boundaries cheaply).
#[derive(Debug, Clone, Copy)]
struct Limits {
    encoded_bytes: usize,
    decoded_bytes: usize,
    packages: usize,
    secret_findings: usize,
}

impl Limits {
    /// The documented caps.
    const DEFAULT: Limits = Limits {
        encoded_bytes: MAX_ENCODED_BYTES,
        decoded_bytes: MAX_DECODED_BYTES,
        packages: MAX_PACKAGES,
        secret_findings: MAX_SECRET_FINDINGS,
    };

    fn check(&self, limit: Limit, found: usize) -> Result<(), OverLimit> {
        let max = match limit {
            Limit::EncodedBytes => self.encoded_bytes,
            Limit::DecodedBytes => self.decoded_bytes,
            Limit::Packages => self.packages,
            Limit::SecretFindings => self.secret_findings,
        };
        if found > max {
            return Err(OverLimit { limit, found, max });
        }
        Ok(())
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
    #[error("the scan failed ({reason}): {message}")]
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
    Corrupt(#[from] Corruption),
    /// The result exceeds one of the caps (see the [module docs](self)).
    #[error("the scan Job's result is refused: {0}")]
    TooLarge(#[from] OverLimit),
}

impl ResultError {
    /// How the failure is counted: the scan Job's own reason for
    /// [`ResultError::ScanFailed`], [`FailureReason::BadResult`] for everything else.
    pub fn reason(&self) -> FailureReason {
        match self {
            ResultError::ScanFailed { reason, .. } => *reason,
            _ => FailureReason::BadResult,
        }
    }
}

/// What is wrong with a result line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Corruption {
    /// A header field or the payload is missing (`version`, `length`, `digest`, `payload`).
    #[error("the line has no {0}")]
    MissingField(&'static str),
    /// The payload is not base64.
    #[error("the payload is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The payload is not gzip, or is cut short.
    #[error("the payload does not decompress: {0}")]
    Gzip(String),
    /// The decompressed payload's length differs from the header's.
    #[error("the payload is {actual} bytes, the header says {announced}")]
    Length {
        /// The header's length.
        announced: usize,
        /// The decompressed length (`announced + 1` when longer).
        actual: usize,
    },
    /// The payload does not match the header's sha256.
    #[error("the payload does not match its sha256")]
    Digest,
    /// The payload is JSON of something else.
    #[error("the payload is not a scan result: {0}")]
    Json(String),
}

/// A cap of [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// [`MAX_ENCODED_BYTES`].
    EncodedBytes,
    /// [`MAX_DECODED_BYTES`].
    DecodedBytes,
    /// [`MAX_PACKAGES`].
    Packages,
    /// [`MAX_SECRET_FINDINGS`].
    SecretFindings,
}

impl Limit {
    /// What is counted, for messages.
    fn what(self) -> &'static str {
        match self {
            Limit::EncodedBytes => "bytes in its result line",
            Limit::DecodedBytes => "bytes of JSON",
            Limit::Packages => "packages",
            Limit::SecretFindings => "secret findings",
        }
    }
}

/// A result over one of the caps.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{found} {what}, over the cap of {max}; the inventory is not stored", what = .limit.what())]
pub struct OverLimit {
    /// Which cap.
    pub limit: Limit,
    /// What the result has (or announces).
    pub found: usize,
    /// The cap.
    pub max: usize,
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
    decode_with(log, &Limits::DEFAULT)
}

/// [`decode`] under `limits`.
fn decode_with(log: &str, limits: &Limits) -> Result<ImageScan, ResultError> {
    let last = log
        .lines()
        .rev()
        .map(|l| l.trim_end_matches('\r'))
        .find_map(|l| {
            l.strip_prefix(MARKER)
                .map(|rest| (true, l.len(), rest))
                .or_else(|| {
                    l.strip_prefix(ERROR_MARKER)
                        .map(|rest| (false, l.len(), rest))
                })
        });
    let line = match last.ok_or(ResultError::Missing)? {
        (true, full, line) => {
            limits.check(Limit::EncodedBytes, full)?;
            line
        }
        (false, _, line) => {
            let mut parts = line.trim_start().splitn(3, ' ');
            let (_version, reason, message) = (parts.next(), parts.next(), parts.next());
            let message = message
                .and_then(|m| serde_json::from_str::<String>(m).ok())
                .unwrap_or_else(|| "(no message)".into());
            return Err(ResultError::ScanFailed {
                reason: reason
                    .and_then(FailureReason::parse)
                    .unwrap_or(FailureReason::Internal),
                message,
            });
        }
    };
    let mut parts = line.split_ascii_whitespace();
    let mut field = |name| parts.next().ok_or(Corruption::MissingField(name));
    let version = field("version")?;
    if version != VERSION {
        return Err(ResultError::Version {
            found: version.to_string(),
        });
    }
    let len: usize = field("length")?
        .parse()
        .map_err(|_| Corruption::MissingField("length"))?;
    limits.check(Limit::DecodedBytes, len)?;
    let digest = field("digest")?;
    let b64 = field("payload")?;
    let packed = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(Corruption::from)?;
    let mut json = Vec::with_capacity(len);
    flate2::read::GzDecoder::new(packed.as_slice())
        .take(len as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|e| Corruption::Gzip(e.to_string()))?;
    if json.len() != len {
        return Err(Corruption::Length {
            announced: len,
            actual: json.len(),
        }
        .into());
    }
    if hex::encode(Sha256::digest(&json)) != digest {
        return Err(Corruption::Digest.into());
    }
    let scan: ImageScan =
        serde_json::from_slice(&json).map_err(|e| Corruption::Json(e.to_string()))?;
    check_counts(&scan, limits)?;
    Ok(scan)
}

/// Refuses a scan with more packages or secret findings than `limits` allow.
fn check_counts(scan: &ImageScan, limits: &Limits) -> Result<(), OverLimit> {
    limits.check(Limit::Packages, scan.inventory.os_packages.len())?;
    let findings = scan.secrets.iter().flatten().map(|r| r.secrets.len()).sum();
    limits.check(Limit::SecretFindings, findings)
}
