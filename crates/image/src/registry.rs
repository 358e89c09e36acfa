//! Images from a registry, through `oci-client`.
//!
//! * Loopback registries (127.0.0.0/8, `localhost`, `[::1]`) are spoken to over plain http;
//!   [`RegistryOptions::insecure`] makes every registry plain http (and accepts invalid
//!   certificates on any https hop such as a token realm).
//! * Manifest lists / OCI indexes are resolved to [`RegistryOptions::platform`].
//! * Every manifest is checked against the digest it was asked by (and against the
//!   registry's `Docker-Content-Digest`), the config against the manifest, each layer blob
//!   while it streams, and each uncompressed layer against the config's `rootfs.diff_ids`.
//! * `repo_digests` is `<repo>@<digest of what the tag points to>`, as Trivy prints it: for a
//!   manifest list that is the LIST digest (Trivy takes the descriptor `remote.Get` returns),
//!   and `<repo>` drops `index.docker.io/` and `library/` for Docker Hub images.

use std::future::Future;
use std::io::{self, Read};
use std::net::IpAddr;
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::{Client, Reference};
use sightline_report::image_ref::ImageReference;
use tokio::sync::mpsc;

use crate::auth::{self, Credentials};
use crate::layer::{compression_for_media_type, error_chain, walk_layer, LayerCtx, LayerResult};
use crate::manifest::{
    parse_config, select_platform, sha256_digest, sha256_hex, verify_digest, Manifest,
    ACCEPTED_MANIFESTS,
};
use crate::{
    merge_layers, Image, ImageError, ImageMeta, LayerInfo, Progress, RegistryOptions, Walk,
};

/// The timeout when [`RegistryOptions::timeout`] is `None`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Nested manifest lists followed at most.
const MAX_INDEX_DEPTH: usize = 4;

static CRYPTO_PROVIDER: Once = Once::new();

