//! Line plans: running a rule regex on the lines that can hold a match only.
//!
//! Some regexes defeat the regex engine's literal prefilter (a leading
//! `[A-Za-z0-9_.-]*` before `password`, for example), so a search scans the whole file with
//! the DFA. When the syntax tree proves that
//!
//! 1. no match contains a `\n` (every match lies within one line), and
//! 2. every match contains an occurrence of one of a finite set of literals (the prefix
//!    literals of a suffix of the regex's top-level concatenation),
//!
//! then every match lies on a line holding one of those literals, and searching those lines
//! only (found with a multi-literal search) gives exactly the matches of a whole-file
//! search: each region of consecutive candidate lines is searched with the haystack cut
//! just after its last `\n`, so look-around at the region's edges sees the same bytes as
//! in the whole file, and no match can reach past the cut.

use regex::bytes::Regex;
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Shortest literal worth a plan: shorter ones occur too often.
const MIN_LITERAL: usize = 3;

/// Most literals extracted from a regex before they are cut short.
const MAX_EXTRACTED: usize = 2048;

/// Most literals searched for (Teddy, the SIMD multi-literal search, takes up to 64).
const MAX_ANCHORS: usize = 64;

/// The literals whose lines hold every match of a regex (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct LinePlan {
    /// A search for the literals (exact bytes).
    pub(crate) anchors: Anchors,
}

/// A multi-literal search: a regex of the escaped literals, so that the regex engine picks
/// its fastest literal search (memchr's `memmem` for one literal, Teddy's SIMD for a few).
#[derive(Debug, Clone)]
pub(crate) struct Anchors(pub(crate) Regex);

impl Anchors {
    fn new(lits: &[Vec<u8>]) -> Option<Anchors> {
        let alternation: Vec<String> = lits
            .iter()
            .map(|l| l.iter().map(|b| format!("\\x{b:02x}")).collect())
            .collect();
        crate::rules::compile(&alternation.join("|"))
            .ok()
            .map(Anchors)
    }

    /// `(start, end)` of the first literal occurrence starting at or after `from`.
    fn find(&self, content: &[u8], from: usize) -> Option<(usize, usize)> {
        self.0.find_at(content, from).map(|m| (m.start(), m.end()))
    }
}

impl LinePlan {
    /// The plan for `pattern` (compiled as the rules are: bytes, Unicode off), or `None`
    /// when the conditions do not hold or no useful literal set exists.
    pub(crate) fn new(pattern: &str) -> Option<LinePlan> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        // Empty matches would need the iterator's special handling: not worth it.
        if hir.properties().minimum_len().is_none_or(|n| n == 0) || may_match_newline(&hir) {
            return None;
        }
        let mut parts = Vec::new();
        flatten(&hir, &mut parts);
        // The literal set of each suffix parts[i..] of the concatenation.
        let literals = |i: usize| -> Option<Vec<Vec<u8>>> {
            let mut seq = Extractor::new()
                .kind(ExtractKind::Prefix)
                .limit_total(MAX_EXTRACTED)
                .extract(&Hir::concat(parts[i..].to_vec()));
            // Case-insensitive words give many literals: keep their first bytes (each
            // literal stays a prefix of every match it stood for) until a SIMD search can
            // take them.
            for len in [8, 6, 4, 3] {
                if seq.len().is_some_and(|n| n > MAX_ANCHORS) {
                    seq.keep_first_bytes(len);
                    seq.dedup();
                }
            }
            // Shrinks the set further (keeping that every match starts with one of its
            // literals) or gives up on it (infinite) when it is too weak.
            seq.optimize_for_prefix_by_preference();
            let lits = seq.literals()?;
            if lits.is_empty()
                || lits
                    .iter()
                    .any(|l| l.is_empty() || l.as_bytes().contains(&b'\n'))
            {
                return None;
            }
            Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
        };
        let shortest = |v: &[Vec<u8>]| v.iter().map(Vec::len).min().unwrap_or(0);
        // Prefix literals of MIN_LITERAL bytes or more: the regex engine searches for them
        // itself, as fast as a plan would (measured: a plan is slower there).
        if literals(0).is_some_and(|l| shortest(&l) >= MIN_LITERAL) {
            return None;
        }
        // The best suffix: longest shortest literal, then fewest literals.
        let key = |v: &[Vec<u8>]| (shortest(v).min(8), std::cmp::Reverse(v.len()));
        let lits = (1..parts.len())
            .filter_map(literals)
            .filter(|l| shortest(l) >= MIN_LITERAL)
            .max_by_key(|l| key(l))?;
        Some(LinePlan {
            anchors: Anchors::new(&lits)?,
        })
    }

    /// Appends to `out` the regions `[start, end)` of consecutive lines of `content` that
    /// hold a literal, in order; `end` is just after the region's last `\n` (or the end of
    /// `content`).
    pub(crate) fn regions(&self, content: &[u8], out: &mut Vec<(usize, usize)>) {
        let mut pos = 0;
        while pos < content.len() {
            let Some((m_start, m_end)) = self.anchors.find(content, pos) else {
                break;
            };
            // `pos` is a line start, so the line of the literal starts at or after it.
            let start = content[pos..m_start]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(pos, |i| pos + i + 1);
            let end = content[m_end..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(content.len(), |i| m_end + i + 1);
            match out.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => out.push((start, end)),
            }
            pos = end;
        }
    }
}

