//! The admin in process, on SQLite and (with `DATABASE_URL`) PostgreSQL:
//! who may see which page, the list's search, filters, sorting and pages
//! (and the 400 for anything else in its query string), the add and
//! change forms with Django's three save buttons, the delete confirmation
//! with what the cascade removes, CSRF on every form, and the checks of
//! the options.

use manouche::contrib::admin::{AdminSite, ModelAdmin};
use manouche::contrib::auth;
use manouche::contrib::sessions;
use manouche::db::testing::for_each_database_with_url;
use manouche::db::{Auto, Choices, Database, ForeignKey, Model, schema};
use manouche::prelude::*;
use manouche::test::{Client, TestResponse};

#[path = "support/admin.rs"]
mod support;
use support::{admin_project, grant, log_in, make_user, token_of};

#[derive(Debug, Clone, Copy, Default, PartialEq, Choices)]
pub enum Condition {
    #[default]
    #[choice(label = "Brand new")]
    New,
    #[choice(label = "Second hand")]
    Used,
}

#[derive(Debug, Clone, Default, Model)]
#[model(app = "shop", ordering = "title")]
pub struct Product {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub title: String,
    #[model(max_length = 20, choices)]
    pub condition: Condition,
    pub in_stock: bool,
    pub price: i32,
}

#[derive(Debug, Clone, Default, Model)]
#[model(app = "shop")]
pub struct Review {
    pub id: Auto<i64>,
    #[model(on_delete = cascade)]
    pub product: ForeignKey<Product>,
    #[model(max_length = 200)]
    pub text: String,
}

fn admin_site() -> AdminSite {
    AdminSite::new()
        .site_header("Shop admin")
        .register(
            ModelAdmin::<Product>::new()
                .list_display(&["title", "condition", "in_stock", "price"])
                .search_fields(&["title", "=condition"])
                .list_filter(&["in_stock", "condition"])
                .per_page(3)
                .title(|p| p.title.clone()),
        )
        .register(ModelAdmin::<Review>::new().list_display(&["text", "product"]))
}

fn project(url: &str) -> Project {
    admin_project(url)
        .app(App::new("shop").model::<Product>().model::<Review>())
        .app(admin_site().app())
}

