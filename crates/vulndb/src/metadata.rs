//! `metadata.json` next to `trivy.db` (Trivy's format:
//! `{"Version":2,"NextUpdate":"…","UpdatedAt":"…","DownloadedAt":"…"}`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{DbError, Metadata, METADATA_FILE, SCHEMA_VERSION};

/// Reads `<db_dir>/metadata.json` and checks its schema version.
///
/// A missing file, invalid JSON or a `Version` other than [`SCHEMA_VERSION`] is a
/// [`DbError::Metadata`] saying what to do.
pub fn read_metadata(db_dir: &Path) -> Result<Metadata, DbError> {
    let path = db_dir.join(METADATA_FILE);
    let err = |reason: String| DbError::Metadata {
        path: path.clone(),
        reason,
    };
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(err(
                "missing: run `sightline db update` (a trivy.db needs its metadata.json)".into(),
            ))
        }
        Err(e) => return Err(err(format!("cannot read it: {e}"))),
    };
    let meta: Metadata = serde_json::from_slice(&bytes).map_err(|e| {
        err(format!(
            "not valid Trivy DB metadata ({e}): delete the db directory and run `sightline db update`"
        ))
    })?;
    if meta.version != SCHEMA_VERSION {
        return Err(err(format!(
            "schema version {} is not supported (need {SCHEMA_VERSION}): run `sightline db update`",
            meta.version
        )));
    }
    Ok(meta)
}

/// Writes `<db_dir>/metadata.json` atomically (temporary file + rename), creating `db_dir`.
pub fn write_metadata(db_dir: &Path, metadata: &Metadata) -> io::Result<()> {
    fs::create_dir_all(db_dir)?;
    let json = serde_json::to_vec(metadata).map_err(io::Error::other)?;
    write_atomic(&db_dir.join(METADATA_FILE), &json)
}

/// A fresh temporary path next to `target` (same directory, so a rename is atomic).
pub(crate) fn temp_path_for(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    target.with_file_name(format!(
        ".{name}.tmp-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `bytes` to `target` through a temporary file in the same directory and a rename, so
/// a reader sees the old content or the new one, never a partial file.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path_for(target);
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
