//! The merged, in-memory view of an image's kept files and all its symlinks, and the
//! layer-merging rules (whiteouts, opaque directories, replacement).
//!
//! Symlinks are resolved purely virtually inside the image root: nothing is ever looked up
//! on (or written to) the host filesystem.

use std::collections::{BTreeMap, HashSet};

use crate::layer::Change;
use crate::{FileEntry, ImageError};

/// Maximum number of symlinks followed while resolving one path (as Linux' `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// The merged view of the kept files after all layers and whiteouts, plus every symlink,
/// so reads can follow links inside the image.
///
/// Paths are relative to the image root, `/`-separated, without a leading `/` or `./`.
#[derive(Debug, Clone, Default)]
pub struct Rootfs {
    files: BTreeMap<String, FileEntry>,
    symlinks: BTreeMap<String, String>,
    /// FNV-1a hashes of every path ever made a symlink (a superset of `symlinks`' keys):
    /// resolving extends the hash of the path walked so far one component at a time, so a
    /// path is resolved in time linear in its length and the map is only asked on a hit.
    link_hashes: HashSet<u64>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, continued from `hash` over `bytes` (so `fnv(fnv(h, a), b) == fnv(h, a ++ b)`).
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Strips leading `/` and `./` and empty / `.` components (no `..` handling).
fn clean(path: &str) -> String {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

impl Rootfs {
    /// An empty rootfs (use [`Rootfs::insert_file`] / [`Rootfs::insert_symlink`] to build
    /// one by hand, e.g. in analyzer tests).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a kept regular file at `path`.
    pub fn insert_file(&mut self, path: &str, entry: FileEntry) {
        let path = clean(path);
        self.symlinks.remove(&path);
        self.files.insert(path, entry);
    }

    /// Adds (or replaces) a symlink `path -> target` (target as stored in the tar).
    pub fn insert_symlink(&mut self, path: &str, target: &str) {
        let path = clean(path);
        self.files.remove(&path);
        self.add_symlink(path, target.to_string());
    }

    /// Records the symlink `path -> target` (path already clean).
    fn add_symlink(&mut self, path: String, target: String) {
        self.link_hashes.insert(fnv(FNV_OFFSET, path.as_bytes()));
        self.symlinks.insert(path, target);
    }

    /// Reads `path` (relative, no leading `/`), following symlinks inside the image.
    /// `Ok(None)` when absent (including when a link's target file was not kept by the
    /// [`crate::FileFilter`]); an error when a link climbs out of the image root
    /// ([`ImageError::SymlinkEscape`]) or loops ([`ImageError::SymlinkLoop`]).
    pub fn read(&self, path: &str) -> Result<Option<&FileEntry>, ImageError> {
        let resolved = self.resolve(path)?;
        Ok(self.files.get(&resolved))
    }

    /// Resolves every symlink in `path` (intermediate directories and the final component)
    /// inside the image root and returns the real path. Absolute link targets are relative
    /// to the image root; a target that climbs above the root is an
    /// [`ImageError::SymlinkEscape`] (it is never clamped to `/`).
    pub fn resolve(&self, path: &str) -> Result<String, ImageError> {
        // Components still to walk, in reverse order, each with the link (index into
        // `links`) whose target it came from.
        let mut pending: Vec<(&str, Option<usize>)> =
            path.split('/').rev().map(|c| (c, None)).collect();
        let mut links: Vec<(String, &str)> = Vec::new();
        // The path resolved so far, and for each of its components the length and hash of
        // `current` before it (to step back on `..` or a link in O(1)).
        let mut current = String::new();
        let mut hash = FNV_OFFSET;
        let mut steps: Vec<(usize, u64)> = Vec::new();
        let mut hops = 0;
        while let Some((comp, origin)) = pending.pop() {
            match comp {
                "" | "." => continue,
                ".." => {
                    let Some((len, before)) = steps.pop() else {
                        return Err(match origin {
                            Some(i) => ImageError::SymlinkEscape {
                                link: links[i].0.clone(),
                                target: links[i].1.to_string(),
                            },
                            None => ImageError::InvalidPath {
                                path: path.to_string(),
                                reason: "it climbs above the image root".into(),
                            },
                        });
                    };
                    current.truncate(len);
                    hash = before;
                }
                _ => {
                    steps.push((current.len(), hash));
                    if !current.is_empty() {
                        current.push('/');
                        hash = fnv(hash, b"/");
                    }
                    current.push_str(comp);
                    hash = fnv(hash, comp.as_bytes());
                    if !self.link_hashes.contains(&hash) {
                        continue;
                    }
                    #[cfg(test)]
                    tests::LOOKUPS.with(|n| n.set(n.get() + 1));
                    let Some(target) = self.symlinks.get(&current) else {
                        continue;
                    };
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(ImageError::SymlinkLoop {
                            path: path.to_string(),
                            link: current,
                        });
                    }
                    let link = current.clone();
                    let (len, before) = steps.pop().unwrap_or((0, FNV_OFFSET));
                    current.truncate(len);
                    hash = before;
                    if target.starts_with('/') {
                        current.clear();
                        hash = FNV_OFFSET;
                        steps.clear();
                    }
                    links.push((link, target.as_str()));
                    let idx = links.len() - 1;
                    pending.extend(target.split('/').rev().map(|c| (c, Some(idx))));
                }
            }
        }
        Ok(current)
    }

    /// Kept files whose path starts with `dir/`, direct children only, sorted; the returned
    /// paths are full paths. Symlinks in `dir` itself are followed (so `list_dir("a")` with
    /// `a -> b` lists `b/...`); `""` lists the root.
    pub fn list_dir(&self, dir: &str) -> Vec<(&str, &FileEntry)> {
        let dir = self.resolve(dir).unwrap_or_else(|_| clean(dir));
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.files
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, v)| (k.as_str(), v))
            .collect()
    }

    /// All kept files, sorted by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &FileEntry)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// All symlinks of the merged image (`path -> target` as stored), sorted by path.
    pub fn symlinks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.symlinks.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The target of the symlink at `path` (not followed), if it is one.
    pub fn read_link(&self, path: &str) -> Option<&str> {
        self.symlinks.get(&clean(path)).map(String::as_str)
    }

    /// Removes `path` and everything below it.
    fn remove_tree(&mut self, path: &str) {
        self.files.remove(path);
        self.symlinks.remove(path);
        self.remove_children(path);
    }

    /// Removes everything below `dir` (everything when `dir` is the root).
    fn remove_children(&mut self, dir: &str) {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        fn drop_prefixed<V>(map: &mut BTreeMap<String, V>, prefix: &str) {
            let keys: Vec<String> = map
                .range(prefix.to_string()..)
                .take_while(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                map.remove(&k);
            }
        }
        drop_prefixed(&mut self.files, &prefix);
        drop_prefixed(&mut self.symlinks, &prefix);
    }

    /// Where an entry at `path` really lands: its parent directory resolved through the
    /// symlinks of the layers below (as containerd's applier does when a layer writes
    /// `lib/x` over a lower `lib -> usr/lib`). A parent that cannot be resolved inside the
    /// root (escape, loop) is kept literally.
    fn place(&self, path: String) -> String {
        if self.symlinks.is_empty() {
            return path;
        }
        let Some(i) = path.rfind('/') else {
            return path;
        };
        match self.resolve(&path[..i]) {
            Ok(parent) if parent != path[..i] => {
                if parent.is_empty() {
                    path[i + 1..].to_string()
                } else {
                    format!("{parent}/{}", &path[i + 1..])
                }
            }
            _ => path,
        }
    }

    /// Applies one layer (index `layer`) on top of the current state: first its whiteouts
    /// and opaque markers (they only affect LOWER layers), then its entries in tar order.
    pub(crate) fn apply_layer(&mut self, layer: usize, changes: Vec<Change>) {
        for change in &changes {
            match change {
                Change::Whiteout(path) => {
                    let path = self.place(path.clone());
                    self.remove_tree(&path)
                }
                Change::Opaque(dir) => {
                    let dir = self.resolve(dir).unwrap_or_else(|_| dir.clone());
                    self.remove_children(&dir)
                }
                _ => {}
            }
        }
        for change in changes {
            match change {
                Change::Whiteout(_) | Change::Opaque(_) => {}
                Change::Dir(path) => {
                    // A directory replaces a lower non-directory at the same path only.
                    let path = self.place(path);
                    self.files.remove(&path);
                    self.symlinks.remove(&path);
                }
                Change::Other(path) => {
                    let path = self.place(path);
                    self.remove_tree(&path)
                }
                Change::File {
                    path,
                    content,
                    mode,
                } => {
                    let path = self.place(path);
                    self.remove_tree(&path);
                    if let Some(content) = content {
                        self.files.insert(
                            path,
                            FileEntry {
                                content,
                                layer,
                                mode,
                            },
                        );
                    }
                }
                Change::Symlink { path, target } => {
                    let path = self.place(path);
                    self.remove_tree(&path);
                    self.add_symlink(path, target);
                }
                Change::Hardlink { path, target } => {
                    let (path, target) = (self.place(path), self.place(target));
                    let file = self.files.get(&target).cloned();
                    let link = self.symlinks.get(&target).cloned();
                    self.remove_tree(&path);
                    if let Some(mut file) = file {
                        file.layer = layer;
                        self.files.insert(path, file);
                    } else if let Some(link) = link {
                        self.add_symlink(path, link);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Symlink-map lookups made by `resolve` on this thread.
        pub(super) static LOOKUPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A path 2,000 components deep is resolved with one map lookup per real link on it:
    /// before, every prefix was joined and looked up (quadratic in the depth).
    #[test]
    fn resolving_deep_paths_is_linear() {
        let mut r = Rootfs::new();
        r.insert_symlink("lib", "usr/lib");
        r.insert_file("usr/lib/x", entry("x"));
        let deep = format!("lib/{}x/../../x", "d/".repeat(2_000));
        LOOKUPS.with(|n| n.set(0));
        let resolved = r.resolve(&deep).unwrap();
        assert_eq!(
            resolved,
            format!("usr/lib/{}x", "d/".repeat(1_999)).replace("//", "/")
        );
        assert_eq!(LOOKUPS.with(|n| n.get()), 1);
        assert_eq!(&r.read("lib/d/../x").unwrap().unwrap().content[..], b"x");
    }

    fn entry(s: &str) -> FileEntry {
        FileEntry {
            content: s.as_bytes().into(),
            layer: 0,
            mode: 0o644,
        }
    }

    fn debian_like() -> Rootfs {
        let mut r = Rootfs::new();
        r.insert_file("usr/lib/os-release", entry("ID=debian\n"));
        r.insert_symlink("etc/os-release", "../usr/lib/os-release");
        r.insert_symlink("lib", "usr/lib");
        r.insert_symlink("abs", "/usr/lib/os-release");
        r.insert_symlink("loop1", "loop2");
        r.insert_symlink("loop2", "loop1");
        r.insert_symlink("etc/escape", "/../../../../etc/passwd");
        r.insert_symlink("a/b/escape", "../../../../etc/shadow");
        r.insert_symlink("dangling", "nowhere");
        r
    }

    #[test]
    fn follows_relative_absolute_and_intermediate_links() {
        let r = debian_like();
        assert_eq!(
            &r.read("etc/os-release").unwrap().unwrap().content[..],
            b"ID=debian\n"
        );
        assert_eq!(
            &r.read("/etc/os-release").unwrap().unwrap().content[..],
            b"ID=debian\n"
        );
        assert_eq!(
            &r.read("./lib/os-release").unwrap().unwrap().content[..],
            b"ID=debian\n"
        );
        assert_eq!(&r.read("abs").unwrap().unwrap().content[..], b"ID=debian\n");
        assert_eq!(
            r.resolve("lib/x/../os-release").unwrap(),
            "usr/lib/os-release"
        );
        assert!(r.read("dangling").unwrap().is_none());
        assert!(r.read("etc/passwd").unwrap().is_none());
        assert_eq!(r.read_link("etc/os-release"), Some("../usr/lib/os-release"));
    }

    #[test]
    fn escapes_and_loops_are_errors() {
        let r = debian_like();
        match r.read("etc/escape").unwrap_err() {
            ImageError::SymlinkEscape { link, target } => {
                assert_eq!(link, "etc/escape");
                assert_eq!(target, "/../../../../etc/passwd");
            }
            e => panic!("unexpected {e}"),
        }
        let e = r.read("a/b/escape").unwrap_err();
        assert!(matches!(e, ImageError::SymlinkEscape { .. }));
        assert!(
            e.to_string()
                .contains("a/b/escape -> ../../../../etc/shadow"),
            "{e}"
        );
        let e = r.read("loop1").unwrap_err();
        assert!(matches!(e, ImageError::SymlinkLoop { .. }), "{e}");
        let e = r.read("../etc/passwd").unwrap_err();
        assert!(matches!(e, ImageError::InvalidPath { .. }), "{e}");
    }

    #[test]
    fn list_dir_direct_children_through_links() {
        let mut r = Rootfs::new();
        r.insert_file("var/lib/dpkg/status.d/a", entry("a"));
        r.insert_file("var/lib/dpkg/status.d/b", entry("b"));
        r.insert_file("var/lib/dpkg/status.d/sub/c", entry("c"));
        r.insert_file("var/lib/dpkg/status.dx", entry("x"));
        r.insert_symlink("sd", "var/lib/dpkg/status.d");
        let names: Vec<&str> = r
            .list_dir("var/lib/dpkg/status.d")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(
            names,
            ["var/lib/dpkg/status.d/a", "var/lib/dpkg/status.d/b"]
        );
        assert_eq!(r.list_dir("sd").len(), 2);
        assert_eq!(r.list_dir("/var/lib/dpkg/status.d/").len(), 2);
        assert!(r.list_dir("nope").is_empty());
        assert!(r.list_dir("").is_empty());
    }

    #[test]
    fn merge_rules() {
        let file = |p: &str, c: &str| Change::File {
            path: p.into(),
            content: Some(c.as_bytes().into()),
            mode: 0o644,
        };
        let mut r = Rootfs::new();
        r.apply_layer(
            0,
            vec![
                Change::Dir("etc".into()),
                file("etc/a", "a0"),
                file("etc/b", "b0"),
                file("opt/x/y", "y0"),
                file("keep/z", "z0"),
            ],
        );
        r.apply_layer(
            1,
            vec![
                // Own entries are not removed by own whiteouts, whatever the tar order.
                file("etc/b", "b1"),
                Change::Whiteout("etc/b".into()),
                Change::Whiteout("opt".into()),
                Change::Hardlink {
                    path: "etc/c".into(),
                    target: "etc/b".into(),
                },
                // A non-kept regular file still hides the lower kept version.
                Change::File {
                    path: "etc/a".into(),
                    content: None,
                    mode: 0o644,
                },
                // A file replacing a directory hides the directory's contents.
                file("keep", "now a file"),
            ],
        );
        assert!(r.read("etc/a").unwrap().is_none());
        let b = r.read("etc/b").unwrap().unwrap();
        assert_eq!((&b.content[..], b.layer), (&b"b1"[..], 1));
        assert_eq!(&r.read("etc/c").unwrap().unwrap().content[..], b"b1");
        assert!(r.read("opt/x/y").unwrap().is_none());
        assert!(r.read("keep/z").unwrap().is_none());
        assert_eq!(&r.read("keep").unwrap().unwrap().content[..], b"now a file");
        r.apply_layer(2, vec![Change::Opaque("etc".into()), file("etc/d", "d2")]);
        let all: Vec<&str> = r.files().map(|(p, _)| p).collect();
        assert_eq!(all, ["etc/d", "keep"]);
    }

    #[test]
    fn entries_land_through_lower_symlinked_dirs() {
        let file = |p: &str, c: &str| Change::File {
            path: p.into(),
            content: Some(c.as_bytes().into()),
            mode: 0o644,
        };
        let mut r = Rootfs::new();
        r.apply_layer(
            0,
            vec![
                Change::Dir("usr/lib".into()),
                Change::Symlink {
                    path: "lib".into(),
                    target: "usr/lib".into(),
                },
                file("usr/lib/a", "a0"),
                Change::Symlink {
                    path: "up".into(),
                    target: "../..".into(),
                },
            ],
        );
        r.apply_layer(
            1,
            vec![
                file("lib/os-release", "ID=x"),
                Change::Whiteout("lib/a".into()),
                file("up/b", "literal"),
            ],
        );
        let all: Vec<&str> = r.files().map(|(p, _)| p).collect();
        assert_eq!(all, ["up/b", "usr/lib/os-release"]);
        assert_eq!(
            &r.read("lib/os-release").unwrap().unwrap().content[..],
            b"ID=x"
        );
    }
}
