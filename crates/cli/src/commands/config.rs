//! `sightline config`: audit Kubernetes manifests (workloads, RBAC, ConfigMaps, ...) with the
//! built-in KSV checks, custom Rego checks and an optional checks bundle.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use sightline_image::Platform;
use sightline_policy::engine::{EngineOptions, Outcome};
use sightline_policy::{bundle, parse_documents, CheckSet, K8sObject, PolicyEngine};
use sightline_report::misconf::{MisconfReport, MisconfResult, Misconfiguration};
use sightline_report::vuln::Severity;

use super::image::Format;
use super::registry_args::{default_cache_dir, parse_duration, RegistryArgs};
use crate::output;

/// Arguments of `sightline config`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  sightline config deploy/                       # every *.yaml, *.yml, *.json below, recursively
  helm template my-chart | sightline config -    # read manifests from stdin
  sightline config --format json --severity HIGH,CRITICAL --exit-code 1 app.yaml
  sightline config --policy ./policies --include-passed rbac.yaml
  sightline config --checks-bundle-repository registry.corp/trivy-checks:1 deploy/

Exit codes: 0 success, N failures remain with --exit-code N, 1 error (unreadable or invalid
input given by name, checks bundle unavailable), 2 usage error.")]
pub struct ConfigArgs {
    /// Files or directories of Kubernetes YAML/JSON (multi-document, `kind: List`); `-` reads
    /// standard input.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Severities to report (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST",
          default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL", value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Directory (or file) of custom Rego checks and data documents (repeatable). A custom
    /// check with the ID of a built-in one replaces it.
    #[arg(long = "policy", value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// Pull a checks bundle (OCI artifact, Trivy's format) from REF and use its checks beside
    /// the built-in ones (`:1` is added when no tag is given). Cached in DIR/policy.
    #[arg(long, value_name = "REF", env = "SIGHTLINE_CHECKS_BUNDLE_REPOSITORY")]
    pub checks_bundle_repository: Option<String>,
    /// Use the checks bundle in the cache without contacting the registry.
    #[arg(long)]
    pub skip_check_update: bool,
    /// Cache directory (the checks bundle lives in DIR/policy).
    #[arg(long, env = "SIGHTLINE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Also list the checks that passed.
    #[arg(long)]
    pub include_passed: bool,
    /// Registries KSV0125 trusts (comma-separated host names; a name also trusts its
    /// subdomains). Default: the cloud providers' registries and registry.k8s.io.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub trusted_registries: Option<Vec<String>>,
    /// Time limit of one check on one object.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub check_timeout: std::time::Duration,
    /// Exit with this code when failures remain after filtering (0 = always succeed).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
}

/// One input stream: a file (or stdin) and its objects.
struct Input {
    target: String,
    text: String,
    objects: Vec<K8sObject>,
}

/// Runs `sightline config`; returns the process exit code.
pub async fn run(args: ConfigArgs, quiet: bool) -> Result<u8> {
    let engine = build_engine(&args, quiet).await?;
    for e in engine.load_errors() {
        tracing::warn!("check not loaded: {e}");
    }
    let (inputs, input_errors) = read_inputs(&args.paths)?;
    let results = evaluate(&engine, &inputs, &args);
    let report = MisconfReport {
        schema_version: 2,
        created_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        artifact_name: args.paths.join(" "),
        artifact_type: "filesystem".into(),
        results,
    };
    match args.format {
        // Streamed: a large scan's JSON (hundreds of MiB) is never held as one string.
        Format::Json => write_json(args.output.as_deref(), &report)?,
        Format::Table => output::write(args.output.as_deref(), &table(&report, &inputs))?,
    }
    if input_errors > 0 {
        bail!("{input_errors} input(s) could not be read (see above)");
    }
    let failures: u32 = report.results.iter().map(|r| r.summary.failures).sum();
    Ok(if failures > 0 { args.exit_code } else { 0 })
}

