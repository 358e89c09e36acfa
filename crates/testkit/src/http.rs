//! A minimal HTTP client for the operator's `/readyz` and `/metrics`, and metric sums.

use std::io::{Read, Write};
use std::time::Duration;

/// A plain HTTP/1.0 GET of `path` on `addr`: (status, body); `None` when nothing answers.
/// Reads time out after 30 s (a large `/metrics` under load takes a while).
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((code, body))
}

/// The sum of the values of the series in a metrics text that start with `prefix` (the
/// exact series text before the value, or a prefix of several series).
pub fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_matching_series() {
        let text = "# HELP x\na_total{r=\"1\"} 2\na_total{r=\"2\"} 3.5\nb_total 7\n";
        assert_eq!(metric_sum(text, "a_total{"), 5.5);
        assert_eq!(metric_sum(text, "b_total"), 7.0);
        assert_eq!(metric_sum(text, "c"), 0.0);
    }
}
