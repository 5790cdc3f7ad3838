//! Every field type round-trips; the schema describes the models.

#[path = "support/models.rs"]
mod models;

use manouche::db::fields::{Json, SqlType};
use manouche::db::model::RelationKind;
use manouche::db::testing::for_each_database;
use manouche::db::{
    Auto, Date, DateTime, Decimal, Email, Model, OnDelete, Slug, Time, Url, Uuid, schema,
};
use models::{Article, Profile, Settings, Sink, Tag, User, setup};

fn sink() -> Sink {
    Sink {
        uuid: Uuid::new_v4(),
        flag: true,
        small: -12,
        medium: 1 << 20,
        big: 1 << 40,
        ratio: 0.25,
        price: "12345.6789".parse::<Decimal>().expect("decimal"),
        code: "ABC".into(),
        text: "long text ünïcödé 🦀".into(),
        day: Date::from_ymd_opt(2024, 2, 29).expect("date"),
        at: Time::from_hms_micro_opt(13, 14, 15, 123_456).expect("time"),
        stamp: "2024-05-06T07:08:09.123456Z"
            .parse::<DateTime>()
            .expect("datetime"),
        settings: Json(Settings {
            theme: "dark".into(),
            sizes: vec![1, 2, 3],
        }),
        blob: vec![0, 1, 2, 255],
        email: Email::new("ada@example.com").expect("email"),
        url: Url::new("https://example.com/a?b=c").expect("url"),
        slug: Slug::new("hello-world").expect("slug"),
        maybe: None,
        maybe_text: Some("x".into()),
        maybe_stamp: None,
    }
}

#[tokio::test]
async fn every_field_type_round_trips() {
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut s = sink();
        s.save(&db).await?;
        let got = Sink::objects().get(&db).await?;
        assert_eq!(got.uuid, s.uuid);
        assert!(got.flag);
        assert_eq!((got.small, got.medium, got.big), (-12, 1 << 20, 1 << 40));
        assert!((got.ratio - 0.25).abs() < f64::EPSILON);
        assert_eq!(got.price, s.price);
        assert_eq!(got.code, "ABC");
        assert_eq!(got.text, s.text);
        assert_eq!(got.day, s.day);
        assert_eq!(got.at, s.at);
        assert_eq!(got.stamp, s.stamp);
        assert_eq!(got.settings, s.settings);
        assert_eq!(got.blob, s.blob);
        assert_eq!(got.email, s.email);
        assert_eq!(got.url, s.url);
        assert_eq!(got.slug, s.slug);
        assert_eq!(got.maybe, None);
        assert_eq!(got.maybe_text.as_deref(), Some("x"));
        assert_eq!(got.maybe_stamp, None);
        // Filters on the less common types.
        let q = || Sink::objects();
        assert!(q().filter(Sink::uuid.eq(s.uuid)).exists(&db).await?);
        assert!(
            q().filter(Sink::price.gt("12345.6".parse::<Decimal>().expect("decimal")))
                .exists(&db)
                .await?
        );
        assert!(
            q().filter(Sink::day.range(Date::from_ymd_opt(2024, 1, 1).expect("d"), s.day))
                .exists(&db)
                .await?
        );
        assert!(
            q().filter(Sink::stamp.lt(s.stamp + chrono::Duration::seconds(1)))
                .exists(&db)
                .await?
        );
        assert!(q().filter(Sink::maybe.isnull(true)).exists(&db).await?);
        assert!(
            q().filter(Sink::email.iexact(Email::new("ADA@example.com").expect("email")))
                .exists(&db)
                .await?
        );
        // A user-chosen primary key: save() updates the existing row.
        s.flag = false;
        s.save(&db).await?;
        assert_eq!(q().count(&db).await?, 1);
        assert!(!q().get(&db).await?.flag);
        Ok(())
    })
    .await;
}