async fn build_engine(args: &ConfigArgs, quiet: bool) -> Result<PolicyEngine> {
    let mut set = CheckSet::builtin();
    if let Some(reference) = &args.checks_bundle_repository {
        let cache = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
        if !args.skip_check_update {
            let opts = args.registry.options(Platform::default());
            match bundle::pull(reference, &opts, &cache).await {
                Ok(m) if !quiet => tracing::info!("checks bundle {} ({})", m.reference, m.digest),
                Ok(_) => {}
                Err(e) if bundle::installed(&cache).is_some() => {
                    tracing::warn!("{e:#}; using the cached checks bundle")
                }
                Err(e) => return Err(e).context("pulling the checks bundle"),
            }
        }
        set.extend(bundle::load(&cache).context("loading the checks bundle")?);
    }
    for p in &args.policies {
        set.add_dir(p)
            .with_context(|| format!("reading custom checks from {}", p.display()))?;
    }
    let opts = EngineOptions {
        time_limit: args.check_timeout,
        trusted_registries: args.trusted_registries.clone(),
        ..Default::default()
    };
    PolicyEngine::new(set, opts).context("compiling the checks")
}

/// Reads every input; returns them and the number of named inputs that failed. Files found
/// while walking a directory that do not parse are skipped with a warning (Helm templates,
/// values files); a file named on the command line (or stdin) that does not parse is an error.
fn read_inputs(paths: &[String]) -> Result<(Vec<Input>, usize)> {
    let mut inputs = Vec::new();
    let mut errors = 0;
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            errors += usize::from(!push_input(&mut inputs, "-".into(), text, true));
            continue;
        }
        let path = Path::new(p);
        let meta = std::fs::metadata(path).with_context(|| format!("{p}: cannot read"))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files).with_context(|| format!("walking {p}"))?;
            for f in files {
                let target = f
                    .strip_prefix(path)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .into_owned();
                match std::fs::read(&f) {
                    Ok(bytes) => {
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        push_input(&mut inputs, target, text, false);
                    }
                    Err(e) => tracing::warn!("{}: {e}", f.display()),
                }
            }
        } else {
            let bytes = std::fs::read(path).with_context(|| format!("{p}: cannot read"))?;
            match String::from_utf8(bytes) {
                Ok(text) => errors += usize::from(!push_input(&mut inputs, p.clone(), text, true)),
                Err(_) => {
                    eprintln!("error: {p}: not UTF-8 text");
                    errors += 1;
                }
            }
        }
    }
    Ok((inputs, errors))
}

fn push_input(inputs: &mut Vec<Input>, target: String, text: String, named: bool) -> bool {
    match parse_documents(text.as_bytes()) {
        Ok(objects) => {
            inputs.push(Input {
                target,
                text,
                objects,
            });
            true
        }
        Err(e) if named => {
            eprintln!("error: {target}: {e}");
            false
        }
        Err(e) => {
            tracing::warn!("{target}: skipped: {e}");
            true
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        let name = e.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if e.is_dir() {
            walk(&e, out)?;
        } else if [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)) {
            out.push(e);
        }
    }
    Ok(())
}

/// Evaluates every object of every input (in parallel over inputs) and builds one result per
/// input that had at least one applicable check.
fn evaluate(engine: &PolicyEngine, inputs: &[Input], args: &ConfigArgs) -> Vec<MisconfResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut slots: Vec<Option<MisconfResult>> = vec![None; inputs.len()];
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(input) = inputs.get(i) else { break };
                let r = evaluate_input(engine, input, args);
                done.lock().expect("results").push((i, r));
            });
        }
    });
    for (i, r) in done.into_inner().expect("results") {
        slots[i] = r;
    }
    let mut results: Vec<MisconfResult> = slots.into_iter().flatten().collect();
    results.sort_by(|a, b| a.target.cmp(&b.target));
    results
}

fn evaluate_input(
    engine: &PolicyEngine,
    input: &Input,
    args: &ConfigArgs,
) -> Option<MisconfResult> {
    let mut all: Vec<Misconfiguration> = Vec::new();
    let mut applicable = false;
    for o in &input.objects {
        let results = engine.evaluate(&o.value);
        applicable |= !results.is_empty();
        for r in &results {
            if let Outcome::Error(e) = &r.outcome {
                eprintln!(
                    "warning: {}: {}/{}: check {} gave no verdict: {e}",
                    input.target, o.kind, o.name, r.check.id
                );
            }
        }
        let results: Vec<_> = results
            .into_iter()
            .filter(|r| args.severity.contains(&r.check.severity))
            .collect();
        all.extend(sightline_policy::report::misconfigurations(
            o, &results, true,
        ));
    }
    if !applicable {
        return None;
    }
    let mut result = MisconfResult::new(&input.target, all);
    if !args.include_passed {
        result.misconfigurations.retain(|m| m.status == "FAIL");
    }
    Some(result)
}

