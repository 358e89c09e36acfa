//! Walking one layer: a blob byte stream -> (gzip) -> tar entries -> [`Change`]s, with the
//! blob digest and the uncompressed digest (`diff_id`) computed on the way. Runs on a
//! blocking thread; nothing is written to disk.

use std::io::{self, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::digest::DigestReader;
use crate::{ImageError, LayerFile, Progress, Walk};

/// One entry of a layer, reduced to what merging needs.
#[derive(Debug)]
pub(crate) enum Change {
    /// `.wh.<name>`: delete `<name>` (and its subtree) from lower layers.
    Whiteout(String),
    /// `<dir>/.wh..wh..opq`: delete lower-layer contents of `<dir>`.
    Opaque(String),
    /// A directory.
    Dir(String),
    /// A regular file; `content` only when the filter wanted it.
    File {
        path: String,
        content: Option<Vec<u8>>,
        mode: u32,
    },
    /// A symlink (target as stored).
    Symlink { path: String, target: String },
    /// A hardlink to another path of the image (normalised).
    Hardlink { path: String, target: String },
    /// Devices, fifos and other non-directory entries: they replace lower paths.
    Other(String),
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    /// Plain tar.
    None,
    /// gzip (one or more members).
    Gzip,
}

/// The compression a layer media type implies; errors for zstd and non-layer types.
pub(crate) fn compression_for_media_type(
    media_type: &str,
    label: &str,
) -> Result<Compression, ImageError> {
    const GZIP: &[&str] = &[
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ];
    const PLAIN: &[&str] = &[
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar",
    ];
    if GZIP.contains(&media_type) {
        Ok(Compression::Gzip)
    } else if PLAIN.contains(&media_type) {
        Ok(Compression::None)
    } else if media_type.ends_with("+zstd") || media_type.ends_with(".zstd") {
        Err(ImageError::UnsupportedCompression {
            layer: label.to_string(),
            compression: "zstd".into(),
        })
    } else {
        Err(ImageError::UnsupportedMediaType {
            layer: label.to_string(),
            media_type: media_type.to_string(),
        })
    }
}

/// The compression of a blob judged from its first bytes (docker-archive layers carry no
/// media type).
pub(crate) fn sniff_compression(head: &[u8], label: &str) -> Result<Compression, ImageError> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Compression::Gzip)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Err(ImageError::UnsupportedCompression {
            layer: label.to_string(),
            compression: "zstd".into(),
        })
    } else if head.starts_with(b"BZh") || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        Err(ImageError::UnsupportedCompression {
            layer: label.to_string(),
            compression: if head[0] == b'B' { "bzip2" } else { "xz" }.into(),
        })
    } else {
        Ok(Compression::None)
    }
}

/// What a layer walk needs to know about the layer.
#[derive(Debug, Clone)]
pub(crate) struct LayerCtx {
    /// Index of the layer in the image (base = 0).
    pub index: usize,
    /// Names the layer in errors, e.g. `layer 2/3 sha256:...`.
    pub label: String,
    /// The digest the blob must have (`None`: not content-addressed, e.g. legacy archives).
    pub expected_blob: Option<String>,
    /// The digest the uncompressed tar must have (`rootfs.diff_ids`).
    pub diff_id: String,
    /// Compression of the blob.
    pub compression: Compression,
}

/// The outcome of walking one layer.
#[derive(Debug)]
pub(crate) struct LayerResult {
    /// The entries, in tar order.
    pub changes: Vec<Change>,
    /// `sha256:` digest of the blob bytes as read.
    pub blob_digest: String,
}

/// A reader that reports the bytes it passes to a [`Progress`] (local sources).
pub(crate) struct ProgressReader<R> {
    inner: R,
    progress: Arc<dyn Progress>,
    key: String,
}

impl<R> ProgressReader<R> {
    pub(crate) fn new(inner: R, progress: Arc<dyn Progress>, key: String) -> Self {
        ProgressReader {
            inner,
            progress,
            key,
        }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.progress.layer_bytes(&self.key, n as u64);
        }
        Ok(n)
    }
}

enum WalkError {
    /// The content itself is hostile: no point in looking further.
    Hostile(ImageError),
    /// The stream could not be decoded (or the underlying reader failed).
    Decode(io::Error),
}

