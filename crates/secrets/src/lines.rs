//! Line plans: running a rule regex on the lines that can hold a match only.
//!
//! Some regexes defeat the regex engine's literal prefilter (a leading
//! `[A-Za-z0-9_.-]*` before `password`, for example), so a search scans the whole file with
//! the DFA; others have one, which still scans the file. When the syntax tree proves that
//!
//! 1. no match contains a `\n` except maybe as its last byte (every match lies within one
//!    line and that line's `\n`), and
//! 2. every match contains an occurrence of one of a finite set of literals (the prefix
//!    literals of a suffix of the regex's top-level concatenation), ignoring ASCII case,
//!
//! then every match lies on a line holding one of those literals (the plan's *anchors*), and
//! searching those lines only gives exactly the matches of a whole-file search: each region
//! of consecutive candidate lines is searched with the haystack cut just after its last
//! `\n`, so look-around at the region's edges sees the same bytes as in the whole file, and
//! no match can reach past the cut (nor test the cut: only a match's final one-byte part
//! may stand on the `\n`, and nothing in the regex comes after it).
//!
//! The anchors are the rule's keywords when each literal contains one, else the literals.
//! Either way the keyword automaton reports where they occur during its one pass over the
//! file, so finding the lines costs no extra search.

use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

/// Shortest literal worth a plan: shorter ones occur too often.
const MIN_LITERAL: usize = 3;

/// Most anchors (they become patterns of the keyword automaton).
const MAX_ANCHORS: usize = 64;

/// Which lines of a file hold every match of a rule's regex (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct LinePlan {
    /// Lower-cased strings, one of which (ignoring ASCII case) every match contains.
    pub(crate) anchors: Vec<String>,
}

impl LinePlan {
    /// The plan for `pattern` (compiled as the rules are: bytes, Unicode off) of a rule with
    /// `keywords` (lower-cased), or `None` when the conditions do not hold or no useful
    /// literal set exists.
    pub(crate) fn new(pattern: &str, keywords: &[String]) -> Option<LinePlan> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        // Empty matches would need the iterator's special handling: not worth it.
        if hir.properties().minimum_len().is_none_or(|n| n == 0) {
            return None;
        }
        // No `\n` in a match, except maybe as its last byte (a final one-byte part such as
        // `(?:[^A-Za-z0-9]|\z)`): then a match lies in its line and the line's `\n`.
        let mut raw = Vec::new();
        flatten(&hir, &mut raw);
        let (last, init) = raw.split_last()?;
        if init.iter().any(may_match_newline)
            || (may_match_newline(last) && last.properties().maximum_len().is_none_or(|n| n > 1))
        {
            return None;
        }
        let mut parts = Vec::new();
        flatten(&fold_case(&hir), &mut parts);
        // The literals of each suffix parts[i..] of the concatenation (every match of the
        // suffix starts with one of them), lower-cased and deduplicated.
        let literals = |i: usize| -> Option<Vec<Vec<u8>>> {
            let seq = Extractor::new()
                .kind(ExtractKind::Prefix)
                .extract(&Hir::concat(parts[i..].to_vec()));
            let lits = seq.literals()?;
            if lits.is_empty()
                || lits
                    .iter()
                    .any(|l| l.is_empty() || l.as_bytes().contains(&b'\n'))
            {
                return None;
            }
            let mut lower: Vec<Vec<u8>> = lits
                .iter()
                .map(|l| l.as_bytes().to_ascii_lowercase())
                .collect();
            lower.sort_unstable();
            lower.dedup();
            Some(lower)
        };
        let suffixes: Vec<Vec<Vec<u8>>> = (0..parts.len()).filter_map(literals).collect();
        // The keywords, when every literal of some suffix contains one.
        let contains = |l: &[u8], k: &str| l.windows(k.len()).any(|w| w == k.as_bytes());
        let usable_keywords =
            !keywords.is_empty() && keywords.iter().all(|k| !k.is_empty() && !k.contains('\n'));
        if usable_keywords
            && suffixes
                .iter()
                .any(|lits| lits.iter().all(|l| keywords.iter().any(|k| contains(l, k))))
        {
            return Some(LinePlan {
                anchors: keywords.to_vec(),
            });
        }
        // Else the best literals: longest shortest literal, then fewest literals.
        let shortest = |v: &[Vec<u8>]| v.iter().map(Vec::len).min().unwrap_or(0);
        let key = |v: &[Vec<u8>]| (shortest(v).min(8), std::cmp::Reverse(v.len()));
        let best = suffixes
            .into_iter()
            .filter(|l| shortest(l) >= MIN_LITERAL && l.len() <= MAX_ANCHORS)
            .max_by_key(|l| key(l))?;
        let anchors = best
            .into_iter()
            .map(|l| String::from_utf8(l).ok())
            .collect::<Option<Vec<String>>>()?;
        Some(LinePlan { anchors })
    }

    /// Appends to `out` the regions `[start, end)` of consecutive lines of `content` that
    /// may hold a match, in order; `end` is just after the region's last `\n` (or the end
    /// of `content`). `anchor_ends` are the positions where the keyword automaton saw an
    /// anchor (or a keyword pattern it contains) end, sorted.
    pub(crate) fn regions(
        &self,
        content: &[u8],
        anchor_ends: &[usize],
        out: &mut Vec<(usize, usize)>,
    ) {
        for &at in anchor_ends {
            if out.last().is_some_and(|&(_, end)| at < end) {
                continue; // on a line already taken
            }
            push_line(content, at, out);
        }
    }
}

