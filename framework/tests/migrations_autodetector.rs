//! The autodetector at the state level: each kind of model change gives the
//! expected operations, and applying them gives exactly the models' state.
//! Also: migration files round-trip through JSON and the loader.

use manouche::db::schema::{ColumnDefault, IndexSchema, ModelSchema};
use manouche::db::{Auto, ForeignKey, ManyToMany, Model, SqlType};
use manouche::migrations::autodetector::{Hints, detect};
use manouche::migrations::{
    Migration, MigrationError, MigrationSet, Operation, ProjectState, write_migration,
};

const APP: &str = "mt_auto";

#[derive(Debug, Clone, Model)]
#[model(app = "mt_auto", table = "mt_auto_writer")]
pub struct Writer {
    pub id: Auto<i64>,
    #[model(max_length = 50)]
    pub name: String,
}

// Sorts before `Writer`, refers to it: must be created after it.
#[derive(Debug, Clone, Model)]
#[model(app = "mt_auto", table = "mt_auto_article")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    pub body: String,
    pub writer: ForeignKey<Writer>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_other", table = "mt_other_tag")]
pub struct Tag {
    pub id: Auto<i64>,
    #[model(max_length = 30, unique)]
    pub label: String,
}

// Another app's model referring to `Writer` and `Tag`.
#[derive(Debug, Clone, Model)]
#[model(app = "mt_third", table = "mt_third_review")]
pub struct Review {
    pub id: Auto<i64>,
    pub writer: ForeignKey<Writer>,
    pub tags: ManyToMany<Tag>,
}

fn apps(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn base() -> Vec<ModelSchema> {
    vec![Article::schema(), Writer::schema()]
}

/// The migration set holding the initial migration of `base()`.
fn initial_set() -> MigrationSet {
    let new = detect(
        &MigrationSet::default(),
        &base(),
        &apps(&[APP]),
        &Hints::default(),
    )
    .expect("initial");
    MigrationSet::new(new).expect("set")
}

fn model<'a>(models: &'a mut [ModelSchema], name: &str) -> &'a mut ModelSchema {
    models.iter_mut().find(|m| m.model == name).expect("model")
}

/// Detects the change from `initial_set()` to `models`, checks that the
/// new migration brings the state exactly to `models`, and returns its
/// operations.
fn change(models: &[ModelSchema], hints: &Hints) -> Result<Vec<Operation>, MigrationError> {
    let set = initial_set();
    let mut new = detect(&set, models, &apps(&[APP]), hints)?;
    if new.is_empty() {
        return Ok(Vec::new());
    }
    assert_eq!(new.len(), 1);
    let m = new.remove(0);
    assert!(m.name.starts_with("0002_"), "{}", m.name);
    assert_eq!(
        m.dependencies,
        [(APP.to_owned(), "0001_initial".to_owned())]
    );
    let mut all = set.ordered().to_vec();
    all.push(m.clone());
    let after = MigrationSet::new(all).expect("set");
    assert_eq!(
        normalized(after.state().expect("state")),
        normalized(ProjectState::from_schemas(models.iter().cloned())),
        "state converges"
    );
    let again = detect(&after, models, &apps(&[APP]), hints).expect("detect again");
    assert!(again.is_empty(), "nothing left to detect: {again:?}");
    Ok(m.operations)
}

