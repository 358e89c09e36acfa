//! One atomic directory install, for everything downloaded into a cache directory (the
//! vulnerability DB, the Java DB, the checks bundle): the new content is written into a fresh
//! temporary directory next to the destination ([`StagedDir::create`]), then
//! [`StagedDir::commit`] fsyncs its files and directories, swaps it with the destination in one
//! `renameat2(RENAME_EXCHANGE)` (a rename when there is no destination yet) and fsyncs the
//! parent. A crash or an error before the swap leaves the previous content untouched; a reader
//! never sees a half-written directory; a reader holding a file of the old content open keeps
//! reading it.
//!
//! Filesystems without `RENAME_EXCHANGE` fall back to moving the entries one by one, those
//! named `last` (the marker of a complete install, e.g. `metadata.json`) after the others.
//!
//! Temporary directories are named `.<dest name>.tmp-<pid>-<n>-<nanos>` and hold an exclusive
//! `flock` while they live. Those of interrupted installs (a crash, a kill) are swept by
//! [`sweep_stale_installs`], which every [`StagedDir::create`] runs on the parent first: a
//! directory of that pattern whose lock can be taken has no live owner, whatever its PID says
//! (PIDs are reused, and differ across container restarts).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A file operation of an install failed.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FsError {
    /// The path involved.
    pub path: PathBuf,
    /// The error.
    #[source]
    pub source: io::Error,
}

fn fs_err(path: &Path) -> impl FnOnce(io::Error) -> FsError + '_ {
    move |source| FsError {
        path: path.to_path_buf(),
        source,
    }
}

/// The mark in the names of install temporary directories (`.<name>.tmp-...`).
const TEMP_MARK: &str = ".tmp-";

/// Whether `name` is the name of an install's temporary directory.
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(TEMP_MARK)
}

/// A temporary directory next to its destination, filled by the caller, then swapped in by
/// [`StagedDir::commit`]. Dropped without a commit (an error), it is removed.
pub struct StagedDir {
    path: PathBuf,
    dest: PathBuf,
    /// Holds the directory's `flock`: a sweep leaves it alone while this lives.
    _lock: fs::File,
}

impl StagedDir {
    /// Sweeps stale installs next to `dest`, then creates a fresh, locked temporary directory
    /// there (the parent is created if missing).
    pub fn create(dest: &Path) -> Result<StagedDir, FsError> {
        let parent = parent_of(dest);
        fs::create_dir_all(parent).map_err(fs_err(parent))?;
        if let Err(e) = sweep_stale_installs(parent) {
            tracing::warn!("{}: {e}", parent.display());
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = parent.join(format!(
                ".{name}{TEMP_MARK}{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir(&path).map_err(fs_err(&path))?;
            let lock = fs::File::open(&path).map_err(fs_err(&path))?;
            lock.lock().map_err(fs_err(&path))?;
            // Another process's sweep may have taken the directory between its creation and
            // the lock: then the path no longer names the locked directory; take a new one.
            if same_file(&lock, &path) {
                return Ok(StagedDir {
                    path,
                    dest: dest.to_path_buf(),
                    _lock: lock,
                });
            }
        }
    }

    /// The temporary directory to fill.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the content durable (fsync of every file and directory in it), swaps it into the
    /// destination, fsyncs the parent and removes the previous content. `last`: entries moved
    /// after the others when the swap has to go entry by entry.
    pub fn commit(self, last: &[&str]) -> Result<(), FsError> {
        sync_tree(&self.path)?;
        swap_into_place(&self.path, &self.dest, last)?;
        sync_dir(parent_of(&self.dest));
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        // After a swap this is the previous content; before, an abandoned install.
        match fs::remove_dir_all(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove {}: {e}", self.path.display()),
        }
    }
}

/// Removes the temporary directories of interrupted installs in `dir` (those of this
/// module's naming pattern whose lock no live install holds) and returns their paths. A
/// missing `dir` has none. Installs do it themselves before they start; call it at startup
/// to reclaim the space at once.
pub fn sweep_stale_installs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut swept = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if !is_temp_name(&name.to_string_lossy()) || !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        let lock = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::warn!("cannot check {}: {e}", path.display());
                continue;
            }
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => continue, // a live install
            Err(fs::TryLockError::Error(e)) => {
                tracing::warn!("cannot lock {}: {e}", path.display());
                continue;
            }
        }
        match fs::remove_dir_all(&path) {
            Ok(()) => {
                tracing::info!("removed {}, left by an interrupted install", path.display());
                swept.push(path);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
        }
    }
    Ok(swept)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(unix)]
fn same_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &fs::File, path: &Path) -> bool {
    path.is_dir()
}

