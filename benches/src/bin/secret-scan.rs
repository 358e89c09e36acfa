//! Benchmark: secret scanning of >= 500 MB of real text on ONE core (`taskset -c 0`), beside
//! the floor measured in the same run (reading the same files: the same Rust read loop
//! without scanning, and `cat` to /dev/null), and `detect-secrets` (PyPI) for comparison.
//!
//! Corpus: the text files (no NUL byte / mostly valid UTF-8 in the first 8 KiB, as the
//! scanner judges) of the `umoci unpack`ed `app` and `bookworm-curl` rootfs, copied N times
//! until >= 500 MB (cached in `$SIGHTLINE_BENCH_DIR`, default /var/tmp/sightline-bench).
//! Every file is read and scanned with the full built-in rule set: the built-in global PATH
//! allow rules (package docs, usr/share, ...) are turned off, so no file is skipped unread.
//!
//! detect-secrets runs on one copy of the distinct text (~40 MB; its throughput is about
//! 0.15 MB/s here, so the whole corpus would take an hour); `SIGHTLINE_BENCH_DS_COPIES=N`
//! runs it on N copies. Findings of both tools are compared on that same subset.
//!
//! Run: `scripts/bench.sh secret-scan` (installs detect-secrets 1.5.0 in a venv).
//! Target (issue 4): our throughput >= 0.5 x the floor's.
//!
//! Worker modes (what the measured child processes run):
//!   secret-scan --read LIST    read every file of LIST (the floor)
//!   secret-scan --scan LIST    read and scan every file of LIST

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use sightline_benches::*;
use sightline_testkit::umoci_unpack;

const RUNS: usize = 3;
const TARGET_BYTES: u64 = 500 * 1000 * 1000;

/// The built-in global path allow rules, turned off so that every corpus file is scanned.
const SCAN_EVERYTHING: &str = "disable-allow-rules: [package-docs, usr-share, os-package-databases, ca-certificates, python-dist-info, python-bytecode-caches, language-package-tests, language-package-docs, lock-files, source-maps-and-minified]\n";

fn read_list(list: &Path) -> Vec<PathBuf> {
    std::io::BufReader::new(std::fs::File::open(list).expect("file list"))
        .lines()
        .map(|l| PathBuf::from(l.unwrap()))
        .collect()
}

fn worker(mode: &str, list: &Path) {
    let files = read_list(list);
    // The corpus root with a trailing `/`: a file's path in the image is its path after it.
    let root = format!("{}/", list.parent().unwrap().join("corpus").display());
    let scanner = (mode == "--scan").then(|| {
        sightline_secrets::Scanner::from_yaml(SCAN_EVERYTHING, "bench").expect("bench config")
    });
    let (mut bytes, mut findings) = (0u64, 0usize);
    let mut buf = Vec::new();
    for f in &files {
        buf.clear();
        let mut file = std::fs::File::open(f).expect("corpus file");
        file.read_to_end(&mut buf).expect("read");
        bytes += buf.len() as u64;
        if let Some(s) = &scanner {
            let path = f.to_string_lossy();
            let rel = path.strip_prefix(root.as_str()).unwrap_or(&path);
            findings += s.scan(rel, &buf).len();
        }
    }
    println!("{bytes} {findings}");
}

fn text_files(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            text_files(root, &p, out);
        } else if ft.is_file() {
            let mut head = Vec::new();
            let Ok(f) = std::fs::File::open(&p) else {
                continue;
            };
            f.take(8192).read_to_end(&mut head).unwrap();
            if !head.is_empty() && !sightline_secrets::looks_binary(&head) {
                let size = e.metadata().unwrap().len();
                out.push((p.strip_prefix(root).unwrap().to_path_buf(), size));
            }
        }
    }
}

