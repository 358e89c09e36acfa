//! One open DB shared by every concurrent scan, swapped for a new one without stopping them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::{DbError, Metadata, VulnDb};

/// The current DB of a cache directory. Scans take an `Arc<VulnDb>` with [`SharedDb::current`]
/// and keep using it for their whole run; [`SharedDb::reload`] (after an update installed a
/// new file) makes new scans use the new DB while running ones finish on the old one, whose
/// pages stay mapped until its last user drops it.
pub struct SharedDb {
    cache_dir: PathBuf,
    state: RwLock<(Arc<VulnDb>, Metadata)>,
}

impl SharedDb {
    /// Opens `<cache_dir>/db`.
    pub fn open(cache_dir: &Path) -> Result<Self, DbError> {
        let (db, meta) = VulnDb::open_cache(cache_dir)?;
        Ok(SharedDb {
            cache_dir: cache_dir.to_path_buf(),
            state: RwLock::new((Arc::new(db), meta)),
        })
    }

    /// The DB new scans should use.
    pub fn current(&self) -> Arc<VulnDb> {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// Metadata of the current DB.
    pub fn metadata(&self) -> Metadata {
        self.state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// Reopens the DB from disk if its metadata changed; `Ok(true)` when it was swapped. On
    /// error the current DB stays in use.
    pub fn reload(&self) -> Result<bool, DbError> {
        let (db, meta) = VulnDb::open_cache(&self.cache_dir)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.1 == meta {
            return Ok(false);
        }
        *state = (Arc::new(db), meta);
        Ok(true)
    }
}
