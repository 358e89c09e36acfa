//! Secret detection in files and image config.
//!
//! * A built-in rule set (`rules/builtin.yaml`, 100+ rules written for Sightline) plus custom
//!   rules, disabled rules, allow rules and exclude blocks from a YAML file in the format of
//!   Trivy's `trivy-secret.yaml` (see the crate README).
//! * One case-insensitive Aho-Corasick automaton over every rule's keywords: a file is
//!   regex-scanned only for the rules whose keywords occur in it (`keywords.rs`). The same
//!   pass reports where they occur, and a rule whose matches provably lie on such lines
//!   searches those lines only (`lines.rs`).
//! * Binary files (a NUL byte, or mostly invalid UTF-8, in the first 8 KiB), files over the
//!   size cap (default 10 MiB) and well-known noise paths (global allow rules: package docs,
//!   `usr/share`, `.dist-info`, test suites inside language packages, ...) yield nothing.
//! * Findings carry the matched line and a few lines of context with every secret of the
//!   file replaced by `*`; long lines are cut around the match. The raw secret is never
//!   stored in a finding, printed or logged.
//!
//! All regexes run on bytes with Unicode off (ASCII classes, as Go's RE2), so content need
//! not be UTF-8 and matching is linear in the input whatever the rule.

#![warn(missing_docs)]

mod config;
mod keywords;
mod lines;
mod rules;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use regex::bytes::RegexSet;
use sightline_report::vuln::Severity;

pub use sightline_report::report::{Code, CodeLine, DetectedSecret};

use config::ConfigFile;
use keywords::KeywordGate;
use rules::{AllowRule, Rule};

/// The built-in rule set, in the `--secret-config` format.
pub const BUILTIN_RULES_YAML: &str = include_str!("../rules/builtin.yaml");

/// Default cap on the size of a scanned file (10 MiB); larger files are skipped unread.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 << 20;

/// How much of a file's start decides whether it is binary.
pub const BINARY_SNIFF_LEN: usize = 8 << 10;

/// Longest line excerpt kept in a finding (bytes, before the `...` markers).
const MAX_EXCERPT: usize = 240;
/// Bytes of context kept before the secret when a long line is cut.
const EXCERPT_LEAD: usize = 60;
/// Context lines shown before and after the cause lines in a finding's `code`.
const CODE_CONTEXT: usize = 2;
/// At most this many cause lines are shown in a finding's `code`.
const CODE_MAX_CAUSE: usize = 6;

/// One secret found: Trivy's `Secrets[]` entry itself ([`DetectedSecret`]), so the scanner,
/// the Trivy JSON report and the operator share one type. The scanner fills everything but
/// `layer`, which the image walk sets. `matched` and `code` are masked: never the raw secret.
pub type SecretFinding = DetectedSecret;

/// Errors loading rule configuration.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The `--secret-config` file is unreadable or invalid.
    #[error("secret config {path}: {reason}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Public description of one rule of a [`Scanner`].
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo<'a> {
    /// Rule id.
    pub id: &'a str,
    /// Category.
    pub category: &'a str,
    /// Title.
    pub title: &'a str,
    /// Severity.
    pub severity: Severity,
    /// Lower-cased prefilter keywords (empty: the rule runs on every file).
    pub keywords: &'a [String],
}

/// A compiled rule set with its keyword prefilter. `Send + Sync`; build once, scan many.
#[derive(Debug, Clone)]
pub struct Scanner {
    rules: Vec<Rule>,
    /// One automaton over every keyword, with the rules each keyword enables; `None` when
    /// no rule has keywords.
    keywords: Option<Arc<KeywordGate>>,
    /// Rules without keywords (run on every file).
    always: Vec<usize>,
    /// Global allow rules that look at the secret (and maybe the path).
    global_allow: Vec<AllowRule>,
    /// Global path-only allow rules: such files are never read.
    skip_paths: RegexSet,
    /// Global `exclude-block` regexes: secrets wholly inside one of their matches are dropped.
    exclude: Vec<regex::bytes::Regex>,
    max_file_size: u64,
}

