//! The comparators against the real tools, on generated versions: `dpkg --compare-versions`
//! (Debian's dpkg, on this machine) and `apk version -t` (apk-tools of the Alpine test
//! rootfs, run through that rootfs's own musl loader). Each proptest case generates a pool of
//! valid versions of the scheme (epochs, `~`, `+`, revisions; apk letters, every `_suffix`,
//! `~hash`, `-rN`, leading zeros), compares lexical neighbours (shared prefixes: the close
//! calls) and random pairs, and checks every result against one batched run of the tool.
//!
//! A missing tool fails the test with what to install: it is never skipped.

use std::cmp::Ordering;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sightline_version::{compare, Scheme};

/// Versions per generated pool; pairs per case are about twice this.
const POOL: usize = 60;
/// Cases per scheme: about `CASES * 2 * POOL` comparisons by each tool.
const CASES: u32 = 16;

// ---- generators ----

fn digits(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[0-9]{{1,{max}}}")).unwrap()
}

/// A dpkg upstream version or revision: a digit first (upstream only), then runs of digits,
/// letters and the separators dpkg allows (`-` only inside an upstream with a revision).
fn dpkg_part(first_digit: bool, hyphen: bool) -> impl Strategy<Value = String> {
    let sep = if hyphen { "[.+~-]" } else { "[.+~]" };
    let run = prop_oneof![
        3 => digits(3),
        2 => proptest::string::string_regex("[a-zA-Z]{1,2}").unwrap(),
        2 => proptest::string::string_regex(sep).unwrap(),
        1 => Just("~".to_owned()),
    ];
    let head = if first_digit {
        digits(2).boxed()
    } else {
        proptest::string::string_regex("[0-9a-z]").unwrap().boxed()
    };
    (head, proptest::collection::vec(run, 0..5)).prop_map(|(h, rest)| h + &rest.concat())
}

/// `[epoch:]upstream[-revision]`, valid for dpkg without warnings.
fn dpkg_version() -> impl Strategy<Value = String> {
    let epoch = proptest::option::weighted(0.2, 0u32..3);
    let with_revision = any::<bool>();
    (epoch, with_revision).prop_flat_map(|(epoch, with_revision)| {
        let revision = if with_revision {
            dpkg_part(false, false).prop_map(Some).boxed()
        } else {
            Just(None).boxed()
        };
        (dpkg_part(true, with_revision), revision).prop_map(move |(up, rev)| {
            let mut v = epoch.map(|e| format!("{e}:")).unwrap_or_default();
            v.push_str(&up);
            if let Some(r) = rev {
                v.push('-');
                v.push_str(&r);
            }
            v
        })
    })
}

/// `digits{.digits}[letter]{_suffix[digits]}[~hash][-rN]`, as apk-tools accepts.
fn apk_version() -> impl Strategy<Value = String> {
    let suffix = (
        prop_oneof![
            Just("alpha"),
            Just("beta"),
            Just("pre"),
            Just("rc"),
            Just("cvs"),
            Just("svn"),
            Just("git"),
            Just("hg"),
            Just("p"),
        ],
        proptest::option::of(digits(3)),
    )
        .prop_map(|(s, n)| format!("_{s}{}", n.unwrap_or_default()));
    (
        proptest::collection::vec(digits(3), 1..4),
        proptest::option::weighted(0.2, proptest::char::range('a', 'z')),
        proptest::collection::vec(suffix, 0..3),
        proptest::option::weighted(
            0.15,
            proptest::string::string_regex("[0-9a-f]{1,4}").unwrap(),
        ),
        proptest::option::weighted(0.5, digits(2)),
    )
        .prop_map(|(nums, letter, suffixes, hash, rev)| {
            let mut v = nums.join(".");
            v.extend(letter);
            v.push_str(&suffixes.concat());
            if let Some(h) = hash {
                v.push('~');
                v.push_str(&h);
            }
            if let Some(r) = rev {
                v.push_str("-r");
                v.push_str(&r);
            }
            v
        })
}

