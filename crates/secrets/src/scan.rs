//! The per-file scan: which rules run on a file (keyword pass, path filters), their
//! matches on the lines their plans allow, and the filters a match must pass (entropy,
//! allow rules, exclude blocks, overlaps), with buffers reused from one file to the next.

use crate::rules;
use crate::{keywords, looks_binary, Scanner};

impl Scanner {
    /// The secrets of `content` (byte ranges), sorted by position.
    pub(crate) fn find(&self, path: &str, content: &[u8]) -> Vec<Candidate> {
        let path = path.trim_start_matches('/');
        if content.is_empty()
            || content.len() as u64 > self.max_file_size
            || looks_binary(content)
            || self.skips_path(path)
        {
            return Vec::new();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let found = self.find_in(path, content, &mut scratch);
                scratch.trim();
                found
            }
            Err(_) => self.find_in(path, content, &mut Scratch::default()),
        })
    }

    /// [`Scanner::find`] past the file checks, with reusable buffers.
    fn find_in(&self, path: &str, content: &[u8], scratch: &mut Scratch) -> Vec<Candidate> {
        let Scratch {
            on,
            active,
            keyword_ends,
            ends,
            regions,
        } = scratch;
        keyword_ends.clear();
        self.active_rules(path, content, on, active, keyword_ends);
        if active.is_empty() {
            return Vec::new();
        }
        // Too many keyword positions to trust (they are capped): whole-file searches.
        let positions = keyword_ends.len() < keywords::MAX_ENDS;
        keyword_ends.sort_unstable();
        keyword_ends.dedup();
        let mut found = Found::default();
        let mut excluded = Exclusions::default();
        for &ri in active.iter() {
            let rule = &self.rules[ri];
            let regions = rule.lines.as_ref().filter(|_| positions).map(|plan| {
                let from = keyword_ends.partition_point(|&(r, _)| r < ri);
                let to = keyword_ends.partition_point(|&(r, _)| r <= ri);
                ends.clear();
                ends.extend(keyword_ends[from..to].iter().map(|&(_, end)| end));
                regions.clear();
                plan.regions(content, ends, regions);
                &regions[..]
            });
            rule.for_each_match(content, regions, |whole, secret| {
                let m = Match { whole, secret };
                self.consider(ri, path, content, m, &mut excluded, &mut found);
            });
        }
        let mut found = found.kept;
        found.sort_by_key(|c| (c.secret.0, c.rule));
        found
    }

    /// Keeps a match of rule `ri` in `found` unless a filter drops it (no or empty secret,
    /// entropy, allow rules, exclude blocks, or a secret an earlier rule already reported).
    fn consider(
        &self,
        ri: usize,
        path: &str,
        content: &[u8],
        m: Match,
        excluded: &mut Exclusions,
        found: &mut Found,
    ) {
        let rule = &self.rules[ri];
        let (whole, Some(group)) = (m.whole, m.secret) else {
            return;
        };
        let secret = trim_ws(content, group.0, group.1);
        if secret.0 >= secret.1 {
            return;
        }
        let bytes = &content[secret.0..secret.1];
        if rule
            .entropy
            .is_some_and(|min| rules::shannon_entropy(bytes) < min)
        {
            return;
        }
        if rule.allow.iter().any(|a| a.allows(path, bytes))
            || self.global_allow.iter().any(|a| a.allows(path, bytes))
        {
            return;
        }
        if excluded.covers(self, ri, content, secret) {
            return;
        }
        // The earlier rule wins a secret reported twice (rules are listed from specific to
        // generic).
        if found.overlaps(secret) {
            return;
        }
        found.spans.insert(secret.0, secret.1);
        found.kept.push(Candidate {
            rule: ri,
            whole: trim_ws(content, whole.0, whole.1),
            secret,
        });
    }

    /// Sets `active` to the indexes of the rules to run on `content`: those with a keyword in
    /// it (one pass of the keyword automaton) or without keywords, minus those whose path
    /// filter rejects `path` (`on` is a buffer). `(rule, position)` pairs where the anchors
    /// of rules with a line plan end are appended to `keyword_ends`.
    fn active_rules(
        &self,
        path: &str,
        content: &[u8],
        on: &mut Vec<bool>,
        active: &mut Vec<usize>,
        keyword_ends: &mut Vec<(usize, usize)>,
    ) {
        on.clear();
        on.resize(self.rules.len(), false);
        for &i in &self.always {
            on[i] = true;
        }
        if let Some(gate) = &self.keywords {
            gate.mark(content, on, keyword_ends);
        }
        active.clear();
        active.extend(
            on.iter()
                .enumerate()
                .filter(|&(i, &v)| {
                    v && self.rules[i]
                        .path
                        .as_ref()
                        .is_none_or(|p| p.is_match(path.as_bytes()))
                })
                .map(|(i, _)| i),
        );
    }
}

