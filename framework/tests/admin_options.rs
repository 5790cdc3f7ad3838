//! The admin's options beyond the basic list and forms, in process, on
//! SQLite and (with `DATABASE_URL`) PostgreSQL: bulk actions (the delete
//! confirmation, the project's own, permissions, CSRF), tabular inlines
//! saved with their parent, fieldsets, excluded and read-only fields,
//! list links and computed columns, the date drill-down, "show all", a
//! big table's estimated count and keyset pages, and the list page's
//! query count.

use manouche::contrib::admin::{
    Action, ActionFlag, Admin, AdminSite, LogEntry, ModelAdmin, TabularInline,
};
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Auto, Backend, Database, DateTime, ForeignKey, Model, Reverse, raw, schema};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

#[path = "support/admin.rs"]
mod support;
use support::{admin_project, grant, log_in, make_user, token_of};

#[derive(Debug, Clone, Default, Model)]
#[model(app = "press", ordering = "-id", verbose_name_plural = "stories")]
pub struct Story {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub headline: String,
    pub body: String,
    pub live: bool,
    pub filed: DateTime,
    #[model(max_length = 50)]
    pub desk: String,
    #[model(related_field = "story")]
    pub notes: Reverse<Note>,
}

#[derive(Debug, Clone, Default, Model, Admin)]
#[model(app = "press")]
#[admin(list_display = ["text", "story"], search_fields = ["text", "story__headline"], list_filter = ["story"], autocomplete_fields = ["story"], per_page = 100)]
pub struct Note {
    pub id: Auto<i64>,
    #[model(on_delete = cascade)]
    pub story: ForeignKey<Story>,
    #[model(max_length = 20)]
    pub text: String,
}

fn admin_site() -> AdminSite {
    AdminSite::new()
        .register(
            ModelAdmin::<Story>::new()
                .list_display(&["headline", "words", "live", "filed"])
                .list_display_links(&["headline", "filed"])
                .computed("words", "Words", |s: &Story| {
                    s.body.split_whitespace().count().to_string()
                })
                .search_fields(&["headline", "notes__text"])
                .list_filter(&["live", "filed"])
                .date_hierarchy("filed")
                .fieldsets(&[
                    ("Text", &["headline", "body"]),
                    ("Desk", &["live", "filed"]),
                ])
                .readonly(&["filed", "desk"])
                .per_page(2)
                .max_show_all(10)
                .title(|s| s.headline.clone())
                .inline(TabularInline::<Note>::new().fields(&["text"]).extra(1))
                .action(Action::new(
                    "take_live",
                    "Take the selected stories live",
                    |db, selected| async move {
                        let n = selected.update(&db, [Story::live.set(true)]).await?;
                        Ok(format!("{n} stories are live."))
                    },
                )),
        )
        .register_model::<Note>()
}

fn project(url: &str, admin: AdminSite) -> Project {
    admin_project(url)
        .app(App::new("press").model::<Story>().model::<Note>())
        .app(admin.app())
}

fn at(y: i32, m: u32, d: u32) -> DateTime {
    use chrono::TimeZone as _;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("a date")
}

/// Three stories (2024-03-05, 2024-11-20, 2025-01-02), one with two
/// notes; the superuser `root` and the staff member `clerk`, who may
/// view and change stories but not delete them.
async fn site(db: &Database, url: &str) -> Client {
    let project = project(url, admin_site());
    project.migrate(db).await.expect("migrate");
    schema::create_tables(db, &[Story::schema(), Note::schema()])
        .await
        .expect("tables");
    make_user(db, "root", true, true).await;
    make_user(db, "clerk", true, false).await;
    for codename in ["view_story", "change_story"] {
        grant(db, "clerk", "press", codename).await;
    }
    for (headline, body, live, filed) in [
        ("Moon landing", "one small step", true, at(2024, 3, 5)),
        (
            "Budget passed",
            "after a long night",
            false,
            at(2024, 11, 20),
        ),
        ("New year", "fireworks", false, at(2025, 1, 2)),
    ] {
        let mut s = Story {
            headline: headline.into(),
            body: body.into(),
            live,
            filed,
            desk: "news".into(),
            ..Default::default()
        };
        s.save(db).await.unwrap();
        if headline == "Moon landing" {
            for text in ["verified", "photos"] {
                Note {
                    story: ForeignKey::from(&s),
                    text: text.into(),
                    ..Default::default()
                }
                .save(db)
                .await
                .unwrap();
            }
        }
    }
    Client::new(project).unwrap()
}

