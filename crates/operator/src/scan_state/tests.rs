use super::*;
use crate::workload::WorkloadKind;

const NOTHING: JobSeen = JobSeen {
    adopted: false,
    collect: false,
};
const COLLECT: JobSeen = JobSeen {
    adopted: false,
    collect: true,
};

fn waiter(name: &str) -> WorkloadKey {
    WorkloadKey {
        kind: WorkloadKind::Pod,
        namespace: "ns".into(),
        name: name.into(),
    }
}

fn req(digest: &str, who: &str) -> ScanRequest {
    ScanRequest {
        subject: Subject::new("reg/app:1", Some(digest), DEFAULT_PLATFORM),
        waiter: waiter(who),
        pull_secrets: vec![],
        service_account: "default".into(),
    }
}

#[test]
fn subjects_key_digest_and_platform() {
    let s = Subject::new("reg/app:1", Some("sha256:aa"), "linux/arm64");
    assert_eq!(s.image, "reg/app@sha256:aa");
    assert_eq!(s.key(), "sha256:aa|linux/arm64");
    let tag = Subject::new("reg/app:1", None, DEFAULT_PLATFORM);
    assert_eq!(tag.key(), "reg/app:1|linux/amd64");
    let from_job = Subject::from_job("reg/app@sha256:aa", Some("linux/arm64"));
    assert_eq!(from_job.key(), s.key());
}

/// Regression: a Pod spec pinned by digest whose Pod never ran (no imageID) was requested
/// under another key than its Job maps back to, so the Job's failure reached no waiter.
#[test]
fn a_pinned_spec_and_its_job_share_a_key() {
    let pinned = "reg/app@sha256:aa";
    let requested = Subject::new(pinned, None, DEFAULT_PLATFORM);
    assert_eq!(requested.digest.as_deref(), Some("sha256:aa"));
    assert_eq!(requested.key(), Subject::from_job(pinned, None).key());
}

#[test]
fn one_scan_per_subject_bounded_by_the_limit() {
    let mut b = ScanBook::new();
    let t = Instant::now();
    assert_eq!(b.request(req("sha256:a", "w1"), t), ScanStatus::Queued);
    assert_eq!(b.request(req("sha256:a", "w2"), t), ScanStatus::Queued);
    assert_eq!(b.request(req("sha256:b", "w3"), t), ScanStatus::Queued);
    assert_eq!(b.queued(), 2, "one queue entry per subject");
    let first = b.next_to_start(1, t).unwrap();
    assert_eq!(first.subject.digest.as_deref(), Some("sha256:a"));
    assert!(b.next_to_start(1, t).is_none(), "limit 1 reached");
    assert_eq!(b.request(req("sha256:a", "w4"), t), ScanStatus::Running);
    let mut waiters = b.succeeded(&first.subject.key());
    waiters.sort();
    assert_eq!(waiters, vec![waiter("w1"), waiter("w2"), waiter("w4")]);
    assert!(b.next_to_start(1, t).is_some(), "the slot is free again");
}

#[test]
fn a_job_is_collected_once_and_frees_its_slot() {
    let mut b = ScanBook::new();
    let t = Instant::now();
    b.request(req("sha256:a", "w1"), t);
    let r = b.next_to_start(2, t).unwrap();
    b.job_created(&r.subject, "job-a", "uid-a");
    assert_eq!(b.running(), 1);
    let s = || Subject::from_job("reg/app@sha256:a", Some(DEFAULT_PLATFORM));
    assert_eq!(b.job_seen(s(), "job-a", "uid-a", false, false, t), NOTHING);
    assert_eq!(b.job_seen(s(), "job-a", "uid-a", false, true, t), COLLECT);
    assert_eq!(b.running(), 0, "a finished Job holds no slot");
    assert_eq!(b.job_seen(s(), "job-a", "uid-a", false, true, t), NOTHING);
    b.succeeded(&s().key());
    // Status updates of the collected Job until its deletion is seen: not adopted again.
    assert_eq!(b.job_seen(s(), "job-a", "uid-a", false, true, t), NOTHING);
    assert!(b.is_empty());
    assert_eq!(b.job_gone("uid-a"), None);
}

