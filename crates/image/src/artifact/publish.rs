//! Publishing artifacts to a registry: [`push_artifact`] for any layers, [`SingleLayer`] for
//! the single-layer artifacts this project reads (DBs, checks bundles), as tests, benchmarks
//! and fixture tools publish them. The blobs are held in memory: not for DB-sized production
//! transfers.

use std::collections::BTreeMap;

use super::TITLE_ANNOTATION;
use crate::registry::{connect, parse_reference};
use crate::{ImageError, RegistryOptions};

/// One layer to push with [`push_artifact`].
pub struct PushLayer {
    /// The blob.
    pub data: Vec<u8>,
    /// Its media type.
    pub media_type: String,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A single-layer artifact to publish: an empty (`{}`) config of `config_media_type` and one
/// layer.
pub struct SingleLayer {
    /// Media type of the config blob.
    pub config_media_type: String,
    /// The layer.
    pub layer: PushLayer,
}

impl SingleLayer {
    /// `data` as the layer of `media_type`, under a config of `config_media_type`.
    pub fn new(config_media_type: &str, media_type: &str, data: Vec<u8>) -> Self {
        SingleLayer {
            config_media_type: config_media_type.to_string(),
            layer: PushLayer {
                data,
                media_type: media_type.to_string(),
                annotations: BTreeMap::new(),
            },
        }
    }

    /// Sets the layer's file name ([`TITLE_ANNOTATION`]).
    pub fn titled(mut self, title: &str) -> Self {
        self.layer
            .annotations
            .insert(TITLE_ANNOTATION.to_string(), title.to_string());
        self
    }

    /// Replaces the layer's media type (e.g. to publish a wrong one in a test).
    pub fn with_media_type(mut self, media_type: &str) -> Self {
        self.layer.media_type = media_type.to_string();
        self
    }

    /// Pushes it to `reference`; returns the manifest digest.
    pub async fn publish(
        self,
        reference: &str,
        opts: &RegistryOptions,
    ) -> Result<String, ImageError> {
        push_artifact(reference, opts, &self.config_media_type, vec![self.layer]).await
    }

    /// [`SingleLayer::publish`] from synchronous code (on a runtime of its own; not from
    /// inside an async runtime).
    pub fn publish_blocking(
        self,
        reference: &str,
        opts: &RegistryOptions,
    ) -> Result<String, ImageError> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ImageError::Other(format!("cannot start a runtime to push: {e}")))?
            .block_on(self.publish(reference, opts))
    }
}

/// Pushes an artifact (an OCI manifest with `config_media_type` and `layers`) to `reference`
/// and returns the manifest digest.
pub async fn push_artifact(
    reference: &str,
    opts: &RegistryOptions,
    config_media_type: &str,
    layers: Vec<PushLayer>,
) -> Result<String, ImageError> {
    let parsed = parse_reference(reference)?;
    let (client, creds, mut ctx) = connect(&parsed, opts)?;
    // Uploads of whole blobs: at least 10 minutes per request.
    ctx.timeout = ctx.timeout.max(std::time::Duration::from_secs(600));
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
