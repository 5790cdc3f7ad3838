//! The [`Project`] builder: settings, apps (Django's `INSTALLED_APPS`), the
//! root URL list, the project's own middleware, and the entry point to the
//! `manage` command line; and the built [`Site`].
//!
//! ```no_run
//! use manouche::prelude::*;
//!
//! async fn home() -> &'static str { "Hello" }
//!
//! #[tokio::main]
//! async fn main() -> manouche::Result<()> {
//!     Project::from_settings("settings.toml")?
//!         .app(manouche::contrib::staticfiles::app())
//!         .urls(Urls::new().path("", get(home), "home"))
//!         .manage()   // runserver | serve | migrate | check | help | ...
//!         .await
//! }
//! ```
//!
//! Building a project ([`Project::build`]) validates the settings and the
//! apps' settings sections, runs the apps' `ready` hooks in order, and
//! compiles the URL tree with every mistake reported at once; a
//! [`StartupError`] says what is wrong.

use std::ffi::OsString;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use http::StatusCode;

use crate::app::{
    AppCommand, AppInfo, CheckContext, LayerFn, Purpose, Ready, RouteLayer, layer_fn, valid_label,
};
use crate::checks::CheckMessage;
use crate::db::{Database, ModelMeta};
use crate::error_pages::{ErrorContext, ErrorPages};
use crate::middleware::{Hooks, Middleware, Pipeline, Routes, SiteService, Views};
use crate::migrations::{
    DataMigrations, EmbeddedMigrations, MigrationError, MigrationSet, migrations_dir,
};
use crate::request::SiteState;
use crate::services::Services;
use crate::settings::Settings;
use crate::templates::TemplateOverrides;
use crate::urls::{UrlConf, UrlErrors, Urls};
use crate::{App, Result, StartupError};

/// A site: settings, apps, URLs, middleware and error pages.
#[must_use]
pub struct Project {
    settings: Settings,
    urls: Urls,
    apps: Vec<App>,
    error_pages: ErrorPages,
    migrations: EmbeddedMigrations,
    middleware: Vec<Arc<dyn Middleware>>,
    layers: Vec<LayerFn>,
    templates: TemplateOverrides,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project")
            .field("settings", &self.settings)
            .field("apps", &self.apps)
            .finish_non_exhaustive()
    }
}

/// What preparing a project gives: its services after every `ready` hook,
/// and the middleware hooks in order.
pub(crate) struct Prepared {
    pub(crate) services: Services,
    pub(crate) hooks: Hooks,
    /// The layers around the routes, outermost first: each app's own, then
    /// those its `ready` hook added, then the project's.
    pub(crate) layers: Vec<LayerFn>,
    pub(crate) database: Option<Database>,
}

impl Project {
    /// Settings from `path` (or the file named by `MANOUCHE_SETTINGS`), with
    /// the environment applied on top.
    ///
    /// # Errors
    /// When the file cannot be read or a setting is invalid; the message
    /// names the file or variable.
    pub fn from_settings(path: impl AsRef<std::path::Path>) -> Result<Self, StartupError> {
        Ok(Self::new(Settings::load(path)?))
    }

