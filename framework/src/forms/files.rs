//! Uploaded files: the entries of Django's `request.FILES`.
//!
//! A file part of a `multipart/form-data` body is received chunk by chunk
//! as the body streams in. Small files stay in memory; once a file passes
//! `media.file_upload_max_memory_size` (2.5 MB, Django's
//! `FILE_UPLOAD_MAX_MEMORY_SIZE`) what was received moves to a temporary
//! file in `media.temp_dir` and the rest is written there, so that a large
//! upload never sits in memory. The temporary file is removed when the last
//! clone of its [`UploadedFile`] is dropped: when the request fails half
//! way (413, a client that disconnects) nothing is left behind.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use tokio::io::AsyncWriteExt;

/// The most file parts one request may send (Django's
/// `DATA_UPLOAD_MAX_NUMBER_FILES`): past it the request gets 400.
pub const MAX_FILES: usize = 100;

/// A file sent with a form (Django's `UploadedFile`): its sanitised name,
/// its declared type, its size, and its content in memory or in a temporary
/// file. Clones share the content.
///
/// As a form field (`avatar: UploadedFile`, or `Option<UploadedFile>` when
/// it may be left out) it is drawn as `<input type="file">`, which is never
/// filled in again when the form is shown with errors.
///
/// ```
/// use manouche::forms::UploadedFile;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let file = UploadedFile::from_bytes("../../etc/my notes.txt", "text/plain", "hello");
/// assert_eq!(file.name(), "my_notes.txt");
/// assert_eq!(file.size(), 5);
/// assert_eq!(&file.read().await.unwrap()[..], b"hello");
/// # });
/// ```
#[derive(Clone)]
pub struct UploadedFile {
    name: String,
    content_type: String,
    size: u64,
    content: Arc<Content>,
}

/// Where an upload's content is ([`UploadedFile::source`]).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(crate) enum Source<'a> {
    Memory(&'a Bytes),
    File(&'a Path),
}

enum Content {
    Memory(Bytes),
    /// Removed from disk when dropped.
    Temporary(tempfile::TempPath),
}

impl fmt::Debug for UploadedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedFile")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("in_memory", &self.is_in_memory())
            .finish()
    }
}

/// Two uploads are equal when they are clones of one another.
impl PartialEq for UploadedFile {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.content, &other.content)
    }
}

impl Eq for UploadedFile {}

impl UploadedFile {
    /// A file held in memory, as a test or a view builds one; `name` is
    /// sanitised with [`get_valid_filename`].
    pub fn from_bytes(name: &str, content_type: &str, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            name: get_valid_filename(name),
            content_type: content_type.to_owned(),
            size: bytes.len() as u64,
            content: Arc::new(Content::Memory(bytes)),
        }
    }

    /// The file's name as the client sent it, made safe (see
    /// [`get_valid_filename`]): no directories, no leading dot, only
    /// letters, digits, `-`, `_` and `.`.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Content-Type` the client declared (`application/octet-stream`
    /// when it gave none). Never trust it: the client chooses it.
    #[must_use]
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the content is in memory rather than in a temporary file.
    #[must_use]
    pub fn is_in_memory(&self) -> bool {
        matches!(*self.content, Content::Memory(_))
    }

    /// The temporary file holding the content, for a large file (Django's
    /// `temporary_file_path`). It is removed once every clone of this
    /// value is dropped.
    #[must_use]
    pub fn temporary_path(&self) -> Option<&Path> {
        match &*self.content {
            Content::Memory(_) => None,
            Content::Temporary(path) => Some(path),
        }
    }

    /// The whole content. For a large file, prefer moving it into a
    /// [`Storage`](crate::storage::Storage), which copies without holding
    /// it in memory.
    ///
    /// # Errors
    ///
    /// Reading the temporary file failed.
    pub async fn read(&self) -> io::Result<Bytes> {
        match &*self.content {
            Content::Memory(bytes) => Ok(bytes.clone()),
            Content::Temporary(path) => Ok(Bytes::from(tokio::fs::read(path).await?)),
        }
    }

    /// The `(width, height)` of the image this file holds, read from its
    /// header alone (see [`image_dimensions`](crate::db::fields::image_dimensions)),
    /// or `None` when it is not an image in a format an
    /// [`ImageField`](crate::db::fields::ImageField) accepts. The declared
    /// type and the name play no part: the client chooses both.
    ///
    /// ```
    /// use manouche::forms::UploadedFile;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let gif = UploadedFile::from_bytes("dot.gif", "image/gif", &b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"[..]);
    /// assert_eq!(gif.image_dimensions().await, Some((1, 1)));
    /// let fake = UploadedFile::from_bytes("fake.png", "image/png", "<script>alert(1)</script>");
    /// assert_eq!(fake.image_dimensions().await, None);
    /// # });
    /// ```
    pub async fn image_dimensions(&self) -> Option<(u32, u32)> {
        match &*self.content {
            Content::Memory(bytes) => crate::db::fields::image_dimensions(bytes),
            Content::Temporary(path) => {
                let path = path.to_path_buf();
                // Reading the header seeks through the file: off the async
                // threads. `self` (and so the temporary file) outlives it.
                tokio::task::spawn_blocking(move || {
                    let file = std::fs::File::open(path).ok()?;
                    crate::db::fields::reader_dimensions(io::BufReader::new(file))
                })
                .await
                .ok()
                .flatten()
            }
        }
    }

    /// Where the content is, for a storage that sends it elsewhere.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn source(&self) -> Source<'_> {
        match &*self.content {
            Content::Memory(bytes) => Source::Memory(bytes),
            Content::Temporary(path) => Source::File(path),
        }
    }

    /// Copies the content into `out` (blocking: run it off the async
    /// threads).
    pub(crate) fn copy_into(&self, out: &mut std::fs::File) -> io::Result<()> {
        match &*self.content {
            Content::Memory(bytes) => out.write_all(bytes),
            Content::Temporary(path) => {
                let mut source = std::fs::File::open(path)?;
                io::copy(&mut source, out).map(|_| ())
            }
        }
    }
}