/// Installs rustls' `ring` provider as the process default, once (a provider installed
/// earlier by someone else is kept).
fn ensure_crypto_provider() {
    CRYPTO_PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Whether `registry` (`host[:port]`) is a loopback address.
pub(crate) fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses an image reference as docker does (`alpine` -> `docker.io/library/alpine:latest`),
/// IPv6 registry hosts (`[::1]:5000/repo:tag`) included, with the one reference parser
/// ([`ImageReference`]); a reference naming neither tag nor digest gets `latest`.
pub(crate) fn parse_reference(input: &str) -> Result<Reference, ImageError> {
    let r = ImageReference::parse(input).map_err(|e| ImageError::InvalidReference {
        reference: input.to_string(),
        reason: e.reason.to_string(),
    })?;
    Ok(match (r.tag, r.digest) {
        (Some(t), Some(d)) => Reference::with_tag_and_digest(r.registry, r.repository, t, d),
        (None, Some(d)) => Reference::with_digest(r.registry, r.repository, d),
        (t, None) => Reference::with_tag(
            r.registry,
            r.repository,
            t.unwrap_or_else(|| "latest".into()),
        ),
    })
}

/// Trivy's repository name: `registry/repo`, or just `repo` without `library/` on Docker Hub.
pub(crate) fn trivy_repository_name(reference: &Reference) -> String {
    match reference.registry() {
        "docker.io" | "index.docker.io" => reference
            .repository()
            .strip_prefix("library/")
            .unwrap_or(reference.repository())
            .to_string(),
        registry => format!("{registry}/{}", reference.repository()),
    }
}

/// Everything error messages need to know.
pub(crate) struct Ctx {
    pub(crate) registry: String,
    pub(crate) repository: String,
    pub(crate) timeout: Duration,
    pub(crate) creds_source: String,
}

impl Ctx {
    pub(crate) fn auth_error(&self, status: &str) -> ImageError {
        ImageError::Auth {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            status: status.to_string(),
            hint: format!(
                "check --username/--password or the docker config (credentials used: {})",
                self.creds_source
            ),
        }
    }

    pub(crate) fn timeout_error(&self, during: &str) -> ImageError {
        ImageError::Timeout {
            registry: self.registry.clone(),
            timeout: self.timeout,
            during: during.to_string(),
        }
    }

    pub(crate) fn registry_error(&self, message: String) -> ImageError {
        ImageError::Registry {
            registry: self.registry.clone(),
            message,
        }
    }

    /// Maps an `oci-client` error; `what`/`reference` name the object in a 404.
    pub(crate) fn map(
        &self,
        e: OciDistributionError,
        during: &str,
        what: &str,
        reference: &str,
    ) -> ImageError {
        let not_found = |what: &str| ImageError::NotFound {
            what: what.to_string(),
            reference: reference.to_string(),
            available: String::new(),
        };
        match e {
            OciDistributionError::UnauthorizedError { .. } => self.auth_error("401 Unauthorized"),
            OciDistributionError::AuthenticationFailure(reason) => {
                self.auth_error(&format!("token request refused: {}", excerpt(&reason)))
            }
            OciDistributionError::RegistryError { envelope, url } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let has = |c: OciErrorCode| codes.iter().any(|x| **x == c);
                if has(OciErrorCode::NameUnknown) {
                    not_found("repository unknown")
                } else if has(OciErrorCode::ManifestUnknown)
                    || has(OciErrorCode::BlobUnknown)
                    || has(OciErrorCode::NotFound)
                {
                    not_found(what)
                } else if has(OciErrorCode::Unauthorized) {
                    self.auth_error("401 Unauthorized")
                } else if has(OciErrorCode::Denied) {
                    self.auth_error("403 denied")
                } else {
                    let msgs: Vec<String> = envelope
                        .errors
                        .iter()
                        .map(|e| format!("{:?}: {}", e.code, e.message))
                        .collect();
                    self.registry_error(format!("{during}: error from {url}: {}", msgs.join("; ")))
                }
            }
            OciDistributionError::ServerError { code, url, message } => match code {
                401 => self.auth_error("401 Unauthorized"),
                403 => self.auth_error("403 Forbidden"),
                404 => not_found(what),
                _ => self.registry_error(format!(
                    "{during}: HTTP {code} {} from {url}: {}",
                    reason_phrase(code),
                    excerpt(&message)
                )),
            },
            OciDistributionError::RequestError(re) => {
                if re.is_timeout() {
                    self.timeout_error(during)
                } else if re.is_connect() {
                    ImageError::Connect {
                        registry: self.registry.clone(),
                        reason: error_chain(&re),
                    }
                } else {
                    self.registry_error(format!("{during}: {}", error_chain(&re)))
                }
            }
            OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }) => ImageError::DigestMismatch {
                subject: format!("{} {reference}", what.trim_end_matches(" unknown")),
                expected,
                actual,
            },
            other => self.registry_error(format!("{during}: {}", error_chain(&other))),
        }
    }

    /// Runs one registry operation under the timeout, mapping its error.
    pub(crate) async fn call<T>(
        &self,
        during: &str,
        what: &str,
        reference: &str,
        fut: impl Future<Output = Result<T, OciDistributionError>>,
    ) -> Result<T, ImageError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(self.timeout_error(during)),
            Ok(r) => r.map_err(|e| self.map(e, during, what, reference)),
        }
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// The first 300 characters of a response body, whitespace collapsed.
fn excerpt(body: &str) -> String {
    let collapsed = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "(empty body)".into();
    }
    let mut out: String = collapsed.chars().take(300).collect();
    if collapsed.chars().count() > 300 {
        out.push('…');
    }
    out
}

