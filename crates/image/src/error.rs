//! The error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

/// Errors. Each names the registry, image or layer involved and says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// An image reference (`host[:port]/repo[:tag|@digest]`) that cannot be parsed.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An `--input` value that is neither `oci:<dir>[:<tag>]` nor an existing tar file.
    #[error("invalid input {input:?}: {reason}")]
    InvalidInput {
        /// The input as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A platform string that is not `os/arch[/variant]`.
    #[error("invalid platform {platform:?}: {reason} (expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8)")]
    InvalidPlatform {
        /// The platform as given.
        platform: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A path given to [`crate::Rootfs::read`] that climbs above the image root.
    #[error("invalid path {path:?} inside the image: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A docker `config.json` that cannot be read or parsed.
    #[error("docker config {}: {reason}", path.display())]
    DockerConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry refused the credentials (401) or denied access (403).
    #[error("{registry}: authentication failed ({status}) for {repository}: {hint}")]
    Auth {
        /// Registry `host[:port]`.
        registry: String,
        /// Repository path.
        repository: String,
        /// HTTP status, e.g. `401 Unauthorized`.
        status: String,
        /// What to check (credentials source).
        hint: String,
    },
    /// A manifest, tag or blob the source does not have (registry 404, unknown OCI tag).
    #[error("{what}: {reference} not found{available}")]
    NotFound {
        /// e.g. `manifest unknown`, `blob unknown`, `tag unknown`.
        what: String,
        /// The full reference (registry/repo:tag, dir:tag, ...).
        reference: String,
        /// Extra text listing what is available (may be empty).
        available: String,
    },
    /// Any other error answer of a registry (5xx, unexpected status, bad body).
    #[error("{registry}: {message}")]
    Registry {
        /// Registry `host[:port]`.
        registry: String,
        /// Status and body excerpt, or the error text.
        message: String,
    },
    /// The registry cannot be reached (connection refused, DNS, TLS handshake).
    #[error("{registry}: cannot connect to the registry: {reason}")]
    Connect {
        /// Registry `host[:port]`.
        registry: String,
        /// The underlying error chain.
        reason: String,
    },
    /// No answer from the registry within the timeout.
    #[error("{registry}: timed out after {}s {during} (no answer from the registry; raise the timeout or check the network)", timeout.as_secs_f64())]
    Timeout {
        /// Registry `host[:port]`.
        registry: String,
        /// The timeout that expired.
        timeout: Duration,
        /// What was being done, e.g. `fetching the manifest of ...`.
        during: String,
    },
    /// A manifest list / image index has no entry for the wanted platform.
    #[error("{image}: no image for platform {wanted} in the manifest list; available: {}", if available.is_empty() { "none".to_string() } else { available.join(", ") })]
    NoMatchingPlatform {
        /// The image (reference or layout).
        image: String,
        /// The wanted platform (`os/arch[/variant]`).
        wanted: String,
        /// The platforms the list offers.
        available: Vec<String>,
    },
    /// A manifest, index, config or archive `manifest.json` that is not what an image needs.
    #[error("invalid {subject}: {reason}")]
    InvalidManifest {
        /// What was being parsed (names the image/manifest).
        subject: String,
        /// What is wrong.
        reason: String,
    },
    /// A layer media type that is not a tar layer (e.g. a Helm chart or Wasm blob).
    #[error("{layer}: unsupported layer media type {media_type:?}")]
    UnsupportedMediaType {
        /// The layer (index and digest).
        layer: String,
        /// Its media type.
        media_type: String,
    },
    /// A layer compression that is not supported yet (zstd).
    #[error("{layer}: unsupported compression {compression} (only gzip and uncompressed tar layers are supported)")]
    UnsupportedCompression {
        /// The layer (index and digest).
        layer: String,
        /// The compression, e.g. `zstd`.
        compression: String,
    },
    /// Content whose digest is not the one it was referenced by.
    #[error("digest mismatch for {subject}: expected {expected}, got {actual}")]
    DigestMismatch {
        /// What was checked (manifest, config, layer blob or uncompressed layer).
        subject: String,
        /// The digest it was referenced by.
        expected: String,
        /// The digest of the bytes received.
        actual: String,
    },
    /// A blob longer than the size its descriptor declares (the download stops there).
    #[error("size mismatch for {subject}: the blob is larger than the {declared} bytes its descriptor declares")]
    SizeMismatch {
        /// What was read (layer, config).
        subject: String,
        /// The declared size in bytes.
        declared: u64,
    },
    /// A layer that cannot be decompressed or is not a valid tar.
    #[error("{layer}: corrupt layer: {reason}")]
    CorruptLayer {
        /// The layer (index and digest).
        layer: String,
        /// The decoder's error.
        reason: String,
    },
    /// A tar entry that would land outside the image root (`../`, hardlink escapes).
    #[error("{layer}: hostile tar entry {entry:?}: {reason}")]
    HostileEntry {
        /// The layer (index and digest).
        layer: String,
        /// The entry name as stored in the tar.
        entry: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A symlink whose target climbs above the image root.
    #[error("symlink {link} -> {target} points outside the image root")]
    SymlinkEscape {
        /// The link path.
        link: String,
        /// Its target as stored.
        target: String,
    },
    /// Too many symlink hops (a loop) while resolving a path.
    #[error("too many levels of symbolic links resolving {path} (last link {link})")]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
        /// The last link followed.
        link: String,
    },
    /// A local file (OCI layout, archive) that cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Untrusted input over one of the [`crate::Limits`] (or a fixed bound such as the path
    /// length): the scan stops instead of taking unbounded memory or time.
    #[error("{subject}: {what}, over the {limit}{}", flag.map(|f| format!(" (raise it with {f})")).unwrap_or_default())]
    LimitExceeded {
        /// Where (layer, file, manifest, config).
        subject: String,
        /// What was found, e.g. `file var/lib/dpkg/status is 2.0 GiB`.
        what: String,
        /// The limit, e.g. `kept-file size limit of 256 MiB`.
        limit: String,
        /// The flag that raises it, when a user may need more.
        flag: Option<&'static str>,
    },
    /// Anything else (internal errors such as a panicked worker).
    #[error("{0}")]
    Other(String),
}

impl ImageError {
    pub(crate) fn io(path: impl std::fmt::Display, source: std::io::Error) -> Self {
        ImageError::Io {
            path: path.to_string(),
            source,
        }
    }
}
