//! `FileField` and `ImageField` model fields: their column, their values,
//! and model forms that store uploads through a `Storage` (collision-free
//! names, the name saved in the row, fake images and bad names refused as
//! field errors, nothing left behind when a save fails). On SQLite, and on
//! PostgreSQL when `DATABASE_URL` is set.

use std::path::Path;
use std::sync::Arc;

use manouche::db::fields::{FileField, ImageField};
use manouche::db::testing::for_each_database;
use manouche::db::{Auto, Database, Error, Model, Result, SqlType, schema};
use manouche::forms::{FormData, ModelForm, UploadedFile};
use manouche::storage::{FileSystemStorage, Storage};

#[derive(Debug, Clone, Model)]
#[model(app = "press", impl_default)]
pub struct Release {
    pub id: Auto<i64>,
    #[model(max_length = 50, unique)]
    pub title: String,
    #[model(upload_to = "covers/")]
    pub cover: ImageField,
    #[model(upload_to = "files", blank, max_length = 255)]
    pub attachment: FileField,
    pub thumbnail: Option<ImageField>,
}

/// A 1×1 GIF.
const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

/// A 3×2 PNG header (signature and IHDR chunk): what the check reads.
fn png_3x2() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
    png.extend_from_slice(&3u32.to_be_bytes());
    png.extend_from_slice(&2u32.to_be_bytes());
    png.extend_from_slice(b"\x08\x06\x00\x00\x00\x00\x00\x00\x00");
    png
}

fn fail(message: impl Into<String>) -> Error {
    Error::Definition(message.into())
}

async fn setup(db: &Database) -> Result<()> {
    schema::create_tables(db, &[Release::schema()]).await
}

fn submission(title: &str, files: &[(&str, UploadedFile)]) -> FormData {
    let mut data = FormData::from_pairs([("title", title)]);
    for (name, file) in files {
        data.append_file(*name, file.clone());
    }
    data
}

fn storage(dir: &Path) -> Arc<dyn Storage> {
    Arc::new(FileSystemStorage::new(dir, "/media/"))
}

