//! Routing, `reverse`, namespaces, converters and the trailing-slash
//! redirect, through the in-process test client.

use manouche::prelude::*;
use manouche::test::Client;
use manouche::urls::{NoReverseMatch, UrlConf};

async fn show(Path(id): Path<i64>) -> String {
    format!("article {id}")
}

async fn by_slug(Path((year, slug)): Path<(i64, String)>) -> String {
    format!("{year}/{slug}")
}

async fn whoami(urls: UrlConf) -> Result<String> {
    // Both the extractor and the free function (via the macro) work in handlers.
    let a = urls.reverse("blog:detail", &[&7])?;
    let b = reverse!("blog:detail", id = 8)?;
    let c = manouche::templates::url_for2("blog:archive", 2024, "hello-world")?;
    Ok(format!("{a} {b} {c}"))
}

fn blog() -> Urls {
    Urls::namespaced("blog")
        .path("", get(|| async { "blog index" }), "index")
        .path("<int:id>/", get(show), "detail")
        .path("<int:year>/<slug:slug>/", get(by_slug), "archive")
        .include(
            "admin/",
            Urls::namespaced("admin").path("", get(|| async { "blog admin" }), "index"),
        )
}

fn project() -> Project {
    let mut settings = Settings::default();
    settings.debug = true;
    Project::new(settings).urls(
        Urls::new()
            .path("", get(|| async { "home" }), "home")
            .path("whoami/", get(whoami), "whoami")
            .path(
                "files/<path:rest>",
                get(|Path(rest): Path<String>| async move { rest }),
                "file",
            )
            .path(
                "u/<uuid:key>/",
                get(|Path(k): Path<String>| async move { k }),
                "by-uuid",
            )
            .path("form/", post(|body: String| async move { body }), "form")
            .include("blog/", blog()),
    )
}

fn conf() -> UrlConf {
    project().build().unwrap().urls().clone()
}

#[test]
fn reverse_with_namespaces_and_arguments() {
    let urls = conf();
    assert_eq!(urls.reverse("home", &[]).unwrap(), "/");
    assert_eq!(urls.reverse("blog:index", &[]).unwrap(), "/blog/");
    assert_eq!(urls.reverse("blog:detail", &[&42]).unwrap(), "/blog/42/");
    assert_eq!(
        urls.reverse("blog:archive", &[&2024, &"my-post"]).unwrap(),
        "/blog/2024/my-post/"
    );
    assert_eq!(
        urls.reverse_kwargs("blog:archive", &[("slug", &"s"), ("year", &1999)])
            .unwrap(),
        "/blog/1999/s/"
    );
    assert_eq!(
        urls.reverse("blog:admin:index", &[]).unwrap(),
        "/blog/admin/"
    );
    assert_eq!(
        urls.reverse("file", &[&"a b/c.txt"]).unwrap(),
        "/files/a%20b/c.txt"
    );
}

#[test]
fn reverse_reports_what_is_wrong() {
    let urls = conf();
    assert!(matches!(
        urls.reverse("nope", &[]),
        Err(NoReverseMatch::UnknownName { .. })
    ));
    let err = urls.reverse("shop:index", &[]).unwrap_err();
    assert!(matches!(err, NoReverseMatch::UnknownNamespace { .. }));
    assert!(err.to_string().contains("\"blog\""), "{err}");
    let err = urls.reverse("blog:detail", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "reverse for \"blog:detail\" (\"blog/<int:id>/\") takes <int:id>, got 0 argument(s)"
    );
    assert!(matches!(
        urls.reverse("blog:detail", &[&1, &2]),
        Err(NoReverseMatch::WrongArguments { given: 2, .. })
    ));
    let err = urls.reverse("blog:detail", &[&"abc"]).unwrap_err();
    assert!(matches!(err, NoReverseMatch::BadArgument { .. }));
    assert!(
        err.to_string().contains("\"abc\" is not a valid <int:id>"),
        "{err}"
    );
    assert!(matches!(
        urls.reverse("blog:archive", &[&2024, &"not a slug"]),
        Err(NoReverseMatch::BadArgument { .. })
    ));
    assert!(matches!(
        urls.reverse_kwargs("blog:detail", &[("id", &1), ("page", &2)]),
        Err(NoReverseMatch::UnknownArgument { .. })
    ));
    assert!(matches!(
        urls.reverse_kwargs("blog:detail", &[("pk", &1)]),
        Err(NoReverseMatch::WrongArguments { .. })
    ));
}

#[tokio::test]
async fn requests_reach_handlers_with_typed_parameters() {
    let client = Client::new(project()).unwrap();
    let r = client.get("/blog/42/").send().await;
    assert_eq!(
        (r.status(), r.text().as_str()),
        (StatusCode::OK, "article 42")
    );
    let r = client.get("/blog/2024/hello-world/").send().await;
    assert_eq!(r.text(), "2024/hello-world");
    let r = client.get("/files/docs/a%20b.txt").send().await;
    assert_eq!(r.text(), "docs/a b.txt");
    let r = client.get("/whoami/").send().await;
    assert_eq!(r.text(), "/blog/7/ /blog/8/ /blog/2024/hello-world/");
}

