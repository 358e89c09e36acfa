//! The CLI tests' own support: running the `sightline` binary, and independent oracles that
//! derive the expected findings from the fixture YAML, umoci, dpkg and skopeo. The harness
//! shared with the benches (registries, cluster, operator process, DB publishing) is the
//! `sightline-testkit` crate; the items the tests use most are re-exported here.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

#[allow(unused_imports)] // each test binary uses a part
pub use sightline_testkit::{
    env, fixture_cache, publish_db, publish_fixture_db, shared_testdata, TestEnv,
};

/// The `sightline` binary under test (what the harness runs and builds images from).
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sightline"))
}

/// Result of one `sightline` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the sightline binary with `args` (no terminal: no progress bars).
pub fn sightline(args: &[&str]) -> Run {
    let out: Output = Command::new(bin())
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .expect("run sightline");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "sightline panicked:\n{}",
        run.stderr
    );
    run
}

/// `sightline image --format json --skip-db-update --cache-dir <fixture> <extra...>`.
pub fn scan_json(extra: &[&str]) -> Run {
    let cache = fixture_cache().to_str().unwrap().to_string();
    let mut args = vec![
        "image",
        "--format",
        "json",
        "--skip-db-update",
        "--cache-dir",
        &cache,
    ];
    args.extend_from_slice(extra);
    sightline(&args)
}

/// One finding as the oracle and the report both describe it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub pkg: String,
    pub installed: String,
    pub id: String,
    pub fixed: String,
    pub status: String,
}

/// Findings of a JSON report (all results).
pub fn findings(report: &serde_json::Value) -> BTreeSet<Finding> {
    let mut out = BTreeSet::new();
    for r in report["Results"].as_array().into_iter().flatten() {
        for v in r["Vulnerabilities"].as_array().into_iter().flatten() {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            out.insert(Finding {
                pkg: s("PkgName"),
                installed: s("InstalledVersion"),
                id: s("VulnerabilityID"),
                fixed: s("FixedVersion"),
                status: s("Status"),
            });
        }
    }
    out
}

/// An advisory as written in the fixture YAML.
#[derive(Debug, Clone)]
pub struct FixtureAdvisory {
    pub id: String,
    pub fixed: String,
    pub status: i64,
}

/// `platform -> package -> advisories`, read straight from the YAML files.
pub fn fixture_advisories() -> BTreeMap<String, BTreeMap<String, Vec<FixtureAdvisory>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<FixtureAdvisory>>> = BTreeMap::new();
    for f in ["debian-12.yaml", "alpine-3.23.yaml"] {
        let text = std::fs::read_to_string(shared_testdata().join("vulndb").join(f)).unwrap();
        let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        for top in doc.as_sequence().unwrap() {
            let platform = top["bucket"].as_str().unwrap();
            if platform == "vulnerability" || platform == "data-source" {
                continue;
            }
            for pkg in top["pairs"].as_sequence().unwrap() {
                let name = pkg["bucket"].as_str().unwrap().to_string();
                for kv in pkg["pairs"].as_sequence().unwrap() {
                    let v = &kv["value"];
                    out.entry(platform.to_string())
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .push(FixtureAdvisory {
                            id: kv["key"].as_str().unwrap().to_string(),
                            fixed: v["FixedVersion"].as_str().unwrap_or_default().to_string(),
                            status: v["Status"].as_i64().unwrap_or(0),
                        });
                }
            }
        }
    }
    out
}

/// An installed package as read independently of sightline (from an `umoci unpack`).
#[derive(Debug, Clone)]
pub struct OraclePackage {
    pub name: String,
    pub version: String,
    pub src_name: String,
    pub src_version: String,
}

/// Unpacks `layout:tag` with umoci into a fresh temp dir (the bundle is `bundle/`).
pub fn umoci_unpack(layout: &Path, tag: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sightline_testkit::umoci_unpack(layout, tag, &dir.path().join("bundle"));
    dir
}

