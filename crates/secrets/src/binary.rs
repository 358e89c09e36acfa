//! Telling binary content from text.

use crate::BINARY_SNIFF_LEN;

/// `true` when `content` looks binary: a NUL byte in its first 8 KiB, or more than 30% of
/// those bytes in invalid UTF-8 sequences. (Latin-1 text has a few invalid bytes and is
/// still scanned.)
pub fn looks_binary(content: &[u8]) -> bool {
    let head = &content[..content.len().min(BINARY_SNIFF_LEN)];
    // One pass without early exit, which the compiler turns into SIMD: the smallest byte
    // (0 = a NUL) and the OR of all bytes (high bit = non-ASCII).
    let (min, or) = head
        .iter()
        .fold((u8::MAX, 0u8), |(min, or), &b| (min.min(b), or | b));
    if min == 0 {
        return true;
    }
    if or.is_ascii() {
        return false; // the common case
    }
    // Invalid sequences are made of non-ASCII bytes: few of those, few invalid bytes; and
    // most non-ASCII text is valid UTF-8 (`from_utf8` stops early only on an error).
    let words = head.chunks_exact(8);
    let tail = words.remainder().iter().filter(|b| !b.is_ascii()).count();
    let non_ascii = tail
        + words
            .map(|w| {
                let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                (w & 0x8080_8080_8080_8080).count_ones() as usize
            })
            .sum::<usize>();
    if non_ascii * 10 <= head.len() * 3 || std::str::from_utf8(head).is_ok() {
        return false;
    }
    let mut invalid = 0usize;
    let mut rest = head;
    while let Err(e) = std::str::from_utf8(rest) {
        match e.error_len() {
            Some(n) => {
                invalid += n;
                rest = &rest[e.valid_up_to() + n..];
            }
            None => break, // a sequence cut by the 8 KiB window
        }
    }
    invalid * 10 > head.len() * 3
}