/// Builds (or reuses) the corpus; returns (list of all files, list of copy 0, bytes, bytes of copy 0).
fn corpus(base: &Path, layout: &Path) -> (PathBuf, PathBuf, u64, u64) {
    let list = base.join("files.txt");
    let list0 = base.join("files-copy0.txt");
    let done = base.join("corpus.done");
    let src = [
        ("app", umoci_unpack(layout, "app", &base.join("unpack-app"))),
        (
            "bookworm-curl",
            umoci_unpack(layout, "bookworm-curl", &base.join("unpack-curl")),
        ),
    ];
    let mut files = Vec::new();
    for (name, root) in &src {
        let mut v = Vec::new();
        text_files(root, root, &mut v);
        files.extend(
            v.into_iter()
                .map(|(p, s)| (name.to_string(), root.clone(), p, s)),
        );
    }
    files.sort();
    let once: u64 = files.iter().map(|f| f.3).sum();
    let copies = TARGET_BYTES.div_ceil(once);
    if !done.exists() {
        let _ = std::fs::remove_dir_all(base.join("corpus"));
        let (mut all, mut first) = (String::new(), String::new());
        for c in 0..copies {
            for (name, root, rel, _) in &files {
                let dst = base
                    .join("corpus")
                    .join(format!("copy-{c:02}"))
                    .join(name)
                    .join(rel);
                std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
                std::fs::copy(root.join(rel), &dst).unwrap();
                let line = format!("{}\n", dst.display());
                if c == 0 {
                    first.push_str(&line);
                }
                all.push_str(&line);
            }
        }
        std::fs::write(&list, all).unwrap();
        std::fs::write(&list0, first).unwrap();
        std::fs::write(&done, format!("{copies} copies of {once} bytes\n")).unwrap();
    }
    (list, list0, once * copies, once)
}

fn pinned(program: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("taskset");
    c.arg("-c").arg("0").arg(program).args(args);
    c
}

fn parse_out(path: &Path) -> (u64, usize) {
    let t = std::fs::read_to_string(path).unwrap();
    let f: Vec<&str> = t.split_whitespace().collect();
    (f[0].parse().unwrap(), f[1].parse().unwrap())
}

