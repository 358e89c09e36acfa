//! The value encoding of one inventory store entry.
//!
//! Version 1 ([`ENCODING_V1`]): one version byte, then the gzip'd JSON of
//! `{"scannedAt": <RFC 3339>, "scan": <ImageScan>}`. An inventory of a few hundred packages
//! takes a few kilobytes.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sightline_scan::ImageScan;

use super::StoredScan;

/// Value encoding version 1: the version byte, then gzip'd JSON of `{"scannedAt", "scan"}`.
pub const ENCODING_V1: u8 = 1;

/// The JSON record inside a version-1 value (borrowing, for writing).
#[derive(Serialize)]
pub(super) struct RecordRef<'a> {
    #[serde(rename = "scannedAt")]
    pub(super) scanned_at: DateTime<Utc>,
    pub(super) scan: &'a ImageScan,
}

/// The JSON record inside a version-1 value (owned, for reading).
#[derive(Deserialize)]
struct Record {
    #[serde(rename = "scannedAt")]
    scanned_at: DateTime<Utc>,
    scan: ImageScan,
}

/// Why a stored value does not decode.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// The value has no bytes at all.
    #[error("empty value")]
    Empty,
    /// The version byte is one this build does not read.
    #[error("encoding version {0}")]
    UnknownVersion(u8),
    /// The bytes after the version byte are not gzip.
    #[error("gzip: {0}")]
    Gzip(#[source] std::io::Error),
    /// The decompressed bytes are not a stored scan.
    #[error("JSON: {0}")]
    Json(#[source] serde_json::Error),
}

/// `true` when `value` starts with a version byte this build decodes.
pub(super) fn readable(value: &[u8]) -> bool {
    value.first() == Some(&ENCODING_V1)
}

/// Version byte + gzip'd JSON of `record`.
pub(super) fn encode(record: &RecordRef<'_>) -> std::io::Result<Vec<u8>> {
    let mut out = vec![ENCODING_V1];
    let mut gz = GzEncoder::new(&mut out, flate2::Compression::default());
    serde_json::to_writer(&mut gz, record)?;
    gz.flush()?;
    gz.finish()?;
    Ok(out)
}

/// The stored scan in `value` (version byte included).
pub(super) fn decode(value: &[u8]) -> Result<StoredScan, ValueError> {
    let (&version, bytes) = value.split_first().ok_or(ValueError::Empty)?;
    if version != ENCODING_V1 {
        return Err(ValueError::UnknownVersion(version));
    }
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(ValueError::Gzip)?;
    let record: Record = serde_json::from_slice(&json).map_err(ValueError::Json)?;
    Ok(StoredScan {
        scan: record.scan,
        scanned_at: record.scanned_at,
    })
}
