//! `rss-run OUT CMD [ARGS...]`: runs CMD (stdin/stdout/stderr inherited) and writes
//! `<peak RSS KiB> <wall ns> <exit code>` to the file OUT.
//!
//! The benchmarks measure every command through this small, freshly exec'd parent: a child
//! forked directly from a big benchmark process would count the parent's pages in its peak
//! RSS until it execs.

use std::time::Instant;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), Some(cmd)) = (args.next(), args.next()) else {
        eprintln!("usage: rss-run OUT CMD [ARGS...]");
        std::process::exit(2);
    };
    let start = Instant::now();
    let child = std::process::Command::new(&cmd)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!("rss-run: cannot run {}: {e}", cmd.to_string_lossy());
            std::process::exit(127)
        });
    let (code, max_rss_kib) = sightline_benches::wait_rusage(child);
    let wall = start.elapsed();
    std::fs::write(&out, format!("{max_rss_kib} {} {code}\n", wall.as_nanos())).expect("write OUT");
}
