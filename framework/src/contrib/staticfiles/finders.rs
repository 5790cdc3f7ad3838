//! Finding static files: the project's folders first, then each app's, the
//! first file with a given relative path winning (Django's finders).

use std::io;
use std::path::{Path, PathBuf};

/// An ordered list of static folders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Finder {
    dirs: Vec<PathBuf>,
}

impl Finder {
    pub(crate) fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    pub(crate) fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Every file, as (relative path with `/`, absolute path), sorted by
    /// relative path; hidden files and editor backups (`*~`) are skipped.
    pub(crate) fn list(&self) -> io::Result<Vec<(String, PathBuf)>> {
        let mut found: Vec<(String, PathBuf)> = Vec::new();
        for dir in &self.dirs {
            if !dir.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            walk(dir, dir, &mut files)?;
            for (rel, path) in files {
                if !found.iter().any(|(r, _)| *r == rel) {
                    found.push((rel, path));
                }
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    /// The file for a relative path that [`safe_relative_path`] accepted.
    pub(crate) fn find(&self, rel: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|dir| dir.join(rel))
            .find(|path| path.is_file())
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue; // not UTF-8: cannot be named in a URL
        };
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = entry.path();
        // Symlinked folders are not followed (no loops); symlinked files are.
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if path.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// The relative path named by a URL's remainder (percent-encoded, after the
/// static prefix), or `None` for anything that could leave the static
/// folders: `..` or `.` segments (also encoded, `%2e%2e`), empty segments,
/// backslashes, NUL and control characters, absolute paths, invalid UTF-8.
pub(crate) fn safe_relative_path(raw: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?
        .into_owned();
    if decoded.is_empty()
        || decoded.starts_with('/')
        || decoded.contains('\\')
        || decoded.chars().any(char::is_control)
        || decoded.contains(':')
    {
        return None;
    }
    for segment in decoded.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." || segment.starts_with('.') {
            return None;
        }
    }
    Some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_attempts_are_refused() {
        assert_eq!(
            safe_relative_path("site/app.css").as_deref(),
            Some("site/app.css")
        );
        assert_eq!(safe_relative_path("a%20b.txt").as_deref(), Some("a b.txt"));
        for bad in [
            "../secret",
            "site/../../etc/passwd",
            "%2e%2e/secret",
            "%2E%2E%2Fsecret",
            "site/%2e%2e/%2e%2e/etc/passwd",
            "..%2fsecret",
            "..%5csecret",
            "site\\..\\secret",
            "/etc/passwd",
            "%2fetc%2fpasswd",
            "site//app.css",
            "./app.css",
            "app.css%00.png",
            "%c0%ae%c0%ae/secret",
            ".env",
            "site/.git/config",
            "C:/windows",
            "",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad}");
        }
    }
}