#[tokio::test]
async fn parameters_that_do_not_fit_their_converter_are_404_not_400() {
    let client = Client::new(project()).unwrap();
    for path in [
        "/blog/abc/",
        "/blog/-1/",
        "/blog/99999999999999999999999/",
        "/blog/2024/not%20a%20slug/",
        "/u/NOT-A-UUID/",
        "/u/123E4567-E89B-12D3-A456-426614174000/",
    ] {
        let r = client.get(path).send().await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let r = client
        .get("/u/123e4567-e89b-12d3-a456-426614174000/")
        .send()
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn append_slash_redirects_only_to_existing_routes() {
    let client = Client::new(project()).unwrap();
    let r = client.get("/blog/42?x=1&y=2").send().await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), Some("/blog/42/?x=1&y=2"));
    let r = client.get("/blog").send().await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), Some("/blog/"));
    // A POST would lose its body through a 301; 308 keeps it.
    let r = client.post("/form").body("a=1").send().await;
    assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.header("location"), Some("/form/"));
    // No slash-terminated route: a plain 404, no redirect.
    let r = client.get("/nothing").send().await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.header("location"), None);
    // As Django's `is_valid_path`: `/blog/abc/` does not resolve (`<int:id>`),
    // so no redirect to it.
    let r = client.get("/blog/abc").send().await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.header("location"), None);
}

#[tokio::test]
async fn debug_404_lists_the_patterns_and_deploy_404_does_not() {
    let client = Client::new(project()).unwrap();
    let r = client.get("/missing/").send().await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = r.text();
    assert!(
        page.contains("<td>/blog/&#60;int:id&#62;/</td><td>[name='blog:detail']</td>"),
        "{page}"
    );
    assert!(page.contains("<td>/</td><td>[name='home']</td>"), "{page}");

    let deploy = Client::new(project().configure(|s| s.debug = false)).unwrap();
    let page = deploy.get("/missing/").send().await.text();
    assert!(!page.contains("int:id"), "{page}");
    assert!(page.contains("404"));
}

fn expect_errors(urls: Urls) -> String {
    match urls.compile() {
        Ok(_) => panic!("the URL tree should have been rejected"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn startup_rejects_every_mistake_at_once() {
    let report = expect_errors(
        Urls::new()
            .path("a/", get(|| async { "" }), "same")
            .path("b/", get(|| async { "" }), "same")
            .path("c/<int:id>/", get(|| async { "" }), "c")
            .path("c/<int:pk>/", get(|| async { "" }), "c2")
            .path("/slash/", get(|| async { "" }), "slash")
            .path("<float:x>/", get(|| async { "" }), "float")
            .path("d/", get(|| async { "" }), "d")
            .path("d/", post(|| async { "" }), "d-post"),
    );
    assert!(
        report.starts_with("the URL configuration has 5 error(s)"),
        "{report}"
    );
    assert!(
        report.contains("URL name \"same\" is used by both \"a/\" and \"b/\""),
        "{report}"
    );
    assert!(
        report.contains("\"c/<int:pk>/\" conflicts with \"c/<int:id>/\""),
        "{report}"
    );
    assert!(report.contains("\"d/\" conflicts with \"d/\""), "{report}");
    assert!(report.contains("must not start with '/'"), "{report}");
    assert!(report.contains("unknown converter \"float\""), "{report}");
}

#[test]
fn namespaces_must_be_unique_and_prefixes_end_with_a_slash() {
    let report = expect_errors(
        Urls::new()
            .include(
                "one/",
                Urls::namespaced("shop").path("", get(|| async { "" }), "index"),
            )
            .include(
                "two/",
                Urls::namespaced("shop").path("", get(|| async { "" }), "index"),
            ),
    );
    assert!(
        report.contains("namespace \"shop\" is included twice"),
        "{report}"
    );
    let report = expect_errors(Urls::new().include(
        "blog",
        Urls::namespaced("b").path("x/", get(|| async { "" }), "x"),
    ));
    assert!(report.contains("must end with '/'"), "{report}");
}

#[test]
fn project_build_reports_url_errors() {
    let err = Project::new(Settings::default())
        .urls(Urls::new().path("<int:a>/<int:a>/", get(|| async { "" }), "x"))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("parameter <a> appears twice"),
        "{err}"
    );
}

#[tokio::test]
async fn the_slash_redirect_never_leaves_the_site() {
    let mut settings = Settings::default();
    settings.debug = true;
    let project = Project::new(settings).urls(
        Urls::new()
            .path("<slug:a>/<slug:b>/", get(|| async { "pair" }), "pair")
            .path("s/<str:a>/<str:b>/", get(|| async { "strs" }), "strs")
            .path("<str:name>/", get(|| async { "one" }), "one")
            .path("files/<path:rest>", get(|| async { "file" }), "file"),
    );
    let client = Client::new(project).unwrap();
    // Django's CVE-2018-14574: a path that starts with two slashes would
    // become a protocol-relative Location.
    for path in [
        "//evil.example",
        "//evil.example/x",
        "///evil.example",
        "/files//evil.example",
        "//evil.example?next=/",
        "/s//evil.example",
    ] {
        let r = client.get(path).send().await;
        let location = r.header("location").unwrap_or_default().to_owned();
        assert!(
            !location.starts_with("//") && !location.contains("://"),
            "{path} -> {} {location}",
            r.status()
        );
    }
    // Where a slash is missing and the route fits, the redirect stays.
    let r = client.get("/news").send().await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("location").unwrap_or_default(), "/news/");
    // A path whose parameters do not fit their converters is a 404, not a
    // redirect to another 404.
    let r = client.get("/a/b.c").send().await;
    assert_eq!(r.status(), 404);
}
