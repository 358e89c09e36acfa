//! The keyword prefilter: one ASCII-case-insensitive Aho-Corasick automaton over every
//! rule's keywords, run once over a file to find the rules worth running.
//!
//! The automaton is the DFA that the `aho-corasick` crate builds (standard semantics: a
//! match state lists every keyword ending there). For speed, its transitions are copied
//! into a compact table (byte equivalence classes, match states numbered first so that one
//! comparison tells a match state) and the file is walked in [`LANES`] interleaved lanes:
//! one lane's next state depends on the previous one (a chain of dependent loads), so
//! several independent lanes keep the CPU busy while each waits. Lanes overlap by the
//! longest keyword's length minus one byte, so every occurrence lies whole in one lane and
//! the result is exactly the set of keywords occurring in the file.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{AhoCorasick, Anchored, MatchKind};
use std::collections::HashMap;

/// Lanes walked side by side (measured: 4 is the fastest on x86-64; 2, 3 and 6+ are
/// slower). `Table::mark` spells the 4 lanes out.
const LANES: usize = 4;

/// Files shorter than this are walked in one lane (the lane set-up is not worth it).
const MIN_LANE_LEN: usize = 512;

/// The keyword automaton with, for each keyword pattern, the rules it enables.
#[derive(Debug)]
pub(crate) enum KeywordGate {
    /// The automaton's transitions as a table (the normal case).
    Table(Box<Table>),
    /// Too large for the table (hundreds of thousands of states, only possible with huge
    /// custom keyword lists): the automaton itself, searched for overlapping matches.
    Automaton {
        /// The automaton.
        ac: AhoCorasick,
        /// Pattern id -> rules it enables.
        pattern_rules: Vec<Vec<usize>>,
    },
}

/// Transition table of the keyword DFA.
#[derive(Debug)]
pub(crate) struct Table {
    /// Byte -> equivalence class (bytes no transition tells apart share a class).
    classes: [u8; 256],
    /// `trans[state + class]` = next state; states are premultiplied by the class count.
    /// The length is a power of two (zero-padded), so that an index masked with
    /// `trans.len() - 1` needs no bounds check.
    trans: Vec<u32>,
    /// The (unanchored) start state.
    start: u32,
    /// States below this are match states.
    match_limit: u32,
    /// Number of classes (the stride between two states' rows).
    stride: u32,
    /// Match state index (`state / stride`) -> the rules its keywords enable.
    state_rules: Vec<Vec<usize>>,
    /// Length of the longest keyword pattern.
    max_len: usize,
}

/// Largest table kept (entries); larger automata use [`KeywordGate::Automaton`].
const MAX_TABLE_ENTRIES: usize = 1 << 26;

impl KeywordGate {
    /// Builds the gate over `patterns` (lower-cased, matched ASCII-case-insensitively);
    /// `pattern_rules[p]` lists the rules that pattern `p` enables.
    pub(crate) fn new(
        patterns: &[&str],
        pattern_rules: Vec<Vec<usize>>,
    ) -> Result<KeywordGate, String> {
        debug_assert_eq!(patterns.len(), pattern_rules.len());
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns);
        if let Ok(dfa) = dfa {
            if let Some(table) = Table::from_dfa(&dfa, &pattern_rules) {
                return Ok(KeywordGate::Table(Box::new(table)));
            }
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map_err(|e| format!("keyword automaton: {e}"))?;
        Ok(KeywordGate::Automaton { ac, pattern_rules })
    }

    /// Sets `on[r]` for every rule `r` enabled by a keyword occurring in `content`.
    pub(crate) fn mark(&self, content: &[u8], on: &mut [bool]) {
        match self {
            KeywordGate::Table(t) => t.mark(content, on),
            KeywordGate::Automaton { ac, pattern_rules } => {
                let mut seen = vec![false; pattern_rules.len()];
                for m in ac.find_overlapping_iter(content) {
                    let p = m.pattern().as_usize();
                    if !seen[p] {
                        seen[p] = true;
                        for &r in &pattern_rules[p] {
                            on[r] = true;
                        }
                    }
                }
            }
        }
    }
}

