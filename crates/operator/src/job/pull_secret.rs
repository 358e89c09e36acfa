//! The Job-scoped pull Secret: the docker configs of a workload's pull secrets, merged.
//!
//! Errors name the offending Secret, the key and what is structurally wrong with it (at
//! most a line and column), never any of its content: they end up in Events and logs, and a
//! malformed docker config can hold a password next to the fault.

use base64::Engine as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;

use super::PULL_VOLUME;

/// The docker config keys of the two pull Secret types.
const DOCKER_CONFIG_JSON: &str = ".dockerconfigjson";
const DOCKER_CFG: &str = ".dockercfg";

/// A pull Secret that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("pull secret {secret}: {problem}")]
pub struct PullSecretError {
    /// `namespace/name` of the offending Secret.
    pub secret: String,
    /// What is wrong with it.
    pub problem: PullSecretProblem,
}

/// What is wrong with a pull Secret (structure only, never content).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PullSecretProblem {
    /// Neither docker config key is in its data.
    #[error("neither .dockerconfigjson nor .dockercfg in its data")]
    NoDockerConfig,
    /// The docker config is not JSON.
    #[error("{key} is not valid JSON ({what} at line {line}, column {column})")]
    NotJson {
        /// `.dockerconfigjson` or `.dockercfg`.
        key: &'static str,
        /// `a syntax error`, `unexpected end of input`, ...
        what: &'static str,
        /// 1-based line of the fault.
        line: usize,
        /// 1-based column of the fault.
        column: usize,
    },
}

impl PullSecretProblem {
    /// The fault in `key`'s JSON, by position only (serde_json's message can quote input).
    fn not_json(key: &'static str, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let what = match e.classify() {
            Category::Syntax => "a syntax error",
            Category::Eof => "unexpected end of input",
            Category::Data => "unexpected data",
            Category::Io => "a read error",
        };
        PullSecretProblem::NotJson {
            key,
            what,
            line: e.line(),
            column: e.column(),
        }
    }
}

/// Merges the docker configs of a workload's pull secrets (`kubernetes.io/dockerconfigjson`
/// `.dockerconfigjson` or legacy `kubernetes.io/dockercfg` `.dockercfg`), earlier secrets
/// winning per registry as the kubelet's order does, into one `config.json`.
pub fn merge_pull_secrets(secrets: &[Secret]) -> Result<Vec<u8>, PullSecretError> {
    let mut auths = serde_json::Map::new();
    for s in secrets {
        let err = |problem| PullSecretError {
            secret: format!(
                "{}/{}",
                s.metadata.namespace.as_deref().unwrap_or_default(),
                s.metadata.name.as_deref().unwrap_or_default()
            ),
            problem,
        };
        let data = s.data.as_ref();
        let parse = |key: &'static str, b: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(b)
                .map_err(|e| err(PullSecretProblem::not_json(key, &e)))
        };
        let parsed = if let Some(ByteString(b)) = data.and_then(|d| d.get(DOCKER_CONFIG_JSON)) {
            parse(DOCKER_CONFIG_JSON, b)?
        } else if let Some(ByteString(b)) = data.and_then(|d| d.get(DOCKER_CFG)) {
            serde_json::json!({ "auths": parse(DOCKER_CFG, b)? })
        } else {
            return Err(err(PullSecretProblem::NoDockerConfig));
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

/// The Job-scoped pull Secret holding `docker_config`, named as `job` mounts it (the
/// operator sets its ownerReference to the created Job); `None` when `job` mounts no pull
/// Secret.
pub fn pull_secret(job: &Job, docker_config: &[u8]) -> Option<Secret> {
    let name = job
        .spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == PULL_VOLUME)?
        .secret
        .as_ref()?
        .secret_name
        .clone()?;
    Some(Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: job.metadata.namespace.clone(),
            labels: job.metadata.labels.clone(),
            ..Default::default()
        },
        type_: Some("kubernetes.io/dockerconfigjson".into()),
        data: Some(
            [(
                DOCKER_CONFIG_JSON.to_string(),
                ByteString(docker_config.to_vec()),
            )]
            .into(),
        ),
        ..Default::default()
    })
}

/// Base64 of `user:password`, the `auth` field of a docker config entry.
pub fn docker_auth(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
