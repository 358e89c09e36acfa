//! `sightline`: Kubernetes security posture scanner (CLI entry point).
//!
//! Exit codes scripts can rely on: 0 = success (and no findings left when `--exit-code` is
//! set), N = findings remain and `--exit-code N` was given, 1 = the scan failed (image,
//! registry, DB or I/O error; the message says what and where), 2 = invalid usage.

mod commands;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sightline: what is exposed in production right now?
#[derive(Parser)]
#[command(name = "sightline", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 success, N findings remain with --exit-code N, 1 scan error, 2 usage error."
)]
struct Cli {
    /// Log more (repeat for trace): -v info, -vv debug, -vvv trace. Env SIGHTLINE_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan a container image for OS package vulnerabilities.
    Image(commands::image::ImageArgs),
    /// Manage the vulnerability DB (trivy-db format) and the Java DB.
    Db(commands::db::DbArgs),
    /// Print the report CRDs (Trivy Operator's kinds, aquasecurity.github.io/v1alpha1) as YAML.
    Crds(commands::crds::CrdsArgs),
    /// What an operator scan Job runs: scan one image and print one compact result line
    /// (inventory + secrets) for the operator to read from the Pod log.
    #[command(hide = true)]
    ScanJob(commands::scan_job::ScanJobArgs),
    /// Run the operator: watch workloads, scan each running image digest once, write
    /// VulnerabilityReports and ExposedSecretReports.
    Operator(commands::operator::OperatorArgs),
    /// Audit Kubernetes manifests: workload configuration, RBAC and ConfigMaps (KSV checks
    /// in Rego, custom checks, checks bundles).
    Config(commands::config::ConfigArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Image(args) => commands::image::run(args, cli.quiet).await,
            Command::Db(args) => commands::db::run(args, cli.quiet).await,
            Command::Crds(args) => commands::crds::run(args),
            Command::ScanJob(args) => commands::scan_job::run(args).await,
            Command::Config(args) => commands::config::run(args, cli.quiet).await,
            Command::Operator(args) => commands::operator::run(args).await,
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,sightline=info",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter =
        EnvFilter::try_from_env("SIGHTLINE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}
