//! Rows survive a real model history, detected from the models and applied
//! forwards and backwards on SQLite and PostgreSQL: a field renamed, a
//! type/length/nullability/default altered, a unique added then removed, a
//! model renamed.

use manouche::db::testing::for_each_database;
use manouche::db::{Database, Executor, Model, Statement};
use manouche::migrations::autodetector::{Hints, detect};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{Migration, MigrationSet};

const APP: &str = "mt_data";

pub mod v1 {
    use manouche::db::{Auto, ForeignKey, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_author")]
    pub struct Author {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_book")]
    pub struct Book {
        pub id: Auto<i64>,
        #[model(max_length = 100)]
        pub title: String,
        pub pages: Option<i32>,
        pub author: ForeignKey<Author>,
    }
}

pub mod v2 {
    use manouche::db::{Auto, ForeignKey, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_author")]
    pub struct Author {
        pub id: Auto<i64>,
        #[model(max_length = 50, unique)]
        pub full_name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_book")]
    pub struct Book {
        pub id: Auto<i64>,
        #[model(max_length = 200)]
        pub title: String,
        #[model(default = 0)]
        pub pages: i64,
        pub author: ForeignKey<Author>,
    }
}

pub mod v3 {
    use manouche::db::{Auto, ForeignKey, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_writer")]
    pub struct Writer {
        pub id: Auto<i64>,
        #[model(max_length = 50)]
        pub full_name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "mt_data", table = "mt_data_book")]
    pub struct Book {
        pub id: Auto<i64>,
        #[model(max_length = 200)]
        pub title: String,
        #[model(default = 0)]
        pub pages: i64,
        pub author: ForeignKey<Writer>,
    }
}

async fn strings(db: &Database, sql: &str) -> Vec<String> {
    db.fetch_all(Statement::raw(sql))
        .await
        .expect(sql)
        .iter()
        .map(|r| {
            if r.is_null(0) {
                "NULL".to_owned()
            } else {
                r.get::<String>(0).expect("text")
            }
        })
        .collect()
}

async fn migrate(db: &Database, set: &MigrationSet, target: Target) {
    let applied = executor::applied(db).await.expect("applied");
    let plan = executor::plan(set, &applied, &target).expect("plan");
    executor::migrate(db, set, &plan, false, |_| {})
        .await
        .expect("migrate");
}

fn next(
    migrations: &[Migration],
    models: &[manouche::db::schema::ModelSchema],
    hints: &Hints,
) -> Vec<Migration> {
    let set = MigrationSet::new(migrations.to_vec()).expect("set");
    let mut all = migrations.to_vec();
    let new = detect(&set, models, &[APP.to_owned()], hints).expect("detect");
    assert_eq!(new.len(), 1, "{new:?}");
    all.extend(new);
    all
}

#[tokio::test]
async fn rows_survive_the_model_history_both_ways() {
    for_each_database(|db| async move {
        let m1 = next(
            &[],
            &[v1::Author::schema(), v1::Book::schema()],
            &Hints::default(),
        );
        let mut hints = Hints::default();
        hints
            .add_rename("mt_data.Author.name=full_name")
            .expect("hint");
        let m2 = next(&m1, &[v2::Author::schema(), v2::Book::schema()], &hints);
        let mut hints = Hints::default();
        hints.add_rename("mt_data.Author=Writer").expect("hint");
        let m3 = next(&m2, &[v3::Writer::schema(), v3::Book::schema()], &hints);
        let set = MigrationSet::new(m3).expect("set");
        let names: Vec<&str> = set.ordered().iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");

        migrate(&db, &set, Target::Migration(APP.into(), names[0].into())).await;
        for sql in [
            "INSERT INTO mt_data_author (name) VALUES ('Ada')",
            "INSERT INTO mt_data_author (name) VALUES ('Grace')",
            "INSERT INTO mt_data_book (title, pages, author_id) VALUES ('Notes', 10, 1)",
            "INSERT INTO mt_data_book (title, pages, author_id) VALUES ('Compilers', NULL, 2)",
            "INSERT INTO mt_data_book (title, pages, author_id) VALUES ('Engines', 30, 1)",
        ] {
            db.execute(Statement::raw(sql)).await.expect("seed");
        }
        let books = "SELECT title || ':' || COALESCE(CAST(pages AS TEXT), 'NULL') || ':' || \
                     CAST(author_id AS TEXT) FROM mt_data_book ORDER BY id";
        let original = ["Notes:10:1", "Compilers:NULL:2", "Engines:30:1"];
        assert_eq!(strings(&db, books).await, original);

        // v2: renamed, unique, altered; NULL pages take the new default.
        migrate(&db, &set, Target::Migration(APP.into(), names[1].into())).await;
        assert_eq!(
            strings(&db, "SELECT full_name FROM mt_data_author ORDER BY id").await,
            ["Ada", "Grace"]
        );
        assert_eq!(
            strings(&db, books).await,
            ["Notes:10:1", "Compilers:0:2", "Engines:30:1"]
        );
        let dup = db
            .execute(Statement::raw(
                "INSERT INTO mt_data_author (full_name) VALUES ('Ada')",
            ))
            .await;
        assert!(
            matches!(dup, Err(manouche::db::Error::UniqueViolation { .. })),
            "{dup:?}"
        );
        // The ORM reads the migrated table.
        let typed = v2::Book::objects().all(&db).await.expect("v2 books");
        let mut pages: Vec<i64> = typed.iter().map(|b| b.pages).collect();
        pages.sort_unstable();
        assert_eq!(pages, [0, 10, 30]);

        // v3: the model renamed, the unique dropped.
        migrate(&db, &set, Target::All).await;
        assert_eq!(
            strings(&db, "SELECT full_name FROM mt_data_writer ORDER BY id").await,
            ["Ada", "Grace"]
        );
        db.execute(Statement::raw(
            "INSERT INTO mt_data_writer (id, full_name) VALUES (3, 'Ada')",
        ))
        .await
        .expect("no longer unique");
        db.execute(Statement::raw("DELETE FROM mt_data_writer WHERE id = 3"))
            .await
            .expect("cleanup");
        assert_eq!(strings(&db, books).await.len(), 3);

        // And back: every row is still there, in the old shapes.
        migrate(&db, &set, Target::Migration(APP.into(), names[1].into())).await;
        assert_eq!(
            strings(&db, "SELECT full_name FROM mt_data_author ORDER BY id").await,
            ["Ada", "Grace"]
        );
        migrate(&db, &set, Target::Migration(APP.into(), names[0].into())).await;
        assert_eq!(
            strings(&db, "SELECT name FROM mt_data_author ORDER BY id").await,
            ["Ada", "Grace"]
        );
        assert_eq!(
            strings(&db, books).await,
            ["Notes:10:1", "Compilers:0:2", "Engines:30:1"],
            "the filled value stays; the column is nullable again"
        );
        db.execute(Statement::raw(
            "UPDATE mt_data_book SET pages = NULL WHERE id = 2",
        ))
        .await
        .expect("nullable again");
        migrate(&db, &set, Target::Zero(APP.into())).await;
        assert!(executor::applied(&db).await.expect("applied").is_empty());
        // And forward again, from nothing, through the whole history.
        migrate(&db, &set, Target::All).await;
        let names: Vec<String> = executor::applied(&db)
            .await
            .expect("applied")
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names[0].starts_with("0001") && names[2].starts_with("0003"),
            "{names:?}"
        );
        Ok(())
    })
    .await;
}
