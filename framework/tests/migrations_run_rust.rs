//! Data migrations in Rust (`run_rust`) on SQLite and PostgreSQL: a
//! registered function fills rows with the ORM inside the migration's
//! transaction, its reverse undoes it; a failing (or panicking) function
//! leaves the schema, the rows and the recorder as they were; an unknown
//! function or a missing reverse is refused before anything runs.

use manouche::db::testing::for_each_database;
use manouche::db::{Auto, Database, Executor, Model, Statement, Transaction};
use manouche::migrations::executor::{self, Step, Target};
use manouche::migrations::{
    DataMigrationResult, DataMigrations, Migration, MigrationError, MigrationSet, Operation,
};
use manouche::{App, Project, Settings};

const APP: &str = "mt_rust";

#[derive(Debug, Clone, Model)]
#[model(app = "mt_rust", table = "mt_rust_article")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    #[model(max_length = 100)]
    pub slug: Option<String>,
}

/// Through the ORM, with the migration's transaction.
async fn fill_slugs(tx: &Transaction) -> DataMigrationResult {
    for mut article in Article::objects().all(tx).await? {
        article.slug = Some(article.title.to_lowercase().replace(' ', "-"));
        article.save(tx).await?;
    }
    Ok(())
}

/// With a raw statement.
async fn clear_slugs(tx: &Transaction) -> DataMigrationResult {
    tx.execute(Statement::raw("UPDATE mt_rust_article SET slug = NULL"))
        .await?;
    Ok(())
}

/// Writes, then fails: the write must not survive.
async fn fail_halfway(tx: &Transaction) -> DataMigrationResult {
    tx.execute(Statement::raw(
        "INSERT INTO mt_rust_article (title) VALUES ('written before the failure')",
    ))
    .await?;
    Err("3 articles have no author; fix them first".into())
}

async fn panic_halfway(tx: &Transaction) -> DataMigrationResult {
    tx.execute(Statement::raw(
        "INSERT INTO mt_rust_article (title) VALUES ('written before the panic')",
    ))
    .await?;
    panic!("unexpected article");
}

fn functions() -> DataMigrations {
    let mut data = DataMigrations::new();
    data.register(APP, "fill_slugs", fill_slugs)
        .expect("register");
    data.register(APP, "clear_slugs", clear_slugs)
        .expect("register");
    data.register(APP, "fail_halfway", fail_halfway)
        .expect("register");
    data.register(APP, "panic_halfway", panic_halfway)
        .expect("register");
    data
}

fn initial() -> Migration {
    Migration {
        app: APP.into(),
        name: "0001_initial".into(),
        dependencies: vec![],
        operations: vec![Operation::CreateModel {
            schema: Article::schema(),
        }],
    }
}

/// `0002_data` with `operations` written as a migration file would be.
fn second(operations: &str) -> Migration {
    serde_json::from_str(&format!(
        r#"{{"app": "{APP}", "name": "0002_data", "operations": [{operations}]}}"#
    ))
    .expect("migration JSON")
}

async fn migrate(
    db: &Database,
    set: &MigrationSet,
    data: &DataMigrations,
    target: Target,
) -> Result<(), MigrationError> {
    let applied = executor::applied(db).await?;
    let plan = executor::plan(set, &applied, &target)?;
    executor::migrate_with(db, set, &plan, data, false, |_| {}).await
}

async fn applied_names(db: &Database) -> Vec<String> {
    let mut names: Vec<String> = executor::applied(db)
        .await
        .expect("recorder")
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    names.sort();
    names
}

async fn slugs(db: &Database) -> Vec<Option<String>> {
    Article::objects()
        .order_by(Article::id.asc())
        .all(db)
        .await
        .expect("articles")
        .into_iter()
        .map(|a| a.slug)
        .collect()
}

/// Applies 0001 and adds two articles without slugs.
async fn seeded(db: &Database, set: &MigrationSet) {
    migrate(
        db,
        set,
        &DataMigrations::default(),
        Target::Migration(APP.into(), "0001_initial".into()),
    )
    .await
    .expect("apply 0001");
    for title in ["Hello World", "Second Post"] {
        Article {
            id: Auto::default(),
            title: title.into(),
            slug: None,
        }
        .save(db)
        .await
        .expect("seed");
    }
}