    /// A project with settings built in code.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            urls: Urls::new(),
            apps: Vec::new(),
            error_pages: ErrorPages::default(),
            migrations: EmbeddedMigrations::default(),
            middleware: Vec::new(),
            layers: Vec::new(),
            templates: TemplateOverrides::default(),
        }
    }

    /// Renders an app's page of type `T` with the project's own template
    /// (the app renders it with [`templates::render`](crate::templates::render));
    /// see [`templates`](crate::templates).
    pub fn override_template<T, F>(mut self, render: F) -> Self
    where
        T: 'static,
        F: Fn(&T) -> std::result::Result<String, askama::Error> + Send + Sync + 'static,
    {
        self.templates.insert(render);
        self
    }

    /// Adds a middleware hook of the project's own, after the apps' ones
    /// (see [`middleware`](crate::middleware) for the order).
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Adds a tower layer around the routes, after (inside) the apps' ones.
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.layers.push(layer_fn(layer));
        self
    }

    /// The installed apps, in order.
    pub fn apps(&self) -> impl Iterator<Item = &App> {
        self.apps.iter()
    }

    /// The root URL list (Django's `ROOT_URLCONF`). Apps' URLs are mounted
    /// after these.
    pub fn urls(mut self, urls: Urls) -> Self {
        self.urls = urls;
        self
    }

    /// Installs an app (Django's `INSTALLED_APPS`): its models,
    /// migrations, URLs, static files, middleware, commands, checks and
    /// settings section.
    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// Renders the page for `status` with `render` instead of the built-in
    /// template (Django's `handler404`, `handler500`...).
    pub fn error_page<F>(mut self, status: StatusCode, render: F) -> Self
    where
        F: Fn(&ErrorContext) -> std::result::Result<String, askama::Error> + Send + Sync + 'static,
    {
        self.error_pages.set(status, render);
        self
    }

    /// The project's own apps' migration files compiled into the binary
    /// (`.migrations(manouche::embed_migrations!("../migrations"))`), used when
    /// the migrations folder is not there at run time. Library apps bring
    /// their own ([`App::migrations`]).
    pub fn migrations(mut self, embedded: EmbeddedMigrations) -> Self {
        self.migrations = embedded;
        self
    }

    /// Every migration of the installed apps: each library app's own
    /// (compiled into its crate), and the project's folder (`migrations/`,
    /// or the files embedded with [`migrations`](Self::migrations) when the
    /// folder is not there at run time) for the rest, ordered by their
    /// dependencies across apps. Migrations of an app that is not installed
    /// are left out, as Django does.
    ///
    /// # Errors
    /// A malformed or misplaced file, migrations of a library app in the
    /// project's folder, or a broken dependency graph.
    pub fn migration_set(&self) -> Result<MigrationSet, StartupError> {
        let dir = migrations_dir();
        let project = if dir.is_dir() || self.migrations.is_empty() {
            MigrationSet::read_dir(&dir)?
        } else {
            MigrationSet::read_embedded(&self.migrations)?
        };
        let mut all: Vec<crate::migrations::Migration> = Vec::new();
        for app in &self.apps {
            if let Some(embedded) = &app.migrations {
                if project.iter().any(|m| m.app == app.label) {
                    return Err(MigrationError::LibraryMigrationsInProject {
                        app: app.label.clone(),
                        dir: dir.join(&app.label),
                    }
                    .into());
                }
                all.extend(
                    MigrationSet::read_embedded(embedded)?
                        .into_iter()
                        .filter(|m| m.app == app.label),
                );
            }
        }
        // Like Django, only the installed apps' migrations: a folder left
        // by an app the project no longer installs is not applied.
        all.extend(project.into_iter().filter(|m| {
            self.apps
                .iter()
                .any(|a| !a.is_library() && a.label == m.app)
        }));
        Ok(MigrationSet::new(all)?)
    }

    /// The labels of the installed apps whose migrations the project
    /// writes (`manage makemigrations`): every app but the library ones.
    pub fn project_app_labels(&self) -> Vec<&str> {
        self.apps
            .iter()
            .filter(|a| !a.is_library())
            .map(App::label)
            .collect()
    }

    /// The labels of the installed library apps.
    pub fn library_app_labels(&self) -> Vec<&str> {
        self.apps
            .iter()
            .filter(|a| a.is_library())
            .map(App::label)
            .collect()
    }

    /// The data migration functions of every app, for
    /// [`executor::migrate_with`](crate::migrations::executor::migrate_with).
    ///
    /// # Errors
    /// An app that registers two functions under one name.
    pub fn data_migrations(&self) -> Result<DataMigrations, StartupError> {
        let mut all = DataMigrations::new();
        for app in &self.apps {
            for (name, function) in &app.data_migrations {
                all.insert(app.label(), name, function.clone())?;
            }
        }
        Ok(all)
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Changes settings in code, e.g. in tests.
    pub fn configure(mut self, f: impl FnOnce(&mut Settings)) -> Self {
        f(&mut self.settings);
        self
    }

    /// Validates the settings, the apps' labels and settings sections, and
    /// runs the apps' `ready` hooks.
    pub(crate) fn prepare(&self, purpose: Purpose) -> Result<Prepared, StartupError> {
        self.settings.validate()?;
        let mut labels: Vec<&str> = Vec::new();
        for app in &self.apps {
            if !valid_label(app.label()) {
                return Err(StartupError::improperly_configured(format!(
                    "app label {:?} is not valid: use lowercase letters, digits and '_', starting with a letter",
                    app.label()
                )));
            }
            if labels.contains(&app.label()) {
                return Err(StartupError::improperly_configured(format!(
                    "app {:?} is added twice",
                    app.label()
                )));
            }
            labels.push(app.label());
        }
        self.settings.check_sections(
            self.apps
                .iter()
                .filter(|a| a.settings.is_some())
                .map(App::label),
        )?;
        let mut services = Services::new();
        if !self.templates.is_empty() {
            services.insert(self.templates.clone());
        }
        let database = connect_database(&self.settings)?;
        if let Some(db) = &database {
            services.insert(db.clone());
        }
        // Before the apps' hooks, so that an app can replace it.
        services.insert(crate::mail::Mailer::from_settings(&self.settings)?);
        services.insert(self.settings.media.clone());
        services.insert(crate::storage::FileSystemStorage::from_settings(
            &self.settings.media,
        ));
        services.insert(crate::storage::DefaultStorage::from_settings(
            &self.settings.media,
        )?);
        for app in &self.apps {
            if let Some(read) = &app.settings {
                read(&self.settings, &app.label, &mut services)?;
            }
        }
        let infos: Vec<AppInfo> = self.apps.iter().map(App::info).collect();
        let mut hooks: Vec<Arc<dyn Middleware>> = Vec::new();
        let mut layers: Vec<LayerFn> = Vec::new();
        for app in &self.apps {
            hooks.extend(app.middleware.iter().cloned());
            layers.extend(app.layers.iter().cloned());
            for hook in &app.ready {
                let mut ready = Ready {
                    label: &app.label,
                    settings: &self.settings,
                    services: &mut services,
                    apps: &infos,
                    middleware: &mut hooks,
                    layers: &mut layers,
                    purpose,
                };
                hook(&mut ready)?;
            }
        }
        hooks.extend(self.middleware.iter().cloned());
        layers.extend(self.layers.iter().cloned());
        Ok(Prepared {
            services,
            hooks: Hooks(hooks),
            layers,
            database,
        })
    }

    /// Applies every migration not applied yet to `db` (what `manage
    /// migrate` does, quietly), then runs the apps'
    /// [`post_migrate`](App::post_migrate) hooks. For tests and for
    /// projects that migrate on start.
    ///
    /// # Errors
    /// A migration that cannot be read, planned or applied, or a failing
    /// hook.
    pub async fn migrate(&self, db: &Database) -> Result<(), StartupError> {
        use crate::migrations::executor::{self, Target};
        let set = self.migration_set()?;
        let data = self.data_migrations()?;
        let applied = executor::applied(db).await?;
        let plan = executor::plan(&set, &applied, &Target::All)?;
        executor::migrate_with(db, &set, &plan, &data, false, |_| {}).await?;
        self.post_migrate(db).await
    }

    /// Runs every app's [`post_migrate`](App::post_migrate) hook on `db`.
    pub(crate) async fn post_migrate(&self, db: &Database) -> Result<(), StartupError> {
        let models: Vec<(String, Vec<&'static ModelMeta>)> = self
            .installed_models()
            .into_iter()
            .map(|(label, models)| (label.to_owned(), models))
            .collect();
        let context = crate::app::MigrateContext {
            database: db.clone(),
            models: Arc::new(models),
            settings: Arc::new(self.settings.clone()),
        };
        for app in &self.apps {
            for hook in &app.post_migrate {
                hook(context.clone()).await?;
            }
        }
        Ok(())
    }

    /// The installed apps' labels with the models each names explicitly
    /// and those whose `#[model(app)]` is its label.
    pub(crate) fn installed_models(&self) -> Vec<(&str, Vec<&'static ModelMeta>)> {
        self.apps
            .iter()
            .map(|a| (a.label(), a.models.iter().map(|m| m()).collect()))
            .collect()
    }

    /// Every system check: the models', the apps' own, and with `deploy`
    /// the production settings'.
    ///
    /// # Errors
    /// When the project cannot be prepared (a bad setting, a failing
    /// `ready` hook).
    pub fn check(&self, deploy: bool) -> Result<Vec<CheckMessage>, StartupError> {
        let prepared = self.prepare(Purpose::Command)?;
        Ok(self.run_checks(&prepared, deploy))
    }

    /// The checks against an already prepared project.
    fn run_checks(&self, prepared: &Prepared, deploy: bool) -> Vec<CheckMessage> {
        let mut messages = if deploy {
            crate::checks::deploy_checks(&self.settings)
        } else {
            Vec::new()
        };
        messages.extend(crate::checks::model_checks(&self.installed_models()));
        let infos: Vec<AppInfo> = self.apps.iter().map(App::info).collect();
        let ctx = CheckContext {
            settings: &self.settings,
            services: &prepared.services,
            apps: &infos,
            deploy,
        };
        for app in &self.apps {
            for check in &app.checks {
                messages.extend(check(&ctx));
            }
        }
        messages
    }

    /// Builds the site and runs every check on it, preparing the project
    /// (its `ready` hooks, its database pool) once for both: what
    /// `manage check` and `manage serve` do.
    pub(crate) fn build_checked(
        self,
        deploy: bool,
    ) -> Result<(Site, Vec<CheckMessage>), StartupError> {
        let prepared = self.prepare(Purpose::Serve)?;
        let messages = self.run_checks(&prepared, deploy);
        Ok((self.assemble(prepared)?, messages))
    }

    /// The apps' `manage` commands.
    pub(crate) fn commands(&self) -> impl Iterator<Item = &AppCommand> {
        self.apps.iter().flat_map(|a| a.commands.iter())
    }

    /// Checks the URL tree, settings and apps, runs the apps' `ready`
    /// hooks and builds the site to serve.
    ///
    /// # Errors
    /// Every URL mistake at once, a setting that cannot be used, or a
    /// failing `ready` hook.
    pub fn build(self) -> Result<Site, StartupError> {
        let prepared = self.prepare(Purpose::Serve)?;
        self.assemble(prepared)
    }

    /// The site from a project prepared to serve.
    fn assemble(self, prepared: Prepared) -> Result<Site, StartupError> {
        let mut urls = self.urls;
        for app in self.apps {
            if let Some((prefix, app_urls)) = app.urls {
                urls = urls.include(&prefix, app_urls.or_namespace(&app.label));
            }
        }
        let compiled = urls
            .compile()
            .map_err(|errors: UrlErrors| StartupError::from(errors))?;
        let conf = compiled.conf;
        // Turns every handler into its final service now, once: axum
        // otherwise does it again on every request.
        let router = compiled.router.with_state(());
        // CSRF protection is inside every layer, so that an app's layer
        // can vouch for a request first (`csrf::ChecksOff`).
        let csrf = crate::csrf::CsrfLayer::new(&self.settings, conf.clone())?;
        let mut without_body = Views::new(tower::Layer::layer(&csrf, router.clone()));
        let mut with_body = Views::new(tower::Layer::layer(
            &csrf,
            router.layer(DefaultBodyLimit::disable()),
        ));
        let mut layers = prepared.layers;
        if self.settings.debug
            && self.settings.media.url.starts_with('/')
            && self.settings.media.url != "/"
        {
            let media = crate::web::media::MediaServing {
                storage: crate::storage::FileSystemStorage::from_settings(&self.settings.media),
                prefix: self.settings.media.url.clone(),
            };
            // Inside the apps' layers, outside the CSRF check.
            layers.push(layer_fn(axum::middleware::from_fn_with_state(
                media,
                crate::web::media::serve,
            )));
        }
        // The first layer added is the outermost: apply it last.
        for layer in layers.iter().rev() {
            without_body = layer(without_body);
            with_body = layer(with_body);
        }
        let routes = Routes {
            with_body,
            without_body,
        };
        let state = Arc::new(SiteState {
            urls: conf.clone(),
            database: prepared.database,
            services: prepared.services,
            warnings: crate::logging::Throttle::default(),
        });
        let pipeline = Pipeline::new(
            &self.settings,
            self.error_pages,
            Arc::clone(&state),
            prepared.hooks,
        )?;
        Ok(Site {
            settings: Arc::new(self.settings),
            state,
            routes,
            pipeline,
        })
    }

    /// Runs the command line: `runserver`, `serve`, `routes`, `check`...
    /// Errors are printed and end the process with a non-zero status (1 for a
    /// failed command, 2 for a usage mistake), as a CLI should.
    ///
    /// # Errors
    /// Never returns `Err` itself; the signature lets `main` use `?` around it.
    pub async fn manage(self) -> Result<()> {
        self.manage_from(std::env::args_os()).await
    }

    /// [`manage`](Self::manage) with explicit arguments (the first one is the
    /// program name).
    ///
    /// # Errors
    /// See [`manage`](Self::manage).
    pub async fn manage_from<I, T>(self, args: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        crate::manage::run(self, args).await
    }
}

/// The project's database pool, connected lazily so that the server starts
/// (and answers 503 where the database is needed) while the database is
/// down. Outside a Tokio runtime (a plain `#[test]`) there is no pool.
fn connect_database(settings: &Settings) -> Result<Option<Database>, StartupError> {
    if settings.database_url.is_empty() || tokio::runtime::Handle::try_current().is_err() {
        return Ok(None);
    }
    let options = settings
        .database
        .serving_pool_options(settings.server.request_timeout);
    Database::connect_lazy(&settings.database_url, &options)
        .map(Some)
        .map_err(|e| StartupError::improperly_configured(format!("database_url: {e}")))
}

/// A built project, ready to serve: with the built-in server
/// (`manage serve`), as a tower [`Service`](tower::Service)
/// ([`into_service`](Self::into_service)) or inside an axum application
/// ([`into_router`](Self::into_router)).
///
/// ```
/// use manouche::prelude::*;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut settings = Settings::default();
/// settings.allowed_hosts = vec!["example.com".into()];
/// let site = Project::new(settings)
///     .urls(Urls::new().path("", get(|| async { "home" }), "home"))
///     .build()
///     .unwrap();
/// // Embedded in an axum application, under /site/.
/// let app = axum::Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .nest_service("/site", site.into_service());
/// let request = http::Request::get("/site/")
///     .header("host", "example.com")
///     .body(axum::body::Body::empty())
///     .unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), StatusCode::OK);
/// # });
/// ```
#[derive(Debug)]
pub struct Site {
    settings: Arc<Settings>,
    state: Arc<SiteState>,
    routes: Routes,
    pipeline: Pipeline,
}

impl Site {
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database, when the project has one and was built inside a Tokio
    /// runtime (connections open on first use).
    pub fn database(&self) -> Option<&Database> {
        self.state.database.as_ref()
    }

    /// The URL table (for `reverse` outside requests).
    pub fn urls(&self) -> &UrlConf {
        &self.state.urls
    }

    /// The project's services, after every `ready` hook.
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The site as an axum [`Router`](axum::Router) whose every request goes
    /// through the site (merge or nest it in a bigger application).
    pub fn into_router(self) -> axum::Router {
        axum::Router::new().fallback_service(self.into_service())
    }

    /// Record Prometheus metrics for every request (see [`crate::metrics`]).
    pub(crate) fn enable_metrics(&mut self) {
        self.pipeline.enable_metrics();
    }

    /// Answer the health probes on the site's own address (see
    /// [`crate::health`]).
    pub(crate) fn serve_health(&mut self, health: Arc<crate::health::Health>) {
        self.pipeline.serve_health(health);
    }

    /// Also accept requests for `host` (used by the test client).
    pub(crate) fn allow_host(&mut self, host: &str) {
        self.pipeline.allow_host(host);
    }

    /// The routes wrapped in the middleware stack, as a tower service
    /// (test it with `tower::ServiceExt::oneshot`).
    pub fn into_service(self) -> SiteService {
        SiteService::new(self.routes, Arc::new(self.pipeline))
    }
}
