//! The checks bundle: an OCI artifact whose single layer
//! (`application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip`) is a tar.gz of Rego files and
//! data documents — the format Trivy's `--checks-bundle-repository` reads.
//!
//! [`pull`] fetches it with the image crate's artifact module (same auth, TLS, timeouts and
//! digest checks as image pulls; exactly one layer, of [`LAYER_MEDIA_TYPE`], as Trivy
//! requires), extracts it into a staged directory next to the cache entry and swaps it into
//! `<cache>/policy` with the same atomic install as the vulnerability DB: a failed or tampered
//! download never replaces a good bundle, and a reader never sees a half-written one. The
//! layout is Trivy's: `<cache>/policy/content/...` plus `<cache>/policy/metadata.json`.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sightline_image::artifact::{Artifact, FsError, SingleLayer, StagedDir};
use sightline_image::{ImageError, NoProgress, RegistryOptions};

use crate::source::{CheckSet, Origin, SourceError};

/// Media type of the bundle layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip";

/// Config media type Trivy's bundles use.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.openpolicyagent.config.v1+json";

/// Trivy's default bundle repository.
pub const DEFAULT_REPOSITORY: &str = "mirror.gcr.io/aquasec/trivy-checks:1";

/// Bundle archives larger than this (uncompressed) are refused.
pub const MAX_UNPACKED_BYTES: u64 = 256 << 20;

/// `<cache>/policy/metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleMetadata {
    /// The reference pulled.
    #[serde(rename = "Reference")]
    pub reference: String,
    /// Manifest digest.
    #[serde(rename = "Digest")]
    pub digest: String,
    /// Layer digest.
    #[serde(rename = "LayerDigest")]
    pub layer_digest: String,
    /// When it was downloaded (RFC 3339).
    #[serde(rename = "DownloadedAt")]
    pub downloaded_at: String,
}