#[test]
fn run_rust_is_described_and_round_trips_through_json() {
    let m = second(r#"{"op": "run_rust", "function": "fill_slugs"}"#);
    let op = &m.operations[0];
    assert_eq!(op.describe(), "Run Rust function fill_slugs");
    assert_eq!(
        *op,
        Operation::RunRust {
            function: "fill_slugs".into(),
            reverse: None
        }
    );
    // No `reverse` key is written when there is none.
    assert!(!m.to_json().contains("reverse"), "{}", m.to_json());
    let back: Migration = serde_json::from_str(&m.to_json()).expect("parse");
    assert_eq!(back, m);
}

#[test]
fn sqlmigrate_shows_the_function_between_the_statements() {
    let set = MigrationSet::new(vec![
        initial(),
        second(
            r#"{"op": "run_sql", "sqlite": ["SELECT 1"], "postgres": ["SELECT 1"], "reverse_sqlite": [], "reverse_postgres": []},
               {"op": "run_rust", "function": "fill_slugs", "reverse": "clear_slugs"},
               {"op": "run_sql", "sqlite": ["SELECT 2"], "postgres": ["SELECT 2"], "reverse_sqlite": ["SELECT 3"], "reverse_postgres": ["SELECT 3"]}"#,
        ),
    ])
    .expect("set");
    let m = set.find(APP, "0002").expect("0002");
    for backend in [
        manouche::db::Backend::Sqlite,
        manouche::db::Backend::Postgres,
    ] {
        let lines: Vec<String> = executor::steps_for(&set, backend, m, false)
            .expect("forwards")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "SELECT 1;",
                "-- Rust function mt_rust.fill_slugs (not SQL)",
                "SELECT 2;"
            ]
        );
        let back = executor::steps_for(&set, backend, m, true).expect("backwards");
        assert_eq!(
            back,
            [
                Step::Sql("SELECT 3".into()),
                Step::RunRust {
                    app: APP.into(),
                    function: "clear_slugs".into()
                }
            ]
        );
    }
    // Without a reverse, `sqlmigrate --backwards` says why it cannot.
    let set = MigrationSet::new(vec![
        initial(),
        second(r#"{"op": "run_rust", "function": "fill_slugs"}"#),
    ])
    .expect("set");
    let m = set.find(APP, "0002").expect("0002");
    let err = executor::steps_for(&set, manouche::db::Backend::Sqlite, m, true)
        .expect_err("irreversible");
    assert!(
        matches!(err, MigrationError::Irreversible { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("fill_slugs has no reverse"),
        "{err}"
    );
}

#[tokio::test]
async fn a_function_fills_rows_and_its_reverse_undoes_it() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![
            initial(),
            second(r#"{"op": "run_rust", "function": "fill_slugs", "reverse": "clear_slugs"}"#),
        ])
        .expect("set");
        seeded(&db, &set).await;
        assert_eq!(slugs(&db).await, [None, None]);

        migrate(&db, &set, &functions(), Target::All)
            .await
            .expect("migrate");
        assert_eq!(
            slugs(&db).await,
            [Some("hello-world".into()), Some("second-post".into())]
        );
        assert_eq!(applied_names(&db).await, ["0001_initial", "0002_data"]);

        migrate(
            &db,
            &set,
            &functions(),
            Target::Migration(APP.into(), "0001".into()),
        )
        .await
        .expect("migrate");
        assert_eq!(slugs(&db).await, [None, None]);
        assert_eq!(applied_names(&db).await, ["0001_initial"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_failing_function_rolls_the_whole_migration_back() {
    for (function, reason) in [
        ("fail_halfway", "3 articles have no author; fix them first"),
        ("panic_halfway", "panicked: unexpected article"),
    ] {
        for_each_database(|db| async move {
            // A column is added before the function runs: it must go too.
            let set = MigrationSet::new(vec![
                initial(),
                second(&format!(
                    r#"{{"op": "add_field", "model": "Article",
                        "column": {{"name": "extra", "sql_type": "Integer", "nullable": true,
                                    "primary_key": false, "auto": false, "max_length": null,
                                    "decimal": null, "unique": false, "db_index": false,
                                    "default": null}}}},
                       {{"op": "run_rust", "function": "{function}"}}"#
                )),
            ])
            .expect("set");
            seeded(&db, &set).await;
            let err = migrate(&db, &set, &functions(), Target::All)
                .await
                .expect_err("the function fails");
            let text = err.to_string();
            assert!(
                matches!(err, MigrationError::DataMigration { .. }),
                "{err:?}"
            );
            assert!(text.contains("mt_rust.0002_data"), "{text}");
            assert!(text.contains(function), "{text}");
            assert!(text.contains(reason), "{text}");
            assert!(text.contains("rolled back"), "{text}");

            assert_eq!(applied_names(&db).await, ["0001_initial"]);
            assert_eq!(slugs(&db).await, [None, None], "the function's row is gone");
            assert!(
                db.fetch_all(Statement::raw("SELECT extra FROM mt_rust_article"))
                    .await
                    .is_err(),
                "the column added before the function is gone"
            );
            // The connection went back to the pool in a usable state: the
            // migration applies once the function is fixed.
            let fixed = MigrationSet::new(vec![
                initial(),
                second(r#"{"op": "run_rust", "function": "fill_slugs"}"#),
            ])
            .expect("set");
            migrate(&db, &fixed, &functions(), Target::All)
                .await
                .expect("migrate");
            assert_eq!(applied_names(&db).await, ["0001_initial", "0002_data"]);
            Ok(())
        })
        .await;
    }
}

#[tokio::test]
async fn an_unknown_function_is_refused_before_anything_runs() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![
            initial(),
            second(r#"{"op": "run_rust", "function": "fill_slug"}"#),
        ])
        .expect("set");
        let err = migrate(&db, &set, &functions(), Target::All)
            .await
            .expect_err("unknown function");
        let text = err.to_string();
        assert!(
            matches!(err, MigrationError::UnknownDataMigration { .. }),
            "{err:?}"
        );
        for part in [
            "mt_rust.0002_data",
            "\"fill_slug\"",
            "app \"mt_rust\"",
            "fill_slugs",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
        // Not even 0001, which comes first in the plan, was applied.
        assert_eq!(applied_names(&db).await, Vec::<String>::new());
        assert!(Article::objects().count(&db).await.is_err(), "no table");

        // Without any registry (the plain `migrate`), the same.
        let applied = executor::applied(&db).await.expect("migrate");
        let plan = executor::plan(&set, &applied, &Target::All).expect("plan");
        let err = executor::migrate(&db, &set, &plan, false, |_| {})
            .await
            .expect_err("nothing registered");
        assert!(err.to_string().contains("registers: none"), "{err}");
        // `--fake` runs nothing, so it needs no function.
        executor::migrate(&db, &set, &plan, true, |_| {})
            .await
            .expect("migrate");
        assert_eq!(applied_names(&db).await, ["0001_initial", "0002_data"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn without_a_reverse_unapplying_fails_before_anything_runs() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![
            initial(),
            second(r#"{"op": "run_rust", "function": "fill_slugs"}"#),
        ])
        .expect("set");
        seeded(&db, &set).await;
        migrate(&db, &set, &functions(), Target::All)
            .await
            .expect("migrate");
        let err = migrate(&db, &set, &functions(), Target::Zero(APP.into()))
            .await
            .expect_err("irreversible");
        assert!(
            matches!(err, MigrationError::Irreversible { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("mt_rust.0002_data"), "{text}");
        assert!(text.contains("fill_slugs has no reverse"), "{text}");
        assert_eq!(applied_names(&db).await, ["0001_initial", "0002_data"]);
        assert_eq!(slugs(&db).await.len(), 2, "the table is still there");
        Ok(())
    })
    .await;
}

#[test]
fn an_app_registering_a_name_twice_is_refused() {
    let project = Project::new(Settings::default()).app(
        App::new("blog")
            .data_migration("fill", fill_slugs)
            .data_migration("fill", clear_slugs),
    );
    let err = project.data_migrations().expect_err("duplicate");
    assert!(
        err.to_string()
            .contains("two data migration functions named \"fill\""),
        "{err}"
    );

    let project = Project::new(Settings::default())
        .app(App::new("blog").data_migration("fill", fill_slugs))
        .app(App::new("shop").data_migration("fill", fill_slugs));
    let data = project.data_migrations().expect("one per app is fine");
    assert!(data.get("blog", "fill").is_some());
    assert!(data.get("shop", "fill").is_some());
    assert!(data.get("blog", "clear").is_none());
}
