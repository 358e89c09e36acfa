//! The inventory store: each scanned image digest's [`ImageScan`] (package inventory and
//! secret findings), kept in an embedded [redb](https://docs.rs/redb) file on the operator's
//! volume so that it survives restarts.
//!
//! The store is what lets the operator *re-match instead of re-pull*: when the vulnerability DB
//! updates, every stored inventory is matched again in-process, with no scan Job.
//!
//! * One table, `inventories`: key = the image digest (`sha256:...`), value = one encoded
//!   [`StoredScan`] (see `encoding`: a version byte, then gzip'd JSON).
//! * A value whose version byte this build does not know (written by a newer Sightline) is
//!   treated as absent: [`InventoryStore::contains`] says `false`, [`InventoryStore::digests`]
//!   and [`InventoryStore::len`] leave it out, and [`InventoryStore::get`] returns
//!   [`StoreError::UnsupportedEncoding`] (see [`StoreError::is_unreadable_entry`]). The next
//!   scan of that digest overwrites it in the current encoding.
//! * The file is checked on open (redb's integrity check). A damaged, foreign or unreadable
//!   file does not stop the operator: it is moved aside to `<name>.corrupt-<unix seconds>`
//!   and a fresh store is opened ([`OpenOutcome::recovery`]); nothing is lost but time,
//!   since every image is then rescanned.
//! * [`InventoryStore::get`] keeps the last decoded entries in memory (see `cache`), so the
//!   workloads of one image do not each decompress and parse its inventory.
//!
//! Every write is its own durable transaction. Reads run concurrently from any number of threads
//! (redb's MVCC); the store is `Send + Sync` and meant to be shared in an `Arc`.

mod cache;
mod encoding;
mod error;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use sightline_scan::ImageScan;

pub use cache::DEFAULT_CACHE_ENTRIES;
pub use encoding::{ValueError, ENCODING_V1};
pub use error::StoreError;

use cache::ScanCache;
use encoding::{readable, RecordRef};

/// The one table: image digest → encoded [`StoredScan`].
const INVENTORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("inventories");

/// redb's page cache. Values are compressed and read once per re-match, so a small cache
/// costs little time and keeps the operator's memory low (redb's default is 1 GiB).
const CACHE_BYTES: usize = 16 << 20;

/// The stored scan of one image digest.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScan {
    /// The image's inventory and secret findings, as the scan Job printed them.
    pub scan: ImageScan,
    /// When the image was scanned (for the TTL re-scan backstop).
    pub scanned_at: DateTime<Utc>,
}

/// What [`InventoryStore::open`] did.
#[derive(Debug)]
pub struct OpenOutcome {
    /// The open store.
    pub store: InventoryStore,
    /// Set when the existing file was unusable and moved aside (the store is empty).
    pub recovery: Option<Recovery>,
}

/// An unusable store file moved aside on open.
#[derive(Debug)]
pub struct Recovery {
    /// Where the old file now is (`<name>.corrupt-<unix seconds>`).
    pub moved_to: PathBuf,
    /// What was wrong with it.
    pub cause: StoreError,
}

/// The inventory store (see the [module docs](self)). `Send + Sync`; share it in an `Arc`.
pub struct InventoryStore {
    db: Database,
    path: PathBuf,
    cache: ScanCache,
}

