//! Layer semantics and hostile / corrupt content, on small OCI layouts written by
//! `test_support` (real tar + gzip + digests), read from disk and — pushed with skopeo — from
//! the real registry.

mod support;

use std::path::Path;
use std::sync::Arc;

use sightline_image::test_support::{
    gzip, sha256_digest, OciLayoutWriter, TarBuilder, TestLayer, OCI_INDEX, OCI_MANIFEST,
};
use sightline_image::{fetch_image, Image, ImageError, ImageSource, NoProgress, RegistryOptions};
use support::all_files;

async fn fetch_layout(dir: &Path, reference: &str) -> Result<Image, ImageError> {
    fetch_layout_with(dir, reference, &RegistryOptions::default()).await
}

async fn fetch_layout_with(
    dir: &Path,
    reference: &str,
    opts: &RegistryOptions,
) -> Result<Image, ImageError> {
    let source = ImageSource::OciLayout {
        dir: dir.to_path_buf(),
        reference: Some(reference.to_string()),
    };
    fetch_image(&source, opts, all_files(), Arc::new(NoProgress)).await
}

fn content(img: &Image, path: &str) -> Option<String> {
    img.rootfs
        .read(path)
        .unwrap()
        .map(|f| String::from_utf8_lossy(&f.content).into_owned())
}

