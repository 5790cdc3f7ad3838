//! Expressions with Django's results, on SQLite and PostgreSQL: `F()` in
//! filters, updates and annotations (Django's `expressions` tests),
//! conditions and sort keys on aggregates (`HAVING`, the `aggregation`
//! tests), date parts in a time zone, `reverse()` / `last()` /
//! `earliest()` / `latest()`, NULLs first or last, and subqueries
//! (`Exists`, `OuterRef`, `__in` with a query set).

#[path = "support/press.rs"]
mod press;

use chrono::{NaiveDate, NaiveTime, TimeZone as _, Utc};
use manouche::db::testing::for_each_database;
use manouche::db::{
    Aggregate, Auto, Backend, Database, DateTime, Error, Executor, F, ForeignKey, Model, OuterRef,
    QuerySet, Result, Time, TimeZone, exists, schema,
};
use press::{Author, Book, library, setup};

/// Django's `expressions` tests: companies with employees and chairs, and
/// their chief executive.
#[derive(Debug, Clone, Model)]
#[model(app = "expr", ordering = "name")]
struct Company {
    id: Auto<i64>,
    #[model(max_length = 100)]
    name: String,
    num_employees: i32,
    num_chairs: i32,
    ceo: Option<ForeignKey<Employee>>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "expr")]
struct Employee {
    id: Auto<i64>,
    #[model(max_length = 50)]
    firstname: String,
    salary: i32,
}

/// Something that happens at an instant, on a day, maybe at a time of day.
#[derive(Debug, Clone, Model)]
#[model(app = "expr")]
struct Event {
    id: Auto<i64>,
    #[model(max_length = 50)]
    name: String,
    at: DateTime,
    day: NaiveDate,
    starts: Option<Time>,
}

async fn companies(db: &Database) -> Result<()> {
    schema::create_tables(db, &[Employee::schema(), Company::schema()]).await?;
    let mut ceos = Vec::new();
    for (firstname, salary) in [("Joe", 10), ("Frank", 20), ("Max", 30)] {
        let mut e = Employee {
            id: Auto::new(),
            firstname: firstname.into(),
            salary,
        };
        e.save(db).await?;
        ceos.push(e);
    }
    for ((name, employees, chairs), ceo) in [
        ("Example Inc.", 2300, 5),
        ("Foobar Ltd.", 3, 4),
        ("Test GmbH", 32, 1),
    ]
    .into_iter()
    .zip(&ceos)
    {
        Company {
            id: Auto::new(),
            name: name.into(),
            num_employees: employees,
            num_chairs: chairs,
            ceo: Some(ForeignKey::from(ceo)),
        }
        .save(db)
        .await?;
    }
    Ok(())
}

async fn names(qs: QuerySet<Company>, db: &dyn Executor) -> Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|c| c.name).collect())
}

async fn book_names(qs: QuerySet<Book>, db: &dyn Executor) -> Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|b| b.name).collect())
}

async fn author_names(qs: QuerySet<Author>, db: &dyn Executor) -> Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|a| a.name).collect())
}

// ---- F() ----

