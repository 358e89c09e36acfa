//! Tests of the reader against a DB built from the real shared fixtures
//! (`shared/testdata/vulndb`), and against broken files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;

use crate::fixture::{self, FixtureError};
use crate::*;

/// A cache dir holding `db/trivy.db` + `db/metadata.json` built from both shared fixtures.
fn fixture_cache() -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_default_fixture_db(&db_dir(dir.path())).unwrap();
    dir
}

fn db_path(cache: &TempDir) -> PathBuf {
    db_dir(cache.path()).join(DB_FILE)
}

fn open_fixture() -> (TempDir, VulnDb) {
    let cache = fixture_cache();
    let (db, metadata) = VulnDb::open_cache(cache.path()).unwrap();
    assert_eq!(metadata.version, 2);
    (cache, db)
}

/// Writes a DB from YAML text into `dir/db`.
fn db_from_yaml(dir: &Path, yaml: &str) -> PathBuf {
    let file = dir.join("fixture.yaml");
    fs::write(&file, yaml).unwrap();
    let out = db_dir(dir);
    fixture::write_db(&[&file], &out, &Metadata::fresh(chrono::Utc::now())).unwrap();
    out.join(DB_FILE)
}

fn find<'a>(advisories: &'a [Advisory], id: &str) -> &'a Advisory {
    advisories
        .iter()
        .find(|a| a.vulnerability_id == id)
        .unwrap_or_else(|| panic!("{id} not found"))
}

fn expect_corrupt(result: Result<VulnDb, DbError>, want: &str) -> String {
    match result {
        Err(e @ DbError::Corrupt { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(want), "{msg:?} does not contain {want:?}");
            msg
        }
        Err(e) => panic!("expected Corrupt containing {want:?}, got {e:?}"),
        Ok(db) => panic!("expected Corrupt containing {want:?}, opened {db:?}"),
    }
}

// ---- real values -------------------------------------------------------------------------

#[test]
fn debian_openssl_advisory_has_the_fixture_values() {
    let (_cache, db) = open_fixture();
    let advisories = db.advisories("debian 12", "openssl").unwrap();
    let a = find(&advisories, "CVE-2026-42767");
    assert_eq!(a.fixed_version, "3.0.22-1~deb12u1");
    assert_eq!(a.vendor_ids, vec!["DLA-4795-1".to_string()]);
    assert_eq!(a.status, Status::Unknown);
    assert_eq!(a.severity, Severity::Unknown);
    assert!(a.affected_version.is_empty() && a.vulnerable_versions.is_empty());
    let ids: Vec<&str> = advisories
        .iter()
        .map(|a| a.vulnerability_id.as_str())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "advisories are sorted by id");
}

#[test]
fn statuses_and_severities_decode_from_ints() {
    let (_cache, db) = open_fixture();
    let coreutils = db.advisories("debian 12", "coreutils").unwrap();
    let a = find(&coreutils, "CVE-2016-2781");
    assert_eq!((a.status, a.severity), (Status::WillNotFix, Severity::Low));
    assert_eq!(a.fixed_version, "");
    let util_linux = db.advisories("debian 12", "util-linux").unwrap();
    assert_eq!(
        find(&util_linux, "CVE-2026-3184").status,
        Status::WillNotFix
    );
    let curl = db.advisories("debian 12", "curl").unwrap();
    assert_eq!(find(&curl, "CVE-2025-9086").status, Status::Affected);
    let perl = db.advisories("debian 12", "perl").unwrap();
    assert_eq!(find(&perl, "CVE-2026-9538").status, Status::FixDeferred);
    let apt = db.advisories("debian 12", "apt").unwrap();
    assert_eq!(find(&apt, "CVE-2011-3374").severity, Severity::Low);
}

#[test]
fn alpine_fixed_version_zero_stays_a_string() {
    let (_cache, db) = open_fixture();
    let bridge = db.advisories("alpine 3.23", "bridge").unwrap();
    let a = find(&bridge, "CVE-2021-42533");
    assert_eq!(a.fixed_version, "0");
    assert_eq!((a.status, a.severity), (Status::Unknown, Severity::Unknown));
    let apk = db.advisories("alpine 3.23", "apk-tools").unwrap();
    assert_eq!(find(&apk, "CVE-2021-36159").fixed_version, "2.12.6-r0");
}