pub(crate) fn build_client(
    registry: &str,
    opts: &RegistryOptions,
    timeout: Duration,
) -> Result<Client, ImageError> {
    ensure_crypto_provider();
    let protocol = if opts.insecure {
        ClientProtocol::Http
    } else if is_loopback(registry) || opts.insecure_registries.iter().any(|r| r == registry) {
        ClientProtocol::HttpsExcept(vec![registry.to_string()])
    } else {
        ClientProtocol::Https
    };
    let config = ClientConfig {
        protocol,
        accept_invalid_certificates: opts.insecure,
        // We resolve manifest lists ourselves (platform variants, clear errors).
        platform_resolver: None,
        connect_timeout: Some(timeout),
        // Each operation is also bounded by `timeout` on our side; this is the backstop
        // for reads the wrappers do not see.
        read_timeout: Some(timeout + Duration::from_secs(5)),
        user_agent: concat!("sightline/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    Client::try_from(config).map_err(|e| ImageError::Registry {
        registry: registry.to_string(),
        message: format!("cannot create the http client: {}", error_chain(&e)),
    })
}

/// A blocking [`Read`] over chunks sent from the async side (download and decompression
/// overlap; the blob is never held in memory as a whole).
pub(crate) struct ChannelReader<T> {
    rx: mpsc::Receiver<io::Result<T>>,
    cur: Option<T>,
    pos: usize,
}

impl<T: AsRef<[u8]>> Read for ChannelReader<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if let Some(chunk) = &self.cur {
                let data = chunk.as_ref();
                if self.pos < data.len() {
                    let n = (data.len() - self.pos).min(buf.len());
                    buf[..n].copy_from_slice(&data[self.pos..self.pos + n]);
                    self.pos += n;
                    return Ok(n);
                }
            }
            self.cur = None;
            self.pos = 0;
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.cur = Some(chunk),
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

/// Feeds `stream` into a layer walk on a blocking thread; the download error, if any, wins
/// over what the walk saw of it.
async fn pump_and_walk<S, T>(
    stream: S,
    ctx: &Ctx,
    layer_ctx: LayerCtx,
    key: &str,
    walk: Walk,
    progress: &Arc<dyn Progress>,
) -> Result<LayerResult, ImageError>
where
    S: Stream<Item = io::Result<T>> + Unpin,
    T: AsRef<[u8]> + Send + 'static,
{
    let walk_ctx = layer_ctx.clone();
    let label = layer_ctx.label.clone();
    pump_into(stream, ctx, &label, key, progress, move |reader| {
        walk_layer(reader, &walk_ctx, &walk)
    })
    .await?
}

/// Streams a blob into `consume`, which reads it as a blocking [`Read`] on a blocking thread
/// while the download goes on (the blob is never held in memory as a whole). Each wait for
/// the next chunk is bounded by the timeout. A download error (timeout, transport, digest
/// mismatch found by `oci-client`) wins over what `consume` returned.
pub(crate) async fn pump_into<S, T, R>(
    mut stream: S,
    ctx: &Ctx,
    label: &str,
    key: &str,
    progress: &Arc<dyn Progress>,
    consume: impl FnOnce(ChannelReader<T>) -> R + Send + 'static,
) -> Result<R, ImageError>
where
    S: Stream<Item = io::Result<T>> + Unpin,
    T: AsRef<[u8]> + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<T>>(32);
    let consumer = tokio::task::spawn_blocking(move || {
        consume(ChannelReader {
            rx,
            cur: None,
            pos: 0,
        })
    });
    let during = format!("downloading {label}");
    let mut pump_error = None;
    loop {
        match tokio::time::timeout(ctx.timeout, stream.next()).await {
            Err(_) => {
                pump_error = Some(ctx.timeout_error(&during));
                let _ = tx.send(Err(io::Error::other("download timed out"))).await;
                break;
            }
            Ok(None) => break,
            Ok(Some(Ok(chunk))) => {
                let n = chunk.as_ref().len() as u64;
                if tx.send(Ok(chunk)).await.is_err() {
                    break; // the consumer stopped (error or done): its result tells
                }
                progress.layer_bytes(key, n);
            }
            Ok(Some(Err(e))) => {
                let verification = e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<DigestError>())
                    .and_then(|d| match d {
                        DigestError::VerificationError { expected, actual } => {
                            Some((expected, actual))
                        }
                        _ => None,
                    });
                pump_error = Some(match verification {
                    Some((expected, actual)) => ImageError::DigestMismatch {
                        subject: format!("{label} (compressed blob)"),
                        expected: expected.clone(),
                        actual: actual.clone(),
                    },
                    None => ctx.registry_error(format!("{during}: {}", error_chain(&e))),
                });
                let _ = tx.send(Err(io::Error::other("download failed"))).await;
                break;
            }
        }
    }
    drop(tx);
    let consumed = consumer
        .await
        .map_err(|e| ImageError::Other(format!("{label}: reading the download failed: {e}")));
    if let Some(e) = pump_error {
        return Err(e);
    }
    consumed
}

