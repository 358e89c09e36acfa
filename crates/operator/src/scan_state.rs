//! The scan state machine: where each scan subject (an image digest, or a tag no Pod has
//! resolved yet, on one platform) stands, fed the events the runtime sees — workloads asking,
//! Jobs created, seen, finished, gone, relisted — with no API calls. The runtime performs the
//! effects it returns (create a Job, collect a result, fail a scan).
//!
//! The number of running scans is derived from the states, never counted separately, so a
//! Job whose deletion was missed (the watch was away) cannot leak a slot: a relist that no
//! longer has it fails the scan, and a scan running longer than the Job deadline plus a
//! grace is failed as a timeout.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use crate::metrics::FailureReason;
use crate::workload::{pin_image, WorkloadKey};

/// First retry delay after a failed scan; doubles per failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(30);
/// Longest delay between retries of one subject.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);
/// The platform scanned when no node tells otherwise.
pub const DEFAULT_PLATFORM: &str = "linux/amd64";

/// The retry delay after `failures` consecutive failures.
pub fn backoff_after(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    BASE_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// What one scan Job scans.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// The image to pull: pinned (`repo@sha256:..`) when the digest is known, else the tag.
    pub image: String,
    /// The running digest, when a Pod reported it.
    pub digest: Option<String>,
    /// `os/arch[/variant]` of the nodes running it.
    pub platform: String,
}

impl Subject {
    /// The subject of `image` running as `digest` (if known; else the digest `image` is
    /// pinned to, if it is) on `platform`.
    pub fn new(image: &str, digest: Option<&str>, platform: &str) -> Self {
        let digest = digest.or_else(|| pinned_digest(image));
        Subject {
            image: digest.map_or_else(|| image.to_string(), |d| pin_image(image, d)),
            digest: digest.map(str::to_string),
            platform: platform.to_string(),
        }
    }

    /// The subject a scan Job carries (its image annotation and platform).
    pub fn from_job(image: &str, platform: Option<&str>) -> Self {
        Subject {
            image: image.to_string(),
            digest: pinned_digest(image).map(str::to_string),
            platform: platform.unwrap_or(DEFAULT_PLATFORM).to_string(),
        }
    }

    /// The key of this subject (and of its inventory once the digest is known):
    /// `<digest or image>|<platform>`.
    pub fn key(&self) -> String {
        store_key(
            self.digest.as_deref().unwrap_or(&self.image),
            &self.platform,
        )
    }
}

/// The digest `image` is pinned to (`repo@sha256:...`), if it is.
fn pinned_digest(image: &str) -> Option<&str> {
    image
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| d.starts_with("sha256:"))
}

/// The inventory store key of `digest` on `platform`.
pub fn store_key(digest: &str, platform: &str) -> String {
    format!("{digest}|{platform}")
}

/// One workload's ask for a subject's inventory.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    /// What to scan.
    pub subject: Subject,
    /// The workload asking (woken when the scan ends).
    pub waiter: WorkloadKey,
    /// Pull secret names in the workload's namespace (the pod spec's).
    pub pull_secrets: Vec<String>,
    /// The workload's ServiceAccount (its `imagePullSecrets` are used too).
    pub service_account: String,
}

/// Where a subject's scan stands, as a workload sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanStatus {
    /// Waiting for a free slot.
    Queued,
    /// Its Job runs.
    Running,
    /// The last attempt failed; retried after the backoff.
    BackingOff {
        /// Why.
        reason: FailureReason,
        /// What went wrong.
        message: String,
        /// Time left before the next attempt.
        retry_in: Duration,
    },
}

#[derive(Debug)]
enum Phase {
    Queued,
    Running {
        job: Option<String>,
        since: Instant,
        collecting: bool,
    },
    Failed {
        retry_at: Instant,
        reason: FailureReason,
        message: String,
    },
}

#[derive(Debug)]
struct Entry {
    phase: Phase,
    request: Option<ScanRequest>,
    subject: Subject,
    waiters: HashSet<WorkloadKey>,
    failures: u32,
}

/// What the runtime does after a Job was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobSeen {
    /// The Job was not this process's to track until now (a previous process created it).
    pub adopted: bool,
    /// The Job finished: read its result (once).
    pub collect: bool,
}

