//! The [`Project`] builder: settings, apps and the URL tree, and the entry
//! point to the `manage` command line.
//!
//! ```no_run
//! use manouche::prelude::*;
//!
//! async fn home() -> &'static str { "Hello" }
//!
//! #[tokio::main]
//! async fn main() -> manouche::Result<()> {
//!     Project::from_settings("settings.toml")?
//!         .urls(Urls::new().path("", get(home), "home"))
//!         .manage()   // runserver | serve | routes | check
//!         .await
//! }
//! ```

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use futures_util::future::BoxFuture;
use http::StatusCode;

use crate::db::{Database, Transaction};
use crate::error_pages::{ErrorContext, ErrorPages};
use crate::middleware::{Framework, Pipeline, Routes};
use crate::migrations::{
    DataMigrationFn, DataMigrationResult, DataMigrations, EmbeddedMigrations, MigrationSet,
    migrations_dir,
};
use crate::request::ProjectState;
use crate::settings::Settings;
use crate::urls::{UrlConf, UrlErrors, Urls};
use crate::{Error, Result};

/// A reusable piece of a site (Django's "app"): a label, the URLs it
/// mounts, its static files and its data migration functions. Later:
/// admin registrations.
#[derive(Debug)]
#[must_use]
pub struct App {
    label: String,
    urls: Option<(String, Urls)>,
    static_dir: Option<PathBuf>,
    data_migrations: Vec<(String, DataMigrationFn)>,
}

impl App {
    /// An app named `label` (`"blog"`).
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            urls: None,
            static_dir: None,
            data_migrations: Vec::new(),
        }
    }

    /// The app's static folder, searched after the project's own (e.g.
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/static")`).
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }

    /// Mounts the app's URLs under `prefix` (`"blog/"`) in the project.
    pub fn urls(mut self, prefix: &str, urls: Urls) -> Self {
        self.urls = Some((prefix.to_owned(), urls));
        self
    }

    /// Registers a data migration function as `name`, for the `run_rust`
    /// operations of this app's migrations
    /// (`{"op": "run_rust", "function": "fill_slugs", "reverse": "clear_slugs"}`);
    /// a reverse function is registered the same way, under its own name.
    /// See [`migrations::data`](crate::migrations::data).
    ///
    /// ```
    /// use manouche::App;
    /// use manouche::db::{Executor, Statement, Transaction};
    /// use manouche::migrations::DataMigrationResult;
    ///
    /// async fn fill_slugs(tx: &Transaction) -> DataMigrationResult {
    ///     tx.execute(Statement::raw("UPDATE blog_article SET slug = lower(title)")).await?;
    ///     Ok(())
    /// }
    ///
    /// async fn clear_slugs(tx: &Transaction) -> DataMigrationResult {
    ///     tx.execute(Statement::raw("UPDATE blog_article SET slug = ''")).await?;
    ///     Ok(())
    /// }
    ///
    /// let app = App::new("blog")
    ///     .data_migration("fill_slugs", |tx| Box::pin(fill_slugs(tx)))
    ///     .data_migration("clear_slugs", |tx| Box::pin(clear_slugs(tx)));
    /// ```
    pub fn data_migration<F>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: for<'a> Fn(&'a Transaction) -> BoxFuture<'a, DataMigrationResult>
            + Send
            + Sync
            + 'static,
    {
        self.data_migrations
            .push((name.into(), DataMigrationFn::new(function)));
        self
    }

    /// The app's label.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// A site: settings, apps, URLs and error pages.
#[derive(Debug)]
#[must_use]
pub struct Project {
    settings: Settings,
    urls: Urls,
    apps: Vec<App>,
    error_pages: ErrorPages,
    migrations: EmbeddedMigrations,
}

