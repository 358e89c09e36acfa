//! Images on disk: an OCI image layout directory, and tar archives (`docker save` /
//! skopeo `docker-archive:` format with `manifest.json`, or skopeo's `oci-archive:` format,
//! an OCI layout inside a tar). Archives are read in place by seeking, never extracted.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Deserialize;

use crate::layer::{
    compression_for_media_type, sniff_compression, walk_layer, Compression, LayerCtx,
    ProgressReader,
};
use crate::limits::{check_config_size, check_layer_count};
use crate::manifest::{
    parse_config, select_platform, sha256_digest, sha256_hex, verify_digest, Descriptor, Manifest,
    DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR,
};
use crate::store::Store;
use crate::{merge_layers, Image, ImageError, ImageMeta, LayerInfo, Platform, Progress, Walk};

/// The OCI annotation holding a tag in `index.json`.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Nested indexes followed at most.
const MAX_INDEX_DEPTH: usize = 4;

/// One layer to walk from a [`Store`].
struct LocalLayer {
    member: String,
    ctx: LayerCtx,
    /// Key for [`Progress`] (the layer's digest as known before reading).
    key: String,
    size: u64,
}

/// A resolved local image, ready to walk.
struct Plan {
    meta: ImageMeta,
    layers: Vec<LocalLayer>,
    /// Bytes of the config blob (checked against the limits before any layer is read).
    config_size: u64,
}

fn blob_path(digest: &str, subject: &str) -> Result<String, ImageError> {
    let hex = sha256_hex(digest).ok_or_else(|| ImageError::InvalidManifest {
        subject: subject.to_string(),
        reason: format!("digest {digest:?} is not a sha256 digest"),
    })?;
    Ok(format!("blobs/sha256/{hex}"))
}

/// Reads and digest-checks a blob of an OCI layout.
fn read_blob(store: &Store, digest: &str, subject: &str) -> Result<Vec<u8>, ImageError> {
    let path = blob_path(digest, subject)?;
    if !store.exists(&path) {
        return Err(ImageError::NotFound {
            what: "blob unknown".into(),
            reference: format!("{subject} ({})", store.describe(&path)),
            available: String::new(),
        });
    }
    let bytes = store.read_small(&path)?;
    verify_digest(&bytes, digest, subject)?;
    Ok(bytes)
}

fn tags(index: &[Descriptor]) -> Vec<String> {
    index
        .iter()
        .filter_map(|d| d.annotations.as_ref()?.get(REF_NAME).cloned())
        .collect()
}

