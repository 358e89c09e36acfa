//! Installing a downloaded DB archive (the tar.gz layer of a trivy-db / trivy-java-db OCI
//! artifact) into the cache, so that neither a crash nor a bad download ever leaves a
//! half-written DB, and a reader never sees one.
//!
//! The archive is streamed (never held in memory) through a [`DigestReader`] (which checks the
//! manifest's digest and size when given them) into a file of a [`StagedDir`] next to the
//! destination; only a verified archive is unpacked (within [`MAX_UNPACKED_BYTES`]); then the
//! schema version and the DB itself are checked; only then does the staged directory replace
//! the old one, in the one atomic swap of `sightline_image::artifact`.
//! Readers holding the old `trivy.db` open keep reading it (its pages stay mapped) until they
//! reopen.

use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sightline_image::artifact::{BlobMismatch, DigestReader, FsError, SingleLayer, StagedDir};

use crate::{DbError, Metadata, VulnDb, METADATA_FILE};

/// Most bytes an archive may unpack to (trivy.db is about 1 GiB, trivy-java.db about 2 GiB
/// unpacked): a gzip bomb stops here instead of filling the disk.
pub const MAX_UNPACKED_BYTES: u64 = 16 << 30;

/// The verified archive inside the staged directory while it is unpacked (removed before
/// the directory is swapped in).
const DOWNLOAD_FILE: &str = ".archive.tar.gz";

