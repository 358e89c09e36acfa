//! Image references as Trivy Operator splits them into `.report.registry` and `.report.artifact`.
//!
//! Trivy Operator parses the workload's image with go-containerregistry's `name.ParseReference`
//! (default options) and writes `registry.server = RegistryStr()`, `artifact.repository =
//! RepositoryStr()`, `artifact.tag` for a tag reference (`latest` when none is given) and
//! `artifact.digest` for a digest reference, falling back to the running image's digest.
//! [`ImageRef::parse`] reproduces those rules: Docker Hub is `index.docker.io` and its
//! single-name repositories get `library/`.

use std::fmt;

/// Docker Hub as go-containerregistry names it.
pub const DOCKER_HUB: &str = "index.docker.io";

/// A parsed image reference.
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

/// Why an image reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRefError {
    /// The reference as given.
    pub reference: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid image reference {:?}: {}",
            self.reference, self.reason
        )
    }
}

impl std::error::Error for ImageRefError {}

impl ImageRef {
    /// Parses `[registry/]repository[:tag][@algorithm:hex]`.
    ///
    /// A reference with both a tag and a digest is a digest reference (the tag is dropped, as
    /// go-containerregistry does).
    pub fn parse(reference: &str) -> Result<Self, ImageRefError> {
        let err = |reason| ImageRefError {
            reference: reference.to_string(),
            reason,
        };
        if reference.is_empty() {
            return Err(err("empty reference"));
        }
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => {
                if !valid_digest(digest) {
                    return Err(err("the digest must be <algorithm>:<hex>"));
                }
                (name, Some(digest.to_string()))
            }
            None => (reference, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name[last_slash + i + 1..];
                if !valid_tag(tag) {
                    return Err(err("the tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"));
                }
                (&name[..last_slash + i], Some(tag.to_string()))
            }
            None => (name, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !valid_repository(&repository) {
            return Err(err(
                "the repository must be lower-case path components of [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(err(
                "the registry must be a host name or address with an optional port",
            ));
        }
        let tag = match (&digest, tag) {
            (Some(_), _) => None,
            (None, Some(t)) => Some(t),
            (None, None) => Some("latest".to_string()),
        };
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
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

fn valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
                && hex.len() >= 32
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 255
        && r.split('/').all(|component| {
            let b = component.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        })
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
