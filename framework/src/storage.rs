//! File storage: where uploaded files go to stay (Django's
//! `django.core.files.storage`).
//!
//! [`Storage`] is the interface; [`FileSystemStorage`] keeps files under
//! `media.root` and names their URLs under `media.url`. A project gets one
//! as a service, built from its `[media]` settings:
//!
//! ```
//! use manouche::forms::{BoundForm, Form, UploadedFile};
//! use manouche::prelude::*;
//! use manouche::storage::{FileSystemStorage, Storage};
//!
//! #[derive(Form)]
//! struct Avatar {
//!     picture: UploadedFile,
//! }
//!
//! async fn upload(storage: Service<FileSystemStorage>, form: BoundForm<Avatar>) -> Result<String> {
//!     match form.into_cleaned() {
//!         Ok(avatar) => {
//!             let name = storage.save(&format!("avatars/{}", avatar.picture.name()), &avatar.picture).await?;
//!             Ok(storage.url(&name)?)
//!         }
//!         Err(form) => Ok(form.errors().len().to_string()),
//!     }
//! }
//! ```
//!
//! Choices, and why:
//!
//! - Names are relative paths whose every segment goes through
//!   [`get_valid_filename`](crate::forms::get_valid_filename); a name with an empty, `.` or `..` segment, or
//!   an absolute one, is refused. No name can reach outside the root.
//! - Saving never overwrites: the file is created with `create_new`, and
//!   when the name is taken a random 7-character suffix goes before the
//!   extension (Django's `get_available_name`), so two uploads racing for
//!   one name both keep their content.
//! - The trait's futures are boxed, so that `Arc<dyn Storage>` works and a
//!   project can swap the backend: the project's [`DefaultStorage`] is a
//!   [`FileSystemStorage`], or with the cargo feature `s3` and
//!   `[media] storage = "s3"` an `S3Storage` (any S3-compatible object
//!   store).

use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use crate::forms::UploadedFile;
use crate::forms::files::{MAX_FILENAME_LENGTH, split_extension, truncate_keeping_extension};
use crate::settings::{MediaSettings, StorageKind};

#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "s3")]
pub use s3::S3Storage;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A name that is not a plain relative path.
    #[error(
        "{0:?} is not a valid storage name: use a relative path such as \"avatars/ada.png\", without `..` or empty segments"
    )]
    InvalidName(String),
    /// Every candidate name was taken.
    #[error("could not find a free name for {0:?} after 100 attempts; clean up media.root")]
    NoFreeName(String),
    /// No file is stored under the name.
    #[error("{0:?} is not in the storage")]
    NotFound(String),
    /// A stored file read as an image is not one.
    #[error(
        "{0:?} is not an image (its header is not a PNG, JPEG, GIF, WebP, BMP, ICO, TIFF or HEIF one)"
    )]
    NotAnImage(String),
    /// A remote object store refused the request or could not be reached.
    #[error("{operation} of {name:?} on the object store failed: {message}")]
    Remote {
        /// What was asked (`PUT`, `GET`, ...).
        operation: &'static str,
        /// The name concerned.
        name: String,
        /// What the store (or the connection) said, and what to check.
        message: String,
    },
    /// The file system refused.
    #[error("storage I/O on {path}: {source} (check that media.root exists and is writable)")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
}

impl From<StorageError> for crate::Error {
    fn from(e: StorageError) -> Self {
        let status = match e {
            StorageError::InvalidName(_) => http::StatusCode::BAD_REQUEST,
            StorageError::NotFound(_) => http::StatusCode::NOT_FOUND,
            StorageError::Remote { .. } => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        crate::Error::new(status, e.to_string())
    }
}

/// Where files are kept (Django's `Storage`): save, find, delete, and the
/// URL to serve each.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a file storage",
    note = "implement `manouche::storage::Storage` for `{Self}`, or use `FileSystemStorage`"
)]
pub trait Storage: Send + Sync {
    /// Stores `file` under `name` or, when it is taken, a free name made
    /// from it; returns the name used.
    ///
    /// # Errors
    ///
    /// [`StorageError`]: a bad name, or the backend failed.
    fn save<'a>(
        &'a self,
        name: &'a str,
        file: &'a UploadedFile,
    ) -> BoxFuture<'a, Result<String, StorageError>>;

    /// Whether `name` is stored.
    ///
    /// # Errors
    ///
    /// [`StorageError`]: a bad name, or the backend failed.
    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// The content of `name`, or its first `limit` bytes (what reading an
    /// image's header takes).
    ///
    /// # Errors
    ///
    /// [`StorageError::NotFound`], a bad name, or the backend failed.
    fn read<'a>(
        &'a self,
        name: &'a str,
        limit: Option<u64>,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>>;

    /// Removes `name`; nothing happens when it is not there.
    ///
    /// # Errors
    ///
    /// [`StorageError`]: a bad name, or the backend failed.
    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StorageError>>;

    /// The URL that serves `name`.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidName`].
    fn url(&self, name: &str) -> Result<String, StorageError>;
}