#[test]
fn schema_describes_columns_keys_and_constraints() {
    let s = Article::schema();
    assert_eq!(s.model, "Article");
    assert_eq!(s.app, "blog");
    assert_eq!(s.table.name, "blog_article");
    assert_eq!(s.ordering, ["-created", "title"]);
    assert_eq!(s.verbose_name, "article");
    assert_eq!(s.verbose_name_plural, "articles");
    let id = s.table.column("id").expect("id");
    assert!(id.primary_key && id.auto && !id.nullable);
    assert_eq!(id.sql_type, SqlType::BigInt);
    let title = s.table.column("title").expect("title");
    assert_eq!(
        (title.sql_type, title.max_length),
        (SqlType::String, Some(200))
    );
    assert_eq!(s.table.column("body").expect("body").max_length, None);
    assert_eq!(s.table.column("slug").expect("slug").max_length, Some(50));
    assert_eq!(
        s.table.column("published").expect("published").default,
        Some(schema::ColumnDefault::Bool(false))
    );
    assert!(s.table.column("views").expect("views").db_index);
    assert!(s.table.column("editor_id").expect("editor").nullable);
    assert!(
        s.table.column("tags").is_none(),
        "many-to-many has no column"
    );
    let fk = s
        .table
        .foreign_keys
        .iter()
        .find(|f| f.column == "editor_id")
        .expect("fk");
    assert_eq!(
        (
            fk.target_table.as_str(),
            fk.target_column.as_str(),
            fk.on_delete
        ),
        ("blog_user", "id", OnDelete::SetNull)
    );
    assert!(
        s.table
            .indexes
            .iter()
            .any(|i| i.unique && i.columns == ["author_id", "slug"])
    );
    assert!(
        s.table
            .indexes
            .iter()
            .any(|i| !i.unique && i.columns == ["published", "created"])
    );
    let join = &s.join_tables[0];
    assert_eq!(join.name, "blog_article_tags");
    assert_eq!(
        join.columns
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["id", "article_id", "tag_id"]
    );
    assert!(
        join.indexes
            .iter()
            .any(|i| i.unique && i.columns == ["article_id", "tag_id"])
    );

    // The schema survives a round trip through JSON (migration files).
    let text = serde_json::to_string(&s).expect("serializable");
    let back: schema::ModelSchema = serde_json::from_str(&text).expect("deserializable");
    assert_eq!(back, s);

    let user = User::schema();
    assert_eq!(user.table.name, "blog_user");
    assert!(user.table.column("username").expect("username").unique);
    assert_eq!(
        user.table.column("email").expect("email").max_length,
        Some(254)
    );
    assert!(user.table.column("articles").is_none());
    let profile = Profile::meta();
    assert!(
        profile.field("user").expect("user").unique,
        "one-to-one is unique"
    );
    assert_eq!(
        profile.field("bio").expect("bio").help_text,
        "Shown on the profile page"
    );
    assert_eq!(
        profile
            .field("user")
            .and_then(|f| f.relation)
            .map(|r| r.kind),
        Some(RelationKind::OneToOne)
    );
    assert_eq!(Tag::meta().verbose_name, "tag");
}

#[tokio::test]
async fn create_table_sql_is_backend_specific() {
    let sqlite = schema::create_table_sql(manouche::db::Backend::Sqlite, &[User::schema()]);
    let pg = schema::create_table_sql(manouche::db::Backend::Postgres, &[User::schema()]);
    assert!(sqlite[0].contains("INTEGER"), "{}", sqlite[0]);
    assert!(
        pg[0].contains("bigserial") || pg[0].contains("BIGSERIAL"),
        "{}",
        pg[0]
    );
    assert!(
        pg[0].contains("varchar(100)") || pg[0].contains("VARCHAR(100)"),
        "{}",
        pg[0]
    );
}

#[tokio::test]
async fn sqlite_uses_wal_and_enforces_foreign_keys() {
    let t = manouche::db::testing::TestDatabase::sqlite()
        .await
        .expect("sqlite");
    let mode: Vec<(String,)> = manouche::db::raw("PRAGMA journal_mode")
        .fetch_all(&t.db)
        .await
        .expect("pragma");
    assert_eq!(mode[0].0.to_lowercase(), "wal");
    let fk: Vec<(i64,)> = manouche::db::raw("PRAGMA foreign_keys")
        .fetch_all(&t.db)
        .await
        .expect("pragma");
    assert_eq!(fk, [(1,)]);
    let busy: Vec<(i64,)> = manouche::db::raw("PRAGMA busy_timeout")
        .fetch_all(&t.db)
        .await
        .expect("pragma");
    assert_eq!(busy, [(5000,)]);
    t.cleanup().await.expect("cleanup");
}

