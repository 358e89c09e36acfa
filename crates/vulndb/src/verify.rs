//! Full structural check of a BoltDB file, independent of bbolt-rs.
//!
//! [`crate::VulnDb::open`] checks only the header (cheap), which catches empty, truncated and
//! foreign files. A file whose header is sound but whose tree pages are damaged (bit rot, a
//! bad copy) would still make bbolt-rs read outside its memory map, since bbolt-rs follows page
//! ids and element offsets without bounds checks. [`crate::VulnDb::verify`] walks every bucket
//! tree with plain reads and checks that every page id, element and key/value lies inside the
//! data, that every page is a branch or leaf page referenced once (no cycles), and that inline
//! buckets are well formed. It reads each tree page once (streaming, one page span in memory at
//! a time), so run it after a download rather than on every open.

use std::fs::File;

use crate::header::{
    read_exact_at, u16_at, u32_at, u64_at, Header, HeaderError, BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG,
    PAGE_HEADER_SIZE,
};

/// Size of a branch or leaf element.
const ELEMENT_SIZE: usize = 16;
/// Leaf element flag marking a nested bucket.
const BUCKET_LEAF_FLAG: u32 = 0x01;
/// Size of a bucket header `{root u64, sequence u64}` at the start of a bucket value.
const BUCKET_HEADER_SIZE: usize = 16;
/// Maximum nesting of trees and buckets followed (a sound trivy.db needs about 10).
const MAX_DEPTH: usize = 256;

/// What [`crate::VulnDb::verify`] walked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyStats {
    /// Branch and leaf pages read (overflow pages not counted separately).
    pub pages: u64,
    /// Buckets, including the top-level ones.
    pub buckets: u64,
    /// Key/value pairs that are not buckets.
    pub keys: u64,
}

struct Walker<'a> {
    file: &'a File,
    page_size: u64,
    high_water: u64,
    /// One bit per page id below the high-water mark: already reached.
    seen: Vec<u64>,
    stats: VerifyStats,
    /// Only the root tree and the top-level buckets' headers (and inline pages): the part
    /// bbolt-rs reads when the top-level buckets are listed.
    top_level_only: bool,
}

pub(crate) fn verify(file: &File, header: &Header) -> Result<VerifyStats, HeaderError> {
    walk(file, header, false)
}

/// [`verify`] limited to what listing the top-level buckets reads: the root bucket's tree and
/// each top-level bucket's header (an inline bucket's page included), not the trees of the
/// buckets. Cheap (a trivy.db's root tree is a page or two), so [`crate::VulnDb::open`] runs
/// it before bbolt-rs lists the buckets: bbolt-rs trusts element offsets and lengths, and a
/// damaged root page made it read past its memory map (found by fuzzing).
pub(crate) fn verify_top_level(file: &File, header: &Header) -> Result<(), HeaderError> {
    walk(file, header, true).map(|_| ())
}

fn walk(file: &File, header: &Header, top_level_only: bool) -> Result<VerifyStats, HeaderError> {
    let high_water = header.meta.pgid;
    // The header check bounded pgid * page_size by the file's length; on a target where that
    // does not fit usize the file cannot be mapped either.
    let Ok(words) = usize::try_from(high_water.div_ceil(64)) else {
        return corrupt(format!(
            "{high_water} pages are more than this machine can address"
        ));
    };
    let mut w = Walker {
        file,
        page_size: header.page_size as u64,
        high_water,
        seen: vec![0; words],
        stats: VerifyStats::default(),
        top_level_only,
    };
    w.tree(header.meta.root, 0, "root", Bounds::default())?;
    Ok(w.stats)
}

/// The key range a page's keys must fall in: `[lo, hi)`, `None` = unbounded (bbolt-rs finds
/// keys by binary search, so misordered keys make it miss buckets it listed, and panic).
#[derive(Clone, Copy, Default)]
struct Bounds<'k> {
    lo: Option<&'k [u8]>,
    hi: Option<&'k [u8]>,
}

impl Bounds<'_> {
    fn contains(&self, key: &[u8]) -> bool {
        self.lo.is_none_or(|lo| key >= lo) && self.hi.is_none_or(|hi| key < hi)
    }
}

fn corrupt<T>(reason: String) -> Result<T, HeaderError> {
    Err(HeaderError::Corrupt(reason))
}