#[tokio::test]
async fn filter_inter_attribute_compares_two_columns_of_the_row() {
    for_each_database(|db| async move {
        companies(&db).await?;
        // Django: filter(num_employees__gt=F("num_chairs")).
        let more = Company::objects().filter(F(Company::num_employees).gt(Company::num_chairs));
        assert_eq!(names(more, &db).await?, ["Example Inc.", "Test GmbH"]);
        // filter(num_employees__gt=F("num_chairs") * 10): Test GmbH has 32 > 10.
        let ten =
            Company::objects().filter(F(Company::num_employees).gt(F(Company::num_chairs) * 10));
        assert_eq!(names(ten, &db).await?, ["Example Inc.", "Test GmbH"]);
        let forty =
            Company::objects().filter(F(Company::num_employees).gt(Company::num_chairs * 40));
        assert_eq!(names(forty, &db).await?, ["Example Inc."]);
        // exclude() negates it: Foobar has fewer employees than chairs.
        let fewer = Company::objects().exclude(F(Company::num_employees).gte(Company::num_chairs));
        assert_eq!(names(fewer, &db).await?, ["Foobar Ltd."]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn arithmetic_follows_the_order_of_operations() {
    for_each_database(|db| async move {
        companies(&db).await?;
        // Rust's precedence, kept by the parentheses of the SQL: for Test
        // GmbH 1 + 1 * 31 = 32 employees, where (1 + 1) * 31 would be 62.
        let qs = Company::objects().filter(
            F(Company::num_employees).eq(F(Company::num_chairs) + F(Company::num_chairs) * 31),
        );
        assert_eq!(names(qs, &db).await?, ["Test GmbH"]);
        let qs = Company::objects().filter(
            F(Company::num_employees).eq((F(Company::num_chairs) + F(Company::num_chairs)) * 31),
        );
        assert!(names(qs, &db).await?.is_empty());
        // Foobar: 3 employees = 4 chairs - 1; Test GmbH: 32 = 1 * 32.
        let foobar =
            Company::objects().filter(F(Company::num_employees).eq(F(Company::num_chairs) - 1));
        assert_eq!(names(foobar, &db).await?, ["Foobar Ltd."]);
        let gmbh = Company::objects()
            .filter(F(Company::num_employees).eq((F(Company::num_chairs) + 1) * 16));
        assert_eq!(names(gmbh, &db).await?, ["Test GmbH"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_with_f_computes_each_row_in_the_database() {
    for_each_database(|db| async move {
        companies(&db).await?;
        // Django: update(num_chairs=F("num_employees")).
        let changed = Company::objects()
            .update(&db, [Company::num_chairs.set_expr(Company::num_employees)])
            .await?;
        assert_eq!(changed, 3);
        let chairs = Company::objects()
            .values((Company::name, Company::num_chairs))
            .all(&db)
            .await?;
        assert_eq!(
            chairs,
            [
                ("Example Inc.".to_owned(), 2300),
                ("Foobar Ltd.".to_owned(), 3),
                ("Test GmbH".to_owned(), 32)
            ]
        );
        // update(num_chairs=F("num_employees") + 2), on part of the rows.
        Company::objects()
            .filter(Company::num_employees.lt(100))
            .update(
                &db,
                [Company::num_chairs.set_expr(F(Company::num_employees) + 2)],
            )
            .await?;
        let chairs = Company::objects()
            .values(Company::num_chairs)
            .all(&db)
            .await?;
        assert_eq!(chairs, [2300, 5, 34]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn update_cannot_read_a_joined_field() {
    for_each_database(|db| async move {
        companies(&db).await?;
        // Django: "Joined field references are not permitted in this query".
        let err = Company::objects()
            .update(
                &db,
                [Company::num_chairs.set_expr(Company::ceo.then(Employee::salary))],
            )
            .await
            .expect_err("an UPDATE cannot join");
        assert!(
            matches!(&err, Error::InvalidQuery { message, .. } if message.contains("num_chairs")),
            "{err}"
        );
        // Nothing changed.
        let chairs = Company::objects()
            .values(Company::num_chairs)
            .all(&db)
            .await?;
        assert_eq!(chairs, [5, 4, 1]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn f_follows_relations_in_filters_and_annotations() {
    for_each_database(|db| async move {
        companies(&db).await?;
        // filter(ceo__salary__gt=F("num_chairs") * 5): Joe 10 > 25? no;
        // Frank 20 > 20? no; Max 30 > 5: yes.
        let qs = Company::objects()
            .filter(F(Company::ceo.then(Employee::salary)).gt(F(Company::num_chairs) * 5));
        assert_eq!(names(qs, &db).await?, ["Test GmbH"]);
        // annotate(diff=F("num_employees") - F("num_chairs")).
        let rows = Company::objects()
            .annotate(F(Company::num_employees) - F(Company::num_chairs))
            .all(&db)
            .await?;
        let diffs: Vec<(String, Option<i32>)> =
            rows.into_iter().map(|(c, d)| (c.name, d)).collect();
        assert_eq!(
            diffs,
            [
                ("Example Inc.".to_owned(), Some(2295)),
                ("Foobar Ltd.".to_owned(), Some(-1)),
                ("Test GmbH".to_owned(), Some(31))
            ]
        );
        // Books whose contact's age * 10 exceeds their pages.
        setup(&db).await?;
        library(&db).await?;
        let thin =
            Book::objects().filter(F(Book::pages).lt(F(Book::contact.then(Author::age)) * 10));
        assert_eq!(
            book_names(thin, &db).await?,
            ["Python Web Development with Django"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn exclude_with_f_on_a_multi_valued_relation_drops_the_row_if_any_related_row_matches() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Books with an author younger than 30: Practical Django Projects
        // (James Bennett, 29) and Python Web Development (Paul Bissex 29,
        // Wesley J. Chun 25). exclude() drops them whole, and returns the
        // others once.
        let qs = Book::objects().exclude(F(Book::authors.then(Author::age)).lt(30));
        assert_eq!(
            book_names(qs, &db).await?,
            [
                "Artificial Intelligence: A Modern Approach",
                "Paradigms of AI Programming",
                "Sams Teach Yourself Django in 24 Hours",
                "The Definitive Guide to Django",
            ]
        );
        // Comparing two columns across relations: drop the books with an
        // author older than the book's contact.
        let qs = Book::objects()
            .exclude(F(Book::authors.then(Author::age)).gt(F(Book::contact.then(Author::age))));
        // Only the Definitive Guide has a co-author (35) older than its
        // contact (34); Python Web Development's co-authors are younger.
        assert_eq!(book_names(qs, &db).await?.len(), 5);
        Ok(())
    })
    .await;
}

// ---- Filtering and ordering on aggregates (HAVING) ----

fn author_count() -> Aggregate<Book, i64> {
    Book::authors.then(Author::id).count()
}

#[tokio::test]
async fn filter_on_an_annotation_is_a_having_clause() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Django: Book.objects.annotate(num_authors=Count("authors")).filter(num_authors__gt=1).
        let qs = Book::objects().filter(author_count().gt(1));
        assert_eq!(
            book_names(qs.clone(), &db).await?,
            [
                "Artificial Intelligence: A Modern Approach",
                "Python Web Development with Django",
                "The Definitive Guide to Django",
            ]
        );
        // count() counts the groups that pass.
        assert_eq!(qs.clone().count(&db).await?, 3);
        assert!(qs.clone().exists(&db).await?);
        // The annotation and its condition together.
        let rows = qs.annotate(author_count()).all(&db).await?;
        let counted: Vec<(String, i64)> = rows.into_iter().map(|(b, n)| (b.name, n)).collect();
        assert_eq!(
            counted,
            [
                ("Artificial Intelligence: A Modern Approach".to_owned(), 2),
                ("Python Web Development with Django".to_owned(), 3),
                ("The Definitive Guide to Django".to_owned(), 2),
            ]
        );
        // Authors with more than one book: Peter Norvig.
        let prolific = Author::objects().filter(Author::books.then(Book::id).count().gt(1));
        assert_eq!(author_names(prolific, &db).await?, ["Peter Norvig"]);
        // A condition and the aggregate: the filter before restricts what
        // is counted (Django's "order of annotate() and filter() clauses").
        // Books with more than one author older than 30.
        let older = Book::objects()
            .filter(Book::authors.then(Author::age).gt(30))
            .filter(author_count().gt(1));
        assert_eq!(
            book_names(older, &db).await?,
            [
                "Artificial Intelligence: A Modern Approach",
                "The Definitive Guide to Django",
            ]
        );
        // Aggregates over the groups: the average rating of books with
        // several authors (4.0, 4.0, 4.5).
        let avg = Book::objects()
            .filter(author_count().gt(1))
            .avg(&db, Book::rating)
            .await?;
        assert!((avg.expect("rows") - 12.5 / 3.0).abs() < 1e-9);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn order_by_an_annotation_sorts_by_the_aggregate() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // Django: annotate(num_authors=Count("authors")).order_by("-num_authors", "name").
        let qs = Book::objects().order_by([author_count().desc(), Book::name.asc()]);
        assert_eq!(
            book_names(qs.clone(), &db).await?,
            [
                "Python Web Development with Django",
                "Artificial Intelligence: A Modern Approach",
                "The Definitive Guide to Django",
                "Paradigms of AI Programming",
                "Practical Django Projects",
                "Sams Teach Yourself Django in 24 Hours",
            ]
        );
        assert_eq!(qs.clone().count(&db).await?, 6);
        // The top two, by a slice of that order.
        let top = qs.limit(2);
        assert_eq!(
            book_names(top, &db).await?,
            [
                "Python Web Development with Django",
                "Artificial Intelligence: A Modern Approach",
            ]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn subquery_in_and_exists_run_in_the_database() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // filter(contact__in=Author.objects.filter(age__gt=40)): Brad Dayley
        // (45) and Peter Norvig (57) are contacts.
        let old = Author::objects().filter(Author::age.gt(40));
        let qs = Book::objects().filter(Book::contact.in_query(old.clone()));
        assert_eq!(
            book_names(qs, &db).await?,
            [
                "Artificial Intelligence: A Modern Approach",
                "Paradigms of AI Programming",
                "Sams Teach Yourself Django in 24 Hours",
            ]
        );
        // Naming the column, and negated.
        let qs = Book::objects().exclude(Book::contact.in_query(old.values(Author::id)));
        assert_eq!(book_names(qs, &db).await?.len(), 3);
        // Exists(Book.objects.filter(authors=OuterRef("pk"), rating=5)).
        let five = exists(Book::objects().filter(
            F(Book::authors.then(Author::id)).eq(OuterRef(Author::id)) & Book::rating.eq(5.0),
        ));
        let qs = Author::objects().filter(five.clone());
        assert_eq!(author_names(qs, &db).await?, ["Peter Norvig"]);
        let qs = Author::objects().exclude(five);
        assert_eq!(author_names(qs, &db).await?.len(), 8);
        // A subquery reading a multi-valued relation: authors of a book
        // rated 4.5 or more.
        let good = Book::objects()
            .filter(Book::rating.gte(4.5))
            .values(Book::authors.then(Author::id));
        let qs = Author::objects().filter(Author::id.in_query(good));
        assert_eq!(
            author_names(qs, &db).await?,
            ["Adrian Holovaty", "Jacob Kaplan-Moss", "Peter Norvig"]
        );
        Ok(())
    })
    .await;
}

// ---- reverse(), last(), earliest(), latest() ----

#[tokio::test]
async fn reverse_last_earliest_and_latest_as_django() {
    for_each_database(|db| async move {
        setup(&db).await?;
        library(&db).await?;
        // The model orders by name: reverse() turns it round.
        let names = author_names(Author::objects().reverse().limit(2), &db).await?;
        assert_eq!(names, ["Wesley J. Chun", "Stuart Russell"]);
        // reverse() twice is the original order.
        let twice = author_names(Author::objects().reverse().reverse().limit(1), &db).await?;
        assert_eq!(twice, ["Adrian Holovaty"]);
        let last = Author::objects().last(&db).await?.expect("authors");
        assert_eq!(last.name, "Wesley J. Chun");
        // An explicit order, several keys.
        let last = Author::objects()
            .order_by([Author::age.asc(), Author::name.desc()])
            .last(&db)
            .await?
            .expect("authors");
        assert_eq!(last.name, "Peter Norvig");
        // Without any order: by primary key, the last one inserted.
        schema::create_tables(&db, &[Employee::schema()]).await?;
        for name in ["b", "a", "c"] {
            Employee {
                id: Auto::new(),
                firstname: name.into(),
                salary: 1,
            }
            .save(&db)
            .await?;
        }
        let last = Employee::objects().last(&db).await?.map(|e| e.firstname);
        assert_eq!(last.as_deref(), Some("c"));
        let first = Employee::objects().first(&db).await?.map(|e| e.firstname);
        assert_eq!(first.as_deref(), Some("b"));
        let youngest = Author::objects().earliest(&db, Author::age).await?;
        assert_eq!(youngest.name, "Wesley J. Chun");
        let oldest = Author::objects().latest(&db, Author::age).await?;
        assert_eq!(oldest.name, "Peter Norvig");
        // Ties: several keys, as Django's latest("age", "name").
        let latest = Author::objects()
            .latest(&db, [Author::age.asc(), Author::name.asc()])
            .await?;
        assert_eq!(latest.name, "Peter Norvig");
        let of_29 = Author::objects()
            .filter(Author::age.eq(29))
            .latest(&db, [Author::age.asc(), Author::name.asc()])
            .await?;
        assert_eq!(of_29.name, "Paul Bissex");
        // Nothing matches: DoesNotExist, as Django.
        let none = Author::objects()
            .filter(Author::age.gt(100))
            .earliest(&db, Author::age)
            .await;
        assert!(matches!(none, Err(Error::DoesNotExist { .. })), "{none:?}");
        assert!(
            Author::objects()
                .filter(Author::age.gt(100))
                .last(&db)
                .await?
                .is_none()
        );
        // A slice cannot be reordered.
        let sliced = Author::objects().limit(3).latest(&db, Author::age).await;
        assert!(
            matches!(sliced, Err(Error::InvalidQuery { .. })),
            "{sliced:?}"
        );
        Ok(())
    })
    .await;
}

// ---- NULLs first or last ----

async fn events(db: &Database) -> Result<()> {
    schema::create_tables(db, &[Event::schema()]).await?;
    let at = |y, mo, d, h, mi| {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("a time")
    };
    for (name, at, starts) in [
        // 23:30 UTC on 28 March 2026 is 00:30 on the 29th in Paris (UTC+1).
        ("late", at(2026, 3, 28, 23, 30), Some((9, 15))),
        // 22:30 UTC on 1 July is 00:30 on 2 July in Paris (summer, UTC+2).
        ("summer", at(2026, 7, 1, 22, 30), None),
        // New Year's Eve in UTC is already 2026 in Paris.
        ("eve", at(2025, 12, 31, 23, 30), Some((18, 0))),
        // A Sunday morning, 1 February 2026 (Django's week_day 1).
        ("sunday", at(2026, 2, 1, 10, 5), None),
    ] {
        Event {
            id: Auto::new(),
            name: name.into(),
            day: at.date_naive(),
            at,
            starts: starts.map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).expect("a time")),
        }
        .save(db)
        .await?;
    }
    Ok(())
}

async fn event_names(qs: QuerySet<Event>, db: &dyn Executor) -> Result<Vec<String>> {
    Ok(qs.all(db).await?.into_iter().map(|e| e.name).collect())
}

#[tokio::test]
async fn nulls_first_and_nulls_last_are_the_same_on_both_databases() {
    for_each_database(|db| async move {
        events(&db).await?;
        let by = |key| Event::objects().order_by([key, Event::name.asc()]);
        assert_eq!(
            event_names(by(Event::starts.asc().nulls_first()), &db).await?,
            ["summer", "sunday", "late", "eve"]
        );
        assert_eq!(
            event_names(by(Event::starts.asc().nulls_last()), &db).await?,
            ["late", "eve", "summer", "sunday"]
        );
        assert_eq!(
            event_names(by(Event::starts.desc().nulls_first()), &db).await?,
            ["summer", "sunday", "eve", "late"]
        );
        assert_eq!(
            event_names(by(Event::starts.desc().nulls_last()), &db).await?,
            ["eve", "late", "summer", "sunday"]
        );
        // reverse() turns the NULLs round too: descending, NULLs first.
        let reversed = Event::objects()
            .order_by([Event::starts.asc().nulls_last(), Event::name.asc()])
            .reverse();
        assert_eq!(
            event_names(reversed, &db).await?,
            ["sunday", "summer", "eve", "late"]
        );
        // Without either, the databases differ, as documented: SQLite puts
        // NULL first when ascending, PostgreSQL last.
        let plain = event_names(by(Event::starts.asc()), &db).await?;
        match db.backend() {
            Backend::Sqlite => assert_eq!(plain, ["summer", "sunday", "late", "eve"]),
            _ => assert_eq!(plain, ["late", "eve", "summer", "sunday"]),
        }
        Ok(())
    })
    .await;
}

// ---- Date and time lookups ----

#[tokio::test]
async fn date_part_lookups_in_utc() {
    for_each_database(|db| async move {
        events(&db).await?;
        let named = |q| event_names(Event::objects().filter(q).order_by(Event::name.asc()), &db);
        // __year, chained with comparisons.
        assert_eq!(named(Event::at.year().eq(2025)).await?, ["eve"]);
        assert_eq!(
            named(Event::at.year().gte(2026)).await?,
            ["late", "summer", "sunday"]
        );
        assert_eq!(named(Event::at.month().eq(3)).await?, ["late"]);
        assert_eq!(
            named(Event::at.month().in_([2, 7])).await?,
            ["summer", "sunday"]
        );
        assert_eq!(named(Event::at.day().eq(28)).await?, ["late"]);
        assert_eq!(
            named(Event::at.day().range(1, 2)).await?,
            ["summer", "sunday"]
        );
        // Django's week_day: 1 is Sunday.
        assert_eq!(named(Event::at.week_day().eq(1)).await?, ["sunday"]);
        // 28 March 2026 is a Saturday (7); 31 December 2025 and 1 July
        // 2026 are Wednesdays (4).
        assert_eq!(named(Event::at.week_day().eq(7)).await?, ["late"]);
        assert_eq!(named(Event::at.week_day().eq(4)).await?, ["eve", "summer"]);
        assert_eq!(named(Event::at.hour().gte(23)).await?, ["eve", "late"]);
        assert_eq!(named(Event::at.minute().eq(5)).await?, ["sunday"]);
        let july = NaiveDate::from_ymd_opt(2026, 7, 1).expect("a date");
        assert_eq!(named(Event::at.date().eq(july)).await?, ["summer"]);
        assert_eq!(
            named(Event::at.date().lt(july)).await?,
            ["eve", "late", "sunday"]
        );
        // On a date column and a time column.
        assert_eq!(named(Event::day.year().eq(2025)).await?, ["eve"]);
        assert_eq!(named(Event::day.week_day().eq(1)).await?, ["sunday"]);
        assert_eq!(named(Event::starts.hour().eq(9)).await?, ["late"]);
        assert_eq!(named(Event::starts.minute().eq(0)).await?, ["eve"]);
        // Selected, grouped: how many events per year.
        let per_year = Event::objects()
            .order_by(Event::at.year().asc())
            .values((Event::at.year(), manouche::db::Aggregate::count()))
            .all(&db)
            .await?;
        assert_eq!(per_year, [(Some(2025), 1), (Some(2026), 3)]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn date_parts_read_in_a_time_zone_follow_its_summer_time() {
    for_each_database(|db| async move {
        events(&db).await?;
        let paris = TimeZone::named("Europe/Paris")?;
        let named = |q| event_names(Event::objects().filter(q).order_by(Event::name.asc()), &db);
        // In Paris, New Year's Eve 23:30 UTC is already 2026.
        assert!(
            named(Event::at.in_zone(paris).year().eq(2025))
                .await?
                .is_empty()
        );
        assert_eq!(
            named(Event::at.in_zone(paris).year().eq(2026)).await?,
            ["eve", "late", "summer", "sunday"]
        );
        // 23:30 UTC on 28 March (winter, UTC+1) is 00:30 on the 29th;
        // 22:30 UTC on 1 July (summer, UTC+2) is 00:30 on 2 July.
        assert_eq!(
            named(Event::at.in_zone(paris).hour().eq(0)).await?,
            ["eve", "late", "summer"]
        );
        assert_eq!(
            named(Event::at.in_zone(paris).day().eq(29)).await?,
            ["late"]
        );
        let july_2 = NaiveDate::from_ymd_opt(2026, 7, 2).expect("a date");
        assert_eq!(
            named(Event::at.in_zone(paris).date().eq(july_2)).await?,
            ["summer"]
        );
        assert_eq!(
            named(Event::at.in_zone(paris).week_day().eq(1)).await?,
            ["late", "sunday"]
        );
        // West of UTC: 10:05 UTC on 1 February is 05:05 in New York.
        let new_york = TimeZone::named("America/New_York")?;
        assert_eq!(
            named(Event::at.in_zone(new_york).hour().eq(5)).await?,
            ["sunday"]
        );
        // 23:30 UTC on 28 March is 19:30 in New York (its summer time,
        // UTC-4, began on 8 March); on New Year's Eve (UTC-5) 18:30.
        assert_eq!(
            named(Event::at.in_zone(new_york).hour().eq(19)).await?,
            ["late"]
        );
        // 22:30 UTC on 1 July is 18:30 there too.
        assert_eq!(
            named(Event::at.in_zone(new_york).hour().eq(18)).await?,
            ["eve", "summer"]
        );
        // Selected: the local hours.
        let hours = Event::objects()
            .order_by(Event::name.asc())
            .values(Event::at.in_zone(paris).hour())
            .all(&db)
            .await?;
        assert_eq!(hours, [Some(0), Some(0), Some(0), Some(11)]);
        // A name the database does not know is an error, not UTC.
        let err = TimeZone::named("Europe/Atlantis").expect_err("no such zone");
        assert!(err.to_string().contains("Europe/Atlantis"), "{err}");
        Ok(())
    })
    .await;
}