/// A failed scan: who to tell, and when it is retried.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The workloads waiting for it.
    pub waiters: Vec<WorkloadKey>,
    /// Delay before the next attempt.
    pub retry_in: Duration,
    /// The image (for messages).
    pub image: String,
}

/// Every subject's scan.
#[derive(Debug, Default)]
pub struct ScanBook {
    entries: HashMap<String, Entry>,
    queue: VecDeque<String>,
    /// UIDs of finished Jobs already collected (until their deletion is seen).
    collected: HashSet<String>,
    /// Job UIDs seen during a relist.
    relist: Option<HashSet<String>>,
    /// Job UID → subject key of Jobs currently tracked.
    jobs: HashMap<String, String>,
}

impl ScanBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks for `req.subject`'s inventory; the waiter is kept until the scan ends.
    pub fn request(&mut self, req: ScanRequest, now: Instant) -> ScanStatus {
        let key = req.subject.key();
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            phase: Phase::Failed {
                retry_at: now,
                reason: FailureReason::Internal,
                message: String::new(),
            },
            request: None,
            subject: req.subject.clone(),
            waiters: HashSet::new(),
            failures: 0,
        });
        entry.waiters.insert(req.waiter.clone());
        match &entry.phase {
            Phase::Queued => ScanStatus::Queued,
            Phase::Running { .. } => ScanStatus::Running,
            Phase::Failed {
                retry_at,
                reason,
                message,
            } if *retry_at > now => ScanStatus::BackingOff {
                reason: *reason,
                message: message.clone(),
                retry_in: *retry_at - now,
            },
            Phase::Failed { .. } => {
                entry.phase = Phase::Queued;
                entry.request = Some(req);
                self.queue.push_back(key);
                ScanStatus::Queued
            }
        }
    }

    /// Adds `waiter` to the scan of `key` when it is queued or running (a tag scan in flight
    /// answers for the digest it resolves to); `None` when there is none.
    pub fn join(&mut self, key: &str, waiter: &WorkloadKey) -> Option<ScanStatus> {
        let e = self.entries.get_mut(key)?;
        let status = match e.phase {
            Phase::Queued => ScanStatus::Queued,
            Phase::Running { .. } => ScanStatus::Running,
            Phase::Failed { .. } => return None,
        };
        e.waiters.insert(waiter.clone());
        Some(status)
    }

    /// Scans running (Jobs created or adopted and not yet finished).
    pub fn running(&self) -> usize {
        self.entries
            .values()
            .filter(|e| {
                matches!(
                    e.phase,
                    Phase::Running {
                        collecting: false,
                        ..
                    }
                )
            })
            .count()
    }

    /// Scans waiting for a slot.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Subjects tracked (any phase).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The next queued scan to start when fewer than `limit` run; it is Running from now on.
    pub fn next_to_start(&mut self, limit: usize, now: Instant) -> Option<ScanRequest> {
        while self.running() < limit {
            let key = self.queue.pop_front()?;
            let Some(e) = self.entries.get_mut(&key) else {
                continue;
            };
            if !matches!(e.phase, Phase::Queued) {
                continue;
            }
            e.phase = Phase::Running {
                job: None,
                since: now,
                collecting: false,
            };
            return e.request.clone();
        }
        None
    }

    /// The Job for `subject` (named `job`, UID `uid`) was created by this process.
    pub fn job_created(&mut self, subject: &Subject, job: &str, uid: &str) {
        let key = subject.key();
        if let Some(Entry {
            phase: Phase::Running { job: j, .. },
            ..
        }) = self.entries.get_mut(&key)
        {
            *j = Some(job.to_string());
        }
        self.jobs.insert(uid.to_string(), key);
    }

    /// A scan Job was seen (created by this process or an earlier one). `deleting` when it
    /// has a deletion timestamp, `finished` when it completed or failed.
    pub fn job_seen(
        &mut self,
        subject: Subject,
        job: &str,
        uid: &str,
        deleting: bool,
        finished: bool,
        now: Instant,
    ) -> JobSeen {
        if let Some(r) = self.relist.as_mut() {
            r.insert(uid.to_string());
        }
        if deleting || self.collected.contains(uid) {
            return JobSeen::default();
        }
        let key = subject.key();
        self.jobs.insert(uid.to_string(), key.clone());
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            phase: Phase::Queued,
            request: None,
            subject,
            waiters: HashSet::new(),
            failures: 0,
        });
        let adopted = !matches!(entry.phase, Phase::Running { .. });
        if adopted {
            // A Job this process did not create (restart), or re-created by someone.
            entry.phase = Phase::Running {
                job: Some(job.to_string()),
                since: now,
                collecting: false,
            };
            self.queue.retain(|q| q != &key);
        }
        let Phase::Running {
            job: j, collecting, ..
        } = &mut entry.phase
        else {
            unreachable!("set above");
        };
        *j = Some(job.to_string());
        if !finished || *collecting {
            return JobSeen {
                adopted,
                collect: false,
            };
        }
        *collecting = true;
        self.collected.insert(uid.to_string());
        JobSeen {
            adopted,
            collect: true,
        }
    }

    /// A scan Job was deleted. Returns the subject key when its scan was still running (the
    /// caller fails it: the Job vanished before it finished).
    pub fn job_gone(&mut self, uid: &str) -> Option<String> {
        self.collected.remove(uid);
        let key = self.jobs.remove(uid)?;
        match self.entries.get(&key).map(|e| &e.phase) {
            Some(Phase::Running {
                collecting: false, ..
            }) => Some(key),
            _ => None,
        }
    }

    /// The Job watch (re)lists.
    pub fn relist_start(&mut self) {
        self.relist = Some(HashSet::new());
    }

    /// The (re)list is complete: Jobs not in it were deleted while the watch was away.
    /// Returns the subject keys whose scan was still running (the caller fails them).
    pub fn relist_done(&mut self) -> Vec<String> {
        let Some(seen) = self.relist.take() else {
            return Vec::new();
        };
        let gone: Vec<String> = self
            .jobs
            .keys()
            .chain(self.collected.iter())
            .filter(|u| !seen.contains(*u))
            .cloned()
            .collect();
        gone.iter().filter_map(|u| self.job_gone(u)).collect()
    }

    /// Scans running for longer than `timeout` (Job name when known). The caller fails them
    /// as timeouts and deletes their Jobs.
    pub fn stuck(&self, now: Instant, timeout: Duration) -> Vec<(String, Option<String>)> {
        self.entries
            .iter()
            .filter_map(|(k, e)| match &e.phase {
                Phase::Running {
                    job,
                    since,
                    collecting: false,
                } if now.saturating_duration_since(*since) > timeout => {
                    Some((k.clone(), job.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// When the scan of `key` started running.
    pub fn running_since(&self, key: &str) -> Option<Instant> {
        match self.entries.get(key).map(|e| &e.phase) {
            Some(Phase::Running { since, .. }) => Some(*since),
            _ => None,
        }
    }

    /// The subject of `key`.
    pub fn subject(&self, key: &str) -> Option<&Subject> {
        self.entries.get(key).map(|e| &e.subject)
    }

    /// The request that queued `key` (for its pull secrets).
    pub fn request_of(&self, key: &str) -> Option<&ScanRequest> {
        self.entries.get(key)?.request.as_ref()
    }

    /// The scan of `key` succeeded: it is forgotten; returns the waiters to wake.
    pub fn succeeded(&mut self, key: &str) -> Vec<WorkloadKey> {
        self.entries
            .remove(key)
            .map(|e| e.waiters.into_iter().collect())
            .unwrap_or_default()
    }

    /// The scan of `key` failed: backoff, and the waiters to tell.
    pub fn failed(
        &mut self,
        key: &str,
        reason: FailureReason,
        message: &str,
        now: Instant,
    ) -> Option<Failure> {
        let e = self.entries.get_mut(key)?;
        e.failures += 1;
        let retry_in = backoff_after(e.failures);
        e.phase = Phase::Failed {
            retry_at: now + retry_in,
            reason,
            message: message.to_string(),
        };
        self.queue.retain(|q| q != key);
        Some(Failure {
            waiters: e.waiters.iter().cloned().collect(),
            retry_in,
            image: e.subject.image.clone(),
        })
    }

    /// Forgets failed subjects no workload asked about for `idle` (bounded memory).
    pub fn forget_idle_failures(&mut self, now: Instant, idle: Duration) {
        self.entries.retain(|_, e| match &e.phase {
            Phase::Failed { retry_at, .. } => now.saturating_duration_since(*retry_at) < idle,
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests;