/// Appends the line holding `content[at]` (not a `\n`) to `out`, merged with the last
/// region when adjacent. The last region ends at or before the line's start.
fn push_line(content: &[u8], at: usize, out: &mut Vec<(usize, usize)>) {
    let floor = out.last().map_or(0, |&(_, e)| e);
    let line_start = memchr::memrchr(b'\n', &content[floor..at]).map_or(floor, |i| floor + i + 1);
    let line_end = memchr::memchr(b'\n', &content[at..]).map_or(content.len(), |i| at + i + 1);
    match out.last_mut() {
        Some(last) if last.1 == line_start => last.1 = line_end,
        _ => out.push((line_start, line_end)),
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

/// `hir` with ASCII case folded away where the anchors do not need it: a literal is
/// lower-cased, and a class holding one letter (in one or both cases) becomes that letter,
/// lower-case. Anchors are matched ignoring ASCII case, so every match of `hir` is still a
/// match of the result where it matters; and `(?i)authorization` is one literal, not 8192.
fn fold_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => hir.clone(),
        HirKind::Literal(lit) => Hir::literal(lit.0.to_ascii_lowercase()),
        HirKind::Class(class) => {
            // The class's members when it has at most two, all bytes.
            let bytes: Option<Vec<u8>> = match class {
                Class::Bytes(c) if c.iter().map(|r| r.len()).sum::<usize>() <= 2 => {
                    Some(c.iter().flat_map(|r| r.start()..=r.end()).collect())
                }
                Class::Unicode(c) if c.iter().map(|r| r.len()).sum::<usize>() <= 2 => c
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .map(|ch| u8::try_from(ch).ok())
                    .collect(),
                _ => None,
            };
            match bytes.as_deref() {
                Some(&[b]) => Hir::literal([b.to_ascii_lowercase()]),
                Some(&[a, b]) if a.is_ascii_alphabetic() && a.eq_ignore_ascii_case(&b) => {
                    Hir::literal([a.to_ascii_lowercase()])
                }
                _ => hir.clone(),
            }
        }
        HirKind::Repetition(r) => Hir::repetition(r.with(fold_case(&r.sub))),
        HirKind::Capture(c) => fold_case(&c.sub),
        HirKind::Concat(v) => Hir::concat(v.iter().map(fold_case).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(fold_case).collect()),
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

    fn kw(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn anchors(pattern: &str, keywords: &[&str]) -> Option<Vec<String>> {
        LinePlan::new(pattern, &kw(keywords)).map(|p| p.anchors)
    }

    #[test]
    fn plans_only_for_single_line_regexes_with_literals() {
        // A leading class run, then literals (lower-cased, deduplicated; the longest ones).
        let p = r"(?i)[a-z_]*(?:password|pwd)[ \t]*=[ \t]*(?P<s>\S{8,})";
        assert_eq!(
            anchors(p, &[]).unwrap(),
            [
                "password\t",
                "password ",
                "password=",
                "password=\t",
                "password= ",
                "pwd\t",
                "pwd ",
                "pwd=",
                "pwd=\t",
                "pwd= "
            ]
        );
        assert_eq!(anchors(r"\bGHP_[A-Z0-9]{36}\b", &[]).unwrap(), ["ghp_"]);
        // Can cross lines: `\s` holds `\n`; `(?s).` too.
        assert!(anchors(r"password\s*=\s*(\S+)", &["password"]).is_none());
        assert!(anchors(r"(?s)password.*", &["password"]).is_none());
        assert!(anchors(r"-----BEGIN[^-]+-----", &["begin"]).is_none());
        // No literal anywhere, or only short ones.
        assert!(anchors(r"[A-Za-z0-9]{40}", &[]).is_none());
        assert!(anchors(r"[A-Za-z0-9]{40}-[0-9]", &[]).is_none());
        // Can match empty.
        assert!(anchors(r"(?:pwd)?", &["pwd"]).is_none());
        // A final one-byte part may take the line's `\n`; a longer one or an inner one not.
        assert!(anchors(r"\bSG\.[a-z]{5}(?:[^a-z]|\z)", &["sg."]).is_some());
        assert!(anchors(r"\bSG\.[a-z]{5}[^a-z]{2}", &["sg."]).is_none());
        assert!(anchors(r"\bSG\.[a-z]{5}[^a-z]x", &["sg."]).is_none());
    }

    #[test]
    fn the_keywords_are_the_anchors_when_every_match_holds_one() {
        let p = r"(?i)[a-z_]*(?:password|pwd)[ \t]*=[ \t]*(?P<s>\S{8,})";
        assert_eq!(
            anchors(p, &["password", "pwd"]).unwrap(),
            ["password", "pwd"]
        );
        // A literal may hold more than the keyword.
        assert_eq!(
            anchors(r"\bXghp_[A-Z0-9]{36}\b", &["ghp"]).unwrap(),
            ["ghp"]
        );
        // A match may lack `password`: the literals, not the keywords.
        let a = anchors(p, &["pwd", "secret"]).unwrap();
        assert!(a.len() > 2);
        assert!(a
            .iter()
            .all(|a| a.starts_with("password") || a.starts_with("pwd")));
    }

    #[test]
    fn regions_are_the_lines_of_the_anchor_ends_merged_when_adjacent() {
        let plan = LinePlan {
            anchors: vec!["pwd".into()],
        };
        let text = b"a\nx pass=1\ny pwd=2\nz\nq\nmypass=3";
        let mut out = Vec::new();
        // Ends at bytes 7 and 8 (line 2), 15 (line 3), 29 (line 6, no final newline).
        plan.regions(text, &[7, 8, 15, 29], &mut out);
        assert_eq!(out, [(2, 19), (23, 31)]);
        out.clear();
        plan.regions(text, &[0, 1], &mut out);
        assert_eq!(out, [(0, 2)]);
        out.clear();
        plan.regions(text, &[], &mut out);
        assert!(out.is_empty());
    }
}
