//! The scan Job for one image digest, and the Job-scoped pull Secret it reads.
//!
//! The Job runs `sightline scan-job` (the operator's own image) under the restricted Pod
//! Security profile: non-root, read-only root filesystem, no service account token, seccomp
//! `RuntimeDefault`, all capabilities dropped, no privilege escalation. The image's registry
//! is reached with a docker config mounted from a Secret the operator creates for this Job
//! (owned by the Job, so it is deleted with it) from the workload's pull secrets.

use std::collections::BTreeMap;

use base64::Engine as _;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, PodSecurityContext, PodSpec,
    PodTemplateSpec, ResourceRequirements, SeccompProfile, Secret, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use sightline_api::naming::compute_hash;

use crate::config::OperatorConfig;

/// Label on scan Jobs, their Pods and Secrets: who manages them.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sightline");
/// Label holding the hash of the scanned digest (find the Job of a digest).
pub const DIGEST_HASH_LABEL: &str = "sightline.dev/digest-hash";
/// Annotation holding the scanned image reference, in full.
pub const IMAGE_ANNOTATION: &str = "sightline.dev/image";
/// Where the pull docker config is mounted in the scan container.
pub const PULL_CONFIG_DIR: &str = "/var/run/sightline/pull";
/// The non-root user scan Pods run as (`nobody`).
pub const SCAN_UID: i64 = 65534;

/// What one scan Job scans and where it runs.
#[derive(Debug, Clone)]
pub struct ScanJobRequest {
    /// The image to pull, pinned by digest when known (`repo@sha256:...`).
    pub image: String,
    /// The running digest (`sha256:...`): one Job per digest.
    pub digest: String,
    /// Namespace of the operator (scan Jobs run there).
    pub namespace: String,
    /// The scanner image (the operator's own image).
    pub scanner_image: String,
    /// The Job-scoped pull Secret's name, when the workload has pull credentials.
    pub pull_secret: Option<String>,
    /// Per-request registry timeout given to the scanner.
    pub registry_timeout_secs: u64,
}

/// The Job's name for `digest`: stable, so creating it twice is an `AlreadyExists`, not a
/// second scan.
pub fn job_name(digest: &str) -> String {
    format!("scan-vulnerabilityreport-{}", compute_hash(digest))
}

/// The pull Secret's name for a Job.
pub fn pull_secret_name(job_name: &str) -> String {
    format!("{job_name}-pull")
}

