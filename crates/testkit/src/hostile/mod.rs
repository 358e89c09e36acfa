//! The hostile-image corpus (issue 11, "untrusted bytes, bounded everywhere"): one image per
//! attack on a scanner, each otherwise a valid Debian-like image (an os-release and a small
//! dpkg status in its base layer) so a bounded scan still has something to find.
//!
//! [`build`] writes each case deterministically as an OCI layout under the corpus directory
//! (streamed: a 10 GiB layer or a 1,000,000-entry tar is never held in memory; a case built
//! before is reused), [`push`] pushes them to a plain test registry as
//! `<registry>/sightline-hostile/<case>:1`, and [`measure`] runs `sightline` on one under a
//! memory cap, with its peak RSS, wall time and every file it wrote. `scripts/hostile-images.sh`
//! and `crates/cli/tests/hostile_corpus.rs` drive them.
//!
//! deflate cannot beat ~1032:1, so the "1 KiB -> 10 GiB" gzip bomb of the issue is really
//! ~10 MB -> 10 GiB (one gzip member; see `sightline_image::test_support::gz_stream`).

mod cases;
pub mod measure;
pub mod push;
mod zip;

use std::path::{Path, PathBuf};

pub use cases::{Case, CASES};

/// Bumped whenever a case's bytes change: a corpus built by another version is rebuilt.
pub const GENERATOR_VERSION: &str = "2";
/// The tag every case is stored and pushed under.
pub const TAG: &str = "1";
/// The registry repository prefix of the corpus.
pub const REPO_PREFIX: &str = "sightline-hostile";

/// The corpus directory: `SIGHTLINE_HOSTILE_CACHE`, else `/var/tmp/sightline-hostile`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(crate::env_or(
        "SIGHTLINE_HOSTILE_CACHE",
        "/var/tmp/sightline-hostile",
    ))
}

/// The OCI layout of `case` in `dir`.
pub fn layout_of(dir: &Path, case: &Case) -> PathBuf {
    dir.join(case.name)
}

/// `<registry>/sightline-hostile/<case>:1`.
pub fn reference(registry: &str, case: &Case) -> String {
    format!("{registry}/{REPO_PREFIX}/{}:{TAG}", case.name)
}

/// The case named `name`.
pub fn case(name: &str) -> Option<&'static Case> {
    CASES.iter().find(|c| c.name == name)
}

/// Builds `case` into `dir` unless a build of this generator version is there; returns its
/// layout. A failed build leaves only a `<case>.partial` directory, removed on the next try.
pub fn build_case(dir: &Path, case: &Case) -> std::io::Result<PathBuf> {
    let layout = layout_of(dir, case);
    let marker = layout.join(".built");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(GENERATOR_VERSION) {
        return Ok(layout);
    }
    let partial = dir.join(format!("{}.partial", case.name));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)?;
    (case.build)(&partial)?;
    std::fs::write(partial.join(".built"), GENERATOR_VERSION)?;
    let _ = std::fs::remove_dir_all(&layout);
    std::fs::rename(&partial, &layout)?;
    Ok(layout)
}

/// Builds every case in `dir` (each reused when already built), logging to stderr.
pub fn build(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for case in CASES {
        let started = std::time::Instant::now();
        build_case(dir, case)?;
        eprintln!(
            "[hostile] {:<24} ready ({:.1}s)",
            case.name,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