/// Health checks (a round trip before each query) follow the option on
/// PostgreSQL; SQLite connections are in-process and never checked.
#[tokio::test]
async fn health_checks_follow_the_option_on_postgres_and_stay_off_on_sqlite() {
    use manouche::db::{Database, DatabaseOptions};
    let mut urls = vec!["sqlite::memory:".to_owned()];
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        urls.push(url);
    }
    for url in urls {
        for wanted in [true, false] {
            let mut options = DatabaseOptions::default();
            options.health_checks = wanted;
            let db = Database::connect(&url, &options).await.expect("connect");
            let expected = wanted && db.backend() == manouche::db::Backend::Postgres;
            assert_eq!(db.health_checks(), expected, "{url} with {wanted}");
            // Queries work either way.
            db.ping().await.expect("ping");
            db.close().await;
        }
    }
}

#[tokio::test]
async fn unsupported_url_is_a_clear_error() {
    let err =
        manouche::db::Database::connect("mysql://root:secret@localhost/x", &Default::default())
            .await
            .expect_err("unsupported");
    let msg = err.to_string();
    assert!(
        msg.contains("sqlite://") && msg.contains("postgres://"),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "password redacted: {msg}");
}

#[tokio::test]
async fn choices_enums_are_stored_as_text_and_validated() {
    use models::{Page, Status};
    for_each_database(|db| async move {
        setup(&db).await?;
        let meta = Page::meta();
        assert_eq!(meta.verbose_name, "web page");
        let status = meta.field("status").expect("status");
        assert_eq!(
            status.choices,
            &[
                ("draft", "Draft"),
                ("pub", "Published"),
                ("archived", "Archived")
            ]
        );
        assert_eq!(status.max_length, Some(8));
        assert_eq!(meta.field("previous").expect("previous").choices.len(), 3);
        let mut page = Page {
            status: Status::Published,
            previous: Some(Status::Draft),
            code: "A1".into(),
            price: "9.5".parse().expect("decimal"),
            ..Page::default()
        };
        page.full_clean()
            .map_err(|e| manouche::db::Error::Definition(e.to_string()))?;
        page.save(&db).await?;
        let got = Page::objects()
            .filter(Page::status.eq(Status::Published))
            .get(&db)
            .await?;
        assert_eq!(
            (got.status, got.previous),
            (Status::Published, Some(Status::Draft))
        );
        let stored: Vec<(String,)> = manouche::db::raw("SELECT status FROM cms_page")
            .fetch_all(&db)
            .await?;
        assert_eq!(stored, [("pub".to_owned(),)]);
        // Decimals compare as numbers on both backends.
        let mut cheap = page.clone();
        cheap.id = Auto::new();
        cheap.token = Uuid::new_v4();
        cheap.price = "10.25".parse().expect("decimal");
        cheap.save(&db).await?;
        let over_ten = Page::objects()
            .filter(Page::price.gt("10".parse::<Decimal>().expect("decimal")))
            .count(&db)
            .await?;
        assert_eq!(over_ten, 1);
        let ordered: Vec<Decimal> = Page::objects()
            .order_by(Page::price.desc())
            .all(&db)
            .await?
            .into_iter()
            .map(|p| p.price)
            .collect();
        assert_eq!(
            ordered,
            [
                "10.25".parse::<Decimal>().expect("d"),
                "9.5".parse().expect("d")
            ]
        );
        assert_eq!(
            Page::objects().sum(&db, Page::price).await?,
            Some("19.75".parse().expect("d"))
        );
        Ok(())
    })
    .await;
}

