//! Apps as the unit of a site: settings sections, services, middleware
//! hooks and layers in their documented order, commands, checks, two
//! projects in one process, and the axum interop both ways.

use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::body::Body;
use manouche::app::{AppSettings, CommandContext};
use manouche::checks::Level;
use manouche::db::{Auto, ForeignKey, Model};
use manouche::middleware::{Before, Finish, Finished, Middleware};
use manouche::prelude::*;
use manouche::test::Client;
use tower::ServiceExt;

// --- settings sections -----------------------------------------------------

#[derive(Debug, Clone, serde::Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
struct ShopSettings {
    title: String,
    per_page: u32,
}

impl Default for ShopSettings {
    fn default() -> Self {
        Self {
            title: "Shop".into(),
            per_page: 20,
        }
    }
}

impl AppSettings for ShopSettings {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.per_page == 0 {
            return Err("per_page must be at least 1".into());
        }
        Ok(())
    }
}

async fn shop_title(settings: Service<ShopSettings>) -> String {
    format!("{} ({})", settings.title, settings.per_page)
}

fn shop() -> App {
    App::new("shop")
        .settings::<ShopSettings>()
        .urls("shop/", Urls::new().path("", get(shop_title), "index"))
}

fn settings_file(text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "manouche-apps-{}-{}.toml",
        std::process::id(),
        text.len()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn an_app_section_is_read_typed_and_served_as_a_service() {
    let settings = Settings::from_toml_str("debug = true\n[shop]\ntitle = \"Boutique\"\n").unwrap();
    let client = Client::new(Project::new(settings).app(shop())).unwrap();
    let response = client.get("/shop/").send().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text(),
        "Boutique (20)",
        "the missing key takes its default"
    );
    // The app's URLs live in its label's namespace.
    let site = Project::new(Settings::default())
        .app(shop())
        .build()
        .unwrap();
    assert_eq!(site.urls().reverse("shop:index", &[]).unwrap(), "/shop/");
    assert_eq!(
        site.services().get::<ShopSettings>().unwrap().title,
        "Shop",
        "no section: the defaults"
    );
}

#[test]
fn a_misspelt_key_names_the_key_the_section_and_the_file() {
    let path = settings_file("[shop]\ntitel = \"Boutique\"\n");
    let settings = Settings::from_file(&path).unwrap();
    let err = Project::new(settings)
        .app(shop())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("titel"), "{err}");
    assert!(err.contains("[shop]"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_section_no_app_reads_and_a_bad_value_are_errors() {
    let settings = Settings::from_toml_str("[shopp]\ntitle = \"x\"\n").unwrap();
    let err = Project::new(settings)
        .app(shop())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[shopp]") && err.contains("no installed app"),
        "{err}"
    );

    let settings = Settings::from_toml_str("[shop]\nper_page = 0\n").unwrap();
    let err = Project::new(settings)
        .app(shop())
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("per_page must be at least 1"), "{err}");

    let settings = Settings::from_toml_str("[shop]\nper_page = \"many\"\n").unwrap();
    let err = Project::new(settings)
        .app(shop())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[shop]") && err.contains("invalid type"),
        "{err}"
    );

    // A plain key the framework does not know is still a mistake.
    let err = Settings::from_toml_str("debgu = true\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown setting `debgu`"), "{err}");
}

#[tokio::test]
async fn environment_variables_override_an_app_section() {
    let mut settings = Settings::from_toml_str("[shop]\ntitle = \"Boutique\"\n").unwrap();
    settings
        .apply_env([
            ("MANOUCHE_SHOP_PER_PAGE", "7"),
            ("MANOUCHE_SHOP_TITLE", "Épicerie"),
        ])
        .unwrap();
    let client = Client::new(Project::new(settings).app(shop())).unwrap();
    assert_eq!(client.get("/shop/").send().await.text(), "Épicerie (7)");

    let mut settings = Settings::default();
    settings
        .apply_env([("MANOUCHE_SHOP_PER_PAG", "7")])
        .unwrap();
    let err = Project::new(settings)
        .app(shop())
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("per_pag") && err.contains("MANOUCHE_SHOP_PER_PAG"),
        "{err}"
    );
}

