//! Foreign keys, select_related, prefetch_related, many-to-many and
//! on_delete rules.

#[path = "support/models.rs"]
mod models;

use manouche::db::testing::{count_queries, for_each_database};
use manouche::db::{Error, ForeignKey, Model};
use models::{Article, Category, Comment, Invoice, Profile, Tag, User, seed, setup};

#[tokio::test]
async fn select_related_turns_n_plus_one_into_one_query() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        // Without select_related: one query per article to follow the key.
        let (names, queries) = count_queries(&db, async {
            let mut names = Vec::new();
            for a in Article::objects().all(&db).await? {
                assert!(a.author.get().is_none());
                names.push(a.author.fetch(&db).await?.username);
            }
            Ok::<_, Error>(names)
        })
        .await;
        assert_eq!(names?.len(), 3);
        assert_eq!(queries, 4);
        let (articles, queries) = count_queries(
            &db,
            Article::objects()
                .select_related(Article::author)
                .order_by(Article::views.desc())
                .all(&db),
        )
        .await;
        assert_eq!(queries, 1);
        let names: Vec<&str> = articles
            .as_ref()
            .map_err(|e| e.to_string())
            .expect("query ran")
            .iter()
            .map(|a| a.author.get().map_or("?", |u| u.username.as_str()))
            .collect();
        assert_eq!(names, ["ada", "bob", "ada"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn select_related_on_nullable_key() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, bob, mut articles) = seed(&db).await?;
        articles[0].editor = Some(ForeignKey::from(&bob));
        articles[0].save(&db).await?;
        let rows = Article::objects()
            .select_related(Article::editor)
            .select_related(Article::author)
            .order_by(Article::views.desc())
            .all(&db)
            .await?;
        assert_eq!(
            rows[0]
                .editor
                .as_ref()
                .and_then(|e| e.get())
                .map(|u| u.username.as_str()),
            Some("bob")
        );
        assert!(rows[1].editor.is_none());
        assert_eq!(rows[1].author.get().map(|u| u.pk()), Some(bob.pk()));
        assert_eq!(rows[0].author.get().map(|u| u.pk()), Some(ada.pk()));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn prefetch_reverse_foreign_key_in_one_extra_query() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let (users, queries) = count_queries(
            &db,
            User::objects().prefetch_related(User::articles).all(&db),
        )
        .await;
        let users = users?;
        assert_eq!(queries, 2);
        let counts: Vec<(String, usize)> = users
            .iter()
            .map(|u| {
                (
                    u.username.clone(),
                    u.articles.prefetched().map_or(99, <[_]>::len),
                )
            })
            .collect();
        assert_eq!(counts, [("ada".to_owned(), 2), ("bob".to_owned(), 1)]);
        // Without prefetch, `all` queries; with it, it does not.
        let (_, queries) = count_queries(&db, users[0].articles.all(&db)).await;
        assert_eq!(queries, 0);
        let fresh = User::objects()
            .filter(User::username.eq("ada"))
            .get(&db)
            .await?;
        let (theirs, queries) = count_queries(&db, fresh.articles.all(&db)).await;
        assert_eq!(queries, 1);
        assert_eq!(theirs?.len(), 2);
        assert_eq!(
            fresh
                .articles
                .query()?
                .filter(Article::published.eq(true))
                .count(&db)
                .await?,
            1
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn many_to_many_add_remove_set_clear_all_and_prefetch() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, articles) = seed(&db).await?;
        let tags = Tag::objects()
            .bulk_create(&db, vec![Tag::new("rust"), Tag::new("db"), Tag::new("web")])
            .await?;
        let (rust, dbt, web) = (&tags[0], &tags[1], &tags[2]);
        let a = &articles[0];
        a.tags.add(&db, &[rust, dbt]).await?;
        a.tags.add(&db, &[rust]).await?; // already there: no error, no duplicate
        let names = |v: Vec<Tag>| v.into_iter().map(|t| t.name).collect::<Vec<_>>();
        assert_eq!(names(a.tags.all(&db).await?), ["db", "rust"]);
        a.tags.remove(&db, &[dbt]).await?;
        assert_eq!(names(a.tags.all(&db).await?), ["rust"]);
        a.tags.set(&db, &[web, dbt]).await?;
        assert_eq!(names(a.tags.all(&db).await?), ["db", "web"]);
        articles[1].tags.add(&db, &[rust]).await?;
        let (rows, queries) = count_queries(
            &db,
            Article::objects()
                .prefetch_related(Article::tags)
                .order_by(Article::views.desc())
                .all(&db),
        )
        .await;
        let rows = rows?;
        assert_eq!(queries, 2);
        let loaded: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                r.tags
                    .prefetched()
                    .unwrap_or_default()
                    .iter()
                    .map(|t| t.name.clone())
                    .collect()
            })
            .collect();
        assert_eq!(loaded, [vec!["db", "web"], vec![], vec!["rust"]]);
        // Query through the relation.
        assert_eq!(
            a.tags
                .query()?
                .filter(Tag::name.startswith("w"))
                .count(&db)
                .await?,
            1
        );
        a.tags.clear(&db).await?;
        assert!(a.tags.all(&db).await?.is_empty());
        // Unsaved instances cannot use the relation.
        let unsaved = Article::new("x", &User::new("nobody"));
        assert!(matches!(
            unsaved.tags.add(&db, &[rust]).await,
            Err(Error::NotSaved { .. })
        ));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn delete_cascades_and_sets_null() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, bob, mut articles) = seed(&db).await?;
        articles[2].editor = Some(ForeignKey::from(&ada));
        articles[2].save(&db).await?;
        for a in &articles {
            Comment {
                id: Default::default(),
                article: ForeignKey::from(a),
                text: "hi".into(),
            }
            .save(&db)
            .await?;
        }
        let tag = Tag::objects().create(&db, Tag::new("t")).await?;
        articles[0].tags.add(&db, &[&tag]).await?;
        // Deleting ada: her 2 articles, their 2 comments and the join row
        // of her tagged article go (Django counts it too); bob's article
        // loses its editor.
        let deleted = ada.delete(&db).await?;
        assert_eq!(deleted, 6);
        assert_eq!(Article::objects().count(&db).await?, 1);
        assert_eq!(Comment::objects().count(&db).await?, 1);
        let left = Article::objects().get(&db).await?;
        assert!(left.editor.is_none(), "set_null applied");
        assert_eq!(left.author.id(), bob.pk().as_ref());
        // The join rows of the deleted article are gone, the tag stays.
        assert!(Tag::objects().exists(&db).await?);
        let n: Vec<(i64,)> = manouche::db::raw("SELECT COUNT(*) FROM blog_article_tags")
            .fetch_all(&db)
            .await?;
        assert_eq!(n, [(0,)]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn delete_self_referencing_cascade() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut root = Category {
            id: Default::default(),
            name: "root".into(),
            parent: None,
        };
        root.save(&db).await?;
        let mut child = Category {
            id: Default::default(),
            name: "child".into(),
            parent: Some(ForeignKey::from(&root)),
        };
        child.save(&db).await?;
        let mut grandchild = Category {
            id: Default::default(),
            name: "grandchild".into(),
            parent: Some(ForeignKey::from(&child)),
        };
        grandchild.save(&db).await?;
        let mut other = Category {
            id: Default::default(),
            name: "other".into(),
            parent: None,
        };
        other.save(&db).await?;
        let n = Category::objects()
            .filter(Category::name.eq("root"))
            .delete(&db)
            .await?;
        assert_eq!(n, 3);
        let names: Vec<String> = Category::objects()
            .all(&db)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["other"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn protect_and_restrict_refuse_and_roll_back() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, bob, _) = seed(&db).await?;
        Invoice {
            id: Default::default(),
            customer: ForeignKey::from(&ada),
            amount: "9.99".parse().expect("decimal"),
        }
        .save(&db)
        .await?;
        let err = ada.delete(&db).await.expect_err("protected");
        assert!(
            matches!(
                err,
                Error::Protected {
                    model: "User",
                    related_model: "Invoice",
                    field: "customer",
                    count: 1
                }
            ),
            "{err}"
        );
        // Nothing was deleted: the cascade to articles was rolled back.
        assert_eq!(Article::objects().count(&db).await?, 3);
        assert_eq!(User::objects().count(&db).await?, 2);
        Profile {
            id: Default::default(),
            user: ForeignKey::from(&bob),
            bio: String::new(),
        }
        .save(&db)
        .await?;
        let err = User::objects()
            .filter(User::username.eq("bob"))
            .delete(&db)
            .await
            .expect_err("restricted");
        assert!(
            matches!(
                err,
                Error::Restricted {
                    related_model: "Profile",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(User::objects().count(&db).await?, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn many_to_many_through_an_explicit_model() {
    use models::{Group, Membership, Person};
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut ann = Person {
            id: Default::default(),
            name: "ann".into(),
            groups: Default::default(),
        };
        ann.save(&db).await?;
        let mut ben = Person {
            id: Default::default(),
            name: "ben".into(),
            groups: Default::default(),
        };
        ben.save(&db).await?;
        let chess = Group::objects()
            .create(
                &db,
                Group {
                    id: Default::default(),
                    name: "chess".into(),
                },
            )
            .await?;
        let go = Group::objects()
            .create(
                &db,
                Group {
                    id: Default::default(),
                    name: "go".into(),
                },
            )
            .await?;
        Membership {
            id: Default::default(),
            person: ForeignKey::from(&ann),
            group: ForeignKey::from(&chess),
            role: "chair".into(),
        }
        .save(&db)
        .await?;
        // add() through the model: the extra column takes its default.
        ann.groups.add(&db, &[&go]).await?;
        ben.groups.add(&db, &[&go]).await?;
        let names: Vec<String> = ann
            .groups
            .all(&db)
            .await?
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, ["chess", "go"]);
        let role = Membership::objects()
            .filter(Membership::person.eq(&ann) & Membership::group.then(Group::name).eq("go"))
            .get(&db)
            .await?
            .role;
        assert_eq!(role, "member");
        let people = Person::objects()
            .prefetch_related(Person::groups)
            .all(&db)
            .await?;
        let loaded: Vec<usize> = people
            .iter()
            .map(|p| p.groups.prefetched().map_or(0, <[_]>::len))
            .collect();
        assert_eq!(loaded, [2, 1]);
        // Deleting a group cascades through the membership rows.
        go.delete(&db).await?;
        assert_eq!(Membership::objects().count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn get_or_create_recovers_from_a_unique_violation_inside_a_transaction() {
    for_each_database(|db| async move {
        setup(&db).await?;
        Tag::objects().create(&db, Tag::new("taken")).await?;
        let tx = db.begin().await?;
        // The filter misses the existing row, the insert collides with it.
        let err = Tag::objects()
            .filter(Tag::name.eq("taken") & Tag::id.gt(1_000_000))
            .get_or_create(&tx, || Tag::new("taken"))
            .await
            .expect_err("collides");
        assert!(err.is_unique_violation(), "{err}");
        // The savepoint was rolled back: the outer transaction still works.
        Tag::objects().create(&tx, Tag::new("fresh")).await?;
        tx.commit().await?;
        assert_eq!(Tag::objects().count(&db).await?, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn select_related_follows_several_keys_in_one_query() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, articles) = seed(&db).await?;
        for a in &articles {
            Comment {
                id: Default::default(),
                article: ForeignKey::from(a),
                text: format!("on {}", a.title),
            }
            .save(&db)
            .await?;
        }
        let (rows, queries) = count_queries(
            &db,
            Comment::objects()
                .select_related(Comment::article.then(Article::author))
                .all(&db),
        )
        .await;
        let rows = rows?;
        assert_eq!(queries, 1);
        let pairs: Vec<(String, String)> = rows
            .iter()
            .map(|c| {
                let article = c.article.get().expect("article loaded");
                let author = article.author.get().expect("author loaded");
                (article.title.clone(), author.username.clone())
            })
            .collect();
        assert_eq!(
            pairs,
            [
                ("Rust ORMs".to_owned(), "ada".to_owned()),
                ("Async Rust".to_owned(), "ada".to_owned()),
                ("Python tips".to_owned(), "bob".to_owned())
            ]
        );
        // Ordering by a column across the relation.
        let by_author: Vec<String> = Article::objects()
            .order_by([
                Article::author.then(User::username).desc(),
                Article::views.asc(),
            ])
            .all(&db)
            .await?
            .into_iter()
            .map(|a| a.title)
            .collect();
        assert_eq!(by_author, ["Python tips", "Async Rust", "Rust ORMs"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn exclude_keeps_rows_where_the_column_is_null() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (ada, bob, mut articles) = seed(&db).await?;
        articles[0].editor = Some(ForeignKey::from(&bob));
        articles[0].save(&db).await?;
        // Like Django: excluding editor = bob keeps the rows without an editor.
        assert_eq!(
            Article::objects()
                .exclude(Article::editor.eq(&bob))
                .count(&db)
                .await?,
            2
        );
        let q = Article::editor.then(User::username).eq("bob");
        assert_eq!(Article::objects().exclude(q).count(&db).await?, 2);
        assert_eq!(
            Article::objects()
                .exclude(Article::editor.eq(&ada))
                .count(&db)
                .await?,
            3
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn lookups_across_reverse_and_many_to_many_relations() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, articles) = seed(&db).await?;
        let tags = Tag::objects()
            .bulk_create(&db, vec![Tag::new("rust"), Tag::new("python")])
            .await?;
        articles[0].tags.add(&db, &[&tags[0]]).await?;
        articles[1].tags.add(&db, &[&tags[0]]).await?;
        articles[2].tags.add(&db, &[&tags[1]]).await?;
        // Reverse foreign key: users with an article about Rust.
        let rusty = User::objects().filter(User::articles.then(Article::title).icontains("rust"));
        assert_eq!(
            rusty.clone().count(&db).await?,
            2,
            "one row per matching article"
        );
        let names: Vec<String> = rusty
            .distinct()
            .all(&db)
            .await?
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["ada"]);
        // Many-to-many: articles tagged rust.
        let tagged = Article::objects()
            .filter(Article::tags.then(Tag::name).eq("rust"))
            .count(&db)
            .await?;
        assert_eq!(tagged, 2);
        // Two hops: users who wrote something tagged python.
        let py = User::objects()
            .filter(
                User::articles
                    .then(Article::tags.then(Tag::name))
                    .eq("python"),
            )
            .distinct()
            .all(&db)
            .await?;
        assert_eq!(
            py.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
            ["bob"]
        );
        // Grouped count through the join table: articles per tag.
        let mut per_tag = Tag::objects()
            .unordered()
            .values((Tag::name, Tag::id.count()))
            .all(&db)
            .await?;
        per_tag.sort();
        assert_eq!(per_tag, [("python".to_owned(), 1), ("rust".to_owned(), 1)]);
        let mut per_user = User::objects()
            .values((User::username, User::articles.then(Article::id).count()))
            .all(&db)
            .await?;
        per_user.sort();
        assert_eq!(per_user, [("ada".to_owned(), 2), ("bob".to_owned(), 1)]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn set_default_and_do_nothing() {
    use models::Note;
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut fallback = User::new("fallback");
        fallback.save(&db).await?;
        assert_eq!(fallback.pk(), Some(1), "the default key must exist");
        let (ada, bob, _) = seed(&db).await?;
        let mut note = Note {
            id: Default::default(),
            owner: ForeignKey::from(&ada),
            watcher: None,
        };
        note.save(&db).await?;
        ada.delete(&db).await?;
        note.refresh(&db).await?;
        assert_eq!(note.owner.id(), Some(&1), "set_default applied");
        // do_nothing leaves it to the database, whose constraint refuses.
        note.watcher = Some(ForeignKey::from(&bob));
        note.save(&db).await?;
        let err = bob.delete(&db).await.expect_err("still referenced");
        assert!(matches!(err, Error::ForeignKeyViolation { .. }), "{err}");
        // Refused as a whole: bob's article is still there.
        assert_eq!(
            Article::objects()
                .filter(Article::author.eq(&bob))
                .count(&db)
                .await?,
            1
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn models_serialize_with_their_loaded_relations() {
    for_each_database(|db| async move {
        setup(&db).await?;
        seed(&db).await?;
        let users = User::objects()
            .prefetch_related(User::articles)
            .all(&db)
            .await?;
        let json = serde_json::to_value(
            users
                .iter()
                .map(|u| {
                    (
                        u.username.clone(),
                        u.id,
                        u.articles.prefetched().map(<[_]>::len),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .expect("serializable");
        assert_eq!(json, serde_json::json!([["ada", 1, 2], ["bob", 2, 1]]));
        let article = Article::objects()
            .select_related(Article::author)
            .first(&db)
            .await?
            .expect("an article");
        let fk = serde_json::to_value(&article.author).expect("serializable");
        assert_eq!(fk, serde_json::json!(article.author.id()));
        let back: ForeignKey<User> =
            serde_json::from_value(serde_json::json!(2)).expect("deserializable");
        assert_eq!(back.id(), Some(&2));
        let tags: manouche::db::ManyToMany<Tag> =
            serde_json::from_value(serde_json::json!([1, 2])).expect("ignored");
        assert!(tags.prefetched().is_none());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn reverse_many_to_many_accessor() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, articles) = seed(&db).await?;
        let tags = Tag::objects()
            .bulk_create(
                &db,
                vec![Tag::new("rust"), Tag::new("python"), Tag::new("unused")],
            )
            .await?;
        articles[0].tags.add(&db, &[&tags[0]]).await?;
        articles[1].tags.add(&db, &[&tags[0], &tags[1]]).await?;
        let rust = &tags[0];
        let mut titles: Vec<String> = rust
            .articles
            .all(&db)
            .await?
            .into_iter()
            .map(|a| a.title)
            .collect();
        titles.sort();
        assert_eq!(titles, ["Async Rust", "Rust ORMs"]);
        assert_eq!(
            rust.articles
                .query()?
                .filter(Article::views.gt(6))
                .count(&db)
                .await?,
            1
        );
        let (loaded, queries) =
            count_queries(&db, Tag::objects().prefetch_related(Tag::articles).all(&db)).await;
        assert_eq!(queries, 2);
        let counts: Vec<(String, usize)> = loaded?
            .into_iter()
            .map(|t| {
                (
                    t.name.clone(),
                    t.articles.prefetched().map_or(99, <[_]>::len),
                )
            })
            .collect();
        assert_eq!(
            counts,
            [
                ("python".to_owned(), 1),
                ("rust".to_owned(), 2),
                ("unused".to_owned(), 0)
            ]
        );
        let busy = Tag::objects()
            .filter(
                Tag::articles
                    .then(Article::author.then(User::username))
                    .eq("ada"),
            )
            .distinct()
            .count(&db)
            .await?;
        assert_eq!(busy, 2);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn large_prefetch_and_delete_stay_under_parameter_limits() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let tags: Vec<Tag> = (0..12_500).map(|i| Tag::new(&format!("t{i}"))).collect();
        Tag::objects().bulk_create(&db, tags).await?;
        let (loaded, queries) =
            count_queries(&db, Tag::objects().prefetch_related(Tag::articles).all(&db)).await;
        assert_eq!(loaded?.len(), 12_500);
        assert_eq!(
            queries, 3,
            "one query for the tags, two chunks for the prefetch"
        );
        assert_eq!(Tag::objects().delete(&db).await?, 12_500);
        assert!(!Tag::objects().exists(&db).await?);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn relations_named_at_run_time_filter_and_load_like_typed_ones() {
    use manouche::db::query::LookupOp;
    use manouche::db::{Q, QuerySet};
    for_each_database(|db| async move {
        setup(&db).await?;
        let (_, _, articles) = seed(&db).await?;
        let mut rust = Tag::new("rust");
        rust.save(&db).await?;
        for a in &articles[..2] {
            a.tags.add(&db, &[&rust]).await?;
        }
        // A foreign key followed by name, as `author.then(username)`.
        let db_ref = &db;
        let titles = |qs: QuerySet<Article>| async move {
            let mut t: Vec<String> = qs.all(db_ref).await?.into_iter().map(|a| a.title).collect();
            t.sort();
            Ok::<_, Error>(t)
        };
        let by_name = Q::<Article>::named("author__username", LookupOp::Exact, "bob")?;
        assert_eq!(
            titles(Article::objects().filter(by_name)).await?,
            ["Python tips"]
        );
        // A many-to-many step, and a reverse one back to the articles.
        let tagged = Q::<Article>::named("tags__name", LookupOp::IExact, "RUST")?;
        assert_eq!(
            titles(Article::objects().filter(tagged)).await?,
            ["Async Rust", "Rust ORMs"]
        );
        let users = User::objects()
            .filter(Q::named("articles__title", LookupOp::IContains, "rust")?)
            .distinct()
            .count(&db)
            .await?;
        assert_eq!(users, 1);
        // A step that is not a relation, or a last one that is no column.
        assert!(matches!(
            Q::<Article>::named("title__username", LookupOp::Exact, "x"),
            Err(Error::UnknownField { .. })
        ));
        assert!(matches!(
            Q::<Article>::named("author__nothing", LookupOp::Exact, "x"),
            Err(Error::UnknownField { model: "User", .. })
        ));
        // select_related by name: one query, rows read back by name.
        let (rows, queries) = count_queries(
            &db,
            Article::objects()
                .select_related_path("author")?
                .order_by(Article::views.desc())
                .all(&db),
        )
        .await;
        assert_eq!(queries, 1);
        let names: Vec<String> = rows?
            .iter()
            .map(|a| {
                a.loaded_related("author")
                    .and_then(|u| u.downcast_ref::<User>())
                    .map_or_else(|| "?".to_owned(), |u| u.username.clone())
            })
            .collect();
        assert_eq!(names, ["ada", "bob", "ada"]);
        // Without it, only the key is there.
        let plain = Article::objects().first(&db).await?.expect("an article");
        assert!(plain.loaded_related("author").is_none());
        assert!(plain.loaded_related("title").is_none());
        // Only foreign keys can be joined this way.
        assert!(Article::objects().select_related_path("tags").is_err());
        assert!(Article::objects().select_related_path("title").is_err());
        Ok(())
    })
    .await;
}
