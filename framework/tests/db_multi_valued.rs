//! Queries across many-to-many and reverse foreign key relations, with
//! Django's results: chained filters each get their own join, `exclude()`
//! drops a row when any related row matches, aggregates read the rows of a
//! slice or of `distinct()`, changes drop prefetched rows, and a delete
//! counts what it removed per model.

#[path = "support/press.rs"]
mod press;

use manouche::db::testing::for_each_database;
use manouche::db::{Executor, Model, QuerySet};
use press::{Article, Author, Book, Publication, Tag, library, setup};

fn id<M: Model<Pk = i64>>(obj: &M) -> i64 {
    obj.pk().expect("saved")
}

async fn headlines(qs: QuerySet<Article>, db: &dyn Executor) -> manouche::db::Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|a| a.headline).collect())
}

async fn titles(qs: QuerySet<Publication>, db: &dyn Executor) -> manouche::db::Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|p| p.title).collect())
}

async fn names(qs: QuerySet<Author>, db: &dyn Executor) -> manouche::db::Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|a| a.name).collect())
}

fn tag(name: &str) -> Tag {
    Tag {
        id: manouche::db::Auto::new(),
        name: name.into(),
    }
}

fn in_publication(p: &Publication) -> manouche::db::Q<Article> {
    Article::publications.then(Publication::id).eq(id(p))
}

// ---- Spanning multi-valued relationships: filter() ----

