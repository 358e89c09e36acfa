//! Single-layer OCI artifacts (the trivy-db and trivy-java-db, checks bundles), in one place
//! for everything that pulls or publishes them:
//!
//! * pull: [`Artifact::fetch`] reads the manifest (indexes refused), [`Artifact::single_layer`]
//!   checks it has exactly one layer of the expected media type, and [`Artifact::stream_layer`]
//!   streams that layer into a blocking consumer through a [`DigestReader`] that fails the read
//!   reaching the end of a blob that is not the manifest's (with the same auth, timeouts and
//!   error messages as image pulls);
//! * install: [`StagedDir`], the one atomic directory swap (temporary directory next to the
//!   destination, fsync, `renameat2(RENAME_EXCHANGE)`), and [`sweep_stale_installs`];
//! * publish: [`SingleLayer`] and [`push_artifact`], for tests, benchmarks and fixture tools.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};

use serde::Deserialize;

use crate::manifest::{sha256_hex, OCI_MANIFEST};
use crate::registry::{connect, parse_reference, pump_into, top_manifest, Ctx};
use crate::{ImageError, Progress, RegistryOptions};

mod install;
mod publish;
#[allow(unsafe_code)]
mod rename_exchange;

pub use crate::digest::{BlobMismatch, DigestReader};
pub use install::{sweep_stale_installs, FsError, StagedDir};
pub use publish::{push_artifact, PushLayer, SingleLayer};

/// The reader a [`Artifact::stream_layer`] consumer reads the layer from.
pub type LayerReader = DigestReader<Box<dyn Read + Send>>;

/// Why an artifact is not the single-layer artifact expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerMismatch {
    /// The manifest has no layer, or more than one.
    #[error("expected exactly one layer of type {expected}, the manifest has {count}")]
    Count {
        /// The media type wanted.
        expected: String,
        /// How many layers the manifest has.
        count: usize,
    },
    /// The single layer is of another media type.
    #[error("layer media type is {found}, expected {expected} (is this the right repository?)")]
    MediaType {
        /// The media type wanted.
        expected: String,
        /// The layer's media type.
        found: String,
    },
}

/// The annotation holding a layer's file name.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// One layer of an artifact manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactLayer {
    /// Blob digest (`sha256:...`).
    pub digest: String,
    /// Layer media type.
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
    /// Layer annotations (e.g. [`TITLE_ANNOTATION`]).
    pub annotations: BTreeMap<String, String>,
}

impl ArtifactLayer {
    /// The `org.opencontainers.image.title` annotation (the file name), if any.
    pub fn title(&self) -> Option<&str> {
        self.annotations.get(TITLE_ANNOTATION).map(String::as_str)
    }
}

/// An artifact whose manifest has been fetched; its layers can be streamed.
pub struct Artifact {
    /// The reference as given (with its tag or digest).
    pub reference: String,
    /// The registry host (`host[:port]`).
    pub registry: String,
    /// Digest of the manifest served for the reference.
    pub manifest_digest: String,
    /// Media type of the manifest's config (e.g. `application/vnd.aquasec.trivy.config.v1+json`).
    pub config_media_type: String,
    /// The layers, in manifest order.
    pub layers: Vec<ArtifactLayer>,
    client: Client,
    parsed: Reference,
    ctx: Ctx,
}

