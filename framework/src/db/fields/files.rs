//! File columns: [`FileField`] and [`ImageField`] (Django's `FileField`
//! and `ImageField`).
//!
//! The column holds the file's *name* in a [`Storage`]: a relative path
//! such as `covers/ada.png`, `VARCHAR(100)` as in Django (set another
//! length with `#[model(max_length = 255)]`). The content lives in the
//! storage; the value gives its URL through it. An empty name is "no file"
//! (Django's `bool(article.cover)`): declare the field `#[model(blank)]`,
//! or make it an `Option`, for a file that may be left out.
//!
//! A [`ModelForm`](crate::forms::ModelForm) draws these fields as file
//! inputs. On save it stores the upload through the storage under a free
//! name (the field's `upload_to` directory, then the upload's sanitised
//! name, with a random suffix when taken) and writes that name in the row.
//! An `ImageField` accepts only an upload whose header is an image's.
//!
//! ```
//! use manouche::db::{Auto, Model};
//! use manouche::db::fields::ImageField;
//! use manouche::storage::FileSystemStorage;
//!
//! #[derive(Model)]
//! #[model(app = "blog")]
//! pub struct Article {
//!     pub id: Auto<i64>,
//!     #[model(upload_to = "covers/", blank)]
//!     pub cover: ImageField,
//! }
//!
//! let meta = Article::meta().field("cover").unwrap();
//! assert_eq!(meta.max_length, Some(100));
//! assert_eq!(meta.upload_to, "covers/");
//!
//! let storage = FileSystemStorage::new("media", "/media/");
//! let cover = ImageField::new("covers/my ada.png");
//! assert_eq!(cover.url(&storage).unwrap(), "/media/covers/my%20ada.png");
//! assert!(ImageField::default().is_empty());
//! ```

use std::fmt;

use sea_query::Value;
use serde::{Deserialize, Serialize};

use super::{FieldType, SqlType, TextKind, typed};
use crate::db::Result;
use crate::db::executor::Row;
use crate::storage::{Storage, StorageError};

/// How much of a stored image [`ImageField::dimensions`] reads: enough for
/// the header of every format recognised, JPEG metadata segments included.
const HEADER_READ_LIMIT: u64 = 1024 * 1024;

