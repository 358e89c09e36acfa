//! [`StoreError`], and its making from redb's errors.

use std::path::{Path, PathBuf};

use redb::{DatabaseError, StorageError, TableError};

use super::encoding::ValueError;

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
    /// The file is not a redb database, or it is damaged. On open the store moves such a
    /// file aside and starts afresh (see [`super::InventoryStore::open`]); met later, a
    /// restart does the same.
    #[error("the inventory store {path} is corrupt ({reason}): restart the operator to move it aside and start a fresh store (or delete {path}); images will be rescanned")]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What redb found.
        reason: String,
    },
    /// A corrupt or unreadable store file could not be moved aside.
    #[error("the inventory store {path} is unusable ({cause}) and could not be moved aside to {moved_to}: {source}; delete {path} to rebuild it (images will be rescanned)")]
    MoveAside {
        /// The store file.
        path: PathBuf,
        /// Where it was to be moved.
        moved_to: PathBuf,
        /// Why it is unusable.
        cause: Box<StoreError>,
        /// Why the rename failed.
        #[source]
        source: std::io::Error,
    },
    /// Another process has the file open.
    #[error("the inventory store {path} is already open in another process: give each operator replica its own volume, or run one replica (leader election keeps the others idle)")]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// A read or write failed.
    #[error("inventory store {path}: {operation} failed: {source}")]
    Database {
        /// The store file.
        path: PathBuf,
        /// What was being done (`put sha256:...`, `list digests`, ...).
        operation: String,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// A scan could not be encoded for storing (not expected: the encoder writes to memory).
    #[error("inventory store {path}: encoding the scan of {digest} failed: {source}")]
    Encode {
        /// The store file.
        path: PathBuf,
        /// The entry's key.
        digest: String,
        /// The encoder's error.
        #[source]
        source: std::io::Error,
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
    #[error("inventory store {path}: the entry for {digest} cannot be decoded ({source}); it is treated as absent and the image will be rescanned")]
    BadValue {
        /// The store file.
        path: PathBuf,
        /// The entry's key.
        digest: String,
        /// What failed.
        #[source]
        source: ValueError,
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

    /// `true` when the store file itself is unusable (damaged, foreign, unreadable) and
    /// moving it aside and starting afresh is the cure.
    pub(super) fn is_bad_file(&self) -> bool {
        matches!(self, StoreError::Corrupt { .. } | StoreError::Io { .. })
    }

    /// The error of reading `digest`'s value.
    pub(super) fn value(path: &Path, digest: &str, e: ValueError) -> Self {
        let (path, digest) = (path.to_path_buf(), digest.to_string());
        match e {
            ValueError::UnknownVersion(version) => StoreError::UnsupportedEncoding {
                path,
                digest,
                version,
            },
            source => StoreError::BadValue {
                path,
                digest,
                source,
            },
        }
    }

    /// A redb error during `operation`.
    pub(super) fn db(path: &Path, operation: impl Into<String>, e: impl Into<redb::Error>) -> Self {
        let path = path.to_path_buf();
        match e.into() {
            redb::Error::Corrupted(reason) => StoreError::Corrupt { path, reason },
            other => StoreError::Database {
                path,
                operation: operation.into(),
                source: Box::new(other),
            },
        }
    }

    /// A redb error opening the table during `operation`.
    pub(super) fn table(path: &Path, operation: impl Into<String>, e: TableError) -> Self {
        match e {
            TableError::Storage(s) => StoreError::db(path, operation, s),
            other => StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("the inventories table is not what this Sightline wrote: {other}"),
            },
        }
    }

    /// A redb error opening the file.
    pub(super) fn open(path: &Path, e: DatabaseError) -> Self {
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
                reason: format!(
                    "written in redb file format {v}, which this Sightline does not read"
                ),
            },
            other => StoreError::Corrupt {
                path,
                reason: other.to_string(),
            },
        }
    }

    /// redb panicked opening the file (its debug builds assert on some states a foreign
    /// file can be in).
    pub(super) fn panicked(path: &Path, panic: &Box<dyn std::any::Any + Send>) -> Self {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the database library panicked reading it".to_string());
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason,
        }
    }
}