/// The state with columns in name order: added columns come last in the
/// database, whatever their place in the struct.
fn normalized(mut state: ProjectState) -> ProjectState {
    for models in state.apps.values_mut() {
        for m in models.values_mut() {
            m.table.columns.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
    state
}

#[test]
fn initial_creates_models_in_dependency_order() {
    let set = initial_set();
    let m = &set.ordered()[0];
    assert_eq!((m.app.as_str(), m.name.as_str()), (APP, "0001_initial"));
    let created: Vec<&str> = m
        .operations
        .iter()
        .map(|op| match op {
            Operation::CreateModel { schema } => schema.model.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(created, ["Writer", "Article"]);
    assert_eq!(
        set.state().expect("state"),
        ProjectState::from_schemas(base())
    );
}

#[test]
fn no_changes_no_migration() {
    assert!(
        change(&base(), &Hints::default())
            .expect("detect")
            .is_empty()
    );
}

#[test]
fn add_nullable_field() {
    let mut models = base();
    let mut col = Writer::schema()
        .table
        .column("name")
        .cloned()
        .expect("name");
    col.name = "email".into();
    col.nullable = true;
    model(&mut models, "Writer").table.columns.push(col.clone());
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::AddField {
            model: "Writer".into(),
            column: col,
            foreign_key: None,
            fill: None
        }]
    );
}

#[test]
fn add_non_null_field_needs_a_default() {
    let mut models = base();
    let mut col = Writer::schema()
        .table
        .column("name")
        .cloned()
        .expect("name");
    col.name = "score".into();
    col.sql_type = SqlType::Integer;
    col.max_length = None;
    model(&mut models, "Writer").table.columns.push(col);
    let err = change(&models, &Hints::default()).expect_err("needs a default");
    assert!(matches!(err, MigrationError::NeedsDefault { .. }));
    assert!(
        err.to_string()
            .contains("--default mt_auto.Writer.score=VALUE"),
        "{err}"
    );

    let mut hints = Hints::default();
    hints.add_default("mt_auto.Writer.score=5").expect("hint");
    let ops = change(&models, &hints).expect("detect");
    assert!(matches!(
        &ops[..],
        [Operation::AddField {
            fill: Some(ColumnDefault::Int(5)),
            ..
        }]
    ));

    let mut bad = Hints::default();
    bad.add_default("mt_auto.Writer.score=lots")
        .expect("hint parses");
    assert!(matches!(
        change(&models, &bad),
        Err(MigrationError::BadHint { .. })
    ));
    assert!(Hints::default().add_default("score=5").is_err());
}

#[test]
fn remove_field() {
    let mut models = base();
    model(&mut models, "Article")
        .table
        .columns
        .retain(|c| c.name != "body");
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::RemoveField {
            model: "Article".into(),
            column: "body".into()
        }]
    );
}

#[test]
fn removed_and_added_same_type_is_a_possible_rename() {
    let mut models = base();
    let body = model(&mut models, "Article")
        .table
        .columns
        .iter_mut()
        .find(|c| c.name == "body")
        .expect("body");
    body.name = "content".into();

    let err = change(&models, &Hints::default()).expect_err("possible rename");
    let text = err.to_string();
    assert!(
        text.contains("--rename mt_auto.Article.body=content"),
        "{text}"
    );
    assert!(text.contains("--no-rename-check"), "{text}");

    let mut hints = Hints::default();
    hints
        .add_rename("mt_auto.Article.body=content")
        .expect("hint");
    assert_eq!(
        change(&models, &hints).expect("detect"),
        [Operation::RenameField {
            model: "Article".into(),
            old: "body".into(),
            new: "content".into()
        }]
    );

    let mut hints = Hints {
        no_rename_check: true,
        ..Hints::default()
    };
    // `content` is a new non-null column: it needs a value too.
    assert!(matches!(
        change(&models, &hints),
        Err(MigrationError::NeedsDefault { .. })
    ));
    hints.add_default("mt_auto.Article.content=").expect("hint");
    let ops = change(&models, &hints).expect("detect");
    assert!(matches!(
        &ops[..],
        [Operation::AddField { .. }, Operation::RemoveField { .. }]
    ));
    assert!(Hints::default().add_rename("mt_auto.Article").is_err());
}

#[test]
fn not_a_rename_answers_one_pair_only() {
    // `title` and `body` (both text) go, `headline` and `content` come.
    let mut models = base();
    let article = model(&mut models, "Article");
    for (old, new) in [("title", "headline"), ("body", "content")] {
        let c = article
            .table
            .columns
            .iter_mut()
            .find(|c| c.name == old)
            .expect("column");
        new.clone_into(&mut c.name);
    }
    let pair = |old: &str, new: &str| {
        (
            APP.to_owned(),
            "Article".to_owned(),
            Some(old.to_owned()),
            new.to_owned(),
        )
    };
    let asks = |hints: &Hints| match change(&models, hints) {
        Err(MigrationError::PossibleRename { old, new, .. }) => (old, new),
        other => panic!("expected a question, got {other:?}"),
    };
    let mut hints = Hints::default();
    assert_eq!(asks(&hints), ("title".into(), "headline".into()));
    hints.not_renames.push(pair("title", "headline"));
    assert_eq!(asks(&hints), ("title".into(), "content".into()));
    hints.not_renames.push(pair("title", "content"));
    assert_eq!(asks(&hints), ("body".into(), "headline".into()));
    hints.renames.push(pair("body", "headline"));
    // `title` is dropped and `content` added: it needs a value.
    assert!(matches!(
        change(&models, &hints),
        Err(MigrationError::NeedsDefault { field, .. }) if field == "content"
    ));
    hints.add_default("mt_auto.Article.content=").expect("hint");
    let ops = change(&models, &hints).expect("detect");
    assert!(
        matches!(
            &ops[..],
            [
                Operation::RenameField { .. },
                Operation::AddField { .. },
                // `headline` has `title`'s length, not `body`'s.
                Operation::AlterField { .. },
                Operation::RemoveField { .. }
            ]
        ),
        "{ops:?}"
    );
}

