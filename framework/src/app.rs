//! Apps, the unit of a site (Django's `AppConfig`): an [`App`] owns a
//! label, its models, its migrations, its URLs, its static files, its
//! middleware, its `manage` commands, its system checks, a typed settings
//! section and a `ready` hook that registers services.
//!
//! A project installs apps with [`Project::app`](crate::Project::app); the
//! built-in ones live in [`manouche::contrib`](crate::contrib) and use only
//! the hooks below, as a third-party app crate would.
//!
//! ```
//! use manouche::prelude::*;
//! use manouche::app::AppSettings;
//! use manouche::services::Service;
//!
//! /// `[polls]` in `settings.toml`.
//! #[derive(Debug, Default, serde::Deserialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct PollsSettings {
//!     title: String,
//! }
//!
//! impl AppSettings for PollsSettings {}
//!
//! async fn index(settings: Service<PollsSettings>) -> String {
//!     format!("<h1>{}</h1>", settings.title)
//! }
//!
//! fn app() -> App {
//!     App::new("polls")
//!         .settings::<PollsSettings>()        // typed [polls] section
//!         .urls("polls/", Urls::new().path("", get(index), "index"))  // polls:index
//! }
//! # let _ = app();
//! ```
//!
//! **Where an app's migrations come from.** A library app (one shipped in
//! its own crate) embeds them:
//! `.migrations(manouche::embed_migrations!("migrations"))`, relative to its
//! `Cargo.toml`. A project's own app keeps them in `migrations/<label>/`,
//! where `manage makemigrations` writes them; `makemigrations` never writes
//! into a library app. The project's migration set is the union over the
//! installed apps, ordered by the dependencies between them.
//!
//! **Which models are an app's.** Every model compiled into the program whose
//! `#[model(app = "...")]` is the app's label; [`App::model`] names one
//! explicitly (and fails `check` when its label differs). A model of the
//! project's own crates whose app is not installed fails `manage check`,
//! and `makemigrations` never creates or drops its table.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;

use crate::checks::CheckMessage;
use crate::db::{Database, ModelMeta};
use crate::middleware::{Middleware, Views};
use crate::migrations::{DataMigrationFn, DataMigrationFunction, EmbeddedMigrations};
use crate::services::Services;
use crate::settings::Settings;
use crate::urls::Urls;
use crate::{Result, StartupError};

