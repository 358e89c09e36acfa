//! Compiled rules and allow rules.

use regex::bytes::{Regex, RegexBuilder};
use sightline_report::vuln::Severity;

use crate::config::{AllowDef, ExcludeBlockDef, RuleDef};
use crate::lines::LinePlan;

/// Compiled-program size limit per regex (the default 10 MiB is too small for a few of the
/// bounded repetitions with case folding).
const REGEX_SIZE_LIMIT: usize = 64 << 20;

/// Compiles `pattern` the way every rule regex is compiled: bytes, Unicode off (ASCII `\w`,
/// `\d`, `\s`, `\b`, as in Go's RE2, and no UTF-8 requirement on the content).
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// An allow rule: a finding is dropped when every given matcher matches.
#[derive(Debug, Clone)]
pub(crate) struct AllowRule {
    pub id: String,
    /// Tested against the secret.
    pub regex: Option<Regex>,
    /// Tested against the file path (relative, no leading `/`).
    pub path: Option<Regex>,
}

impl AllowRule {
    pub fn compile(def: &AllowDef, owner: &str) -> Result<AllowRule, String> {
        if def.regex.is_none() && def.path.is_none() {
            return Err(format!(
                "{owner}: allow rule {:?} needs `regex` or `path`",
                def.id
            ));
        }
        let re = |what: &str, p: &str| {
            compile(p).map_err(|e| format!("{owner}: allow rule {:?}: {what}: {e}", def.id))
        };
        Ok(AllowRule {
            id: def.id.clone(),
            regex: def.regex.as_deref().map(|p| re("regex", p)).transpose()?,
            path: def
                .path
                .as_ref()
                .map(|p| re("path", &p.pattern()))
                .transpose()?,
        })
    }

    /// `true` when this rule allows a secret `secret` found in `path`.
    pub fn allows(&self, path: &str, secret: &[u8]) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| p.is_match(path.as_bytes()))
            && self.regex.as_ref().is_none_or(|r| r.is_match(secret))
    }

    /// A rule that only looks at paths (the walker can skip such files unread).
    pub fn is_path_only(&self) -> bool {
        self.regex.is_none() && self.path.is_some()
    }
}

/// A compiled detection rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub id: String,
    pub category: String,
    pub title: String,
    pub severity: Severity,
    pub regex: Regex,
    /// Capture group indexes that may hold the secret (the first that took part wins).
    pub secret_groups: Vec<usize>,
    /// Lower-cased keywords; empty = the rule runs on every file.
    pub keywords: Vec<String>,
    pub path: Option<Regex>,
    pub allow: Vec<AllowRule>,
    pub entropy: Option<f64>,
    /// Run the regex only on the lines holding one of these literals (same matches as a
    /// whole-file search, see [`LinePlan`]).
    pub lines: Option<LinePlan>,
    /// `exclude-block` regexes: secrets wholly inside one of their matches are dropped.
    pub exclude: Vec<Regex>,
}

/// Compiles the regexes of an `exclude-block`.
pub(crate) fn compile_exclude(
    def: Option<&ExcludeBlockDef>,
    owner: &str,
) -> Result<Vec<Regex>, String> {
    def.map_or(&[][..], |d| &d.regexes)
        .iter()
        .map(|p| compile(p).map_err(|e| format!("{owner}: exclude-block: {e}")))
        .collect()
}

/// The spans of `content` matched by any of `regexes` (exclude blocks).
pub(crate) fn blocks(regexes: &[Regex], content: &[u8]) -> Vec<(usize, usize)> {
    regexes
        .iter()
        .flat_map(|r| r.find_iter(content).map(|m| (m.start(), m.end())))
        .collect()
}

