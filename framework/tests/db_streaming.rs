//! Rows decoded as they arrive, `stream()` / `iterator()`, and the text
//! lookups' case rules, on SQLite and (with `DATABASE_URL`) PostgreSQL.

#[path = "support/models.rs"]
mod models;

use std::time::{Duration, Instant};

use futures_util::{StreamExt as _, TryStreamExt as _};
use manouche::db::testing::{count_queries, for_each_database};
use manouche::db::{Backend, Database, Error, Executor, Model, Result, raw};
use models::{Article, Tag, User, setup};

/// `n` articles by one author, titled `a0000`, `a0001`, ..., with views
/// `0..n`; every third one tagged `t{i % 5}`.
async fn articles(db: &Database, n: usize) -> Result<Vec<Article>> {
    let mut ada = User::new("ada");
    ada.save(db).await?;
    let tags = Tag::objects()
        .bulk_create(db, (0..5).map(|i| Tag::new(&format!("t{i}"))).collect())
        .await?;
    let made = (0..n)
        .map(|i| {
            let mut a = Article::new(&format!("a{i:04}"), &ada);
            a.views = i64::try_from(i).expect("small");
            a
        })
        .collect();
    let made = Article::objects().bulk_create(db, made).await?;
    for (i, a) in made.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        a.tags.add(db, &[&tags[i % 5]]).await?;
    }
    Ok(made)
}

fn tag_names(a: &Article) -> Vec<String> {
    a.tags
        .prefetched()
        .unwrap_or_default()
        .iter()
        .map(|t| t.name.clone())
        .collect()
}