/// The digest `input`'s tag points to (the manifest or index digest, as a container runtime
/// records it), from one manifest request; a digest reference is returned as is.
pub(crate) async fn resolve_digest(
    input: &str,
    opts: &RegistryOptions,
) -> Result<String, ImageError> {
    let reference = parse_reference(input)?;
    if let Some(d) = reference.digest() {
        return Ok(d.to_string());
    }
    let (client, creds, ctx) = connect(&reference, opts)?;
    let (_, digest) = top_manifest(&client, &creds, &ctx, &reference, ACCEPTED_MANIFESTS).await?;
    Ok(digest)
}

/// The client, credentials and error context for `reference`'s registry.
pub(crate) fn connect(
    reference: &Reference,
    opts: &RegistryOptions,
) -> Result<(Client, Credentials, Ctx), ImageError> {
    let registry = reference.resolve_registry().to_string();
    let creds: Credentials = auth::resolve(reference.registry(), opts)?;
    let timeout = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let client = build_client(&registry, opts, timeout)?;
    let ctx = Ctx {
        registry: reference.registry().to_string(),
        repository: reference.repository().to_string(),
        timeout,
        creds_source: creds.source.clone(),
    };
    Ok((client, creds, ctx))
}

/// The manifest the tag (or digest) of `reference` points to (one of the `accepted` media
/// types), with its verified digest.
pub(crate) async fn top_manifest(
    client: &Client,
    creds: &Credentials,
    ctx: &Ctx,
    reference: &Reference,
    accepted: &[&str],
) -> Result<(Vec<u8>, String), ImageError> {
    let whole = reference.whole();
    let (bytes, served) = ctx
        .call(
            &format!("fetching the manifest of {whole}"),
            "manifest unknown",
            &whole,
            client.pull_manifest_raw(reference, &creds.auth, accepted),
        )
        .await?;
    let digest = verify_manifest(&bytes, &served, reference.digest(), &whole)?;
    Ok((bytes.to_vec(), digest))
}

