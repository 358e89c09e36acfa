//! Building a [`Scanner`]: the built-in rule set, a `--secret-config` file applied to it,
//! and the keyword automaton and path filters assembled from the resulting rules.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use regex::bytes::RegexSet;

use crate::config::ConfigFile;
use crate::keywords::KeywordGate;
use crate::rules::{self, AllowRule, Rule};
use crate::{Scanner, SecretsError, BUILTIN_RULES_YAML, DEFAULT_MAX_FILE_SIZE};

/// The built-in rules and global allow rules, compiled once per process.
fn builtin_parts() -> &'static (Vec<Rule>, Vec<AllowRule>) {
    static PARTS: OnceLock<(Vec<Rule>, Vec<AllowRule>)> = OnceLock::new();
    PARTS.get_or_init(|| {
        let file: ConfigFile = serde_norway::from_str(BUILTIN_RULES_YAML)
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
            serde_norway::from_str(yaml).map_err(|e| err(e.to_string()))?
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
}
