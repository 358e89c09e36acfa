//! Value parsers shared by the values file and the environment: lists, severities, Go
//! durations, namespace globs.

use std::time::Duration;

use serde::Deserialize;
use sightline_api::vuln::Severity;

use super::ConfigError;

/// A comma-separated string (as the chart's values have them) or a YAML list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    /// The trimmed, non-empty items.
    pub(super) fn items(self) -> Vec<String> {
        let v = match self {
            StringOrList::One(s) => s.split(',').map(str::to_string).collect(),
            StringOrList::Many(v) => v,
        };
        v.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A comma-separated severity list.
pub(super) fn parse_severities(key: &str, s: &str) -> Result<Vec<Severity>, ConfigError> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse()
                .map_err(|e: sightline_api::vuln::UnknownSeverity| ConfigError {
                    key: key.into(),
                    value: s.into(),
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// A TTL: a Go duration; `0`/`0s`/empty disables it.
pub(super) fn parse_ttl(key: &str, s: &str) -> Result<Option<Duration>, ConfigError> {
    let d = if s.trim().is_empty() {
        Duration::ZERO
    } else {
        parse_duration(key, s)?
    };
    Ok((!d.is_zero()).then_some(d))
}

/// Go-style durations as Helm values carry them: `24h`, `1h30m`, `90s`, `500ms`, `0`.
pub fn parse_duration(key: &str, s: &str) -> Result<Duration, ConfigError> {
    let err = || ConfigError {
        key: key.into(),
        value: s.into(),
        reason: "expected a duration such as 24h, 1h30m, 90s".into(),
    };
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = t;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let n: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(err()),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    if !total.is_finite() || total > GO_MAX_DURATION_SECS {
        return Err(ConfigError {
            key: key.into(),
            value: s.into(),
            reason: format!(
                "out of range: a duration is at most {GO_MAX_DURATION_SECS}s (about 2562047h, Go's largest)"
            ),
        });
    }
    Duration::try_from_secs_f64(total).map_err(|_| err())
}

/// The largest duration Go (and so Helm and Kubernetes) can hold: `i64::MAX` nanoseconds, in
/// whole seconds.
pub const GO_MAX_DURATION_SECS: f64 = 9_223_372_036.0;

/// Shell-style glob with `*` and `?` (what `excludeNamespaces` entries use).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}