impl Project {
    /// Settings from `path` (or the file named by `MANOUCHE_SETTINGS`), with
    /// the environment applied on top.
    ///
    /// # Errors
    /// When the file cannot be read or a setting is invalid; the message
    /// names the file or variable.
    pub fn from_settings(path: impl AsRef<std::path::Path>) -> Result<Self> {
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
        }
    }

    /// The root URL list (Django's `ROOT_URLCONF`). Apps' URLs are mounted
    /// after these.
    pub fn urls(mut self, urls: Urls) -> Self {
        self.urls = urls;
        self
    }

    /// Adds an app.
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

    /// The migration files compiled into the binary
    /// (`.migrations(manouche::embed_migrations!("../migrations"))`), used when
    /// the migrations folder is not there at run time.
    pub fn migrations(mut self, embedded: EmbeddedMigrations) -> Self {
        self.migrations = embedded;
        self
    }

    /// The project's migrations: the folder on disk when it exists,
    /// otherwise the embedded files.
    ///
    /// # Errors
    /// A malformed or misplaced file, or a broken dependency graph.
    pub fn migration_set(&self) -> Result<MigrationSet> {
        let dir = migrations_dir();
        let set = if dir.is_dir() || self.migrations.is_empty() {
            MigrationSet::load(&dir)?
        } else {
            MigrationSet::from_embedded(&self.migrations)?
        };
        Ok(set)
    }

    /// The data migration functions of every app, for
    /// [`executor::migrate_with`](crate::migrations::executor::migrate_with).
    ///
    /// # Errors
    /// An app that registers two functions under one name.
    pub fn data_migrations(&self) -> Result<DataMigrations> {
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

    /// Checks the URL tree and settings and builds the service to serve.
    ///
    /// # Errors
    /// Every URL mistake at once, or a setting that cannot be used.
    pub fn build(self) -> Result<Site> {
        self.settings.validate()?;
        let mut labels: Vec<&str> = Vec::new();
        for app in &self.apps {
            if labels.contains(&app.label()) {
                return Err(Error::improperly_configured(format!(
                    "app {:?} is added twice",
                    app.label()
                )));
            }
            labels.push(app.label());
        }
        let finder = self.static_finder();
        let mut urls = self.urls;
        for app in self.apps {
            if let Some((prefix, app_urls)) = app.urls {
                urls = urls.include(&prefix, app_urls);
            }
        }
        let compiled = urls
            .compile()
            .map_err(|errors: UrlErrors| Error::improperly_configured(errors.to_string()))?;
        let conf = compiled.conf;
        crate::urls::set_global(&conf);
        let routes = Routes {
            with_body: compiled.router.clone().layer(DefaultBodyLimit::disable()),
            without_body: compiled.router,
        };
        let statics = crate::static_files::setup(&self.settings, finder)?;
        let database = connect_database(&self.settings)?;
        let project = Arc::new(ProjectState {
            urls: conf.clone(),
            database: database.clone(),
        });
        let pipeline = Pipeline::new(&self.settings, self.error_pages, project, statics)?;
        Ok(Site {
            settings: Arc::new(self.settings),
            database,
            routes,
            pipeline,
            conf,
        })
    }

    /// Where static files are looked for: the project's folders, then the
    /// apps'.
    pub(crate) fn static_finder(&self) -> crate::static_files::Finder {
        let app_dirs: Vec<PathBuf> = self
            .apps
            .iter()
            .filter_map(|a| a.static_dir.clone())
            .collect();
        crate::static_files::finder(&self.settings, &app_dirs)
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
fn connect_database(settings: &Settings) -> Result<Option<Database>> {
    if settings.database_url.is_empty() || tokio::runtime::Handle::try_current().is_err() {
        return Ok(None);
    }
    Database::connect_lazy(&settings.database_url, &settings.database.pool_options())
        .map(Some)
        .map_err(|e| Error::improperly_configured(format!("database_url: {e}")))
}

/// A built project, ready to serve.
#[derive(Debug)]
pub struct Site {
    settings: Arc<Settings>,
    database: Option<Database>,
    routes: Routes,
    pipeline: Pipeline,
    conf: UrlConf,
}

impl Site {
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database, when the project has one and was built inside a Tokio
    /// runtime (connections open on first use).
    pub fn database(&self) -> Option<&Database> {
        self.database.as_ref()
    }

    /// The URL table.
    pub fn urls(&self) -> &UrlConf {
        &self.conf
    }

    /// Record Prometheus metrics for every request (see [`crate::metrics`]).
    pub(crate) fn enable_metrics(&mut self) {
        self.pipeline.enable_metrics();
    }

    /// Also accept requests for `host` (used by the test client).
    pub(crate) fn allow_host(&mut self, host: &str) {
        self.pipeline.allow_host(host);
    }

    /// The router wrapped in the framework's pipeline.
    pub(crate) fn into_service(self) -> (Framework, Arc<Settings>) {
        (
            Framework::new(self.routes, Arc::new(self.pipeline)),
            self.settings,
        )
    }
}
