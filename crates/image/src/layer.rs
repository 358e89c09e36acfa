//! Walking one layer: a blob byte stream -> (gzip) -> tar entries -> [`Change`]s, with the
//! blob digest and the uncompressed digest (`diff_id`) computed on the way. Runs on a
//! blocking thread; nothing is written to disk.

use std::io::{self, Read};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::digest::{BlobMismatch, DigestReader};
use crate::fence::FencedReader;
use crate::limits::{
    exceeded, human_bytes, MAX_EXTENSION_HEADER_BYTES, MAX_LAYER_PATH_BYTES, MAX_PATH_LEN,
};
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
        content: Option<Arc<[u8]>>,
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
    /// The size its descriptor declares: reading stops with an error past it.
    pub expected_size: Option<u64>,
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

/// Running totals of one layer walk, checked against the [`crate::Limits`].
struct LayerTally {
    entries: u64,
    path_bytes: u64,
}

impl LayerTally {
    /// Counts one entry of `path_len` bytes; an error when the layer passes a limit.
    fn count(&mut self, path_len: usize, ctx: &LayerCtx, walk: &Walk) -> Result<(), WalkError> {
        self.entries += 1;
        self.path_bytes = self.path_bytes.saturating_add(path_len as u64);
        let max = walk.limits.max_layer_entries;
        if self.entries > max {
            return Err(WalkError::Hostile(exceeded(
                ctx.label.clone(),
                format!("the layer has more than {max} entries"),
                format!("limit of {max} entries per layer"),
                Some("--max-layer-entries"),
            )));
        }
        if self.path_bytes > MAX_LAYER_PATH_BYTES {
            return Err(WalkError::Hostile(exceeded(
                ctx.label.clone(),
                format!(
                    "the paths of its first {} entries take {}",
                    self.entries,
                    human_bytes(self.path_bytes)
                ),
                format!(
                    "limit of {} of paths per layer",
                    human_bytes(MAX_LAYER_PATH_BYTES)
                ),
                Some("--max-layer-entries"),
            )));
        }
        Ok(())
    }
}

/// How many bytes of the archive an entry's data takes (padded to the 512-byte block).
fn stored_size<R: Read>(entry: &tar::Entry<'_, R>) -> u64 {
    let data = if entry.header().entry_type() == EntryType::GNUSparse {
        entry.header().entry_size().unwrap_or(0)
    } else {
        entry.size()
    };
    data.saturating_add(511) & !511
}

/// The error for a tar stream that the fence stopped.
fn extension_headers_too_large(ctx: &LayerCtx) -> ImageError {
    exceeded(
        ctx.label.clone(),
        "the tar extension headers (GNU long name/link, PAX, sparse) in front of one entry \
         are larger than allowed"
            .to_string(),
        format!(
            "header limit of {} (path length limit {MAX_PATH_LEN} bytes)",
            human_bytes(MAX_EXTENSION_HEADER_BYTES)
        ),
        None,
    )
}

fn read_entries<R: Read>(reader: R, ctx: &LayerCtx, walk: &Walk) -> Result<Vec<Change>, WalkError> {
    // The tar parser reads extension headers whole before it yields the entry they belong
    // to: the fence bounds them (one header block plus the extension budget at a time).
    let fenced = FencedReader::new(reader, 512 + MAX_EXTENSION_HEADER_BYTES);
    let result = read_fenced_entries(&fenced, ctx, walk);
    match result {
        Err(WalkError::Decode(_)) if fenced.hit() => {
            Err(WalkError::Hostile(extension_headers_too_large(ctx)))
        }
        other => other,
    }
}

