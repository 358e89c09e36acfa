//! Fetching the real test images from the real local registries (plain and htpasswd), with
//! skopeo as ground truth, plus failure injection in front of the real registry.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sightline_image::{fetch_image, Image, ImageError, ImageSource, NoProgress, RegistryOptions};
use support::{count_apk_packages, count_packages, os_filter, read_host, truth, Env, Recorder};

async fn fetch(reference: &str, opts: &RegistryOptions) -> Result<Image, ImageError> {
    fetch_image(
        &ImageSource::Registry(reference.to_string()),
        opts,
        os_filter(),
        Arc::new(NoProgress),
    )
    .await
}

fn minbase_packages(env: &Env) -> usize {
    let n = count_packages(&read_host(&env.rootfs_bookworm.join("var/lib/dpkg/status")));
    assert!(n > 50, "rootfs-bookworm status has only {n} packages");
    n
}

/// Checks an image against skopeo's view of it and the bookworm-curl expectations.
fn check_against_truth(img: &Image, t: &support::Truth) {
    assert_eq!(img.meta.image_id, t.config_digest());
    assert_eq!(img.meta.image_id, support::digest_of(&t.config));
    let digests: Vec<&str> = img.meta.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(digests, t.layer_digests());
    let diff_ids: Vec<&str> = img.meta.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(diff_ids, t.diff_ids());
    let sizes: Vec<u64> = img.meta.layers.iter().map(|l| l.size).collect();
    let want: Vec<u64> = t.manifest_json["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, want);
    assert_eq!(img.meta.config, t.config_json);
}

fn check_bookworm_curl(env: &Env, img: &Image) {
    let os = img
        .rootfs
        .read("etc/os-release")
        .unwrap()
        .expect("etc/os-release (a symlink)");
    let text = String::from_utf8_lossy(&os.content);
    assert!(text.contains("ID=debian"), "{text}");
    assert!(text.contains("VERSION_CODENAME=bookworm"), "{text}");
    assert_eq!(
        img.rootfs.read_link("etc/os-release"),
        Some("../usr/lib/os-release")
    );
    let status = img
        .rootfs
        .read("var/lib/dpkg/status")
        .unwrap()
        .expect("dpkg status");
    // The second layer rewrote the status file: its version wins.
    assert_eq!(status.layer, 1);
    let n = count_packages(&status.content);
    assert!(n > minbase_packages(env), "bookworm-curl has {n} packages");
    let text = String::from_utf8_lossy(&status.content);
    assert!(text.contains("Package: curl\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_registry_oci_manifest_bookworm_curl() {
    let Some(env) = support::registry_env("plain_registry_oci_manifest_bookworm_curl") else {
        return;
    };
    let reference = format!("{}/library/debian:bookworm-curl", env.registry);
    let t = truth(&format!("docker://{reference}"), &["--tls-verify=false"]);
    // An OCI manifest (umoci writes no top-level mediaType; the config type tells).
    assert_eq!(
        t.manifest_json["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let progress = Arc::new(Recorder::default());
    let img = fetch_image(
        &ImageSource::Registry(reference.clone()),
        &RegistryOptions::default(),
        os_filter(),
        progress.clone(),
    )
    .await
    .unwrap();
    check_against_truth(&img, &t);
    check_bookworm_curl(&env, &img);
    assert_eq!(img.meta.name, reference);
    let manifest_digest = support::digest_of(&t.manifest);
    assert_eq!(
        img.meta.repo_digests,
        [format!("{}/library/debian@{manifest_digest}", env.registry)]
    );
    assert_eq!(img.meta.repo_tags, [reference.as_str()]);
    // Progress: every layer started with its size, all bytes reported, finished.
    let started = progress.started.lock().unwrap().clone();
    assert_eq!(started.len(), 2);
    for l in &img.meta.layers {
        assert!(started.contains(&(l.digest.clone(), l.size)));
        assert_eq!(progress.bytes.lock().unwrap()[&l.digest], l.size);
        assert!(progress.finished.lock().unwrap().contains(&l.digest));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_registry_docker_v2s2_manifest() {
    let Some(env) = support::registry_env("plain_registry_docker_v2s2_manifest") else {
        return;
    };
    let reference = format!("{}/library/debian:bookworm-curl-v2s2", env.registry);
    let t = truth(&format!("docker://{reference}"), &["--tls-verify=false"]);
    assert_eq!(
        t.manifest_json["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let img = fetch(&reference, &RegistryOptions::default())
        .await
        .unwrap();
    check_against_truth(&img, &t);
    check_bookworm_curl(&env, &img);
    assert!(img
        .meta
        .layers
        .iter()
        .all(|l| l.media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"));
    assert_eq!(
        img.meta.repo_digests,
        [format!(
            "{}/library/debian@{}",
            env.registry,
            support::digest_of(&t.manifest)
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_registry_minbase_and_by_digest() {
    let Some(env) = support::registry_env("plain_registry_minbase_and_by_digest") else {
        return;
    };
    let tagged = format!("{}/library/debian:bookworm-minbase", env.registry);
    let t = truth(&format!("docker://{tagged}"), &["--tls-verify=false"]);
    let digest = support::digest_of(&t.manifest);
    let by_digest = format!("{}/library/debian@{digest}", env.registry);
    let img = fetch(&by_digest, &RegistryOptions::default())
        .await
        .unwrap();
    check_against_truth(&img, &t);
    assert_eq!(img.meta.repo_digests, [by_digest.as_str()]);
    assert!(img.meta.repo_tags.is_empty());
    let status = img.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
    assert_eq!(status.layer, 0);
    assert_eq!(count_packages(&status.content), minbase_packages(&env));
    assert_eq!(
        status.content.to_vec(),
        read_host(&env.rootfs_bookworm.join("var/lib/dpkg/status"))
    );
    // A digest the repository does not have.
    let missing = format!("{}/library/debian@sha256:{}", env.registry, "0".repeat(64));
    let e = fetch(&missing, &RegistryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains(&missing), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_registry_alpine() {
    let Some(env) = support::registry_env("plain_registry_alpine") else {
        return;
    };
    let reference = format!("{}/library/alpine:3.23", env.registry);
    let t = truth(&format!("docker://{reference}"), &["--tls-verify=false"]);
    let img = fetch(&reference, &RegistryOptions::default())
        .await
        .unwrap();
    check_against_truth(&img, &t);
    let os = img
        .rootfs
        .read("etc/os-release")
        .unwrap()
        .expect("os-release");
    assert!(String::from_utf8_lossy(&os.content).contains("ID=alpine"));
    let db = img
        .rootfs
        .read("lib/apk/db/installed")
        .unwrap()
        .expect("apk db");
    let want = count_apk_packages(&read_host(&env.rootfs_alpine.join("lib/apk/db/installed")));
    assert!(want > 20);
    assert_eq!(count_apk_packages(&db.content), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_registry_with_docker_config_and_with_username() {
    let Some(env) = support::registry_env("auth_registry_with_docker_config_and_with_username")
    else {
        return;
    };
    let reference = format!("{}/private/debian:bookworm-curl", env.auth_registry);
    let t = truth(
        &format!("docker://{reference}"),
        &["--tls-verify=false", "--creds", "sightline:sightline-test"],
    );
    let via_config = RegistryOptions {
        docker_config: Some(env.docker_config.clone()),
        ..Default::default()
    };
    let img = fetch(&reference, &via_config).await.unwrap();
    check_against_truth(&img, &t);
    check_bookworm_curl(&env, &img);

    let via_user = RegistryOptions {
        username: Some("sightline".into()),
        password: Some("sightline-test".into()),
        ..Default::default()
    };
    let img = fetch(&reference, &via_user).await.unwrap();
    assert_eq!(img.meta.image_id, t.config_digest());
    assert_eq!(
        img.meta.repo_digests,
        [format!(
            "{}/private/debian@{}",
            env.auth_registry,
            support::digest_of(&t.manifest)
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_registry_wrong_password_and_no_credentials_are_401() {
    let Some(env) =
        support::registry_env("auth_registry_wrong_password_and_no_credentials_are_401")
    else {
        return;
    };
    let reference = format!("{}/private/debian:bookworm-curl", env.auth_registry);
    let wrong = RegistryOptions {
        username: Some("sightline".into()),
        password: Some("wrong".into()),
        ..Default::default()
    };
    let e = fetch(&reference, &wrong).await.unwrap_err();
    assert!(matches!(e, ImageError::Auth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}: authentication failed (401 Unauthorized) for private/debian",
            env.auth_registry
        )),
        "{msg}"
    );
    assert!(msg.contains("--username/--password"), "{msg}");

    // No credentials at all (an empty docker config): also a 401 naming the registry.
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("config.json");
    std::fs::write(&empty, r#"{"auths":{}}"#).unwrap();
    let anonymous = RegistryOptions {
        docker_config: Some(empty),
        ..Default::default()
    };
    let e = fetch(&reference, &anonymous).await.unwrap_err();
    assert!(matches!(e, ImageError::Auth { .. }), "{e:?}");
    assert!(e.to_string().contains(&env.auth_registry), "{e}");
    assert!(e.to_string().contains("anonymous"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_tag_and_repository_are_404() {
    let Some(env) = support::registry_env("missing_tag_and_repository_are_404") else {
        return;
    };
    let e = fetch(
        &format!("{}/library/debian:nope", env.registry),
        &RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "manifest unknown: {}/library/debian:nope not found",
            env.registry
        )
    );
    let e = fetch(
        &format!("{}/library/nothing-here:1", env.registry),
        &RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("{}/library/nothing-here:1", env.registry)),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_500_names_the_registry_and_status() {
    let Some(env) = support::registry_env("injected_500_names_the_registry_and_status") else {
        return;
    };
    let proxy = support::start_proxy(&env.registry, support::Fault::Manifest500).await;
    let e = fetch(
        &format!("{}/library/debian:bookworm-minbase", proxy.addr),
        &RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImageError::Registry { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{}: ", proxy.addr)), "{msg}");
    assert!(msg.contains("500 Internal Server Error"), "{msg}");
    assert!(msg.contains(support::INJECTED_500_BODY), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_registry_times_out() {
    let Some(env) = support::registry_env("hung_registry_times_out") else {
        return;
    };
    let proxy = support::start_proxy(&env.registry, support::Fault::Hang).await;
    let opts = RegistryOptions {
        timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    let started = Instant::now();
    let e = fetch(
        &format!("{}/library/debian:bookworm-minbase", proxy.addr),
        &opts,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(e, ImageError::Timeout { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains(&proxy.addr) && msg.contains("1s"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_names_the_registry() {
    // A port that was just free: nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let e = fetch(
        &format!("{addr}/library/debian:x"),
        &RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImageError::Connect { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{addr}: cannot connect")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_references_and_docker_configs() {
    let e = fetch("UPPER/Case:x", &RegistryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::InvalidReference { .. }), "{e:?}");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("config.json");
    std::fs::write(&bad, "{ nope").unwrap();
    let opts = RegistryOptions {
        docker_config: Some(bad.clone()),
        ..Default::default()
    };
    let e = fetch("127.0.0.1:9/x:y", &opts).await.unwrap_err();
    assert!(matches!(e, ImageError::DockerConfig { .. }), "{e:?}");
    assert!(e.to_string().contains(&bad.display().to_string()), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_loopback_registry_uses_http() {
    let Some(env) = support::registry_env("ipv6_loopback_registry_uses_http") else {
        return;
    };
    // The real registry, reached through a plain forwarder on [::1].
    let proxy = support::start_proxy_on("[::1]:0", &env.registry, support::Fault::None).await;
    assert!(proxy.addr.starts_with("[::1]:"), "{}", proxy.addr);
    let reference = format!("{}/library/alpine:3.23", proxy.addr);
    let img = fetch(&reference, &RegistryOptions::default())
        .await
        .unwrap();
    let t = truth(
        &format!("docker://{}/library/alpine:3.23", env.registry),
        &["--tls-verify=false"],
    );
    assert_eq!(img.meta.image_id, t.config_digest());
    assert_eq!(
        img.meta.repo_digests,
        [format!(
            "{}/library/alpine@{}",
            proxy.addr,
            support::digest_of(&t.manifest)
        )]
    );
}

/// A non-loopback address of this machine (the interface of the default route), if any.
fn non_loopback_ip() -> Option<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?; // UDP connect sends nothing
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_makes_any_registry_plain_http() {
    let Some(env) = support::registry_env("insecure_makes_any_registry_plain_http") else {
        return;
    };
    let Some(ip) = non_loopback_ip() else {
        eprintln!(
            "SKIP insecure_makes_any_registry_plain_http: this machine has no non-loopback address"
        );
        return;
    };
    // The real registry, reached through a plain forwarder on a non-loopback address.
    let proxy =
        support::start_proxy_on(&format!("{ip}:0"), &env.registry, support::Fault::None).await;
    let reference = format!("{}/library/alpine:3.23", proxy.addr);
    // Not loopback: https by default, which a plain-http registry cannot answer.
    let opts = RegistryOptions {
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let e = fetch(&reference, &opts).await.unwrap_err();
    assert!(
        matches!(e, ImageError::Connect { .. } | ImageError::Registry { .. }),
        "{e:?}"
    );
    assert!(e.to_string().starts_with(&proxy.addr), "{e}");
    eprintln!("https to a plain-http registry: {e}");
    let insecure = RegistryOptions {
        insecure: true,
        ..opts
    };
    let img = fetch(&reference, &insecure).await.unwrap();
    let os = img.rootfs.read("etc/os-release").unwrap().unwrap();
    assert!(String::from_utf8_lossy(&os.content).contains("ID=alpine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_corrupted_in_transit_is_a_digest_mismatch() {
    let Some(env) = support::registry_env("manifest_corrupted_in_transit_is_a_digest_mismatch")
    else {
        return;
    };
    let proxy =
        support::start_proxy(&env.registry, support::Fault::Corrupt("/manifests/".into())).await;
    let t = truth(
        &format!("docker://{}/library/alpine:3.23", env.registry),
        &["--tls-verify=false"],
    );
    let digest = support::digest_of(&t.manifest);
    // By digest: the body must hash to the digest asked for.
    let by_digest = format!("{}/library/alpine@{digest}", proxy.addr);
    let e = fetch(&by_digest, &RegistryOptions::default())
        .await
        .unwrap_err();
    match &e {
        ImageError::DigestMismatch {
            subject, expected, ..
        } => {
            assert!(
                subject.starts_with("manifest ") && subject.contains(&proxy.addr),
                "{subject}"
            );
            assert_eq!(expected, &digest);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    // By tag: the body must hash to the registry's Docker-Content-Digest.
    let e = fetch(
        &format!("{}/library/alpine:3.23", proxy.addr),
        &RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e:?}");
    assert!(e.to_string().contains(&digest), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_digest_of_tags_and_digests() {
    let Some(env) = support::registry_env("resolve_digest_of_tags_and_digests") else {
        return;
    };
    let reference = format!("{}/library/debian:bookworm-curl", env.registry);
    let t = truth(&format!("docker://{reference}"), &["--tls-verify=false"]);
    let want = support::digest_of(&t.manifest);
    let opts = RegistryOptions::default();
    let got = sightline_image::resolve_digest(&reference, &opts)
        .await
        .unwrap();
    assert_eq!(got, want);
    // A digest reference needs no request (even to a registry that is not there).
    let pinned = format!("127.0.0.1:9/library/debian@{want}");
    assert_eq!(
        sightline_image::resolve_digest(&pinned, &opts)
            .await
            .unwrap(),
        want
    );
    let missing = format!("{}/library/debian:no-such-tag", env.registry);
    let err = sightline_image::resolve_digest(&missing, &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, ImageError::NotFound { .. }), "{err}");
}