fn mbs(bytes: u64, m: Measured) -> f64 {
    bytes as f64 / m.wall.as_secs_f64() / 1e6
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && (args[1] == "--read" || args[1] == "--scan") {
        return worker(&args[1], Path::new(&args[2]));
    }
    let base = PathBuf::from(env_or("SIGHTLINE_BENCH_DIR", "/var/tmp/sightline-bench"));
    let layout = PathBuf::from(env_or(
        "SIGHTLINE_TEST_OCI_LAYOUT",
        "/var/tmp/sightline-test/oci",
    ));
    std::fs::create_dir_all(&base).unwrap();
    let (list, list0, bytes, bytes0) = corpus(&base, &layout);
    let nfiles = read_list(&list).len();
    let me = std::env::current_exe().unwrap();
    let out = base.join("worker.out");
    let l = list.to_str().unwrap();
    println!(
        "corpus: {nfiles} text files, {:.1} MB (copies of the app + bookworm-curl text, {:.1} MB each); one core (taskset -c 0); {RUNS} runs, median wall",
        bytes as f64 / 1e6,
        bytes0 as f64 / 1e6
    );
    // Warm the page cache so every contender reads from memory.
    measure(&mut pinned(&me, &["--read", l]), Some(&out));

    let floor = median_of(RUNS, || {
        measure(&mut pinned(&me, &["--read", l]), Some(&out))
    });
    let (read_bytes, _) = parse_out(&out);
    assert_eq!(read_bytes, bytes);
    let list0_nul = base.join("files.nul");
    std::fs::write(
        &list0_nul,
        std::fs::read_to_string(&list).unwrap().replace('\n', "\0"),
    )
    .unwrap();
    let cat = median_of(RUNS, || {
        measure(
            &mut pinned(
                Path::new("sh"),
                &[
                    "-c",
                    &format!("xargs -0 -a {} cat > /dev/null", list0_nul.display()),
                ],
            ),
            None,
        )
    });
    let ours = median_of(RUNS, || {
        measure(&mut pinned(&me, &["--scan", l]), Some(&out))
    });
    let (_, our_findings) = parse_out(&out);

    // detect-secrets on the subset, and ours on the same subset for the findings comparison.
    let ds_copies: usize = env_or("SIGHTLINE_BENCH_DS_COPIES", "1").parse().unwrap();
    let subset_list = base.join("files-ds.txt");
    let subset_files: Vec<String> = if ds_copies <= 1 {
        read_list(&list0)
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        let keep: Vec<String> = (0..ds_copies).map(|c| format!("/copy-{c:02}/")).collect();
        read_list(&list)
            .iter()
            .map(|p| p.display().to_string())
            .filter(|p| keep.iter().any(|k| p.contains(k.as_str())))
            .collect()
    };
    std::fs::write(&subset_list, subset_files.join("\n") + "\n").unwrap();
    let subset_bytes: u64 = subset_files
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    measure(
        &mut pinned(&me, &["--scan", subset_list.to_str().unwrap()]),
        Some(&out),
    );
    let (_, our_subset_findings) = parse_out(&out);
    let ds_bin = PathBuf::from(env_or(
        "DETECT_SECRETS",
        &base.join("venv/bin/detect-secrets").display().to_string(),
    ));
    // detect-secrets only reports paths given relative to its working directory.
    let ds_dirs: Vec<String> = (0..ds_copies.max(1))
        .map(|c| format!("copy-{c:02}"))
        .collect();
    let ds_json = base.join("detect-secrets.json");
    let ds = ds_bin.exists().then(|| {
        let mut args = vec!["scan".to_string(), "--all-files".to_string()];
        args.extend(ds_dirs.iter().cloned());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = pinned(&ds_bin, &a);
        cmd.current_dir(base.join("corpus"));
        let m = measure(&mut cmd, Some(&ds_json));
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&ds_json).unwrap()).unwrap();
        let n: usize = v["results"]
            .as_object()
            .map(|o| o.values().map(|f| f.as_array().map_or(0, Vec::len)).sum())
            .unwrap_or(0);
        (m, n)
    });

    println!(
        "{:<52} {:>9} {:>10} {:>10} {:>10}",
        "what", "wall", "MB/s", "x floor", "peak RSS"
    );
    let row = |name: &str, b: u64, m: Measured| {
        println!(
            "{name:<52} {:>8.3}s {:>10.1} {:>10.2} {:>6.1} MiB",
            m.wall.as_secs_f64(),
            mbs(b, m),
            mbs(b, m) / mbs(bytes, floor),
            mib(m.max_rss_kib)
        );
    };
    row(
        "floor: read every file (same Rust loop, no scan)",
        bytes,
        floor,
    );
    row("floor: xargs cat > /dev/null", bytes, cat);
    row(
        &format!(
            "sightline secrets, {} rules ({our_findings} findings)",
            sightline_secrets::Scanner::builtin().rules().count()
        ),
        bytes,
        ours,
    );
    match ds {
        Some((m, n)) => {
            row(
                &format!(
                    "detect-secrets 1.5.0 on {:.1} MB ({n} findings)",
                    subset_bytes as f64 / 1e6
                ),
                subset_bytes,
                m,
            );
            println!(
                "findings on the same {:.1} MB: sightline {our_subset_findings}, detect-secrets {n}",
                subset_bytes as f64 / 1e6
            );
        }
        None => println!(
            "detect-secrets: not installed at {} (scripts/bench.sh installs it)",
            ds_bin.display()
        ),
    }
    let ratio = mbs(bytes, ours) / mbs(bytes, floor);
    println!(
        "target (throughput >= 0.5 x floor): {:.2} -> {}",
        ratio,
        if ratio >= 0.5 { "MET" } else { "NOT MET" }
    );
}
