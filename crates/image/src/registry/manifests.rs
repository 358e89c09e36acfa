//! Fetching the manifest a reference points to, and verifying manifest digests.

use oci_client::{Client, Reference};

use super::Ctx;
use crate::auth::Credentials;
use crate::limits::check_manifest_size;
use crate::manifest::sha256_digest;
use crate::ImageError;

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
    // oci-client has read the body by now: this bounds what is parsed and kept, not the
    // download (see ARCHITECTURE.md, untrusted input).
    check_manifest_size(bytes.len() as u64, &format!("manifest {whole}"))?;
    let digest = verify_manifest(&bytes, &served, reference.digest(), &whole)?;
    Ok((bytes.to_vec(), digest))
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