/// fsync of every file and directory under `dir` (and `dir` itself).
fn sync_tree(dir: &Path) -> Result<(), FsError> {
    for entry in fs::read_dir(dir).map_err(fs_err(dir))? {
        let entry = entry.map_err(fs_err(dir))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(fs_err(&path))?;
        if ty.is_dir() {
            sync_tree(&path)?;
        } else if ty.is_file() {
            fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(fs_err(&path))?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// fsync of a directory (its entries); some filesystems refuse it, which is not an error.
fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Puts `new` in place of `dest`: one atomic exchange when `dest` exists (afterwards `new`
/// holds the previous content), a rename otherwise; entry by entry where the filesystem has
/// no `RENAME_EXCHANGE`.
fn swap_into_place(new: &Path, dest: &Path, last: &[&str]) -> Result<(), FsError> {
    if !dest.exists() {
        return fs::rename(new, dest).map_err(fs_err(dest));
    }
    match super::rename_exchange::exchange(new, dest) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) => {
            tracing::debug!("RENAME_EXCHANGE unsupported here ({e}); swapping entry by entry");
            swap_entries(new, dest, last)
        }
        Err(e) => Err(fs_err(dest)(e)),
    }
}

/// The fallback swap: each entry of `new` renamed over its namesake in `dest` (a file is
/// replaced atomically; a directory's previous version is first moved into `new`, which is
/// removed afterwards), the `last` ones last, in their order. A crash part way leaves new
/// entries beside old `last` markers at worst: the next install simply runs again.
fn swap_entries(new: &Path, dest: &Path, last: &[&str]) -> Result<(), FsError> {
    let mut names: Vec<String> = fs::read_dir(new)
        .map_err(fs_err(new))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort_by_key(|n| last.iter().position(|l| l == n));
    for name in names {
        let (from, to) = (new.join(&name), dest.join(&name));
        if from.is_dir() && to.is_dir() {
            let aside = new.join(format!(".previous-{name}"));
            fs::rename(&to, &aside).map_err(fs_err(&to))?;
        }
        fs::rename(&from, &to).map_err(fs_err(&to))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn install(dest: &Path, files: &[(&str, &str)]) {
        let staged = StagedDir::create(dest).unwrap();
        for (name, text) in files {
            let p = staged.path().join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        staged.commit(&["metadata.json"]).unwrap();
    }

    #[test]
    fn installs_swaps_and_abandons_leaving_nothing_behind() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("db");
        install(&dest, &[("a", "1"), ("metadata.json", "m1")]);
        install(&dest, &[("a", "2"), ("metadata.json", "m2")]);
        assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "2");
        assert_eq!(names(d.path()), ["db"]);
        // An install dropped before its commit (an error) changes nothing.
        let staged = StagedDir::create(&dest).unwrap();
        fs::write(staged.path().join("a"), "half").unwrap();
        drop(staged);
        assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "2");
        assert_eq!(names(d.path()), ["db"]);
    }

    #[test]
    fn installs_sweep_leftovers_of_interrupted_installs_but_not_live_ones() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("db");
        // A crashed install (no lock held), from this module and from older versions.
        for leftover in [".db.tmp-1-0-123", ".policy.tmp-77-3"] {
            fs::create_dir(d.path().join(leftover)).unwrap();
            fs::write(d.path().join(leftover).join("trivy.db"), "partial").unwrap();
        }
        // Files and unrelated names are not ours.
        fs::write(d.path().join(".report.json.tmp-1"), "x").unwrap();
        fs::create_dir(d.path().join("tmp-keep")).unwrap();
        // A live install of another destination in the same directory.
        let live = StagedDir::create(&d.path().join("policy")).unwrap();
        fs::write(live.path().join("f"), "x").unwrap();

        install(&dest, &[("a", "1")]);
        let mut expected = vec![
            ".report.json.tmp-1".to_string(),
            "db".into(),
            "tmp-keep".into(),
            live.path().file_name().unwrap().to_string_lossy().into(),
        ];
        expected.sort();
        assert_eq!(names(d.path()), expected);
        assert!(
            live.path().join("f").is_file(),
            "a live install is left alone"
        );
        live.commit(&[]).unwrap();
        assert_eq!(
            sweep_stale_installs(d.path()).unwrap(),
            Vec::<PathBuf>::new()
        );
        assert!(sweep_stale_installs(&d.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_entry_by_entry_fallback_swaps_files_and_directories() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("policy");
        install(&dest, &[("content/a.rego", "old"), ("metadata.json", "m1")]);
        let staged = StagedDir::create(&dest).unwrap();
        fs::create_dir(staged.path().join("content")).unwrap();
        fs::write(staged.path().join("content/b.rego"), "new").unwrap();
        fs::write(staged.path().join("metadata.json"), "m2").unwrap();
        swap_entries(staged.path(), &dest, &["metadata.json"]).unwrap();
        drop(staged);
        assert_eq!(names(&dest.join("content")), ["b.rego"]);
        assert_eq!(
            fs::read_to_string(dest.join("metadata.json")).unwrap(),
            "m2"
        );
        assert_eq!(names(d.path()), ["policy"]);
    }
}
