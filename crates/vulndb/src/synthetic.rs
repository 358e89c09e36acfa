//! Test support (feature `fixture-writer`): a large, realistic trivy.db for benchmarks.
//!
//! The shape follows the real DB: platform buckets (`debian 11`, `ubuntu 22.04`,
//! `alpine 3.20`, ...) of package buckets of advisories, and a `vulnerability` bucket whose
//! details carry titles, ~600-byte descriptions, CWE ids, vendor severities, CVSS vectors
//! and scores, references and dates. Advisory values are modelled on the shared fixtures;
//! text is generated deterministically (a fixed-seed LCG), so two runs write the same DB.

use std::path::Path;

use bbolt_rs::{Bolt, BucketRwApi, DbApi, DbRwAPI, TxRwRefApi};
use serde_json::json;

use crate::fixture::FixtureError;
use crate::metadata::{temp_path_for, write_metadata};
use crate::{Metadata, DB_FILE};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// An index below `n`.
    fn index(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).expect("a slice length fits u64");
        usize::try_from(self.below(n64)).expect("below a usize")
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }
}

const WORDS: &[&str] = &[
    "buffer",
    "overflow",
    "heap",
    "use-after-free",
    "remote",
    "attacker",
    "crafted",
    "request",
    "denial",
    "service",
    "memory",
    "corruption",
    "integer",
    "parsing",
    "certificate",
    "validation",
    "bypass",
    "authentication",
    "privilege",
    "escalation",
    "null",
    "pointer",
    "dereference",
    "out-of-bounds",
    "read",
    "write",
    "function",
    "library",
    "allows",
    "cause",
    "via",
    "before",
    "version",
    "when",
    "processing",
    "malformed",
    "input",
    "leads",
    "arbitrary",
    "code",
    "execution",
    "information",
    "disclosure",
    "race",
    "condition",
    "in",
    "the",
    "of",
    "a",
    "to",
    "and",
    "with",
    "could",
    "lead",
];
const PLATFORMS: &[&str] = &[
    "debian 10",
    "debian 11",
    "debian 12",
    "debian 13",
    "ubuntu 18.04",
    "ubuntu 20.04",
    "ubuntu 22.04",
    "ubuntu 24.04",
    "alpine 3.18",
    "alpine 3.19",
    "alpine 3.20",
    "alpine 3.21",
    "alpine 3.22",
    "alpine 3.23",
    "rocky 8",
    "rocky 9",
    "amazon linux 2",
    "amazon linux 2023",
];

fn sentence(r: &mut Lcg, words: usize) -> String {
    let mut s = String::with_capacity(words * 8);
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(r.pick(WORDS));
    }
    s
}