/// The project's storage (Django's `default_storage`): a service every
/// project has, where model forms store the uploads of
/// [`FileField`](crate::db::FileField)s and
/// [`ImageField`](crate::db::ImageField)s, and whose
/// [`url`](Storage::url) serves them. It is a [`FileSystemStorage`] over
/// `[media]` unless the settings choose another backend, or an app's
/// `ready` hook replaces the service.
///
/// ```
/// use manouche::prelude::*;
/// use manouche::storage::DefaultStorage;
///
/// async fn cover_url(storage: Service<DefaultStorage>) -> Result<String> {
///     Ok(storage.url("covers/ada.png")?)
/// }
/// ```
#[derive(Clone)]
pub struct DefaultStorage(Arc<dyn Storage>);

impl DefaultStorage {
    /// `storage` as the project's.
    pub fn new(storage: impl Storage + 'static) -> Self {
        Self(Arc::new(storage))
    }

    /// The storage the `[media]` settings choose: a [`FileSystemStorage`]
    /// over `media.root`, or with `storage = "s3"` an `S3Storage` over
    /// `[media.s3]`.
    ///
    /// # Errors
    ///
    /// The settings name a backend this build lacks (`s3` without the
    /// cargo feature), or describe an unusable object store.
    pub fn from_settings(media: &MediaSettings) -> Result<Self, crate::StartupError> {
        match media.storage {
            StorageKind::FileSystem => Ok(Self::new(FileSystemStorage::from_settings(media))),
            #[cfg(feature = "s3")]
            StorageKind::S3 => Ok(Self::new(S3Storage::from_settings(&media.s3)?)),
            #[cfg(not(feature = "s3"))]
            StorageKind::S3 => Err(crate::StartupError::improperly_configured(
                "media.storage = \"s3\" needs manouche built with its `s3` cargo feature \
                 (features = [\"s3\"] in Cargo.toml)",
            )),
        }
    }

    /// The storage, shared.
    #[must_use]
    pub fn shared(&self) -> Arc<dyn Storage> {
        Arc::clone(&self.0)
    }
}

impl fmt::Debug for DefaultStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DefaultStorage")
    }
}

impl std::ops::Deref for DefaultStorage {
    type Target = dyn Storage;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// Files in a directory (Django's `FileSystemStorage`), served under a URL
/// prefix: `media.root` and `media.url` for the project's own.
#[derive(Debug, Clone)]
pub struct FileSystemStorage {
    root: PathBuf,
    base_url: String,
}

impl FileSystemStorage {
    /// Files under `root`, served under `base_url` (which should end with
    /// `/`).
    pub fn new(root: impl Into<PathBuf>, base_url: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            base_url: base_url.into(),
        }
    }

    /// The storage the `[media]` settings describe.
    #[must_use]
    pub fn from_settings(media: &MediaSettings) -> Self {
        Self::new(media.root.clone(), media.url.clone())
    }

    /// The directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file `name` would be, inside the root.
    ///
    /// # Errors
    ///
    /// [`StorageError::InvalidName`] for a name that is not a plain
    /// relative path.
    pub fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        Ok(self.root.join(checked_name(name)?))
    }
}

/// `name` when it is a plain relative path of safe segments.
fn checked_name(name: &str) -> Result<&str, StorageError> {
    let invalid = || StorageError::InvalidName(name.to_owned());
    if name.is_empty() || name.contains(['\\', '\0']) {
        return Err(invalid());
    }
    for segment in name.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err(invalid());
        }
    }
    if !Path::new(name)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(invalid());
    }
    Ok(name)
}

/// `name` as it goes in a URL: each segment percent-encoded but for
/// letters, digits, `.`, `-` and `_`.
fn encoded_name(name: &str) -> Result<String, StorageError> {
    let name = checked_name(name)?;
    let encoded: Vec<String> = name
        .split('/')
        .map(|s| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2E", ".")
                .replace("%2D", "-")
                .replace("%5F", "_")
        })
        .collect();
    Ok(encoded.join("/"))
}

