//! Builders for small, real OCI image layouts from in-memory layers (feature
//! `test-support`): tars built with the `tar` crate (entry names written raw, so hostile
//! names such as `../../etc/passwd` can be produced), gzip via `flate2`, and correct
//! digests, `diff_ids`, configs, manifests and `index.json`. The layouts are ordinary
//! directories that `skopeo`/`umoci` accept, so tests can also push them to a real registry.

pub mod fault_proxy;
pub mod gz_stream;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tar::{EntryType, Header};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI config media type.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// gzip layer media type.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Uncompressed layer media type.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip to memory");
    enc.finish().expect("gzip to memory")
}

/// Builds a layer tar, in memory (`TarBuilder::new`) or streamed into any writer
/// (`TarBuilder::on`, e.g. a [`gz_stream::GzLayerWriter`]). Entry names and link targets are
/// written exactly as given (no validation), so hostile entries can be made; names are
/// limited to 100 bytes.
pub struct TarBuilder<W: Write = Vec<u8>> {
    builder: tar::Builder<W>,
}

impl Default for TarBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TarBuilder {
    /// An empty tar in memory.
    pub fn new() -> Self {
        TarBuilder::on(Vec::new())
    }

    /// The tar bytes.
    pub fn build(self) -> Vec<u8> {
        self.finish()
    }
}

/// A GNU header of `kind` for `path` (written raw, at most 100 bytes), `size` and `mode`,
/// owned by root, mtime 0, checksum set.
pub fn raw_header(kind: EntryType, path: &str, link: Option<&str>, size: u64, mode: u32) -> Header {
    let mut h = Header::new_gnu();
    {
        let old = h.as_old_mut();
        assert!(
            path.len() <= old.name.len(),
            "test tar names are limited to 100 bytes: {path}"
        );
        old.name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            assert!(
                link.len() <= old.linkname.len(),
                "link target too long: {link}"
            );
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    h
}

impl<W: Write> TarBuilder<W> {
    /// An empty tar streamed into `writer` (nothing is buffered here).
    pub fn on(writer: W) -> Self {
        TarBuilder {
            builder: tar::Builder::new(writer),
        }
    }

    /// Writes the end-of-archive blocks and returns the writer.
    pub fn finish(self) -> W {
        self.builder.into_inner().expect("writing the test tar")
    }

    /// The writer the tar goes to (raw bytes written here land between entries).
    pub fn writer(&mut self) -> &mut W {
        self.builder.get_mut()
    }

    fn raw(self, kind: EntryType, path: &str, link: Option<&str>, data: &[u8], mode: u32) -> Self {
        let h = raw_header(kind, path, link, data.len() as u64, mode);
        self.header_and_data(&h, data)
    }

    /// Appends `header` followed by `data` (and the padding to 512 bytes) as they are.
    pub fn header_and_data(mut self, header: &Header, data: &[u8]) -> Self {
        self.builder
            .append(header, data)
            .expect("writing the test tar");
        self
    }

    /// An entry of `kind` at `path` whose `size` bytes of data are all `fill` (written with
    /// [`FillWrite::fill`], so a streaming writer never holds them): a huge entry in a
    /// small compressed layer. `size` is rounded up to 512 bytes with zero padding.
    pub fn filled_entry(mut self, kind: EntryType, path: &str, size: u64, fill: u8) -> Self
    where
        W: FillWrite,
    {
        let h = raw_header(kind, path, None, size, 0o644);
        let w = self.builder.get_mut();
        w.write_all(h.as_bytes()).expect("writing the test tar");
        w.fill(fill, size).expect("writing the test tar");
        w.fill(0, (512 - size % 512) % 512)
            .expect("writing the test tar");
        self
    }

    /// A directory entry (`path/`).
    pub fn dir(self, path: &str) -> Self {
        let name = if path.ends_with('/') {
            path.to_string()
        } else {
            format!("{path}/")
        };
        self.raw(EntryType::Directory, &name, None, &[], 0o755)
    }

    /// A regular file (mode 0644).
    pub fn file(self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.raw(EntryType::Regular, path, None, content.as_ref(), 0o644)
    }

    /// A regular file with a mode.
    pub fn file_mode(self, path: &str, content: impl AsRef<[u8]>, mode: u32) -> Self {
        self.raw(EntryType::Regular, path, None, content.as_ref(), mode)
    }

    /// A GNU sparse regular file of logical size `real_size` that is all holes (zeros)
    /// except `tail`, stored at its end: a huge file in a tiny tar.
    pub fn sparse_file(mut self, path: &str, real_size: u64, tail: &[u8]) -> Self {
        assert!(tail.len() as u64 <= real_size && path.len() <= 100);
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(EntryType::GNUSparse);
        h.set_size(tail.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        {
            let gnu = h.as_gnu_mut().expect("GNU header");
            gnu.sparse[0].set_offset(real_size - tail.len() as u64);
            gnu.sparse[0].set_length(tail.len() as u64);
            gnu.set_real_size(real_size);
        }
        h.set_cksum();
        self.builder.append(&h, tail).expect("writing the test tar");
        self
    }

    /// A symlink `path -> target`.
    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.raw(EntryType::Symlink, path, Some(target), &[], 0o777)
    }

    /// A hardlink `path` to `target` (a path from the root, as tar stores it).
    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.raw(EntryType::Link, path, Some(target), &[], 0o644)
    }

    /// A device or fifo entry (`kind` is `Char`, `Block` or `Fifo`) with major/minor numbers.
    pub fn device(self, kind: EntryType, path: &str, major: u32, minor: u32) -> Self {
        let mut h = raw_header(kind, path, None, 0, 0o600);
        h.set_device_major(major).expect("GNU header");
        h.set_device_minor(minor).expect("GNU header");
        h.set_cksum();
        self.header_and_data(&h, &[])
    }

    /// A whiteout deleting `path` from lower layers (`<dir>/.wh.<name>`).
    pub fn whiteout(self, path: &str) -> Self {
        let name = match path.rfind('/') {
            Some(i) => format!("{}/.wh.{}", &path[..i], &path[i + 1..]),
            None => format!(".wh.{path}"),
        };
        self.raw(EntryType::Regular, &name, None, &[], 0o644)
    }

    /// An opaque-directory marker (`<dir>/.wh..wh..opq`).
    pub fn opaque(self, dir: &str) -> Self {
        let name = format!("{}/.wh..wh..opq", dir.trim_end_matches('/'));
        self.raw(EntryType::Regular, &name, None, &[], 0o644)
    }
}

