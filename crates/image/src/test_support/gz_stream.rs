//! Streaming deflate and gzip for huge test layers that are never held in memory.
//!
//! A run of `n` identical bytes is emitted as copies of one precompressed 64 MiB chunk:
//! each chunk is a fresh compressor's output ended by a full flush, so it starts on a byte
//! boundary and refers to nothing before it, and any number of copies followed by the
//! rest of the stream form one valid deflate stream (one gzip member). That is how a
//! 10 GiB layer of zeros (~10 MB compressed) is written in seconds; the CRC and the
//! uncompressed sha256 (`diff_id`) are still computed over every byte.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use sha2::{Digest as _, Sha256};

use super::{FillWrite, LayerRef, OciLayoutWriter, LAYER_GZIP};

/// Size of one precompressed run.
const CHUNK: u64 = 64 << 20;
/// Runs shorter than this are compressed like any other bytes.
const MIN_RUN: u64 = 1 << 20;

/// A raw deflate stream (RFC 1951) into `out`, with the CRC-32 and size of what went in.
pub struct DeflateStream<W: Write> {
    out: W,
    level: Compression,
    deflate: Compress,
    scratch: Vec<u8>,
    crc: Crc,
    size: u64,
    written: u64,
    chunk: u64,
    chunks: HashMap<u8, Vec<u8>>,
}

/// What a finished [`DeflateStream`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct DeflateSummary {
    /// CRC-32 of the uncompressed bytes.
    pub crc: u32,
    /// Uncompressed size.
    pub size: u64,
    /// Compressed size.
    pub compressed: u64,
}

impl<W: Write> DeflateStream<W> {
    /// A stream at `level` (runs are always compressed at the best level).
    pub fn new(out: W, level: Compression) -> Self {
        DeflateStream {
            out,
            level,
            deflate: Compress::new(level, false),
            scratch: Vec::with_capacity(256 << 10),
            crc: Crc::new(),
            size: 0,
            written: 0,
            chunk: CHUNK,
            chunks: HashMap::new(),
        }
    }

    fn run(
        deflate: &mut Compress,
        scratch: &mut Vec<u8>,
        out: &mut impl Write,
        mut input: &[u8],
        flush: FlushCompress,
    ) -> io::Result<u64> {
        let mut written = 0;
        loop {
            scratch.clear();
            let before = deflate.total_in();
            let status = deflate
                .compress_vec(input, scratch, flush)
                .map_err(io::Error::other)?;
            input = &input[(deflate.total_in() - before) as usize..];
            out.write_all(scratch)?;
            written += scratch.len() as u64;
            let full = scratch.len() == scratch.capacity();
            let done = match flush {
                FlushCompress::Finish => status == Status::StreamEnd,
                FlushCompress::None => input.is_empty(),
                _ => input.is_empty() && !full,
            };
            if done {
                return Ok(written);
            }
        }
    }

    fn compressed_run(byte: u8, len: u64) -> io::Result<Vec<u8>> {
        let mut deflate = Compress::new(Compression::best(), false);
        let mut scratch = Vec::with_capacity(256 << 10);
        let mut out: Vec<u8> = Vec::new();
        let buf = vec![byte; 1 << 20];
        let mut left = len;
        while left > 0 {
            let k = left.min(buf.len() as u64) as usize;
            Self::run(
                &mut deflate,
                &mut scratch,
                &mut out,
                &buf[..k],
                FlushCompress::None,
            )?;
            left -= k as u64;
        }
        Self::run(
            &mut deflate,
            &mut scratch,
            &mut out,
            &[],
            FlushCompress::Full,
        )?;
        Ok(out)
    }

    /// Ends the current compressor's part with a full flush and starts a fresh one.
    fn cut(&mut self) -> io::Result<()> {
        self.written += Self::run(
            &mut self.deflate,
            &mut self.scratch,
            &mut self.out,
            &[],
            FlushCompress::Full,
        )?;
        self.deflate = Compress::new(self.level, false);
        Ok(())
    }

    /// Finishes the stream (final block); returns the writer and what was written.
    pub fn finish(mut self) -> io::Result<(W, DeflateSummary)> {
        self.written += Self::run(
            &mut self.deflate,
            &mut self.scratch,
            &mut self.out,
            &[],
            FlushCompress::Finish,
        )?;
        let summary = DeflateSummary {
            crc: self.crc.sum(),
            size: self.size,
            compressed: self.written,
        };
        Ok((self.out, summary))
    }
}

impl<W: Write> Write for DeflateStream<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.crc.update(buf);
        self.size += buf.len() as u64;
        self.written += Self::run(
            &mut self.deflate,
            &mut self.scratch,
            &mut self.out,
            buf,
            FlushCompress::None,
        )?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> FillWrite for DeflateStream<W> {
    fn fill(&mut self, byte: u8, n: u64) -> io::Result<()> {
        if n < MIN_RUN {
            let buf = vec![byte; n as usize];
            return self.write_all(&buf);
        }
        self.cut()?;
        let piece = vec![byte; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(piece.len() as u64) as usize;
            self.crc.update(&piece[..k]);
            left -= k as u64;
        }
        self.size += n;
        let copies = n / self.chunk;
        if copies > 0 {
            if !self.chunks.contains_key(&byte) {
                let chunk = Self::compressed_run(byte, self.chunk)?;
                self.chunks.insert(byte, chunk);
            }
            let chunk = &self.chunks[&byte];
            for _ in 0..copies {
                self.out.write_all(chunk)?;
                self.written += chunk.len() as u64;
            }
        }
        if !n.is_multiple_of(self.chunk) {
            let rest = Self::compressed_run(byte, n % self.chunk)?;
            self.out.write_all(&rest)?;
            self.written += rest.len() as u64;
        }
        Ok(())
    }
}

