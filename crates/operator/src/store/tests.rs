use std::path::Path;
use std::sync::Arc;

use chrono::TimeZone;
use sightline_api::report::{DetectedSecret, ScanResult, CLASS_SECRET};

use super::encoding::encode;
use super::*;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

/// A scan as a scan Job prints it (built through its JSON form: the operator does not
/// depend on the inventory crate's types).
fn scan(name: &str) -> ImageScan {
    let mut s: ImageScan = serde_json::from_value(serde_json::json!({
        "artifact_name": name,
        "image_id": "sha256:abc",
        "repo_digests": [format!("{name}@{D1}")],
        "repo_tags": [name],
        "diff_ids": ["sha256:def"],
        "config": {"config": {"Env": ["PATH=/usr/bin"]}},
        "inventory": {
            "os": {"family": "debian", "name": "12.15"},
            "os_packages": [{
                "id": "libssl3@3.0.17-1~deb12u2",
                "name": "libssl3",
                "version": "3.0.17-1~deb12u2",
                "src_name": "openssl",
                "src_version": "3.0.17-1~deb12u2",
                "file_path": "var/lib/dpkg/status"
            }]
        }
    }))
    .unwrap();
    s.secrets = Some(vec![ScanResult {
        target: "/app/.env".into(),
        class: CLASS_SECRET.into(),
        secrets: vec![DetectedSecret {
            rule_id: "aws-access-key-id".into(),
            matched: "AWS_ACCESS_KEY_ID=********".into(),
            offset: 0,
            ..Default::default()
        }],
        ..Default::default()
    }]);
    s
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + secs, 0).unwrap()
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("sub/dir/inventory.redb"));
    assert!(!store.contains(D1).unwrap());
    assert!(store.get(D1).unwrap().is_none());
    assert_eq!(store.len().unwrap(), 0);

    let s = scan("127.0.0.1:5000/library/debian:bookworm-curl");
    store.put(D2, &s, at(2)).unwrap();
    store.put(D1, &s, at(1)).unwrap();
    let got = store.get(D1).unwrap().unwrap();
    assert_eq!(got.scan, s);
    assert_eq!(got.scanned_at, at(1));
    assert!(store.contains(D1).unwrap());
    assert_eq!(
        store.digests().unwrap(),
        vec![D1.to_string(), D2.to_string()]
    );
    assert_eq!(store.len().unwrap(), 2);

    // Replacing keeps one entry.
    let s2 = scan("other:1");
    store.put(D1, &s2, at(3)).unwrap();
    assert_eq!(store.get(D1).unwrap().unwrap().scan, s2);
    assert_eq!(store.len().unwrap(), 2);

    assert!(store.remove(D1).unwrap());
    assert!(!store.remove(D1).unwrap());
    assert!(!store.contains(D1).unwrap());
    assert_eq!(store.digests().unwrap(), vec![D2.to_string()]);
}

#[test]
fn values_are_compact() {
    let mut s = scan("app:1");
    // A realistic config: the same strings repeated compress well.
    s.config = serde_json::json!({"history": vec!["RUN apt-get install -y curl"; 200]});
    let json = serde_json::to_vec(&s).unwrap();
    let value = encode(&RecordRef {
        scanned_at: at(0),
        scan: &s,
    })
    .unwrap();
    assert_eq!(value[0], ENCODING_V1);
    assert!(
        value.len() * 4 < json.len(),
        "{} bytes encoded vs {} bytes of JSON",
        value.len(),
        json.len()
    );
}

#[test]
fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.redb");
    let s = scan("app:1");
    {
        let store = open(&path);
        store.put(D1, &s, at(5)).unwrap();
    }
    let store = open(&path);
    let got = store.get(D1).unwrap().unwrap();
    assert_eq!((&got.scan, got.scanned_at), (&s, at(5)));
    assert_eq!(store.digests().unwrap(), vec![D1.to_string()]);
}

#[test]
fn second_open_of_an_open_store_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.redb");
    let _first = open(&path);
    let err = InventoryStore::open(&path, DEFAULT_CACHE_ENTRIES).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(err.to_string().contains(&path.display().to_string()));
}

/// A store that is expected to open cleanly.
fn open(path: &Path) -> InventoryStore {
    let outcome = InventoryStore::open(path, DEFAULT_CACHE_ENTRIES).unwrap();
    assert!(outcome.recovery.is_none(), "{:?}", outcome.recovery);
    outcome.store
}

