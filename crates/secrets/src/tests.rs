//! Unit tests: per-rule true/false positives from `testdata/rule-cases.yaml` (token shapes
//! generated from templates), masking, lines, binary and size handling, config loading.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::*;
use crate::render::{CODE_MAX_CAUSE, MAX_EXCERPT};
use crate::rules::Rule;

// ------------------------------------------------------------------ case templates

/// Deterministic xorshift64* generator (tests need reproducible "random" tokens).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick(&mut self, alphabet: &[u8]) -> u8 {
        alphabet[(self.next() % alphabet.len() as u64) as usize]
    }
}

fn alphabet(class: &str) -> &'static [u8] {
    match class {
        "an" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "alpha" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "Hex" => b"0123456789abcdefABCDEF",
        "up" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "upn" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "low" => b"abcdefghijklmnopqrstuvwxyz",
        "lown" => b"abcdefghijklmnopqrstuvwxyz0123456789",
        "b32" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "b64" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        "url" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
        "dig" => b"0123456789",
        "bech" => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
        "ah" => b"abcdefgh0123456789",
        _ => panic!("unknown class {class:?} in a case template"),
    }
}

/// Expands `{class:N}` placeholders with generated characters and strips the `[[`/`]]`
/// markers, returning the text and the byte range the markers enclosed.
fn expand(template: &str, seed: u64) -> (String, Option<(usize, usize)>) {
    let re = regex::Regex::new(r"\{([A-Za-z0-9]+):([0-9]+)\}|\[\[|\]\]").unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed.wrapping_mul(0x1000_0000_01B3) + 1));
    let mut out = String::new();
    let (mut open, mut range) = (None, None);
    let mut last = 0;
    for m in re.captures_iter(template) {
        let whole = m.get(0).unwrap();
        out.push_str(&template[last..whole.start()]);
        last = whole.end();
        match whole.as_str() {
            "[[" => open = Some(out.len()),
            "]]" => range = Some((open.take().expect("]] without [["), out.len())),
            _ => {
                let a = alphabet(&m[1]);
                for _ in 0..m[2].parse::<usize>().unwrap() {
                    out.push(rng.pick(a) as char);
                }
            }
        }
    }
    out.push_str(&template[last..]);
    (out, range)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleCases {
    /// Texts the rule must report; `[[...]]` marks the secret.
    tp: Vec<String>,
    /// Texts on which nothing at all may be reported.
    tn: Vec<String>,
    /// Path the texts are scanned as (default `app/config/settings.txt`).
    #[serde(default)]
    path: Option<String>,
    /// Other rules allowed to report in the `tp` texts.
    #[serde(default)]
    also: Vec<String>,
}

fn cases() -> BTreeMap<String, RuleCases> {
    serde_norway::from_str(include_str!("../testdata/rule-cases.yaml")).unwrap()
}