/// Fetches `reference` from its registry.
pub(crate) async fn fetch(
    input: &str,
    opts: &RegistryOptions,
    walk: Walk,
    progress: Arc<dyn Progress>,
) -> Result<Image, ImageError> {
    let reference = parse_reference(input)?;
    let (client, creds, ctx) = connect(&reference, opts)?;
    let whole = reference.whole();
    let (top_bytes, top_digest) =
        top_manifest(&client, &creds, &ctx, &reference, ACCEPTED_MANIFESTS).await?;
    let mut manifest = Manifest::parse(&top_bytes, &format!("manifest of {whole}"))?;
    let mut depth = 0;
    let (config_desc, layer_descs) = loop {
        match manifest {
            Manifest::Image { config, layers } => break (config, layers),
            Manifest::Index { manifests } => {
                depth += 1;
                if depth > MAX_INDEX_DEPTH {
                    return Err(ImageError::InvalidManifest {
                        subject: format!("manifest list of {whole}"),
                        reason: "manifest lists nested too deeply".into(),
                    });
                }
                let chosen = select_platform(&manifests, &opts.platform, &whole)?;
                if sha256_hex(&chosen.digest).is_none() {
                    return Err(ImageError::InvalidManifest {
                        subject: format!("manifest list of {whole}"),
                        reason: format!("entry digest {:?} is not a sha256 digest", chosen.digest),
                    });
                }
                let child = reference.clone_with_digest(chosen.digest.clone());
                let child_name = format!(
                    "{}/{}@{}",
                    reference.registry(),
                    reference.repository(),
                    chosen.digest
                );
                let (bytes, digest) = ctx
                    .call(
                        &format!("fetching the manifest of {child_name}"),
                        "manifest unknown",
                        &child_name,
                        client.pull_manifest_raw(&child, &creds.auth, ACCEPTED_MANIFESTS),
                    )
                    .await?;
                verify_manifest(&bytes, &digest, Some(&chosen.digest), &child_name)?;
                manifest = Manifest::parse(&bytes, &format!("manifest of {child_name}"))?;
            }
        }
    };

    // The config.
    let config_name = format!(
        "{}/{}@{}",
        reference.registry(),
        reference.repository(),
        config_desc.digest
    );
    if sha256_hex(&config_desc.digest).is_none() {
        return Err(ImageError::InvalidManifest {
            subject: format!("manifest of {whole}"),
            reason: format!(
                "config digest {:?} is not a sha256 digest",
                config_desc.digest
            ),
        });
    }
    let mut config_bytes: Vec<u8> = Vec::new();
    ctx.call(
        &format!("fetching the config of {whole}"),
        "config blob unknown",
        &config_name,
        client.pull_blob(&reference, config_desc.digest.as_str(), &mut config_bytes),
    )
    .await?;
    verify_digest(
        &config_bytes,
        &config_desc.digest,
        &format!("config of {whole}"),
    )?;
    let (config, diff_ids) = parse_config(&config_bytes, &format!("config of {whole}"))?;
    if diff_ids.len() != layer_descs.len() {
        return Err(ImageError::InvalidManifest {
            subject: format!("image {whole}"),
            reason: format!(
                "the manifest lists {} layers but the config has {} rootfs.diff_ids",
                layer_descs.len(),
                diff_ids.len()
            ),
        });
    }

    // The layers.
    let count = layer_descs.len();
    let mut layers = Vec::with_capacity(count);
    let mut plans = Vec::with_capacity(count);
    for (i, (desc, diff_id)) in layer_descs.iter().zip(&diff_ids).enumerate() {
        let label = format!("layer {}/{} {} of {whole}", i + 1, count, desc.digest);
        if sha256_hex(&desc.digest).is_none() {
            return Err(ImageError::InvalidManifest {
                subject: format!("manifest of {whole}"),
                reason: format!("{label}: digest is not a sha256 digest"),
            });
        }
        let compression = compression_for_media_type(&desc.media_type, &label)?;
        layers.push(LayerInfo {
            digest: desc.digest.clone(),
            diff_id: diff_id.clone(),
            media_type: desc.media_type.clone(),
            size: desc.size,
        });
        let oci_desc = OciDescriptor {
            media_type: desc.media_type.clone(),
            digest: desc.digest.clone(),
            size: desc.size as i64,
            urls: desc.urls.clone(),
            ..Default::default()
        };
        plans.push((
            oci_desc,
            LayerCtx {
                index: i,
                label,
                expected_blob: Some(desc.digest.clone()),
                diff_id: diff_id.clone(),
                compression,
            },
        ));
    }

    let repo_name = trivy_repository_name(&reference);
    let meta = ImageMeta {
        name: input.to_string(),
        image_id: config_desc.digest.clone(),
        repo_digests: vec![format!("{repo_name}@{top_digest}")],
        repo_tags: match (reference.tag(), reference.digest()) {
            (Some(tag), None) => vec![format!("{repo_name}:{tag}")],
            _ => Vec::new(),
        },
        config,
        layers,
    };

    let plans = Arc::new(plans);
    let (rootfs, _) = merge_layers(count, |i| {
        let plans = plans.clone();
        let walk = walk.clone();
        let progress = progress.clone();
        let (client, reference, ctx) = (&client, &reference, &ctx);
        async move {
            let (desc, layer_ctx) = &plans[i];
            progress.layer_started(&desc.digest, desc.size.max(0) as u64);
            let result = async {
                let stream = ctx
                    .call(
                        &format!("downloading {}", layer_ctx.label),
                        "blob unknown",
                        &format!(
                            "{}/{}@{}",
                            reference.registry(),
                            reference.repository(),
                            desc.digest
                        ),
                        client.pull_blob_stream(reference, desc),
                    )
                    .await?;
                pump_and_walk(
                    stream,
                    ctx,
                    layer_ctx.clone(),
                    &desc.digest,
                    walk,
                    &progress,
                )
                .await
            }
            .await;
            progress.layer_finished(&desc.digest);
            result
        }
    })
    .await?;
    Ok(Image { meta, rootfs })
}