/// Opens a store over an unusable file: it is moved aside and a fresh store opened.
fn assert_recovers(path: &Path, bad: &[u8]) {
    let outcome = InventoryStore::open(path, DEFAULT_CACHE_ENTRIES).unwrap();
    let recovery = outcome.recovery.expect("the unusable file is moved aside");
    assert!(
        matches!(recovery.cause, StoreError::Corrupt { .. }),
        "{}",
        recovery.cause
    );
    let moved = recovery.moved_to.file_name().unwrap().to_string_lossy();
    let secs = moved
        .strip_prefix("inventory.redb.corrupt-")
        .unwrap_or_else(|| panic!("{moved}"));
    assert!(secs.parse::<i64>().unwrap() > 1_700_000_000, "{moved}");
    assert_eq!(recovery.moved_to.parent(), path.parent());
    assert_eq!(std::fs::read(&recovery.moved_to).unwrap(), bad);
    // The fresh store works and is empty.
    let store = outcome.store;
    assert_eq!(store.len().unwrap(), 0);
    store.put(D1, &scan("app:1"), at(0)).unwrap();
    assert!(store.contains(D1).unwrap());
}

#[test]
fn a_garbage_file_is_moved_aside_and_a_fresh_store_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.redb");
    let garbage: Vec<u8> = (0..64 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes()[0])
        .collect();
    std::fs::write(&path, &garbage).unwrap();
    assert_recovers(&path, &garbage);
}

#[test]
fn two_recoveries_in_one_second_keep_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.redb");
    for round in 0..2u8 {
        std::fs::write(&path, vec![round; 8192]).unwrap();
        let outcome = InventoryStore::open(&path, 0).unwrap();
        assert!(outcome.recovery.is_some());
    }
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count();
    assert_eq!(aside, 2);
}

#[test]
fn a_damaged_store_is_moved_aside_and_a_fresh_store_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.redb");
    {
        let store = open(&path);
        for i in 0..50 {
            store
                .put(&format!("sha256:{i:064}"), &scan("app:1"), at(i))
                .unwrap();
        }
    }
    // Overwrite everything after the header region with noise.
    let mut bytes = std::fs::read(&path).unwrap();
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = i.to_le_bytes()[0].wrapping_mul(31) ^ 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_recovers(&path, &bytes);
}

#[test]
fn an_unmovable_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("ro");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("inventory.redb");
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o500)).unwrap();
    let result = InventoryStore::open(&path, 0);
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Root ignores directory permissions: then the file is simply moved aside.
    match result {
        Err(err @ StoreError::MoveAside { .. }) => {
            let msg = err.to_string();
            assert!(msg.contains(&format!("delete {}", path.display())), "{msg}");
            assert!(msg.contains("could not be moved aside"), "{msg}");
        }
        Err(other) => panic!("{other}"),
        Ok(outcome) => assert!(outcome.recovery.is_some()),
    }
}

#[test]
fn retain_removes_what_is_not_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("inventory.redb"));
    for i in 0..10 {
        store
            .put(&format!("sha256:{i:064}"), &scan("app:1"), at(i))
            .unwrap();
    }
    // Cached entries go too.
    let gone = format!("sha256:{:064}", 3);
    assert!(store.get(&gone).unwrap().is_some());
    let removed = store
        .retain(|d| d.ends_with('0') || d.ends_with('1'))
        .unwrap();
    assert_eq!(removed, 8);
    assert_eq!(
        store.digests().unwrap(),
        vec![format!("sha256:{:064}", 0), format!("sha256:{:064}", 1)]
    );
    assert!(store.get(&gone).unwrap().is_none());
    assert_eq!(store.retain(|_| true).unwrap(), 0);
    assert_eq!(store.retain(|_| false).unwrap(), 2);
    assert!(store.is_empty().unwrap());
}

#[test]
fn get_is_cached_and_writes_invalidate_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("inventory.redb"));
    store.put(D1, &scan("app:1"), at(1)).unwrap();
    let first = store.get(D1).unwrap().unwrap();
    let again = store.get(D1).unwrap().unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the second get is served from memory"
    );

    // A put replaces the cached value.
    store.put(D1, &scan("app:2"), at(2)).unwrap();
    let replaced = store.get(D1).unwrap().unwrap();
    assert_eq!(replaced.scan.artifact_name, "app:2");
    assert_eq!(replaced.scanned_at, at(2));
    assert_eq!(first.scan.artifact_name, "app:1", "old Arcs stay valid");

    // A remove drops it.
    assert!(store.remove(D1).unwrap());
    assert!(store.get(D1).unwrap().is_none());
}