/// The built-in rules and global allow rules, compiled once per process.
fn builtin_parts() -> &'static (Vec<Rule>, Vec<AllowRule>) {
    static PARTS: OnceLock<(Vec<Rule>, Vec<AllowRule>)> = OnceLock::new();
    PARTS.get_or_init(|| {
        let file: ConfigFile = serde_yaml::from_str(BUILTIN_RULES_YAML)
            .unwrap_or_else(|e| panic!("rules/builtin.yaml is invalid: {e}"));
        let rules = file
            .rules
            .iter()
            .map(Rule::compile)
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("rules/builtin.yaml: {e}"));
        let allow = file
            .allow_rules
            .iter()
            .map(|a| AllowRule::compile(a, "global allow rules"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("rules/builtin.yaml: {e}"));
        (rules, allow)
    })
}

impl Scanner {
    /// The built-in rules.
    pub fn builtin() -> Scanner {
        let (rules, allow) = builtin_parts();
        Scanner::assemble(
            rules.clone(),
            allow.clone(),
            Vec::new(),
            DEFAULT_MAX_FILE_SIZE,
        )
        .unwrap_or_else(|e| panic!("built-in rules: {e}"))
    }

    /// Built-in rules adjusted by a YAML config (custom rules, disabled rules, allow rules).
    pub fn with_config(path: &Path) -> Result<Scanner, SecretsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecretsError::Config {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Scanner::from_yaml(&text, &path.display().to_string())
    }

    /// Like [`Scanner::with_config`], from the YAML text; `origin` names it in errors (a
    /// file path, a ConfigMap key, ...).
    pub fn from_yaml(yaml: &str, origin: &str) -> Result<Scanner, SecretsError> {
        let err = |reason: String| SecretsError::Config {
            path: origin.to_string(),
            reason,
        };
        let file: ConfigFile = if yaml.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_yaml::from_str(yaml).map_err(|e| err(e.to_string()))?
        };
        let (builtin_rules, builtin_allow) = builtin_parts();
        let known = |id: &str| builtin_rules.iter().any(|r| r.id == id);

        let mut builtins: Vec<Rule> = match &file.enable_builtin_rules {
            Some(ids) => {
                for id in ids {
                    if !known(id) {
                        return Err(err(format!(
                            "enable-builtin-rules: no built-in rule {id:?}"
                        )));
                    }
                }
                builtin_rules
                    .iter()
                    .filter(|r| ids.contains(&r.id))
                    .cloned()
                    .collect()
            }
            None => builtin_rules.clone(),
        };
        let mut custom = Vec::with_capacity(file.rules.len());
        for def in &file.rules {
            let rule = Rule::compile(def).map_err(err)?;
            if custom.iter().any(|r: &Rule| r.id == rule.id) {
                return Err(err(format!("rule {:?} is defined twice", rule.id)));
            }
            // A custom rule with a built-in id replaces the built-in.
            builtins.retain(|b| b.id != rule.id);
            custom.push(rule);
        }
        // Custom rules first: they win over built-ins reporting the same secret.
        let mut rules = custom;
        rules.extend(builtins);
        for id in &file.disable_rules {
            if !rules.iter().any(|r| &r.id == id) && !known(id) {
                return Err(err(format!("disable-rules: no rule {id:?}")));
            }
            rules.retain(|r| &r.id != id);
        }