/// Where and how large uploads may be, from the `[media]` settings.
#[derive(Debug, Clone)]
pub(crate) struct UploadLimits {
    pub(crate) max_memory_size: u64,
    pub(crate) max_file_size: u64,
    pub(crate) temp_dir: Option<PathBuf>,
}

impl UploadLimits {
    pub(crate) fn of(media: &crate::settings::MediaSettings) -> Self {
        Self {
            max_memory_size: media.file_upload_max_memory_size,
            max_file_size: media.max_file_size,
            temp_dir: media.temp_dir.clone(),
        }
    }
}

/// Why a file could not be received.
#[derive(Debug)]
pub(crate) enum ReceiveError {
    /// Over `media.max_file_size`.
    TooLarge,
    /// The temporary file could not be written.
    Io(io::Error),
}

/// One file being received, chunk by chunk.
pub(crate) struct FileReceiver<'a> {
    limits: &'a UploadLimits,
    memory: Vec<u8>,
    disk: Option<(tokio::fs::File, tempfile::TempPath)>,
    size: u64,
}

impl<'a> FileReceiver<'a> {
    pub(crate) fn new(limits: &'a UploadLimits) -> Self {
        Self {
            limits,
            memory: Vec::new(),
            disk: None,
            size: 0,
        }
    }