/// `true` when some match of `hir` may contain a `\n` (conservative: any literal or class
/// that holds one).
fn may_match_newline(hir: &Hir) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => false,
        HirKind::Literal(lit) => lit.0.contains(&b'\n'),
        HirKind::Class(Class::Bytes(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= b'\n' && b'\n' <= r.end()),
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .any(|r| r.start() <= '\n' && '\n' <= r.end()),
        HirKind::Repetition(r) => r.max != Some(0) && may_match_newline(&r.sub),
        HirKind::Capture(c) => may_match_newline(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().any(may_match_newline),
    }
}

/// The top-level concatenation of `hir` as a list (capture groups do not change what
/// matches, so their concatenations are spliced in).
fn flatten(hir: &Hir, out: &mut Vec<Hir>) {
    match hir.kind() {
        HirKind::Concat(v) => v.iter().for_each(|h| flatten(h, out)),
        HirKind::Capture(c) => flatten(&c.sub, out),
        _ => out.push(hir.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(pattern: &str, content: &str) -> Option<Vec<(usize, usize)>> {
        let plan = LinePlan::new(pattern)?;
        let mut out = Vec::new();
        plan.regions(content.as_bytes(), &mut out);
        Some(out)
    }

    #[test]
    fn plans_only_for_single_line_regexes_with_literals() {
        // A leading class run, then literals: planned.
        assert!(LinePlan::new(r"(?i)[a-z_]*(?:password|pwd)[ \t]*=[ \t]*(?P<s>\S{8,})").is_some());
        // Can cross lines: `\s` holds `\n`; `(?s).` too.
        assert!(LinePlan::new(r"password\s*=\s*(\S+)").is_none());
        assert!(LinePlan::new(r"(?s)password.*").is_none());
        assert!(LinePlan::new(r"-----BEGIN[^-]+-----").is_none());
        // No literal anywhere.
        assert!(LinePlan::new(r"[A-Za-z0-9]{40}").is_none());
        // Can match empty.
        assert!(LinePlan::new(r"(?:pwd)?").is_none());
    }

    #[test]
    fn regions_are_the_lines_holding_a_literal_merged_when_adjacent() {
        let p = r"[a-z]*(?:pass|pwd)=\S+";
        let text = "a\nx pass=1\ny pwd=2\nz\nq\nmypass=3";
        // Lines 2-3 merged (bytes 2..19), line 6 to the end without a final newline.
        assert_eq!(regions(p, text), Some(vec![(2, 19), (23, 31)]));
        assert_eq!(regions(p, "nothing here\n"), Some(vec![]));
        // The literals are the longest available: `pass=` and `pwd=`.
        assert_eq!(regions(p, "pwd"), Some(vec![]));
        assert_eq!(regions(p, "pwd="), Some(vec![(0, 4)]));
    }
}
