//! Watch plumbing shared by every watch of the operator: a capped backoff, and triggers that
//! respect relists.
//!
//! A relist (after the API server was away, or a watch expired) streams `Init`, one
//! `InitApply` per object, then `InitDone`, and the reflector swaps the new list into its
//! store only at `InitDone`. A reconcile triggered by an `InitApply` can therefore run
//! against the store from *before* the relist and miss an object created meanwhile (it then
//! looks deleted, and nothing triggers it again). So objects a relist changed are triggered
//! once the relist is complete; objects it did not change are not triggered at all.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use kube::runtime::reflector::Store;
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use kube::Resource;

/// The watches' retry delays: 0.5 s doubling to 8 s, ±20 % jitter, reset after a success.
/// (kube-runtime's default goes to 30 s plus up to 100 % jitter, and a 410 after an outage
/// costs a second full wait: up to two minutes without watches after a restart.)
#[derive(Debug, Clone)]
pub struct WatchBackoff {
    attempt: u32,
    seed: u64,
}

/// First retry delay.
const MIN: Duration = Duration::from_millis(500);
/// Longest retry delay.
const MAX: Duration = Duration::from_secs(8);

impl Default for WatchBackoff {
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::from(d.subsec_nanos()))
            .unwrap_or(1);
        WatchBackoff { attempt: 0, seed }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let base = MIN.saturating_mul(1 << self.attempt.min(8)).min(MAX);
        self.attempt = self.attempt.saturating_add(1);
        // xorshift: a cheap spread of the jitter between replicas and attempts.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        let permille = 800 + (self.seed % 401); // 0.8 ..= 1.2
        Some(base.mul_f64(permille as f64 / 1000.0))
    }
}

impl Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The objects to reconcile from a watch's events (placed after the reflector): changes as
/// they come, and the objects a relist changed once the relist is complete.
pub fn triggers<K>(
    events: impl Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
    store: Store<K>,
    dyntype: K::DynamicType,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static
where
    K: Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Clone + Eq + std::hash::Hash + Send + Sync,
{
    events
        .scan(Vec::new(), move |pending: &mut Vec<K>, ev| {
            let out: Vec<Result<K, watcher::Error>> = match ev {
                Ok(Event::Apply(o)) => vec![Ok(o)],
                Ok(Event::InitApply(o)) => {
                    if changed_in_relist(&store, &o, &dyntype) {
                        pending.push(o);
                    }
                    Vec::new()
                }
                Ok(Event::InitDone) => pending.drain(..).map(Ok).collect(),
                Ok(Event::Init) => {
                    pending.clear();
                    Vec::new()
                }
                Ok(Event::Delete(_)) => Vec::new(),
                Err(e) => vec![Err(e)],
            };
            std::future::ready(Some(futures_util::stream::iter(out)))
        })
        .flatten()
}

/// During a relist (before `InitDone`), `true` when `o` differs from what the store held
/// before the relist (new, or another resourceVersion).
pub fn changed_in_relist<K>(store: &Store<K>, o: &K, dyntype: &K::DynamicType) -> bool
where
    K: Resource + Clone,
    K::DynamicType: Clone + Eq + std::hash::Hash,
{
    let r = kube::runtime::reflector::ObjectRef::from_obj_with(o, dyntype.clone());
    store
        .get(&r)
        .is_none_or(|old| old.meta().resource_version != o.meta().resource_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::reflector;
    use kube::runtime::WatchStreamExt;

    fn pod(name: &str, rv: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.name = Some(name.into());
        p.metadata.resource_version = Some(rv.into());
        p
    }

    #[test]
    fn backoff_is_capped_with_bounded_jitter() {
        let mut b = WatchBackoff::default();
        let delays: Vec<Duration> = (0..12).map(|_| b.next().unwrap()).collect();
        assert!(delays[0] >= Duration::from_millis(400) && delays[0] <= Duration::from_millis(600));
        assert!(delays.iter().all(|d| *d <= MAX.mul_f64(1.2)), "{delays:?}");
        assert!(delays[11] >= MAX.mul_f64(0.8));
        b.reset();
        assert!(b.next().unwrap() <= Duration::from_millis(600));
    }

    /// Regression (issue 10, the API-server-restart test): a Pod created while the API
    /// server was away arrives in the relist; triggered at its `InitApply`, its reconcile
    /// read the store from before the relist, found nothing, and the Pod never got a report.
    /// Triggered at `InitDone`, the store has it; unchanged objects are not triggered.
    #[tokio::test]
    async fn a_relist_triggers_what_changed_after_the_store_has_it() {
        let (reader, writer) = reflector::store::<Pod>();
        let events = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(pod("before", "1"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(pod("before", "2"))),
            // The API server restarts; the watch relists.
            Ok(Event::Init),
            Ok(Event::InitApply(pod("before", "2"))),
            Ok(Event::InitApply(pod("after", "7"))),
            Ok(Event::InitDone),
        ];
        let stream = futures_util::stream::iter(events).reflect(writer);
        let store = reader.clone();
        let seen: Vec<(String, bool)> = triggers(stream, reader, ())
            .map(|o| {
                let o = o.unwrap();
                let name = o.metadata.name.clone().unwrap();
                let in_store = store
                    .get(&kube::runtime::reflector::ObjectRef::new(&name).within("ns"))
                    .is_some();
                (name, in_store)
            })
            .collect()
            .await;
        assert_eq!(
            seen,
            vec![
                ("before".to_string(), true),
                ("before".to_string(), true),
                ("after".to_string(), true),
            ],
            "the initial list, the change, then only the Pod new in the relist — each in the store when triggered"
        );
    }
}
