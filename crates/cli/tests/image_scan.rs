//! End-to-end: `sightline image` against the real local registries, OCI layout and
//! docker-archive, with a trivy.db written from the real advisory fixtures. Expected findings
//! come from an independent oracle (umoci unpack + the fixture YAML + the real `dpkg`).

mod support;

use std::collections::BTreeSet;

use support::*;

fn bookworm_curl_expected(env: &TestEnv) -> BTreeSet<Finding> {
    let unpacked = umoci_unpack(&env.oci_layout, "bookworm-curl");
    let pkgs = dpkg_packages(&unpacked.path().join("bundle/rootfs"));
    assert_eq!(
        pkgs.len(),
        108,
        "bookworm-curl has 108 packages (shared/testdata/vulndb/README.md)"
    );
    expected_debian(&pkgs, "debian 12")
}

fn assert_same(actual: &BTreeSet<Finding>, expected: &BTreeSet<Finding>) {
    let missing: Vec<_> = expected.difference(actual).collect();
    let extra: Vec<_> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "findings differ from the fixture's implication\nmissing ({}): {:#?}\nunjustified ({}): {:#?}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(10).collect::<Vec<_>>()
    );
}

fn has(f: &BTreeSet<Finding>, pkg: &str, id: &str, fixed: &str, status: &str) -> bool {
    f.iter()
        .any(|x| x.pkg == pkg && x.id == id && x.fixed == fixed && x.status == status)
}