#[test]
fn data_sources_of_both_files_are_merged() {
    let (_cache, db) = open_fixture();
    assert_eq!(
        db.data_source("debian 12").unwrap(),
        Some(DataSource {
            id: "debian".into(),
            name: "Debian Security Tracker".into(),
            url: "https://salsa.debian.org/security-tracker-team/security-tracker".into(),
        })
    );
    assert_eq!(
        db.data_source("alpine 3.23").unwrap(),
        Some(DataSource {
            id: "alpine".into(),
            name: "Alpine Secdb".into(),
            url: "https://secdb.alpinelinux.org/".into(),
        })
    );
    assert_eq!(db.data_source("debian 13").unwrap(), None);
}

#[test]
fn vulnerability_details_have_titles() {
    let (_cache, db) = open_fixture();
    let v = db.vulnerability("CVE-2026-42767").unwrap().unwrap();
    assert_eq!(
        v.title,
        "[NULL Pointer Dereference in CRMF EncryptedValue Decryption]"
    );
    assert_eq!(db.vulnerability("CVE-1999-99999").unwrap(), None);
    assert_eq!(db.vulnerability("").unwrap(), None);
}

#[test]
fn counts_match_the_fixture_readme() {
    let (_cache, db) = open_fixture();
    assert_eq!(db.platforms().unwrap(), vec!["alpine 3.23", "debian 12"]);
    for (platform, packages, advisories) in [("debian 12", 52, 1357), ("alpine 3.23", 23, 304)] {
        let names = db.packages(platform).unwrap();
        assert_eq!(names.len(), packages, "{platform} packages");
        let total: usize = names
            .iter()
            .map(|p| db.advisories(platform, p).unwrap().len())
            .sum();
        assert_eq!(total, advisories, "{platform} advisories");
    }
    // Every key, including the 1346 titles and the two data sources.
    let stats = db.verify().unwrap();
    assert_eq!(stats.keys, 1357 + 1346 + 2 + 304);
    assert_eq!(stats.buckets, 4 + 52 + 23);
}

