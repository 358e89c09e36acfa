//! Reader for Trivy's Java DB (`trivy-java.db`, SQLite, schema version 1): maps jar SHA-1s
//! to Maven coordinates and lists the known versions of a groupId/artifactId.
//!
//! Schema (as trivy-java-db writes it):
//! `artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT)` and
//! `indices(artifact_id INTEGER REFERENCES artifacts(id), version TEXT, sha1 BLOB, archive_type TEXT)`,
//! with `sha1` the raw 20 bytes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// File name of the Java DB inside `<cache>/java-db`.
pub const JAVA_DB_FILE: &str = "trivy-java.db";

/// The Java DB schema version this reader understands.
pub const JAVA_SCHEMA_VERSION: u32 = 1;

/// One indexed Maven artifact file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaIndex {
    /// Maven groupId.
    pub group_id: String,
    /// Maven artifactId.
    pub artifact_id: String,
    /// Version.
    pub version: String,
    /// SHA-1 of the file, lower-case hex.
    pub sha1: String,
    /// `jar`, `aar`, ...
    pub archive_type: String,
}

/// Errors of the Java DB reader.
#[derive(Debug, thiserror::Error)]
pub enum JavaDbError {
    /// The file does not exist.
    #[error("Java DB not found at {0}: run `sightline db update --java-db`")]
    NotFound(PathBuf),
    /// The file is not a Java DB (not SQLite, or the tables are missing).
    #[error("Java DB at {path} is unusable ({reason}): delete it and run `sightline db update --java-db`")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A query failed.
    #[error("Java DB query failed: {0}")]
    Query(String),
    /// A SHA-1 argument is not 40 hex characters.
    #[error("invalid SHA-1 {0:?}: expected 40 hex characters")]
    BadSha1(String),
}

/// An open, read-only Java DB. `Send + Sync` (queries are serialised on one connection).
pub struct JavaDb {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SELECT: &str =
    "SELECT a.group_id, a.artifact_id, i.version, i.sha1, i.archive_type FROM indices i JOIN artifacts a ON a.id = i.artifact_id";

impl JavaDb {
    /// Opens `trivy-java.db` read-only and checks its tables.
    pub fn open(path: &Path) -> Result<Self, JavaDbError> {
        if !path.is_file() {
            return Err(JavaDbError::NotFound(path.to_path_buf()));
        }
        let invalid = |reason: String| JavaDbError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| invalid(e.to_string()))?;
        for table in ["artifacts", "indices"] {
            let found: Option<String> = conn
                .query_row(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| invalid(e.to_string()))?;
            if found.is_none() {
                return Err(invalid(format!("table {table} is missing")));
            }
        }
        conn.query_row(&format!("{SELECT} LIMIT 1"), [], |_| Ok(()))
            .optional()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(JavaDb {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// The file this reader has open.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The artifact file whose SHA-1 is `sha1_hex`.
    pub fn by_sha1(&self, sha1_hex: &str) -> Result<Option<JavaIndex>, JavaDbError> {
        let raw = hex::decode(sha1_hex.trim())
            .ok()
            .filter(|b| b.len() == 20)
            .ok_or_else(|| JavaDbError::BadSha1(sha1_hex.into()))?;
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row(&format!("{SELECT} WHERE i.sha1 = ?1"), [raw], row)
            .optional()
            .map_err(|e| JavaDbError::Query(e.to_string()))
    }

    /// Every indexed file of `group_id:artifact_id`, ordered by version text.
    pub fn by_artifact(
        &self,
        group_id: &str,
        artifact_id: &str,
    ) -> Result<Vec<JavaIndex>, JavaDbError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE a.group_id = ?1 AND a.artifact_id = ?2 ORDER BY i.version"
            ))
            .map_err(|e| JavaDbError::Query(e.to_string()))?;
        let rows = stmt
            .query_map([group_id, artifact_id], row)
            .map_err(|e| JavaDbError::Query(e.to_string()))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| JavaDbError::Query(e.to_string()))
    }

    /// The groupIds known for an artifactId and version (how Trivy completes a jar whose
    /// manifest names only the artifactId), sorted.
    pub fn group_ids(&self, artifact_id: &str, version: &str) -> Result<Vec<String>, JavaDbError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn
            .prepare_cached(
                "SELECT DISTINCT a.group_id FROM indices i JOIN artifacts a ON a.id = i.artifact_id WHERE a.artifact_id = ?1 AND i.version = ?2 ORDER BY a.group_id",
            )
            .map_err(|e| JavaDbError::Query(e.to_string()))?;
        let rows = stmt
            .query_map([artifact_id, version], |r| r.get(0))
            .map_err(|e| JavaDbError::Query(e.to_string()))?;
        rows.collect::<Result<Vec<String>, _>>()
            .map_err(|e| JavaDbError::Query(e.to_string()))
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JavaIndex> {
    let sha1: Vec<u8> = r.get(3)?;
    Ok(JavaIndex {
        group_id: r.get(0)?,
        artifact_id: r.get(1)?,
        version: r.get(2)?,
        sha1: hex::encode(sha1),
        archive_type: r.get(4)?,
    })
}