/// Installed dpkg packages of an unpacked rootfs, parsed here with the plainest possible code.
pub fn dpkg_packages(rootfs: &Path) -> Vec<OraclePackage> {
    let text = std::fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let get = |k: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")).map(str::to_string))
        };
        let (Some(name), Some(version)) = (get("Package"), get("Version")) else {
            continue;
        };
        if !get("Status").unwrap_or_default().ends_with(" installed") {
            continue;
        }
        let (src_name, src_version) = match get("Source") {
            Some(s) => match s.split_once(" (") {
                Some((n, v)) => (n.to_string(), v.trim_end_matches(')').to_string()),
                None => (s, version.clone()),
            },
            None => (name.clone(), version.clone()),
        };
        out.push(OraclePackage {
            name,
            version,
            src_name,
            src_version,
        });
    }
    out
}

/// Installed apk packages of an unpacked rootfs.
pub fn apk_packages(rootfs: &Path) -> Vec<OraclePackage> {
    let text = std::fs::read_to_string(rootfs.join("lib/apk/db/installed")).unwrap();
    let mut out = Vec::new();
    for rec in text.split("\n\n") {
        let get = |k: &str| {
            rec.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}:")).map(str::to_string))
        };
        let (Some(name), Some(version)) = (get("P"), get("V")) else {
            continue;
        };
        let origin = get("o").unwrap_or_else(|| name.clone());
        out.push(OraclePackage {
            name,
            src_name: origin,
            src_version: version.clone(),
            version,
        });
    }
    out
}

/// `dpkg --compare-versions a lt b`, with the real dpkg binary (memoised).
pub fn dpkg_lt(a: &str, b: &str) -> bool {
    use std::sync::Mutex;
    static MEMO: OnceLock<Mutex<BTreeMap<(String, String), bool>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    if let Some(v) = memo.lock().unwrap().get(&(a.to_string(), b.to_string())) {
        return *v;
    }
    let st = Command::new("dpkg")
        .args(["--compare-versions", a, "lt", b])
        .status()
        .expect("dpkg");
    memo.lock()
        .unwrap()
        .insert((a.to_string(), b.to_string()), st.success());
    st.success()
}

/// Expected Debian findings: Trivy's rule (source package's advisories; no fixed version →
/// always; else source version < fixed under dpkg ordering) with the real dpkg as comparator.
pub fn expected_debian(pkgs: &[OraclePackage], platform: &str) -> BTreeSet<Finding> {
    let adv = fixture_advisories();
    let table = &adv[platform];
    let mut out = BTreeSet::new();
    for p in pkgs {
        for a in table.get(&p.src_name).into_iter().flatten() {
            if a.fixed.is_empty() || dpkg_lt(&p.src_version, &a.fixed) {
                out.insert(Finding {
                    pkg: p.name.clone(),
                    installed: p.version.clone(),
                    id: a.id.clone(),
                    fixed: a.fixed.clone(),
                    status: status_name(a.status, &a.fixed).to_string(),
                });
            }
        }
    }
    out
}

/// Expected Alpine findings: origin's advisories with a fixed version greater than the
/// installed version (apk ordering from the table-tested comparator).
pub fn expected_alpine(pkgs: &[OraclePackage], platform: &str) -> BTreeSet<Finding> {
    let adv = fixture_advisories();
    let table = &adv[platform];
    let mut out = BTreeSet::new();
    for p in pkgs {
        for a in table.get(&p.src_name).into_iter().flatten() {
            if a.fixed.is_empty() {
                continue;
            }
            let lt =
                sightline_version::compare(sightline_version::Scheme::Apk, &p.version, &a.fixed)
                    .unwrap()
                    == std::cmp::Ordering::Less;
            if lt {
                out.insert(Finding {
                    pkg: p.name.clone(),
                    installed: p.version.clone(),
                    id: a.id.clone(),
                    fixed: a.fixed.clone(),
                    status: "fixed".into(),
                });
            }
        }
    }
    out
}

/// Trivy's status names; an unset status means fixed / affected by the fixed version.
pub fn status_name(status: i64, fixed: &str) -> &'static str {
    match status {
        1 => "not_affected",
        2 => "affected",
        3 => "fixed",
        4 => "under_investigation",
        5 => "will_not_fix",
        6 => "fix_deferred",
        7 => "end_of_life",
        _ if fixed.is_empty() => "affected",
        _ => "fixed",
    }
}

