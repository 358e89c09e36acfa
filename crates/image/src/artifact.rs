//! Single-purpose OCI artifacts (the trivy-db and trivy-java-db, checks bundles): fetch the
//! manifest, then stream one layer blob into a blocking consumer — with the same auth,
//! timeouts, digest checks and error messages as image pulls.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};

use serde::Deserialize;

use crate::manifest::{sha256_hex, OCI_MANIFEST};
use crate::registry::{
    build_client, parse_reference, pump_into, verify_manifest, Ctx, DEFAULT_TIMEOUT,
};
use crate::{auth, ImageError, Progress, RegistryOptions};

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
        let registry = parsed.resolve_registry().to_string();
        let creds = auth::resolve(parsed.registry(), opts)?;
        let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let client = build_client(&registry, opts, timeout)?;
        let ctx = Ctx {
            registry: parsed.registry().to_string(),
            repository: parsed.repository().to_string(),
            timeout,
            creds_source: creds.source.clone(),
        };
        let whole = parsed.whole();
        let (bytes, served) = ctx
            .call(
                &format!("fetching the manifest of {whole}"),
                "manifest unknown",
                &whole,
                client.pull_manifest_raw(&parsed, &creds.auth, &[OCI_MANIFEST]),
            )
            .await?;
        let manifest_digest = verify_manifest(&bytes, &served, parsed.digest(), &whole)?;
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

    /// Streams `layer` into `consume` (run on a blocking thread, reading while the download
    /// goes on). `oci-client` checks the blob digest at the end of the stream; a mismatch, a
    /// timeout or a transport error is returned instead of `consume`'s result.
    pub async fn stream_layer<R: Send + 'static>(
        &self,
        layer: &ArtifactLayer,
        progress: Arc<dyn Progress>,
        consume: impl FnOnce(&mut dyn Read) -> R + Send + 'static,
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
                move |mut reader| consume(&mut reader),
            )
            .await
        }
        .await;
        progress.layer_finished(&layer.digest);
        result
    }
}

/// One layer to push with [`push_artifact`].
pub struct PushLayer {
    /// The blob.
    pub data: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Pushes an artifact (an OCI manifest with `config_media_type` and `layers`) to `reference`
/// and returns the manifest digest. The blobs are held in memory: for tests, benchmarks and
/// small artifacts, not for DB-sized production transfers.
pub async fn push_artifact(
    reference: &str,
    opts: &RegistryOptions,
    config_media_type: &str,
    layers: Vec<PushLayer>,
) -> Result<String, ImageError> {
    let parsed = parse_reference(reference)?;
    let registry = parsed.resolve_registry().to_string();
    let creds = auth::resolve(parsed.registry(), opts)?;
    let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let client = build_client(&registry, opts, timeout)?;
    let ctx = Ctx {
        registry: parsed.registry().to_string(),
        repository: parsed.repository().to_string(),
        timeout: timeout.max(std::time::Duration::from_secs(600)),
        creds_source: creds.source.clone(),
    };
    let layers: Vec<oci_client::client::ImageLayer> = layers
        .into_iter()
        .map(|l| {
            let ann = (!l.annotations.is_empty()).then_some(l.annotations);
            oci_client::client::ImageLayer::new(l.data, l.media_type, ann)
        })
        .collect();
    let config =
        oci_client::client::Config::new(b"{}".to_vec(), config_media_type.to_string(), None);
    let whole = parsed.whole();
    let resp = ctx
        .call(
            &format!("pushing {whole}"),
            "repository unknown",
            &whole,
            client.push(&parsed, &layers, config, &creds.auth, None),
        )
        .await?;
    let digest = resp
        .manifest_url
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    Ok(digest)
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
