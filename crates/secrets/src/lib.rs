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

mod assemble;
mod binary;
mod config;
mod keywords;
mod lines;
mod render;
mod rules;
mod scan;

use std::sync::Arc;

use regex::bytes::RegexSet;
use sightline_report::vuln::Severity;

pub use sightline_report::report::{Code, CodeLine, DetectedSecret};

pub use binary::looks_binary;
use keywords::KeywordGate;
use render::LineIndex;
use rules::{AllowRule, Rule};

/// The built-in rule set, in the `--secret-config` format.
pub const BUILTIN_RULES_YAML: &str = include_str!("../rules/builtin.yaml");

/// Default cap on the size of a scanned file (10 MiB); larger files are skipped unread.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 << 20;

/// How much of a file's start decides whether it is binary.
pub const BINARY_SNIFF_LEN: usize = 8 << 10;

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

impl Scanner {
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

    /// `true` when `path` is never worth reading (global allow rules: package docs, ...),
    /// so the layer walker can skip it without reading it.
    pub fn skips_path(&self, path: &str) -> bool {
        self.skip_paths
            .is_match(path.trim_start_matches('/').as_bytes())
    }
}

#[cfg(test)]
mod tests;
