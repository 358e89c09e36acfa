//! Installing a downloaded DB archive (the tar.gz layer of a trivy-db / trivy-java-db OCI
//! artifact) into the cache, so that neither a crash nor a bad download ever leaves a
//! half-written DB, and a reader never sees one.
//!
//! The archive is streamed (never held in memory) into a fresh temporary directory next to
//! the destination while its sha256 is computed; then the digest, the schema version and the
//! DB itself are checked; only then are the old and new directories swapped in one
//! `renameat2(RENAME_EXCHANGE)` (a plain rename when there was no DB yet). Readers holding the
//! old `trivy.db` open keep reading it (its pages stay mapped) until they reopen.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::{DbError, Metadata, VulnDb, METADATA_FILE};

/// Which database an artifact carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// trivy-db: `trivy.db` (BoltDB, schema 2) in `<cache>/db`.
    Vuln,
    /// trivy-java-db: `trivy-java.db` (SQLite, schema 1) in `<cache>/java-db`.
    Java,
}

impl DbKind {
    /// The media type of the artifact's single layer.
    pub fn layer_media_type(self) -> &'static str {
        match self {
            DbKind::Vuln => "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip",
            DbKind::Java => "application/vnd.aquasec.trivy.javadb.layer.v1.tar+gzip",
        }
    }

    /// The database file inside the archive and the cache directory.
    pub fn db_file(self) -> &'static str {
        match self {
            DbKind::Vuln => crate::DB_FILE,
            DbKind::Java => crate::javadb::JAVA_DB_FILE,
        }
    }

    /// The cache subdirectory (`db`, `java-db`).
    pub fn dir_name(self) -> &'static str {
        match self {
            DbKind::Vuln => "db",
            DbKind::Java => "java-db",
        }
    }

    /// The schema version this build reads.
    pub fn schema_version(self) -> u32 {
        match self {
            DbKind::Vuln => crate::SCHEMA_VERSION,
            DbKind::Java => crate::javadb::JAVA_SCHEMA_VERSION,
        }
    }

    /// The artifact tag for the schema version (`2`, `1`).
    pub fn default_tag(self) -> String {
        self.schema_version().to_string()
    }

    /// Trivy's default repositories, tried in order.
    pub fn default_repositories(self) -> [&'static str; 2] {
        match self {
            DbKind::Vuln => [
                "mirror.gcr.io/aquasec/trivy-db:2",
                "ghcr.io/aquasecurity/trivy-db:2",
            ],
            DbKind::Java => [
                "mirror.gcr.io/aquasec/trivy-java-db:1",
                "ghcr.io/aquasecurity/trivy-java-db:1",
            ],
        }
    }

    /// A human name for messages.
    pub fn label(self) -> &'static str {
        match self {
            DbKind::Vuln => "vulnerability DB",
            DbKind::Java => "Java DB",
        }
    }

    /// `<cache_dir>/<dir_name>`.
    pub fn dir(self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(self.dir_name())
    }
}

