//! The API side of one scan Job: creating it with its Job-scoped pull Secret (never reusing
//! a Secret it does not own), reading its Pod's log (size-capped) and turning a finished
//! Job into a result or a failure reason.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, LogParams, PostParams, Preconditions};
use kube::{Api, Client, ResourceExt};
use sightline_scan::job_result::{self, ResultError};
use sightline_scan::ImageScan;

use crate::config::OperatorConfig;
use crate::job::{self, ScanJobRequest};
use crate::metrics::FailureReason;
use crate::scan_state::ScanRequest;

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Complete.
    Succeeded,
    /// Failed, with the condition's reason (`DeadlineExceeded`, `BackoffLimitExceeded`).
    Failed(String),
}

/// How `j` ended, if it did.
pub fn finished(j: &Job) -> Option<Finished> {
    let status = j.status.as_ref()?;
    for c in status.conditions.iter().flatten() {
        if c.status != "True" {
            continue;
        }
        match c.type_.as_str() {
            "Complete" => return Some(Finished::Succeeded),
            "Failed" => return Some(Finished::Failed(c.reason.clone().unwrap_or_default())),
            _ => {}
        }
    }
    None
}

/// Creates the scan Job (and its pull Secret) for `req`. `Ok(Some((name, uid)))` when
/// created, `Ok(None)` when a Job for the subject already exists (adopted by the watch).
pub async fn create(
    client: &Client,
    config: &OperatorConfig,
    scanner_image: &str,
    req: &ScanRequest,
) -> anyhow::Result<Option<(String, String)>> {
    let ns = &config.operator_namespace;
    let subject = &req.subject;
    let id = subject
        .digest
        .clone()
        .unwrap_or_else(|| subject.image.clone());
    let name = job::job_name(&id, &subject.platform);
    let docker_config = pull_config(client, req).await?;
    let secret_name = docker_config
        .as_ref()
        .map(|_| job::pull_secret_name(&name, &job::pull_secret_nonce()));
    let spec = ScanJobRequest {
        image: subject.image.clone(),
        digest: id,
        namespace: ns.clone(),
        scanner_image: scanner_image.to_string(),
        pull_secret: secret_name.clone(),
        registry_timeout_secs: 60,
        platform: subject.platform.clone(),
    };
    let jobs: Api<Job> = Api::namespaced(client.clone(), ns);
    let created = match jobs
        .create(&PostParams::default(), &job::scan_job(config, &spec))
        .await
    {
        Ok(j) => j,
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let uid = created.uid().unwrap_or_default();
    if let (Some(config_json), Some(secret_name)) = (docker_config, secret_name) {
        if let Err(e) = create_pull_secret(client, ns, &created, &secret_name, &config_json).await {
            // Never leave a Job that would mount someone else's Secret (or none).
            let dp = DeleteParams::background().preconditions(Preconditions {
                uid: Some(uid.clone()),
                resource_version: None,
            });
            let _ = jobs.delete(&name, &dp).await;
            return Err(e);
        }
    }
    Ok(Some((name, uid)))
}

/// Creates the Job's pull Secret, owned by the Job. A Secret of that name that this Job
/// does not own (its name is unique per Job creation, so this is not expected) is an error,
/// never reused.
async fn create_pull_secret(
    client: &Client,
    ns: &str,
    created: &Job,
    secret_name: &str,
    config_json: &[u8],
) -> anyhow::Result<()> {
    let uid = created.uid().unwrap_or_default();
    let mut secret = job::pull_secret(created, config_json)
        .ok_or_else(|| anyhow::anyhow!("the scan Job mounts no pull Secret"))?;
    anyhow::ensure!(
        secret.metadata.name.as_deref() == Some(secret_name),
        "the scan Job mounts another Secret than {secret_name}"
    );
    secret.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: created.name_any(),
        uid: uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(false),
    }]);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    match secrets.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = secrets.get_opt(secret_name).await?;
            if secret_owned_by(existing.as_ref(), &uid) {
                Ok(())
            } else {
                anyhow::bail!("a Secret {ns}/{secret_name} exists that this scan Job does not own; refusing to use it")
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// `true` when `secret` is controlled by the Job with `uid`.
pub fn secret_owned_by(secret: Option<&Secret>, uid: &str) -> bool {
    secret
        .and_then(|s| crate::workload::controller_of(&s.metadata))
        .is_some_and(|o| o.kind == "Job" && o.uid == uid)
}

/// The merged docker config of the workload's pull secrets and its ServiceAccount's, or
/// `None` when it has none. Errors name Secrets, never their content.
async fn pull_config(client: &Client, req: &ScanRequest) -> anyhow::Result<Option<Vec<u8>>> {
    let ns = &req.waiter.namespace;
    let mut names = req.pull_secrets.clone();
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    match sas.get_opt(&req.service_account).await {
        Ok(Some(sa)) => names.extend(
            sa.image_pull_secrets
                .iter()
                .flatten()
                .map(|r| r.name.clone()),
        ),
        Ok(None) => {}
        Err(e) => tracing::warn!("reading ServiceAccount {ns}/{}: {e}", req.service_account),
    }
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(None);
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut secrets = Vec::new();
    for n in &names {
        match api.get_opt(n).await? {
            Some(s) => secrets.push(s),
            None => tracing::warn!("pull secret {ns}/{n} does not exist; pulling without it"),
        }
    }
    if secrets.is_empty() {
        return Ok(None);
    }
    Ok(Some(job::merge_pull_secrets(&secrets)?))
}

/// The Job's Pod and its log (at most [`job_result::MAX_LOG_BYTES`]).
pub async fn pod_and_log(
    client: &Client,
    ns: &str,
    job_name: &str,
) -> (Option<Pod>, Option<String>) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = match pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await
    {
        Ok(list) => list.items.into_iter().next(),
        Err(e) => {
            tracing::warn!(job = %job_name, "listing the scan Job's Pod: {e}");
            None
        }
    };
    let params = LogParams {
        container: Some("scanner".into()),
        limit_bytes: Some(job_result::MAX_LOG_BYTES),
        ..Default::default()
    };
    let log = match &pod {
        Some(p) => pods
            .logs(&p.name_any(), &params)
            .await
            .map_err(|e| tracing::warn!(job = %job_name, "reading the scan Job's log: {e}"))
            .ok(),
        None => None,
    };
    (pod, log)
}

