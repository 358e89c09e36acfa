//! The real test cluster (shared/scripts/k8s-cluster.sh): kubectl, the CRDs, namespaces, the
//! scanner image built from a `sightline` binary, and a real API server restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::paths::{env_or, workspace_root};
use crate::wait::wait_for;

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

/// The cluster, or `None` (skipped loudly) when it is not running and
/// `SIGHTLINE_REQUIRE_CLUSTER` is unset; with it set (CI), a missing cluster fails.
pub fn cluster() -> Option<Cluster> {
    let c = Cluster::from_env();
    if c.is_up() {
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

/// kubectl errors of an API server that is away for a moment (restarting, overloaded).
const TRANSIENT: [&str; 5] = [
    "connection to the server",
    "connection refused",
    "TLS handshake timeout",
    "the server is currently unable",
    "i/o timeout",
];

impl Cluster {
    /// The cluster's addresses from the environment (k8s-cluster.sh defaults), unchecked.
    pub fn from_env() -> Cluster {
        Cluster {
            kubeconfig: env_or("KUBECONFIG", "/var/tmp/sightline-k8s/kubeconfig").into(),
            pod_registry: env_or("SIGHTLINE_TEST_POD_REGISTRY", "10.88.0.1:5000"),
            pod_auth_registry: env_or("SIGHTLINE_TEST_POD_AUTH_REGISTRY", "10.88.0.1:5001"),
            pod_docker_config: env_or(
                "SIGHTLINE_TEST_POD_DOCKER_CONFIG",
                "/var/tmp/sightline-k8s/pod-docker-config.json",
            )
            .into(),
            registry: env_or("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
        }
    }

    /// `true` when the kubeconfig exists and the API server answers `/readyz`.
    pub fn is_up(&self) -> bool {
        self.kubeconfig.is_file() && self.kubectl_try(&["get", "--raw", "/readyz"]).0
    }

    /// A kubectl command on this cluster, to add arguments to.
    pub fn kubectl_command(&self) -> Command {
        let mut c = Command::new(kubectl_bin());
        c.env("KUBECONFIG", &self.kubeconfig);
        c
    }

    /// Runs kubectl once; returns (success, stdout, stderr).
    pub fn kubectl_try(&self, args: &[&str]) -> (bool, String, String) {
        let out = self
            .kubectl_command()
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

    /// Runs kubectl, retrying for up to 2 minutes while the API server is unreachable (the
    /// shared cluster's API server may be restarted by other tests); stdout, or the error.
    pub fn kubectl_patient(&self, args: &[&str]) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let (ok, out, err) = self.kubectl_try(args);
            if ok {
                return Ok(out);
            }
            let err = err.trim();
            let transient = TRANSIENT.iter().any(|p| err.contains(p));
            if !transient || start.elapsed() > Duration::from_secs(120) {
                return Err(format!("kubectl {}: {err}", args.join(" ")));
            }
            std::thread::sleep(Duration::from_secs(2));
        }
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
        wait_for(
            Duration::from_secs(60),
            &format!("the default ServiceAccount of namespace {name}"),
            || {
                self.kubectl_try(&["-n", name, "get", "serviceaccount", "default"])
                    .0
                    .then_some(())
            },
        );
    }

    /// Installs the chart's CRDs (server-side: the CRDs are too big for the last-applied
    /// annotation), once per process.
    pub fn apply_crds(&self) {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let dir = workspace_root().join("deploy/helm/sightline/crds");
            let dir = dir.to_str().expect("UTF-8 path");
            self.kubectl_patient(&["apply", "--server-side", "--force-conflicts", "-f", dir])
                .unwrap_or_else(|e| panic!("{e}"));
            self.kubectl_patient(&[
                "wait",
                "--for=condition=Established",
                "crd/vulnerabilityreports.aquasecurity.github.io",
                "crd/exposedsecretreports.aquasecurity.github.io",
                "--timeout=60s",
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        });
    }

    /// The scanner image of the `sightline` binary `bin` (scripts/scanner-image.sh: debug
    /// info stripped), tagged by the binary's hash and pushed unless the registry has it;
    /// returned as pods name it.
    pub fn scanner_image(&self, bin: &Path) -> String {
        static IMAGES: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);
        let mut images = IMAGES.lock().unwrap_or_else(|p| p.into_inner());
        let images = images.get_or_insert_with(HashMap::new);
        if let Some(image) = images.get(bin) {
            return image.clone();
        }
        let out = Command::new("sha256sum")
            .arg(bin)
            .output()
            .expect("sha256sum runs");
        assert!(out.status.success(), "sha256sum {}", bin.display());
        let sum = String::from_utf8_lossy(&out.stdout);
        let repo = format!("sightline-test/sightline:{}", &sum[..16]);
        let exists = Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{}/{repo}", self.registry))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        if !exists {
            let out = Command::new(workspace_root().join("scripts/scanner-image.sh"))
                .arg(bin)
                .arg(format!("{}/{repo}", self.registry))
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .expect("scripts/scanner-image.sh runs");
            assert!(
                out.status.success(),
                "scripts/scanner-image.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let image = format!("{}/{repo}", self.pod_registry);
        images.insert(bin.to_path_buf(), image.clone());
        image
    }
}

/// Kills the cluster's kube-apiserver process and starts it again (same binary and flags,
/// same log and PID file as k8s-cluster.sh uses) and waits until it serves again: a real API
/// server restart.
pub fn restart_api_server(c: &Cluster) {
    use std::os::unix::process::CommandExt;
    let state = PathBuf::from(env_or("K8S_STATE", "/var/tmp/sightline-k8s"));
    let pid_file = state.join("kube-apiserver.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
        .trim()
        .parse()
        .expect("a PID in kube-apiserver.pid");
    let argv: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
        .expect("the API server's command line")
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    // SIGKILL: an abrupt loss (a graceful stop drains watches for over a minute).
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
    }
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(state.join("logs/kube-apiserver.log"))
        .expect("the API server's log");
    crate::sys::cloexec_inherited_fds();
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("kube-apiserver starts again");
    std::fs::write(&pid_file, format!("{}\n", child.id())).expect("writing the PID file");
    std::mem::forget(child);
    wait_for(
        Duration::from_secs(120),
        "the API server to serve /readyz again after its restart",
        || c.kubectl_try(&["get", "--raw", "/readyz"]).0.then_some(()),
    );
    eprintln!(
        "restart_api_server: killed PID {pid}, PID {} ready again {:.1}s later",
        std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim(),
        start.elapsed().as_secs_f64()
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
    .map(|k| {
        s[*k]
            .as_u64()
            .unwrap_or_else(|| panic!("report summary without {k}: {s}"))
    })
    .sum()
}
