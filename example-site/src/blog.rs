//! The blog app: its models, URLs and pages.
//!
//! The pages read published articles only; an unknown or unpublished
//! article is a 404, like Django's `get_object_or_404`. Users with the
//! `blog.add_article` permission write new articles on `blog/new/`
//! (visitors are sent to the login page, other users get 403).

mod data_migrations;
mod forms;
pub(crate) mod models;

use manouche::contrib::admin::{Action, AdminSite, ModelAdmin, TabularInline};
use manouche::contrib::auth::{PermissionRequired, RequiredPermission, User};
use manouche::contrib::messages::{Level, Message, Messages};
use manouche::db::{Database, ForeignKey, Slug};
use manouche::forms::{BoundForm, FormData, ModelForm, Widget};
use manouche::paginator::Page;
use manouche::prelude::*;
use manouche::storage::DefaultStorage;

use crate::nav::Nav;
use forms::CommentForm;
use models::{Article, Author, Comment, Tag};

/// The tag of the message a posted comment leaves.
const COMMENT_TAG: &str = "comment-posted";

/// The article page's messages: those about a comment (shown under the
/// comments, where the comment form's redirect lands), and the others
/// (shown above the article, as on every page).
pub(crate) fn split_messages() -> (Vec<Message>, Vec<Message>) {
    manouche::contrib::messages::get_messages()
        .into_iter()
        .partition(|m| m.extra_tags().split_whitespace().any(|t| t == COMMENT_TAG))
}

manouche::permission!(pub(crate) AddArticle = "blog.add_article");

#[derive(Template, TemplateResponse)]
#[template(path = "blog/index.html")]
struct Index {
    nav: Nav,
    /// This page of articles, with what the page links need.
    page: Page<Article>,
    /// Whether the user may write articles (the page links to the form).
    may_add: bool,
}

#[derive(Template, TemplateResponse)]
#[template(path = "blog/article_detail.html")]
struct Detail {
    nav: Nav,
    article: Article,
    /// This page's own address, from `reverse!`.
    url: String,
    /// The comment form: empty, or as posted with its errors.
    form: BoundForm<CommentForm>,
    /// The URL of the article's cover, if it has one.
    cover: Option<String>,
}

#[derive(Template, TemplateResponse)]
#[template(path = "blog/article_form.html")]
struct NewArticle {
    nav: Nav,
    /// The form: empty, or as posted with its errors.
    form: ModelForm<Article>,
}

/// How many articles the front page shows at a time.
const ARTICLES_PER_PAGE: u64 = 10;

/// The front page: published articles, newest first, ten at a time
/// (`?page=2`), with their authors (one JOIN) and tags (one extra query).
///
/// The page number is read as text and given to `get_page`, as Django's
/// `ListView` would: what is not a number (`abc`, `1.0`, nothing) shows
/// the first page, a number out of range (`-1`, `99`, `10**30`) the last.
/// The query string is read as pairs so that nothing in it (a repeated
/// `page`, the last one counts) makes the page fail.
async fn index(db: Db, nav: Nav, Query(params): Query<Vec<(String, String)>>) -> Result<Index> {
    let published = Article::objects()
        .filter(Article::published.eq(true))
        .select_related(Article::author)
        .prefetch_related(Article::tags);
    let number = params
        .iter()
        .rev()
        .find(|(name, _)| name == "page")
        .map(|(_, value)| value.as_str());
    let page = Paginator::new(published, ARTICLES_PER_PAGE)
        .get_page(&db, number)
        .await?;
    let may_add = match nav.user() {
        Some(user) => user.has_perm(&db, AddArticle::PERMISSION).await?,
        None => false,
    };
    Ok(Index { nav, page, may_add })
}

/// One published article with its author, tags and comments.
async fn published(db: &Database, id: i64) -> Result<Article> {
    Ok(Article::objects()
        .filter(Article::id.eq(id) & Article::published.eq(true))
        .select_related(Article::author)
        .prefetch_related(Article::tags)
        .prefetch_related(Article::comments)
        .get(db)
        .await?)
}

/// The URL of `article`'s cover in `storage`, if it has one.
fn cover_url(storage: &DefaultStorage, article: &Article) -> Result<Option<String>> {
    match &article.cover {
        Some(cover) if !cover.is_empty() => Ok(Some(cover.url(&**storage)?)),
        _ => Ok(None),
    }
}

/// An article's page, with an empty comment form.
async fn detail(
    db: Db,
    storage: Service<DefaultStorage>,
    nav: Nav,
    Path(id): Path<i64>,
) -> Result<Detail> {
    let article = published(&db, id).await?;
    let url = reverse!("blog:article-detail", id = id)?;
    let cover = cover_url(&storage, &article)?;
    Ok(Detail {
        nav,
        article,
        url,
        form: BoundForm::new(),
        cover,
    })
}

