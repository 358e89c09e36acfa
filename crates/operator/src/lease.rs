//! Leader-election rules (pure): when a Lease may be taken and when a holder must stop.
//!
//! As client-go's leader election does, expiry is judged on the *local* clock from when this
//! process last saw the Lease record change (its observed time), never by comparing the
//! remote `renewTime` with the local clock (clocks of two nodes differ). A holder stops
//! acting once it has not renewed for [`LeaseTimings::renew_deadline`], which is shorter than
//! the Lease duration, so it has stopped before any standby may take over.

use std::time::{Duration, Instant};

/// The timings of the Lease (client-go's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a Lease is valid without renewal (`leaseDurationSeconds`).
    pub duration: Duration,
    /// A holder that could not renew for this long stops acting (< `duration`).
    pub renew_deadline: Duration,
    /// Delay between attempts to take or renew; also each request's timeout.
    pub retry: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        LeaseTimings {
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// The parts of a Lease record whose change proves its holder alive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseRecord {
    /// `spec.holderIdentity` (empty: released).
    pub holder: String,
    /// `spec.renewTime` as written by the holder (compared for equality only).
    pub renew_time: String,
    /// `spec.leaseDurationSeconds`.
    pub duration: Option<Duration>,
}

/// A candidate's view of the Lease: the record it last saw and when it saw it change.
#[derive(Debug, Default)]
pub struct Observer {
    seen: Option<(LeaseRecord, Instant)>,
}

impl Observer {
    /// A candidate that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records what the Lease holds now (call on every read).
    pub fn observe(&mut self, record: LeaseRecord, now: Instant) {
        match &self.seen {
            Some((old, _)) if *old == record => {}
            _ => self.seen = Some((record, now)),
        }
    }

    /// `true` when `me` may take the Lease now: it is free, ours, or its record has not
    /// changed for its duration on this process's clock.
    pub fn may_take(&self, me: &str, timings: &LeaseTimings, now: Instant) -> bool {
        let Some((record, at)) = &self.seen else {
            return true;
        };
        if record.holder.is_empty() || record.holder == me {
            return true;
        }
        let duration = record.duration.unwrap_or(timings.duration);
        now.saturating_duration_since(*at) > duration
    }
}

/// A holder's renewal state.
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    last_renewed: Instant,
}

impl Holding {
    /// Holding since `now` (the Lease was just taken).
    pub fn new(now: Instant) -> Self {
        Holding { last_renewed: now }
    }

    /// A renewal succeeded at `now`.
    pub fn renewed(&mut self, now: Instant) {
        self.last_renewed = now;
    }

    /// `true` when the holder must stop acting: no renewal for the renew deadline.
    pub fn must_stop(&self, timings: &LeaseTimings, now: Instant) -> bool {
        now.saturating_duration_since(self.last_renewed) >= timings.renew_deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(holder: &str, renew: &str) -> LeaseRecord {
        LeaseRecord {
            holder: holder.into(),
            renew_time: renew.into(),
            duration: Some(Duration::from_secs(15)),
        }
    }

    #[test]
    fn expiry_counts_from_when_the_record_was_seen_changing() {
        let t = LeaseTimings::default();
        let t0 = Instant::now();
        let mut o = Observer::new();
        assert!(o.may_take("me", &t, t0), "nothing seen yet");
        // The remote renewTime says "an hour ago" (skewed clock): irrelevant.
        o.observe(rec("other", "2026-12-03T12:00:00Z"), t0);
        assert!(!o.may_take("me", &t, t0 + Duration::from_secs(14)));
        // Renewed (record changed) at 10 s: the clock restarts.
        o.observe(
            rec("other", "2026-12-03T12:00:10Z"),
            t0 + Duration::from_secs(10),
        );
        assert!(!o.may_take("me", &t, t0 + Duration::from_secs(20)));
        // Same record seen again: no restart.
        o.observe(
            rec("other", "2026-12-03T12:00:10Z"),
            t0 + Duration::from_secs(20),
        );
        assert!(o.may_take("me", &t, t0 + Duration::from_secs(26)));
        assert!(o.may_take("other", &t, t0));
        o.observe(rec("", ""), t0);
        assert!(o.may_take("me", &t, t0), "released");
    }

    /// Regression (issue 10): the holder kept acting ~20 s after its last renewal on a 15 s
    /// Lease. It must stop before a standby can take over.
    #[test]
    fn a_holder_stops_before_a_standby_may_take_over() {
        let t = LeaseTimings::default();
        let t0 = Instant::now();
        let mut h = Holding::new(t0);
        let mut standby = Observer::new();
        standby.observe(rec("holder", "r1"), t0);
        h.renewed(t0);
        for s in 0..=30 {
            let now = t0 + Duration::from_secs(s);
            if standby.may_take("standby", &t, now) {
                assert!(h.must_stop(&t, now), "at {s}s both would act");
            }
        }
        assert!(!h.must_stop(&t, t0 + Duration::from_secs(9)));
        assert!(h.must_stop(&t, t0 + Duration::from_secs(10)));
        assert!(t.renew_deadline < t.duration && t.retry < t.renew_deadline);
    }
}
