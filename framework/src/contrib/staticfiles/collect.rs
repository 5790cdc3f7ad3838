//! `collectstatic`: copies every static file into the root under its own
//! name and under a content-hashed one (`app.css` → `app.3f2a1b9c0d4e.css`),
//! rewrites the references inside CSS to the hashed names, writes gzip and
//! brotli variants, and records the mapping in `staticfiles.json`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StaticError;
use super::finders::Finder;

/// The manifest's file name inside the root.
pub(crate) const MANIFEST: &str = "staticfiles.json";

/// Passes over CSS files that reference other CSS files (Django makes 5).
const MAX_PASSES: usize = 5;

/// `staticfiles.json`: original relative path → hashed relative path.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) version: u32,
    pub(crate) paths: BTreeMap<String, String>,
}

impl Manifest {
    pub(crate) fn load(root: &Path) -> Result<Option<Self>, StaticError> {
        let path = root.join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StaticError::Manifest {
                        path,
                        message: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StaticError::Io { path, source }),
        }
    }
}

/// What `collectstatic` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CollectReport {
    /// Files found and copied.
    pub files: usize,
    /// Compressed variants written.
    pub compressed: usize,
}

/// Runs `collectstatic` into `root`; with `clear`, empties it first.
pub(crate) fn collect(
    finder: &Finder,
    root: &Path,
    clear: bool,
) -> Result<CollectReport, StaticError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StaticError::Io { path, source }
    };
    if clear && root.exists() {
        std::fs::remove_dir_all(root).map_err(io(root))?;
    }
    std::fs::create_dir_all(root).map_err(io(root))?;
    let files = finder.list().map_err(|source| StaticError::Io {
        path: finder.dirs().first().cloned().unwrap_or_default(),
        source,
    })?;

    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (rel, path) in &files {
        contents.insert(rel.clone(), std::fs::read(path).map_err(io(path))?);
    }

    // Non-CSS files first: their hashes depend on nothing else.
    let mut manifest = Manifest {
        version: 1,
        paths: BTreeMap::new(),
    };
    for (rel, bytes) in &contents {
        if !is_css(rel) {
            manifest.paths.insert(rel.clone(), hashed_name(rel, bytes));
        }
    }
    // CSS: rewrite references with what is known, hash, repeat while CSS
    // files referencing other CSS files still change.
    let mut rewritten: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for _ in 0..MAX_PASSES {
        let mut changed = false;
        for (rel, bytes) in contents.iter().filter(|(rel, _)| is_css(rel)) {
            let text = String::from_utf8_lossy(bytes);
            let new = rewrite_css(rel, &text, &manifest.paths).into_bytes();
            let hashed = hashed_name(rel, &new);
            if manifest.paths.get(rel) != Some(&hashed) {
                manifest.paths.insert(rel.clone(), hashed);
                changed = true;
            }
            rewritten.insert(rel.clone(), new);
        }
        if !changed {
            break;
        }
    }

    let mut report = CollectReport::default();
    for (rel, original) in &contents {
        let bytes = rewritten.get(rel).unwrap_or(original);
        let hashed = manifest
            .paths
            .get(rel)
            .cloned()
            .unwrap_or_else(|| rel.clone());
        for name in [rel, &hashed] {
            let target = root.join(name);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&target, bytes).map_err(io(&target))?;
            report.compressed += write_variants(&target, bytes)?;
        }
        report.files += 1;
    }
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| StaticError::Manifest {
        path: root.join(MANIFEST),
        message: e.to_string(),
    })?;
    let manifest_path = root.join(MANIFEST);
    std::fs::write(&manifest_path, json).map_err(io(&manifest_path))?;
    Ok(report)
}

fn is_css(rel: &str) -> bool {
    rel.to_ascii_lowercase().ends_with(".css")
}