/// `skopeo inspect --config --raw` digest of an image: the ImageID ground truth.
pub fn skopeo_config_digest(transport_ref: &str) -> String {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            "--config",
            transport_ref,
        ])
        .output()
        .expect("skopeo");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    use sha2_free::sha256_hex;
    format!("sha256:{}", sha256_hex(&out.stdout))
}

/// sha256 via the coreutils binary, so the test does not share sightline's hashing code.
mod sha2_free {
    pub fn sha256_hex(data: &[u8]) -> String {
        use std::io::Write;
        let mut child = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    }
}

/// A run with its peak RSS (KiB, from `wait4`) and wall time.
pub struct Measured {
    pub run: Run,
    pub max_rss_kib: u64,
    pub wall: std::time::Duration,
}

/// Runs the sightline binary like [`sightline`], measuring its peak RSS and wall time. The
/// binary is started by a small fresh python3 parent that reads its rusage: a child spawned
/// straight from this (big, multi-threaded) test process would count our pages until exec.
pub fn sightline_measured(args: &[&str]) -> Measured {
    let rss = tempfile::NamedTempFile::new().unwrap();
    let script = "import resource,subprocess,sys\n\
        r=subprocess.run(sys.argv[2:])\n\
        open(sys.argv[1],'w').write('%d %d' % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode))\n";
    let start = std::time::Instant::now();
    let out: Output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(rss.path())
        .arg(bin())
        .args(args)
        .env_remove("DOCKER_CONFIG")
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .expect("python3 + sightline");
    let wall = start.elapsed();
    let text = std::fs::read_to_string(rss.path()).unwrap();
    let f: Vec<i64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let run = Run {
        code: i32::try_from(f[1]).expect("an exit code"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "sightline panicked:\n{}",
        run.stderr
    );
    Measured {
        run,
        max_rss_kib: u64::try_from(f[0]).expect("a peak RSS"),
        wall,
    }
}

/// `sightline image --scanners secret --format json <extra...>` (no DB needed).
pub fn scan_secrets(extra: &[&str]) -> Run {
    let mut args = vec!["image", "--scanners", "secret", "--format", "json"];
    args.extend_from_slice(extra);
    sightline(&args)
}

/// Every secret of a JSON report as (target, rule, start, end, match, layer diff_id).
pub fn secrets_of(report: &serde_json::Value) -> Vec<(String, String, u64, u64, String, String)> {
    let mut out = Vec::new();
    for r in report["Results"].as_array().into_iter().flatten() {
        if r["Class"] != "secret" {
            continue;
        }
        for s in r["Secrets"].as_array().into_iter().flatten() {
            out.push((
                r["Target"].as_str().unwrap().to_string(),
                s["RuleID"].as_str().unwrap().to_string(),
                s["StartLine"].as_u64().unwrap(),
                s["EndLine"].as_u64().unwrap(),
                s["Match"].as_str().unwrap().to_string(),
                s["Layer"]["DiffID"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ));
        }
    }
    out
}

/// Starts the built `sightline operator` against the cluster, watching `apps` from `system`,
/// with the DB from `db_repo` and the test registries (plus `extra_insecure`) as plain http.
pub fn start_operator(
    c: &sightline_testkit::Cluster,
    work: &std::path::Path,
    apps: &str,
    system: &str,
    db_repo: &str,
    extra_insecure: &[String],
) -> sightline_testkit::Operator {
    let mut insecure = vec![c.pod_registry.clone(), c.pod_auth_registry.clone()];
    insecure.extend_from_slice(extra_insecure);
    let values = work.join("values.yaml");
    std::fs::write(
        &values,
        format!(
            "targetNamespaces: {apps}\noperator:\n  scanJobsConcurrentLimit: 2\ntrivy:\n  dbRepository: {db_repo}\n  nonSslRegistries: [{}]\n",
            insecure.join(", ")
        ),
    )
    .unwrap();
    sightline_testkit::Operator::new(
        bin(),
        c,
        &work.join("cache"),
        &work.join("operator.log"),
        &[
            "--config".into(),
            values.to_str().unwrap().into(),
            "--namespace".into(),
            system.into(),
            "--scan-job-image".into(),
            c.scanner_image(bin()),
        ],
    )
    .start()
}

/// Fails the test listing every failed case (one line each) when there is any.
pub fn assert_no_case_failed(failed: &[String]) {
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
