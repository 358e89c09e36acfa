//! OS detection from `etc/os-release` (or `usr/lib/os-release`), refined by
//! `etc/debian_version`, `etc/alpine-release` and `etc/lsb-release`, as Trivy does.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{read_text, FileSource, InventoryError};

/// OS families whose packages Sightline can match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    /// Debian.
    Debian,
    /// Ubuntu.
    Ubuntu,
    /// Alpine Linux.
    Alpine,
    /// Anything else, by its os-release `ID`.
    #[serde(untagged)]
    Other(String),
}

impl OsFamily {
    /// Trivy's family name (`debian`, `ubuntu`, `alpine`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            OsFamily::Debian => "debian",
            OsFamily::Ubuntu => "ubuntu",
            OsFamily::Alpine => "alpine",
            OsFamily::Other(s) => s,
        }
    }

    fn from_id(id: &str) -> Self {
        match id {
            "debian" => OsFamily::Debian,
            "ubuntu" => OsFamily::Ubuntu,
            "alpine" => OsFamily::Alpine,
            other => OsFamily::Other(other.to_string()),
        }
    }
}

impl fmt::Display for OsFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detected OS: family and release name as Trivy prints them (`debian 12.15`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsInfo {
    /// Family.
    pub family: OsFamily,
    /// Release (`12.15`, `3.23.6`, `22.04`).
    pub name: String,
}

impl OsInfo {
    /// The trivy-db platform bucket holding this release's advisories: `debian <major>`,
    /// `ubuntu <major.minor>`, `alpine <major.minor>`; `None` for unsupported families.
    pub fn platform_bucket(&self) -> Option<String> {
        match self.family {
            OsFamily::Debian => {
                let major = self.name.split('.').next().unwrap_or_default();
                (!major.is_empty()).then(|| format!("debian {major}"))
            }
            OsFamily::Ubuntu => {
                let v: Vec<&str> = self.name.split('.').take(2).collect();
                (v.len() == 2).then(|| format!("ubuntu {}", v.join(".")))
            }
            OsFamily::Alpine => {
                if self.name.contains("edge") || self.name.contains('_') {
                    return Some("alpine edge".to_string());
                }
                let v: Vec<&str> = self.name.split('.').take(2).collect();
                (v.len() == 2).then(|| format!("alpine {}", v.join(".")))
            }
            OsFamily::Other(_) => None,
        }
    }
}

impl fmt::Display for OsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.family, self.name)
    }
}

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
const DEBIAN_VERSION: &str = "etc/debian_version";
const ALPINE_RELEASE: &str = "etc/alpine-release";
const LSB_RELEASE: &str = "etc/lsb-release";

/// The files OS detection reads.
pub fn is_wanted(path: &str) -> bool {
    OS_RELEASE.contains(&path) || [DEBIAN_VERSION, ALPINE_RELEASE, LSB_RELEASE].contains(&path)
}

/// Parses `KEY=value` / `KEY="value"` lines (os-release(5), lsb-release).
pub fn parse_key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

fn get<'a>(kv: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kv.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Detects the OS. Family-specific release files win over os-release for the release name
/// (Debian's `12.15` from `debian_version`, Alpine's full `3.23.6`), as in Trivy.
pub fn detect(files: &dyn FileSource) -> Result<Option<OsInfo>, InventoryError> {
    let mut os_release = None;
    for p in OS_RELEASE {
        if let Some(t) = read_text(files, p)? {
            os_release = Some(parse_key_values(&t));
            break;
        }
    }
    let id = os_release
        .as_deref()
        .and_then(|kv| get(kv, "ID"))
        .map(str::to_ascii_lowercase);
    let version_id = os_release
        .as_deref()
        .and_then(|kv| get(kv, "VERSION_ID"))
        .map(str::to_string);

    if let Some(t) = read_text(files, ALPINE_RELEASE)? {
        let name = t.trim();
        if !name.is_empty() && id.as_deref().is_none_or(|i| i == "alpine") {
            return Ok(Some(OsInfo {
                family: OsFamily::Alpine,
                name: name.to_string(),
            }));
        }
    }
    if id.as_deref() == Some("ubuntu") || id.is_none() {
        if let Some(t) = read_text(files, LSB_RELEASE)? {
            let kv = parse_key_values(&t);
            if get(&kv, "DISTRIB_ID")
                .map(str::to_ascii_lowercase)
                .as_deref()
                == Some("ubuntu")
            {
                if let Some(rel) = get(&kv, "DISTRIB_RELEASE") {
                    return Ok(Some(OsInfo {
                        family: OsFamily::Ubuntu,
                        name: rel.to_string(),
                    }));
                }
            }
        }
    }
    if id.as_deref() == Some("debian") || id.is_none() {
        if let Some(t) = read_text(files, DEBIAN_VERSION)? {
            let name = t.trim();
            // `trixie/sid`-style contents name a testing release: keep os-release's id then.
            if !name.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                return Ok(Some(OsInfo {
                    family: OsFamily::Debian,
                    name: name.to_string(),
                }));
            }
        }
    }
    Ok(match (id, version_id) {
        (Some(id), Some(v)) => Some(OsInfo {
            family: OsFamily::from_id(&id),
            name: v,
        }),
        (Some(id), None) => Some(OsInfo {
            family: OsFamily::from_id(&id),
            name: String::new(),
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemFiles;

    fn files(pairs: &[(&str, &str)]) -> MemFiles {
        MemFiles(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
        )
    }

    #[test]
    fn debian_uses_debian_version() {
        let f = files(&[
            ("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            ("etc/debian_version", "12.15\n"),
        ]);
        let os = detect(&f).unwrap().unwrap();
        assert_eq!(os.to_string(), "debian 12.15");
        assert_eq!(os.platform_bucket().unwrap(), "debian 12");
    }

    #[test]
    fn alpine_and_ubuntu() {
        let f = files(&[
            ("etc/os-release", "ID=alpine\nVERSION_ID=3.23.6\n"),
            ("etc/alpine-release", "3.23.6\n"),
        ]);
        let os = detect(&f).unwrap().unwrap();
        assert_eq!(os.platform_bucket().unwrap(), "alpine 3.23");
        let f = files(&[
            (
                "etc/os-release",
                "NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_ID=\"22.04\"\n",
            ),
            (
                "etc/lsb-release",
                "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n",
            ),
            ("etc/debian_version", "bookworm/sid\n"),
        ]);
        let os = detect(&f).unwrap().unwrap();
        assert_eq!(os.to_string(), "ubuntu 22.04");
        assert_eq!(os.platform_bucket().unwrap(), "ubuntu 22.04");
    }

    #[test]
    fn unknown_and_absent() {
        assert_eq!(detect(&MemFiles::default()).unwrap(), None);
        let f = files(&[("etc/os-release", "ID=plan9\nVERSION_ID=4\n")]);
        let os = detect(&f).unwrap().unwrap();
        assert_eq!(os.family, OsFamily::Other("plan9".into()));
        assert_eq!(os.platform_bucket(), None);
    }
}