/// Normalises a tar path: drops empty, `.` components and a leading `/`, applies `..`;
/// `Err` when the path climbs above the root.
pub(crate) fn normalize_entry_path(raw: &str) -> Result<String, String> {
    let mut out: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("the path climbs above the image root".into());
                }
            }
            c => out.push(c),
        }
    }
    Ok(out.join("/"))
}

fn read_entries<R: Read>(reader: R, ctx: &LayerCtx, walk: &Walk) -> Result<Vec<Change>, WalkError> {
    let hostile = |entry: &str, reason: String| {
        WalkError::Hostile(ImageError::HostileEntry {
            layer: ctx.label.clone(),
            entry: entry.to_string(),
            reason,
        })
    };
    let mut changes = Vec::new();
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(WalkError::Decode)? {
        let mut entry = entry.map_err(WalkError::Decode)?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        let path = normalize_entry_path(&raw).map_err(|reason| hostile(&raw, reason))?;
        if path.is_empty() {
            continue; // the root directory itself
        }
        let (parent, name) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path.as_str()),
        };
        if let Some(whiteout) = name.strip_prefix(".wh.") {
            if whiteout == ".wh..opq" {
                changes.push(Change::Opaque(parent.to_string()));
            } else if whiteout.starts_with(".wh.") {
                // AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not content.
            } else if whiteout.is_empty() || whiteout == "." || whiteout == ".." {
                return Err(hostile(&raw, format!("whiteout of {whiteout:?}")));
            } else if parent.is_empty() {
                changes.push(Change::Whiteout(whiteout.to_string()));
            } else {
                changes.push(Change::Whiteout(format!("{parent}/{whiteout}")));
            }
            continue;
        }
        let change = match kind {
            EntryType::Directory => Change::Dir(path),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let size = entry.size();
                let mode = entry.header().mode().unwrap_or(0o644);
                let file = LayerFile {
                    layer: ctx.index,
                    path: &path,
                    size,
                    mode,
                };
                let visitor = walk.visitor.as_deref().filter(|v| v.wants(&file));
                let content = if walk.filter.wants(&path, size) {
                    let mut buf = Vec::with_capacity(size.min(1 << 20) as usize);
                    entry.read_to_end(&mut buf).map_err(WalkError::Decode)?;
                    if let Some(v) = visitor {
                        v.visit(&file, &mut buf.as_slice())
                            .map_err(WalkError::Decode)?;
                    }
                    Some(buf)
                } else {
                    if let Some(v) = visitor {
                        // The rest of an entry the visitor did not read is skipped by the
                        // tar reader (still hashed for the diff_id check).
                        v.visit(&file, &mut entry).map_err(WalkError::Decode)?;
                    }
                    None
                };
                Change::File {
                    path,
                    content,
                    mode,
                }
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                if target.is_empty() {
                    return Err(hostile(&raw, "symlink without a target".into()));
                }
                Change::Symlink { path, target }
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let normalized = normalize_entry_path(&target).map_err(|reason| {
                    hostile(&raw, format!("hardlink target {target:?}: {reason}"))
                })?;
                if normalized.is_empty() {
                    return Err(hostile(
                        &raw,
                        format!("hardlink to the image root ({target:?})"),
                    ));
                }
                Change::Hardlink {
                    path,
                    target: normalized,
                }
            }
            _ => Change::Other(path),
        };
        changes.push(change);
    }
    Ok(changes)
}

/// Walks one layer blob read from `reader`, keeping the files `walk.filter` wants and showing
/// every regular file to `walk.visitor`, and checks the
/// blob digest (when known) and the uncompressed digest against `ctx`.
pub(crate) fn walk_layer<R: Read>(
    reader: R,
    ctx: &LayerCtx,
    walk: &Walk,
) -> Result<LayerResult, ImageError> {
    match ctx.compression {
        Compression::Gzip => {
            let mut tar = DigestReader::new(MultiGzDecoder::new(DigestReader::new(reader)));
            let res = read_entries(&mut tar, ctx, walk).and_then(|c| {
                tar.drain().map_err(WalkError::Decode)?;
                Ok(c)
            });
            let tar_digest = tar.digest();
            let mut blob = tar.into_inner().into_inner();
            finish(res, ctx, &mut blob, tar_digest)
        }
        Compression::None => {
            let mut tar = DigestReader::new(reader);
            let res = read_entries(&mut tar, ctx, walk).and_then(|c| {
                tar.drain().map_err(WalkError::Decode)?;
                Ok(c)
            });
            let tar_digest = tar.digest();
            finish(res, ctx, &mut tar, tar_digest)
        }
    }
}

