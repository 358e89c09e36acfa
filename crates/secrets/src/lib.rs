//! Secret detection in files and image config.
//!
//! STUB: the API below is the contract other crates build against; bodies are being written.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sightline_api::vuln::Severity;

/// One secret found (Trivy's `Secrets[]` entry, plus where it was found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFinding {
    /// Stable kebab-case rule id, e.g. `aws-access-key-id`.
    pub rule_id: String,
    /// Category, e.g. `AWS`, `GitHub`, `Database`.
    pub category: String,
    /// Severity of the rule.
    pub severity: Severity,
    /// Human title.
    pub title: String,
    /// 1-based first line of the match.
    pub start_line: usize,
    /// 1-based last line of the match.
    pub end_line: usize,
    /// The matched line(s) with the secret replaced by `*` characters. Never the raw secret.
    pub matched: String,
}

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

/// A compiled rule set with its keyword prefilter. `Send + Sync`; build once, scan many.
pub struct Scanner {
    _p: (),
}

impl Scanner {
    /// The built-in rules.
    pub fn builtin() -> Scanner {
        todo!()
    }

    /// Built-in rules adjusted by a YAML config (custom rules, disabled rules, allow rules).
    pub fn with_config(_path: &Path) -> Result<Scanner, SecretsError> {
        todo!()
    }

    /// Scans one file's content; `path` (relative, no leading `/`) drives path filters and
    /// allow rules. Binary content, and content over the size cap, yield no findings.
    pub fn scan(&self, _path: &str, _content: &[u8]) -> Vec<SecretFinding> {
        todo!()
    }

    /// `true` when `path` is never worth reading (global allow rules: package docs, ...),
    /// so the layer walker can skip it without reading it.
    pub fn skips_path(&self, _path: &str) -> bool {
        todo!()
    }
}
