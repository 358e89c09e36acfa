//! The keyword prefilter: one ASCII-case-insensitive Aho-Corasick automaton over every
//! rule's keywords, run once over a file to find the rules worth running.
//!
//! The automaton is the DFA that the `aho-corasick` crate builds (standard semantics: a
//! match state lists every keyword ending there). For speed, its transitions are copied
//! into a compact table (byte equivalence classes, match states numbered above all others so
//! that one comparison of the lanes' OR tells a match) and the file is walked in [`LANES`]
//! interleaved lanes:
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
        /// Pattern id -> rules that want to know where it ends.
        pattern_tracked: Vec<Vec<usize>>,
    },
}

/// Transition table of the keyword DFA.
#[derive(Debug)]
pub(crate) struct Table {
    /// Byte -> equivalence class (bytes no transition tells apart share a class).
    classes: [u8; 256],
    /// `trans[state + class]` = next state: states are premultiplied by the class count;
    /// the other states come first, the match states from [`Table::flag`] on.
    trans: Vec<u32>,
    /// The (unanchored) start state.
    start: u32,
    /// A power of two above every id of a state that is not a match state, and the first id
    /// of a match state: the OR of several states is `>= flag` when one is a match state.
    flag: u32,
    /// Number of classes (the stride between two states' rows).
    stride: u32,
    /// Match state index (`state / stride`) -> the rules its keywords enable.
    state_rules: Vec<Vec<usize>>,
    /// Match state index -> the rules that want to know where its patterns end.
    state_tracked: Vec<Vec<usize>>,
    /// Length of the longest keyword pattern.
    max_len: usize,
}

/// Most keyword positions recorded for one file (16 MiB); a file with more is searched
/// whole by every rule (same findings, bounded memory).
pub(crate) const MAX_ENDS: usize = 1 << 20;

/// Largest table kept (entries); larger automata use [`KeywordGate::Automaton`].
const MAX_TABLE_ENTRIES: usize = 1 << 24;

impl KeywordGate {
    /// Builds the gate over `patterns` (lower-cased, matched ASCII-case-insensitively);
    /// `pattern_rules[p]` lists the rules that pattern `p` enables, `pattern_tracked[p]` the
    /// rules that want to know where it ends (see [`KeywordGate::mark`]).
    pub(crate) fn new(
        patterns: &[&str],
        pattern_rules: Vec<Vec<usize>>,
        pattern_tracked: Vec<Vec<usize>>,
    ) -> Result<KeywordGate, String> {
        debug_assert_eq!(patterns.len(), pattern_rules.len());
        let dfa = DFA::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns);
        if let Ok(dfa) = dfa {
            if let Some(table) = Table::from_dfa(&dfa, &pattern_rules, &pattern_tracked) {
                return Ok(KeywordGate::Table(Box::new(table)));
            }
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .map_err(|e| format!("keyword automaton: {e}"))?;
        Ok(KeywordGate::Automaton {
            ac,
            pattern_rules,
            pattern_tracked,
        })
    }

    /// Sets `on[r]` for every rule `r` enabled by a keyword occurring in `content`, and
    /// appends `(r, end)` to `ends` for every occurrence of a pattern tracked by rule `r`
    /// (`end`: the position of its last byte; unordered, maybe repeated), up to
    /// [`MAX_ENDS`] entries (a full `ends` may be incomplete).
    pub(crate) fn mark(&self, content: &[u8], on: &mut [bool], ends: &mut Vec<(usize, usize)>) {
        match self {
            KeywordGate::Table(t) => t.mark(content, on, ends),
            KeywordGate::Automaton {
                ac,
                pattern_rules,
                pattern_tracked,
            } => {
                for m in ac.find_overlapping_iter(content) {
                    let p = m.pattern().as_usize();
                    for &r in &pattern_rules[p] {
                        on[r] = true;
                    }
                    for &r in &pattern_tracked[p] {
                        if ends.len() < MAX_ENDS {
                            ends.push((r, m.end() - 1));
                        }
                    }
                }
            }
        }
    }
}