/// Media type of the config blob of trivy-db and trivy-java-db artifacts.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.aquasec.trivy.config.v1+json";

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

    /// The layer's file name as trivy-db publishes it (`db.tar.gz`, `javadb.tar.gz`).
    pub fn archive_title(self) -> &'static str {
        match self {
            DbKind::Vuln => "db.tar.gz",
            DbKind::Java => "javadb.tar.gz",
        }
    }

    /// `archive` (a tar.gz from [`write_archive`]) as the single-layer artifact trivy-db
    /// publishes: its config media type, the layer media type and title of the kind.
    pub fn artifact(self, archive: Vec<u8>) -> SingleLayer {
        SingleLayer::new(CONFIG_MEDIA_TYPE, self.layer_media_type(), archive)
            .titled(self.archive_title())
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
    /// The archive unpacks to more than [`MAX_UNPACKED_BYTES`].
    #[error("{source_name}: the archive unpacks to more than {limit} bytes, over the DB unpacked-size limit (a damaged or hostile archive)")]
    TooLarge {
        /// Where the archive came from.
        source_name: String,
        /// The limit in bytes.
        limit: u64,
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

impl From<FsError> for InstallError {
    fn from(e: FsError) -> Self {
        InstallError::Io {
            path: e.path,
            source: e.source,
        }
    }
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

/// Streams `archive` (a tar.gz holding the DB file and `metadata.json`) into
/// `<cache_dir>/<kind dir>` atomically. A verifying `archive` (the manifest's digest, see
/// [`DigestReader::verifying`]) is checked over the whole stream before anything is swapped
/// in; `source_name` names the origin in errors.
pub fn install_archive<R: Read>(
    archive: &mut DigestReader<R>,
    cache_dir: &Path,
    kind: DbKind,
    source_name: &str,
    now: DateTime<Utc>,
    source: Option<&crate::update::DbSource>,
) -> Result<Installed, InstallError> {
    install_archive_within(
        archive,
        cache_dir,
        kind,
        source_name,
        now,
        source,
        MAX_UNPACKED_BYTES,
    )
}

/// [`install_archive`] with the unpacked-size limit given.
fn install_archive_within<R: Read>(
    archive: &mut DigestReader<R>,
    cache_dir: &Path,
    kind: DbKind,
    source_name: &str,
    now: DateTime<Utc>,
    source: Option<&crate::update::DbSource>,
    max_unpacked: u64,
) -> Result<Installed, InstallError> {
    let dest = kind.dir(cache_dir);
    let staged = StagedDir::create(&dest)?;
    let tmp = staged.path();
    let archive_err = |e: io::Error| match BlobMismatch::of(&e) {
        Some(BlobMismatch::Digest { expected, actual }) => InstallError::DigestMismatch {
            source_name: source_name.to_string(),
            expected: expected.clone(),
            actual: actual.clone(),
        },
        _ => InstallError::Archive {
            source_name: source_name.to_string(),
            label: kind.label(),
            reason: e.to_string(),
        },
    };
    // First the whole blob, verified (digest and declared size) as it is written: nothing of
    // a tampered download is ever unpacked.
    let download = tmp.join(DOWNLOAD_FILE);
    {
        let file = fs::File::create(&download).map_err(|e| io_err(&download, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        io::copy(archive, &mut out).map_err(archive_err)?;
        out.into_inner()
            .map_err(|e| io_err(&download, e.into_error()))?;
    }
    let digest = archive.digest();
    let (mut have_db, mut have_meta) = (false, false);
    {
        let file = fs::File::open(&download).map_err(|e| io_err(&download, e))?;
        let gz = flate2::read::GzDecoder::new(io::BufReader::with_capacity(1 << 20, file));
        let mut tar = tar::Archive::new(gz);
        let mut unpacked: u64 = 0;
        let too_large = || InstallError::TooLarge {
            source_name: source_name.to_string(),
            limit: max_unpacked,
        };
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
                tmp.join(kind.db_file())
            } else if name == METADATA_FILE {
                have_meta = true;
                tmp.join(METADATA_FILE)
            } else {
                tracing::debug!("{source_name}: ignoring archive entry {name}");
                continue;
            };
            if unpacked.saturating_add(entry.size()) > max_unpacked {
                return Err(too_large());
            }
            let file = fs::File::create(&target).map_err(|e| io_err(&target, e))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let room = max_unpacked - unpacked;
            let written =
                io::copy(&mut (&mut entry).take(room + 1), &mut out).map_err(archive_err)?;
            if written > room {
                return Err(too_large());
            }
            unpacked += written;
            out.into_inner()
                .map_err(|e| io_err(&target, e.into_error()))?;
        }
        // Read the gzip trailer (its CRC and length check the decompressed data).
        let mut gz = tar.into_inner();
        io::copy(&mut gz, &mut io::sink()).map_err(archive_err)?;
    }
    fs::remove_file(&download).map_err(|e| io_err(&download, e))?;
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

    let mut metadata = read_archive_metadata(tmp, kind, source_name)?;
    check_db(tmp, kind).map_err(|reason| InstallError::InvalidDb {
        source_name: source_name.to_string(),
        label: kind.label(),
        reason,
    })?;
    metadata.downloaded_at = Some(now);
    crate::write_metadata(tmp, &metadata).map_err(|e| io_err(tmp, e))?;
    if let Some(src) = source {
        let path = tmp.join(crate::update::SOURCE_FILE);
        let json = serde_json::to_vec_pretty(src).map_err(|e| io_err(&path, e.into()))?;
        fs::write(&path, json).map_err(|e| io_err(&path, e))?;
    }
    let db_size = fs::metadata(tmp.join(kind.db_file()))
        .map(|m| m.len())
        .unwrap_or(0);
    // Without RENAME_EXCHANGE, the DB file goes in before the metadata naming it current.
    staged.commit(&[METADATA_FILE])?;
    Ok(Installed {
        metadata,
        db_size,
        archive_size: archive.bytes_read(),
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

/// The DB in `dir` (the DB file + `metadata.json`) as the artifact trivy-db publishes
/// ([`write_archive`], then [`DbKind::artifact`]), ready to push. Used by tests, benchmarks
/// and fixture tools.
pub fn db_artifact(dir: &Path, kind: DbKind) -> io::Result<SingleLayer> {
    let mut archive = Vec::new();
    write_archive(dir, kind, &mut archive)?;
    Ok(kind.artifact(archive))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Installs `archive` as the vulnerability DB into `cache`, as a download would.
    fn install_test<R: Read>(
        archive: &mut DigestReader<R>,
        cache: &Path,
    ) -> Result<Installed, InstallError> {
        install_test_within(archive, cache, MAX_UNPACKED_BYTES)
    }

    /// [`install_test`] with an unpacked-size limit.
    fn install_test_within<R: Read>(
        archive: &mut DigestReader<R>,
        cache: &Path,
        max_unpacked: u64,
    ) -> Result<Installed, InstallError> {
        install_archive_within(
            archive,
            cache,
            DbKind::Vuln,
            "test",
            Utc::now(),
            None,
            max_unpacked,
        )
    }

    #[test]
    fn archive_round_trip_installs() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        crate::fixture::write_default_fixture_db(&src).unwrap();
        let mut blob = Vec::new();
        write_archive(&src, DbKind::Vuln, &mut blob).unwrap();
        let cache = tmp.path().join("cache");
        let installed = install_test(&mut DigestReader::new(blob.as_slice()), &cache).unwrap();
        assert_eq!(installed.archive_size, blob.len() as u64);
        assert!(VulnDb::open_cache(&cache).is_ok());
        // A second install swaps directories (RENAME_EXCHANGE) and leaves no temp dir.
        install_test(&mut DigestReader::new(blob.as_slice()), &cache).unwrap();
        let names: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["db"]);
    }

    fn fixture_archive(tmp: &Path) -> Vec<u8> {
        let src = tmp.join("src");
        crate::fixture::write_default_fixture_db(&src).unwrap();
        let mut blob = Vec::new();
        write_archive(&src, DbKind::Vuln, &mut blob).unwrap();
        blob
    }

    #[test]
    fn an_install_sweeps_leftovers_of_interrupted_installs() {
        let tmp = tempfile::tempdir().unwrap();
        let blob = fixture_archive(tmp.path());
        let cache = tmp.path().join("cache");
        // What a crash half way through an earlier install leaves behind.
        let leftover = cache.join(".db.tmp-4242-0-1");
        fs::create_dir_all(&leftover).unwrap();
        fs::write(leftover.join(crate::DB_FILE), vec![0u8; 4096]).unwrap();
        install_test(&mut DigestReader::new(blob.as_slice()), &cache).unwrap();
        assert!(!leftover.exists(), "the stale temp dir is swept");
        let (db, _) = VulnDb::open_cache(&cache).unwrap();
        assert!(!db.advisories("debian 12", "openssl").unwrap().is_empty());
        let names: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["db"]);
    }

    #[test]
    fn a_digest_mismatch_installs_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let blob = fixture_archive(tmp.path());
        let cache = tmp.path().join("cache");
        let wrong = format!("sha256:{}", "0".repeat(64));
        let e = install_test(
            &mut DigestReader::verifying(blob.as_slice(), &wrong, Some(blob.len() as u64)),
            &cache,
        )
        .unwrap_err();
        assert!(
            matches!(&e, InstallError::DigestMismatch { expected, .. } if *expected == wrong),
            "{e}"
        );
        assert!(
            e.to_string().contains("digest mismatch: the manifest says"),
            "{e}"
        );
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "nothing left");
    }

    /// A tampered download is refused before anything of it is unpacked: a corrupt archive
    /// under a wrong digest is a digest mismatch (before, it was unpacked first and failed
    /// as a corrupt archive).
    #[test]
    fn a_tampered_archive_is_never_unpacked() {
        let tmp = tempfile::tempdir().unwrap();
        let mut blob = fixture_archive(tmp.path());
        blob.truncate(blob.len() / 2);
        let cache = tmp.path().join("cache");
        let wrong = format!("sha256:{}", "0".repeat(64));
        let e = install_test(
            &mut DigestReader::verifying(blob.as_slice(), &wrong, None),
            &cache,
        )
        .unwrap_err();
        assert!(matches!(&e, InstallError::DigestMismatch { .. }), "{e}");
    }

    #[test]
    fn the_unpacked_size_is_capped() {
        let tmp = tempfile::tempdir().unwrap();
        let blob = fixture_archive(tmp.path());
        let cache = tmp.path().join("cache");
        let e =
            install_test_within(&mut DigestReader::new(blob.as_slice()), &cache, 1024).unwrap_err();
        assert!(
            matches!(&e, InstallError::TooLarge { limit: 1024, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("unpacked-size limit"), "{e}");
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 0, "nothing left");
    }
}
