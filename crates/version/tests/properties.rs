//! Property-style checks over the real versions of the fixtures: the
//! comparison is a total order (antisymmetric, consistent with equality,
//! transitive), so sorting is well defined and deterministic. Randomness comes
//! from a fixed-seed LCG.

mod common;

use std::cmp::Ordering::{self, Equal, Greater, Less};

use common::{pool, rows, Lcg};
use sightline_version::{compare, Scheme};

const SCHEMES: [Scheme; 2] = [Scheme::Dpkg, Scheme::Apk];

fn cmp(scheme: Scheme, a: &str, b: &str) -> Ordering {
    compare(scheme, a, b).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn antisymmetric_and_consistent_with_equality() {
    for scheme in SCHEMES {
        let pool = pool(scheme);
        for r in rows(common::pairs(scheme)) {
            assert_eq!(cmp(scheme, r.a, r.b), cmp(scheme, r.b, r.a).reverse());
        }
        // Every pair of a deterministic sample, not only the fixture's pairs.
        let mut rng = Lcg::new(7);
        for _ in 0..5000 {
            let (a, b) = (pool[rng.below(pool.len())], pool[rng.below(pool.len())]);
            let ab = cmp(scheme, a, b);
            assert_eq!(ab, cmp(scheme, b, a).reverse(), "{scheme}: {a:?} vs {b:?}");
            if a == b {
                assert_eq!(ab, Equal);
            }
        }
    }
}

/// The relation between x and z that the relations x~y and y~z force, if any.
fn implied(xy: Ordering, yz: Ordering) -> Option<Ordering> {
    match (xy, yz) {
        (Equal, o) | (o, Equal) => Some(o),
        (Less, Less) => Some(Less),
        (Greater, Greater) => Some(Greater),
        _ => None,
    }
}

#[test]
fn transitive_on_random_triples() {
    for scheme in SCHEMES {
        let pool = pool(scheme);
        let mut rng = Lcg::new(0x5167_6874_6c69_6e65);
        let mut forced = 0;
        for _ in 0..600 {
            let t = [0, 1, 2].map(|_| pool[rng.below(pool.len())]);
            // All orientations of the triple.
            for [x, y, z] in [
                [0, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0],
            ] {
                let (x, y, z) = (t[x], t[y], t[z]);
                if let Some(o) = implied(cmp(scheme, x, y), cmp(scheme, y, z)) {
                    forced += 1;
                    assert_eq!(cmp(scheme, x, z), o, "{scheme}: {x:?} {y:?} {z:?}");
                }
            }
        }
        assert!(forced > 1000, "{scheme}: only {forced} informative triples");
    }
}

#[test]
fn sorting_real_versions_is_deterministic() {
    for scheme in SCHEMES {
        let pool = pool(scheme);
        assert!(pool.len() > 200, "{scheme}: pool of {}", pool.len());
        let sort = |mut v: Vec<&'static str>| {
            v.sort_by(|a, b| cmp(scheme, a, b));
            v
        };
        let sorted = sort(pool.clone());
        for w in sorted.windows(2) {
            assert_ne!(cmp(scheme, w[0], w[1]), Greater, "{scheme}: {w:?}");
        }
        // Sorting a sorted list changes nothing (stable sort, consistent order).
        assert_eq!(sort(sorted.clone()), sorted);
        // Any shuffle sorts to the same sequence up to equal versions.
        let mut rng = Lcg::new(42);
        for _ in 0..5 {
            let mut shuffled = pool.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            let again = sort(shuffled);
            assert_eq!(again.len(), sorted.len());
            for (x, y) in sorted.iter().zip(&again) {
                assert_eq!(cmp(scheme, x, y), Equal, "{scheme}: {x:?} vs {y:?}");
            }
        }
        // Sorted indices i < j < k: the order holds across any gap.
        let mut rng = Lcg::new(3);
        for _ in 0..300 {
            let mut ijk = [0, 1, 2].map(|_| rng.below(sorted.len()));
            ijk.sort_unstable();
            let [i, j, k] = ijk;
            assert_ne!(cmp(scheme, sorted[i], sorted[j]), Greater);
            assert_ne!(cmp(scheme, sorted[j], sorted[k]), Greater);
            assert_ne!(cmp(scheme, sorted[i], sorted[k]), Greater);
        }
    }
}

/// Random strings over each scheme's alphabet: compare must never panic, and
/// whenever both sides are valid the result must be antisymmetric.
#[test]
fn arbitrary_strings_never_panic() {
    let alphabets: [(Scheme, &[u8]); 2] = [
        (Scheme::Dpkg, b"0123456789.:-+~_ aAz"),
        (Scheme::Apk, b"0123456789._-~raeplgcpzA "),
    ];
    for (scheme, alphabet) in alphabets {
        let mut rng = Lcg::new(1234);
        let mut valid = 0;
        for _ in 0..5000 {
            let mut gen = || -> String {
                let len = rng.below(10);
                (0..len)
                    .map(|_| alphabet[rng.below(alphabet.len())] as char)
                    .collect()
            };
            let (a, b) = (gen(), gen());
            match (compare(scheme, &a, &b), compare(scheme, &b, &a)) {
                (Ok(x), Ok(y)) => {
                    valid += 1;
                    assert_eq!(x, y.reverse(), "{scheme}: {a:?} vs {b:?}");
                }
                (Err(_), Err(_)) => {}
                other => panic!("{scheme}: {a:?} vs {b:?}: {other:?}"),
            }
        }
        assert!(valid > 0, "{scheme}: no valid random pair");
    }
}
