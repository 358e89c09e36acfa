//! Running `sightline` on one hostile case the way the corpus tests judge it: in its own
//! work directory (cwd, HOME, TMPDIR and cache inside it), under an address-space cap (a
//! bomb must not take the machine down), with a wall-clock timeout, its peak RSS and exit
//! status from GNU time, and every path it created, wrote, renamed or deleted from strace.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Syscalls that create or change files (strace's names).
const WRITE_SYSCALLS: &str = "open,openat,openat2,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,unlink,unlinkat,rmdir,truncate,mknod,mknodat";

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Address-space cap (RLIMIT_AS), bytes.
    pub address_space: u64,
    /// Killed after this long.
    pub timeout: Duration,
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// Killed by the timeout.
    pub timed_out: bool,
    /// Peak RSS, KiB.
    pub max_rss_kib: u64,
    /// Wall time.
    pub wall: Duration,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Paths written (created, opened for writing, renamed, linked, deleted) outside the
    /// work directory.
    pub written_outside: Vec<String>,
}

impl Measured {
    /// Peak RSS in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.max_rss_kib as f64 / 1024.0
    }

    /// The error line of stderr (`error: ...`, an allocation failure, a panic), else its
    /// first line, for tables.
    pub fn first_error_line(&self) -> String {
        let lines = || self.stderr.lines().map(str::trim);
        let line = lines()
            .find(|l| l.starts_with("error:"))
            .or_else(|| lines().find(|l| l.starts_with("memory allocation of")))
            .or_else(|| lines().find(|l| l.contains("panicked")))
            .or_else(|| lines().find(|l| !l.is_empty()))
            .unwrap_or("");
        line.to_string()
    }

    /// `exit N`, `signal N` or `timeout`.
    pub fn status_text(&self) -> String {
        match (self.timed_out, self.code, self.signal) {
            (true, _, _) => "timeout".into(),
            (_, Some(c), _) => c.to_string(),
            (_, None, Some(s)) => format!("sig{s}"),
            _ => "?".into(),
        }
    }
}