/// A migrated site with products and reviews, the superuser `root`, the
/// staff member `clerk` (no permission yet), and `visitor` (not staff).
async fn site(db: &Database, url: &str) -> Client {
    let project = project(url);
    project.migrate(db).await.expect("migrate");
    schema::create_tables(db, &[Product::schema(), Review::schema()])
        .await
        .expect("tables");
    make_user(db, "root", true, true).await;
    make_user(db, "clerk", true, false).await;
    make_user(db, "visitor", false, false).await;
    for (title, condition, in_stock, price) in [
        ("Anvil", Condition::Used, true, 120),
        ("Banjo", Condition::New, true, 300),
        ("Cello", Condition::Used, false, 900),
        ("Drum", Condition::New, false, 80),
        ("Elephant-shaped teapot", Condition::New, true, 25),
    ] {
        let mut p = Product {
            title: title.into(),
            condition,
            in_stock,
            price,
            ..Default::default()
        };
        p.save(db).await.unwrap();
        if title == "Anvil" {
            for text in ["Heavy", "Loud when dropped"] {
                Review {
                    product: ForeignKey::from(&p),
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

/// The product titles of a list page, in order.
fn titles(r: &TestResponse) -> Vec<String> {
    let text = r.text();
    text.split("/change/\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn only_active_staff_with_the_permission_see_each_page() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        // Anonymous: to the admin's login page, coming back afterwards.
        let r = client.get("/admin/shop/product/").send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(
            r.header("location"),
            Some("/admin/login/?next=/admin/shop/product/")
        );
        // Logged in but not staff: 403 everywhere.
        let visitor = client.new_browser();
        log_in(&visitor, "visitor").await;
        assert_eq!(visitor.get("/admin/").send().await.status(), 403);
        assert_eq!(
            visitor.get("/admin/shop/product/").send().await.status(),
            403
        );
        // Staff without permissions: an empty index, 403 on each page.
        let clerk = client.new_browser();
        log_in(&clerk, "clerk").await;
        let r = clerk.get("/admin/").send().await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("permission to view or edit anything"));
        for path in [
            "/admin/shop/product/",
            "/admin/shop/product/add/",
            "/admin/shop/product/1/change/",
            "/admin/shop/product/1/delete/",
        ] {
            assert_eq!(clerk.get(path).send().await.status(), 403, "{path}");
        }
        let r = clerk
            .post("/admin/shop/product/add/")
            .form(&[("title", "Flute"), ("condition", "new"), ("price", "10")])
            .send()
            .await;
        assert_eq!(r.status(), 403);
        // With view only: the list and a read-only form, no saving.
        grant(&db, "clerk", "shop", "view_product").await;
        let r = clerk.get("/admin/").send().await;
        assert!(r.text().contains("/admin/shop/product/"));
        assert!(!r.text().contains("/admin/shop/product/add/"));
        assert!(!r.text().contains("/admin/shop/review/"));
        assert_eq!(clerk.get("/admin/shop/product/").send().await.status(), 200);
        let r = clerk.get("/admin/shop/product/1/change/").send().await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("View product"));
        assert!(!r.text().contains("name=\"_save\""));
        let r = clerk
            .post("/admin/shop/product/1/change/")
            .form(&[("title", "Stolen"), ("condition", "new"), ("price", "1")])
            .send()
            .await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            Product::objects()
                .filter(Product::title.eq("Stolen"))
                .count(&db)
                .await?,
            0
        );
        assert_eq!(
            clerk
                .get("/admin/shop/product/1/delete/")
                .send()
                .await
                .status(),
            403
        );
        // A model not in the admin, or not a model: 404.
        assert_eq!(clerk.get("/admin/shop/nothing/").send().await.status(), 404);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_list_searches_filters_sorts_and_pages() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let r = client.get("/admin/").send().await;
        assert!(r.text().contains("Shop admin"));
        assert!(r.text().contains("/admin/shop/product/add/"));
        // The model's order, three a page.
        let r = client.get("/admin/shop/product/").send().await;
        assert_eq!(r.status(), 200, "{}", r.text());
        assert_eq!(titles(&r), ["Anvil", "Banjo", "Cello"]);
        let text = r.text();
        assert!(text.contains("5 products"), "{text}");
        assert!(text.contains("Second hand"), "choices show their labels");
        assert!(text.contains(">Yes<") && text.contains(">No<"));
        let r = client.get("/admin/shop/product/?p=2").send().await;
        assert_eq!(titles(&r), ["Drum", "Elephant-shaped teapot"]);
        // Search: icontains on the title, exact on the condition.
        let r = client.get("/admin/shop/product/?q=AN").send().await;
        assert_eq!(titles(&r), ["Anvil", "Banjo", "Elephant-shaped teapot"]);
        let r = client.get("/admin/shop/product/?q=used").send().await;
        assert_eq!(titles(&r), ["Anvil", "Cello"]);
        // Every word must match somewhere.
        let r = client.get("/admin/shop/product/?q=an+used").send().await;
        assert_eq!(titles(&r), ["Anvil"]);
        assert!(r.text().contains("1 of 5 products"));
        // Filters, alone and together with the search.
        let r = client
            .get("/admin/shop/product/?in_stock=false")
            .send()
            .await;
        assert_eq!(titles(&r), ["Cello", "Drum"]);
        let r = client
            .get("/admin/shop/product/?condition=new&q=o")
            .send()
            .await;
        assert_eq!(titles(&r), ["Banjo", "Elephant-shaped teapot"]);
        // Sorting by a column (the fourth: price), descending, then by two.
        let r = client.get("/admin/shop/product/?o=-4").send().await;
        assert_eq!(titles(&r), ["Cello", "Banjo", "Anvil"]);
        let r = client.get("/admin/shop/product/?o=2.-4").send().await;
        assert_eq!(titles(&r), ["Banjo", "Drum", "Elephant-shaped teapot"]);
        assert!(r.text().contains("aria-sort=\"descending\""));
        // Anything else in the query string is refused, not ignored.
        for bad in [
            "?price=120",
            "?title__icontains=a",
            "?o=9",
            "?o=1.1",
            "?o=x",
            "?p=0",
            "?p=abc",
            "?p=3",
            "?in_stock=perhaps",
            "?q=a&q=b",
        ] {
            let r = client
                .get(&format!("/admin/shop/product/{bad}"))
                .send()
                .await;
            assert_eq!(r.status(), 400, "{bad}: {}", r.text());
        }
        // A foreign key shows the related object by its admin title.
        let r = client.get("/admin/shop/review/").send().await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.text().matches("<td>Anvil</td>").count(),
            2,
            "{}",
            r.text()
        );
        // A list without search refuses `q`.
        let r = client.get("/admin/shop/review/?q=x").send().await;
        assert_eq!(r.status(), 400);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn add_and_change_with_the_three_save_buttons() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let r = client.get("/admin/shop/product/add/").send().await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("Add product"));
        assert!(r.text().contains("name=\"csrfmiddlewaretoken\""));
        // A validation error: shown on the form, nothing saved.
        let r = client
            .post("/admin/shop/product/add/")
            .form(&[
                ("title", ""),
                ("condition", "new"),
                ("price", "10"),
                ("_save", ""),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("errorlist"), "{}", r.text());
        assert_eq!(Product::objects().count(&db).await?, 5);
        // A choice that is not one.
        let r = client
            .post("/admin/shop/product/add/")
            .form(&[("title", "Flute"), ("condition", "broken"), ("price", "10")])
            .send()
            .await;
        assert_eq!(r.status(), 200);
        assert!(r.text().contains("errorlist"));
        // Save: back to the list, with a message.
        let r = client
            .post("/admin/shop/product/add/")
            .form(&[
                ("title", "Flute"),
                ("condition", "new"),
                ("price", "10"),
                ("_save", ""),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        assert_eq!(r.header("location"), Some("/admin/shop/product/"));
        let flute = Product::objects()
            .filter(Product::title.eq("Flute"))
            .get(&db)
            .await?;
        let r = client.get("/admin/shop/product/").send().await;
        assert!(
            r.text()
                .contains("The product “Flute” was added successfully."),
            "{}",
            r.text()
        );
        // Save and add another.
        let r = client
            .post("/admin/shop/product/add/")
            .form(&[
                ("title", "Gong"),
                ("condition", "used"),
                ("price", "50"),
                ("_addanother", ""),
            ])
            .send()
            .await;
        assert_eq!(r.header("location"), Some("/admin/shop/product/add/"));
        // Change, and continue editing.
        let id = flute.id.get().expect("saved");
        let change = format!("/admin/shop/product/{id}/change/");
        let r = client.get(&change).send().await;
        assert!(r.text().contains("value=\"Flute\""));
        let r = client
            .post(&change)
            .form(&[
                ("title", "Flute"),
                ("condition", "used"),
                ("in_stock", "on"),
                ("price", "12"),
                ("_continue", ""),
            ])
            .send()
            .await;
        assert_eq!(r.header("location"), Some(change.as_str()));
        let flute = Product::objects()
            .filter(Product::id.eq(id))
            .get(&db)
            .await?;
        assert_eq!(
            (flute.condition, flute.in_stock, flute.price),
            (Condition::Used, true, 12)
        );
        let r = client.get(&change).send().await;
        assert!(
            r.text()
                .contains("changed successfully (changed: Condition, In stock, Price)"),
            "{}",
            r.text()
        );
        // An object that does not exist, or a key that is not one: 404.
        assert_eq!(
            client
                .get("/admin/shop/product/999/change/")
                .send()
                .await
                .status(),
            404
        );
        assert_eq!(
            client
                .get("/admin/shop/product/abc/change/")
                .send()
                .await
                .status(),
            404
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn delete_confirms_with_what_the_cascade_removes() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await;
        log_in(&client, "root").await;
        let anvil = Product::objects()
            .filter(Product::title.eq("Anvil"))
            .get(&db)
            .await?;
        let id = anvil.id.get().expect("saved");
        let page = format!("/admin/shop/product/{id}/delete/");
        let r = client.get(&page).send().await;
        assert_eq!(r.status(), 200);
        let text = r.text();
        assert!(text.contains("“Anvil”"), "{text}");
        assert!(text.contains("shop.Product: 1"), "{text}");
        assert!(text.contains("shop.Review: 2"), "{text}");
        // Looking deleted nothing.
        assert_eq!(Review::objects().count(&db).await?, 2);
        assert_eq!(Product::objects().count(&db).await?, 5);
        let r = client.post(&page).send().await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.header("location"), Some("/admin/shop/product/"));
        assert_eq!(Review::objects().count(&db).await?, 0);
        assert_eq!(Product::objects().count(&db).await?, 4);
        assert_eq!(client.get(&page).send().await.status(), 404);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn every_admin_form_is_csrf_checked() {
    for_each_database_with_url(|db, url| async move {
        let client = site(&db, &url).await.enforce_csrf_checks();
        log_in(&client, "root").await;
        for path in [
            "/admin/shop/product/add/",
            "/admin/shop/product/1/change/",
            "/admin/shop/product/1/delete/",
        ] {
            let r = client
                .post(path)
                .form(&[("title", "X"), ("condition", "new"), ("price", "1")])
                .send()
                .await;
            assert_eq!(r.status(), 403, "{path}");
        }
        assert_eq!(Product::objects().count(&db).await?, 5);
        // With the token of the page, the same post goes through.
        let r = client.get("/admin/shop/product/add/").send().await;
        let token = token_of(&r.text());
        let r = client
            .post("/admin/shop/product/add/")
            .form(&[
                ("csrfmiddlewaretoken", token.as_str()),
                ("title", "Harp"),
                ("condition", "new"),
                ("price", "1"),
            ])
            .send()
            .await;
        assert_eq!(r.status(), 302, "{}", r.text());
        Ok(())
    })
    .await;
}

#[test]
fn options_naming_no_field_stop_the_project() {
    let site = AdminSite::new()
        .register(
            ModelAdmin::<Product>::new()
                .list_display(&["title", "colour"])
                .search_fields(&["price"])
                .list_filter(&["p"]),
        )
        .register(ModelAdmin::<Product>::new());
    let project = Project::new(Settings::default())
        .configure(|s| s.set_section("sessions", "store = \"memory\"").unwrap())
        .app(sessions::app())
        .app(auth::app())
        .app(App::new("shop").model::<Product>().model::<Review>())
        .app(site.app());
    let messages = project.check(false).expect("checks run");
    let text: Vec<String> = messages
        .iter()
        .map(|m| format!("{}: {}", m.id, m.message))
        .collect();
    for expected in [
        "list_display names `colour`",
        "search_fields names `price`, which is not a text field",
        "list_filter names `p`",
        "registered in the admin twice",
    ] {
        assert!(
            text.iter().any(|t| t.contains(expected)),
            "{expected} in {text:?}"
        );
    }
}
