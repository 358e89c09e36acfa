//! Images from a registry, through `oci-client`.
//!
//! * Loopback registries (127.0.0.0/8, `localhost`, `[::1]`) are spoken to over plain http;
//!   [`RegistryOptions::insecure`] makes every registry plain http (and accepts invalid
//!   certificates on any https hop such as a token realm).
//! * Manifest lists / OCI indexes are resolved to [`RegistryOptions::platform`].
//! * Every manifest is checked against the digest it was asked by (and against the
//!   registry's `Docker-Content-Digest`), the config against the manifest, each layer blob
//!   while it streams, and each uncompressed layer against the config's `rootfs.diff_ids`.
//! * `repo_digests` is `<repo>@<digest of what the tag points to>`, as Trivy prints it: for a
//!   manifest list that is the LIST digest (Trivy takes the descriptor `remote.Get` returns),
//!   and `<repo>` drops `index.docker.io/` and `library/` for Docker Hub images.

mod client;
mod ctx;
mod manifests;
mod reference;
mod stream;

use std::sync::Arc;

use oci_client::manifest::OciDescriptor;

use crate::layer::{compression_for_media_type, LayerCtx};
use crate::limits::{check_config_size, check_layer_count, check_manifest_size};
use crate::manifest::{
    parse_config, select_platform, sha256_hex, verify_digest, Manifest, ACCEPTED_MANIFESTS,
};
use crate::{
    merge_layers, Image, ImageError, ImageMeta, LayerInfo, Progress, RegistryOptions, Walk,
};

pub(crate) use client::connect;
pub(crate) use ctx::Ctx;
pub(crate) use manifests::top_manifest;
pub(crate) use reference::parse_reference;
pub(crate) use stream::pump_into;

use manifests::verify_manifest;
use reference::trivy_repository_name;
use stream::pump_and_walk;

/// Nested manifest lists followed at most.
const MAX_INDEX_DEPTH: usize = 4;

/// The digest `input`'s tag points to (the manifest or index digest, as a container runtime
/// records it), from one manifest request; a digest reference is returned as is.
pub(crate) async fn resolve_digest(
    input: &str,
    opts: &RegistryOptions,
) -> Result<String, ImageError> {
    let reference = parse_reference(input)?;
    if let Some(d) = reference.digest() {
        return Ok(d.to_string());
    }
    let (client, creds, ctx) = connect(&reference, opts)?;
    let (_, digest) = top_manifest(&client, &creds, &ctx, &reference, ACCEPTED_MANIFESTS).await?;
    Ok(digest)
}

