//! Scans a directory tree (e.g. an `umoci unpack`ed rootfs) with the built-in rules, or the
//! rules of a config file, and prints each finding, masked, as `path:line rule match`.
//!
//!     cargo run --release -p sightline-secrets --example scan_tree -- ROOT [CONFIG.yaml]

use std::path::Path;

fn walk(root: &Path, dir: &Path, s: &sightline_secrets::Scanner, n: &mut (u64, u64, usize)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(root, &p, s, n);
        } else if ft.is_file() {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let size = e.metadata().map(|m| m.len()).unwrap_or(0);
            n.0 += 1;
            if !s.wants(&rel, size) {
                continue;
            }
            let Ok(content) = std::fs::read(&p) else {
                continue;
            };
            n.1 += content.len() as u64;
            for f in s.scan(&rel, &content) {
                n.2 += 1;
                println!("{rel}:{} {} {}", f.start_line, f.rule_id, f.matched);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = args.first() else {
        eprintln!("usage: scan_tree ROOT [CONFIG.yaml]");
        std::process::exit(2);
    };
    let scanner = match args.get(1) {
        Some(c) => sightline_secrets::Scanner::with_config(Path::new(c)).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(2)
        }),
        None => sightline_secrets::Scanner::builtin(),
    };
    let mut n = (0, 0, 0);
    let t = std::time::Instant::now();
    walk(Path::new(root), Path::new(root), &scanner, &mut n);
    eprintln!(
        "{} files, {:.1} MiB read, {} findings in {:.2?}",
        n.0,
        n.1 as f64 / 1048576.0,
        n.2,
        t.elapsed()
    );
}
