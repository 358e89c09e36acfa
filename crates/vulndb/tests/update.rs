//! DB lifecycle against the REAL local registries (shared/scripts/test-images.sh): artifacts
//! built here from the real advisory fixtures, with trivy-db's media types and annotations,
//! pushed to the plain and the htpasswd registry, then pulled and installed by `update`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{Duration, Utc};
use sightline_image::artifact::{push_artifact, PushLayer, TITLE_ANNOTATION};
use sightline_image::test_support::fault_proxy::{start_proxy, Fault};
use sightline_image::{NoProgress, RegistryOptions};
use sightline_vulndb::fixture::{default_fixture_files, testdata_dir, write_db};
use sightline_vulndb::install::{write_archive, DbKind, CONFIG_MEDIA_TYPE};
use sightline_vulndb::shared::SharedDb;
use sightline_vulndb::update::{
    installed_source, update, UpdateError, UpdateOptions, UpdateOutcome,
};
use sightline_vulndb::{javadb, Metadata, VulnDb};

struct Env {
    registry: String,
    auth_registry: String,
    docker_config: PathBuf,
}

fn env() -> Option<Env> {
    let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let e = Env {
        registry: var("SIGHTLINE_TEST_REGISTRY", "127.0.0.1:5000"),
        auth_registry: var("SIGHTLINE_TEST_AUTH_REGISTRY", "127.0.0.1:5001"),
        docker_config: var(
            "SIGHTLINE_TEST_DOCKER_CONFIG",
            "/var/tmp/sightline-test/auth/config.json",
        )
        .into(),
    };
    if std::net::TcpStream::connect(&e.registry).is_ok() {
        return Some(e);
    }
    assert!(
        std::env::var_os("SIGHTLINE_REQUIRE_REGISTRY").is_none(),
        "test registry {} is not running",
        e.registry
    );
    eprintln!("SKIP: test registry not running (shared/scripts/test-images.sh start)");
    None
}

