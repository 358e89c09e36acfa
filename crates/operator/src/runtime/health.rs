//! Liveness of the operator's background tasks: each long-running task is spawned through
//! [`Health::spawn`]; when one ends or panics, `/healthz` fails naming it, so the kubelet
//! restarts a process that would otherwise sit half-dead behind an "ok".

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::MutexExt;

/// Background tasks that stopped: `task <name> <why>; ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unhealthy(pub String);

/// The registry of background tasks and the readiness flag.
#[derive(Default)]
pub struct Health {
    stopped: Mutex<BTreeMap<&'static str, String>>,
    ready: AtomicBool,
    stopping: AtomicBool,
}

impl Health {
    /// A registry with nothing stopped, not ready.
    pub fn new() -> Arc<Self> {
        Arc::new(Health::default())
    }

    /// Spawns `fut` as the background task `name`; its end (or panic) is recorded unless
    /// the operator is shutting down.
    pub fn spawn<F>(self: &Arc<Self>, name: &'static str, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(fut);
        let this = self.clone();
        tokio::spawn(async move {
            let why = match handle.await {
                Ok(()) => "ended".to_string(),
                Err(e) if e.is_panic() => "panicked".to_string(),
                Err(e) => format!("was cancelled ({e})"),
            };
            this.task_stopped(name, &why);
        });
    }

    /// Records that task `name` stopped.
    pub fn task_stopped(&self, name: &'static str, why: &str) {
        if self.stopping.load(Ordering::SeqCst) {
            return;
        }
        tracing::error!(
            task = name,
            "background task {why}; /healthz now fails so the operator is restarted"
        );
        self.stopped.locked().insert(name, why.to_string());
    }

    /// `Ok` when every task runs, else which stopped (what `/healthz` returns).
    pub fn check(&self) -> Result<(), Unhealthy> {
        let stopped = self.stopped.locked();
        if stopped.is_empty() {
            return Ok(());
        }
        Err(Unhealthy(
            stopped
                .iter()
                .map(|(n, why)| format!("task {n} {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }

    /// Marks the caches synced (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// `true` once the caches synced and until shutdown.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Shutdown started: tasks ending now are expected.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.set_ready(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 10): `/healthz` said ok when a background task had died.
    #[tokio::test]
    async fn a_dead_task_fails_the_health_check() {
        let h = Health::new();
        h.spawn("fine", async {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await
        });
        h.spawn("doomed", async { panic!("boom") });
        for _ in 0..100 {
            if h.check().is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let err = h.check().unwrap_err().to_string();
        assert!(err.contains("doomed panicked"), "{err}");
        assert!(!err.contains("fine"));
    }

    #[tokio::test]
    async fn tasks_ending_at_shutdown_are_expected() {
        let h = Health::new();
        h.set_stopping();
        h.spawn("done", async {});
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(h.check().is_ok());
    }
}
