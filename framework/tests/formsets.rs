//! Inline formsets: a book's chapters edited under the book, Django's
//! `tests/inline_formsets`, `tests/model_formsets` and
//! `forms_tests/tests/test_formsets.py` cases that matter: the management
//! form, add + change + delete in one submit, the bounds on the number of
//! forms (a forged `TOTAL_FORMS` included), a row of another parent,
//! duplicates, and escaping. On SQLite, and PostgreSQL when `DATABASE_URL`
//! is set.

#[path = "support/library.rs"]
mod library;

use library::{Book, Chapter, Writer, book, chapter, setup, writer};
use manouche::db::testing::for_each_database;
use manouche::db::{Database, Error, Model};
use manouche::forms::{FormData, InlineFormSet};

type Chapters = InlineFormSet<Book, Chapter>;

fn fail(message: impl Into<String>) -> Error {
    Error::Definition(message.into())
}

fn data(pairs: &[(&str, String)]) -> FormData {
    FormData::from_pairs(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

/// A book by a writer, with chapters 1 and 2.
async fn kindred(db: &Database) -> Result<(Book, Chapter, Chapter), Error> {
    let octavia = writer(db, "Octavia").await?;
    let b = book(db, "Kindred", "kindred", &octavia).await?;
    let one = chapter(db, &b, 1, "The River").await?;
    let two = chapter(db, &b, 2, "The Fire").await?;
    Ok((b, one, two))
}

async fn titles(db: &Database, b: &Book) -> Result<Vec<(i32, String)>, Error> {
    Ok(Chapter::objects()
        .filter(Chapter::book.eq(manouche::db::ForeignKey::from(b)))
        .order_by(Chapter::number.asc())
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.number, c.title))
        .collect())
}

