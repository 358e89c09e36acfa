//! Container image sources and safe layer walking.
//!
//! * Sources: a registry reference (through `oci-client`), an OCI layout directory, a
//!   docker-archive / oci-archive tar.
//! * Registry auth: anonymous, basic, bearer-token flow, docker `config.json`.
//! * Layers are streamed (never written to disk), digest-checked (blob digest and
//!   `rootfs.diff_ids`), applied in order with whiteouts; only the files a caller asks for
//!   are kept in memory. Nothing ever touches the host filesystem: symlinks are resolved
//!   virtually inside the image root.
//!
//! Behaviours worth knowing:
//! * `ImageMeta::repo_digests` is `<repo>@<digest of the manifest the tag points to>`, as
//!   Trivy prints it; for a manifest list that is the list digest, not the per-platform one.
//!   OCI layouts and archives have none.
//! * Loopback registries use plain http; [`RegistryOptions::insecure`] makes every registry
//!   plain http.
//! * Tar entry paths are normalised (leading `/` and `./` stripped); an entry that climbs out
//!   of the root is an [`ImageError::HostileEntry`] and fails the whole fetch.

#![warn(missing_docs)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

pub mod artifact;
mod auth;
pub mod digest;
mod error;
mod fence;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod layer;
pub mod limits;
mod local;
mod manifest;
mod registry;
mod rootfs;
mod source;
mod store;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use auth::describe_json_error;
pub use error::ImageError;
pub use limits::Limits;
pub use rootfs::Rootfs;

/// Layers walked at the same time (download + decompression overlap across layers).
const LAYER_CONCURRENCY: usize = 3;

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
    /// A `docker save` / docker-archive tar (`manifest.json` + config + layer tars, plain or
    /// gzip), or an oci-archive tar (an OCI layout inside a tar, one image); the format is
    /// detected from the content. Read in place, never extracted.
    DockerArchive {
        /// The tar file.
        path: PathBuf,
    },
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
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

/// How to reach registries. Its `Debug` shows whether a password is set, never the password.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// Plain http for every registry (certificate checks are also off for any https hop,
    /// e.g. a token realm). Loopback registries (127.0.0.0/8, `localhost`, `[::1]`) always use
    /// http, insecure or not.
    pub insecure: bool,
    /// Registries (`host[:port]`, as in image references) reached over plain http, as
    /// Trivy's `--insecure` per registry (Trivy Operator's `trivy.nonSslRegistries`).
    pub insecure_registries: Vec<String>,
    /// Basic credentials given on the command line (win over the docker config).
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// A docker `config.json` (`auths.<host>.auth` / `username`+`password`); `None` =
    /// `$DOCKER_CONFIG/config.json`, then `~/.docker/config.json` when present.
    pub docker_config: Option<PathBuf>,
    /// Platform picked from manifest lists.
    pub platform: Platform,
    /// Per-request timeout (connect, each manifest/config request, each wait for the next
    /// chunk of a layer blob); `None` = 60 s. A hung registry fails with
    /// [`ImageError::Timeout`].
    pub timeout: Option<Duration>,
    /// What untrusted image content may make the fetch hold (kept files, entries, layers,
    /// config size); see [`Limits`].
    pub limits: Limits,
}

impl std::fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryOptions")
            .field("insecure", &self.insecure)
            .field("insecure_registries", &self.insecure_registries)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("docker_config", &self.docker_config)
            .field("platform", &self.platform)
            .field("timeout", &self.timeout)
            .field("limits", &self.limits)
            .finish()
    }
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
    /// `repo@sha256:<manifest digest>` entries (Trivy's `RepoDigests`), e.g.
    /// `127.0.0.1:5000/library/debian@sha256:...` or `alpine@sha256:...` for Docker Hub
    /// official images. The digest is the one of the manifest the reference points to (the
    /// manifest LIST digest for multi-platform images, as Trivy). Empty for OCI layouts and
    /// archives.
    pub repo_digests: Vec<String>,
    /// Tags known for the image (`repo:tag` from a registry reference with a tag, or the
    /// `RepoTags` of a docker-archive).
    pub repo_tags: Vec<String>,
    /// The raw image config JSON.
    pub config: serde_json::Value,
    /// Layers, base first. For docker-archive layers `digest` is the sha256 of the stored
    /// blob as read (equal to `diff_id` for uncompressed layers).
    pub layers: Vec<LayerInfo>,
}

/// A regular file kept from the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// File content (shared by the hard links to it).
    pub content: Arc<[u8]>,
    /// Index into [`ImageMeta::layers`] of the layer that wrote this version.
    pub layer: usize,
    /// Unix mode bits.
    pub mode: u32,
}

/// Decides which regular files to keep (path relative to the root, no leading `/`; size).
///
/// The filter is asked about REAL paths of regular files as they appear in the layers,
/// never about symlinks: `etc/os-release` is a symlink to `../usr/lib/os-release` in Debian
/// and Alpine, so a filter that wants `etc/os-release` must also want `usr/lib/os-release`
/// (and in general the usual targets of the links it cares about), or
/// [`Rootfs::read`] returns `Ok(None)` for the link. Hardlinks get the content of their
/// target when the target was kept. Any `Fn(&str, u64) -> bool` closure is a filter.
pub trait FileFilter: Send + Sync {
    /// `true` to keep the file's content.
    fn wants(&self, path: &str, size: u64) -> bool;
}