#[test]
fn every_fixture_entry_reads_back_as_written() {
    let (_cache, db) = open_fixture();
    let mut checked = 0;
    for file in fixture::default_fixture_files() {
        let doc: Vec<serde_norway::Value> =
            serde_norway::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        for top in doc {
            let bucket = top["bucket"].as_str().unwrap().to_string();
            if bucket == VULNERABILITY_BUCKET || bucket == DATA_SOURCE_BUCKET {
                continue;
            }
            for pkg in top["pairs"].as_sequence().unwrap() {
                let name = pkg["bucket"].as_str().unwrap();
                let got: BTreeMap<String, Advisory> = db
                    .advisories(&bucket, name)
                    .unwrap()
                    .into_iter()
                    .map(|a| (a.vulnerability_id.clone(), a))
                    .collect();
                let pairs = pkg["pairs"].as_sequence().unwrap();
                assert_eq!(got.len(), pairs.len(), "{bucket}/{name}");
                for pair in pairs {
                    let id = pair["key"].as_str().unwrap();
                    let v = &pair["value"];
                    let a = &got[id];
                    assert_eq!(a.fixed_version, v["FixedVersion"].as_str().unwrap());
                    let int = |f: &str| v.get(f).and_then(|x| x.as_i64()).unwrap_or(0);
                    assert_eq!(a.severity, Severity::from_int(int("Severity")));
                    assert_eq!(a.status, Status::from_int(int("Status")));
                    let vendor: Vec<String> = v
                        .get("VendorIDs")
                        .map(|x| serde_norway::from_value(x.clone()).unwrap())
                        .unwrap_or_default();
                    assert_eq!(a.vendor_ids, vendor);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 1357 + 304);
}

#[test]
fn missing_platform_or_package_is_empty() {
    let (_cache, db) = open_fixture();
    assert!(db.advisories("debian 13", "openssl").unwrap().is_empty());
    assert!(db
        .advisories("debian 12", "no-such-package")
        .unwrap()
        .is_empty());
    assert!(db.advisories("", "").unwrap().is_empty());
    // A bucket that is a platform's sibling, not a platform: no package buckets in it.
    assert!(db
        .advisories("vulnerability", "CVE-2026-42767")
        .unwrap()
        .is_empty());
    assert!(db.packages("debian 13").unwrap().is_empty());
}

// ---- metadata ------------------------------------------------------------------------------

#[test]
fn metadata_reads_trivy_format() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(METADATA_FILE),
        r#"{"Version":2,"NextUpdate":"2026-11-28T06:43:19.170519413Z","UpdatedAt":"2026-11-27T06:43:19.170519713Z","DownloadedAt":"2026-11-27T09:12:01.5+01:00"}"#,
    )
    .unwrap();
    let m = read_metadata(dir.path()).unwrap();
    assert_eq!(m.version, 2);
    assert_eq!(
        m.downloaded_at.unwrap().to_rfc3339(),
        "2026-11-27T08:12:01.500+00:00"
    );
    // Go's zero time and missing fields.
    fs::write(
        dir.path().join(METADATA_FILE),
        r#"{"Version":2,"NextUpdate":"0001-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let m = read_metadata(dir.path()).unwrap();
    assert!(m.updated_at.is_none() && m.next_update.is_some());
}

#[test]
fn metadata_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let err = |dir: &Path| match VulnDb::open_cache(dir) {
        Err(e @ DbError::Metadata { .. }) => e.to_string(),
        other => panic!("expected Metadata error, got {other:?}"),
    };
    // Missing, even though trivy.db exists.
    db_from_yaml(dir.path(), "- bucket: vulnerability\n");
    fs::remove_file(db_dir(dir.path()).join(METADATA_FILE)).unwrap();
    assert!(err(dir.path()).contains("missing: run `sightline db update`"));
    // Schema 1.
    fs::write(
        db_dir(dir.path()).join(METADATA_FILE),
        r#"{"Version":1,"NextUpdate":"2026-11-28T00:00:00Z"}"#,
    )
    .unwrap();
    assert!(err(dir.path())
        .contains("schema version 1 is not supported (need 2): run `sightline db update`"));
    // Not JSON.
    fs::write(db_dir(dir.path()).join(METADATA_FILE), "{\"Version\":").unwrap();
    assert!(err(dir.path()).contains("not valid Trivy DB metadata"));
    // Metadata fine, DB missing.
    let empty = tempfile::tempdir().unwrap();
    write_metadata(&db_dir(empty.path()), &Metadata::fresh(chrono::Utc::now())).unwrap();
    assert!(matches!(
        VulnDb::open_cache(empty.path()),
        Err(DbError::NotFound { .. })
    ));
}

// ---- broken files ----------------------------------------------------------------------------

#[test]
fn missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");
    match VulnDb::open(&path) {
        Err(e @ DbError::NotFound { .. }) => assert!(e.to_string().contains("sightline db update")),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!path.exists(), "open must not create the file");
}

#[test]
fn a_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(VulnDb::open(dir.path()), Err(DbError::Io { .. })));
}

#[test]
fn empty_file_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");
    fs::write(&path, b"").unwrap();
    expect_corrupt(VulnDb::open(&path), "the file is empty");
}

#[test]
fn truncated_files_are_corrupt() {
    let cache = fixture_cache();
    let bytes = fs::read(db_path(&cache)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");

    // The first 4 KiB of a real DB: one meta page.
    fs::write(&path, &bytes[..4096]).unwrap();
    expect_corrupt(VulnDb::open(&path), "truncated");

    // Cut in the middle of the data.
    let db = VulnDb::open(&db_path(&cache)).unwrap();
    let data_end = (db.header.meta.pgid as usize) * db.header.page_size;
    drop(db);
    fs::write(&path, &bytes[..data_end / 2]).unwrap();
    let msg = expect_corrupt(VulnDb::open(&path), "truncated");
    assert!(msg.contains("delete it and run `sightline db update`"));

    // Every page boundary and some odd lengths: always an error, never a panic or a crash.
    let mut cuts: Vec<usize> = (0..data_end).step_by(4096).collect();
    cuts.extend([1, 79, 80, 81, 4095, 4097, 8191, 8193, data_end - 1]);
    for cut in cuts {
        fs::write(&path, &bytes[..cut]).unwrap();
        assert!(
            matches!(VulnDb::open(&path), Err(DbError::Corrupt { .. })),
            "cut at {cut}"
        );
    }
    // Longer than the data (a Go bbolt file is grown in steps): fine.
    fs::write(&path, &bytes[..data_end]).unwrap();
    assert!(VulnDb::open(&path).is_ok());
}

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_bytes_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for len in [100, 4096, 8192, 65536, 1 << 20] {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        fs::write(&path, &bytes).unwrap();
        expect_corrupt(VulnDb::open(&path), "no valid meta page");
    }
    // Text that is not a DB at all.
    fs::write(&path, "{\"Version\":2}\n".repeat(1000)).unwrap();
    expect_corrupt(VulnDb::open(&path), "not a BoltDB file");
}