/// Lexical neighbours of the sorted pool, then each version against one further along.
fn pairs_of(mut pool: Vec<String>) -> Vec<(String, String)> {
    pool.sort();
    pool.dedup();
    let mut out: Vec<(String, String)> = pool
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    let n = pool.len();
    for i in 0..n {
        out.push((pool[i].clone(), pool[(i * 7 + 3) % n].clone()));
    }
    out
}

// ---- the real tools ----

/// One `bash` running the tool once per `a<TAB>b` line of stdin, printing `<`, `=` or `>`
/// (or `ERR <status>`) per line.
fn run_batch(script: &str, pairs: &[(String, String)]) -> Vec<String> {
    let mut child = Command::new("bash")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the batch finishes");
    writer.join().unwrap().expect("pairs written");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "tool batch failed: {stderr}"
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), pairs.len(), "one answer per pair");
    lines
}

fn dpkg_script() -> String {
    let ok = Command::new("dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "dpkg not found: install it (apt-get install dpkg) to check the dpkg comparator"
    );
    // Exit 0 true, 1 false, anything else an error (a warning on stderr fails the batch).
    r#"while IFS=$'\t' read -r a b; do
  dpkg --compare-versions "$a" lt "$b"; rc=$?
  if [ $rc = 0 ]; then echo '<'; continue; elif [ $rc != 1 ]; then echo "ERR $rc"; continue; fi
  dpkg --compare-versions "$a" eq "$b"; rc=$?
  if [ $rc = 0 ]; then echo '='; elif [ $rc = 1 ]; then echo '>'; else echo "ERR $rc"; fi
done"#
        .to_owned()
}

fn apk_script() -> String {
    let root = PathBuf::from(
        std::env::var_os("SIGHTLINE_TEST_ROOTFS_ALPINE")
            .unwrap_or_else(|| "/var/tmp/sightline-test/rootfs-alpine".into()),
    );
    let (ld, apk) = (root.join("lib/ld-musl-x86_64.so.1"), root.join("sbin/apk"));
    assert!(
        ld.is_file() && apk.is_file(),
        "apk-tools not found at {} (sbin/apk and lib/ld-musl-x86_64.so.1): build the Alpine \
         test rootfs with `../shared/scripts/test-images.sh build` (scripts/test.sh does) or \
         set SIGHTLINE_TEST_ROOTFS_ALPINE",
        root.display()
    );
    let lib = format!("{0}/lib:{0}/usr/lib", root.display());
    format!(
        r#"while IFS=$'\t' read -r a b; do
  r=$('{ld}' --library-path '{lib}' '{apk}' version -t -- "$a" "$b") || r="ERR $?"
  echo "$r"
done"#,
        ld = ld.display(),
        apk = apk.display()
    )
}

fn symbol(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Runs `CASES` generated pools of `scheme` through `script` and our comparator.
fn check_against_tool(scheme: Scheme, version: BoxedStrategy<String>, script: &str) {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let pool = proptest::collection::vec(version, POOL);
    let result = runner.run(&pool, |pool| {
        let pairs = pairs_of(pool);
        let tool = run_batch(script, &pairs);
        let mismatches: Vec<String> = pairs
            .iter()
            .zip(&tool)
            .filter_map(|((a, b), t)| {
                let ours = match compare(scheme, a, b) {
                    Ok(o) => symbol(o).to_owned(),
                    Err(e) => format!("error: {e}"),
                };
                (ours != *t).then(|| format!("{a:?} vs {b:?}: tool {t}, ours {ours}"))
            })
            .collect();
        prop_assert!(mismatches.is_empty(), "{scheme}: {}", mismatches.join("\n"));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn dpkg_agrees_with_dpkg_compare_versions() {
    check_against_tool(Scheme::Dpkg, dpkg_version().boxed(), &dpkg_script());
}

#[test]
fn apk_agrees_with_apk_version_t() {
    check_against_tool(Scheme::Apk, apk_version().boxed(), &apk_script());
}
