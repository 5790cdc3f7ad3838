//! Check constraints (`#[model(check(name = ..., sql = ...))]`, Django's
//! `CheckConstraint`), on SQLite always and on PostgreSQL when
//! `DATABASE_URL` is set: created with the table, added and removed by
//! migrations the autodetector writes, enforced on writes
//! (`db::Error::CheckViolation`, a 400), and never added while rows fail
//! them: the migration is refused with the table, the constraint and the
//! count, and the schema, the data and the recorder stay as they were.

#[path = "support/migrating.rs"]
mod migrating;
use migrating::{exec, migrate, strings};

use manouche::db::schema::ModelSchema;
use manouche::db::testing::for_each_database;
use manouche::db::{Backend, Database, Error, Model};
use manouche::migrations::autodetector::{Hints, detect};
use manouche::migrations::executor::{self, Target};
use manouche::migrations::{MigrationError, MigrationSet, Operation, RowCheck, RowProblem};

const CONDITION: &str = "price >= 0 AND price <= stock * 1000";

pub mod v1 {
    use manouche::db::{Auto, Model};

    #[derive(Debug, Clone, Model)]
    #[model(app = "ck", table = "ck_product")]
    pub struct Product {
        pub id: Auto<i64>,
        pub price: i32,
        pub stock: i32,
    }
}

pub mod v2 {
    use manouche::db::{Auto, Model};

    #[derive(Debug, Clone, Model)]
    #[model(
        app = "ck",
        table = "ck_product",
        check(
            name = "ck_product_price_sane",
            sql = "price >= 0 AND price <= stock * 1000"
        )
    )]
    pub struct Product {
        pub id: Auto<i64>,
        pub price: i32,
        pub stock: i32,
    }
}

pub mod v3 {
    use manouche::db::{Auto, Model};

    /// The same constraint name, another condition.
    #[derive(Debug, Clone, Model)]
    #[model(
        app = "ck",
        table = "ck_product",
        check(name = "ck_product_price_sane", sql = "price > 0")
    )]
    pub struct Product {
        pub id: Auto<i64>,
        pub price: i32,
        pub stock: i32,
    }
}

fn apps() -> Vec<String> {
    vec!["ck".to_owned()]
}

/// The migrations from nothing through each of `versions`, one per step.
fn history(versions: &[ModelSchema]) -> MigrationSet {
    let mut set = MigrationSet::default();
    for version in versions {
        let new = detect(
            &set,
            std::slice::from_ref(version),
            &apps(),
            &Hints::default(),
        )
        .expect("detect");
        let mut all = set.ordered().to_vec();
        all.extend(new);
        set = MigrationSet::new(all).expect("set");
        let again = detect(
            &set,
            std::slice::from_ref(version),
            &apps(),
            &Hints::default(),
        )
        .expect("detect again");
        assert!(again.is_empty(), "nothing left: {again:?}");
    }
    set
}

fn to(name: &str) -> Target {
    Target::Migration("ck".into(), name.into())
}

/// The table's definition and rows, and the applied migrations.
async fn snapshot(db: &Database) -> Vec<String> {
    let schema = match db.backend() {
        Backend::Postgres => {
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'ck_product'::regclass ORDER BY conname"
        }
        _ => {
            "SELECT COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = 'ck_product' ORDER BY name"
        }
    };
    let mut out = strings(db, schema).await;
    out.extend(
        strings(
            db,
            "SELECT CAST(id AS TEXT) || '|' || CAST(price AS TEXT) || '|' || CAST(stock AS TEXT) \
             FROM ck_product ORDER BY id",
        )
        .await,
    );
    out.extend(
        executor::applied(db)
            .await
            .expect("recorder")
            .into_iter()
            .map(|(a, n)| format!("{a}.{n}")),
    );
    out
}

fn expect_check_violation(result: Result<u64, Error>) {
    let err = result.expect_err("refused by the check");
    let Error::CheckViolation { constraint, .. } = &err else {
        panic!("expected a check violation, got {err:?}");
    };
    assert_eq!(constraint, "ck_product_price_sane");
    assert!(err.to_string().contains("ck_product_price_sane"), "{err}");
    assert_eq!(
        manouche::Error::from(err).status(),
        manouche::http::StatusCode::BAD_REQUEST
    );
}

