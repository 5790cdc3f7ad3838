//! Several admin sites in one project, each with its own models, URLs,
//! header, tab title and stylesheet; a project's own template for an
//! admin page; and the check that a named site has the `admin` site
//! (which keeps the history) beside it. In process, on SQLite and (with
//! `DATABASE_URL`) PostgreSQL.

use manouche::contrib::admin::pages::{ChangeListPage, IndexPage};
use manouche::contrib::admin::{AdminSite, LogEntry, ModelAdmin};
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Auto, Database, Model, schema};
use manouche::prelude::*;
use manouche::test::Client;

#[path = "support/admin.rs"]
mod support;
use support::{admin_project, log_in_at, make_user, token_of};

#[derive(Debug, Clone, Default, Model)]
#[model(app = "desk", ordering = "name", verbose_name_plural = "stories")]
pub struct Story {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Model)]
#[model(app = "desk", ordering = "name")]
pub struct Wire {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub name: String,
}

fn base(url: &str) -> Project {
    admin_project(url).app(App::new("desk").model::<Story>().model::<Wire>())
}

/// The default site with stories at `/admin/`, and the site `newsroom`
/// with wires at `/desk/`, its own header, tab title and stylesheet.
fn two_sites(url: &str) -> Project {
    base(url)
        .app(
            AdminSite::new()
                .register(ModelAdmin::<Story>::new().title(|s| s.name.clone()))
                .app(),
        )
        .app(
            AdminSite::named("newsroom")
                .at("desk/")
                .site_header("The newsroom")
                .site_title("Newsroom admin")
                .stylesheet("/static/newsroom/admin.css")
                .register(
                    ModelAdmin::<Wire>::new()
                        .list_display(&["name"])
                        .search_fields(&["name"])
                        .title(|w| w.name.clone()),
                )
                .app(),
        )
}

async fn setup(db: &Database, project: Project) -> Client {
    project.migrate(db).await.expect("migrate");
    schema::create_tables(db, &[Story::schema(), Wire::schema()])
        .await
        .expect("tables");
    make_user(db, "root", true, true).await;
    for name in ["Moon landing", "Budget"] {
        Story {
            name: name.into(),
            ..Default::default()
        }
        .save(db)
        .await
        .unwrap();
    }
    Wire {
        name: "AP: storm".into(),
        ..Default::default()
    }
    .save(db)
    .await
    .unwrap();
    Client::new(project).unwrap()
}

#[tokio::test]
async fn two_sites_keep_their_own_models_urls_and_looks() {
    for_each_database_with_url(|db, url| async move {
        let client = setup(&db, two_sites(&url)).await;
        // An anonymous visitor goes to the site's own login page.
        let r = client.get("/desk/desk/wire/").send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.header("location"),
            Some("/desk/login/?next=/desk/desk/wire/")
        );
        log_in_at(&client, "/desk/login/", "root").await;
        // The newsroom's index: its header, tab title, stylesheet (after
        // the admin's own style) and its model only, linked under /desk/.
        let r = client.get("/desk/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let text = r.text();
        assert!(text.contains("| Newsroom admin</title>"), "{text}");
        assert!(
            text.contains("<a class=\"brand\" href=\"/desk/\">The newsroom</a>"),
            "{text}"
        );
        let sheet = text
            .find("<link rel=\"stylesheet\" href=\"/static/newsroom/admin.css\">")
            .expect("the project's stylesheet");
        assert!(sheet > text.find("</style>").expect("the admin's style"));
        assert!(text.contains("href=\"/desk/desk/wire/\""), "{text}");
        assert!(!text.contains("Stories"), "{text}");
        assert!(text.contains("action=\"/desk/logout/\""), "{text}");
        assert!(text.contains("href=\"/desk/password_change/\""), "{text}");
        // The other site's models are not here, and the reverse.
        assert_eq!(client.get("/desk/desk/story/").send().await.status(), 404);
        assert_eq!(client.get("/admin/desk/wire/").send().await.status(), 404);
        let r = client.get("/admin/").send().await;
        assert!(
            r.text()
                .contains("<a class=\"brand\" href=\"/admin/\">Site administration</a>")
        );
        assert!(!r.text().contains("newsroom/admin.css"));
        // A change on the newsroom site goes to the one history, and its
        // recent actions link back into the newsroom.
        let wire = Wire::objects().get(&db).await?;
        let change = format!("/desk/desk/wire/{}/change/", wire.id.get().unwrap());
        let token = token_of(&client.get(&change).send().await.text());
        let r = client
            .post(&change)
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("name", "AP: storm warning"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some("/desk/desk/wire/"));
        assert_eq!(LogEntry::objects().count(&db).await?, 1);
        let r = client.get("/desk/").send().await;
        assert!(
            r.text().contains(&format!("href=\"{change}\"")),
            "{}",
            r.text()
        );
        // The newsroom's history page and breadcrumbs stay in the site.
        let r = client
            .get(&format!(
                "/desk/desk/wire/{}/history/",
                wire.id.get().unwrap()
            ))
            .send()
            .await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert!(
            r.text().contains("<a href=\"/desk/\">Home</a>"),
            "{}",
            r.text()
        );
        assert!(r.text().contains("Changed Name."), "{}", r.text());
        Ok(())
    })
    .await;
}