#[test]
fn full_clean_reports_every_failing_field() {
    use models::{Page, Status};
    let defaults = Page::default();
    assert_eq!(defaults.status, Status::Draft, "declared default");
    assert_ne!(
        defaults.token,
        Page::default().token,
        "default function called per instance"
    );
    assert!(defaults.id.get().is_none());
    assert_eq!(
        Page::meta().field("token").and_then(|f| f.default),
        Some(manouche::db::model::DefaultValue::Function("Uuid::new_v4"))
    );
    let page = Page {
        code: "TOO LONG".into(),
        ..defaults
    };
    let errors = page.full_clean().expect_err("code too long");
    assert_eq!(
        errors.get("code"),
        Some("Ensure this value has at most 5 characters (it has 8).")
    );
    assert_eq!(errors.errors.len(), 1, "blank note is allowed: {errors}");
    let tag = models::Tag::new("");
    let errors = tag.full_clean().expect_err("blank name");
    assert_eq!(errors.get("name"), Some("This field cannot be blank."));
}

/// Built with `..Default::default()`: the validated text fields are left out.
#[derive(Debug, Clone, Model)]
#[model(app = "newsletter", impl_default)]
struct Issue {
    id: Auto<i64>,
    title: String,
    slug: Slug,
    contact: Email,
    #[model(default = 1)]
    volume: i32,
    tags: manouche::db::ManyToMany<Tag>,
}

#[test]
fn validated_text_left_to_its_default_is_blank_and_full_clean_says_so() {
    let issue = Issue {
        title: "First".into(),
        ..Default::default()
    };
    assert_eq!((issue.volume, issue.id.get()), (1, None));
    assert!(issue.tags.prefetched().is_none());
    let errors = issue.full_clean().expect_err("blank slug and e-mail");
    assert_eq!(errors.get("slug"), Some("This field cannot be blank."));
    assert_eq!(errors.get("contact"), Some("This field cannot be blank."));
    assert_eq!(errors.errors.len(), 2, "{errors}");
    assert!(
        Slug::new(Slug::default().as_str()).is_err(),
        "new() still refuses the blank value"
    );
}

#[test]
fn ddl_has_defaults_constraints_and_indexes() {
    for backend in [
        manouche::db::Backend::Sqlite,
        manouche::db::Backend::Postgres,
    ] {
        let sql =
            schema::create_table_sql(backend, &[User::schema(), Tag::schema(), Article::schema()]);
        let all = sql.join(";\n");
        let article = sql
            .iter()
            .find(|s| s.contains("CREATE TABLE \"blog_article\""))
            .expect("article table");
        assert!(
            article.contains("\"published\" BOOLEAN NOT NULL DEFAULT FALSE"),
            "{article}"
        );
        assert!(
            article.contains("\"views\" BIGINT NOT NULL DEFAULT 0"),
            "{article}"
        );
        assert!(
            all.contains("CREATE UNIQUE INDEX \"blog_article_author_id_slug_uniq\""),
            "{all}"
        );
        assert!(all.contains("CREATE TABLE \"blog_article_tags\""), "{all}");
        assert!(all.contains("ON DELETE SET NULL"), "{all}");
    }
}

#[test]
fn decimal_precision_in_schema_and_validation() {
    use models::Invoice;
    let schema = Invoice::schema();
    assert_eq!(
        schema.table.column("amount").and_then(|c| c.decimal),
        Some((8, 2))
    );
    let pg = schema::create_table_sql(manouche::db::Backend::Postgres, &[Invoice::schema()]);
    assert!(pg[0].contains("NUMERIC(8, 2)"), "{}", pg[0]);
    let invoice = |amount: &str| Invoice {
        id: Auto::new(),
        customer: manouche::db::ForeignKey::new(1),
        amount: amount.parse().expect("decimal"),
    };
    assert!(invoice("123456.78").full_clean().is_ok());
    assert!(invoice("-5.10").full_clean().is_ok());
    let places = invoice("1.234").full_clean().expect_err("three places");
    assert_eq!(
        places.get("amount"),
        Some("Ensure that there are no more than 2 decimal places.")
    );
    let digits = invoice("1234567.8")
        .full_clean()
        .expect_err("seven digits before the point");
    assert_eq!(
        digits.get("amount"),
        Some("Ensure that there are no more than 6 digits before the decimal point.")
    );
}