/// Every file under `dir`, as relative names, sorted.
fn stored(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().to_string_lossy();
                out.push(name.replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_column_is_a_varchar_holding_the_name() {
    let meta = Release::meta();
    let cover = meta.field("cover").unwrap();
    assert_eq!(cover.sql_type, SqlType::String);
    assert_eq!(cover.max_length, Some(100), "Django's default");
    assert_eq!(cover.upload_to, "covers/");
    assert!(!cover.nullable);
    assert_eq!(meta.field("attachment").unwrap().max_length, Some(255));
    assert!(meta.field("thumbnail").unwrap().nullable);
    let table = Release::schema().table;
    let column = table.column("cover").unwrap();
    assert_eq!(
        (column.sql_type, column.max_length),
        (SqlType::String, Some(100))
    );
}

#[tokio::test]
async fn a_model_form_draws_file_inputs() {
    let form = ModelForm::new(Release::default());
    assert!(form.is_multipart());
    let html = form.as_div().to_string();
    assert!(
        html.contains(
            r#"<input type="file" name="cover" accept="image/*" required id="id_cover">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="file" name="attachment" id="id_attachment">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="file" name="thumbnail" accept="image/*" id="id_thumbnail">"#),
        "{html}"
    );
}

#[tokio::test]
async fn uploads_are_stored_under_free_names_and_the_name_saved() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let media = tempfile::tempdir().unwrap();
        let storage = storage(media.path());
        let cover = UploadedFile::from_bytes("../../cover.gif", "image/gif", GIF);
        let doc = UploadedFile::from_bytes("C:\\Users\\ada\\notes 1.txt", "text/plain", "notes");
        let form = ModelForm::new(Release::default())
            .storage(storage.clone())
            .bind(
                &db,
                submission(
                    "First",
                    &[("cover", cover.clone()), ("attachment", doc.clone())],
                ),
            )
            .await?;
        if !form.is_valid() {
            return Err(fail(format!("{:?}", form.errors())));
        }
        let first = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(first.cover.name(), "covers/cover.gif");
        assert_eq!(first.attachment.name(), "files/notes_1.txt");
        assert_eq!(first.thumbnail, None);

        // A second upload with the same name keeps both files.
        let form = ModelForm::new(Release::default())
            .storage(storage.clone())
            .bind(&db, submission("Second", &[("cover", cover.clone())]))
            .await?;
        let second = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        let name = second.cover.name().to_owned();
        assert!(
            name.starts_with("covers/cover_")
                && name.ends_with(".gif")
                && name != "covers/cover.gif",
            "{name}"
        );
        assert_eq!(second.attachment.name(), "", "blank: no file");
        assert_eq!(
            stored(media.path()),
            [
                "covers/cover.gif".to_owned(),
                name.clone(),
                "files/notes_1.txt".to_owned()
            ]
        );
        assert_eq!(
            std::fs::read(media.path().join(&name)).unwrap(),
            GIF,
            "the content is the upload's"
        );

        // The row holds the name; the value gives the URL and reads the
        // image's size from the stored header.
        let read = Release::objects()
            .filter(Release::id.eq(second.id.get().unwrap()))
            .get(&db)
            .await?;
        assert_eq!(read.cover.name(), name);
        assert_eq!(read.cover.url(&*storage).unwrap(), format!("/media/{name}"));
        assert_eq!(read.cover.dimensions(&*storage).await.unwrap(), (1, 1));
        // A name as long as the column allows: cut so that the directory
        // and a collision suffix still fit the column, twice over.
        let long = format!("{}.gif", "b".repeat(96));
        for title in ["Long 1", "Long 2"] {
            let upload = UploadedFile::from_bytes(&long, "image/gif", GIF);
            let saved = ModelForm::new(Release::default())
                .storage(storage.clone())
                .bind(&db, submission(title, &[("cover", upload)]))
                .await?
                .save(&db)
                .await?
                .map_err(|f| fail(format!("{:?}", f.errors())))?;
            let name = saved.cover.name();
            assert!(
                name.len() <= 100 && name.starts_with("covers/bbb") && name.ends_with(".gif"),
                "{name}"
            );
        }
        let found = Release::objects()
            .filter(Release::cover.eq(ImageField::new("covers/cover.gif")))
            .count(&db)
            .await?;
        assert_eq!(found, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_fake_image_is_a_field_error_and_nothing_is_stored() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let media = tempfile::tempdir().unwrap();
        let fakes = [
            UploadedFile::from_bytes("evil.png", "image/png", "<?php system($_GET['c']); ?>"),
            // A PNG signature with its header cut off.
            UploadedFile::from_bytes("cut.png", "image/png", &b"\x89PNG\r\n\x1a\n\x00\x00"[..]),
        ];
        for fake in fakes {
            let form = ModelForm::new(Release::default())
                .storage(storage(media.path()))
                .bind(&db, submission("Fake", &[("cover", fake.clone())]))
                .await?;
            assert!(!form.is_valid());
            let errors = form.errors().field("cover");
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(
                errors[0].message(),
                "Upload a valid image. The file you uploaded was either not an image or a corrupted image."
            );
            assert_eq!(errors[0].code(), "invalid_image");
            // Re-rendered with the error, the file input empty.
            let html = form.as_div().to_string();
            assert!(html.contains("aria-invalid=\"true\""), "{html}");
            assert!(form.save(&db).await?.is_err());
        }
        // An image named as something else: Django's extension check.
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(
                &db,
                submission(
                    "Renamed",
                    &[("cover", UploadedFile::from_bytes("cover.txt", "text/plain", GIF))],
                ),
            )
            .await?;
        let errors = form.errors().field("cover");
        assert!(
            errors[0]
                .message()
                .starts_with("File extension “txt” is not allowed. Allowed extensions are: avif, bmp,"),
            "{errors:?}"
        );
        assert_eq!(Release::objects().count(&db).await?, 0);
        assert!(stored(media.path()).is_empty());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn required_optional_and_kept_files() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let media = tempfile::tempdir().unwrap();
        // Required and missing.
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(&db, submission("None", &[]))
            .await?;
        assert_eq!(
            form.errors().field("cover")[0].message(),
            "This field is required."
        );
        // Text where a file belongs: the form lacks its enctype.
        let mut data = submission("Text", &[]);
        data.append("cover", "cover.gif");
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(&db, data)
            .await?;
        assert_eq!(
            form.errors().field("cover")[0].message(),
            "No file was submitted. Check the encoding type on the form."
        );
        // An empty file.
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(
                &db,
                submission(
                    "Empty",
                    &[("cover", UploadedFile::from_bytes("e.gif", "image/gif", ""))],
                ),
            )
            .await?;
        assert_eq!(
            form.errors().field("cover")[0].message(),
            "The submitted file is empty."
        );
        // A name longer than the column.
        let long = format!("{}.gif", "a".repeat(120));
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(
                &db,
                submission(
                    "Long",
                    &[("cover", UploadedFile::from_bytes(&long, "image/gif", GIF))],
                ),
            )
            .await?;
        assert_eq!(
            form.errors().field("cover")[0].message(),
            "Ensure this filename has at most 100 characters (it has 124)."
        );

        // A saved row: changing it without a new file keeps the file, and
        // the file input is no longer required.
        let png = UploadedFile::from_bytes("shot.png", "image/png", png_3x2());
        let saved = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(
                &db,
                submission(
                    "Kept",
                    &[("cover", png.clone()), ("thumbnail", png.clone())],
                ),
            )
            .await?
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(
            saved.thumbnail.as_ref().map(ImageField::name),
            Some("shot.png")
        );
        let form = ModelForm::new(saved.clone()).storage(storage(media.path()));
        let html = form.as_div().to_string();
        assert!(
            html.contains(r#"<input type="file" name="cover" accept="image/*" id="id_cover">"#),
            "{html}"
        );
        let changed = form
            .bind(&db, submission("Kept, renamed", &[]))
            .await?
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(changed.title, "Kept, renamed");
        assert_eq!(changed.cover.name(), "covers/shot.png");
        assert_eq!(
            changed
                .cover
                .dimensions(&*storage(media.path()))
                .await
                .unwrap(),
            (3, 2)
        );
        // Django's ClearableFileInput: the stored file is shown and
        // linked; an optional one can be cleared, a required one cannot.
        let form = ModelForm::new(changed.clone()).storage(storage(media.path()));
        let html = form.as_div().to_string();
        assert!(
            html.contains(
                "Currently: <a href=\"/media/covers/shot.png\">covers/shot.png</a><br>\nChange:\n\
                 <input type=\"file\" name=\"cover\" accept=\"image/*\" id=\"id_cover\">"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "Currently: <a href=\"/media/shot.png\">shot.png</a>\n\
                 <input type=\"checkbox\" name=\"thumbnail-clear\" id=\"thumbnail-clear_id\">\n\
                 <label for=\"thumbnail-clear_id\">Clear</label><br>\nChange:\n\
                 <input type=\"file\" name=\"thumbnail\" accept=\"image/*\" id=\"id_thumbnail\">"
            ),
            "{html}"
        );
        // Clear and a new file at once: Django's contradiction.
        let mut both = submission(
            "Both",
            &[(
                "thumbnail",
                UploadedFile::from_bytes("new.gif", "image/gif", GIF),
            )],
        );
        both.append("thumbnail-clear", "on");
        let form = ModelForm::new(changed.clone())
            .storage(storage(media.path()))
            .bind(&db, both)
            .await?;
        assert_eq!(
            form.errors().field("thumbnail")[0].message(),
            "Please either submit a file or check the clear checkbox, not both."
        );
        // Cleared: NULL in the row. A "Clear" sent for the required cover
        // changes nothing.
        let mut clear = submission("Cleared", &[]);
        clear.append("thumbnail-clear", "on");
        clear.append("cover-clear", "on");
        let form = ModelForm::new(changed.clone())
            .storage(storage(media.path()))
            .bind(&db, clear)
            .await?;
        assert!(form.has_changed());
        let cleared = form
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(cleared.thumbnail, None);
        assert_eq!(cleared.cover.name(), "covers/shot.png");
        let read = Release::objects()
            .filter(Release::id.eq(cleared.id.get().unwrap()))
            .get(&db)
            .await?;
        assert_eq!(read.thumbnail, None);

        // An optional image left empty on a new row is NULL.
        let none = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(&db, submission("No thumb", &[("cover", png)]))
            .await?
            .save(&db)
            .await?
            .map_err(|f| fail(format!("{:?}", f.errors())))?;
        assert_eq!(none.thumbnail, None);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_failed_save_leaves_no_file_behind() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let media = tempfile::tempdir().unwrap();
        let cover = UploadedFile::from_bytes("cover.gif", "image/gif", GIF);
        let form = ModelForm::new(Release::default())
            .storage(storage(media.path()))
            .bind(&db, submission("Taken", &[("cover", cover)]))
            .await?;
        assert!(form.is_valid());
        // Another request takes the title between the check and the save:
        // the database refuses, the error lands on the field, and the
        // stored upload is removed.
        let mut other = Release {
            title: "Taken".into(),
            cover: ImageField::new("covers/other.gif"),
            ..Default::default()
        };
        other.save(&db).await?;
        let Err(form) = form.save(&db).await? else {
            return Err(fail("the duplicate title was saved"));
        };
        assert_eq!(
            form.errors().field("title")[0].message(),
            "Release with this Title already exists."
        );
        assert!(
            stored(media.path()).is_empty(),
            "{:?}",
            stored(media.path())
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_storage_that_fails_is_a_form_error_not_a_500() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let dir = tempfile::tempdir().unwrap();
        // The storage's root is a file: nothing can be written under it.
        let root = dir.path().join("not-a-directory");
        std::fs::write(&root, "x").unwrap();
        let form = ModelForm::new(Release::default())
            .storage(storage(&root))
            .bind(
                &db,
                submission(
                    "Broken",
                    &[("cover", UploadedFile::from_bytes("c.gif", "image/gif", GIF))],
                ),
            )
            .await?;
        assert!(form.is_valid());
        let Err(form) = form.save(&db).await? else {
            return Err(fail("saved without storing the file"));
        };
        assert_eq!(
            form.errors().field("cover")[0].message(),
            "The file could not be saved. Please try again later."
        );
        assert_eq!(
            Release::objects().count(&db).await?,
            0,
            "no row without its file"
        );
        Ok(())
    })
    .await;
}