#[test]
fn alter_field_type_null_default_length_unique() {
    let mut models = base();
    let title = model(&mut models, "Article")
        .table
        .columns
        .iter_mut()
        .find(|c| c.name == "title")
        .expect("title");
    title.max_length = Some(200);
    title.unique = true;
    title.default = Some(ColumnDefault::Str("untitled".into()));
    let expected = title.clone();
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::AlterField {
            model: "Article".into(),
            column: expected,
            foreign_key: None,
            fill: None
        }]
    );

    // Becoming non-null needs a value for the NULLs.
    let mut models = base();
    model(&mut models, "Writer").table.columns[1].nullable = true;
    let set = initial_set();
    let mut all = set.ordered().to_vec();
    all.extend(detect(&set, &models, &apps(&[APP]), &Hints::default()).expect("nullable"));
    let set = MigrationSet::new(all).expect("set");
    let err = detect(&set, &base(), &apps(&[APP]), &Hints::default()).expect_err("needs default");
    assert!(matches!(err, MigrationError::NeedsDefault { .. }), "{err}");
    let mut hints = Hints::default();
    hints
        .add_default("mt_auto.Writer.name=anonymous")
        .expect("hint");
    let new = detect(&set, &base(), &apps(&[APP]), &hints).expect("with default");
    assert!(matches!(
        &new[0].operations[..],
        [Operation::AlterField { fill: Some(ColumnDefault::Str(s)), .. }] if s == "anonymous"
    ));
}

#[test]
fn alter_foreign_key_action() {
    let mut models = base();
    let fk = &mut model(&mut models, "Article").table.foreign_keys[0];
    fk.on_delete = manouche::db::OnDelete::Protect;
    let fk = fk.clone();
    let ops = change(&models, &Hints::default()).expect("detect");
    assert!(matches!(
        &ops[..],
        [Operation::AlterField { column, foreign_key: Some(f), .. }]
            if column.name == "writer_id" && *f == fk
    ));
}

#[test]
fn add_and_remove_index_and_unique_constraint() {
    let mut models = base();
    let index = IndexSchema {
        name: "mt_auto_article_title_idx".into(),
        columns: vec!["title".into()],
        unique: false,
    };
    let unique = IndexSchema {
        name: "mt_auto_article_title_writer_id_uniq".into(),
        columns: vec!["title".into(), "writer_id".into()],
        unique: true,
    };
    let article = model(&mut models, "Article");
    article.table.indexes.push(index.clone());
    article.table.indexes.push(unique.clone());
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [
            Operation::AddIndex {
                model: "Article".into(),
                index
            },
            Operation::AddConstraint {
                model: "Article".into(),
                constraint: unique
            }
        ]
    );

    // The foreign key's index goes away.
    let mut models = base();
    let fk_index = model(&mut models, "Article").table.indexes.remove(0);
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::RemoveIndex {
            model: "Article".into(),
            name: fk_index.name
        }]
    );
}

