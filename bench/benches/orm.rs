//! The ORM against hand-written sqlx on the same SQLite file and pool
//! settings: (a) one row by primary key, (b) 50 rows with a foreign-key
//! join. Run with `cargo bench -p bench --bench orm`; the figures are in
//! BENCHMARKS.md.

use criterion::{Criterion, criterion_group, criterion_main};
use manouche::db::Model;

#[path = "../fixtures/orm.rs"]
mod fixture;

use fixture::{Article, PK_SQL, RawArticle};

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
    let (db, pool) = rt.block_on(fixture::setup(&url, &[]));

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
                sqlx::query_as::<_, RawArticle>(PK_SQL)
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
            async move { fixture::orm_join(&db).await }
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&rt).iter(|| {
            let pool = pool.clone();
            async move { fixture::sqlx_join(&pool).await }
        });
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, orm_vs_sqlx);
criterion_main!(benches);