/// Writes `out_dir/trivy.db` of at least `min_bytes` (plus `metadata.json`), realistic in
/// shape and content; returns the file size.
pub fn write_synthetic_db(
    out_dir: &Path,
    min_bytes: u64,
    metadata: &Metadata,
) -> Result<u64, FixtureError> {
    std::fs::create_dir_all(out_dir).map_err(|source| FixtureError::Write {
        path: out_dir.into(),
        source,
    })?;
    let target = out_dir.join(DB_FILE);
    let tmp = temp_path_for(&target);
    let bolt_err = |reason: String| FixtureError::Bolt {
        path: tmp.clone(),
        reason,
    };
    let mut db = Bolt::open(&tmp).map_err(|e| bolt_err(e.to_string()))?;
    let mut r = Lcg(0x5167_6874_6c69_6e65);
    let mut cve = 0u64;
    let mut round = 0usize;
    loop {
        // One transaction per round: a platform's packages and the details of their CVEs.
        let platform = format!(
            "{}{}",
            PLATFORMS[round % PLATFORMS.len()],
            if round >= PLATFORMS.len() {
                format!(" r{round}")
            } else {
                String::new()
            }
        );
        let first_cve = cve;
        db.update(|mut tx| {
            {
                let mut ds = tx.create_bucket_if_not_exists(b"data-source")?;
                let id = platform.split(' ').next().unwrap_or("x");
                ds.put(platform.as_bytes(), json!({"ID": id, "Name": format!("{id} security tracker"), "URL": format!("https://security.example.org/{id}")}).to_string().as_bytes())?;
            }
            let mut plat = tx.create_bucket_if_not_exists(platform.as_bytes())?;
            for p in 0..1500u64 {
                let pkg = format!("{}-{}{p}", r.pick(WORDS), r.pick(WORDS));
                let mut b = plat.create_bucket_if_not_exists(pkg.as_bytes())?;
                for _ in 0..(5 + r.below(20)) {
                    cve += 1;
                    let id = format!("CVE-{}-{}", 2005 + cve % 21, 10000 + cve);
                    let fixed = if r.below(10) == 0 { String::new() } else { format!("{}.{}.{}-{}+deb12u{}", r.below(10), r.below(30), r.below(100), r.below(9) + 1, r.below(5) + 1) };
                    let mut adv = json!({"FixedVersion": fixed});
                    if r.below(3) == 0 {
                        adv["Severity"] = json!(r.below(5));
                    }
                    if fixed.is_empty() {
                        adv["Status"] = json!([2, 5, 6][r.index(3)]);
                    }
                    if r.below(4) == 0 {
                        adv["VendorIDs"] = json!([format!("DSA-{}-1", 4000 + r.below(2000))]);
                    }
                    b.put(id.as_bytes(), adv.to_string().as_bytes())?;
                }
            }
            let mut vb = tx.create_bucket_if_not_exists(b"vulnerability")?;
            for n in first_cve + 1..=cve {
                let id = format!("CVE-{}-{}", 2005 + n % 21, 10000 + n);
                let sev = ["LOW", "MEDIUM", "HIGH", "CRITICAL"][r.index(4)];
                let detail = json!({
                    "Title": sentence(&mut r, 8),
                    "Description": sentence(&mut r, 90),
                    "Severity": sev,
                    "CweIDs": [format!("CWE-{}", 20 + r.below(900))],
                    "VendorSeverity": {"nvd": 1 + r.below(4), "redhat": 1 + r.below(4), "debian": r.below(4)},
                    "CVSS": {
                        "nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "V3Score": (r.below(100) as f64) / 10.0,
                                "V2Vector": "AV:N/AC:L/Au:N/C:P/I:P/A:P", "V2Score": (r.below(100) as f64) / 10.0},
                        "redhat": {"V3Vector": "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:H/I:N/A:N", "V3Score": (r.below(100) as f64) / 10.0}
                    },
                    "References": (0..(2 + r.below(6))).map(|k| format!("https://www.example.org/advisories/{id}/{k}")).collect::<Vec<_>>(),
                    "PublishedDate": format!("20{:02}-{:02}-{:02}T12:00:00Z", 5 + n % 21, 1 + r.below(12), 1 + r.below(28)),
                    "LastModifiedDate": "2026-11-01T00:00:00Z",
                });
                vb.put(id.as_bytes(), detail.to_string().as_bytes())?;
            }
            Ok(())
        })
        .map_err(|e| bolt_err(e.to_string()))?;
        round += 1;
        let size = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
        if size >= min_bytes {
            break;
        }
    }
    db.close();
    std::fs::rename(&tmp, &target).map_err(|source| FixtureError::Write {
        path: target.clone(),
        source,
    })?;
    write_metadata(out_dir, metadata).map_err(|source| FixtureError::Write {
        path: out_dir.into(),
        source,
    })?;
    Ok(std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_readable_db_of_the_requested_size() {
        let tmp = tempfile::tempdir().unwrap();
        let size =
            write_synthetic_db(tmp.path(), 4 << 20, &Metadata::fresh(chrono::Utc::now())).unwrap();
        assert!(size >= 4 << 20);
        let db = crate::VulnDb::open(&tmp.path().join(DB_FILE)).unwrap();
        db.verify().unwrap();
        let platforms = db.platforms().unwrap();
        assert!(
            platforms.contains(&"debian 10".to_string()),
            "{platforms:?}"
        );
        let pkgs = db.packages("debian 10").unwrap();
        assert!(pkgs.len() > 1000, "{} packages", pkgs.len()); // generated names may repeat
        let adv = db.advisories("debian 10", &pkgs[0]).unwrap();
        assert!(!adv.is_empty());
        assert!(
            db.vulnerability(&adv[0].vulnerability_id)
                .unwrap()
                .unwrap()
                .description
                .len()
                > 300
        );
    }
}