#[test]
fn app_labels_are_checked() {
    for (apps, expected) in [
        (vec![App::new("Shop")], "not valid"),
        (vec![App::new("shop"), App::new("shop")], "added twice"),
    ] {
        let mut project = Project::new(Settings::default());
        for app in apps {
            project = project.app(app);
        }
        let err = project.build().unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

// --- services and ready hooks ---------------------------------------------

struct Counter {
    value: Mutex<u32>,
}

#[tokio::test]
async fn ready_hooks_register_services_in_app_order() {
    let first = App::new("first").ready(|ready| {
        ready.services_mut().insert(Counter {
            value: Mutex::new(41),
        });
        Ok(())
    });
    let second = App::new("second").ready(|ready| {
        // Sees what the earlier app registered.
        let counter = ready.services().get::<Counter>().expect("registered first");
        *counter.value.lock().unwrap() += 1;
        Ok(())
    });
    let handler =
        |counter: Service<Counter>| async move { counter.value.lock().unwrap().to_string() };
    let client = Client::new(
        Project::new(Settings::default())
            .app(first)
            .app(second)
            .urls(Urls::new().path("", get(handler), "home")),
    )
    .unwrap();
    assert_eq!(client.get("/").send().await.text(), "42");
}

#[tokio::test]
async fn a_missing_service_is_a_500_naming_the_type() {
    let handler = |_: Service<Counter>| async { "unreachable" };
    let mut settings = Settings::default();
    settings.debug = true;
    let client =
        Client::new(Project::new(settings).urls(Urls::new().path("", get(handler), "home")))
            .unwrap();
    let response = client.get("/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.text().contains("Counter"), "{}", response.text());
}

#[test]
fn a_failing_ready_hook_stops_the_build() {
    let app = App::new("broken").ready(|_| {
        Err(manouche::StartupError::improperly_configured(
            "no mailer host",
        ))
    });
    let err = Project::new(Settings::default())
        .app(app)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("no mailer host"), "{err}");
}

// --- middleware ------------------------------------------------------------

type Log = Arc<Mutex<Vec<String>>>;

struct Recorder {
    name: &'static str,
    log: Log,
    answer: Option<&'static str>,
}

impl Middleware for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }

    fn before(&self, request: &mut http::Request<Body>) -> Before {
        self.log
            .lock()
            .unwrap()
            .push(format!("before {}", self.name));
        request.extensions_mut().insert(self.name);
        if request.uri().path() == "/blocked/"
            && let Some(body) = self.answer
        {
            return Before::Respond((StatusCode::FORBIDDEN, body).into_response());
        }
        if request.uri().path() == "/hook-panics/" && self.answer.is_some() {
            panic!("a hook panicked");
        }
        Before::Continue
    }

    fn after(&self, response: &mut Response) {
        self.log
            .lock()
            .unwrap()
            .push(format!("after {}", self.name));
        let value = http::HeaderValue::from_static(self.name);
        response.headers_mut().append("x-seen-by", value);
    }
}

fn recorder(name: &'static str, log: &Log, answer: Option<&'static str>) -> Recorder {
    Recorder {
        name,
        log: Arc::clone(log),
        answer,
    }
}

async fn record_layer(
    log: Log,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    log.lock().unwrap().push("layer in".into());
    let response = next.run(request).await;
    log.lock().unwrap().push("layer out".into());
    response
}

#[tokio::test]
async fn hooks_run_in_order_around_layers_and_the_view() {
    let log: Log = Arc::default();
    let view_log = Arc::clone(&log);
    let view = move |Extension(last): Extension<&'static str>| {
        let log = Arc::clone(&view_log);
        async move {
            log.lock().unwrap().push("view".into());
            format!("last hook: {last}")
        }
    };
    let layer_log = Arc::clone(&log);
    let app = App::new("audit")
        .middleware(recorder("app", &log, None))
        .layer(axum::middleware::from_fn(move |req, next| {
            record_layer(Arc::clone(&layer_log), req, next)
        }));
    let client = Client::new(
        Project::new(Settings::default())
            .app(app)
            .middleware(recorder("project", &log, Some("blocked by the project")))
            .urls(Urls::new().path("", get(view), "home").path(
                "blocked/",
                get(|| async { "never" }),
                "blocked",
            )),
    )
    .unwrap();

    let response = client.get("/").send().await;
    assert_eq!(response.text(), "last hook: project");
    let seen: Vec<&str> = response
        .headers()
        .get_all("x-seen-by")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(seen, ["project", "app"], "after runs innermost first");
    assert_eq!(
        *log.lock().unwrap(),
        [
            "before app",
            "before project",
            "layer in",
            "view",
            "layer out",
            "after project",
            "after app"
        ]
    );

    // A hook that answers: no view, no layer; the hooks that ran see the
    // response; security headers are still added.
    log.lock().unwrap().clear();
    let response = client.get("/blocked/").send().await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.text(), "blocked by the project");
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        *log.lock().unwrap(),
        ["before app", "before project", "after project", "after app"]
    );

    // Error pages pass through the hooks too.
    let response = client.get("/nowhere/").send().await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.header("x-seen-by").is_some());
}

