//! `sightline db update|status`: the vulnerability DB (and Java DB) lifecycle.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Args, Subcommand};
use sightline_image::Platform;
use sightline_vulndb::install::DbKind;
use sightline_vulndb::update::{self, UpdateOptions, UpdateOutcome};

use super::registry_args::{default_cache_dir, RegistryArgs};
use crate::progress::LayerProgress;

/// `sightline db ...`
#[derive(Args, Debug)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
}

/// DB subcommands.
#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Download the vulnerability DB (and with --java-db the Java DB) from an OCI repository
    /// when it is due (NextUpdate passed and not downloaded in the last hour) or --force.
    Update(UpdateArgs),
    /// Show the cached DBs: schema version, UpdatedAt, NextUpdate, DownloadedAt, size, source.
    /// Exits 1 when the vulnerability DB is missing or unusable.
    Status(StatusArgs),
}

/// Where DBs come from (shared by `db update` and `image`).
#[derive(Args, Debug, Clone)]
pub struct DbSourceArgs {
    /// Cache directory; DBs live in DIR/db and DIR/java-db, as Trivy lays them out.
    #[arg(long, env = "SIGHTLINE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// OCI repository of the vulnerability DB, tried in order (repeatable; default
    /// mirror.gcr.io/aquasec/trivy-db:2 then ghcr.io/aquasecurity/trivy-db:2; `:2` is added
    /// when no tag is given).
    #[arg(
        long = "db-repository",
        value_name = "REPO",
        env = "SIGHTLINE_DB_REPOSITORY",
        value_delimiter = ','
    )]
    pub db_repositories: Vec<String>,
    /// OCI repository of the Java DB, tried in order (repeatable; default
    /// mirror.gcr.io/aquasec/trivy-java-db:1 then ghcr.io/aquasecurity/trivy-java-db:1).
    #[arg(
        long = "java-db-repository",
        value_name = "REPO",
        env = "SIGHTLINE_JAVA_DB_REPOSITORY",
        value_delimiter = ','
    )]
    pub java_db_repositories: Vec<String>,
}

impl DbSourceArgs {
    /// The cache directory in effect.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(default_cache_dir)
    }

    fn repositories(&self, kind: DbKind) -> &[String] {
        match kind {
            DbKind::Vuln => &self.db_repositories,
            DbKind::Java => &self.java_db_repositories,
        }
    }
}

/// `sightline db update`
#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub source: DbSourceArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Also update the Java DB (scans fetch it themselves when they need it).
    #[arg(long)]
    pub java_db: bool,
    /// Download even when the cached DB is current.
    #[arg(long)]
    pub force: bool,
}

/// `sightline db status`
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Cache directory.
    #[arg(long, env = "SIGHTLINE_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `sightline db ...`.
pub async fn run(args: DbArgs, quiet: bool) -> Result<u8> {
    match args.command {
        DbCommand::Update(a) => {
            let mut kinds = vec![DbKind::Vuln];
            if a.java_db {
                kinds.push(DbKind::Java);
            }
            for kind in kinds {
                let outcome = ensure_db(kind, &a.source, &a.registry, a.force, quiet).await?;
                if !quiet {
                    println!("{}", describe(kind, &outcome));
                }
            }
            Ok(0)
        }
        DbCommand::Status(a) => status(&a.cache_dir.unwrap_or_else(default_cache_dir), a.json),
    }
}

/// Updates the DB of `kind` when due; used by `db update` and before `image` scans.
pub async fn ensure_db(
    kind: DbKind,
    source: &DbSourceArgs,
    registry: &RegistryArgs,
    force: bool,
    quiet: bool,
) -> Result<UpdateOutcome> {
    let opts = UpdateOptions {
        repositories: source.repositories(kind).to_vec(),
        registry: registry.options(Platform::default()),
        force,
    };
    let progress = LayerProgress::new(quiet);
    let outcome = update::update(
        &source.cache_dir(),
        kind,
        &opts,
        progress.sink(),
        chrono::Utc::now(),
    )
    .await?;
    if matches!(outcome, UpdateOutcome::Updated { .. }) {
        progress.summarize();
    }
    Ok(outcome)
}

fn describe(kind: DbKind, outcome: &UpdateOutcome) -> String {
    match outcome {
        UpdateOutcome::UpToDate { reason } => format!("{}: up to date ({reason})", kind.label()),
        UpdateOutcome::Updated {
            repository,
            installed,
        } => format!(
            "{}: updated from {repository} ({}, {:.1} MiB, UpdatedAt {})",
            kind.label(),
            installed.digest,
            installed.db_size as f64 / 1048576.0,
            installed
                .metadata
                .updated_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "unknown".into())
        ),
    }
}

fn status(cache_dir: &Path, json: bool) -> Result<u8> {
    let mut entries = Vec::new();
    let mut vuln_ok = false;
    for kind in [DbKind::Vuln, DbKind::Java] {
        let dir = kind.dir(cache_dir);
        let file = dir.join(kind.db_file());
        let meta = update::installed_metadata(cache_dir, kind);
        let source = update::installed_source(cache_dir, kind);
        let size = std::fs::metadata(&file).map(|m| m.len()).ok();
        let usable = match kind {
            DbKind::Vuln => sightline_vulndb::VulnDb::open_cache(cache_dir)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            DbKind::Java => sightline_vulndb::javadb::JavaDb::open(&file)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if kind == DbKind::Vuln {
            vuln_ok = usable.is_ok();
        }
        let t = |v: Option<chrono::DateTime<chrono::Utc>>| v.map(|t| t.to_rfc3339());
        entries.push(serde_json::json!({
            "Kind": kind.label(),
            "Path": file,
            "Installed": size.is_some(),
            "Usable": usable.is_ok(),
            "Problem": usable.err(),
            "Version": meta.as_ref().map(|m| m.version),
            "UpdatedAt": t(meta.as_ref().and_then(|m| m.updated_at)),
            "NextUpdate": t(meta.as_ref().and_then(|m| m.next_update)),
            "DownloadedAt": t(meta.as_ref().and_then(|m| m.downloaded_at)),
            "Size": size,
            "Repository": source.as_ref().map(|s| s.repository.clone()),
            "Digest": source.as_ref().map(|s| s.layer_digest.clone()),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        for e in &entries {
            println!("{}", e["Kind"].as_str().unwrap_or_default());
            let s = |k: &str| match &e[k] {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            println!("  Path:         {}", s("Path"));
            if e["Installed"] != true {
                let hint = if e["Kind"] == "Java DB" {
                    "sightline db update --java-db"
                } else {
                    "sightline db update"
                };
                println!("  Status:       not installed (run `{hint}`)");
                continue;
            }
            if e["Usable"] != true {
                println!("  Status:       UNUSABLE: {}", s("Problem"));
            }
            println!("  Version:      {}", s("Version"));
            println!("  UpdatedAt:    {}", s("UpdatedAt"));
            println!("  NextUpdate:   {}", s("NextUpdate"));
            println!("  DownloadedAt: {}", s("DownloadedAt"));
            let size = e["Size"]
                .as_u64()
                .map(|b| format!("{:.1} MiB ({b} bytes)", b as f64 / 1048576.0));
            println!("  Size:         {}", size.unwrap_or_else(|| "-".into()));
            println!("  Source:       {}", s("Repository"));
        }
    }
    Ok(if vuln_ok { 0 } else { 1 })
}