async fn story(db: &Database, headline: &str) -> Story {
    Story::objects()
        .filter(Story::headline.eq(headline))
        .get(db)
        .await
        .unwrap()
}

/// The headlines of a list page, in order.
fn headlines(r: &TestResponse) -> Vec<String> {
    r.text()
        .split("<th scope=\"row\">")
        .skip(1)
        .filter_map(|cell| {
            let cell = cell.split("</th>").next()?;
            let text = cell.rsplit_once("\">").map_or(cell, |(_, t)| t);
            Some(text.trim_end_matches("</a>").to_owned())
        })
        .collect()
}

#[tokio::test]
async fn delete_selected_confirms_then_deletes_and_needs_the_permission() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let moon = story(&db, "Moon landing")
            .await
            .id
            .get()
            .unwrap()
            .to_string();
        let budget = story(&db, "Budget passed")
            .await
            .id
            .get()
            .unwrap()
            .to_string();
        let list = "/admin/press/story/?live=false";
        let r = client.get(list).send().await;
        assert!(
            r.text().contains("value=\"delete_selected\""),
            "{}",
            r.text()
        );
        assert!(r.text().contains("value=\"take_live\""));
        // The confirmation lists the objects and what the cascade takes.
        let r = client
            .post(list)
            .form(&[
                ("action", "delete_selected"),
                ("_selected_action", moon.as_str()),
                ("_selected_action", budget.as_str()),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        assert!(
            text.contains("Story: Moon landing") && text.contains("Story: Budget passed"),
            "{text}"
        );
        assert!(text.contains("press.Note: 2"), "{text}");
        assert!(text.contains("press.Story: 2"), "{text}");
        assert_eq!(
            Story::objects().count(&db).await?,
            3,
            "looking deleted nothing"
        );
        assert_eq!(Note::objects().count(&db).await?, 2);
        // Confirmed: deleted, and back to the list as it was filtered.
        let r = client
            .post(list)
            .form(&[
                ("action", "delete_selected"),
                ("_selected_action", moon.as_str()),
                ("_selected_action", budget.as_str()),
                ("post", "yes"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some(list));
        assert_eq!(Story::objects().count(&db).await?, 1);
        assert_eq!(Note::objects().count(&db).await?, 0);
        let r = client.get(list).send().await;
        assert!(
            r.text().contains("Successfully deleted 2 stories."),
            "{}",
            r.text()
        );
        // Nothing ticked: a message, nothing done; no action: the same.
        let r = client
            .post(list)
            .form(&[("action", "delete_selected")])
            .send()
            .await;
        assert_eq!(r.status(), 302);
        let r = client.get(list).send().await;
        assert!(r.text().contains("Items must be selected"), "{}", r.text());
        let r = client.post(list).form(&[("action", "")]).send().await;
        assert_eq!(r.status(), 302);
        // An unknown action or a key that is not one: 400.
        for form in [
            vec![("action", "drop_tables"), ("_selected_action", "1")],
            vec![("action", "delete_selected"), ("_selected_action", "x")],
        ] {
            let r = client.post(list).form(&form).send().await;
            assert_eq!(r.status(), 400, "{form:?}: {}", r.text());
        }
        assert_eq!(Story::objects().count(&db).await?, 1);
        // The clerk may change but not delete: no such action offered,
        // and 403 when sent anyway; the project's action runs.
        let clerk = client.new_browser();
        log_in(&clerk, "clerk").await;
        let left = story(&db, "New year").await.id.get().unwrap().to_string();
        let r = clerk.get("/admin/press/story/").send().await;
        assert_eq!(r.status(), 200);
        assert!(!r.text().contains("value=\"delete_selected\""));
        let r = clerk
            .post("/admin/press/story/")
            .form(&[
                ("action", "delete_selected"),
                ("_selected_action", left.as_str()),
                ("post", "yes"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(Story::objects().count(&db).await?, 1);
        let r = clerk
            .post("/admin/press/story/")
            .form(&[("action", "take_live"), ("_selected_action", left.as_str())])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert!(story(&db, "New year").await.live);
        let r = clerk.get("/admin/press/story/").send().await;
        assert!(r.text().contains("1 stories are live."), "{}", r.text());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_list_action_form_is_csrf_checked() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await.enforce_csrf_checks();
        log_in(&client, "root").await;
        let id = story(&db, "New year").await.id.get().unwrap().to_string();
        let form = [
            ("action", "delete_selected"),
            ("_selected_action", id.as_str()),
            ("post", "yes"),
        ];
        let r = client.post("/admin/press/story/").form(&form).send().await;
        assert_eq!(r.status(), 403);
        assert_eq!(Story::objects().count(&db).await?, 3);
        let r = client.get("/admin/press/story/").send().await;
        let token = token_of(&r.text());
        let mut with_token = form.to_vec();
        with_token.push(("csrfmiddlewaretoken", token.as_str()));
        let r = client
            .post("/admin/press/story/")
            .form(&with_token)
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(Story::objects().count(&db).await?, 2);
        Ok(())
    })
    .await;
}

/// The change form of the moon story, as the page would send it back,
/// with `changes` applied.
fn moon_form<'a>(
    notes: &[(String, &'a str)],
    changes: &[(&'a str, &'a str)],
) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = vec![
        ("headline".into(), "Moon landing".into()),
        ("body".into(), "one small step".into()),
        ("live".into(), "on".into()),
        ("notes-TOTAL_FORMS".into(), (notes.len() + 1).to_string()),
        ("notes-INITIAL_FORMS".into(), notes.len().to_string()),
        ("notes-MIN_NUM_FORMS".into(), "0".into()),
        ("notes-MAX_NUM_FORMS".into(), "1000".into()),
    ];
    for (i, (id, text)) in notes.iter().enumerate() {
        form.push((format!("notes-{i}-id"), id.clone()));
        form.push((format!("notes-{i}-text"), (*text).to_owned()));
    }
    let n = notes.len();
    form.push((format!("notes-{n}-id"), String::new()));
    form.push((format!("notes-{n}-text"), String::new()));
    for (name, value) in changes {
        form.retain(|(k, _)| k != name);
        form.push(((*name).to_owned(), (*value).to_owned()));
    }
    form
}

#[tokio::test]
async fn inlines_fieldsets_and_read_only_fields_on_the_change_page() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let moon = story(&db, "Moon landing").await;
        let page = format!("/admin/press/story/{}/change/", moon.id.get().unwrap());
        let r = client.get(&page).send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        // The fieldsets, the read-only date disabled, the desk (not a
        // form field) shown as text, the notes' table with an empty row.
        assert!(
            text.contains("<legend>Text</legend>") && text.contains("<legend>Desk</legend>"),
            "{text}"
        );
        assert!(
            text.contains("name=\"filed\"") && text.contains("disabled"),
            "{text}"
        );
        assert!(
            text.contains("<span class=\"label\">Desk</span><div>news</div>"),
            "{text}"
        );
        assert!(
            text.contains("name=\"notes-TOTAL_FORMS\" value=\"3\""),
            "{text}"
        );
        assert!(text.contains("value=\"verified\"") && text.contains("value=\"photos\""));
        let notes = Note::objects().order_by(Note::id.asc()).all(&db).await?;
        let ids: Vec<String> = notes
            .iter()
            .map(|n| n.id.get().unwrap().to_string())
            .collect();
        // A note too long: nothing is saved, not the headline either.
        let form = moon_form(
            &[(ids[0].clone(), "verified"), (ids[1].clone(), "photos")],
            &[
                ("headline", "Moon landing!"),
                ("notes-2-text", "far too long for twenty"),
            ],
        );
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = client.post(&page).form(&pairs).send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert!(r.text().contains("errorlist"), "{}", r.text());
        assert_eq!(story(&db, "Moon landing").await.headline, "Moon landing");
        assert_eq!(Note::objects().count(&db).await?, 2);
        // Change one note, delete the other, add one, change the headline,
        // and try to change the read-only date: saved together, the date
        // kept.
        let form = moon_form(
            &[
                (ids[0].clone(), "verified twice"),
                (ids[1].clone(), "photos"),
            ],
            &[
                ("headline", "Moon landing!"),
                ("notes-1-DELETE", "on"),
                ("notes-2-text", "film"),
                ("filed", "1999-01-01T00:00"),
                ("_continue", ""),
            ],
        );
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = client.post(&page).form(&pairs).send().await;
        assert_eq!(r.status(), 302, "{}", r.text());
        let saved = story(&db, "Moon landing!").await;
        assert_eq!(saved.filed, moon.filed, "a read-only field is not changed");
        let texts: Vec<String> = Note::objects()
            .order_by(Note::id.asc())
            .all(&db)
            .await?
            .into_iter()
            .map(|n| n.text)
            .collect();
        assert_eq!(texts, ["verified twice", "film"]);
        let r = client.get(&page).send().await;
        let text = r.text();
        assert!(text.contains("Added note"), "{text}");
        assert!(text.contains("Deleted note"), "{text}");
        // The history says what the inline did, in Django's words.
        let entry = LogEntry::objects()
            .all(&db)
            .await?
            .into_iter()
            .find(|e| e.action() == Some(ActionFlag::Change))
            .expect("the change is logged");
        let message = entry.change_message_text();
        assert!(message.starts_with("Changed Headline."), "{message}");
        assert!(message.contains("Changed note “Note object"), "{message}");
        assert!(message.contains("Deleted note “Note object"), "{message}");
        assert!(message.contains("Added note “Note object"), "{message}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn links_computed_columns_date_drill_down_and_show_all() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let r = client.get("/admin/press/story/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        assert!(text.contains(">Words<"), "the computed column's header");
        assert!(
            text.contains("<td>4</td>"),
            "after a long night: 4 words: {text}"
        );
        // Two link columns: the headline and the date.
        let moon = story(&db, "Moon landing").await.id.get().unwrap();
        assert_eq!(
            text.matches(&format!("/admin/press/story/{moon}/change/"))
                .count(),
            0,
            "moon is on page 2"
        );
        let r = client.get("/admin/press/story/?p=2").send().await;
        assert_eq!(
            r.text()
                .matches(&format!("/admin/press/story/{moon}/change/"))
                .count(),
            2
        );
        // A computed column cannot be sorted by.
        assert_eq!(
            client.get("/admin/press/story/?o=2").send().await.status(),
            400
        );
        // The drill-down: years between the first and the last story, then
        // months, then days.
        assert!(text.contains(">2024<") && text.contains(">2025<"), "{text}");
        let r = client
            .get("/admin/press/story/?filed__year=2024")
            .send()
            .await;
        assert_eq!(headlines(&r), ["Budget passed", "Moon landing"]);
        assert!(
            r.text().contains("March 2024") && r.text().contains("November 2024"),
            "{}",
            r.text()
        );
        let r = client
            .get("/admin/press/story/?filed__year=2024&filed__month=11")
            .send()
            .await;
        assert_eq!(headlines(&r), ["Budget passed"]);
        assert!(r.text().contains("November 20"), "{}", r.text());
        let r = client
            .get("/admin/press/story/?filed__year=2024&filed__month=11&filed__day=20")
            .send()
            .await;
        assert_eq!(headlines(&r), ["Budget passed"]);
        for bad in [
            "?filed__year=x",
            "?filed__month=3",
            "?filed__year=2024&filed__month=13",
            "?filed__year=2024&filed__month=2&filed__day=30",
            "?filed__week=3",
        ] {
            let r = client
                .get(&format!("/admin/press/story/{bad}"))
                .send()
                .await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        // A date filter: the ranges in the side bar, any range by hand.
        assert!(
            text.contains("Past 7 days") && text.contains("This year"),
            "{text}"
        );
        let r = client
            .get("/admin/press/story/?filed__gte=2024-01-01&filed__lt=2025-01-01")
            .send()
            .await;
        assert_eq!(headlines(&r), ["Budget passed", "Moon landing"]);
        for bad in [
            "?filed__gte=2024-13-01",
            "?filed__gt=2024-01-01",
            "?filed__lt=soon",
        ] {
            let r = client
                .get(&format!("/admin/press/story/{bad}"))
                .send()
                .await;
            assert_eq!(r.status(), 400, "{bad}");
        }
        // A foreign key filter lists the related objects by title.
        let r = client.get("/admin/press/note/").send().await;
        assert!(
            r.text()
                .contains(&format!("href=\"?story={moon}\">Moon landing</a>")),
            "{}",
            r.text()
        );
        let r = client
            .get(&format!("/admin/press/note/?story={moon}"))
            .send()
            .await;
        assert_eq!(
            r.text().matches("name=\"_selected_action\"").count(),
            2,
            "{}",
            r.text()
        );
        let budget = story(&db, "Budget passed").await.id.get().unwrap();
        let r = client
            .get(&format!("/admin/press/note/?story={budget}"))
            .send()
            .await;
        assert_eq!(r.text().matches("name=\"_selected_action\"").count(), 0);
        // Show all: three rows fit under max_show_all (10).
        assert!(text.contains("Show all"));
        let r = client.get("/admin/press/story/?all=").send().await;
        assert_eq!(headlines(&r), ["New year", "Budget passed", "Moon landing"]);
        Ok(())
    })
    .await;
}

/// Adds `n` stories in one statement.
async fn bulk_stories(db: &Database, n: u64) {
    let sql = match db.backend() {
        Backend::Postgres => format!(
            "INSERT INTO press_story (headline, body, live, filed, desk) \
             SELECT 'Story ' || i, 'words', i % 2 = 0, TIMESTAMPTZ '2020-01-01' + i * INTERVAL '1 minute', 'wire' \
             FROM generate_series(1, {n}) AS i"
        ),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             INSERT INTO press_story (headline, body, live, filed, desk) \
             SELECT 'Story ' || i, 'words', i % 2 = 0, '2020-01-01T00:00:00+00:00', 'wire' FROM s"
        ),
        _ => unreachable!(),
    };
    raw(sql).execute(db).await.unwrap();
    raw("ANALYZE").execute(db).await.unwrap();
}

#[tokio::test]
async fn a_big_list_estimates_its_count_and_pages_by_cursor_past_the_numbered_pages() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        bulk_stories(&db, 120_000).await;
        let r = client.get("/admin/press/story/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        assert!(text.contains("about 1"), "an estimate: {text}");
        assert!(!text.contains("Show all"));
        // 2 a page: numbered pages reach 10,000 rows deep.
        let r = client.get("/admin/press/story/?p=5001").send().await;
        assert_eq!(r.status(), 400);
        assert!(r.text().contains("Next links"), "{}", r.text());
        let r = client.get("/admin/press/story/?p=5000").send().await;
        assert_eq!(r.status(), 200);
        let last_numbered = headlines(&r);
        let next = r
            .text()
            .split("rel=\"next\"")
            .next()
            .and_then(|s| s.rsplit("href=\"").next())
            .map(|s| {
                s.split('"')
                    .next()
                    .unwrap_or_default()
                    .replace("&amp;", "&")
            })
            .expect("a Next link");
        assert!(next.contains("cursor="), "{next}");
        let r = client
            .get(&format!("/admin/press/story/{next}"))
            .send()
            .await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let after = headlines(&r);
        assert_eq!(after.len(), 2);
        // The rows right after those of page 5,000, in the same order.
        let expected: Vec<String> = Story::objects()
            .order_by(Story::id.desc())
            .offset(10_000)
            .limit(2)
            .all(&db)
            .await?
            .into_iter()
            .map(|s| s.headline)
            .collect();
        assert_eq!(after, expected);
        assert_ne!(after, last_numbered);
        // A bad cursor is a 400.
        let r = client.get("/admin/press/story/?cursor=bad").send().await;
        assert_eq!(r.status(), 400);
        // A filtered count stops after five pages (at least 100 rows).
        let r = client.get("/admin/press/story/?q=Story").send().await;
        assert!(r.text().contains("more than 100 of about"), "{}", r.text());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_list_page_query_count_does_not_grow_with_its_rows() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let count = |path: &'static str| {
            let client = &client;
            let db = db.clone();
            async move {
                let before = db.query_count();
                let r = client.get(path).send().await;
                assert_eq!(r.status(), 200, "{}", r.text());
                db.query_count() - before
            }
        };
        let notes_few = count("/admin/press/note/").await;
        for i in 0..40 {
            let s = story(&db, "New year").await;
            Note {
                story: ForeignKey::from(&s),
                text: format!("n{i}"),
                ..Default::default()
            }
            .save(&db)
            .await?;
        }
        let notes_many = count("/admin/press/note/").await;
        assert_eq!(notes_few, notes_many, "42 rows cost what 2 did");
        let stories_page = count("/admin/press/story/").await;
        let stories_all = count("/admin/press/story/?all=").await;
        assert_eq!(stories_page, stories_all);
        // Without its foreign key column, the list of notes costs the
        // same: the stories' titles come in the page's own query.
        let plain = Client::new(project(
            &url,
            AdminSite::new()
                .register(ModelAdmin::<Story>::new().title(|s| s.headline.clone()))
                .register(
                    ModelAdmin::<Note>::new()
                        .list_display(&["text"])
                        .list_filter(&["story"])
                        .per_page(100),
                ),
        ))
        .expect("the project starts");
        log_in(&plain, "root").await;
        let before = db.query_count();
        let r = plain.get("/admin/press/note/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let without_column = db.query_count() - before;
        assert!(!r.text().contains("<td>Moon landing</td>"), "{}", r.text());
        let r = client.get("/admin/press/note/").send().await;
        assert!(r.text().contains("<td>Moon landing</td>"), "{}", r.text());
        assert_eq!(
            notes_many, without_column,
            "the story column costs no query"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_foreign_key_is_chosen_by_autocomplete() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let moon = story(&db, "Moon landing").await.id.get().unwrap();
        // The form lists no story but the one chosen, and says where to
        // search.
        let r = client.get("/admin/press/note/add/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        assert!(
            text.contains("data-autocomplete=\"autocomplete/?app_label=press&amp;model_name=note&amp;field_name=story\"")
                && text.contains("data-admin-root=\"/admin/\""),
            "{text}"
        );
        assert!(!text.contains(">Moon landing</option>"), "{text}");
        // The search box's script is on the page once, after the form.
        assert_eq!(text.matches("select[data-autocomplete]").count(), 1);
        let title = text.split("</title>").next().unwrap_or_default();
        assert!(!title.contains("<script"), "{title}");
        let note = Note::objects().filter(Note::text.eq("verified")).get(&db).await?;
        let r = client
            .get(&format!("/admin/press/note/{}/change/", note.id.get().unwrap()))
            .send()
            .await;
        assert!(r.text().contains(">Moon landing</option>"), "{}", r.text());
        assert!(!r.text().contains(">New year</option>"));
        // The search, through the stories' admin.
        let url = "/admin/autocomplete/?app_label=press&model_name=note&field_name=story";
        let r = client.get(&format!("{url}&term=moon")).send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let json: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"results": [{"id": moon.to_string(), "text": "Moon landing"}], "pagination": {"more": false}})
        );
        let r = client.get(&format!("{url}&term=")).send().await;
        let json: serde_json::Value = serde_json::from_str(&r.text()).unwrap();
        assert_eq!(json["results"].as_array().map(Vec::len), Some(3));
        // Not an autocomplete field, no such model, no query: refused.
        for bad in [
            "/admin/autocomplete/?app_label=press&model_name=note&field_name=text&term=a",
            "/admin/autocomplete/?app_label=press&model_name=nothing&field_name=story",
        ] {
            let status = client.get(bad).send().await.status();
            assert!(status == 403 || status == 404, "{bad}: {status}");
        }
        assert_eq!(client.get("/admin/autocomplete/").send().await.status(), 400);
        // Saving checks the key against the table.
        let r = client
            .post("/admin/press/note/add/")
            .form(&[("story", "999999"), ("text", "ghost")])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("Select a valid choice"), "{}", r.text());
        let r = client
            .post("/admin/press/note/add/")
            .form(&[("story", moon.to_string().as_str()), ("text", "found")])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(Note::objects().filter(Note::text.eq("found")).count(&db).await?, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn search_follows_relations_and_lists_each_row_once() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        // Notes by their story's headline (a foreign key).
        let r = client.get("/admin/press/note/?q=moon").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let mut notes = headlines(&r);
        notes.sort();
        assert_eq!(notes, ["photos", "verified"]);
        // Stories by their notes' text (a reverse relation).
        let r = client.get("/admin/press/story/?q=verified").send().await;
        assert_eq!(headlines(&r), ["Moon landing"]);
        // "o" is in the headline and in one of the two notes: the story
        // comes once, not once per note.
        let r = client.get("/admin/press/story/?q=o").send().await;
        assert_eq!(headlines(&r), ["Moon landing"], "{}", r.text());
        assert!(r.text().contains("1 of 3 stories"), "{}", r.text());
        // A story without notes is still found by its headline.
        let r = client.get("/admin/press/story/?q=year").send().await;
        assert_eq!(headlines(&r), ["New year"]);
        // Deep pages and filters keep the search's single rows.
        let r = client.get("/admin/press/story/?q=o&live=true").send().await;
        assert_eq!(headlines(&r), ["Moon landing"]);
        // The autocomplete searches the same way.
        let r = client
            .get(
                "/admin/autocomplete/?app_label=press&model_name=note&field_name=story&term=photos",
            )
            .send()
            .await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert_eq!(r.text().matches("Moon landing").count(), 1, "{}", r.text());
        Ok(())
    })
    .await;
}

#[test]
fn a_search_path_through_a_missing_field_is_reported() {
    let site = AdminSite::new()
        .register(ModelAdmin::<Note>::new().search_fields(&["story__nothing", "story__live"]));
    let project = project("sqlite::memory:", site.register(ModelAdmin::<Story>::new()))
        .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap());
    let messages = project.check(false).expect("the project prepares");
    let text = format!("{messages:?}");
    assert!(text.contains("admin.E002"), "{text}");
    assert!(text.contains("story__nothing"), "{text}");
    assert!(text.contains("story__live"), "{text}");
}
