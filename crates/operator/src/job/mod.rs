//! The scan Job for one image digest, and the Job-scoped pull Secret it reads.
//!
//! The Job runs `sightline scan-job` (the operator's own image) under the restricted Pod
//! Security profile: non-root, read-only root filesystem, no service account token, seccomp
//! `RuntimeDefault`, all capabilities dropped, no privilege escalation. The image's registry
//! is reached with a docker config mounted from a Secret the operator creates for this Job
//! (owned by the Job, so it is deleted with it) from the workload's pull secrets
//! ([`pull_secret()`]).
//!
//! One Job scans one *subject*: an image digest on one platform (`linux/arm64`). Its name
//! carries 64 bits of the subject's sha256, so creating it twice is an `AlreadyExists`, not a
//! second scan; annotations map it back to its image ([`IMAGE_ANNOTATION`]) and platform
//! ([`PLATFORM_ANNOTATION`]). The pull Secret's name adds a nonce chosen at each creation,
//! so a new Job never mounts a Secret left by an older Job of the same subject.

mod pull_secret;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, PodSecurityContext, PodSpec,
    PodTemplateSpec, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};
use sightline_api::naming::{LABEL_MANAGED_BY, MANAGED_BY};

pub use pull_secret::{
    docker_auth, merge_pull_secrets, pull_secret, PullSecretError, PullSecretProblem,
};

use crate::config::OperatorConfig;

/// Label holding the hash of the scan subject (digest and platform; the hex digits in the
/// Job's name): find the Job of a subject.
pub const SUBJECT_HASH_LABEL: &str = "sightline.dev/subject-hash";
/// Annotation holding the scanned image reference, in full.
pub const IMAGE_ANNOTATION: &str = "sightline.dev/image";
/// Annotation holding the scanned platform (`linux/arm64`).
pub const PLATFORM_ANNOTATION: &str = "sightline.dev/platform";
/// The name of the pull Secret's volume in the scan Pod.
const PULL_VOLUME: &str = "pull";
/// Where the pull docker config is mounted in the scan container.
pub const PULL_CONFIG_DIR: &str = "/var/run/sightline/pull";
/// The non-root user scan Pods run as (`nobody`).
pub const SCAN_UID: i64 = 65534;

/// What one scan Job scans and where it runs.
#[derive(Debug, Clone)]
pub struct ScanJobRequest {
    /// The image to pull, pinned by digest when known (`repo@sha256:...`).
    pub image: String,
    /// The running digest (`sha256:...`): one Job per digest and platform.
    pub digest: String,
    /// The platform scanned (`os/arch[/variant]`, e.g. `linux/arm64`): passed to the scanner
    /// as `--platform`.
    pub platform: String,
    /// Namespace of the operator (scan Jobs run there).
    pub namespace: String,
    /// The scanner image (the operator's own image).
    pub scanner_image: String,
    /// The Job-scoped pull Secret's name ([`pull_secret_name`], with a fresh nonce), when the
    /// workload has pull credentials: the Job mounts exactly this Secret.
    pub pull_secret: Option<String>,
    /// Per-request registry timeout given to the scanner.
    pub registry_timeout_secs: u64,
}

/// The hash of a scan subject: the first 64 bits of the sha256 of `<digest> <platform>`, as
/// 16 hex digits.
pub fn subject_hash(digest: &str, platform: &str) -> String {
    let sum = Sha256::digest(format!("{digest} {platform}").as_bytes());
    hex::encode(&sum[..8])
}

/// The Job's name for `digest` on `platform`: stable, so creating it twice is an
/// `AlreadyExists`, not a second scan (41 characters, a DNS label).
pub fn job_name(digest: &str, platform: &str) -> String {
    format!(
        "scan-vulnerabilityreport-{}",
        subject_hash(digest, platform)
    )
}

/// The pull Secret's name for one creation of a Job: `<job name>-pull-<nonce>`. `nonce` is
/// lower-case alphanumeric, new for every Job creation ([`pull_secret_nonce`]), so a new Job
/// can never mount the Secret of an older Job of the same subject.
pub fn pull_secret_name(job_name: &str, nonce: &str) -> String {
    format!("{job_name}-pull-{nonce}")
}

/// A fresh nonce for [`pull_secret_name`]: 8 hex digits, unpredictable across processes and
/// distinct between calls (not a secret: it only keeps names apart).
pub fn pull_secret_nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    // RandomState is keyed from the OS's randomness once per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    // The low 32 bits, as eight hex digits.
    format!("{:08x}", h.finish() & 0xffff_ffff)
}

/// The platform a scan Job scans (its [`PLATFORM_ANNOTATION`]).
pub fn job_platform(job: &Job) -> Option<String> {
    job.metadata
        .annotations
        .as_ref()?
        .get(PLATFORM_ANNOTATION)
        .cloned()
}

/// Builds the scan Job.
pub fn scan_job(config: &OperatorConfig, req: &ScanJobRequest) -> Job {
    let name = job_name(&req.digest, &req.platform);
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert(LABEL_MANAGED_BY.into(), MANAGED_BY.into());
    labels.insert(
        SUBJECT_HASH_LABEL.into(),
        subject_hash(&req.digest, &req.platform),
    );
    let mut pod_labels = config.scan_job.pod_template_labels.clone();
    pod_labels.extend(labels.clone());
    let mut annotations = config.scan_job.annotations.clone();
    annotations.insert(IMAGE_ANNOTATION.into(), req.image.clone());
    annotations.insert(PLATFORM_ANNOTATION.into(), req.platform.clone());

    let mut args = vec![
        "scan-job".to_string(),
        "--timeout".into(),
        format!("{}s", req.registry_timeout_secs.max(1)),
        "--platform".into(),
        req.platform.clone(),
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
            name: PULL_VOLUME.into(),
            mount_path: PULL_CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: PULL_VOLUME.into(),
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
            active_deadline_seconds: Some(
                i64::try_from(config.scan_job_timeout.as_secs().max(1)).unwrap_or(i64::MAX),
            ),
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
