//! `sightline db update|status` and the automatic update before `sightline image`, against
//! the real local registries, with DB artifacts built from the real advisory fixtures.

mod support;

use std::path::Path;

use sightline_image::RegistryOptions;
use sightline_vulndb::install::DbKind;
use support::*;

fn fixture_db_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| fixture_cache().join("db"))
}

fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("sl-cli-{}-{n}/{name}", std::process::id())
}

#[test]
fn db_update_then_scan_with_skip_db_update() {
    let Some(env) = env() else { return };
    // The exact repository of the acceptance check.
    let repo = format!("{}/aquasec/trivy-db", env.registry);
    publish_db(
        &format!("{repo}:2"),
        fixture_db_dir(),
        &RegistryOptions::default(),
        DbKind::Vuln.layer_media_type(),
    );
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();

    let run = sightline(&["db", "update", "--cache-dir", c, "--db-repository", &repo]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(&format!("updated from {repo}:2")),
        "{}",
        run.stdout
    );

    let run = sightline(&["db", "update", "--cache-dir", c, "--db-repository", &repo]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("up to date"), "{}", run.stdout);

    let run = sightline(&["db", "status", "--cache-dir", c]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for field in [
        "Version:      2",
        "UpdatedAt:",
        "NextUpdate:",
        "DownloadedAt:",
        "Size:",
        &format!("Source:       {repo}:2"),
    ] {
        assert!(
            run.stdout.contains(field),
            "missing {field:?} in:\n{}",
            run.stdout
        );
    }
    let run = sightline(&["db", "status", "--cache-dir", c, "--json"]);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(status[0]["Version"], 2);
    assert_eq!(status[0]["Usable"], true);
    assert_eq!(status[1]["Installed"], false, "no Java DB was requested");

    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let run = sightline(&[
        "image",
        "--cache-dir",
        c,
        "--skip-db-update",
        "--format",
        "json",
        &image,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = scan_json(&[&image]);
    assert_eq!(
        findings(&run.json()),
        findings(&expected.json()),
        "same DB content, same findings"
    );

    let empty = tempfile::tempdir().unwrap();
    let run = sightline(&[
        "db",
        "status",
        "--cache-dir",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "no DB: status exits 1");
    assert!(run.stdout.contains("not installed"));
}

#[test]
fn image_updates_the_db_itself_with_fallback_and_auth() {
    let Some(env) = env() else { return };
    let repo = format!("{}/{}", env.auth_registry, unique("trivy-db"));
    let creds = RegistryOptions {
        docker_config: Some(env.docker_config.clone()),
        ..Default::default()
    };
    publish_db(
        &format!("{repo}:2"),
        fixture_db_dir(),
        &creds,
        DbKind::Vuln.layer_media_type(),
    );
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    let image = format!("{}/library/alpine:3.23", env.registry);
    let cfg = env.docker_config.to_str().unwrap();
    // First repository down (connection refused), the second is the private mirror.
    let run = sightline(&[
        "image",
        "--cache-dir",
        c,
        "--format",
        "json",
        "--docker-config",
        cfg,
        "--db-repository",
        "127.0.0.1:9/aquasec/trivy-db",
        "--db-repository",
        &repo,
        &image,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("127.0.0.1:9"),
        "the failed attempt is logged:\n{}",
        run.stderr
    );
    assert_eq!(run.json()["Metadata"]["OS"]["Family"], "alpine");
    assert!(cache.path().join("db/trivy.db").is_file());

    // Unreachable DB and no cached DB: the scan fails before pulling, naming every attempt.
    let fresh = tempfile::tempdir().unwrap();
    let run = sightline(&[
        "image",
        "--cache-dir",
        fresh.path().to_str().unwrap(),
        "--db-repository",
        "127.0.0.1:9/x/trivy-db",
        &image,
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("127.0.0.1:9/x/trivy-db:2"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_artifact_keeps_the_old_db_and_scans_go_on() {
    let Some(env) = env() else { return };
    let good = format!("{}/{}", env.registry, unique("trivy-db"));
    let bad = format!("{}/{}", env.registry, unique("trivy-db"));
    publish_db(
        &format!("{good}:2"),
        fixture_db_dir(),
        &RegistryOptions::default(),
        DbKind::Vuln.layer_media_type(),
    );
    publish_db(
        &format!("{bad}:2"),
        fixture_db_dir(),
        &RegistryOptions::default(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap();
    assert_eq!(
        sightline(&["db", "update", "--cache-dir", c, "--db-repository", &good]).code,
        0
    );
    let before = std::fs::read(cache.path().join("db/trivy.db")).unwrap();
    let run = sightline(&[
        "db",
        "update",
        "--force",
        "--cache-dir",
        c,
        "--db-repository",
        &bad,
    ]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("media type") && run.stderr.contains("previous DB"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(cache.path().join("db/trivy.db")).unwrap(),
        before
    );
    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let run = sightline(&[
        "image",
        "--cache-dir",
        c,
        "--skip-db-update",
        "--format",
        "json",
        &image,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// Scans running while `db update --force` swaps the DB under them complete correctly.
#[test]
fn scans_during_db_swaps_complete_correctly() {
    let Some(env) = env() else { return };
    let repo = format!("{}/{}", env.registry, unique("trivy-db"));
    publish_db(
        &format!("{repo}:2"),
        fixture_db_dir(),
        &RegistryOptions::default(),
        DbKind::Vuln.layer_media_type(),
    );
    let cache = tempfile::tempdir().unwrap();
    let c = cache.path().to_str().unwrap().to_string();
    assert_eq!(
        sightline(&["db", "update", "--cache-dir", &c, "--db-repository", &repo]).code,
        0
    );
    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let expected = findings(&scan_json(&[&image]).json());

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (c2, repo2, stop2) = (c.clone(), repo.clone(), stop.clone());
    let updater = std::thread::spawn(move || {
        let mut swaps = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let run = sightline(&[
                "db",
                "update",
                "--force",
                "--cache-dir",
                &c2,
                "--db-repository",
                &repo2,
            ]);
            assert_eq!(run.code, 0, "{}", run.stderr);
            swaps += 1;
        }
        swaps
    });
    for _ in 0..4 {
        let run = sightline(&[
            "image",
            "--cache-dir",
            &c,
            "--skip-db-update",
            "--format",
            "json",
            &image,
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(findings(&run.json()), expected);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = updater.join().unwrap();
    assert!(
        swaps >= 2,
        "the DB was swapped during the scans ({swaps} swaps)"
    );
}