#[tokio::test]
async fn a_panicking_hook_is_a_500_and_the_site_keeps_serving() {
    let log: Log = Arc::default();
    let client = Client::new(
        Project::new(Settings::default())
            .middleware(recorder("fragile", &log, Some("x")))
            .urls(Urls::new().path("", get(|| async { "fine" }), "home")),
    )
    .unwrap();
    let response = client.get("/hook-panics/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(client.get("/").send().await.text(), "fine");
}

/// A hook that keeps per-request state in its finishing step: the path it
/// saw, stamped on the response after a wait, as a session store would.
struct Stamper {
    log: Log,
}

struct Stamp {
    path: String,
    log: Log,
}

impl Middleware for Stamper {
    fn name(&self) -> &'static str {
        "stamper"
    }

    fn before(&self, request: &mut http::Request<Body>) -> Before {
        Before::Then(Arc::new(Stamp {
            path: request.uri().path().to_owned(),
            log: Arc::clone(&self.log),
        }))
    }

    fn after(&self, _response: &mut Response) {
        self.log.lock().unwrap().push("after stamper".into());
    }
}

impl Finish for Stamp {
    fn finish(self: Arc<Self>, mut response: Response) -> Finished {
        self.log.lock().unwrap().push(format!("step {}", self.path));
        match self.path.as_str() {
            "/step-panics/" => panic!("a finishing step panicked"),
            "/step-fails/" => Finished::Done(Error::internal("the store is down").into_response()),
            _ => Finished::Pending(Box::pin(async move {
                tokio::task::yield_now().await;
                let value = http::HeaderValue::from_str(&self.path).unwrap();
                response.headers_mut().insert("x-stamped", value);
                response
            })),
        }
    }
}

#[tokio::test]
async fn a_hooks_finishing_step_runs_once_per_request_before_its_after_and_may_wait() {
    let log: Log = Arc::default();
    let client = Client::new(
        Project::new(Settings::default())
            .middleware(recorder("outer", &log, None))
            .middleware(Stamper {
                log: Arc::clone(&log),
            })
            .middleware(recorder("inner", &log, Some("blocked by the inner hook")))
            .urls(Urls::new().path("", get(|| async { "home" }), "home")),
    )
    .unwrap();

    let response = client.get("/").send().await;
    assert_eq!(response.text(), "home");
    assert_eq!(response.header("x-stamped"), Some("/"));
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(
        *log.lock().unwrap(),
        [
            "before outer",
            "before inner",
            "after inner",
            "step /",
            "after stamper",
            "after outer"
        ]
    );

    // A later hook answers: the step of the hook that ran still runs.
    log.lock().unwrap().clear();
    let response = client.get("/blocked/").send().await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.header("x-stamped"), Some("/blocked/"));

    // An error response from a step is rendered as an error page, and
    // the outer hooks still see it.
    let response = client.get("/step-fails/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.text().contains("<html"), "{}", response.text());
    assert!(response.header("x-seen-by").is_some());

    // A panicking step is a 500, and the site keeps serving.
    let response = client.get("/step-panics/").send().await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(client.get("/").send().await.text(), "home");
}

// --- two projects in one process --------------------------------------------

struct Name {
    name: &'static str,
}

async fn whoami(name: Service<Name>, urls: UrlConf) -> Result<String> {
    Ok(format!(
        "{} {} {} {}",
        name.name,
        reverse!("whoami")?,
        urls.reverse("whoami", &[])?,
        manouche::templates::static_url("x.css")
    ))
}