macro_rules! file_field {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The file stored as `name` (a name a [`Storage`] gave).
            pub fn new(name: impl Into<String>) -> Self {
                Self(name.into())
            }

            /// The name in the storage (`covers/ada.png`); empty when there
            /// is no file.
            #[must_use]
            pub fn name(&self) -> &str {
                &self.0
            }

            /// Whether there is no file (Django's `not instance.field`).
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The URL that serves the file, from `storage` (the project's
            /// is the `DefaultStorage` service).
            ///
            /// # Errors
            ///
            /// [`StorageError::InvalidName`] when there is no file, or the
            /// name is not one a storage gives.
            pub fn url(&self, storage: &dyn Storage) -> Result<String, StorageError> {
                storage.url(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        /// The name.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FieldType for $name {
            type Inner = Self;
            const SQL_TYPE: SqlType = SqlType::String;
            const DEFAULT_MAX_LENGTH: Option<u32> = Some(100);
            const TEXTUAL: bool = true;
            const TEXT_KIND: TextKind = TextKind::$kind;
            fn to_value(&self) -> Value {
                Value::String(Some(Box::new(self.0.clone())))
            }
            fn decode(row: &Row, idx: usize) -> Result<Self> {
                row.get::<String>(idx).map(Self)
            }
            fn from_value(value: Value) -> Result<Self> {
                typed::<String>(value).map(Self)
            }
        }
    };
}

file_field!(
    /// A file kept in a [`Storage`]; the column holds its name (see the
    /// [module docs](self)). A model form draws it as a file input.
    FileField,
    File
);

file_field!(
    /// An image kept in a [`Storage`] (Django's `ImageField`): a
    /// [`FileField`] whose uploads must be images, told by their header
    /// (PNG, JPEG, GIF, WebP, BMP, ICO, TIFF, HEIF/AVIF). A model form
    /// draws it as `<input type="file" accept="image/*">` and refuses
    /// anything else with Django's message.
    ImageField,
    Image
);

impl ImageField {
    /// The image's `(width, height)` in pixels, read from the header of
    /// the stored file (Django's `width` and `height`, which open the file
    /// too): one read of at most 1 MiB, and no pixel decoded.
    ///
    /// # Errors
    ///
    /// The storage's error ([`StorageError::InvalidName`] when there is no
    /// file), or [`StorageError::NotAnImage`] when the stored file's header
    /// is not an image's.
    pub async fn dimensions(&self, storage: &dyn Storage) -> Result<(u32, u32), StorageError> {
        let head = storage.read(&self.0, Some(HEADER_READ_LIMIT)).await?;
        image_dimensions(&head).ok_or_else(|| StorageError::NotAnImage(self.0.clone()))
    }
}

/// The `(width, height)` of the image whose file starts with `head`, or
/// `None` when `head` is not the header of an image in a format an
/// [`ImageField`] accepts (or claims a zero size).
///
/// ```
/// use manouche::db::fields::image_dimensions;
///
/// // A PNG signature and its IHDR chunk: 123 × 321 pixels.
/// let png = [
///     0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48,
///     0x44, 0x52, 0x00, 0x00, 0x00, 0x7B, 0x00, 0x00, 0x01, 0x41, 0x08, 0x06, 0x00, 0x00,
///     0x00, 0x9A, 0x38, 0xC4,
/// ];
/// assert_eq!(image_dimensions(&png), Some((123, 321)));
/// assert_eq!(image_dimensions(b"<?php echo 'not an image'; ?>"), None);
/// ```
#[must_use]
pub fn image_dimensions(head: &[u8]) -> Option<(u32, u32)> {
    reader_dimensions(std::io::Cursor::new(head))
}

/// As [`image_dimensions`], reading only as much of `reader` as the
/// header takes.
pub(crate) fn reader_dimensions<R: std::io::BufRead + std::io::Seek>(
    reader: R,
) -> Option<(u32, u32)> {
    let size = imagesize::reader_size(reader).ok()?;
    let width = u32::try_from(size.width).ok()?;
    let height = u32::try_from(size.height).ok()?;
    (width > 0 && height > 0).then_some((width, height))
}

/// The file extensions an [`ImageField`] accepts (Django's
/// `validate_image_file_extension`, for the formats recognised here).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "avif", "bmp", "gif", "heic", "heif", "ico", "jfif", "jpe", "jpeg", "jpg", "png", "tif",
    "tiff", "webp",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1×1 GIF.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

    #[test]
    fn image_headers_are_recognised_and_others_refused() {
        assert_eq!(image_dimensions(GIF), Some((1, 1)));
        for fake in [
            &b""[..],
            b"hello, world",
            b"GIF89a",
            b"\x89PNG\r\n\x1a\n",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
            b"GIF89a\x00\x00\x00\x00\x80\x00\x00",
        ] {
            assert_eq!(image_dimensions(fake), None, "{fake:?}");
        }
    }

    #[test]
    fn the_column_holds_the_name() {
        assert_eq!(
            <FileField as FieldType>::DEFAULT_MAX_LENGTH,
            Some(100),
            "Django's VARCHAR(100)"
        );
        let f = FileField::from_value(Value::String(Some(Box::new("a/b.txt".into())))).unwrap();
        assert_eq!(f.name(), "a/b.txt");
        assert_eq!(
            f.to_value(),
            Value::String(Some(Box::new("a/b.txt".into())))
        );
        assert!(FileField::from_value(Value::Int(Some(1))).is_err());
        assert!(
            ImageField::new("")
                .url(&crate::storage::FileSystemStorage::new("m", "/m/"))
                .is_err()
        );
    }
}
