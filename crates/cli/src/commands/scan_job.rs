//! `sightline scan-job`: what an operator scan Job runs. Pulls one image, builds its package
//! inventory and secret findings in one pass over the layers, and prints ONE compact line to
//! stdout (`SIGHTLINE-RESULT v1 ...`, see `sightline_scan::job_result`) for the operator to
//! read from the Pod log; a failure prints `SIGHTLINE-ERROR v1 <reason> <message>` and exits
//! 1. No vulnerability DB is needed: matching happens in the operator.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use sightline_image::{ImageSource, NoProgress, Platform};
use sightline_scan::job_result::{encode, encode_failure, FailureReason};
use sightline_scan::ScanOptions;

use super::limit_args::LimitArgs;
use super::registry_args::RegistryArgs;

/// Arguments of `sightline scan-job`.
#[derive(Args, Debug)]
pub struct ScanJobArgs {
    /// The image to scan, pinned by digest when known (`repo@sha256:...`).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Platform to pick from a multi-platform image (os/arch[/variant]).
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH")]
    pub platform: String,
    /// Do not scan the layers for secrets (inventory only).
    #[arg(long)]
    pub no_secrets: bool,
    /// Secret rules configuration (custom rules, disabled rules, allow rules).
    #[arg(long, value_name = "FILE")]
    pub secret_config: Option<PathBuf>,
}

/// Runs the scan and prints the result line; returns the exit code.
pub async fn run(args: ScanJobArgs) -> Result<u8> {
    let line = match scan(&args).await {
        Ok(line) => {
            println!("{line}");
            return Ok(0);
        }
        Err((reason, message)) => encode_failure(reason, &message),
    };
    tracing::error!("{}", line);
    println!("{line}");
    Ok(1)
}

async fn scan(args: &ScanJobArgs) -> Result<String, (FailureReason, String)> {
    let platform: Platform = args
        .platform
        .parse()
        .map_err(|e: sightline_image::ImageError| (FailureReason::Internal, e.to_string()))?;
    let secrets = if args.no_secrets {
        None
    } else {
        let scanner = match &args.secret_config {
            Some(p) => sightline_secrets::Scanner::with_config(p)
                .map_err(|e| (FailureReason::Internal, e.to_string()))?,
            None => sightline_secrets::Scanner::builtin(),
        };
        Some(Arc::new(scanner))
    };
    let mut opts = args.registry.options(platform);
    opts.limits = args.limits.limits();
    let source = ImageSource::Registry(args.image.clone());
    let scan_opts = ScanOptions {
        inventory: true,
        secrets,
    };
    let scan = sightline_scan::scan_image_with(&source, &opts, &scan_opts, Arc::new(NoProgress))
        .await
        .map_err(|e| (FailureReason::of(&e), e.to_string()))?;
    tracing::info!(
        "scanned {}: {} OS packages, {} secret targets",
        scan.artifact_name,
        scan.inventory.os_packages.len(),
        scan.secrets.as_ref().map_or(0, Vec::len)
    );
    Ok(encode(&scan))
}
