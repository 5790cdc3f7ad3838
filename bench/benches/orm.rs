//! The ORM against hand-written sqlx on the same SQLite file and pool
//! settings: (a) one row by primary key, (b) 50 rows with a foreign-key
//! join. Run with `cargo bench -p bench --bench orm`; the figures are in
//! BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use manouche::db::{Auto, Database, DatabaseOptions, ForeignKey, Model, schema};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::str::FromStr;

#[derive(Debug, Clone, Model)]
#[model(table = "bench_author")]
pub struct Author {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub name: String,
}

#[derive(Debug, Clone, Model)]
#[model(table = "bench_article")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 200)]
    pub title: String,
    pub body: String,
    pub published: bool,
    pub author: ForeignKey<Author>,
}

/// The hand-written side's row types.
#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct RawArticle {
    id: i64,
    title: String,
    body: String,
    published: bool,
    author_id: i64,
}

#[allow(dead_code)]
struct RawArticleWithAuthor {
    id: i64,
    title: String,
    body: String,
    published: bool,
    author: RawAuthor,
}

#[allow(dead_code)]
struct RawAuthor {
    id: i64,
    name: String,
}

fn orm_vs_sqlx(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let path =
        std::env::temp_dir().join(format!("manouche-orm-bench-{}.sqlite3", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let (db, pool) = rt.block_on(async {
        let db = Database::connect(&url, &DatabaseOptions::default())
            .await
            .expect("connect");
        schema::create_tables(&db, &[Author::schema(), Article::schema()])
            .await
            .expect("tables");
        let authors: Vec<Author> = (0..100)
            .map(|i| Author {
                id: Auto::new(),
                name: format!("author {i}"),
            })
            .collect();
        Author::objects()
            .bulk_create(&db, authors)
            .await
            .expect("authors");
        let ids: Vec<i64> = sqlx::query_scalar::<_, i64>("SELECT id FROM bench_author")
            .fetch_all(&sqlx::SqlitePool::connect(&url).await.expect("pool"))
            .await
            .expect("ids");
        let articles: Vec<Article> = (0..1000)
            .map(|i| Article {
                id: Auto::new(),
                title: format!("Article {i}"),
                body: "x".repeat(500),
                published: i % 2 == 0,
                author: ForeignKey::new(ids[i % ids.len()]),
            })
            .collect();
        Article::objects()
            .bulk_create(&db, articles)
            .await
            .expect("articles");
        // The same pool settings as the ORM's SQLite backend.
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
        (db, pool)
    });

    let mut group = c.benchmark_group("one row by primary key");
    group.bench_function("orm", |b| {
        let mut id = 0;
        b.to_async(&rt).iter(|| {
            id = id % 1000 + 1;
            let db = db.clone();
            async move {
                Article::objects()
                    .filter(Article::id.eq(id))
                    .get(&db)
                    .await
                    .expect("row")
            }
        });
    });
    group.bench_function("sqlx", |b| {
        let mut id = 0;
        b.to_async(&rt).iter(|| {
            id = id % 1000 + 1;
            let pool = pool.clone();
            async move {
                sqlx::query_as::<_, RawArticle>(
                    "SELECT id, title, body, published, author_id FROM bench_article WHERE id = ?",
                )
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("row")
            }
        });
    });
    group.finish();

    let mut group = c.benchmark_group("50 rows with a foreign-key join");
    group.bench_function("orm", |b| {
        b.to_async(&rt).iter(|| {
            let db = db.clone();
            async move {
                let rows = Article::objects()
                    .select_related(Article::author)
                    .order_by(Article::id.asc())
                    .limit(50)
                    .all(&db)
                    .await
                    .expect("rows");
                assert_eq!(rows.len(), 50);
                rows
            }
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&rt).iter(|| {
            let pool = pool.clone();
            async move {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT a.id, a.title, a.body, a.published, u.id, u.name \
                     FROM bench_article a INNER JOIN bench_author u ON u.id = a.author_id \
                     ORDER BY a.id ASC LIMIT 50",
                )
                .fetch_all(&pool)
                .await
                .expect("rows");
                let rows: Vec<RawArticleWithAuthor> = rows
                    .iter()
                    .map(|r| RawArticleWithAuthor {
                        id: r.get(0),
                        title: r.get(1),
                        body: r.get(2),
                        published: r.get(3),
                        author: RawAuthor {
                            id: r.get(4),
                            name: r.get(5),
                        },
                    })
                    .collect();
                assert_eq!(rows.len(), 50);
                rows
            }
        });
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, orm_vs_sqlx);
criterion_main!(benches);
