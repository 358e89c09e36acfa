//! The real test cluster (shared/scripts/k8s-cluster.sh) for the operator's end-to-end
//! tests: kubectl, the scanner image built from the freshly built binary, the CRDs, and a
//! `sightline operator` process run on the host against the cluster.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the cluster and its registries are, as `k8s-cluster.sh env` prints them.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The kubeconfig.
    pub kubeconfig: PathBuf,
    /// The plain registry as pods see it (`10.88.0.1:5000`).
    pub pod_registry: String,
    /// The htpasswd registry as pods see it.
    pub pod_auth_registry: String,
    /// A docker config with the auth registry's credentials under both addresses.
    pub pod_docker_config: PathBuf,
    /// The plain registry as the host sees it.
    pub registry: String,
}

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[allow(dead_code)]
fn shared_scripts() -> PathBuf {
    match std::env::var_os("SIGHTLINE_SHARED_DIR") {
        Some(d) => PathBuf::from(d).join("scripts"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scripts"),
    }
}

/// The cluster, or `None` (skipped loudly) when it is not running and
/// `SIGHTLINE_REQUIRE_CLUSTER` is unset; with it set (CI), a missing cluster fails.
pub fn cluster() -> Option<Cluster> {
    let c = Cluster {
        kubeconfig: var("KUBECONFIG", "/var/tmp/sightline-k8s/kubeconfig").into(),
        pod_registry: var("SIGHTLINE_TEST_POD_REGISTRY", "10.88.0.1:5000"),
        pod_auth_registry: var("SIGHTLINE_TEST_POD_AUTH_REGISTRY", "10.88.0.1:5001"),
        pod_docker_config: var(
            "SIGHTLINE_TEST_POD_DOCKER_CONFIG",
            "/var/tmp/sightline-k8s/pod-docker-config.json",
        )
        .into(),
        registry: var("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
    };
    let up = c.kubeconfig.is_file()
        && Command::new(kubectl_bin())
            .env("KUBECONFIG", &c.kubeconfig)
            .args(["get", "--raw", "/readyz"])
            .output()
            .is_ok_and(|o| o.status.success());
    if up {
        return Some(c);
    }
    assert!(
        std::env::var_os("SIGHTLINE_REQUIRE_CLUSTER").is_none(),
        "test cluster not running ({}): run shared/scripts/k8s-cluster.sh start",
        c.kubeconfig.display()
    );
    eprintln!("SKIP: test cluster not running (shared/scripts/k8s-cluster.sh start)");
    None
}

fn kubectl_bin() -> PathBuf {
    let local = PathBuf::from("/opt/sightline-k8s/bin/kubectl");
    if local.is_file() {
        local
    } else {
        PathBuf::from("kubectl")
    }
}

impl Cluster {
    /// Runs kubectl; returns (success, stdout, stderr).
    pub fn kubectl_try(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(kubectl_bin())
            .env("KUBECONFIG", &self.kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl and returns stdout; panics with stderr on failure.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.kubectl_try(args);
        assert!(ok, "kubectl {args:?} failed: {err}");
        out
    }

    /// `kubectl get ... -o json` as JSON (None when not found).
    pub fn get_json(&self, args: &[&str]) -> Option<serde_json::Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let (ok, out, _) = self.kubectl_try(&a);
        ok.then(|| serde_json::from_str(&out).expect("kubectl prints JSON"))
    }

    /// Creates a fresh namespace (deleted first if a previous run left it).
    pub fn namespace(&self, name: &str) {
        let _ = self.kubectl_try(&["delete", "namespace", name, "--wait=true", "--timeout=120s"]);
        self.kubectl(&["create", "namespace", name]);
        // The default ServiceAccount appears asynchronously; pods need it.
        wait_for(Duration::from_secs(60), "default ServiceAccount", || {
            self.kubectl_try(&["-n", name, "get", "serviceaccount", "default"])
                .0
                .then_some(())
        });
    }

    /// Installs the chart's CRDs (server-side: the CRDs are too big for the
    /// last-applied annotation).
    pub fn apply_crds(&self) {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let dir =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/helm/sightline/crds");
            self.kubectl(&[
                "apply",
                "--server-side",
                "--force-conflicts",
                "-f",
                dir.to_str().unwrap(),
            ]);
            self.kubectl(&[
                "wait",
                "--for=condition=Established",
                "crd/vulnerabilityreports.aquasecurity.github.io",
                "crd/exposedsecretreports.aquasecurity.github.io",
                "--timeout=60s",
            ]);
        });
    }

    /// The scanner image (the freshly built `sightline`, debug info stripped), pushed once
    /// per binary; returned as pods name it.
    pub fn scanner_image(&self) -> String {
        static IMAGE: OnceLock<String> = OnceLock::new();
        IMAGE
            .get_or_init(|| {
                let bin = env!("CARGO_BIN_EXE_sightline");
                let mut bytes = Vec::new();
                std::fs::File::open(bin)
                    .unwrap()
                    .read_to_end(&mut bytes)
                    .unwrap();
                let tag = &super::skopeo_hash(&bytes)[..16];
                let repo = format!("sightline-test/sightline:{tag}");
                let script =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/scanner-image.sh");
                let st = Command::new(script)
                    .args([bin, &format!("{}/{repo}", self.registry)])
                    .stdout(Stdio::null())
                    .status()
                    .expect("scripts/scanner-image.sh runs");
                assert!(st.success(), "scripts/scanner-image.sh failed");
                format!("{}/{repo}", self.pod_registry)
            })
            .clone()
    }
}