/// Three layers exercising whiteouts, opaque directories and replacement.
fn three_layers() -> Vec<TestLayer> {
    let l1 = TarBuilder::new()
        .dir("etc")
        .file("etc/keep", "keep-0")
        .file("etc/gone", "gone-0")
        .file("etc/replaced", "replaced-0")
        .dir("opt/app")
        .file("opt/app/a", "a-0")
        .file("opt/app/sub/b", "b-0")
        .dir("srv/data")
        .file("srv/data/x", "x-0")
        .file("srv/data/y", "y-0")
        .file("var/lib/dpkg/status", "Package: a\n")
        .symlink("etc/link", "keep")
        .build();
    let l2 = TarBuilder::new()
        // Deletes a file and a whole directory of layer 1.
        .whiteout("etc/gone")
        .whiteout("opt/app")
        // Opaque srv/data: lower contents vanish, this layer's own entries stay.
        .dir("srv/data")
        .opaque("srv/data")
        .file("srv/data/z", "z-1")
        .file("etc/replaced", "replaced-1")
        // Own whiteout does not remove own entry, whatever the order.
        .file("etc/own", "own-1")
        .whiteout("etc/own")
        .whiteout("etc/link")
        .file("var/lib/dpkg/status", "Package: a\n\nPackage: b\n")
        .build();
    let l3 = TarBuilder::new()
        // Re-creates what layer 2 deleted.
        .file("opt/app/a", "a-2")
        .whiteout("srv/data/z")
        .file("etc/gone", "gone-2")
        .hardlink("etc/hard", "etc/keep")
        .build();
    vec![
        TestLayer::gzip(&l1),
        TestLayer::uncompressed(&l2),
        TestLayer::gzip(&l3),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whiteouts_and_opaque_dirs_across_three_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let written = w.add_image("t", &three_layers()).unwrap();
    let img = fetch_layout(tmp.path(), "t").await.unwrap();
    assert_eq!(img.meta.image_id, written.config_digest);
    let digests: Vec<&str> = img.meta.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(digests, written.layer_digests);
    assert_eq!(content(&img, "etc/keep").as_deref(), Some("keep-0"));
    assert_eq!(content(&img, "etc/gone").as_deref(), Some("gone-2"));
    assert_eq!(content(&img, "etc/replaced").as_deref(), Some("replaced-1"));
    assert_eq!(content(&img, "etc/own").as_deref(), Some("own-1"));
    assert_eq!(content(&img, "opt/app/a").as_deref(), Some("a-2"));
    assert_eq!(content(&img, "opt/app/sub/b"), None);
    assert_eq!(content(&img, "srv/data/x"), None);
    assert_eq!(content(&img, "srv/data/y"), None);
    assert_eq!(content(&img, "srv/data/z"), None);
    assert_eq!(img.rootfs.read_link("etc/link"), None);
    let hard = img.rootfs.read("etc/hard").unwrap().unwrap();
    assert_eq!((&hard.content[..], hard.layer), (&b"keep-0"[..], 2));
    let status = img.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
    assert_eq!(status.layer, 1);
    assert_eq!(support::count_packages(&status.content), 2);
    let all: Vec<&str> = img.rootfs.files().map(|(p, _)| p).collect();
    assert_eq!(
        all,
        [
            "etc/gone",
            "etc/hard",
            "etc/keep",
            "etc/own",
            "etc/replaced",
            "opt/app/a",
            "var/lib/dpkg/status"
        ]
    );
    // No whiteout marker is ever a file.
    assert!(all.iter().all(|p| !p.contains(".wh.")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dotdot_entry_is_hostile() {
    for name in ["../../etc/passwd", "a/../../x", "./../sightline-escape"] {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
        let ok = TarBuilder::new()
            .file("etc/os-release", "ID=debian\n")
            .build();
        let bad = TarBuilder::new()
            .file("etc/fine", "x")
            .file(name, "root::0:0::/:/bin/sh\n")
            .build();
        let written = w
            .add_image("t", &[TestLayer::gzip(&ok), TestLayer::gzip(&bad)])
            .unwrap();
        let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
        match &e {
            ImageError::HostileEntry { layer, entry, .. } => {
                assert_eq!(entry, name);
                assert!(
                    layer.contains("layer 2/2") && layer.contains(&written.layer_digests[1]),
                    "{layer}"
                );
            }
            other => panic!("{name}: expected HostileEntry, got {other:?}"),
        }
        assert!(e.to_string().contains(name), "{e}");
    }
    // Nothing was written next to (or above) the layout.
    assert!(!Path::new("/etc/fine").exists());
    assert!(!std::env::temp_dir().join("sightline-escape").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardlink_escape_is_hostile() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let bad = TarBuilder::new()
        .hardlink("etc/passwd-copy", "../../../etc/passwd")
        .build();
    let written = w.add_image("t", &[TestLayer::gzip(&bad)]).unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    assert!(matches!(e, ImageError::HostileEntry { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("etc/passwd-copy") && msg.contains("../../../etc/passwd"),
        "{msg}"
    );
    assert!(msg.contains(&written.layer_digests[0]), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_escapes_are_errors_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let layer = TarBuilder::new()
        .dir("etc")
        .symlink("etc/os-release", "/../../../../etc/passwd")
        .symlink("etc/shadow-link", "../../../../etc/shadow")
        .symlink("etc/loop-a", "loop-b")
        .symlink("etc/loop-b", "loop-a")
        .symlink("etc/abs-ok", "/usr/lib/os-release")
        .file("usr/lib/os-release", "ID=debian\n")
        .build();
    w.add_image("t", &[TestLayer::gzip(&layer)]).unwrap();
    let img = fetch_layout(tmp.path(), "t").await.unwrap();
    match img.rootfs.read("etc/os-release").unwrap_err() {
        ImageError::SymlinkEscape { link, target } => {
            assert_eq!(
                (link.as_str(), target.as_str()),
                ("etc/os-release", "/../../../../etc/passwd")
            );
        }
        other => panic!("expected SymlinkEscape, got {other:?}"),
    }
    let e = img.rootfs.read("etc/shadow-link").unwrap_err();
    assert!(matches!(e, ImageError::SymlinkEscape { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("etc/shadow-link -> ../../../../etc/shadow"),
        "{e}"
    );
    assert!(matches!(
        img.rootfs.read("etc/loop-a").unwrap_err(),
        ImageError::SymlinkLoop { .. }
    ));
    assert_eq!(content(&img, "etc/abs-ok").as_deref(), Some("ID=debian\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_gzip_is_a_corrupt_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let mut big = TarBuilder::new();
    for i in 0..50 {
        big = big.file(&format!("data/f{i}"), format!("{i}").repeat(2000));
    }
    let tar = big.build();
    let full = TestLayer::gzip(&tar);
    let keep = full.blob.len() / 2;
    let truncated = TestLayer::truncated_gzip(&tar, keep);
    assert_eq!(truncated.blob.len(), keep);
    let written = w.add_image("t", &[truncated]).unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    assert!(matches!(e, ImageError::CorruptLayer { .. }), "{e:?}");
    assert!(e.to_string().contains(&written.layer_digests[0]), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_not_matching_its_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let tar = TarBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .build();
    let written = w.add_image("t", &[TestLayer::gzip(&tar)]).unwrap();
    // Valid gzip of a valid tar, but not the blob the manifest names.
    let other = gzip(
        &TarBuilder::new()
            .file("etc/os-release", "ID=evil\n")
            .build(),
    );
    w.overwrite_blob(&written.layer_digests[0], &other).unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    match &e {
        ImageError::DigestMismatch {
            subject,
            expected,
            actual,
        } => {
            assert!(subject.contains("layer 1/1"), "{subject}");
            assert_eq!(expected, &written.layer_digests[0]);
            assert_eq!(actual, &sha256_digest(&other));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncompressed_content_not_matching_diff_id() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let tar = TarBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .build();
    let mut layer = TestLayer::gzip(&tar);
    layer.diff_id = sha256_digest(b"something else");
    let written = w.add_image("t", &[layer]).unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    match &e {
        ImageError::DigestMismatch {
            subject,
            expected,
            actual,
        } => {
            assert!(
                subject.contains("diff_ids") && subject.contains(&written.layer_digests[0]),
                "{subject}"
            );
            assert_eq!(expected, &written.diff_ids[0]);
            assert_eq!(actual, &sha256_digest(&tar));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_and_config_not_matching_their_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let tar = TarBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .build();
    let written = w.add_image("t", &[TestLayer::gzip(&tar)]).unwrap();
    // The index points to digest X; the blob at X holds other (still valid) JSON.
    let manifest_path = w.blob_path(&written.manifest_digest);
    let original = std::fs::read(&manifest_path).unwrap();
    let value: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let tampered = serde_json::to_vec_pretty(&value).unwrap();
    w.overwrite_blob(&written.manifest_digest, &tampered)
        .unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    match &e {
        ImageError::DigestMismatch {
            subject,
            expected,
            actual,
        } => {
            assert!(subject.contains("manifest"), "{subject}");
            assert_eq!(expected, &written.manifest_digest);
            assert_eq!(actual, &sha256_digest(&tampered));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    // Same for the config.
    std::fs::write(&manifest_path, &original).unwrap();
    w.overwrite_blob(&written.config_digest, b"{\"rootfs\":{\"diff_ids\":[]}}")
        .unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e:?}");
    assert!(
        e.to_string().contains("config") && e.to_string().contains(&written.config_digest),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_layers_are_unsupported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let tar = TarBuilder::new().file("a", "b").build();
    let layer =
        TestLayer::gzip(&tar).with_media_type("application/vnd.oci.image.layer.v1.tar+zstd");
    let written = w.add_image("t", &[layer]).unwrap();
    let e = fetch_layout(tmp.path(), "t").await.unwrap_err();
    assert!(
        matches!(e, ImageError::UnsupportedCompression { .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains(&written.layer_digests[0]) && e.to_string().contains("zstd"),
        "{e}"
    );
}

/// A layout with one tag pointing to an index over amd64 and arm64/v8 images.
fn multi_platform_layout(dir: &Path) -> (OciLayoutWriter, String, String, String) {
    let mut w = OciLayoutWriter::create(dir).unwrap();
    let amd = TarBuilder::new().file("etc/arch", "amd64").build();
    let arm = TarBuilder::new().file("etc/arch", "arm64").build();
    let amd_img = w.write_image(&[TestLayer::gzip(&amd)], "amd64").unwrap();
    let arm_img = w.write_image(&[TestLayer::gzip(&arm)], "arm64").unwrap();
    let (index_digest, index_size) = w
        .write_platform_index(&[("linux/amd64", &amd_img), ("linux/arm64/v8", &arm_img)])
        .unwrap();
    w.tag(Some("multi"), OCI_INDEX, &index_digest, index_size)
        .unwrap();
    (
        w,
        index_digest,
        amd_img.config_digest,
        arm_img.config_digest,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_index_in_layout_resolves_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let (_w, _index, amd_config, arm_config) = multi_platform_layout(tmp.path());
    let img = fetch_layout(tmp.path(), "multi").await.unwrap();
    assert_eq!(img.meta.image_id, amd_config);
    assert_eq!(content(&img, "etc/arch").as_deref(), Some("amd64"));
    let arm = RegistryOptions {
        platform: "linux/arm64".parse().unwrap(),
        ..Default::default()
    };
    let img = fetch_layout_with(tmp.path(), "multi", &arm).await.unwrap();
    assert_eq!(img.meta.image_id, arm_config);
    assert_eq!(content(&img, "etc/arch").as_deref(), Some("arm64"));
    let s390x = RegistryOptions {
        platform: "linux/s390x".parse().unwrap(),
        ..Default::default()
    };
    let e = fetch_layout_with(tmp.path(), "multi", &s390x)
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::NoMatchingPlatform { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/amd64, linux/arm64/v8"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_by_digest_and_single_image_without_tag() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let tar = TarBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .build();
    let img = w.write_image(&[TestLayer::gzip(&tar)], "amd64").unwrap();
    w.tag(None, OCI_MANIFEST, &img.manifest_digest, img.manifest_size)
        .unwrap();
    let input = format!("oci:{}", tmp.path().display());
    let got = fetch_image(
        &ImageSource::from_input(&input).unwrap(),
        &RegistryOptions::default(),
        all_files(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(got.meta.image_id, img.config_digest);
    let got = fetch_layout(tmp.path(), &img.manifest_digest)
        .await
        .unwrap();
    assert_eq!(got.meta.image_id, img.config_digest);
}

/// Pushes `oci:<dir>:<tag>` to the real plain registry with skopeo; returns the pushed
/// manifest digest.
fn push(dir: &Path, tag: &str, dest: &str, all: bool) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let digestfile = tmp.path().join("digest");
    let src = format!("oci:{}:{tag}", dir.display());
    let dst = format!("docker://{dest}");
    let digestfile_s = digestfile.display().to_string();
    let mut args = vec![
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--digestfile",
        &digestfile_s,
    ];
    if all {
        args.push("--all");
    }
    args.push(&src);
    args.push(&dst);
    support::skopeo(&args);
    std::fs::read_to_string(&digestfile)
        .unwrap()
        .trim()
        .to_string()
}

fn unique(name: &str) -> String {
    format!(
        "{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_layout_pushed_to_real_registry_and_fetched_by_digest() {
    let Some(env) =
        support::registry_env("test_layout_pushed_to_real_registry_and_fetched_by_digest")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let written = w.add_image("t", &three_layers()).unwrap();
    let repo = format!("{}/sightline-test/layers", env.registry);
    let tag = unique("semantics");
    let digest = push(tmp.path(), "t", &format!("{repo}:{tag}"), false);
    // skopeo compresses the uncompressed layer on the way, so the pushed manifest differs
    // from the written one; the config (image ID) does not.
    let t = support::truth(&format!("docker://{repo}:{tag}"), &["--tls-verify=false"]);
    assert_eq!(digest, support::digest_of(&t.manifest));
    let by_digest = format!("{repo}@{digest}");
    let img = fetch_image(
        &ImageSource::Registry(by_digest.clone()),
        &RegistryOptions::default(),
        all_files(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(img.meta.image_id, written.config_digest);
    assert_eq!(img.meta.repo_digests, [by_digest]);
    let layers: Vec<&str> = img.meta.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, t.layer_digests());
    let diff_ids: Vec<&str> = img.meta.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(diff_ids, written.diff_ids);
    assert_eq!(content(&img, "etc/gone").as_deref(), Some("gone-2"));
    assert_eq!(content(&img, "opt/app/sub/b"), None);
    assert_eq!(content(&img, "srv/data/z"), None);
    assert_eq!(content(&img, "etc/hard").as_deref(), Some("keep-0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_list_in_real_registry_resolves_platform() {
    let Some(env) = support::registry_env("manifest_list_in_real_registry_resolves_platform")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_w, index_digest, amd_config, arm_config) = multi_platform_layout(tmp.path());
    let repo = format!("{}/sightline-test/multi", env.registry);
    let tag = unique("multi");
    let pushed = push(tmp.path(), "multi", &format!("{repo}:{tag}"), true);
    assert_eq!(pushed, index_digest);
    let reference = format!("{repo}:{tag}");
    let fetch = |platform: &str| {
        let opts = RegistryOptions {
            platform: platform.parse().unwrap(),
            ..Default::default()
        };
        let reference = reference.clone();
        async move {
            fetch_image(
                &ImageSource::Registry(reference),
                &opts,
                all_files(),
                Arc::new(NoProgress),
            )
            .await
        }
    };
    let img = fetch("linux/amd64").await.unwrap();
    assert_eq!(img.meta.image_id, amd_config);
    // As Trivy: the repo digest is the LIST digest.
    assert_eq!(img.meta.repo_digests, [format!("{repo}@{index_digest}")]);
    let img = fetch("linux/arm64/v8").await.unwrap();
    assert_eq!(img.meta.image_id, arm_config);
    assert_eq!(content(&img, "etc/arch").as_deref(), Some("arm64"));
    let e = fetch("linux/ppc64le").await.unwrap_err();
    assert!(matches!(e, ImageError::NoMatchingPlatform { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&reference) && msg.contains("linux/amd64, linux/arm64/v8"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_corrupted_in_transit_is_a_digest_mismatch() {
    let Some(env) = support::registry_env("blob_corrupted_in_transit_is_a_digest_mismatch") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let mut big = TarBuilder::new();
    for i in 0..20 {
        big = big.file(&format!("data/f{i}"), format!("{i}").repeat(3000));
    }
    let written = w.add_image("t", &[TestLayer::gzip(&big.build())]).unwrap();
    let tag = unique("corrupt");
    push(
        tmp.path(),
        "t",
        &format!("{}/sightline-test/corrupt:{tag}", env.registry),
        false,
    );
    let layer = written.layer_digests[0].clone();
    let proxy = support::start_proxy(
        &env.registry,
        support::Fault::Corrupt(format!("/blobs/{layer}")),
    )
    .await;
    let e = fetch_image(
        &ImageSource::Registry(format!("{}/sightline-test/corrupt:{tag}", proxy.addr)),
        &RegistryOptions::default(),
        all_files(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap_err();
    match &e {
        ImageError::DigestMismatch {
            subject, expected, ..
        } => {
            assert!(subject.contains("layer 1/1"), "{subject}");
            assert_eq!(expected, &layer);
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
}
