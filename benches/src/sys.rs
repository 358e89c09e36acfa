//! The benches' one `unsafe` block, audited here: `wait4(2)`, the only call that returns a
//! child's own peak RSS (`ru_maxrss`) as it is reaped; std and the safe wrapper crates in
//! the tree have no binding for it.
//!
//! # Safety argument
//!
//! `libc::rusage` and `c_int` are plain data with no invalid bit patterns, so a zeroed
//! `rusage` and a `0` status are valid values. `wait4` writes only through the two pointers
//! passed, both to these locals, which live across the call and are not aliased; it keeps
//! neither pointer. The pid is that of a [`Child`] this process spawned and has not waited
//! for (the `Child` is taken by value), so no other code can reap it or see its pid reused
//! in between; after the call the `Child` is forgotten, since it is already reaped.

use std::process::Child;

/// Waits for `child` with `wait4`, returning its exit code (128 + signal when killed) and
/// peak RSS in KiB.
pub fn wait_rusage(child: Child) -> (u64, u64) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: see the module doc: plain-data locals, our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    std::mem::forget(child); // already reaped by wait4
    let code = if libc::WIFEXITED(status) {
        u64::from(libc::WEXITSTATUS(status).unsigned_abs())
    } else {
        128 + u64::from(libc::WTERMSIG(status).unsigned_abs())
    };
    (code, u64::try_from(usage.ru_maxrss).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    #[test]
    fn exit_code_and_a_plausible_peak_rss() {
        let child = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
        let (code, rss) = super::wait_rusage(child);
        assert_eq!(code, 7);
        assert!(rss > 0 && rss < 1 << 30, "{rss} KiB");
        let child = Command::new("sh")
            .args(["-c", "kill -9 $$"])
            .spawn()
            .unwrap();
        assert_eq!(super::wait_rusage(child).0, 128 + 9);
    }
}
