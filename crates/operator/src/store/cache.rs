//! A small LRU cache of decoded entries, so the same inventory is not decompressed and
//! parsed again for every workload running the same image.
//!
//! Writers invalidate after their commit and bump a generation; a reader fills the cache only
//! if the generation it saw before reading the database is still current, so a value read
//! before a write can never be cached after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::StoredScan;
use crate::sync::MutexExt;

/// The default number of decoded entries kept in memory.
pub const DEFAULT_CACHE_ENTRIES: usize = 64;

/// Decoded entries by key, least recently used evicted first.
#[derive(Debug)]
pub(super) struct ScanCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// key → (value, last use).
    entries: HashMap<String, (Arc<StoredScan>, u64)>,
    /// Use counter: the last-use stamps.
    clock: u64,
    /// Bumped by every invalidation.
    generation: u64,
}

impl ScanCache {
    /// A cache of at most `capacity` entries (0 disables it).
    pub(super) fn new(capacity: usize) -> Self {
        ScanCache {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The cached value of `key`, and the generation to pass to [`ScanCache::fill`] after a
    /// miss.
    pub(super) fn get(&self, key: &str) -> Result<Arc<StoredScan>, u64> {
        let mut inner = self.inner.locked();
        inner.clock += 1;
        let now = inner.clock;
        match inner.entries.get_mut(key) {
            Some((value, used)) => {
                *used = now;
                Ok(Arc::clone(value))
            }
            None => Err(inner.generation),
        }
    }

    /// Caches `value` for `key`, read from the database after [`ScanCache::get`] returned
    /// `generation`, unless something was invalidated since.
    pub(super) fn fill(&self, key: &str, value: &Arc<StoredScan>, generation: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.locked();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= self.capacity && !inner.entries.contains_key(key) {
            let oldest = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                inner.entries.remove(&oldest);
            }
        }
        inner.clock += 1;
        let now = inner.clock;
        inner
            .entries
            .insert(key.to_string(), (Arc::clone(value), now));
    }

    /// Forgets `keys` (call after the write that changed them committed).
    pub(super) fn invalidate<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.inner.locked();
        inner.generation += 1;
        for k in keys {
            inner.entries.remove(k);
        }
    }

    /// The number of cached entries.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.inner.locked().entries.len()
    }
}
