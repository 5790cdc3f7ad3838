//! Fetching many rows: time and memory of the ORM's `all()` and `stream()`
//! against hand-written sqlx, on SQLite or PostgreSQL, and the
//! case-insensitive search page that `bench/django_orm/fetch_rows.py`
//! times through Django on the same SQLite file.
//!
//! ```text
//! cargo build --release -p bench --example fetch_rows
//! B=target/release/examples/fetch_rows
//! $B seed sqlite:///tmp/rows.sqlite3?mode=rwc 1000000
//! $B run  sqlite:///tmp/rows.sqlite3 all        # or stream, sqlx, sqlx-stream
//! $B search sqlite:///tmp/rows.sqlite3 delta 50 # median of 50 pages
//! ```
//!
//! Each `run` is a process of its own, so that its peak resident memory
//! (`VmHWM`) belongs to that one fetch: the line printed gives the rows, the
//! seconds the fetch took, and the peak above the resident memory just
//! before it, in all and per row. `bench/scripts/fetch_rows.sh` runs the
//! modes in alternation and prints the medians.

use std::time::Instant;

use futures_util::TryStreamExt as _;
use manouche::db::{Auto, Database, DatabaseOptions, DateTime, Model, schema};

/// The row measured: a key, a name, a price, a time and a flag.
#[derive(Debug, Clone, Model)]
#[model(app = "bench", table = "bench_item")]
struct Item {
    id: Auto<i64>,
    #[model(max_length = 100)]
    name: String,
    price: f64,
    created: DateTime,
    flag: bool,
}

/// The same row for sqlx.
#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct RawItem {
    id: i64,
    name: String,
    price: f64,
    created: DateTime,
    flag: bool,
}

const SELECT: &str = "SELECT id, name, price, created, flag FROM bench_item";

/// Words in the names: one name in seven has `DELTA`, in capitals.
const WORDS: [&str; 7] = [
    "alpha", "Bravo", "charlie", "DELTA", "echo", "Foxtrot", "golf",
];

/// A line of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn usage() -> ! {
    eprintln!(
        "usage: fetch_rows seed URL ROWS | run URL all|stream|sqlx|sqlx-stream | search URL WORD TIMES"
    );
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(command), Some(url)) = (args.first(), args.get(1)) else {
        usage()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let db = Database::connect(url, &DatabaseOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        match command.as_str() {
            "seed" => {
                let rows = args
                    .get(2)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage());
                seed(&db, rows).await;
            }
            "run" => run(&db, url, args.get(2).map_or("", String::as_str)).await,
            "search" => {
                let word = args.get(2).cloned().unwrap_or_else(|| usage());
                let times = args
                    .get(3)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| usage());
                search(&db, &word, times).await;
            }
            _ => usage(),
        }
    });
}

async fn seed(db: &Database, rows: usize) {
    let _ = db
        .execute_unprepared("DROP TABLE IF EXISTS bench_item")
        .await;
    schema::create_tables(db, &[Item::schema()])
        .await
        .expect("the table");
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .expect("a time")
        .to_utc();
    let mut made = 0;
    while made < rows {
        let batch: Vec<Item> = (made..rows.min(made + 10_000))
            .map(|i| Item {
                id: Auto::new(),
                name: format!("Product {i:07} {}", WORDS[i % WORDS.len()]),
                price: (i % 10_000) as f64 / 100.0,
                // Spread over a year, out of key order.
                created: start + chrono::Duration::seconds(((i * 7_919) % 31_536_000) as i64),
                flag: i % 2 == 0,
            })
            .collect();
        made += batch.len();
        Item::objects().bulk_create(db, batch).await.expect("rows");
    }
    println!("seeded {rows} rows");
}

