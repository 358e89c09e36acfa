//! The workload kinds the operator runs a controller for: the one place to add a kind
//! (a [`WorkloadObject`] impl here, a [`WorkloadKind`] variant, and a line in
//! [`super::controllers`]).

use std::fmt::Debug;
use std::hash::Hash;

use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::core::DynamicObject;
use kube::Resource;
use serde::de::DeserializeOwned;

use kube::runtime::watcher::Event;

use super::context::Context;
use crate::workload::{Workload, WorkloadKind};

/// A Kubernetes object the operator reconciles as a workload.
pub trait WorkloadObject:
    Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static
where
    Self::DynamicType: Clone + Eq + Hash + Debug + Unpin + Send + Sync + 'static,
{
    /// Its kind.
    const KIND: WorkloadKind;
    /// What the operator needs of it (`None` when it has no pod template).
    fn workload(&self) -> Option<Workload>;

    /// Keeps the index in step with this kind's watch (the default: owner index upkeep and
    /// forgetting deleted workloads).
    fn observe(ctx: &Context, ev: &Event<Self>) {
        super::controller::on_event(ctx, ev);
    }
}

/// The Pod watch is also the index's source of Pods by owner: one Pod cache serves both.
impl WorkloadObject for Pod {
    const KIND: WorkloadKind = WorkloadKind::Pod;
    fn workload(&self) -> Option<Workload> {
        Workload::from_pod(self)
    }
    fn observe(ctx: &Context, ev: &Event<Self>) {
        super::controller::on_event(ctx, ev);
        super::watches::on_pod_event(ctx, ev);
    }
}

impl WorkloadObject for ReplicaSet {
    const KIND: WorkloadKind = WorkloadKind::ReplicaSet;
    fn workload(&self) -> Option<Workload> {
        Workload::from_replica_set(self)
    }
}

impl WorkloadObject for ReplicationController {
    const KIND: WorkloadKind = WorkloadKind::ReplicationController;
    fn workload(&self) -> Option<Workload> {
        Workload::from_replication_controller(self)
    }
}

impl WorkloadObject for StatefulSet {
    const KIND: WorkloadKind = WorkloadKind::StatefulSet;
    fn workload(&self) -> Option<Workload> {
        Workload::from_stateful_set(self)
    }
}

impl WorkloadObject for DaemonSet {
    const KIND: WorkloadKind = WorkloadKind::DaemonSet;
    fn workload(&self) -> Option<Workload> {
        Workload::from_daemon_set(self)
    }
}

impl WorkloadObject for Job {
    const KIND: WorkloadKind = WorkloadKind::Job;
    fn workload(&self) -> Option<Workload> {
        Workload::from_job(self)
    }
}

/// CronJobs are watched as dynamic objects: batch/v1 from Kubernetes 1.21, batch/v1beta1
/// before (found by discovery).
impl WorkloadObject for DynamicObject {
    const KIND: WorkloadKind = WorkloadKind::CronJob;
    fn workload(&self) -> Option<Workload> {
        let api_version = self.types.as_ref()?.api_version.clone();
        Workload::from_cron_job(&api_version, &self.metadata, &self.data)
    }
}
