//! Parsing of `--input` values and platforms.

use std::path::{Path, PathBuf};

use crate::manifest::sha256_hex;
use crate::{ImageError, ImageSource, Platform};

impl ImageSource {
    /// Parses an `--input` value: `oci:<dir>[:<tag>|@sha256:...|:sha256:...]` or a path to a tar file.
    ///
    /// * `oci:<dir>:<tag>`: the tag is what follows the LAST `:`, when that part holds no `/`
    ///   (so `oci:/tmp/a:b/layout` is the directory `/tmp/a:b/layout` with no tag). When the
    ///   directory itself contains a `:` and holds an `index.json` under its full name while the
    ///   shorter name does not exist, the whole value is the directory.
    /// * `oci:<dir>@sha256:<hex>` or `oci:<dir>:sha256:<hex>`: a manifest digest.
    /// * `docker-archive:<path>` / `oci-archive:<path>` / any other existing file: a tar made by
    ///   `docker save` or `skopeo copy ... docker-archive:` / `oci-archive:` (the format is
    ///   detected from its content).
    /// * an existing directory: an OCI layout with a single image.
    pub fn from_input(input: &str) -> Result<Self, ImageError> {
        let invalid = |reason: &str| ImageError::InvalidInput {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = input.strip_prefix("oci:") {
            if rest.is_empty() {
                return Err(invalid("missing directory after oci:"));
            }
            let (dir, reference) = split_oci(rest);
            if dir.is_empty() {
                return Err(invalid("missing directory after oci:"));
            }
            if matches!(reference.as_deref(), Some("")) {
                return Err(invalid("empty tag after the last ':'"));
            }
            return Ok(ImageSource::OciLayout {
                dir: PathBuf::from(dir),
                reference,
            });
        }
        let path = input
            .strip_prefix("docker-archive:")
            .or_else(|| input.strip_prefix("oci-archive:"))
            .unwrap_or(input);
        if path.is_empty() {
            return Err(invalid("empty path"));
        }
        let p = Path::new(path);
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                if p.join("index.json").is_file() {
                    Ok(ImageSource::OciLayout {
                        dir: p.to_path_buf(),
                        reference: None,
                    })
                } else {
                    Err(invalid(
                        "a directory without index.json (an OCI layout needs oci-layout, index.json and blobs/)",
                    ))
                }
            }
            Ok(_) => Ok(ImageSource::DockerArchive {
                path: p.to_path_buf(),
            }),
            Err(e) => Err(invalid(&format!(
                "{e} (expected oci:<dir>[:<tag>] or the path of a docker-archive / oci-archive tar)"
            ))),
        }
    }
}

/// Splits `<dir>[:<tag>]` (see [`ImageSource::from_input`]).
fn split_oci(rest: &str) -> (String, Option<String>) {
    // A digest reference: `dir@sha256:hex` or `dir:sha256:hex`.
    for sep in ["@", ":"] {
        if let Some(pos) = rest.rfind(&format!("{sep}sha256:")) {
            let digest = &rest[pos + 1..];
            if sha256_hex(digest).is_some() {
                return (rest[..pos].to_string(), Some(digest.to_string()));
            }
        }
    }
    match rest.rfind(':') {
        Some(pos) if !rest[pos + 1..].contains('/') => {
            let (dir, tag) = (&rest[..pos], &rest[pos + 1..]);
            // `dir` with a ':' in its name and no tag: prefer what exists on disk.
            let whole_is_layout = Path::new(rest).join("index.json").is_file();
            let split_is_layout = Path::new(dir).join("index.json").is_file();
            if whole_is_layout && !split_is_layout {
                (rest.to_string(), None)
            } else {
                (dir.to_string(), Some(tag.to_string()))
            }
        }
        _ => (rest.to_string(), None),
    }
}

