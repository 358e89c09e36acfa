//! Debian dpkg version ordering, as `dpkg --compare-versions` does it.
//!
//! Syntax is checked with the rules of dpkg's own `parseversion()`
//! (lib/dpkg/parsehelp.c), which also splits the version into epoch (before
//! the first `:`), upstream version and revision (after the last `-`).
//! Ordering is the `debversion` crate's, whose comparison is dpkg's
//! `verrevcmp()`: epoch numerically, then upstream and revision by
//! alternating non-digit runs (`~` before everything including the end of the
//! string, letters before other symbols) and digit runs (numerically).
//!
//! Where dpkg and `debversion` disagree, dpkg wins:
//! * `debversion` (0.5) ranks an empty digit run below `0`, dpkg treats both as
//!   zero, so `1.0~rc` = `1.0~rc0` and `1.0+dfsg` = `1.0+dfsg0` in dpkg but not
//!   in `debversion`. An empty digit run can only occur at the end of the
//!   upstream version or the revision, so each of those that ends in a
//!   non-digit gets a `0` appended before `debversion` sees it, which changes
//!   nothing under dpkg's rules and makes `debversion` agree with dpkg.
//! * Blanks (space, tab) around the version are trimmed, as dpkg does;
//!   `debversion` rejects them.
//! * An empty revision (`1.0-`), an empty or non-numeric epoch (`:1.0`,
//!   `1.0:1`) and an epoch above `i32::MAX` are errors, as in dpkg;
//!   `debversion`'s parser would accept the first two by folding the `-`/`:`
//!   into the upstream version, and so order them differently.
//! * A version dpkg only *warns* about ("bad syntax": upstream not starting
//!   with a digit, characters outside Debian policy such as `_`) is an error
//!   here, so a malformed version is never silently ordered.
//!
//! Deliberate differences from dpkg: the empty string is an error (the dpkg
//! CLI treats it as "no version", earlier than any version), and a signed
//! epoch (`+1:1.0`, `-0:1.0`, which dpkg's `strtol` accepts) is an error.

use std::cmp::Ordering;

use debversion::Version;

use crate::{Scheme, VersionError};

/// Compares two dpkg versions; errors if either is not a valid dpkg version.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    let a = parse(a)?;
    let b = parse(b)?;
    Ok(a.cmp(&b))
}

/// Checks that `version` is a valid dpkg version (see the module docs for the rules).
pub fn validate(version: &str) -> Result<(), VersionError> {
    split(version)
        .map(|_| ())
        .map_err(|r| VersionError::new(Scheme::Dpkg, version, r))
}

fn parse(version: &str) -> Result<Version, VersionError> {
    let parts = split(version).map_err(|r| VersionError::new(Scheme::Dpkg, version, r))?;
    Ok(Version {
        epoch: Some(parts.epoch),
        upstream_version: with_trailing_digit(parts.upstream),
        debian_revision: parts.revision.map(with_trailing_digit),
    })
}

/// `part`, with a `0` appended if it ends in a non-digit (see the module docs).
fn with_trailing_digit(part: &str) -> String {
    let mut s = String::with_capacity(part.len() + 1);
    s.push_str(part);
    if !part.ends_with(|c: char| c.is_ascii_digit()) {
        s.push('0');
    }
    s
}

/// A syntactically valid dpkg version, split.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    epoch: u32,
    upstream: &'a str,
    revision: Option<&'a str>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// dpkg's `parseversion()`: its checks, errors and warnings alike, with
/// dpkg's error texts.
fn split(version: &str) -> Result<Parts<'_>, &'static str> {
    if version.is_empty() {
        return Err("version string is empty");
    }
    let version = version.trim_matches(is_blank);
    if version.contains(is_blank) {
        return Err("version string has embedded spaces");
    }
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() {
                return Err("epoch in version is empty");
            }
            if !epoch.bytes().all(|b| b.is_ascii_digit()) {
                return Err("epoch in version is not number");
            }
            let epoch = match epoch.parse::<u32>() {
                Ok(e) if e <= i32::MAX as u32 => e,
                _ => return Err("epoch in version is too big"),
            };
            if rest.is_empty() {
                return Err("nothing after colon in version number");
            }
            (epoch, rest)
        }
        None => (0, version),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((_, "")) => return Err("revision number is empty"),
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    if upstream.is_empty() {
        return Err("version number is empty");
    }
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("version number does not start with digit");
    }
    if !upstream
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-+~:".contains(&b))
    {
        return Err("invalid character in version number");
    }
    if !revision
        .unwrap_or_default()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
    {
        return Err("invalid character in revision number");
    }
    Ok(Parts {
        epoch,
        upstream,
        revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_dpkgs_reason() {
        let reason = |v| validate(v).unwrap_err().reason;
        assert_eq!(reason(""), "version string is empty");
        assert_eq!(reason("  "), "version number is empty");
        assert_eq!(reason("1.0 1"), "version string has embedded spaces");
        assert_eq!(reason(":1.0"), "epoch in version is empty");
        assert_eq!(reason("a:1.0"), "epoch in version is not number");
        assert_eq!(reason("2147483648:1.0"), "epoch in version is too big");
        assert_eq!(reason("1:"), "nothing after colon in version number");
        assert_eq!(reason("1.0-"), "revision number is empty");
        assert_eq!(reason("-1"), "version number is empty");
        assert_eq!(reason("a1.0"), "version number does not start with digit");
        assert_eq!(reason("1.0_1"), "invalid character in version number");
        assert_eq!(reason("1.0-1_1"), "invalid character in revision number");
    }

    #[test]
    fn splits_like_dpkg() {
        let parts = |epoch, upstream, revision| {
            Ok(Parts {
                epoch,
                upstream,
                revision,
            })
        };
        assert_eq!(split(" \t1:1.0-1 \t"), parts(1, "1.0", Some("1")));
        assert_eq!(split("1:2:3-4-5"), parts(1, "2:3-4", Some("5")));
        assert_eq!(split("1.0"), parts(0, "1.0", None));
        assert_eq!(compare(" 1.0", "1.0 "), Ok(Ordering::Equal));
    }

    #[test]
    fn empty_digit_run_equals_zero_as_in_dpkg() {
        // debversion alone says Less for these; dpkg says Equal.
        for (a, b) in [
            ("1.0~rc", "1.0~rc0"),
            ("2A", "2A00"),
            ("2.", "2.0"),
            ("1-1+", "1-1+0"),
        ] {
            assert_eq!(compare(a, b), Ok(Ordering::Equal), "{a} vs {b}");
        }
        assert_eq!(with_trailing_digit("1.0+dfsg"), "1.0+dfsg0");
        assert_eq!(with_trailing_digit("1.0"), "1.0");
    }
}
