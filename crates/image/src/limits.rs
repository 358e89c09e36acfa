//! Bounds on what untrusted image content may make a fetch hold or do: kept-file size,
//! total kept bytes, entries and path bytes per layer, layers per image, manifest and
//! config size, tar extension headers and path length. Hitting one is an
//! [`ImageError::LimitExceeded`] naming the limit, the place and the flag that raises it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::ImageError;

/// Longest path accepted in a layer (Linux' `PATH_MAX`).
pub const MAX_PATH_LEN: usize = 4096;
/// Most bytes of GNU long-name / long-link and PAX extension headers in front of one entry.
pub const MAX_EXTENSION_HEADER_BYTES: u64 = 1 << 20;
/// Largest manifest or index accepted (as distribution's registry and containers/image).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;
/// Most path bytes one layer's entries may hold in memory while the layer is walked.
pub const MAX_LAYER_PATH_BYTES: u64 = 128 << 20;

/// Bounds on one image fetch. The defaults fit every real image seen; flags of the CLI raise
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest regular file kept for the analyzers (`--max-file-size`).
    pub max_file_size: u64,
    /// Most bytes kept over all layers (`--max-kept-bytes`); hard links share content and
    /// count once.
    pub max_kept_bytes: u64,
    /// Most tar entries in one layer (`--max-layer-entries`).
    pub max_layer_entries: u64,
    /// Most layers in one image (`--max-layers`).
    pub max_layers: usize,
    /// Largest image config blob (`--max-config-size`).
    pub max_config_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_size: 256 << 20,
            max_kept_bytes: 1 << 30,
            max_layer_entries: 500_000,
            max_layers: 1_000,
            max_config_size: 16 << 20,
        }
    }
}

/// `n` bytes for people: `512 B`, `4.0 KiB`, `2.0 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The error for `what` (at `subject`) over `limit`.
pub(crate) fn exceeded(
    subject: impl Into<String>,
    what: impl Into<String>,
    limit: impl Into<String>,
    flag: Option<&'static str>,
) -> ImageError {
    ImageError::LimitExceeded {
        subject: subject.into(),
        what: what.into(),
        limit: limit.into(),
        flag,
    }
}

/// An error unless an image of `count` layers is within [`Limits::max_layers`].
pub(crate) fn check_layer_count(
    count: usize,
    limits: &Limits,
    subject: &str,
) -> Result<(), ImageError> {
    if count > limits.max_layers {
        return Err(exceeded(
            subject,
            format!("the manifest names {count} layers"),
            format!("limit of {} layers per image", limits.max_layers),
            Some("--max-layers"),
        ));
    }
    Ok(())
}

/// An error unless a config blob of `size` bytes is within [`Limits::max_config_size`].
pub(crate) fn check_config_size(
    size: u64,
    limits: &Limits,
    subject: &str,
) -> Result<(), ImageError> {
    if size > limits.max_config_size {
        return Err(exceeded(
            subject,
            format!("the config blob is {}", human_bytes(size)),
            format!(
                "config size limit of {}",
                human_bytes(limits.max_config_size)
            ),
            Some("--max-config-size"),
        ));
    }
    Ok(())
}

/// An error unless a manifest of `size` bytes is within [`MAX_MANIFEST_SIZE`].
pub(crate) fn check_manifest_size(size: u64, subject: &str) -> Result<(), ImageError> {
    if size > MAX_MANIFEST_SIZE {
        return Err(exceeded(
            subject,
            format!("the manifest is {}", human_bytes(size)),
            format!("manifest size limit of {}", human_bytes(MAX_MANIFEST_SIZE)),
            None,
        ));
    }
    Ok(())
}

/// The bytes kept so far over all layers of one fetch (layers are walked concurrently).
#[derive(Debug)]
pub(crate) struct KeptBudget {
    used: AtomicU64,
    max: u64,
}

impl KeptBudget {
    /// A budget of `max` bytes.
    pub(crate) fn new(max: u64) -> Self {
        KeptBudget {
            used: AtomicU64::new(0),
            max,
        }
    }

    /// Takes `n` bytes; `Err(total it would reach)` (and nothing taken) when over the budget.
    pub(crate) fn take(&self, n: u64) -> Result<(), u64> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let next = cur.saturating_add(n);
            if next > self.max {
                return Err(next);
            }
            match self
                .used
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => cur = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(4096), "4.0 KiB");
        assert_eq!(human_bytes(256 << 20), "256.0 MiB");
        assert_eq!(human_bytes(2 << 30), "2.0 GiB");
    }

    #[test]
    fn budget_refuses_what_would_pass_the_max() {
        let b = KeptBudget::new(10);
        assert!(b.take(6).is_ok());
        assert_eq!(b.take(5), Err(11));
        assert!(b.take(4).is_ok());
        assert_eq!(b.take(u64::MAX), Err(u64::MAX));
    }

    #[test]
    fn message_names_limit_and_flag() {
        let e = exceeded(
            "layer 1/1 sha256:ab",
            "file var/lib/dpkg/status is 2.0 GiB",
            "kept-file size limit of 256.0 MiB",
            Some("--max-file-size"),
        );
        assert_eq!(
            e.to_string(),
            "layer 1/1 sha256:ab: file var/lib/dpkg/status is 2.0 GiB, over the kept-file size \
             limit of 256.0 MiB (raise it with --max-file-size)"
        );
    }
}
