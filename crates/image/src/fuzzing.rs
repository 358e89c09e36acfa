//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): each feeds arbitrary bytes
//! to one of the crate's private parsers exactly as the production path does, then uses the
//! result the way the callers do. Not an API: nothing outside `fuzz/` may call these.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use crate::layer::{compression_for_media_type, walk_layer, Compression, LayerCtx};
use crate::manifest::{parse_config, select_platform, Manifest};
use crate::{LayerFile, LayerVisitor, Platform, Rootfs, Walk};

/// Splits a layer-tar/layer-gzip fuzz input into layers (base first).
pub const LAYER_SEPARATOR: &[u8] = b"\n--SIGHTLINE-FUZZ-LAYER--\n";

/// At most this many layers are taken from one input.
const MAX_LAYERS: usize = 4;

/// Manifest / index / image-config JSON: [`Manifest::parse`] and, for what it yields, the
/// platform choice (index) or the layer media types and digests (image manifest); the same
/// bytes as an image config ([`parse_config`]).
pub fn manifest(data: &[u8]) {
    match Manifest::parse(data, "fuzz manifest") {
        Ok(Manifest::Index { manifests }) => {
            for want in [
                "linux/amd64",
                "linux/arm64",
                "linux/arm/v6",
                "windows/amd64",
            ] {
                let want: Platform = want.parse().expect("a valid platform");
                if let Ok(d) = select_platform(&manifests, &want, "fuzz") {
                    let _ = crate::manifest::sha256_hex(&d.digest);
                }
            }
        }
        Ok(Manifest::Image { config, layers }) => {
            let _ = crate::manifest::sha256_hex(&config.digest);
            for (i, l) in layers.iter().enumerate() {
                let _ = compression_for_media_type(&l.media_type, &format!("layer {i}"));
                let _ = crate::manifest::sha256_hex(&l.digest);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok((value, diff_ids)) = parse_config(data, "fuzz config") {
        let _ = (value.get("history"), diff_ids.len());
    }
}

/// Reads every file it is shown, up to 64 KiB (a partial read leaves the rest to the walker),
/// as the secret scanner's visitor does.
struct ReadSome;

impl LayerVisitor for ReadSome {
    fn wants(&self, file: &LayerFile<'_>) -> bool {
        file.size > 0
    }

    fn visit(&self, _file: &LayerFile<'_>, content: &mut dyn Read) -> std::io::Result<()> {
        let mut buf = Vec::new();
        content.take(64 << 10).read_to_end(&mut buf)?;
        Ok(())
    }
}

/// The sha256 of `blob` gunzipped (at most 256 MiB of it), to give the walk a matching
/// `diff_id` so a valid layer gets through to the merge; `None` when it does not decode.
fn gunzipped_digest(blob: &[u8]) -> Option<String> {
    let mut reader = crate::digest::DigestReader::new(MultiGzDecoder::new(blob).take(256 << 20));
    std::io::copy(&mut reader, &mut std::io::sink()).ok()?;
    Some(reader.digest())
}

/// Layer blobs (`gzip`: gzip-compressed tars, else plain tars), split at [`LAYER_SEPARATOR`]:
/// each is walked by [`walk_layer`] with its real blob digest and `diff_id` (so a well-formed
/// layer passes the digest checks), with a filter that keeps every file up to 1 MiB and a
/// visitor that reads every file, and merged into a [`Rootfs`] in order as a fetch does.
/// Returns the merged rootfs after resolving and reading every path it holds, or `None` when
/// a layer is refused (the fetch would fail).
pub fn layers(data: &[u8], gzip: bool) -> Option<Rootfs> {
    let mut blobs = Vec::new();
    let mut rest = data;
    while blobs.len() + 1 < MAX_LAYERS {
        match find(rest, LAYER_SEPARATOR) {
            Some(i) => {
                blobs.push(&rest[..i]);
                rest = &rest[i + LAYER_SEPARATOR.len()..];
            }
            None => break,
        }
    }
    blobs.push(rest);

    let walk = Walk::new(
        Arc::new(|_: &str, size: u64| size <= 1 << 20),
        Some(Arc::new(ReadSome)),
        crate::Limits::default(),
    );
    let mut rootfs = Rootfs::new();
    for (index, blob) in blobs.into_iter().enumerate() {
        let blob_digest = crate::manifest::sha256_digest(blob);
        let (compression, diff_id) = if gzip {
            let d = gunzipped_digest(blob).unwrap_or_else(|| blob_digest.clone());
            (Compression::Gzip, d)
        } else {
            (Compression::None, blob_digest.clone())
        };
        let ctx = LayerCtx {
            index,
            label: format!("layer {}", index + 1),
            expected_blob: Some(blob_digest),
            expected_size: Some(blob.len() as u64),
            diff_id,
            compression,
        };
        match walk_layer(blob, &ctx, &walk) {
            Ok(result) => rootfs.apply_layer(index, result.changes),
            Err(e) => {
                let _ = e.to_string();
                return None;
            }
        }
    }

    let mut paths: Vec<String> = rootfs.files().map(|(p, _)| p.to_string()).collect();
    paths.extend(rootfs.symlinks().map(|(p, _)| p.to_string()));
    paths.extend(
        [
            "etc/os-release",
            "usr/lib/os-release",
            "var/lib/dpkg/status",
            "lib/apk/db/installed",
        ]
        .map(String::from),
    );
    for p in paths.iter().take(512) {
        let _ = rootfs.resolve(p);
        let _ = rootfs.read(p);
        let _ = rootfs.read_link(p);
        let parent = p.rsplit_once('/').map_or("", |(d, _)| d);
        let _ = rootfs.list_dir(parent);
    }
    Some(rootfs)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A scratch file of this process for parsers that read a path.
fn scratch_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sightline-fuzz-{}-{name}", std::process::id()))
}

/// A docker `config.json` (or a merged pull-secret config): written to a file and read by
/// `auth::from_docker_config` for a few registries, as a scan resolves credentials.
pub fn docker_config(data: &[u8]) {
    let path = scratch_file("config.json");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    for registry in ["docker.io", "127.0.0.1:5000", "ghcr.io", "[::1]:5000"] {
        match crate::auth::from_docker_config(&path, registry) {
            Ok(c) => {
                let _ = format!("{c:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
}

/// An image reference as the registry source takes it: parsed into the registry client's
/// reference; `Some(the whole reference)` when it parses.
pub fn reference(input: &str) -> Option<String> {
    let r = crate::registry::parse_reference(input).ok()?;
    let _ = (r.resolve_registry(), r.repository(), r.tag(), r.digest());
    Some(r.whole())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, content) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, *content).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    /// The harness must get well-formed layers through the digest checks to the merge, or
    /// the fuzz targets would only ever see the error path.
    #[test]
    fn layers_reach_the_merge() {
        let lower = tar(&[("etc/os-release", b"ID=debian\n"), ("etc/gone", b"x")]);
        let upper = tar(&[("etc/.wh.gone", b""), ("etc/new", b"y")]);
        for gz in [false, true] {
            let (l, u) = if gz {
                (gzip(&lower), gzip(&upper))
            } else {
                (lower.clone(), upper.clone())
            };
            let input = [l.as_slice(), LAYER_SEPARATOR, u.as_slice()].concat();
            let rootfs = layers(&input, gz).expect("two valid layers merge");
            let files: Vec<&str> = rootfs.files().map(|(p, _)| p).collect();
            assert_eq!(files, ["etc/new", "etc/os-release"], "gzip: {gz}");
            assert!(layers(b"not a tar at all, not a gzip stream either", gz).is_none());
        }
    }
}