/// Why an archive was not installed. The previous DB is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The stream is not a complete tar.gz (truncated, corrupt gzip or tar).
    #[error("{source_name}: the {label} archive is corrupt or truncated: {reason}")]
    Archive {
        /// Where the archive came from.
        source_name: String,
        /// `vulnerability DB` / `Java DB`.
        label: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The archive's sha256 is not the digest the manifest announced.
    #[error("{source_name}: digest mismatch: the manifest says {expected}, the downloaded layer is {actual}")]
    DigestMismatch {
        /// Where the archive came from.
        source_name: String,
        /// Announced digest.
        expected: String,
        /// Computed digest.
        actual: String,
    },
    /// A required file is missing from the archive.
    #[error("{source_name}: the archive has no {file} (expected {expected})")]
    MissingFile {
        /// Where the archive came from.
        source_name: String,
        /// The missing file.
        file: &'static str,
        /// The files an archive must hold.
        expected: String,
    },
    /// The archive's metadata is unreadable or of another schema version.
    #[error("{source_name}: {reason}")]
    Metadata {
        /// Where the archive came from.
        source_name: String,
        /// What was wrong.
        reason: String,
    },
    /// The database file in the archive does not open or fails its structural check.
    #[error("{source_name}: the downloaded {label} is unusable: {reason}")]
    InvalidDb {
        /// Where the archive came from.
        source_name: String,
        /// `vulnerability DB` / `Java DB`.
        label: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// What was installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The metadata as written (with `DownloadedAt`).
    pub metadata: Metadata,
    /// Size of the database file in bytes.
    pub db_size: u64,
    /// Bytes of the compressed archive read.
    pub archive_size: u64,
    /// sha256 of the archive (`sha256:...`).
    pub digest: String,
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Streams `archive` (a tar.gz holding the DB file and `metadata.json`) into
/// `<cache_dir>/<kind dir>` atomically. `expected_digest` (`sha256:...`) is checked over the
/// whole stream before anything is swapped in; `source_name` names the origin in errors.
pub fn install_archive(
    archive: impl Read,
    expected_digest: Option<&str>,
    cache_dir: &Path,
    kind: DbKind,
    source_name: &str,
    now: DateTime<Utc>,
    source: Option<&crate::update::DbSource>,
) -> Result<Installed, InstallError> {
    fs::create_dir_all(cache_dir).map_err(|e| io_err(cache_dir, e))?;
    let dest = kind.dir(cache_dir);
    let tmp = TempDir::new(&dest)?;
    let mut hashing = Hashing {
        inner: archive,
        hasher: Sha256::new(),
        count: 0,
    };
    let archive_err = |e: io::Error| InstallError::Archive {
        source_name: source_name.to_string(),
        label: kind.label(),
        reason: e.to_string(),
    };
    let (mut have_db, mut have_meta) = (false, false);
    {
        let gz = flate2::read::GzDecoder::new(&mut hashing);
        let mut tar = tar::Archive::new(gz);
        for entry in tar.entries().map_err(archive_err)? {
            let mut entry = entry.map_err(archive_err)?;
            let ty = entry.header().entry_type();
            if !(ty.is_file() || ty.is_gnu_sparse() || ty.is_contiguous()) {
                continue;
            }
            let path = entry.path().map_err(archive_err)?.into_owned();
            let name = path.to_string_lossy().trim_start_matches("./").to_string();
            let target = if name == kind.db_file() {
                have_db = true;
                tmp.path.join(kind.db_file())
            } else if name == METADATA_FILE {
                have_meta = true;
                tmp.path.join(METADATA_FILE)
            } else {
                tracing::debug!("{source_name}: ignoring archive entry {name}");
                continue;
            };
            let file = fs::File::create(&target).map_err(|e| io_err(&target, e))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            io::copy(&mut entry, &mut out).map_err(archive_err)?;
            let file = out
                .into_inner()
                .map_err(|e| io_err(&target, e.into_error()))?;
            file.sync_all().map_err(|e| io_err(&target, e))?;
        }
        // Read the gzip trailer (its CRC and length check the decompressed data).
        let mut gz = tar.into_inner();
        io::copy(&mut gz, &mut io::sink()).map_err(archive_err)?;
    }
    // Whatever follows the gzip member is part of the blob and of its digest.
    io::copy(&mut hashing, &mut io::sink()).map_err(archive_err)?;
    let digest = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    if let Some(expected) = expected_digest {
        if !expected.eq_ignore_ascii_case(&digest) {
            return Err(InstallError::DigestMismatch {
                source_name: source_name.to_string(),
                expected: expected.to_string(),
                actual: digest,
            });
        }
    }
    let expected_files = format!("{} and {METADATA_FILE}", kind.db_file());
    if !have_db {
        return Err(InstallError::MissingFile {
            source_name: source_name.into(),
            file: kind.db_file(),
            expected: expected_files,
        });
    }
    if !have_meta {
        return Err(InstallError::MissingFile {
            source_name: source_name.into(),
            file: METADATA_FILE,
            expected: expected_files,
        });
    }

    let mut metadata = read_archive_metadata(&tmp.path, kind, source_name)?;
    check_db(&tmp.path, kind).map_err(|reason| InstallError::InvalidDb {
        source_name: source_name.to_string(),
        label: kind.label(),
        reason,
    })?;
    metadata.downloaded_at = Some(now);
    crate::write_metadata(&tmp.path, &metadata).map_err(|e| io_err(&tmp.path, e))?;
    if let Some(src) = source {
        let path = tmp.path.join(crate::update::SOURCE_FILE);
        let json = serde_json::to_vec_pretty(src).map_err(|e| io_err(&path, e.into()))?;
        fs::write(&path, json).map_err(|e| io_err(&path, e))?;
    }
    let db_size = fs::metadata(tmp.path.join(kind.db_file()))
        .map(|m| m.len())
        .unwrap_or(0);
    fsync_dir(&tmp.path);
    swap_into_place(&tmp.path, &dest)?;
    fsync_dir(cache_dir);
    Ok(Installed {
        metadata,
        db_size,
        archive_size: hashing.count,
        digest,
    })
}

/// Reads and checks the metadata shipped in the archive.
fn read_archive_metadata(
    dir: &Path,
    kind: DbKind,
    source_name: &str,
) -> Result<Metadata, InstallError> {
    let path = dir.join(METADATA_FILE);
    let bytes = fs::read(&path).map_err(|e| io_err(&path, e))?;
    let meta: Metadata = serde_json::from_slice(&bytes).map_err(|e| InstallError::Metadata {
        source_name: source_name.to_string(),
        reason: format!(
            "{METADATA_FILE} is not valid {} metadata: {e}",
            kind.label()
        ),
    })?;
    if meta.version != kind.schema_version() {
        return Err(InstallError::Metadata {
            source_name: source_name.to_string(),
            reason: format!(
                "{} schema version {} is not supported (need {}): point the repository at a `:{}` tag",
                kind.label(),
                meta.version,
                kind.schema_version(),
                kind.default_tag()
            ),
        });
    }
    Ok(meta)
}

/// Opens the new database and checks its structure before it may replace the old one.
fn check_db(dir: &Path, kind: DbKind) -> Result<(), String> {
    let path = dir.join(kind.db_file());
    match kind {
        DbKind::Vuln => {
            let db = VulnDb::open(&path).map_err(|e: DbError| e.to_string())?;
            db.verify().map_err(|e| e.to_string())?;
            Ok(())
        }
        DbKind::Java => crate::javadb::JavaDb::open(&path)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    }
}

/// A temporary directory next to `dest`, removed on drop unless it was swapped in (then it
/// holds the old DB, which is removed too).
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new(dest: &Path) -> Result<Self, InstallError> {
        let path = crate::metadata::temp_path_for(dest);
        fs::create_dir(&path).map_err(|e| io_err(&path, e))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.path.exists() {
            if let Err(e) = fs::remove_dir_all(&self.path) {
                tracing::warn!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Puts `new` in place of `dest`: one atomic exchange when `dest` exists (afterwards `new`
/// holds the old DB), a rename otherwise. Filesystems without `RENAME_EXCHANGE` fall back to
/// renaming file by file, the DB file first, so a crash leaves a consistent DB (new DB, old
/// metadata at worst: the next update simply downloads again).
fn swap_into_place(new: &Path, dest: &Path) -> Result<(), InstallError> {
    if !dest.exists() {
        return fs::rename(new, dest).map_err(|e| io_err(dest, e));
    }
    match exchange(new, dest) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            tracing::debug!("RENAME_EXCHANGE unsupported here ({e}); swapping file by file");
            let mut names: Vec<_> = fs::read_dir(new)
                .map_err(|e| io_err(new, e))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            names.sort_by_key(|n| n == METADATA_FILE);
            for n in names {
                fs::rename(new.join(&n), dest.join(&n)).map_err(|e| io_err(dest, e))?;
            }
            Ok(())
        }
        Err(e) => Err(io_err(dest, e)),
    }
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let cb = CString::new(b.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two valid NUL-terminated paths; renameat2 does not retain them.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

fn fsync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

fn io_err(path: &Path, source: io::Error) -> InstallError {
    InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a DB archive (tar.gz of `db_file` + `metadata.json` from `dir`) to `out`, the way
/// trivy-db publishes it. Used by tests and benchmarks that push artifacts to a registry.
pub fn write_archive(dir: &Path, kind: DbKind, out: impl Write) -> io::Result<()> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    // Plain regular entries, as trivy-db's Go tar writes them (no GNU sparse records).
    tar.sparse(false);
    for name in [kind.db_file(), METADATA_FILE] {
        tar.append_path_with_name(dir.join(name), name)?;
    }
    tar.into_inner()?.finish()?.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_round_trip_installs() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        crate::fixture::write_default_fixture_db(&src).unwrap();
        let mut blob = Vec::new();
        write_archive(&src, DbKind::Vuln, &mut blob).unwrap();
        let cache = tmp.path().join("cache");
        let installed = install_archive(
            blob.as_slice(),
            None,
            &cache,
            DbKind::Vuln,
            "test",
            Utc::now(),
            None,
        )
        .unwrap();
        assert_eq!(installed.archive_size, blob.len() as u64);
        assert!(VulnDb::open_cache(&cache).is_ok());
        // A second install swaps directories (RENAME_EXCHANGE) and leaves no temp dir.
        install_archive(
            blob.as_slice(),
            None,
            &cache,
            DbKind::Vuln,
            "test",
            Utc::now(),
            None,
        )
        .unwrap();
        let names: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["db"]);
    }
}
