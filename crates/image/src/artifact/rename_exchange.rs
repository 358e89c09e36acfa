//! The crate's one `unsafe` block: `renameat2(RENAME_EXCHANGE)`, which swaps two paths in one
//! atomic step (std has no such call). It is the atomic directory swap of [`super::install`].
//!
//! # Safety argument
//!
//! `renameat2(2)` reads two NUL-terminated path strings and two directory descriptors, and
//! writes no memory of this process. The paths are [`CString`]s built here from the callers'
//! `&Path`s (an interior NUL is an error, not a truncation) and live until the call returns;
//! the kernel copies them and keeps no pointer. Both descriptors are the constant `AT_FDCWD`,
//! so no descriptor can be closed or reused under the call. Its only effects are on the
//! filesystem and `errno`, which is read at once through [`io::Error::last_os_error`].

use std::io;
use std::path::Path;

/// Atomically exchanges `a` and `b` (both must exist). `EINVAL`/`ENOSYS` mean the filesystem
/// or kernel has no `RENAME_EXCHANGE`; callers fall back to another swap.
#[cfg(target_os = "linux")]
pub(super) fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let cb = CString::new(b.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: see the module doc: two valid NUL-terminated paths that outlive the call,
    // AT_FDCWD for both directories; renameat2 retains neither pointer.
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

/// Elsewhere there is no `renameat2`: always `ENOSYS`, so callers take their fallback.
#[cfg(not(target_os = "linux"))]
pub(super) fn exchange(_a: &Path, _b: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn swaps_two_directories_and_reports_a_missing_one() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("x"), "from a").unwrap();
        std::fs::write(b.join("y"), "from b").unwrap();
        exchange(&a, &b).unwrap();
        assert_eq!(std::fs::read_to_string(b.join("x")).unwrap(), "from a");
        assert_eq!(std::fs::read_to_string(a.join("y")).unwrap(), "from b");
        let e = exchange(&a, &t.path().join("missing")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
        let e = exchange(Path::new("nul\0inside"), &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
