//! SQL-injection payloads through every lookup and through ordering by a
//! user-chosen column name: values are always bound, names are validated.

#[path = "support/models.rs"]
mod models;

use manouche::db::testing::for_each_database;
use manouche::db::{Error, Model, Q};
use models::{Article, Tag, User, seed, setup};

const PAYLOADS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE blog_tag; --",
    "\" OR \"\"=\"",
    "1; DELETE FROM blog_user",
    "%' OR 1=1 --",
    "_%",
    "\\'; SELECT pg_sleep(1); --",
    "') UNION SELECT id, username FROM blog_user --",
    "!%_!",
];

#[tokio::test]
async fn payloads_through_every_lookup_match_only_literally() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        for p in PAYLOADS {
            Tag::new(p).save(&db).await?;
        }
        Tag::new("plain").save(&db).await?;
        db.capture_queries();
        let total = (PAYLOADS.len() + 1) as i64;
        for p in PAYLOADS {
            let s = (*p).to_owned();
            let lookups: Vec<(&str, Q<Tag>, i64)> = vec![
                ("exact", Tag::name.eq(s.clone()), 1),
                ("iexact", Tag::name.iexact(s.clone()), 1),
                ("ne", Tag::name.ne(s.clone()), total - 1),
                ("in", Tag::name.in_([s.clone(), "nope".to_owned()]), 1),
                ("range", Tag::name.range(s.clone(), s.clone()), 1),
            ];
            for (name, q, expected) in lookups {
                let n = Tag::objects().filter(q).count(&db).await?;
                assert_eq!(n, expected, "lookup {name} with payload {p:?}");
            }
            // Text lookups: the payload must be found literally (at least its
            // own row), and never match everything.
            let text: Vec<(&str, Q<Tag>)> = vec![
                ("contains", Tag::name.contains(s.clone())),
                ("icontains", Tag::name.icontains(s.clone())),
                ("startswith", Tag::name.startswith(s.clone())),
                ("istartswith", Tag::name.istartswith(s.clone())),
                ("endswith", Tag::name.endswith(s.clone())),
                ("iendswith", Tag::name.iendswith(s.clone())),
            ];
            for (name, q) in text {
                let rows = Tag::objects().filter(q).all(&db).await?;
                assert!(rows.iter().any(|t| t.name == *p), "{name} must find {p:?}");
                assert!(
                    rows.iter().all(|t| t.name.contains(*p)),
                    "{name} with {p:?} matched {rows:?}"
                );
            }
            for q in [
                Tag::name.gt(s.clone()),
                Tag::name.gte(s.clone()),
                Tag::name.lt(s.clone()),
                Tag::name.lte(s.clone()),
            ] {
                let n = Tag::objects().filter(q).count(&db).await?;
                assert!(n < total + 1, "comparison stayed a comparison");
            }
            // Across a relation and in excluded/negated form.
            let n = Article::objects()
                .filter(Article::author.then(User::username).eq(s.clone()))
                .count(&db)
                .await?;
            assert_eq!(n, 0);
            let n = Article::objects()
                .exclude(Article::title.icontains(s.clone()))
                .count(&db)
                .await?;
            assert_eq!(n, 3);
        }
        // Field names and values given at run time.
        for p in PAYLOADS {
            let q = Q::<Tag>::named("name", manouche::db::query::LookupOp::Exact, p)?;
            assert_eq!(
                Tag::objects().filter(q).count(&db).await?,
                1,
                "named lookup with {p:?}"
            );
            let q = Q::<Tag>::named("name", manouche::db::query::LookupOp::IContains, p)?;
            assert!(Tag::objects().filter(q).count(&db).await? >= 1);
            let bad = Q::<Tag>::named(p, manouche::db::query::LookupOp::Exact, "x");
            assert!(
                matches!(bad, Err(Error::UnknownField { .. })),
                "field name {p:?} accepted"
            );
        }
        // Nothing was dropped or deleted, and no payload reached the SQL text.
        assert_eq!(Tag::objects().count(&db).await?, total);
        assert_eq!(User::objects().count(&db).await?, 2);
        for sql in db.captured_queries() {
            for p in PAYLOADS {
                assert!(!sql.contains(p), "payload {p:?} in SQL text: {sql}");
            }
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn ordering_by_user_supplied_names_is_validated() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        for p in PAYLOADS.iter().copied().chain([
            "title; DROP TABLE blog_article",
            "-views, (SELECT 1)",
            "title DESC",
            "",
        ]) {
            let err = Article::objects()
                .order_by_names([p])
                .expect_err("not a field");
            assert!(
                matches!(
                    err,
                    Error::UnknownField {
                        model: "Article",
                        ..
                    }
                ),
                "{p:?}: {err}"
            );
        }
        // Real names, by field or column, ascending or descending, work.
        let rows = Article::objects()
            .order_by_names(["-views", "title"])?
            .all(&db)
            .await?;
        assert_eq!(rows.iter().map(|a| a.views).collect::<Vec<_>>(), [10, 7, 5]);
        let rows = Article::objects()
            .order_by_names(["author_id", "+views"])?
            .all(&db)
            .await?;
        assert_eq!(rows.len(), 3);
        assert_eq!(Article::objects().count(&db).await?, 3);
        Ok(())
    })
    .await;
}
