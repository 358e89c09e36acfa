//! Benchmark: the full built-in check set over >= 10,000 generated workload objects
//! (variations of the workloads in shared/testdata/k8s-manifests) on ONE core, beside
//! `checkov -d` on the same manifests written to a directory, in the same run.
//!
//! Run: `scripts/bench.sh config-audit` (installs the pinned checkov in a venv first).
//! Env: SIGHTLINE_BENCH_OBJECTS (default 10000), SIGHTLINE_CHECKOV (checkov binary; default
//! $SIGHTLINE_BENCH_DIR/checkov-venv/bin/checkov).
//! Target (issue 5): >= 2,000 objects/s on one core.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sightline_benches::*;
use sightline_policy::input::strip_annotations;
use sightline_policy::{parse_documents, PolicyEngine};

const WORKLOADS: [&str; 8] = [
    "Pod",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
];
const PER_FILE: usize = 100;

fn main() {
    let n: usize = env_or("SIGHTLINE_BENCH_OBJECTS", "10000")
        .parse()
        .expect("SIGHTLINE_BENCH_OBJECTS");
    pin_to_one_core();
    let shared = PathBuf::from(env_or(
        "SIGHTLINE_SHARED_DIR",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared"),
    ));
    let templates = workload_templates(&shared.join("testdata/k8s-manifests"));
    assert!(!templates.is_empty(), "no workload templates found");
    let objects = generate(&templates, n);
    // Not a dot-directory: checkov skips hidden paths, the scanned root included.
    let tmp = tempfile::Builder::new()
        .prefix("sightline-config-audit-")
        .tempdir()
        .unwrap();
    let dir_path = std::env::var_os("SIGHTLINE_BENCH_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir_path).unwrap();
    let files = write_files(&dir_path, &objects);
    let bytes: u64 = files.iter().map(|(_, t)| t.len() as u64).sum();
    println!(
        "config audit: {n} workload objects ({} templates from k8s-manifests, {} kinds), {} files, {:.1} MiB of YAML",
        templates.len(),
        WORKLOADS.len(),
        files.len(),
        bytes as f64 / 1048576.0
    );

    // In-process, one thread (pinned to one CPU): compile once, then parse + evaluate.
    let t = Instant::now();
    let engine = PolicyEngine::builtin().expect("built-in checks");
    let compile = t.elapsed();
    println!(
        "engine: {} checks ({} on the RVM), compiled in {:.0} ms",
        engine.checks().count(),
        engine.vm_check_count(),
        compile.as_secs_f64() * 1e3
    );
    let mut parsed = Vec::new();
    let t = Instant::now();
    for (_, text) in &files {
        parsed.extend(parse_documents(text.as_bytes()).unwrap());
    }
    let parse = t.elapsed();
    assert_eq!(parsed.len(), n);
    let mut evals = Vec::new();
    let mut failures = 0usize;
    let mut results = 0usize;
    for _ in 0..3 {
        let t = Instant::now();
        failures = 0;
        results = 0;
        for o in &parsed {
            let r = engine.evaluate(&o.value);
            results += r.len();
            failures += r.iter().filter(|r| r.failed()).count();
        }
        evals.push(t.elapsed());
    }
    let eval = median(evals);
    println!(
        "aggregate evaluations redone check by check: {}",
        engine.aggregate_fallbacks()
    );
    let rate = |d: Duration| n as f64 / d.as_secs_f64();

    // End to end on one core: the CLI and checkov on the same directory.
    let bin = release_binary();
    // Reports go beside, not into, the scanned directory.
    let out_dir = tempfile::Builder::new()
        .prefix("sightline-config-audit-out-")
        .tempdir()
        .unwrap();
    let ours_out = out_dir.path().join("sightline.json");
    let ours = median_of(3, || {
        measure(
            Command::new("taskset")
                .args(["-c", "0"])
                .arg(&bin)
                .args(["-q", "config", "-f", "json"])
                .arg(&dir_path),
            Some(&ours_out),
        )
    });
    let ours_report: Value = serde_json::from_slice(&std::fs::read(&ours_out).unwrap()).unwrap();
    let ours_failures: u64 = ours_report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["MisconfSummary"]["Failures"].as_u64().unwrap())
        .sum();
    let checkov_bin = std::env::var("SIGHTLINE_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env_or("SIGHTLINE_BENCH_DIR", "/var/tmp/sightline-bench"))
                .join("checkov-venv/bin/checkov")
        });
    let checkov = checkov_bin.exists().then(|| {
        let version = Command::new(&checkov_bin)
            .arg("--version")
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        let out = out_dir.path().join("checkov.json");
        let m = measure(
            Command::new("taskset")
                .args(["-c", "0"])
                .arg(&checkov_bin)
                .args(["-d"])
                .arg(&dir_path)
                .args([
                    "--framework",
                    "kubernetes",
                    "--quiet",
                    "--compact",
                    "--soft-fail",
                    "-o",
                    "json",
                ])
                .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
                .env("BC_SKIP_MAPPING", "TRUE"),
            Some(&out),
        );
        let report: Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).expect("checkov JSON");
        let summary = if report.is_array() {
            report[0]["summary"].clone()
        } else {
            report["summary"].clone()
        };
        let size = std::fs::metadata(&out).unwrap().len();
        (version, m, summary, size)
    });

    println!(
        "{:<58} {:>10} {:>14} {:>10}",
        "what (one core)", "wall", "objects/s", "peak RSS"
    );
    println!(
        "{:<58} {:>9.3}s {:>14.0} {:>10}",
        "sightline in-process: evaluate all checks",
        eval.as_secs_f64(),
        rate(eval),
        "-"
    );
    println!(
        "{:<58} {:>9.3}s {:>14.0} {:>10}",
        "sightline in-process: parse YAML (with line index)",
        parse.as_secs_f64(),
        rate(parse),
        "-"
    );
    println!(
        "{:<58} {:>9.3}s {:>14.0} {:>6.1} MiB",
        "sightline config -f json DIR (end to end)",
        ours.wall.as_secs_f64(),
        rate(ours.wall),
        mib(ours.max_rss_kib)
    );
    match &checkov {
        Some((version, m, _, _)) => println!(
            "{:<58} {:>9.3}s {:>14.0} {:>6.1} MiB",
            format!("checkov {version} -d DIR --framework kubernetes"),
            m.wall.as_secs_f64(),
            rate(m.wall),
            mib(m.max_rss_kib)
        ),
        None => println!(
            "checkov: not installed at {} (scripts/bench.sh installs it)",
            checkov_bin.display()
        ),
    }
    println!(
        "{results} check results, {failures} failures ({:.1} per object); {:.1} us per object-check",
        failures as f64 / n as f64,
        eval.as_secs_f64() * 1e6 / results as f64
    );
    println!(
        "sightline: {ours_failures} failures reported, {:.1} MiB of JSON",
        std::fs::metadata(&ours_out).unwrap().len() as f64 / 1048576.0
    );
    if let Some((_, m, summary, size)) = &checkov {
        println!(
            "checkov: {} resources, {} passed / {} failed checks, {} parsing errors, {:.1} MiB of JSON",
            summary["resource_count"],
            summary["passed"],
            summary["failed"],
            summary["parsing_errors"],
            *size as f64 / 1048576.0
        );
        println!(
            "end to end: checkov / sightline wall time = {:.2}",
            m.wall.as_secs_f64() / ours.wall.as_secs_f64()
        );
    }
    println!(
        "target (>= 2,000 objects/s on one core, evaluation): {}",
        if rate(eval) >= 2000.0 {
            "MET"
        } else {
            "NOT MET"
        }
    );
}