#[tokio::test]
async fn the_page_draws_the_rows_then_extra_forms_with_a_management_form() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, one, _) = kindred(&db).await?;
        let formset = Chapters::new().extra(2).load(&db, &b).await?;
        assert_eq!(formset.forms().len(), 4);
        let html = formset.as_div().to_string();
        assert!(
            html.starts_with(
                "<input type=\"hidden\" name=\"chapters-TOTAL_FORMS\" value=\"4\" id=\"id_chapters-TOTAL_FORMS\">\
                 <input type=\"hidden\" name=\"chapters-INITIAL_FORMS\" value=\"2\" id=\"id_chapters-INITIAL_FORMS\">\
                 <input type=\"hidden\" name=\"chapters-MIN_NUM_FORMS\" value=\"0\" id=\"id_chapters-MIN_NUM_FORMS\">\
                 <input type=\"hidden\" name=\"chapters-MAX_NUM_FORMS\" value=\"1000\" id=\"id_chapters-MAX_NUM_FORMS\">"
            ),
            "{html}"
        );
        // Each form: its fields (not the key to the book), the row's key
        // hidden, a delete box.
        assert!(
            html.contains(r#"<input type="text" name="chapters-0-title" value="The River" maxlength="100" required id="id_chapters-0-title">"#),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                r#"<input type="hidden" name="chapters-0-id" value="{}" id="id_chapters-0-id">"#,
                one.id
            )),
            "{html}"
        );
        assert!(html.contains(r#"<input type="checkbox" name="chapters-1-DELETE" id="id_chapters-1-DELETE">"#));
        assert!(html.contains(r#"<input type="hidden" name="chapters-3-id" id="id_chapters-3-id">"#));
        assert!(!html.contains("chapters-0-book"), "{html}");
        // max_num bounds the extra forms, never the rows.
        assert_eq!(Chapters::new().extra(5).max_num(3).load(&db, &b).await?.forms().len(), 3);
        assert_eq!(Chapters::new().extra(5).max_num(1).load(&db, &b).await?.forms().len(), 2);
        // A new book: only the extra forms.
        assert_eq!(Chapters::new().extra(3).load(&db, &Book::default()).await?.forms().len(), 3);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn add_change_and_delete_in_one_submit() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, one, two) = kindred(&db).await?;
        let submission = data(&[
            ("chapters-TOTAL_FORMS", "4".into()),
            ("chapters-INITIAL_FORMS", "2".into()),
            ("chapters-MIN_NUM_FORMS", "0".into()),
            ("chapters-MAX_NUM_FORMS", "1000".into()),
            // Changed.
            ("chapters-0-id", one.id.to_string()),
            ("chapters-0-title", "The River, revised".into()),
            ("chapters-0-number", "1".into()),
            // Deleted (its fields as they were).
            ("chapters-1-id", two.id.to_string()),
            ("chapters-1-title", "The Fire".into()),
            ("chapters-1-number", "2".into()),
            ("chapters-1-DELETE", "on".into()),
            // Added.
            ("chapters-2-id", String::new()),
            ("chapters-2-title", "The Fall".into()),
            ("chapters-2-number", "3".into()),
            // Left empty: ignored.
            ("chapters-3-id", String::new()),
            ("chapters-3-title", String::new()),
            ("chapters-3-number", String::new()),
        ]);
        let formset = Chapters::new().bind(&db, &b, submission).await?;
        assert!(formset.is_valid(), "{formset:?}");
        let saved = formset
            .save(&db, &b)
            .await?
            .map_err(|f| fail(format!("{f:?}")))?;
        assert_eq!(saved.created.len(), 1);
        assert_eq!(saved.changed.len(), 1);
        assert_eq!(saved.deleted.len(), 1);
        assert_eq!(saved.created[0].book.id(), b.pk().as_ref());
        assert_eq!(
            titles(&db, &b).await?,
            [
                (1, "The River, revised".to_owned()),
                (3, "The Fall".to_owned())
            ]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_invalid_form_saves_nothing_and_shows_its_errors() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, one, two) = kindred(&db).await?;
        let submission = data(&[
            ("chapters-TOTAL_FORMS", "3".into()),
            ("chapters-INITIAL_FORMS", "2".into()),
            ("chapters-0-id", one.id.to_string()),
            ("chapters-0-title", "Changed".into()),
            ("chapters-0-number", "1".into()),
            ("chapters-1-id", two.id.to_string()),
            ("chapters-1-title", "<script>alert(1)</script>".into()),
            ("chapters-1-number", "two".into()),
            ("chapters-2-title", "New".into()),
            ("chapters-2-number", "4".into()),
        ]);
        let formset = Chapters::new().bind(&db, &b, submission).await?;
        assert!(!formset.is_valid());
        assert_eq!(
            formset.forms()[1].errors().field("number")[0].message(),
            "Enter a whole number."
        );
        let html = formset.to_string();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains(r#"name="chapters-1-number" value="two""#),
            "{html}"
        );
        let Err(_) = formset.save(&db, &b).await? else {
            return Err(fail("an invalid formset was saved"));
        };
        assert_eq!(
            titles(&db, &b).await?,
            [(1, "The River".to_owned()), (2, "The Fire".to_owned())]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_forged_total_forms_is_a_form_error_and_builds_a_bounded_number_of_forms() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, ..) = kindred(&db).await?;
        for total in ["1000000000000000000000000000000", "2001", "5000"] {
            let formset = Chapters::new()
                .bind(
                    &db,
                    &b,
                    data(&[
                        ("chapters-TOTAL_FORMS", total.into()),
                        ("chapters-INITIAL_FORMS", "0".into()),
                    ]),
                )
                .await?;
            assert!(!formset.is_valid());
            assert_eq!(
                formset.errors()[0].message(),
                "Please submit at most 1000 forms.",
                "{total}"
            );
            assert_eq!(formset.errors()[0].code(), "too_many_forms");
            // Django's absolute_max: max_num + 1000.
            assert_eq!(formset.forms().len(), 2000, "{total}");
        }
        let formset = Chapters::new()
            .max_num(3)
            .absolute_max(5)
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "6".into()),
                    ("chapters-INITIAL_FORMS", "9".into()),
                ]),
            )
            .await?;
        assert_eq!(formset.forms().len(), 5);
        assert_eq!(
            formset.errors()[0].message(),
            "Please submit at most 3 forms."
        );
        // validate_max counts the forms, within absolute_max.
        let formset = Chapters::new()
            .max_num(1)
            .validate_max(true)
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "2".into()),
                    ("chapters-INITIAL_FORMS", "0".into()),
                    ("chapters-0-title", "a".into()),
                    ("chapters-0-number", "7".into()),
                    ("chapters-1-title", "b".into()),
                    ("chapters-1-number", "8".into()),
                ]),
            )
            .await?;
        assert_eq!(
            formset.errors()[0].message(),
            "Please submit at most 1 form."
        );
        assert!(formset.save(&db, &b).await?.is_err());
        assert_eq!(Chapter::objects().count(&db).await?, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_garbled_management_form_is_an_error() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, ..) = kindred(&db).await?;
        let expected = "ManagementForm data is missing or has been tampered with. Missing fields: \
                        chapters-TOTAL_FORMS, chapters-INITIAL_FORMS. You may need to file a bug \
                        report if the issue persists.";
        let formset = Chapters::new()
            .bind(&db, &b, data(&[("chapters-0-title", "x".into())]))
            .await?;
        assert!(!formset.is_valid());
        assert!(formset.forms().is_empty());
        assert_eq!(formset.errors()[0].message(), expected);
        assert!(
            formset
                .non_form_errors()
                .as_str()
                .starts_with(r#"<ul class="errorlist nonform"><li>ManagementForm data"#)
        );
        let formset = Chapters::new()
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "two".into()),
                    ("chapters-INITIAL_FORMS", "0".into()),
                ]),
            )
            .await?;
        assert!(
            formset.errors()[0]
                .message()
                .contains("Missing fields: chapters-TOTAL_FORMS.")
        );
        // A negative count is no form at all, as Django's range(-1).
        let formset = Chapters::new()
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "-1".into()),
                    ("chapters-INITIAL_FORMS", "-5".into()),
                ]),
            )
            .await?;
        assert!(formset.forms().is_empty());
        assert!(formset.is_valid());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_row_of_another_parent_cannot_be_edited_or_deleted() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, one, _) = kindred(&db).await?;
        let ursula = writer(&db, "Ursula").await?;
        let other = book(&db, "Lathe", "lathe", &ursula).await?;
        let theirs = chapter(&db, &other, 1, "Theirs").await?;
        for delete in [false, true] {
            let mut pairs = vec![
                ("chapters-TOTAL_FORMS", "2".to_owned()),
                ("chapters-INITIAL_FORMS", "2".to_owned()),
                ("chapters-0-id", one.id.to_string()),
                ("chapters-0-title", "The River".into()),
                ("chapters-0-number", "1".into()),
                ("chapters-1-id", theirs.id.to_string()),
                ("chapters-1-title", "Stolen".into()),
                ("chapters-1-number", "5".into()),
            ];
            if delete {
                pairs.push(("chapters-1-DELETE", "on".into()));
            }
            let formset = Chapters::new().bind(&db, &b, data(&pairs)).await?;
            if delete {
                // Deleting a row that is not the book's deletes nothing.
                let saved = formset
                    .save(&db, &b)
                    .await?
                    .map_err(|f| fail(format!("{f:?}")))?;
                assert!(saved.deleted.is_empty());
            } else {
                assert!(!formset.is_valid());
                assert_eq!(
                    formset.forms()[1].errors().field("id")[0].message(),
                    "Select a valid choice. That choice is not one of the available choices."
                );
                assert!(formset.save(&db, &b).await?.is_err());
            }
        }
        let row = Chapter::objects()
            .filter(Chapter::id.eq(theirs.id.get().unwrap_or_default()))
            .get(&db)
            .await?;
        assert_eq!(
            (row.title.as_str(), row.book.id()),
            ("Theirs", other.pk().as_ref())
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn duplicates_in_a_submission_and_against_the_table() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (b, one, two) = kindred(&db).await?;
        // Two new chapters numbered 3.
        let formset = Chapters::new()
            .extra(2)
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "2".into()),
                    ("chapters-INITIAL_FORMS", "0".into()),
                    ("chapters-0-title", "a".into()),
                    ("chapters-0-number", "3".into()),
                    ("chapters-1-title", "b".into()),
                    ("chapters-1-number", "3".into()),
                ]),
            )
            .await?;
        assert!(!formset.is_valid());
        assert_eq!(
            formset.errors()[0].message(),
            "Please correct the duplicate data for number."
        );
        assert_eq!(
            formset.forms()[1].errors().non_field()[0].message(),
            "Please correct the duplicate values below."
        );
        // A new chapter numbered as an existing one: the number's error
        // (the book is not in the form).
        let formset = Chapters::new()
            .bind(
                &db,
                &b,
                data(&[
                    ("chapters-TOTAL_FORMS", "3".into()),
                    ("chapters-INITIAL_FORMS", "2".into()),
                    ("chapters-0-id", one.id.to_string()),
                    ("chapters-0-title", "The River".into()),
                    ("chapters-0-number", "1".into()),
                    ("chapters-1-id", two.id.to_string()),
                    ("chapters-1-title", "The Fire".into()),
                    ("chapters-1-number", "2".into()),
                    ("chapters-2-title", "Again".into()),
                    ("chapters-2-number", "2".into()),
                ]),
            )
            .await?;
        assert!(!formset.is_valid());
        assert_eq!(
            formset.forms()[2].errors().field("number")[0].message(),
            "Chapter with this Book and Number already exists."
        );
        assert_eq!(Chapter::objects().count(&db).await?, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_new_parent_gets_its_children_once_saved() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let octavia = writer(&db, "Octavia").await?;
        let mut new_book = Book {
            title: "Dawn".into(),
            slug: manouche::db::Slug::new("dawn").map_err(|e| fail(e.to_string()))?,
            writer: manouche::db::ForeignKey::from(&octavia),
            pages: 1,
            ..Default::default()
        };
        let submission = data(&[
            ("chapters-TOTAL_FORMS", "1".into()),
            ("chapters-INITIAL_FORMS", "0".into()),
            ("chapters-0-title", "Womb".into()),
            ("chapters-0-number", "1".into()),
        ]);
        let formset = Chapters::new().bind(&db, &new_book, submission).await?;
        assert!(formset.is_valid(), "{formset:?}");
        // Not saved yet: the formset cannot be.
        let Err(Error::NotSaved { .. }) = formset.save(&db, &new_book).await else {
            return Err(fail("saved under an unsaved book"));
        };
        new_book.save(&db).await?;
        let submission = data(&[
            ("chapters-TOTAL_FORMS", "1".into()),
            ("chapters-INITIAL_FORMS", "0".into()),
            ("chapters-0-title", "Womb".into()),
            ("chapters-0-number", "1".into()),
        ]);
        let formset = Chapters::new().bind(&db, &new_book, submission).await?;
        formset
            .save(&db, &new_book)
            .await?
            .map_err(|f| fail(format!("{f:?}")))?;
        assert_eq!(titles(&db, &new_book).await?, [(1, "Womb".to_owned())]);
        let _ = Writer::default();
        Ok(())
    })
    .await;
}

#[test]
fn the_prefix_is_the_parents_reverse_relation() {
    assert_eq!(Chapters::new().prefix_name(), "chapters");
    assert_eq!(Chapters::new().prefix("ch").prefix_name(), "ch");
    assert_eq!(InlineFormSet::<Writer, Book>::new().prefix_name(), "books");
}