/// Fetches `reference` from its registry.
pub(crate) async fn fetch(
    input: &str,
    opts: &RegistryOptions,
    walk: Walk,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let reference = parse_reference(input)?;
    let (client, creds, ctx) = connect(&reference, opts)?;
    let whole = reference.whole();
    let (top_bytes, top_digest) =
        top_manifest(&client, &creds, &ctx, &reference, ACCEPTED_MANIFESTS).await?;
    let mut manifest = Manifest::parse(&top_bytes, &format!("manifest of {whole}"))?;
    let mut depth = 0;
    let (config_desc, layer_descs) = loop {
        match manifest {
            Manifest::Image { config, layers } => break (config, layers),
            Manifest::Index { manifests } => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(ImageError::InvalidManifest {
                        subject: format!("manifest list of {whole}"),
                        reason: "manifest lists nested too deeply".into(),
                    });
                }
                let chosen = select_platform(&manifests, &opts.platform, &whole)?;
                if sha256_hex(&chosen.digest).is_none() {
                    return Err(ImageError::InvalidManifest {
                        subject: format!("manifest list of {whole}"),
                        reason: format!("entry digest {:?} is not a sha256 digest", chosen.digest),
                    });
                }
                let child = reference.clone_with_digest(chosen.digest.clone());
                let child_name = format!(
                    "{}/{}@{}",
                    reference.registry(),
                    reference.repository(),
                    chosen.digest
                );
                let (bytes, digest) = ctx
                    .call(
                        &format!("fetching the manifest of {child_name}"),
                        "manifest unknown",
                        &child_name,
                        client.pull_manifest_raw(&child, &creds.auth, ACCEPTED_MANIFESTS),
                    )
                    .await?;
                check_manifest_size(bytes.len() as u64, &format!("manifest {child_name}"))?;
                verify_manifest(&bytes, &digest, Some(&chosen.digest), &child_name)?;
                manifest = Manifest::parse(&bytes, &format!("manifest of {child_name}"))?;
            }
        }
    };

    // The config.
    let config_name = format!(
        "{}/{}@{}",
        reference.registry(),
        reference.repository(),
        config_desc.digest
    );
    if sha256_hex(&config_desc.digest).is_none() {
        return Err(ImageError::InvalidManifest {
            subject: format!("manifest of {whole}"),
            reason: format!(
                "config digest {:?} is not a sha256 digest",
                config_desc.digest
            ),
        });
    }
    check_layer_count(
        layer_descs.len(),
        &walk.limits,
        &format!("manifest of {whole}"),
    )?;
    check_config_size(
        config_desc.size,
        &walk.limits,
        &format!("config of {whole}"),
    )?;
    let config_bytes = pull_small_blob(
        &client,
        &reference,
        &ctx,
        &config_desc.digest,
        config_desc.size,
        &config_name,
        &format!("config of {whole}"),
    )
    .await?;
    verify_digest(
        &config_bytes,
        &config_desc.digest,
        &format!("config of {whole}"),
    )?;
    let (config, diff_ids) = parse_config(&config_bytes, &format!("config of {whole}"))?;
    if diff_ids.len() != layer_descs.len() {
        return Err(ImageError::InvalidManifest {
            subject: format!("image {whole}"),
            reason: format!(
                "the manifest lists {} layers but the config has {} rootfs.diff_ids",
                layer_descs.len(),
                diff_ids.len()
            ),
        });
    }

    // The layers.
    let count = layer_descs.len();
    let mut layers = Vec::with_capacity(count);
    let mut plans = Vec::with_capacity(count);
    for (i, (desc, diff_id)) in layer_descs.iter().zip(&diff_ids).enumerate() {
        let label = format!("layer {}/{} {} of {whole}", i + 1, count, desc.digest);
        if sha256_hex(&desc.digest).is_none() {
            return Err(ImageError::InvalidManifest {
                subject: format!("manifest of {whole}"),
                reason: format!("{label}: digest is not a sha256 digest"),
            });
        }
        let compression = compression_for_media_type(&desc.media_type, &label)?;
        layers.push(LayerInfo {
            digest: desc.digest.clone(),
            diff_id: diff_id.clone(),
            media_type: desc.media_type.clone(),
            size: desc.size,
        });
        plans.push((
            layer_request(desc),
            LayerCtx {
                index: i,
                label,
                expected_blob: Some(desc.digest.clone()),
                expected_size: (desc.size > 0).then_some(desc.size),
                diff_id: diff_id.clone(),
                compression,
            },
        ));
    }

    let repo_name = trivy_repository_name(&reference);
    let meta = ImageMeta {
        name: input.to_string(),
        image_id: config_desc.digest.clone(),
        repo_digests: vec![format!("{repo_name}@{top_digest}")],
        repo_tags: match (reference.tag(), reference.digest()) {
            (Some(tag), None) => vec![format!("{repo_name}:{tag}")],
            _ => Vec::new(),
        },
        config,
        layers,
    };

    let plans = Arc::new(plans);
    let (rootfs, _) = merge_layers(count, |i| {
        let plans = plans.clone();
        let walk = walk.clone();
        let progress = progress.clone();
        let (client, reference, ctx) = (&client, &reference, &ctx);
        async move {
            let (desc, layer_ctx) = &plans[i];
            progress.layer_started(&desc.digest, u64::try_from(desc.size).unwrap_or(0));
            let result = async {
                let stream = ctx
                    .call(
                        &format!("downloading {}", layer_ctx.label),
                        "blob unknown",
                        &format!(
                            "{}/{}@{}",
                            reference.registry(),
                            reference.repository(),
                            desc.digest
                        ),
                        client.pull_blob_stream(reference, desc),
                    )
                    .await?;
                pump_and_walk(
                    stream,
                    ctx,
                    layer_ctx.clone(),
                    &desc.digest,
                    walk,
                    &progress,
                )
                .await
            }
            .await;
            progress.layer_finished(&desc.digest);
            result
        }
    })
    .await?;
    Ok(Image { meta, rootfs })
}

/// What `oci-client` is asked for a layer: the registry's blob only. Foreign-layer `urls`
/// are never passed on (`oci-client` would follow them when the registry has no such blob):
/// a manifest must not make the scanner reach arbitrary hosts, which from inside a cluster
/// is a request forgery.
fn layer_request(desc: &crate::manifest::Descriptor) -> OciDescriptor {
    OciDescriptor {
        media_type: desc.media_type.clone(),
        digest: desc.digest.clone(),
        size: i64::try_from(desc.size).unwrap_or(i64::MAX),
        urls: None,
        ..Default::default()
    }
}

/// Downloads a small blob (the config) within its declared `size`, which the caller has
/// checked against the limits: the registry cannot make it larger, and its digest is checked.
async fn pull_small_blob(
    client: &oci_client::Client,
    reference: &oci_client::Reference,
    ctx: &Ctx,
    digest: &str,
    size: u64,
    name: &str,
    subject: &str,
) -> Result<Vec<u8>, ImageError> {
    let desc = OciDescriptor {
        digest: digest.to_string(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        ..Default::default()
    };
    let stream = ctx
        .call(
            &format!("fetching the {subject}"),
            "blob unknown",
            name,
            client.pull_blob_stream(reference, &desc),
        )
        .await?;
    let progress: Arc<dyn Progress> = Arc::new(crate::NoProgress);
    let subject_owned = subject.to_string();
    let bytes = pump_into(stream, ctx, subject, digest, &progress, move |reader| {
        use std::io::Read;
        let mut buf = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        reader.take(size.saturating_add(1)).read_to_end(&mut buf)?;
        Ok::<_, std::io::Error>(buf)
    })
    .await?
    .map_err(|e| ctx.registry_error(format!("reading the {subject_owned}: {e}")))?;
    if bytes.len() as u64 > size {
        return Err(ImageError::SizeMismatch {
            subject: subject.to_string(),
            declared: size,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_layer_urls_are_not_followed() {
        let manifest = br#"{"schemaVersion":2,
            "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,
              "digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111"},
            "layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
              "size":1234,"urls":["http://169.254.169.254/latest/meta-data/"],
              "digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222"}]}"#;
        let Manifest::Image { layers, .. } = Manifest::parse(manifest, "m").unwrap() else {
            panic!("an image manifest");
        };
        let request = layer_request(&layers[0]);
        assert_eq!(request.urls, None);
        assert_eq!(
            (request.size, request.digest.as_str()),
            (1234, layers[0].digest.as_str())
        );
    }
}