impl<F: Fn(&str, u64) -> bool + Send + Sync> FileFilter for F {
    fn wants(&self, path: &str, size: u64) -> bool {
        self(path, size)
    }
}

/// A regular file met while a layer is walked (see [`LayerVisitor`]).
#[derive(Debug, Clone, Copy)]
pub struct LayerFile<'a> {
    /// Index into [`ImageMeta::layers`] of the layer holding this entry.
    pub layer: usize,
    /// Path as written in the layer, normalised (relative, no leading `/` or `./`); symlinked
    /// parent directories of lower layers are NOT resolved (the path the tar entry names).
    pub path: &'a str,
    /// Size in bytes (the logical size for GNU sparse entries).
    pub size: u64,
    /// Unix mode bits.
    pub mode: u32,
}

/// Sees every regular file of every layer as the layers stream by, including files that a
/// later layer deletes (whiteouts) or replaces: they are still in the image. Nothing is
/// buffered for it beyond what it reads itself.
///
/// Called on the blocking threads that walk layers: up to three layers at a time
/// (concurrently, hence `Send + Sync`), each layer's entries in tar order. Hardlinks, symlinks,
/// directories and whiteouts are not shown (a hardlink's content is its target's, shown
/// where the target was written).
pub trait LayerVisitor: Send + Sync {
    /// `true` to be handed the content of `file` (then [`LayerVisitor::visit`] is called);
    /// `false` skips it unread.
    fn wants(&self, file: &LayerFile<'_>) -> bool;

    /// The content of a wanted file as a reader limited to the entry. The visitor may read
    /// all, part or none of it; the walker skips what is left. An error fails the whole fetch
    /// as a corrupt layer (read errors of the layer stream surface here).
    fn visit(&self, file: &LayerFile<'_>, content: &mut dyn std::io::Read) -> std::io::Result<()>;
}

/// What a layer walk does with each entry: keep it in the [`Rootfs`] (`filter`) and/or show
/// it to a [`LayerVisitor`].
#[derive(Clone)]
pub(crate) struct Walk {
    pub filter: Arc<dyn FileFilter>,
    pub visitor: Option<Arc<dyn LayerVisitor>>,
    pub limits: Limits,
    /// Bytes kept over all layers of this fetch.
    pub kept: Arc<limits::KeptBudget>,
}

impl Walk {
    /// The walk of one fetch: its kept-bytes budget starts empty at `limits.max_kept_bytes`.
    pub(crate) fn new(
        filter: Arc<dyn FileFilter>,
        visitor: Option<Arc<dyn LayerVisitor>>,
        limits: Limits,
    ) -> Self {
        Walk {
            filter,
            visitor,
            limits,
            kept: Arc::new(limits::KeptBudget::new(limits.max_kept_bytes)),
        }
    }
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

/// The digest a registry reference's tag points to (`sha256:...` of the manifest or index,
/// the digest a container runtime records as the image's repo digest). A reference already
/// pinned by digest is returned without a request.
pub async fn resolve_digest(reference: &str, opts: &RegistryOptions) -> Result<String, ImageError> {
    registry::resolve_digest(reference, opts).await
}

/// Fetches an image's metadata and walks its layers, keeping the files `filter` wants.
///
/// Layers are processed concurrently (at most 3 at a time) and merged in order.
/// `opts` applies to registries; its `platform` also picks from indexes of OCI layouts.
pub async fn fetch_image(
    source: &ImageSource,
    opts: &RegistryOptions,
    filter: Arc<dyn FileFilter>,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    fetch_image_visiting(source, opts, filter, None, progress).await
}

/// [`fetch_image`], also showing every regular file of every layer to `visitor` during the
/// same single pass over the layers (e.g. a secret scanner beside the inventory filter).
pub async fn fetch_image_visiting(
    source: &ImageSource,
    opts: &RegistryOptions,
    filter: Arc<dyn FileFilter>,
    visitor: Option<Arc<dyn LayerVisitor>>,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let walk = Walk::new(filter, visitor, opts.limits);
    match source {
        ImageSource::Registry(reference) => registry::fetch(reference, opts, walk, progress).await,
        ImageSource::OciLayout { dir, reference } => {
            local::fetch_oci_layout(dir, reference.as_deref(), &opts.platform, walk, progress).await
        }
        ImageSource::DockerArchive { path } => {
            local::fetch_archive(path, &opts.platform, walk, progress).await
        }
    }
}

/// Walks `count` layers with `walk(i)` (at most [`LAYER_CONCURRENCY`] at a time) and merges
/// the results in layer order. Returns the rootfs and each layer's blob digest.
pub(crate) async fn merge_layers<F, Fut>(
    count: usize,
    walk: F,
) -> Result<(Rootfs, Vec<String>), ImageError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<layer::LayerResult, ImageError>>,
{
    let mut rootfs = Rootfs::new();
    let mut digests = Vec::with_capacity(count);
    let mut results = futures_util::stream::iter(0..count)
        .map(walk)
        .buffered(LAYER_CONCURRENCY);
    let mut index = 0;
    while let Some(result) = results.next().await {
        let result = result?;
        digests.push(result.blob_digest);
        rootfs.apply_layer(index, result.changes);
        index += 1;
    }
    Ok((rootfs, digests))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_options_debug_redacts_the_password() {
        let opts = RegistryOptions {
            username: Some("robot".into()),
            password: Some("hunter2-secret".into()),
            ..Default::default()
        };
        let shown = format!("{opts:?} {opts:#?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(
            shown.contains("robot") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
