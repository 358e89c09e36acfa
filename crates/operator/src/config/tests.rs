use std::collections::BTreeMap;
use std::time::Duration;

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
    assert!(glob_match("kube-*", "kube-system") && glob_match("*", "") && glob_match("a?c", "abc"));
    assert!(!glob_match("kube-*", "my-kube-system") && !glob_match("a?c", "ac"));
}

#[test]
fn an_overflowing_scan_job_timeout_is_a_config_error_naming_its_key() {
    let huge = format!("{}s", "9".repeat(400));
    for v in ["99999999999999999999999h", "9223372037s", &huge] {
        let e =
            OperatorConfig::from_yaml(&format!("operator: {{scanJobTimeout: '{v}'}}")).unwrap_err();
        assert_eq!(e.key, "operator.scanJobTimeout", "{v}");
        assert!(e.reason.contains("out of range"), "{v}: {}", e.reason);
    }
    // Go's largest duration still loads.
    let c = OperatorConfig::from_yaml("operator: {scanJobTimeout: '2562047h'}").unwrap();
    assert_eq!(c.scan_job_timeout, Duration::from_secs(2_562_047 * 3600));
    // A number where a duration string belongs is an error, not a panic.
    assert!(OperatorConfig::from_yaml("operator: {scanJobTimeout: 1e30}").is_err());
}