#[test]
fn bolt_file_without_trivy_buckets_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_from_yaml(
        dir.path(),
        "- bucket: widgets\n  pairs:\n    - key: a\n      value: b\n",
    );
    expect_corrupt(VulnDb::open(&path), "without trivy-db's `vulnerability`");
    // An empty BoltDB too.
    let path = db_from_yaml(dir.path(), "");
    expect_corrupt(VulnDb::open(&path), "0 top-level buckets");
}

#[test]
fn damaged_meta_and_root_pages_are_corrupt() {
    let cache = fixture_cache();
    let bytes = fs::read(db_path(&cache)).unwrap();
    let db = VulnDb::open(&db_path(&cache)).unwrap();
    let (page_size, root) = (db.header.page_size, db.header.meta.root as usize);
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");

    // Both meta pages damaged.
    let mut b = bytes.clone();
    b[16 + 20] ^= 0xff;
    b[page_size + 16 + 20] ^= 0xff;
    fs::write(&path, &b).unwrap();
    expect_corrupt(VulnDb::open(&path), "no valid meta page");

    // The newest meta page damaged: bbolt falls back to the older one, which (written when
    // the file was created) describes an empty DB.
    let db = VulnDb::open(&db_path(&cache)).unwrap();
    let newest = db.header.meta.txid as usize % 2;
    drop(db);
    let mut b = bytes.clone();
    b[newest * page_size + 16 + 44] ^= 0x01; // a byte of `pgid`: checksum mismatch
    fs::write(&path, &b).unwrap();
    expect_corrupt(VulnDb::open(&path), "0 top-level buckets");

    // The root page overwritten.
    let mut b = bytes.clone();
    b[root * page_size..(root + 1) * page_size].fill(0xa5);
    fs::write(&path, &b).unwrap();
    expect_corrupt(VulnDb::open(&path), "is not a tree page");
}

