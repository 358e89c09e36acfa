//! Manifests, indexes and configs as JSON (OCI and docker v2 schema 2 share the shape),
//! platform selection and digest helpers shared by all sources.

use std::collections::BTreeMap;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::{ImageError, Platform};

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub(crate) const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Manifest media types we ask registries for.
pub(crate) const ACCEPTED_MANIFESTS: &[&str] =
    &[OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST];

/// `sha256:<hex>` of `bytes`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Checks that `digest` is `sha256:<64 lowercase hex>` and returns the hex part.
pub(crate) fn sha256_hex(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then_some(hex)
}

/// Verifies `bytes` against `expected` (`sha256:` only).
pub(crate) fn verify_digest(bytes: &[u8], expected: &str, subject: &str) -> Result<(), ImageError> {
    if sha256_hex(expected).is_none() {
        return Err(ImageError::InvalidManifest {
            subject: subject.to_string(),
            reason: format!(
                "unsupported or malformed digest {expected:?} (only sha256 is supported)"
            ),
        });
    }
    let actual = sha256_digest(bytes);
    if actual != expected {
        return Err(ImageError::DigestMismatch {
            subject: subject.to_string(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
}

/// A content descriptor (OCI descriptor / docker manifest entry).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    // `urls` (foreign layers) is deliberately not read: layers come from the registry only.
    #[serde(default)]
    pub platform: Option<PlatformJson>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// `platform` of an index entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PlatformJson {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl PlatformJson {
    fn display(&self) -> String {
        match &self.variant {
            Some(v) if !v.is_empty() => format!("{}/{}/{}", self.os, self.architecture, v),
            _ => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// Either an image manifest or an index, as parsed from JSON.
#[derive(Debug, Deserialize)]
struct AnyManifest {
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<i64>,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// A parsed manifest.
#[derive(Debug)]
pub(crate) enum Manifest {
    /// An image manifest (OCI or docker v2s2).
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// An OCI index / docker manifest list.
    Index { manifests: Vec<Descriptor> },
}

impl Manifest {
    /// Parses manifest JSON; `subject` names it in errors.
    pub(crate) fn parse(bytes: &[u8], subject: &str) -> Result<Self, ImageError> {
        let m: AnyManifest =
            serde_json::from_slice(bytes).map_err(|e| ImageError::InvalidManifest {
                subject: subject.to_string(),
                reason: format!("not valid manifest JSON: {e}"),
            })?;
        if m.schema_version == Some(1) {
            return Err(ImageError::InvalidManifest {
                subject: subject.to_string(),
                reason: "docker v2 schema 1 manifests are not supported (re-push the image with a current client)"
                    .into(),
            });
        }
        if let Some(manifests) = m.manifests {
            return Ok(Manifest::Index { manifests });
        }
        match (m.config, m.layers) {
            (Some(config), Some(layers)) => Ok(Manifest::Image { config, layers }),
            _ => Err(ImageError::InvalidManifest {
                subject: subject.to_string(),
                reason: format!(
                    "neither an image manifest (config + layers) nor an index (manifests){}",
                    m.media_type
                        .map(|t| format!("; media type {t}"))
                        .unwrap_or_default()
                ),
            }),
        }
    }
}

/// The parts of the image config this crate needs.
#[derive(Debug, Deserialize)]
struct ConfigJson {
    #[serde(default)]
    rootfs: Option<RootfsJson>,
}

#[derive(Debug, Deserialize)]
struct RootfsJson {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Parses the config JSON, returning it as a value and its `rootfs.diff_ids`.
pub(crate) fn parse_config(
    bytes: &[u8],
    subject: &str,
) -> Result<(serde_json::Value, Vec<String>), ImageError> {
    let invalid = |reason: String| ImageError::InvalidManifest {
        subject: subject.to_string(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not valid JSON: {e}")))?;
    let parsed: ConfigJson = serde_json::from_value(value.clone())
        .map_err(|e| invalid(format!("unexpected shape: {e}")))?;
    let diff_ids = parsed.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    for d in &diff_ids {
        if sha256_hex(d).is_none() {
            return Err(invalid(format!(
                "rootfs.diff_ids holds {d:?}, not a sha256 digest"
            )));
        }
    }
    Ok((value, diff_ids))
}

fn normalize_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" => "386",
        other => other,
    }
}

/// The default variant of an architecture (as containerd's platform matcher sees it).
fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

fn platform_matches(want: &Platform, have: &PlatformJson, strict_variant: bool) -> bool {
    if !want.os.eq_ignore_ascii_case(&have.os) {
        return false;
    }
    let want_arch = normalize_arch(&want.architecture);
    if want_arch != normalize_arch(&have.architecture) {
        return false;
    }
    let want_v = want.variant.as_deref().or(default_variant(want_arch));
    let have_v = have
        .variant
        .as_deref()
        .filter(|v| !v.is_empty())
        .or(default_variant(want_arch));
    match (want_v, have_v) {
        (Some(w), Some(h)) => w.eq_ignore_ascii_case(h),
        (None, None) => true,
        // No variant wanted: any variant will do unless we are looking for an exact match.
        (None, Some(_)) => !strict_variant,
        (Some(_), None) => false,
    }
}

/// Picks the entry of an index for `want`: an exact match (variant included) first, then,
/// when no variant was asked for, any variant of the os/arch. Entries without a platform
/// are taken only when the index has exactly one entry.
pub(crate) fn select_platform<'a>(
    manifests: &'a [Descriptor],
    want: &Platform,
    image: &str,
) -> Result<&'a Descriptor, ImageError> {
    let candidates = || manifests.iter().filter(|d| d.platform.is_some());
    let found = candidates()
        .find(|d| platform_matches(want, d.platform.as_ref().unwrap(), true))
        .or_else(|| {
            candidates().find(|d| platform_matches(want, d.platform.as_ref().unwrap(), false))
        })
        .or_else(|| {
            (manifests.len() == 1 && manifests[0].platform.is_none()).then(|| &manifests[0])
        });
    found.ok_or_else(|| {
        let mut available: Vec<String> = candidates()
            .map(|d| d.platform.as_ref().unwrap())
            .filter(|p| p.os != "unknown")
            .map(PlatformJson::display)
            .collect();
        available.dedup();
        ImageError::NoMatchingPlatform {
            image: image.to_string(),
            wanted: want.to_string(),
            available,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: 1,
            platform: Some(PlatformJson {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
            annotations: None,
        }
    }

    #[test]
    fn platform_selection_with_variants() {
        let list = vec![
            entry("linux", "arm", Some("v6"), "a"),
            entry("linux", "arm", Some("v7"), "b"),
            entry("linux", "arm64", Some("v8"), "c"),
            entry("linux", "amd64", None, "d"),
            entry("unknown", "unknown", None, "att"),
        ];
        let p = |s: &str| s.parse::<Platform>().unwrap();
        assert_eq!(
            select_platform(&list, &p("linux/amd64"), "x")
                .unwrap()
                .digest,
            "d"
        );
        assert_eq!(
            select_platform(&list, &p("linux/arm64"), "x")
                .unwrap()
                .digest,
            "c"
        );
        assert_eq!(
            select_platform(&list, &p("linux/arm64/v8"), "x")
                .unwrap()
                .digest,
            "c"
        );
        assert_eq!(
            select_platform(&list, &p("linux/arm/v6"), "x")
                .unwrap()
                .digest,
            "a"
        );
        // arm without a variant means v7, as containerd treats it.
        assert_eq!(
            select_platform(&list, &p("linux/arm"), "x").unwrap().digest,
            "b"
        );
        let err = select_platform(&list, &p("linux/s390x"), "reg/img:1").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, ImageError::NoMatchingPlatform { .. }));
        assert!(
            msg.contains("reg/img:1") && msg.contains("linux/s390x"),
            "{msg}"
        );
        assert!(
            msg.contains("linux/arm/v6, linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{msg}"
        );
        assert!(!msg.contains("unknown"), "{msg}");
    }

    #[test]
    fn arm64_without_variant_in_list_matches_v8() {
        let list = vec![entry("linux", "arm64", None, "c")];
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(select_platform(&list, &p, "x").unwrap().digest, "c");
    }

    #[test]
    fn schema1_and_garbage_are_rejected() {
        let e =
            Manifest::parse(br#"{"schemaVersion":1,"fsLayers":[]}"#, "manifest of r").unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        let e = Manifest::parse(b"not json", "manifest of r").unwrap_err();
        assert!(e.to_string().contains("manifest of r"), "{e}");
    }

    #[test]
    fn digests() {
        assert!(sha256_hex(&sha256_digest(b"x")).is_some());
        assert!(sha256_hex("sha256:ABC").is_none());
        let e = verify_digest(b"x", &sha256_digest(b"y"), "the blob").unwrap_err();
        assert!(matches!(e, ImageError::DigestMismatch { .. }));
        assert!(e.to_string().contains("the blob"));
    }
}