impl Rule {
    pub fn compile(def: &RuleDef) -> Result<Rule, String> {
        let id = def.id.trim();
        if id.is_empty() {
            return Err("a rule has an empty id".into());
        }
        let owner = format!("rule {id:?}");
        let severity: Severity = def.severity.parse().map_err(|_| {
            format!(
                "{owner}: unknown severity {:?} (CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN)",
                def.severity
            )
        })?;
        let regex = compile(&def.regex).map_err(|e| format!("{owner}: regex: {e}"))?;
        let group_names = def.secret_group_name.as_deref().unwrap_or("secret");
        let mut secret_groups = Vec::new();
        for name in group_names.split('|').map(str::trim) {
            let idx = regex
                .capture_names()
                .position(|n| n == Some(name))
                .ok_or_else(|| {
                    format!("{owner}: the regex has no named group {name:?} (the secret to mask: `(?P<{name}>...)`)")
                })?;
            secret_groups.push(idx);
        }
        let path = def
            .path
            .as_ref()
            .map(|p| compile(&p.pattern()).map_err(|e| format!("{owner}: path: {e}")))
            .transpose()?;
        let allow = def
            .allow_rules
            .iter()
            .map(|a| AllowRule::compile(a, &owner))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(e) = def.entropy {
            if !(0.0..=8.0).contains(&e) {
                return Err(format!(
                    "{owner}: entropy {e} is outside 0..=8 bits per byte"
                ));
            }
        }
        let mut keywords: Vec<String> = def
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        keywords.sort();
        keywords.dedup();
        let lines = LinePlan::new(&def.regex, &keywords);
        let exclude = compile_exclude(def.exclude_block.as_ref(), &owner)?;
        Ok(Rule {
            id: id.to_string(),
            category: def.category.clone(),
            title: def.title.clone(),
            severity,
            regex,
            secret_groups,
            keywords,
            path,
            allow,
            entropy: def.entropy,
            lines,
            exclude,
        })
    }
}

impl Rule {
    /// Calls `each(match, secret)` (byte spans; `secret` is the first secret group that
    /// took part, if any) for every match of the regex in `content`, in order, as
    /// `captures_iter` finds them. With `regions` (from the rule's [`LinePlan`]), only those
    /// runs of whole lines are searched, which finds the same matches.
    pub fn for_each_match(
        &self,
        content: &[u8],
        regions: Option<&[(usize, usize)]>,
        mut each: impl FnMut((usize, usize), Option<(usize, usize)>),
    ) {
        let Some(regions) = regions else {
            for caps in self.regex.captures_iter(content) {
                let Some(m) = caps.get(0) else { continue };
                let secret = self.secret_groups.iter().find_map(|&g| caps.get(g));
                each((m.start(), m.end()), secret.map(|g| (g.start(), g.end())));
            }
            return;
        };
        let mut locs = self.regex.capture_locations();
        for &(start, end) in regions {
            // The haystack ends after the region's last line: look-around at its edge sees
            // the same bytes as in the whole content. Matches are never empty, so each
            // search resumes at the previous match's end.
            let hay = &content[..end];
            let mut at = start;
            while let Some(m) = self.regex.captures_read_at(&mut locs, hay, at) {
                at = m.end().max(at + 1);
                let secret = self.secret_groups.iter().find_map(|&g| locs.get(g));
                each((m.start(), m.end()), secret);
            }
        }
    }
}

/// Shannon entropy of `data` in bits per byte.
pub(crate) fn shannon_entropy(data: &[u8]) -> f64 {
    if data.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_values() {
        assert_eq!(shannon_entropy(b""), 0.0);
        assert_eq!(shannon_entropy(b"aaaaaaaa"), 0.0);
        assert!((shannon_entropy(b"abcdefgh") - 3.0).abs() < 1e-9);
        assert!((shannon_entropy(b"abab") - 1.0).abs() < 1e-9);
        // The planted DB password of the test image.
        let e = shannon_entropy(b"Pr0d-S3cret-pw");
        assert!(e > 3.4 && e < 3.6, "{e}");
    }

    #[test]
    fn ascii_semantics_like_re2() {
        // \w and \b are ASCII: a non-ASCII letter is a boundary, as in Go.
        let r = compile(r"\bkey\b").unwrap();
        assert!(r.is_match("é key é".as_bytes()));
        assert!(
            r.is_match(b"\xffkey\xff"),
            "invalid UTF-8 around a match is fine"
        );
        assert!(!compile(r"\w").unwrap().is_match("é".as_bytes()));
    }
}
