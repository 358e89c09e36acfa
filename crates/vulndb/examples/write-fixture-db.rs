//! Writes a trivy.db fixture from bolt-fixtures YAML into a Trivy-style cache dir.
//!
//! ```text
//! cargo run -p sightline-vulndb --features fixture-writer --example write-fixture-db -- \
//!     --cache-dir DIR [--push REF] [fixture.yaml ...]
//! ```
//!
//! With `--push REF` the DB is also published as a trivy-db OCI artifact (one layer
//! `application/vnd.aquasec.trivy.db.layer.v1.tar+gzip` titled `db.tar.gz`, config
//! `application/vnd.aquasec.trivy.config.v1+json`), as a mirror of the real DB would serve it:
//! `sightline db update --db-repository REF` then pulls it like the real one.
//!
//! Writes `DIR/db/trivy.db` and `DIR/db/metadata.json` (schema 2, built and downloaded now,
//! next update in 24 h), both atomically. Without YAML arguments it loads the shared Debian 12
//! and Alpine 3.23 fixtures (`$SIGHTLINE_SHARED_DIR/testdata/vulndb`, by default the `shared`
//! directory next to the checkout).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sightline_vulndb::fixture::{default_fixture_files, testdata_dir, write_db, FixtureError};
use sightline_vulndb::{db_dir, Metadata, VulnDb};

const USAGE: &str = "usage: write-fixture-db --cache-dir DIR [--push REF] [fixture.yaml ...]";

fn main() -> ExitCode {
    let mut cache_dir: Option<PathBuf> = None;
    let mut push: Option<String> = None;
    let mut yaml: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--cache-dir" {
            cache_dir = args.next().map(PathBuf::from);
        } else if arg == "--push" {
            push = args.next().map(|a| a.to_string_lossy().into_owned());
        } else if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        } else if arg.to_string_lossy().starts_with("--") {
            eprintln!("unknown option {}\n{USAGE}", arg.to_string_lossy());
            return ExitCode::from(2);
        } else {
            yaml.push(PathBuf::from(arg));
        }
    }
    let Some(cache_dir) = cache_dir else {
        eprintln!("--cache-dir is required\n{USAGE}");
        return ExitCode::from(2);
    };
    if yaml.is_empty() {
        let dir = testdata_dir();
        if !dir.is_dir() {
            eprintln!("error: {}", FixtureError::NoTestdata { path: dir });
            return ExitCode::FAILURE;
        }
        yaml = default_fixture_files();
    }

    let out = db_dir(&cache_dir);
    let files: Vec<&Path> = yaml.iter().map(PathBuf::as_path).collect();
    if let Err(e) = write_db(&files, &out, &Metadata::fresh(chrono::Utc::now())) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // Read it back, so a fixture the reader cannot use fails here rather than in a test.
    match VulnDb::open_cache(&cache_dir) {
        Ok((db, _)) => {
            let platforms = db.platforms().unwrap_or_default();
            println!(
                "wrote {} ({} fixture files; platforms: {})",
                out.join(sightline_vulndb::DB_FILE).display(),
                files.len(),
                platforms.join(", ")
            );
            match push {
                Some(reference) => push_artifact(&out, &reference),
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("error: the written DB does not read back: {e}");
            ExitCode::FAILURE
        }
    }
}

fn push_artifact(db_dir: &Path, reference: &str) -> ExitCode {
    use sightline_vulndb::install::{db_artifact, DbKind};
    let artifact = match db_artifact(db_dir, DbKind::Vuln) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: archiving {}: {e}", db_dir.display());
            return ExitCode::FAILURE;
        }
    };
    match artifact.publish_blocking(reference, &Default::default()) {
        Ok(_) => {
            println!("pushed {reference}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: pushing {reference}: {e}");
            ExitCode::FAILURE
        }
    }
}