#[test]
fn registry_bookworm_curl_matches_the_fixture_exactly() {
    let Some(env) = env() else { return };
    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let run = scan_json(&[&image]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report = run.json();

    assert_eq!(report["SchemaVersion"], 2);
    assert_eq!(report["ArtifactName"], image.as_str());
    assert_eq!(report["ArtifactType"], "container_image");
    assert_eq!(report["Metadata"]["OS"]["Family"], "debian");
    assert_eq!(report["Metadata"]["OS"]["Name"], "12.15");
    let image_id = skopeo_config_digest(&format!("docker://{image}"));
    assert_eq!(report["Metadata"]["ImageID"], image_id.as_str());
    let digest = report["Metadata"]["RepoDigests"][0].as_str().unwrap();
    assert!(
        digest.starts_with(&format!("{}/library/debian@sha256:", env.registry)),
        "{digest}"
    );
    let result = &report["Results"][0];
    assert_eq!(result["Target"], format!("{image} (debian 12.15)").as_str());
    assert_eq!(result["Class"], "os-pkgs");
    assert_eq!(result["Type"], "debian");

    let actual = findings(&report);
    assert_same(&actual, &bookworm_curl_expected(&env));

    // A chosen set, checked by hand against debian-12.yaml:
    // openssl's CRMF fix landed in 3.0.22-1~deb12u1 (libssl3 and openssl are both from it).
    assert!(has(
        &actual,
        "libssl3",
        "CVE-2026-42767",
        "3.0.22-1~deb12u1",
        "fixed"
    ));
    assert!(has(
        &actual,
        "openssl",
        "CVE-2026-42767",
        "3.0.22-1~deb12u1",
        "fixed"
    ));
    // xz-utils' tracker line names a version newer than any bookworm upload: affected, no fix.
    assert!(has(&actual, "liblzma5", "CVE-2026-34743", "", "affected"));
    // apt CVE-2011-3374 has no fix in bookworm (an unfixed sid entry, Debian urgency low).
    assert!(has(&actual, "apt", "CVE-2011-3374", "", "affected"));
    // Fields a Trivy consumer reads.
    let v = result["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["PkgName"] == "libssl3" && v["VulnerabilityID"] == "CVE-2026-42767")
        .unwrap();
    assert_eq!(
        v["Title"],
        "[NULL Pointer Dereference in CRMF EncryptedValue Decryption]"
    );
    assert_eq!(
        v["PrimaryURL"],
        "https://avd.aquasec.com/nvd/cve-2026-42767"
    );
    assert_eq!(v["DataSource"]["ID"], "debian");
    assert!(v["PkgID"].as_str().unwrap().starts_with("libssl3@"));
    assert!(v["PkgIdentifier"]["PURL"]
        .as_str()
        .unwrap()
        .starts_with("pkg:deb/debian/libssl3@"));
    let apt = result["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["PkgName"] == "apt" && v["VulnerabilityID"] == "CVE-2011-3374")
        .unwrap();
    assert_eq!(
        (apt["Severity"].as_str(), apt["SeveritySource"].as_str()),
        (Some("LOW"), Some("debian"))
    );
}

#[test]
fn oci_layout_and_docker_archive_give_the_same_findings() {
    let Some(env) = env() else { return };
    let expected = bookworm_curl_expected(&env);
    let layout = format!("oci:{}:bookworm-curl", env.oci_layout.display());
    let run = scan_json(&["--input", &layout]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report = run.json();
    assert_same(&findings(&report), &expected);
    let image_id = skopeo_config_digest(&layout);
    assert_eq!(report["Metadata"]["ImageID"], image_id.as_str());

    let archive = env.archive.to_str().unwrap();
    let run = scan_json(&["--input", archive]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report = run.json();
    assert_same(&findings(&report), &expected);
    assert_eq!(report["Metadata"]["ImageID"], image_id.as_str());
    assert_eq!(report["Metadata"]["OS"]["Name"], "12.15");
}

#[test]
fn registry_alpine_matches_the_fixture_exactly() {
    let Some(env) = env() else { return };
    let image = format!("{}/library/alpine:3.23", env.registry);
    let run = scan_json(&[&image]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    let report = run.json();
    assert_eq!(report["Metadata"]["OS"]["Family"], "alpine");
    assert_eq!(report["Results"][0]["Type"], "alpine");
    let unpacked = umoci_unpack(&env.oci_layout, "alpine-3.23");
    let pkgs = apk_packages(&unpacked.path().join("bundle/rootfs"));
    assert_eq!(pkgs.len(), 59);
    let expected = expected_alpine(&pkgs, "alpine 3.23");
    assert_same(&findings(&report), &expected);
    // Every finding carries the alpine data source.
    for v in report["Results"][0]["Vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert_eq!(v["DataSource"]["ID"], "alpine");
    }
}

#[test]
fn private_registry_with_docker_config_and_with_flags() {
    let Some(env) = env() else { return };
    let image = format!("{}/private/debian:bookworm-curl", env.auth_registry);
    let cfg = env.docker_config.to_str().unwrap();
    let run = scan_json(&["--docker-config", cfg, &image]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);
    assert_same(&findings(&run.json()), &bookworm_curl_expected(&env));

    let run = scan_json(&[
        "--username",
        "sightline",
        "--password",
        "sightline-test",
        &image,
    ]);
    assert_eq!(run.code, 0, "stderr:\n{}", run.stderr);

    let run = scan_json(&["--username", "sightline", "--password", "wrong", &image]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&env.auth_registry),
        "401 error must name the registry:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("401") || run.stderr.to_lowercase().contains("auth"),
        "{}",
        run.stderr
    );

    // No credentials at all.
    let run = scan_json(&[&image]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains(&env.auth_registry), "{}", run.stderr);
}

#[test]
fn filters_exit_code_table_and_output_file() {
    let Some(env) = env() else { return };
    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let all = bookworm_curl_expected(&env);

    let run = scan_json(&["--ignore-unfixed", &image]);
    let fixed_only = findings(&run.json());
    assert!(fixed_only.iter().all(|f| f.status == "fixed"));
    assert_eq!(
        fixed_only.len(),
        all.iter().filter(|f| f.status == "fixed").count()
    );

    let run = scan_json(&["--severity", "LOW", &image]);
    let sevs: BTreeSet<String> = run.json()["Results"][0]["Vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Severity"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sevs, BTreeSet::from(["LOW".to_string()]));

    let run = scan_json(&["--exit-code", "7", &image]);
    assert_eq!(run.code, 7, "findings remain: the chosen exit code");
    let run = scan_json(&["--exit-code", "7", "--severity", "CRITICAL", &image]);
    assert_eq!(
        run.code, 0,
        "no CRITICAL findings in the fixture (no NVD data): exit 0"
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let run = scan_json(&["--output", out.to_str().unwrap(), &image]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.is_empty());
    let from_file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(findings(&from_file), all);

    let cache = fixture_cache().to_str().unwrap().to_string();
    let run = sightline(&["image", "--skip-db-update", "--cache-dir", &cache, &image]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&format!("{image} (debian 12.15)")));
    assert!(
        run.stdout.contains(&format!("Total: {} (", all.len())),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("│ CVE-2026-42767 "));
}

#[test]
fn registry_errors_are_clear() {
    let Some(env) = env() else { return };
    let run = scan_json(&[&format!("{}/library/debian:no-such-tag", env.registry)]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("no-such-tag") && run.stderr.contains(&env.registry),
        "{}",
        run.stderr
    );

    // Nothing listens on port 9 of loopback: connection refused, named.
    let run = scan_json(&[
        "--timeout",
        "5s",
        "127.0.0.1:9/library/debian:bookworm-curl",
    ]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("127.0.0.1:9"), "{}", run.stderr);

    let run = scan_json(&["--input", "oci:/nonexistent/layout:tag"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("/nonexistent/layout"), "{}", run.stderr);
}

#[test]
fn bad_databases_fail_fast_and_clearly() {
    let Some(env) = env() else { return };
    let image = format!("{}/library/debian:bookworm-curl", env.registry);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().to_str().unwrap();

    // No DB at all.
    let run = sightline(&["image", "--skip-db-update", "--cache-dir", cache, &image]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(cache),
        "names the cache dir:\n{}",
        run.stderr
    );

    // metadata.json + an empty trivy.db.
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::copy(
        fixture_cache().join("db/metadata.json"),
        db.join("metadata.json"),
    )
    .unwrap();
    std::fs::write(db.join("trivy.db"), b"").unwrap();
    let run = sightline(&["image", "--skip-db-update", "--cache-dir", cache, &image]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("trivy.db"), "{}", run.stderr);

    // A truncated copy of the real DB.
    let real = std::fs::read(fixture_cache().join("db/trivy.db")).unwrap();
    std::fs::write(db.join("trivy.db"), &real[..real.len() / 3]).unwrap();
    let run = sightline(&["image", "--skip-db-update", "--cache-dir", cache, &image]);
    assert_eq!(
        run.code, 1,
        "stdout:\n{}\nstderr:\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("trivy.db"), "{}", run.stderr);

    // Schema version 1.
    std::fs::write(db.join("trivy.db"), &real).unwrap();
    std::fs::write(db.join("metadata.json"), br#"{"Version":1}"#).unwrap();
    let run = sightline(&["image", "--skip-db-update", "--cache-dir", cache, &image]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("metadata"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let run = sightline(&["image"]);
    assert_eq!(run.code, 2);
    let run = sightline(&["image", "--severity", "SEVERE", "x"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("SEVERE"));
    let run = sightline(&["image", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("--ignore-unfixed") && run.stdout.contains("Exit codes"));
}
