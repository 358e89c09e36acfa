//! Alpine apk-tools version ordering (`apk_version_compare()` of apk-tools 3,
//! src/version.c), re-implemented without allocation.
//!
//! Grammar: `digits{.digits}...{letter}{_suffix{digits}}...{~hash}{-r digits}`.
//! A version is a sequence of tokens, compared pairwise while both sides have
//! a token of the same kind:
//! * the first number and suffix/revision numbers compare numerically;
//! * a later `.`-number compares numerically unless either side starts with
//!   `0`, in which case the two digit strings compare as strings (so
//!   `1.01 < 1.1`, `1.0 < 1.00`, `1.001 < 1.01`);
//! * a letter compares by its byte; a `~hash` (lowercase hex) as a string;
//! * suffixes rank `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`.
//!
//! When one side runs out or the token kinds differ, a pre-release suffix
//! (`_alpha`.. `_rc`) on a side makes it the lesser; otherwise the side whose
//! next token is more significant (earlier in the grammar) is the greater, and
//! the end of the string is least significant. So `1.0 < 1.0-r0`,
//! `1.0a < 1.0.1`, `1.0_p1 > 1.0-r1`, `1.0~abc > 1.0-r1`.
//!
//! Numbers are accumulated in a `u64` that wraps on overflow, exactly like
//! apk-tools' `apk_blob_pull_uint()`, so `18446744073709551616 = 0` there and
//! here. A string apk rejects (`apk version -c`) is an error, including the
//! empty string and any blank.

use std::cmp::Ordering;

use crate::{Scheme, VersionError};

/// Compares two apk versions; errors if either is not a valid apk version.
pub fn compare(a: &str, b: &str) -> Result<Ordering, VersionError> {
    validate(a)?;
    validate(b)?;
    Ok(compare_valid(a.as_bytes(), b.as_bytes()))
}

/// Checks that `version` is a valid apk version (what `apk version -c` accepts).
pub fn validate(version: &str) -> Result<(), VersionError> {
    let bytes = version.as_bytes();
    let mut t = Tokenizer::new(bytes);
    let mut start = 0;
    while t.token < Token::End {
        start = bytes.len() - t.rest.len();
        t.next();
    }
    if t.token == Token::End {
        return Ok(());
    }
    let reason = if bytes.is_empty() {
        "version string is empty".to_owned()
    } else if !bytes[0].is_ascii_digit() {
        "version does not start with a digit".to_owned()
    } else {
        format!(
            "unexpected {:?} at byte {start}",
            String::from_utf8_lossy(&bytes[start..])
        )
    };
    Err(VersionError::new(Scheme::Apk, version, reason))
}

/// Token kinds in grammar order; the order matters (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `NONE` is the pivot between pre- and post-release suffixes.
const SUFFIXES: [(&[u8], u8); 9] = [
    (b"alpha", 1),
    (b"beta", 2),
    (b"pre", 3),
    (b"rc", 4),
    (b"cvs", 6),
    (b"svn", 7),
    (b"git", 8),
    (b"hg", 9),
    (b"p", 10),
];
const SUFFIX_NONE: u8 = 5;

/// A cursor over a version string; `token`, `number`, `suffix` and `value`
/// describe the current token, `rest` is what follows it.
struct Tokenizer<'a> {
    token: Token,
    number: u64,
    suffix: u8,
    value: &'a [u8],
    rest: &'a [u8],
}

impl<'a> Tokenizer<'a> {
    /// Reads the leading number (apk's `token_first`).
    fn new(s: &'a [u8]) -> Self {
        let mut t = Tokenizer {
            token: Token::InitialDigit,
            number: 0,
            suffix: 0,
            value: &[],
            rest: s,
        };
        t.parse_digits();
        t
    }

