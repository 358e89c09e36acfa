//! Container image sources and safe layer walking.
//!
//! STUB: the API below is the contract; bodies are being written.
//!
//! * Sources: a registry reference, an OCI layout directory, a docker-archive tar.
//! * Registry auth: anonymous, basic, bearer-token flow, docker `config.json`.
//! * Layers are streamed (never written to disk), digest-checked, applied in order with
//!   whiteouts; only the files a caller asks for are kept in memory. Nothing ever touches the
//!   host filesystem.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// `host[:port]/repo[:tag|@sha256:...]` (docker.io names completed as docker does).
    Registry(String),
    /// An OCI image layout directory and a tag (`org.opencontainers.image.ref.name`) or digest.
    OciLayout {
        /// Layout directory (holds `oci-layout`, `index.json`, `blobs/`).
        dir: PathBuf,
        /// Tag or `sha256:` digest; `None` = the only image in the index.
        reference: Option<String>,
    },
    /// A `docker save` / docker-archive tar (`manifest.json` + config + layer tars).
    DockerArchive {
        /// The tar file.
        path: PathBuf,
    },
}

impl ImageSource {
    /// Parses an `--input` value: `oci:<dir>[:<tag>]` or a path to a tar file.
    pub fn from_input(_input: &str) -> Result<Self, ImageError> {
        todo!()
    }
}

/// Target platform for manifest lists (`os/arch[/variant]`, default `linux/amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// e.g. `linux`
    pub os: String,
    /// e.g. `amd64`
    pub architecture: String,
    /// e.g. `v8`
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform { os: "linux".into(), architecture: "amd64".into(), variant: None }
    }
}

impl std::str::FromStr for Platform {
    type Err = ImageError;
    fn from_str(_s: &str) -> Result<Self, Self::Err> {
        todo!()
    }
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Plain http (or https without certificate checks) for every registry. Loopback
    /// registries (127.0.0.0/8, localhost, [::1]) always use http.
    pub insecure: bool,
    /// Basic credentials given on the command line (win over the docker config).
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// A docker `config.json` (`auths.<host>.auth` / `username`+`password`); `None` =
    /// `$DOCKER_CONFIG/config.json`, then `~/.docker/config.json` when present.
    pub docker_config: Option<PathBuf>,
    /// Platform picked from manifest lists.
    pub platform: Platform,
    /// Per-request timeout (connect + each read); `None` = 60 s.
    pub timeout: Option<Duration>,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// Digest of the blob as stored (`sha256:...`, compressed).
    pub digest: String,
    /// Digest of the uncompressed tar (from the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// Blob media type.
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
}

/// What is known about an image before its layers are read.
#[derive(Debug, Clone)]
pub struct ImageMeta {
    /// The name the user gave (reference, or the input path).
    pub name: String,
    /// `sha256:` digest of the config blob (Trivy's `ImageID`).
    pub image_id: String,
    /// `repo@sha256:<manifest digest>` entries (Trivy's `RepoDigests`); empty for archives
    /// without a registry origin.
    pub repo_digests: Vec<String>,
    /// Tags known for the image.
    pub repo_tags: Vec<String>,
    /// The raw image config JSON.
    pub config: serde_json::Value,
    /// Layers, base first.
    pub layers: Vec<LayerInfo>,
}

/// A regular file kept from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// File content.
    pub content: Vec<u8>,
    /// Index into [`ImageMeta::layers`] of the layer that wrote this version.
    pub layer: usize,
    /// Unix mode bits.
    pub mode: u32,
}

/// The merged view of the kept files after all layers and whiteouts, plus every symlink,
/// so reads can follow links inside the image.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    _files: BTreeMap<String, FileEntry>,
}

impl Rootfs {
    /// Reads `path` (relative, no leading `/`), following symlinks inside the image.
    /// `Ok(None)` when absent; an error when a link climbs out of the image root or loops.
    pub fn read(&self, _path: &str) -> Result<Option<&FileEntry>, ImageError> {
        todo!()
    }

    /// Kept files whose path starts with `dir/`, direct children only, sorted.
    pub fn list_dir(&self, _dir: &str) -> Vec<(&str, &FileEntry)> {
        todo!()
    }

    /// All kept files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &FileEntry)> {
        self._files.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// Decides which regular files to keep (path relative to the root, no leading `/`; size).
pub trait FileFilter: Send + Sync {
    /// `true` to keep the file's content.
    fn wants(&self, path: &str, size: u64) -> bool;
}

/// Progress of layer downloads (the CLI draws bars; scan Jobs stay quiet).
pub trait Progress: Send + Sync {
    /// A layer blob starts downloading.
    fn layer_started(&self, _digest: &str, _size: u64) {}
    /// `n` more bytes of a layer blob arrived.
    fn layer_bytes(&self, _digest: &str, _n: u64) {}
    /// A layer blob is done.
    fn layer_finished(&self, _digest: &str) {}
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// A fetched image: metadata plus the files the filter kept.
#[derive(Debug, Clone)]
pub struct Image {
    /// Metadata.
    pub meta: ImageMeta,
    /// Kept files.
    pub rootfs: Rootfs,
}

/// Fetches an image's metadata and walks its layers, keeping the files `filter` wants.
pub async fn fetch_image(
    _source: &ImageSource,
    _opts: &RegistryOptions,
    _filter: Arc<dyn FileFilter>,
    _progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    todo!()
}

/// Errors. Each names the registry, image or layer involved and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Placeholder until the real variants land.
    #[error("{0}")]
    Other(String),
}
