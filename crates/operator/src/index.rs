//! The watch-driven index: the lookups a reconcile needs, kept up to date from watch
//! events so that a reconcile (and a DB re-match of every workload) costs what the
//! workload has, not what the cluster has.
//!
//! * [`OwnerIndex`]: children by their controller's UID (Pods by ReplicaSet/Job/...,
//!   ReplicaSets by Deployment, Jobs by CronJob).
//! * [`ReportIndex`]: the operator's per-container reports by workload.
//! * [`DigestIndex`]: which workloads run which scan subjects (image digest + platform), for
//!   the inventory store's garbage collection.
//!
//! Each index follows a watch's event protocol: `apply`/`delete` for changes, and
//! `init_start`/`init_apply`/`init_done` for a (re)list, after which objects missing from the
//! new list are gone (a watch that was away misses their deletion events).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Mutex;

use crate::sync::MutexExt;
use crate::workload::{WorkloadKey, WorkloadKind};

/// `namespace/name` of a namespaced object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// A key.
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

#[derive(Default)]
struct OwnerState {
    owner_of: HashMap<ObjKey, String>,
    children: HashMap<String, BTreeSet<ObjKey>>,
    relist: Option<HashMap<ObjKey, String>>,
}

impl OwnerState {
    fn unlink(&mut self, child: &ObjKey) {
        if let Some(owner) = self.owner_of.remove(child) {
            if let Some(set) = self.children.get_mut(&owner) {
                set.remove(child);
                if set.is_empty() {
                    self.children.remove(&owner);
                }
            }
        }
    }

    fn link(&mut self, child: ObjKey, owner: Option<String>) {
        self.unlink(&child);
        if let Some(owner) = owner {
            self.children
                .entry(owner.clone())
                .or_default()
                .insert(child.clone());
            self.owner_of.insert(child, owner);
        }
    }
}

/// Children by the UID of their controller (`ownerReferences[controller=true]`).
#[derive(Default)]
pub struct OwnerIndex {
    state: Mutex<OwnerState>,
}