    fn parse_digits(&mut self) {
        let len = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(len);
        self.number = digits.iter().fold(0u64, |n, d| {
            n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        self.value = digits;
        self.rest = rest;
        if digits.is_empty() {
            self.token = Token::Invalid;
        }
    }

    /// Takes the longest prefix of `rest` whose bytes satisfy `class` as `value`.
    fn take_span(&mut self, class: fn(&u8) -> bool) {
        let len = self.rest.iter().take_while(|b| class(b)).count();
        (self.value, self.rest) = self.rest.split_at(len);
    }

    /// Advances to the next token (apk's `token_next`), checking that it may
    /// follow the current one.
    fn next(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.token = Token::End;
            return;
        };
        let prev = self.token;
        self.token = match c {
            b'a'..=b'z' if prev <= Token::Digit => {
                (self.value, self.rest) = self.rest.split_at(1);
                Token::Letter
            }
            b'.' if prev <= Token::Digit => {
                self.rest = &self.rest[1..];
                self.token = Token::Digit;
                self.parse_digits();
                return;
            }
            b'0'..=b'9' if prev == Token::Suffix => {
                self.token = Token::SuffixNo;
                self.parse_digits();
                return;
            }
            b'_' if prev <= Token::SuffixNo => {
                self.rest = &self.rest[1..];
                self.take_span(u8::is_ascii_lowercase);
                match SUFFIXES.iter().find(|(name, _)| *name == self.value) {
                    Some(&(_, rank)) => {
                        self.suffix = rank;
                        Token::Suffix
                    }
                    None => Token::Invalid,
                }
            }
            b'~' if prev < Token::CommitHash => {
                self.rest = &self.rest[1..];
                self.take_span(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
                if self.value.is_empty() {
                    Token::Invalid
                } else {
                    Token::CommitHash
                }
            }
            b'-' if prev < Token::RevisionNo => match self.rest.strip_prefix(b"-r") {
                Some(rest) => {
                    self.rest = rest;
                    self.token = Token::RevisionNo;
                    self.parse_digits();
                    return;
                }
                None => Token::Invalid,
            },
            _ => Token::Invalid,
        };
    }

    /// Compares the current tokens of two tokenizers of the same kind (apk's `token_cmp`).
    fn cmp_token(&self, other: &Self) -> Ordering {
        match self.token {
            Token::Digit if self.value[0] == b'0' || other.value[0] == b'0' => {
                self.value.cmp(other.value)
            }
            Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
                self.number.cmp(&other.number)
            }
            Token::Letter => self.value[0].cmp(&other.value[0]),
            Token::Suffix => self.suffix.cmp(&other.suffix),
            _ => self.value.cmp(other.value),
        }
    }

    fn is_pre_release(&self) -> bool {
        self.token == Token::Suffix && self.suffix < SUFFIX_NONE
    }
}

/// apk's `apk_version_compare()` on two already validated versions.
fn compare_valid(a: &[u8], b: &[u8]) -> Ordering {
    let mut ta = Tokenizer::new(a);
    let mut tb = Tokenizer::new(b);
    while ta.token == tb.token && ta.token < Token::End {
        match ta.cmp_token(&tb) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        ta.next();
        tb.next();
    }
    if ta.token == tb.token {
        return Ordering::Equal;
    }
    if ta.is_pre_release() {
        return Ordering::Less;
    }
    if tb.is_pre_release() {
        return Ordering::Greater;
    }
    // The more significant (earlier in the grammar) next token wins.
    tb.token.cmp(&ta.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_ranks_are_ordered() {
        let mut sorted = SUFFIXES.map(|(_, r)| r);
        sorted.sort_unstable();
        assert_eq!(sorted, SUFFIXES.map(|(_, r)| r));
        assert!(SUFFIXES[3].1 < SUFFIX_NONE && SUFFIX_NONE < SUFFIXES[4].1);
    }

    #[test]
    fn tokenizer_walks_all_kinds() {
        let mut t = Tokenizer::new(b"1.02a_rc3~ab-r4");
        let mut kinds = vec![t.token];
        while t.token < Token::End {
            t.next();
            kinds.push(t.token);
        }
        use Token::*;
        assert_eq!(
            kinds,
            [
                InitialDigit,
                Digit,
                Letter,
                Suffix,
                SuffixNo,
                CommitHash,
                RevisionNo,
                End
            ]
        );
    }

    #[test]
    fn numbers_wrap_like_apk() {
        let t = Tokenizer::new(b"18446744073709551617");
        assert_eq!(t.number, 1);
    }
}