/// A comment posted from the article's page: saved, then back to the
/// comments with a thank-you message (302, so that reloading does not post
/// it twice); or the page again with what was typed and what is wrong.
async fn comment(
    db: Db,
    storage: Service<DefaultStorage>,
    nav: Nav,
    messages: Messages,
    Path(id): Path<i64>,
    form: BoundForm<CommentForm>,
) -> Result<Response> {
    let article = published(&db, id).await?;
    let url = reverse!("blog:article-detail", id = id)?;
    let posted = match form.into_cleaned() {
        Ok(posted) => posted,
        Err(form) => {
            let cover = cover_url(&storage, &article)?;
            let page = Detail {
                nav,
                article,
                url,
                form,
                cover,
            };
            return Ok(page.into_response());
        }
    };
    let mut comment = Comment {
        article: ForeignKey::from(&article),
        name: posted.name,
        // Paragraphs are split on "\n\n"; browsers send CRLF.
        body: posted.body.replace("\r\n", "\n"),
        ..Default::default()
    };
    comment.save(&db).await?;
    messages.add_with_tags(
        Level::SUCCESS,
        "Thank you: your comment is published.",
        COMMENT_TAG,
    );
    Ok(manouche::web::found(&format!("{url}#comments")))
}

/// The new-article form: the article's title, text, tags and cover, as
/// the model describes them (a model form). The view fills in the rest:
/// the slug, the author and `published`.
fn article_form() -> Result<ModelForm<Article>> {
    let mut form =
        ModelForm::new(Article::default()).fields(&["title", "body", "tags", "cover"])?;
    // Eight rows: at laptop height the whole form, cover and button
    // included, fits the first screen (the box grows as one types).
    let mut textarea = Widget::textarea();
    textarea.set_attr("rows", "8");
    form.field_mut("body")?
        .set_label("Text")
        .set_help_text("Leave an empty line between paragraphs.")
        .set_widget(textarea);
    form.field_mut("tags")?
        .set_widget(Widget::checkbox_select_multiple());
    form.field_mut("cover")?
        .set_label("Cover image")
        .set_help_text("Optional: a PNG, JPEG, GIF or WebP picture shown above the text.");
    Ok(form)
}

/// The empty new-article form.
async fn new_article_form(
    _: PermissionRequired<AddArticle>,
    db: Db,
    nav: Nav,
) -> Result<NewArticle> {
    Ok(NewArticle {
        nav,
        form: article_form()?.load(&db).await?,
    })
}

/// How many times a new article looks for a free slug when other
/// requests keep taking the one it found.
const SLUG_ATTEMPTS: u32 = 5;

/// Checks the form; saves the article (published, by the user's author,
/// its cover stored in the project's storage) and redirects to it with a
/// message saying so, or shows the form again with what was typed and
/// what is wrong.
async fn new_article_submit(
    PermissionRequired(user, ..): PermissionRequired<AddArticle>,
    db: Db,
    nav: Nav,
    messages: Messages,
    data: FormData,
) -> Result<Response> {
    let mut n = 1;
    for _ in 0..SLUG_ATTEMPTS {
        let mut form = article_form()?.bind(&db, data.clone()).await?;
        if !form.is_valid() {
            return Ok(NewArticle { nav, form }.into_response());
        }
        let author = author_of(&db, &user).await?;
        let title = form.instance().title.clone();
        let slug = free_slug(&db, &title, &mut n).await?;
        let article = form.instance_mut();
        article.slug = slug;
        article.author = ForeignKey::from(&author);
        article.published = true;
        // Paragraphs are split on "\n\n"; browsers send CRLF.
        article.body = article.body.replace("\r\n", "\n");
        match form.save(&db).await? {
            Ok(article) => {
                messages.success(format!("“{}” is published.", article.title));
                let id = article
                    .pk()
                    .ok_or_else(|| Error::internal("a saved article has an id"))?;
                // 302, as Django's redirect() (axum's Redirect::to is 303).
                return Ok(manouche::web::found(&reverse!(
                    "blog:article-detail",
                    id = id
                )?));
            }
            // Another request took the slug since: try the next one.
            Err(form) if slug_taken(&form) => n += 1,
            Err(form) => return Ok(NewArticle { nav, form }.into_response()),
        }
    }
    Err(Error::new(
        StatusCode::CONFLICT,
        "other articles kept taking this title's address; try again",
    ))
}

/// Whether a save was refused because the slug is taken (the form does
/// not show the slug, so the error is the whole form's).
fn slug_taken(form: &ModelForm<Article>) -> bool {
    form.errors()
        .non_field()
        .iter()
        .any(|e| e.code() == "unique" && e.message().contains("Slug"))
}