impl OwnerIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// `child` was added or changed; `owner` is its controller's UID.
    pub fn apply(&self, child: ObjKey, owner: Option<String>) {
        self.state.locked().link(child, owner);
    }

    /// `child` was deleted.
    pub fn delete(&self, child: &ObjKey) {
        self.state.locked().unlink(child);
    }

    /// A (re)list starts.
    pub fn init_start(&self) {
        self.state.locked().relist = Some(HashMap::new());
    }

    /// One object of the (re)list.
    pub fn init_apply(&self, child: ObjKey, owner: Option<String>) {
        let mut st = self.state.locked();
        if let Some(owner) = owner.clone() {
            if let Some(r) = st.relist.as_mut() {
                r.insert(child.clone(), owner);
            }
        }
        st.link(child, owner);
    }

    /// The (re)list is complete: children not in it are gone. Returns them.
    pub fn init_done(&self) -> Vec<ObjKey> {
        let mut st = self.state.locked();
        let Some(listed) = st.relist.take() else {
            return Vec::new();
        };
        let gone: Vec<ObjKey> = st
            .owner_of
            .keys()
            .filter(|k| !listed.contains_key(*k))
            .cloned()
            .collect();
        for k in &gone {
            st.unlink(k);
        }
        gone
    }

    /// The children of the owner with `uid`.
    pub fn children(&self, uid: &str) -> Vec<ObjKey> {
        self.state
            .locked()
            .children
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The controller UID of `child`.
    pub fn owner_of(&self, child: &ObjKey) -> Option<String> {
        self.state.locked().owner_of.get(child).cloned()
    }

    /// Children indexed.
    pub fn len(&self) -> usize {
        self.state.locked().owner_of.len()
    }

    /// `true` when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The operator's per-container reports, by the workload they are about.
#[derive(Default)]
pub struct ReportIndex {
    state: Mutex<ReportState>,
}

#[derive(Default)]
struct ReportState {
    workload_of: HashMap<ObjKey, WorkloadKey>,
    reports: HashMap<WorkloadKey, BTreeSet<String>>,
    relist: Option<HashSet<ObjKey>>,
}

impl ReportState {
    fn unlink(&mut self, report: &ObjKey) {
        if let Some(w) = self.workload_of.remove(report) {
            if let Some(set) = self.reports.get_mut(&w) {
                set.remove(&report.name);
                if set.is_empty() {
                    self.reports.remove(&w);
                }
            }
        }
    }
    fn link(&mut self, report: ObjKey, workload: Option<WorkloadKey>) {
        self.unlink(&report);
        if let Some(w) = workload {
            self.reports
                .entry(w.clone())
                .or_default()
                .insert(report.name.clone());
            self.workload_of.insert(report, w);
        }
    }
}

impl ReportIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The workload a per-container report is about, from its labels (`None` for reports
    /// that are not per-container or not about a workload kind the operator scans).
    pub fn workload_of_labels(
        namespace: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Option<WorkloadKey> {
        use sightline_api::naming::{
            LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME,
        };
        labels.get(LABEL_CONTAINER_NAME)?;
        Some(WorkloadKey {
            kind: WorkloadKind::from_kind(labels.get(LABEL_RESOURCE_KIND)?)?,
            namespace: namespace.to_string(),
            name: labels.get(LABEL_RESOURCE_NAME)?.clone(),
        })
    }

    /// A report was added or changed.
    pub fn apply(&self, report: ObjKey, workload: Option<WorkloadKey>) {
        self.state.locked().link(report, workload);
    }

    /// A report was deleted.
    pub fn delete(&self, report: &ObjKey) {
        self.state.locked().unlink(report);
    }

    /// A (re)list starts.
    pub fn init_start(&self) {
        self.state.locked().relist = Some(HashSet::new());
    }

    /// One report of the (re)list.
    pub fn init_apply(&self, report: ObjKey, workload: Option<WorkloadKey>) {
        let mut st = self.state.locked();
        if let Some(r) = st.relist.as_mut() {
            r.insert(report.clone());
        }
        st.link(report, workload);
    }

    /// The (re)list is complete; returns the workloads whose reports vanished meanwhile.
    pub fn init_done(&self) -> Vec<WorkloadKey> {
        let mut st = self.state.locked();
        let Some(listed) = st.relist.take() else {
            return Vec::new();
        };
        let gone: Vec<ObjKey> = st
            .workload_of
            .keys()
            .filter(|k| !listed.contains(*k))
            .cloned()
            .collect();
        let mut workloads = BTreeSet::new();
        for k in &gone {
            if let Some(w) = st.workload_of.get(k) {
                workloads.insert(w.clone());
            }
            st.unlink(k);
        }
        workloads.into_iter().collect()
    }

    /// Names of the reports about `w`.
    pub fn reports_of(&self, w: &WorkloadKey) -> Vec<String> {
        self.state
            .locked()
            .reports
            .get(w)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Which workloads use which scan subjects (inventory store keys).
#[derive(Default)]
pub struct DigestIndex {
    state: Mutex<DigestState>,
}

#[derive(Default)]
struct DigestState {
    by_workload: HashMap<WorkloadKey, BTreeSet<String>>,
    users: HashMap<String, usize>,
}

impl DigestIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// `w` now uses exactly `keys`.
    pub fn set(&self, w: &WorkloadKey, keys: BTreeSet<String>) {
        let mut st = self.state.locked();
        let old = st.by_workload.remove(w).unwrap_or_default();
        for k in &old {
            if let Some(n) = st.users.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    st.users.remove(k);
                }
            }
        }
        for k in &keys {
            *st.users.entry(k.clone()).or_default() += 1;
        }
        if !keys.is_empty() {
            st.by_workload.insert(w.clone(), keys);
        }
    }

    /// `w` is gone.
    pub fn remove(&self, w: &WorkloadKey) {
        self.set(w, BTreeSet::new());
    }

    /// `true` when some workload uses `key`.
    pub fn in_use(&self, key: &str) -> bool {
        self.state.locked().users.contains_key(key)
    }

    /// Workloads tracked.
    pub fn workloads(&self) -> usize {
        self.state.locked().by_workload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> ObjKey {
        ObjKey::new("ns", n)
    }

    #[test]
    fn owner_index_follows_changes_and_relists() {
        let ix = OwnerIndex::new();
        ix.apply(k("a"), Some("rs1".into()));
        ix.apply(k("b"), Some("rs1".into()));
        ix.apply(k("c"), Some("rs2".into()));
        assert_eq!(ix.children("rs1"), vec![k("a"), k("b")]);
        ix.apply(k("b"), Some("rs2".into())); // re-parented
        assert_eq!(ix.children("rs1"), vec![k("a")]);
        ix.delete(&k("a"));
        assert!(ix.children("rs1").is_empty());
        // A relist that no longer has "c": its delete event was missed.
        ix.init_start();
        ix.init_apply(k("b"), Some("rs2".into()));
        assert_eq!(ix.init_done(), vec![k("c")]);
        assert_eq!(ix.children("rs2"), vec![k("b")]);
        assert_eq!(ix.len(), 1);
    }

    #[test]
    fn report_index_maps_labels_and_reports_vanished_ones() {
        use sightline_api::naming::{
            LABEL_CONTAINER_NAME, LABEL_RESOURCE_KIND, LABEL_RESOURCE_NAME,
        };
        let labels: std::collections::BTreeMap<String, String> = [
            (LABEL_RESOURCE_KIND.to_string(), "ReplicaSet".to_string()),
            (LABEL_RESOURCE_NAME.to_string(), "web".to_string()),
            (LABEL_CONTAINER_NAME.to_string(), "app".to_string()),
        ]
        .into();
        let w = ReportIndex::workload_of_labels("ns", &labels).unwrap();
        assert_eq!(w.kind, WorkloadKind::ReplicaSet);
        let ix = ReportIndex::new();
        ix.apply(k("replicaset-web-app"), Some(w.clone()));
        ix.apply(k("replicaset-web-side"), Some(w.clone()));
        assert_eq!(ix.reports_of(&w).len(), 2);
        ix.init_start();
        ix.init_apply(k("replicaset-web-app"), Some(w.clone()));
        assert_eq!(ix.init_done(), vec![w.clone()]);
        assert_eq!(ix.reports_of(&w), vec!["replicaset-web-app".to_string()]);
    }

    #[test]
    fn digest_index_counts_users() {
        let ix = DigestIndex::new();
        let w1 = WorkloadKey {
            kind: WorkloadKind::Pod,
            namespace: "ns".into(),
            name: "a".into(),
        };
        let w2 = WorkloadKey {
            name: "b".into(),
            ..w1.clone()
        };
        ix.set(&w1, ["d1".to_string(), "d2".to_string()].into());
        ix.set(&w2, ["d2".to_string()].into());
        assert!(ix.in_use("d1") && ix.in_use("d2"));
        ix.set(&w1, ["d2".to_string()].into());
        assert!(!ix.in_use("d1"));
        ix.remove(&w2);
        assert!(ix.in_use("d2"));
        ix.remove(&w1);
        assert!(!ix.in_use("d2"));
        assert_eq!(ix.workloads(), 0);
    }
}
