//! [`VulnDb`]: the read-only trivy.db handle.

use std::any::Any;
use std::fmt;
use std::fs::File;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bbolt_rs::{BoltOptions, BucketApi, BucketImpl, DbApi, TxApi};

use crate::header::{self, Header, HeaderError};
use crate::verify::{self, VerifyStats};
use crate::{
    db_dir, read_metadata, Advisory, DataSource, DbError, Metadata, VulnerabilityDetail,
    DATA_SOURCE_BUCKET, DB_FILE, VULNERABILITY_BUCKET,
};

/// How long [`VulnDb::open`] waits for another process's exclusive lock to go away.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// A visitor of an (optional) bucket inside a read transaction.
type Visit<'f> = dyn FnMut(Option<&BucketImpl<'_, '_>>) -> Result<(), DbError> + 'f;

/// The object-safe slice of bbolt-rs's API that the reader needs. bbolt-rs's read-only open
/// returns an unnameable `impl DbApi`, so it is stored behind this trait.
trait Store: Send + Sync {
    /// Names of the top-level buckets, in key order.
    fn top_level(&self) -> bbolt_rs::Result<Vec<Vec<u8>>>;
    /// Runs `f` on the bucket at `path` (`None` if any bucket on the path is missing) inside a
    /// read transaction. The outer error is bbolt's, the inner one `f`'s.
    fn with_bucket(
        &self,
        path: &[&[u8]],
        f: &mut Visit<'_>,
    ) -> bbolt_rs::Result<Result<(), DbError>>;
}

struct BoltStore<D>(D);

impl<D: DbApi> Store for BoltStore<D> {
    fn top_level(&self) -> bbolt_rs::Result<Vec<Vec<u8>>> {
        let tx = self.0.begin()?;
        let names = tx.iter_buckets().map(|(name, _)| name.to_vec()).collect();
        Ok(names)
    }

    fn with_bucket(
        &self,
        path: &[&[u8]],
        f: &mut Visit<'_>,
    ) -> bbolt_rs::Result<Result<(), DbError>> {
        let tx = self.0.begin()?;
        let bucket = tx.bucket_path(path);
        Ok(f(bucket.as_ref()))
    }
}

/// An open, read-only trivy.db. `Send + Sync`: share one across concurrent scans.
///
/// Opening never creates or modifies anything: the file is opened read-only, takes a shared
/// `flock` (as Go bbolt's read-only mode does, so Trivy and other readers can hold it at the same
/// time) and is memory-mapped read-only by bbolt-rs. Every query runs in its own read
/// transaction; queries from many threads run concurrently.
pub struct VulnDb {
    path: PathBuf,
    /// The file whose header was checked, kept open for [`VulnDb::verify`].
    file: File,
    pub(crate) header: Header,
    store: Box<dyn Store>,
}

impl fmt::Debug for VulnDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VulnDb")
            .field("path", &self.path)
            .field("page_size", &self.header.page_size)
            .field("bytes", &self.header.file_len)
            .field("pages", &self.header.meta.pgid)
            .field("txid", &self.header.meta.txid)
            .finish_non_exhaustive()
    }
}

impl VulnDb {
    /// Opens `trivy.db` read-only.
    ///
    /// A missing file is [`DbError::NotFound`]; an empty, truncated or foreign file, or a
    /// BoltDB without trivy-db's buckets (neither `vulnerability` nor `data-source`), is
    /// [`DbError::Corrupt`]. Waits up to [`DEFAULT_LOCK_TIMEOUT`] for a writer's exclusive lock
    /// ([`DbError::Locked`]).
    pub fn open(path: &Path) -> Result<Self, DbError> {
        Self::open_with_lock_timeout(path, DEFAULT_LOCK_TIMEOUT)
    }

    /// [`VulnDb::open`] with a given wait for another process's exclusive lock.
    pub fn open_with_lock_timeout(path: &Path, lock_timeout: Duration) -> Result<Self, DbError> {
        // The file is checked through our own descriptor and then opened again by bbolt-rs by
        // path: if it was replaced in between (a DB update renaming a new file in), start over.
        for _ in 0..3 {
            if let Some(db) = Self::open_once(path, lock_timeout)? {
                return Ok(db);
            }
        }
        Err(DbError::Io {
            path: path.to_path_buf(),
            source: io::Error::other("the file was replaced three times while being opened"),
        })
    }

    /// Opens `<cache_dir>/db/trivy.db` after checking `metadata.json` (schema version 2).
    pub fn open_cache(cache_dir: &Path) -> Result<(Self, Metadata), DbError> {
        let dir = db_dir(cache_dir);
        let metadata = read_metadata(&dir)?;
        let db = Self::open(&dir.join(DB_FILE))?;
        Ok((db, metadata))
    }