/// The result of a finished Job, or why it failed.
pub fn outcome(
    finished: &Finished,
    pod: Option<&Pod>,
    log: Option<&str>,
    config: &OperatorConfig,
) -> Result<ImageScan, (FailureReason, String)> {
    match (finished, log.map(job_result::decode)) {
        (_, Some(Ok(scan))) => Ok(scan),
        (_, Some(Err(ResultError::ScanFailed { reason, message }))) => Err((reason, message)),
        (Finished::Failed(why), other) => Err(if pod.is_some_and(oom_killed) {
            (
                FailureReason::Oom,
                "the scanner was OOM-killed: raise scanJob.resources.limits.memory".to_string(),
            )
        } else if why == "DeadlineExceeded" {
            (
                FailureReason::Timeout,
                format!(
                    "the scan Job ran longer than operator.scanJobTimeout ({}s)",
                    config.scan_job_timeout.as_secs()
                ),
            )
        } else if let Some(p) = pod.and_then(waiting_reason) {
            (
                FailureReason::Internal,
                format!("the scan Pod never ran: {p}"),
            )
        } else {
            match other {
                Some(Err(e)) => (FailureReason::BadResult, e.to_string()),
                _ => (
                    FailureReason::Internal,
                    format!("the scan Job failed ({why}) and left no log"),
                ),
            }
        }),
        (Finished::Succeeded, Some(Err(e))) => Err((FailureReason::BadResult, e.to_string())),
        (Finished::Succeeded, None) => Err((
            FailureReason::BadResult,
            "the scan Job succeeded but its log could not be read".to_string(),
        )),
    }
}

/// The manifest digest a scan pulled (`repo@sha256:...` of its RepoDigests).
pub fn digest_of(scan: &ImageScan) -> Option<String> {
    scan.repo_digests
        .iter()
        .find_map(|r| r.rsplit_once('@').map(|(_, d)| d.to_string()))
        .filter(|d| d.starts_with("sha256:") && d.len() == 71)
}

fn oom_killed(p: &Pod) -> bool {
    p.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .any(|t| t.reason.as_deref() == Some("OOMKilled"))
}

fn waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find_map(|w| {
            let reason = w.reason.clone()?;
            Some(match &w.message {
                Some(m) => format!("{reason}: {m}"),
                None => reason,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn owned_by(uid: &str) -> Secret {
        Secret {
            metadata: ObjectMeta {
                owner_references: Some(vec![OwnerReference {
                    api_version: "batch/v1".into(),
                    kind: "Job".into(),
                    name: "scan-x".into(),
                    uid: uid.into(),
                    controller: Some(true),
                    block_owner_deletion: Some(false),
                }]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Regression (issue 10): a 409 on the pull Secret was ignored, so a new Job could mount
    /// an older Job's Secret (possibly another tenant's credentials).
    #[test]
    fn only_a_secret_this_job_owns_is_accepted() {
        assert!(secret_owned_by(Some(&owned_by("job-uid")), "job-uid"));
        assert!(!secret_owned_by(Some(&owned_by("older-job")), "job-uid"));
        assert!(!secret_owned_by(Some(&Secret::default()), "job-uid"));
        assert!(!secret_owned_by(None, "job-uid"));
    }

    #[test]
    fn digest_from_repo_digests() {
        let mut scan: ImageScan = serde_json::from_value(serde_json::json!({
            "artifact_name": "x", "image_id": "sha256:c", "inventory": {"os": null, "os_packages": []}
        }))
        .unwrap_or_else(|_| panic!("ImageScan fixture"));
        let d = format!("sha256:{}", "a".repeat(64));
        scan.repo_digests = vec![format!("reg/app@{d}")];
        assert_eq!(digest_of(&scan), Some(d));
    }
}