/// Polls `f` every 500 ms until it returns `Some`, or panics naming `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A `sightline operator` process on the host.
pub struct Operator {
    child: Option<Child>,
    /// Its stderr log file.
    pub log: PathBuf,
    /// Its cache directory (DB + inventory store).
    pub cache_dir: PathBuf,
    /// Address of /metrics, /healthz, /readyz.
    pub http: String,
    args: Vec<String>,
    kubeconfig: PathBuf,
}

impl Operator {
    /// Starts `sightline operator` with `args` (plus the cluster's kubeconfig, the cache dir
    /// and a free local port for its HTTP endpoints) and waits until it is ready.
    pub fn start(cluster: &Cluster, cache_dir: &Path, log: &Path, args: &[String]) -> Operator {
        let mut op = Self::start_unready(cluster, cache_dir, log, args);
        op.wait_ready();
        op
    }

    /// [`Operator::start`] without waiting for `/readyz` (a standby replica never gets ready).
    pub fn start_unready(
        cluster: &Cluster,
        cache_dir: &Path,
        log: &Path,
        args: &[String],
    ) -> Operator {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = format!("127.0.0.1:{port}");
        let mut op = Operator {
            child: None,
            log: log.to_path_buf(),
            cache_dir: cache_dir.to_path_buf(),
            http,
            args: args.to_vec(),
            kubeconfig: cluster.kubeconfig.clone(),
        };
        op.spawn_process();
        op
    }

    fn spawn(&mut self) {
        self.spawn_process();
        self.wait_ready();
    }

    fn spawn_process(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_sightline"))
            .arg("operator")
            .args(&self.args)
            .args(["--cache-dir", self.cache_dir.to_str().unwrap()])
            .args([
                "--metrics-bind-address",
                &self.http,
                "--health-probe-bind-address",
                &self.http,
            ])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("SIGHTLINE_LOG", "info,sightline_operator=debug")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sightline operator starts");
        self.child = Some(child);
    }

    /// Waits until `/readyz` answers 200 (panics with the log if the process exits).
    pub fn wait_ready(&mut self) {
        let http = self.http.clone();
        let logp = self.log.clone();
        wait_for(Duration::from_secs(120), "the operator's /readyz", || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "the operator exited ({st}):\n{}",
                        std::fs::read_to_string(&logp).unwrap_or_default()
                    );
                }
            }
            http_get(&http, "/readyz")
                .filter(|(code, _)| *code == 200)
                .map(|_| ())
        });
    }

    /// Stops with SIGTERM (graceful) and waits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc_kill(c.id() as i32, 15) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                if c.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills with SIGKILL (a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same arguments, cache and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts it again after [`Operator::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    /// `/readyz`'s status code (None when nothing answers).
    pub fn readyz(&self) -> Option<u16> {
        http_get(&self.http, "/readyz").map(|(code, _)| code)
    }

    /// The /metrics text.
    pub fn metrics(&self) -> String {
        http_get(&self.http, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The value of one metric series (exact series text before the value), summed over
    /// series starting with `prefix`.
    pub fn metric_sum(&self, prefix: &str) -> f64 {
        self.metrics()
            .lines()
            .filter(|l| l.starts_with(prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.stop();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// A plain HTTP/1.0 GET; (status, body).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// Kills the cluster's kube-apiserver process and starts it again (same binary and flags, same log and PID
/// file as k8s-cluster.sh uses) and waits until it serves again: a real API server restart.
pub fn restart_api_server(c: &Cluster) {
    use std::os::unix::process::CommandExt;
    let state = PathBuf::from(var("K8S_STATE", "/var/tmp/sightline-k8s"));
    let pid_file = state.join("kube-apiserver.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // SIGKILL: an abrupt loss (a graceful stop drains watches for over a minute).
    unsafe { libc_kill(pid, 9) };
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(state.join("logs/kube-apiserver.log"))
        .unwrap();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("kube-apiserver starts again");
    std::fs::write(&pid_file, format!("{}\n", child.id())).unwrap();
    std::mem::forget(child);
    wait_for(
        Duration::from_secs(120),
        "the API server to serve again",
        || c.kubectl_try(&["get", "--raw", "/readyz"]).0.then_some(()),
    );
}

/// The sum of a VulnerabilityReport's `.report.summary` counts.
pub fn summary_total(report: &serde_json::Value) -> u64 {
    let s = &report["report"]["summary"];
    [
        "criticalCount",
        "highCount",
        "mediumCount",
        "lowCount",
        "unknownCount",
    ]
    .iter()
    .map(|k| s[*k].as_u64().unwrap())
    .sum()
}
