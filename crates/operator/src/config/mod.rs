//! Operator settings under Trivy Operator's Helm value keys.
//!
//! The file is the chart's rendered values (or any subset), e.g.
//!
//! ```yaml
//! trivy: {ignoreUnfixed: true, severity: "CRITICAL,HIGH", dbRepository: registry.internal.corp/trivy-db}
//! operator: {scannerReportTTL: 24h, vulnerabilityScannerScanOnlyCurrentRevisions: true, scanJobsConcurrentLimit: 5}
//! excludeNamespaces: "kube-system,trivy-*"
//! ```
//!
//! `trivyOperator.scanJobsConcurrentLimit` is accepted as an alias of
//! `operator.scanJobsConcurrentLimit` (both spellings appear in guides). Trivy Operator's
//! environment variables (`OPERATOR_SCANNER_REPORT_TTL`, `OPERATOR_CONCURRENT_SCAN_JOBS_LIMIT`,
//! `OPERATOR_TARGET_NAMESPACES`, ...) override the file, so existing Deployment manifests work.
//!
//! [`OperatorConfig::from_yaml`] reads the values file (`values`),
//! [`OperatorConfig::apply_env`] the environment (`env`); both use the value parsers of
//! `parse`.

mod env;
mod parse;
#[cfg(test)]
mod tests;
mod values;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use sightline_api::vuln::Severity;

pub use parse::{glob_match, parse_duration};

/// Invalid configuration: names the key and the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid setting {key} = {value:?}: {reason}")]
pub struct ConfigError {
    /// The Helm value key (or environment variable).
    pub key: String,
    /// The value given.
    pub value: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

/// Everything the operator is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct OperatorConfig {
    /// `trivy.ignoreUnfixed`: report only findings that have a fix.
    pub ignore_unfixed: bool,
    /// `trivy.severity`: severities written into reports.
    pub severities: Vec<Severity>,
    /// `trivy.dbRepository`: vulnerability DB repositories, tried in order.
    pub db_repositories: Vec<String>,
    /// `trivy.javaDbRepository`: Java DB repositories, tried in order.
    pub java_db_repositories: Vec<String>,
    /// `operator.scannerReportTTL`: re-scan a workload at least this often (`None` = never).
    pub scanner_report_ttl: Option<Duration>,
    /// `operator.vulnerabilityScannerScanOnlyCurrentRevisions`: only the ReplicaSet matching
    /// its Deployment's current revision is scanned.
    pub scan_only_current_revisions: bool,
    /// `operator.scanJobsConcurrentLimit` (alias `trivyOperator.scanJobsConcurrentLimit`).
    pub scan_jobs_concurrent_limit: u32,
    /// `operator.scanJobTimeout`: a scan Job is failed after this long.
    pub scan_job_timeout: Duration,
    /// `operator.metricsFindingsEnabled`: per-finding metrics (`trivy_vulnerability_id`).
    pub metrics_findings_enabled: bool,
    /// `operator.infraAssessmentScannerEnabled`.
    pub infra_assessment_enabled: bool,
    /// `operator.clusterComplianceEnabled`.
    pub cluster_compliance_enabled: bool,
    /// `compliance.cron`: when compliance reports are regenerated.
    pub compliance_cron: String,
    /// `targetNamespaces`: namespaces to watch; empty = all.
    pub target_namespaces: Vec<String>,
    /// `excludeNamespaces`: namespace globs never scanned.
    pub exclude_namespaces: Vec<String>,
    /// `targetWorkloads`: lower-case kinds to scan.
    pub target_workloads: Vec<String>,
    /// `serviceMonitor.enabled` (the chart renders the ServiceMonitor; kept for completeness).
    pub service_monitor_enabled: bool,
    /// Scan Job Pod settings.
    pub scan_job: ScanJobSettings,
    /// `trivy.insecureRegistries` + `trivy.nonSslRegistries`: registries (`host[:port]`)
    /// pulled over plain http by scan Jobs and the digest resolver.
    pub insecure_registries: Vec<String>,
    /// `OPERATOR_NAMESPACE`: where the operator runs its scan Jobs (and its Lease).
    pub operator_namespace: String,
    /// `operator.leaderElectionEnabled` / `OPERATOR_LEADER_ELECTION_ENABLED`: hold a Lease
    /// before acting (needed when running more than one replica).
    pub leader_election: bool,
    /// `operator.leaderElectionId` / `OPERATOR_LEADER_ELECTION_ID`: the Lease's name.
    pub leader_election_id: String,
    /// `operator.dbUpdateInterval`: how often the operator checks for a new vulnerability DB
    /// (a check is a no-op until the installed DB's NextUpdate has passed).
    pub db_update_interval: Duration,
    /// `OPERATOR_METRICS_BIND_ADDRESS`: where `/metrics` is served.
    pub metrics_bind_address: String,
    /// `OPERATOR_HEALTH_PROBE_BIND_ADDRESS`: where `/healthz` and `/readyz` are served.
    pub health_probe_bind_address: String,
}

