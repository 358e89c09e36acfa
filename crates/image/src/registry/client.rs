//! Connecting to a registry: plain http or https per host, the http client, and the
//! credentials and error context of a reference.

use std::net::IpAddr;
use std::sync::Once;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::{Client, Reference};

use super::Ctx;
use crate::auth::{self, Credentials};
use crate::layer::error_chain;
use crate::{ImageError, RegistryOptions};

/// The timeout when [`RegistryOptions::timeout`] is `None`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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
}