#[test]
fn every_model_registers_its_schema() {
    let all = schema::registered_schemas();
    let names: Vec<(&str, &str)> = all
        .iter()
        .map(|s| (s.app.as_str(), s.model.as_str()))
        .collect();
    for expected in [
        ("blog", "Article"),
        ("blog", "User"),
        ("club", "Membership"),
        ("kitchen", "Sink"),
        ("shop", "Invoice"),
    ] {
        assert!(
            names.contains(&expected),
            "{expected:?} missing from {names:?}"
        );
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn field_names_that_clash_with_generated_code() {
    use models::Awkward;
    for_each_database(|db| async move {
        setup(&db).await?;
        let mut a = Awkward {
            id: Auto::new(),
            row: 1,
            offset: 2,
            path: "p".into(),
            name: "n".into(),
            skip: true,
            r#type: "t".into(),
            this: 3,
            pk: 4,
            adding: true,
        };
        a.save(&db).await?;
        let got = Awkward::objects()
            .filter(Awkward::r#type.eq("t") & Awkward::offset.eq(2))
            .get(&db)
            .await?;
        assert_eq!(
            (got.row, got.offset, got.path.as_str(), got.name.as_str()),
            (1, 2, "p", "n")
        );
        assert_eq!(
            (got.skip, got.r#type.as_str(), got.this, got.pk, got.adding),
            (true, "t", 3, 4, true)
        );
        assert_eq!(
            Awkward::meta().field("type").and_then(|f| f.column),
            Some("type")
        );
        Ok(())
    })
    .await;
}

#[test]
fn permissions_declared_on_the_model_follow_django() {
    // Django's `Meta.permissions` with the default actions.
    #[derive(Model)]
    #[model(
        app = "perms",
        permissions = [
            ("publish_article", "Can publish articles"),
            ("feature_article", "Can feature articles"),
        ]
    )]
    struct Article {
        id: Auto<i64>,
    }

    // No default permissions: a codename like a default one is free.
    #[derive(Model)]
    #[model(
        app = "perms",
        verbose_name = "ledger entry",
        default_permissions = [],
        permissions = [("add_ledgerentry", "Can append to the ledger")]
    )]
    struct LedgerEntry {
        id: Auto<i64>,
    }

    // Some default actions, in the declared order.
    #[derive(Model)]
    #[model(app = "perms", default_permissions = ["view", "change"])]
    struct ArticleTag {
        id: Auto<i64>,
    }

    let article = Article::meta();
    assert_eq!(
        article.default_permissions,
        ["add", "change", "delete", "view"]
    );
    assert_eq!(
        article.permissions,
        [
            ("publish_article", "Can publish articles"),
            ("feature_article", "Can feature articles")
        ]
    );
    let owned = |perms: &[(&str, &str)]| -> Vec<(String, String)> {
        perms
            .iter()
            .map(|(c, n)| ((*c).to_owned(), (*n).to_owned()))
            .collect()
    };
    // Django 5.2's `_get_all_permissions` for the same `Meta`s.
    assert_eq!(
        article.all_permissions(),
        owned(&[
            ("add_article", "Can add article"),
            ("change_article", "Can change article"),
            ("delete_article", "Can delete article"),
            ("view_article", "Can view article"),
            ("publish_article", "Can publish articles"),
            ("feature_article", "Can feature articles"),
        ])
    );
    assert!(LedgerEntry::meta().default_permissions.is_empty());
    assert_eq!(
        LedgerEntry::meta().all_permissions(),
        owned(&[("add_ledgerentry", "Can append to the ledger")])
    );
    assert_eq!(
        ArticleTag::meta().all_permissions(),
        owned(&[
            ("view_articletag", "Can view article tag"),
            ("change_articletag", "Can change article tag"),
        ])
    );
    // Models without permission options keep Django's defaults.
    assert_eq!(
        Tag::meta().all_permissions().len(),
        4,
        "{:?}",
        Tag::meta().all_permissions()
    );
}
