//! BoltDB header checks done before a file is handed to bbolt-rs.
//!
//! bbolt-rs trusts the file: it panics when no meta page is valid and dereferences page ids
//! without bounds checks, so a truncated file whose meta page survived makes it read past the
//! end of its memory map (a crash, not a panic). This module reads the two meta pages with
//! plain reads, makes the same choice bbolt-rs will make (page size, newest valid meta page),
//! and refuses the file unless that meta page is sound and the file really holds every page it
//! claims (`meta.pgid * page_size <= file length`) and the root page is a tree page.
//!
//! On-disk layout (Go bbolt, little-endian on the platforms we run on):
//! page header `{id u64, flags u16, count u16, overflow u32}` (16 bytes), then on meta pages
//! `{magic u32, version u32, page_size u32, flags u32, root {pgid u64, sequence u64},
//! freelist u64, pgid u64, txid u64, checksum u64}` (64 bytes); the checksum is FNV-1a 64 of
//! the first 56 bytes of the meta.

use std::fs::File;
use std::io;

/// Go bbolt's magic number (bbolt-rs writes it with the `compat` feature).
pub(crate) const MAGIC: u32 = 0xED0C_DAED;
/// bbolt-rs's own magic number without `compat`: files that Go (and we) cannot read.
const MAGIC_BBOLT_RS_NATIVE: u32 = 0x5caf_f01d;
/// The only BoltDB data format version.
pub(crate) const VERSION: u32 = 2;
/// Size of a page header.
pub(crate) const PAGE_HEADER_SIZE: usize = 16;
const META_SIZE: usize = 64;
/// Bytes covered by the meta checksum.
const META_CHECKSUM_SPAN: usize = 56;
pub(crate) const BRANCH_PAGE_FLAG: u16 = 0x01;
pub(crate) const LEAF_PAGE_FLAG: u16 = 0x02;
const META_PAGE_FLAG: u16 = 0x04;
const PGID_NO_FREELIST: u64 = u64::MAX;
/// Smallest and largest page sizes accepted (Go uses the OS page size: 4 KiB to 64 KiB).
const MIN_PAGE_SIZE: usize = 1024;
const MAX_PAGE_SIZE: usize = 1 << 20;

/// The fields of a meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub magic: u32,
    pub version: u32,
    pub page_size: u32,
    pub root: u64,
    pub freelist: u64,
    pub pgid: u64,
    pub txid: u64,
    pub checksum: u64,
    /// FNV-1a of the meta's first 56 bytes.
    pub computed_checksum: u64,
}

impl Meta {
    /// Parses the meta at the start of `page` (which must hold at least 80 bytes).
    fn parse(page: &[u8]) -> Meta {
        let m = &page[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + META_SIZE];
        Meta {
            magic: u32_at(m, 0),
            version: u32_at(m, 4),
            page_size: u32_at(m, 8),
            root: u64_at(m, 16),
            freelist: u64_at(m, 32),
            pgid: u64_at(m, 40),
            txid: u64_at(m, 48),
            checksum: u64_at(m, 56),
            computed_checksum: fnv1a64(&m[..META_CHECKSUM_SPAN]),
        }
    }

    /// bbolt's `meta.validate()`: magic, version, checksum.
    fn validate(&self) -> Result<(), String> {
        if self.magic != MAGIC {
            return Err(if self.magic == MAGIC_BBOLT_RS_NATIVE {
                "written by bbolt-rs without its `compat` feature, not a Go bbolt file".into()
            } else {
                format!("not a BoltDB file (magic {:#010x})", self.magic)
            });
        }
        if self.version != VERSION {
            return Err(format!("unsupported BoltDB version {}", self.version));
        }
        if self.checksum != self.computed_checksum {
            return Err("meta page checksum mismatch".into());
        }
        Ok(())
    }
}

/// What the header check found: the page size and the meta page bbolt-rs will use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub page_size: usize,
    pub meta: Meta,
    pub file_len: u64,
}

/// Why a file was refused.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// Reading failed.
    Io(io::Error),
    /// The file is not a sound BoltDB.
    Corrupt(String),
}

impl From<io::Error> for HeaderError {
    fn from(e: io::Error) -> Self {
        HeaderError::Io(e)
    }
}

fn corrupt<T>(reason: impl Into<String>) -> Result<T, HeaderError> {
    Err(HeaderError::Corrupt(reason.into()))
}