#[test]
fn damaged_tree_pages_are_found_by_verify() {
    let cache = fixture_cache();
    let bytes = fs::read(db_path(&cache)).unwrap();
    let db = VulnDb::open(&db_path(&cache)).unwrap();
    let (page_size, pgid, root) = (
        db.header.page_size,
        db.header.meta.pgid as usize,
        db.header.meta.root as usize,
    );
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");

    // Point every branch element of every branch page at a page past the end.
    let mut b = bytes.clone();
    let mut branches = 0;
    for p in 2..pgid {
        let page = &mut b[p * page_size..(p + 1) * page_size];
        if u16::from_le_bytes([page[8], page[9]]) == 0x01 && p != root {
            let count = u16::from_le_bytes([page[10], page[11]]) as usize;
            for i in 0..count {
                let e = 16 + i * 16;
                page[e + 8..e + 16].copy_from_slice(&(pgid as u64 + 7).to_le_bytes());
            }
            branches += 1;
        }
    }
    assert!(
        branches > 0,
        "the fixture DB has branch pages below the root"
    );
    fs::write(&path, &b).unwrap();
    let db = VulnDb::open(&path).expect("the header is intact");
    match db.verify() {
        Err(e @ DbError::Corrupt { .. }) => assert!(e.to_string().contains("outside the data")),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

/// Random byte damage inside the data: `open` + `verify` either refuse the file or the file is
/// safe to read (every query returns, possibly with an error); nothing panics or crashes.
#[test]
fn random_damage_is_refused_or_harmless() {
    let cache = fixture_cache();
    let bytes = fs::read(db_path(&cache)).unwrap();
    let db = VulnDb::open(&db_path(&cache)).unwrap();
    let (page_size, pgid) = (db.header.page_size, db.header.meta.pgid as usize);
    drop(db);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    let (mut refused, mut read) = (0, 0);
    for _ in 0..150 {
        let mut b = bytes.clone();
        for _ in 0..1 + rng.below(8) {
            let at = 2 * page_size + rng.below((pgid - 2) * page_size);
            b[at] = rng.next() as u8;
        }
        fs::write(&path, &b).unwrap();
        let Ok(db) = VulnDb::open(&path) else {
            refused += 1;
            continue;
        };
        if db.verify().is_err() {
            refused += 1;
            continue;
        }
        read += 1;
        for platform in db.platforms().unwrap_or_default() {
            for pkg in db.packages(&platform).unwrap_or_default() {
                let _ = db.advisories(&platform, &pkg);
            }
            let _ = db.data_source(&platform);
        }
        let _ = db.vulnerability("CVE-2026-42767");
    }
    eprintln!("random damage: {refused} refused, {read} read");
    assert_eq!(refused + read, 150);
}

#[test]
fn invalid_json_value_is_corrupt_naming_bucket_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_from_yaml(
        dir.path(),
        "- bucket: debian 12\n  pairs:\n    - bucket: openssl\n      pairs:\n        - key: CVE-2026-0001\n          value: {FixedVersion: 1.0}\n        - key: CVE-2026-0002\n          value: \"{not json\"\n- bucket: vulnerability\n  pairs:\n    - key: CVE-2026-0002\n      value: [1, 2]\n- bucket: data-source\n  pairs:\n    - key: debian 12\n      value: \"debian\"\n",
    );
    let db = VulnDb::open(&path).unwrap();
    let msg = match db.advisories("debian 12", "openssl") {
        Err(e @ DbError::Corrupt { .. }) => e.to_string(),
        other => panic!("expected Corrupt, got {other:?}"),
    };
    assert!(
        msg.contains("bucket `debian 12`/`openssl`, key `CVE-2026-0001`"),
        "{msg}"
    );
    assert!(matches!(
        db.vulnerability("CVE-2026-0002"),
        Err(DbError::Corrupt { reason, .. }) if reason.contains("bucket `vulnerability`, key `CVE-2026-0002`")
    ));
    assert!(matches!(
        db.data_source("debian 12"),
        Err(DbError::Corrupt { reason, .. }) if reason.contains("`data-source`, key `debian 12`")
    ));
}

// ---- read-only, sharing, locking ----------------------------------------------------------------

#[cfg(unix)]
#[test]
fn opening_is_read_only_and_leaves_no_trace() {
    use std::os::unix::fs::PermissionsExt;
    let cache = fixture_cache();
    let dir = db_dir(cache.path());
    let path = dir.join(DB_FILE);
    let before = fs::read(&path).unwrap();
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    let listing = |d: &Path| {
        let mut v: Vec<_> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    let files = listing(&dir);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();

    let (db, _) = VulnDb::open_cache(cache.path()).unwrap();
    let second = VulnDb::open(&path).unwrap(); // another reader at the same time
    assert!(!db.advisories("debian 12", "openssl").unwrap().is_empty());
    assert!(!second
        .advisories("alpine 3.23", "openssl")
        .unwrap()
        .is_empty());
    drop((db, second));

    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
    assert_eq!(listing(&dir), files);
}

#[test]
fn an_exclusive_lock_held_elsewhere_is_a_clear_error() {
    let cache = fixture_cache();
    let path = db_path(&cache);
    let writer = fs::File::open(&path).unwrap();
    fs4::fs_std::FileExt::lock_exclusive(&writer).unwrap();
    match VulnDb::open_with_lock_timeout(&path, Duration::from_millis(200)) {
        Err(e @ DbError::Locked { .. }) => {
            assert!(e.to_string().contains("locked by another process"))
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    fs4::fs_std::FileExt::unlock(&writer).unwrap();
    assert!(VulnDb::open_with_lock_timeout(&path, Duration::from_millis(200)).is_ok());
}

#[test]
fn readers_keep_their_db_while_a_new_one_is_written() {
    let cache = fixture_cache();
    let path = db_path(&cache);
    let old = VulnDb::open(&path).unwrap();
    // Rewrite the DB in place with alpine only (atomically: a new file renamed over the old).
    let alpine = fixture::testdata_dir().join("alpine-3.23.yaml");
    fixture::write_db(
        &[&alpine],
        &db_dir(cache.path()),
        &Metadata::fresh(chrono::Utc::now()),
    )
    .unwrap();
    assert_eq!(old.platforms().unwrap(), vec!["alpine 3.23", "debian 12"]);
    assert_eq!(old.advisories("debian 12", "openssl").unwrap().len(), 235);
    let new = VulnDb::open(&path).unwrap();
    assert_eq!(new.platforms().unwrap(), vec!["alpine 3.23"]);
    assert_eq!(new.vulnerability("CVE-2026-42767").unwrap(), None);
    // No temporary files left behind.
    let mut names: Vec<_> = fs::read_dir(db_dir(cache.path()))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec![METADATA_FILE, DB_FILE]);
}

#[test]
fn one_db_serves_eight_threads() {
    let (_cache, db) = open_fixture();
    let db = Arc::new(db);
    let mut expected = BTreeMap::new();
    for platform in db.platforms().unwrap() {
        for pkg in db.packages(&platform).unwrap() {
            let advisories = db.advisories(&platform, &pkg).unwrap();
            expected.insert((platform.clone(), pkg), advisories);
        }
    }
    let expected = Arc::new(expected);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (db, expected) = (Arc::clone(&db), Arc::clone(&expected));
            std::thread::spawn(move || {
                for round in 0..3 {
                    // Each thread walks the packages in a different order.
                    let mut keys: Vec<_> = expected.keys().collect();
                    let shift = (t * 7 + round) % keys.len();
                    keys.rotate_left(shift);
                    for key in keys {
                        let got = db.advisories(&key.0, &key.1).unwrap();
                        assert_eq!(&got, &expected[key]);
                        for a in got.iter().take(2) {
                            let _ = db.vulnerability(&a.vulnerability_id).unwrap();
                        }
                    }
                    assert!(db.data_source("debian 12").unwrap().is_some());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// ---- decoding --------------------------------------------------------------------------------

#[test]
fn advisory_json_is_read_like_trivy_db_writes_it() {
    // All fields, unknown ones (Arches, UnaffectedVersions, DataSource, VulnerabilityID) ignored.
    let a: Advisory = serde_json::from_str(
        r#"{"VulnerabilityID":"X","VendorIDs":["RHSA-1"],"Arches":["x86_64"],"Severity":4,
            "FixedVersion":"1.2","AffectedVersion":"1.0","VulnerableVersions":[">=1.0, <1.2"],
            "PatchedVersions":[">=1.2"],"UnaffectedVersions":["<1.0"],"Status":3,
            "DataSource":{"ID":"ghsa","Name":"GitHub","URL":"u"},"Custom":{"a":1}}"#,
    )
    .unwrap();
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.status, Status::Fixed);
    assert_eq!(a.vulnerable_versions, vec![">=1.0, <1.2"]);
    assert_eq!(a.patched_versions, vec![">=1.2"]);
    assert_eq!(a.vendor_ids, vec!["RHSA-1"]);
    assert_eq!(
        a.vulnerability_id, "",
        "the id comes from the key, not the value"
    );
    // Everything omitted (omitempty) or null.
    assert_eq!(
        serde_json::from_str::<Advisory>("{}").unwrap(),
        Advisory::default()
    );
    let a: Advisory = serde_json::from_str(
        r#"{"FixedVersion":null,"VendorIDs":null,"Severity":null,"Status":null}"#,
    )
    .unwrap();
    assert_eq!(a, Advisory::default());
}

#[test]
fn fixture_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let out = dir.path().join("out");
    let meta = Metadata::fresh(chrono::Utc::now());
    match fixture::write_db(&[&missing], &out, &meta) {
        Err(e @ FixtureError::Read { .. }) => assert!(e.to_string().contains("nope.yaml")),
        other => panic!("expected Read, got {other:?}"),
    }
    // A key where another file made a bucket: bbolt refuses, and nothing is left behind.
    let a = dir.path().join("a.yaml");
    let b = dir.path().join("b.yaml");
    fs::write(&a, "- bucket: x\n  pairs:\n    - bucket: y\n").unwrap();
    fs::write(&b, "- bucket: x\n  pairs:\n    - key: y\n      value: 1\n").unwrap();
    match fixture::write_db(&[&a, &b], &out, &meta) {
        Err(e @ FixtureError::Bolt { .. }) => {
            assert!(e.to_string().contains("bucket `x`, key `y`"), "{e}")
        }
        other => panic!("expected Bolt, got {other:?}"),
    }
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}

// ---- a file written by Go's bbolt -----------------------------------------------------------

fn go_written_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/go-bbolt/trivy.db")
}

#[test]
fn reads_a_db_written_by_go_bbolt() {
    let db = VulnDb::open(&go_written_db()).unwrap();
    assert_eq!(db.platforms().unwrap(), vec!["alpine 3.23", "debian 12"]);
    assert_eq!(db.packages("debian 12").unwrap(), vec!["bigpkg", "tiny"]);

    // 400 keys over several branch/leaf pages, every 10th deleted in a later transaction.
    let big = db.advisories("debian 12", "bigpkg").unwrap();
    assert_eq!(big.len(), 360);
    assert!(!big.iter().any(|a| a.vulnerability_id == "CVE-2024-00050"));
    let a = find(&big, "CVE-2024-00007");
    assert_eq!(a.fixed_version, "1.7-1");
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.status, Status::Unknown);
    assert_eq!(a.vendor_ids, vec!["DSA-5007-1"]);
    let a = find(&big, "CVE-2024-00003");
    assert_eq!(
        (a.fixed_version.as_str(), a.severity, a.status),
        ("", Severity::High, Status::Fixed)
    );
    let a = find(&big, "CVE-2024-00006");
    assert_eq!((a.severity, a.status), (Severity::Low, Status::FixDeferred));
    assert_eq!(find(&big, "CVE-2024-00005").severity, Severity::Unknown);

    // An inline bucket.
    let tiny = db.advisories("debian 12", "tiny").unwrap();
    assert_eq!(tiny.len(), 1);
    assert_eq!(
        (tiny[0].severity, tiny[0].status),
        (Severity::High, Status::WillNotFix)
    );

    let musl = db.advisories("alpine 3.23", "musl").unwrap();
    assert_eq!(find(&musl, "CVE-2020-28928").fixed_version, "0");
    assert_eq!(find(&musl, "CVE-2025-26519").fixed_version, "1.2.5-r9");

    // A value on overflow pages.
    let long = db.vulnerability("CVE-2024-99999").unwrap().unwrap();
    assert_eq!(long.title, "long one");
    assert_eq!(long.description.len(), 20_000);
    assert_eq!(
        db.vulnerability("CVE-2024-00000").unwrap().unwrap().title,
        "bigpkg issue CVE-2024-00000"
    );
    assert_eq!(db.data_source("debian 12").unwrap().unwrap().id, "debian");
    assert_eq!(db.data_source("alpine 3.23").unwrap().unwrap().id, "alpine");

    // Go's own check counts 7 buckets and 766 keys.
    let stats = db.verify().unwrap();
    assert_eq!((stats.buckets, stats.keys), (7, 766));
}

#[test]
fn truncating_a_go_written_db_is_always_an_error() {
    let bytes = fs::read(go_written_db()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trivy.db");
    let db = VulnDb::open(&go_written_db()).unwrap();
    let data_end = db.header.meta.pgid as usize * db.header.page_size;
    drop(db);
    for cut in (0..data_end).step_by(4096).chain([data_end - 1]) {
        fs::write(&path, &bytes[..cut]).unwrap();
        assert!(
            matches!(VulnDb::open(&path), Err(DbError::Corrupt { .. })),
            "cut at {cut}"
        );
    }
}

#[test]
fn verify_runs_from_several_threads_at_once() {
    let db = Arc::new(VulnDb::open(&go_written_db()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.verify().unwrap())
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().keys, 766);
    }
}