/// A typed settings section: `[label]` in `settings.toml`, overridable per
/// key from the environment with `MANOUCHE_<LABEL>_<KEY>` (a TOML value such
/// as `42`, `true` or `["a"]`, else taken as a string). Registered with
/// [`App::settings`]; the parsed value is a project service
/// ([`Service<T>`](crate::services::Service)).
///
/// Derive `serde::Deserialize` with `#[serde(default, deny_unknown_fields)]`
/// so that a missing key takes its default and a misspelt one stops
/// startup with its name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an app settings section",
    note = "derive `Default` and `serde::Deserialize` (with `#[serde(default, deny_unknown_fields)]`), then add `impl manouche::app::AppSettings for {Self} {{}}`"
)]
pub trait AppSettings: DeserializeOwned + Default + Send + Sync + 'static {
    /// Checks values that parse but cannot work; the message says which
    /// key and what to write instead.
    ///
    /// # Errors
    /// The explanation, shown with the section's name and the file.
    fn validate(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// A tower layer that can wrap the project's views: what [`App::layer`]
/// and [`Project::layer`](crate::Project::layer) accept (the bounds of
/// axum's `Router::layer`, over [`Views`]; implemented for every such
/// layer).
///
/// A layer wraps the routed site once, not each route: it sees every
/// request that the middleware hooks let through, before the URL is
/// matched (so axum's `MatchedPath` is not there yet), 404s included.
pub trait RouteLayer:
    tower::Layer<
        crate::middleware::Views,
        Service: tower::Service<
            axum::extract::Request,
            Response: axum::response::IntoResponse + 'static,
            Error: Into<std::convert::Infallible> + 'static,
            Future: Send + 'static,
        > + Clone
                     + Send
                     + Sync
                     + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<L> RouteLayer for L where
    L: tower::Layer<
            crate::middleware::Views,
            Service: tower::Service<
                axum::extract::Request,
                Response: axum::response::IntoResponse + 'static,
                Error: Into<std::convert::Infallible> + 'static,
                Future: Send + 'static,
            > + Clone
                         + Send
                         + Sync
                         + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Wraps a layer as the function that applies it to a router.
pub(crate) fn layer_fn<L: RouteLayer>(layer: L) -> LayerFn {
    Arc::new(move |views: Views| {
        use axum::response::IntoResponse;
        use tower::ServiceExt;
        let service = layer
            .layer(views)
            .map_response(IntoResponse::into_response)
            .map_err(Into::into);
        Views::boxed(tower::util::BoxCloneSyncService::new(service))
    })
}

type SectionReader =
    Arc<dyn Fn(&Settings, &str, &mut Services) -> Result<(), StartupError> + Send + Sync>;
type ReadyFn = Arc<dyn Fn(&mut Ready<'_>) -> Result<(), StartupError> + Send + Sync>;
type CheckFn = Arc<dyn Fn(&CheckContext<'_>) -> Vec<CheckMessage> + Send + Sync>;
type RunFn =
    Arc<dyn Fn(CommandContext) -> BoxFuture<'static, Result<(), StartupError>> + Send + Sync>;
pub(crate) type PostMigrateFn =
    Arc<dyn Fn(MigrateContext) -> BoxFuture<'static, Result<(), StartupError>> + Send + Sync>;
pub(crate) type LayerFn = Arc<dyn Fn(Views) -> Views + Send + Sync>;

/// A reusable piece of a site. See the [module docs](self).
#[must_use]
pub struct App {
    pub(crate) label: String,
    pub(crate) urls: Option<(String, Urls)>,
    pub(crate) static_dir: Option<PathBuf>,
    pub(crate) data_migrations: Vec<(String, DataMigrationFn)>,
    pub(crate) migrations: Option<EmbeddedMigrations>,
    pub(crate) models: Vec<fn() -> &'static ModelMeta>,
    pub(crate) middleware: Vec<Arc<dyn Middleware>>,
    pub(crate) layers: Vec<LayerFn>,
    pub(crate) commands: Vec<AppCommand>,
    pub(crate) checks: Vec<CheckFn>,
    pub(crate) settings: Option<SectionReader>,
    pub(crate) ready: Vec<ReadyFn>,
    pub(crate) post_migrate: Vec<PostMigrateFn>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("label", &self.label)
            .field("library", &self.migrations.is_some())
            .field("commands", &self.commands.len())
            .field("middleware", &self.middleware.len())
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app labelled `label` (`"blog"`): lowercase letters, digits and
    /// `_`, starting with a letter (checked when the project is built).
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            urls: None,
            static_dir: None,
            data_migrations: Vec::new(),
            migrations: None,
            models: Vec::new(),
            middleware: Vec::new(),
            layers: Vec::new(),
            commands: Vec::new(),
            checks: Vec::new(),
            settings: None,
            ready: Vec::new(),
            post_migrate: Vec::new(),
        }
    }

    /// The app's label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the app's migrations ship in its crate (see
    /// [`migrations`](Self::migrations)).
    #[must_use]
    pub fn is_library(&self) -> bool {
        self.migrations.is_some()
    }

    /// Names one of the app's models. Models whose `#[model(app)]` is the
    /// label belong to the app anyway; naming one makes sure its crate is
    /// linked and that `check` fails if its label is another app's.
    pub fn model<M: crate::db::Model>(mut self) -> Self {
        self.models.push(M::meta);
        self
    }

    /// Makes this a library app whose migrations are compiled into its
    /// crate: `.migrations(manouche::embed_migrations!("migrations"))`, with
    /// the files in `migrations/<label>/` beside its `Cargo.toml`. A
    /// project's own app leaves this out: its migrations are read from the
    /// project's `migrations/<label>/`.
    pub fn migrations(mut self, embedded: EmbeddedMigrations) -> Self {
        self.migrations = Some(embedded);
        self
    }

    /// The app's static folder, searched after the project's own (e.g.
    /// `concat!(env!("CARGO_MANIFEST_DIR"), "/static")`).
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }

    /// Mounts the app's URLs under `prefix` (`"blog/"`). Their namespace is
    /// the app's label unless the list has one
    /// ([`Urls::namespaced`](crate::urls::Urls::namespaced)).
    pub fn urls(mut self, prefix: &str, urls: Urls) -> Self {
        self.urls = Some((prefix.to_owned(), urls));
        self
    }

    /// Adds a middleware hook to the project's stack (see
    /// [`middleware`](crate::middleware) for the order).
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Adds any tower layer around the project's routes (inside the
    /// middleware hooks; see [`middleware`](crate::middleware)).
    pub fn layer<L: RouteLayer>(mut self, layer: L) -> Self {
        self.layers.push(layer_fn(layer));
        self
    }

    /// Adds a `manage` command: `cli` is its clap definition (its name is
    /// the command's), `run` gets the parsed arguments and the project's
    /// settings, services and database. `manage help` lists it under the
    /// app's label.
    ///
    /// ```
    /// use manouche::prelude::*;
    /// use manouche::app::CommandContext;
    ///
    /// async fn close_polls(ctx: CommandContext) -> Result<()> {
    ///     let days: u32 = *ctx.matches().get_one("days").expect("has a default");
    ///     println!("closing polls older than {days} days");
    ///     Ok(())
    /// }
    ///
    /// let app = App::new("polls").command(
    ///     clap::Command::new("closepolls")
    ///         .about("Close old polls")
    ///         .arg(clap::arg!(--days <DAYS> "age in days")
    ///             .value_parser(clap::value_parser!(u32))
    ///             .default_value("30")),
    ///     close_polls,
    /// );
    /// ```
    pub fn command<F, Fut, E>(mut self, cli: clap::Command, run: F) -> Self
    where
        F: Fn(CommandContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<StartupError> + 'static,
    {
        let run = Arc::new(run);
        self.commands.push(AppCommand {
            app: self.label.clone(),
            cli,
            run: Arc::new(move |ctx| {
                let fut = run(ctx);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }),
        });
        self
    }

    /// Adds a hook that runs after migrations were applied (Django's
    /// `post_migrate` signal): by `manage migrate`, by `runserver`'s
    /// migrations in debug, and by [`Project::migrate`](crate::Project::migrate).
    /// It runs every time, also when nothing was pending, so it must be
    /// idempotent (the auth app creates missing permissions here).
    pub fn post_migrate<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(MigrateContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<StartupError> + 'static,
    {
        let hook = Arc::new(hook);
        self.post_migrate.push(Arc::new(move |ctx| {
            let fut = hook(ctx);
            Box::pin(async move { fut.await.map_err(Into::into) })
        }));
        self
    }

    /// Adds a system check, run by `manage check` (and before `serve`):
    /// return the problems found.
    pub fn check<F>(mut self, check: F) -> Self
    where
        F: Fn(&CheckContext<'_>) -> Vec<CheckMessage> + Send + Sync + 'static,
    {
        self.checks.push(Arc::new(check));
        self
    }

    /// Reads the `[label]` settings section as `T` (see [`AppSettings`])
    /// when the project is built, and registers the value as a service. A
    /// misspelt key or a bad value stops startup with the key, the section
    /// and the file.
    pub fn settings<T: AppSettings>(mut self) -> Self {
        self.settings = Some(Arc::new(|settings, label, services| {
            let section: T = settings.read_section(label)?;
            section
                .validate()
                .map_err(|message| crate::settings::SettingsError::Section {
                    path: settings.source().map(Into::into),
                    section: label.to_owned(),
                    message,
                })?;
            services.insert(section);
            Ok(())
        }));
        self
    }

    /// Runs `hook` when the project is built, after the settings sections
    /// are read and before requests are served: register services, or add
    /// middleware that depends on the settings.
    pub fn ready<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Ready<'_>) -> Result<(), StartupError> + Send + Sync + 'static,
    {
        self.ready.push(Arc::new(hook));
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
    ///     .data_migration("fill_slugs", fill_slugs)
    ///     .data_migration("clear_slugs", clear_slugs);
    /// ```
    pub fn data_migration<F>(mut self, name: impl Into<String>, function: F) -> Self
    where
        F: for<'a> DataMigrationFunction<'a> + Send + Sync + 'static,
    {
        self.data_migrations
            .push((name.into(), DataMigrationFn::new(function)));
        self
    }

    /// What other apps' hooks may know about this one.
    pub(crate) fn info(&self) -> AppInfo {
        AppInfo {
            label: self.label.clone(),
            static_dir: self.static_dir.clone(),
            library: self.is_library(),
        }
    }
}

/// What an app's hooks can know about the installed apps.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AppInfo {
    /// The label.
    pub label: String,
    /// Its static folder, if any.
    pub static_dir: Option<PathBuf>,
    /// Whether its migrations ship in its crate.
    pub library: bool,
}

/// Why the project is being prepared: to serve requests (the server, the
/// test client, [`Site`](crate::project::Site)) or to run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// Requests will be served.
    Serve,
    /// A `manage` command runs; nothing is served.
    Command,
}

/// What an app's [`ready`](App::ready) hook works with.
pub struct Ready<'a> {
    pub(crate) label: &'a str,
    pub(crate) settings: &'a Settings,
    pub(crate) services: &'a mut Services,
    pub(crate) apps: &'a [AppInfo],
    pub(crate) middleware: &'a mut Vec<Arc<dyn Middleware>>,
    pub(crate) layers: &'a mut Vec<LayerFn>,
    pub(crate) purpose: Purpose,
}

impl fmt::Debug for Ready<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ready")
            .field("label", &self.label)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl Ready<'_> {
    /// The label of the app whose hook runs.
    #[must_use]
    pub fn label(&self) -> &str {
        self.label
    }

    /// The project's settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        self.settings
    }

    /// The services registered so far (by earlier apps, and the database).
    #[must_use]
    pub fn services(&self) -> &Services {
        self.services
    }

    /// Registers services.
    pub fn services_mut(&mut self) -> &mut Services {
        self.services
    }

    /// The project's database, when it has one.
    #[must_use]
    pub fn database(&self) -> Option<Database> {
        self.services.get_ref::<Database>().cloned()
    }

    /// Every installed app, in order.
    #[must_use]
    pub fn apps(&self) -> &[AppInfo] {
        self.apps
    }

    /// Adds a middleware hook, after the app's own (for middleware that
    /// depends on the settings or services).
    pub fn add_middleware(&mut self, middleware: impl Middleware) {
        self.middleware.push(Arc::new(middleware));
    }

    /// Adds a tower layer around the routes, after the app's own (for a
    /// layer built from the settings or services, such as a session store).
    pub fn add_layer<L: RouteLayer>(&mut self, layer: L) {
        self.layers.push(layer_fn(layer));
    }

    /// Why the project is prepared: serving, or running a command (when
    /// nothing needs to be ready to answer requests).
    #[must_use]
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
}

