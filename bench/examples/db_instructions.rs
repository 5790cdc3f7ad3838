//! The two workloads of the ORM benchmark, `N` times in a row, through the
//! ORM or through hand-written sqlx, on a fresh SQLite file: one row by
//! primary key (`pk`), or 50 rows with a foreign-key join (`join`). A fixed
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

use manouche::db::{Auto, Database, DatabaseOptions, ForeignKey, Model, schema};
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

/// The join workload's tables, as in `benches/orm.rs`.
#[derive(Debug, Clone, Model)]
#[model(table = "bench_author")]
struct Author {
    id: Auto<i64>,
    #[model(max_length = 100)]
    name: String,
}

#[derive(Debug, Clone, Model)]
#[model(table = "bench_article")]
struct Article {
    id: Auto<i64>,
    #[model(max_length = 200)]
    title: String,
    body: String,
    published: bool,
    author: ForeignKey<Author>,
}

#[allow(dead_code)]
struct RawArticle {
    id: i64,
    title: String,
    body: String,
    published: bool,
    author: (i64, String),
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
        let db = Database::connect(&url, &DatabaseOptions::default())
            .await
            .expect("connect");
        schema::create_tables(&db, &[World::schema(), Author::schema(), Article::schema()])
            .await
            .expect("tables");
        let rows = (1..=10_000).map(|i| World {
            id: Auto::new(),
            randomnumber: i * 7 % 10_000,
        });
        World::objects()
            .bulk_create(&db, rows.collect())
            .await
            .expect("rows");
        let authors = (1..=10).map(|i| Author {
            id: Auto::new(),
            name: format!("author {i}"),
        });
        let authors = Author::objects()
            .bulk_create(&db, authors.collect())
            .await
            .expect("authors");
        let articles = (0..1000).map(|i| Article {
            id: Auto::new(),
            title: format!("article {i}"),
            body: "lorem ipsum ".repeat(20),
            published: i % 2 == 0,
            author: ForeignKey::from(&authors[i % authors.len()]),
        });
        Article::objects()
            .bulk_create(&db, articles.collect())
            .await
            .expect("articles");
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
                ("orm", _) => {
                    let rows = Article::objects()
                        .select_related(Article::author)
                        .order_by(Article::id.asc())
                        .limit(50)
                        .all(&db)
                        .await
                        .expect("rows");
                    rows.iter()
                        .map(|a| a.author.get().map_or(0, |u| u.name.len() as i64))
                        .sum()
                }
                _ => {
                    use sqlx::Row;
                    let rows = sqlx::query(
                        "SELECT a.id, a.title, a.body, a.published, u.id, u.name \
                         FROM bench_article a INNER JOIN bench_author u ON u.id = a.author_id \
                         ORDER BY a.id ASC LIMIT 50",
                    )
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
                    let rows: Vec<RawArticle> = rows
                        .iter()
                        .map(|r| RawArticle {
                            id: r.get(0),
                            title: r.get(1),
                            body: r.get(2),
                            published: r.get(3),
                            author: (r.get(4), r.get(5)),
                        })
                        .collect();
                    rows.iter().map(|a| a.author.1.len() as i64).sum()
                }
            };
        }
        println!("{side} {workload} x{count}, checksum {sum}");
    });
    let _ = std::fs::remove_file(&path);
}
