//! `makemigrations`' questions with scripted answers: a possible field or
//! model rename (yes, no, one pair at a time), a missing value for existing
//! rows (given, refused then given, quit), and the end of the input, which
//! quits without a migration.

use manouche::db::schema::{ColumnDefault, ModelSchema};
use manouche::db::{Auto, Model};
use manouche::migrations::autodetector::{Hints, detect};
use manouche::migrations::questioner::Questioner;
use manouche::migrations::{Migration, MigrationError, MigrationSet, Operation};

const APP: &str = "mt_q";

#[derive(Debug, Clone, Model)]
#[model(app = "mt_q", table = "mt_q_article")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 200)]
    pub title: String,
    #[model(max_length = 200)]
    pub summary: String,
    pub views: Option<i64>,
}

fn initial_set() -> MigrationSet {
    let new = detect(
        &MigrationSet::default(),
        &[Article::schema()],
        &[APP.to_owned()],
        &Hints::default(),
    )
    .expect("initial");
    MigrationSet::new(new).expect("set")
}

/// The model with `changes` applied to its columns.
fn article(changes: impl FnOnce(&mut ModelSchema)) -> Vec<ModelSchema> {
    let mut schema = Article::schema();
    changes(&mut schema);
    vec![schema]
}

fn rename_column(m: &mut ModelSchema, old: &str, new: &str) {
    let c = m
        .table
        .columns
        .iter_mut()
        .find(|c| c.name == old)
        .expect("column");
    new.clone_into(&mut c.name);
}

/// What the questioner did with `answers`: the operations (or `None` when
/// the user quit), what it wrote, and the hints it ended with.
fn ask(
    models: &[ModelSchema],
    answers: &str,
) -> (
    Result<Option<Vec<Operation>>, MigrationError>,
    String,
    Hints,
) {
    let set = initial_set();
    let mut output = Vec::new();
    let mut hints = Hints::default();
    let result = Questioner::new(answers.as_bytes(), &mut output)
        .detect(&set, models, &[APP.to_owned()], &mut hints)
        .map(|new| {
            new.map(|mut new: Vec<Migration>| {
                assert_eq!(new.len(), 1, "{new:?}");
                new.remove(0).operations
            })
        });
    let text = String::from_utf8(output).expect("utf-8");
    (result, text, hints)
}

const TITLE_QUESTION: &str =
    "Was mt_q.Article.title renamed to headline (a VARCHAR(200) field)? [y/N] ";

#[test]
fn yes_renames_the_field() {
    let models = article(|m| rename_column(m, "title", "headline"));
    let (ops, text, hints) = ask(&models, "y\n");
    assert_eq!(
        ops.expect("detect").expect("not quit"),
        [Operation::RenameField {
            model: "Article".into(),
            old: "title".into(),
            new: "headline".into()
        }]
    );
    assert_eq!(text, TITLE_QUESTION);
    assert_eq!(hints.renames.len(), 1);
}

#[test]
fn no_drops_and_adds_that_pair_then_asks_for_a_value() {
    let models = article(|m| rename_column(m, "title", "headline"));
    // An unclear answer is asked again; then "no"; then the new non-null
    // column needs a value for the existing rows.
    let (ops, text, hints) = ask(&models, "maybe\nno\n1\nUntitled\n");
    let ops = ops.expect("detect").expect("not quit");
    assert!(
        ops.contains(&Operation::RemoveField {
            model: "Article".into(),
            column: "title".into()
        }),
        "{ops:?}"
    );
    assert!(
        ops.iter().any(|op| matches!(op,
            Operation::AddField { column, fill: Some(ColumnDefault::Str(v)), .. }
                if column.name == "headline" && v == "Untitled")),
        "{ops:?}"
    );
    assert!(text.starts_with(TITLE_QUESTION), "{text}");
    assert!(text.contains("Please answer y or n"), "{text}");
    assert!(
        text.contains("mt_q.Article.headline is a new non-null field without a default"),
        "{text}"
    );
    assert!(
        text.contains("1) Provide a one-off default now (used for existing rows only)"),
        "{text}"
    );
    assert!(
        text.contains("2) Quit and add a default in the model"),
        "{text}"
    );
    assert_eq!(
        hints.not_renames,
        [(
            APP.to_owned(),
            "Article".to_owned(),
            Some("title".to_owned()),
            "headline".to_owned()
        )]
    );
    assert!(!hints.no_rename_check, "only that pair");
}

#[test]
fn no_for_one_pair_asks_about_the_next() {
    // `title` and `summary` go, `headline` and `abstract` come, all
    // VARCHAR(200).
    let models = article(|m| {
        rename_column(m, "title", "headline");
        rename_column(m, "summary", "abstract");
    });
    let (ops, text, _) = ask(&models, "n\ny\ny\n");
    assert_eq!(
        ops.expect("detect").expect("not quit"),
        [
            Operation::RenameField {
                model: "Article".into(),
                old: "title".into(),
                new: "abstract".into()
            },
            Operation::RenameField {
                model: "Article".into(),
                old: "summary".into(),
                new: "headline".into()
            },
        ]
    );
    let questions: Vec<&str> = text.split("? [y/N] ").collect();
    assert_eq!(
        questions,
        [
            "Was mt_q.Article.title renamed to headline (a VARCHAR(200) field)",
            "Was mt_q.Article.title renamed to abstract (a VARCHAR(200) field)",
            "Was mt_q.Article.summary renamed to headline (a VARCHAR(200) field)",
            "",
        ]
    );
}

