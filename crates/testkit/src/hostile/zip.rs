//! A minimal zip writer for the jar bomb: deflated entries with data descriptors (sizes
//! after the data, as streaming zip writers do), a central directory, no zip64.

use std::io;

use flate2::Compression;
use sightline_image::test_support::gz_stream::DeflateStream;
use sightline_image::test_support::FillWrite;

/// What an entry holds.
enum Content<'a> {
    Bytes(&'a [u8]),
    /// `n` copies of one byte (written as precompressed runs).
    Run(u8, u64),
}

struct Written {
    name: String,
    offset: u32,
    crc: u32,
    compressed: u32,
    size: u32,
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn narrow(v: u64) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| io::Error::other("zip entry over 4 GiB (no zip64 here)"))
}

const FLAGS: u16 = 0x0008; // sizes and CRC in a data descriptor
const DEFLATE: u16 = 8;
const DOS_DATE: u16 = 0x0021; // 1980-01-01

fn entry(out: &mut Vec<u8>, name: &str, content: Content) -> io::Result<Written> {
    let offset = narrow(out.len() as u64)?;
    u32le(out, 0x0403_4b50);
    u16le(out, 20);
    u16le(out, FLAGS);
    u16le(out, DEFLATE);
    u16le(out, 0);
    u16le(out, DOS_DATE);
    u32le(out, 0);
    u32le(out, 0);
    u32le(out, 0);
    u16le(out, name.len() as u16);
    u16le(out, 0);
    out.extend_from_slice(name.as_bytes());
    let mut deflate = DeflateStream::new(&mut *out, Compression::best());
    match content {
        Content::Bytes(b) => io::Write::write_all(&mut deflate, b)?,
        Content::Run(byte, n) => deflate.fill(byte, n)?,
    }
    let (_, s) = deflate.finish()?;
    let w = Written {
        name: name.to_string(),
        offset,
        crc: s.crc,
        compressed: narrow(s.compressed)?,
        size: narrow(s.size)?,
    };
    u32le(out, 0x0807_4b50);
    u32le(out, w.crc);
    u32le(out, w.compressed);
    u32le(out, w.size);
    Ok(w)
}

fn central_directory(out: &mut Vec<u8>, entries: &[Written]) -> io::Result<()> {
    let start = narrow(out.len() as u64)?;
    for e in entries {
        u32le(out, 0x0201_4b50);
        u16le(out, 20);
        u16le(out, 20);
        u16le(out, FLAGS);
        u16le(out, DEFLATE);
        u16le(out, 0);
        u16le(out, DOS_DATE);
        u32le(out, e.crc);
        u32le(out, e.compressed);
        u32le(out, e.size);
        u16le(out, e.name.len() as u16);
        u16le(out, 0);
        u16le(out, 0);
        u16le(out, 0);
        u16le(out, 0);
        u32le(out, 0);
        u32le(out, e.offset);
        out.extend_from_slice(e.name.as_bytes());
    }
    let size = narrow(out.len() as u64)? - start;
    u32le(out, 0x0605_4b50);
    u16le(out, 0);
    u16le(out, 0);
    u16le(out, entries.len() as u16);
    u16le(out, entries.len() as u16);
    u32le(out, size);
    u32le(out, start);
    u16le(out, 0);
    Ok(())
}

/// A jar whose `pom.properties` (what a Java analyzer reads for the artifact's coordinates)
/// inflates to `size` bytes of `#` (one endless comment line), after a normal manifest.
pub fn bomb_jar(size: u64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let entries = vec![
        entry(
            &mut out,
            "META-INF/MANIFEST.MF",
            Content::Bytes(b"Manifest-Version: 1.0\r\nImplementation-Title: bomb\r\nImplementation-Version: 1.0\r\n\r\n"),
        )?,
        entry(
            &mut out,
            "META-INF/maven/org.example/bomb/pom.properties",
            Content::Run(b'#', size),
        )?,
    ];
    central_directory(&mut out, &entries)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unzip_reads_the_jar_and_sees_the_bomb() {
        // `unzip -l` (Info-ZIP, independent of this writer) lists the declared sizes;
        // `unzip -t` inflates every entry and checks its CRC.
        let dir = tempfile::tempdir().unwrap();
        let jar = dir.path().join("bomb.jar");
        std::fs::write(&jar, super::bomb_jar(64 << 20).unwrap()).unwrap();
        let list = std::process::Command::new("unzip")
            .arg("-l")
            .arg(&jar)
            .output()
            .expect("unzip");
        let text = String::from_utf8_lossy(&list.stdout);
        assert!(list.status.success(), "{text}");
        assert!(
            text.contains("67108864") && text.contains("pom.properties"),
            "{text}"
        );
        let test = std::process::Command::new("unzip")
            .arg("-tq")
            .arg(&jar)
            .output()
            .expect("unzip");
        assert!(
            test.status.success(),
            "{}",
            String::from_utf8_lossy(&test.stdout)
        );
    }
}