/// Runs `bin args` in `work` (created; cwd `work/cwd`, HOME `work/home`, TMPDIR `work/tmp`)
/// under `limits`.
pub fn run(bin: &Path, args: &[String], work: &Path, limits: Limits) -> Measured {
    for d in ["cwd", "home", "tmp"] {
        std::fs::create_dir_all(work.join(d)).expect("work dir");
    }
    let time_out = work.join("time.txt");
    let trace = work.join("strace.txt");
    let kib = limits.address_space / 1024;
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "--seccomp-bpf", "-y", "-e"])
        .arg(format!("trace={WRITE_SYSCALLS}"))
        .arg("-o")
        .arg(&trace)
        .arg("/usr/bin/time")
        .arg("-o")
        .arg(&time_out)
        .args(["-f", "%x %M %e"])
        .args([
            "sh",
            "-c",
            &format!("ulimit -v {kib} && exec \"$0\" \"$@\""),
        ])
        .arg(bin)
        .args(args)
        .current_dir(work.join("cwd"))
        .env_remove("DOCKER_CONFIG")
        .env("HOME", work.join("home"))
        .env("TMPDIR", work.join("tmp"))
        .env("XDG_CACHE_HOME", work.join("home/.cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("strace and /usr/bin/time");
    // Drain both pipes on threads so a chatty child never blocks.
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let mut timed_out = false;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > limits.timeout {
            timed_out = true;
            // The whole group: strace, time and sightline.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = started.elapsed();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let timing = std::fs::read_to_string(&time_out).unwrap_or_default();
    let (code, signal, max_rss_kib) = parse_time(&timing);
    let trace_text = std::fs::read_to_string(&trace).unwrap_or_default();
    let written_outside = writes_outside(&trace_text, work, &work.join("cwd"));
    Measured {
        code: if timed_out { None } else { code },
        signal,
        timed_out,
        max_rss_kib,
        wall,
        stdout,
        stderr,
        written_outside,
    }
}

/// (exit code, signal, peak RSS KiB) from GNU time's `-f "%x %M %e"` output, which is
/// preceded by "Command terminated by signal N" when a signal ended the command.
fn parse_time(text: &str) -> (Option<i32>, Option<i32>, u64) {
    let signal = text.lines().find_map(|l| {
        l.strip_prefix("Command terminated by signal ")
            .and_then(|n| n.trim().parse().ok())
    });
    let last = text.lines().last().unwrap_or_default();
    let mut f = last.split_whitespace();
    let code: Option<i32> = f.next().and_then(|c| c.parse().ok());
    let rss = f.next().and_then(|r| r.parse().ok()).unwrap_or(0);
    (if signal.is_some() { None } else { code }, signal, rss)
}

/// Paths outside `work` that a successful write-type syscall in `trace` (strace `-f -y`
/// output) touched; relative paths are taken from `cwd` or the decorated dirfd.
pub fn writes_outside(trace: &str, work: &Path, cwd: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for line in trace.lines() {
        let Some(paren) = line.find('(') else {
            continue;
        };
        let name = line[..paren].split_whitespace().last().unwrap_or_default();
        let Some(eq) = line.rfind(") = ") else {
            continue;
        };
        let result = line[eq + 4..].trim();
        if result.starts_with('-') || result.starts_with('?') {
            continue; // failed: nothing written
        }
        let args = &line[paren + 1..eq];
        let mut paths: Vec<PathBuf> = Vec::new();
        if name.starts_with("open") || name == "creat" {
            let writes = name == "creat"
                || ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
                    .iter()
                    .any(|f| args.contains(f));
            if !writes {
                continue;
            }
            // `= 3</resolved/path>`
            match (result.find('<'), result.rfind('>')) {
                (Some(a), Some(b)) if b > a => {
                    // A device is decorated twice: `</dev/null<char 1:3>>`.
                    let inner = &result[a + 1..b];
                    paths.push(PathBuf::from(inner.split('<').next().unwrap_or(inner)))
                }
                _ => paths.extend(quoted_paths(args, cwd)),
            }
        } else {
            paths.extend(quoted_paths(args, cwd));
        }
        for p in paths {
            let allowed = p.starts_with(work)
                || p.starts_with("/dev/null")
                || p.starts_with("/proc")
                || p.starts_with("/sys");
            if !allowed {
                out.push(format!("{name}: {}", p.display()));
            }
        }
    }
    out
}

/// The quoted path arguments of an strace line, made absolute against the decorated
/// directory fd just before each (`3</dir>, "name"`) or `cwd`.
fn quoted_paths(args: &str, cwd: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut rest = args;
    let mut dir: Option<PathBuf> = None;
    while let Some(q) = rest.find(['"', '<']) {
        if rest.as_bytes()[q] == b'<' {
            let end = rest[q..].find('>').map(|e| q + e).unwrap_or(rest.len());
            dir = Some(PathBuf::from(&rest[q + 1..end]));
            rest = &rest[(end + 1).min(rest.len())..];
            continue;
        }
        let Some(end) = rest[q + 1..].find('"').map(|e| q + 1 + e) else {
            break;
        };
        let p = &rest[q + 1..end];
        let base = dir.take().unwrap_or_else(|| cwd.to_path_buf());
        out.push(if p.starts_with('/') {
            PathBuf::from(p)
        } else {
            base.join(p)
        });
        rest = &rest[end + 1..];
    }
    out
}

/// `sightline image --format json --skip-db-update --cache-dir <work>/cache <target...>`
/// measured by [`run`]; the cache holds a copy of the fixture DB, so everything the scan
/// may write has its place inside `work`.
pub fn scan(bin: &Path, target: &[String], work: &Path, limits: Limits) -> Measured {
    let db = work.join("cache").join("db");
    std::fs::create_dir_all(&db).expect("cache dir");
    for f in ["trivy.db", "metadata.json"] {
        std::fs::copy(crate::fixture_cache().join("db").join(f), db.join(f)).expect("fixture DB");
    }
    let mut args: Vec<String> = [
        "image",
        "--format",
        "json",
        "--skip-db-update",
        "--cache-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(work.join("cache").display().to_string());
    args.extend_from_slice(target);
    run(bin, &args, work, limits)
}

/// The outcome table (case, exit, peak RSS, seconds, first error line), one row per run.
pub fn table(rows: &[(&str, &Measured)]) -> String {
    let mut out = format!(
        "{:<24} {:>7} {:>9} {:>8}  {}\n",
        "case", "exit", "RSS MiB", "seconds", "first line of the error"
    );
    for (name, m) in rows {
        let mut first = m.first_error_line();
        if first.len() > 150 {
            let mut end = 150;
            while !first.is_char_boundary(end) {
                end -= 1;
            }
            first.truncate(end);
            first.push('…');
        }
        out.push_str(&format!(
            "{:<24} {:>7} {:>9.1} {:>8.1}  {}\n",
            name,
            m.status_text(),
            m.rss_mib(),
            m.wall.as_secs_f64(),
            first
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_lines_are_judged() {
        let trace = r#"101 openat(AT_FDCWD</w/cwd>, "/w/cache/db/trivy.db", O_RDWR|O_CLOEXEC) = 5</w/cache/db/trivy.db>
101 openat(AT_FDCWD</w/cwd>, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 6</etc/passwd>
101 openat(AT_FDCWD</w/cwd>, "/tmp/pwned", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 7</tmp/pwned>
101 openat(AT_FDCWD</w/cwd>, "/tmp/failed", O_WRONLY|O_CREAT, 0666) = -1 EACCES (Permission denied)
102 mkdirat(AT_FDCWD</w/cwd>, "rel/dir", 0777) = 0
102 renameat2(3</w/tmp>, "a", 4</var/tmp>, "b", RENAME_EXCHANGE) = 0
102 unlink("/w/tmp/x") = 0
103 openat(AT_FDCWD</w/cwd>, "/dev/null", O_RDWR|O_CLOEXEC) = 3</dev/null<char 1:3>>
"#;
        let out = writes_outside(trace, Path::new("/w"), Path::new("/w/cwd"));
        assert_eq!(
            out,
            vec![
                "openat: /tmp/pwned".to_string(),
                "renameat2: /var/tmp/b".to_string()
            ]
        );
    }

    #[test]
    fn time_output_is_parsed() {
        assert_eq!(parse_time("1 20480 0.52\n"), (Some(1), None, 20480));
        assert_eq!(
            parse_time("Command terminated by signal 9\n0 4096 3.00\n"),
            (None, Some(9), 4096)
        );
        assert_eq!(
            parse_time("Command exited with non-zero status 1\n1 100 0.1\n"),
            (Some(1), None, 100)
        );
    }
}