#[derive(Template)]
#[template(
    source = "<h1>{{ page.site.header }}, for {{ page.username }}</h1>{% for (app, models) in page.apps %}<h2>{{ app }}</h2>{% for (name, url, _) in models %}<a href=\"{{ url }}\">{{ name }}</a>{% endfor %}{% endfor %}",
    ext = "html"
)]
struct OwnIndex<'a> {
    page: &'a IndexPage,
}

#[derive(Template)]
#[template(
    source = "<table>{% for (pk, cells) in page.list.rows %}<tr id=\"row-{{ pk }}\">{% for cell in cells %}<td>{{ cell }}</td>{% endfor %}</tr>{% endfor %}</table><p>{{ page.list.count_text }}</p>",
    ext = "html"
)]
struct OwnList<'a> {
    page: &'a ChangeListPage,
}

#[tokio::test]
async fn a_project_draws_admin_pages_with_its_own_templates() {
    for_each_database_with_url(|db, url| async move {
        let project = two_sites(&url)
            .override_template(|page: &IndexPage| OwnIndex { page }.render())
            .override_template(|page: &ChangeListPage| OwnList { page }.render());
        let client = setup(&db, project).await;
        log_in_at(&client, "/admin/login/", "root").await;
        let r = client.get("/admin/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert_eq!(
            r.text(),
            "<h1>Site administration, for root</h1><h2>desk</h2><a href=\"/admin/desk/story/\">Stories</a>"
        );
        // Both sites' lists, with the admin's own data: rows and count.
        let r = client.get("/admin/desk/story/").send().await;
        assert!(r.text().starts_with("<table><tr id=\"row-"), "{}", r.text());
        assert!(r.text().contains("<td>Budget</td>"), "{}", r.text());
        assert!(r.text().ends_with("<p>2 stories</p>"), "{}", r.text());
        let r = client.get("/desk/desk/wire/").send().await;
        assert!(r.text().contains("<td>AP: storm</td>"), "{}", r.text());
        // Pages not overridden keep the admin's template.
        let r = client.get("/admin/desk/story/add/").send().await;
        assert!(r.text().contains("<!DOCTYPE html>"), "{}", r.text());
        Ok(())
    })
    .await;
}

#[test]
fn a_named_site_needs_the_site_that_keeps_the_history() {
    let project = base("sqlite::memory:")
        .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap())
        .app(AdminSite::named("newsroom").app());
    let messages = project.check(false).expect("checks run");
    assert!(
        messages.iter().any(|m| m.id == "admin.E005"),
        "{messages:?}"
    );
    let with_default = base("sqlite::memory:")
        .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap())
        .app(AdminSite::new().app())
        .app(AdminSite::named("newsroom").app());
    let messages = with_default.check(false).expect("checks run");
    assert!(
        !messages.iter().any(|m| m.id.starts_with("admin.")),
        "{messages:?}"
    );
}
