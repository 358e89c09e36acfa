//! trivy.db (BoltDB) files: the bytes written to a file, opened read-only, checked with
//! `verify` (what an install does before using a DB), and, when it passes, read through every
//! query the scanner makes: platforms, data sources, package buckets, advisories,
//! vulnerability details, and OS matching of an inventory built from the DB's own packages.
//!
//! `VulnDb` catches bbolt-rs panics as a last resort (`catch_unwind`) and reports the file as
//! corrupt; libfuzzer-sys's panic hook would abort before that unwinding, so this target puts
//! back a hook that only logs: a panic that escapes `VulnDb` still aborts (libfuzzer-sys
//! catches it around the target and aborts).
#![no_main]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use sightline_fuzz::family_of_bucket;
use sightline_inventory::{Inventory, OsInfo, Package};
use sightline_vulndb::VulnDb;

static HOOK: Once = Once::new();
static PANICS: AtomicUsize = AtomicUsize::new(0);

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let n = PANICS.fetch_add(1, Ordering::Relaxed) + 1;
            if n <= 3 || n.is_power_of_two() {
                eprintln!("[trivy_db] panic #{n} (caught by VulnDb, or aborting): {info}");
            }
        }));
    });
    let path = std::env::temp_dir().join(format!("sightline-fuzz-{}-trivy.db", std::process::id()));
    std::fs::write(&path, data).expect("scratch file");
    let Ok(db) = VulnDb::open_with_lock_timeout(&path, Duration::ZERO) else {
        return;
    };
    if db.verify().is_err() {
        return;
    }
    let Ok(platforms) = db.platforms() else {
        return;
    };
    for platform in platforms.iter().take(8) {
        let _ = db.data_source(platform);
        let Ok(packages) = db.packages(platform) else {
            continue;
        };
        let mut inv_packages = Vec::new();
        for pkg in packages.iter().take(32) {
            if let Ok(advisories) = db.advisories(platform, pkg) {
                for adv in advisories.iter().take(16) {
                    let _ = db.vulnerability(&adv.vulnerability_id);
                }
            }
            for version in ["0", "1.0-1", "99:99"] {
                inv_packages.push(Package::new(pkg, version, pkg, version, "fuzz"));
            }
        }
        if let Some((family, name)) = family_of_bucket(platform) {
            let inv = Inventory {
                os: Some(OsInfo { family, name }),
                os_packages: inv_packages,
                warnings: Vec::new(),
            };
            let _ = sightline_detect::detect_os(&db, &inv);
        }
    }
});
