//! Keeping the DBs current: decide whether an update is due (Trivy's rules), pull the DB
//! artifact from the first repository that works, check it, and install it atomically.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sightline_image::artifact::{with_default_tag, Artifact};
use sightline_image::{ImageError, Progress, RegistryOptions};

use crate::install::{install_archive, DbKind, InstallError, Installed};
use crate::{Metadata, METADATA_FILE};

/// The side file recording where an installed DB came from (Trivy's metadata has no field
/// for it; Trivy ignores unknown files in the directory).
pub const SOURCE_FILE: &str = "source.json";

/// Where an installed DB came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbSource {
    /// The repository reference it was pulled from (with tag).
    pub repository: String,
    /// Digest of the artifact manifest.
    pub manifest_digest: String,
    /// Digest of the DB layer.
    pub layer_digest: String,
}

/// How to update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Repositories tried in order; empty = Trivy's defaults for the kind. A repository
    /// without a tag gets the schema tag (`:2` for the vulnerability DB, `:1` for Java).
    pub repositories: Vec<String>,
    /// Registry access (auth, insecure, timeout) — the same as for image pulls.
    pub registry: RegistryOptions,
    /// Download even when the DB is current.
    pub force: bool,
}

/// What an update did.
#[derive(Debug, Clone)]
pub enum UpdateOutcome {
    /// The cached DB is current; nothing was downloaded.
    UpToDate {
        /// Why no download was needed.
        reason: String,
    },
    /// A new DB was installed.
    Updated {
        /// The repository it came from.
        repository: String,
        /// What was installed.
        installed: Installed,
    },
}

/// Why an update failed. The previous DB, if any, is untouched and usable.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Every repository failed.
    #[error("could not update the {label} from any repository; the previous DB (if any) is unchanged:{}", attempts.iter().map(|(r, e)| format!("\n  {r}: {e}")).collect::<String>())]
    AllFailed {
        /// `vulnerability DB` / `Java DB`.
        label: &'static str,
        /// Repository and error of each attempt, in order.
        attempts: Vec<(String, String)>,
    },
    /// Taking the update lock failed.
    #[error("cannot lock {path} for the update: {reason}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Why an artifact was refused before download.
