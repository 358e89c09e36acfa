//! The operator's vulnerability DB: downloaded once per cluster into the operator's cache
//! (not once per scan Job), kept current on an interval, and swapped in place so matching
//! never stops. A swap changes [`CurrentDb::version`], which makes every workload's reports
//! out of date: the controller then re-matches the stored inventories (no scan Jobs).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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

/// The operator's DB state: absent until the first successful download.
pub struct DbState {
    cache_dir: PathBuf,
    shared: RwLock<Option<SharedDb>>,
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
            shared: RwLock::new(shared),
        }
    }

    /// The current DB, or `None` before the first download.
    pub fn current(&self) -> Option<CurrentDb> {
        let guard = self.shared.read().unwrap_or_else(|p| p.into_inner());
        let shared = guard.as_ref()?;
        let meta = shared.metadata();
        let layer = update::installed_source(&self.cache_dir, DbKind::Vuln)
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
        Some(CurrentDb {
            db: shared.current(),
            version: if layer.is_empty() {
                updated
            } else {
                format!("{updated}.{layer}")
            },
            updated_at: meta.updated_at,
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
            let mut guard = self.shared.write().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                Some(shared) => {
                    shared.reload()?;
                }
                None => *guard = Some(SharedDb::open(&self.cache_dir)?),
            }
        }
        let after = self.current().map(|c| c.version);
        Ok(after.is_some() && after != before)
    }
}