    fn open_once(path: &Path, lock_timeout: Duration) -> Result<Option<Self>, DbError> {
        let io_err = |source: io::Error| {
            if source.kind() == io::ErrorKind::NotFound {
                DbError::NotFound {
                    path: path.to_path_buf(),
                }
            } else {
                DbError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        };
        let corrupt = |reason: String| DbError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };

        let file = File::open(path).map_err(io_err)?;
        let md = file.metadata().map_err(io_err)?;
        if !md.is_file() {
            return Err(io_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        // Take the shared lock ourselves, without blocking, before bbolt-rs does (it blocks
        // forever while a writer holds the file). Held until this handle is dropped.
        lock_shared_within(&file, lock_timeout).map_err(|e| match e {
            LockError::TimedOut(waited) => DbError::Locked {
                path: path.to_path_buf(),
                waited_secs: waited.as_secs(),
            },
            LockError::Io(e) => io_err(e),
        })?;
        let header = header::check(&file, md.len()).map_err(|e| match e {
            HeaderError::Io(e) => io_err(e),
            HeaderError::Corrupt(reason) => corrupt(reason),
        })?;
        // Listing the top-level buckets (below) follows the root page's offsets unchecked.
        verify::verify_top_level(&file, &header).map_err(|e| match e {
            HeaderError::Io(e) => io_err(e),
            HeaderError::Corrupt(reason) => corrupt(reason),
        })?;

        let owned = path.to_path_buf(); // an owned path: the opaque DB type captures it
        let opened = catch(|| BoltOptions::default().open_ro(owned))
            .map_err(|panic| corrupt(format!("bbolt-rs panicked opening it: {panic}")))?;
        let bolt = match opened {
            Ok(db) => db,
            Err(bbolt_rs::Error::IO(e)) => return Err(io_err(e)),
            Err(e) => return Err(corrupt(format!("bbolt-rs cannot open it: {e}"))),
        };
        if replaced(path, &md) {
            tracing::debug!(path = %path.display(), "DB file replaced while opening; retrying");
            return Ok(None);
        }

        let db = VulnDb {
            path: path.to_path_buf(),
            file,
            header,
            store: Box::new(BoltStore(bolt)),
        };
        let top = db.top_level()?;
        let has = |name: &str| top.iter().any(|t| t == name);
        if !has(VULNERABILITY_BUCKET) && !has(DATA_SOURCE_BUCKET) {
            return Err(corrupt(format!(
                "a BoltDB without trivy-db's `{VULNERABILITY_BUCKET}` and `{DATA_SOURCE_BUCKET}` buckets ({} top-level buckets)",
                top.len()
            )));
        }
        if !has(VULNERABILITY_BUCKET) {
            tracing::warn!(path = %path.display(), "trivy.db has no `vulnerability` bucket: advisories will have no titles");
        }
        tracing::debug!(path = %path.display(), page_size = db.header.page_size, pages = db.header.meta.pgid, "opened vulnerability DB");
        Ok(Some(db))
    }

    /// The path this DB was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Advisories for `pkg` in platform bucket `platform` (e.g. `"debian 12"`), sorted by id.
    ///
    /// A missing platform or package bucket gives an empty list; a value that is not an
    /// advisory's JSON is [`DbError::Corrupt`] naming the bucket and key.
    pub fn advisories(&self, platform: &str, pkg: &str) -> Result<Vec<Advisory>, DbError> {
        let mut out = Vec::new();
        self.in_bucket(&[platform, pkg], |bucket| {
            for (key, value) in bucket.iter_entries() {
                let id = String::from_utf8_lossy(key);
                let mut advisory: Advisory = serde_json::from_slice(value)
                    .map_err(|e| self.bad_value(&[platform, pkg], &id, "advisory", e))?;
                advisory.vulnerability_id = id.into_owned();
                out.push(advisory);
            }
            Ok(())
        })?;
        out.sort_by(|a, b| a.vulnerability_id.cmp(&b.vulnerability_id));
        Ok(out)
    }

    /// Details of a vulnerability from the `vulnerability` bucket.
    pub fn vulnerability(&self, id: &str) -> Result<Option<VulnerabilityDetail>, DbError> {
        self.get_json(VULNERABILITY_BUCKET, id, "vulnerability")
    }

    /// The data source of a platform bucket (bucket `data-source`).
    pub fn data_source(&self, platform: &str) -> Result<Option<DataSource>, DbError> {
        self.get_json(DATA_SOURCE_BUCKET, platform, "data source")
    }

    /// Names of the top-level advisory buckets (`"alpine 3.23"`, `"debian 12"`, language
    /// ecosystems such as `"npm::GitHub Security Advisory npm"` …): every top-level bucket but
    /// `vulnerability` and `data-source`, in byte order. For diagnostics such as "no advisories
    /// for platform `debian 13` in this DB".
    pub fn platforms(&self) -> Result<Vec<String>, DbError> {
        Ok(self
            .top_level()?
            .into_iter()
            .filter(|name| name != VULNERABILITY_BUCKET && name != DATA_SOURCE_BUCKET)
            .collect())
    }

    /// Names of the package buckets under `platform`, in byte order (empty if the platform
    /// bucket is missing).
    pub fn packages(&self, platform: &str) -> Result<Vec<String>, DbError> {
        let mut out = Vec::new();
        self.in_bucket(&[platform], |bucket| {
            out.extend(
                bucket
                    .iter_buckets()
                    .map(|(name, _)| String::from_utf8_lossy(name).into_owned()),
            );
            Ok(())
        })?;
        Ok(out)
    }

    /// Checks the whole file's structure (every page, element and nested bucket lies inside
    /// the data, no page is reached twice), independently of bbolt-rs.
    ///
    /// [`VulnDb::open`] only checks the header, which catches empty, truncated and foreign
    /// files; this also catches damaged tree pages, which would make bbolt-rs read outside its
    /// memory map. It reads every tree page once, so run it after downloading a DB, not on every
    /// open.
    pub fn verify(&self) -> Result<VerifyStats, DbError> {
        verify::verify(&self.file, &self.header).map_err(|e| match e {
            HeaderError::Io(source) => DbError::Io {
                path: self.path.clone(),
                source,
            },
            HeaderError::Corrupt(reason) => self.corrupt(reason),
        })
    }

    fn top_level(&self) -> Result<Vec<String>, DbError> {
        match catch(|| self.store.top_level()) {
            Ok(Ok(names)) => Ok(names
                .into_iter()
                .map(|n| String::from_utf8_lossy(&n).into_owned())
                .collect()),
            Ok(Err(e)) => Err(self.corrupt(format!("listing the top-level buckets: {e}"))),
            Err(panic) => Err(self.corrupt(format!(
                "bbolt-rs panicked listing the top-level buckets: {panic}"
            ))),
        }
    }

    /// Runs `f` on the bucket at `path` if it exists, catching bbolt-rs panics.
    fn in_bucket(
        &self,
        path: &[&str],
        mut f: impl FnMut(&BucketImpl<'_, '_>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let raw: Vec<&[u8]> = path.iter().map(|p| p.as_bytes()).collect();
        let result = catch(|| {
            self.store.with_bucket(&raw, &mut |bucket| match bucket {
                Some(bucket) => f(bucket),
                None => Ok(()),
            })
        });
        match result {
            Ok(Ok(inner)) => inner,
            Ok(Err(e)) => Err(self.corrupt(format!("reading bucket {}: {e}", show(path)))),
            Err(panic) => Err(self.corrupt(format!(
                "bbolt-rs panicked reading bucket {}: {panic}",
                show(path)
            ))),
        }
    }

    /// Reads and decodes `key` in top-level bucket `bucket`.
    fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        bucket: &str,
        key: &str,
        what: &str,
    ) -> Result<Option<T>, DbError> {
        let mut out = None;
        self.in_bucket(&[bucket], |b| {
            if let Some(value) = b.get(key) {
                let decoded = serde_json::from_slice(value)
                    .map_err(|e| self.bad_value(&[bucket], key, what, e))?;
                out = Some(decoded);
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn bad_value(&self, path: &[&str], key: &str, what: &str, e: serde_json::Error) -> DbError {
        self.corrupt(format!(
            "bucket {}, key `{key}`: not a valid {what} JSON value ({e})",
            show(path)
        ))
    }

    fn corrupt(&self, reason: String) -> DbError {
        DbError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

/// `a`/`b` for messages.
fn show(path: &[&str]) -> String {
    path.iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join("/")
}

/// Runs `f`, turning a panic into its message (a last resort: the header check keeps bbolt-rs
/// away from the files that are known to make it panic).
fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

enum LockError {
    TimedOut(Duration),
    Io(io::Error),
}

/// Takes a shared `flock` on `file`, polling while another process holds an exclusive one.
fn lock_shared_within(file: &File, timeout: Duration) -> Result<(), LockError> {
    let start = Instant::now();
    let contended = fs4::lock_contended_error().raw_os_error();
    loop {
        match fs4::fs_std::FileExt::try_lock_shared(file) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == contended || e.kind() == io::ErrorKind::WouldBlock => {
                let waited = start.elapsed();
                if waited >= timeout {
                    return Err(LockError::TimedOut(waited));
                }
                std::thread::sleep(Duration::from_millis(50).min(timeout - waited));
            }
            Err(e) => return Err(LockError::Io(e)),
        }
    }
}

/// Whether `path` no longer names the file described by `opened`.
#[cfg(unix)]
fn replaced(path: &Path, opened: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(now) => now.dev() != opened.dev() || now.ino() != opened.ino(),
        Err(_) => true,
    }
}

#[cfg(not(unix))]
fn replaced(_path: &Path, _opened: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the `trivy_db` fuzz target (fuzz/) crashed on: each must be refused as corrupt by
    /// `open` or `verify`, never crash the process. `root-inline-bucket-past-map.db`: a root
    /// page whose element runs past the file made bbolt-rs read outside its memory map
    /// (SIGSEGV) while `open` listed the top-level buckets.
    #[test]
    fn fuzz_regressions_are_refused_as_corrupt() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-regressions/trivy_db");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let refused = match VulnDb::open(&path) {
                Err(e) => e,
                Ok(db) => db.verify().expect_err("a fuzz regression input verifies"),
            };
            assert!(
                matches!(refused, DbError::Corrupt { .. }),
                "{}: {refused}",
                path.display()
            );
            seen += 1;
        }
        assert!(seen > 0, "no inputs in {}", dir.display());
    }

    #[test]
    fn vulndb_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<VulnDb>();
    }
}