impl std::fmt::Debug for InventoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InventoryStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl InventoryStore {
    /// Opens the store at `path`, creating its parent directory and the file if needed, and
    /// checks the file's integrity; [`InventoryStore::get`] keeps up to `cache_entries`
    /// decoded entries in memory ([`DEFAULT_CACHE_ENTRIES`] is a good default; 0 disables
    /// the cache).
    ///
    /// A file that is not a redb database, is damaged or cannot be read is moved aside to
    /// `<name>.corrupt-<unix seconds>` and a fresh store opened, with a warning in the log;
    /// [`OpenOutcome::recovery`] says so. A file another process holds is
    /// [`StoreError::Locked`].
    pub fn open(path: &Path, cache_entries: usize) -> Result<OpenOutcome, StoreError> {
        let cause = match Self::open_file(path, cache_entries) {
            Ok(store) => {
                return Ok(OpenOutcome {
                    store,
                    recovery: None,
                })
            }
            Err(e) if e.is_bad_file() && path.is_file() => e,
            Err(e) => return Err(e),
        };
        let moved_to = match move_aside(path) {
            Ok(to) => to,
            Err((moved_to, source)) => {
                return Err(StoreError::MoveAside {
                    path: path.to_path_buf(),
                    moved_to,
                    cause: Box::new(cause),
                    source,
                })
            }
        };
        tracing::warn!(
            store = %path.display(),
            moved_to = %moved_to.display(),
            "{cause}; moved the file aside and started a fresh inventory store: every image will be rescanned"
        );
        let store = Self::open_file(path, cache_entries)?;
        Ok(OpenOutcome {
            store,
            recovery: Some(Recovery { moved_to, cause }),
        })
    }