#[tokio::test]
async fn chained_filters_on_a_many_to_many_each_get_their_own_join() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        // Django: filter(publications=p1).filter(publications=p2) means "in
        // both"; only "NASA uses Python" is.
        let both = Article::objects()
            .filter(in_publication(&p.p1))
            .filter(in_publication(&p.p2));
        assert_eq!(headlines(both, &db).await?, ["NASA uses Python"]);
        // Three calls, three joins.
        let three = Article::objects()
            .filter(in_publication(&p.p1))
            .filter(in_publication(&p.p3))
            .filter(in_publication(&p.p4));
        assert_eq!(headlines(three, &db).await?, ["NASA uses Python"]);
        // The article of p1 that is not in p2 fails the second call.
        let not_both = Article::objects()
            .filter(in_publication(&p.p1))
            .filter(in_publication(&p.empty));
        assert!(headlines(not_both, &db).await?.is_empty());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn conditions_in_one_filter_call_share_the_join() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        // Django: filter(Q(publications=p1) & Q(publications=p2)) asks one
        // related row to be both: none is.
        let same_row = Article::objects().filter(in_publication(&p.p1) & in_publication(&p.p2));
        assert!(headlines(same_row, &db).await?.is_empty());
        // Within one call, a title and an id of the same publication.
        let science = Article::objects().filter(
            Article::publications
                .then(Publication::title)
                .startswith("Science")
                & Article::publications.then(Publication::id).eq(id(&p.p3)),
        );
        assert_eq!(headlines(science, &db).await?, ["NASA uses Python"]);
        // OR in one call also shares the join: one row per matching
        // publication, as in Django (a2 is in both).
        let either = Article::objects()
            .filter(in_publication(&p.p1) | in_publication(&p.p2))
            .unordered();
        assert_eq!(either.clone().count(&db).await?, 5);
        assert_eq!(either.distinct().count(&db).await?, 4);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn q_objects_in_separate_filter_calls_each_get_their_own_join() {
    for_each_database(|db| async move {
        setup(&db).await?;
        press::press(&db).await?;
        let science = Article::publications
            .then(Publication::title)
            .startswith("Science");
        let journal = Article::publications
            .then(Publication::title)
            .eq("The Python Journal");
        // In one call: no publication is both.
        let one = Article::objects().filter(science.clone() & journal.clone());
        assert!(headlines(one, &db).await?.is_empty());
        // In two calls: a2 is in a Science publication and in the Journal,
        // once per Science publication (two), as Django returns it.
        let two = Article::objects().filter(science).filter(journal);
        assert_eq!(
            headlines(two.clone(), &db).await?,
            ["NASA uses Python", "NASA uses Python"]
        );
        assert_eq!(headlines(two.distinct(), &db).await?, ["NASA uses Python"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn filter_in_then_filter_exact_means_one_of_and_also() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        // filter(publications__in=[p1, p3]).filter(publications=p2): in p1
        // or p3, and in p2. a1 (p1 only) drops out; a2 stays, once per
        // publication of the first call it matched (p1 and p3).
        let qs = Article::objects()
            .filter(
                Article::publications
                    .then(Publication::id)
                    .in_([id(&p.p1), id(&p.p3)]),
            )
            .filter(in_publication(&p.p2));
        assert_eq!(qs.clone().count(&db).await?, 2);
        assert_eq!(headlines(qs.distinct(), &db).await?, ["NASA uses Python"]);
        // The same with articles and their tags:
        // filter(tags__in=[rust, db]).filter(tags=web).
        let tags = Tag::objects()
            .bulk_create(&db, ["rust", "db", "web"].map(tag).into())
            .await?;
        let (rust, dbt, web) = (&tags[0], &tags[1], &tags[2]);
        p.a1.tags.add(&db, &[rust, dbt]).await?;
        p.a2.tags.add(&db, &[rust, web]).await?;
        p.a3.tags.add(&db, &[dbt]).await?;
        p.a4.tags.add(&db, &[dbt, web, rust]).await?;
        let qs = Article::objects()
            .filter(Article::tags.then(Tag::id).in_([id(rust), id(dbt)]))
            .filter(Article::tags.then(Tag::id).eq(id(web)));
        assert_eq!(qs.clone().count(&db).await?, 3, "a4 once per rust and db");
        assert_eq!(
            headlines(qs.distinct(), &db).await?,
            ["NASA uses Python", "Oxygen-free diet works wonders"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn chained_filters_on_a_reverse_foreign_key_each_get_their_own_join() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Django's blog/entry example with authors and the books they are
        // the contact of: Peter Norvig has a book rated 5 (946 pages) and a
        // book of more than 1000 pages (rated 4), but no one book is both.
        let rated = Author::contacted.then(Book::rating).eq(5.0);
        let long = Author::contacted.then(Book::pages).gt(1000);
        let one_book = Author::objects().filter(rated.clone() & long.clone());
        assert!(names(one_book, &db).await?.is_empty());
        let some_books = Author::objects().filter(rated).filter(long);
        assert_eq!(names(some_books, &db).await?, ["Peter Norvig"]);
        // The same through the reverse side of a many-to-many.
        let rated = Author::books.then(Book::rating).eq(5.0);
        let long = Author::books.then(Book::pages).gt(1000);
        assert!(
            names(Author::objects().filter(rated.clone() & long.clone()), &db)
                .await?
                .is_empty()
        );
        assert_eq!(
            names(Author::objects().filter(rated).filter(long), &db).await?,
            ["Peter Norvig"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn annotations_after_filters_count_the_filtered_related_rows() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Django: filter(book__rating__gt=4).annotate(Count("book")) counts
        // only the books the filter kept.
        let mut rows = Author::objects()
            .filter(Author::books.then(Book::rating).gte(4.5))
            .unordered()
            .values((Author::name, Author::books.then(Book::id).count()))
            .all(&db)
            .await?;
        rows.sort();
        assert_eq!(
            rows,
            [
                ("Adrian Holovaty".to_owned(), 1),
                ("Jacob Kaplan-Moss".to_owned(), 1),
                ("Peter Norvig".to_owned(), 1),
            ]
        );
        Ok(())
    })
    .await;
}

// ---- exclude() across multi-valued relations ----

#[tokio::test]
async fn exclude_a_many_to_many_drops_every_object_with_a_matching_row() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        // Django's many_to_many test_selects: exclude(publications=p2).
        let qs = Article::objects().exclude(in_publication(&p.p2));
        assert_eq!(
            headlines(qs, &db).await?,
            ["Django lets you build Web apps easily"]
        );
        // `filter(!q)` is the same (Django's `filter(~Q(...))`).
        let qs = Article::objects().filter(!in_publication(&p.p2));
        assert_eq!(
            headlines(qs, &db).await?,
            ["Django lets you build Web apps easily"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn exclude_across_the_reverse_many_to_many_returns_each_object_once() {
    for_each_database(|db| async move {
        setup(&db).await?;
        press::press(&db).await?;
        // Publications with no article about an oxygen-free diet: every one
        // but Science News, each once, the empty one included.
        let qs = Publication::objects().exclude(
            Publication::articles
                .then(Article::headline)
                .eq("Oxygen-free diet works wonders"),
        );
        assert_eq!(
            titles(qs, &db).await?,
            [
                "Empty Quarterly",
                "Highlights for Children",
                "Science Weekly",
                "The Python Journal"
            ]
        );
        // Publications with no NASA article: only the empty one.
        let qs = Publication::objects().exclude(
            Publication::articles
                .then(Article::headline)
                .startswith("NASA"),
        );
        assert_eq!(titles(qs.clone(), &db).await?, ["Empty Quarterly"]);
        assert_eq!(qs.count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn chained_excludes_compose() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        let qs = Article::objects()
            .exclude(in_publication(&p.p1))
            .exclude(in_publication(&p.p3));
        assert_eq!(
            headlines(qs, &db).await?,
            [
                "NASA finds intelligent life on Earth",
                "Oxygen-free diet works wonders"
            ]
        );
        // A filter and an exclude on the same relation: in p2, not in p1.
        let qs = Article::objects()
            .filter(in_publication(&p.p2))
            .exclude(in_publication(&p.p1));
        assert_eq!(
            headlines(qs, &db).await?,
            [
                "NASA finds intelligent life on Earth",
                "Oxygen-free diet works wonders"
            ]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn conditions_in_one_exclude_call_need_not_refer_to_the_same_row() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Django's docs: exclude(entry__headline__contains="Lennon",
        // entry__pub_date__year=2008) drops blogs with a Lennon entry and a
        // 2008 entry, not necessarily the same one. Peter Norvig's 5-rated
        // book and his 1000-page book are two books; he is dropped.
        let qs = Author::objects().exclude(
            Author::contacted.then(Book::rating).eq(5.0)
                & Author::contacted.then(Book::pages).gt(1000),
        );
        let kept = names(qs, &db).await?;
        assert_eq!(kept.len(), 8);
        assert!(!kept.iter().any(|n| n == "Peter Norvig"));
        // Authors who are the contact of no book stay.
        assert!(kept.iter().any(|n| n == "Stuart Russell"));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn exclude_through_a_foreign_key_then_a_multi_valued_relation() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Books whose contact wrote no book rated 3: Brad Dayley wrote the
        // Sams book (3.0) and is its contact; every other book stays, once.
        let qs =
            Book::objects().exclude(Book::contact.then(Author::books.then(Book::rating)).eq(3.0));
        let kept: Vec<String> = qs.all(&db).await?.into_iter().map(|b| b.name).collect();
        assert_eq!(
            kept,
            [
                "Artificial Intelligence: A Modern Approach",
                "Paradigms of AI Programming",
                "Practical Django Projects",
                "Python Web Development with Django",
                "The Definitive Guide to Django"
            ]
        );
        // And the filter that is its complement, joined.
        let qs =
            Book::objects().filter(Book::contact.then(Author::books.then(Book::rating)).eq(3.0));
        let names: Vec<String> = qs.all(&db).await?.into_iter().map(|b| b.name).collect();
        assert_eq!(names, ["Sams Teach Yourself Django in 24 Hours"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn exclude_isnull_across_a_multi_valued_relation() {
    for_each_database(|db| async move {
        setup(&db).await?;
        press::press(&db).await?;
        library(&db).await?;
        // exclude(article__isnull=True): publications with an article.
        let qs =
            Publication::objects().exclude(Publication::articles.then(Article::id).isnull(true));
        assert_eq!(
            titles(qs, &db).await?,
            [
                "Highlights for Children",
                "Science News",
                "Science Weekly",
                "The Python Journal"
            ]
        );
        // Over a reverse foreign key: the authors who are a contact.
        let qs = Author::objects().exclude(Author::contacted.then(Book::id).isnull(true));
        assert_eq!(
            names(qs, &db).await?,
            [
                "Adrian Holovaty",
                "Brad Dayley",
                "James Bennett",
                "Jeffrey Forcier",
                "Peter Norvig"
            ]
        );
        Ok(())
    })
    .await;
}

// ---- Aggregates over distinct() and slices ----

#[tokio::test]
async fn aggregate_over_a_slice_reads_only_the_sliced_rows() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        let top = || {
            Book::objects()
                .order_by([Book::rating.desc(), Book::pages.asc()])
                .limit(3)
        };
        // Ratings 5.0, 4.5 and the shortest of the 4.0s.
        assert_eq!(top().avg(&db, Book::rating).await?, Some(4.5));
        assert_eq!(top().sum(&db, Book::rating).await?, Some(13.5));
        assert_eq!(top().min(&db, Book::rating).await?, Some(4.0));
        assert_eq!(top().max(&db, Book::rating).await?, Some(5.0));
        assert_eq!(top().count(&db).await?, 3);
        // Every row when not sliced.
        let all = Book::objects().avg(&db, Book::rating).await?;
        assert!(all.is_some_and(|avg| (avg - 24.5 / 6.0).abs() < 1e-9));
        // An offset: the three lowest-rated after the lowest.
        let rest = Book::objects()
            .order_by([Book::rating.asc(), Book::pages.asc()])
            .offset(1)
            .limit(3);
        assert_eq!(rest.clone().max(&db, Book::pages).await?, Some(1132));
        assert_eq!(rest.sum(&db, Book::rating).await?, Some(12.0));
        // values() with aggregates alone is the same aggregate.
        let avg_pages = top()
            .values((Book::pages.sum(), Book::rating.avg()))
            .all(&db)
            .await?;
        assert_eq!(avg_pages, [(Some(447 + 946 + 300), Some(4.5))]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn aggregate_over_distinct_rows_counts_each_row_once() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Authors of a book rated 4 or more: Peter Norvig wrote two.
        let good = || Author::objects().filter(Author::books.then(Book::rating).gte(4.0));
        assert_eq!(good().count(&db).await?, 9);
        assert_eq!(good().distinct().count(&db).await?, 8);
        assert_eq!(good().sum(&db, Author::age).await?, Some(292 + 57));
        assert_eq!(good().distinct().sum(&db, Author::age).await?, Some(292));
        assert_eq!(good().distinct().max(&db, Author::age).await?, Some(57));
        let avg = good().distinct().avg(&db, Author::age).await?;
        assert!(avg.is_some_and(|a| (a - 292.0 / 8.0).abs() < 1e-9));
        Ok(())
    })
    .await;
}

// ---- Prefetched rows after changes ----

fn prefetched_titles(a: &Article) -> Option<Vec<String>> {
    a.publications
        .prefetched()
        .map(|ps| ps.iter().map(|p| p.title.clone()).collect())
}

async fn prefetched_a4(db: &dyn Executor, a4: &Article) -> manouche::db::Result<Article> {
    Article::objects()
        .prefetch_related(Article::publications)
        .filter(Article::id.eq(id(a4)))
        .get(db)
        .await
}

#[tokio::test]
async fn clear_after_prefetch() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        let a4 = prefetched_a4(&db, &p.a4).await?;
        assert_eq!(
            prefetched_titles(&a4),
            Some(vec!["Science News".to_owned()])
        );
        a4.publications.clear(&db).await?;
        assert_eq!(prefetched_titles(&a4), None);
        assert!(a4.publications.all(&db).await?.is_empty());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn remove_after_prefetch() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        let a4 = prefetched_a4(&db, &p.a4).await?;
        a4.publications.remove(&db, &[&p.p2]).await?;
        assert!(a4.publications.all(&db).await?.is_empty());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn add_after_prefetch_and_add_then_remove_after_prefetch() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        let a4 = prefetched_a4(&db, &p.a4).await?;
        assert_eq!(a4.publications.all(&db).await?.len(), 1);
        a4.publications.add(&db, &[&p.p1]).await?;
        assert_eq!(a4.publications.all(&db).await?.len(), 2);
        a4.publications.remove(&db, &[&p.p1]).await?;
        let left: Vec<String> = a4
            .publications
            .all(&db)
            .await?
            .into_iter()
            .map(|p| p.title)
            .collect();
        assert_eq!(left, ["Science News"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn set_after_prefetch() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        let a4 = prefetched_a4(&db, &p.a4).await?;
        assert_eq!(a4.publications.all(&db).await?.len(), 1);
        a4.publications.set(&db, &[&p.p2, &p.p1]).await?;
        assert_eq!(a4.publications.all(&db).await?.len(), 2);
        a4.publications.set(&db, &[&p.p1]).await?;
        assert_eq!(a4.publications.all(&db).await?.len(), 1);
        // A new prefetch loads the rows again.
        let again = prefetched_a4(&db, &p.a4).await?;
        assert_eq!(
            prefetched_titles(&again),
            Some(vec!["The Python Journal".to_owned()])
        );
        Ok(())
    })
    .await;
}

// ---- Delete counts ----

#[tokio::test]
async fn model_delete_returns_num_rows_with_join_table_rows() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let p = press::press(&db).await?;
        // Django: a2.delete() == (5, {"Article": 1, "Article_publications": 4}).
        let deleted = p.a2.delete_counted(&db).await?;
        assert_eq!(deleted.total, 5);
        assert_eq!(
            deleted.per_model.into_iter().collect::<Vec<_>>(),
            [
                ("press.Article".to_owned(), 1),
                ("press.Article_publications".to_owned(), 4)
            ]
        );
        // The old API gives the same total.
        assert_eq!(p.a3.delete(&db).await?, 2);
        assert_eq!(
            titles(Publication::objects(), &db).await?.len(),
            5,
            "publications stay"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn queryset_delete_returns_num_rows_per_model() {
    for_each_database(|db| async move {
        setup(&db).await?;
        press::press(&db).await?;
        library(&db).await?;
        // The Science publications and their join rows (p2: three
        // articles, p3: one).
        let deleted = Publication::objects()
            .filter(Publication::title.startswith("Science"))
            .delete_counted(&db)
            .await?;
        assert_eq!(deleted.total, 6);
        assert_eq!(deleted.count("press.Publication"), 2);
        assert_eq!(deleted.count("press.Article_publications"), 4);
        assert_eq!(deleted.count("press.Article"), 0);
        // Peter Norvig: the two books he is the contact of go with him
        // (cascade), and the join rows of their authors (three).
        let deleted = Author::objects()
            .filter(Author::name.eq("Peter Norvig"))
            .delete_counted(&db)
            .await?;
        assert_eq!(
            deleted.per_model.clone().into_iter().collect::<Vec<_>>(),
            [
                ("press.Author".to_owned(), 1),
                ("press.Book".to_owned(), 2),
                ("press.Book_authors".to_owned(), 3)
            ]
        );
        assert_eq!(deleted.total, 6);
        // The old API gives the total, join rows included: Adrian and
        // Jacob, the Definitive Guide (Adrian is its contact) and its two
        // join rows.
        let total = Author::objects()
            .filter(Author::name.in_(["Adrian Holovaty", "Jacob Kaplan-Moss"]))
            .delete(&db)
            .await?;
        assert_eq!(total, 2 + 1 + 2);
        Ok(())
    })
    .await;
}