/// A file writer that hashes what it writes (the blob digest).
struct HashingFile {
    file: BufWriter<File>,
    hash: Sha256,
    size: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A gzip layer blob streamed into an OCI layout: the tar bytes written here are hashed
/// (`diff_id`), compressed (one gzip member) and written to a temporary file that
/// [`GzLayerWriter::finish`] renames to its digest. Use it under [`super::TarBuilder::on`].
pub struct GzLayerWriter {
    blobs: PathBuf,
    tmp: PathBuf,
    tar_hash: Sha256,
    deflate: DeflateStream<HashingFile>,
}

impl GzLayerWriter {
    /// Starts a layer blob in `layout` at compression `level`.
    pub fn create(layout: &OciLayoutWriter, level: Compression) -> io::Result<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        let blobs = layout.dir().join("blobs").join("sha256");
        let tmp = layout.dir().join("blobs").join(format!(
            ".incoming-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = HashingFile {
            file: BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
            hash: Sha256::new(),
            size: 0,
        };
        // gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown.
        file.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
        Ok(GzLayerWriter {
            blobs,
            tmp,
            tar_hash: Sha256::new(),
            deflate: DeflateStream::new(file, level),
        })
    }

    /// Ends the gzip member, stores the blob under its digest and returns its [`LayerRef`].
    pub fn finish(self) -> io::Result<LayerRef> {
        let (mut file, summary) = self.deflate.finish()?;
        file.write_all(&summary.crc.to_le_bytes())?;
        file.write_all(&(summary.size as u32).to_le_bytes())?;
        file.flush()?;
        let digest = format!("sha256:{}", hex::encode(file.hash.finalize()));
        let size = file.size;
        drop(file.file);
        std::fs::rename(
            &self.tmp,
            self.blobs.join(digest.trim_start_matches("sha256:")),
        )?;
        Ok(LayerRef {
            digest,
            diff_id: format!("sha256:{}", hex::encode(self.tar_hash.finalize())),
            size,
            media_type: LAYER_GZIP.into(),
        })
    }
}

impl Write for GzLayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tar_hash.update(buf);
        self.deflate.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.deflate.flush()
    }
}

impl FillWrite for GzLayerWriter {
    fn fill(&mut self, byte: u8, n: u64) -> io::Result<()> {
        let piece = vec![byte; 1 << 20];
        let mut left = n;
        while left > 0 {
            let k = left.min(piece.len() as u64) as usize;
            self.tar_hash.update(&piece[..k]);
            left -= k as u64;
        }
        self.deflate.fill(byte, n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::test_support::{sha256_digest, TarBuilder};

    #[test]
    fn runs_and_bytes_make_one_valid_deflate_stream() {
        let mut s = DeflateStream::new(Vec::new(), Compression::fast());
        s.chunk = 4 << 20;
        let run = s.chunk * 2 + 12345;
        s.write_all(b"head").unwrap();
        s.fill(b'z', run).unwrap();
        s.write_all(b"middle").unwrap();
        s.fill(0, MIN_RUN - 1).unwrap();
        s.write_all(b"tail").unwrap();
        let (out, summary) = s.finish().unwrap();
        assert_eq!(summary.size, 4 + run + 6 + MIN_RUN - 1 + 4);
        assert!(out.len() < 1 << 20, "runs compress: {}", out.len());
        let mut plain = Vec::new();
        flate2::read::DeflateDecoder::new(out.as_slice())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain.len() as u64, summary.size);
        assert_eq!(&plain[..4], b"head");
        assert!(plain[4..4 + run as usize].iter().all(|&b| b == b'z'));
        let middle = 4 + run as usize;
        assert_eq!(&plain[middle..middle + 6], b"middle");
        assert_eq!(&plain[plain.len() - 4..], b"tail");
        let mut crc = Crc::new();
        crc.update(&plain);
        assert_eq!(crc.sum(), summary.crc);
    }

    #[test]
    fn a_streamed_layer_has_the_digests_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayoutWriter::create(dir.path()).unwrap();
        let w = GzLayerWriter::create(&layout, Compression::fast()).unwrap();
        let layer = TarBuilder::on(w)
            .file("etc/os-release", "ID=debian\n")
            .filled_entry(tar::EntryType::Regular, "big", 3 * MIN_RUN + 7, 0)
            .finish()
            .finish()
            .unwrap();
        let blob = std::fs::read(layout.blob_path(&layer.digest)).unwrap();
        assert_eq!(sha256_digest(&blob), layer.digest);
        assert_eq!(blob.len() as u64, layer.size);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(blob.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(sha256_digest(&tar), layer.diff_id);
        let mut archive = tar::Archive::new(tar.as_slice());
        let sizes: Vec<(String, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.size())
            })
            .collect();
        assert_eq!(
            sizes,
            vec![
                ("etc/os-release".into(), 10),
                ("big".into(), 3 * MIN_RUN + 7)
            ]
        );
    }
}