/// `scanJob.*`: how scan Job Pods are scheduled and labelled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanJobSettings {
    /// `scanJob.podTemplateLabels`.
    pub pod_template_labels: BTreeMap<String, String>,
    /// `scanJob.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `scanJob.tolerations`.
    pub tolerations: Vec<Toleration>,
    /// `scanJob.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// `scanJob.affinity`.
    pub affinity: Option<Affinity>,
    /// `scanJob.priorityClassName`.
    pub priority_class_name: Option<String>,
    /// `scanJob.resources` (`trivy.resources` is accepted too).
    pub resources: Option<ResourceRequirements>,
    /// `scanJob.image` / `OPERATOR_SCAN_JOB_IMAGE`: the image scan Jobs run (the operator's
    /// own image, which holds `sightline scan-job`).
    pub image: Option<String>,
}

/// The workload kinds scanned by default.
pub const DEFAULT_TARGET_WORKLOADS: [&str; 7] = [
    "pod",
    "replicaset",
    "replicationcontroller",
    "statefulset",
    "daemonset",
    "cronjob",
    "job",
];

impl Default for OperatorConfig {
    fn default() -> Self {
        OperatorConfig {
            ignore_unfixed: false,
            severities: Severity::DESCENDING.to_vec(),
            db_repositories: vec!["mirror.gcr.io/aquasec/trivy-db".into()],
            java_db_repositories: vec!["mirror.gcr.io/aquasec/trivy-java-db".into()],
            scanner_report_ttl: Some(Duration::from_secs(24 * 3600)),
            scan_only_current_revisions: true,
            scan_jobs_concurrent_limit: 10,
            scan_job_timeout: Duration::from_secs(5 * 60),
            metrics_findings_enabled: true,
            infra_assessment_enabled: true,
            cluster_compliance_enabled: true,
            compliance_cron: "0 */6 * * *".into(),
            target_namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            target_workloads: DEFAULT_TARGET_WORKLOADS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            service_monitor_enabled: false,
            scan_job: ScanJobSettings::default(),
            insecure_registries: Vec::new(),
            operator_namespace: "sightline-system".into(),
            leader_election: false,
            leader_election_id: "sightline-operator-lock".into(),
            db_update_interval: Duration::from_secs(10 * 60),
            metrics_bind_address: ":8080".into(),
            health_probe_bind_address: ":9090".into(),
        }
    }
}

impl OperatorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.scan_jobs_concurrent_limit == 0 {
            return Err(ConfigError {
                key: "operator.scanJobsConcurrentLimit".into(),
                value: "0".into(),
                reason: "must be at least 1, or no image is ever scanned".into(),
            });
        }
        for w in &self.target_workloads {
            if !DEFAULT_TARGET_WORKLOADS.contains(&w.as_str()) {
                return Err(ConfigError {
                    key: "targetWorkloads".into(),
                    value: w.clone(),
                    reason: format!(
                        "unknown workload kind (one of {})",
                        DEFAULT_TARGET_WORKLOADS.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// `true` when `namespace` is watched: in `targetNamespaces` (if set) and matching no
    /// `excludeNamespaces` glob (`*` and `?` wildcards).
    pub fn namespace_in_scope(&self, namespace: &str) -> bool {
        if !self.target_namespaces.is_empty()
            && !self.target_namespaces.iter().any(|t| t == namespace)
        {
            return false;
        }
        !self
            .exclude_namespaces
            .iter()
            .any(|g| glob_match(g, namespace))
    }
}