fn finish<R: Read>(
    res: Result<Vec<Change>, WalkError>,
    ctx: &LayerCtx,
    blob: &mut DigestReader<R>,
    tar_digest: String,
) -> Result<LayerResult, ImageError> {
    let blob_mismatch = |blob: &DigestReader<R>| {
        let actual = blob.digest();
        match &ctx.expected_blob {
            Some(expected) if *expected != actual => Some(ImageError::DigestMismatch {
                subject: format!("{} (compressed blob)", ctx.label),
                expected: expected.clone(),
                actual,
            }),
            _ => None,
        }
    };
    match res {
        Err(WalkError::Hostile(e)) => Err(e),
        Err(WalkError::Decode(e)) => {
            // A blob that is not what the manifest says explains a decode error better.
            let drained = blob.drain().is_ok();
            if drained {
                if let Some(mismatch) = blob_mismatch(blob) {
                    return Err(mismatch);
                }
            }
            Err(ImageError::CorruptLayer {
                layer: ctx.label.clone(),
                reason: error_chain(&e),
            })
        }
        Ok(changes) => {
            blob.drain().map_err(|e| ImageError::CorruptLayer {
                layer: ctx.label.clone(),
                reason: error_chain(&e),
            })?;
            if let Some(mismatch) = blob_mismatch(blob) {
                return Err(mismatch);
            }
            if tar_digest != ctx.diff_id {
                return Err(ImageError::DigestMismatch {
                    subject: format!("{} (uncompressed tar vs config rootfs.diff_ids)", ctx.label),
                    expected: ctx.diff_id.clone(),
                    actual: tar_digest,
                });
            }
            Ok(LayerResult {
                changes,
                blob_digest: blob.digest(),
            })
        }
    }
}

/// An error and its sources, `: `-joined.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_paths() {
        assert_eq!(normalize_entry_path("./etc/passwd").unwrap(), "etc/passwd");
        assert_eq!(normalize_entry_path("/etc//x/./y/").unwrap(), "etc/x/y");
        assert_eq!(normalize_entry_path("a/../b").unwrap(), "b");
        assert_eq!(normalize_entry_path("./").unwrap(), "");
        assert!(normalize_entry_path("../../etc/passwd").is_err());
        assert!(normalize_entry_path("a/../../x").is_err());
        assert!(normalize_entry_path("/..").is_err());
    }

    #[test]
    fn media_types() {
        assert_eq!(
            compression_for_media_type("application/vnd.oci.image.layer.v1.tar+gzip", "l").unwrap(),
            Compression::Gzip
        );
        assert_eq!(
            compression_for_media_type("application/vnd.docker.image.rootfs.diff.tar", "l")
                .unwrap(),
            Compression::None
        );
        assert_eq!(
            compression_for_media_type(
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                "l"
            )
            .unwrap(),
            Compression::Gzip
        );
        let e = compression_for_media_type(
            "application/vnd.oci.image.layer.v1.tar+zstd",
            "layer 1/1 x",
        )
        .unwrap_err();
        assert!(matches!(e, ImageError::UnsupportedCompression { .. }));
        assert!(
            e.to_string().contains("layer 1/1 x") && e.to_string().contains("zstd"),
            "{e}"
        );
        let e =
            compression_for_media_type("application/vnd.cncf.helm.chart.content.v1.tar+gzip", "l")
                .unwrap_err();
        assert!(matches!(e, ImageError::UnsupportedMediaType { .. }));
        assert!(matches!(
            sniff_compression(&[0x28, 0xb5, 0x2f, 0xfd], "l"),
            Err(ImageError::UnsupportedCompression { .. })
        ));
        assert_eq!(
            sniff_compression(&[0x1f, 0x8b, 8], "l").unwrap(),
            Compression::Gzip
        );
        assert_eq!(sniff_compression(b"etc/", "l").unwrap(), Compression::None);
    }
}