#[test]
fn the_autodetector_adds_changes_and_removes_checks() {
    let set = history(&[v1::Product::schema()]);
    let ops = |version: ModelSchema| {
        let mut new = detect(&set, &[version], &apps(), &Hints::default()).expect("detect");
        new.remove(0).operations
    };
    let added = ops(v2::Product::schema());
    let [Operation::AddCheck { model, check }] = &added[..] else {
        panic!("{added:?}");
    };
    assert_eq!(model, "Product");
    assert_eq!(check.name, "ck_product_price_sane");
    assert_eq!(check.sql, CONDITION);

    let set = history(&[v1::Product::schema(), v2::Product::schema()]);
    let changed = detect(&set, &[v3::Product::schema()], &apps(), &Hints::default())
        .expect("detect")
        .remove(0)
        .operations;
    assert!(
        matches!(
            &changed[..],
            [Operation::RemoveCheck { .. }, Operation::AddCheck { check, .. }] if check.sql == "price > 0"
        ),
        "{changed:?}"
    );
    let removed = detect(&set, &[v1::Product::schema()], &apps(), &Hints::default())
        .expect("detect")
        .remove(0)
        .operations;
    assert!(
        matches!(&removed[..], [Operation::RemoveCheck { name, .. }] if name == "ck_product_price_sane"),
        "{removed:?}"
    );
    // The JSON file keeps the constraint, and a table without checks
    // writes none (older files read the same).
    let text = serde_json::to_string(&added[0]).expect("json");
    assert!(text.contains(r#""op":"add_check""#), "{text}");
    let initial = serde_json::to_string(&set.ordered()[0]).expect("json");
    assert!(!initial.contains("checks"), "{initial}");
}

#[tokio::test]
async fn a_table_created_with_a_check_enforces_it() {
    for_each_database(|db| async move {
        let set = history(&[v2::Product::schema()]);
        migrate(&db, &set, Target::All).await.expect("migrate");
        exec(&db, "INSERT INTO ck_product (price, stock) VALUES (10, 1)").await?;
        expect_check_violation(
            exec(&db, "INSERT INTO ck_product (price, stock) VALUES (-1, 1)").await,
        );
        expect_check_violation(exec(&db, "UPDATE ck_product SET price = 5000").await);
        assert_eq!(
            strings(&db, "SELECT CAST(price AS TEXT) FROM ck_product").await,
            ["10"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn adding_a_check_refuses_rows_that_fail_it_then_applies_and_unapplies() {
    for_each_database(|db| async move {
        let set = history(&[v1::Product::schema(), v2::Product::schema()]);
        migrate(&db, &set, to("0001_initial")).await.expect("0001");
        for sql in [
            "INSERT INTO ck_product (id, price, stock) VALUES (1, 10, 1)",
            "INSERT INTO ck_product (id, price, stock) VALUES (2, -3, 1)",
            "INSERT INTO ck_product (id, price, stock) VALUES (3, 9000, 2)",
        ] {
            exec(&db, sql).await?;
        }
        let before = snapshot(&db).await;
        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        let text = err.to_string();
        match &err {
            MigrationError::RowsBlock { check, rows, .. } => {
                let problem = RowProblem::FailsCheck {
                    sql: CONDITION.to_owned(),
                };
                assert_eq!(
                    check,
                    &RowCheck::new("ck_product", "ck_product_price_sane", problem)
                );
                assert_eq!(*rows, 2, "{text}");
            }
            other => panic!("expected RowsBlock, got {other:?}"),
        }
        assert!(
            text.contains(
                r#"table "ck_product": 2 rows are failing the check constraint "ck_product_price_sane""#
            ),
            "{text}"
        );
        assert_eq!(snapshot(&db).await, before, "nothing changed");

        // Fixed rows: the constraint goes on, keeping every row.
        exec(&db, "UPDATE ck_product SET price = 0 WHERE id = 2").await?;
        exec(&db, "UPDATE ck_product SET stock = 9 WHERE id = 3").await?;
        migrate(&db, &set, Target::All).await.expect("migrate");
        assert_eq!(
            strings(
                &db,
                "SELECT CAST(id AS TEXT) || '|' || CAST(price AS TEXT) FROM ck_product ORDER BY id"
            )
            .await,
            ["1|10", "2|0", "3|9000"]
        );
        expect_check_violation(
            exec(&db, "INSERT INTO ck_product (price, stock) VALUES (-1, 1)").await,
        );

        // Unapplied: gone again.
        migrate(&db, &set, to("0001_initial")).await.expect("unapply");
        exec(&db, "INSERT INTO ck_product (id, price, stock) VALUES (4, -1, 1)").await?;
        // And forward again refuses that row.
        let err = migrate(&db, &set, Target::All).await.expect_err("refused");
        assert!(matches!(err, MigrationError::RowsBlock { rows: 1, .. }), "{err}");
        Ok(())
    })
    .await;
}
