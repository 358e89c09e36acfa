//! Read access to the files of a local image: an OCI layout directory, or the members of a
//! tar archive (docker-archive / oci-archive) read in place by seeking, never extracted.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::layer::normalize_entry_path;
use crate::ImageError;

/// Manifests, indexes and configs larger than this are refused (they are a few KiB).
const MAX_METADATA_SIZE: u64 = 32 << 20;

/// Most members of an image archive (a docker-archive has two or three per layer).
const MAX_ARCHIVE_MEMBERS: usize = 100_000;

/// Where the files of a local image live.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// A directory (OCI layout).
    Dir(PathBuf),
    /// A tar archive: member path -> (data offset, size), links resolved.
    Tar {
        path: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

impl Store {
    /// Indexes the regular members of a tar archive (one pass over the headers, seeking
    /// past the data); symlinks and hardlinks between members are resolved.
    pub(crate) fn open_tar(path: &Path) -> Result<Self, ImageError> {
        let shown = path.display().to_string();
        let corrupt = |e: io::Error| ImageError::InvalidManifest {
            subject: format!("archive {shown}"),
            reason: format!("not a readable tar file: {e}"),
        };
        let file = File::open(path).map_err(|e| ImageError::io(&shown, e))?;
        let mut archive = tar::Archive::new(BufReader::new(file));
        let mut members = HashMap::new();
        let mut links: Vec<(String, String, bool)> = Vec::new();
        for (count, entry) in archive.entries_with_seek().map_err(corrupt)?.enumerate() {
            let entry = entry.map_err(corrupt)?;
            if count >= MAX_ARCHIVE_MEMBERS {
                return Err(crate::limits::exceeded(
                    format!("archive {shown}"),
                    format!("it has more than {MAX_ARCHIVE_MEMBERS} members"),
                    format!("limit of {MAX_ARCHIVE_MEMBERS} members of an image archive"),
                    None,
                ));
            }
            if entry.path_bytes().len() > crate::limits::MAX_PATH_LEN {
                continue; // never addressed by a manifest we accept
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let Ok(name) = normalize_entry_path(&raw) else {
                continue; // never addressed by a manifest we accept
            };
            let kind = entry.header().entry_type();
            if kind.is_file() {
                members.insert(name, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                if let Some(target) = entry.link_name_bytes() {
                    let target = String::from_utf8_lossy(&target).into_owned();
                    links.push((name, target, kind.is_symlink()));
                }
            }
        }
        // Resolve links (skopeo's docker-archive has `<id>/layer.tar -> ../<diffid>.tar`).
        for _ in 0..8 {
            let mut progressed = false;
            for (name, target, symlink) in &links {
                if members.contains_key(name) {
                    continue;
                }
                let joined = if *symlink && !target.starts_with('/') {
                    match name.rfind('/') {
                        Some(i) => format!("{}/{}", &name[..i], target),
                        None => target.clone(),
                    }
                } else {
                    target.clone()
                };
                if let Ok(resolved) = normalize_entry_path(&joined) {
                    if let Some(m) = members.get(&resolved).copied() {
                        members.insert(name.clone(), m);
                        progressed = true;
                    }
                }
            }
            if !progressed {
                break;
            }
        }
        Ok(Store::Tar {
            path: path.to_path_buf(),
            members,
        })
    }

    /// Whether `name` exists.
    pub(crate) fn exists(&self, name: &str) -> bool {
        match self {
            Store::Dir(dir) => dir.join(name).is_file(),
            Store::Tar { members, .. } => members.contains_key(name),
        }
    }

    /// `name` as shown in errors.
    pub(crate) fn describe(&self, name: &str) -> String {
        match self {
            Store::Dir(dir) => dir.join(name).display().to_string(),
            Store::Tar { path, .. } => format!("{}!{}", path.display(), name),
        }
    }

    /// Opens `name` for streaming; returns the reader and its size.
    pub(crate) fn open(&self, name: &str) -> Result<(Box<dyn Read + Send>, u64), ImageError> {
        match self {
            Store::Dir(dir) => {
                let p = dir.join(name);
                let f = File::open(&p).map_err(|e| ImageError::io(p.display(), e))?;
                let size = f
                    .metadata()
                    .map_err(|e| ImageError::io(p.display(), e))?
                    .len();
                Ok((Box::new(BufReader::with_capacity(256 << 10, f)), size))
            }
            Store::Tar { path, members } => {
                let (offset, size) = *members.get(name).ok_or_else(|| {
                    ImageError::io(
                        self.describe(name),
                        io::Error::new(io::ErrorKind::NotFound, "no such member in the archive"),
                    )
                })?;
                let mut f = File::open(path).map_err(|e| ImageError::io(path.display(), e))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| ImageError::io(path.display(), e))?;
                Ok((
                    Box::new(BufReader::with_capacity(256 << 10, f).take(size)),
                    size,
                ))
            }
        }
    }

    /// Reads a small file (manifest, index, config) completely.
    pub(crate) fn read_small(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let (reader, size) = self.open(name)?;
        if size > MAX_METADATA_SIZE {
            return Err(ImageError::InvalidManifest {
                subject: self.describe(name),
                reason: format!("{size} bytes is too large for a manifest or config"),
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        reader
            .take(MAX_METADATA_SIZE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::io(self.describe(name), e))?;
        Ok(buf)
    }

    /// The first bytes of `name` (compression sniffing).
    pub(crate) fn head(&self, name: &str, n: usize) -> Result<Vec<u8>, ImageError> {
        let (reader, _) = self.open(name)?;
        let mut buf = Vec::with_capacity(n);
        reader
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(|e| ImageError::io(self.describe(name), e))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_with_too_many_members_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("many.tar");
        let mut b = tar::Builder::new(std::io::BufWriter::new(File::create(&path).unwrap()));
        for i in 0..=MAX_ARCHIVE_MEMBERS {
            let mut h = tar::Header::new_gnu();
            h.set_size(0);
            h.set_mode(0o644);
            b.append_data(&mut h, format!("m{i}"), std::io::empty())
                .unwrap();
        }
        b.into_inner().unwrap();
        let e = Store::open_tar(&path).unwrap_err();
        assert!(
            matches!(e, ImageError::LimitExceeded { .. }) && e.to_string().contains("100000"),
            "{e}"
        );
    }
}