        let mut allow: Vec<AllowRule> = builtin_allow.clone();
        for id in &file.disable_allow_rules {
            if !allow.iter().any(|a| &a.id == id) {
                return Err(err(format!(
                    "disable-allow-rules: no built-in allow rule {id:?}"
                )));
            }
            allow.retain(|a| &a.id != id);
        }
        for def in &file.allow_rules {
            allow.push(AllowRule::compile(def, "allow-rules").map_err(err)?);
        }
        let max = file
            .max_file_size
            .map(|s| s.0)
            .unwrap_or(DEFAULT_MAX_FILE_SIZE);
        let exclude = rules::compile_exclude(file.exclude_block.as_ref(), "global").map_err(err)?;
        Scanner::assemble(rules, allow, exclude, max).map_err(err)
    }

    fn assemble(
        rules: Vec<Rule>,
        allow: Vec<AllowRule>,
        exclude: Vec<regex::bytes::Regex>,
        max: u64,
    ) -> Result<Scanner, String> {
        // One automaton pattern per keyword that contains no other keyword: a keyword that
        // contains another (`secret_key` contains `secret`) only occurs where the shorter
        // one does, so its rules hang on the shorter pattern (a smaller, faster automaton,
        // and every rule whose keyword occurs still runs).
        let mut all: Vec<&str> = rules
            .iter()
            .flat_map(|r| r.keywords.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        let patterns: Vec<&str> = all
            .iter()
            .copied()
            .filter(|k| !all.iter().any(|j| j != k && k.contains(j)))
            .collect();
        let mut keyword_rules: Vec<Vec<usize>> = vec![Vec::new(); patterns.len()];
        let mut always = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.keywords.is_empty() {
                always.push(i);
            }
            for k in &r.keywords {
                for (p, pat) in patterns.iter().enumerate() {
                    if k.contains(pat) && !keyword_rules[p].contains(&i) {
                        keyword_rules[p].push(i);
                    }
                }
            }
        }
        // The same automaton reports where the anchors of the rules' line plans end (the
        // keyword patterns they contain, and the anchors themselves as extra patterns that
        // enable no rule): the lines to search come for free with the keyword pass.
        // An anchor containing a pattern needs no pattern of its own: its lines are among
        // those of the pattern it contains.
        let mut patterns: Vec<&str> = patterns;
        for r in &rules {
            for a in r.lines.iter().flat_map(|l| &l.anchors) {
                if !patterns.iter().any(|p| a.contains(p)) {
                    patterns.push(a);
                    keyword_rules.push(Vec::new());
                }
            }
        }
        let pattern_tracked: Vec<Vec<usize>> = patterns
            .iter()
            .map(|p| {
                (0..rules.len())
                    .filter(|&r| {
                        rules[r]
                            .lines
                            .as_ref()
                            .is_some_and(|l| l.anchors.iter().any(|a| a.contains(p)))
                    })
                    .collect()
            })
            .collect();
        let keywords = if patterns.is_empty() {
            None
        } else {
            Some(Arc::new(KeywordGate::new(
                &patterns,
                keyword_rules,
                pattern_tracked,
            )?))
        };
        let (path_only, global_allow): (Vec<AllowRule>, Vec<AllowRule>) =
            allow.into_iter().partition(AllowRule::is_path_only);
        let skip_paths = RegexSet::new(path_only.iter().map(|a| {
            a.path
                .as_ref()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default()
        }))
        .map_err(|e| format!("global allow rules: {e}"))?;
        Ok(Scanner {
            rules,
            keywords,
            always,
            global_allow,
            skip_paths,
            exclude,
            max_file_size: max,
        })
    }

    /// Files larger than this are skipped (unread by the layer walker).
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The rules, in priority order (custom rules first).
    pub fn rules(&self) -> impl Iterator<Item = RuleInfo<'_>> {
        self.rules.iter().map(|r| RuleInfo {
            id: &r.id,
            category: &r.category,
            title: &r.title,
            severity: r.severity,
            keywords: &r.keywords,
        })
    }

    /// `true` when a file of `size` bytes at `path` is worth reading: not skipped by a
    /// global allow rule, not empty, not over the size cap.
    pub fn wants(&self, path: &str, size: u64) -> bool {
        size > 0 && size <= self.max_file_size && !self.skips_path(path)
    }

    /// Scans one file's content; `path` (relative, no leading `/`) drives path filters and
    /// allow rules. Binary content, and content over the size cap, yield no findings.
    pub fn scan(&self, path: &str, content: &[u8]) -> Vec<SecretFinding> {
        let found = self.find(path, content);
        if found.is_empty() {
            return Vec::new();
        }
        let secrets: Vec<(usize, usize)> = found.iter().map(|c| c.secret).collect();
        let lines = LineIndex::new(content);
        found
            .iter()
            .map(|c| self.render(c, content, &lines, &secrets))
            .collect()
    }

    /// `content` with every secret that [`Scanner::scan`] would report replaced by `*`
    /// (newlines kept); `None` when there is none. For text that is shown whole, e.g. the
    /// image config in a report's metadata.
    pub fn mask(&self, path: &str, content: &[u8]) -> Option<Vec<u8>> {
        let found = self.find(path, content);
        if found.is_empty() {
            return None;
        }
        let mut out = content.to_vec();
        for c in &found {
            for b in &mut out[c.secret.0..c.secret.1] {
                if *b != b'\n' && *b != b'\r' {
                    *b = b'*';
                }
            }
        }
        Some(out)
    }

    /// The secrets of `content` (byte ranges), sorted by position.
    fn find(&self, path: &str, content: &[u8]) -> Vec<Candidate> {
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
        let mut found: Vec<Candidate> = Vec::new();
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
        found: &mut Vec<Candidate>,
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
        if found
            .iter()
            .any(|f| f.secret.0 < secret.1 && secret.0 < f.secret.1)
        {
            return;
        }
        found.push(Candidate {
            rule: ri,
            whole: trim_ws(content, whole.0, whole.1),
            secret,
        });
    }

    /// `true` when `path` is never worth reading (global allow rules: package docs, ...),
    /// so the layer walker can skip it without reading it.
    pub fn skips_path(&self, path: &str) -> bool {
        self.skip_paths
            .is_match(path.trim_start_matches('/').as_bytes())
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

    fn render(
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

/// A regex match: the whole match and the secret group's span (byte ranges).
struct Match {
    whole: (usize, usize),
    secret: Option<(usize, usize)>,
}

/// The `exclude-block` spans of one file, found when first needed (global ones once, a
/// rule's own while its matches are considered).
#[derive(Default)]
struct Exclusions {
    global: Option<Vec<(usize, usize)>>,
    rule: Option<(usize, Vec<(usize, usize)>)>,
}

impl Exclusions {
    /// `true` when the secret `span` found by rule `ri` lies wholly inside an exclude block
    /// (Trivy's test: block start <= secret start and secret end <= block end).
    fn covers(&mut self, s: &Scanner, ri: usize, content: &[u8], span: (usize, usize)) -> bool {
        let inside =
            |blocks: &[(usize, usize)]| blocks.iter().any(|&(bs, be)| bs <= span.0 && span.1 <= be);
        if !s.exclude.is_empty()
            && inside(
                self.global
                    .get_or_insert_with(|| rules::blocks(&s.exclude, content)),
            )
        {
            return true;
        }
        let own = &s.rules[ri].exclude;
        if own.is_empty() {
            return false;
        }
        if self.rule.as_ref().is_none_or(|(r, _)| *r != ri) {
            self.rule = Some((ri, rules::blocks(own, content)));
        }
        self.rule.as_ref().is_some_and(|(_, b)| inside(b))
    }
}

/// A match kept for reporting: byte ranges only, never a copy of the secret.
struct Candidate {
    rule: usize,
    whole: (usize, usize),
    secret: (usize, usize),
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

/// `true` when `content` looks binary: a NUL byte in its first 8 KiB, or more than 30% of
/// those bytes in invalid UTF-8 sequences. (Latin-1 text has a few invalid bytes and is
/// still scanned.)
pub fn looks_binary(content: &[u8]) -> bool {
    let head = &content[..content.len().min(BINARY_SNIFF_LEN)];
    // One pass without early exit, which the compiler turns into SIMD: the smallest byte
    // (0 = a NUL) and the OR of all bytes (high bit = non-ASCII).
    let (min, or) = head
        .iter()
        .fold((u8::MAX, 0u8), |(min, or), &b| (min.min(b), or | b));
    if min == 0 {
        return true;
    }
    if or.is_ascii() {
        return false; // the common case
    }
    // Invalid sequences are made of non-ASCII bytes: few of those, few invalid bytes; and
    // most non-ASCII text is valid UTF-8 (`from_utf8` stops early only on an error).
    let words = head.chunks_exact(8);
    let tail = words.remainder().iter().filter(|b| !b.is_ascii()).count();
    let non_ascii = tail
        + words
            .map(|w| {
                let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                (w & 0x8080_8080_8080_8080).count_ones() as usize
            })
            .sum::<usize>();
    if non_ascii * 10 <= head.len() * 3 || std::str::from_utf8(head).is_ok() {
        return false;
    }
    let mut invalid = 0usize;
    let mut rest = head;
    while let Err(e) = std::str::from_utf8(rest) {
        match e.error_len() {
            Some(n) => {
                invalid += n;
                rest = &rest[e.valid_up_to() + n..];
            }
            None => break, // a sequence cut by the 8 KiB window
        }
    }
    invalid * 10 > head.len() * 3
}

/// Line starts of a file, built only when a file has findings.
struct LineIndex {
    /// Offsets of every `\n`.
    newlines: Vec<usize>,
    len: usize,
}

impl LineIndex {
    fn new(content: &[u8]) -> Self {
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

/// The line `[ls, le)` with every byte of `secrets` replaced by `*`, cut to at most
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
    for &(s, e) in secrets {
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

#[cfg(test)]
mod tests;