/// A unique repository per test run, so tests never see each other's artifacts.
fn repo(registry: &str, name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{registry}/sl-test-{}-{nanos}-{}/{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn plain() -> RegistryOptions {
    RegistryOptions::default()
}

/// A DB directory (trivy.db + metadata.json) from the named shared fixtures.
fn db_dir(tmp: &Path, fixtures: &[&str], meta: &Metadata) -> PathBuf {
    let dir = tmp.join(format!("src-{}", fixtures.join("-")));
    let files: Vec<PathBuf> = fixtures.iter().map(|f| testdata_dir().join(f)).collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    write_db(&refs, &dir, meta).unwrap();
    dir
}

fn archive(dir: &Path, kind: DbKind) -> Vec<u8> {
    let mut out = Vec::new();
    write_archive(dir, kind, &mut out).unwrap();
    out
}

fn layer(data: Vec<u8>, media_type: &str, title: Option<&str>) -> PushLayer {
    let mut annotations = BTreeMap::new();
    if let Some(t) = title {
        annotations.insert(TITLE_ANNOTATION.to_string(), t.to_string());
    }
    PushLayer {
        data,
        media_type: media_type.to_string(),
        annotations,
    }
}

async fn push_db(reference: &str, opts: &RegistryOptions, data: Vec<u8>) {
    DbKind::Vuln
        .artifact(data)
        .publish(reference, opts)
        .await
        .unwrap();
}

fn opts(repos: &[&str], registry: RegistryOptions) -> UpdateOptions {
    UpdateOptions {
        repositories: repos.iter().map(|s| s.to_string()).collect(),
        registry,
        force: false,
    }
}

fn built_now() -> Metadata {
    let now = Utc::now();
    Metadata {
        version: 2,
        next_update: Some(now + Duration::hours(6)),
        updated_at: Some(now),
        downloaded_at: None,
    }
}

fn stale(hours_ago: i64) -> Metadata {
    let then = Utc::now() - Duration::hours(hours_ago);
    Metadata {
        version: 2,
        next_update: Some(then + Duration::hours(1)),
        updated_at: Some(then),
        downloaded_at: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_from_plain_registry_then_skip_then_force() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = db_dir(
        tmp.path(),
        &["debian-12.yaml", "alpine-3.23.yaml"],
        &built_now(),
    );
    let base = repo(&env.registry, "trivy-db");
    push_db(&format!("{base}:2"), &plain(), archive(&src, DbKind::Vuln)).await;
    let cache = tmp.path().join("cache");

    // No tag given: `:2` is added.
    let out = update(
        &cache,
        DbKind::Vuln,
        &opts(&[&base], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    let UpdateOutcome::Updated {
        repository,
        installed,
    } = out
    else {
        panic!("expected a download")
    };
    assert_eq!(repository, format!("{base}:2"));
    assert!(installed.metadata.downloaded_at.is_some());
    let (db, meta) = VulnDb::open_cache(&cache).unwrap();
    assert_eq!(
        meta.updated_at,
        built_now().updated_at.map(|_| meta.updated_at.unwrap())
    );
    let openssl = db.advisories("debian 12", "openssl").unwrap();
    assert!(openssl
        .iter()
        .any(|a| a.vulnerability_id == "CVE-2026-42767" && a.fixed_version == "3.0.22-1~deb12u1"));
    assert_eq!(db.platforms().unwrap(), ["alpine 3.23", "debian 12"]);
    let source = installed_source(&cache, DbKind::Vuln).unwrap();
    assert_eq!(source.repository, format!("{base}:2"));
    assert_eq!(source.layer_digest, installed.digest);

    // NextUpdate is in the future: nothing is downloaded.
    let out = update(
        &cache,
        DbKind::Vuln,
        &opts(&[&base], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&out, UpdateOutcome::UpToDate { reason } if reason.contains("NextUpdate")),
        "{out:?}"
    );
    // --force downloads anyway.
    let mut o = opts(&[&base], plain());
    o.force = true;
    let out = update(&cache, DbKind::Vuln, &o, Arc::new(NoProgress), Utc::now())
        .await
        .unwrap();
    assert!(matches!(out, UpdateOutcome::Updated { .. }));
    assert_no_leftovers(&cache);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_from_the_auth_registry_as_an_air_gapped_mirror() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = db_dir(tmp.path(), &["debian-12.yaml"], &built_now());
    let base = repo(&env.auth_registry, "trivy-db");
    let creds = RegistryOptions {
        docker_config: Some(env.docker_config.clone()),
        ..Default::default()
    };
    push_db(&format!("{base}:2"), &creds, archive(&src, DbKind::Vuln)).await;
    let cache = tmp.path().join("cache");

    // Without credentials: a 401 naming the registry; nothing installed.
    let err = update(
        &cache,
        DbKind::Vuln,
        &opts(&[&base], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&env.auth_registry) && msg.contains("401"),
        "{msg}"
    );
    assert!(VulnDb::open_cache(&cache).is_err());

    let wrong = RegistryOptions {
        username: Some("sightline".into()),
        password: Some("wrong".into()),
        ..Default::default()
    };
    let err = update(
        &cache,
        DbKind::Vuln,
        &opts(&[&base], wrong),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");

    let out = update(
        &cache,
        DbKind::Vuln,
        &opts(&[&base], creds),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(matches!(out, UpdateOutcome::Updated { .. }));
    let basic = RegistryOptions {
        username: Some("sightline".into()),
        password: Some("sightline-test".into()),
        ..Default::default()
    };
    let mut o = opts(&[&base], basic);
    o.force = true;
    assert!(matches!(
        update(&cache, DbKind::Vuln, &o, Arc::new(NoProgress), Utc::now())
            .await
            .unwrap(),
        UpdateOutcome::Updated { .. }
    ));
    let (db, _) = VulnDb::open_cache(&cache).unwrap();
    assert_eq!(db.platforms().unwrap(), ["debian 12"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falls_back_to_the_next_repository() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = db_dir(tmp.path(), &["alpine-3.23.yaml"], &built_now());
    let good = repo(&env.registry, "trivy-db");
    push_db(&format!("{good}:2"), &plain(), archive(&src, DbKind::Vuln)).await;
    let no_tag = repo(&env.registry, "trivy-db");
    push_db(
        &format!("{no_tag}:other"),
        &plain(),
        archive(&src, DbKind::Vuln),
    )
    .await;
    let cache = tmp.path().join("cache");
    // Port 9 on loopback: connection refused. Then a repository lacking the `:2` tag.
    let down = "127.0.0.1:9/aquasec/trivy-db";
    let out = update(
        &cache,
        DbKind::Vuln,
        &opts(&[down, &no_tag, &good], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    let UpdateOutcome::Updated { repository, .. } = out else {
        panic!()
    };
    assert_eq!(repository, format!("{good}:2"));

    // All down: every attempt is listed.
    let err = update(
        &tmp.path().join("c2"),
        DbKind::Vuln,
        &opts(&[down, &no_tag], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap_err();
    let UpdateError::AllFailed { attempts, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].1.contains("127.0.0.1:9"), "{}", attempts[0].1);
    assert!(
        attempts[1].1.contains("not found") || attempts[1].1.contains("unknown"),
        "{}",
        attempts[1].1
    );
}

/// Every bad artifact is refused with a clear error and leaves the installed DB as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_artifacts_leave_the_previous_db_intact() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // The DB in place: debian only, downloaded long ago (so every attempt below is due).
    let old = db_dir(tmp.path(), &["debian-12.yaml"], &stale(48));
    let good_repo = repo(&env.registry, "trivy-db");
    push_db(
        &format!("{good_repo}:2"),
        &plain(),
        archive(&old, DbKind::Vuln),
    )
    .await;
    update(
        &cache,
        DbKind::Vuln,
        &opts(&[&good_repo], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    let before_meta = std::fs::read(cache.join("db/metadata.json")).unwrap();
    let before_db = std::fs::read(cache.join("db/trivy.db")).unwrap();

    let new = db_dir(
        tmp.path(),
        &["debian-12.yaml", "alpine-3.23.yaml"],
        &built_now(),
    );
    let good_archive = archive(&new, DbKind::Vuln);
    let gz = |tar: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(tar).unwrap();
        e.finish().unwrap()
    };
    let tar_of = |files: &[(&str, Vec<u8>)]| {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, data.as_slice()).unwrap();
        }
        b.into_inner().unwrap()
    };
    let db_bytes = std::fs::read(new.join("trivy.db")).unwrap();
    let v1_meta =
        br#"{"Version":1,"NextUpdate":"2030-01-01T00:00:00Z","UpdatedAt":"2026-01-01T00:00:00Z"}"#
            .to_vec();
    let mut corrupt_db = db_bytes.clone();
    corrupt_db.truncate(db_bytes.len() / 2);
    let vuln = DbKind::Vuln.layer_media_type();

    let cases: Vec<(&str, Vec<PushLayer>, &str)> = vec![
        (
            "wrong media type",
            vec![layer(
                good_archive.clone(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Some("db.tar.gz"),
            )],
            "media type",
        ),
        (
            "two layers",
            vec![
                layer(good_archive.clone(), vuln, Some("db.tar.gz")),
                layer(good_archive.clone(), vuln, Some("db2.tar.gz")),
            ],
            "exactly one layer",
        ),
        (
            "no title annotation",
            vec![layer(good_archive.clone(), vuln, None)],
            "org.opencontainers.image.title",
        ),
        (
            "truncated tar.gz",
            vec![layer(
                good_archive[..good_archive.len() * 2 / 3].to_vec(),
                vuln,
                Some("db.tar.gz"),
            )],
            "corrupt or truncated",
        ),
        (
            "schema version 1",
            vec![layer(
                gz(&tar_of(&[
                    ("trivy.db", db_bytes.clone()),
                    ("metadata.json", v1_meta),
                ])),
                vuln,
                Some("db.tar.gz"),
            )],
            "schema version 1",
        ),
        (
            "metadata missing",
            vec![layer(
                gz(&tar_of(&[("trivy.db", db_bytes.clone())])),
                vuln,
                Some("db.tar.gz"),
            )],
            "no metadata.json",
        ),
        (
            "corrupt trivy.db",
            vec![layer(
                gz(&tar_of(&[
                    ("trivy.db", corrupt_db),
                    ("metadata.json", serde_json::to_vec(&built_now()).unwrap()),
                ])),
                vuln,
                Some("db.tar.gz"),
            )],
            "unusable",
        ),
    ];
    for (name, layers, expect) in cases {
        let r = repo(&env.registry, "trivy-db");
        push_artifact(&format!("{r}:2"), &plain(), CONFIG_MEDIA_TYPE, layers)
            .await
            .unwrap();
        let mut o = opts(&[&r], plain());
        o.force = true;
        let err = update(&cache, DbKind::Vuln, &o, Arc::new(NoProgress), Utc::now())
            .await
            .expect_err(name);
        assert!(err.to_string().contains(expect), "{name}: {err}");
        assert_eq!(
            std::fs::read(cache.join("db/metadata.json")).unwrap(),
            before_meta,
            "{name}: metadata changed"
        );
        assert_eq!(
            std::fs::read(cache.join("db/trivy.db")).unwrap(),
            before_db,
            "{name}: trivy.db changed"
        );
        let (db, _) =
            VulnDb::open_cache(&cache).unwrap_or_else(|e| panic!("{name}: old DB unusable: {e}"));
        assert!(!db.advisories("debian 12", "openssl").unwrap().is_empty());
        assert_no_leftovers(&cache);
    }

    // Digest mismatch: a byte flipped in transit by a proxy in front of the real registry.
    let proxy = start_proxy(&env.registry, Fault::Corrupt("/blobs/".into())).await;
    let via_proxy = good_repo.replacen(&env.registry, &proxy.addr, 1);
    let mut o = opts(&[&via_proxy], plain());
    o.force = true;
    let err = update(&cache, DbKind::Vuln, &o, Arc::new(NoProgress), Utc::now())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("digest") || msg.contains("corrupt"), "{msg}");
    assert_eq!(std::fs::read(cache.join("db/trivy.db")).unwrap(), before_db);
    assert_no_leftovers(&cache);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_keep_working_while_updates_swap_the_db() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let a = db_dir(tmp.path(), &["debian-12.yaml"], &stale(48));
    let b = db_dir(
        tmp.path(),
        &["debian-12.yaml", "alpine-3.23.yaml"],
        &stale(48),
    );
    let (ra, rb) = (
        repo(&env.registry, "trivy-db"),
        repo(&env.registry, "trivy-db"),
    );
    push_db(&format!("{ra}:2"), &plain(), archive(&a, DbKind::Vuln)).await;
    push_db(&format!("{rb}:2"), &plain(), archive(&b, DbKind::Vuln)).await;
    update(
        &cache,
        DbKind::Vuln,
        &opts(&[&ra], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();

    let shared = Arc::new(SharedDb::open(&cache).unwrap());
    let expected = shared.current().advisories("debian 12", "openssl").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (shared, stop, reads, expected) = (
                shared.clone(),
                stop.clone(),
                reads.clone(),
                expected.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A "scan": take the current DB and use it throughout.
                    let db = shared.current();
                    for _ in 0..20 {
                        assert_eq!(db.advisories("debian 12", "openssl").unwrap(), expected);
                        assert!(db.vulnerability("CVE-2026-42767").unwrap().is_some());
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..6 {
        let r = if i % 2 == 0 { &rb } else { &ra };
        let mut o = opts(&[r], plain());
        o.force = true;
        update(&cache, DbKind::Vuln, &o, Arc::new(NoProgress), Utc::now())
            .await
            .unwrap();
        assert!(shared.reload().unwrap(), "a new DB was installed");
        let has_alpine = shared
            .current()
            .platforms()
            .unwrap()
            .contains(&"alpine 3.23".to_string());
        assert_eq!(has_alpine, i % 2 == 0);
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader failed while the DB was swapped");
    }
    assert!(reads.load(Ordering::Relaxed) > 0);
    assert_no_leftovers(&cache);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn java_db_artifact() {
    let Some(env) = env() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("java-src");
    std::fs::create_dir_all(&src).unwrap();
    let conn = javadb::create_schema(&src.join(javadb::JAVA_DB_FILE)).unwrap();
    conn.execute("INSERT INTO artifacts(id, group_id, artifact_id) VALUES (1, 'org.apache.logging.log4j', 'log4j-core')", []).unwrap();
    conn.execute(
        "INSERT INTO indices(artifact_id, version, sha1, archive_type) VALUES (1, '2.14.1', ?1, 'jar')",
        [vec![0xabu8; 20]],
    )
    .unwrap();
    drop(conn);
    let now = Utc::now();
    let meta =
        serde_json::json!({"Version": 1, "NextUpdate": now + Duration::days(3), "UpdatedAt": now});
    std::fs::write(
        src.join("metadata.json"),
        serde_json::to_vec(&meta).unwrap(),
    )
    .unwrap();
    let r = repo(&env.registry, "trivy-java-db");
    DbKind::Java
        .artifact(archive(&src, DbKind::Java))
        .publish(&format!("{r}:1"), &plain())
        .await
        .unwrap();
    let cache = tmp.path().join("cache");
    let out = update(
        &cache,
        DbKind::Java,
        &opts(&[&r], plain()),
        Arc::new(NoProgress),
        Utc::now(),
    )
    .await
    .unwrap();
    assert!(matches!(out, UpdateOutcome::Updated { .. }));
    let db = javadb::JavaDb::open(&cache.join("java-db").join(javadb::JAVA_DB_FILE)).unwrap();
    let hit = db.by_sha1(&"ab".repeat(20)).unwrap().unwrap();
    assert_eq!(
        (hit.artifact_id.as_str(), hit.version.as_str()),
        ("log4j-core", "2.14.1")
    );

    // A vulnerability DB artifact is not a Java DB.
    let wrong = repo(&env.registry, "trivy-java-db");
    push_db(&format!("{wrong}:1"), &plain(), vec![0u8; 10]).await;
    let mut o = opts(&[&wrong], plain());
    o.force = true;
    let err = update(&cache, DbKind::Java, &o, Arc::new(NoProgress), Utc::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("media type"), "{err}");
    assert!(javadb::JavaDb::open(&cache.join("java-db").join(javadb::JAVA_DB_FILE)).is_ok());
}

fn assert_no_leftovers(cache: &Path) {
    let names: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(
        names.is_empty(),
        "temporary files left in the cache: {names:?}"
    );
}

#[test]
fn fixture_files_exist() {
    assert!(default_fixture_files().iter().all(|p| p.is_file()));
}
