//! Query sets, instance methods and errors, on SQLite and (with
//! `DATABASE_URL`) PostgreSQL.

#[path = "support/models.rs"]
mod models;

use manouche::db::testing::for_each_database;
use manouche::db::{Auto, Error, Model, Q};
use models::{Article, Tag, User, seed, setup};

#[tokio::test]
async fn save_inserts_then_updates_and_sets_auto_fields() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut ada = User::new("ada");
        assert_eq!(ada.pk(), None);
        ada.save(&db).await?;
        let id = ada.pk().expect("saved");
        let mut a = Article::new("Hello", &ada);
        a.save(&db).await?;
        assert!(
            a.created.timestamp() > 1_600_000_000,
            "auto_now_add set: {}",
            a.created
        );
        let created = a.created;
        a.title = "Hello again".into();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        a.save(&db).await?;
        assert_eq!(Article::objects().count(&db).await?, 1);
        let fresh = Article::objects().get(&db).await?;
        assert_eq!(fresh.title, "Hello again");
        assert_eq!(fresh.author.id(), Some(&id));
        assert_eq!(fresh.created, created, "auto_now_add kept on update");
        assert!(fresh.updated > created, "auto_now refreshed on update");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn lookups_filter_exclude_and_q() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, _bob, _) = seed(&db).await?;
        let titles = |v: Vec<Article>| {
            let mut t: Vec<String> = v.into_iter().map(|a| a.title).collect();
            t.sort();
            t
        };
        let q = || Article::objects();
        assert_eq!(
            titles(q().filter(Article::title.eq("Rust ORMs")).all(&db).await?),
            ["Rust ORMs"]
        );
        assert_eq!(
            titles(
                q().filter(Article::title.iexact("rust orms"))
                    .all(&db)
                    .await?
            ),
            ["Rust ORMs"]
        );
        assert_eq!(
            titles(q().filter(Article::title.contains("Rust")).all(&db).await?),
            ["Async Rust", "Rust ORMs"]
        );
        assert!(
            q().filter(Article::title.contains("rust"))
                .all(&db)
                .await?
                .is_empty(),
            "contains is case-sensitive"
        );
        assert_eq!(
            titles(
                q().filter(Article::title.icontains("rust"))
                    .all(&db)
                    .await?
            ),
            ["Async Rust", "Rust ORMs"]
        );
        assert_eq!(
            titles(
                q().filter(Article::title.startswith("Rust"))
                    .all(&db)
                    .await?
            ),
            ["Rust ORMs"]
        );
        assert!(
            q().filter(Article::title.startswith("rust"))
                .all(&db)
                .await?
                .is_empty()
        );
        assert_eq!(
            titles(
                q().filter(Article::title.istartswith("rust"))
                    .all(&db)
                    .await?
            ),
            ["Rust ORMs"]
        );
        assert_eq!(
            titles(q().filter(Article::title.endswith("Rust")).all(&db).await?),
            ["Async Rust"]
        );
        assert_eq!(
            titles(
                q().filter(Article::title.iendswith("TIPS"))
                    .all(&db)
                    .await?
            ),
            ["Python tips"]
        );
        assert_eq!(
            titles(q().filter(Article::views.gt(7)).all(&db).await?),
            ["Rust ORMs"]
        );
        assert_eq!(
            titles(q().filter(Article::views.gte(7)).all(&db).await?),
            ["Python tips", "Rust ORMs"]
        );
        assert_eq!(
            titles(q().filter(Article::views.lt(7)).all(&db).await?),
            ["Async Rust"]
        );
        assert_eq!(
            titles(q().filter(Article::views.lte(7)).all(&db).await?),
            ["Async Rust", "Python tips"]
        );
        assert_eq!(
            titles(q().filter(Article::views.in_([5, 10])).all(&db).await?),
            ["Async Rust", "Rust ORMs"]
        );
        assert!(
            q().filter(Article::views.in_(Vec::<i64>::new()))
                .all(&db)
                .await?
                .is_empty()
        );
        assert_eq!(
            titles(q().filter(Article::views.range(6, 10)).all(&db).await?),
            ["Python tips", "Rust ORMs"]
        );
        assert_eq!(
            titles(q().filter(Article::editor.isnull(true)).all(&db).await?).len(),
            3
        );
        assert!(
            q().filter(Article::editor.isnull(false))
                .all(&db)
                .await?
                .is_empty()
        );
        assert_eq!(
            titles(q().filter(Article::author.eq(&ada)).all(&db).await?),
            ["Async Rust", "Rust ORMs"]
        );
        assert_eq!(
            titles(q().exclude(Article::published.eq(true)).all(&db).await?),
            ["Async Rust"]
        );
        let either = Article::views.eq(5) | Article::views.eq(7);
        assert_eq!(
            titles(q().filter(either).all(&db).await?),
            ["Async Rust", "Python tips"]
        );
        let both = Article::published.eq(true) & !Article::title.icontains("python");
        assert_eq!(titles(q().filter(both).all(&db).await?), ["Rust ORMs"]);
        // Lookups across a relation.
        let by_name = Article::author.then(User::username).eq("bob");
        assert_eq!(titles(q().filter(by_name).all(&db).await?), ["Python tips"]);
        let by_prefix = Article::author.then(User::username).istartswith("AD");
        assert_eq!(q().filter(by_prefix).count(&db).await?, 2);
        // Wildcards in values match literally.
        assert!(
            q().filter(Article::title.contains("%"))
                .all(&db)
                .await?
                .is_empty()
        );
        assert!(
            q().filter(Article::title.contains("_"))
                .all(&db)
                .await?
                .is_empty()
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn ordering_limits_and_counts() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let views: Vec<i64> = Article::objects()
            .order_by(Article::views.desc())
            .all(&db)
            .await?
            .into_iter()
            .map(|a| a.views)
            .collect();
        assert_eq!(views, [10, 7, 5]);
        let views: Vec<i64> = Article::objects()
            .order_by([Article::published.desc(), Article::views.asc()])
            .all(&db)
            .await?
            .into_iter()
            .map(|a| a.views)
            .collect();
        assert_eq!(views, [7, 10, 5]);
        let page: Vec<i64> = Article::objects()
            .order_by(Article::views.asc())
            .offset(1)
            .limit(1)
            .all(&db)
            .await?
            .into_iter()
            .map(|a| a.views)
            .collect();
        assert_eq!(page, [7]);
        let skipped = Article::objects()
            .order_by(Article::views.asc())
            .offset(2)
            .all(&db)
            .await?;
        assert_eq!(skipped.len(), 1);
        // Default ordering of User is by username.
        let names: Vec<String> = User::objects()
            .all(&db)
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["ada", "bob"]);
        // Ordering by a user-supplied name, validated.
        let by_name = Article::objects()
            .order_by_names(["-views"])?
            .all(&db)
            .await?;
        assert_eq!(by_name[0].views, 10);
        let err = Article::objects()
            .order_by_names(["nope"])
            .expect_err("unknown field");
        assert!(
            matches!(err, Error::UnknownField { ref field, .. } if field == "nope"),
            "{err}"
        );
        assert!(
            err.to_string().contains("title"),
            "lists valid names: {err}"
        );
        assert_eq!(Article::objects().limit(2).count(&db).await?, 2);
        assert_eq!(
            Article::objects()
                .filter(Article::published.eq(true))
                .count(&db)
                .await?,
            2
        );
        assert!(
            Article::objects()
                .filter(Article::views.eq(7))
                .exists(&db)
                .await?
        );
        assert!(
            !Article::objects()
                .filter(Article::views.eq(8))
                .exists(&db)
                .await?
        );
        let first = Article::objects()
            .order_by(Article::views.asc())
            .first(&db)
            .await?;
        assert_eq!(first.map(|a| a.views), Some(5));
        assert!(
            Article::objects()
                .filter(Article::views.eq(8))
                .first(&db)
                .await?
                .is_none()
        );
        let distinct = Article::objects()
            .filter(Article::published.eq(true))
            .distinct()
            .count(&db)
            .await?;
        assert_eq!(distinct, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn get_reports_typed_errors() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let one = Article::objects()
            .filter(Article::views.eq(10))
            .get(&db)
            .await?;
        assert_eq!(one.title, "Rust ORMs");
        let none = Article::objects()
            .filter(Article::views.eq(99))
            .get(&db)
            .await
            .expect_err("no row");
        assert!(
            matches!(none, Error::DoesNotExist { model: "Article" }),
            "{none}"
        );
        assert!(none.is_does_not_exist());
        let many = Article::objects().get(&db).await.expect_err("three rows");
        assert!(
            matches!(
                many,
                Error::MultipleObjectsReturned {
                    model: "Article",
                    count: 3
                }
            ),
            "{many}"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn get_by_a_unique_column_reads_one_row_and_keeps_django_semantics() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, _bob, articles) = seed(&db).await?;
        let ada_id = ada.pk().expect("saved");
        // By primary key and by a unique column: the row, or DoesNotExist,
        // from a query that does not ask for a second row.
        db.capture_queries();
        let by_pk = User::objects().filter(User::id.eq(ada_id)).get(&db).await?;
        assert_eq!(by_pk.username, "ada");
        let sql = db.captured_queries();
        assert_eq!(sql.len(), 1, "{sql:?}");
        assert!(!sql[0].contains("LIMIT"), "{sql:?}");
        let by_name = User::objects()
            .filter(User::username.eq("ada"))
            .get(&db)
            .await?;
        assert_eq!(by_name.pk(), Some(ada_id));
        let missing = User::objects()
            .filter(User::id.eq(ada_id + 1000))
            .get(&db)
            .await
            .expect_err("no such user");
        assert!(
            matches!(missing, Error::DoesNotExist { model: "User" }),
            "{missing}"
        );
        // A unique column combined with other conditions still filters.
        let unpublished = Article::objects()
            .filter(Article::id.eq(articles[0].pk().expect("saved")) & Article::published.eq(false))
            .get(&db)
            .await
            .expect_err("the first article is published");
        assert!(unpublished.is_does_not_exist(), "{unpublished}");
        // A unique column inside an `or` does not pin a single row.
        let either = Article::objects()
            .filter(Article::id.eq(articles[0].pk().expect("saved")) | Article::views.gt(0))
            .get(&db)
            .await
            .expect_err("three rows match");
        assert!(
            matches!(either, Error::MultipleObjectsReturned { count: 3, .. }),
            "{either}"
        );
        // A join through a reverse relation repeats the user once per
        // matching article: as in Django, that is several objects.
        let repeated = User::objects()
            .filter(User::id.eq(ada_id))
            .filter(User::articles.then(Article::title).icontains("rust"))
            .get(&db)
            .await
            .expect_err("ada has two articles about Rust");
        assert!(
            matches!(repeated, Error::MultipleObjectsReturned { count: 2, .. }),
            "{repeated}"
        );
        // select_related and prefetch_related still load on this path.
        let article = Article::objects()
            .filter(Article::id.eq(articles[1].pk().expect("saved")))
            .select_related(Article::author)
            .get(&db)
            .await?;
        assert_eq!(
            article.author.get().map(|u| u.username.as_str()),
            Some("ada")
        );
        let with_articles = User::objects()
            .filter(User::id.eq(ada_id))
            .prefetch_related(User::articles)
            .get(&db)
            .await?;
        assert_eq!(
            with_articles.articles.prefetched().map(<[Article]>::len),
            Some(2)
        );
        // Inside a transaction too.
        db.transaction(|tx| async move {
            let user = User::objects().filter(User::id.eq(ada_id)).get(&tx).await?;
            assert_eq!(user.username, "ada");
            Ok::<_, Error>(())
        })
        .await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unique_and_foreign_key_violations_are_typed() {
    for_each_database(|db| async move {
        setup(&db).await?;
        User::new("ada").save(&db).await?;
        let err = User::new("ada")
            .save(&db)
            .await
            .expect_err("duplicate username");
        match &err {
            Error::UniqueViolation { table, fields } => {
                assert_eq!(table, "blog_user");
                assert_eq!(fields, &["username"]);
            }
            other => panic!("expected a unique violation, got {other}"),
        }
        let mut ghost = User::new("ghost");
        ghost.id = Auto::from(4242);
        let err = Article::new("Orphan", &ghost)
            .save(&db)
            .await
            .expect_err("no such author");
        match &err {
            Error::ForeignKeyViolation { table, fields } => {
                assert_eq!(table, "blog_article");
                assert!(fields.iter().any(|f| f == "author_id"), "{fields:?}");
            }
            other => panic!("expected a foreign key violation, got {other}"),
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn missing_table_says_run_migrate() {
    for_each_database(|db| async move {
        let err = Tag::objects().all(&db).await.expect_err("no table yet");
        assert!(
            matches!(err, Error::MissingTable { ref table } if table == "blog_tag"),
            "{err:?}"
        );
        assert!(err.to_string().contains("manage migrate"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn refresh_delete_and_creation_helpers() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let rust = Tag::objects().create(&db, Tag::new("rust")).await?;
        assert!(rust.pk().is_some());
        let mut stale = Tag::objects().get(&db).await?;
        Tag::objects()
            .update(&db, [Tag::name.set("rustlang")])
            .await?;
        stale.refresh(&db).await?;
        assert_eq!(stale.name, "rustlang");

        let made = Tag::objects()
            .bulk_create(&db, vec![Tag::new("a"), Tag::new("b"), Tag::new("c")])
            .await?;
        assert!(made.iter().all(|t| t.pk().is_some()));
        let ids: std::collections::HashSet<_> = made.iter().filter_map(|t| t.pk()).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(Tag::objects().count(&db).await?, 4);

        let (got, created) = Tag::objects()
            .filter(Tag::name.eq("a"))
            .get_or_create(&db, || Tag::new("a"))
            .await?;
        assert!(!created);
        assert_eq!(got.pk(), made[0].pk());
        let (_, created) = Tag::objects()
            .filter(Tag::name.eq("d"))
            .get_or_create(&db, || Tag::new("d"))
            .await?;
        assert!(created);
        assert_eq!(Tag::objects().count(&db).await?, 5);

        let (t, created) = Tag::objects()
            .filter(Tag::name.eq("d"))
            .update_or_create(&db, |t| t.name = "dd".into(), || Tag::new("d"))
            .await?;
        assert!(!created);
        assert_eq!(t.name, "dd");
        assert!(
            Tag::objects()
                .filter(Tag::name.eq("dd"))
                .exists(&db)
                .await?
        );
        let (_, created) = Tag::objects()
            .filter(Tag::name.eq("e"))
            .update_or_create(&db, |t| t.name = "never".into(), || Tag::new("e"))
            .await?;
        assert!(created);

        let deleted = made[1].delete(&db).await?;
        assert_eq!(deleted, 1);
        assert!(!Tag::objects().filter(Tag::name.eq("b")).exists(&db).await?);
        let unsaved = Tag::new("zzz").delete(&db).await.expect_err("unsaved");
        assert!(matches!(unsaved, Error::NotSaved { .. }));
        let n = Tag::objects()
            .filter(Tag::name.in_(["a", "c"]))
            .delete(&db)
            .await?;
        assert_eq!(n, 2);
        assert_eq!(Tag::objects().count(&db).await?, 3);
        let changed = Tag::objects()
            .filter(Tag::name.startswith("d"))
            .update(&db, [Tag::name.set("z")])
            .await?;
        assert_eq!(changed, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn q_all_matches_everything() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        assert_eq!(Article::objects().filter(Q::all()).count(&db).await?, 3);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn unique_together_violation_names_both_fields() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, _, _) = seed(&db).await?;
        let err = Article::new("Rust ORMs", &ada)
            .save(&db)
            .await
            .expect_err("same author and slug");
        match err {
            Error::UniqueViolation { table, mut fields } => {
                fields.sort();
                assert_eq!(table, "blog_article");
                assert_eq!(fields, ["author_id", "slug"]);
            }
            other => panic!("expected a unique violation, got {other}"),
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_increments_in_the_database() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let n = Article::objects()
            .filter(Article::published.eq(true))
            .update(
                &db,
                [Article::views.increment(100), Article::body.set("bumped")],
            )
            .await?;
        assert_eq!(n, 2);
        let mut views: Vec<i64> = Article::objects().values(Article::views).all(&db).await?;
        views.sort_unstable();
        assert_eq!(views, [5, 107, 110]);
        Article::objects()
            .update(&db, [Article::views.increment(-5)])
            .await?;
        assert_eq!(
            Article::objects().sum(&db, Article::views).await?,
            Some(207)
        );
        assert_eq!(
            Article::objects()
                .filter(Article::body.eq("bumped"))
                .count(&db)
                .await?,
            2
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn lookups_on_fields_named_at_run_time() {
    use manouche::db::query::LookupOp;
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let count = |field: &str, op: LookupOp, text: &str| {
            let q = Q::<Article>::named(field, op, text);
            let db = db.clone();
            async move { Article::objects().filter(q?).count(&db).await }
        };
        assert_eq!(count("published", LookupOp::Exact, "true").await?, 2);
        assert_eq!(count("published", LookupOp::Exact, "off").await?, 1);
        assert_eq!(count("views", LookupOp::Gte, "7").await?, 2);
        assert_eq!(count("views", LookupOp::In, "5,10").await?, 2);
        assert_eq!(count("views", LookupOp::Range, "6,10").await?, 2);
        assert_eq!(count("title", LookupOp::IContains, "RUST").await?, 2);
        assert_eq!(count("editor", LookupOp::IsNull(true), "").await?, 3);
        assert_eq!(count("author_id", LookupOp::Exact, "2").await?, 1);
        let err = count("views", LookupOp::Exact, "many")
            .await
            .expect_err("not a number");
        assert!(
            matches!(err, Error::InvalidValue { ref field, .. } if field == "views"),
            "{err}"
        );
        let err = count("views", LookupOp::Contains, "1")
            .await
            .expect_err("not text");
        assert!(matches!(err, Error::InvalidValue { .. }), "{err}");
        let err = count("password", LookupOp::Exact, "x")
            .await
            .expect_err("no such field");
        assert!(matches!(err, Error::UnknownField { .. }), "{err}");
        assert_eq!(Article::objects().filter(Q::none()).count(&db).await?, 0);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn bulk_update_writes_many_rows_in_one_statement() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, mut articles) = seed(&db).await?;
        for (i, a) in articles.iter_mut().enumerate() {
            a.views = 1000 + i as i64;
            a.title = format!("edited {i}");
            a.body = "not written".into();
        }
        let (changed, queries) = manouche::db::testing::count_queries(
            &db,
            Article::objects().bulk_update(&db, &articles, &["views", "title"]),
        )
        .await;
        assert_eq!(changed?, 3);
        assert_eq!(queries, 3, "BEGIN, one UPDATE, COMMIT");
        let mut rows: Vec<(String, i64, String)> = Article::objects()
            .values((Article::title, Article::views, Article::body))
            .all(&db)
            .await?;
        rows.sort();
        assert_eq!(
            rows,
            [
                ("edited 0".to_owned(), 1000, String::new()),
                ("edited 1".to_owned(), 1001, String::new()),
                ("edited 2".to_owned(), 1002, String::new())
            ]
        );
        let err = Article::objects()
            .bulk_update(&db, &articles, &["nope"])
            .await
            .expect_err("unknown");
        assert!(matches!(err, Error::UnknownField { .. }));
        let err = Article::objects()
            .bulk_update(&db, &[Article::new("x", &User::new("y"))], &["views"])
            .await;
        assert!(matches!(err, Err(Error::NotSaved { .. })));
        Ok(())
    })
    .await;
}
