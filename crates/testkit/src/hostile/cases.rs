//! The cases: each writes one OCI layout (tag [`super::TAG`]) whose base layer is a small
//! Debian 12 root and whose other layers carry the attack.

use std::io::{self, Write as _};
use std::path::Path;

use flate2::Compression;
use serde_json::json;
use sightline_image::test_support::gz_stream::GzLayerWriter;
use sightline_image::test_support::{
    raw_header, sha256_digest, FillWrite, LayerRef, OciLayoutWriter, TarBuilder, TestLayer,
};
use tar::EntryType;

use super::TAG;

/// One hostile image.
pub struct Case {
    /// The case name (also its repository: `sightline-hostile/<name>`).
    pub name: &'static str,
    /// What it does to a scanner.
    pub what: &'static str,
    /// Writes the layout into the (empty) directory.
    pub build: fn(&Path) -> io::Result<()>,
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// Every case, in the order the tables print them.
pub const CASES: &[Case] = &[
    Case {
        name: "traversal",
        what: "`../` entries climbing out of the root",
        build: traversal,
    },
    Case {
        name: "abs-symlink-escape",
        what: "etc/os-release -> /../../../../../etc/os-release",
        build: abs_symlink_escape,
    },
    Case {
        name: "chained-symlink-escape",
        what: "etc/os-release -> usr/lib/os-release -> srv/hop1 -> srv/hop2 -> above the root",
        build: chained_symlink_escape,
    },
    Case {
        name: "hardlink-outside-root",
        what: "a hard link to ../../../../etc/shadow",
        build: hardlink_outside_root,
    },
    Case {
        name: "device-files",
        what: "char, block and fifo entries, one in var/lib/dpkg/status.d/",
        build: device_files,
    },
    Case {
        name: "gzip-bomb",
        what: "~10 MB gzip -> a 10 GiB file of zeros at a path no analyzer keeps",
        build: gzip_bomb,
    },
    Case {
        name: "gzip-bomb-kept",
        what: "~10 MB gzip -> a 10 GiB var/lib/dpkg/status of zeros",
        build: gzip_bomb_kept,
    },
    Case {
        name: "million-files",
        what: "one layer of 1,000,000 empty files (and 1,000 directories)",
        build: million_files,
    },
    Case {
        name: "sparse-4g",
        what: "a 4 GiB GNU-sparse var/lib/dpkg/status in a tiny layer",
        build: sparse_4g,
    },
    Case {
        name: "hardlink-bomb",
        what: "a 1 MiB var/lib/dpkg/status + 100,000 hard links to it (~52 MB tar)",
        build: hardlink_bomb,
    },
    Case {
        name: "ten-thousand-layers",
        what: "a manifest naming 10,000 layers (100 distinct blobs)",
        build: ten_thousand_layers,
    },
    Case {
        name: "huge-config",
        what: "a 100 MiB config blob",
        build: huge_config,
    },
    Case {
        name: "digest-mismatch",
        what: "a layer whose tar is not the config's diff_id",
        build: digest_mismatch,
    },
    Case {
        name: "size-mismatch",
        what: "a layer descriptor whose size is 1,000 bytes short",
        build: size_mismatch,
    },
    Case {
        name: "zip-bomb-jar",
        what: "app/lib/bomb.jar: a 3 MB jar whose entry inflates to 3 GiB",
        build: zip_bomb_jar,
    },
    Case {
        name: "long-name",
        what: "a GNU long-name entry declaring a 1 GiB name",
        build: long_name,
    },
    Case {
        name: "huge-pax",
        what: "a PAX header with one 1 GiB record",
        build: huge_pax,
    },
];

/// os-release of the base layer (Debian's: under usr/lib, linked from etc).
const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// The base layer's dpkg status: real Debian 12 versions; apt 2.6.1 has an unfixed advisory
/// in the fixture DB (CVE-2011-3374), so a scan that read it reports a finding.
pub const DPKG_STATUS: &str = "Package: apt\nStatus: install ok installed\nPriority: required\nArchitecture: amd64\nVersion: 2.6.1\n\nPackage: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\nPackage: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n";

fn base_tar() -> Vec<u8> {
    TarBuilder::new()
        .dir("etc")
        .dir("usr")
        .dir("usr/lib")
        .file("usr/lib/os-release", OS_RELEASE)
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("etc/debian_version", "12.5\n")
        .dir("var")
        .dir("var/lib")
        .dir("var/lib/dpkg")
        .file("var/lib/dpkg/status", DPKG_STATUS)
        .build()
}

fn layout(dir: &Path) -> io::Result<OciLayoutWriter> {
    OciLayoutWriter::create(dir)
}

fn base(w: &OciLayoutWriter) -> io::Result<LayerRef> {
    w.store_layer(&TestLayer::gzip(&base_tar()))
}

/// The base layer + one in-memory layer `tar`, tagged.
fn two_layers(dir: &Path, tar: Vec<u8>) -> io::Result<()> {
    let mut w = layout(dir)?;
    let layers = [base(&w)?, w.store_layer(&TestLayer::gzip(&tar))?];
    w.add_image_refs(TAG, &layers, json!({}))?;
    Ok(())
}

/// The base layer + one streamed layer built by `f`, tagged.
fn streamed(
    dir: &Path,
    f: impl FnOnce(TarBuilder<GzLayerWriter>) -> TarBuilder<GzLayerWriter>,
) -> io::Result<()> {
    let mut w = layout(dir)?;
    let b = base(&w)?;
    let sink = GzLayerWriter::create(&w, Compression::fast())?;
    let layer = f(TarBuilder::on(sink)).finish().finish()?;
    w.add_image_refs(TAG, &[b, layer], json!({}))?;
    Ok(())
}

fn traversal(dir: &Path) -> io::Result<()> {
    let tar = TarBuilder::new()
        .file("usr/share/doc/ok.txt", "before the hostile entry\n")
        .file(
            &format!("{}tmp/sightline-hostile-traversal-pwned", "../".repeat(12)),
            "owned\n",
        )
        .build();
    two_layers(dir, tar)
}

fn abs_symlink_escape(dir: &Path) -> io::Result<()> {
    let tar = TarBuilder::new()
        .symlink("etc/os-release", "/../../../../../etc/os-release")
        .build();
    two_layers(dir, tar)
}

fn chained_symlink_escape(dir: &Path) -> io::Result<()> {
    // Each hop looks local; the last one climbs above the root. etc/os-release (base layer)
    // already points to usr/lib/os-release.
    let tar = TarBuilder::new()
        .dir("srv")
        .symlink("usr/lib/os-release", "../../srv/hop1")
        .symlink("srv/hop1", "hop2")
        .symlink("srv/hop2", "../../../../etc/os-release")
        .build();
    two_layers(dir, tar)
}

fn hardlink_outside_root(dir: &Path) -> io::Result<()> {
    let tar = TarBuilder::new()
        .dir("etc")
        .hardlink("etc/shadow-copy", "../../../../etc/shadow")
        .build();
    two_layers(dir, tar)
}

fn device_files(dir: &Path) -> io::Result<()> {
    let tar = TarBuilder::new()
        .dir("dev")
        .device(EntryType::Char, "dev/null", 1, 3)
        .device(EntryType::Char, "dev/console", 5, 1)
        .device(EntryType::Block, "dev/sda", 8, 0)
        .device(EntryType::Block, "dev/loop0", 7, 0)
        .dir("run")
        .device(EntryType::Fifo, "run/initctl", 0, 0)
        .dir("var/lib/dpkg/status.d")
        .device(EntryType::Fifo, "var/lib/dpkg/status.d/hostile", 0, 0)
        .device(EntryType::Char, "var/lib/dpkg/status.d/tty", 5, 0)
        .build();
    two_layers(dir, tar)
}

fn gzip_bomb(dir: &Path) -> io::Result<()> {
    streamed(dir, |b| {
        b.dir("usr/share/bomb").filled_entry(
            EntryType::Regular,
            "usr/share/bomb/zeros.bin",
            10 * GIB,
            0,
        )
    })
}

fn gzip_bomb_kept(dir: &Path) -> io::Result<()> {
    streamed(dir, |b| {
        b.filled_entry(EntryType::Regular, "var/lib/dpkg/status", 10 * GIB, 0)
    })
}

fn million_files(dir: &Path) -> io::Result<()> {
    streamed(dir, |mut b| {
        for d in 0..1000 {
            b = b.dir(&format!("m/{d:03}"));
            for f in 0..1000 {
                b = b.file(&format!("m/{d:03}/{f:03}"), "");
            }
        }
        b
    })
}

fn sparse_4g(dir: &Path) -> io::Result<()> {
    let tar = TarBuilder::new()
        .sparse_file("var/lib/dpkg/status", 4 * GIB, DPKG_STATUS.as_bytes())
        .build();
    two_layers(dir, tar)
}

/// A valid dpkg status of exactly 1 MiB: the base packages and one package whose
/// Description fills the rest.
fn status_of_one_mib() -> Vec<u8> {
    let head = format!(
        "{DPKG_STATUS}Package: filler\nStatus: install ok installed\nArchitecture: all\nVersion: 1.0\nDescription: padding\n"
    );
    let mut out = head.into_bytes();
    while out.len() < MIB as usize - 2 {
        let left = MIB as usize - 2 - out.len();
        let line = left.min(80);
        out.push(b' ');
        out.extend(std::iter::repeat_n(b'x', line.saturating_sub(2)));
        out.push(b'\n');
    }
    out.resize(MIB as usize - 1, b'\n');
    out.push(b'\n');
    out
}

fn hardlink_bomb(dir: &Path) -> io::Result<()> {
    let status = status_of_one_mib();
    streamed(dir, move |mut b| {
        b = b.file("var/lib/dpkg/status", &status).dir("usr/share/hl");
        for i in 0..100_000 {
            if i % 1000 == 0 {
                b = b.dir(&format!("usr/share/hl/{:03}", i / 1000));
            }
            b = b.hardlink(
                &format!("usr/share/hl/{:03}/{i:06}", i / 1000),
                "var/lib/dpkg/status",
            );
        }
        b
    })
}

fn ten_thousand_layers(dir: &Path) -> io::Result<()> {
    // 100 distinct small layers, each named 100 times: a registry takes ~60 ms per blob
    // upload, and 10,000 distinct blobs would cost every fresh CI registry ~10 minutes.
    let mut w = layout(dir)?;
    let mut distinct = Vec::new();
    for i in 1..=100 {
        let tar = TarBuilder::new()
            .file(&format!("layers/{i:05}"), format!("{i}\n"))
            .build();
        distinct.push(w.store_layer(&TestLayer::gzip(&tar))?);
    }
    let mut layers = vec![base(&w)?];
    layers.extend((1..10_000).map(|i| distinct[(i - 1) % distinct.len()].clone()));
    w.add_image_refs(TAG, &layers, json!({}))?;
    Ok(())
}

fn huge_config(dir: &Path) -> io::Result<()> {
    let mut w = layout(dir)?;
    let layers = [base(&w)?];
    let padding = "A".repeat(100 * MIB as usize);
    w.add_image_refs(
        TAG,
        &layers,
        json!({"config": {"Env": ["PATH=/usr/bin:/bin"], "Labels": {"org.sightline.hostile.padding": padding}}}),
    )?;
    Ok(())
}

fn second_layer(w: &OciLayoutWriter) -> io::Result<LayerRef> {
    let tar = TarBuilder::new()
        .file("usr/share/doc/hostile/README", "a second layer\n")
        .build();
    w.store_layer(&TestLayer::gzip(&tar))
}

fn digest_mismatch(dir: &Path) -> io::Result<()> {
    let mut w = layout(dir)?;
    let mut second = second_layer(&w)?;
    second.diff_id = sha256_digest(b"not the tar of this layer");
    let layers = [base(&w)?, second];
    w.add_image_refs(TAG, &layers, json!({}))?;
    Ok(())
}

fn size_mismatch(dir: &Path) -> io::Result<()> {
    let mut w = layout(dir)?;
    // A layer of some size (incompressible text), declared 1,000 bytes short.
    let mut text = String::new();
    for i in 0..20_000u64 {
        text.push_str(&format!("{:016x}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    }
    let tar = TarBuilder::new()
        .file("usr/share/doc/hostile/numbers", text)
        .build();
    let mut second = w.store_layer(&TestLayer::gzip(&tar))?;
    second.size -= 1000;
    let layers = [base(&w)?, second];
    w.add_image_refs(TAG, &layers, json!({}))?;
    Ok(())
}

fn zip_bomb_jar(dir: &Path) -> io::Result<()> {
    let jar = super::zip::bomb_jar(3 * GIB)?;
    let tar = TarBuilder::new()
        .dir("app")
        .dir("app/lib")
        .file("app/lib/bomb.jar", jar)
        .build();
    two_layers(dir, tar)
}

fn long_name(dir: &Path) -> io::Result<()> {
    streamed(dir, |b| {
        b.filled_entry(EntryType::GNULongName, "././@LongLink", GIB, b'a')
            .file("placeholder", "the entry the long name is for\n")
    })
}

fn huge_pax(dir: &Path) -> io::Result<()> {
    streamed(dir, |mut b| {
        // One record "<len> path=aaaa…\n" whose length (10 digits) covers all of 1 GiB.
        let prefix = format!("{GIB} path=");
        let fill = GIB - prefix.len() as u64 - 1;
        let h = raw_header(EntryType::XHeader, "PaxHeaders/huge", None, GIB, 0o644);
        let w = b.writer();
        w.write_all(h.as_bytes()).expect("writing the test tar");
        w.write_all(prefix.as_bytes())
            .expect("writing the test tar");
        w.fill(b'a', fill).expect("writing the test tar");
        w.write_all(b"\n").expect("writing the test tar");
        b.file("placeholder", "the entry the PAX header is for\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_mib_status_is_one_mib_of_stanzas() {
        let s = status_of_one_mib();
        assert_eq!(s.len() as u64, MIB);
        let text = String::from_utf8(s).unwrap();
        assert!(text.starts_with(DPKG_STATUS));
        assert!(text.ends_with("\n\n"));
        assert_eq!(text.matches("Package: ").count(), 4);
    }

    #[test]
    fn names_are_unique_and_repository_safe() {
        let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CASES.len());
        for n in names {
            assert!(n
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        }
    }
}
