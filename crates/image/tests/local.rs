//! The real test images from the OCI layout directory and the docker-archive tar written by
//! `test-images.sh`, with skopeo as ground truth; archives made by skopeo from test layouts.

mod support;

use std::sync::Arc;

use sightline_image::test_support::{OciLayoutWriter, TarBuilder, TestLayer};
use sightline_image::{fetch_image, Image, ImageError, ImageSource, NoProgress, RegistryOptions};
use support::{count_apk_packages, count_packages, digest_of, os_filter, read_host, truth};

async fn fetch(source: &ImageSource) -> Result<Image, ImageError> {
    fetch_image(
        source,
        &RegistryOptions::default(),
        os_filter(),
        Arc::new(NoProgress),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_images_match_skopeo() {
    let Some(env) = support::local_env("oci_layout_images_match_skopeo") else {
        return;
    };
    let minbase_n = count_packages(&read_host(&env.rootfs_bookworm.join("var/lib/dpkg/status")));
    for tag in ["bookworm-minbase", "bookworm-curl", "alpine-3.23"] {
        let input = format!("oci:{}:{tag}", env.oci_layout.display());
        let source = ImageSource::from_input(&input).unwrap();
        let img = fetch(&source).await.unwrap();
        let t = truth(&input, &[]);
        assert_eq!(img.meta.image_id, t.config_digest(), "{tag}");
        assert_eq!(img.meta.image_id, digest_of(&t.config), "{tag}");
        let digests: Vec<&str> = img.meta.layers.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(digests, t.layer_digests(), "{tag}");
        let diff_ids: Vec<&str> = img.meta.layers.iter().map(|l| l.diff_id.as_str()).collect();
        assert_eq!(diff_ids, t.diff_ids(), "{tag}");
        assert!(img.meta.repo_digests.is_empty());
        let os = img
            .rootfs
            .read("etc/os-release")
            .unwrap()
            .expect("os-release");
        let os = String::from_utf8_lossy(&os.content).into_owned();
        if tag.starts_with("alpine") {
            assert!(os.contains("ID=alpine"), "{os}");
            let db = img.rootfs.read("lib/apk/db/installed").unwrap().unwrap();
            let want =
                count_apk_packages(&read_host(&env.rootfs_alpine.join("lib/apk/db/installed")));
            assert_eq!(count_apk_packages(&db.content), want);
        } else {
            assert!(os.contains("ID=debian"), "{os}");
            let status = img.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
            let n = count_packages(&status.content);
            if tag == "bookworm-minbase" {
                assert_eq!((n, status.layer), (minbase_n, 0));
            } else {
                assert!(
                    n > minbase_n && status.layer == 1,
                    "{n} packages from layer {}",
                    status.layer
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_layout_needs_a_known_tag() {
    let Some(env) = support::local_env("oci_layout_needs_a_known_tag") else {
        return;
    };
    let dir = env.oci_layout.display().to_string();
    let e = fetch(&ImageSource::from_input(&format!("oci:{dir}:nope")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("{dir}:nope")) && msg.contains("bookworm-curl"),
        "{msg}"
    );
    // Several images and no tag: an error listing the tags.
    let e = fetch(&ImageSource::from_input(&format!("oci:{dir}")).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("alpine-3.23"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_archive_bookworm_curl() {
    let Some(env) = support::local_env("docker_archive_bookworm_curl") else {
        return;
    };
    let input = env.archive.display().to_string();
    let source = ImageSource::from_input(&input).unwrap();
    assert_eq!(
        source,
        ImageSource::DockerArchive {
            path: env.archive.clone()
        }
    );
    let img = fetch(&source).await.unwrap();
    let t = truth(&format!("docker-archive:{input}"), &[]);
    assert_eq!(img.meta.image_id, digest_of(&t.config));
    let diff_ids: Vec<&str> = img.meta.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(diff_ids, t.diff_ids());
    // skopeo wrote uncompressed layers: their blob digest is the diff_id.
    for l in &img.meta.layers {
        assert_eq!(l.digest, l.diff_id);
        assert_eq!(l.media_type, "application/vnd.docker.image.rootfs.diff.tar");
    }
    assert_eq!(
        img.meta.repo_tags,
        ["docker.io/library/debian:bookworm-curl"]
    );
    assert!(img.meta.repo_digests.is_empty());
    // Same image as the layout's bookworm-curl.
    let layout = fetch(
        &ImageSource::from_input(&format!("oci:{}:bookworm-curl", env.oci_layout.display()))
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(img.meta.image_id, layout.meta.image_id);
    let a = img.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
    let b = layout.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
    assert_eq!(a, b);
    assert!(
        String::from_utf8_lossy(&img.rootfs.read("etc/os-release").unwrap().unwrap().content)
            .contains("ID=debian")
    );
}

fn small_layout(dir: &std::path::Path) -> OciLayoutWriter {
    let mut w = OciLayoutWriter::create(dir).unwrap();
    let l1 = TarBuilder::new()
        .dir("etc")
        .dir("usr/lib")
        .file("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .dir("var/lib/dpkg")
        .file("var/lib/dpkg/status", "Package: a\n\nPackage: b\n")
        .build();
    let l2 = TarBuilder::new()
        .file(
            "var/lib/dpkg/status",
            "Package: a\n\nPackage: b\n\nPackage: c\n",
        )
        .build();
    w.add_image("t", &[TestLayer::gzip(&l1), TestLayer::gzip(&l2)])
        .unwrap();
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_archive_and_gzip_docker_archive() {
    if !support::skopeo_or_skip("oci_archive_and_gzip_docker_archive") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    small_layout(&layout);
    // skopeo's oci-archive: an OCI layout inside a tar.
    let oci_tar = tmp.path().join("img.oci.tar");
    support::skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:t", layout.display()),
        &format!("oci-archive:{}", oci_tar.display()),
    ]);
    let img =
        fetch(&ImageSource::from_input(&format!("oci-archive:{}", oci_tar.display())).unwrap())
            .await
            .unwrap();
    let t = truth(&format!("oci-archive:{}", oci_tar.display()), &[]);
    assert_eq!(img.meta.image_id, t.config_digest());
    let status = img.rootfs.read("var/lib/dpkg/status").unwrap().unwrap();
    assert_eq!((count_packages(&status.content), status.layer), (3, 1));

    // A docker-archive whose layers are gzip (as some `docker save` versions write).
    let l1 = TarBuilder::new()
        .file("etc/os-release", "ID=alpine\n")
        .build();
    let gz = sightline_image::test_support::gzip(&l1);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [digest_of(&l1)]}
    }))
    .unwrap();
    let config_name = format!("{}.json", digest_of(&config).trim_start_matches("sha256:"));
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": config_name, "RepoTags": ["example/gz:1"], "Layers": ["abc/layer.tar.gz"]}
    ]))
    .unwrap();
    let archive = tmp.path().join("gz.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    for (name, data) in [
        ("manifest.json", &manifest),
        (config_name.as_str(), &config),
        ("abc/layer.tar.gz", &gz),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
    drop(b);
    let img = fetch(&ImageSource::from_input(archive.to_str().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(img.meta.image_id, digest_of(&config));
    assert_eq!(img.meta.repo_tags, ["example/gz:1"]);
    assert_eq!(
        img.meta.layers[0].media_type,
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert_eq!(img.meta.layers[0].digest, digest_of(&gz));
    assert_eq!(img.meta.layers[0].diff_id, digest_of(&l1));
    assert_eq!(
        &img.rootfs.read("etc/os-release").unwrap().unwrap().content[..],
        b"ID=alpine\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_an_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("random.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "hello.txt", &b"hi"[..]).unwrap();
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    let e = fetch(&ImageSource::DockerArchive { path: p.clone() })
        .await
        .unwrap_err();
    assert!(matches!(e, ImageError::InvalidInput { .. }), "{e:?}");
    assert!(e.to_string().contains("random.tar"), "{e}");
    std::fs::write(&p, b"definitely not a tar file, far too short").unwrap();
    let e = fetch(&ImageSource::DockerArchive { path: p })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("random.tar"), "{e}");
}
