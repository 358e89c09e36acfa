//! Publishing a vulnerability DB to a test registry as trivy-db does: one layer, titled
//! `db.tar.gz`, under Trivy's config media type — through the one OCI-artifact module
//! (`sightline_image::artifact`, via `sightline_vulndb::install`).

use std::path::Path;

use sightline_image::RegistryOptions;
use sightline_vulndb::install::{db_artifact, DbKind};

/// Publishes the DB in `dir` (`trivy.db` + `metadata.json`) at `reference` (a `:2` tag)
/// with `opts`' credentials, its one layer of media type `layer_media_type` (the real one is
/// `DbKind::Vuln.layer_media_type()`; tests of bad artifacts pass another).
pub fn publish_db(reference: &str, dir: &Path, opts: &RegistryOptions, layer_media_type: &str) {
    db_artifact(dir, DbKind::Vuln)
        .unwrap_or_else(|e| panic!("archiving the DB in {}: {e}", dir.display()))
        .with_media_type(layer_media_type)
        .publish_blocking(reference, opts)
        .unwrap_or_else(|e| panic!("publishing the DB at {reference}: {e}"));
}

/// [`publish_db`] of a DB already archived (`db.tar.gz` bytes).
pub fn publish_db_archive(
    reference: &str,
    archive: Vec<u8>,
    opts: &RegistryOptions,
    layer_media_type: &str,
) {
    DbKind::Vuln
        .artifact(archive)
        .with_media_type(layer_media_type)
        .publish_blocking(reference, opts)
        .unwrap_or_else(|e| panic!("publishing the DB at {reference}: {e}"));
}

/// Publishes the fixture DB ([`crate::fixture_cache`]) at `reference` as trivy-db does,
/// without credentials.
pub fn publish_fixture_db(reference: &str) {
    publish_db(
        reference,
        &crate::fixture_cache().join("db"),
        &RegistryOptions::default(),
        DbKind::Vuln.layer_media_type(),
    );
}
