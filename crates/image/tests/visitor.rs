//! The per-layer [`LayerVisitor`] hook: every regular file of every layer (deleted and
//! replaced ones included) with its layer index, in the same pass that builds the rootfs;
//! on small layouts from `test_support` and on the real `app` image (checked against GNU
//! tar's own listing of the layer blobs).

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use sightline_image::test_support::{OciLayoutWriter, TarBuilder, TestLayer};
use sightline_image::{
    fetch_image_visiting, ImageError, ImageSource, LayerFile, LayerVisitor, NoProgress,
    RegistryOptions,
};

/// (layer, path, size, bytes read) of one visited file.
type Seen = (usize, String, u64, Vec<u8>);

/// Records what it sees; reads at most `read_limit` bytes of each wanted file.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    skip_suffix: Option<&'static str>,
    read_limit: Option<u64>,
    fail_on: Option<&'static str>,
}

impl LayerVisitor for Recorder {
    fn wants(&self, file: &LayerFile<'_>) -> bool {
        !self.skip_suffix.is_some_and(|s| file.path.ends_with(s))
    }
    fn visit(&self, file: &LayerFile<'_>, content: &mut dyn Read) -> std::io::Result<()> {
        if self.fail_on == Some(file.path) {
            return Err(std::io::Error::other("visitor refused"));
        }
        let mut buf = Vec::new();
        match self.read_limit {
            Some(n) => content.take(n).read_to_end(&mut buf)?,
            None => content.read_to_end(&mut buf)?,
        };
        self.seen
            .lock()
            .unwrap()
            .push((file.layer, file.path.to_string(), file.size, buf));
        Ok(())
    }
}

fn layout(dir: &Path) -> Vec<String> {
    let l0 = TarBuilder::new()
        .dir("etc")
        .file("etc/os-release", "ID=debian\n")
        .file("opt/app/secret.env", "TOKEN=first\n")
        .file("opt/app/keep.txt", "keep\n")
        .file("opt/app/skip.bin", "skipped unread\n")
        .symlink("opt/app/link", "keep.txt")
        .build();
    let l1 = TarBuilder::new()
        .whiteout("opt/app/secret.env") // deleted: still visited in layer 0
        .file("opt/app/keep.txt", "replaced\n")
        .hardlink("opt/app/hard", "opt/app/keep.txt")
        .build();
    let l2 = TarBuilder::new()
        .opaque("opt/app")
        .file("opt/app/new.txt", "new\n")
        .build();
    let mut w = OciLayoutWriter::create(dir).unwrap();
    let img = w
        .add_image(
            "v",
            &[
                TestLayer::gzip(&l0),
                TestLayer::uncompressed(&l1),
                TestLayer::gzip(&l2),
            ],
        )
        .unwrap();
    img.diff_ids
}

async fn fetch(dir: &Path, visitor: Arc<Recorder>) -> Result<sightline_image::Image, ImageError> {
    let source = ImageSource::OciLayout {
        dir: dir.to_path_buf(),
        reference: Some("v".into()),
    };
    let keep_os_release = Arc::new(|p: &str, _s: u64| p == "etc/os-release");
    fetch_image_visiting(
        &source,
        &RegistryOptions::default(),
        keep_os_release,
        Some(visitor),
        Arc::new(NoProgress),
    )
    .await
}

#[tokio::test]
async fn every_regular_file_of_every_layer_is_visited_once() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let rec = Arc::new(Recorder {
        skip_suffix: Some(".bin"),
        ..Default::default()
    });
    let img = fetch(tmp.path(), rec.clone()).await.unwrap();
    let mut seen = rec.seen.lock().unwrap().clone();
    seen.sort();
    let got: Vec<(usize, &str, u64, &str)> = seen
        .iter()
        .map(|(l, p, s, c)| (*l, p.as_str(), *s, std::str::from_utf8(c).unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "etc/os-release", 10, "ID=debian\n"),
            (0, "opt/app/keep.txt", 5, "keep\n"),
            (0, "opt/app/secret.env", 12, "TOKEN=first\n"),
            (1, "opt/app/keep.txt", 9, "replaced\n"),
            (2, "opt/app/new.txt", 4, "new\n"),
        ],
        "deleted and replaced files are visited with their layer; skipped, links, whiteouts are not"
    );
    // The same pass kept what the filter wanted, merged as before.
    assert_eq!(
        &img.rootfs.read("etc/os-release").unwrap().unwrap().content[..],
        b"ID=debian\n"
    );
    assert!(img.rootfs.read("opt/app/secret.env").unwrap().is_none());
}

#[tokio::test]
async fn partial_reads_keep_digest_checks_and_errors_fail_the_fetch() {
    let tmp = tempfile::tempdir().unwrap();
    layout(tmp.path());
    let partial = Arc::new(Recorder {
        read_limit: Some(3),
        ..Default::default()
    });
    fetch(tmp.path(), partial.clone())
        .await
        .expect("reading part of each entry leaves the layer digests intact");
    assert!(partial
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|(_, _, _, c)| c.len() <= 3));

    let failing = Arc::new(Recorder {
        fail_on: Some("opt/app/keep.txt"),
        ..Default::default()
    });
    let err = fetch(tmp.path(), failing).await.unwrap_err();
    assert!(
        matches!(err, ImageError::CorruptLayer { .. })
            && err.to_string().contains("visitor refused"),
        "{err}"
    );
}

/// Regular files per layer of `tag`, listed by GNU tar from the layer blobs.
fn tar_listing(layout: &Path, tag: &str) -> Vec<BTreeMap<String, u64>> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| layout.join("blobs").join(d.replace(':', "/"));
    let desc = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(desc["digest"].as_str().unwrap())).unwrap())
            .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let out = Command::new("tar")
                .args(["--numeric-owner", "-tvzf"])
                .arg(blob(l["digest"].as_str().unwrap()))
                .output()
                .expect("GNU tar");
            assert!(out.status.success());
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|line| line.starts_with('-'))
                .filter_map(|line| {
                    // -rw-r--r-- 0/0  1234 2024-01-01 00:00 ./path
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let size = fields[2].parse().ok()?;
                    let name = fields[5..].join(" ");
                    let name = name
                        .trim_start_matches("./")
                        .trim_start_matches('/')
                        .to_string();
                    (!name.rsplit('/').next().unwrap_or("").starts_with(".wh."))
                        .then_some((name, size))
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_real_app_image_every_file_of_every_layer() {
    let Some(env) = support::local_env("the_real_app_image_every_file_of_every_layer") else {
        return;
    };
    let expected = tar_listing(&env.oci_layout, "app");
    let rec = Arc::new(Recorder {
        read_limit: Some(0),
        ..Default::default()
    });
    let source = ImageSource::OciLayout {
        dir: env.oci_layout.clone(),
        reference: Some("app".into()),
    };
    let img = fetch_image_visiting(
        &source,
        &RegistryOptions::default(),
        Arc::new(|_: &str, _: u64| false),
        Some(rec.clone()),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(img.meta.layers.len(), expected.len());
    let mut got: Vec<BTreeMap<String, u64>> = vec![BTreeMap::new(); expected.len()];
    for (layer, path, size, _) in rec.seen.lock().unwrap().iter() {
        assert!(
            got[*layer].insert(path.clone(), *size).is_none(),
            "{path} visited twice in layer {layer}"
        );
    }
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(e.len() > 1000, "layer {i} has {} files per tar", e.len());
        assert_eq!(g, e, "layer {i}: visited files differ from tar's listing");
    }
    assert!(got[1].contains_key("opt/app/config/.env"));
}