/// Why a bundle could not be pulled or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Registry access failed.
    #[error(transparent)]
    Registry(#[from] ImageError),
    /// The artifact does not have exactly one layer, of the bundle media type.
    #[error("{reference}: not a checks bundle: {reason}")]
    NotABundle {
        /// The reference.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// The archive is corrupt, truncated, too big or holds unsafe entries.
    #[error("{reference}: bad bundle archive: {reason}")]
    Archive {
        /// The reference.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The installed bundle could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// No bundle is installed.
    #[error("no checks bundle in {0} (pull one with --checks-bundle-repository)")]
    Missing(PathBuf),
}

impl From<FsError> for BundleError {
    fn from(e: FsError) -> Self {
        BundleError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

/// `archive` (a tar.gz from [`write_archive`]) as the single-layer artifact a bundle publisher
/// pushes (Trivy's config and layer media types).
pub fn bundle_artifact(archive: Vec<u8>) -> SingleLayer {
    SingleLayer::new(CONFIG_MEDIA_TYPE, LAYER_MEDIA_TYPE, archive)
}

/// `<cache_dir>/policy`.
pub fn bundle_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("policy")
}

/// The metadata of the installed bundle, if any.
pub fn installed(cache_dir: &Path) -> Option<BundleMetadata> {
    let bytes = fs::read(bundle_dir(cache_dir).join("metadata.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Pulls the bundle at `reference` (`:1` added when it has no tag) into the cache, unless the
/// installed bundle already has the same manifest digest. Returns the installed metadata.
pub async fn pull(
    reference: &str,
    opts: &RegistryOptions,
    cache_dir: &Path,
) -> Result<BundleMetadata, BundleError> {
    let reference = sightline_image::artifact::with_default_tag(reference, "1");
    let artifact = Artifact::fetch(&reference, opts).await?;
    if let Some(current) = installed(cache_dir) {
        if current.digest == artifact.manifest_digest
            && bundle_dir(cache_dir).join("content").is_dir()
        {
            tracing::debug!("checks bundle {reference} is current ({})", current.digest);
            return Ok(current);
        }
    }
    let layer = artifact
        .single_layer(LAYER_MEDIA_TYPE)
        .map_err(|m| BundleError::NotABundle {
            reference: reference.clone(),
            reason: m.to_string(),
        })?
        .clone();
    let staged = StagedDir::create(&bundle_dir(cache_dir))?;
    let target = staged.path().join("content");
    let r = reference.clone();
    artifact
        .stream_layer(&layer, Arc::new(NoProgress), move |reader| {
            unpack(reader, &target, &r)
        })
        .await??;
    let meta = BundleMetadata {
        reference,
        digest: artifact.manifest_digest.clone(),
        layer_digest: layer.digest.clone(),
        downloaded_at: chrono_now(),
    };
    let meta_path = staged.path().join("metadata.json");
    let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
    fs::write(&meta_path, json).map_err(|e| io_err(&meta_path, e))?;
    staged.commit(&["metadata.json"])?;
    Ok(meta)
}

/// The installed bundle's checks and data, as a [`CheckSet`] (origin: the bundle).
pub fn load(cache_dir: &Path) -> Result<CheckSet, BundleError> {
    let content = bundle_dir(cache_dir).join("content");
    if !content.is_dir() {
        return Err(BundleError::Missing(bundle_dir(cache_dir)));
    }
    let name = installed(cache_dir)
        .map(|m| m.reference)
        .unwrap_or_else(|| content.display().to_string());
    let mut set = CheckSet::new();
    set.add_dir(&content)?;
    for f in &mut set.files {
        f.origin = Origin::Bundle(name.clone());
    }
    Ok(set)
}

/// Writes a bundle archive (tar.gz) of the files under `dir`, as a bundle publisher would.
pub fn write_archive(dir: &Path, out: impl io::Write) -> io::Result<()> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(".", dir)?;
    tar.into_inner()?.finish()?.flush()
}

fn unpack(reader: &mut dyn Read, target: &Path, reference: &str) -> Result<(), BundleError> {
    let bad = |reason: String| BundleError::Archive {
        reference: reference.to_string(),
        reason,
    };
    fs::create_dir_all(target).map_err(|e| io_err(target, e))?;
    let gz = flate2::read::GzDecoder::new(reader);
    let mut archive = tar::Archive::new(gz.take(MAX_UNPACKED_BYTES + 1));
    let mut total = 0u64;
    for entry in archive.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let ty = entry.header().entry_type();
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        if ty.is_dir() {
            continue;
        }
        if !ty.is_file() {
            return Err(bad(format!(
                "{}: links and special files are not allowed",
                path.display()
            )));
        }
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(bad(format!(
                "{}: entry escapes the bundle root",
                path.display()
            )));
        }
        total += entry.size();
        if total > MAX_UNPACKED_BYTES {
            return Err(bad(format!("over {MAX_UNPACKED_BYTES} bytes unpacked")));
        }
        let dest = target.join(&path);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        let mut f = fs::File::create(&dest).map_err(|e| io_err(&dest, e))?;
        io::copy(&mut entry, &mut f).map_err(|e| bad(format!("{}: {e}", path.display())))?;
    }
    // Drain the rest of the stream: the gzip trailer (CRC) must check out.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

fn chrono_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn io_err(path: &Path, source: io::Error) -> BundleError {
    BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_of(files: &[(&str, &str)]) -> Vec<u8> {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let f = d.path().join(p);
            fs::create_dir_all(f.parent().unwrap()).unwrap();
            fs::write(f, c).unwrap();
        }
        let mut out = Vec::new();
        write_archive(d.path(), &mut out).unwrap();
        out
    }

    #[test]
    fn unpacks_and_rejects_escapes() {
        let d = tempfile::tempdir().unwrap();
        let blob = archive_of(&[("policies/a.rego", "package a\n"), ("data.json", "{}")]);
        unpack(&mut blob.as_slice(), &d.path().join("c"), "r").unwrap();
        assert!(d.path().join("c/policies/a.rego").is_file());

        // A hand-made entry with `..` in its path.
        let mut raw = Vec::new();
        {
            let gz = flate2::write::GzEncoder::new(&mut raw, flate2::Compression::default());
            let mut t = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            let name = b"../evil.rego";
            h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            h.set_size(1);
            h.set_mode(0o644);
            h.set_cksum();
            t.append(&h, &b"x"[..]).unwrap();
            t.into_inner().unwrap().finish().unwrap();
        }
        let e = unpack(&mut raw.as_slice(), &d.path().join("e"), "r").unwrap_err();
        assert!(e.to_string().contains("escapes"), "{e}");
        assert!(!d.path().join("evil.rego").exists());

        // Truncated gzip.
        let e = unpack(&mut &blob[..blob.len() / 2], &d.path().join("t"), "r").unwrap_err();
        assert!(matches!(e, BundleError::Archive { .. }), "{e}");
    }
}