#[derive(Deserialize)]
struct ArtifactManifestJson {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<DescriptorJson>,
    #[serde(default)]
    layers: Option<Vec<DescriptorJson>>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct DescriptorJson {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// Appends `:tag` to a reference that has neither a tag nor a digest
/// (`127.0.0.1:5000/aquasec/trivy-db` -> `127.0.0.1:5000/aquasec/trivy-db:2`).
pub fn with_default_tag(reference: &str, tag: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':')
        || last.contains('@')
        || !reference.contains('/') && reference.contains(':')
    {
        reference.to_string()
    } else {
        format!("{reference}:{tag}")
    }
}

impl Artifact {
    /// Fetches the manifest of `reference` (an OCI image manifest; indexes are refused).
    pub async fn fetch(reference: &str, opts: &RegistryOptions) -> Result<Artifact, ImageError> {
        let parsed = parse_reference(reference)?;
        let (client, creds, ctx) = connect(&parsed, opts)?;
        let whole = parsed.whole();
        let (bytes, manifest_digest) =
            top_manifest(&client, &creds, &ctx, &parsed, &[OCI_MANIFEST]).await?;
        let invalid = |reason: String| ImageError::InvalidManifest {
            subject: format!("manifest of {whole}"),
            reason,
        };
        let m: ArtifactManifestJson = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("not an OCI manifest: {e}")))?;
        if m.manifests.is_some() {
            return Err(invalid("an index, not a single artifact manifest".into()));
        }
        if let Some(mt) = &m.media_type {
            if mt != OCI_MANIFEST {
                return Err(invalid(format!("media type {mt}, expected {OCI_MANIFEST}")));
            }
        }
        let mut layers = Vec::new();
        for l in m.layers.unwrap_or_default() {
            if sha256_hex(&l.digest).is_none() {
                return Err(invalid(format!(
                    "layer digest {:?} is not a sha256 digest",
                    l.digest
                )));
            }
            layers.push(ArtifactLayer {
                digest: l.digest,
                media_type: l.media_type,
                size: l.size,
                annotations: l.annotations.unwrap_or_default(),
            });
        }
        Ok(Artifact {
            reference: whole,
            registry: ctx.registry.clone(),
            manifest_digest,
            config_media_type: m.config.map(|c| c.media_type).unwrap_or_default(),
            layers,
            client,
            parsed,
            ctx,
        })
    }

    /// The artifact's only layer, which must be of `media_type`.
    pub fn single_layer(&self, media_type: &str) -> Result<&ArtifactLayer, LayerMismatch> {
        let [layer] = self.layers.as_slice() else {
            return Err(LayerMismatch::Count {
                expected: media_type.to_string(),
                count: self.layers.len(),
            });
        };
        if layer.media_type != media_type {
            return Err(LayerMismatch::MediaType {
                expected: media_type.to_string(),
                found: layer.media_type.clone(),
            });
        }
        Ok(layer)
    }

    /// Streams `layer` into `consume` (run on a blocking thread, reading while the download
    /// goes on) through a [`LayerReader`] verifying the layer's digest and size: the read that
    /// reaches the end of a blob that is not the manifest's fails, so a consumer that reads to
    /// the end (e.g. with [`DigestReader::drain`]) before committing never commits a tampered
    /// blob. What `consume` left unread is read and verified after it returns (unless it met
    /// an error), so a consumer that commits only after this returns `Ok` is safe as well. A
    /// mismatch, a timeout or a transport error is returned instead of `consume`'s result.
    pub async fn stream_layer<R: Send + 'static>(
        &self,
        layer: &ArtifactLayer,
        progress: Arc<dyn Progress>,
        consume: impl FnOnce(&mut LayerReader) -> R + Send + 'static,
    ) -> Result<R, ImageError> {
        let desc = OciDescriptor {
            media_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: layer.size as i64,
            ..Default::default()
        };
        let label = format!("layer {} of {}", layer.digest, self.reference);
        let blob_ref = format!(
            "{}/{}@{}",
            self.parsed.registry(),
            self.parsed.repository(),
            layer.digest
        );
        let (digest, size) = (layer.digest.clone(), (layer.size > 0).then_some(layer.size));
        progress.layer_started(&layer.digest, layer.size);
        let result = async {
            let stream = self
                .ctx
                .call(
                    &format!("downloading {label}"),
                    "blob unknown",
                    &blob_ref,
                    self.client.pull_blob_stream(&self.parsed, &desc),
                )
                .await?;
            pump_into(
                stream,
                &self.ctx,
                &label,
                &layer.digest,
                &progress,
                move |reader| {
                    let boxed: Box<dyn Read + Send> = Box::new(reader);
                    let mut reader = DigestReader::verifying(boxed, &digest, size);
                    let out = consume(&mut reader);
                    let rest = if reader.failed() {
                        Ok(())
                    } else {
                        reader.drain()
                    };
                    (out, rest)
                },
            )
            .await
        }
        .await;
        progress.layer_finished(&layer.digest);
        let (out, rest) = result?;
        match rest {
            Ok(()) => Ok(out),
            Err(e) => Err(match BlobMismatch::of(&e) {
                Some(BlobMismatch::Digest { expected, actual }) => ImageError::DigestMismatch {
                    subject: format!("{label} (compressed blob)"),
                    expected: expected.clone(),
                    actual: actual.clone(),
                },
                _ => ImageError::CorruptLayer {
                    layer: label,
                    reason: crate::layer::error_chain(&e),
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_tags() {
        assert_eq!(
            with_default_tag("127.0.0.1:5000/aquasec/trivy-db", "2"),
            "127.0.0.1:5000/aquasec/trivy-db:2"
        );
        assert_eq!(
            with_default_tag("mirror.gcr.io/aquasec/trivy-db:2", "2"),
            "mirror.gcr.io/aquasec/trivy-db:2"
        );
        assert_eq!(
            with_default_tag("ghcr.io/a/b@sha256:00", "2"),
            "ghcr.io/a/b@sha256:00"
        );
        assert_eq!(
            with_default_tag("registry.internal.corp/trivy-db", "1"),
            "registry.internal.corp/trivy-db:1"
        );
        assert_eq!(
            with_default_tag("[::1]:5000/trivy-db", "2"),
            "[::1]:5000/trivy-db:2"
        );
    }
}