#[test]
fn delete_and_rename_model() {
    let models = vec![Writer::schema()];
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::DeleteModel {
            model: "Article".into()
        }]
    );

    let mut models = base();
    let article = model(&mut models, "Article");
    article.model = "Post".into();
    article.table.name = "mt_auto_post".into();
    // Without a hint: never a silent rename, and never a silent drop of a
    // table whose columns reappear under another model.
    let err = change(&models, &Hints::default()).expect_err("asks");
    assert!(
        matches!(&err, MigrationError::PossibleModelRename { app, old, new }
            if app == APP && old == "Article" && new == "Post"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("--rename mt_auto.Article=Post"), "{text}");
    assert!(text.contains("--no-rename-check"), "{text}");
    // "Not a rename", for this pair or for all: a new model and a deleted one.
    for hints in [
        Hints {
            not_renames: vec![(APP.into(), "Article".into(), None, "Post".into())],
            ..Hints::default()
        },
        Hints {
            no_rename_check: true,
            ..Hints::default()
        },
    ] {
        let ops = change(&models, &hints).expect("detect");
        assert!(matches!(
            &ops[..],
            [Operation::CreateModel { .. }, Operation::DeleteModel { .. }]
        ));
    }
    // A "not a rename" for another pair does not answer this one.
    let hints = Hints {
        not_renames: vec![(APP.into(), "Article".into(), None, "Story".into())],
        ..Hints::default()
    };
    assert!(matches!(
        change(&models, &hints),
        Err(MigrationError::PossibleModelRename { .. })
    ));
    // Other fields: a new model, not asked about (Django's rule), in each
    // way the fields can differ; a rename hint gives the rename followed by
    // the field change.
    let mut other = models.clone();
    model(&mut other, "Post")
        .table
        .columns
        .retain(|c| c.name != "body");
    let mut longer = models.clone();
    let title = model(&mut longer, "Post")
        .table
        .columns
        .iter_mut()
        .find(|c| c.name == "title")
        .expect("title");
    title.max_length = Some(300);
    let mut cascade = models.clone();
    model(&mut cascade, "Post").table.foreign_keys[0].on_delete = manouche::db::OnDelete::SetNull;
    for changed in [&other, &longer, &cascade] {
        let ops = change(changed, &Hints::default()).expect("not asked");
        assert!(
            matches!(
                &ops[..],
                [Operation::CreateModel { schema }, Operation::DeleteModel { model }]
                    if schema.model == "Post" && model == "Article"
            ),
            "{ops:?}"
        );
    }
    // Only the table of the foreign key differs: still the same fields.
    let mut retargeted = models.clone();
    model(&mut retargeted, "Post").table.foreign_keys[0].target_table = "mt_auto_post".into();
    assert!(matches!(
        change(&retargeted, &Hints::default()),
        Err(MigrationError::PossibleModelRename { .. })
    ));
    let mut hints = Hints::default();
    hints.add_rename("mt_auto.Article=Post").expect("hint");
    let ops = change(&other, &hints).expect("detect");
    assert!(
        matches!(&ops[0], Operation::RenameModel { new, .. } if new == "Post"),
        "{ops:?}"
    );
    assert!(
        ops[1..].iter().any(|op| matches!(op,
            Operation::RemoveField { model, column } if model == "Post" && column == "body")),
        "{ops:?}"
    );
    let mut hints = Hints::default();
    hints.add_rename("mt_auto.Article=Post").expect("hint");
    let ops = change(&models, &hints).expect("detect");
    assert_eq!(
        ops[0],
        Operation::RenameModel {
            old: "Article".into(),
            new: "Post".into(),
            table: "mt_auto_post".into()
        }
    );
}

#[test]
fn cross_app_foreign_keys_depend_on_the_other_apps_migration() {
    let set = initial_set();
    let models = [base(), vec![Tag::schema(), Review::schema()]].concat();
    let new = detect(
        &set,
        &models,
        &apps(&[APP, "mt_other", "mt_third"]),
        &Hints::default(),
    )
    .expect("detect");
    let names: Vec<String> = new.iter().map(Migration::label).collect();
    assert_eq!(names, ["mt_other.0001_initial", "mt_third.0001_initial"]);
    let review = &new[1];
    assert!(
        review
            .dependencies
            .contains(&(APP.to_owned(), "0001_initial".to_owned())),
        "{:?}",
        review.dependencies
    );
    assert!(
        review
            .dependencies
            .contains(&("mt_other".to_owned(), "0001_initial".to_owned())),
        "{:?}",
        review.dependencies
    );
    // The many-to-many join table comes with the model.
    let Operation::CreateModel { schema } = &review.operations[0] else {
        panic!("{:?}", review.operations);
    };
    assert_eq!(schema.join_tables.len(), 1);

    // All together they order and converge.
    let mut all = set.ordered().to_vec();
    all.extend(new);
    let set = MigrationSet::new(all).expect("set");
    let order: Vec<String> = set.ordered().iter().map(Migration::label).collect();
    let pos = |l: &str| order.iter().position(|o| o == l).expect("present");
    assert!(pos("mt_third.0001_initial") > pos("mt_other.0001_initial"));
    assert!(pos("mt_third.0001_initial") > pos("mt_auto.0001_initial"));
    assert_eq!(
        set.state().expect("state"),
        ProjectState::from_schemas(models)
    );
}