    /// Takes the next chunk: past the memory threshold everything goes to a
    /// temporary file.
    pub(crate) async fn push(&mut self, chunk: &[u8]) -> Result<(), ReceiveError> {
        self.size += chunk.len() as u64;
        if self.size > self.limits.max_file_size {
            return Err(ReceiveError::TooLarge);
        }
        if self.disk.is_none() && self.size > self.limits.max_memory_size {
            let builder = {
                let mut b = tempfile::Builder::new();
                b.prefix("upload-").suffix(".part");
                b
            };
            let temp = match &self.limits.temp_dir {
                Some(dir) => builder.tempfile_in(dir),
                None => builder.tempfile(),
            }
            .map_err(ReceiveError::Io)?;
            let (file, path) = temp.into_parts();
            let mut file = tokio::fs::File::from_std(file);
            let held = std::mem::take(&mut self.memory);
            file.write_all(&held).await.map_err(ReceiveError::Io)?;
            self.disk = Some((file, path));
        }
        match &mut self.disk {
            Some((file, _)) => file.write_all(chunk).await.map_err(ReceiveError::Io),
            None => {
                self.memory.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    /// The received file, named `name` (sanitised here).
    pub(crate) async fn finish(
        self,
        name: &str,
        content_type: Option<&str>,
    ) -> Result<UploadedFile, ReceiveError> {
        let content = match self.disk {
            Some((mut file, path)) => {
                file.flush().await.map_err(ReceiveError::Io)?;
                Content::Temporary(path)
            }
            None => Content::Memory(Bytes::from(self.memory)),
        };
        Ok(UploadedFile {
            name: get_valid_filename(name),
            content_type: content_type
                .filter(|t| !t.trim().is_empty())
                .unwrap_or("application/octet-stream")
                .to_owned(),
            size: self.size,
            content: Arc::new(content),
        })
    }
}

/// The longest name [`get_valid_filename`] returns, in characters: room
/// for a storage's random suffix within the 255 bytes most file systems
/// allow.
pub const MAX_FILENAME_LENGTH: usize = 200;

/// A client's file name made safe to store (Django's multipart
/// `sanitize_file_name` followed by `get_valid_filename`): only the part
/// after the last `/` or `\`, without control characters (NUL included),
/// surrounding spaces trimmed and inner ones made `_`, then only letters,
/// digits, `-`, `_` and `.` kept, leading dots removed (no hidden files, no
/// `..`), and at most [`MAX_FILENAME_LENGTH`] characters, keeping the
/// extension. A name with nothing left becomes `file`.
///
/// Unlike Django, which refuses such names, this never fails: an upload
/// named `..` is stored as `file` rather than turned away.
///
/// ```
/// use manouche::forms::get_valid_filename;
///
/// assert_eq!(get_valid_filename("john's portrait in 2004.jpg"), "johns_portrait_in_2004.jpg");
/// assert_eq!(get_valid_filename("../../etc/passwd"), "passwd");
/// assert_eq!(get_valid_filename("..\\boot.ini"), "boot.ini");
/// assert_eq!(get_valid_filename(".htaccess"), "htaccess");
/// assert_eq!(get_valid_filename("a\0b.txt"), "ab.txt");
/// assert_eq!(get_valid_filename(".."), "file");
/// assert_eq!(get_valid_filename(""), "file");
/// ```
#[must_use]
pub fn get_valid_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let printable: String = base.chars().filter(|c| !c.is_control()).collect();
    let kept: String = printable
        .trim()
        .chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .filter(|&c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let kept = kept.trim_start_matches('.');
    if kept.is_empty() {
        return "file".to_owned();
    }
    truncate_keeping_extension(kept, MAX_FILENAME_LENGTH)
}

/// `name` cut to `max` characters, cutting the stem rather than the
/// extension when the extension is short.
pub(crate) fn truncate_keeping_extension(name: &str, max: usize) -> String {
    let length = name.chars().count();
    if length <= max {
        return name.to_owned();
    }
    let (stem, extension) = split_extension(name);
    let extension_length = extension.chars().count();
    if extension_length >= max / 2 {
        return name.chars().take(max).collect();
    }
    let stem: String = stem.chars().take(max - extension_length).collect();
    format!("{stem}{extension}")
}

/// `photo.tar.gz` → (`photo.tar`, `.gz`): the last dot only, as Python's
/// `os.path.splitext`. A name without a dot (past its first character)
/// has no extension.
pub(crate) fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 => name.split_at(dot),
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_safe() {
        for (given, expected) in [
            ("../../x", "x"),
            ("..\\x", "x"),
            ("C:\\Users\\ada\\photo.png", "photo.png"),
            ("a\0b", "ab"),
            ("\0", "file"),
            (".bashrc", "bashrc"),
            ("...", "file"),
            ("$.$.$", "file"),
            ("john's portrait in 2004.jpg", "johns_portrait_in_2004.jpg"),
            ("", "file"),
            ("   ", "file"),
            ("/", "file"),
            ("../", "file"),
            ("  spaced out .txt ", "spaced_out_.txt"),
            ("<script>.html", "script.html"),
            ("été.txt", "été.txt"),
            ("a\nb\r.txt", "ab.txt"),
        ] {
            assert_eq!(get_valid_filename(given), expected, "{given:?}");
        }
    }

    #[test]
    fn long_names_keep_their_extension() {
        let name = format!("{}.jpeg", "a".repeat(300));
        let safe = get_valid_filename(&name);
        assert_eq!(safe.chars().count(), MAX_FILENAME_LENGTH);
        assert!(safe.ends_with("a.jpeg"), "{safe}");
        assert_eq!(split_extension("photo.tar.gz"), ("photo.tar", ".gz"));
        assert_eq!(split_extension("README"), ("README", ""));
    }

    #[tokio::test]
    async fn big_files_go_to_disk_and_disappear_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            max_memory_size: 4,
            max_file_size: 10,
            temp_dir: Some(dir.path().to_owned()),
        };
        let mut small = FileReceiver::new(&limits);
        small.push(b"abcd").await.unwrap();
        let small = small.finish("s.txt", None).await.unwrap();
        assert!(small.is_in_memory());
        assert_eq!(small.content_type(), "application/octet-stream");

        let mut big = FileReceiver::new(&limits);
        big.push(b"abc").await.unwrap();
        big.push(b"defg").await.unwrap();
        let big = big.finish("b.txt", Some("text/plain")).await.unwrap();
        assert!(!big.is_in_memory());
        assert_eq!(&big.read().await.unwrap()[..], b"abcdefg");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let clone = big.clone();
        drop(big);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(clone);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let mut over = FileReceiver::new(&limits);
        over.push(b"0123456").await.unwrap();
        assert!(matches!(
            over.push(b"0123").await,
            Err(ReceiveError::TooLarge)
        ));
        drop(over);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
