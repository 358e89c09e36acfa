//! `sightline image`: scan a container image for OS package vulnerabilities and exposed
//! secrets.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sightline_detect::Filters;
use sightline_image::{ImageSource, Platform};
use sightline_report::vuln::Severity;
use sightline_vulndb::install::DbKind;
use sightline_vulndb::update::UpdateOutcome;
use sightline_vulndb::VulnDb;

use super::db::{ensure_db, DbSourceArgs};
use super::limit_args::LimitArgs;
use super::registry_args::RegistryArgs;
use crate::output;
use crate::progress::LayerProgress;

/// What `--scanners` can ask for.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ScannerKind {
    /// OS package vulnerabilities (needs the vulnerability DB).
    Vuln,
    /// Exposed secrets in every layer and in the image config.
    Secret,
}

/// Output formats.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Human-readable tables.
    Table,
    /// Trivy's JSON report schema (SchemaVersion 2).
    Json,
}

/// Arguments of `sightline image`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  sightline image 127.0.0.1:5000/library/debian:bookworm-curl
  sightline image --input oci:/var/tmp/oci:bookworm-curl --format json --output report.json
  sightline image --input image.tar --severity CRITICAL,HIGH --ignore-unfixed --exit-code 1
  sightline image --docker-config ~/.docker/config.json registry.corp/private/app:1
  sightline image --scanners secret --secret-config secret.yaml 127.0.0.1:5000/sightline-test/app:1

Exit codes: 0 success, N findings remain with --exit-code N, 1 scan error, 2 usage error.")]
pub struct ImageArgs {
    /// Image reference: host[:port]/repo:tag or host[:port]/repo@sha256:... (loopback
    /// registries use http).
    #[arg(
        value_name = "IMAGE",
        required_unless_present = "input",
        conflicts_with = "input"
    )]
    pub image: Option<String>,
    /// Read the image from disk instead: `oci:<dir>[:<tag>]` (OCI layout) or a docker-archive
    /// tar (`docker save` / `skopeo copy ... docker-archive:`).
    #[arg(long, value_name = "INPUT")]
    pub input: Option<String>,
    /// Platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH")]
    pub platform: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Severities to report (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST",
          default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL", value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Report only vulnerabilities that have a fix.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// What to look for (comma-separated): `vuln` (OS package vulnerabilities), `secret`
    /// (exposed secrets in every layer, deleted files included, and in the image config).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "vuln,secret"
    )]
    pub scanners: Vec<ScannerKind>,
    /// Secret rules config (Trivy's trivy-secret.yaml format: custom rules, disable-rules,
    /// allow-rules, exclude-block, max-file-size; see crates/secrets/README.md). Without
    /// it, ./trivy-secret.yaml is used when it exists, as Trivy does.
    #[arg(long, value_name = "FILE")]
    pub secret_config: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with this code when findings remain after filtering (0 = always succeed).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    #[command(flatten)]
    pub db: DbSourceArgs,
    /// Use the DB in the cache as it is; never download it.
    #[arg(long)]
    pub skip_db_update: bool,
    /// Make no network request except for the image itself (implies --skip-db-update).
    #[arg(long)]
    pub offline_scan: bool,
}

/// Runs the scan; returns the process exit code.
pub async fn run(args: ImageArgs, quiet: bool) -> Result<u8> {
    let source = match (&args.input, &args.image) {
        (Some(input), _) => ImageSource::from_input(input).context("invalid --input")?,
        (None, Some(r)) => ImageSource::Registry(r.clone()),
        (None, None) => bail!("give an IMAGE reference or --input"),
    };
    let platform: Platform = args.platform.parse().context("invalid --platform")?;
    let cache_dir = args.db.cache_dir();
    let vuln = args.scanners.contains(&ScannerKind::Vuln);
    let secret = args.scanners.contains(&ScannerKind::Secret);
    if args.secret_config.is_some() && !secret {
        bail!("--secret-config needs the secret scanner (--scanners secret or vuln,secret)");
    }
    // Rules before anything else: a bad config fails at once.
    let secrets = if secret {
        let scanner = match secret_config_path(args.secret_config.as_deref()) {
            Some(path) => sightline_secrets::Scanner::with_config(&path)?,
            None => sightline_secrets::Scanner::builtin(),
        };
        Some(Arc::new(scanner))
    } else {
        None
    };

    // The DB first: a missing or stale DB should fail before any image byte is pulled.
    if vuln && !(args.skip_db_update || args.offline_scan) {
        let outcome = ensure_db(DbKind::Vuln, &args.db, &args.registry, false, quiet).await?;
        if let UpdateOutcome::UpToDate { reason } = outcome {
            tracing::debug!("vulnerability DB {reason}");
        }
    }
    let db = if vuln {
        Some(open_db(&cache_dir)?)
    } else {
        None
    };

    let mut opts = args.registry.options(platform);
    opts.limits = args.limits.limits();
    let progress = LayerProgress::new(quiet);
    let what = sightline_scan::ScanOptions {
        inventory: vuln,
        secrets,
    };
    let scan = sightline_scan::scan_image_with(&source, &opts, &what, progress.sink()).await?;
    progress.summarize();

    let filters = Filters {
        ignore_unfixed: args.ignore_unfixed,
        severities: args.severity.clone(),
    };
    let built =
        sightline_scan::build_report_with(&scan, db.as_ref(), &filters, chrono::Utc::now())?;
    for w in &built.warnings {
        tracing::warn!("{w}");
    }
    if vuln && scan.inventory.os.is_none() {
        tracing::warn!(
            "no OS detected in {}: no OS packages were matched",
            scan.artifact_name
        );
    }
    let rendered = match args.format {
        Format::Json => output::json(&built.report)?,
        Format::Table => output::table(&built.report),
    };
    output::write(args.output.as_deref(), &rendered)?;

    let findings: usize = built
        .report
        .results
        .iter()
        .map(|r| r.vulnerabilities.len() + r.secrets.len())
        .sum();
    Ok(if findings > 0 { args.exit_code } else { 0 })
}

fn open_db(cache_dir: &std::path::Path) -> Result<VulnDb> {
    let (db, meta) = VulnDb::open_cache(cache_dir)?;
    if let Some(next) = meta.next_update {
        if next + chrono::Duration::days(7) < chrono::Utc::now() {
            tracing::warn!(
                "the vulnerability DB in {} is more than a week past its NextUpdate ({next}): findings may be missing; run `sightline db update`",
                cache_dir.display()
            );
        }
    }
    Ok(db)
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|e: sightline_report::vuln::UnknownSeverity| e.to_string())
}

/// The secret config Trivy would read: the file named by `--secret-config` (a missing one is
/// an error when loading it), else `trivy-secret.yaml` in the working directory when it
/// exists (Trivy's default; its absence is fine).
fn secret_config_path(explicit: Option<&std::path::Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let default = PathBuf::from(DEFAULT_SECRET_CONFIG);
    if default.is_file() {
        tracing::info!("secret rules: loading {DEFAULT_SECRET_CONFIG} from the working directory");
        Some(default)
    } else {
        None
    }
}

/// The secret config read from the working directory without `--secret-config` (Trivy's
/// default).
const DEFAULT_SECRET_CONFIG: &str = "trivy-secret.yaml";