#[derive(Debug, thiserror::Error)]
enum ArtifactError {
    #[error(transparent)]
    Registry(#[from] ImageError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("{0}")]
    Shape(String),
}

/// Trivy's rule: no download while `NextUpdate` is in the future, nor within an hour of the
/// last download (registry rate limits). Returns the reason to skip, or `None` when due.
pub fn skip_reason(meta: Option<&Metadata>, now: DateTime<Utc>) -> Option<String> {
    let meta = meta?;
    if let Some(next) = meta.next_update {
        if now < next {
            return Some(format!(
                "current until its NextUpdate {}",
                next.to_rfc3339()
            ));
        }
    }
    if let Some(at) = meta.downloaded_at {
        if now < at + chrono::Duration::hours(1) {
            return Some(format!(
                "downloaded less than an hour ago ({})",
                at.to_rfc3339()
            ));
        }
    }
    None
}

/// Reads the metadata of the installed DB of `kind`, if there is a usable one.
pub fn installed_metadata(cache_dir: &Path, kind: DbKind) -> Option<Metadata> {
    let dir = kind.dir(cache_dir);
    if !dir.join(kind.db_file()).is_file() {
        return None;
    }
    let bytes = std::fs::read(dir.join(METADATA_FILE)).ok()?;
    let meta: Metadata = serde_json::from_slice(&bytes).ok()?;
    (meta.version == kind.schema_version()).then_some(meta)
}

/// Reads where the installed DB of `kind` came from.
pub fn installed_source(cache_dir: &Path, kind: DbKind) -> Option<DbSource> {
    let bytes = std::fs::read(kind.dir(cache_dir).join(SOURCE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The repositories to try for `kind`, tags completed.
pub fn repositories(kind: DbKind, configured: &[String]) -> Vec<String> {
    if configured.is_empty() {
        kind.default_repositories()
            .iter()
            .map(|r| r.to_string())
            .collect()
    } else {
        configured
            .iter()
            .map(|r| with_default_tag(r.trim(), &kind.default_tag()))
            .collect()
    }
}

/// Updates the DB of `kind` in `cache_dir` when due (or when forced). Concurrent updaters of
/// the same cache are serialised by a lock file; the second one re-checks and usually finds
/// the DB current.
pub async fn update(
    cache_dir: &Path,
    kind: DbKind,
    opts: &UpdateOptions,
    progress: Arc<dyn Progress>,
    now: DateTime<Utc>,
) -> Result<UpdateOutcome, UpdateError> {
    let _lock = UpdateLock::acquire(cache_dir, kind).await?;
    if !opts.force {
        if let Some(reason) = skip_reason(installed_metadata(cache_dir, kind).as_ref(), now) {
            return Ok(UpdateOutcome::UpToDate { reason });
        }
    }
    let mut attempts = Vec::new();
    for repo in repositories(kind, &opts.repositories) {
        match pull_and_install(
            &repo,
            cache_dir,
            kind,
            &opts.registry,
            progress.clone(),
            now,
        )
        .await
        {
            Ok(installed) => {
                tracing::debug!(
                    "{} updated from {repo}: {} ({:.1} MiB), UpdatedAt {}",
                    kind.label(),
                    installed.digest,
                    installed.db_size as f64 / 1048576.0,
                    installed
                        .metadata
                        .updated_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default()
                );
                return Ok(UpdateOutcome::Updated {
                    repository: repo,
                    installed,
                });
            }
            Err(e) => {
                tracing::warn!("{} from {repo} failed: {e}", kind.label());
                attempts.push((repo, e.to_string()));
            }
        }
    }
    Err(UpdateError::AllFailed {
        label: kind.label(),
        attempts,
    })
}

async fn pull_and_install(
    repo: &str,
    cache_dir: &Path,
    kind: DbKind,
    registry: &RegistryOptions,
    progress: Arc<dyn Progress>,
    now: DateTime<Utc>,
) -> Result<Installed, ArtifactError> {
    let artifact = Artifact::fetch(repo, registry).await?;
    let layer = artifact
        .single_layer(kind.layer_media_type())
        .map_err(|m| ArtifactError::Shape(format!("{}: {m}", artifact.reference)))?;
    let title = layer.title().unwrap_or_default().to_string();
    if !(title.ends_with(".tar.gz") || title.ends_with(".tgz")) {
        return Err(ArtifactError::Shape(format!(
            "{}: layer annotation org.opencontainers.image.title is {:?}, expected a .tar.gz file name (e.g. db.tar.gz)",
            artifact.reference, title
        )));
    }
    let source = DbSource {
        repository: artifact.reference.clone(),
        manifest_digest: artifact.manifest_digest.clone(),
        layer_digest: layer.digest.clone(),
    };
    let (cache, name) = (
        cache_dir.to_path_buf(),
        format!("{} ({title})", artifact.reference),
    );
    let installed = artifact
        .stream_layer(layer, progress, move |reader| {
            install_archive(reader, &cache, kind, &name, now, Some(&source))
        })
        .await??;
    Ok(installed)
}

/// An exclusive lock on `<cache>/.<dir>.lock` for the duration of an update.
struct UpdateLock {
    _file: std::fs::File,
}

impl UpdateLock {
    async fn acquire(cache_dir: &Path, kind: DbKind) -> Result<Self, UpdateError> {
        let path = cache_dir.join(format!(".{}.lock", kind.dir_name()));
        let lock_err = |reason: String| UpdateError::Lock {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(cache_dir).map_err(|e| lock_err(e.to_string()))?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| lock_err(e.to_string()))?;
        let mut waited = Duration::ZERO;
        loop {
            match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
                Ok(()) => return Ok(UpdateLock { _file: file }),
                Err(e) if e.raw_os_error() == fs4::lock_contended_error().raw_os_error() => {
                    if waited.is_zero() {
                        tracing::info!(
                            "another update of {} is running; waiting for it",
                            kind.label()
                        );
                    }
                    if waited > Duration::from_secs(1800) {
                        return Err(lock_err("another update held it for 30 minutes".into()));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    waited += Duration::from_millis(200);
                }
                Err(e) => return Err(lock_err(e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn skip_rules_follow_trivy() {
        let now = at("2026-11-27T12:00:00Z");
        assert!(skip_reason(None, now).is_none(), "no DB: download");
        let mut m = Metadata {
            version: 2,
            next_update: Some(at("2026-11-27T18:00:00Z")),
            updated_at: None,
            downloaded_at: Some(at("2026-11-27T06:00:00Z")),
        };
        assert!(skip_reason(Some(&m), now).unwrap().contains("NextUpdate"));
        m.next_update = Some(at("2026-11-27T11:00:00Z"));
        assert!(
            skip_reason(Some(&m), now).is_none(),
            "NextUpdate passed, downloaded 6h ago: download"
        );
        m.downloaded_at = Some(at("2026-11-27T11:30:00Z"));
        assert!(skip_reason(Some(&m), now).unwrap().contains("hour"));
    }

    #[test]
    fn repositories_get_schema_tags_and_defaults() {
        assert_eq!(
            repositories(DbKind::Vuln, &[]),
            [
                "mirror.gcr.io/aquasec/trivy-db:2",
                "ghcr.io/aquasecurity/trivy-db:2"
            ]
        );
        assert_eq!(
            repositories(
                DbKind::Java,
                &["registry.internal.corp/trivy-java-db".into()]
            ),
            ["registry.internal.corp/trivy-java-db:1"]
        );
        assert_eq!(
            repositories(DbKind::Vuln, &["127.0.0.1:5001/aquasec/trivy-db:2".into()]),
            ["127.0.0.1:5001/aquasec/trivy-db:2"]
        );
    }
}