/// Checks a manifest body against the digest it was asked by (if any) and returns its
/// digest (the registry's `Docker-Content-Digest`, already checked by `oci-client`, must be
/// the body's sha256 too).
pub(crate) fn verify_manifest(
    bytes: &[u8],
    served_digest: &str,
    wanted: Option<&str>,
    name: &str,
) -> Result<String, ImageError> {
    let actual = sha256_digest(bytes);
    if let Some(wanted) = wanted {
        if wanted != actual {
            return Err(ImageError::DigestMismatch {
                subject: format!("manifest {name}"),
                expected: wanted.to_string(),
                actual,
            });
        }
    }
    if served_digest.starts_with("sha256:") && served_digest != actual {
        return Err(ImageError::DigestMismatch {
            subject: format!("manifest {name} (Docker-Content-Digest)"),
            expected: served_digest.to_string(),
            actual,
        });
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for r in [
            "127.0.0.1:5000",
            "127.3.4.5",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "10.0.0.1:5000",
            "registry.example:5000",
            "docker.io",
            "[fe80::1]:5000",
            "localhost.example",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn repository_names_as_trivy_prints_them() {
        let name = |s: &str| trivy_repository_name(&parse_reference(s).unwrap());
        assert_eq!(name("alpine:3"), "alpine");
        assert_eq!(name("docker.io/bitnami/nginx"), "bitnami/nginx");
        assert_eq!(name("index.docker.io/library/debian:12"), "debian");
        assert_eq!(
            name("127.0.0.1:5000/library/debian:x"),
            "127.0.0.1:5000/library/debian"
        );
        assert_eq!(name("ghcr.io/a/b:1"), "ghcr.io/a/b");
    }

    #[test]
    fn references_including_ipv6_hosts() {
        let r = parse_reference("alpine").unwrap();
        assert_eq!(r.whole(), "docker.io/library/alpine:latest");
        let r = parse_reference("[::1]:5000/library/debian:x").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("[::1]:5000", "library/debian", Some("x"))
        );
        assert!(is_loopback(r.resolve_registry()));
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse_reference(&format!("[fd00::5]/a/b@{d}")).unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.digest()),
            ("[fd00::5]", "a/b", Some(d.as_str()))
        );
        for bad in ["[::1", "[nope]:5000/a", "[::1]:5000", "Bad Ref"] {
            let e = parse_reference(bad).unwrap_err();
            assert!(matches!(e, ImageError::InvalidReference { .. }), "{bad}");
        }
    }

    #[test]
    fn body_excerpts() {
        assert_eq!(excerpt("  a \n b "), "a b");
        assert_eq!(excerpt(""), "(empty body)");
        assert_eq!(excerpt(&"x".repeat(400)).chars().count(), 301);
    }

    #[test]
    fn channel_reader_reassembles_chunks() {
        let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(4);
        let t = std::thread::spawn(move || {
            let mut r = ChannelReader {
                rx,
                cur: None,
                pos: 0,
            };
            let mut out = Vec::new();
            let res = r.read_to_end(&mut out);
            (out, res.is_ok())
        });
        tx.blocking_send(Ok(b"hel".to_vec())).unwrap();
        tx.blocking_send(Ok(Vec::new())).unwrap();
        tx.blocking_send(Ok(b"lo".to_vec())).unwrap();
        drop(tx);
        assert_eq!(t.join().unwrap(), (b"hello".to_vec(), true));
    }
}
