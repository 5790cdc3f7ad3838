//! Transactions: commit, rollback on error and panic, savepoints, and use
//! from an axum handler.

#[path = "support/models.rs"]
mod models;

use axum::extract::Extension;
use axum::routing::get;
use manouche::db::testing::for_each_database;
use manouche::db::{Db, Error, Executor, Model, Q};
use models::{Tag, setup};

#[tokio::test]
async fn commit_and_rollback_on_error() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let n = db
            .transaction(|tx| async move {
                Tag::new("kept").save(&tx).await?;
                Ok::<_, Error>(1)
            })
            .await?;
        assert_eq!(n, 1);
        let res: Result<(), Error> = db
            .transaction(|tx| async move {
                Tag::new("dropped").save(&tx).await?;
                // Duplicate: fails, the whole transaction rolls back.
                Tag::new("kept").save(&tx).await?;
                Ok(())
            })
            .await;
        assert!(matches!(res, Err(Error::UniqueViolation { .. })));
        let names: Vec<String> = Tag::objects()
            .all(&db)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["kept"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn rollback_on_panic() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let db2 = db.clone();
        let joined = tokio::spawn(async move {
            db2.transaction(|tx| async move {
                Tag::new("doomed").save(&tx).await?;
                if Tag::objects().count(&tx).await? == 1 {
                    panic!("boom");
                }
                Ok::<_, Error>(())
            })
            .await
        })
        .await;
        assert!(joined.is_err_and(|e| e.is_panic()));
        assert_eq!(Tag::objects().count(&db).await?, 0);
        // The pool is still usable.
        Tag::new("after").save(&db).await?;
        assert_eq!(Tag::objects().count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn nested_transactions_use_savepoints() {
    for_each_database(|db| async move {
        setup(&db).await?;
        db.transaction(|tx| async move {
            Tag::new("outer").save(&tx).await?;
            let inner: Result<(), Error> = tx
                .transaction(|sp| async move {
                    assert!(sp.is_nested());
                    Tag::new("inner").save(&sp).await?;
                    Err(Error::Definition("undo the inner part".into()))
                })
                .await;
            assert!(inner.is_err());
            tx.transaction(|sp| async move {
                Tag::new("inner2").save(&sp).await?;
                Ok::<_, Error>(())
            })
            .await?;
            // A savepoint dropped without commit is rolled back too.
            {
                let sp = tx.begin().await?;
                Tag::new("abandoned").save(&sp).await?;
            }
            assert_eq!(Tag::objects().count(&tx).await?, 2);
            Ok::<_, Error>(())
        })
        .await?;
        let names: Vec<String> = Tag::objects()
            .all(&db)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["inner2", "outer"]);
        // Manual form: dropping rolls back.
        {
            let tx = db.begin().await?;
            Tag::new("never").save(&tx).await?;
        }
        assert_eq!(Tag::objects().count(&db).await?, 2);
        let tx = db.begin().await?;
        Tag::new("manual").save(&tx).await?;
        tx.commit().await?;
        assert_eq!(Tag::objects().count(&db).await?, 3);
        Ok(())
    })
    .await;
}

/// Every query method's future must be `Send` to be awaited in a handler.
#[allow(dead_code)]
async fn list_everything(db: Db) -> Result<String, String> {
    let run = async {
        let tags = Tag::objects()
            .filter(Tag::name.icontains("x"))
            .order_by(Tag::name.desc())
            .limit(5)
            .all(&db)
            .await?;
        let users = models::User::objects()
            .prefetch_related(models::User::articles)
            .all(&db)
            .await?;
        let articles = models::Article::objects()
            .select_related(models::Article::author)
            .prefetch_related(models::Article::tags)
            .annotate(models::Article::comments.then(models::Comment::id).count())
            .all(&db)
            .await?;
        let n = Tag::objects().count(&db).await?
            + Tag::objects().values(Tag::id.count()).all(&db).await?[0];
        let (t, _) = Tag::objects()
            .filter(Tag::name.eq("a"))
            .get_or_create(&db, || Tag::new("a"))
            .await?;
        t.delete(&db).await?;
        Tag::objects().filter(Q::none()).delete(&db).await?;
        users[0].articles.all(&db).await?;
        Ok::<_, Error>(format!(
            "{} {} {} {n}",
            tags.len(),
            users.len(),
            articles.len()
        ))
    };
    run.await.map_err(|e| e.to_string())
}

fn _handlers_are_send() {
    let _ = axum::Router::<()>::new().route("/all", get(list_everything));
}

async fn create_tag(db: Db) -> Result<String, String> {
    db.transaction(|tx| async move {
        let t = Tag::objects().create(&tx, Tag::new("from-handler")).await?;
        Ok::<_, Error>(t.name)
    })
    .await
    .map_err(|e| e.to_string())
}

#[tokio::test]
async fn database_is_an_axum_extractor() {
    use axum::body::Body;
    use tower::ServiceExt as _;

    for_each_database(|db| async move {
        setup(&db).await?;
        let app = axum::Router::new()
            .route("/", get(create_tag))
            .layer(Extension(db.clone()));
        let res = app
            .oneshot(
                http::Request::get("/")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(res.status(), http::StatusCode::OK);
        assert!(
            Tag::objects()
                .filter(Tag::name.eq("from-handler"))
                .exists(&db)
                .await?
        );

        // Without a project or an extension: a 500 that says what is missing.
        let bare = axum::Router::new().route("/", get(create_tag));
        let res = bare
            .oneshot(
                http::Request::get("/")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(res.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        // The reason travels with the response for the project's 500 page
        // (shown in debug).
        let report = res
            .extensions()
            .get::<manouche::error_pages::ErrorReport>()
            .expect("an error report for the error page");
        assert!(
            report.detail().contains("has none configured"),
            "{report:?}"
        );
        assert_eq!(db.backend(), Executor::backend(&db));
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_all_succeed() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut tasks = Vec::new();
        for i in 0..24 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.transaction(|tx| async move {
                    // Read then write: the pattern that deadlocks deferred
                    // SQLite transactions.
                    let n = Tag::objects().count(&tx).await?;
                    Tag::new(&format!("tag-{i}-{n}")).save(&tx).await?;
                    Ok::<_, Error>(())
                })
                .await
            }));
        }
        for task in tasks {
            task.await.expect("task did not panic")?;
        }
        assert_eq!(Tag::objects().count(&db).await?, 24);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn select_for_update_and_ping() {
    for_each_database(|db| async move {
        setup(&db).await?;
        db.ping().await?;
        Tag::new("counter").save(&db).await?;
        db.capture_queries();
        db.transaction(|tx| async move {
            let mut tag = Tag::objects()
                .filter(Tag::name.eq("counter"))
                .select_for_update()
                .get(&tx)
                .await?;
            tag.name = "locked-and-updated".into();
            tag.save(&tx).await?;
            Ok::<_, Error>(())
        })
        .await?;
        let locked = db
            .captured_queries()
            .iter()
            .any(|q| q.contains("FOR UPDATE"));
        assert_eq!(locked, db.backend() == manouche::db::Backend::Postgres);
        assert!(
            Tag::objects()
                .filter(Tag::name.eq("locked-and-updated"))
                .exists(&db)
                .await?
        );
        db.close().await;
        let err = db.ping().await.expect_err("closed pool");
        assert!(matches!(err, Error::Unavailable { .. }), "{err}");
        Ok(())
    })
    .await;
}