#[test]
fn a_foreign_key_to_an_app_without_migrations_is_refused() {
    let models = [base(), vec![Tag::schema(), Review::schema()]].concat();
    // `mt_third` refers to `mt_auto` and `mt_other`; only `mt_auto` has
    // migrations and `mt_other` is not being migrated now.
    let err = detect(
        &initial_set(),
        &models,
        &apps(&["mt_third"]),
        &Hints::default(),
    )
    .expect_err("refused");
    assert!(
        err.to_string().contains("makemigrations mt_third mt_other"),
        "{err}"
    );
}

#[test]
fn many_to_many_added_later_creates_its_join_table() {
    let mut without = Review::schema();
    let join = without.join_tables.pop().expect("join table");
    let models = [base(), vec![Tag::schema(), without]].concat();
    let all = apps(&[APP, "mt_other", "mt_third"]);
    let first = detect(&MigrationSet::default(), &models, &all, &Hints::default()).expect("first");
    let set = MigrationSet::new(first).expect("set");
    let models = [base(), vec![Tag::schema(), Review::schema()]].concat();
    let new = detect(&set, &models, &all, &Hints::default()).expect("second");
    assert_eq!(new.len(), 1);
    assert_eq!(
        new[0].operations,
        [Operation::CreateJoinTable {
            model: "Review".into(),
            table: join
        }]
    );
}

