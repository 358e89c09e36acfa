//! Leader election on a `coordination.k8s.io/v1` Lease, so only one of several operator
//! replicas creates Jobs and writes reports. The holder renews every few seconds; a replica
//! takes over when the Lease has not been renewed for its duration. A holder that loses the
//! Lease exits (its Deployment restarts it as a standby) rather than act twice.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};

use crate::config::OperatorConfig;

/// How long a Lease is valid without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How often the holder renews.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// This process's identity in the Lease (`POD_NAME`, else the host name and PID).
pub fn identity() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "sightline".into());
            format!("{host}-{}", std::process::id())
        })
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// `true` when `lease` may be taken by `me`.
pub fn can_take(lease: &Lease, me: &str, now_ts: k8s_openapi::jiff::Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder.is_empty() || holder == me {
        return true;
    }
    let duration = spec
        .lease_duration_seconds
        .unwrap_or(LEASE_DURATION.as_secs() as i32) as i64;
    match &spec.renew_time {
        Some(t) => t.0.as_second() + duration < now_ts.as_second(),
        None => true,
    }
}

async fn try_take(api: &Api<Lease>, name: &str, me: &str) -> kube::Result<bool> {
    let spec = |transitions: i32| LeaseSpec {
        holder_identity: Some(me.to_string()),
        lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
        acquire_time: Some(now()),
        renew_time: Some(now()),
        lease_transitions: Some(transitions),
        ..Default::default()
    };
    match api.get_opt(name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    ..Default::default()
                },
                spec: Some(spec(0)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut lease) => {
            if !can_take(&lease, me, k8s_openapi::jiff::Timestamp::now()) {
                return Ok(false);
            }
            let held = lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.clone())
                .as_deref()
                == Some(me);
            let transitions = lease
                .spec
                .as_ref()
                .and_then(|s| s.lease_transitions)
                .unwrap_or(0);
            let mut new_spec = spec(if held { transitions } else { transitions + 1 });
            if held {
                new_spec.acquire_time = lease.spec.as_ref().and_then(|s| s.acquire_time.clone());
            }
            lease.spec = Some(new_spec);
            // resourceVersion is kept: a concurrent taker makes this a 409.
            match api.replace(name, &PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

/// Blocks until this process holds the Lease, then keeps renewing it in the background.
pub async fn acquire(client: &Client, config: &OperatorConfig) -> anyhow::Result<()> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.operator_namespace);
    let name = config.leader_election_id.clone();
    let me = identity();
    let mut logged = false;
    loop {
        match try_take(&api, &name, &me).await {
            Ok(true) => break,
            Ok(false) if !logged => {
                tracing::info!(
                    "waiting for the leader Lease {}/{name} (held by another replica)",
                    config.operator_namespace
                );
                logged = true;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("leader Lease {}/{name}: {e}", config.operator_namespace),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tracing::info!("became the leader ({me})");
    tokio::spawn(async move {
        let mut failing_since: Option<std::time::Instant> = None;
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            match try_take(&api, &name, &me).await {
                Ok(true) => failing_since = None,
                Ok(false) => {
                    tracing::error!("lost the leader Lease {name} to another replica; exiting so only one replica acts");
                    std::process::exit(1);
                }
                Err(e) => {
                    let since = *failing_since.get_or_insert_with(std::time::Instant::now);
                    tracing::warn!("renewing the leader Lease {name}: {e}");
                    if since.elapsed() > LEASE_DURATION {
                        tracing::error!(
                            "could not renew the leader Lease for {}s; exiting",
                            LEASE_DURATION.as_secs()
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
    });
    Ok(())
}

/// Gives the Lease up on shutdown so a standby takes over at once.
pub async fn release(client: &Client, config: &OperatorConfig) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.operator_namespace);
    if let Ok(Some(mut lease)) = api.get_opt(&config.leader_election_id).await {
        if let Some(spec) = lease.spec.as_mut() {
            if spec.holder_identity.as_deref() == Some(identity().as_str()) {
                spec.holder_identity = None;
                let _ = api
                    .replace(&config.leader_election_id, &PostParams::default(), &lease)
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::{SignedDuration, Timestamp};

    fn lease(holder: &str, renewed: Timestamp) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(renewed)),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn takeover_only_after_expiry() {
        let t = Timestamp::now();
        let fresh = lease("other", t);
        assert!(!can_take(&fresh, "me", t + SignedDuration::from_secs(10)));
        assert!(can_take(&fresh, "me", t + SignedDuration::from_secs(20)));
        assert!(can_take(&fresh, "other", t));
        assert!(can_take(&lease("", t), "me", t));
    }
}
