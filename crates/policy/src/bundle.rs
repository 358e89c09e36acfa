//! The checks bundle: an OCI artifact whose single layer
//! (`application/vnd.cncf.openpolicyagent.layer.v1.tar+gzip`) is a tar.gz of Rego files and
//! data documents — the format Trivy's `--checks-bundle-repository` reads.
//!
//! [`pull`] fetches it with the image crate's registry client (same auth, TLS, timeouts and
//! digest checks as image pulls), extracts it into a fresh directory next to the cache entry
//! and swaps it into `<cache>/policy` in one `renameat2(RENAME_EXCHANGE)` (a rename when there
//! was none), the way the vulnerability DB is installed: a failed or tampered download never
//! replaces a good bundle, and a reader never sees a half-written one. The layout is Trivy's:
//! `<cache>/policy/content/...` plus `<cache>/policy/metadata.json`.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sightline_image::artifact::Artifact;
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
    /// The artifact has no (or more than one) bundle layer.
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
    let layers: Vec<_> = artifact
        .layers
        .iter()
        .filter(|l| l.media_type == LAYER_MEDIA_TYPE)
        .collect();
    let layer = match layers.as_slice() {
        [l] => (*l).clone(),
        [] => {
            return Err(BundleError::NotABundle {
                reference,
                reason: format!(
                    "no {LAYER_MEDIA_TYPE} layer (layers: {})",
                    artifact
                        .layers
                        .iter()
                        .map(|l| l.media_type.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })
        }
        _ => {
            return Err(BundleError::NotABundle {
                reference,
                reason: format!("{} bundle layers, expected one", layers.len()),
            })
        }
    };
    fs::create_dir_all(cache_dir).map_err(|e| io_err(cache_dir, e))?;
    let tmp = TempDir::new(cache_dir)?;
    let target = tmp.path.join("content");
    let r = reference.clone();
    let unpacked = artifact
        .stream_layer(&layer, Arc::new(NoProgress), move |reader| {
            unpack(reader, &target, &r)
        })
        .await?;
    unpacked?;
    let meta = BundleMetadata {
        reference,
        digest: artifact.manifest_digest.clone(),
        layer_digest: layer.digest.clone(),
        downloaded_at: chrono_now(),
    };
    let meta_path = tmp.path.join("metadata.json");
    let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
    fs::write(&meta_path, json).map_err(|e| io_err(&meta_path, e))?;
    swap_into_place(&tmp.path, &bundle_dir(cache_dir))?;
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

struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(cache_dir: &Path) -> Result<Self, BundleError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = cache_dir.join(format!(
            ".policy.tmp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&path).map_err(|e| io_err(&path, e))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.path.exists() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn swap_into_place(new: &Path, dest: &Path) -> Result<(), BundleError> {
    if !dest.exists() {
        return fs::rename(new, dest).map_err(|e| io_err(dest, e));
    }
    match exchange(new, dest) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            // No RENAME_EXCHANGE here: move the old bundle aside, then the new one in.
            let old = new.with_extension("old");
            fs::rename(dest, &old).map_err(|e| io_err(dest, e))?;
            fs::rename(new, dest).map_err(|e| io_err(dest, e))?;
            let _ = fs::remove_dir_all(&old);
            Ok(())
        }
        Err(e) => Err(io_err(dest, e)),
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two valid NUL-terminated paths; renameat2 does not retain them.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
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

    #[test]
    fn swap_replaces_atomically() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("policy");
        for round in 0..2 {
            let t = TempDir::new(d.path()).unwrap();
            fs::write(t.path.join("v"), round.to_string()).unwrap();
            swap_into_place(&t.path, &dest).unwrap();
        }
        assert_eq!(fs::read_to_string(dest.join("v")).unwrap(), "1");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["policy"], "temporary directories are removed");
    }
}
