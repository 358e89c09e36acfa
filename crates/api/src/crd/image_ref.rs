//! Image references as Trivy Operator splits them into `.report.registry` and `.report.artifact`.
//!
//! Trivy Operator parses the workload's image with go-containerregistry's `name.ParseReference`
//! (default options) and writes `registry.server = RegistryStr()`, `artifact.repository =
//! RepositoryStr()`, `artifact.tag` for a tag reference (`latest` when none is given) and
//! `artifact.digest` for a digest reference, falling back to the running image's digest.
//! [`ImageRef::parse`] reproduces those rules on top of the one reference parser
//! ([`sightline_report::image_ref`]): Docker Hub is `index.docker.io` and its single-name
//! repositories get `library/`.

use sightline_report::image_ref::{ImageReference, DOCKER_HUB as NORMALISED_DOCKER_HUB};

pub use sightline_report::image_ref::ImageRefError;

/// Docker Hub as go-containerregistry names it (`index.docker.io`).
pub const DOCKER_HUB: &str = sightline_report::image_ref::DOCKER_HUB_LEGACY;

/// A parsed image reference, as Trivy Operator writes it into a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port): `index.docker.io`, `127.0.0.1:5000`, `ghcr.io`.
    pub registry: String,
    /// Repository inside the registry: `library/nginx`, `aquasecurity/trivy`.
    pub repository: String,
    /// The tag, for a tag reference (`latest` when the reference names neither tag nor digest).
    pub tag: Option<String>,
    /// The digest (`sha256:...`), for a digest reference.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `[registry/]repository[:tag][@algorithm:hex]` with
    /// [`sightline_report::image_ref`]'s parser, then applies Trivy Operator's view: Docker Hub
    /// is `index.docker.io`, and a reference with both a tag and a digest is a digest reference
    /// (the tag is dropped, as go-containerregistry does).
    pub fn parse(reference: &str) -> Result<Self, ImageRefError> {
        let r = ImageReference::parse(reference)?;
        let registry = if r.registry == NORMALISED_DOCKER_HUB {
            DOCKER_HUB.to_string()
        } else {
            r.registry
        };
        let tag = match (&r.digest, r.tag) {
            (Some(_), _) => None,
            (None, Some(t)) => Some(t),
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageRef {
            registry,
            repository: r.repository,
            tag,
            digest: r.digest,
        })
    }

    /// `.report.registry` for this image.
    pub fn registry(&self) -> super::Registry {
        super::Registry {
            server: self.registry.clone(),
        }
    }

    /// `.report.artifact` for this image; `running_digest` (the Pod's `imageID` or a plain
    /// digest) fills `digest` for a tag reference, as Trivy Operator does.
    pub fn artifact(&self, running_digest: Option<&str>) -> super::Artifact {
        let digest = self
            .digest
            .clone()
            .or_else(|| running_digest.map(digest_from_image_id))
            .unwrap_or_default();
        super::Artifact {
            repository: self.repository.clone(),
            digest,
            tag: self.tag.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// The digest part of a container status `imageID` (`docker-pullable://repo@sha256:...`,
/// `repo@sha256:...` or a bare `sha256:...`).
pub fn digest_from_image_id(image_id: &str) -> String {
    match image_id.rsplit_once('@') {
        Some((_, digest)) => digest.to_string(),
        None => image_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:4c5ef2bd5f0bcbeb4e9a3f4a7b1e0ee3c1f8d6a2b8e36b7d3f3a7e6b0a7d9c21";

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_names_get_index_docker_io_and_library() {
        let r = p("nginx");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            (DOCKER_HUB, "library/nginx")
        );
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = p("docker.io/bitnami/redis:7.2");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            (DOCKER_HUB, "bitnami/redis", Some("7.2"))
        );
    }

    #[test]
    fn registry_with_port_and_path() {
        let r = p("127.0.0.1:5000/library/debian:bookworm-curl");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "library/debian");
        assert_eq!(r.tag.as_deref(), Some("bookworm-curl"));
        let r = p("localhost/app");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("localhost", "app")
        );
        let r = p("registry.internal:8443/team/app");
        assert_eq!(r.tag.as_deref(), Some("latest"));
    }

    #[test]
    fn digest_references_drop_the_tag() {
        let r = p(&format!("ghcr.io/org/app:1.0@{D}"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert_eq!(r.tag, None);
        let a = r.artifact(Some("sha256:ignored"));
        assert_eq!((a.digest.as_str(), a.tag.as_str()), (D, ""));
    }

    #[test]
    fn tag_references_take_the_running_digest() {
        let a = p("ghcr.io/org/app:1.0")
            .artifact(Some(&format!("docker-pullable://ghcr.io/org/app@{D}")));
        assert_eq!(
            (a.repository.as_str(), a.tag.as_str(), a.digest.as_str()),
            ("org/app", "1.0", D)
        );
        assert_eq!(p("ghcr.io/org/app:1.0").artifact(None).digest, "");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "UPPER/case",
            "app:",
            "app:-x",
            "app@sha256:xyz",
            "app@nodigest",
            "reg.io//app",
            "app/",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