/// A writer that can write `n` copies of one byte cheaply (a streaming gzip writer emits
/// precompressed runs); the default writes them in 64 KiB pieces.
pub trait FillWrite: Write {
    /// Writes `n` bytes of value `byte`.
    fn fill(&mut self, byte: u8, n: u64) -> io::Result<()> {
        let buf = [byte; 1 << 16];
        let mut left = n;
        while left > 0 {
            let k = left.min(buf.len() as u64) as usize;
            self.write_all(&buf[..k])?;
            left -= k as u64;
        }
        Ok(())
    }
}

impl FillWrite for Vec<u8> {}

/// A tar stream (never in memory) holding one regular file of `size` zero bytes: a huge
/// layer for bounded-memory tests, for [`OciLayoutWriter::write_blob_from_reader`].
pub fn zero_filled_tar(path: &str, size: u64) -> impl io::Read {
    let mut h = Header::new_gnu();
    h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_entry_type(EntryType::Regular);
    h.set_cksum();
    let pad = (512 - size % 512) % 512;
    io::Read::chain(
        io::Read::chain(
            io::Cursor::new(h.as_bytes().to_vec()),
            io::Read::take(io::repeat(0), size + pad),
        ),
        io::Cursor::new(vec![0u8; 1024]),
    )
}

/// A layer blob with its uncompressed digest and media type.
#[derive(Debug, Clone)]
pub struct TestLayer {
    /// The blob as stored.
    pub blob: Vec<u8>,
    /// `sha256:` of the uncompressed tar (goes to the config's `rootfs.diff_ids`).
    pub diff_id: String,
    /// The media type written to the manifest.
    pub media_type: String,
}

impl TestLayer {
    /// A gzip layer.
    pub fn gzip(tar: &[u8]) -> Self {
        TestLayer {
            blob: gzip(tar),
            diff_id: sha256_digest(tar),
            media_type: LAYER_GZIP.into(),
        }
    }

