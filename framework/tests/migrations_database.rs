//! Migrations against real databases (SQLite always, PostgreSQL when
//! `DATABASE_URL` is set): every operation applied and reversed, data kept
//! through table changes, failures rolled back.

#[path = "support/migrating.rs"]
mod migrating;
use migrating::{exec, migrate, strings};

use manouche::db::schema::{ColumnDefault, ColumnSchema, IndexSchema, TableSchema};
use manouche::db::testing::for_each_database;
use manouche::db::{Auto, Backend, Database, ForeignKey, Model, SqlType};
use manouche::migrations::autodetector::{self, Hints};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{Migration, MigrationError, MigrationSet, Operation};

const APP: &str = "mt_db";

#[derive(Debug, Clone, Model)]
#[model(app = "mt_db", table = "mt_author")]
pub struct Author {
    pub id: Auto<i64>,
    #[model(max_length = 50)]
    pub name: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_db", table = "mt_book")]
pub struct Book {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    pub pages: Option<i32>,
    pub author: ForeignKey<Author>,
}

fn initial() -> Migration {
    let apps = vec![APP.to_owned()];
    let mut new = autodetector::detect(
        &MigrationSet::default(),
        &[Author::schema(), Book::schema()],
        &apps,
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

fn column(name: &str, ty: SqlType, nullable: bool) -> ColumnSchema {
    ColumnSchema {
        name: name.into(),
        sql_type: ty,
        nullable,
        primary_key: false,
        auto: false,
        max_length: None,
        decimal: None,
        unique: false,
        db_index: false,
        default: None,
    }
}

fn book_column(name: &str) -> ColumnSchema {
    Book::schema()
        .table
        .column(name)
        .cloned()
        .expect("book column")
}

async fn columns(db: &Database, table: &str) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = '{table}' \
             ORDER BY ordinal_position"
        ),
        _ => format!("SELECT name FROM pragma_table_info('{table}')"),
    };
    strings(db, &sql).await
}

async fn tables(db: &Database) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Postgres => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    strings(db, sql).await
}

