//! values(), aggregates, grouped annotations, distinct and raw SQL.

#[path = "support/models.rs"]
mod models;

use manouche::db::testing::for_each_database;
use manouche::db::{Aggregate, Model, raw};
use models::{Article, User, seed, setup};

#[tokio::test]
async fn values_select_columns() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let rows = Article::objects()
            .order_by(Article::views.asc())
            .values((Article::title, Article::views))
            .all(&db)
            .await?;
        assert_eq!(
            rows,
            [
                ("Async Rust".to_owned(), 5),
                ("Python tips".to_owned(), 7),
                ("Rust ORMs".to_owned(), 10)
            ]
        );
        let names = Article::objects()
            .order_by(Article::views.asc())
            .values(Article::author.then(User::username))
            .all(&db)
            .await?;
        assert_eq!(names, ["ada", "bob", "ada"]);
        let distinct = Article::objects()
            .unordered()
            .distinct()
            .values(Article::published)
            .all(&db)
            .await?;
        assert_eq!(distinct.len(), 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn aggregates_and_grouping() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let all = || Article::objects();
        assert_eq!(all().sum(&db, Article::views).await?, Some(22));
        assert_eq!(all().min(&db, Article::views).await?, Some(5));
        assert_eq!(all().max(&db, Article::views).await?, Some(10));
        let avg = all().avg(&db, Article::views).await?.expect("rows exist");
        assert!((avg - 22.0 / 3.0).abs() < 1e-9, "{avg}");
        assert_eq!(
            all()
                .filter(Article::views.gt(100))
                .sum(&db, Article::views)
                .await?,
            None
        );
        assert_eq!(
            all().max(&db, Article::title).await?.as_deref(),
            Some("Rust ORMs")
        );
        let (count, total) = all()
            .values((Aggregate::count(), Article::views.sum()))
            .all(&db)
            .await?[0];
        assert_eq!((count, total), (3, Some(22)));
        // Grouped: per author, number of articles and total views.
        let mut per_author = all()
            .values((
                Article::author.then(User::username),
                Article::id.count(),
                Article::views.sum(),
            ))
            .all(&db)
            .await?;
        per_author.sort();
        assert_eq!(
            per_author,
            [
                ("ada".to_owned(), 2, Some(15)),
                ("bob".to_owned(), 1, Some(7))
            ]
        );
        let by_published = all()
            .order_by(Article::published.asc())
            .values((Article::published, Article::author.count_distinct()))
            .all(&db)
            .await?;
        assert_eq!(by_published, [(false, 1), (true, 2)]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn raw_sql_with_bound_values_and_typed_rows() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let placeholder = match db.backend() {
            manouche::db::Backend::Postgres => "$1",
            _ => "?",
        };
        let sql = format!("SELECT * FROM blog_user WHERE username = {placeholder}");
        let users: Vec<User> = raw(sql.as_str()).bind("bob".to_owned()).fetch_all(&db).await?;
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].username, "bob");
        // The bound value is data, never SQL.
        let none: Vec<User> = raw(sql.as_str()).bind("bob' OR '1'='1".to_owned()).fetch_all(&db).await?;
        assert!(none.is_empty());
        let counts: Vec<(String, i64)> = raw(
            "SELECT u.username, COUNT(a.id) FROM blog_user u JOIN blog_article a ON a.author_id = u.id \
             GROUP BY u.username ORDER BY u.username",
        )
        .fetch_all(&db)
        .await?;
        assert_eq!(counts, [("ada".to_owned(), 2), ("bob".to_owned(), 1)]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn annotate_rows_with_aggregates_over_relations() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let mut carol = User::new("carol");
        carol.save(&db).await?;
        let rows = User::objects()
            .annotate((
                User::articles.then(Article::id).count(),
                User::articles.then(Article::views).sum(),
            ))
            .all(&db)
            .await?;
        let got: Vec<(String, i64, Option<i64>)> = rows
            .into_iter()
            .map(|(u, (n, views))| (u.username, n, views))
            .collect();
        assert_eq!(
            got,
            [
                ("ada".to_owned(), 2, Some(15)),
                ("bob".to_owned(), 1, Some(7)),
                ("carol".to_owned(), 0, None)
            ]
        );
        // Filters on the same relation narrow what is aggregated.
        let published = User::objects()
            .filter(User::articles.then(Article::published).eq(true))
            .annotate(User::articles.then(Article::id).count())
            .all(&db)
            .await?;
        let got: Vec<(String, i64)> = published
            .into_iter()
            .map(|(u, n)| (u.username, n))
            .collect();
        assert_eq!(got, [("ada".to_owned(), 1), ("bob".to_owned(), 1)]);
        // With select_related and a plain column.
        let rows = Article::objects()
            .select_related(Article::author)
            .order_by(Article::views.asc())
            .annotate(Article::author.then(User::username))
            .all(&db)
            .await?;
        let got: Vec<(String, String, String)> = rows
            .into_iter()
            .map(|(a, name)| {
                (
                    a.title,
                    a.author
                        .get()
                        .map(|u| u.username.clone())
                        .unwrap_or_default(),
                    name,
                )
            })
            .collect();
        assert_eq!(
            got[0],
            ("Async Rust".to_owned(), "ada".to_owned(), "ada".to_owned())
        );
        assert_eq!(got.len(), 3);
        Ok(())
    })
    .await;
}
