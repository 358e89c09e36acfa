//! The inventory store: each scanned image digest's [`ImageScan`] (package inventory and
//! secret findings), kept in an embedded [redb](https://docs.rs/redb) file on the operator's
//! volume so that it survives restarts.
//!
//! The store is what lets the operator *re-match instead of re-pull*: when the vulnerability DB
//! updates, every stored inventory is matched again in-process, with no scan Job.
//!
//! * One table, `inventories`: key = the image digest (`sha256:...`), value = one encoded
//!   [`StoredScan`].
//! * Value encoding, version 1 ([`ENCODING_V1`]): one version byte, then the gzip'd JSON of
//!   `{"scannedAt": <RFC 3339>, "scan": <ImageScan>}`. An inventory of a few hundred packages
//!   takes a few kilobytes.
//! * A value whose version byte this build does not know (written by a newer Sightline) is
//!   treated as absent: [`InventoryStore::contains`] says `false`, [`InventoryStore::digests`]
//!   and [`InventoryStore::len`] leave it out, and [`InventoryStore::get`] returns
//!   [`StoreError::UnsupportedEncoding`] (see [`StoreError::is_unreadable_entry`]). The next
//!   scan of that digest overwrites it in the current encoding.
//! * The file is checked on open (redb's integrity check): a damaged or foreign file is a
//!   [`StoreError::Corrupt`] whose message says to delete it; nothing is lost but time, since
//!   every image is then rescanned.
//!
//! Every write is its own durable transaction. Reads run concurrently from any number of threads
//! (redb's MVCC); the store is `Send + Sync` and meant to be shared in an `Arc`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
    TableError,
};
use serde::{Deserialize, Serialize};
use sightline_scan::ImageScan;

/// The one table: image digest → encoded [`StoredScan`].
const INVENTORIES: TableDefinition<&str, &[u8]> = TableDefinition::new("inventories");

/// Value encoding version 1: the version byte, then gzip'd JSON of `{"scannedAt", "scan"}`.
pub const ENCODING_V1: u8 = 1;

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

/// The JSON record inside a version-1 value (borrowing, for writing).
#[derive(Serialize)]
struct RecordRef<'a> {
    #[serde(rename = "scannedAt")]
    scanned_at: DateTime<Utc>,
    scan: &'a ImageScan,
}

/// The JSON record inside a version-1 value (owned, for reading).
#[derive(Deserialize)]
struct Record {
    #[serde(rename = "scannedAt")]
    scanned_at: DateTime<Utc>,
    scan: ImageScan,
}

/// Inventory store failures. Each message names the store file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store file (or its directory) cannot be created or opened.
    #[error("cannot open the inventory store {path}: {source} (check that the operator's volume is mounted and writable)")]
    Io {
        /// The store file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a redb database, or it is damaged.
    #[error("the inventory store {path} is corrupt ({reason}): delete {path} to rebuild it; images will be rescanned")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What redb found.
        reason: String,
    },
    /// Another process has the file open.
    #[error("the inventory store {path} is already open in another process: give each operator replica its own volume, or run one replica (leader election keeps the others idle)")]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// A read or write failed.
    #[error("inventory store {path}: {operation} failed: {reason}")]
    Database {
        /// The store file.
        path: PathBuf,
        /// What was being done (`put sha256:...`, `list digests`, ...).
        operation: String,
        /// redb's error.
        reason: String,
    },
    /// An entry uses a value encoding this Sightline cannot read (written by a newer version).
    /// Treated as absent: the image is rescanned and the entry overwritten.
    #[error("inventory store {path}: the entry for {digest} uses encoding version {version}, which this Sightline does not read (written by a newer version?); it is treated as absent and the image will be rescanned")]
    UnsupportedEncoding {
        /// The store file.
        path: PathBuf,
        /// The entry's key.
        digest: String,
        /// The version byte found.
        version: u8,
    },
    /// An entry's value does not decode (damaged data). Treated as absent: the image is
    /// rescanned and the entry overwritten.
    #[error("inventory store {path}: the entry for {digest} cannot be decoded ({reason}); it is treated as absent and the image will be rescanned")]
    BadValue {
        /// The store file.
        path: PathBuf,
        /// The entry's key.
        digest: String,
        /// What failed.
        reason: String,
    },
}

impl StoreError {
    /// `true` for an error about one entry that cannot be read
    /// ([`StoreError::UnsupportedEncoding`], [`StoreError::BadValue`]): the caller should
    /// treat the digest as not stored (rescan it), not fail.
    pub fn is_unreadable_entry(&self) -> bool {
        matches!(
            self,
            StoreError::UnsupportedEncoding { .. } | StoreError::BadValue { .. }
        )
    }
}