/// `site/app.css` + content → `site/app.<12 hex>.css`.
pub(crate) fn hashed_name(rel: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    let (dir, file) = match rel.rsplit_once('/') {
        Some((dir, file)) => (Some(dir), file),
        None => (None, rel),
    };
    let file = match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{hash}.{ext}"),
        _ => format!("{file}.{hash}"),
    };
    match dir {
        Some(dir) => format!("{dir}/{file}"),
        None => file,
    }
}

/// Whether a content type is worth compressing.
pub(crate) fn compressible(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    [
        ".css", ".js", ".mjs", ".json", ".map", ".svg", ".html", ".htm", ".txt", ".xml", ".csv",
        ".wasm", ".ico", ".ttf", ".otf", ".eot",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
}

/// gzip (level 9) and brotli (quality 11) of `bytes`, each only when it
/// saves at least 5%.
pub(crate) fn compress(bytes: &[u8], brotli_quality: u32) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let worth = |out: Vec<u8>| (out.len() * 100 <= bytes.len() * 95).then_some(out);
    let gzip = {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(bytes)
            .and_then(|()| encoder.finish())
            .ok()
            .and_then(worth)
    };
    let br = {
        let mut out = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: i32::try_from(brotli_quality).unwrap_or(11),
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)
            .ok()
            .and_then(|_| worth(out))
    };
    (gzip, br)
}

fn write_variants(target: &Path, bytes: &[u8]) -> Result<usize, StaticError> {
    let name = target.to_string_lossy();
    if bytes.len() < 256 || !compressible(&name) {
        return Ok(0);
    }
    let (gzip, br) = compress(bytes, 11);
    let mut written = 0;
    for (variant, ext) in [(gzip, "gz"), (br, "br")] {
        if let Some(data) = variant {
            let path = PathBuf::from(format!("{name}.{ext}"));
            std::fs::write(&path, data).map_err(|source| StaticError::Io { path, source })?;
            written += 1;
        }
    }
    Ok(written)
}