#[test]
fn a_value_that_does_not_parse_is_asked_again() {
    // `views` becomes non-null: its existing NULLs need a value.
    let models = article(|m| {
        m.table
            .columns
            .iter_mut()
            .find(|c| c.name == "views")
            .expect("views")
            .nullable = false;
    });
    let (ops, text, hints) = ask(&models, "3\n1\n\nabc\n 42 \n");
    let ops = ops.expect("detect").expect("not quit");
    assert!(
        matches!(&ops[..], [Operation::AlterField { column, fill: Some(ColumnDefault::Int(42)), .. }]
            if column.name == "views"),
        "{ops:?}"
    );
    assert!(
        text.contains("mt_q.Article.views becomes non-null without a default"),
        "{text}"
    );
    assert!(text.contains("Please select 1 or 2"), "{text}");
    assert!(text.contains("a BIGINT value (a whole number"), "{text}");
    assert!(text.contains("Please enter a value"), "{text}");
    assert!(
        text.contains("`abc` is not a whole number; please try again."),
        "{text}"
    );
    assert_eq!(
        hints
            .defaults
            .get(&(APP.into(), "Article".into(), "views".into()))
            .map(String::as_str),
        Some("42")
    );
}

#[test]
fn an_empty_text_is_spelled_with_quotes() {
    let models = article(|m| rename_column(m, "summary", "teaser"));
    let (ops, _, _) = ask(&models, "n\n1\n\"\"\n");
    let ops = ops.expect("detect").expect("not quit");
    assert!(
        ops.iter().any(|op| matches!(op,
            Operation::AddField { column, fill: Some(ColumnDefault::Str(v)), .. }
                if column.name == "teaser" && v.is_empty())),
        "{ops:?}"
    );
}

#[test]
fn quitting_or_the_end_of_the_input_gives_no_migration() {
    let models = article(|m| rename_column(m, "title", "headline"));
    for answers in [
        "",             // end of input at the rename question
        "n\n",          // ... at the menu
        "n\n2\n",       // "quit and add a default"
        "n\n1\n",       // end of input at the value
        "n\n1\nexit\n", // `exit` at the value
    ] {
        let (ops, text, _) = ask(&models, answers);
        assert!(matches!(ops, Ok(None)), "{answers:?} gives {ops:?}: {text}");
    }
    let (_, text, _) = ask(&models, "");
    assert_eq!(
        text,
        format!("{TITLE_QUESTION}\n"),
        "the prompt line is ended"
    );
}

#[test]
fn a_model_rename_is_asked_about() {
    let renamed = article(|m| {
        m.model = "Post".into();
        m.table.name = "mt_q_post".into();
    });
    let (ops, text, _) = ask(&renamed, "y\n");
    assert_eq!(
        ops.expect("detect").expect("not quit"),
        [Operation::RenameModel {
            old: "Article".into(),
            new: "Post".into(),
            table: "mt_q_post".into()
        }]
    );
    assert_eq!(text, "Was the model mt_q.Article renamed to Post? [y/N] ");

    let (ops, _, _) = ask(&renamed, "n\n");
    assert!(
        matches!(
            &ops.expect("detect").expect("not quit")[..],
            [Operation::CreateModel { .. }, Operation::DeleteModel { .. }]
        ),
        "no: a new table, the old one dropped"
    );
}

#[test]
fn a_model_with_other_fields_is_a_new_model_without_a_question() {
    // As in Django: only a model with the same fields may be a rename.
    let other = article(|m| {
        m.model = "Post".into();
        m.table.name = "mt_q_post".into();
        m.table.columns.retain(|c| c.name != "views");
    });
    let (ops, text, _) = ask(&other, "");
    assert_eq!(text, "", "no question");
    assert!(
        matches!(
            &ops.expect("detect").expect("not quit")[..],
            [Operation::CreateModel { schema }, Operation::DeleteModel { model }]
                if schema.model == "Post" && model == "Article"
        ),
        "a new table, the old one dropped"
    );
}

#[test]
fn other_errors_are_returned_without_a_question() {
    let models = article(|m| {
        m.table
            .columns
            .iter_mut()
            .find(|c| c.name == "views")
            .expect("views")
            .nullable = false;
    });
    let set = initial_set();
    let mut output = Vec::new();
    let mut hints = Hints::default();
    hints
        .add_default("mt_q.Article.views=lots")
        .expect("well-formed hint");
    let err = Questioner::new(&b"1\n42\n"[..], &mut output)
        .detect(&set, &models, &[APP.to_owned()], &mut hints)
        .expect_err("a bad --default is an error, not a question");
    assert!(
        matches!(&err, MigrationError::BadHint { reason, .. } if reason.contains("whole number")),
        "{err:?}"
    );
    assert!(output.is_empty(), "nothing asked");
}
