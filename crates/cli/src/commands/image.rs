//! `sightline image`: scan a container image for OS package vulnerabilities.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use sightline_api::vuln::Severity;
use sightline_detect::Filters;
use sightline_image::{ImageSource, Platform, RegistryOptions};
use sightline_vulndb::VulnDb;

use crate::output;
use crate::progress::LayerProgress;

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
    /// Use plain http (or https without certificate checks) for the registry.
    #[arg(long)]
    pub insecure: bool,
    /// Registry user name (basic auth / token flow).
    #[arg(long, env = "SIGHTLINE_USERNAME", requires = "password")]
    pub username: Option<String>,
    /// Registry password.
    #[arg(
        long,
        env = "SIGHTLINE_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    pub password: Option<String>,
    /// Docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json,
    /// then ~/.docker/config.json). The format of a kubernetes.io/dockerconfigjson Secret.
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
    /// Timeout of each registry request, e.g. 30s, 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Severities to report (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "LIST",
          default_value = "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL", value_parser = parse_severity)]
    pub severity: Vec<Severity>,
    /// Report only vulnerabilities that have a fix.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with this code when findings remain after filtering (0 = always succeed).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    /// Cache directory; the vulnerability DB lives in DIR/db/{trivy.db,metadata.json}.
    #[arg(long, env = "SIGHTLINE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use the DB in the cache as it is; never download.
    #[arg(long)]
    pub skip_db_update: bool,
}

/// Runs the scan; returns the process exit code.
pub async fn run(args: ImageArgs, quiet: bool) -> Result<u8> {
    let source = match (&args.input, &args.image) {
        (Some(input), _) => ImageSource::from_input(input).context("invalid --input")?,
        (None, Some(r)) => ImageSource::Registry(r.clone()),
        (None, None) => bail!("give an IMAGE reference or --input"),
    };
    let platform: Platform = args.platform.parse().context("invalid --platform")?;
    let cache_dir = args.cache_dir.clone().unwrap_or_else(default_cache_dir);

    // Open the DB before pulling anything: a missing DB should fail in milliseconds.
    let db = open_db(&cache_dir, args.skip_db_update)?;

    let opts = RegistryOptions {
        insecure: args.insecure,
        username: args.username.clone(),
        password: args.password.clone(),
        docker_config: args.docker_config.clone(),
        platform,
        timeout: Some(args.timeout),
    };
    let progress = LayerProgress::new(quiet);
    let scan = sightline_scan::scan_image(&source, &opts, progress.sink()).await?;
    progress.summarize();

    let filters = Filters {
        ignore_unfixed: args.ignore_unfixed,
        severities: args.severity.clone(),
    };
    let built = sightline_scan::build_report(&scan, &db, &filters, chrono::Utc::now())?;
    for w in &built.warnings {
        tracing::warn!("{w}");
    }
    if scan.inventory.os.is_none() {
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
        .map(|r| r.vulnerabilities.len())
        .sum();
    Ok(if findings > 0 { args.exit_code } else { 0 })
}

fn open_db(cache_dir: &std::path::Path, skip_update: bool) -> Result<VulnDb> {
    let (db, meta) = VulnDb::open_cache(cache_dir)?;
    if !skip_update {
        if let Some(next) = meta.next_update {
            if next < chrono::Utc::now() {
                tracing::warn!(
                    "the vulnerability DB in {} is past its NextUpdate ({next}); refresh it with `sightline db update`",
                    cache_dir.display()
                );
            }
        }
    }
    Ok(db)
}

/// `$XDG_CACHE_HOME/sightline`, else `~/.cache/sightline`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("sightline");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("sightline")
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
        .map_err(|e: sightline_api::vuln::UnknownSeverity| e.to_string())
}

/// Parses `90`, `90s`, `5m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 30s, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    if secs <= 0.0 {
        return Err(format!("duration must be positive: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