/// Rewrites `url(...)` and `@import "..."` references in a CSS file at `rel`
/// to the hashed names in `paths`, keeping them relative, with their query
/// and fragment. References to other sites, `data:` URLs, fragments and
/// files not in the manifest are left alone.
pub(crate) fn rewrite_css(rel: &str, css: &str, paths: &BTreeMap<String, String>) -> String {
    let base = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some((start, end)) = next_reference(rest) {
        out.push_str(&rest[..start]);
        let reference = &rest[start..end];
        out.push_str(
            &replace_reference(base, reference, paths).unwrap_or_else(|| reference.to_owned()),
        );
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The byte range of the next reference target (inside the quotes or
/// parentheses) in `css`.
fn next_reference(css: &str) -> Option<(usize, usize)> {
    let lower = css.to_ascii_lowercase();
    let url = lower.find("url(").map(|i| (i, i + 4, true));
    let import = lower.find("@import").map(|i| (i, i + 7, false));
    let (_, after, is_url) = match (url, import) {
        (Some(u), Some(i)) => {
            if u.0 < i.0 {
                u
            } else {
                i
            }
        }
        (Some(u), None) => u,
        (None, Some(i)) => i,
        (None, None) => return None,
    };
    let bytes = css.as_bytes();
    let mut i = after;
    while i < bytes.len() && bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    if !is_url && lower[i..].starts_with("url(") {
        // `@import url(...)`: the url( branch handles it next time.
        return next_reference(&css[i..]).map(|(s, e)| (s + i, e + i));
    }
    let quote = bytes.get(i).copied().filter(|b| *b == b'"' || *b == b'\'');
    if let Some(q) = quote {
        let start = i + 1;
        let end = start + css[start..].find(q as char)?;
        Some((start, end))
    } else if is_url {
        let start = i;
        let end = start + css[start..].find(')')?;
        let trimmed = css[start..end].trim_end();
        Some((start, start + trimmed.len()))
    } else {
        // `@import` followed by something else: skip past it.
        next_reference(&css[after..]).map(|(s, e)| (s + after, e + after))
    }
}

fn replace_reference(
    base: &str,
    reference: &str,
    paths: &BTreeMap<String, String>,
) -> Option<String> {
    let lower = reference.to_ascii_lowercase();
    if reference.is_empty()
        || reference.starts_with('#')
        || reference.starts_with("//")
        || reference.starts_with('/')
        || lower.starts_with("data:")
        || lower.contains("://")
    {
        return None;
    }
    let cut = reference.find(['?', '#']).unwrap_or(reference.len());
    let (path, suffix) = reference.split_at(cut);
    let target = normalize(base, path)?;
    let hashed = paths.get(&target)?;
    let hashed_file = hashed.rsplit('/').next()?;
    let kept_dir = path.rsplit_once('/').map(|(dir, _)| dir);
    Some(match kept_dir {
        Some(dir) => format!("{dir}/{hashed_file}{suffix}"),
        None => format!("{hashed_file}{suffix}"),
    })
}

/// `base` + relative `path` → a normalized relative path, or `None` when it
/// climbs out of the static tree.
fn normalize(base: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> BTreeMap<String, String> {
        [
            ("site/img/logo.png", "site/img/logo.0123456789ab.png"),
            ("fonts/a.woff", "fonts/a.abcdefabcdef.woff"),
            ("site/base.css", "site/base.111111111111.css"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
    }

    #[test]
    fn hashed_names_keep_folder_and_extension() {
        let name = hashed_name("site/app.css", b"body{}");
        assert!(
            name.starts_with("site/app.") && name.ends_with(".css"),
            "{name}"
        );
        assert_eq!(name.len(), "site/app..css".len() + 12);
        assert_ne!(name, hashed_name("site/app.css", b"body{ }"));
        assert!(hashed_name("LICENSE", b"x").starts_with("LICENSE."));
    }

    #[test]
    fn css_references_are_rewritten_to_hashed_names() {
        let css = r#"
@import "base.css";
@import url('base.css');
.a { background: url(img/logo.png) }
.b { background: URL( "img/logo.png?v=1#x" ) }
@font-face { src: url('../fonts/a.woff?#iefix') }
.c { background: url(data:image/png;base64,AAAA) }
.d { background: url(https://cdn.example/x.png) }
.e { background: url(missing.png) }
.f { behavior: url(#default#VML) }
.g { background: url(/absolute.png) }
.h { background: url(../../outside.png) }
"#;
        let out = rewrite_css("site/app.css", css, &paths());
        assert!(out.contains(r#"@import "base.111111111111.css";"#), "{out}");
        assert!(
            out.contains("@import url('base.111111111111.css');"),
            "{out}"
        );
        assert!(out.contains("url(img/logo.0123456789ab.png)"), "{out}");
        assert!(
            out.contains(r#"URL( "img/logo.0123456789ab.png?v=1#x" )"#),
            "{out}"
        );
        assert!(
            out.contains("url('../fonts/a.abcdefabcdef.woff?#iefix')"),
            "{out}"
        );
        assert!(out.contains("url(data:image/png;base64,AAAA)"), "{out}");
        assert!(out.contains("url(https://cdn.example/x.png)"), "{out}");
        assert!(out.contains("url(missing.png)"), "{out}");
        assert!(out.contains("url(#default#VML)"), "{out}");
        assert!(out.contains("url(/absolute.png)"), "{out}");
        assert!(out.contains("url(../../outside.png)"), "{out}");
    }

    #[test]
    fn compression_only_when_it_helps() {
        let text = "a repeated line of css;\n".repeat(100);
        let (gz, br) = compress(text.as_bytes(), 5);
        assert!(gz.is_some_and(|g| g.len() < text.len()));
        assert!(br.is_some_and(|b| b.len() < text.len()));
        // Random bytes (xorshift) do not compress.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let (gz, _) = compress(&noise, 5);
        assert!(gz.is_none());
    }
}
