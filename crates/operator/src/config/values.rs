//! The values file: the chart's layout, every key optional, read over the defaults.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, ResourceRequirements, Toleration};
use serde::Deserialize;

use super::parse::{parse_duration, parse_severities, parse_ttl, StringOrList};
use super::{ConfigError, OperatorConfig, ScanJobSettings};

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

impl OperatorConfig {
    /// Parses a values YAML (any subset of the chart's values) over the defaults.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let values: Values = if text.trim().is_empty() {
            Values::default()
        } else {
            serde_norway::from_str(text).map_err(|e| ConfigError {
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
}