impl std::str::FromStr for Platform {
    type Err = ImageError;
    /// Parses `os/arch[/variant]` (lower-cased; `x86_64`/`aarch64` normalised to
    /// `amd64`/`arm64`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| ImageError::InvalidPlatform {
            platform: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.trim().split('/').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(invalid("wrong number of parts"));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid("empty part"));
        }
        if parts.iter().any(|p| {
            !p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            return Err(invalid("unexpected character"));
        }
        let arch = match parts[1].to_ascii_lowercase().as_str() {
            "x86_64" | "x86-64" => "amd64".to_string(),
            "aarch64" => "arm64".to_string(),
            a => a.to_string(),
        };
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: arch,
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }
}

impl std::fmt::Display for Platform {
    /// `os/arch[/variant]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.variant {
            Some(v) => write!(f, "{}/{}/{}", self.os, self.architecture, v),
            None => write!(f, "{}/{}", self.os, self.architecture),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        let p: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(p, Platform::default());
        let p: Platform = "Linux/aarch64/V8".parse().unwrap();
        assert_eq!(p.to_string(), "linux/arm64/v8");
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64", ""] {
            let e = bad.parse::<Platform>().unwrap_err();
            assert!(matches!(e, ImageError::InvalidPlatform { .. }), "{bad}");
            assert!(e.to_string().contains("os/arch"), "{e}");
        }
    }

    #[test]
    fn oci_inputs() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let cases: Vec<(String, &str, Option<String>)> = vec![
            (
                "oci:/tmp/l:bookworm".into(),
                "/tmp/l",
                Some("bookworm".into()),
            ),
            ("oci:/tmp/l".into(), "/tmp/l", None),
            ("oci:rel/dir:v1.2".into(), "rel/dir", Some("v1.2".into())),
            ("oci:/tmp/a:b/layout".into(), "/tmp/a:b/layout", None),
            (
                "oci:/tmp/a:b/layout:t".into(),
                "/tmp/a:b/layout",
                Some("t".into()),
            ),
            (
                format!("oci:/tmp/l@{digest}"),
                "/tmp/l",
                Some(digest.clone()),
            ),
            (
                format!("oci:/tmp/l:{digest}"),
                "/tmp/l",
                Some(digest.clone()),
            ),
        ];
        for (input, dir, reference) in cases {
            assert_eq!(
                ImageSource::from_input(&input).unwrap(),
                ImageSource::OciLayout {
                    dir: dir.into(),
                    reference
                },
                "{input}"
            );
        }
        assert!(ImageSource::from_input("oci:").is_err());
        assert!(ImageSource::from_input("oci:/tmp/l:").is_err());
    }

    #[test]
    fn oci_dir_with_colon_on_disk() {
        let tmp =
            std::env::temp_dir().join(format!("sightline-image-colon-{}", std::process::id()));
        let dir = tmp.join("lay:out");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.json"), "{}").unwrap();
        let input = format!("oci:{}", dir.display());
        let got = ImageSource::from_input(&input).unwrap();
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(
            got,
            ImageSource::OciLayout {
                dir,
                reference: None
            }
        );
    }

    #[test]
    fn archive_inputs() {
        let tmp =
            std::env::temp_dir().join(format!("sightline-image-input-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let tar = tmp.join("x.tar");
        std::fs::write(&tar, b"").unwrap();
        let want = ImageSource::DockerArchive { path: tar.clone() };
        assert_eq!(
            ImageSource::from_input(tar.to_str().unwrap()).unwrap(),
            want
        );
        assert_eq!(
            ImageSource::from_input(&format!("docker-archive:{}", tar.display())).unwrap(),
            want
        );
        let e = ImageSource::from_input(tmp.join("missing.tar").to_str().unwrap()).unwrap_err();
        assert!(
            matches!(e, ImageError::InvalidInput { .. }) && e.to_string().contains("missing.tar")
        );
        let e = ImageSource::from_input(tmp.to_str().unwrap()).unwrap_err();
        assert!(e.to_string().contains("index.json"), "{e}");
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