impl Table {
    /// Copies the DFA's reachable states into a table; `None` when it would be too large.
    fn from_dfa(dfa: &DFA, pattern_rules: &[Vec<usize>]) -> Option<Table> {
        let start = dfa.start_state(Anchored::No).ok()?;
        // Every state reachable from the start state, in discovery order.
        let mut states: Vec<StateID> = vec![start];
        let mut index: HashMap<StateID, usize> = HashMap::from([(start, 0)]);
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            for b in 0..=255u8 {
                let next = dfa.next_state(Anchored::No, s, b);
                if dfa.is_dead(next) {
                    // An unanchored search never dies; anything else is not this design.
                    return None;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = index.entry(next) {
                    e.insert(states.len());
                    states.push(next);
                }
            }
            i += 1;
            if states.len().saturating_mul(256) > MAX_TABLE_ENTRIES {
                return None;
            }
        }
        // Byte classes: bytes with the same next state from every state.
        let mut classes = [0u8; 256];
        let mut class_of: HashMap<Vec<StateID>, u8> = HashMap::new();
        let mut representative: Vec<u8> = Vec::new();
        for b in 0..=255u8 {
            let column: Vec<StateID> = states
                .iter()
                .map(|&s| dfa.next_state(Anchored::No, s, b))
                .collect();
            let n = class_of.len();
            let c = *class_of.entry(column).or_insert_with(|| {
                representative.push(b);
                n as u8
            });
            classes[b as usize] = c;
        }
        let stride = representative.len();
        if states.len() * stride > MAX_TABLE_ENTRIES {
            return None;
        }
        // Match states first, so that `state < match_limit` tells a match state.
        let mut order: Vec<usize> = (0..states.len()).collect();
        order.sort_by_key(|&k| !dfa.is_match(states[k]));
        let matches = order
            .iter()
            .take_while(|&&k| dfa.is_match(states[k]))
            .count();
        let mut new_index = vec![0usize; states.len()];
        for (n, &k) in order.iter().enumerate() {
            new_index[k] = n;
        }
        let mut trans = vec![0u32; (states.len() * stride).next_power_of_two()];
        for (k, &s) in states.iter().enumerate() {
            let row = new_index[k] * stride;
            for (c, &b) in representative.iter().enumerate() {
                let next = index[&dfa.next_state(Anchored::No, s, b)];
                trans[row + c] = (new_index[next] * stride) as u32;
            }
        }
        let state_rules = order[..matches]
            .iter()
            .map(|&k| {
                let s = states[k];
                let mut rules: Vec<usize> = (0..dfa.match_len(s))
                    .flat_map(|i| pattern_rules[dfa.match_pattern(s, i).as_usize()].iter())
                    .copied()
                    .collect();
                rules.sort_unstable();
                rules.dedup();
                rules
            })
            .collect();
        Some(Table {
            classes,
            trans,
            start: (new_index[0] * stride) as u32,
            match_limit: (matches * stride) as u32,
            stride: stride as u32,
            state_rules,
            max_len: dfa.max_pattern_len(),
        })
    }

    /// Enables the rules of match state `s` (rare: out of the hot loop).
    #[cold]
    #[inline(never)]
    fn hit(&self, s: u32, on: &mut [bool]) {
        for &r in &self.state_rules[(s / self.stride) as usize] {
            on[r] = true;
        }
    }

