//! A fault-injecting HTTP/1.1 proxy in front of a REAL registry (failure injection, not a
//! mock): 500s on manifest requests, hangs, or bytes flipped in transit.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the proxy does wrong.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Forwards everything unchanged (e.g. to reach the registry over IPv6 loopback).
    None,
    /// Answers `500` with a body to every manifest request; forwards the rest.
    Manifest500,
    /// Accepts connections and never answers.
    Hang,
    /// Flips a byte in the middle of the response body of requests whose path contains
    /// this text (e.g. `/blobs/sha256:...` or `/manifests/`).
    Corrupt(String),
}

/// A fault-injecting HTTP/1.1 proxy on `127.0.0.1:<random>` in front of a real registry.
/// Each forwarded request gets `Connection: close`, so every request is seen.
pub struct FaultProxy {
    /// `host:port` to use in image references.
    pub addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The body of the injected 500 answers.
pub const INJECTED_500_BODY: &str = "injected failure: storage backend unavailable";

/// [`start_proxy_on`] `127.0.0.1:0`.
pub async fn start_proxy(upstream: &str, fault: Fault) -> FaultProxy {
    start_proxy_on("127.0.0.1:0", upstream, fault).await
}

/// [`start_proxy`] listening on `bind` (e.g. `[::1]:0`); `addr` is `host:port` as a
/// registry reference writes it (`[::1]:port` for IPv6).
pub async fn start_proxy_on(bind: &str, upstream: &str, fault: Fault) -> FaultProxy {
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let (upstream, fault) = (upstream.clone(), fault.clone());
            tokio::spawn(async move {
                let _ = handle(conn, &upstream, &fault).await;
            });
        }
    });
    FaultProxy { addr, task }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn handle(
    mut client: tokio::net::TcpStream,
    upstream: &str,
    fault: &Fault,
) -> std::io::Result<()> {
    if let Fault::None = fault {
        let mut up = tokio::net::TcpStream::connect(upstream).await?;
        tokio::io::copy_bidirectional(&mut client, &mut up).await?;
        return Ok(());
    }
    let mut buf = vec![0u8; 8192];
    if let Fault::Hang = fault {
        // Read whatever comes, answer nothing, keep the connection open.
        loop {
            if client.read(&mut buf).await? == 0 {
                return Ok(());
            }
        }
    }
    let mut head = Vec::new();
    let end = loop {
        let n = client.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = find(&head, b"\r\n\r\n") {
            break p;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    if matches!(fault, Fault::Manifest500) && path.contains("/manifests/") {
        let resp = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            INJECTED_500_BODY.len(),
            INJECTED_500_BODY
        );
        client.write_all(resp.as_bytes()).await?;
        return client.shutdown().await;
    }
    let mut forwarded = format!("{request_line}\r\n");
    for line in lines {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut up = tokio::net::TcpStream::connect(upstream).await?;
    up.write_all(forwarded.as_bytes()).await?;
    up.write_all(&head[end + 4..]).await?; // any body bytes already read
    match fault {
        Fault::Corrupt(part) if path.contains(part.as_str()) => {
            let mut resp = Vec::new();
            up.read_to_end(&mut resp).await?;
            if let Some(p) = find(&resp, b"\r\n\r\n") {
                let body = p + 4;
                if resp.len() > body + 2 {
                    let mid = body + (resp.len() - body) / 2;
                    resp[mid] ^= 0xff;
                }
            }
            client.write_all(&resp).await?;
        }
        _ => {
            tokio::io::copy(&mut up, &mut client).await?;
        }
    }
    client.shutdown().await
}