    /// An uncompressed layer.
    pub fn uncompressed(tar: &[u8]) -> Self {
        TestLayer {
            blob: tar.to_vec(),
            diff_id: sha256_digest(tar),
            media_type: LAYER_TAR.into(),
        }
    }

    /// A gzip layer cut after `keep` bytes: its blob digest (computed over the truncated
    /// bytes) is right, only decompression fails.
    pub fn truncated_gzip(tar: &[u8], keep: usize) -> Self {
        let mut layer = Self::gzip(tar);
        layer.blob.truncate(keep);
        layer
    }

    /// The same layer with another media type in the manifest.
    pub fn with_media_type(mut self, media_type: &str) -> Self {
        self.media_type = media_type.into();
        self
    }
}

/// A layer blob stored in a layout, as the manifest and config name it.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Blob digest.
    pub digest: String,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    /// Blob size.
    pub size: u64,
    /// Media type written to the manifest.
    pub media_type: String,
}

/// What [`OciLayoutWriter::write_image`] wrote.
#[derive(Debug, Clone)]
pub struct LayoutImage {
    /// Digest of the image manifest.
    pub manifest_digest: String,
    /// Size of the image manifest.
    pub manifest_size: u64,
    /// Digest of the config (the image ID).
    pub config_digest: String,
    /// Blob digests of the layers.
    pub layer_digests: Vec<String>,
    /// `rootfs.diff_ids`.
    pub diff_ids: Vec<String>,
}

/// Writes an OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/`).
/// `index.json` is rewritten after each [`OciLayoutWriter::tag`].
pub struct OciLayoutWriter {
    dir: PathBuf,
    index: Vec<Value>,
}

