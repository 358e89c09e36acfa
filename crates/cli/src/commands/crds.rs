//! `sightline crds`: the report CustomResourceDefinitions (Trivy Operator's kinds, group
//! `aquasecurity.github.io`), as one multi-document YAML stream or one file per CRD.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sightline_api::crd;

/// `sightline crds`
#[derive(Args, Debug)]
pub struct CrdsArgs {
    /// Write one file per CRD (`<plural>.aquasecurity.github.io.yaml`) into DIR instead of
    /// printing the stream; the Helm chart's `crds/` directory is made this way.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// Prints every report CRD (sorted by name, so the output is byte-for-byte stable) or writes
/// them to `--output-dir`.
pub fn run(args: CrdsArgs) -> Result<u8> {
    match args.output_dir {
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(crd::render_all_yaml().as_bytes())
                .and_then(|()| out.flush())
                .context("writing the CRDs to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for c in crd::all() {
                let path = dir.join(crd::file_name(&c));
                std::fs::write(&path, crd::render_yaml(&c))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
    }
    Ok(0)
}