#[tokio::test]
async fn a_stream_yields_every_row_once_in_order_as_all_does() {
    for_each_database(|db| async move {
        setup(&db).await?;
        articles(&db, 250).await?;
        let ordered = || Article::objects().order_by(Article::views.desc());
        let all = ordered().all(&db).await?;
        assert_eq!(all.len(), 250);
        let streamed: Vec<Article> = ordered().stream(&db).try_collect().await?;
        let ids = |v: &[Article]| v.iter().map(|a| a.id.get()).collect::<Vec<_>>();
        assert_eq!(ids(&streamed), ids(&all));
        assert_eq!(streamed[0].title, "a0249");

        // With its foreign keys joined: one query, the author on every row.
        let (rows, queries) = count_queries(
            &db,
            ordered()
                .select_related(Article::author)
                .iterator(&db, 10)
                .try_collect::<Vec<_>>(),
        )
        .await;
        let rows = rows?;
        assert_eq!(queries, 1);
        assert_eq!(ids(&rows), ids(&all));
        assert!(
            rows.iter()
                .all(|a| a.author.get().map(|u| u.username.as_str()) == Some("ada"))
        );

        // Selected values stream the same way.
        let views: Vec<i64> = ordered()
            .values(Article::views)
            .stream(&db)
            .try_collect()
            .await?;
        assert_eq!(views, (0..250).rev().collect::<Vec<i64>>());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn iterator_prefetches_each_chunk_with_one_query_per_relation() {
    for_each_database(|db| async move {
        setup(&db).await?;
        articles(&db, 25).await?;
        let ordered = || {
            Article::objects()
                .order_by(Article::views.asc())
                .prefetch_related(Article::tags)
        };
        let all = ordered().all(&db).await?;
        // 25 rows in chunks of 10: the rows' query, then one prefetch per
        // chunk (3), as Django's iterator(chunk_size=10).
        let (rows, queries) =
            count_queries(&db, ordered().iterator(&db, 10).try_collect::<Vec<_>>()).await;
        let rows = rows?;
        assert_eq!(queries, 1 + 3);
        assert_eq!(rows.len(), 25);
        for (streamed, whole) in rows.iter().zip(&all) {
            assert_eq!(streamed.id.get(), whole.id.get());
            assert_eq!(tag_names(streamed), tag_names(whole));
        }
        assert_eq!(tag_names(&rows[3]), ["t3"]);
        assert!(tag_names(&rows[4]).is_empty());

        // Django's ValueError for a chunk size of 0.
        let err = ordered().iterator(&db, 0).next().await.expect("an item");
        assert!(
            matches!(&err, Err(Error::InvalidQuery { message, .. }) if message.contains("chunk size")),
            "{err:?}"
        );
        // Inside a transaction the prefetch would wait for the stream's own
        // connection: refused instead.
        let tx = db.begin().await?;
        let err = ordered().stream(&tx).next().await.expect("an item");
        assert!(
            matches!(&err, Err(Error::InvalidQuery { message, .. }) if message.contains("second connection")),
            "{err:?}"
        );
        // Without a prefetch, a stream inside a transaction sees its rows.
        let mut extra = Article::new("inside", &User::objects().get(&tx).await?);
        extra.views = 1000;
        extra.save(&tx).await?;
        let last = Article::objects()
            .order_by(Article::views.desc())
            .stream(&tx)
            .next()
            .await
            .expect("a row")?;
        assert_eq!(last.title, "inside");
        tx.rollback().await?;
        Ok(())
    })
    .await;
}

/// Waits until every open connection of the pool is idle again.
async fn all_idle(db: &Database) -> (u32, usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (open, idle) = db.pool_status();
        if usize::try_from(open).expect("small") == idle || Instant::now() > deadline {
            return (open, idle);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_stream_dropped_early_stops_and_gives_its_connection_back() {
    for_each_database(|db| async move {
        setup(&db).await?;
        articles(&db, 300).await?;
        // More early stops than the pool has connections: a leaked
        // connection would make the later ones wait and fail.
        for _ in 0..25 {
            let mut rows = Article::objects()
                .order_by(Article::views.asc())
                .stream(&db);
            let first = rows.next().await.expect("a row")?;
            assert_eq!(first.title, "a0000");
            drop(rows);
        }
        let (open, idle) = all_idle(&db).await;
        assert_eq!(
            usize::try_from(open).expect("small"),
            idle,
            "a connection was kept"
        );
        assert_eq!(Article::objects().count(&db).await?, 300);

        // A stream read to its end also gives it back.
        let n = Article::objects().stream(&db).count().await;
        assert_eq!(n, 300);
        let (open, idle) = all_idle(&db).await;
        assert_eq!(usize::try_from(open).expect("small"), idle);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_row_that_does_not_decode_stops_the_query_with_its_error() {
    for_each_database(|db| async move {
        setup(&db).await?;
        articles(&db, 3).await?;
        // A text column read as a number.
        let err = raw(r#"SELECT "title" FROM "blog_article""#)
            .fetch_all::<(i64,)>(&db)
            .await
            .expect_err("text is not a number");
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        // The connection serves the next query.
        let titles = raw(r#"SELECT "title" FROM "blog_article" ORDER BY "title""#)
            .fetch_all::<(String,)>(&db)
            .await?;
        assert_eq!(titles.len(), 3);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn text_lookups_keep_their_case_rules_and_match_wildcards_literally() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut ada = User::new("ada");
        ada.save(&db).await?;
        for title in [
            "Café au lait",
            "CAFÉ NOIR",
            "100% pure",
            "100 pure",
            "under_score",
            "underXscore",
            "a*b?c[d]",
            "Rust",
        ] {
            Article::new(title, &ada).save(&db).await?;
        }
        let titles = |q| {
            let db = db.clone();
            async move {
                let mut t: Vec<String> = Article::objects()
                    .filter(q)
                    .all(&db)
                    .await?
                    .into_iter()
                    .map(|a| a.title)
                    .collect();
                t.sort();
                Ok::<_, Error>(t)
            }
        };
        // ASCII letters fold on both backends.
        assert_eq!(titles(Article::title.icontains("rUST")).await?, ["Rust"]);
        assert_eq!(titles(Article::title.iexact("rust")).await?, ["Rust"]);
        assert_eq!(
            titles(Article::title.istartswith("caf")).await?,
            ["CAFÉ NOIR", "Café au lait"]
        );
        assert_eq!(
            titles(Article::title.iendswith("LAIT")).await?,
            ["Café au lait"]
        );
        // The case-sensitive lookups do not fold.
        assert!(titles(Article::title.contains("rust")).await?.is_empty());
        assert_eq!(titles(Article::title.startswith("Rus")).await?, ["Rust"]);
        assert_eq!(
            titles(Article::title.endswith("NOIR")).await?,
            ["CAFÉ NOIR"]
        );
        // Accented letters match in their own case on both; only
        // PostgreSQL folds them (SQLite's LIKE and LOWER know ASCII only,
        // as under Django).
        assert_eq!(titles(Article::title.contains("É")).await?, ["CAFÉ NOIR"]);
        let folded = titles(Article::title.icontains("café")).await?;
        match db.backend() {
            Backend::Sqlite => assert_eq!(folded, ["Café au lait"]),
            _ => assert_eq!(folded, ["CAFÉ NOIR", "Café au lait"]),
        }
        // Wildcards in the value are literal characters.
        assert_eq!(titles(Article::title.icontains("0%")).await?, ["100% pure"]);
        assert_eq!(titles(Article::title.contains("0%")).await?, ["100% pure"]);
        assert_eq!(
            titles(Article::title.icontains("r_s")).await?,
            ["under_score"]
        );
        assert_eq!(
            titles(Article::title.contains("r_s")).await?,
            ["under_score"]
        );
        assert!(titles(Article::title.iexact("RUS_")).await?.is_empty());
        for glob in ["*", "?", "[d]", "b?c["] {
            assert_eq!(
                titles(Article::title.contains(glob)).await?,
                ["a*b?c[d]"],
                "{glob}"
            );
            assert_eq!(
                titles(Article::title.icontains(glob)).await?,
                ["a*b?c[d]"],
                "{glob}"
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn executor_streams_raw_rows() {
    for_each_database(|db| async move {
        setup(&db).await?;
        articles(&db, 120).await?;
        let exec: &dyn Executor = &db;
        let stmt =
            manouche::db::Statement::raw(r#"SELECT "views" FROM "blog_article" ORDER BY "views""#);
        let views: Vec<i64> = exec
            .fetch_stream(stmt)
            .and_then(|row| async move { row.get::<i64>(0) })
            .try_collect()
            .await?;
        assert_eq!(views, (0..120).collect::<Vec<i64>>());
        Ok(())
    })
    .await;
}
