//! A `sightline operator` process on the host, run against the test cluster: started with
//! a cache dir, a log file and a free local port for its HTTP endpoints; stopped gracefully
//! when dropped. Dropped while a test panics, it prints the tail of its log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::http::{http_get, metric_sum};
use crate::wait::wait_for;

/// Log filter of the operator process unless [`Operator::log_filter`] sets another;
/// `SIGHTLINE_TEST_OPERATOR_LOG` overrides both (e.g. `...,kube_runtime=debug` shows every
/// watch error and backoff).
pub const DEFAULT_LOG_FILTER: &str = "info,sightline_operator=debug";
/// Lines of the log printed when a test fails with the operator running.
const LOG_TAIL_ON_PANIC: usize = 300;

/// A `sightline operator` process.
pub struct Operator {
    child: Option<Child>,
    bin: PathBuf,
    /// Its stderr log file (appended to across restarts).
    pub log: PathBuf,
    /// Its cache directory (DB + inventory store).
    pub cache_dir: PathBuf,
    /// Address of /metrics, /healthz, /readyz.
    pub http: String,
    args: Vec<String>,
    kubeconfig: PathBuf,
    log_filter: String,
}

impl Operator {
    /// An operator process not started yet ([`Operator::start`], [`Operator::spawn`]):
    /// `bin operator <args>` plus the cluster's kubeconfig, `cache_dir`, and a free local
    /// port for its HTTP endpoints; its stderr goes to `log`.
    pub fn new(
        bin: &Path,
        cluster: &Cluster,
        cache_dir: &Path,
        log: &Path,
        args: &[String],
    ) -> Operator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        Operator {
            child: None,
            bin: bin.to_path_buf(),
            log: log.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            http: format!("127.0.0.1:{port}"),
            args: args.to_vec(),
            kubeconfig: cluster.kubeconfig.clone(),
            log_filter: DEFAULT_LOG_FILTER.to_string(),
        }
    }

    /// Sets the `SIGHTLINE_LOG` filter of the next start.
    pub fn log_filter(mut self, filter: &str) -> Operator {
        self.log_filter = filter.to_string();
        self
    }

    /// Starts the process without waiting for `/readyz` (a standby replica never gets ready).
    pub fn spawn(mut self) -> Operator {
        self.spawn_process();
        self
    }

    /// Starts the process and waits until it is ready.
    pub fn start(self) -> Operator {
        let mut op = self.spawn();
        op.wait_ready();
        op
    }

    fn spawn_process(&mut self) {
        assert!(self.child.is_none(), "the operator is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("{}: {e}", self.log.display()));
        let child = Command::new(&self.bin)
            .arg("operator")
            .args(&self.args)
            .arg("--cache-dir")
            .arg(&self.cache_dir)
            .args([
                "--metrics-bind-address",
                &self.http,
                "--health-probe-bind-address",
                &self.http,
            ])
            .env("KUBECONFIG", &self.kubeconfig)
            .env(
                "SIGHTLINE_LOG",
                std::env::var("SIGHTLINE_TEST_OPERATOR_LOG").unwrap_or(self.log_filter.clone()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} operator: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The exit status once the process has exited (`None` while it runs or when stopped).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits until `/readyz` answers 200; panics if the process exits first (the log is
    /// printed when the panic drops it).
    pub fn wait_ready(&mut self) {
        let http = self.http.clone();
        wait_for(Duration::from_secs(120), "the operator's /readyz", || {
            if let Some(st) = self.exit_status() {
                panic!("the operator exited ({st}) before it was ready");
            }
            http_get(&http, "/readyz")
                .filter(|(code, _)| *code == 200)
                .map(|_| ())
        });
    }

    /// Stops it with SIGTERM (graceful; SIGKILL after 30 s) and waits; returns how long the
    /// shutdown took.
    pub fn stop(&mut self) -> Duration {
        let start = Instant::now();
        if let Some(mut c) = self.child.take() {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_child(&c),
                rustix::process::Signal::TERM,
            );
            while start.elapsed() < Duration::from_secs(30) {
                if c.try_wait().ok().flatten().is_some() {
                    return start.elapsed();
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("the operator ignored SIGTERM for 30s; killing it");
            let _ = c.kill();
            let _ = c.wait();
        }
        start.elapsed()
    }

    /// Kills it with SIGKILL (a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same arguments, cache and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_process();
        self.wait_ready();
    }

    /// Starts it again after [`Operator::kill`].
    pub fn start_again(&mut self) {
        self.spawn_process();
        self.wait_ready();
    }

    /// `/readyz`'s status code (None when nothing answers).
    pub fn readyz(&self) -> Option<u16> {
        http_get(&self.http, "/readyz").map(|(code, _)| code)
    }

    /// The /metrics text (empty when nothing answers).
    pub fn metrics(&self) -> String {
        http_get(&self.http, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The sum of the metric series starting with `prefix` (see [`metric_sum`]).
    pub fn metric_sum(&self, prefix: &str) -> f64 {
        metric_sum(&self.metrics(), prefix)
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            let total = self.log_text().lines().count();
            eprintln!(
                "\n===== the test failed: last {} of {total} lines of the operator log {} =====\n{}\n===== end of the operator log =====",
                total.min(LOG_TAIL_ON_PANIC),
                self.log.display(),
                self.log_tail(LOG_TAIL_ON_PANIC)
            );
        }
    }
}
