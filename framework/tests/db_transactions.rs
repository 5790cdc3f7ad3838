//! Transactions: commit, rollback on error and panic, savepoints, and use
//! from an axum handler.

#[path = "support/models.rs"]
mod models;

use axum::extract::Extension;
use axum::routing::get;
use manouche::db::testing::for_each_database;
use manouche::db::{Db, Error, Executor, Model, Q};
use models::{Tag, setup};

/// The names of every tag, in the model's order.
async fn tag_names(db: &dyn Executor) -> Result<Vec<String>, Error> {
    Ok(Tag::objects()
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect())
}

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
        let names = tag_names(&db).await?;
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
        let names = tag_names(&db).await?;
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

#[tokio::test]
async fn a_savepoint_dropped_while_its_transaction_is_busy_is_still_rolled_back() {
    use futures_util::TryStreamExt as _;
    for_each_database(|db| async move {
        setup(&db).await?;
        let tx = db.begin().await?;
        Tag::new("outer").save(&tx).await?;
        let outer_sp = tx.begin().await?;
        Tag::new("in the outer savepoint").save(&outer_sp).await?;
        let inner_sp = outer_sp.begin().await?;
        Tag::new("in the inner savepoint").save(&inner_sp).await?;
        {
            // A stream on the transaction holds its connection while the
            // savepoints are dropped, the enclosing one last.
            let mut rows = tx.fetch_stream(manouche::db::Statement::raw("SELECT 1"));
            assert!(rows.try_next().await?.is_some());
            drop(inner_sp);
            drop(outer_sp);
        }
        assert_eq!(Tag::objects().count(&tx).await?, 1);
        tx.commit().await?;
        let names = tag_names(&db).await?;
        assert_eq!(names, ["outer"]);
        // Dropped the other way round (enclosing first), also fine.
        let tx = db.begin().await?;
        let outer_sp = tx.begin().await?;
        let inner_sp = outer_sp.begin().await?;
        Tag::new("gone").save(&inner_sp).await?;
        drop(outer_sp);
        drop(inner_sp);
        assert_eq!(Tag::objects().count(&tx).await?, 1);
        tx.commit().await?;
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_or_create_is_safe_when_called_at_the_same_time() {
    use models::User;
    for_each_database(|db| async move {
        setup(&db).await?;
        for round in 0..5 {
            let name = format!("racer{round}");
            let calls = (0..8).map(|i| {
                let db = db.clone();
                let name = name.clone();
                tokio::spawn(async move {
                    User::objects()
                        .filter(User::username.eq(name.clone()))
                        .update_or_create(
                            &db,
                            |u| u.email = Some(format!("{i}@example.com").parse().unwrap()),
                            || {
                                let mut u = User::new(&name);
                                u.email = Some(format!("{i}@example.com").parse().unwrap());
                                u
                            },
                        )
                        .await
                })
            });
            let mut created = 0;
            for call in futures_util::future::join_all(calls).await {
                let (user, was_created) = call.expect("task")?;
                assert_eq!(user.username, name);
                created += usize::from(was_created);
            }
            assert_eq!(created, 1, "round {round}: one call creates the row");
            assert_eq!(
                User::objects()
                    .filter(User::username.eq(name.clone()))
                    .count(&db)
                    .await?,
                1
            );
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_read_only_transaction_does_not_hold_up_writers() {
    use manouche::db::Backend;
    for_each_database(|db| async move {
        setup(&db).await?;
        Tag::new("before").save(&db).await?;
        let reader = db.begin_read_only().await?;
        assert_eq!(Tag::objects().count(&reader).await?, 1);
        // Another connection writes at once: a read/write transaction
        // would hold SQLite's write lock until it ends (the write would
        // wait out the busy timeout and fail).
        let started = std::time::Instant::now();
        Tag::new("meanwhile").save(&db).await?;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the write waited {:?}",
            started.elapsed()
        );
        // The reader keeps its snapshot, and may not write on PostgreSQL.
        assert_eq!(Tag::objects().count(&reader).await?, 1);
        if db.backend() == Backend::Postgres {
            assert!(Tag::new("refused").save(&reader).await.is_err());
        }
        reader.rollback().await?;
        assert_eq!(Tag::objects().count(&db).await?, 2);
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

/// Autocommit writes that arrive together are committed together on SQLite
/// (one transaction, one disk sync); each still gets the answer it would
/// have had alone. On PostgreSQL they run side by side as before.
#[tokio::test]
async fn writes_arriving_together_each_get_their_own_answer() {
    for_each_database(|db| async move {
        setup(&db).await?;
        Tag::new("taken").save(&db).await?;
        // Polled together on one thread: the first write starts, the others
        // queue behind it and go as one batch, one of which breaks a unique
        // constraint in the middle.
        let names: Vec<String> = (0..40)
            .map(|i| {
                if i == 17 {
                    "taken".to_owned()
                } else {
                    format!("t{i}")
                }
            })
            .collect();
        let results = futures_util::future::join_all(names.iter().map(|name| {
            let db = &db;
            async move {
                let mut tag = Tag::new(name);
                tag.save(db).await.map(|()| tag)
            }
        }))
        .await;
        let mut ids = std::collections::BTreeSet::new();
        for (i, result) in results.into_iter().enumerate() {
            if i == 17 {
                assert!(
                    matches!(result, Err(Error::UniqueViolation { .. })),
                    "{result:?}"
                );
                continue;
            }
            let tag = result?;
            let id = tag.id.get().expect("saved");
            assert!(ids.insert(id), "id {id} given twice");
            let stored = Tag::objects().filter(Tag::id.eq(id)).get(&db).await?;
            assert_eq!(stored.name, format!("t{i}"));
        }
        // Every write took effect exactly once, the failed one not at all.
        assert_eq!(Tag::objects().count(&db).await?, 40);
        assert_eq!(
            Tag::objects()
                .filter(Tag::name.eq("taken"))
                .count(&db)
                .await?,
            1
        );

        // Updates and deletes in one batch: each counts its own rows.
        let counts = futures_util::future::join_all((0..10).map(|i| {
            let db = &db;
            async move {
                if i % 2 == 0 {
                    Tag::objects()
                        .filter(Tag::name.eq(format!("t{i}")))
                        .update(db, [Tag::name.set(format!("renamed{i}"))])
                        .await
                } else {
                    Tag::objects()
                        .filter(Tag::name.eq(format!("t{i}")) | Tag::name.eq("nobody"))
                        .delete(db)
                        .await
                }
            }
        }))
        .await;
        for count in counts {
            assert_eq!(count?, 1);
        }
        assert_eq!(
            Tag::objects()
                .filter(Tag::name.startswith("renamed"))
                .count(&db)
                .await?,
            5
        );
        assert_eq!(Tag::objects().count(&db).await?, 35);
        Ok(())
    })
    .await;
}

/// More queries than connections, a transaction holding one of them, and
/// a query cancelled halfway: every later query still gets a connection
/// promptly, and a working one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_come_back_to_queries_and_transactions() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("pool.sqlite3").display());
    let mut options = manouche::db::DatabaseOptions::default();
    options.max_connections = 2;
    options.acquire_timeout = std::time::Duration::from_secs(5);
    let db = manouche::db::Database::connect(&url, &options)
        .await
        .expect("connect");
    setup(&db).await.expect("tables");
    let held = db.begin().await.expect("a transaction");
    let reads = futures_util::future::join_all((0..20).map(|_| {
        let db = db.clone();
        tokio::spawn(async move { Tag::objects().count(&db).await })
    }))
    .await;
    for read in reads {
        assert_eq!(read.expect("no panic").expect("a connection"), 0);
    }
    held.rollback().await.expect("rolled back");
    // Both connections now idle, the readers' one ready for the next
    // query: transactions take them instead of waiting out the pool's
    // timeout, and a query still finds one while a transaction holds the
    // other.
    let quick = std::time::Duration::from_secs(3);
    for _ in 0..3 {
        let tx = tokio::time::timeout(quick, db.begin())
            .await
            .expect("not left waiting")
            .expect("a transaction");
        Tag::new("inside").save(&tx).await.expect("saved");
        let outside = tokio::time::timeout(quick, Tag::objects().count(&db))
            .await
            .expect("not left waiting")
            .expect("counted");
        assert_eq!(outside, 0, "not committed yet");
        tx.rollback().await.expect("rolled back");
    }

    // A query cancelled mid-statement: its connection is checked before it
    // serves again, and the next query answers correctly.
    let slow = manouche::db::Statement::raw(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n",
    );
    let cancelled =
        tokio::time::timeout(std::time::Duration::from_millis(20), db.fetch_all(slow)).await;
    assert!(cancelled.is_err(), "the slow query was cut short");
    for _ in 0..4 {
        assert_eq!(Tag::objects().count(&db).await.expect("a connection"), 0);
    }
    let (open, idle) = db.pool_status();
    assert!(
        open <= 2 && idle <= open as usize,
        "{open} open, {idle} idle"
    );
    db.close().await;
}

/// Reads of the same text arriving together on SQLite share one command;
/// each still gets its own rows, and one that fails does not take the
/// others down with it. Two connections: one read runs at once, the
/// others queue behind it and are combined.
#[tokio::test]
async fn reads_arriving_together_each_get_their_own_rows() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("reads.sqlite3").display());
    let mut options = manouche::db::DatabaseOptions::default();
    options.max_connections = 2;
    let db = manouche::db::Database::connect(&url, &options)
        .await
        .expect("connect");
    setup(&db).await.expect("tables");
    for i in 0..20 {
        Tag::new(&format!("r{i}")).save(&db).await.expect("saved");
    }
    // The same text with different values, polled together: the first
    // runs, the others queue and go by sixteen, then by twos and ones.
    let found = futures_util::future::join_all((0..20).map(|i| {
        let db = &db;
        async move {
            Tag::objects()
                .filter(Tag::name.eq(format!("r{i}")))
                .all(db)
                .await
        }
    }))
    .await;
    for (i, tags) in found.into_iter().enumerate() {
        let tags = tags.expect("read");
        assert_eq!(tags.len(), 1, "r{i}");
        assert_eq!(tags[0].name, format!("r{i}"));
    }

    // SQLite refuses abs() of the smallest integer: a read in the middle
    // of a combined command fails, those before it are answered, those
    // after it run again.
    let answers = futures_util::future::join_all((0..17_i64).map(|i| {
        let db = &db;
        async move {
            let value = if i == 8 { i64::MIN } else { -i };
            manouche::db::raw("SELECT abs(?)")
                .bind(value)
                .fetch_all::<(i64,)>(db)
                .await
        }
    }))
    .await;
    for (i, answer) in (0_i64..).zip(answers) {
        if i == 8 {
            let err = answer.expect_err("abs of the smallest integer");
            assert!(err.to_string().contains("overflow"), "{err}");
        } else {
            assert_eq!(answer.expect("read"), [(i,)]);
        }
    }
    db.close().await;
}

/// Closing the database right after a write returns: the task that
/// committed it may still be putting its connection back, and the close
/// must not wait for a connection that went back to a shut pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_right_after_a_write_does_not_wait_forever() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for i in 0..60 {
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("close-{i}.sqlite3")).display()
        );
        let db = manouche::db::Database::connect(&url, &manouche::db::DatabaseOptions::default())
            .await
            .expect("connect");
        setup(&db).await.expect("tables");
        Tag::new("last").save(&db).await.expect("saved");
        tokio::time::timeout(std::time::Duration::from_secs(5), db.close())
            .await
            .expect("closed without waiting forever");
    }
}
