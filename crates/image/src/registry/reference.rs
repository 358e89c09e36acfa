//! Image references: parsing them as docker does, and naming repositories as Trivy does.

use oci_client::Reference;
use sightline_report::image_ref::ImageReference;

use crate::ImageError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::client::is_loopback;

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
}
