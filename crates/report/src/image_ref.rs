//! The one image-reference parser: `[registry/]repository[:tag][@algorithm:hex]` with
//! docker's normalisation, plus IPv6 registry hosts (`[::1]:5000/repo:tag`).
//!
//! The scanner pulls by the parsed parts (`sightline-image` builds its registry client's
//! reference from them); the reports split them into `.report.registry` / `.report.artifact`
//! (`sightline-api`). The grammar is the distribution reference grammar: a registry is a host
//! name (a component holding `.` or `:`, or `localhost`) or a bracketed IPv6 address, with an
//! optional port; repository path components are lower-case `[a-z0-9]` runs joined by `.`, `_`,
//! `__` or dashes; a tag is 1-128 of `[A-Za-z0-9_.-]` not starting with `.` or `-`; a digest is
//! `algorithm:hex` (`sha256`/`sha384`/`sha512` with their exact lengths).

use std::fmt;
use std::net::Ipv6Addr;

/// Docker Hub's registry name after normalisation.
pub const DOCKER_HUB: &str = "docker.io";

/// Docker Hub's legacy registry name (`index.docker.io`), normalised to [`DOCKER_HUB`].
pub const DOCKER_HUB_LEGACY: &str = "index.docker.io";

/// The longest repository name (with `library/` added for Docker Hub).
const REPOSITORY_MAX: usize = 255;

/// A parsed, docker-normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// Registry host (and port): `docker.io` for Docker Hub (also when written
    /// `index.docker.io` or left out), `127.0.0.1:5000`, `[::1]:5000`, `ghcr.io`.
    pub registry: String,
    /// Repository inside the registry; a single-name Docker Hub repository gets `library/`.
    pub repository: String,
    /// The tag as written (none when the reference names no tag).
    pub tag: Option<String>,
    /// The digest as written (`sha256:...`).
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

impl ImageReference {
    /// Parses `reference` (see the module documentation for the grammar).
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
                check_digest(digest).map_err(err)?;
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
                if first.starts_with('[')
                    || first.contains('.')
                    || first.contains(':')
                    || first == "localhost" =>
            {
                check_registry(first).map_err(err)?;
                (first, rest)
            }
            _ => (DOCKER_HUB, name),
        };
        if !valid_repository(repository) {
            return Err(err(
                "the repository must be lower-case path components of [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        let registry = if registry == DOCKER_HUB_LEGACY {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_string()
        };
        if repository.len() > REPOSITORY_MAX {
            return Err(err("the repository name is longer than 255 characters"));
        }
        Ok(ImageReference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// Whether the registry is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }
}

/// `algorithm:hex`, with the exact hex length of the known algorithms.
fn check_digest(d: &str) -> Result<(), &'static str> {
    const FORMAT: &str = "the digest must be <algorithm>:<hex>";
    let (alg, hex) = d.split_once(':').ok_or(FORMAT)?;
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|c| {
        c.starts_with(|c: char| c.is_ascii_alphabetic())
            && c.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if !alg_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(FORMAT);
    }
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err("unsupported digest algorithm (sha256, sha384 or sha512)"),
    };
    if hex.len() != want {
        return Err("the digest has the wrong length for its algorithm");
    }
    Ok(())
}

/// `host[:port]` with DNS-style labels, or `[ipv6][:port]`.
fn check_registry(r: &str) -> Result<(), &'static str> {
    const HOST: &str = "the registry must be a host name or address with an optional port";
    let (host_ok, port) = match r.strip_prefix('[') {
        Some(rest) => {
            let (ip, after) = rest.split_once(']').ok_or("unterminated IPv6 address")?;
            if ip.parse::<Ipv6Addr>().is_err() {
                return Err("the registry's bracketed host is not an IPv6 address");
            }
            match after {
                "" => (true, None),
                _ => (true, Some(after.strip_prefix(':').ok_or(HOST)?)),
            }
        }
        None => {
            let (host, port) = match r.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (r, None),
            };
            (host.split('.').all(valid_label), port)
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(HOST)
    }
}

/// A DNS label: alphanumerics with inner dashes.
fn valid_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Path components of `[a-z0-9]` runs joined by one `.`, one `_`, `__` or any dashes.
fn valid_repository(r: &str) -> bool {
    !r.is_empty() && r.split('/').all(valid_component)
}

fn valid_component(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    if !c.starts_with(alnum) || !c.ends_with(alnum) {
        return false;
    }
    c.split(alnum)
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:4c5ef2bd5f0bcbeb4e9a3f4a7b1e0ee3c1f8d6a2b8e36b7d3f3a7e6b0a7d9c21";

    fn p(s: &str) -> ImageReference {
        ImageReference::parse(s).unwrap()
    }

    fn parts(r: &ImageReference) -> (&str, &str, Option<&str>, Option<&str>) {
        (
            &r.registry,
            &r.repository,
            r.tag.as_deref(),
            r.digest.as_deref(),
        )
    }

    #[test]
    fn docker_hub_normalisation() {
        assert_eq!(
            parts(&p("alpine")),
            ("docker.io", "library/alpine", None, None)
        );
        assert_eq!(
            parts(&p("index.docker.io/nginx:1")),
            ("docker.io", "library/nginx", Some("1"), None)
        );
        assert_eq!(
            parts(&p("bitnami/redis:7.2")),
            ("docker.io", "bitnami/redis", Some("7.2"), None)
        );
        assert!(p("docker.io/library/debian").is_docker_hub());
    }

    #[test]
    fn registries_ports_and_ipv6_hosts() {
        assert_eq!(
            parts(&p("127.0.0.1:5000/library/debian:bookworm-curl")),
            (
                "127.0.0.1:5000",
                "library/debian",
                Some("bookworm-curl"),
                None
            )
        );
        assert_eq!(parts(&p("localhost/app")), ("localhost", "app", None, None));
        assert_eq!(
            parts(&p("[::1]:5000/library/debian:x")),
            ("[::1]:5000", "library/debian", Some("x"), None)
        );
        assert_eq!(
            parts(&p(&format!("[fd00::5]/a/b@{D}"))),
            ("[fd00::5]", "a/b", None, Some(D))
        );
        assert_eq!(
            parts(&p(&format!("ghcr.io/org/app:1.0@{D}"))),
            ("ghcr.io", "org/app", Some("1.0"), Some(D))
        );
        // No path: `localhost:5000` is Docker Hub's `library/localhost`, tag `5000`.
        assert_eq!(
            parts(&p("localhost:5000")),
            ("docker.io", "library/localhost", Some("5000"), None)
        );
        assert_eq!(parts(&p("a__b/c-----d.e_f")).1, "a__b/c-----d.e_f");
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
            "app@sha256:abcdef0123456789abcdef0123456789",
            "app@md5:abcdef0123456789abcdef0123456789",
            "reg.io//app",
            "app/",
            "a..b",
            "a-",
            "[::1",
            "[nope]:5000/a",
            "[::1]:5000",
            "[::1]x/a",
            "reg.io:port/a",
            "-reg.io/a",
            "Bad Ref",
            ":justtag",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(ImageReference::parse(&"a".repeat(250)).is_err());
        let e = ImageReference::parse("app:").unwrap_err();
        assert!(e
            .to_string()
            .starts_with("invalid image reference \"app:\": "));
    }
}
