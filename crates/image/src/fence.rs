//! A reader that lets the tar parser read only up to a moving fence, so what it reads on
//! its own between two entries (GNU long names, PAX and sparse extension headers, which
//! the `tar` crate buffers whole) is bounded by
//! [`crate::limits::MAX_EXTENSION_HEADER_BYTES`], whatever sizes those headers declare.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};

/// Reads `inner` up to the fence; reading past it fails and marks the fence as hit.
pub(crate) struct FencedReader<R> {
    inner: RefCell<R>,
    pos: Cell<u64>,
    fence: Cell<u64>,
    hit: Cell<bool>,
}

impl<R: Read> FencedReader<R> {
    /// A reader over `inner` that may first read `fence` bytes.
    pub(crate) fn new(inner: R, fence: u64) -> Self {
        FencedReader {
            inner: RefCell::new(inner),
            pos: Cell::new(0),
            fence: Cell::new(fence),
            hit: Cell::new(false),
        }
    }

    /// Bytes read so far.
    #[cfg(test)]
    pub(crate) fn position(&self) -> u64 {
        self.pos.get()
    }

    /// Allows reading up to `allowed` more bytes from the current position.
    pub(crate) fn allow(&self, allowed: u64) {
        self.fence.set(self.pos.get().saturating_add(allowed));
    }

    /// Whether a read was refused at the fence.
    pub(crate) fn hit(&self) -> bool {
        self.hit.get()
    }
}

impl<R: Read> Read for &FencedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = self.fence.get().saturating_sub(self.pos.get());
        if room == 0 {
            self.hit.set(true);
            return Err(io::Error::other(
                "tar extension headers over the header limit",
            ));
        }
        let want = usize::try_from(room).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.borrow_mut().read(&mut buf[..want])?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_fence_until_moved() {
        let data = [7u8; 100];
        let f = FencedReader::new(&data[..], 10);
        let mut buf = [0u8; 64];
        assert_eq!((&f).read(&mut buf).unwrap(), 10);
        assert!((&f).read(&mut buf).is_err());
        assert!(f.hit());
        f.allow(50);
        let mut rest = Vec::new();
        assert!((&f).take(50).read_to_end(&mut rest).is_ok());
        assert_eq!((rest.len(), f.position()), (50, 60));
    }
}
