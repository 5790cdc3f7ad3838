//! The two workloads of the ORM benchmark, `N` times in a row, through the
//! ORM or through hand-written sqlx, on a fresh SQLite file: one row by
//! primary key (`pk`), or 50 rows with a foreign-key join (`join`, the
//! query of `benches/orm.rs`, on the same rows: `fixtures/orm.rs`). A fixed
//! workload for `valgrind --tool=callgrind`, whose instruction counts
//! repeat from run to run whatever else the machine is doing (see
//! BENCHMARKS.md).
//!
//! ```text
//! cargo build --release -p bench --example db_instructions
//! valgrind --tool=callgrind target/release/examples/db_instructions orm 0
//! valgrind --tool=callgrind target/release/examples/db_instructions orm 5000
//! valgrind --tool=callgrind target/release/examples/db_instructions orm 1000 join
//! ```
//!
//! The difference between a total and the `0` total, divided by `N`, is the
//! cost of one query; the same for `sqlx` gives the hand-written cost.

use manouche::db::{Auto, Model};

#[path = "../fixtures/orm.rs"]
mod fixture;

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
        eprintln!("usage: db_instructions orm|sqlx COUNT [pk|join]");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<i64>() else {
        eprintln!("COUNT must be a whole number, got {count:?}");
        std::process::exit(2);
    };
    let workload = args.next().unwrap_or_else(|| "pk".to_owned());
    if side != "orm" && side != "sqlx" {
        eprintln!("unknown side {side:?}: orm or sqlx");
        std::process::exit(2);
    }
    if workload != "pk" && workload != "join" {
        eprintln!("unknown workload {workload:?}: pk or join");
        std::process::exit(2);
    }
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
        // The criterion benchmark's authors and articles, plus the peers'
        // `bench_world` table for the primary-key workload.
        let (db, pool) = fixture::setup(&url, &[World::schema()]).await;
        let rows = (1..=10_000).map(|i| World {
            id: Auto::new(),
            randomnumber: i * 7 % 10_000,
        });
        World::objects()
            .bulk_create(&db, rows.collect())
            .await
            .expect("rows");
        let mut sum = 0i64;
        for i in 0..count {
            sum += match (side.as_str(), workload.as_str()) {
                ("orm", "pk") => {
                    let world = World::objects()
                        .filter(World::id.eq(i % 10_000 + 1))
                        .get(&db)
                        .await
                        .expect("row");
                    i64::from(world.randomnumber)
                }
                ("sqlx", "pk") => {
                    let world = sqlx::query_as::<_, RawWorld>(
                        "SELECT id, randomnumber FROM bench_world WHERE id = ?",
                    )
                    .bind(i % 10_000 + 1)
                    .fetch_one(&pool)
                    .await
                    .expect("row");
                    i64::from(world.randomnumber)
                }
                ("orm", _) => fixture::orm_join(&db)
                    .await
                    .iter()
                    .map(|a| a.author.get().map_or(0, |u| u.name.len() as i64))
                    .sum(),
                _ => fixture::sqlx_join(&pool)
                    .await
                    .iter()
                    .map(|a| a.author.name.len() as i64)
                    .sum(),
            };
        }
        println!("{side} {workload} x{count}, checksum {sum}");
    });
    let _ = std::fs::remove_file(&path);
}