/// Resolves an image of an OCI layout held in `store` (`name` names it in errors).
fn plan_oci(
    store: &Store,
    reference: Option<&str>,
    platform: &Platform,
    name: &str,
) -> Result<Plan, ImageError> {
    if !store.exists("index.json") {
        return Err(ImageError::InvalidInput {
            input: name.to_string(),
            reason: "not an OCI layout: no index.json".into(),
        });
    }
    let index_bytes = store.read_small("index.json")?;
    let index_subject = format!("index.json of {name}");
    let manifests = match Manifest::parse(&index_bytes, &index_subject)? {
        Manifest::Index { manifests } => manifests,
        Manifest::Image { .. } => {
            return Err(ImageError::InvalidManifest {
                subject: index_subject,
                reason: "it is an image manifest, not an index".into(),
            })
        }
    };
    let available = || {
        let t = tags(&manifests);
        if t.is_empty() {
            "; the layout has no tagged images".to_string()
        } else {
            format!("; available tags: {}", t.join(", "))
        }
    };
    let mut desc: Descriptor = match reference {
        None => match manifests.len() {
            1 => manifests[0].clone(),
            0 => {
                return Err(ImageError::InvalidInput {
                    input: name.to_string(),
                    reason: "the OCI layout holds no image".into(),
                })
            }
            n => {
                return Err(ImageError::InvalidInput {
                    input: name.to_string(),
                    reason: format!(
                        "the OCI layout holds {n} images, name one with oci:<dir>:<tag>{}",
                        available()
                    ),
                })
            }
        },
        Some(r) if sha256_hex(r).is_some() => match manifests.iter().find(|d| d.digest == r) {
            Some(d) => d.clone(),
            None if store.exists(&blob_path(r, name)?) => Descriptor {
                media_type: String::new(),
                digest: r.to_string(),
                size: 0,
                platform: None,
                annotations: None,
            },
            None => {
                return Err(ImageError::NotFound {
                    what: "manifest unknown".into(),
                    reference: format!("{name}@{r}"),
                    available: String::new(),
                })
            }
        },
        Some(tag) => {
            let found = manifests.iter().find(|d| {
                d.annotations
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .is_some_and(|t| t == tag)
            });
            match found {
                Some(d) => d.clone(),
                None => {
                    return Err(ImageError::NotFound {
                        what: "tag unknown".into(),
                        reference: format!("{name}:{tag}"),
                        available: available(),
                    })
                }
            }
        }
    };
    let shown = match reference {
        Some(r) if r.starts_with("sha256:") => format!("{name}@{r}"),
        Some(r) => format!("{name}:{r}"),
        None => name.to_string(),
    };
    let mut depth = 0;
    let (config_desc, layer_descs) = loop {
        let bytes = read_blob(
            store,
            &desc.digest,
            &format!("manifest {} of {shown}", desc.digest),
        )?;
        match Manifest::parse(&bytes, &format!("manifest {} of {shown}", desc.digest))? {
            Manifest::Image { config, layers } => break (config, layers),
            Manifest::Index { manifests } => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(ImageError::InvalidManifest {
                        subject: format!("index {} of {shown}", desc.digest),
                        reason: "indexes nested too deeply".into(),
                    });
                }
                desc = select_platform(&manifests, platform, &shown)?.clone();
            }
        }
    };
    let config_subject = format!("config {} of {shown}", config_desc.digest);
    let config_bytes = read_blob(store, &config_desc.digest, &config_subject)?;
    let (config, diff_ids) = parse_config(&config_bytes, &config_subject)?;
    if diff_ids.len() != layer_descs.len() {
        return Err(ImageError::InvalidManifest {
            subject: format!("image {shown}"),
            reason: format!(
                "the manifest lists {} layers but the config has {} rootfs.diff_ids",
                layer_descs.len(),
                diff_ids.len()
            ),
        });
    }
    let count = layer_descs.len();
    let mut infos = Vec::with_capacity(count);
    let mut layers = Vec::with_capacity(count);
    for (i, (d, diff_id)) in layer_descs.iter().zip(diff_ids).enumerate() {
        let label = format!("layer {}/{} {} of {shown}", i + 1, count, d.digest);
        let compression = compression_for_media_type(&d.media_type, &label)?;
        let member = blob_path(&d.digest, &label)?;
        if !store.exists(&member) {
            return Err(ImageError::NotFound {
                what: "blob unknown".into(),
                reference: format!("{label} ({})", store.describe(&member)),
                available: String::new(),
            });
        }
        infos.push(LayerInfo {
            digest: d.digest.clone(),
            diff_id: diff_id.clone(),
            media_type: d.media_type.clone(),
            size: d.size,
        });
        layers.push(LocalLayer {
            member,
            ctx: LayerCtx {
                index: i,
                label,
                expected_blob: Some(d.digest.clone()),
                expected_size: (d.size > 0).then_some(d.size),
                diff_id,
                compression,
            },
            key: d.digest.clone(),
            size: d.size,
        });
    }
    Ok(Plan {
        meta: ImageMeta {
            name: shown,
            image_id: config_desc.digest,
            // Trivy reports no repo digests or tags for OCI layouts.
            repo_digests: Vec::new(),
            repo_tags: Vec::new(),
            config,
            layers: infos,
        },
        layers,
        config_size: config_bytes.len() as u64,
    })
}

/// One image of a docker-archive `manifest.json`.
#[derive(Debug, Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// A digest a member name is content-addressed by (`blobs/sha256/<hex>`, `<hex>.json`,
/// `<hex>.tar`), if any.
fn digest_from_member_name(member: &str) -> Option<String> {
    let file = member.rsplit('/').next()?;
    let hex = if member.starts_with("blobs/sha256/") {
        file
    } else {
        file.strip_suffix(".json")
            .or_else(|| file.strip_suffix(".tar"))?
    };
    let digest = format!("sha256:{hex}");
    sha256_hex(&digest).is_some().then_some(digest)
}