/// Builds the scan Job.
pub fn scan_job(config: &OperatorConfig, req: &ScanJobRequest) -> Job {
    let name = job_name(&req.digest);
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert(MANAGED_BY.0.into(), MANAGED_BY.1.into());
    labels.insert(DIGEST_HASH_LABEL.into(), compute_hash(&req.digest));
    let mut pod_labels = config.scan_job.pod_template_labels.clone();
    pod_labels.extend(labels.clone());
    let mut annotations = config.scan_job.annotations.clone();
    annotations.insert(IMAGE_ANNOTATION.into(), req.image.clone());

    let mut args = vec![
        "scan-job".to_string(),
        "--timeout".into(),
        format!("{}s", req.registry_timeout_secs.max(1)),
    ];
    for host in &config.insecure_registries {
        args.push("--insecure-registry".into());
        args.push(host.clone());
    }
    let mut mounts = vec![VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..Default::default()
    }];
    let mut volumes = vec![Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity("1Gi".into())),
            ..Default::default()
        }),
        ..Default::default()
    }];
    if let Some(secret) = &req.pull_secret {
        args.push("--docker-config".into());
        args.push(format!("{PULL_CONFIG_DIR}/.dockerconfigjson"));
        mounts.push(VolumeMount {
            name: "pull".into(),
            mount_path: PULL_CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "pull".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.clone()),
                default_mode: Some(0o400),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    args.push(req.image.clone());

    let container = Container {
        name: "scanner".into(),
        image: Some(req.scanner_image.clone()),
        image_pull_policy: Some("IfNotPresent".into()),
        args: Some(args),
        env: Some(vec![
            EnvVar {
                name: "HOME".into(),
                value: Some("/tmp".into()),
                ..Default::default()
            },
            EnvVar {
                name: "SIGHTLINE_LOG".into(),
                value: Some("info".into()),
                ..Default::default()
            },
        ]),
        resources: Some(
            config
                .scan_job
                .resources
                .clone()
                .unwrap_or_else(default_resources),
        ),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(SCAN_UID),
            run_as_group: Some(SCAN_UID),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            seccomp_profile: Some(runtime_default()),
            ..Default::default()
        }),
        volume_mounts: Some(mounts),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Default::default()
    };
    let s = &config.scan_job;
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(req.namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(config.scan_job_timeout.as_secs().max(1) as i64),
            // A backstop: the operator deletes Jobs as soon as it has read their result.
            ttl_seconds_after_finished: Some(3600),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(SCAN_UID),
                        run_as_group: Some(SCAN_UID),
                        fs_group: Some(SCAN_UID),
                        seccomp_profile: Some(runtime_default()),
                        ..Default::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    tolerations: (!s.tolerations.is_empty()).then(|| s.tolerations.clone()),
                    node_selector: (!s.node_selector.is_empty()).then(|| s.node_selector.clone()),
                    affinity: s.affinity.clone(),
                    priority_class_name: s.priority_class_name.clone(),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

/// Requests/limits when `scanJob.resources` is unset (Trivy Operator's defaults).
fn default_resources() -> ResourceRequirements {
    let q = |s: &str| Quantity(s.into());
    ResourceRequirements {
        requests: Some(
            [
                ("cpu".to_string(), q("100m")),
                ("memory".to_string(), q("100M")),
            ]
            .into(),
        ),
        limits: Some(
            [
                ("cpu".to_string(), q("500m")),
                ("memory".to_string(), q("500M")),
            ]
            .into(),
        ),
        ..Default::default()
    }
}

/// Errors merging pull secrets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("pull secret {secret}: {reason}")]
pub struct PullSecretError {
    /// `namespace/name` of the offending Secret.
    pub secret: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Merges the docker configs of a workload's pull secrets (`kubernetes.io/dockerconfigjson`
/// `.dockerconfigjson` or legacy `kubernetes.io/dockercfg` `.dockercfg`), earlier secrets
/// winning per registry as the kubelet's order does, into one `config.json`.
pub fn merge_pull_secrets(secrets: &[Secret]) -> Result<Vec<u8>, PullSecretError> {
    let mut auths = serde_json::Map::new();
    for s in secrets {
        let id = format!(
            "{}/{}",
            s.metadata.namespace.as_deref().unwrap_or_default(),
            s.metadata.name.as_deref().unwrap_or_default()
        );
        let err = |reason: String| PullSecretError {
            secret: id.clone(),
            reason,
        };
        let data = s.data.clone().unwrap_or_default();
        let parsed: serde_json::Value = if let Some(ByteString(b)) = data.get(".dockerconfigjson") {
            serde_json::from_slice(b)
                .map_err(|e| err(format!(".dockerconfigjson is not JSON: {e}")))?
        } else if let Some(ByteString(b)) = data.get(".dockercfg") {
            let legacy: serde_json::Value = serde_json::from_slice(b)
                .map_err(|e| err(format!(".dockercfg is not JSON: {e}")))?;
            serde_json::json!({ "auths": legacy })
        } else {
            return Err(err(
                "neither .dockerconfigjson nor .dockercfg in its data".into()
            ));
        };
        let entries = parsed
            .get("auths")
            .and_then(|a| a.as_object())
            .cloned()
            .unwrap_or_default();
        for (registry, entry) in entries {
            auths.entry(registry).or_insert(entry);
        }
    }
    Ok(serde_json::to_vec(&serde_json::json!({ "auths": auths })).expect("JSON"))
}

/// The Job-scoped pull Secret (the operator sets its ownerReference to the created Job).
pub fn pull_secret(job: &Job, docker_config: &[u8]) -> Secret {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    Secret {
        metadata: ObjectMeta {
            name: Some(pull_secret_name(&job_name)),
            namespace: job.metadata.namespace.clone(),
            labels: job.metadata.labels.clone(),
            ..Default::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".into()),
        data: Some(
            [(
                ".dockerconfigjson".to_string(),
                ByteString(docker_config.to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    }
}

/// Base64 of `user:password`, the `auth` field of a docker config entry.
pub fn docker_auth(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(secret: bool) -> ScanJobRequest {
        ScanJobRequest {
            image: "10.88.0.1:5001/private/app@sha256:abc".into(),
            digest: "sha256:abc".into(),
            namespace: "sightline-system".into(),
            scanner_image: "10.88.0.1:5000/sightline/sightline:0.1.0".into(),
            pull_secret: secret.then(|| pull_secret_name(&job_name("sha256:abc"))),
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
        assert_eq!(pod_labels[MANAGED_BY.0], "sightline");
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
    fn one_job_name_per_digest_and_no_secret_mount_without_credentials() {
        assert_eq!(job_name("sha256:abc"), job_name("sha256:abc"));
        assert_ne!(job_name("sha256:abc"), job_name("sha256:abd"));
        assert!(sightline_api::naming::is_dns1123_label(&job_name(
            "sha256:abc"
        )));
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
        assert!(merge_pull_secrets(&[empty])
            .unwrap_err()
            .reason
            .contains(".dockerconfigjson"));
        let job = scan_job(&OperatorConfig::default(), &request(true));
        let s = pull_secret(&job, b"{}");
        assert_eq!(s.type_.as_deref(), Some("kubernetes.io/dockerconfigjson"));
        assert_eq!(
            s.metadata.name,
            Some(pull_secret_name(job.metadata.name.as_deref().unwrap()))
        );
    }
}