impl Table {
    /// Copies the DFA's reachable states into a table; `None` when it would be too large.
    fn from_dfa(
        dfa: &DFA,
        pattern_rules: &[Vec<usize>],
        pattern_tracked: &[Vec<usize>],
    ) -> Option<Table> {
        let start = dfa.start_state(Anchored::No).ok()?;
        // Every state reachable from the start state, in discovery order.
        let mut states: Vec<StateID> = vec![start];
        // State id -> its index in `states` (`usize::MAX`: not seen yet); ids are small
        // (offsets into the DFA's own table).
        let mut index: Vec<usize> = Vec::new();
        let mut seen = |sid: StateID, states: &mut Vec<StateID>| -> usize {
            let k = sid.as_usize();
            if k >= index.len() {
                index.resize(k + 1, usize::MAX);
            }
            if index[k] == usize::MAX {
                index[k] = states.len();
                states.push(sid);
            }
            index[k]
        };
        seen(start, &mut states);
        let mut next_index: Vec<[u32; 256]> = Vec::new();
        let mut i = 0;
        while i < states.len() {
            let s = states[i];
            let mut row = [0u32; 256];
            for b in 0..=255u8 {
                let next = dfa.next_state(Anchored::No, s, b);
                if dfa.is_dead(next) {
                    // An unanchored search never dies; anything else is not this design.
                    return None;
                }
                row[b as usize] = seen(next, &mut states) as u32;
            }
            next_index.push(row);
            i += 1;
            if states.len().saturating_mul(256) > MAX_TABLE_ENTRIES {
                return None;
            }
        }
        // Byte classes: bytes with the same next state from every state.
        let mut classes = [0u8; 256];
        let mut class_of: HashMap<Vec<u32>, u8> = HashMap::new();
        let mut representative: Vec<u8> = Vec::new();
        for b in 0..=255u8 {
            let column: Vec<u32> = next_index.iter().map(|row| row[b as usize]).collect();
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
        // Match states first in `order` (their rank is their rule list's index).
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
        // Ids: the other states from 0, the match states from `flag` (a power of two above
        // every other id), so that one test of the OR of several states tells whether one
        // of them is a match state.
        let others = (states.len() - matches) * stride;
        let flag = u32::try_from(others.next_power_of_two()).ok()?;
        let id_of = |n: usize| -> usize {
            if n < matches {
                flag as usize + n * stride
            } else {
                (n - matches) * stride
            }
        };
        let len = flag as usize + matches * stride;
        u32::try_from(len).ok()?;
        let mut trans = vec![0u32; len];
        for (k, nexts) in next_index.iter().enumerate() {
            let row = id_of(new_index[k]);
            for (c, &b) in representative.iter().enumerate() {
                let next = nexts[b as usize] as usize;
                trans[row + c] = id_of(new_index[next]) as u32;
            }
        }
        // Match state index -> the union of a per-pattern list over the state's patterns.
        let per_state = |lists: &[Vec<usize>]| -> Vec<Vec<usize>> {
            order[..matches]
                .iter()
                .map(|&k| {
                    let s = states[k];
                    let mut rules: Vec<usize> = (0..dfa.match_len(s))
                        .flat_map(|i| lists[dfa.match_pattern(s, i).as_usize()].iter())
                        .copied()
                        .collect();
                    rules.sort_unstable();
                    rules.dedup();
                    rules
                })
                .collect()
        };
        let state_rules = per_state(pattern_rules);
        let state_tracked = per_state(pattern_tracked);
        Some(Table {
            classes,
            trans,
            start: id_of(new_index[0]) as u32,
            flag,
            stride: stride as u32,
            state_rules,
            state_tracked,
            max_len: dfa.max_pattern_len(),
        })
    }

    /// Enables the rules of match state `s`, reached at `pos` (rare: out of the hot loop).
    #[cold]
    #[inline(never)]
    fn hit(&self, s: u32, pos: usize, on: &mut [bool], ends: &mut Vec<(usize, usize)>) {
        let index = ((s - self.flag) / self.stride) as usize;
        for &r in &self.state_rules[index] {
            on[r] = true;
        }
        for &r in &self.state_tracked[index] {
            if ends.len() < MAX_ENDS {
                ends.push((r, pos));
            }
        }
    }

    fn mark(&self, content: &[u8], on: &mut [bool], ends: &mut Vec<(usize, usize)>) {
        let trans = &self.trans[..];
        let classes = &self.classes;
        let flag = self.flag;
        let step = |s: u32, b: u8| trans[(s + u32::from(classes[b as usize])) as usize];
        // Walks `bytes`, which start at `offset` in `content`, from state `s`.
        let walk = |mut s: u32, bytes: &[u8], offset: usize, on: &mut [bool], ends: &mut Vec<_>| {
            for (i, &b) in bytes.iter().enumerate() {
                s = step(s, b);
                if s >= flag {
                    self.hit(s, offset + i, on, ends);
                }
            }
        };
        if content.len() < MIN_LANE_LEN.max(LANES * self.max_len) {
            walk(self.start, content, 0, on, ends);
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
        for (i, (((&b0, &b1), &b2), &b3)) in l0.iter().zip(l1).zip(l2).zip(l3).enumerate() {
            s0 = step(s0, b0);
            s1 = step(s1, b1);
            s2 = step(s2, b2);
            s3 = step(s3, b3);
            if (s0 | s1 | s2 | s3) >= flag {
                for (j, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                    if s >= flag {
                        self.hit(s, bounds[j].0 + i, on, ends);
                    }
                }
            }
        }
        // The lanes' tails (the last lane can be shorter than the others).
        for (s, (start, end)) in [s0, s1, s2, s3].into_iter().zip(bounds) {
            walk(s, &content[start + common..end], start + common, on, ends);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules each test keyword enables: keyword `i` enables rule `i`.
    fn gate(patterns: &[&str]) -> KeywordGate {
        let n = patterns.len();
        let each = || (0..n).map(|i| vec![i]).collect();
        KeywordGate::new(patterns, each(), each()).unwrap()
    }

    /// The reference: an overlapping search of the automaton (keywords present, and where
    /// each occurrence ends, sorted).
    fn reference(patterns: &[&str], content: &[u8]) -> (Vec<bool>, Vec<(usize, usize)>) {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(patterns)
            .unwrap();
        let mut on = vec![false; patterns.len()];
        let mut ends = Vec::new();
        for m in ac.find_overlapping_iter(content) {
            on[m.pattern().as_usize()] = true;
            ends.push((m.pattern().as_usize(), m.end() - 1));
        }
        ends.sort_unstable();
        (on, ends)
    }

    fn run(g: &KeywordGate, n: usize, content: &[u8]) -> (Vec<bool>, Vec<(usize, usize)>) {
        let mut on = vec![false; n];
        let mut ends = Vec::new();
        g.mark(content, &mut on, &mut ends);
        ends.sort_unstable();
        ends.dedup();
        (on, ends)
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
                    let got = run(&g, patterns.len(), &c);
                    assert_eq!(got, reference(&patterns, &c), "{pat:?} at {at} of {len}");
                    assert!(got.0[p], "{pat:?} at {at} of {len}");
                    assert!(got.1.contains(&(p, at + bytes.len() - 1)));
                }
            }
            let got = run(&g, patterns.len(), &filler);
            assert_eq!(got, reference(&patterns, &filler), "filler of {len}");
        }
    }

    #[test]
    fn a_state_reached_by_several_keywords_enables_all_their_rules() {
        // "xkey-" ends both "key-" and "ey-": the match state lists both.
        let patterns = ["key-", "ey-", "k"];
        let g = gate(&patterns);
        let (on, ends) = run(&g, 3, b"MONKEY-");
        assert_eq!(on, [true, true, true]);
        assert_eq!(ends, [(0, 6), (1, 6), (2, 3)]);
        let (on, ends) = run(&g, 3, b"ey");
        assert_eq!(on, [false, false, false]);
        assert!(ends.is_empty());
    }

    #[test]
    fn only_tracked_rules_get_positions() {
        let patterns = ["secret", "pwd"];
        let g =
            KeywordGate::new(&patterns, vec![vec![0, 1], vec![1]], vec![vec![], vec![1]]).unwrap();
        let mut on = vec![false; 2];
        let mut ends = Vec::new();
        g.mark(b"a SECRET, a pwd", &mut on, &mut ends);
        assert_eq!(on, [true, true]);
        assert_eq!(ends, [(1, 14)]);
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
            pattern_tracked: vec![vec![], vec![2], vec![2]],
        };
        let mut on = vec![false; 3];
        let mut ends = Vec::new();
        fallback.mark(b"x = GHP_1 and Secret", &mut on, &mut ends);
        assert_eq!(on, [true, false, true]);
        assert_eq!(ends, [(2, 7)]);
    }
}
