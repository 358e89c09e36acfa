//! Polling waits that say what they waited for, and how long, when they give up.

use std::time::{Duration, Instant};

/// Polls `f` every 500 ms until it returns `Some`; panics naming `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for_every(Duration::from_millis(500), timeout, what, f)
}

/// [`wait_for`] polling every `interval` (a slow poll for checks that load the API server).
pub fn wait_for_every<T>(
    interval: Duration,
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    let mut polls = 0u32;
    loop {
        polls += 1;
        if let Some(v) = f() {
            return v;
        }
        let waited = start.elapsed();
        assert!(
            waited < timeout,
            "timed out waiting for {what}: gave up after {:.1}s (timeout {timeout:?}, {polls} polls)",
            waited.as_secs_f64()
        );
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_value() {
        let mut n = 0;
        let v = wait_for(Duration::from_secs(5), "n to reach 2", || {
            n += 1;
            (n >= 2).then_some(n)
        });
        assert_eq!(v, 2);
    }

    #[test]
    fn a_timeout_names_what_and_how_long() {
        let e = std::panic::catch_unwind(|| {
            wait_for_every(
                Duration::from_millis(10),
                Duration::from_millis(50),
                "the impossible",
                || None::<()>,
            )
        })
        .unwrap_err();
        let msg = e.downcast_ref::<String>().unwrap();
        assert!(msg.contains("waiting for the impossible"), "{msg}");
        assert!(msg.contains("gave up after"), "{msg}");
    }
}
