//! The operator's vulnerability DB: downloaded once per cluster into the operator's cache
//! (not once per scan Job), kept current on an interval, and swapped in place so matching
//! never stops. A swap changes [`CurrentDb::version`], which makes every workload's reports
//! out of date: the controller then re-matches the stored inventories (no scan Jobs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::sync::RwLockExt;

use chrono::Utc;
use sightline_image::{NoProgress, RegistryOptions};
use sightline_vulndb::install::DbKind;
use sightline_vulndb::shared::SharedDb;
use sightline_vulndb::update::{self, UpdateOptions, UpdateOutcome};
use sightline_vulndb::VulnDb;

use crate::config::OperatorConfig;

/// The DB reports are matched against, with the identity reports record.
#[derive(Clone)]
pub struct CurrentDb {
    /// The open DB.
    pub db: Arc<VulnDb>,
    /// `UpdatedAt` plus the artifact's layer digest: changes with every new DB.
    pub version: String,
    /// When the DB was built (for `sightline_vulndb_age_seconds`).
    pub updated_at: Option<chrono::DateTime<Utc>>,
}

/// An open DB with its identity, computed once per install (not per reconcile).
struct Installed {
    shared: SharedDb,
    version: String,
    updated_at: Option<chrono::DateTime<Utc>>,
}

/// The operator's DB state: absent until the first successful download.
pub struct DbState {
    cache_dir: PathBuf,
    installed: RwLock<Option<Installed>>,
}

/// The identity of the DB in `cache_dir`: `UpdatedAt` plus the artifact's layer digest.
fn identify(cache_dir: &Path, shared: &SharedDb) -> (String, Option<chrono::DateTime<Utc>>) {
    let meta = shared.metadata();
    let layer = update::installed_source(cache_dir, DbKind::Vuln)
        .map(|s| {
            s.layer_digest
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        })
        .unwrap_or_default();
    let updated = meta
        .updated_at
        .map(sightline_api::crd::format_time)
        .unwrap_or_else(|| "unknown".into());
    let version = if layer.is_empty() {
        updated
    } else {
        format!("{updated}.{layer}")
    };
    (version, meta.updated_at)
}

fn install(cache_dir: &Path, shared: SharedDb) -> Installed {
    let (version, updated_at) = identify(cache_dir, &shared);
    Installed {
        shared,
        version,
        updated_at,
    }
}

impl DbState {
    /// Opens the DB already in `cache_dir`, if there is a usable one.
    pub fn open(cache_dir: &Path) -> Self {
        let shared = match SharedDb::open(cache_dir) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::info!(
                    "no usable vulnerability DB in {} yet ({e}); it is downloaded next",
                    cache_dir.display()
                );
                None
            }
        };
        DbState {
            cache_dir: cache_dir.to_path_buf(),
            installed: RwLock::new(shared.map(|s| install(cache_dir, s))),
        }
    }

    /// The current DB, or `None` before the first download.
    pub fn current(&self) -> Option<CurrentDb> {
        let guard = self.installed.read_locked();
        let i = guard.as_ref()?;
        Some(CurrentDb {
            db: i.shared.current(),
            version: i.version.clone(),
            updated_at: i.updated_at,
        })
    }

    /// Updates the DB when due (Trivy's NextUpdate rules) and swaps it in; `Ok(true)` when
    /// reports must be re-matched (a different DB is now current).
    pub async fn update(&self, config: &OperatorConfig) -> anyhow::Result<bool> {
        let before = self.current().map(|c| c.version);
        let opts = UpdateOptions {
            repositories: config.db_repositories.clone(),
            registry: RegistryOptions {
                insecure_registries: config.insecure_registries.clone(),
                ..Default::default()
            },
            force: false,
        };
        let outcome = update::update(
            &self.cache_dir,
            DbKind::Vuln,
            &opts,
            Arc::new(NoProgress),
            Utc::now(),
        )
        .await?;
        match &outcome {
            UpdateOutcome::UpToDate { reason } => {
                tracing::debug!("vulnerability DB current: {reason}")
            }
            UpdateOutcome::Updated { repository, .. } => {
                tracing::info!("vulnerability DB updated from {repository}")
            }
        }
        {
            let mut guard = self.installed.write_locked();
            let shared = match guard.take() {
                Some(i) => {
                    let reloaded = i.shared.reload();
                    let shared = i.shared;
                    if let Err(e) = reloaded {
                        *guard = Some(install(&self.cache_dir, shared));
                        return Err(e.into());
                    }
                    shared
                }
                None => SharedDb::open(&self.cache_dir)?,
            };
            *guard = Some(install(&self.cache_dir, shared));
        }
        let after = self.current().map(|c| c.version);
        Ok(after.is_some() && after != before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 10): the DB's identity (reading `source.json` from disk) was
    /// computed on every reconcile. It is computed once per install: removing the file after
    /// opening changes nothing until the next install.
    #[test]
    fn the_db_identity_is_read_once_per_install() {
        let cache = tempfile::tempdir().unwrap();
        let db_dir = DbKind::Vuln.dir(cache.path());
        sightline_vulndb::fixture::write_default_fixture_db(&db_dir).unwrap();
        let source = update::DbSource {
            repository: "127.0.0.1:5000/aquasec/trivy-db:2".into(),
            manifest_digest: format!("sha256:{}", "b".repeat(64)),
            layer_digest: format!("sha256:{}", "a".repeat(64)),
        };
        std::fs::write(
            db_dir.join(update::SOURCE_FILE),
            serde_json::to_vec(&source).unwrap(),
        )
        .unwrap();
        let state = DbState::open(cache.path());
        let first = state.current().expect("a DB").version;
        assert!(first.ends_with(".aaaaaaaaaaaa"), "{first}");
        std::fs::remove_file(db_dir.join(update::SOURCE_FILE)).unwrap();
        for _ in 0..3 {
            assert_eq!(state.current().unwrap().version, first);
        }
    }

    #[test]
    fn no_db_yet_is_none() {
        let cache = tempfile::tempdir().unwrap();
        assert!(DbState::open(cache.path()).current().is_none());
    }
}