    fn mark(&self, content: &[u8], on: &mut [bool]) {
        let mask = self.trans.len() - 1;
        // Indexes are masked with `mask` = `trans.len() - 1`: no bounds checks.
        let trans = &self.trans[..=mask];
        let classes = &self.classes;
        let limit = self.match_limit;
        let step = |s: u32, b: u8| trans[(s + u32::from(classes[b as usize])) as usize & mask];
        let walk = |mut s: u32, bytes: &[u8], on: &mut [bool]| {
            for &b in bytes {
                s = step(s, b);
                if s < limit {
                    self.hit(s, on);
                }
            }
            s
        };
        if content.len() < MIN_LANE_LEN.max(LANES * self.max_len) {
            walk(self.start, content, on);
            return;
        }
        // Lane j covers [j*n - overlap, (j+1)*n): an occurrence ending in [j*n, (j+1)*n)
        // starts at or after j*n - (max_len - 1), so lane j sees all of it.
        let n = content.len().div_ceil(LANES);
        let overlap = self.max_len - 1;
        let bounds: [(usize, usize); LANES] = std::array::from_fn(|j| {
            let start = if j == 0 { 0 } else { j * n - overlap };
            (start, ((j + 1) * n).min(content.len()))
        });
        let common = bounds.iter().map(|&(s, e)| e - s).min().unwrap_or(0);
        let [l0, l1, l2, l3] = bounds.map(|(s, _)| &content[s..s + common]);
        let (mut s0, mut s1, mut s2, mut s3) = (self.start, self.start, self.start, self.start);
        for (((&b0, &b1), &b2), &b3) in l0.iter().zip(l1).zip(l2).zip(l3) {
            s0 = step(s0, b0);
            s1 = step(s1, b1);
            s2 = step(s2, b2);
            s3 = step(s3, b3);
            if s0.min(s1).min(s2).min(s3) < limit {
                for s in [s0, s1, s2, s3] {
                    if s < limit {
                        self.hit(s, on);
                    }
                }
            }
        }
        // The lanes' tails (the last lane can be shorter than the others).
        for (s, (start, end)) in [s0, s1, s2, s3].into_iter().zip(bounds) {
            walk(s, &content[start + common..end], on);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules each test keyword enables: keyword `i` enables rule `i`.
    fn gate(patterns: &[&str]) -> KeywordGate {
        KeywordGate::new(patterns, (0..patterns.len()).map(|i| vec![i]).collect()).unwrap()
    }

    /// The reference: an overlapping search of the automaton.
    fn reference(patterns: &[&str], content: &[u8]) -> Vec<bool> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .unwrap();
        let mut on = vec![false; patterns.len()];
        for m in ac.find_overlapping_iter(content) {
            on[m.pattern().as_usize()] = true;
        }
        on
    }

    #[test]
    fn the_table_finds_exactly_the_keywords_present_wherever_they_are() {
        let patterns = [
            "q~",
            "://",
            "password",
            "begin ssh2 encrypted private key",
            "ghp_",
            "key-",
            "-us",
        ];
        let g = gate(&patterns);
        assert!(matches!(g, KeywordGate::Table(_)));
        // Deterministic filler with each keyword planted at every offset around the lane
        // boundaries of a few file sizes (short files take the one-lane path).
        let mut x = 0x2545_f491_u64;
        for len in [1usize, 7, 100, 511, 512, 600, 1000, 4099, 10_007] {
            let filler: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    b"abcdefghijklmnopqrstuvwxyz .=\n"[(x % 30) as usize]
                })
                .collect();
            let n = len.div_ceil(LANES);
            let mut spots: Vec<usize> = vec![0, len / 2, len.saturating_sub(1)];
            for j in 1..LANES {
                for d in 0..40 {
                    spots.push((j * n + d).saturating_sub(20));
                }
            }
            for (p, pat) in patterns.iter().enumerate() {
                for &at in &spots {
                    let mut c = filler.clone();
                    let bytes: Vec<u8> = pat
                        .bytes()
                        .enumerate()
                        .map(|(i, b)| {
                            if i % 2 == 0 {
                                b.to_ascii_uppercase()
                            } else {
                                b
                            }
                        })
                        .collect();
                    if at + bytes.len() > c.len() {
                        continue;
                    }
                    c[at..at + bytes.len()].copy_from_slice(&bytes);
                    let mut on = vec![false; patterns.len()];
                    g.mark(&c, &mut on);
                    let want = reference(&patterns, &c);
                    assert_eq!(on, want, "{pat:?} at {at} of {len}");
                    assert!(on[p], "{pat:?} at {at} of {len}");
                }
            }
            let mut on = vec![false; patterns.len()];
            g.mark(&filler, &mut on);
            assert_eq!(on, reference(&patterns, &filler), "filler of {len}");
        }
    }

    #[test]
    fn a_state_reached_by_several_keywords_enables_all_their_rules() {
        // "xkey-" ends both "key-" and "ey-": the match state lists both.
        let patterns = ["key-", "ey-", "k"];
        let g = gate(&patterns);
        let mut on = vec![false; 3];
        g.mark(b"MONKEY-", &mut on);
        assert_eq!(on, [true, true, true]);
        let mut on = vec![false; 3];
        g.mark(b"ey", &mut on);
        assert_eq!(on, [false, false, false]);
    }

    #[test]
    fn the_automaton_fallback_agrees() {
        let patterns = ["secret", "pwd", "ghp_"];
        let fallback = KeywordGate::Automaton {
            ac: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(patterns)
                .unwrap(),
            pattern_rules: vec![vec![0], vec![1, 2], vec![2]],
        };
        let mut on = vec![false; 3];
        fallback.mark(b"x = GHP_1 and Secret", &mut on);
        assert_eq!(on, [true, false, true]);
    }
}
