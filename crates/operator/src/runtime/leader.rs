//! Leader election on a `coordination.k8s.io/v1` Lease, so one of several operator replicas
//! acts. The rules are [`crate::lease`]'s (observed-time expiry, a renew deadline shorter
//! than the Lease); this module reads and writes the Lease, every request bounded by the
//! retry period. Losing the Lease resolves [`Leadership::lost`]: the runtime then stops its
//! controllers and returns an error, rather than exiting from a detached task.

use std::time::Instant;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;

use crate::config::OperatorConfig;
use crate::lease::{Holding, LeaseRecord, LeaseTimings, Observer};

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

fn record(lease: &Lease) -> LeaseRecord {
    let spec = lease.spec.clone().unwrap_or_default();
    LeaseRecord {
        holder: spec.holder_identity.unwrap_or_default(),
        renew_time: spec.renew_time.map(|t| t.0.to_string()).unwrap_or_default(),
        duration: spec
            .lease_duration_seconds
            .map(|s| std::time::Duration::from_secs(u64::from(s.max(1).unsigned_abs()))),
    }
}

/// Held leadership: resolves [`Leadership::lost`] when it ends.
pub struct Leadership {
    lost: watch::Receiver<bool>,
}

impl Leadership {
    /// Resolves once this process may no longer act as the leader.
    pub async fn lost(&mut self) {
        while !*self.lost.borrow() {
            if self.lost.changed().await.is_err() {
                return;
            }
        }
    }
}

struct Elector {
    api: Api<Lease>,
    name: String,
    me: String,
    timings: LeaseTimings,
    observer: Observer,
}

impl Elector {
    /// One attempt to take or renew; `Ok(true)` when this process holds the Lease after it.
    async fn try_hold(&mut self) -> anyhow::Result<bool> {
        let t = self.timings;
        let now_ts = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let current = tokio::time::timeout(t.retry, self.api.get_opt(&self.name)).await??;
        let spec = |transitions: i32, acquired: Option<MicroTime>| LeaseSpec {
            holder_identity: Some(self.me.clone()),
            lease_duration_seconds: Some(i32::try_from(t.duration.as_secs()).unwrap_or(i32::MAX)),
            acquire_time: acquired.or_else(|| Some(now_ts.clone())),
            renew_time: Some(now_ts.clone()),
            lease_transitions: Some(transitions),
            ..Default::default()
        };
        let write = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec(0, None)),
                };
                tokio::time::timeout(t.retry, self.api.create(&PostParams::default(), &lease))
                    .await?
            }
            Some(mut lease) => {
                self.observer.observe(record(&lease), Instant::now());
                if !self.observer.may_take(&self.me, &t, Instant::now()) {
                    return Ok(false);
                }
                let old = lease.spec.clone().unwrap_or_default();
                let held = old.holder_identity.as_deref() == Some(self.me.as_str());
                let transitions = old.lease_transitions.unwrap_or(0) + i32::from(!held);
                lease.spec = Some(spec(
                    transitions,
                    held.then_some(old.acquire_time).flatten(),
                ));
                // resourceVersion is kept: a concurrent writer makes this a 409.
                tokio::time::timeout(
                    t.retry,
                    self.api.replace(&self.name, &PostParams::default(), &lease),
                )
                .await?
            }
        };
        match write {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Blocks until this process holds the Lease, then renews it in the background.
pub async fn acquire(client: &Client, config: &OperatorConfig) -> Leadership {
    let ns = config.operator_namespace.clone();
    let mut e = Elector {
        api: Api::namespaced(client.clone(), &ns),
        name: config.leader_election_id.clone(),
        me: identity(),
        timings: LeaseTimings::default(),
        observer: Observer::new(),
    };
    let mut logged = false;
    loop {
        match e.try_hold().await {
            Ok(true) => break,
            Ok(false) if !logged => {
                tracing::info!(
                    "waiting for the leader Lease {ns}/{} (held by another replica)",
                    e.name
                );
                logged = true;
            }
            Ok(false) => {}
            Err(err) => tracing::warn!("leader Lease {ns}/{}: {err}", e.name),
        }
        tokio::time::sleep(e.timings.retry).await;
    }
    tracing::info!("became the leader ({})", e.me);
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut holding = Holding::new(Instant::now());
        loop {
            tokio::time::sleep(e.timings.retry).await;
            match e.try_hold().await {
                Ok(true) => holding.renewed(Instant::now()),
                Ok(false) => {
                    tracing::error!(
                        "lost the leader Lease {} to another replica; stopping",
                        e.name
                    );
                    break;
                }
                Err(err) => tracing::warn!("renewing the leader Lease {}: {err}", e.name),
            }
            if holding.must_stop(&e.timings, Instant::now()) {
                tracing::error!(
                    "could not renew the leader Lease {} for {}s; stopping before a standby may take over",
                    e.name,
                    e.timings.renew_deadline.as_secs()
                );
                break;
            }
        }
        let _ = tx.send(true);
    });
    Leadership { lost: rx }
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