fn named_project(name: &'static str, prefix: &str, static_url: &str, debug: bool) -> Project {
    let mut settings = Settings::default();
    settings.debug = debug;
    settings.static_files.url = static_url.to_owned();
    settings.static_files.dirs = Vec::new();
    Project::new(settings)
        .app(manouche::contrib::staticfiles::app())
        .app(App::new(name).ready(move |ready| {
            ready.services_mut().insert(Name { name });
            Ok(())
        }))
        .urls(Urls::new().include(prefix, Urls::new().path("who/", get(whoami), "whoami")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projects_in_one_process_each_answer_as_their_own() {
    let a = Client::new(named_project("alpha", "a/", "/a-static/", true)).unwrap();
    let b = Client::new(named_project("beta", "b/", "/b-static/", false)).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (client, path) = if i % 2 == 0 {
            (a.clone(), "/a/who/")
        } else {
            (b.clone(), "/b/who/")
        };
        tasks.push(tokio::spawn(
            async move { (i, client.get(path).send().await) },
        ));
    }
    for task in tasks {
        let (i, response) = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let expected = if i % 2 == 0 {
            "alpha /a/who/ /a/who/ /a-static/x.css"
        } else {
            "beta /b/who/ /b/who/ /b-static/x.css"
        };
        assert_eq!(response.text(), expected);
    }
    // Their settings differ too: only the debug one shows details on a 404.
    assert!(a.get("/b/who/").send().await.text().contains("/a/who/"));
    assert!(!b.get("/a/who/").send().await.text().contains("/b/who/"));
}

// --- interop with axum ------------------------------------------------------

#[tokio::test]
async fn a_site_is_a_tower_service_and_an_axum_router() {
    let mut settings = Settings::default();
    settings.allowed_hosts = vec!["example.com".into()];
    let build = || {
        Project::new(settings.clone())
            .urls(Urls::new().path("hello/", get(|| async { "hello" }), "hello"))
            .build()
            .unwrap()
    };
    let request = |path: &str, host: &str| {
        http::Request::get(path)
            .header("host", host)
            .body(Body::empty())
            .unwrap()
    };
    let response = build()
        .into_service()
        .oneshot(request("/hello/", "example.com"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let response = build()
        .into_service()
        .oneshot(request("/hello/", "evil.com"))
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "the host check still runs"
    );

    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .merge(build().into_router());
    let response = app
        .clone()
        .oneshot(request("/health", "any"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .oneshot(request("/hello/", "example.com"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_axum_router_mounts_in_a_site_behind_its_middleware() {
    let api =
        axum::Router::new()
            .route("/status", get(|| async { "api ok" }))
            .route(
                "/items/{id}",
                get(
                    |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                        format!("item {id}")
                    },
                ),
            );
    let client = Client::new(
        Project::new(Settings::default()).urls(
            Urls::new()
                .path("", get(|| async { "home" }), "home")
                .mount("api/", api),
        ),
    )
    .unwrap();
    let response = client.get("/api/status").send().await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text(), "api ok");
    assert_eq!(response.header("x-frame-options"), Some("DENY"));
    assert_eq!(client.get("/api/items/7").send().await.text(), "item 7");
    assert_eq!(client.get("/").send().await.text(), "home");
    assert_eq!(
        client.get("/api/nope").send().await.status(),
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_mount_that_overlaps_a_route_or_has_a_bad_prefix_is_reported() {
    let errors = Urls::new()
        .path("api/<int:id>/", get(|| async { "x" }), "x")
        .mount("api/", axum::Router::new())
        .mount("/v2", axum::Router::new())
        .compile()
        .unwrap_err()
        .to_string();
    assert!(errors.contains("conflicts"), "{errors}");
    assert!(errors.contains("mount prefix"), "{errors}");
}

// --- commands ---------------------------------------------------------------

#[tokio::test]
async fn an_app_command_gets_its_arguments_and_the_project_services() {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let app = App::new("shop").settings::<ShopSettings>().command(
        clap::Command::new("restock")
            .about("Restock the shelves")
            .arg(clap::arg!(--count <N> "how many").value_parser(clap::value_parser!(u32))),
        move |ctx: CommandContext| {
            let record = Arc::clone(&record);
            async move {
                let count: u32 = *ctx.matches().get_one("count").expect("required");
                let title = ctx.service::<ShopSettings>()?.title.clone();
                record.lock().unwrap().push(format!("{title}: {count}"));
                Ok::<(), manouche::StartupError>(())
            }
        },
    );
    let mut settings = Settings::default();
    settings.database_url = String::new();
    Project::new(settings)
        .app(app)
        .manage_from(["site", "restock", "--count", "3"])
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), ["Shop: 3"]);
}

// --- checks -----------------------------------------------------------------

#[derive(Debug, Clone, Model)]
#[model(app = "apps_catalog")]
pub struct Product {
    pub id: Auto<i64>,
    #[model(max_length = 40)]
    pub name: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "apps_orders")]
pub struct Order {
    pub id: Auto<i64>,
    pub product: ForeignKey<Product>,
}

#[test]
fn a_model_whose_app_is_not_installed_fails_check_naming_the_model_and_the_app() {
    let project = Project::new(Settings::default()).app(App::new("apps_orders").model::<Order>());
    let messages = project.check(false).unwrap();
    let e001 = messages
        .iter()
        .find(|m| m.id == "models.E001")
        .expect("models.E001");
    assert_eq!(e001.level, Level::Error);
    assert!(
        e001.message.contains("apps_catalog.Product") && e001.message.contains("\"apps_catalog\""),
        "{e001}"
    );
    // The relation to it is reported too.
    assert!(
        messages
            .iter()
            .any(|m| m.id == "fields.E300" && m.message.contains("apps_orders.Order.product"))
    );

    let both = Project::new(Settings::default())
        .app(App::new("apps_catalog"))
        .app(App::new("apps_orders"));
    assert!(
        both.check(false)
            .unwrap()
            .iter()
            .all(|m| !m.id.starts_with("models.") && !m.id.starts_with("fields."))
    );

    // A model named on the wrong app.
    let wrong = Project::new(Settings::default())
        .app(App::new("apps_catalog").model::<Order>())
        .app(App::new("apps_orders"));
    assert!(
        wrong
            .check(false)
            .unwrap()
            .iter()
            .any(|m| m.id == "models.E002")
    );
}

#[test]
fn app_checks_run_with_the_project_services() {
    let app = App::new("shop").settings::<ShopSettings>().check(|ctx| {
        let settings = ctx
            .services
            .get_ref::<ShopSettings>()
            .expect("read before checks");
        if settings.title.is_empty() {
            vec![manouche::checks::CheckMessage::warning(
                "shop.W001",
                "the shop has no title",
                "set [shop] title",
            )]
        } else {
            Vec::new()
        }
    });
    let settings = Settings::from_toml_str("[shop]\ntitle = \"\"\n").unwrap();
    let messages = Project::new(settings).app(app).check(false).unwrap();
    assert_eq!(
        messages.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        ["shop.W001"]
    );
}

// --- migrations of the installed apps ---------------------------------------

const SHOP_0001: &str = r#"{"app": "shop", "name": "0001_initial", "dependencies": [["catalog", "0001_initial"]], "operations": []}"#;
const GONE_0001: &str =
    r#"{"app": "gone", "name": "0001_initial", "dependencies": [], "operations": []}"#;
const CATALOG_0001: &str =
    r#"{"app": "catalog", "name": "0001_initial", "dependencies": [], "operations": []}"#;

#[test]
fn the_migration_set_is_the_union_of_the_installed_apps() {
    use manouche::migrations::EmbeddedMigrations;
    static PROJECT: &[(&str, &str)] = &[
        ("shop/0001_initial.json", SHOP_0001),
        ("gone/0001_initial.json", GONE_0001),
    ];
    static LIBRARY: &[(&str, &str)] = &[("catalog/0001_initial.json", CATALOG_0001)];
    let project = Project::new(Settings::default())
        .migrations(EmbeddedMigrations::new(PROJECT))
        .app(App::new("catalog").migrations(EmbeddedMigrations::new(LIBRARY)))
        .app(App::new("shop"));
    let set = project.migration_set().unwrap();
    let keys: Vec<String> = set.ordered().iter().map(|m| m.label()).collect();
    // The library's first (the project's app depends on it); the folder of
    // an app that is not installed is left out.
    assert_eq!(keys, ["catalog.0001_initial", "shop.0001_initial"]);
    assert_eq!(project.project_app_labels(), ["shop"]);
    assert_eq!(project.library_app_labels(), ["catalog"]);

    // Without the library, the project's migration misses its dependency.
    let without = Project::new(Settings::default())
        .migrations(EmbeddedMigrations::new(PROJECT))
        .app(App::new("shop"));
    let err = without.migration_set().unwrap_err().to_string();
    assert!(err.contains("catalog.0001_initial"), "{err}");

    // A library app's migrations in the project's folder are refused.
    static CLASH: &[(&str, &str)] = &[("catalog/0001_initial.json", CATALOG_0001)];
    let clash = Project::new(Settings::default())
        .migrations(EmbeddedMigrations::new(CLASH))
        .app(App::new("catalog").migrations(EmbeddedMigrations::new(LIBRARY)));
    let err = clash.migration_set().unwrap_err().to_string();
    assert!(err.contains("ship in its crate"), "{err}");
}