#[test]
fn jobs_left_by_an_earlier_process_are_adopted() {
    let mut b = ScanBook::new();
    let t = Instant::now();
    let s = Subject::from_job("reg/app@sha256:a", None);
    let adopted = b.job_seen(s.clone(), "job-a", "uid-a", false, false, t);
    assert!(adopted.adopted && !adopted.collect);
    assert_eq!(b.running(), 1);
    // A workload asking meanwhile waits for the adopted Job, no second Job.
    assert_eq!(b.request(req("sha256:a", "w1"), t), ScanStatus::Running);
    assert!(b.next_to_start(5, t).is_none());
    assert_eq!(
        b.job_seen(s.clone(), "job-a", "uid-a", false, true, t),
        COLLECT
    );
    assert_eq!(b.succeeded(&s.key()), vec![waiter("w1")]);
}

/// Regression (issue 10): a Job deleted while the watch was away (no Delete event, only a
/// relist without it) leaked its slot forever.
#[test]
fn a_job_missing_from_a_relist_frees_its_slot() {
    let mut b = ScanBook::new();
    let t = Instant::now();
    b.request(req("sha256:a", "w1"), t);
    let r = b.next_to_start(1, t).unwrap();
    b.job_created(&r.subject, "job-a", "uid-a");
    b.request(req("sha256:b", "w2"), t);
    assert!(b.next_to_start(1, t).is_none(), "limit reached");
    b.relist_start();
    let gone = b.relist_done();
    assert_eq!(gone, vec![r.subject.key()]);
    let f = b
        .failed(&gone[0], FailureReason::Internal, "Job vanished", t)
        .unwrap();
    assert_eq!(f.waiters, vec![waiter("w1")]);
    assert_eq!(b.running(), 0);
    assert!(b.next_to_start(1, t).is_some(), "the slot is free again");
}

/// Regression (issue 10): nothing timed out a scan stuck in Running.
#[test]
fn a_scan_stuck_running_is_reported() {
    let mut b = ScanBook::new();
    let t = Instant::now();
    b.request(req("sha256:a", "w1"), t);
    let r = b.next_to_start(1, t).unwrap();
    b.job_created(&r.subject, "job-a", "uid-a");
    let timeout = Duration::from_secs(600);
    assert!(b.stuck(t + Duration::from_secs(599), timeout).is_empty());
    let stuck = b.stuck(t + Duration::from_secs(601), timeout);
    assert_eq!(stuck, vec![(r.subject.key(), Some("job-a".to_string()))]);
}

#[test]
fn failures_back_off_exponentially() {
    assert_eq!(backoff_after(1), Duration::from_secs(30));
    assert_eq!(backoff_after(2), Duration::from_secs(60));
    assert_eq!(backoff_after(20), MAX_BACKOFF);
    let mut b = ScanBook::new();
    let t = Instant::now();
    b.request(req("sha256:a", "w1"), t);
    let r = b.next_to_start(1, t).unwrap();
    let key = r.subject.key();
    let f = b.failed(&key, FailureReason::Auth, "401", t).unwrap();
    assert_eq!(f.retry_in, Duration::from_secs(30));
    match b.request(req("sha256:a", "w1"), t + Duration::from_secs(10)) {
        ScanStatus::BackingOff {
            reason, retry_in, ..
        } => {
            assert_eq!(reason, FailureReason::Auth);
            assert_eq!(retry_in, Duration::from_secs(20));
        }
        s => panic!("{s:?}"),
    }
    let later = t + Duration::from_secs(31);
    assert_eq!(b.request(req("sha256:a", "w1"), later), ScanStatus::Queued);
    b.next_to_start(1, later).unwrap();
    let f = b.failed(&key, FailureReason::Auth, "401", later).unwrap();
    assert_eq!(f.retry_in, Duration::from_secs(60));
    b.forget_idle_failures(
        later + Duration::from_secs(3600 * 3),
        Duration::from_secs(3600),
    );
    assert!(b.is_empty());
}
