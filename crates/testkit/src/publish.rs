//! Publishing a vulnerability DB to a test registry as trivy-db does: one layer, titled
//! `db.tar.gz`, under Trivy's config media type. A thin wrapper over the image crate's
//! artifact push, so the one OCI-artifact module can take its place.

use std::path::Path;

use sightline_image::artifact::{push_artifact, PushLayer, TITLE_ANNOTATION};
use sightline_image::RegistryOptions;
use sightline_vulndb::install::{write_archive, DbKind};

/// Trivy's config media type of DB artifacts.
const CONFIG_MEDIA_TYPE: &str = "application/vnd.aquasec.trivy.config.v1+json";

/// Publishes the DB in `dir` (`trivy.db` + `metadata.json`) at `reference` (a `:2` tag)
/// with `opts`' credentials, its one layer of media type `layer_media_type` (the real one is
/// `DbKind::Vuln.layer_media_type()`; tests of bad artifacts pass another).
pub fn publish_db(reference: &str, dir: &Path, opts: &RegistryOptions, layer_media_type: &str) {
    let mut archive = Vec::new();
    write_archive(dir, DbKind::Vuln, &mut archive)
        .unwrap_or_else(|e| panic!("archiving the DB in {}: {e}", dir.display()));
    publish_db_archive(reference, archive, opts, layer_media_type);
}

/// [`publish_db`] of a DB already archived (`db.tar.gz` bytes, as `write_archive` makes).
pub fn publish_db_archive(
    reference: &str,
    archive: Vec<u8>,
    opts: &RegistryOptions,
    layer_media_type: &str,
) {
    let layer = PushLayer {
        data: archive,
        media_type: layer_media_type.to_string(),
        annotations: [(TITLE_ANNOTATION.to_string(), "db.tar.gz".to_string())].into(),
    };
    tokio::runtime::Runtime::new()
        .expect("tokio runtime")
        .block_on(push_artifact(
            reference,
            opts,
            CONFIG_MEDIA_TYPE,
            vec![layer],
        ))
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