/// The inventory store (see the [module docs](self)). `Send + Sync`; share it in an `Arc`.
pub struct InventoryStore {
    db: Database,
    path: PathBuf,
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
    /// checks the file's integrity.
    ///
    /// A file that is not a redb database or is damaged is [`StoreError::Corrupt`]; a file
    /// another process holds is [`StoreError::Locked`].
    pub fn open(path: &Path) -> Result<Self, StoreError> {
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
                .map_err(|panic| StoreError::Corrupt {
                    path: path.clone(),
                    reason: panic_message(&panic),
                })?;
        let db = opened.map_err(|e| open_error(&path, e))?;
        let store = InventoryStore { db, path };
        // Create the table up front, so readers never meet a missing table.
        let txn = store
            .db
            .begin_write()
            .map_err(|e| store.db_error("create the table", e))?;
        txn.open_table(INVENTORIES)
            .map_err(|e| store.table_error("create the table", e))?;
        txn.commit()
            .map_err(|e| store.db_error("create the table", e))?;
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
        let value = encode(&RecordRef { scanned_at, scan }).map_err(|e| StoreError::Database {
            path: self.path.clone(),
            operation: op(),
            reason: format!("encoding the scan: {e}"),
        })?;
        let txn = self.db.begin_write().map_err(|e| self.db_error(op(), e))?;
        {
            let mut table = txn
                .open_table(INVENTORIES)
                .map_err(|e| self.table_error(op(), e))?;
            table
                .insert(digest, value.as_slice())
                .map_err(|e| self.db_error(op(), e))?;
        }
        txn.commit().map_err(|e| self.db_error(op(), e))
    }

    /// The stored scan of `digest`, `None` if there is none.
    ///
    /// An entry this build cannot read is an error for which
    /// [`StoreError::is_unreadable_entry`] holds: treat it as absent.
    pub fn get(&self, digest: &str) -> Result<Option<StoredScan>, StoreError> {
        let op = || format!("get {digest}");
        let txn = self.db.begin_read().map_err(|e| self.db_error(op(), e))?;
        let table = txn
            .open_table(INVENTORIES)
            .map_err(|e| self.table_error(op(), e))?;
        let Some(value) = table.get(digest).map_err(|e| self.db_error(op(), e))? else {
            return Ok(None);
        };
        let bytes = value.value();
        match bytes.first() {
            Some(&ENCODING_V1) => {
                let record: Record =
                    decode(&bytes[1..]).map_err(|reason| StoreError::BadValue {
                        path: self.path.clone(),
                        digest: digest.to_string(),
                        reason,
                    })?;
                Ok(Some(StoredScan {
                    scan: record.scan,
                    scanned_at: record.scanned_at,
                }))
            }
            Some(&version) => Err(StoreError::UnsupportedEncoding {
                path: self.path.clone(),
                digest: digest.to_string(),
                version,
            }),
            None => Err(StoreError::BadValue {
                path: self.path.clone(),
                digest: digest.to_string(),
                reason: "empty value".to_string(),
            }),
        }
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
        let op = || format!("remove {digest}");
        let txn = self.db.begin_write().map_err(|e| self.db_error(op(), e))?;
        let removed = {
            let mut table = txn
                .open_table(INVENTORIES)
                .map_err(|e| self.table_error(op(), e))?;
            let old = table.remove(digest).map_err(|e| self.db_error(op(), e))?;
            old.is_some()
        };
        txn.commit().map_err(|e| self.db_error(op(), e))?;
        Ok(removed)
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
        let e: redb::Error = e.into();
        match e {
            redb::Error::Corrupted(reason) => StoreError::Corrupt {
                path: self.path.clone(),
                reason,
            },
            other => StoreError::Database {
                path: self.path.clone(),
                operation: operation.into(),
                reason: other.to_string(),
            },
        }
    }

    fn table_error(&self, operation: impl Into<String>, e: TableError) -> StoreError {
        match e {
            TableError::Storage(s) => self.db_error(operation, s),
            other => StoreError::Corrupt {
                path: self.path.clone(),
                reason: format!("the inventories table is not what this Sightline wrote: {other}"),
            },
        }
    }
}

/// `true` when `value` starts with a version byte this build decodes.
fn readable(value: &[u8]) -> bool {
    value.first() == Some(&ENCODING_V1)
}

/// Version byte + gzip'd JSON of `record`.
fn encode(record: &RecordRef<'_>) -> std::io::Result<Vec<u8>> {
    let mut out = vec![ENCODING_V1];
    let mut gz = GzEncoder::new(&mut out, flate2::Compression::default());
    serde_json::to_writer(&mut gz, record)?;
    gz.flush()?;
    gz.finish()?;
    Ok(out)
}

