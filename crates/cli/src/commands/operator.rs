//! `sightline operator`: the in-cluster loop. Watches workloads, scans each running image
//! digest once (scan Jobs running `sightline scan-job`), stores inventories by digest,
//! matches them against the vulnerability DB it keeps current, and writes
//! VulnerabilityReports and ExposedSecretReports next to the workloads.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sightline_operator::config::OperatorConfig;
use sightline_operator::runtime::{self, RunOptions};

/// Arguments of `sightline operator`.
#[derive(Args, Debug)]
#[command(
    after_help = "Settings come from a values file with the Helm keys Trivy Operator uses
(trivy.severity, trivy.ignoreUnfixed, trivy.dbRepository, operator.scanJobsConcurrentLimit,
operator.scannerReportTTL, excludeNamespaces, scanJob.tolerations, ...), then from Trivy
Operator's environment variables (OPERATOR_NAMESPACE, OPERATOR_EXCLUDE_NAMESPACES,
OPERATOR_SCAN_JOB_TIMEOUT, ...), then from these flags. The cluster is the one of
$KUBECONFIG / ~/.kube/config, or the in-cluster service account.

Example (local test cluster):
  sightline operator --namespace sightline-system \\
    --scan-job-image 10.88.0.1:5000/sightline/sightline:dev \\
    --db-repository 127.0.0.1:5000/aquasec/trivy-db --insecure-registry 10.88.0.1:5000

Exit codes: 0 after SIGTERM/SIGINT, 1 on a startup error (bad settings, no cluster)."
)]
pub struct OperatorArgs {
    /// Values file (YAML, the chart's keys); a mounted ConfigMap in the cluster.
    #[arg(long, value_name = "FILE", env = "SIGHTLINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The operator's volume: vulnerability DB and inventory store.
    #[arg(long, value_name = "DIR", env = "SIGHTLINE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Namespace for scan Jobs and the leader Lease (default OPERATOR_NAMESPACE, else
    /// sightline-system).
    #[arg(long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Image of the scan Jobs: this same sightline image, as the nodes pull it.
    #[arg(long, value_name = "IMAGE")]
    pub scan_job_image: Option<String>,
    /// Vulnerability DB repository (repeatable; overrides trivy.dbRepository).
    #[arg(long, value_name = "REPO")]
    pub db_repository: Vec<String>,
    /// A registry reached over plain http (repeatable; adds to trivy.nonSslRegistries).
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Maximum scan Jobs at once (overrides operator.scanJobsConcurrentLimit).
    #[arg(long, value_name = "N")]
    pub scan_jobs_concurrent_limit: Option<u32>,
    /// Where /metrics is served (host:port or :port).
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind_address: Option<String>,
    /// Where /healthz and /readyz are served.
    #[arg(long, value_name = "ADDR")]
    pub health_probe_bind_address: Option<String>,
    /// Hold a Lease before acting (run several replicas safely).
    #[arg(long)]
    pub leader_elect: bool,
}

/// Loads the settings (file, env, flags) without starting anything.
pub fn settings(args: &OperatorArgs) -> Result<OperatorConfig> {
    let mut config = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the values file {}", p.display()))?;
            OperatorConfig::from_yaml(&text).with_context(|| format!("in {}", p.display()))?
        }
        None => OperatorConfig::default(),
    };
    config.apply_env(|k| std::env::var(k).ok())?;
    if let Some(ns) = &args.namespace {
        config.operator_namespace = ns.clone();
    }
    if let Some(i) = &args.scan_job_image {
        config.scan_job.image = Some(i.clone());
    }
    if !args.db_repository.is_empty() {
        config.db_repositories = args.db_repository.clone();
    }
    config
        .insecure_registries
        .extend(args.insecure_registries.iter().cloned());
    if let Some(n) = args.scan_jobs_concurrent_limit {
        anyhow::ensure!(n > 0, "--scan-jobs-concurrent-limit must be at least 1");
        config.scan_jobs_concurrent_limit = n;
    }
    if let Some(a) = &args.metrics_bind_address {
        config.metrics_bind_address = a.clone();
    }
    if let Some(a) = &args.health_probe_bind_address {
        config.health_probe_bind_address = a.clone();
    }
    if args.leader_elect {
        config.leader_election = true;
    }
    Ok(config)
}

/// Runs the operator; returns the exit code.
pub async fn run(args: OperatorArgs) -> Result<u8> {
    let config = settings(&args)?;
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| super::registry_args::default_cache_dir().join("operator"));
    let mut kube_config = kube::Config::infer().await.context(
        "connecting to the cluster (set KUBECONFIG, or run in a Pod with a service account)",
    )?;
    // A connection that went silent (a node or API server gone without a reset) fails after
    // this instead of hanging a watch forever; watches ask the server to end them at 290 s.
    kube_config.read_timeout = Some(std::time::Duration::from_secs(320));
    let client = kube::Client::try_from(kube_config).context("building the API client")?;
    tracing::info!(
        namespace = %config.operator_namespace,
        cache = %cache_dir.display(),
        limit = config.scan_jobs_concurrent_limit,
        "sightline operator starting"
    );
    runtime::run(client, config, RunOptions { cache_dir }).await?;
    Ok(0)
}