/// Buffers reused from one file to the next: a scan allocates only for what it finds.
#[derive(Default)]
struct Scratch {
    on: Vec<bool>,
    active: Vec<usize>,
    keyword_ends: Vec<(usize, usize)>,
    ends: Vec<usize>,
    regions: Vec<(usize, usize)>,
}

impl Scratch {
    /// Frees buffers a huge file grew, so that a thread does not keep them.
    fn trim(&mut self) {
        const KEEP: usize = 1 << 16;
        if self.keyword_ends.capacity() > KEEP {
            self.keyword_ends = Vec::new();
        }
        if self.ends.capacity() > KEEP {
            self.ends = Vec::new();
        }
        if self.regions.capacity() > KEEP {
            self.regions = Vec::new();
        }
    }
}

thread_local! {
    /// This thread's scan buffers.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The secrets kept so far in one file, and their spans by start for the overlap test.
#[derive(Default)]
struct Found {
    kept: Vec<Candidate>,
    /// `start -> end` of every kept secret; kept spans never overlap each other.
    spans: std::collections::BTreeMap<usize, usize>,
}

impl Found {
    /// Whether `span` overlaps a kept secret, in O(log n): as kept spans are disjoint, only
    /// the one starting last before `span` ends can overlap it (before, every kept secret
    /// was compared: O(n²) over a file of many key-shaped strings).
    fn overlaps(&self, span: (usize, usize)) -> bool {
        self.spans
            .range(..span.1)
            .next_back()
            .is_some_and(|(_, &end)| span.0 < end)
    }
}

/// Exclude blocks sorted by start, with the running maximum of their ends, so whether a
/// span lies inside one is a binary search.
struct Blocks {
    starts: Vec<usize>,
    max_end: Vec<usize>,
}

impl Blocks {
    fn new(mut blocks: Vec<(usize, usize)>) -> Self {
        blocks.sort_unstable();
        let mut max = 0;
        let max_end = blocks
            .iter()
            .map(|&(_, e)| {
                max = max.max(e);
                max
            })
            .collect();
        Blocks {
            starts: blocks.into_iter().map(|(s, _)| s).collect(),
            max_end,
        }
    }

    /// Whether some block starts at or before `span` and ends at or after it.
    fn contain(&self, span: (usize, usize)) -> bool {
        let n = self.starts.partition_point(|&s| s <= span.0);
        n > 0 && self.max_end[n - 1] >= span.1
    }
}

/// A regex match: the whole match and the secret group's span (byte ranges).
struct Match {
    whole: (usize, usize),
    secret: Option<(usize, usize)>,
}

/// The `exclude-block` spans of one file, found when first needed (global ones once, a
/// rule's own while its matches are considered).
#[derive(Default)]
struct Exclusions {
    global: Option<Blocks>,
    rule: Option<(usize, Blocks)>,
}

impl Exclusions {
    /// `true` when the secret `span` found by rule `ri` lies wholly inside an exclude block
    /// (Trivy's test: block start <= secret start and secret end <= block end).
    fn covers(&mut self, s: &Scanner, ri: usize, content: &[u8], span: (usize, usize)) -> bool {
        if !s.exclude.is_empty()
            && self
                .global
                .get_or_insert_with(|| Blocks::new(rules::blocks(&s.exclude, content)))
                .contain(span)
        {
            return true;
        }
        let own = &s.rules[ri].exclude;
        if own.is_empty() {
            return false;
        }
        if self.rule.as_ref().is_none_or(|(r, _)| *r != ri) {
            self.rule = Some((ri, Blocks::new(rules::blocks(own, content))));
        }
        self.rule.as_ref().is_some_and(|(_, b)| b.contain(span))
    }
}

/// A match kept for reporting: byte ranges only, never a copy of the secret.
pub(crate) struct Candidate {
    pub(crate) rule: usize,
    pub(crate) whole: (usize, usize),
    pub(crate) secret: (usize, usize),
}

/// `[start, end)` with ASCII whitespace trimmed from both ends.
fn trim_ws(content: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && content[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && content[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_tested_against_the_neighbour_only() {
        let mut f = Found::default();
        for (s, e) in [(0, 5), (10, 20), (30, 31)] {
            assert!(!f.overlaps((s, e)));
            f.spans.insert(s, e);
        }
        assert!(f.overlaps((4, 6)));
        assert!(f.overlaps((19, 40)));
        assert!(f.overlaps((12, 13)));
        assert!(f.overlaps((0, 100)));
        assert!(!f.overlaps((5, 10)));
        assert!(!f.overlaps((20, 30)));
        assert!(!f.overlaps((31, 50)));
    }

    #[test]
    fn blocks_contain_spans_inside_any_block() {
        let b = Blocks::new(vec![(50, 60), (0, 100), (200, 210)]);
        assert!(b.contain((10, 90)));
        assert!(b.contain((201, 209)));
        assert!(!b.contain((95, 105)));
        assert!(!b.contain((150, 160)));
        assert!(!Blocks::new(Vec::new()).contain((0, 1)));
    }
}
