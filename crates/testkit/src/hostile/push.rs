//! Pushing the corpus to a plain-HTTP test registry with the distribution API as it is
//! (HEAD blob, POST + PUT upload, PUT manifest), blobs streamed from the layout's files.
//! Nothing is checked or rewritten on the way, so a hostile manifest reaches the registry
//! exactly as written (a registry that refuses one says why, and the case is scanned from
//! its OCI layout instead).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;

use super::{layout_of, Case, REPO_PREFIX, TAG};

/// Where a case can be scanned from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// In the registry as `<registry>/sightline-hostile/<case>:1`.
    Registry(String),
    /// The registry refused it (its answer); scan the OCI layout.
    Refused(String),
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }
}

/// One keep-alive HTTP/1.1 connection to the registry (reopened when the server closes it).
struct Conn {
    host: String,
    stream: Option<BufReader<TcpStream>>,
}

enum Body<'a> {
    None,
    Bytes(&'a [u8]),
    File(&'a Path),
}

impl Conn {
    fn new(host: &str) -> Self {
        Conn {
            host: host.to_string(),
            stream: None,
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> io::Result<Response> {
        match self.try_request(method, path, headers, &body) {
            Ok(r) => Ok(r),
            Err(_) => {
                // A connection the server closed while idle: once more on a new one.
                self.stream = None;
                self.try_request(method, path, headers, &body)
            }
        }
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Body,
    ) -> io::Result<Response> {
        if self.stream.is_none() {
            self.stream = Some(BufReader::with_capacity(
                1 << 16,
                TcpStream::connect(&self.host)?,
            ));
        }
        let stream = self.stream.as_mut().expect("connected");
        let len = match body {
            Body::None => 0,
            Body::Bytes(b) => b.len() as u64,
            Body::File(p) => std::fs::metadata(p)?.len(),
        };
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {len}\r\n",
            self.host
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let w = stream.get_mut();
        w.write_all(head.as_bytes())?;
        match body {
            Body::None => {}
            Body::Bytes(b) => w.write_all(b)?,
            Body::File(p) => {
                io::copy(&mut std::fs::File::open(p)?, w)?;
            }
        }
        w.flush()?;
        let mut line = String::new();
        stream.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if stream.read_line(&mut h)? == 0 {
                return Err(io::Error::other("connection closed in the headers"));
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if method != "HEAD" && len > 0 {
            resp.body.resize(len, 0);
            stream.read_exact(&mut resp.body)?;
        }
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.stream = None;
        }
        Ok(resp)
    }
}

fn blob_path(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs")
        .join("sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn push_blob(conn: &mut Conn, repo: &str, layout: &Path, digest: &str) -> io::Result<()> {
    let head = conn.request(
        "HEAD",
        &format!("/v2/{repo}/blobs/{digest}"),
        &[],
        Body::None,
    )?;
    if head.status == 200 {
        return Ok(());
    }
    let start = conn.request(
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        Body::None,
    )?;
    let location = match (start.status, start.header("location")) {
        (202, Some(l)) => l.to_string(),
        _ => {
            return Err(io::Error::other(format!(
                "starting an upload to {repo}: HTTP {} {}",
                start.status,
                start.text()
            )))
        }
    };
    // The Location may be absolute (http://host/v2/...) or a path.
    let path = match location.find("/v2/") {
        Some(i) => location[i..].to_string(),
        None => location,
    };
    let sep = if path.contains('?') { '&' } else { '?' };
    let put = conn.request(
        "PUT",
        &format!("{path}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        Body::File(&blob_path(layout, digest)),
    )?;
    if put.status != 201 {
        return Err(io::Error::other(format!(
            "uploading {digest} to {repo}: HTTP {} {}",
            put.status,
            put.text()
        )));
    }
    Ok(())
}

/// The tagged manifest of a layout: (media type, digest, bytes).
fn tagged_manifest(layout: &Path) -> io::Result<(String, String, Vec<u8>)> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    let m = index["manifests"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == TAG)
        })
        .ok_or_else(|| io::Error::other(format!("{}: no tag {TAG}", layout.display())))?;
    let digest = m["digest"].as_str().unwrap_or_default().to_string();
    let media_type = m["mediaType"].as_str().unwrap_or_default().to_string();
    let bytes = std::fs::read(blob_path(layout, &digest))?;
    Ok((media_type, digest, bytes))
}

/// Pushes `case` from its layout in `dir` to `registry` (`host:port`, plain HTTP) unless the
/// tag already names the same manifest.
pub fn push_case(dir: &Path, case: &Case, registry: &str) -> io::Result<Pushed> {
    let layout = layout_of(dir, case);
    let repo = format!("{REPO_PREFIX}/{}", case.name);
    let (media_type, digest, bytes) = tagged_manifest(&layout)?;
    let mut conn = Conn::new(registry);
    let reference = format!("{registry}/{repo}:{TAG}");
    let have = conn.request(
        "HEAD",
        &format!("/v2/{repo}/manifests/{TAG}"),
        &[("Accept", &media_type)],
        Body::None,
    );
    if let Ok(r) = &have {
        if r.status == 200 && r.header("docker-content-digest") == Some(digest.as_str()) {
            return Ok(Pushed::Registry(reference));
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)?;
    let mut blobs = vec![manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string()];
    for l in manifest["layers"].as_array().into_iter().flatten() {
        let d = l["digest"].as_str().unwrap_or_default().to_string();
        if !blobs.contains(&d) {
            blobs.push(d); // a layer named many times is uploaded once
        }
    }
    for b in &blobs {
        push_blob(&mut conn, &repo, &layout, b)?;
    }
    let put = conn.request(
        "PUT",
        &format!("/v2/{repo}/manifests/{TAG}"),
        &[("Content-Type", &media_type)],
        Body::Bytes(&bytes),
    )?;
    if put.status == 201 {
        Ok(Pushed::Registry(reference))
    } else {
        Ok(Pushed::Refused(format!(
            "HTTP {}: {}",
            put.status,
            put.text()
        )))
    }
}