/// What a [system check](App::check) looks at.
#[derive(Debug)]
#[non_exhaustive]
pub struct CheckContext<'a> {
    /// The project's settings.
    pub settings: &'a Settings,
    /// The project's services, after every `ready` hook.
    pub services: &'a Services,
    /// Every installed app, in order.
    pub apps: &'a [AppInfo],
    /// Whether `check --deploy` (or `serve`) asked for the production checks.
    pub deploy: bool,
}

/// An app's `manage` command.
#[derive(Clone)]
pub(crate) struct AppCommand {
    pub(crate) app: String,
    pub(crate) cli: clap::Command,
    pub(crate) run: RunFn,
}

impl fmt::Debug for AppCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppCommand")
            .field("app", &self.app)
            .field("name", &self.cli.get_name())
            .finish_non_exhaustive()
    }
}

/// What a [`post_migrate`](App::post_migrate) hook works with.
#[derive(Debug, Clone)]
pub struct MigrateContext {
    pub(crate) database: Database,
    pub(crate) models: Arc<Vec<(String, Vec<&'static ModelMeta>)>>,
    pub(crate) settings: Arc<Settings>,
}

impl MigrateContext {
    /// The migrated database.
    #[must_use]
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Every installed app's label with its models, in the order the apps
    /// were added.
    #[must_use]
    pub fn installed_models(&self) -> &[(String, Vec<&'static ModelMeta>)] {
        &self.models
    }

    /// The project's settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// What an app's `manage` command gets: its parsed arguments and the
/// prepared project.
#[derive(Debug)]
pub struct CommandContext {
    pub(crate) matches: clap::ArgMatches,
    pub(crate) settings: Arc<Settings>,
    pub(crate) services: Services,
}

impl CommandContext {
    /// The parsed arguments.
    #[must_use]
    pub fn matches(&self) -> &clap::ArgMatches {
        &self.matches
    }

    /// The project's settings.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The project's services, after every `ready` hook.
    #[must_use]
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// A service, or an error naming it.
    ///
    /// # Errors
    /// When no app registered a `T`.
    pub fn service<T: Send + Sync + 'static>(&self) -> Result<Arc<T>, StartupError> {
        self.services.get::<T>().ok_or_else(|| {
            StartupError::improperly_configured(format!(
                "no service of type {} is registered",
                std::any::type_name::<T>()
            ))
        })
    }

    /// The project's database.
    ///
    /// # Errors
    /// When the project has none (an empty `database_url`).
    pub fn database(&self) -> Result<Database, StartupError> {
        self.services.get_ref::<Database>().cloned().ok_or_else(|| {
            StartupError::improperly_configured(
                "this command needs a database: set DATABASE_URL or `database_url`",
            )
        })
    }
}

/// Whether `label` can be an app label: lowercase ASCII letters, digits
/// and `_`, starting with a letter.
pub(crate) fn valid_label(label: &str) -> bool {
    let mut chars = label.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lowercase_identifiers() {
        for good in ["blog", "polls2", "my_app"] {
            assert!(valid_label(good), "{good}");
        }
        for bad in ["", "Blog", "2fast", "my-app", "a:b", "_x"] {
            assert!(!valid_label(bad), "{bad}");
        }
    }
}