#[test]
fn files_round_trip_and_misplaced_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("mt_migrations_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let set = initial_set();
    let m = &set.ordered()[0];
    let path = write_migration(&dir, m).expect("write");
    assert!(path.ends_with("mt_auto/0001_initial.json"));
    let loaded = MigrationSet::load(&dir).expect("load");
    assert_eq!(loaded.ordered(), set.ordered());

    let copy = dir.join("mt_auto").join("0002_copy.json");
    std::fs::copy(&path, &copy).expect("copy");
    let err = MigrationSet::load(&dir).expect_err("misplaced");
    assert!(matches!(err, MigrationError::Misplaced { .. }), "{err}");
    std::fs::write(&copy, "{not json").expect("write");
    let err = MigrationSet::load(&dir).expect_err("malformed");
    assert!(matches!(err, MigrationError::Malformed { .. }), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    let orphan = Migration {
        app: "x".into(),
        name: "0002_b".into(),
        dependencies: vec![("y".into(), "0001_a".into())],
        operations: vec![],
    };
    assert!(matches!(
        MigrationSet::new(vec![orphan]),
        Err(MigrationError::MissingDependency { .. })
    ));
}

#[test]
fn a_join_table_replaced_by_another_is_never_dropped_silently() {
    let models = [base(), vec![Tag::schema(), Review::schema()]].concat();
    let all = apps(&[APP, "mt_other", "mt_third"]);
    let first = detect(&MigrationSet::default(), &models, &all, &Hints::default()).expect("first");
    let set = MigrationSet::new(first).expect("set");
    // The many-to-many field renamed: its join table's name changes.
    let mut review = Review::schema();
    review.join_tables[0].name = "mt_third_review_labels".into();
    let models = [base(), vec![Tag::schema(), review]].concat();
    let err = detect(&set, &models, &all, &Hints::default()).expect_err("refused");
    assert!(
        matches!(err, MigrationError::PossibleJoinTableRename { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--no-rename-check"), "{err}");
    let hints = Hints {
        no_rename_check: true,
        ..Hints::default()
    };
    let new = detect(&set, &models, &all, &hints).expect("explicit");
    assert!(matches!(
        &new[0].operations[..],
        [
            Operation::CreateJoinTable { .. },
            Operation::DeleteJoinTable { .. }
        ]
    ));
}

#[test]
fn sqlmigrate_shows_each_backends_sql_both_ways() {
    use manouche::db::Backend;
    use manouche::migrations::executor::sql_for;

    let set = initial_set();
    let initial = &set.ordered()[0];
    let pg = sql_for(&set, Backend::Postgres, initial, false).expect("pg");
    assert!(
        pg.iter()
            .any(|s| s.starts_with("CREATE TABLE \"mt_auto_writer\"")),
        "{pg:?}"
    );
    assert!(pg.iter().any(|s| s.contains("FOREIGN KEY")), "{pg:?}");
    let back = sql_for(&set, Backend::Sqlite, initial, true).expect("sqlite back");
    assert_eq!(
        back,
        [
            "DROP TABLE \"mt_auto_article\"",
            "DROP TABLE \"mt_auto_writer\""
        ]
    );

    // Making a column unique: PostgreSQL alters in place, SQLite rebuilds.
    let mut models = base();
    model(&mut models, "Writer").table.columns[1].unique = true;
    let mut all = set.ordered().to_vec();
    all.extend(detect(&set, &models, &apps(&[APP]), &Hints::default()).expect("detect"));
    let set = MigrationSet::new(all).expect("set");
    let second = &set.ordered()[1];
    let pg = sql_for(&set, Backend::Postgres, second, false).expect("pg");
    assert_eq!(
        pg,
        [
            "ALTER TABLE \"mt_auto_writer\" ADD CONSTRAINT \"mt_auto_writer_name_key\" UNIQUE (\"name\")"
        ]
    );
    let pg_back = sql_for(&set, Backend::Postgres, second, true).expect("pg back");
    assert!(pg_back[0].contains("DROP CONSTRAINT"), "{pg_back:?}");
    let sqlite = sql_for(&set, Backend::Sqlite, second, false).expect("sqlite");
    assert!(
        sqlite[0].starts_with("CREATE TABLE \"new__mt_auto_writer\""),
        "{sqlite:?}"
    );
    assert_eq!(
        sqlite[1..],
        [
            "INSERT INTO \"new__mt_auto_writer\" (\"id\", \"name\") SELECT \"id\", \"name\" FROM \"mt_auto_writer\"",
            "DROP TABLE \"mt_auto_writer\"",
            "ALTER TABLE \"new__mt_auto_writer\" RENAME TO \"mt_auto_writer\"",
        ]
    );
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_m2m", table = "mt_m2m_entry")]
pub struct Entry {
    pub id: Auto<i64>,
    pub labels: ManyToMany<Label>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_m2m", table = "mt_m2m_label")]
pub struct Label {
    pub id: Auto<i64>,
}

#[test]
fn a_many_to_many_target_is_created_before_the_join_table() {
    let new = detect(
        &MigrationSet::default(),
        &[Entry::schema(), Label::schema()],
        &apps(&["mt_m2m"]),
        &Hints::default(),
    )
    .expect("detect");
    let created: Vec<&str> = new[0]
        .operations
        .iter()
        .map(|op| match op {
            Operation::CreateModel { schema } => schema.model.as_str(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    // `Entry` sorts first, but its join table refers to `Label`.
    assert_eq!(created, ["Label", "Entry"]);
}

#[test]
fn an_index_whose_name_alone_changes_is_renamed() {
    // A new name in the model for the same index.
    let mut models = base();
    let article = model(&mut models, "Article");
    let old = article.table.indexes[0].name.clone();
    assert_eq!(old, "mt_auto_article_writer_id_idx");
    "mt_auto_article_by_writer".clone_into(&mut article.table.indexes[0].name);
    let ops = change(&models, &Hints::default()).expect("detect");
    assert_eq!(
        ops,
        [Operation::RenameIndex {
            model: "Article".into(),
            old: old.clone(),
            new: "mt_auto_article_by_writer".into()
        }]
    );

    // A renamed model: the automatic name of its foreign key's index
    // follows the table's, renamed after the model.
    let mut models = base();
    let article = model(&mut models, "Article");
    article.model = "Post".into();
    article.table.name = "mt_auto_post".into();
    "mt_auto_post_writer_id_idx".clone_into(&mut article.table.indexes[0].name);
    let mut hints = Hints::default();
    hints.add_rename("mt_auto.Article=Post").expect("hint");
    let ops = change(&models, &hints).expect("detect");
    assert_eq!(
        ops,
        [
            Operation::RenameModel {
                old: "Article".into(),
                new: "Post".into(),
                table: "mt_auto_post".into()
            },
            Operation::RenameIndex {
                model: "Post".into(),
                old,
                new: "mt_auto_post_writer_id_idx".into()
            }
        ]
    );

    // Other columns: not the same index, dropped and created.
    let mut models = base();
    let article = model(&mut models, "Article");
    article.table.indexes[0] = IndexSchema {
        name: "mt_auto_article_title_idx".into(),
        columns: vec!["title".into()],
        unique: false,
    };
    let ops = change(&models, &Hints::default()).expect("detect");
    assert!(
        matches!(
            &ops[..],
            [Operation::RemoveIndex { .. }, Operation::AddIndex { .. }]
        ),
        "{ops:?}"
    );
}