/// The text with the secret range replaced by `*` (newlines kept), split in lines.
fn expected_masked_lines(text: &str, secret: (usize, usize)) -> Vec<String> {
    let mut b = text.as_bytes().to_vec();
    for x in &mut b[secret.0..secret.1] {
        if *x != b'\n' {
            *x = b'*';
        }
    }
    String::from_utf8(b)
        .unwrap()
        .split('\n')
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

const SEEDS: u64 = 12;

#[test]
fn every_rule_has_true_positive_and_true_negative_cases() {
    let s = Scanner::builtin();
    let cases = cases();
    for r in s.rules() {
        let c = cases
            .get(r.id)
            .unwrap_or_else(|| panic!("rule {} has no cases in testdata/rule-cases.yaml", r.id));
        assert!(
            !c.tp.is_empty() && !c.tn.is_empty(),
            "rule {}: needs tp and tn cases",
            r.id
        );
    }
    for id in cases.keys() {
        assert!(s.rules().any(|r| r.id == id), "cases for unknown rule {id}");
    }
}

#[test]
fn true_positives_are_found_with_the_secret_masked() {
    let s = Scanner::builtin();
    let mut failures = Vec::new();
    for (id, c) in cases() {
        let path = c.path.as_deref().unwrap_or("app/config/settings.txt");
        for (i, t) in c.tp.iter().enumerate() {
            for seed in 0..SEEDS {
                let (text, range) = expand(t, seed);
                let range =
                    range.unwrap_or_else(|| panic!("{id} tp #{i}: mark the secret with [[...]]"));
                let secret = &text[range.0..range.1];
                let found = s.scan(path, text.as_bytes());
                let Some(f) = found.iter().find(|f| f.rule_id == id) else {
                    failures.push(format!(
                        "{id} tp #{i} seed {seed}: not found in {text:?}; got {:?}",
                        found.iter().map(|f| &f.rule_id).collect::<Vec<_>>()
                    ));
                    continue;
                };
                let others: Vec<_> = found
                    .iter()
                    .filter(|f| f.rule_id != id && !c.also.contains(&f.rule_id))
                    .map(|f| f.rule_id.clone())
                    .collect();
                if !others.is_empty() {
                    failures.push(format!(
                        "{id} tp #{i} seed {seed}: unexpected {others:?} in {text:?}"
                    ));
                }
                let lines = expected_masked_lines(&text, range);
                let want_start = text[..range.0].matches('\n').count() + 1;
                if f.matched != lines[f.start_line - 1] || f.start_line > want_start {
                    failures.push(format!(
                        "{id} tp #{i} seed {seed}: Match {:?} (line {}) != expected {:?}",
                        f.matched,
                        f.start_line,
                        lines[want_start - 1]
                    ));
                }
                for l in &f.code.lines {
                    if l.content != lines[l.number - 1] {
                        failures.push(format!(
                            "{id} tp #{i}: code line {} {:?} != {:?}",
                            l.number,
                            l.content,
                            lines[l.number - 1]
                        ));
                    }
                }
                let dump = format!("{f:?}");
                if secret.len() >= 6 && dump.contains(secret) {
                    failures.push(format!(
                        "{id} tp #{i}: the raw secret leaked into the finding"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn true_negatives_report_nothing() {
    let s = Scanner::builtin();
    let mut failures = Vec::new();
    for (id, c) in cases() {
        let path = c.path.as_deref().unwrap_or("app/config/settings.txt");
        for (i, t) in c.tn.iter().enumerate() {
            for seed in 0..SEEDS {
                let (text, _) = expand(t, seed);
                let found = s.scan(path, text.as_bytes());
                if !found.is_empty() {
                    failures.push(format!(
                        "{id} tn #{i} seed {seed}: {:?} reported in {text:?}",
                        found
                            .iter()
                            .map(|f| (&f.rule_id, &f.matched))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ------------------------------------------------------------------ rule set shape

#[test]
fn builtin_rule_set_shape() {
    let s = Scanner::builtin();
    let rules: Vec<_> = s.rules().collect();
    assert!(rules.len() >= 80, "{} rules", rules.len());
    let kebab = regex::Regex::new(r"^[a-z0-9]+(?:-[a-z0-9]+)*$").unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for r in &rules {
        assert!(kebab.is_match(r.id), "id {:?} is not kebab-case", r.id);
        assert!(ids.insert(r.id), "duplicate id {}", r.id);
        assert!(
            !r.keywords.is_empty(),
            "{} has no keywords: it would run on every file",
            r.id
        );
        assert!(!r.category.is_empty() && !r.title.is_empty(), "{}", r.id);
    }
    let cats: std::collections::BTreeSet<_> = rules.iter().map(|r| r.category).collect();
    for c in [
        "AWS",
        "GitHub",
        "GitLab",
        "Slack",
        "Stripe",
        "Google",
        "Azure",
        "AsymmetricPrivateKey",
        "JWT",
        "npm",
        "PyPI",
        "Docker",
        "Twilio",
        "SendGrid",
        "Shopify",
        "HashiCorp",
        "Database",
        "Generic",
    ] {
        assert!(cats.contains(c), "no {c} rule");
    }
}

#[test]
fn the_aws_docs_example_key_is_allowed_but_a_real_shape_is_not() {
    let s = Scanner::builtin();
    assert!(s.scan("app/x", b"key = AKIAIOSFODNN7EXAMPLE\n").is_empty());
    assert_eq!(
        s.scan("app/x", b"key = AKIAIOSFODNN7ABCDEFG\n")[0].rule_id,
        "aws-access-key-id"
    );
}

// ------------------------------------------------------------------ masking and lines

#[test]
fn lines_masking_and_context() {
    let s = Scanner::builtin();
    let text = "# settings\r\nname = demo\r\nGITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJabcdef\r\nSTRIPE=sk_live_0123456789abcdefghijABCD other=sk_live_ABCDEFGHIJ0123456789abcd\r\nend\r\n";
    let f = s.scan("app/.env", text.as_bytes());
    assert_eq!(f.len(), 3, "{f:#?}");
    assert_eq!(
        (f[0].rule_id.as_str(), f[0].start_line, f[0].end_line),
        ("github-pat", 3, 3)
    );
    assert_eq!(f[0].matched, format!("GITHUB_TOKEN={}", "*".repeat(40)));
    // Both secrets of line 4 are masked in each finding of that line.
    let masked4 = format!("STRIPE={} other={}", "*".repeat(32), "*".repeat(32));
    assert_eq!(
        (f[1].start_line, f[1].matched.as_str()),
        (4, masked4.as_str())
    );
    assert_eq!(
        (f[2].start_line, f[2].matched.as_str()),
        (4, masked4.as_str())
    );
    // Context: two lines before and after, masked, \r stripped.
    let code: Vec<_> = f[0]
        .code
        .lines
        .iter()
        .map(|l| (l.number, l.content.as_str(), l.is_cause))
        .collect();
    assert_eq!(
        code,
        vec![
            (1, "# settings", false),
            (2, "name = demo", false),
            (3, f[0].matched.as_str(), true),
            (4, masked4.as_str(), false),
            (5, "end", false),
        ]
    );
    assert!(f[0].code.lines[2].first_cause && f[0].code.lines[2].last_cause);
}

#[test]
fn multi_line_private_key_spans_its_lines() {
    let s = Scanner::builtin();
    let body: String = (0..10)
        .map(|i| format!("{}\n", format!("MIIEv{i}").repeat(8)))
        .collect();
    let text = format!(
        "intro\n-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----\ntail\n"
    );
    let f = s.scan("app/key.pem", text.as_bytes());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!((f[0].start_line, f[0].end_line), (2, 13));
    assert_eq!(f[0].matched, "-----BEGIN RSA PRIVATE KEY-----");
    let causes: Vec<_> = f[0].code.lines.iter().filter(|l| l.is_cause).collect();
    assert_eq!(causes.len(), CODE_MAX_CAUSE, "cause lines are capped");
    for l in &f[0].code.lines {
        assert!(!l.content.contains("MIIEv"), "unmasked key material: {l:?}");
    }
    assert_eq!(f[0].code.lines[2].content, "*".repeat(48));
}

#[test]
fn long_lines_are_cut_around_the_secret() {
    let s = Scanner::builtin();
    let mut text = "x".repeat(3 << 20);
    text.push_str(" token=ghp_0123456789abcdefghijABCDEFGHIJabcdef ");
    text.push_str(&"é".repeat(2 << 20));
    text.push('\n');
    let f = s.scan("app/big.js", text.as_bytes());
    assert_eq!(f.len(), 1);
    let m = &f[0].matched;
    assert!(m.len() <= MAX_EXCERPT + 6, "{} bytes", m.len());
    assert!(
        m.starts_with("...") && m.ends_with("...") && m.contains(&"*".repeat(40)),
        "{m}"
    );
    assert!(
        m.contains('é') && !m.contains('\u{FFFD}'),
        "cut on a character boundary: {m}"
    );
    assert!(f[0]
        .code
        .lines
        .iter()
        .all(|l| l.content.len() <= MAX_EXCERPT + 6));
    assert!(f[0].code.lines.iter().any(|l| l.truncated));
}

#[test]
fn mask_replaces_every_reported_secret() {
    let s = Scanner::builtin();
    let text =
        "a=1\nGITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJabcdef\nAWS=AKIAZ2345ABCDEFGHIJK\n";
    let masked = String::from_utf8(s.mask("app/.env", text.as_bytes()).unwrap()).unwrap();
    assert_eq!(
        masked,
        format!(
            "a=1\nGITHUB_TOKEN={}\nAWS={}\n",
            "*".repeat(40),
            "*".repeat(20)
        )
    );
    assert!(s.mask("app/.env", b"nothing here\n").is_none());
}

#[test]
fn overlapping_reports_keep_the_more_specific_rule() {
    let s = Scanner::builtin();
    let f = s.scan("app/.env", b"AWS_ACCESS_KEY_ID=AKIAZ2345ABCDEFGHIJK\n");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].rule_id, "aws-access-key-id");
}

// ------------------------------------------------------------------ bad input

#[test]
fn binary_content_is_skipped() {
    let s = Scanner::builtin();
    let token = b"ghp_0123456789abcdefghijABCDEFGHIJabcdef";
    let mut nul = b"\x7fELF\x02\x01\x01\x00".to_vec();
    nul.extend_from_slice(token);
    assert!(looks_binary(&nul));
    assert!(s.scan("app/bin", &nul).is_empty());
    // No NUL, but mostly invalid UTF-8.
    let mut junk: Vec<u8> = (0..4000u32).map(|i| 0x80 | (i % 64) as u8).collect();
    junk.extend_from_slice(token);
    assert!(looks_binary(&junk));
    assert!(s.scan("app/blob", &junk).is_empty());
    // Latin-1 text (a few invalid bytes) is still text.
    let mut latin1 = b"caf\xe9 cr\xe8me br\xfbl\xe9e\n".repeat(20);
    latin1.extend_from_slice(b"t=");
    latin1.extend_from_slice(token);
    latin1.extend_from_slice(b"\n\xff\xfe");
    assert!(!looks_binary(&latin1));
    let f = s.scan("app/notes.txt", &latin1);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].start_line, 21);
    assert!(f[0].matched.starts_with("t=****"));
    // Text that is mostly multi-byte UTF-8 (more than 30% non-ASCII bytes, all valid).
    let cyrillic = "пароль = секрет\n".repeat(400);
    assert!(!looks_binary(cyrillic.as_bytes()));
    // The 30% threshold, with invalid bytes (lone 0xff) among ASCII.
    let mix = |invalid: usize| {
        let mut t = vec![b'a'; 1000 - invalid];
        t.extend(std::iter::repeat_n(0xffu8, invalid));
        t
    };
    assert!(!looks_binary(&mix(250)));
    assert!(!looks_binary(&mix(300)));
    assert!(looks_binary(&mix(301)));
    // Non-ASCII bytes above 30%, but valid: text.
    let mut valid = "é".repeat(200).into_bytes();
    valid.extend_from_slice(&[b'a'; 400]);
    assert!(!looks_binary(&valid));
    // A NUL after the first 8 KiB does not make a text file binary.
    let mut late = b"a\n".repeat(5000);
    late.push(0);
    assert!(!looks_binary(&late));
}

#[test]
fn the_sniff_sees_every_nul_and_non_ascii_byte() {
    for len in 1..40 {
        let text = vec![b'a'; len];
        assert!(!looks_binary(&text));
        for at in 0..len {
            let mut t = text.clone();
            t[at] = 0;
            assert!(looks_binary(&t), "NUL at {at} of {len}");
            // One invalid byte in 3+ bytes is under 30%; alone, it is all of the head.
            t[at] = 0xff;
            assert_eq!(looks_binary(&t), len < 4, "0xff at {at} of {len}");
        }
    }
    assert!(!looks_binary(b""));
}

#[test]
fn size_cap() {
    let s = Scanner::from_yaml("max-file-size: 1KiB", "test").unwrap();
    assert_eq!(s.max_file_size(), 1024);
    let mut text = b"t=ghp_0123456789abcdefghijABCDEFGHIJabcdef\n".to_vec();
    assert_eq!(s.scan("app/a", &text).len(), 1);
    assert!(s.wants("app/a", text.len() as u64));
    text.resize(1025, b'\n');
    assert!(s.scan("app/a", &text).is_empty());
    assert!(!s.wants("app/a", 1025));
    assert!(!s.wants("app/a", 0));
    assert_eq!(Scanner::builtin().max_file_size(), DEFAULT_MAX_FILE_SIZE);
}

#[test]
fn noise_paths_are_skipped_and_app_paths_are_not() {
    let s = Scanner::builtin();
    for p in [
        "usr/share/doc/openssl/README.md",
        "/usr/share/perl5/Foo.pm",
        "usr/local/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA",
        "srv/web/node_modules/express/test/fixtures/key.pem",
        "srv/web/node_modules/@scope/pkg/tests/a.js",
        "usr/local/lib/python3.11/site-packages/django/contrib/auth/tests/x.py",
        "var/lib/dpkg/status",
        "etc/ssl/certs/ca-certificates.crt",
        "srv/web/package-lock.json",
        "srv/web/node_modules/lodash/README.md",
    ] {
        assert!(s.skips_path(p), "{p} should be skipped");
        assert!(!s.wants(p, 100));
    }
    for p in [
        "opt/app/config/.env",
        "opt/app/config/deploy-key.pem",
        "srv/web/app.js",
        "srv/web/node_modules/express/lib/router/index.js",
        "usr/local/lib/python3.11/site-packages/django/conf/global_settings.py",
        "etc/nginx/nginx.conf",
        "root/.docker/config.json",
        "home/app/tests/.env",
    ] {
        assert!(!s.skips_path(p), "{p} should be scanned");
    }
}

// ------------------------------------------------------------------ config

#[test]
fn custom_rules_disable_and_allow() {
    let yaml = r#"
rules:
  - id: acme-internal-token
    category: ACME
    title: ACME internal token
    severity: CRITICAL
    regex: '\b(?P<secret>acme_[a-z0-9]{32})\b'
    keywords: [acme_]
  - id: generic-secret
    category: Generic
    title: replaced built-in
    severity: LOW
    regex: 'NEVERMATCHES(?P<secret>x)'
    keywords: [nevermatches]
disable-rules: [jwt-token]
disable-allow-rules: [usr-share]
allow-rules:
  - id: fixtures
    path: '^opt/fixtures/'
  - id: known-test-token
    regex: '^acme_0{32}$'
max-file-size: 2MiB
"#;
    let s = Scanner::from_yaml(yaml, "cfg.yaml").unwrap();
    let ids: Vec<_> = s.rules().map(|r| r.id).collect();
    assert_eq!(ids[0], "acme-internal-token", "custom rules come first");
    assert!(!ids.contains(&"jwt-token"));
    assert_eq!(
        s.rules().find(|r| r.id == "generic-secret").unwrap().title,
        "replaced built-in"
    );
    assert_eq!(
        ids.len(),
        Scanner::builtin().rules().count(),
        "one added, one removed, one replaced"
    );
    let tok = "acme_0123456789abcdefghij0123456789ab";
    let f = s.scan("opt/app/x", format!("ACME={tok}\n").as_bytes());
    assert_eq!(
        (f.len(), f[0].rule_id.as_str(), f[0].matched.as_str()),
        (
            1,
            "acme-internal-token",
            "ACME=*************************************"
        )
    );
    assert!(s
        .scan("opt/fixtures/x", format!("ACME={tok}\n").as_bytes())
        .is_empty());
    assert!(s.skips_path("opt/fixtures/x"));
    assert!(s
        .scan(
            "opt/app/x",
            format!("ACME=acme_{}\n", "0".repeat(32)).as_bytes()
        )
        .is_empty());
    assert!(!s.skips_path("usr/share/app/config"), "usr-share disabled");
    assert!(
        s.skips_path("usr/share/doc/x/README"),
        "package-docs still on"
    );
    let jwt =
        "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYm9iIiwicm9sZSI6ImFkbWluIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    assert!(
        s.scan("opt/app/x", jwt.as_bytes()).is_empty(),
        "jwt-token disabled"
    );
    assert_eq!(
        Scanner::builtin().scan("opt/app/x", jwt.as_bytes())[0].rule_id,
        "jwt-token"
    );
    assert_eq!(s.max_file_size(), 2 << 20);

    let only =
        Scanner::from_yaml("enable-builtin-rules: [github-pat, aws-access-key-id]", "t").unwrap();
    assert_eq!(only.rules().count(), 2);
}

#[test]
fn keywords_gate_the_regex() {
    let yaml = r#"
enable-builtin-rules: [github-pat]
rules:
  - id: gated
    category: T
    title: gated
    severity: LOW
    regex: '(?P<secret>zz[0-9]{8})'
    keywords: [gatekeeper]
"#;
    let s = Scanner::from_yaml(yaml, "t").unwrap();
    assert!(
        s.scan("a", b"v = zz12345678\n").is_empty(),
        "no keyword, no regex run"
    );
    assert_eq!(
        s.scan("a", b"GATEKEEPER v = zz12345678\n").len(),
        1,
        "keywords are case-insensitive"
    );
}

/// The regions a rule's line plan selects in `text`, anchor ends found by a plain search
/// (independently of the keyword automaton).
fn plan_regions(rule: &Rule, text: &[u8]) -> Option<Vec<(usize, usize)>> {
    let plan = rule.lines.as_ref()?;
    let mut ends: Vec<usize> = Vec::new();
    for k in &plan.anchors {
        let k = k.as_bytes();
        for (i, w) in text.windows(k.len()).enumerate() {
            if w.eq_ignore_ascii_case(k) {
                ends.push(i + k.len() - 1);
            }
        }
    }
    ends.sort_unstable();
    ends.dedup();
    let mut out = Vec::new();
    plan.regions(text, &ends, &mut out);
    Some(out)
}

/// A match and its secret group (byte spans).
type Span = (usize, usize);

/// All matches (and secret groups) of `rule` in `text`, whole-file or with its line plan.
fn matches(rule: &Rule, text: &[u8], planned: bool) -> Vec<(Span, Option<Span>)> {
    let regions = if planned {
        plan_regions(rule, text)
    } else {
        None
    };
    let mut out = Vec::new();
    rule.for_each_match(text, regions.as_deref(), |m, g| out.push((m, g)));
    out
}

/// Texts for the differential tests: every case text of every rule alone, inside other
/// lines, twice on a line, with CRLF endings, and all of them joined in one file with
/// assorted separators.
fn case_texts() -> Vec<String> {
    let mut snippets = Vec::new();
    for c in cases().values() {
        for t in c.tp.iter().chain(&c.tn) {
            for seed in 0..4 {
                snippets.push(expand(t, seed).0);
            }
        }
    }
    let mut texts: Vec<String> = Vec::new();
    for sn in &snippets {
        texts.push(sn.clone());
        texts.push(format!("a = 1\n{sn}\nb = 2\n"));
        texts.push(format!("x{sn} {sn}x"));
        texts.push(format!("# c\r\n{}\r\n", sn.replace('\n', "\r\n")));
    }
    let seps = [
        "\n", " ", "\r\n", "\t", "", "\n\n", "=", "\"", "'", ";", "\n  ",
    ];
    let mut rng = Rng(7);
    let mut all = String::new();
    for _ in 0..3 {
        for sn in &snippets {
            all.push_str(sn);
            all.push_str(seps[(rng.next() % seps.len() as u64) as usize]);
        }
    }
    texts.push(all);
    texts
}

/// Every rule with a line plan finds, with it, exactly the matches (and secret groups) of a
/// whole-file search.
#[test]
fn line_plans_find_exactly_the_matches_of_a_whole_file_search() {
    let s = Scanner::builtin();
    let texts = case_texts();
    let (mut by_keywords, mut by_literals, mut found) = (0, 0, 0);
    for rule in &s.rules {
        match &rule.lines {
            None => continue,
            Some(plan) if plan.anchors == rule.keywords => by_keywords += 1,
            Some(_) => by_literals += 1,
        }
        for t in &texts {
            let whole = matches(rule, t.as_bytes(), false);
            assert_eq!(
                matches(rule, t.as_bytes(), true),
                whole,
                "rule {} on {t:?}",
                rule.id
            );
            found += whole.len();
        }
    }
    assert!(
        by_keywords >= 50 && by_literals >= 1,
        "{by_keywords} {by_literals}"
    );
    assert!(found >= 1000, "{found} matches compared");
}

/// The whole scanner, with the keyword automaton's positions feeding the line plans, reports
/// what it reports with every line plan turned off.
#[test]
fn scanning_with_line_plans_equals_scanning_without() {
    let with = Scanner::builtin();
    let mut without = with.clone();
    for r in &mut without.rules {
        r.lines = None;
    }
    let key = |s: &Scanner, t: &str| {
        s.find("app/config/settings.txt", t.as_bytes())
            .iter()
            .map(|c| (c.rule, c.whole, c.secret))
            .collect::<Vec<_>>()
    };
    let mut found = 0;
    for t in case_texts() {
        let want = key(&without, &t);
        assert_eq!(key(&with, &t), want, "{t:?}");
        found += want.len();
    }
    assert!(found >= 500, "{found} findings compared");
}

/// A file with more keyword positions than are kept is searched whole: same findings.
#[test]
fn too_many_keyword_positions_fall_back_to_whole_file_searches() {
    let with = Scanner::builtin();
    let mut without = with.clone();
    for r in &mut without.rules {
        r.lines = None;
    }
    // Two tracked keywords per 8 bytes (`://` for url-credentials, `pwd` for
    // generic-password): past the cap of positions.
    let mut text = ":// pwd\n".repeat(keywords::MAX_ENDS / 2 + 1000);
    text.push_str("url = https://deploy:Zq8vR2mK4tWx@git.example.org/repo.git\n");
    text.push_str("db_password = \"hR7!kq2Vz9Lm\"\n");
    let (mut on, mut ends) = (vec![false; with.rules.len()], Vec::new());
    with.keywords
        .as_ref()
        .unwrap()
        .mark(text.as_bytes(), &mut on, &mut ends);
    assert_eq!(ends.len(), keywords::MAX_ENDS, "the cap is reached");
    let key = |s: &Scanner| {
        s.find("app/x", text.as_bytes())
            .iter()
            .map(|c| (c.rule, c.whole, c.secret))
            .collect::<Vec<_>>()
    };
    let want = key(&without);
    assert_eq!(want.len(), 2, "{want:?}");
    assert_eq!(key(&with), want);
}

/// The same for hand-written regexes with line anchors, word boundaries and alternatives.
#[test]
fn line_plans_keep_look_around_at_region_edges() {
    let patterns = [
        (
            r"(?m)^[ \t]*(?:export[ \t]+)?[a-z_]*pwd[ \t]*=[ \t]*(?P<secret>\S{3,})[ \t]*\r?$",
            "pwd",
        ),
        (
            r"(?i)[a-z_.-]*(?:password|passwd)\b[ \t]*[:=][ \t]*(?P<secret>[^\s'\x22]{3,})",
            "passw",
        ),
        (
            r"(?m)(?:^|[^a-z\n])[a-z]*token[a-z]*=(?P<secret>[a-z0-9]{4,})$",
            "token",
        ),
        // A final one-byte part that may take the line's `\n`.
        (r"\btok_(?P<secret>[a-z0-9]{4,8})(?:[^a-z0-9]|\z)", "tok_"),
        (r"(?i)tok_(?P<secret>[a-z0-9]{4})(?:[^a-z0-9_]|$)", "tok_"),
    ];
    let texts = [
        "pwd=abc\n",
        "x\n  export my_pwd = s3cr3t  \r\ny_pwd=zz\npwd=\n",
        "PASSWORD: hunter22\nold_passwd=abc passwd=defg\npasswords: no\n",
        "a token=abcd\nxtokenx=1234\n-token=9999",
        "tokentoken=aaaa\ntoken=bbbb\r\n",
        "no secrets\n\n\n",
        "tok_abcd\ntok_abcdefghi tok_1234\ntok_9999",
        "x tok_abcd\r\ntok_ab\ntok_abcd\n\ntok_zzzz,tok_yyyy\n",
    ];
    for (p, keyword) in patterns {
        for keywords in [vec![], vec![keyword]] {
            let def: config::RuleDef = serde_norway::from_str(&format!(
                "{{id: t, category: c, title: t, severity: LOW, regex: '{}', keywords: {keywords:?}}}",
                p.replace('\'', "''")
            ))
            .unwrap();
            let rule = Rule::compile(&def).unwrap();
            assert!(rule.lines.is_some(), "no plan for {p} {keywords:?}");
            let mut found = 0;
            for t in texts {
                let whole = matches(&rule, t.as_bytes(), false);
                assert_eq!(matches(&rule, t.as_bytes(), true), whole, "{p} on {t:?}");
                found += whole.len();
            }
            assert!(found >= 2, "{p}: {found} matches");
        }
    }
}

#[test]
fn exclude_blocks_drop_the_secrets_wholly_inside_them() {
    let token = |c: char| format!("ghp_{}", c.to_string().repeat(36));
    let text = format!(
        "a = {}\n# --- fixtures start ---\nb = {}\nc = {}\n# --- fixtures end ---\nd = {}\n",
        token('a'),
        token('b'),
        token('c'),
        token('d')
    );
    let lines = |s: &Scanner| {
        s.scan("app/x.env", text.as_bytes())
            .iter()
            .map(|f| f.start_line)
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&Scanner::builtin()), [1, 3, 4, 6]);
    // Global, Trivy's format: the block spans lines (`(.|\s)*`).
    let global = Scanner::from_yaml(
        "exclude-block:\n  description: test fixtures\n  regexes:\n    - '--- fixtures start ---(.|\\s)*--- fixtures end ---'\n",
        "t",
    )
    .unwrap();
    assert_eq!(lines(&global), [1, 6]);
    // A block holding only part of a secret does not hide it.
    let partial = Scanner::from_yaml(
        "exclude-block:\n  regexes: ['ghp_aaaa', 'c = ghp_c{10}']\n",
        "t",
    )
    .unwrap();
    assert_eq!(lines(&partial), [1, 3, 4, 6]);
    // Per rule: only that rule's findings.
    let rule = |id: &str| {
        format!(
            "rules:\n  - id: {id}\n    category: GitHub\n    title: t\n    severity: HIGH\n    regex: '(?P<secret>ghp_[a-z]{{36}})'\n    keywords: [ghp_]\n    exclude-block:\n      regexes: ['(?s)start ---.*--- fixtures end']\n"
        )
    };
    let own = Scanner::from_yaml(&rule("github-pat"), "t").unwrap();
    assert_eq!(lines(&own), [1, 6]);
    let other = Scanner::from_yaml(
        &format!("{}disable-rules: [github-pat]\n", rule("mine")),
        "t",
    )
    .unwrap();
    assert_eq!(lines(&other), [1, 6]);
    let mut mixed = rule("mine");
    mixed.push_str("disable-rules: [github-pat]\n");
    mixed = mixed.replace("(?P<secret>ghp_[a-z]{36})", "(?P<secret>ghp_[a-c]{36})");
    let s = Scanner::from_yaml(&mixed, "t").unwrap();
    assert_eq!(lines(&s), [1]);
}

#[test]
fn findings_carry_the_byte_offset_of_the_secret() {
    let s = Scanner::builtin();
    let token = format!("ghp_{}", "x1Y2".repeat(9));
    let text = format!("first line\ntoken = {token}\n");
    let f = s.scan("app/x", text.as_bytes());
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].offset, text.find("ghp_").unwrap());
    assert_eq!(&text[f[0].offset..f[0].offset + 4], "ghp_");
    // Serialized like Trivy's `Offset int json:",omitempty"`: absent when 0.
    let at_zero = s.scan("app/x", token.as_bytes());
    assert_eq!(at_zero[0].offset, 0);
    assert!(!serde_norway::to_string(&at_zero[0])
        .unwrap()
        .contains("Offset"));
    let yaml = serde_norway::to_string(&f[0]).unwrap();
    assert!(yaml.contains(&format!("Offset: {}", f[0].offset)), "{yaml}");
}

#[test]
fn the_readme_example_config_is_valid() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("```yaml\n# Custom rules.")
        .expect("the example")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    let s = Scanner::from_yaml(&readme[start..end], "README.md").unwrap();
    assert_eq!(s.rules().next().unwrap().id, "acme-internal-token");
    assert_eq!(s.exclude.len(), 1);
}

#[test]
fn config_errors_are_clear() {
    let bad = |yaml: &str, want: &str| {
        let e = Scanner::from_yaml(yaml, "my.yaml").unwrap_err().to_string();
        assert!(
            e.contains("my.yaml") && e.contains(want),
            "{e:?} should mention {want:?}"
        );
    };
    let rule = |regex: &str| {
        format!("rules:\n  - id: r1\n    category: c\n    title: t\n    severity: HIGH\n    regex: '{regex}'\n")
    };
    bad(&rule("(?P<secret>[a-z"), "regex");
    bad(&rule("[a-z]+"), "named group \"secret\"");
    bad("rules:\n  - id: r\n    category: c\n    title: t\n    severity: SEVERE\n    regex: '(?P<secret>x)'\n", "severity");
    bad("disable-rules: [no-such-rule]", "no-such-rule");
    bad("disable-allow-rules: [nope]", "nope");
    bad("enable-builtin-rules: [nope]", "nope");
    bad("exclude-block: {regex: x}", "unknown field");
    bad("exclude-block: {regexes: ['(']}", "exclude-block");
    bad("allow-rules:\n  - id: empty\n", "needs `regex` or `path`");
    bad("max-file-size: 12 parsecs", "size");
    bad(&format!("{}{}", rule("(?P<secret>x)"), "  - id: r1\n    category: c\n    title: t\n    severity: LOW\n    regex: '(?P<secret>y)'\n"), "twice");
    let missing = Scanner::with_config(Path::new("/nonexistent/secret.yaml")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/secret.yaml"));
    assert!(Scanner::from_yaml("", "empty").is_ok());
}

/// A file of 100,000 key-shaped strings: each finding is checked against the kept ones in
/// O(log n) (before, against every kept one, and each excerpt masked by a pass over all of them:
/// ~10¹⁰ steps, minutes in a debug build; a 10 MiB file was ~10¹¹).
#[test]
fn a_file_dense_with_keys_is_scanned_in_near_linear_time() {
    let mut rng = Rng(7);
    let upper = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut text = Vec::with_capacity(100_000 * 21);
    for _ in 0..100_000 {
        text.extend_from_slice(b"AKIA");
        for _ in 0..16 {
            text.push(rng.pick(upper));
        }
        text.push(b'\n');
    }
    let s = Scanner::builtin();
    let found = s.scan("app/keys.txt", &text);
    assert!(found.len() >= 99_000, "{}", found.len());
    // Each excerpt masks its neighbours' keys too (found through the sorted spans).
    assert!(found[1]
        .code
        .lines
        .iter()
        .all(|l| !l.content.contains("AKIA")));
}
