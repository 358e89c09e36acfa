//! The hostile-image corpus tool behind `scripts/hostile-images.sh`:
//!
//! ```text
//! hostile-images build [--dir DIR]                         write every case (cached)
//! hostile-images push  [--dir DIR] [--registry HOST:PORT]  build, then push as sightline-hostile/<case>:1
//! hostile-images run   --sightline BIN [--dir DIR] [--registry HOST:PORT] [--timeout SECS] [CASE...]
//!                                                          scan each case, print the outcome table
//! hostile-images list                                      the cases and what each does
//! ```
//! `--dir` defaults to `SIGHTLINE_HOSTILE_CACHE` or `/var/tmp/sightline-hostile`, `--registry`
//! to `SIGHTLINE_TEST_REGISTRY` or `127.0.0.1:5000`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use sightline_testkit::hostile::{self, measure, push, CASES};

struct Opts {
    dir: PathBuf,
    registry: String,
    sightline: Option<PathBuf>,
    timeout: u64,
    cases: Vec<String>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        dir: hostile::corpus_dir(),
        registry: sightline_testkit::env_or("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
        sightline: None,
        timeout: 600,
        cases: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--dir" => o.dir = value()?.into(),
            "--registry" => o.registry = value()?,
            "--sightline" => o.sightline = Some(value()?.into()),
            "--timeout" => o.timeout = value()?.parse().map_err(|e| format!("--timeout: {e}"))?,
            c if hostile::case(c).is_some() => o.cases.push(c.to_string()),
            other => return Err(format!("unknown argument or case {other:?}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: hostile-images build|push|run|list [options] (see the source header)");
        return ExitCode::from(2);
    };
    let o = match parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hostile-images: {e}");
            return ExitCode::from(2);
        }
    };
    let selected: Vec<_> = CASES
        .iter()
        .filter(|c| o.cases.is_empty() || o.cases.iter().any(|n| n == c.name))
        .collect();
    let result = match command.as_str() {
        "list" => {
            for c in CASES {
                println!("{:<24} {}", c.name, c.what);
            }
            Ok(())
        }
        "build" => hostile::build(&o.dir),
        "push" => hostile::build(&o.dir).and_then(|()| {
            for c in &selected {
                match push::push_case(&o.dir, c, &o.registry)? {
                    push::Pushed::Registry(r) => eprintln!("[hostile] pushed {r}"),
                    push::Pushed::Refused(why) => {
                        eprintln!(
                            "[hostile] {} refused by the registry ({why}); scan its OCI layout",
                            c.name
                        )
                    }
                }
            }
            Ok(())
        }),
        "run" => {
            let Some(bin) = o.sightline.clone() else {
                eprintln!("hostile-images run: --sightline BIN is required");
                return ExitCode::from(2);
            };
            run(&o, &bin, &selected)
        }
        other => {
            eprintln!("hostile-images: unknown command {other:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hostile-images {command}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Opts, bin: &std::path::Path, cases: &[&hostile::Case]) -> std::io::Result<()> {
    hostile::build(&o.dir)?;
    let limits = measure::Limits {
        address_space: 4 << 30,
        timeout: Duration::from_secs(o.timeout),
    };
    let mut results = Vec::new();
    for c in cases {
        let target = match push::push_case(&o.dir, c, &o.registry)? {
            push::Pushed::Registry(r) => vec![r],
            push::Pushed::Refused(_) => vec![
                "--input".to_string(),
                format!(
                    "oci:{}:{}",
                    hostile::layout_of(&o.dir, c).display(),
                    hostile::TAG
                ),
            ],
        };
        let work = tempfile::tempdir()?;
        let m = measure::scan(bin, &target, work.path(), limits);
        eprintln!(
            "[hostile] {:<24} {} in {:.1}s, {:.1} MiB{}",
            c.name,
            m.status_text(),
            m.wall.as_secs_f64(),
            m.rss_mib(),
            if m.written_outside.is_empty() {
                String::new()
            } else {
                format!(", WROTE OUTSIDE ITS DIRECTORY: {:?}", m.written_outside)
            }
        );
        results.push((c.name, m));
    }
    let rows: Vec<(&str, &measure::Measured)> = results.iter().map(|(n, m)| (*n, m)).collect();
    print!("{}", measure::table(&rows));
    Ok(())
}