impl OciLayoutWriter {
    /// Creates the layout skeleton in `dir` (created if missing).
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir.join("blobs").join("sha256"))?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        let w = OciLayoutWriter {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        };
        w.write_index()?;
        Ok(w)
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the blob `digest`.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs")
            .join("sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Stores a blob, returning its digest.
    pub fn write_blob(&self, bytes: &[u8]) -> io::Result<String> {
        let digest = sha256_digest(bytes);
        std::fs::write(self.blob_path(&digest), bytes)?;
        Ok(digest)
    }

    /// Overwrites the blob file of `digest` with `bytes` (to make tampered layouts).
    pub fn overwrite_blob(&self, digest: &str, bytes: &[u8]) -> io::Result<()> {
        std::fs::write(self.blob_path(digest), bytes)
    }

    /// Streams a blob from `reader` into the layout (runs of zeros become holes in a
    /// sparse file, so a huge zero-filled layer costs no disk), returning its digest and
    /// size. Nothing is held in memory.
    pub fn write_blob_from_reader(&self, mut reader: impl io::Read) -> io::Result<(String, u64)> {
        use std::io::{Seek, SeekFrom};
        let tmp = self.dir.join("blobs").join(".incoming");
        let mut file = std::fs::File::create(&tmp)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            if buf[..n].iter().all(|&b| b == 0) {
                file.seek(SeekFrom::Current(n as i64))?;
            } else {
                file.write_all(&buf[..n])?;
            }
            size += n as u64;
        }
        file.set_len(size)?;
        drop(file);
        let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
        std::fs::rename(&tmp, self.blob_path(&digest))?;
        Ok((digest, size))
    }

    /// Writes config, layers and manifest of a linux/`arch` image (not yet in the index).
    pub fn write_image(&self, layers: &[TestLayer], arch: &str) -> io::Result<LayoutImage> {
        let mut refs = Vec::new();
        for l in layers {
            let d = self.write_blob(&l.blob)?;
            refs.push(LayerRef {
                digest: d,
                diff_id: l.diff_id.clone(),
                size: l.blob.len() as u64,
                media_type: l.media_type.clone(),
            });
        }
        self.write_image_refs(&refs, arch, json!({}))
    }

    /// Like [`OciLayoutWriter::write_image`] over layer blobs already stored (e.g. with
    /// [`OciLayoutWriter::write_blob_from_reader`]); `config_patch`'s top-level keys replace
    /// those of the default config (`config`, `history`, ...).
    pub fn write_image_refs(
        &self,
        layers: &[LayerRef],
        arch: &str,
        config_patch: Value,
    ) -> io::Result<LayoutImage> {
        let descs: Vec<Value> = layers
            .iter()
            .map(|l| json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size}))
            .collect();
        let layer_digests: Vec<String> = layers.iter().map(|l| l.digest.clone()).collect();
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let mut config = json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": layers.iter().map(|_| json!({"created_by": "sightline test-support"})).collect::<Vec<_>>(),
        });
        if let (Some(c), Some(patch)) = (config.as_object_mut(), config_patch.as_object()) {
            for (k, v) in patch {
                c.insert(k.clone(), v.clone());
            }
        }
        let config_bytes = serde_json::to_vec(&config)?;
        let config_digest = self.write_blob(&config_bytes)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_bytes.len()},
            "layers": descs,
        });
        let manifest_bytes = serde_json::to_vec(&manifest)?;
        let manifest_digest = self.write_blob(&manifest_bytes)?;
        Ok(LayoutImage {
            manifest_digest,
            manifest_size: manifest_bytes.len() as u64,
            config_digest,
            layer_digests,
            diff_ids,
        })
    }

    /// Rewrites `index.json` from the entries added with [`OciLayoutWriter::tag`].
    pub fn write_index(&self) -> io::Result<()> {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec_pretty(&index)?,
        )
    }

    /// Writes a nested image index blob over `(platform, image)` pairs; returns
    /// `(digest, size)`. `platform` is `os/arch[/variant]`.
    pub fn write_platform_index(
        &self,
        images: &[(&str, &LayoutImage)],
    ) -> io::Result<(String, u64)> {
        let manifests: Vec<Value> = images
            .iter()
            .map(|(platform, img)| {
                let parts: Vec<&str> = platform.split('/').collect();
                let mut p = json!({"os": parts[0], "architecture": parts[1]});
                if let Some(v) = parts.get(2) {
                    p["variant"] = json!(v);
                }
                json!({"mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": img.manifest_size, "platform": p})
            })
            .collect();
        let bytes = serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}),
        )?;
        let digest = self.write_blob(&bytes)?;
        Ok((digest, bytes.len() as u64))
    }

    /// Adds an `index.json` entry for `digest` (`media_type` manifest or index) with an
    /// optional tag, and rewrites `index.json`.
    pub fn tag(
        &mut self,
        tag: Option<&str>,
        media_type: &str,
        digest: &str,
        size: u64,
    ) -> io::Result<()> {
        let mut entry = json!({"mediaType": media_type, "digest": digest, "size": size});
        if let Some(tag) = tag {
            entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        }
        self.index.push(entry);
        self.write_index()
    }

    /// [`OciLayoutWriter::write_image_refs`] (linux/amd64) + [`OciLayoutWriter::tag`].
    pub fn add_image_refs(
        &mut self,
        tag: &str,
        layers: &[LayerRef],
        config_patch: Value,
    ) -> io::Result<LayoutImage> {
        let img = self.write_image_refs(layers, "amd64", config_patch)?;
        self.tag(
            Some(tag),
            OCI_MANIFEST,
            &img.manifest_digest,
            img.manifest_size,
        )?;
        Ok(img)
    }

    /// Stores `layer`'s blob and returns its [`LayerRef`].
    pub fn store_layer(&self, layer: &TestLayer) -> io::Result<LayerRef> {
        Ok(LayerRef {
            digest: self.write_blob(&layer.blob)?,
            diff_id: layer.diff_id.clone(),
            size: layer.blob.len() as u64,
            media_type: layer.media_type.clone(),
        })
    }

    /// [`OciLayoutWriter::write_image`] (linux/amd64) + [`OciLayoutWriter::tag`].
    pub fn add_image(&mut self, tag: &str, layers: &[TestLayer]) -> io::Result<LayoutImage> {
        let img = self.write_image(layers, "amd64")?;
        self.tag(
            Some(tag),
            OCI_MANIFEST,
            &img.manifest_digest,
            img.manifest_size,
        )?;
        Ok(img)
    }
}