/// The first free slug made from `title`, from the `n`-th candidate on.
async fn free_slug(db: &Database, title: &str, n: &mut u32) -> Result<Slug> {
    loop {
        // slugify makes letters, digits and '-' only, never nothing: a
        // refusal here is a bug, answered as a 500 rather than a panic.
        let candidate = Slug::new(forms::candidate_slug(title, *n)).map_err(|e| {
            Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("no slug could be made from the title: {e}"),
            )
        })?;
        if !Article::objects()
            .filter(Article::slug.eq(candidate.clone()))
            .exists(db)
            .await?
        {
            return Ok(candidate);
        }
        *n += 1;
    }
}

/// `user`'s author, made for them if they have none.
async fn author_of(db: &Database, user: &User) -> Result<Author> {
    let (author, _) = Author::objects()
        .filter(Author::user.eq(user))
        .get_or_create(db, || Author {
            name: author_name(user),
            email: manouche::db::Email::new(user.email.clone()).ok(),
            user: Some(ForeignKey::from(user)),
            ..Default::default()
        })
        .await?;
    Ok(author)
}

/// The name a user's author signs with: their full name, else their
/// username.
fn author_name(user: &User) -> String {
    let full = user.full_name();
    let name = if full.is_empty() {
        user.username.clone()
    } else {
        full
    };
    // The author's name holds 100 characters; a user's names hold more.
    name.chars().take(100).collect()
}

/// The app: its models (named, so that `migrate` makes their
/// permissions, `blog.add_article` among them), its URLs, mounted under
/// `blog/` in the `blog` namespace, and the functions its data migrations
/// run.
/// The blog's models in the admin (`/admin/`): articles searchable by
/// title, slug and author's name and filtered by whether they are
/// published; authors, tags and comments (searchable by their article's
/// title).
pub(crate) fn admin() -> AdminSite {
    AdminSite::new()
        .site_header("Manouche example site")
        .register(
            ModelAdmin::<Article>::new()
                .list_display(&["title", "author", "published", "created"])
                .search_fields(&["title", "^slug", "author__name"])
                .list_filter(&["published"])
                .date_hierarchy("created")
                .readonly(&["created", "updated"])
                .autocomplete_fields(&["author", "tags"])
                .inline(
                    TabularInline::<models::Comment>::new()
                        .fields(&["name", "body"])
                        .extra(1),
                )
                .action(Action::new(
                    "publish",
                    "Publish the selected articles",
                    |db, selected| async move {
                        let n = selected.update(&db, [Article::published.set(true)]).await?;
                        Ok(format!(
                            "{n} {} published.",
                            if n == 1 { "article" } else { "articles" }
                        ))
                    },
                ))
                .fields(&[
                    "title",
                    "slug",
                    "body",
                    "published",
                    "author",
                    "tags",
                    "cover",
                ])
                .per_page(50)
                .title(|a| a.title.clone()),
        )
        .register(
            ModelAdmin::<Author>::new()
                .list_display(&["name", "email"])
                .search_fields(&["name"])
                .title(|a| a.name.clone()),
        )
        .register(
            ModelAdmin::<Tag>::new()
                .list_display(&["name", "slug"])
                .search_fields(&["name"])
                .title(|t| t.name.clone()),
        )
        .register(
            ModelAdmin::<Comment>::new()
                .list_display(&["name", "article", "created"])
                .search_fields(&["name", "body", "article__title"])
                .title(|c| {
                    format!(
                        "{} on article {}",
                        c.name,
                        c.article.id().map_or(0, |id| *id)
                    )
                }),
        )
}

pub(crate) fn app() -> App {
    App::new("blog")
        .model::<Author>()
        .model::<Tag>()
        .model::<Article>()
        .model::<models::Comment>()
        .urls(
            "blog/",
            Urls::new()
                .path("", get(index), "index")
                .path(
                    "articles/<int:id>/",
                    get(detail).post(comment),
                    "article-detail",
                )
                .path(
                    "new/",
                    get(new_article_form).post(new_article_submit),
                    "new_article",
                ),
        )
        .data_migration("add_starter_tags", data_migrations::add_starter_tags)
        .data_migration("remove_starter_tags", data_migrations::remove_starter_tags)
        .data_migration("add_welcome_article", data_migrations::add_welcome_article)
        .data_migration(
            "remove_welcome_article",
            data_migrations::remove_welcome_article,
        )
}

#[cfg(test)]
mod tests {
    use manouche::contrib::auth::hashers::HasherSettings;
    use manouche::contrib::auth::{Permission, User};
    use manouche::db::testing::for_each_database_with_url;
    use manouche::db::{Database, ForeignKey, Model, Slug};
    use manouche::prelude::*;
    use manouche::test::Client;

    use super::models::{Article, Author, Comment, Tag};

    /// The whole site (migrations, URLs, error pages) on the database at
    /// `url`.
    fn site(url: &str) -> Project {
        let mut settings = Settings::default();
        settings.database_url = url.to_owned();
        crate::site(Project::new(settings))
    }

