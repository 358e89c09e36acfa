use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;

use super::*;

const DIGEST: &str = "sha256:abc";

fn request(secret: bool) -> ScanJobRequest {
    ScanJobRequest {
        image: "10.88.0.1:5001/private/app@sha256:abc".into(),
        digest: DIGEST.into(),
        platform: "linux/arm64".into(),
        namespace: "sightline-system".into(),
        scanner_image: "10.88.0.1:5000/sightline/sightline:0.1.0".into(),
        pull_secret: secret.then(|| pull_secret_name(&job_name(DIGEST, "linux/arm64"), "0a1b2c3d")),
        registry_timeout_secs: 60,
    }
}

#[test]
fn restricted_pod_security_and_settings() {
    let config = OperatorConfig::from_yaml(
        "operator: {scanJobTimeout: 3m}\nscanJob: {podTemplateLabels: {team: sec}, nodeSelector: {pool: scan}, priorityClassName: low, tolerations: [{key: k, operator: Exists}]}",
    )
    .unwrap();
    let job = scan_job(&config, &request(true));
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(180));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(
        (psc.run_as_non_root, psc.run_as_user),
        (Some(true), Some(SCAN_UID))
    );
    assert_eq!(
        psc.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    let args = c.args.as_ref().unwrap();
    assert_eq!(args.first().map(String::as_str), Some("scan-job"));
    assert_eq!(
        args.last().map(String::as_str),
        Some("10.88.0.1:5001/private/app@sha256:abc")
    );
    assert!(args
        .windows(2)
        .any(|w| w[0] == "--docker-config" && w[1].starts_with(PULL_CONFIG_DIR)));
    assert_eq!(pod.priority_class_name.as_deref(), Some("low"));
    assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "scan");
    assert_eq!(pod.tolerations.as_ref().unwrap().len(), 1);
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert_eq!(pod_labels["team"], "sec");
    assert_eq!(pod_labels[LABEL_MANAGED_BY], MANAGED_BY);
    let vols: Vec<_> = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(vols, ["tmp", "pull"]);
}

#[test]
fn one_job_name_per_digest_and_platform_and_no_secret_mount_without_credentials() {
    let name = job_name(DIGEST, "linux/amd64");
    assert_eq!(name, job_name(DIGEST, "linux/amd64"));
    assert_ne!(name, job_name("sha256:abd", "linux/amd64"));
    assert_ne!(name, job_name(DIGEST, "linux/arm64"));
    assert!(sightline_api::naming::is_dns1123_label(&name), "{name}");
    // 64 bits of sha256: 16 hex digits.
    let hash = name.strip_prefix("scan-vulnerabilityreport-").unwrap();
    assert_eq!(hash, subject_hash(DIGEST, "linux/amd64"));
    assert_eq!(hash.len(), 16);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    let job = scan_job(&OperatorConfig::default(), &request(false));
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert!(!pod.containers[0]
        .args
        .as_ref()
        .unwrap()
        .iter()
        .any(|a| a == "--docker-config"));
    assert_eq!(pod.volumes.unwrap().len(), 1);
    assert!(pod.tolerations.is_none() && pod.node_selector.is_none());
}

#[test]
fn the_job_carries_its_platform() {
    let job = scan_job(&OperatorConfig::default(), &request(false));
    assert_eq!(job.metadata.name, Some(job_name(DIGEST, "linux/arm64")));
    assert_eq!(job_platform(&job).as_deref(), Some("linux/arm64"));
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[IMAGE_ANNOTATION],
        "10.88.0.1:5001/private/app@sha256:abc"
    );
    assert_eq!(
        job.metadata.labels.as_ref().unwrap()[SUBJECT_HASH_LABEL],
        subject_hash(DIGEST, "linux/arm64")
    );
    let args = job.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(
        args.windows(2)
            .any(|w| w[0] == "--platform" && w[1] == "linux/arm64"),
        "{args:?}"
    );
    assert_eq!(job_platform(&Job::default()), None);
}