    /// Opens (or creates) the file, checks it and creates the table.
    fn open_file(path: &Path, cache_entries: usize) -> Result<Self, StoreError> {
        let path = path.to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.clone(),
                source,
            })?;
        }
        let mut builder = Database::builder();
        builder
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true);
        // redb's debug builds assert on some impossible-for-its-own-files states; a foreign
        // file must still be an error, never a crash of the operator.
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| builder.create(&path)))
                .map_err(|panic| StoreError::panicked(&path, &panic))?;
        let db = opened.map_err(|e| StoreError::open(&path, e))?;
        let store = InventoryStore {
            db,
            path,
            cache: ScanCache::new(cache_entries),
        };
        // Create the table up front, so readers never meet a missing table.
        let op = "create the table";
        let txn = store.db.begin_write().map_err(|e| store.db_error(op, e))?;
        txn.open_table(INVENTORIES)
            .map_err(|e| store.table_error(op, e))?;
        txn.commit().map_err(|e| store.db_error(op, e))?;
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `scan` for `digest` (replacing what was there), scanned at `scanned_at`.
    /// Durable when it returns.
    pub fn put(
        &self,
        digest: &str,
        scan: &ImageScan,
        scanned_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let op = || format!("put {digest}");
        let value = encoding::encode(&RecordRef { scanned_at, scan }).map_err(|source| {
            StoreError::Encode {
                path: self.path.clone(),
                digest: digest.to_string(),
                source,
            }
        })?;
        self.write(op, |table| {
            table.insert(digest, value.as_slice())?;
            Ok(())
        })?;
        self.cache.invalidate([digest]);
        Ok(())
    }

    /// The stored scan of `digest`, `None` if there is none. Served from memory when it was
    /// read recently.
    ///
    /// An entry this build cannot read is an error for which
    /// [`StoreError::is_unreadable_entry`] holds: treat it as absent.
    pub fn get(&self, digest: &str) -> Result<Option<Arc<StoredScan>>, StoreError> {
        let generation = match self.cache.get(digest) {
            Ok(hit) => return Ok(Some(hit)),
            Err(generation) => generation,
        };
        let op = || format!("get {digest}");
        let txn = self.db.begin_read().map_err(|e| self.db_error(op(), e))?;
        let table = txn
            .open_table(INVENTORIES)
            .map_err(|e| self.table_error(op(), e))?;
        let Some(value) = table.get(digest).map_err(|e| self.db_error(op(), e))? else {
            return Ok(None);
        };
        let stored = encoding::decode(value.value())
            .map_err(|e| StoreError::value(&self.path, digest, e))?;
        let stored = Arc::new(stored);
        self.cache.fill(digest, &stored, generation);
        Ok(Some(stored))
    }

    /// `true` when a scan in a known encoding is stored for `digest` (an entry in an unknown
    /// encoding counts as absent). Only the version byte is checked, not the whole value: a
    /// damaged value still counts, and [`InventoryStore::get`] then reports it.
    pub fn contains(&self, digest: &str) -> Result<bool, StoreError> {
        let op = || format!("look up {digest}");
        let txn = self.db.begin_read().map_err(|e| self.db_error(op(), e))?;
        let table = txn
            .open_table(INVENTORIES)
            .map_err(|e| self.table_error(op(), e))?;
        let found = table.get(digest).map_err(|e| self.db_error(op(), e))?;
        Ok(found.is_some_and(|v| readable(v.value())))
    }

    /// Removes the entry of `digest`; `true` if there was one.
    pub fn remove(&self, digest: &str) -> Result<bool, StoreError> {
        let removed = self.write(
            || format!("remove {digest}"),
            |table| Ok(table.remove(digest)?.is_some()),
        )?;
        self.cache.invalidate([digest]);
        Ok(removed)
    }

    /// Removes every entry whose key `keep` rejects (garbage collection of digests no
    /// workload runs any more), in one transaction; returns how many were removed. Entries
    /// in an unknown encoding are judged by their key like the others.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
        let mut removed: Vec<String> = Vec::new();
        self.write(
            || "remove unused entries".to_string(),
            |table| {
                table.retain(|key, _| {
                    let kept = keep(key);
                    if !kept {
                        removed.push(key.to_string());
                    }
                    kept
                })?;
                Ok(())
            },
        )?;
        self.cache.invalidate(removed.iter().map(String::as_str));
        Ok(removed.len())
    }

    /// The digests stored in a known encoding (see [`InventoryStore::contains`]), sorted.
    /// Walks the whole table.
    pub fn digests(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        self.each_readable("list digests", |digest| out.push(digest.to_string()))?;
        // redb keeps `&str` keys in byte order, which is `String`'s order; sort anyway so the
        // promise does not rest on the table's key type.
        out.sort_unstable();
        Ok(out)
    }

    /// The number of digests stored in a known encoding (see [`InventoryStore::contains`]).
    /// Walks the whole table.
    pub fn len(&self) -> Result<usize, StoreError> {
        let mut n = 0;
        self.each_readable("count entries", |_| n += 1)?;
        Ok(n)
    }

    /// `true` when no scan in a known encoding is stored.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Runs `f` on the table in one write transaction and commits it.
    fn write<T>(
        &self,
        op: impl Fn() -> String,
        f: impl FnOnce(
            &mut redb::Table<'_, &'static str, &'static [u8]>,
        ) -> Result<T, redb::StorageError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.db_error(op(), e))?;
        let out = {
            let mut table = txn
                .open_table(INVENTORIES)
                .map_err(|e| self.table_error(op(), e))?;
            f(&mut table).map_err(|e| self.db_error(op(), e))?
        };
        txn.commit().map_err(|e| self.db_error(op(), e))?;
        Ok(out)
    }

    /// Calls `f` with the key of every entry in a known encoding.
    fn each_readable(&self, op: &str, mut f: impl FnMut(&str)) -> Result<(), StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.db_error(op, e))?;
        let table = txn
            .open_table(INVENTORIES)
            .map_err(|e| self.table_error(op, e))?;
        for entry in table.iter().map_err(|e| self.db_error(op, e))? {
            let (key, value) = entry.map_err(|e| self.db_error(op, e))?;
            if readable(value.value()) {
                f(key.value());
            }
        }
        Ok(())
    }

    fn db_error(&self, operation: impl Into<String>, e: impl Into<redb::Error>) -> StoreError {
        StoreError::db(&self.path, operation, e)
    }

    fn table_error(&self, operation: impl Into<String>, e: redb::TableError) -> StoreError {
        StoreError::table(&self.path, operation, e)
    }
}

/// Renames the unusable file at `path` to `<name>.corrupt-<unix seconds>` (with `-<n>` added
/// if that exists); the new path, or the attempted one and the error.
fn move_aside(path: &Path) -> Result<PathBuf, (PathBuf, std::io::Error)> {
    let secs = Utc::now().timestamp();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "inventory.redb".into());
    let mut to = path.with_file_name(format!("{name}.corrupt-{secs}"));
    let mut n = 1;
    while to.exists() {
        to = path.with_file_name(format!("{name}.corrupt-{secs}-{n}"));
        n += 1;
    }
    std::fs::rename(path, &to)
        .map(|()| to.clone())
        .map_err(|e| (to, e))
}