/// The record in the gzip'd JSON `bytes` (the value after its version byte).
fn decode(bytes: &[u8]) -> Result<Record, String> {
    let mut json = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut json)
        .map_err(|e| format!("gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("JSON: {e}"))
}

fn open_error(path: &Path, e: DatabaseError) -> StoreError {
    let path = path.to_path_buf();
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::Locked { path },
        // redb reports a foreign file (bad magic number) as `InvalidData`.
        DatabaseError::Storage(StorageError::Io(source))
            if source.kind() == std::io::ErrorKind::InvalidData =>
        {
            StoreError::Corrupt {
                path,
                reason: source.to_string(),
            }
        }
        DatabaseError::Storage(StorageError::Io(source)) => StoreError::Io { path, source },
        DatabaseError::Storage(StorageError::Corrupted(reason)) => {
            StoreError::Corrupt { path, reason }
        }
        DatabaseError::UpgradeRequired(v) => StoreError::Corrupt {
            path,
            reason: format!("written in redb file format {v}, which this Sightline does not read"),
        },
        other => StoreError::Corrupt {
            path,
            reason: other.to_string(),
        },
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the database library panicked reading it".to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::TimeZone;
    use sightline_api::report::{DetectedSecret, ScanResult, CLASS_SECRET};

    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    /// A scan as a scan Job prints it (built through its JSON form: the operator does not
    /// depend on the inventory crate's types).
    fn scan(name: &str) -> ImageScan {
        let mut s: ImageScan = serde_json::from_value(serde_json::json!({
            "artifact_name": name,
            "image_id": "sha256:abc",
            "repo_digests": [format!("{name}@{D1}")],
            "repo_tags": [name],
            "diff_ids": ["sha256:def"],
            "config": {"config": {"Env": ["PATH=/usr/bin"]}},
            "inventory": {
                "os": {"family": "debian", "name": "12.15"},
                "os_packages": [{
                    "id": "libssl3@3.0.17-1~deb12u2",
                    "name": "libssl3",
                    "version": "3.0.17-1~deb12u2",
                    "src_name": "openssl",
                    "src_version": "3.0.17-1~deb12u2",
                    "file_path": "var/lib/dpkg/status"
                }]
            }
        }))
        .unwrap();
        s.secrets = Some(vec![ScanResult {
            target: "/app/.env".into(),
            class: CLASS_SECRET.into(),
            secrets: vec![DetectedSecret {
                rule_id: "aws-access-key-id".into(),
                matched: "AWS_ACCESS_KEY_ID=********".into(),
                offset: 0,
                ..Default::default()
            }],
            ..Default::default()
        }]);
        s
    }

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = InventoryStore::open(&dir.path().join("sub/dir/inventory.redb")).unwrap();
        assert!(!store.contains(D1).unwrap());
        assert_eq!(store.get(D1).unwrap(), None);
        assert_eq!(store.len().unwrap(), 0);

        let s = scan("127.0.0.1:5000/library/debian:bookworm-curl");
        store.put(D2, &s, at(2)).unwrap();
        store.put(D1, &s, at(1)).unwrap();
        let got = store.get(D1).unwrap().unwrap();
        assert_eq!(got.scan, s);
        assert_eq!(got.scanned_at, at(1));
        assert!(store.contains(D1).unwrap());
        assert_eq!(
            store.digests().unwrap(),
            vec![D1.to_string(), D2.to_string()]
        );
        assert_eq!(store.len().unwrap(), 2);

        // Replacing keeps one entry.
        let s2 = scan("other:1");
        store.put(D1, &s2, at(3)).unwrap();
        assert_eq!(store.get(D1).unwrap().unwrap().scan, s2);
        assert_eq!(store.len().unwrap(), 2);

        assert!(store.remove(D1).unwrap());
        assert!(!store.remove(D1).unwrap());
        assert!(!store.contains(D1).unwrap());
        assert_eq!(store.digests().unwrap(), vec![D2.to_string()]);
    }

    #[test]
    fn values_are_compact() {
        let mut s = scan("app:1");
        // A realistic config: the same strings repeated compress well.
        s.config = serde_json::json!({"history": vec!["RUN apt-get install -y curl"; 200]});
        let json = serde_json::to_vec(&s).unwrap();
        let value = encode(&RecordRef {
            scanned_at: at(0),
            scan: &s,
        })
        .unwrap();
        assert_eq!(value[0], ENCODING_V1);
        assert!(
            value.len() * 4 < json.len(),
            "{} bytes encoded vs {} bytes of JSON",
            value.len(),
            json.len()
        );
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.redb");
        let s = scan("app:1");
        {
            let store = InventoryStore::open(&path).unwrap();
            store.put(D1, &s, at(5)).unwrap();
        }
        let store = InventoryStore::open(&path).unwrap();
        let got = store.get(D1).unwrap().unwrap();
        assert_eq!((got.scan, got.scanned_at), (s, at(5)));
        assert_eq!(store.digests().unwrap(), vec![D1.to_string()]);
    }

    #[test]
    fn second_open_of_an_open_store_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.redb");
        let _first = InventoryStore::open(&path).unwrap();
        let err = InventoryStore::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.redb");
        let garbage: Vec<u8> = (0..64 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &garbage).unwrap();
        let err = InventoryStore::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
        assert!(msg.contains(&format!("delete {}", path.display())), "{msg}");
        assert!(msg.contains("rescanned"), "{msg}");
    }

    #[test]
    fn damaged_store_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.redb");
        {
            let store = InventoryStore::open(&path).unwrap();
            for i in 0..50 {
                store
                    .put(&format!("sha256:{i:064}"), &scan("app:1"), at(i))
                    .unwrap();
            }
        }
        // Overwrite everything after the header region with noise.
        let mut bytes = std::fs::read(&path).unwrap();
        for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
            *b = (i as u8).wrapping_mul(31) ^ 0x5a;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = InventoryStore::open(&path).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{msg}");
        assert!(msg.contains(&format!("delete {}", path.display())), "{msg}");
    }

    #[test]
    fn unknown_encoding_is_absent_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let store = InventoryStore::open(&dir.path().join("inventory.redb")).unwrap();
        store.put(D1, &scan("app:1"), at(0)).unwrap();
        // A value as a future Sightline might write it, and a damaged version-1 value.
        let txn = store.db.begin_write().unwrap();
        {
            let mut t = txn.open_table(INVENTORIES).unwrap();
            t.insert(D2, [7u8, 1, 2, 3].as_slice()).unwrap();
            t.insert("sha256:bad", [ENCODING_V1, 1, 2, 3].as_slice())
                .unwrap();
        }
        txn.commit().unwrap();

        let err = store.get(D2).unwrap_err();
        assert!(
            matches!(err, StoreError::UnsupportedEncoding { version: 7, .. }),
            "{err}"
        );
        assert!(err.is_unreadable_entry());
        assert!(err.to_string().contains("treated as absent"), "{err}");
        assert!(!store.contains(D2).unwrap());

        let err = store.get("sha256:bad").unwrap_err();
        assert!(matches!(err, StoreError::BadValue { .. }), "{err}");
        assert!(err.is_unreadable_entry());
        // A damaged v1 value still has a known version byte: `contains` reads one byte only,
        // so it says yes; `get` then says it cannot be read.
        assert!(store.contains("sha256:bad").unwrap());

        assert_eq!(
            store.digests().unwrap(),
            vec![D1.to_string(), "sha256:bad".to_string()]
        );
        assert_eq!(store.len().unwrap(), 2);

        // Rescanning overwrites it in the current encoding.
        store.put(D2, &scan("app:2"), at(1)).unwrap();
        assert_eq!(store.get(D2).unwrap().unwrap().scan.artifact_name, "app:2");
    }

    #[test]
    fn concurrent_readers_and_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(InventoryStore::open(&dir.path().join("inventory.redb")).unwrap());
        let digests: Vec<String> = (0..20).map(|i| format!("sha256:{i:064x}")).collect();
        for (i, d) in digests.iter().enumerate() {
            store
                .put(d, &scan(&format!("app:{i}")), at(i as i64))
                .unwrap();
        }
        let readers: Vec<_> = (0..4)
            .map(|t| {
                let store = Arc::clone(&store);
                let digests = digests.clone();
                std::thread::spawn(move || {
                    for round in 0..25 {
                        let i = (t * 7 + round) % digests.len();
                        let got = store.get(&digests[i]).unwrap().unwrap();
                        assert_eq!(got.scan.artifact_name, format!("app:{i}"));
                        assert!(store.len().unwrap() >= digests.len());
                    }
                })
            })
            .collect();
        let writer = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..10 {
                    store
                        .put(&format!("sha256:new{i}"), &scan("new:1"), at(0))
                        .unwrap();
                }
            })
        };
        for r in readers {
            r.join().unwrap();
        }
        writer.join().unwrap();
        assert_eq!(store.len().unwrap(), 30);
    }

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<InventoryStore>();
    }
}