#[test]
fn pull_secret_names_are_new_per_creation_and_mounted_exactly() {
    let a = pull_secret_nonce();
    let b = pull_secret_nonce();
    assert_ne!(a, b);
    assert_eq!(a.len(), 8);
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let job_name = job_name(DIGEST, "linux/arm64");
    let first = pull_secret_name(&job_name, &a);
    assert_ne!(first, pull_secret_name(&job_name, &b));
    assert!(sightline_api::naming::is_dns1123_label(&first), "{first}");

    let job = scan_job(&OperatorConfig::default(), &request(true));
    let pod = job.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    let mounted = pod
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.secret.as_ref()?.secret_name.clone());
    let s = pull_secret(&job, b"{}").unwrap();
    assert_eq!(s.metadata.name, mounted);
    assert_eq!(
        s.metadata.name.as_deref(),
        Some(pull_secret_name(&job_name, "0a1b2c3d").as_str())
    );
    assert_eq!(s.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
    // A Job without credentials mounts no Secret: none is made.
    let job = scan_job(&OperatorConfig::default(), &request(false));
    assert!(pull_secret(&job, b"{}").is_none());
}

fn secret(name: &str, key: &str, json: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("payments".into()),
            ..Default::default()
        },
        data: Some([(key.to_string(), ByteString(json.as_bytes().to_vec()))].into()),
        ..Default::default()
    }
}

#[test]
fn pull_secrets_merge_with_the_first_winning() {
    let a = secret(
        "a",
        ".dockerconfigjson",
        &format!(
            r#"{{"auths":{{"reg.corp":{{"auth":"{}"}}}}}}"#,
            docker_auth("u1", "p1")
        ),
    );
    let b = secret(
        "b",
        ".dockercfg",
        &format!(
            r#"{{"reg.corp":{{"auth":"x"}},"other.corp":{{"auth":"{}"}}}}"#,
            docker_auth("u2", "p2")
        ),
    );
    let merged: serde_json::Value =
        serde_json::from_slice(&merge_pull_secrets(&[a, b]).unwrap()).unwrap();
    assert_eq!(merged["auths"]["reg.corp"]["auth"], docker_auth("u1", "p1"));
    assert_eq!(
        merged["auths"]["other.corp"]["auth"],
        docker_auth("u2", "p2")
    );
    let bad = secret("bad", ".dockerconfigjson", "{not json");
    let e = merge_pull_secrets(&[bad]).unwrap_err();
    assert_eq!(e.secret, "payments/bad");
    let empty = secret("empty", "token", "{}");
    let e = merge_pull_secrets(&[empty]).unwrap_err();
    assert_eq!(e.problem, PullSecretProblem::NoDockerConfig);
    assert!(e.to_string().contains(".dockerconfigjson"), "{e}");
}

#[test]
fn pull_secret_errors_never_carry_its_content() {
    // A password inside a string the parser quotes back, next to the fault.
    for (key, json) in [
        (
            ".dockerconfigjson",
            r#"{"auths":{"reg.corp":{"username":"u","password":"hunter2-secret" "auth":"x"}}}"#,
        ),
        (
            ".dockerconfigjson",
            r#"{"auths":{"reg.corp":{"password":hunter2-secret}}}"#,
        ),
        (
            ".dockerconfigjson",
            r#"{"auths":{"reg.corp":{"password":"hunter2-secret"#,
        ),
        (
            ".dockercfg",
            r#"{"reg.corp":{"password":"hunter2-secret"},}"#,
        ),
        (".dockerconfigjson", "hunter2-secret"),
    ] {
        let e = merge_pull_secrets(&[secret("creds", key, json)]).unwrap_err();
        let (display, debug) = (e.to_string(), format!("{e:?}"));
        for text in [&display, &debug] {
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(
            display.starts_with("pull secret payments/creds: "),
            "{display}"
        );
        assert!(display.contains(key), "{display}");
        assert!(display.contains("line 1, column "), "{display}");
    }
    let e = merge_pull_secrets(&[secret(
        "creds",
        ".dockerconfigjson",
        "{\n  \"auths\": {\"reg\": {\"password\": \"hunter2-secret\" }\n}",
    )])
    .unwrap_err();
    assert!(
        matches!(e.problem, PullSecretProblem::NotJson { line: 3, .. }),
        "{e}"
    );
}
