//! Migrations never cut a value or make one up (SQLite always, PostgreSQL
//! when `DATABASE_URL` is set): a narrower `max_length` while longer values
//! exist, a column made `NOT NULL` while it holds `NULL`s, a non-null
//! column added back when unapplying its removal. Each is refused before
//! anything changes, with an error naming the table, the column and the
//! number of rows in the way, and leaves the schema, the data and the
//! recorder table exactly as they were. A value the user gives on purpose
//! (a one-off default from the questioner, a default) is used.
//!
//! A site that serves while another pool or process migrates keeps
//! working when a column's type changes under its prepared statements.

#[path = "support/migrating.rs"]
mod migrating;
use migrating::{exec, migrate, strings};

use futures_util::TryStreamExt as _;
use manouche::db::schema::{ColumnDefault, ColumnSchema};
use manouche::db::testing::{for_each_database, for_each_database_with_url};
use manouche::db::{Backend, Database, DatabaseOptions, Executor, Model, SqlType, Statement};
use manouche::migrations::autodetector::{self, Hints};
use manouche::migrations::executor::{self, Step, Target};
use manouche::migrations::questioner::Questioner;
use manouche::migrations::{
    Migration, MigrationError, MigrationSet, Operation, RowCheck, RowProblem,
};

const APP: &str = "ds";
const TABLE: &str = "ds_note";

pub mod v1 {
    use manouche::db::{Auto, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "ds", table = "ds_note")]
    pub struct Note {
        pub id: Auto<i64>,
        #[model(max_length = 20)]
        pub title: String,
        pub stars: Option<i32>,
        pub rating: i32,
    }
}

pub mod v2 {
    use manouche::db::{Auto, Model};

    /// `stars` became non-null, without a default.
    #[derive(Debug, Clone, Model)]
    #[model(app = "ds", table = "ds_note")]
    pub struct Note {
        pub id: Auto<i64>,
        #[model(max_length = 20)]
        pub title: String,
        pub stars: i32,
        pub rating: i32,
    }
}

fn initial() -> Migration {
    let mut new = autodetector::detect(
        &MigrationSet::default(),
        &[v1::Note::schema()],
        &[APP.to_owned()],
        &Hints::default(),
    )
    .expect("initial migration");
    assert_eq!(new.len(), 1);
    new.remove(0)
}

fn step(operations: Vec<Operation>) -> Migration {
    Migration {
        app: APP.into(),
        name: "0002_step".into(),
        dependencies: vec![(APP.into(), "0001_initial".into())],
        operations,
    }
}

/// A column of the initial `Note`, changed by `change`.
fn note_column(name: &str, change: impl FnOnce(&mut ColumnSchema)) -> ColumnSchema {
    let mut column = v1::Note::schema()
        .table
        .column(name)
        .cloned()
        .expect("note column");
    change(&mut column);
    column
}

fn alter(column: ColumnSchema) -> Operation {
    Operation::AlterField {
        model: "Note".into(),
        column,
        foreign_key: None,
        fill: None,
    }
}

fn to_0001() -> Target {
    Target::Migration(APP.into(), "0001_initial".into())
}

/// The table's definition as the database reports it: columns with type,
/// length, nullability and default (PostgreSQL), or the `CREATE`
/// statements of the table and its indexes (SQLite).
async fn schema_of(db: &Database) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "SELECT column_name || ' ' || data_type || ' ' || \
             COALESCE(character_maximum_length::text, '-') || ' ' || is_nullable || ' ' || \
             COALESCE(column_default, '-') FROM information_schema.columns \
             WHERE table_name = '{TABLE}' ORDER BY ordinal_position"
        ),
        _ => format!(
            "SELECT COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = '{TABLE}' ORDER BY name"
        ),
    };
    strings(db, &sql).await
}

/// Every row, every value (`NULL` spelled out), by id.
async fn data(db: &Database, columns: &[&str]) -> Vec<String> {
    let values: Vec<String> = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), 'NULL')"))
        .collect();
    let sql = format!(
        "SELECT CAST(id AS TEXT) || '|' || {} FROM {TABLE} ORDER BY id",
        values.join(" || '|' || ")
    );
    strings(db, &sql).await
}

async fn applied_names(db: &Database) -> Vec<String> {
    let mut names: Vec<String> = executor::applied(db)
        .await
        .expect("recorder")
        .into_iter()
        .map(|(a, n)| format!("{a}.{n}"))
        .collect();
    names.sort();
    names
}