impl Walker<'_> {
    /// Walks the tree whose root page is `pgid`.
    fn tree(
        &mut self,
        pgid: u64,
        depth: usize,
        at: &str,
        bounds: Bounds<'_>,
    ) -> Result<(), HeaderError> {
        if depth > MAX_DEPTH {
            return corrupt(format!("{at}: trees nested deeper than {MAX_DEPTH} levels"));
        }
        if pgid < 2 || pgid >= self.high_water {
            return corrupt(format!(
                "{at}: page id {pgid} outside the data (pages 2..{})",
                self.high_water
            ));
        }
        let head = read_exact_at(
            self.file,
            pgid * self.page_size,
            PAGE_HEADER_SIZE.min(usize::try_from(self.page_size).unwrap_or(usize::MAX)),
        )?;
        let (id, overflow) = (u64_at(&head, 0), u64::from(u32_at(&head, 12)));
        if id != pgid {
            return corrupt(format!("{at}: page {pgid} says it is page {id}"));
        }
        if pgid + overflow >= self.high_water {
            return corrupt(format!(
                "{at}: page {pgid} with {overflow} overflow pages runs past the data"
            ));
        }
        for p in pgid..=pgid + overflow {
            // p < high_water, whose word count fits usize (checked in `verify`).
            let Ok(word) = usize::try_from(p / 64) else {
                return corrupt(format!("{at}: page {p} past the addressable pages"));
            };
            let bit = 1u64 << (p % 64);
            if self.seen[word] & bit != 0 {
                return corrupt(format!(
                    "{at}: page {p} is reached twice (a cycle or shared page)"
                ));
            }
            self.seen[word] |= bit;
        }
        let Ok(span_len) = usize::try_from((overflow + 1) * self.page_size) else {
            return corrupt(format!(
                "{at}: page {pgid} spans more than this machine can address"
            ));
        };
        let span = read_exact_at(self.file, pgid * self.page_size, span_len)?;
        self.stats.pages += 1;
        let at = format!("{at} > page {pgid}");
        self.node(&span, depth, &at, bounds)
    }

    /// Checks one branch or leaf page held in `page` (a page span, or an inline bucket page).
    fn node(
        &mut self,
        page: &[u8],
        depth: usize,
        at: &str,
        bounds: Bounds<'_>,
    ) -> Result<(), HeaderError> {
        if page.len() < PAGE_HEADER_SIZE {
            return corrupt(format!("{at}: page shorter than its header"));
        }
        let flags = u16_at(page, 8);
        let count = usize::from(u16_at(page, 10));
        let table_end = PAGE_HEADER_SIZE + count * ELEMENT_SIZE;
        if table_end > page.len() {
            return corrupt(format!("{at}: {count} elements do not fit in the page"));
        }
        let slice = |elem: usize, pos: u32, len: u32| -> Result<&[u8], HeaderError> {
            let start = elem + pos as usize;
            match start.checked_add(len as usize) {
                Some(end) if end <= page.len() => Ok(&page[start..end]),
                _ => corrupt(format!("{at}: element data runs past the page")),
            }
        };
        match flags {
            BRANCH_PAGE_FLAG => {
                if count == 0 {
                    return corrupt(format!("{at}: empty branch page"));
                }
                let mut keys = Vec::with_capacity(count);
                for i in 0..count {
                    let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
                    keys.push(slice(e, u32_at(page, e), u32_at(page, e + 4))?);
                }
                check_order(&keys, bounds, at)?;
                for (i, key) in keys.iter().enumerate() {
                    let child = u64_at(page, PAGE_HEADER_SIZE + i * ELEMENT_SIZE + 8);
                    let child_bounds = Bounds {
                        lo: Some(key),
                        hi: keys.get(i + 1).copied().or(bounds.hi),
                    };
                    self.tree(child, depth + 1, at, child_bounds)?;
                }
            }
            LEAF_PAGE_FLAG => {
                let mut keys = Vec::with_capacity(count);
                for i in 0..count {
                    let e = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
                    let (eflags, pos, ksize, vsize) = (
                        u32_at(page, e),
                        u32_at(page, e + 4),
                        u32_at(page, e + 8),
                        u32_at(page, e + 12),
                    );
                    let key = slice(e, pos, ksize)?;
                    let value = slice(e, pos.saturating_add(ksize), vsize)?;
                    keys.push(key);
                    if eflags & BUCKET_LEAF_FLAG == 0 {
                        self.stats.keys += 1;
                        continue;
                    }
                    self.stats.buckets += 1;
                    let at = format!("{at} > bucket {:?}", String::from_utf8_lossy(key));
                    if value.len() < BUCKET_HEADER_SIZE {
                        return corrupt(format!("{at}: bucket header too short"));
                    }
                    match u64_at(value, 0) {
                        // An inline bucket: its page follows the header inside the value.
                        0 => self.node(
                            &value[BUCKET_HEADER_SIZE..],
                            depth + 1,
                            &at,
                            Bounds::default(),
                        )?,
                        _ if self.top_level_only => {}
                        root => self.tree(root, depth + 1, &at, Bounds::default())?,
                    }
                }
                check_order(&keys, bounds, at)?;
            }
            other => {
                return corrupt(format!(
                    "{at}: not a branch or leaf page (flags {other:#x})"
                ))
            }
        }
        Ok(())
    }
}

/// Keys of one page must be strictly ascending and inside the range the parent gives.
fn check_order(keys: &[&[u8]], bounds: Bounds<'_>, at: &str) -> Result<(), HeaderError> {
    for (i, key) in keys.iter().enumerate() {
        if i > 0 && keys[i - 1] >= *key {
            return corrupt(format!("{at}: keys out of order"));
        }
        if !bounds.contains(key) {
            return corrupt(format!(
                "{at}: key {:?} outside the range of its parent branch",
                String::from_utf8_lossy(key)
            ));
        }
    }
    Ok(())
}
