//! Trivy Operator's environment variables, which override the values file.

use super::parse::{parse_duration, parse_ttl, StringOrList};
use super::{ConfigError, OperatorConfig};

impl OperatorConfig {
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
}