/// Writes `report` as pretty JSON to `path` (temp file + rename) or to stdout.
fn write_json(path: Option<&Path>, report: &MisconfReport) -> Result<()> {
    use std::io::{BufWriter, Write};
    let emit = |w: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer_pretty(&mut *w, report).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
        w.flush()
    };
    match path {
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("report");
            let tmp = dir.join(format!(".{name}.tmp"));
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            emit(&mut BufWriter::new(file))
                .with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))
        }
        None => match emit(&mut BufWriter::with_capacity(
            1 << 16,
            std::io::stdout().lock(),
        )) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.context("writing to stdout"),
        },
    }
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|e: sightline_report::vuln::UnknownSeverity| e.to_string())
}

/// Trivy-style misconfiguration output: per file a summary, then one block per finding
/// with its description, link and the offending source lines.
fn table(report: &MisconfReport, inputs: &[Input]) -> String {
    const MAX_CODE_LINES: usize = 12;
    let mut out = String::new();
    if report.results.is_empty() {
        out.push_str("\nNo Kubernetes objects with applicable checks found.\n");
    }
    for r in &report.results {
        let title = format!("{} (kubernetes)", r.target);
        out.push('\n');
        out.push_str(&title);
        out.push('\n');
        out.push_str(&"=".repeat(title.chars().count()));
        out.push('\n');
        out.push_str(&format!(
            "Tests: {} (SUCCESSES: {}, FAILURES: {})\n",
            r.summary.successes + r.summary.failures,
            r.summary.successes,
            r.summary.failures
        ));
        let mut counts = [0u32; 5];
        for m in r.misconfigurations.iter().filter(|m| m.status == "FAIL") {
            counts[m.severity.as_int() as usize] += 1;
        }
        out.push_str(&format!(
            "Failures: {} (UNKNOWN: {}, LOW: {}, MEDIUM: {}, HIGH: {}, CRITICAL: {})\n",
            counts.iter().sum::<u32>(),
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            counts[4]
        ));
        let text = inputs
            .iter()
            .find(|i| i.target == r.target)
            .map(|i| i.text.as_str());
        for m in &r.misconfigurations {
            out.push('\n');
            out.push_str(&format!("{} ({}): {}\n", m.avd_id, m.severity, m.message));
            out.push_str(&"═".repeat(60));
            out.push('\n');
            if m.status == "PASS" {
                out.push_str(&format!("PASS: {}\n", m.title));
                continue;
            }
            out.push_str(&m.description);
            out.push_str("\n\nSee ");
            out.push_str(&m.primary_url);
            out.push('\n');
            out.push_str(&"─".repeat(60));
            out.push('\n');
            let (s, e) = (m.cause.start_line, m.cause.end_line);
            out.push_str(&format!(" {}:{s}-{e}  {}\n", r.target, m.cause.resource));
            if let Some(text) = text.filter(|_| s > 0) {
                out.push_str(&"─".repeat(60));
                out.push('\n');
                let lines: Vec<&str> = text.lines().collect();
                let last = e.min(lines.len()).min(s + MAX_CODE_LINES - 1);
                let width = last.to_string().len();
                for n in s..=last {
                    let mark = match (n == s, n == last) {
                        (true, true) => '[',
                        (true, false) => '┌',
                        (false, true) => '└',
                        _ => '│',
                    };
                    out.push_str(&format!(" {n:>width$} {mark} {}\n", lines[n - 1]));
                }
                if e > last {
                    out.push_str(&format!(" {:>width$}   ...\n", ""));
                }
            }
            out.push_str(&"─".repeat(60));
            out.push('\n');
        }
    }
    out
}