    /// `manage migrate ARGS` on the site, with the database at `url`.
    async fn migrate(url: &str, args: &[&str]) {
        let argv = ["example-site", "migrate"].iter().chain(args);
        site(url).manage_from(argv.copied()).await.expect("migrate");
    }

    /// A test client on the site, its database migrated.
    async fn migrated_site(url: &str) -> Client {
        migrate(url, &[]).await;
        Client::new(site(url)).expect("site")
    }

    async fn draft(db: &Database) -> Article {
        let author = Author::objects().get(db).await.expect("the welcome author");
        let mut article = Article {
            title: "Unfinished <draft>".into(),
            slug: Slug::new("draft").expect("slug"),
            body: "Not yet.".into(),
            published: false,
            author: ForeignKey::from(&author),
            ..Default::default()
        };
        article.save(db).await.expect("draft");
        article
    }

    #[tokio::test]
    async fn the_front_page_lists_published_articles_with_authors_and_tags() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let draft = draft(&db).await;
            let welcome = Article::objects()
                .filter(Article::published.eq(true))
                .get(&db)
                .await?;
            let response = client.get("/blog/").send().await;
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.header("content-type"),
                Some("text/html; charset=utf-8")
            );
            let page = response.text();
            assert!(page.contains("Welcome to Manouche"), "{page}");
            let link = format!("href=\"/blog/articles/{}/\"", welcome.pk().expect("saved"));
            assert!(page.contains(&link), "{page}");
            assert!(page.contains("The Manouche team"), "{page}");
            assert!(page.contains("<span class=\"tag\">News</span>"), "{page}");
            assert!(page.contains("<span class=\"tag\">Rust</span>"), "{page}");
            assert!(
                !page.contains("Unfinished") && !page.contains(draft.slug.as_str()),
                "unpublished articles stay off: {page}"
            );
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn an_article_page_shows_its_body_tags_and_comments_escaped() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let welcome = Article::objects().get(&db).await?;
            let id = welcome.pk().expect("saved");
            let mut comment = Comment {
                article: ForeignKey::from(&welcome),
                name: "Reader".into(),
                body: "<script>alert(1)</script>".into(),
                ..Default::default()
            };
            comment.save(&db).await?;
            let response = client.get(&format!("/blog/articles/{id}/")).send().await;
            assert_eq!(response.status(), StatusCode::OK);
            let page = response.text();
            assert!(page.contains("<h1>Welcome to Manouche</h1>"), "{page}");
            assert!(
                page.contains("<p>This site is the Manouche example project"),
                "{page}"
            );
            assert!(page.contains("<span class=\"tag\">Rust</span>"), "{page}");
            assert!(page.contains("Reader"), "{page}");
            assert!(
                page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                    || page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "comments are escaped: {page}"
            );
            assert!(!page.contains("<script>"), "{page}");
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn a_comment_is_checked_then_saved_and_shown() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await.enforce_csrf_checks();
            let welcome = Article::objects().get(&db).await?;
            let id = welcome.pk().expect("saved");
            let page_url = format!("/blog/articles/{id}/");
            let page = client.get(&page_url).send().await.text();
            assert!(
                page.contains(r#"<label for="id_name">Your name:</label>"#),
                "{page}"
            );
            let token = csrf_token(&page);

            // Without the token: refused, nothing saved.
            let r = client
                .post(&page_url)
                .form(&[("name", "Ada"), ("body", "Hi")])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);

            // Errors are shown with what was typed, escaped.
            let long = "x".repeat(101);
            let r = client
                .post(&page_url)
                .form(&[
                    ("csrfmiddlewaretoken", &token),
                    ("name", &long),
                    ("body", "  "),
                ])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let page = r.text();
            assert!(
                page.contains("Ensure this value has at most 100 characters (it has 101)."),
                "{page}"
            );
            assert!(page.contains("<li>This field is required.</li>"), "{page}");
            assert!(page.contains(&format!(r#"value="{long}""#)), "{page}");
            assert_eq!(Comment::objects().count(&db).await?, 0);

            // A good one is saved and shown; the form's page redirects.
            let r = client
                .post(&page_url)
                .form(&[
                    ("csrfmiddlewaretoken", &token),
                    ("name", " Grace <admiral> "),
                    ("body", "First.\r\n\r\nSecond."),
                ])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(
                r.header("location"),
                Some(format!("{page_url}#comments").as_str())
            );
            let saved = Comment::objects().get(&db).await?;
            assert_eq!(saved.name, "Grace <admiral>");
            assert_eq!(saved.body, "First.\n\nSecond.");
            let page = client.get(&page_url).send().await.text();
            // Under the comments, where the redirect lands.
            let thanks = page
                .find("Thank you: your comment is published.")
                .unwrap_or_else(|| panic!("{page}"));
            let comments = page.find("id=\"comments\"").expect("the comments section");
            assert!(thanks > comments, "{page}");
            let again = client.get(&page_url).send().await.text();
            assert!(
                !again.contains("Thank you"),
                "the message is shown once: {again}"
            );
            assert!(
                page.contains("Grace &#60;admiral&#62;") || page.contains("Grace &lt;admiral&gt;"),
                "{page}"
            );
            // An unpublished article takes no comment.
            let hidden = draft(&db).await;
            let r = client
                .post(&format!("/blog/articles/{}/", hidden.pk().expect("saved")))
                .form(&[
                    ("csrfmiddlewaretoken", &token),
                    ("name", "A"),
                    ("body", "B"),
                ])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND);
            Ok(())
        })
        .await;
    }

    /// The CSRF token of a page's form.
    fn csrf_token(page: &str) -> String {
        let marker = r#"name="csrfmiddlewaretoken" value=""#;
        let start = page.find(marker).expect("a CSRF field") + marker.len();
        page[start..start + 64].to_owned()
    }

    #[tokio::test]
    async fn the_welcome_article_migration_unapplies_and_reapplies() {
        for_each_database_with_url(|db, url| async move {
            migrate(&url, &[]).await;
            let counts = async || {
                (
                    Article::objects().count(&db).await.expect("articles"),
                    Author::objects().count(&db).await.expect("authors"),
                    Tag::objects().count(&db).await.expect("tags"),
                )
            };
            assert_eq!(counts().await, (1, 1, 2));
            migrate(&url, &["blog", "0002_starter_tags"]).await;
            assert_eq!(
                counts().await,
                (0, 0, 2),
                "article and author removed, tags kept"
            );
            migrate(&url, &[]).await;
            assert_eq!(counts().await, (1, 1, 2));
            // An author who wrote something else stays.
            draft(&db).await;
            migrate(&url, &["blog", "0002_starter_tags"]).await;
            assert_eq!(counts().await, (1, 1, 2), "the draft and its author stay");
            // Applying again adds the article back, by the same author.
            migrate(&url, &[]).await;
            assert_eq!(counts().await, (2, 1, 2));
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn unknown_and_unpublished_articles_are_404() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let draft = draft(&db).await;
            for path in [
                format!("/blog/articles/{}/", draft.pk().expect("saved")),
                "/blog/articles/999999/".to_owned(),
            ] {
                let response = client.get(&path).send().await;
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
                // The site's own 404 page, which names the path.
                assert!(response.text().contains("Nothing here"), "{path}");
            }
            Ok(())
        })
        .await;
    }

    /// Publishes "Post 1" to "Post {count}" (newest last) by the welcome
    /// article's author.
    async fn publish_posts(db: &Database, count: u32) {
        let author = Author::objects().get(db).await.expect("the welcome author");
        for i in 1..=count {
            let mut article = Article {
                title: format!("Post {i}"),
                slug: Slug::new(format!("post-{i}")).expect("slug"),
                body: "Text".into(),
                published: true,
                author: ForeignKey::from(&author),
                ..Default::default()
            };
            article.save(db).await.expect("post");
        }
    }

    /// The titles of the articles a blog page lists.
    fn titles(page: &str) -> Vec<&str> {
        page.split("\">")
            .filter_map(|part| part.split_once("</a></h2>").map(|(title, _)| title))
            .collect()
    }

    #[tokio::test]
    async fn the_front_page_is_paginated_ten_articles_at_a_time() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            // With the welcome article: 26, three pages, newest first.
            publish_posts(&db, 25).await;
            let first = client.get("/blog/").send().await.text();
            let newest: Vec<String> = (16..=25).rev().map(|i| format!("Post {i}")).collect();
            assert_eq!(titles(&first), newest, "{first}");
            assert!(
                first.contains("<nav class=\"pagination\" aria-label=\"Pagination\">"),
                "{first}"
            );
            assert!(first.contains("Articles 1–10 of 26"), "{first}");
            assert!(
                first.contains(
                    "<a href=\"?page=1\" aria-current=\"page\" aria-label=\"Page 1\">1</a>"
                ),
                "{first}"
            );
            assert!(
                first.contains("<a href=\"?page=2\" rel=\"next\">"),
                "{first}"
            );
            assert!(!first.contains("rel=\"prev\""), "{first}");

            let second = client.get("/blog/?page=2").send().await;
            assert_eq!(second.status(), StatusCode::OK);
            let second = second.text();
            let middle: Vec<String> = (6..=15).rev().map(|i| format!("Post {i}")).collect();
            assert_eq!(titles(&second), middle, "{second}");
            assert!(
                second.contains("aria-current=\"page\" aria-label=\"Page 2\""),
                "{second}"
            );
            assert!(
                second.contains("<a href=\"?page=1\" rel=\"prev\">"),
                "{second}"
            );
            assert!(
                second.contains("<a href=\"?page=3\" rel=\"next\">"),
                "{second}"
            );
            assert!(second.contains("<title>Blog – page 2</title>"), "{second}");

            let last = client.get("/blog/?page=3").send().await.text();
            let mut oldest: Vec<String> = (1..=5).rev().map(|i| format!("Post {i}")).collect();
            oldest.push("Welcome to Manouche".to_owned());
            assert_eq!(titles(&last), oldest, "{last}");
            assert!(last.contains("Articles 21–26 of 26"), "{last}");
            assert!(!last.contains("rel=\"next\""), "{last}");
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn a_bad_page_number_shows_the_first_or_last_page_never_an_error() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            publish_posts(&db, 25).await;
            for (query, current) in [
                ("page=-1", 3),
                ("page=0", 3),
                ("page=abc", 1),
                ("page=1000000000000000000000000000000", 3),
                ("page=-1000000000000000000000000000000", 3),
                ("page=", 1),
                ("page=1.0", 1),
                ("page=%FF%FE", 1),
                ("page=2&page=3", 3),
                ("page", 1),
                ("other=2", 1),
            ] {
                let response = client.get(&format!("/blog/?{query}")).send().await;
                assert_eq!(response.status(), StatusCode::OK, "{query}");
                let page = response.text();
                let marker = format!("aria-current=\"page\" aria-label=\"Page {current}\"");
                assert!(page.contains(&marker), "{query}: {page}");
            }
            Ok(())
        })
        .await;
    }

    const PASSWORD: &str = "correct horse 42";

    /// Saves a user with [`PASSWORD`]; with `may_add`, holding
    /// `blog.add_article` (made by `migrate`).
    async fn user(db: &Database, username: &str, may_add: bool) -> User {
        let mut user = User::new(username, PASSWORD, &HasherSettings::default());
        user.first_name = "Ana".into();
        user.last_name = "Lima".into();
        user.email = format!("{username}@example.com");
        let user = User::objects().create(db, user).await.expect("user");
        if may_add {
            let add = Permission::objects()
                .filter(Permission::app_label.eq("blog") & Permission::codename.eq("add_article"))
                .get(db)
                .await
                .expect("migrate made the blog's permissions");
            user.user_permissions.add(db, &[&add]).await.expect("grant");
        }
        user
    }

    async fn log_in(client: &Client, username: &str) {
        let r = client
            .post("/accounts/login/")
            .form(&[("username", username), ("password", PASSWORD)])
            .send()
            .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text());
    }

    #[tokio::test]
    async fn the_nav_offers_sign_in_to_visitors_and_sign_out_to_users() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            user(&db, "ana", false).await;
            let page = client.get("/blog/?page=2").send().await.text();
            assert!(
                page.contains("<a href=\"/accounts/login/?next=/blog/%3Fpage%3D2\">Sign in</a>"),
                "{page}"
            );
            assert!(!page.contains("Sign out"), "{page}");
            log_in(&client, "ana").await;
            for path in ["/", "/blog/", "/blog/articles/1/"] {
                let page = client.get(path).send().await.text();
                assert!(
                    page.contains("<span class=\"username\">ana</span>"),
                    "{path}: {page}"
                );
                assert!(
                    page.contains("<form method=\"post\" action=\"/accounts/logout/\">"),
                    "{page}"
                );
                assert!(page.contains("name=\"csrfmiddlewaretoken\""), "{page}");
                assert!(
                    page.contains(&format!("name=\"next\" value=\"{path}\"")),
                    "{page}"
                );
                assert!(!page.contains("Sign in"), "{page}");
            }
            // Signing out comes back to the page, as a visitor.
            let r = client
                .post("/accounts/logout/")
                .form(&[("next", "/blog/")])
                .send()
                .await;
            assert_eq!(r.header("location"), Some("/blog/"));
            assert!(client.get("/blog/").send().await.text().contains("Sign in"));
            // The 404 page cannot tell who asks: neither link.
            let page = client.get("/nowhere/").send().await.text();
            assert!(page.contains("Nothing here"), "{page}");
            assert!(
                !page.contains("Sign in") && !page.contains("Sign out"),
                "{page}"
            );
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn the_new_article_page_needs_the_add_permission() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            user(&db, "bob", false).await;
            let r = client.get("/blog/new/").send().await;
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(
                r.header("location"),
                Some("/accounts/login/?next=/blog/new/")
            );
            log_in(&client, "bob").await;
            let r = client.get("/blog/new/").send().await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            // The site's own 403 page, with its navigation.
            assert!(r.text().contains("<h1>Not allowed</h1>"), "{}", r.text());
            assert!(
                r.text().contains("href=\"/blog/\">Blog</a>"),
                "{}",
                r.text()
            );
            let r = client
                .post("/blog/new/")
                .form(&[("title", "Sneaky"), ("body", "Text")])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(
                !client
                    .get("/blog/")
                    .send()
                    .await
                    .text()
                    .contains("/blog/new/")
            );
            assert_eq!(
                Article::objects().count(&db).await?,
                1,
                "the welcome article only"
            );
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn a_writer_publishes_an_article_as_their_author() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let ana = user(&db, "ana", true).await;
            log_in(&client, "ana").await;
            let index = client.get("/blog/").send().await.text();
            assert!(
                index.contains("href=\"/blog/new/\">New article</a>"),
                "{index}"
            );
            let form = client.get("/blog/new/").send().await;
            assert_eq!(form.status(), StatusCode::OK);
            let news = Tag::objects()
                .filter(Tag::slug.eq(Slug::new("news").expect("slug")))
                .get(&db)
                .await?;
            let news_id = news.pk().expect("saved").to_string();
            let html = form.text();
            assert!(
                html.contains(&format!("name=\"tags\" value=\"{news_id}\"")),
                "{html}"
            );
            // A model form: the cover is a file input, so the form is
            // multipart.
            assert!(
                html.contains("<form method=\"post\" enctype=\"multipart/form-data\" class=\"article-form\""),
                "{html}"
            );
            assert!(
                html.contains("<input type=\"file\" name=\"cover\" accept=\"image/*\""),
                "{html}"
            );

            // Mistakes: the page comes back with the messages and what was typed.
            let r = client
                .post("/blog/new/")
                .form(&[
                    ("title", "  "),
                    ("body", "Kept <text>"),
                    ("tags", &news_id),
                    ("tags", "999"),
                ])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let page = r.text();
            assert!(page.contains("This field is required."), "{page}");
            assert!(
                page.contains("Select a valid choice. 999 is not one of the available choices."),
                "{page}"
            );
            assert!(page.contains(">\nKept &lt;text&gt;</textarea>"), "{page}");
            assert!(
                page.contains("<p class=\"errornote\" role=\"alert\">Please correct the errors below.</p>"),
                "{page}"
            );
            assert!(
                page.contains(&format!(
                    "name=\"tags\" value=\"{news_id}\" aria-invalid=\"true\" id=\"id_tags_0\" checked>"
                )),
                "{page}"
            );
            assert!(
                page.contains("aria-describedby=\"id_title_error\""),
                "{page}"
            );
            assert_eq!(Article::objects().count(&db).await?, 1);

            let r = client
                .post("/blog/new/")
                .form(&[
                    ("title", "Hello, World!"),
                    ("body", "One.\r\n\r\nTwo."),
                    ("tags", &news_id),
                ])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text());
            let article = Article::objects()
                .filter(Article::slug.eq(Slug::new("hello-world").expect("slug")))
                .select_related(Article::author)
                .prefetch_related(Article::tags)
                .get(&db)
                .await?;
            let id = article.pk().expect("saved");
            assert_eq!(
                r.header("location"),
                Some(format!("/blog/articles/{id}/").as_str())
            );
            assert!(article.published);
            assert_eq!(article.body, "One.\n\nTwo.");
            let author = article.author.get().expect("selected");
            assert_eq!(author.name, "Ana Lima");
            assert_eq!(author.user.as_ref().and_then(|u| u.id().copied()), ana.pk());
            let tags: Vec<&str> = article
                .tags
                .prefetched()
                .expect("prefetched")
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            assert_eq!(tags, ["News"]);
            let page = client
                .get(&format!("/blog/articles/{id}/"))
                .send()
                .await
                .text();
            assert!(page.contains("<h1>Hello, World!</h1>"), "{page}");
            assert!(page.contains("<p>Two.</p>"), "{page}");
            // The article page says it was published, once, above the
            // article (not down in the comments).
            let published = page
                .find(
                    "<ul class=\"messages\" role=\"status\">\n<li class=\"success\">“Hello, World!” is published.</li>",
                )
                .unwrap_or_else(|| panic!("{page}"));
            assert!(published < page.find("<article>").expect("the article"), "{page}");
            let again = client
                .get(&format!("/blog/articles/{id}/"))
                .send()
                .await
                .text();
            assert!(!again.contains("class=\"messages\""), "{again}");

            // The same title again: the next free slug, the same author.
            let r = client
                .post("/blog/new/")
                .form(&[("title", "Hello, World!"), ("body", "Again.")])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND);
            assert!(
                Article::objects()
                    .filter(Article::slug.eq(Slug::new("hello-world-2").expect("slug")))
                    .exists(&db)
                    .await?
            );
            assert_eq!(
                Author::objects()
                    .filter(Author::user.eq(&ana))
                    .count(&db)
                    .await?,
                1
            );
            Ok(())
        })
        .await;
    }

    /// A 2×1 PNG (signature, header, one compressed row each, end).
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x01\x08\x02\x00\x00\x00{@\xe8\xdd\x00\x00\x00\x0fIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82";

    #[tokio::test]
    async fn an_article_gets_a_cover_image() {
        for_each_database_with_url(|db, url| async move {
            migrate(&url, &[]).await;
            let media = tempfile::tempdir().expect("a media directory");
            let mut settings = Settings::default();
            settings.database_url = url.clone();
            // Debug: the site serves its media files.
            settings.debug = true;
            settings.media.root = media.path().to_owned();
            let client = Client::new(crate::site(Project::new(settings))).expect("site");
            user(&db, "ana", true).await;
            log_in(&client, "ana").await;

            // Not an image: the form again, its message on the field,
            // what was typed kept, nothing stored.
            let r = client
                .post("/blog/new/")
                .multipart(
                    &[("title", "With a cover"), ("body", "Text.")],
                    &[("cover", "cover.png", b"<script>alert(1)</script>")],
                )
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            let page = r.text();
            assert!(
                page.contains("<ul class=\"errorlist\" id=\"id_cover_error\"><li>Upload a valid image. The file you uploaded was either not an image or a corrupted image.</li></ul>"),
                "{page}"
            );
            assert!(page.contains("value=\"With a cover\""), "{page}");
            assert_eq!(Article::objects().count(&db).await?, 1);
            assert_eq!(std::fs::read_dir(media.path()).map(Iterator::count).unwrap_or(0), 0);

            // Larger than the request body may be (2.5 MB): 413, nothing
            // saved or stored.
            let huge = vec![0_u8; 3 * 1024 * 1024];
            let r = client
                .post("/blog/new/")
                .multipart(
                    &[("title", "Huge"), ("body", "Text.")],
                    &[("cover", "huge.png", &huge)],
                )
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(Article::objects().count(&db).await?, 1);
            assert_eq!(std::fs::read_dir(media.path()).map(Iterator::count).unwrap_or(0), 0);

            // An image, its name unsafe: stored under covers/, safely named.
            let r = client
                .post("/blog/new/")
                .multipart(
                    &[("title", "With a cover"), ("body", "Text.")],
                    &[("cover", "../../my cover.png", PNG)],
                )
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text());
            let article = Article::objects()
                .filter(Article::slug.eq(Slug::new("with-a-cover").expect("slug")))
                .get(&db)
                .await?;
            let cover = article.cover.clone().expect("a cover");
            assert_eq!(cover.name(), "covers/my_cover.png");
            assert_eq!(
                std::fs::read(media.path().join("covers/my_cover.png")).expect("stored"),
                PNG
            );
            let page = client
                .get(r.header("location").expect("to the article"))
                .send()
                .await
                .text();
            assert!(
                page.contains("<figure class=\"cover\"><img src=\"/media/covers/my_cover.png\" alt=\"\"></figure>"),
                "{page}"
            );
            let image = client.get("/media/covers/my_cover.png").send().await;
            assert_eq!(image.status(), StatusCode::OK);
            assert_eq!(image.header("content-type"), Some("image/png"));

            // The same file again: a second name, the first file kept.
            let r = client
                .post("/blog/new/")
                .multipart(
                    &[("title", "Another cover"), ("body", "Text.")],
                    &[("cover", "my cover.png", PNG)],
                )
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text());
            let other = Article::objects()
                .filter(Article::slug.eq(Slug::new("another-cover").expect("slug")))
                .get(&db)
                .await?;
            let name = other.cover.expect("a cover").name().to_owned();
            assert!(
                name.starts_with("covers/my_cover_") && name.ends_with(".png"),
                "{name}"
            );
            assert_eq!(std::fs::read_dir(media.path().join("covers")).expect("covers").count(), 2);
            Ok(())
        })
        .await;
    }

    #[tokio::test]
    async fn deleting_a_user_keeps_their_author_and_articles() {
        for_each_database_with_url(|db, url| async move {
            let client = migrated_site(&url).await;
            let ana = user(&db, "ana", true).await;
            log_in(&client, "ana").await;
            let r = client
                .post("/blog/new/")
                .form(&[("title", "Mine"), ("body", "Text")])
                .send()
                .await;
            assert_eq!(r.status(), StatusCode::FOUND);
            ana.delete(&db).await?;
            let author = Author::objects()
                .filter(Author::name.eq("Ana Lima"))
                .get(&db)
                .await?;
            assert!(author.user.is_none(), "the link is cleared");
            assert_eq!(
                Article::objects()
                    .filter(Article::author.eq(&author))
                    .count(&db)
                    .await?,
                1
            );
            // One author per user: a second author for a user is refused.
            let bob = user(&db, "bob", false).await;
            let tied = |name: &str| Author {
                name: name.into(),
                user: Some(ForeignKey::from(&bob)),
                ..Default::default()
            };
            Author::objects().create(&db, tied("Bob")).await?;
            let err = Author::objects()
                .create(&db, tied("Bob again"))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("user_id"), "{err}");
            Ok(())
        })
        .await;
    }
}