/// Everything a refused migration must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    schema: Vec<String>,
    data: Vec<String>,
    applied: Vec<String>,
}

async fn snapshot(db: &Database, columns: &[&str]) -> Snapshot {
    Snapshot {
        schema: schema_of(db).await,
        data: data(db, columns).await,
        applied: applied_names(db).await,
    }
}

/// Applies 0001 and inserts `rows` (`(title, stars, rating)`, `stars` as
/// SQL).
async fn seeded(db: &Database, extra: Migration, rows: &[(&str, &str, i32)]) -> MigrationSet {
    let set = MigrationSet::new(vec![initial(), extra]).expect("set");
    migrate(db, &set, to_0001()).await.expect("migrate 0001");
    for (title, stars, rating) in rows {
        let title = title.replace('\'', "''");
        exec(
            db,
            &format!(
                "INSERT INTO {TABLE} (title, stars, rating) VALUES ('{title}', {stars}, {rating})"
            ),
        )
        .await
        .expect("seed");
    }
    set
}

/// The refusal: a `RowsBlock` for `table.column`, `problem`, `rows`, whose
/// text names them.
fn assert_refused(
    err: &MigrationError,
    column: &str,
    problem: RowProblem,
    rows: u64,
    phrase: &str,
) {
    let text = err.to_string();
    match err {
        MigrationError::RowsBlock {
            migration,
            check,
            rows: counted,
        } => {
            assert_eq!(migration, "ds.0002_step", "{text}");
            assert_eq!(check, &RowCheck::new(TABLE, column, problem), "{text}");
            assert_eq!(*counted, rows, "{text}");
        }
        other => panic!("expected RowsBlock, got {other:?}: {text}"),
    }
    assert!(
        text.contains(&format!(r#"table "{TABLE}", column "{column}": {phrase}"#)),
        "{text}"
    );
    assert!(text.contains("rolled back"), "{text}");
}

const TWENTY: &str = "twenty characters!!!";

#[tokio::test]
async fn narrowing_max_length_refuses_values_that_do_not_fit() {
    for_each_database(|db| async move {
        let five = note_column("title", |c| c.max_length = Some(5));
        // 'héllo' is five characters in six bytes: it fits.
        let rows = [(TWENTY, "1", 1), ("héllo", "2", 2), ("sixsix", "NULL", 3)];
        let set = seeded(&db, step(vec![alter(five)]), &rows).await;
        let before = snapshot(&db, &["title", "stars", "rating"]).await;
        assert_eq!(before.data[0], format!("1|{TWENTY}|1|1"));

        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        assert_refused(
            &err,
            "title",
            RowProblem::TooLong { max_length: 5 },
            2,
            "2 rows are longer than 5 characters",
        );
        assert_eq!(snapshot(&db, &["title", "stars", "rating"]).await, before);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn narrowing_max_length_keeps_every_value_that_fits() {
    for_each_database(|db| async move {
        let six = note_column("title", |c| c.max_length = Some(6));
        let rows = [("héllo", "1", 1), ("sixsix", "NULL", 2)];
        let set = seeded(&db, step(vec![alter(six)]), &rows).await;
        let before = data(&db, &["title", "stars", "rating"]).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert_eq!(data(&db, &["title", "stars", "rating"]).await, before);
        if db.backend() == Backend::Postgres {
            // The new length is the database's own limit now.
            let err = exec(
                &db,
                &format!("INSERT INTO {TABLE} (title, rating) VALUES ('seven!!', 1)"),
            )
            .await;
            assert!(err.is_err(), "{err:?}");
        }
        // Widening back (unapplying) keeps them too, and accepts long ones.
        migrate(&db, &set, to_0001()).await.expect("unapply");
        assert_eq!(data(&db, &["title", "stars", "rating"]).await, before);
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('{TWENTY}', 3)"),
        )
        .await
        .expect("twenty characters fit again");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unlimited_text_to_max_length_refuses_values_that_do_not_fit() {
    for_each_database(|db| async move {
        // 0002 lifts the limit, 0003 sets one of 5: TEXT → VARCHAR(5).
        let unlimited = note_column("title", |c| c.max_length = None);
        let five = note_column("title", |c| c.max_length = Some(5));
        let set = MigrationSet::new(vec![
            initial(),
            step(vec![alter(unlimited)]),
            Migration {
                name: "0003_five".into(),
                dependencies: vec![(APP.into(), "0002_step".into())],
                ..step(vec![alter(five)])
            },
        ])
        .expect("set");
        migrate(&db, &set, Target::Migration(APP.into(), "0002_step".into()))
            .await
            .expect("0002");
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('{TWENTY} and more', 1)"),
        )
        .await
        .expect("seed");
        let before = snapshot(&db, &["title"]).await;
        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains(r#"table "ds_note", column "title": 1 row is longer than 5 characters"#),
            "{text}"
        );
        assert!(text.contains("ds.0003_five"), "{text}");
        assert_eq!(snapshot(&db, &["title"]).await, before);
        Ok(())
    })
    .await;
}

#[test]
fn postgres_changes_a_length_without_a_truncating_cast() {
    let five = note_column("title", |c| c.max_length = Some(5));
    let set = MigrationSet::new(vec![initial(), step(vec![alter(five)])]).expect("set");
    let m = set.find(APP, "0002_step").expect("0002");
    let sql = executor::sql_for(&set, Backend::Postgres, m, false).expect("sql");
    let alter = sql
        .iter()
        .find(|s| s.contains("TYPE"))
        .expect("a type change");
    assert_eq!(
        alter,
        r#"ALTER TABLE "ds_note" ALTER COLUMN "title" TYPE VARCHAR(5)"#
    );
    // The check comes first, and `sqlmigrate` shows it.
    let steps = executor::steps_for(&set, Backend::Sqlite, m, false).expect("steps");
    assert!(
        matches!(&steps[0], Step::Check { check, .. }
            if check == &RowCheck::new(TABLE, "title", RowProblem::TooLong { max_length: 5 })),
        "{steps:?}"
    );
    assert_eq!(
        steps[0].to_string(),
        r#"-- refused unless 0: SELECT COUNT(*) FROM "ds_note" WHERE LENGTH(CAST("title" AS TEXT)) > (5)"#
    );
}

#[tokio::test]
async fn narrowing_an_integer_type_refuses_values_out_of_its_range() {
    for_each_database(|db| async move {
        // 0002 widens rating to BIGINT; unapplying it narrows it back.
        let big = note_column("rating", |c| c.sql_type = SqlType::BigInt);
        let set = seeded(&db, step(vec![alter(big)]), &[("a", "1", 5)]).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        exec(
            &db,
            &format!(
                "INSERT INTO {TABLE} (title, rating) VALUES ('b', 3000000000), ('c', -2147483648)"
            ),
        )
        .await
        .expect("a value only BIGINT holds");
        let before = snapshot(&db, &["title", "stars", "rating"]).await;
        let err = migrate(&db, &set, to_0001()).await.expect_err("refused");
        assert_refused(
            &err,
            "rating",
            RowProblem::OutOfRange {
                min: i32::MIN.into(),
                max: i32::MAX.into(),
            },
            1,
            "1 row is outside the range of the new integer type (-2147483648 to 2147483647)",
        );
        assert_eq!(snapshot(&db, &["title", "stars", "rating"]).await, before);

        // Values in range (the smallest included) go back to INTEGER.
        exec(&db, &format!("DELETE FROM {TABLE} WHERE title = 'b'"))
            .await
            .expect("delete");
        migrate(&db, &set, to_0001()).await.expect("unapply");
        assert_eq!(
            data(&db, &["title", "rating"]).await,
            ["1|a|5", "3|c|-2147483648"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn not_null_without_default_refuses_null_rows() {
    for_each_database(|db| async move {
        let stars = note_column("stars", |c| c.nullable = false);
        let rows = [("a", "NULL", 1), ("b", "4", 2), ("c", "NULL", 3)];
        let set = seeded(&db, step(vec![alter(stars)]), &rows).await;
        let before = snapshot(&db, &["title", "stars", "rating"]).await;
        assert_eq!(before.data, ["1|a|NULL|1", "2|b|4|2", "3|c|NULL|3"]);
        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        assert_refused(&err, "stars", RowProblem::Null, 2, "2 rows are NULL");
        assert_eq!(snapshot(&db, &["title", "stars", "rating"]).await, before);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn not_null_with_the_questioners_one_off_default_fills_only_the_nulls() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![initial()]).expect("set");
        // `makemigrations` asks for a value for the existing NULLs.
        let mut output = Vec::new();
        let mut hints = Hints::default();
        let new = Questioner::new(&b"1\n7\n"[..], &mut output)
            .detect(&set, &[v2::Note::schema()], &[APP.into()], &mut hints)
            .expect("detect")
            .expect("not quit");
        let asked = String::from_utf8(output).expect("utf-8");
        assert!(asked.contains("ds.Note.stars"), "{asked}");
        assert!(
            matches!(
                &new[0].operations[..],
                [Operation::AlterField {
                    fill: Some(ColumnDefault::Int(7)),
                    ..
                }]
            ),
            "{:?}",
            new[0].operations
        );
        let set = seeded(
            &db,
            Migration {
                name: "0002_step".into(),
                ..new[0].clone()
            },
            &[("a", "NULL", 1), ("b", "4", 2)],
        )
        .await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert_eq!(
            data(&db, &["title", "stars", "rating"]).await,
            ["1|a|7|1", "2|b|4|2"]
        );
        // The one-off value is not a default for new rows.
        let err = exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('c', 3)"),
        )
        .await;
        assert!(
            matches!(err, Err(manouche::db::Error::NotNullViolation { .. })),
            "{err:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unapplying_make_nullable_refuses_null_rows() {
    for_each_database(|db| async move {
        let nullable = note_column("rating", |c| c.nullable = true);
        let set = seeded(&db, step(vec![alter(nullable)]), &[("a", "1", 5)]).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('b', NULL)"),
        )
        .await
        .expect("rating is nullable now");
        let before = snapshot(&db, &["title", "stars", "rating"]).await;
        assert_eq!(before.data, ["1|a|1|5", "2|b|NULL|NULL"]);
        assert_eq!(before.applied, ["ds.0001_initial", "ds.0002_step"]);

        let err = migrate(&db, &set, to_0001()).await.expect_err("refused");
        assert_refused(&err, "rating", RowProblem::Null, 1, "1 row is NULL");
        assert_eq!(snapshot(&db, &["title", "stars", "rating"]).await, before);

        // Once the rows have a value, it unapplies and keeps them.
        exec(
            &db,
            &format!("UPDATE {TABLE} SET rating = 9 WHERE rating IS NULL"),
        )
        .await
        .expect("give a value");
        migrate(&db, &set, to_0001()).await.expect("unapply");
        assert_eq!(
            data(&db, &["title", "stars", "rating"]).await,
            ["1|a|1|5", "2|b|NULL|9"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unapplying_remove_field_of_a_non_null_field_refuses_existing_rows() {
    for_each_database(|db| async move {
        let remove = Operation::RemoveField {
            model: "Note".into(),
            column: "rating".into(),
        };
        let rows = [("a", "1", 5), ("b", "NULL", 6)];
        let set = seeded(&db, step(vec![remove]), &rows).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        let before = snapshot(&db, &["title", "stars"]).await;
        assert_eq!(before.data, ["1|a|1", "2|b|NULL"]);

        let err = migrate(&db, &set, to_0001()).await.expect_err("refused");
        assert_refused(
            &err,
            "rating",
            RowProblem::NoValue,
            2,
            "2 rows would have no value",
        );
        assert_eq!(snapshot(&db, &["title", "stars"]).await, before);

        // Without rows there is nothing to make up: it unapplies.
        exec(&db, &format!("DELETE FROM {TABLE}"))
            .await
            .expect("empty the table");
        migrate(&db, &set, to_0001()).await.expect("unapply");
        assert_eq!(applied_names(&db).await, ["ds.0001_initial"]);
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('c', 3)"),
        )
        .await
        .expect("rating is back");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unapplying_remove_field_with_a_default_gives_rows_the_default() {
    for_each_database(|db| async move {
        // 0002 gives rating a default, 0003 removes it.
        let defaulted = note_column("rating", |c| c.default = Some(ColumnDefault::Int(3)));
        let set = MigrationSet::new(vec![
            initial(),
            step(vec![alter(defaulted)]),
            Migration {
                name: "0003_remove".into(),
                dependencies: vec![(APP.into(), "0002_step".into())],
                ..step(vec![Operation::RemoveField {
                    model: "Note".into(),
                    column: "rating".into(),
                }])
            },
        ])
        .expect("set");
        migrate(&db, &set, Target::All).await.expect("apply");
        exec(&db, &format!("INSERT INTO {TABLE} (title) VALUES ('a')"))
            .await
            .expect("seed");
        migrate(&db, &set, Target::Migration(APP.into(), "0002_step".into()))
            .await
            .expect("unapply 0003");
        assert_eq!(data(&db, &["title", "rating"]).await, ["1|a|3"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn add_non_null_field_without_a_value_refuses_existing_rows() {
    for_each_database(|db| async move {
        let add = Operation::AddField {
            model: "Note".into(),
            column: ColumnSchema {
                name: "edition".into(),
                sql_type: SqlType::String,
                nullable: false,
                primary_key: false,
                auto: false,
                max_length: None,
                decimal: None,
                unique: false,
                db_index: false,
                default: None,
            },
            foreign_key: None,
            fill: None,
        };
        let set = seeded(&db, step(vec![add]), &[("a", "1", 1)]).await;
        let before = snapshot(&db, &["title", "stars", "rating"]).await;
        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        assert_refused(
            &err,
            "edition",
            RowProblem::NoValue,
            1,
            "1 row would have no value",
        );
        assert_eq!(snapshot(&db, &["title", "stars", "rating"]).await, before);
        Ok(())
    })
    .await;
}

/// The titles, read through the ORM with a bound value (a prepared
/// statement the connection keeps).
async fn orm_titles(db: &dyn Executor) -> Result<Vec<String>, manouche::db::Error> {
    Ok(v1::Note::objects()
        .filter(v1::Note::rating.gt(0))
        .order_by(v1::Note::id.asc())
        .all(db)
        .await?
        .into_iter()
        .map(|n| n.title)
        .collect())
}

async fn exec_in(tx: &dyn Executor, sql: &str) -> Result<u64, manouche::db::Error> {
    tx.execute(Statement::raw(sql)).await
}

/// 0001, and 0002 widening `title` from `VARCHAR(20)` to `TEXT`: the type
/// of a column the queries return changes.
fn widening_set() -> MigrationSet {
    let text = note_column("title", |c| c.max_length = None);
    MigrationSet::new(vec![initial(), step(vec![alter(text)])]).expect("set")
}

#[tokio::test]
async fn a_serving_pool_survives_a_column_type_change_made_by_another_pool() {
    for_each_database_with_url(|db, url| async move {
        let set = widening_set();
        migrate(&db, &set, to_0001()).await.expect("0001");
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('a', 1), ('b', 2)"),
        )
        .await?;
        let mut options = DatabaseOptions::default();
        options.max_connections = 1;
        let serving = Database::connect(&url, &options).await?;
        let raw = || Statement::raw(format!("SELECT title FROM {TABLE} ORDER BY id"));
        for _ in 0..2 {
            assert_eq!(orm_titles(&serving).await?, ["a", "b"]);
            assert_eq!(serving.fetch_all(raw()).await?.len(), 2);
        }

        migrate(&db, &set, Target::All).await.expect("0002");
        // The same connection, its statements prepared before the change;
        // a stream prepares its statement again too.
        let streamed: Vec<_> = serving.fetch_stream(raw()).try_collect().await?;
        assert_eq!(streamed.len(), 2);
        assert_eq!(orm_titles(&serving).await?, ["a", "b"]);
        assert_eq!(serving.fetch_all(raw()).await?.len(), 2);
        assert_eq!(serving.pool_status().0, 1);

        // The stale statement first in a transaction: the transaction
        // starts again, nothing of it lost, and the statement runs.
        migrate(&db, &set, to_0001()).await.expect("0001");
        let tx = serving.begin().await?;
        assert_eq!(orm_titles(&tx).await?, ["a", "b"]);
        exec_in(&tx, "UPDATE ds_note SET rating = 3 WHERE id = 1").await?;
        tx.commit().await?;

        // After another statement, PostgreSQL has aborted the transaction:
        // that statement fails, once; the next transaction prepares afresh.
        migrate(&db, &set, Target::All).await.expect("0002");
        let tx = serving.begin().await?;
        exec_in(&tx, "UPDATE ds_note SET rating = 4 WHERE id = 2").await?;
        match (db.backend(), orm_titles(&tx).await) {
            (Backend::Postgres, Err(e)) => {
                assert!(e.to_string().contains("cached plan"), "{e}");
                tx.rollback().await?;
            }
            (Backend::Sqlite, Ok(titles)) => {
                assert_eq!(titles, ["a", "b"]);
                tx.rollback().await?;
            }
            (backend, other) => panic!("{backend:?}: {other:?}"),
        }
        let tx = serving.begin().await?;
        assert_eq!(orm_titles(&tx).await?, ["a", "b"]);
        tx.commit().await?;
        assert_eq!(orm_titles(&serving).await?, ["a", "b"]);
        assert_eq!(data(&db, &["rating"]).await, ["1|3", "2|2"]);
        serving.close().await;
        Ok(())
    })
    .await;
}

/// The environment variable that makes
/// [`migrate_from_another_process`] run: the database's URL.
const MIGRATE_URL: &str = "MANOUCHE_TEST_MIGRATE_URL";

/// Not a test by itself: the other process of
/// [`a_site_serving_while_another_process_migrates_gets_no_errors`], which
/// runs this test binary again for this function alone.
#[tokio::test]
#[ignore = "run by a_site_serving_while_another_process_migrates_gets_no_errors"]
async fn migrate_from_another_process() {
    let Ok(url) = std::env::var(MIGRATE_URL) else {
        return;
    };
    let db = Database::connect(&url, &DatabaseOptions::default())
        .await
        .expect("connect");
    migrate(&db, &widening_set(), Target::All)
        .await
        .expect("migrate");
    db.close().await;
}

#[tokio::test]
async fn a_site_serving_while_another_process_migrates_gets_no_errors() {
    for_each_database_with_url(|db, url| async move {
        let set = widening_set();
        migrate(&db, &set, to_0001()).await.expect("0001");
        exec(
            &db,
            &format!("INSERT INTO {TABLE} (title, rating) VALUES ('a', 1), ('b', 2)"),
        )
        .await?;
        // Four readers on the pool's connections, until the migration is
        // done and each has read a few more times.
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (db, done) = (db.clone(), done.clone());
                tokio::spawn(async move {
                    let (mut reads, mut after) = (0_u32, 0_u32);
                    while after < 20 {
                        if done.load(std::sync::atomic::Ordering::SeqCst) {
                            after += 1;
                        }
                        orm_titles(&db).await?;
                        reads += 1;
                        tokio::task::yield_now().await;
                    }
                    Ok::<_, manouche::db::Error>(reads)
                })
            })
            .collect();

        let exe = std::env::current_exe().expect("test binary");
        let other = tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args(["--ignored", "--exact", "migrate_from_another_process"])
                .env(MIGRATE_URL, url)
                .output()
        })
        .await
        .expect("join")
        .expect("run the other process");
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let stdout = String::from_utf8_lossy(&other.stdout);
        assert!(
            other.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&other.stderr)
        );

        for reader in readers {
            let reads = reader.await.expect("reader")?;
            assert!(reads >= 20, "{reads}");
        }
        assert_eq!(
            applied_names(&db).await,
            ["ds.0001_initial", "ds.0002_step"]
        );
        assert_eq!(orm_titles(&db).await?, ["a", "b"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_migration_behind_a_long_transaction_gives_up_instead_of_queueing() {
    for_each_database(|db| async move {
        // SQLite's `BEGIN IMMEDIATE` already fails after its busy timeout.
        if db.backend() != Backend::Postgres {
            return Ok(());
        }
        let defaulted = note_column("rating", |c| c.default = Some(ColumnDefault::Int(3)));
        let set = seeded(&db, step(vec![alter(defaulted)]), &[("a", "1", 1)]).await;
        // A transaction that read the table and stays open: the ALTER
        // TABLE cannot take its lock until it ends.
        let reader = db.begin().await?;
        exec_in(&reader, &format!("SELECT COUNT(*) FROM {TABLE}")).await?;
        let before = snapshot(&db, &["title", "rating"]).await;
        let started = std::time::Instant::now();
        let err = migrate(&db, &set, Target::All)
            .await
            .expect_err("gave up waiting");
        let waited = started.elapsed();
        assert!(
            waited >= executor::LOCK_TIMEOUT && waited < executor::LOCK_TIMEOUT * 2,
            "waited {waited:?}"
        );
        let text = err.to_string();
        assert!(
            matches!(
                err,
                MigrationError::Statement {
                    source: manouche::db::Error::LockTimeout { .. },
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains("rolled back"), "{text}");
        assert!(text.contains("pg_stat_activity"), "{text}");
        assert_eq!(snapshot(&db, &["title", "rating"]).await, before);
        reader.rollback().await?;
        migrate(&db, &set, Target::All)
            .await
            .expect("applies once free");
        assert_eq!(applied_names(&db).await.len(), 2);
        Ok(())
    })
    .await;
}