/// Every segment of `name` made safe: what [`Storage::save`] stores under.
/// Refuses `..` and empty segments rather than guessing.
fn valid_name(name: &str) -> Result<String, StorageError> {
    let segments: Vec<&str> = name.split('/').collect();
    let mut out = Vec::with_capacity(segments.len());
    for segment in segments {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(StorageError::InvalidName(name.to_owned()));
        }
        out.push(crate::forms::get_valid_filename(segment));
    }
    Ok(out.join("/"))
}

/// `dir/stem.ext` → `dir/stem_AbC1234.ext` (Django's `get_available_name`).
fn with_random_suffix(name: &str) -> String {
    let (dir, file) = match name.rfind('/') {
        Some(slash) => name.split_at(slash + 1),
        None => ("", name),
    };
    let (stem, extension) = split_extension(file);
    let suffix = crate::crypto::random_string(
        7,
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    );
    let stem = truncate_keeping_extension(stem, MAX_FILENAME_LENGTH.saturating_sub(8));
    format!("{dir}{stem}_{suffix}{extension}")
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Storage for FileSystemStorage {
    fn save<'a>(
        &'a self,
        name: &'a str,
        file: &'a UploadedFile,
    ) -> BoxFuture<'a, Result<String, StorageError>> {
        Box::pin(async move {
            let wanted = valid_name(name)?;
            let root = self.root.clone();
            let file = file.clone();
            tokio::task::spawn_blocking(move || save_blocking(&root, &wanted, &file))
                .await
                .map_err(|e| StorageError::Io {
                    path: self.root.clone(),
                    source: io::Error::other(e),
                })?
        })
    }

    fn exists<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path(name)?;
            tokio::fs::try_exists(&path).await.map_err(io_error(&path))
        })
    }

    fn read<'a>(
        &'a self,
        name: &'a str,
        limit: Option<u64>,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            use tokio::io::AsyncReadExt as _;
            let path = self.path(name)?;
            let file = match tokio::fs::File::open(&path).await {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(StorageError::NotFound(name.to_owned()));
                }
                other => other.map_err(io_error(&path))?,
            };
            let mut content = Vec::new();
            file.take(limit.unwrap_or(u64::MAX))
                .read_to_end(&mut content)
                .await
                .map_err(io_error(&path))?;
            Ok(Bytes::from(content))
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let path = self.path(name)?;
            match tokio::fs::remove_file(&path).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(&path)(e)),
                _ => Ok(()),
            }
        })
    }

    fn url(&self, name: &str) -> Result<String, StorageError> {
        Ok(format!("{}{}", self.base_url, encoded_name(name)?))
    }
}

fn save_blocking(root: &Path, wanted: &str, file: &UploadedFile) -> Result<String, StorageError> {
    let mut name = wanted.to_owned();
    for _ in 0..100 {
        let path = root.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut out) => {
                if let Err(e) = file.copy_into(&mut out).and_then(|()| out.sync_all()) {
                    drop(out);
                    let _ = std::fs::remove_file(&path);
                    return Err(io_error(&path)(e));
                }
                return Ok(name);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                name = with_random_suffix(wanted);
            }
            Err(e) => return Err(io_error(&path)(e)),
        }
    }
    Err(StorageError::NoFreeName(wanted.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_the_root_are_refused() {
        let storage = FileSystemStorage::new("/srv/media", "/media/");
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            ".hidden",
            "a\\..\\b",
            "a\0b",
            "./a",
        ] {
            assert!(
                matches!(storage.path(bad), Err(StorageError::InvalidName(_))),
                "{bad:?}"
            );
            assert!(storage.url(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            storage.path("avatars/ada.png").unwrap(),
            Path::new("/srv/media/avatars/ada.png")
        );
        assert_eq!(
            storage.url("avatars/my ada.png").unwrap(),
            "/media/avatars/my%20ada.png"
        );
        assert_eq!(valid_name("a b/c d.txt").unwrap(), "a_b/c_d.txt");
        assert!(valid_name("../x").is_err());
        assert!(valid_name("a//x").is_err());
    }

    #[test]
    fn random_suffixes_go_before_the_extension() {
        let name = with_random_suffix("avatars/ada.png");
        assert!(name.starts_with("avatars/ada_"), "{name}");
        assert!(name.ends_with(".png"), "{name}");
        assert_eq!(name.len(), "avatars/ada_1234567.png".len());
        assert_ne!(with_random_suffix("a"), with_random_suffix("a"));
    }
}
