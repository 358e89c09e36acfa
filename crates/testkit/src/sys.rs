//! The harness's one `unsafe` block, audited here: marking inherited descriptors
//! close-on-exec, which needs `fcntl(2)` on descriptors this process does not own as Rust
//! values (so no safe `AsFd` wrapper applies).
//!
//! # Safety argument
//!
//! `fcntl(fd, F_GETFD)` and `fcntl(fd, F_SETFD, flags)` take an integer descriptor and no
//! pointer: they read and write no memory of this process, only the descriptor's
//! close-on-exec flag in the kernel. A descriptor that is not open (the directory listing's
//! own, closed by the time of the call) makes them fail with `EBADF` and no effect. Setting
//! `FD_CLOEXEC` never closes a descriptor, so no `File`/`OwnedFd` elsewhere in the process
//! can be invalidated; it only changes what a later `exec` keeps.

/// Marks every descriptor this process holds beyond stdio close-on-exec, so that a daemon
/// it starts keeps none of them: a test run under `flock /tmp/sightline-cluster.lock` inherits
/// the lock's descriptor, and an API server started with it would hold the cluster lock for
/// its whole life.
pub fn cloexec_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // SAFETY: see the module doc: no pointers, no descriptor closed; a stale fd is EBADF.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn an_open_descriptor_becomes_close_on_exec() {
        let f = tempfile::tempfile().unwrap();
        let fd = f.as_raw_fd();
        // std opens files close-on-exec; clear it to see the harness set it again.
        let flags = rustix::io::fcntl_getfd(&f).unwrap();
        rustix::io::fcntl_setfd(&f, flags - rustix::io::FdFlags::CLOEXEC).unwrap();
        assert!(!rustix::io::fcntl_getfd(&f)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC));
        super::cloexec_inherited_fds();
        assert!(
            rustix::io::fcntl_getfd(&f)
                .unwrap()
                .contains(rustix::io::FdFlags::CLOEXEC),
            "fd {fd}"
        );
    }
}