async fn run(db: &Database, url: &str, mode: &str) {
    // A first query, so that what connecting costs is in the baseline.
    let one = Item::objects().limit(1).all(db).await.expect("a row");
    assert_eq!(one.len(), 1, "seed the table first");
    let raw_sqlite;
    let raw_pg;
    let sqlx_side = mode.starts_with("sqlx");
    if url.starts_with("sqlite") {
        raw_sqlite = if sqlx_side {
            Some(sqlx::SqlitePool::connect(url).await.expect("sqlx pool"))
        } else {
            None
        };
        raw_pg = None;
    } else {
        raw_pg = if sqlx_side {
            Some(sqlx::PgPool::connect(url).await.expect("sqlx pool"))
        } else {
            None
        };
        raw_sqlite = None;
    }
    if let Some(pool) = &raw_sqlite {
        sqlx::query("SELECT 1").execute(pool).await.expect("sqlx");
    }
    if let Some(pool) = &raw_pg {
        sqlx::query("SELECT 1").execute(pool).await.expect("sqlx");
    }
    // The peak so far (connecting, the first query) is forgotten: from
    // here `VmHWM` is this fetch's peak (Linux 4.0+).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = status_bytes("VmRSS:");
    let started = Instant::now();
    // Each mode reads every row and keeps (or, streaming, folds) it; the
    // checksum keeps the work from being optimised away.
    let (rows, checksum) = match mode {
        "all" => {
            let items = Item::objects().all(db).await.expect("rows");
            (
                items.len(),
                items.iter().map(|i| i.name.len()).sum::<usize>(),
            )
        }
        "stream" => {
            let mut stream = Item::objects().stream(db);
            let (mut n, mut sum) = (0, 0);
            while let Some(item) = stream.try_next().await.expect("a row") {
                n += 1;
                sum += item.name.len();
            }
            (n, sum)
        }
        "sqlx" => {
            let items: Vec<RawItem> = match (&raw_sqlite, &raw_pg) {
                (Some(pool), _) => sqlx::query_as(SELECT).fetch_all(pool).await,
                (_, Some(pool)) => sqlx::query_as(SELECT).fetch_all(pool).await,
                _ => unreachable!("a pool for the sqlx side"),
            }
            .expect("rows");
            (
                items.len(),
                items.iter().map(|i| i.name.len()).sum::<usize>(),
            )
        }
        "sqlx-stream" => {
            let (mut n, mut sum) = (0, 0);
            let mut count = |item: RawItem| {
                n += 1;
                sum += item.name.len();
            };
            match (&raw_sqlite, &raw_pg) {
                (Some(pool), _) => {
                    let mut s = sqlx::query_as::<_, RawItem>(SELECT).fetch(pool);
                    while let Some(item) = s.try_next().await.expect("a row") {
                        count(item);
                    }
                }
                (_, Some(pool)) => {
                    let mut s = sqlx::query_as::<_, RawItem>(SELECT).fetch(pool);
                    while let Some(item) = s.try_next().await.expect("a row") {
                        count(item);
                    }
                }
                _ => unreachable!("a pool for the sqlx side"),
            }
            (n, sum)
        }
        _ => usage(),
    };
    let secs = started.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM:").saturating_sub(base);
    println!(
        "mode={mode} rows={rows} secs={secs:.3} peak_mb={:.1} bytes_per_row={} checksum={checksum}",
        peak as f64 / 1_048_576.0,
        peak / rows.max(1) as u64,
    );
}

async fn search(db: &Database, word: &str, times: usize) {
    let page = || {
        Item::objects()
            .filter(Item::name.icontains(word))
            .order_by(Item::created.desc())
            .limit(50)
    };
    let first = page().all(db).await.expect("rows");
    let mut took = Vec::with_capacity(times);
    for _ in 0..times {
        let started = Instant::now();
        let items = page().all(db).await.expect("rows");
        took.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(items.len(), first.len());
    }
    took.sort_by(f64::total_cmp);
    println!(
        "search={word} rows={} median_ms={:.2} min_ms={:.2} first={}",
        first.len(),
        took[took.len() / 2],
        took[0],
        first.first().map_or("", |i| i.name.as_str()),
    );
}
