//! Turning a kept match into a [`SecretFinding`]: its lines, and excerpts of them with
//! every secret of the file masked.

use crate::scan::Candidate;
use crate::{Code, CodeLine, Scanner, SecretFinding};

/// Longest line excerpt kept in a finding (bytes, before the `...` markers).
pub(crate) const MAX_EXCERPT: usize = 240;
/// Bytes of context kept before the secret when a long line is cut.
const EXCERPT_LEAD: usize = 60;
/// Context lines shown before and after the cause lines in a finding's `code`.
const CODE_CONTEXT: usize = 2;
/// At most this many cause lines are shown in a finding's `code`.
pub(crate) const CODE_MAX_CAUSE: usize = 6;

impl Scanner {
    pub(crate) fn render(
        &self,
        c: &Candidate,
        content: &[u8],
        lines: &LineIndex,
        secrets: &[(usize, usize)],
    ) -> SecretFinding {
        let rule = &self.rules[c.rule];
        let start_line = lines.line_of(c.whole.0);
        let end_line = lines.line_of(c.whole.1.saturating_sub(1).max(c.whole.0));
        let excerpt = |n: usize| {
            let (ls, le) = lines.bounds(n, content);
            // Cut around the secret when it starts on this line, else around the match.
            let focus = if (ls..=le).contains(&c.secret.0) {
                c.secret.0
            } else {
                c.whole.0.clamp(ls, le)
            };
            masked_excerpt(content, ls, le, focus, secrets)
        };
        let (matched, _) = excerpt(start_line);
        let last_shown = end_line.min(start_line + CODE_MAX_CAUSE - 1);
        let first = start_line.saturating_sub(CODE_CONTEXT).max(1);
        // Context after the match only when all its lines are shown.
        let after = if last_shown == end_line {
            CODE_CONTEXT
        } else {
            0
        };
        let last = (last_shown + after).min(lines.count());
        let code = (first..=last)
            .map(|n| {
                let (content, truncated) = excerpt(n);
                CodeLine {
                    number: n,
                    content,
                    is_cause: (start_line..=end_line).contains(&n),
                    annotation: String::new(),
                    truncated,
                    first_cause: n == start_line,
                    last_cause: n == end_line,
                }
            })
            .collect();
        SecretFinding {
            rule_id: rule.id.clone(),
            category: rule.category.clone(),
            severity: rule.severity,
            title: rule.title.clone(),
            start_line,
            end_line,
            offset: c.secret.0,
            matched,
            code: Code { lines: code },
            layer: Default::default(),
        }
    }
}

/// Line starts of a file, built only when a file has findings.
pub(crate) struct LineIndex {
    /// Offsets of every `\n`.
    newlines: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub(crate) fn new(content: &[u8]) -> Self {
        LineIndex {
            newlines: content
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
            len: content.len(),
        }
    }

    /// 1-based line of byte `pos`.
    fn line_of(&self, pos: usize) -> usize {
        self.newlines.partition_point(|&n| n < pos) + 1
    }

    /// Number of lines (a final line without `\n` counts).
    fn count(&self) -> usize {
        match self.newlines.last() {
            Some(&last) if last + 1 == self.len => self.newlines.len(),
            _ => self.newlines.len() + 1,
        }
    }

    /// `[start, end)` of line `n` (without the `\n`, and without a trailing `\r`).
    fn bounds(&self, n: usize, content: &[u8]) -> (usize, usize) {
        let start = if n <= 1 { 0 } else { self.newlines[n - 2] + 1 };
        let mut end = self.newlines.get(n - 1).copied().unwrap_or(self.len);
        if end > start && content[end - 1] == b'\r' {
            end -= 1;
        }
        (start, end)
    }
}

/// The line `[ls, le)` with every byte of `secrets` (disjoint, sorted by start) replaced by `*`, cut to at most
/// [`MAX_EXCERPT`] bytes around `focus` (on UTF-8 boundaries, `...` marking cuts).
/// Returns the text and whether it was cut.
fn masked_excerpt(
    content: &[u8],
    ls: usize,
    le: usize,
    focus: usize,
    secrets: &[(usize, usize)],
) -> (String, bool) {
    let (mut ws, mut we) = (ls, le);
    if le - ls > MAX_EXCERPT {
        ws = focus.saturating_sub(EXCERPT_LEAD).max(ls);
        we = (ws + MAX_EXCERPT).min(le);
        if we == le {
            ws = le - MAX_EXCERPT;
        }
        // UTF-8 boundaries: never start or end inside a multi-byte character.
        while ws > ls && ws < le && (content[ws] & 0xC0) == 0x80 {
            ws += 1;
        }
        while we < le && we > ws && (content[we] & 0xC0) == 0x80 {
            we -= 1;
        }
    }
    let mut bytes = content[ws..we].to_vec();
    // `secrets` are disjoint and sorted, so their ends are sorted too: only those from the
    // first ending after `ws` up to the first starting at `we` can touch the excerpt (one
    // binary search, not a pass over every secret of the file for every line shown).
    let from = secrets.partition_point(|&(_, e)| e <= ws);
    for &(s, e) in secrets[from..].iter().take_while(|&&(s, _)| s < we) {
        let (s, e) = (s.max(ws), e.min(we));
        if s < e {
            for b in &mut bytes[s - ws..e - ws] {
                if *b != b'\n' {
                    *b = b'*';
                }
            }
        }
    }
    let mut out = String::new();
    if ws > ls {
        out.push_str("...");
    }
    out.push_str(&String::from_utf8_lossy(&bytes));
    if we < le {
        out.push_str("...");
    }
    (out, ws > ls || we < le)
}
