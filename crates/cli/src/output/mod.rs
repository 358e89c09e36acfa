//! Report rendering (table, JSON) and writing.

mod table;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use sightline_report::report::Report;

pub use table::table;

/// Pretty JSON in Trivy's schema, with a trailing newline.
pub fn json(report: &Report) -> Result<String> {
    let mut s = serde_json::to_string_pretty(report).context("serialising the report")?;
    s.push('\n');
    Ok(s)
}

/// Writes to `path` (atomically: temp file + rename) or to stdout.
pub fn write(path: Option<&Path>, text: &str) -> Result<()> {
    match path {
        Some(p) => {
            let dir = p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(
                ".{}.tmp",
                p.file_name().and_then(|n| n.to_str()).unwrap_or("report")
            ));
            std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))?;
            Ok(())
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.context("writing to stdout"),
            }
        }
    }
}