/// Restricts this process to its first allowed CPU (unchanged when affinity cannot be read).
fn pin_to_one_core() {
    use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
    let Ok(set) = sched_getaffinity(None) else {
        return;
    };
    if let Some(c) = (0..CpuSet::MAX_CPU).find(|&c| set.is_set(c)) {
        let mut one = CpuSet::new();
        one.set(c);
        let _ = sched_setaffinity(None, &one);
    }
}

/// Every workload object of the shared manifests (annotations stripped), sorted by file.
fn workload_templates(root: &Path) -> Vec<Value> {
    let mut paths = Vec::new();
    collect(root, &mut paths);
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let Ok(objs) = parse_documents(&std::fs::read(&p).unwrap()) else {
            continue;
        };
        for mut o in objs {
            if WORKLOADS.contains(&o.kind.as_str()) {
                strip_annotations(&mut o.value);
                out.push(o.value);
            }
        }
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// `n` variations: template `i % T`, renamed, re-namespaced, with deterministic changes to
/// images, security contexts, resources and host settings.
fn generate(templates: &[Value], n: usize) -> Vec<Value> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let namespaces = ["default", "shop", "payments", "kube-system", "monitoring"];
    let images = ["nginx", "nginx:latest", "nginx:1.27.2", "registry.k8s.io/pause:3.9",
        "gcr.io/distroless/static@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:2.3"];
    (0..n)
        .map(|i| {
            let mut o = templates[i % templates.len()].clone();
            let name = o["metadata"]["name"].as_str().unwrap_or("obj").to_string();
            o["metadata"]["name"] = json!(format!("{name}-{i}"));
            o["metadata"]["namespace"] = json!(namespaces[(next() % 5) as usize]);
            if let Some(spec) = pod_spec(&mut o) {
                if next() % 4 == 0 {
                    spec["hostNetwork"] = json!(next() % 2 == 0);
                }
                if next() % 3 == 0 {
                    spec["securityContext"] = json!({"runAsNonRoot": true, "runAsUser": 10001 + (next() % 1000),
                        "seccompProfile": {"type": "RuntimeDefault"}});
                }
                for key in ["containers", "initContainers"] {
                    let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) else { continue };
                    for c in cs.iter_mut().filter(|c| c.is_object()) {
                        c["image"] = json!(images[usize::try_from(next() % images.len() as u64).expect("below a usize length")]);
                        match next() % 4 {
                            0 => c["securityContext"] = json!({"allowPrivilegeEscalation": false,
                                "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}),
                            1 => c["securityContext"] = json!({"privileged": true,
                                "capabilities": {"add": ["NET_ADMIN", "SYS_ADMIN"]}}),
                            _ => {}
                        }
                        if next() % 2 == 0 {
                            c["resources"] = json!({"requests": {"cpu": "100m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "256Mi"}});
                        }
                    }
                }
            }
            strip_nulls(&mut o);
            o
        })
        .collect()
}

/// Removes null-valued keys: several upstream test manifests carry explicit nulls (e.g.
/// `securityContext: null`), on which checkov 3.3.30 aborts its whole run.
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn pod_spec(o: &mut Value) -> Option<&mut Value> {
    let kind = o["kind"].as_str().unwrap_or_default().to_string();
    let spec = match kind.as_str() {
        "Pod" => o.get_mut("spec"),
        "CronJob" => o.pointer_mut("/spec/jobTemplate/spec/template/spec"),
        _ => o.pointer_mut("/spec/template/spec"),
    }?;
    spec.is_object().then_some(spec)
}

/// Writes the objects as multi-document YAML, PER_FILE per file; returns (path, text).
fn write_files(dir: &Path, objects: &[Value]) -> Vec<(PathBuf, String)> {
    objects
        .chunks(PER_FILE)
        .enumerate()
        .map(|(i, chunk)| {
            let mut text = String::new();
            for o in chunk {
                text.push_str("---\n");
                text.push_str(&serde_norway::to_string(o).unwrap());
            }
            let p = dir.join(format!("workloads-{i:04}.yaml"));
            std::fs::write(&p, &text).unwrap();
            (p, text)
        })
        .collect()
}