/// Resolves the image of a docker-archive (`manifest.json`).
fn plan_docker_archive(store: &Store, name: &str) -> Result<Plan, ImageError> {
    let subject = format!("manifest.json of {name}");
    let bytes = store.read_small("manifest.json")?;
    let mut images: Vec<ArchiveManifest> =
        serde_json::from_slice(&bytes).map_err(|e| ImageError::InvalidManifest {
            subject: subject.clone(),
            reason: format!("not a docker-archive manifest: {e}"),
        })?;
    let image = match images.len() {
        1 => images.remove(0),
        0 => {
            return Err(ImageError::InvalidManifest {
                subject,
                reason: "it lists no image".into(),
            })
        }
        n => {
            let tags: Vec<String> = images
                .iter()
                .flat_map(|i| i.repo_tags.clone().unwrap_or_default())
                .collect();
            return Err(ImageError::InvalidInput {
                input: name.to_string(),
                reason: format!(
                    "the archive holds {n} images ({}); save one image per archive",
                    tags.join(", ")
                ),
            });
        }
    };
    let member = |m: &str| crate::layer::normalize_entry_path(m).unwrap_or_default();
    let config_member = member(&image.config);
    let config_subject = format!("config {} of {name}", image.config);
    if !store.exists(&config_member) {
        return Err(ImageError::InvalidManifest {
            subject,
            reason: format!("its Config {:?} is not in the archive", image.config),
        });
    }
    let config_bytes = store.read_small(&config_member)?;
    let image_id = sha256_digest(&config_bytes);
    if let Some(named) = digest_from_member_name(&config_member) {
        verify_digest(&config_bytes, &named, &config_subject)?;
    }
    let (config, diff_ids) = parse_config(&config_bytes, &config_subject)?;
    if diff_ids.len() != image.layers.len() {
        return Err(ImageError::InvalidManifest {
            subject: format!("image {name}"),
            reason: format!(
                "manifest.json lists {} layers but the config has {} rootfs.diff_ids",
                image.layers.len(),
                diff_ids.len()
            ),
        });
    }
    let count = image.layers.len();
    let mut infos = Vec::with_capacity(count);
    let mut layers = Vec::with_capacity(count);
    for (i, (layer_name, diff_id)) in image.layers.iter().zip(diff_ids).enumerate() {
        let m = member(layer_name);
        let label = format!("layer {}/{} {} of {name}", i + 1, count, layer_name);
        if !store.exists(&m) {
            return Err(ImageError::InvalidManifest {
                subject: subject.clone(),
                reason: format!("{label} is not in the archive"),
            });
        }
        let compression = sniff_compression(&store.head(&m, 8)?, &label)?;
        // Only `blobs/sha256/<hex>` names are blob digests (`<hex>.tar` names are diff_ids,
        // checked anyway as the uncompressed digest).
        let expected_blob = m
            .starts_with("blobs/sha256/")
            .then(|| digest_from_member_name(&m))
            .flatten();
        let digest = expected_blob.clone().unwrap_or_else(|| diff_id.clone());
        let (_, size) = store.open(&m)?;
        infos.push(LayerInfo {
            digest: digest.clone(),
            diff_id: diff_id.clone(),
            media_type: match compression {
                Compression::Gzip => DOCKER_LAYER_GZIP,
                Compression::None => DOCKER_LAYER_TAR,
            }
            .to_string(),
            size,
        });
        layers.push(LocalLayer {
            member: m,
            ctx: LayerCtx {
                index: i,
                label,
                expected_blob,
                expected_size: None,
                diff_id,
                compression,
            },
            key: digest,
            size,
        });
    }
    Ok(Plan {
        meta: ImageMeta {
            name: name.to_string(),
            image_id,
            repo_digests: Vec::new(),
            repo_tags: image.repo_tags.unwrap_or_default(),
            config,
            layers: infos,
        },
        layers,
        config_size: config_bytes.len() as u64,
    })
}