async fn index_exists(db: &Database, name: &str) -> bool {
    let sql = match db.backend() {
        Backend::Postgres => {
            format!("SELECT indexname::text FROM pg_indexes WHERE indexname = '{name}'")
        }
        _ => format!("SELECT name FROM sqlite_master WHERE type = 'index' AND name = '{name}'"),
    };
    !strings(db, &sql).await.is_empty()
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

/// Applies 0001 and seeds two authors and three books.
async fn seeded(db: &Database, extra: Migration) -> MigrationSet {
    let set = MigrationSet::new(vec![initial(), extra]).expect("set");
    migrate(
        db,
        &set,
        Target::Migration(APP.into(), "0001_initial".into()),
    )
    .await
    .expect("migrate 0001");
    for sql in [
        "INSERT INTO mt_author (name) VALUES ('Ada')",
        "INSERT INTO mt_author (name) VALUES ('Grace')",
        "INSERT INTO mt_book (title, pages, author_id) VALUES ('Notes', 10, 1)",
        "INSERT INTO mt_book (title, pages, author_id) VALUES ('Compilers', NULL, 2)",
        "INSERT INTO mt_book (title, pages, author_id) VALUES ('Engines', 30, 1)",
    ] {
        exec(db, sql).await.expect("seed");
    }
    set
}

async fn titles(db: &Database, table: &str, column: &str) -> Vec<String> {
    strings(db, &format!("SELECT {column} FROM {table} ORDER BY id")).await
}

/// Applies `op` on the seeded database, checks with `after`, unapplies it,
/// checks with `before`; the rows survive both ways; `zero` removes all.
async fn round_trip<A, B>(db: Database, op: Operation, after: A, before: B)
where
    A: AsyncFn(&Database),
    B: AsyncFn(&Database),
{
    let set = seeded(&db, step(vec![op])).await;
    before(&db).await;
    migrate(&db, &set, Target::All).await.expect("apply step");
    assert_eq!(
        applied_names(&db).await,
        ["mt_db.0001_initial", "mt_db.0002_step"]
    );
    after(&db).await;
    assert_eq!(
        strings(&db, "SELECT name FROM mt_author ORDER BY id").await,
        ["Ada", "Grace"]
    );
    assert_eq!(
        strings(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM mt_book").await,
        ["3"],
        "books survive the change"
    );
    migrate(&db, &set, Target::Migration(APP.into(), "0001".into()))
        .await
        .expect("unapply step");
    assert_eq!(applied_names(&db).await, ["mt_db.0001_initial"]);
    before(&db).await;
    assert_eq!(
        titles(&db, "mt_book", "title").await,
        ["Notes", "Compilers", "Engines"]
    );
    migrate(&db, &set, Target::Zero(APP.into()))
        .await
        .expect("zero");
    assert!(applied_names(&db).await.is_empty());
    let left = tables(&db).await;
    assert!(
        !left.iter().any(|t| t.starts_with("mt_")),
        "tables left: {left:?}"
    );
}

#[tokio::test]
async fn add_nullable_field_round_trips() {
    for_each_database(|db| async move {
        let op = Operation::AddField {
            model: "Book".into(),
            column: column("isbn", SqlType::String, true),
            foreign_key: None,
            fill: None,
        };
        round_trip(
            db,
            op,
            async |db| assert!(columns(db, "mt_book").await.contains(&"isbn".to_owned())),
            async |db| assert!(!columns(db, "mt_book").await.contains(&"isbn".to_owned())),
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn add_non_null_field_fills_existing_rows() {
    for_each_database(|db| async move {
        let op = Operation::AddField {
            model: "Book".into(),
            column: column("edition", SqlType::String, false),
            foreign_key: None,
            fill: Some(ColumnDefault::Str("first".into())),
        };
        round_trip(
            db,
            op,
            async |db| {
                assert_eq!(
                    titles(db, "mt_book", "edition").await,
                    ["first", "first", "first"]
                );
                // The fill value is not a default for new rows.
                let err = exec(db, "INSERT INTO mt_book (title, author_id) VALUES ('x', 1)").await;
                assert!(
                    matches!(err, Err(manouche::db::Error::NotNullViolation { .. })),
                    "edition is NOT NULL without default: {err:?}"
                );
            },
            async |db| assert!(!columns(db, "mt_book").await.contains(&"edition".to_owned())),
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn remove_field_round_trips() {
    for_each_database(|db| async move {
        let op = Operation::RemoveField {
            model: "Book".into(),
            column: "pages".into(),
        };
        round_trip(
            db,
            op,
            async |db| assert!(!columns(db, "mt_book").await.contains(&"pages".to_owned())),
            async |db| assert!(columns(db, "mt_book").await.contains(&"pages".to_owned())),
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn rename_field_keeps_data() {
    for_each_database(|db| async move {
        let op = Operation::RenameField {
            model: "Book".into(),
            old: "title".into(),
            new: "headline".into(),
        };
        let set = seeded(&db, step(vec![op])).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert_eq!(
            titles(&db, "mt_book", "headline").await,
            ["Notes", "Compilers", "Engines"]
        );
        assert!(!columns(&db, "mt_book").await.contains(&"title".to_owned()));
        migrate(
            &db,
            &set,
            Target::Migration(APP.into(), "0001_initial".into()),
        )
        .await
        .expect("unapply");
        assert_eq!(
            titles(&db, "mt_book", "title").await,
            ["Notes", "Compilers", "Engines"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn rename_model_keeps_data_and_foreign_keys() {
    for_each_database(|db| async move {
        let op = Operation::RenameModel {
            old: "Author".into(),
            new: "Writer".into(),
            table: "mt_writer".into(),
        };
        let set = seeded(&db, step(vec![op])).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert_eq!(titles(&db, "mt_writer", "name").await, ["Ada", "Grace"]);
        assert!(!tables(&db).await.contains(&"mt_author".to_owned()));
        // The books' foreign key follows the renamed table.
        let err = exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('x', 99)",
        )
        .await;
        assert!(
            matches!(err, Err(manouche::db::Error::ForeignKeyViolation { .. })),
            "foreign key still enforced: {err:?}"
        );
        exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('y', 2)",
        )
        .await
        .expect("insert referring to the renamed table");
        migrate(
            &db,
            &set,
            Target::Migration(APP.into(), "0001_initial".into()),
        )
        .await
        .expect("unapply");
        assert_eq!(titles(&db, "mt_author", "name").await, ["Ada", "Grace"]);
        assert_eq!(
            titles(&db, "mt_book", "title").await,
            ["Notes", "Compilers", "Engines", "y"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn alter_field_type_nullability_default_keeps_data() {
    for_each_database(|db| async move {
        // pages: Option<i32> → BIGINT NOT NULL DEFAULT 0, NULLs filled with 7.
        let mut pages = book_column("pages");
        pages.sql_type = SqlType::BigInt;
        pages.nullable = false;
        pages.default = Some(ColumnDefault::Int(0));
        let op = Operation::AlterField {
            model: "Book".into(),
            column: pages,
            foreign_key: None,
            fill: Some(ColumnDefault::Int(7)),
        };
        round_trip(
            db,
            op,
            async |db| {
                assert_eq!(
                    strings(db, "SELECT CAST(pages AS TEXT) FROM mt_book ORDER BY id").await,
                    ["10", "7", "30"]
                );
                exec(
                    db,
                    "INSERT INTO mt_book (id, title, author_id) VALUES (9, 'd', 1)",
                )
                .await
                .expect("default applies");
                assert_eq!(
                    strings(db, "SELECT CAST(pages AS TEXT) FROM mt_book WHERE id = 9").await,
                    ["0"]
                );
                let err = exec(db, "UPDATE mt_book SET pages = NULL").await;
                assert!(
                    matches!(err, Err(manouche::db::Error::NotNullViolation { .. })),
                    "{err:?}"
                );
                exec(db, "DELETE FROM mt_book WHERE id = 9")
                    .await
                    .expect("cleanup");
            },
            async |db| {
                exec(db, "UPDATE mt_book SET pages = pages WHERE pages IS NULL")
                    .await
                    .expect("nullable");
            },
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn alter_field_unique_round_trips_and_keeps_parent_children() {
    for_each_database(|db| async move {
        // Altering the *parent* table must not cascade-delete the books on
        // SQLite, where the table is rebuilt.
        let mut name = Author::schema()
            .table
            .column("name")
            .cloned()
            .expect("name");
        name.unique = true;
        name.max_length = Some(80);
        let op = Operation::AlterField {
            model: "Author".into(),
            column: name,
            foreign_key: None,
            fill: None,
        };
        round_trip(
            db,
            op,
            async |db| {
                let err = exec(db, "INSERT INTO mt_author (name) VALUES ('Ada')").await;
                assert!(
                    matches!(err, Err(manouche::db::Error::UniqueViolation { .. })),
                    "unique enforced: {err:?}"
                );
            },
            async |db| {
                exec(db, "INSERT INTO mt_author (id, name) VALUES (50, 'Ada')")
                    .await
                    .expect("not unique");
                exec(db, "DELETE FROM mt_author WHERE id = 50")
                    .await
                    .expect("cleanup");
            },
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn alter_foreign_key_on_delete_round_trips() {
    for_each_database(|db| async move {
        let mut fk = Book::schema().table.foreign_keys[0].clone();
        fk.on_delete = manouche::db::OnDelete::Restrict;
        let op = Operation::AlterField {
            model: "Book".into(),
            column: book_column("author_id"),
            foreign_key: Some(fk),
            fill: None,
        };
        round_trip(
            db,
            op,
            async |db| {
                let err = exec(db, "DELETE FROM mt_author WHERE id = 1").await;
                assert!(
                    matches!(err, Err(manouche::db::Error::ForeignKeyViolation { .. })),
                    "restricted: {err:?}"
                );
            },
            async |db| {
                // Cascade: a new author with a book goes away with the book.
                exec(db, "INSERT INTO mt_author (id, name) VALUES (70, 'Tmp')")
                    .await
                    .expect("author");
                exec(
                    db,
                    "INSERT INTO mt_book (id, title, author_id) VALUES (70, 'Tmp', 70)",
                )
                .await
                .expect("book");
                exec(db, "DELETE FROM mt_author WHERE id = 70")
                    .await
                    .expect("cascade");
                assert_eq!(
                    strings(db, "SELECT title FROM mt_book WHERE id = 70").await,
                    Vec::<String>::new()
                );
            },
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn remove_index_round_trips() {
    for_each_database(|db| async move {
        let name = Book::schema().table.indexes[0].name.clone();
        assert_eq!(name, "mt_book_author_id_idx");
        let op = Operation::RemoveIndex {
            model: "Book".into(),
            name,
        };
        round_trip(
            db,
            op,
            async |db| assert!(!index_exists(db, "mt_book_author_id_idx").await),
            async |db| assert!(index_exists(db, "mt_book_author_id_idx").await),
        )
        .await;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn index_and_constraint_round_trip() {
    for_each_database(|db| async move {
        let ops = vec![
            Operation::AddIndex {
                model: "Book".into(),
                index: IndexSchema {
                    name: "mt_book_title_idx".into(),
                    columns: vec!["title".into()],
                    unique: false,
                },
            },
            Operation::AddConstraint {
                model: "Book".into(),
                constraint: IndexSchema {
                    name: "mt_book_title_author_uniq".into(),
                    columns: vec!["title".into(), "author_id".into()],
                    unique: true,
                },
            },
        ];
        let set = seeded(&db, step(ops)).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert!(index_exists(&db, "mt_book_title_idx").await);
        let err = exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('Notes', 1)",
        )
        .await;
        assert!(
            matches!(err, Err(manouche::db::Error::UniqueViolation { .. })),
            "{err:?}"
        );
        migrate(&db, &set, Target::Migration(APP.into(), "0001".into()))
            .await
            .expect("unapply");
        assert!(!index_exists(&db, "mt_book_title_idx").await);
        exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('Notes', 1)",
        )
        .await
        .expect("constraint removed");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn join_table_and_delete_model_round_trip() {
    for_each_database(|db| async move {
        let join = TableSchema {
            name: "mt_book_readers".into(),
            columns: vec![
                ColumnSchema {
                    primary_key: true,
                    auto: true,
                    ..column("id", SqlType::BigInt, false)
                },
                column("book_id", SqlType::BigInt, false),
                column("reader", SqlType::String, false),
            ],
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
        };
        let ops = vec![
            Operation::CreateJoinTable {
                model: "Book".into(),
                table: join,
            },
            Operation::DeleteModel {
                model: "Book".into(),
            },
        ];
        let set = seeded(&db, step(ops)).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        let now = tables(&db).await;
        assert!(
            !now.contains(&"mt_book".to_owned()) && !now.contains(&"mt_book_readers".to_owned())
        );
        migrate(&db, &set, Target::Migration(APP.into(), "0001".into()))
            .await
            .expect("unapply");
        assert!(tables(&db).await.contains(&"mt_book".to_owned()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn failing_run_sql_rolls_back_schema_and_recorder() {
    for_each_database(|db| async move {
        let ops = vec![
            Operation::AddField {
                model: "Book".into(),
                column: column("isbn", SqlType::String, true),
                foreign_key: None,
                fill: None,
            },
            Operation::RunSql {
                sqlite: vec!["INSERT INTO no_such_table VALUES (1)".into()],
                postgres: vec!["INSERT INTO no_such_table VALUES (1)".into()],
                reverse_sqlite: Some(vec![]),
                reverse_postgres: Some(vec![]),
            },
        ];
        let set = seeded(&db, step(ops)).await;
        let err = migrate(&db, &set, Target::All)
            .await
            .expect_err("must fail");
        let text = err.to_string();
        assert!(text.contains("INSERT INTO no_such_table"), "{text}");
        assert!(text.contains("mt_db.0002_step"), "{text}");
        assert!(matches!(err, MigrationError::Statement { .. }));
        assert!(!columns(&db, "mt_book").await.contains(&"isbn".to_owned()));
        assert_eq!(applied_names(&db).await, ["mt_db.0001_initial"]);
        // The database is still usable, with foreign keys enforced.
        let err = exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('x', 99)",
        )
        .await;
        assert!(
            matches!(err, Err(manouche::db::Error::ForeignKeyViolation { .. })),
            "{err:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn run_sql_round_trip_and_irreversible() {
    for_each_database(|db| async move {
        let ops = vec![Operation::RunSql {
            sqlite: vec!["UPDATE mt_book SET title = 'X' WHERE id = 1".into()],
            postgres: vec!["UPDATE mt_book SET title = 'X' WHERE id = 1".into()],
            reverse_sqlite: None,
            reverse_postgres: None,
        }];
        let set = seeded(&db, step(ops)).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert_eq!(titles(&db, "mt_book", "title").await[0], "X");
        // Irreversible even behind a reversible migration: refused before
        // anything is unapplied.
        let set = MigrationSet::new(
            set.ordered()
                .iter()
                .cloned()
                .chain([Migration {
                    name: "0003_more".into(),
                    dependencies: vec![(APP.into(), "0002_step".into())],
                    ..step(vec![])
                }])
                .collect(),
        )
        .expect("set");
        migrate(&db, &set, Target::All).await.expect("apply 0003");
        let err = migrate(&db, &set, Target::Migration(APP.into(), "0001".into()))
            .await
            .expect_err("irreversible");
        assert!(matches!(err, MigrationError::Irreversible { .. }), "{err}");
        assert_eq!(
            applied_names(&db).await,
            ["mt_db.0001_initial", "mt_db.0002_step", "mt_db.0003_more"],
            "0003 (reversible) was not unapplied either"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unknown_targets_are_clear_errors() {
    for_each_database(|db| async move {
        let set = seeded(&db, step(vec![])).await;
        let applied = executor::applied(&db).await.expect("applied");
        let err = executor::plan(
            &set,
            &applied,
            &Target::Migration(APP.into(), "0042".into()),
        )
        .expect_err("unknown migration");
        assert!(err.to_string().contains("no migration mt_db.0042"), "{err}");
        let err =
            executor::plan(&set, &applied, &Target::App("nope".into())).expect_err("unknown app");
        assert!(err.to_string().contains("makemigrations nope"), "{err}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn fake_records_without_running() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![initial()]).expect("set");
        let plan = executor::plan(&set, &Default::default(), &Target::All).expect("plan");
        let mut lines = Vec::new();
        executor::migrate(&db, &set, &plan, true, |l| lines.push(l.to_owned()))
            .await
            .expect("fake");
        assert_eq!(lines, ["  Applying mt_db.0001_initial... FAKED"]);
        assert_eq!(applied_names(&db).await, ["mt_db.0001_initial"]);
        assert!(!tables(&db).await.contains(&"mt_book".to_owned()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    for_each_database(|db| async move {
        let set = MigrationSet::new(vec![
            initial(),
            step(vec![Operation::AddField {
                model: "Book".into(),
                column: column("isbn", SqlType::String, true),
                foreign_key: None,
                fill: None,
            }]),
        ])
        .expect("set");
        // Both runners plan before either applies, as two processes would.
        let plan = executor::plan(&set, &Default::default(), &Target::All).expect("plan");
        let mut a_lines = Vec::new();
        let mut b_lines = Vec::new();
        let (a, b) = tokio::join!(
            executor::migrate(&db, &set, &plan, false, |l| a_lines.push(l.to_owned())),
            executor::migrate(&db, &set, &plan, false, |l| b_lines.push(l.to_owned())),
        );
        a.expect("first runner");
        b.expect("second runner");
        let skipped = a_lines
            .iter()
            .chain(&b_lines)
            .filter(|l| l.contains("SKIPPED"))
            .count();
        assert_eq!(skipped, 2, "{a_lines:?} {b_lines:?}");
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(COUNT(*) AS TEXT) FROM manouche_migrations WHERE app = 'mt_db'"
            )
            .await,
            ["2"]
        );
        assert!(columns(&db, "mt_book").await.contains(&"isbn".to_owned()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn dropping_a_referenced_table_fails_and_keeps_everything() {
    for_each_database(|db| async move {
        // Books still refer to the authors: SQLite's foreign key check (run
        // before commit) or PostgreSQL's DROP refuses, and nothing changes.
        let ops = vec![Operation::DeleteModel {
            model: "Author".into(),
        }];
        let set = seeded(&db, step(ops)).await;
        let err = migrate(&db, &set, Target::All)
            .await
            .expect_err("must fail");
        assert!(matches!(err, MigrationError::Statement { .. }), "{err}");
        assert!(tables(&db).await.contains(&"mt_author".to_owned()));
        assert_eq!(titles(&db, "mt_author", "name").await, ["Ada", "Grace"]);
        assert_eq!(applied_names(&db).await, ["mt_db.0001_initial"]);
        let err = exec(
            &db,
            "INSERT INTO mt_book (title, author_id) VALUES ('x', 99)",
        )
        .await;
        assert!(
            matches!(err, Err(manouche::db::Error::ForeignKeyViolation { .. })),
            "foreign keys enforced again: {err:?}"
        );
        Ok(())
    })
    .await;
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_cycle", table = "mt_cycle_person")]
pub struct Person {
    pub id: Auto<i64>,
    pub favourite: Option<ForeignKey<Place>>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "mt_cycle", table = "mt_cycle_place")]
pub struct Place {
    pub id: Auto<i64>,
    pub owner: ForeignKey<Person>,
}

#[tokio::test]
async fn models_referring_to_each_other_are_created() {
    for_each_database(|db| async move {
        let new = autodetector::detect(
            &MigrationSet::default(),
            &[Person::schema(), Place::schema()],
            &["mt_cycle".to_owned()],
            &Hints::default(),
        )
        .expect("detect");
        let set = MigrationSet::new(new).expect("set");
        migrate(&db, &set, Target::All)
            .await
            .expect("cycle created");
        exec(&db, "INSERT INTO mt_cycle_person (id) VALUES (1)")
            .await
            .expect("person");
        exec(
            &db,
            "INSERT INTO mt_cycle_place (id, owner_id) VALUES (1, 1)",
        )
        .await
        .expect("place");
        exec(&db, "UPDATE mt_cycle_person SET favourite_id = 1")
            .await
            .expect("favourite");
        let err = exec(&db, "UPDATE mt_cycle_person SET favourite_id = 5").await;
        assert!(
            matches!(err, Err(manouche::db::Error::ForeignKeyViolation { .. })),
            "{err:?}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn rename_index_renames_in_place_and_back() {
    for_each_database(|db| async move {
        let old = Book::schema().table.indexes[0].name.clone();
        assert_eq!(old, "mt_book_author_id_idx");
        let op = Operation::RenameIndex {
            model: "Book".into(),
            old: old.clone(),
            new: "mt_book_by_author".into(),
        };
        let set = seeded(&db, step(vec![op])).await;
        let m = set.find(APP, "0002_step").expect("0002");
        let sql = executor::sql_for(&set, db.backend(), m, false).expect("sql");
        // PostgreSQL keeps the index (the same object, not rebuilt);
        // SQLite has no `ALTER INDEX` and builds it under the new name.
        let oid = async |name: &str| match db.backend() {
            Backend::Postgres => strings(
                &db,
                &format!("SELECT oid::text FROM pg_class WHERE relname = '{name}'"),
            )
            .await
            .concat(),
            _ => String::new(),
        };
        match db.backend() {
            Backend::Postgres => assert_eq!(
                sql,
                [r#"ALTER INDEX "mt_book_author_id_idx" RENAME TO "mt_book_by_author""#]
            ),
            _ => assert_eq!(
                sql,
                [
                    r#"DROP INDEX "mt_book_author_id_idx""#,
                    r#"CREATE INDEX "mt_book_by_author" ON "mt_book" ("author_id")"#
                ]
            ),
        }
        let before = oid(&old).await;
        migrate(&db, &set, Target::All).await.expect("apply");
        assert!(index_exists(&db, "mt_book_by_author").await);
        assert!(!index_exists(&db, &old).await);
        assert_eq!(oid("mt_book_by_author").await, before);
        migrate(&db, &set, Target::Migration(APP.into(), "0001".into()))
            .await
            .expect("unapply");
        assert!(index_exists(&db, &old).await);
        assert!(!index_exists(&db, "mt_book_by_author").await);
        assert_eq!(oid(&old).await, before);
        assert_eq!(
            titles(&db, "mt_book", "title").await,
            ["Notes", "Compilers", "Engines"]
        );
        Ok(())
    })
    .await;
}
