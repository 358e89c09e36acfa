//! The error context of registry operations: the timeout around each of them, and
//! `oci-client` errors mapped to [`ImageError`]s that name the registry and what failed.

use std::future::Future;
use std::time::Duration;

use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};

use crate::layer::error_chain;
use crate::ImageError;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_excerpts() {
        assert_eq!(excerpt("  a \n b "), "a b");
        assert_eq!(excerpt(""), "(empty body)");
        assert_eq!(excerpt(&"x".repeat(400)).chars().count(), 301);
    }
}