/// Sets the flag when dropped (the fetch was abandoned): blocking walks then stop reading.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A reader that fails once the fetch is abandoned.
struct Cancellable<R> {
    inner: R,
    cancelled: Arc<AtomicBool>,
}

impl<R: std::io::Read> std::io::Read for Cancellable<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("fetch cancelled"));
        }
        self.inner.read(buf)
    }
}

async fn walk_plan(
    store: Store,
    plan: Plan,
    walk: Walk,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let Plan {
        mut meta,
        layers,
        config_size,
    } = plan;
    check_config_size(config_size, &walk.limits, &meta.name)?;
    check_layer_count(layers.len(), &walk.limits, &meta.name)?;
    let store = Arc::new(store);
    let layers = Arc::new(layers);
    let cancelled = Arc::new(AtomicBool::new(false));
    let _guard = CancelOnDrop(cancelled.clone());
    let (rootfs, blob_digests) = merge_layers(layers.len(), |i| {
        let (store, layers, walk, progress, cancelled) = (
            store.clone(),
            layers.clone(),
            walk.clone(),
            progress.clone(),
            cancelled.clone(),
        );
        async move {
            let label = layers[i].ctx.label.clone();
            tokio::task::spawn_blocking(move || {
                let layer = &layers[i];
                progress.layer_started(&layer.key, layer.size);
                let result = store.open(&layer.member).and_then(|(reader, _)| {
                    let reader = Cancellable {
                        inner: ProgressReader::new(reader, progress.clone(), layer.key.clone()),
                        cancelled,
                    };
                    walk_layer(reader, &layer.ctx, &walk)
                });
                progress.layer_finished(&layer.key);
                result
            })
            .await
            .map_err(|e| ImageError::Other(format!("{label}: layer walk failed: {e}")))?
        }
    })
    .await?;
    // Docker-archive gzip layers are not named by their blob digest: report what was read.
    for (info, digest) in meta.layers.iter_mut().zip(blob_digests) {
        info.digest = digest;
    }
    Ok(Image { meta, rootfs })
}

/// Fetches an image from an OCI layout directory.
pub(crate) async fn fetch_oci_layout(
    dir: &Path,
    reference: Option<&str>,
    platform: &Platform,
    walk: Walk,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let store = Store::Dir(dir.to_path_buf());
    let name = dir.display().to_string();
    if !dir.is_dir() {
        return Err(ImageError::InvalidInput {
            input: name,
            reason: "no such directory".into(),
        });
    }
    let (reference, platform) = (reference.map(str::to_string), platform.clone());
    let (store, plan) = tokio::task::spawn_blocking(move || {
        let plan = plan_oci(&store, reference.as_deref(), &platform, &name);
        (store, plan)
    })
    .await
    .map_err(|e| ImageError::Other(format!("reading the OCI layout failed: {e}")))?;
    walk_plan(store, plan?, walk, progress).await
}

/// Fetches the image of a docker-archive or oci-archive tar.
pub(crate) async fn fetch_archive(
    path: &Path,
    platform: &Platform,
    walk: Walk,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let (path, platform) = (path.to_path_buf(), platform.clone());
    let (store, plan) = tokio::task::spawn_blocking(move || -> Result<(Store, Plan), ImageError> {
        let name = path.display().to_string();
        let store = Store::open_tar(&path)?;
        let plan = if store.exists("manifest.json") {
            plan_docker_archive(&store, &name)?
        } else if store.exists("index.json") {
            plan_oci(&store, None, &platform, &name)?
        } else {
            return Err(ImageError::InvalidInput {
                input: name,
                reason: "neither a docker-archive (no manifest.json) nor an oci-archive (no index.json)".into(),
            });
        };
        Ok((store, plan))
    })
    .await
    .map_err(|e| ImageError::Other(format!("reading the archive failed: {e}")))??;
    walk_plan(store, plan, walk, progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        let hex = "a".repeat(64);
        assert_eq!(
            digest_from_member_name(&format!("blobs/sha256/{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            digest_from_member_name(&format!("{hex}.json")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            digest_from_member_name(&format!("{hex}.tar")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_from_member_name(&format!("{hex}/layer.tar")), None);
        assert_eq!(digest_from_member_name("config.json"), None);
    }
}