/// Checks the BoltDB header of `file` (of length `file_len`), see the module docs.
pub(crate) fn check(file: &File, file_len: u64) -> Result<Header, HeaderError> {
    if file_len == 0 {
        return corrupt("the file is empty");
    }
    let min = (PAGE_HEADER_SIZE + META_SIZE) as u64;
    if file_len < min {
        return corrupt(format!(
            "the file is only {file_len} bytes, too small for a BoltDB header"
        ));
    }

    let page_size = page_size(file, file_len)?;
    if !page_size.is_power_of_two() || !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size) {
        return corrupt(format!("implausible page size {page_size}"));
    }
    if file_len < 2 * page_size as u64 {
        return corrupt(format!(
            "truncated: {file_len} bytes, less than the two meta pages of {page_size} bytes"
        ));
    }

    // The same choice as bbolt-rs's `DBBackend::meta()`: the meta page with the higher txid if
    // it is valid, else the other one.
    let meta0 = Meta::parse(&read_exact_at(file, 0, PAGE_HEADER_SIZE + META_SIZE)?);
    let meta1 = Meta::parse(&read_exact_at(
        file,
        page_size as u64,
        PAGE_HEADER_SIZE + META_SIZE,
    )?);
    let (first, second) = if meta1.txid > meta0.txid {
        (meta1, meta0)
    } else {
        (meta0, meta1)
    };
    let meta = match (first.validate(), second.validate()) {
        (Ok(()), _) => first,
        (Err(_), Ok(())) => second,
        (Err(e), Err(_)) => return corrupt(format!("no valid meta page: {e}")),
    };

    if meta.page_size as usize != page_size {
        return corrupt(format!(
            "the meta pages disagree on the page size ({} and {page_size})",
            meta.page_size
        ));
    }
    if meta.freelist == PGID_NO_FREELIST {
        return corrupt(
            "the freelist is not synced to disk (bolt NoFreelistSync), which bbolt-rs cannot read",
        );
    }
    if meta.pgid < 4 || meta.root < 2 || meta.root >= meta.pgid {
        return corrupt(format!(
            "root page {} outside the {} pages the header declares",
            meta.root, meta.pgid
        ));
    }
    if meta.freelist < 2 || meta.freelist >= meta.pgid {
        return corrupt(format!(
            "freelist page {} outside the {} pages the header declares",
            meta.freelist, meta.pgid
        ));
    }
    let data_end = meta.pgid.checked_mul(page_size as u64);
    match data_end {
        Some(end) if end <= file_len => {}
        _ => {
            return corrupt(format!(
                "truncated: the header declares {} pages of {page_size} bytes ({} bytes) but the file has {file_len} bytes",
                meta.pgid,
                data_end.map_or_else(|| "more than 2^64".to_string(), |e| e.to_string()),
            ))
        }
    }

    // The root page must be a tree page that fits in the data.
    let root = read_exact_at(file, meta.root * page_size as u64, PAGE_HEADER_SIZE)?;
    let (id, flags, overflow) = (u64_at(&root, 0), u16_at(&root, 8), u32_at(&root, 12));
    if id != meta.root || flags & (BRANCH_PAGE_FLAG | LEAF_PAGE_FLAG) == 0 {
        return corrupt(format!(
            "root page {} is not a tree page (id {id}, flags {flags:#x})",
            meta.root
        ));
    }
    if meta.root + u64::from(overflow) >= meta.pgid {
        return corrupt(format!(
            "root page {} overflows past the end of the data",
            meta.root
        ));
    }

    Ok(Header {
        page_size,
        meta,
        file_len,
    })
}

/// bbolt-rs's `FileBackend::get_page_size`: the page size of meta page 0 if it is valid, else
/// of the first valid meta page found at 1 KiB, 2 KiB, 4 KiB, ... (meta page 1 sits at one page).
fn page_size(file: &File, file_len: u64) -> Result<usize, HeaderError> {
    const PROBE: usize = 4096;
    let first = read_at_most(file, 0, PROBE)?;
    let mut first_error = None;
    if first.len() >= PAGE_HEADER_SIZE + META_SIZE {
        let meta = Meta::parse(&first);
        match meta.validate() {
            Ok(()) if first.len() == PROBE && u16_at(&first, 8) == META_PAGE_FLAG => {
                return Ok(meta.page_size as usize)
            }
            Ok(()) => {}
            Err(e) => first_error = Some(e),
        }
    }
    for i in 0..15u32 {
        let pos = 1024u64 << i;
        if file_len < 1024 || pos >= file_len - 1024 {
            break;
        }
        let buf = read_at_most(file, pos, PROBE)?;
        if buf.len() == PROBE || buf.len() as u64 == file_len - pos {
            let meta = Meta::parse(&buf);
            if u16_at(&buf, 8) == META_PAGE_FLAG && meta.validate().is_ok() {
                return Ok(meta.page_size as usize);
            }
        }
    }
    corrupt(match first_error {
        Some(e) => format!("no valid meta page: {e}"),
        None => "no valid meta page".to_string(),
    })
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file). Positional (`pread`), so
/// threads sharing the `File` do not race on its offset.
#[cfg(unix)]
pub(crate) fn read_at_most(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file).
#[cfg(not(unix))]
pub(crate) fn read_at_most(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::with_capacity(len);
    f.take(len as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads exactly `len` bytes at `offset`.
pub(crate) fn read_exact_at(file: &File, offset: u64, len: usize) -> Result<Vec<u8>, HeaderError> {
    let buf = read_at_most(file, offset, len)?;
    if buf.len() != len {
        return corrupt(format!(
            "truncated: cannot read {len} bytes at offset {offset}"
        ));
    }
    Ok(buf)
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// FNV-1a, 64 bit (Go's `hash/fnv.New64a`, which bolt uses for the meta checksum).
fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
