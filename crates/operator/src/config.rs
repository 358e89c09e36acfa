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

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use serde::Deserialize;
use sightline_api::vuln::Severity;

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

/// The values file as the chart lays it out; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    #[serde(default)]
    trivy: TrivyValues,
    #[serde(default)]
    operator: OperatorValues,
    #[serde(default)]
    trivy_operator: TrivyOperatorValues,
    #[serde(default)]
    compliance: ComplianceValues,
    #[serde(default)]
    scan_job: ScanJobValues,
    #[serde(default)]
    service_monitor: ServiceMonitorValues,
    target_namespaces: Option<StringOrList>,
    exclude_namespaces: Option<StringOrList>,
    target_workloads: Option<StringOrList>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrivyValues {
    ignore_unfixed: Option<bool>,
    severity: Option<String>,
    db_repository: Option<StringOrList>,
    java_db_repository: Option<StringOrList>,
    resources: Option<ResourceRequirements>,
    insecure_registries: Option<RegistryHosts>,
    non_ssl_registries: Option<RegistryHosts>,
}

/// Trivy Operator's registry lists: a map (`{name: host}`, as its chart has them), a list or
/// a comma-separated string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RegistryHosts {
    Map(BTreeMap<String, String>),
    List(StringOrList),
}

impl RegistryHosts {
    fn items(self) -> Vec<String> {
        match self {
            RegistryHosts::Map(m) => m
                .into_values()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            RegistryHosts::List(l) => l.items(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperatorValues {
    #[serde(rename = "scannerReportTTL")]
    scanner_report_ttl: Option<String>,
    vulnerability_scanner_scan_only_current_revisions: Option<bool>,
    scan_jobs_concurrent_limit: Option<u32>,
    scan_job_timeout: Option<String>,
    metrics_findings_enabled: Option<bool>,
    infra_assessment_scanner_enabled: Option<bool>,
    cluster_compliance_enabled: Option<bool>,
    leader_election_enabled: Option<bool>,
    leader_election_id: Option<String>,
    db_update_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrivyOperatorValues {
    scan_jobs_concurrent_limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct ComplianceValues {
    cron: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScanJobValues {
    #[serde(default)]
    pod_template_labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    tolerations: Vec<Toleration>,
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    affinity: Option<Affinity>,
    priority_class_name: Option<String>,
    resources: Option<ResourceRequirements>,
    image: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceMonitorValues {
    enabled: Option<bool>,
}

/// A comma-separated string (as the chart's values have them) or a YAML list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn items(self) -> Vec<String> {
        let v = match self {
            StringOrList::One(s) => s.split(',').map(str::to_string).collect(),
            StringOrList::Many(v) => v,
        };
        v.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

impl OperatorConfig {
    /// Parses a values YAML (any subset of the chart's values) over the defaults.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let values: Values = if text.trim().is_empty() {
            Values::default()
        } else {
            serde_yaml::from_str(text).map_err(|e| ConfigError {
                key: "<values file>".into(),
                value: String::new(),
                reason: e.to_string(),
            })?
        };
        let mut c = OperatorConfig::default();
        let t = values.trivy;
        if let Some(v) = t.ignore_unfixed {
            c.ignore_unfixed = v;
        }
        if let Some(s) = t.severity {
            c.severities = parse_severities("trivy.severity", &s)?;
        }
        if let Some(r) = t.db_repository {
            c.db_repositories = r.items();
        }
        if let Some(r) = t.java_db_repository {
            c.java_db_repositories = r.items();
        }
        for hosts in [t.insecure_registries, t.non_ssl_registries]
            .into_iter()
            .flatten()
        {
            c.insecure_registries.extend(hosts.items());
        }
        let o = values.operator;
        if let Some(ttl) = o.scanner_report_ttl {
            c.scanner_report_ttl = parse_ttl("operator.scannerReportTTL", &ttl)?;
        }
        if let Some(v) = o.vulnerability_scanner_scan_only_current_revisions {
            c.scan_only_current_revisions = v;
        }
        if let Some(v) = o
            .scan_jobs_concurrent_limit
            .or(values.trivy_operator.scan_jobs_concurrent_limit)
        {
            c.scan_jobs_concurrent_limit = v;
        }
        if let Some(t) = o.scan_job_timeout {
            c.scan_job_timeout = parse_duration("operator.scanJobTimeout", &t)?;
        }
        if let Some(v) = o.metrics_findings_enabled {
            c.metrics_findings_enabled = v;
        }
        if let Some(v) = o.infra_assessment_scanner_enabled {
            c.infra_assessment_enabled = v;
        }
        if let Some(v) = o.cluster_compliance_enabled {
            c.cluster_compliance_enabled = v;
        }
        if let Some(v) = o.leader_election_enabled {
            c.leader_election = v;
        }
        if let Some(v) = o.leader_election_id {
            c.leader_election_id = v;
        }
        if let Some(v) = o.db_update_interval {
            c.db_update_interval = parse_duration("operator.dbUpdateInterval", &v)?;
        }
        if let Some(cron) = values.compliance.cron {
            c.compliance_cron = cron;
        }
        if let Some(v) = values.target_namespaces {
            c.target_namespaces = v.items();
        }
        if let Some(v) = values.exclude_namespaces {
            c.exclude_namespaces = v.items();
        }
        if let Some(v) = values.target_workloads {
            c.target_workloads = v
                .items()
                .into_iter()
                .map(|s| s.to_ascii_lowercase())
                .collect();
        }
        if let Some(v) = values.service_monitor.enabled {
            c.service_monitor_enabled = v;
        }
        let j = values.scan_job;
        c.scan_job = ScanJobSettings {
            pod_template_labels: j.pod_template_labels,
            annotations: j.annotations,
            tolerations: j.tolerations,
            node_selector: j.node_selector,
            affinity: j.affinity,
            priority_class_name: j.priority_class_name,
            resources: j.resources.or(t.resources),
            image: j.image,
        };
        c.validate()?;
        Ok(c)
    }

    /// Applies Trivy Operator's environment variables (`get` looks one up), as its
    /// Deployment manifests set them.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let bool_env = |key: &str| -> Result<Option<bool>, ConfigError> {
            get(key)
                .map(|v| {
                    v.trim().parse::<bool>().map_err(|_| ConfigError {
                        key: key.into(),
                        value: v.clone(),
                        reason: "expected true or false".into(),
                    })
                })
                .transpose()
        };
        if let Some(v) = get("OPERATOR_SCANNER_REPORT_TTL") {
            self.scanner_report_ttl = parse_ttl("OPERATOR_SCANNER_REPORT_TTL", &v)?;
        }
        if let Some(v) = get("OPERATOR_CONCURRENT_SCAN_JOBS_LIMIT") {
            self.scan_jobs_concurrent_limit = v.trim().parse().map_err(|_| ConfigError {
                key: "OPERATOR_CONCURRENT_SCAN_JOBS_LIMIT".into(),
                value: v.clone(),
                reason: "expected a non-negative integer".into(),
            })?;
        }
        if let Some(v) = get("OPERATOR_SCAN_JOB_TIMEOUT") {
            self.scan_job_timeout = parse_duration("OPERATOR_SCAN_JOB_TIMEOUT", &v)?;
        }
        if let Some(v) = get("OPERATOR_TARGET_NAMESPACES") {
            self.target_namespaces = StringOrList::One(v).items();
        }
        if let Some(v) = get("OPERATOR_EXCLUDE_NAMESPACES") {
            self.exclude_namespaces = StringOrList::One(v).items();
        }
        if let Some(v) = get("OPERATOR_TARGET_WORKLOADS") {
            self.target_workloads = StringOrList::One(v.to_ascii_lowercase()).items();
        }
        if let Some(v) = bool_env("OPERATOR_VULNERABILITY_SCANNER_SCAN_ONLY_CURRENT_REVISIONS")? {
            self.scan_only_current_revisions = v;
        }
        if let Some(v) = bool_env("OPERATOR_METRICS_FINDINGS_ENABLED")? {
            self.metrics_findings_enabled = v;
        }
        if let Some(v) = bool_env("OPERATOR_INFRA_ASSESSMENT_SCANNER_ENABLED")? {
            self.infra_assessment_enabled = v;
        }
        if let Some(v) = bool_env("OPERATOR_CLUSTER_COMPLIANCE_ENABLED")? {
            self.cluster_compliance_enabled = v;
        }
        if let Some(v) = bool_env("OPERATOR_LEADER_ELECTION_ENABLED")? {
            self.leader_election = v;
        }
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = non_empty("OPERATOR_LEADER_ELECTION_ID") {
            self.leader_election_id = v;
        }
        if let Some(v) = non_empty("OPERATOR_NAMESPACE") {
            self.operator_namespace = v;
        }
        if let Some(v) = non_empty("OPERATOR_SCAN_JOB_IMAGE") {
            self.scan_job.image = Some(v);
        }
        if let Some(v) = non_empty("OPERATOR_METRICS_BIND_ADDRESS") {
            self.metrics_bind_address = v;
        }
        if let Some(v) = non_empty("OPERATOR_HEALTH_PROBE_BIND_ADDRESS") {
            self.health_probe_bind_address = v;
        }
        self.validate()
    }

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

fn parse_severities(key: &str, s: &str) -> Result<Vec<Severity>, ConfigError> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map_err(|e: sightline_api::vuln::UnknownSeverity| ConfigError {
                    key: key.into(),
                    value: s.into(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// A TTL: a Go duration; `0`/`0s`/empty disables it.
fn parse_ttl(key: &str, s: &str) -> Result<Option<Duration>, ConfigError> {
    let d = if s.trim().is_empty() {
        Duration::ZERO
    } else {
        parse_duration(key, s)?
    };
    Ok((!d.is_zero()).then_some(d))
}

/// Go-style durations as Helm values carry them: `24h`, `1h30m`, `90s`, `500ms`, `0`.
pub fn parse_duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError {
        key: key.into(),
        value: s.into(),
        reason: "expected a duration such as 24h, 1h30m, 90s".into(),
    };
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(err()),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// Shell-style glob with `*` and `?` (what `excludeNamespaces` entries use).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_keys_beyond_trivy_operator() {
        let c = OperatorConfig::from_yaml(
            "trivy:\n  nonSslRegistries: {a: 10.88.0.1:5000}\n  insecureRegistries: [reg.corp:443]\noperator:\n  leaderElectionEnabled: true\n  leaderElectionId: lock\n  dbUpdateInterval: 2m\nscanJob:\n  image: reg/sightline:1\n",
        )
        .unwrap();
        assert_eq!(c.insecure_registries, ["reg.corp:443", "10.88.0.1:5000"]);
        assert!(c.leader_election);
        assert_eq!(c.leader_election_id, "lock");
        assert_eq!(c.db_update_interval, Duration::from_secs(120));
        assert_eq!(c.scan_job.image.as_deref(), Some("reg/sightline:1"));
        let mut c = OperatorConfig::default();
        let env = |k: &str| match k {
            "OPERATOR_NAMESPACE" => Some("sec".to_string()),
            "OPERATOR_LEADER_ELECTION_ENABLED" => Some("true".to_string()),
            "OPERATOR_SCAN_JOB_IMAGE" => Some("img:2".to_string()),
            "OPERATOR_METRICS_BIND_ADDRESS" => Some(":9000".to_string()),
            _ => None,
        };
        c.apply_env(env).unwrap();
        assert_eq!(c.operator_namespace, "sec");
        assert!(c.leader_election);
        assert_eq!(c.scan_job.image.as_deref(), Some("img:2"));
        assert_eq!(c.metrics_bind_address, ":9000");
        assert!(OperatorConfig::from_yaml("operator:\n  dbUpdateInterval: soon\n").is_err());
    }

    /// The values of the platform guide's `helm upgrade --install` (shared/reference).
    const GUIDE_VALUES: &str = r#"
trivy:
  ignoreUnfixed: true
  dbRepository: registry.internal.corp/trivy-db
  javaDbRepository: registry.internal.corp/trivy-java-db
operator:
  scannerReportTTL: 24h
  vulnerabilityScannerScanOnlyCurrentRevisions: true
trivyOperator:
  scanJobsConcurrentLimit: 5
excludeNamespaces: "kube-system,trivy-*"
scanJob:
  podTemplateLabels: {team: platform}
  nodeSelector: {pool: scanners}
  tolerations:
    - {key: dedicated, operator: Equal, value: scanners, effect: NoSchedule}
"#;

    #[test]
    fn the_guides_values_load() {
        let c = OperatorConfig::from_yaml(GUIDE_VALUES).unwrap();
        assert!(c.ignore_unfixed);
        assert_eq!(c.db_repositories, ["registry.internal.corp/trivy-db"]);
        assert_eq!(
            c.java_db_repositories,
            ["registry.internal.corp/trivy-java-db"]
        );
        assert_eq!(c.scanner_report_ttl, Some(Duration::from_secs(86400)));
        assert_eq!(c.scan_jobs_concurrent_limit, 5, "the trivyOperator.* alias");
        assert_eq!(c.scan_job.pod_template_labels["team"], "platform");
        assert_eq!(c.scan_job.tolerations[0].key.as_deref(), Some("dedicated"));
        assert!(!c.namespace_in_scope("kube-system"));
        assert!(!c.namespace_in_scope("trivy-system"));
        assert!(c.namespace_in_scope("payments"));
    }

    #[test]
    fn operator_key_wins_over_the_alias_and_env_overrides_the_file() {
        let mut c = OperatorConfig::from_yaml(
            "operator: {scanJobsConcurrentLimit: 3}\ntrivyOperator: {scanJobsConcurrentLimit: 9}\n",
        )
        .unwrap();
        assert_eq!(c.scan_jobs_concurrent_limit, 3);
        let env: BTreeMap<&str, &str> = [
            ("OPERATOR_CONCURRENT_SCAN_JOBS_LIMIT", "7"),
            ("OPERATOR_SCANNER_REPORT_TTL", "0"),
            ("OPERATOR_TARGET_NAMESPACES", "payments, checkout"),
        ]
        .into();
        c.apply_env(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(c.scan_jobs_concurrent_limit, 7);
        assert_eq!(c.scanner_report_ttl, None, "TTL 0 disables re-scans");
        assert!(c.namespace_in_scope("checkout") && !c.namespace_in_scope("default"));
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = OperatorConfig::from_yaml("trivy: {severity: 'HIGH,SEVERE'}").unwrap_err();
        assert_eq!(e.key, "trivy.severity");
        let e = OperatorConfig::from_yaml("operator: {scannerReportTTL: 'a day'}").unwrap_err();
        assert_eq!(e.key, "operator.scannerReportTTL");
        let e = OperatorConfig::from_yaml("operator: {scanJobsConcurrentLimit: 0}").unwrap_err();
        assert!(e.reason.contains("at least 1"));
        let e = OperatorConfig::from_yaml("targetWorkloads: pod,deployment").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.value.as_str()),
            ("targetWorkloads", "deployment")
        );
        let mut c = OperatorConfig::default();
        let e = c
            .apply_env(|k| (k == "OPERATOR_METRICS_FINDINGS_ENABLED").then(|| "yes".into()))
            .unwrap_err();
        assert_eq!(e.key, "OPERATOR_METRICS_FINDINGS_ENABLED");
        assert!(OperatorConfig::from_yaml("operator: [1, 2]").is_err());
    }

    #[test]
    fn go_durations_and_globs() {
        let d = |s| parse_duration("k", s).unwrap();
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("90s"), Duration::from_secs(90));
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert!(parse_duration("k", "5 minutes").is_err());
        assert!(parse_duration("k", "").is_err());
        assert!(
            glob_match("kube-*", "kube-system") && glob_match("*", "") && glob_match("a?c", "abc")
        );
        assert!(!glob_match("kube-*", "my-kube-system") && !glob_match("a?c", "ac"));
    }
}
