//! Digest-checked reading: a [`DigestReader`] hashes (sha256) and counts what passes through
//! it and, when it was given the descriptor's digest and size, fails the read that reaches the
//! end of a blob that is not the announced one (and any read past the announced size), so a
//! consumer that reads to EOF before committing never commits a tampered or truncated blob.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

/// Why a blob is not the one its descriptor announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobMismatch {
    /// The blob's sha256 differs from the announced digest.
    #[error("digest mismatch: expected {expected}, the blob is {actual}")]
    Digest {
        /// The announced digest (`sha256:...`).
        expected: String,
        /// The digest of the bytes read.
        actual: String,
    },
    /// The blob is longer than the announced size.
    #[error("the blob is larger than the {expected} bytes its descriptor announces")]
    TooLarge {
        /// The announced size in bytes.
        expected: u64,
    },
}

impl BlobMismatch {
    /// The mismatch carried by an I/O error a [`DigestReader`] returned, if it is one (also
    /// when wrapped by a decoder that keeps the inner error as its source).
    pub fn of(e: &io::Error) -> Option<&BlobMismatch> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
        while let Some(err) = cur {
            if let Some(m) = err.downcast_ref::<BlobMismatch>() {
                return Some(m);
            }
            // `io::Error::source` skips the error it wraps: look inside it first.
            cur = match err.downcast_ref::<io::Error>() {
                Some(io) => io.get_ref().map(|r| r as _),
                None => err.source(),
            };
        }
        None
    }
}

/// The digest and size a [`DigestReader`] checks.
#[derive(Debug, Clone)]
struct Expected {
    digest: String,
    size: Option<u64>,
}

/// A reader that hashes and counts the bytes it passes on, optionally verifying them.
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    expected: Option<Expected>,
    failed: Option<BlobMismatch>,
    errored: bool,
}

impl<R: Read> DigestReader<R> {
    /// Hashes and counts `inner` without checking it.
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
            expected: None,
            failed: None,
            errored: false,
        }
    }

    /// Hashes `inner` and fails at its end unless its sha256 is `digest` (`sha256:...`,
    /// compared case-insensitively); with `size`, fails as soon as more bytes arrive.
    pub fn verifying(inner: R, digest: &str, size: Option<u64>) -> Self {
        DigestReader {
            expected: Some(Expected {
                digest: digest.to_string(),
                size,
            }),
            ..DigestReader::new(inner)
        }
    }

    /// `sha256:<hex>` of the bytes read so far.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
    }

    /// How many bytes were read so far.
    pub fn bytes_read(&self) -> u64 {
        self.count
    }

    /// Reads to the end (so the digest covers the whole stream, and a verifying reader checks
    /// it).
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// Whether a read returned an error (a mismatch or the underlying reader's).
    pub fn failed(&self) -> bool {
        self.errored
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn fail(&mut self, m: BlobMismatch) -> io::Error {
        self.failed = Some(m.clone());
        io::Error::new(io::ErrorKind::InvalidData, m)
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.read_checked(buf);
        self.errored |= r.is_err();
        r
    }
}

impl<R: Read> DigestReader<R> {
    fn read_checked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(m) = &self.failed {
            return Err(io::Error::new(io::ErrorKind::InvalidData, m.clone()));
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        let Some(expected) = self.expected.clone() else {
            return Ok(n);
        };
        if let Some(size) = expected.size.filter(|s| self.count > *s) {
            return Err(self.fail(BlobMismatch::TooLarge { expected: size }));
        }
        if n == 0 && !buf.is_empty() {
            let actual = self.digest();
            if !actual.eq_ignore_ascii_case(&expected.digest) {
                return Err(self.fail(BlobMismatch::Digest {
                    expected: expected.digest,
                    actual,
                }));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn hashes_counts_and_verifies() {
        let mut r = DigestReader::verifying(&b"hello"[..], HELLO, Some(5));
        r.drain().unwrap();
        assert_eq!((r.digest().as_str(), r.bytes_read()), (HELLO, 5));
        assert!(!r.failed());

        let mut r = DigestReader::verifying(&b"hellO"[..], HELLO, None);
        let e = r.drain().unwrap_err();
        assert!(matches!(
            BlobMismatch::of(&e),
            Some(BlobMismatch::Digest { .. })
        ));
        // The failure sticks: a later read cannot turn it into an EOF.
        assert!(r.read(&mut [0u8; 4]).is_err());
        assert!(r.failed());

        let mut r = DigestReader::verifying(&b"hello, world"[..], HELLO, Some(5));
        let e = r.drain().unwrap_err();
        assert_eq!(
            BlobMismatch::of(&e),
            Some(&BlobMismatch::TooLarge { expected: 5 })
        );

        let mut r = DigestReader::new(&b"anything"[..]);
        r.drain().unwrap();
        assert_eq!(r.bytes_read(), 8);
    }

    #[test]
    fn mismatch_is_found_through_wrapping_errors() {
        let mut r = DigestReader::verifying(&b"hellO"[..], HELLO, None);
        let e = r.drain().unwrap_err();
        // As tar wraps a reader's error: a custom error whose source is the io::Error.
        #[derive(Debug, thiserror::Error)]
        #[error("wrapped")]
        struct Wrap(#[source] io::Error);
        let wrapped = io::Error::other(Wrap(e));
        assert!(BlobMismatch::of(&wrapped).is_some(), "{wrapped}");
        assert!(BlobMismatch::of(&io::Error::other("plain")).is_none());
    }
}
