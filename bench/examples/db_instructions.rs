//! One row by primary key, `N` times in a row, through the ORM or through
//! hand-written sqlx, on a fresh SQLite file: a fixed workload for
//! `valgrind --tool=callgrind`, whose instruction counts repeat from run to
//! run whatever else the machine is doing (see BENCHMARKS.md).
//!
//! ```text
//! cargo build --release -p bench --example db_instructions
//! valgrind --tool=callgrind target/release/examples/db_instructions orm 0
//! valgrind --tool=callgrind target/release/examples/db_instructions orm 20000
//! ```
//!
//! The difference between the two totals, divided by `N`, is the cost of
//! one lookup; the same for `sqlx` gives the hand-written cost.

use manouche::db::{Auto, Database, DatabaseOptions, Model, schema};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::str::FromStr;

/// The peers' `bench_world` table.
#[derive(Debug, Clone, Model)]
#[model(table = "bench_world")]
struct World {
    id: Auto<i64>,
    randomnumber: i32,
}

#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct RawWorld {
    id: i64,
    randomnumber: i32,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(side), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: db_instructions orm|sqlx COUNT");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<i64>() else {
        eprintln!("COUNT must be a whole number, got {count:?}");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let path = std::env::temp_dir().join(format!(
        "manouche-db-instructions-{}.sqlite3",
        std::process::id()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    rt.block_on(async {
        let db = Database::connect(&url, &DatabaseOptions::default())
            .await
            .expect("connect");
        schema::create_tables(&db, &[World::schema()])
            .await
            .expect("table");
        let rows = (1..=10_000).map(|i| World {
            id: Auto::new(),
            randomnumber: i * 7 % 10_000,
        });
        World::objects()
            .bulk_create(&db, rows.collect())
            .await
            .expect("rows");
        let mut sum = 0i64;
        match side.as_str() {
            "orm" => {
                for i in 0..count {
                    let world = World::objects()
                        .filter(World::id.eq(i % 10_000 + 1))
                        .get(&db)
                        .await
                        .expect("row");
                    sum += i64::from(world.randomnumber);
                }
            }
            "sqlx" => {
                // The same connection settings as the ORM's SQLite backend.
                let options = SqliteConnectOptions::from_str(&url)
                    .expect("url")
                    .foreign_keys(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .pragma("case_sensitive_like", "ON");
                let pool = SqlitePoolOptions::new()
                    .max_connections(10)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await
                    .expect("pool");
                for i in 0..count {
                    let world = sqlx::query_as::<_, RawWorld>(
                        "SELECT id, randomnumber FROM bench_world WHERE id = ?",
                    )
                    .bind(i % 10_000 + 1)
                    .fetch_one(&pool)
                    .await
                    .expect("row");
                    sum += i64::from(world.randomnumber);
                }
            }
            other => {
                eprintln!("unknown side {other:?}: orm or sqlx");
                std::process::exit(2);
            }
        }
        println!("{side} {count} lookups, checksum {sum}");
    });
    let _ = std::fs::remove_file(&path);
}