#[test]
fn the_cache_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = InventoryStore::open(&dir.path().join("inventory.redb"), 3)
        .unwrap()
        .store;
    let digests: Vec<String> = (0..5).map(|i| format!("sha256:{i:064}")).collect();
    for d in &digests {
        store.put(d, &scan(d), at(0)).unwrap();
    }
    let a = store.get(&digests[0]).unwrap().unwrap();
    for d in &digests[1..3] {
        store.get(d).unwrap();
    }
    // Using the first again makes the second the least recently used.
    assert!(Arc::ptr_eq(&a, &store.get(&digests[0]).unwrap().unwrap()));
    let b = store.get(&digests[1]).unwrap().unwrap();
    store.get(&digests[0]).unwrap();
    store.get(&digests[2]).unwrap();
    store.get(&digests[3]).unwrap();
    assert_eq!(store.cache.len(), 3);
    assert!(Arc::ptr_eq(&a, &store.get(&digests[0]).unwrap().unwrap()));
    assert!(!Arc::ptr_eq(&b, &store.get(&digests[1]).unwrap().unwrap()));
    assert_eq!(store.cache.len(), 3);

    // Capacity 0: nothing is kept.
    let dir = tempfile::tempdir().unwrap();
    let store = InventoryStore::open(&dir.path().join("inventory.redb"), 0)
        .unwrap()
        .store;
    store.put(D1, &scan("x"), at(0)).unwrap();
    let a = store.get(D1).unwrap().unwrap();
    assert!(!Arc::ptr_eq(&a, &store.get(D1).unwrap().unwrap()));
    assert_eq!(store.cache.len(), 0);
}

#[test]
fn unknown_encoding_is_absent_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("inventory.redb"));
    store.put(D1, &scan("app:1"), at(0)).unwrap();
    // A value as a future Sightline might write it, and a damaged version-1 value.
    let txn = store.db.begin_write().unwrap();
    {
        let mut t = txn.open_table(INVENTORIES).unwrap();
        t.insert(D2, [7u8, 1, 2, 3].as_slice()).unwrap();
        t.insert("sha256:bad", [ENCODING_V1, 1, 2, 3].as_slice())
            .unwrap();
    }
    txn.commit().unwrap();

    let err = store.get(D2).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedEncoding { version: 7, .. }),
        "{err}"
    );
    assert!(err.is_unreadable_entry());
    assert!(err.to_string().contains("treated as absent"), "{err}");
    assert!(!store.contains(D2).unwrap());

    let err = store.get("sha256:bad").unwrap_err();
    assert!(matches!(err, StoreError::BadValue { .. }), "{err}");
    assert!(err.is_unreadable_entry());
    // A damaged v1 value still has a known version byte: `contains` reads one byte only,
    // so it says yes; `get` then says it cannot be read.
    assert!(store.contains("sha256:bad").unwrap());

    assert_eq!(
        store.digests().unwrap(),
        vec![D1.to_string(), "sha256:bad".to_string()]
    );
    assert_eq!(store.len().unwrap(), 2);

    // Rescanning overwrites it in the current encoding.
    store.put(D2, &scan("app:2"), at(1)).unwrap();
    assert_eq!(store.get(D2).unwrap().unwrap().scan.artifact_name, "app:2");
}

#[test]
fn concurrent_readers_and_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&dir.path().join("inventory.redb")));
    let digests: Vec<String> = (0..20).map(|i| format!("sha256:{i:064x}")).collect();
    for (i, d) in digests.iter().enumerate() {
        store
            .put(d, &scan(&format!("app:{i}")), at(i as i64))
            .unwrap();
    }
    let readers: Vec<_> = (0..4)
        .map(|t| {
            let store = Arc::clone(&store);
            let digests = digests.clone();
            std::thread::spawn(move || {
                for round in 0..25 {
                    let i = (t * 7 + round) % digests.len();
                    let got = store.get(&digests[i]).unwrap().unwrap();
                    assert_eq!(got.scan.artifact_name, format!("app:{i}"));
                    assert!(store.len().unwrap() >= digests.len());
                }
            })
        })
        .collect();
    let writer = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            for i in 0..10 {
                store
                    .put(&format!("sha256:new{i}"), &scan("new:1"), at(0))
                    .unwrap();
            }
        })
    };
    for r in readers {
        r.join().unwrap();
    }
    writer.join().unwrap();
    assert_eq!(store.len().unwrap(), 30);
}

#[test]
fn store_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<InventoryStore>();
}