/// Creates an empty Java DB with trivy-java-db's schema at `path` (tests and fixtures).
pub fn create_schema(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
         CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, FOREIGN KEY (artifact_id) REFERENCES artifacts(id));
         CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
         CREATE INDEX indices_artifact_idx ON indices(artifact_id);
         CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);",
    )?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> PathBuf {
        let p = dir.join(JAVA_DB_FILE);
        let conn = create_schema(&p).unwrap();
        // Real Maven coordinates; the SHA-1 values are test values, not the files' real hashes.
        let rows = [
            (
                "org.apache.logging.log4j",
                "log4j-core",
                "2.14.1",
                "9141212b8507ab50a45525b545b39d224614528b",
                "jar",
            ),
            (
                "org.apache.logging.log4j",
                "log4j-core",
                "2.17.1",
                "779f60f3844dadc3ef597976fcb1e5127b1f343d",
                "jar",
            ),
            (
                "com.fasterxml.jackson.core",
                "jackson-databind",
                "2.13.4",
                "98b0edfa8e4084078f10b7b356c300ded4a71491",
                "jar",
            ),
        ];
        for (g, a, v, sha1, t) in rows {
            conn.execute(
                "INSERT OR IGNORE INTO artifacts(group_id, artifact_id) VALUES (?1, ?2)",
                [g, a],
            )
            .unwrap();
            let id: i64 = conn
                .query_row(
                    "SELECT id FROM artifacts WHERE group_id = ?1 AND artifact_id = ?2",
                    [g, a],
                    |r| r.get(0),
                )
                .unwrap();
            conn.execute(
                "INSERT INTO indices(artifact_id, version, sha1, archive_type) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![id, v, hex::decode(sha1).unwrap(), t],
            )
            .unwrap();
        }
        p
    }

    #[test]
    fn lookups_by_sha1_and_coordinates() {
        let dir = tempfile::tempdir().unwrap();
        let db = JavaDb::open(&sample(dir.path())).unwrap();
        let hit = db
            .by_sha1("9141212B8507AB50A45525B545B39D224614528B")
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                hit.group_id.as_str(),
                hit.artifact_id.as_str(),
                hit.version.as_str()
            ),
            ("org.apache.logging.log4j", "log4j-core", "2.14.1")
        );
        assert_eq!(hit.sha1, "9141212b8507ab50a45525b545b39d224614528b");
        assert!(db
            .by_sha1("0000000000000000000000000000000000000000")
            .unwrap()
            .is_none());
        assert!(matches!(db.by_sha1("xyz"), Err(JavaDbError::BadSha1(_))));
        let versions: Vec<_> = db
            .by_artifact("org.apache.logging.log4j", "log4j-core")
            .unwrap()
            .into_iter()
            .map(|i| i.version)
            .collect();
        assert_eq!(versions, ["2.14.1", "2.17.1"]);
        assert_eq!(
            db.group_ids("jackson-databind", "2.13.4").unwrap(),
            ["com.fasterxml.jackson.core"]
        );
        fn shared<T: Send + Sync>() {}
        shared::<JavaDb>();
    }

    #[test]
    fn bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            JavaDb::open(&dir.path().join("nope.db")),
            Err(JavaDbError::NotFound(_))
        ));
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"this is not sqlite at all, not even close......").unwrap();
        let e = JavaDb::open(&junk).err().unwrap();
        assert!(matches!(e, JavaDbError::Invalid { .. }), "{e}");
        let empty = dir.path().join("empty.db");
        Connection::open(&empty)
            .unwrap()
            .execute_batch("CREATE TABLE x(a);")
            .unwrap();
        let e = JavaDb::open(&empty).err().unwrap();
        assert!(e.to_string().contains("artifacts"), "{e}");
    }
}