fn read_fenced_entries<R: Read>(
    fenced: &FencedReader<R>,
    ctx: &LayerCtx,
    walk: &Walk,
) -> Result<Vec<Change>, WalkError> {
    let hostile = |entry: &str, reason: String| {
        WalkError::Hostile(ImageError::HostileEntry {
            layer: ctx.label.clone(),
            entry: entry.to_string(),
            reason,
        })
    };
    let too_long = |what: &str, len: usize| {
        WalkError::Hostile(exceeded(
            ctx.label.clone(),
            format!("an entry's {what} is {len} bytes long"),
            format!("path length limit of {MAX_PATH_LEN} bytes"),
            None,
        ))
    };
    let mut changes = Vec::new();
    let mut tally = LayerTally {
        entries: 0,
        path_bytes: 0,
    };
    let mut archive = tar::Archive::new(fenced);
    for entry in archive.entries().map_err(WalkError::Decode)? {
        let mut entry = entry.map_err(WalkError::Decode)?;
        // This entry's data, then the next header and its extension headers.
        fenced.allow(stored_size(&entry) + 512 + MAX_EXTENSION_HEADER_BYTES);
        let raw_bytes = entry.path_bytes();
        if raw_bytes.len() > MAX_PATH_LEN {
            return Err(too_long("path", raw_bytes.len()));
        }
        let raw = String::from_utf8_lossy(&raw_bytes).into_owned();
        drop(raw_bytes);
        tally.count(raw.len(), ctx, walk)?;
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
        let link_target = |entry: &tar::Entry<'_, _>| -> Result<String, WalkError> {
            let bytes = entry.link_name_bytes().unwrap_or_default();
            if bytes.len() > MAX_PATH_LEN {
                return Err(too_long("link target", bytes.len()));
            }
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        };
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
                    let buf = read_kept(&mut entry, &path, size, ctx, walk)?;
                    if let Some(v) = visitor {
                        v.visit(&file, &mut &buf[..]).map_err(WalkError::Decode)?;
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
                let target = link_target(&entry)?;
                if target.is_empty() {
                    return Err(hostile(&raw, "symlink without a target".into()));
                }
                Change::Symlink { path, target }
            }
            EntryType::Link => {
                let target = link_target(&entry)?;
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

/// Reads a file the filter keeps, within the kept-file size and the fetch's kept-bytes
/// budget (checked on the declared size, before anything is read).
fn read_kept<R: Read>(
    entry: &mut R,
    path: &str,
    size: u64,
    ctx: &LayerCtx,
    walk: &Walk,
) -> Result<Arc<[u8]>, WalkError> {
    let max = walk.limits.max_file_size;
    if size > max {
        return Err(WalkError::Hostile(exceeded(
            ctx.label.clone(),
            format!("file {path} is {}", human_bytes(size)),
            format!("kept-file size limit of {}", human_bytes(max)),
            Some("--max-file-size"),
        )));
    }
    walk.kept.take(size).map_err(|total| {
        WalkError::Hostile(exceeded(
            ctx.label.clone(),
            format!(
                "keeping file {path} ({}) brings the files kept for analysis to {}",
                human_bytes(size),
                human_bytes(total)
            ),
            format!(
                "limit of {} kept over the image",
                human_bytes(walk.limits.max_kept_bytes)
            ),
            Some("--max-kept-bytes"),
        ))
    })?;
    let mut buf = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
    entry
        .take(size)
        .read_to_end(&mut buf)
        .map_err(WalkError::Decode)?;
    Ok(Arc::from(buf))
}

/// Walks one layer blob read from `reader`, keeping the files `walk.filter` wants and showing
/// every regular file to `walk.visitor`, and checks the
/// blob digest (when known) and the uncompressed digest against `ctx`.
pub(crate) fn walk_layer<R: Read>(
    reader: R,
    ctx: &LayerCtx,
    walk: &Walk,
) -> Result<LayerResult, ImageError> {
    let blob = match &ctx.expected_blob {
        Some(digest) => DigestReader::verifying(reader, digest, ctx.expected_size),
        None => DigestReader::new(reader),
    };
    match ctx.compression {
        Compression::Gzip => {
            let mut tar = DigestReader::new(MultiGzDecoder::new(blob));
            let res = read_entries(&mut tar, ctx, walk).and_then(|c| {
                tar.drain().map_err(WalkError::Decode)?;
                Ok(c)
            });
            let tar_digest = tar.digest();
            let mut blob = tar.into_inner().into_inner();
            finish(res, ctx, &mut blob, tar_digest)
        }
        Compression::None => {
            let mut tar = blob;
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
    // What a verifying blob reader refused (past the declared size, wrong digest).
    let refused = |e: &io::Error| {
        BlobMismatch::of(e).map(|m| match m {
            BlobMismatch::Digest { expected, actual } => ImageError::DigestMismatch {
                subject: format!("{} (compressed blob)", ctx.label),
                expected: expected.clone(),
                actual: actual.clone(),
            },
            BlobMismatch::TooLarge { expected } => ImageError::SizeMismatch {
                subject: ctx.label.clone(),
                declared: *expected,
            },
        })
    };
    let corrupt = |e: &io::Error| {
        refused(e).unwrap_or_else(|| ImageError::CorruptLayer {
            layer: ctx.label.clone(),
            reason: error_chain(e),
        })
    };
    match res {
        Err(WalkError::Hostile(e)) => Err(e),
        Err(WalkError::Decode(e)) => {
            // A blob that is not what the manifest says explains a decode error better: read
            // to its end, where the verifying reader checks its digest and size.
            let refusal = refused(&e).or_else(|| blob.drain().err().and_then(|d| refused(&d)));
            Err(refusal.unwrap_or_else(|| corrupt(&e)))
        }
        Ok(changes) => {
            // At the end of the blob the verifying reader has checked its digest and size.
            blob.drain().map_err(|e| corrupt(&e))?;
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

    use crate::limits::Limits;
    use crate::test_support::{sha256_digest, TarBuilder};
    use std::io::Cursor;

    fn walk_with(limits: Limits, keep: fn(&str) -> bool) -> Walk {
        Walk::new(Arc::new(move |p: &str, _| keep(p)), None, limits)
    }

    fn ctx_for(tar: &[u8]) -> LayerCtx {
        LayerCtx {
            index: 0,
            label: "layer 1/1 sha256:test".into(),
            expected_blob: None,
            expected_size: None,
            diff_id: sha256_digest(tar),
            compression: Compression::None,
        }
    }

    fn dpkg_only(p: &str) -> bool {
        p == "var/lib/dpkg/status"
    }

    fn limit_error(e: ImageError) -> (String, Option<&'static str>) {
        match e {
            ImageError::LimitExceeded { flag, .. } => (e.to_string(), flag),
            e => panic!("expected a limit error, got {e}"),
        }
    }

    /// A GNU sparse file of 4 GiB at a kept path is refused from its header: before the
    /// size check, its 4 GiB of holes were read into memory.
    #[test]
    fn kept_file_over_the_size_limit_is_refused_unread() {
        let tar = TarBuilder::new()
            .sparse_file("var/lib/dpkg/status", 4 << 30, b"Package: x\n")
            .build();
        let e = walk_layer(
            &tar[..],
            &ctx_for(&tar),
            &walk_with(Limits::default(), dpkg_only),
        )
        .unwrap_err();
        let (msg, flag) = limit_error(e);
        assert_eq!(flag, Some("--max-file-size"));
        assert!(msg.contains("var/lib/dpkg/status is 4.0 GiB"), "{msg}");
        // The same file elsewhere (not kept) is walked and skipped.
        let walk = walk_with(Limits::default(), |_| false);
        assert!(walk_layer(&tar[..], &ctx_for(&tar), &walk).is_ok());
    }

    #[test]
    fn kept_bytes_are_capped_over_the_whole_image() {
        let tar = TarBuilder::new()
            .file("a", vec![b'a'; 600])
            .file("b", vec![b'b'; 600])
            .build();
        let limits = Limits {
            max_kept_bytes: 1000,
            ..Limits::default()
        };
        let e = walk_layer(&tar[..], &ctx_for(&tar), &walk_with(limits, |_| true)).unwrap_err();
        let (msg, flag) = limit_error(e);
        assert_eq!(flag, Some("--max-kept-bytes"), "{msg}");
        assert!(msg.contains("file b"), "{msg}");
    }

    /// 1 MiB kept once, 100,000 hard links to it: the links share the one allocation (before,
    /// each link copied the bytes: 100 GiB for a ~50 MB layer).
    #[test]
    fn hard_links_share_kept_content() {
        let mut b = TarBuilder::new().file("var/lib/dpkg/status", vec![b'x'; 1 << 20]);
        for i in 0..100_000 {
            b = b.hardlink(&format!("l/{i}"), "var/lib/dpkg/status");
        }
        let tar = b.build();
        let limits = Limits {
            max_kept_bytes: 2 << 20,
            ..Limits::default()
        };
        let result = walk_layer(&tar[..], &ctx_for(&tar), &walk_with(limits, dpkg_only)).unwrap();
        let mut rootfs = crate::Rootfs::new();
        rootfs.apply_layer(0, result.changes);
        let first = rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
        let last = rootfs.read("l/99999").unwrap().unwrap();
        assert!(Arc::ptr_eq(&first.content, &last.content));
        assert_eq!(rootfs.files().count(), 100_001);
    }

    #[test]
    fn entries_per_layer_are_capped() {
        let mut b = TarBuilder::new();
        for i in 0..11 {
            b = b.file(&format!("f{i}"), "");
        }
        let tar = b.build();
        let limits = Limits {
            max_layer_entries: 10,
            ..Limits::default()
        };
        let e = walk_layer(&tar[..], &ctx_for(&tar), &walk_with(limits, |_| false)).unwrap_err();
        let (msg, flag) = limit_error(e);
        assert_eq!(flag, Some("--max-layer-entries"), "{msg}");
    }

    /// One extension header (GNU long name `L`, PAX `x`) declaring `size` bytes, its data
    /// streamed (never in memory), then a regular entry.
    fn extension_bomb(kind: EntryType, size: u64) -> impl Read {
        let mut h = tar::Header::new_gnu();
        h.set_path("././@LongLink").unwrap();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        let record: Box<dyn Read> = if kind == EntryType::XHeader {
            // One PAX record (`<len> path=<value>`) whose value fills the declared size.
            let head = format!("{size} path=").into_bytes();
            Box::new(Cursor::new(head).chain(std::io::repeat(b'a')).take(size))
        } else {
            Box::new(std::io::repeat(b'a').take(size))
        };
        let pad = (512 - size % 512) % 512;
        let tail = TarBuilder::new().file("etc/os-release", "ID=x\n").build();
        Cursor::new(h.as_bytes().to_vec())
            .chain(record)
            .chain(std::io::repeat(0).take(pad))
            .chain(Cursor::new(tail))
    }

    /// A GNU long name or PAX header declaring 256 MiB is refused after the 1 MiB header
    /// budget (before, the tar reader buffered all of it).
    #[test]
    fn huge_extension_headers_are_refused() {
        for kind in [EntryType::GNULongName, EntryType::XHeader] {
            let ctx = LayerCtx {
                diff_id: "sha256:unused".into(),
                ..ctx_for(b"")
            };
            let walk = walk_with(Limits::default(), |_| false);
            let e = walk_layer(extension_bomb(kind, 256 << 20), &ctx, &walk).unwrap_err();
            let (msg, _) = limit_error(e);
            assert!(msg.contains("header limit of 1.0 MiB"), "{kind:?}: {msg}");
        }
    }

    /// A tar with one file at `path` (a GNU long-name entry in front when it needs one).
    fn tar_with_path(path: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, path, &b"x"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn paths_over_path_max_are_refused() {
        let long = format!("{}/f", "d".repeat(5000));
        let tar = tar_with_path(&long);
        let e = walk_layer(
            &tar[..],
            &ctx_for(&tar),
            &walk_with(Limits::default(), |_| false),
        )
        .unwrap_err();
        let (msg, _) = limit_error(e);
        assert!(msg.contains("path length limit of 4096 bytes"), "{msg}");
        // A long name under the limit still works (GNU long-name entries are followed).
        let ok = format!("{}/f", "d".repeat(300));
        let tar = tar_with_path(&ok);
        let r = walk_layer(
            &tar[..],
            &ctx_for(&tar),
            &walk_with(Limits::default(), |_| true),
        )
        .unwrap();
        assert!(matches!(&r.changes[0], Change::File { path, .. } if *path == ok));
    }
}
