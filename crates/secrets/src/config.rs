//! The rule / config file format (`--secret-config`, and the built-in rule set), parsed
//! with serde and compiled into [`crate::rules`] types.

use serde::Deserialize;

/// One rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RuleDef {
    pub id: String,
    pub category: String,
    pub title: String,
    pub severity: String,
    pub regex: String,
    /// Name of the group holding the secret; `a|b` = whichever of the groups took part.
    #[serde(default)]
    pub secret_group_name: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub path: Option<OneOrMany>,
    #[serde(default)]
    pub allow_rules: Vec<AllowDef>,
    #[serde(default)]
    pub entropy: Option<f64>,
    /// Regions of a file where this rule reports nothing.
    #[serde(default)]
    pub exclude_block: Option<ExcludeBlockDef>,
}

/// `exclude-block` (Trivy's format): secrets lying wholly inside a match of one of `regexes`
/// are not reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ExcludeBlockDef {
    /// Documentation only.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
}

/// An allow rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct AllowDef {
    pub id: String,
    /// Documentation only.
    #[serde(default)]
    #[allow(dead_code)]
    pub description: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub path: Option<OneOrMany>,
}

/// A regex given as one string or a list (alternatives).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// One regex matching any of the alternatives.
    pub fn pattern(&self) -> String {
        match self {
            OneOrMany::One(s) => s.clone(),
            OneOrMany::Many(v) => v
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|"),
        }
    }
}

/// A whole config file (also the format of the built-in rule set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    #[serde(default)]
    pub allow_rules: Vec<AllowDef>,
    #[serde(default)]
    pub enable_builtin_rules: Option<Vec<String>>,
    #[serde(default)]
    pub disable_rules: Vec<String>,
    #[serde(default)]
    pub disable_allow_rules: Vec<String>,
    #[serde(default)]
    pub max_file_size: Option<ByteSize>,
    #[serde(default)]
    pub exclude_block: Option<ExcludeBlockDef>,
}

/// A size in bytes: an integer, or a string with a unit (`10MiB`, `512 KiB`, `1GB`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => parse_size(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `123`, `10MiB`, `10 MB`, `1GiB`, `512k`.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 10485760 or 10MiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        u => return Err(format!("invalid size {s:?}: unknown unit {u:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {s:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MiB").unwrap(), 10 << 20);
        assert_eq!(parse_size(" 512 KiB ").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("2GB").unwrap(), 2_000_000_000);
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn path_lists_become_alternatives() {
        let p = OneOrMany::Many(vec![r"\.sh$".into(), "^etc/".into()]);
        assert_eq!(p.pattern(), r"(?:\.sh$)|(?:^etc/)");
    }
}
