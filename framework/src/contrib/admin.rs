//! The generated admin (`django.contrib.admin`): the models a project
//! registers get a list page with search, filters, sortable columns and
//! pages, and add, change and delete pages built from the model, behind
//! the staff login and each model's permissions.
//!
//! ```no_run
//! use manouche::contrib::admin::{AdminSite, ModelAdmin};
//! use manouche::db::{Auto, Model};
//! use manouche::prelude::*;
//!
//! #[derive(Debug, Default, Model)]
//! #[model(app = "blog")]
//! pub struct Article {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 200)]
//!     pub title: String,
//!     pub published: bool,
//! }
//!
//! # async fn run() -> manouche::Result<()> {
//! let admin = AdminSite::new().register(
//!     ModelAdmin::<Article>::new()
//!         .list_display(&["title", "published"])
//!         .search_fields(&["title"])
//!         .list_filter(&["published"]),
//! );
//! Project::from_settings("settings.toml")?
//!     .app(manouche::contrib::sessions::app())
//!     .app(manouche::contrib::auth::app())
//!     .app(admin.app())
//!     .manage()
//!     .await
//! # }
//! ```
//!
//! # Pages (namespace `admin`, under `/admin/`)
//!
//! The paths below are those of the site [`AdminSite::new`] builds; a
//! site made with [`AdminSite::named`] has its name as namespace and is
//! mounted under its name or the path given to [`AdminSite::at`].
//!
//! | page | URL | who |
//! |---|---|---|
//! | index | `/admin/` | active staff members; lists the models they may view or change |
//! | list | `/admin/<app>/<model>/` | the `view` or `change` permission |
//! | add | `/admin/<app>/<model>/add/` | the `add` permission |
//! | change | `/admin/<app>/<model>/<pk>/change/` | `change` (or `view`: read only) |
//! | delete | `/admin/<app>/<model>/<pk>/delete/` | the `delete` permission |
//! | history | `/admin/<app>/<model>/<pk>/history/` | as the change page (`view` or `change`) |
//! | login | `/admin/login/` | anyone; lets in active staff members only |
//! | logout | `/admin/logout/` (`POST` only) | anyone |
//! | password change | `/admin/password_change/`, `password_change/done/` | active staff members |
//!
//! An anonymous visitor is sent to the admin's login page with `?next=`;
//! a user who is not active staff, or lacks the permission, gets 403.
//! Superusers have every permission. Every form carries the CSRF token and
//! every `POST` is checked by the CSRF middleware. The login, logout and
//! password change pages are the auth app's machinery (throttled logins, a
//! new session key on login, `next` kept only when it stays on the site,
//! the session kept through a password change) drawn with the admin's
//! look; a user with the right password who is not active staff gets
//! Django's "Please enter the correct username and password for a staff
//! account" and is not logged in.
//!
//! # Looks and templates
//!
//! [`AdminSite::site_header`] and [`AdminSite::site_title`] name the site,
//! [`AdminSite::stylesheet`] adds the project's CSS after the admin's own
//! (which follows the system's dark mode), and any page can be drawn by
//! the project's own askama template: the [`pages`] are public data for
//! [`Project::override_template`](crate::Project::override_template).
//!
//! # History
//!
//! Every addition, change and deletion made in the admin writes a
//! [`LogEntry`] (Django's `django_admin_log` table): when, who, the
//! object's app label, model name, key and title, the [`ActionFlag`], and
//! what changed in Django's JSON form (`[{"changed": {"fields":
//! ["Title"]}}]`, read as "Changed Title."). Each change page links to the
//! object's history, newest first; the index shows the member's last ten
//! actions ("Recent actions"), linked to the objects still there. Where
//! Django points at a `ContentType` row, an entry names its model by app
//! label and model name, as permissions do: Manouche has no content types.
//!
//! # The list page's query string
//!
//! Only names the [`ModelAdmin`] allows reach the query, and values are
//! bound: `q` (the search, each word in any search field), `o` (sort: the
//! 1-based `list_display` columns, `-` for descending, joined by `.`, as
//! Django's `?o=2.-1`), `p` (the page), and one parameter per
//! `list_filter` field (`?published=true`). Anything else gets 400 rather
//! than being ignored, so that a mistyped filter never shows every row.
//!
//! # Big tables
//!
//! Django's list counts every matching row and pages with `OFFSET`, so a
//! list of a million rows is slow on every page and slower deep in. Here,
//! once the database's own statistics
//! ([`Database::estimated_rows`](crate::db::Database::estimated_rows):
//! PostgreSQL's `reltuples`, SQLite's `sqlite_stat1` after `ANALYZE`) put
//! the table past 100,000 rows:
//!
//! - unfiltered, the count is that estimate, shown as "about 1,000,000";
//! - filtered or searched, the count stops after five pages ("more than
//!   250 of about 1,000,000"), as a search that reads the table row by row
//!   would cost a full read to count;
//! - numbered pages reach 10,000 rows deep, and the last of them links on
//!   by keyset cursor (`?cursor=`), which costs the same at any depth;
//! - a search for words anywhere in a field says that it reads every row,
//!   and that `^` (starts with) and `=` (exact) fields can use an index.
//!
//! `bench admin-latency` times it on a million rows (see `BENCHMARKS.md`).
//!
//! # Delete confirmation
//!
//! The confirmation page shows what the delete will remove, per model,
//! cascades and many-to-many links included: the delete is run inside a
//! transaction that is rolled back, so the counts are the database's own
//! and follow every `on_delete` rule.

mod accounts;
mod actions;
mod bad_query;
mod change_form;
mod changelist;
mod history;
mod inlines;
mod list_page;
mod options;
mod render;
mod request;
mod views;

use std::sync::Arc;

/// The admin's pages as data, for a project that draws one with its own
/// askama template instead of the admin's
/// ([`Project::override_template`](crate::Project::override_template),
/// Django's `templates/admin/...` overrides). Every page carries the
/// [`SiteInfo`] its layout needs.
///
/// ```
/// use manouche::contrib::admin::pages::IndexPage;
/// use manouche::prelude::*;
///
/// #[derive(Template)]
/// #[template(
///     source = "<h1>{{ page.site.header }}</h1>{% for (app, models) in page.apps %}\
///               <h2>{{ app }}</h2>{% for (name, url, _) in models %}<a href=\"{{ url }}\">{{ name }}</a>{% endfor %}\
///               {% endfor %}",
///     ext = "html"
/// )]
/// struct MyIndex<'a> {
///     page: &'a IndexPage,
/// }
///
/// # fn project(project: Project) -> Project {
/// project.override_template(|page: &IndexPage| MyIndex { page }.render())
/// # }
/// ```
pub mod pages {
    pub use super::SiteInfo;
    pub use super::accounts::{
        AdminLoggedOutPage, AdminLoginPage, AdminPasswordChangeDonePage, AdminPasswordChangePage,
    };
    pub use super::history::{HistoryPage, HistoryRow, RecentAction};
    pub use super::list_page::{Links, ListColumn, ListFilter, ListPage};
    pub use super::views::{ChangeFormPage, ChangeListPage, DeletePage, IndexEntry, IndexPage};
}

pub use actions::Action;
pub use history::{ActionFlag, LogEntry};
pub use inlines::TabularInline;
pub use manouche_macros::Admin;
pub use options::ModelAdmin;
pub(crate) use options::Registered;

use crate::App;
use crate::app::CheckContext;
use crate::checks::CheckMessage;
use crate::db::{Model, ModelMeta};
use crate::embed_migrations;

/// A model's admin options, declared next to it with `#[derive(Admin)]`
/// and `#[admin(...)]` (the names are [`ModelAdmin`]'s builder methods;
/// every field name is checked when the crate compiles):
///
/// ```no_run
/// use manouche::contrib::admin::{Admin, AdminSite};
/// use manouche::db::{Auto, DateTime, Model};
///
/// #[derive(Debug, Default, Model, Admin)]
/// #[model(app = "blog")]
/// #[admin(
///     list_display = ["title", "published", "created"],
///     search_fields = ["title"],
///     list_filter = ["published"],
///     date_hierarchy = "created",
///     per_page = 50,
///     title = article_title,
/// )]
/// pub struct Article {
///     pub id: Auto<i64>,
///     #[model(max_length = 200)]
///     pub title: String,
///     pub published: bool,
///     pub created: DateTime,
/// }
///
/// fn article_title(a: &Article) -> String {
///     a.title.clone()
/// }
///
/// let site = AdminSite::new().register_model::<Article>();
/// ```
///
/// The options: `list_display`, `list_display_links`, `computed = [(name,
/// header, function)]`, `search_fields`, `list_filter`, `date_hierarchy`,
/// `ordering`, `fields`, `exclude`, `fieldsets = [(title, [fields])]`,
/// `readonly`, `autocomplete_fields`, `per_page`, `max_show_all`, `title = function`, `actions =
/// [function returning an Action]`, `delete_selected = false`, `inlines =
/// [ChildModel]`.
pub trait Admin: Model {
    /// The options.
    fn admin() -> ModelAdmin<Self>;
}

/// The admin site: the registered models, where the site is mounted and
/// how it looks. Build it, then install [`app`](Self::app).
///
/// A project can mount several sites (Django's `AdminSite(name=...)`),
/// each with its own models, look and URLs:
///
/// ```no_run
/// # use manouche::contrib::admin::AdminSite;
/// # use manouche::prelude::*;
/// # fn sites(project: Project) -> Project {
/// project
///     .app(AdminSite::new().app()) // `/admin/`, namespace `admin`
///     .app(
///         AdminSite::named("editors")
///             .at("newsroom/")
///             .site_header("Newsroom")
///             .stylesheet("/static/newsroom/admin.css")
///             .app(), // `/newsroom/`, namespace `editors`
///     )
/// # }
/// ```
///
/// A site's name is its app label and its URL namespace
/// (`editors:index`). The history of every site is kept in one table,
/// [`LogEntry`], whose model and migration the site named `admin` (the
/// one [`new`](Self::new) builds) installs; any other site needs it
/// installed too (`admin.E005`).
#[derive(Clone)]
pub struct AdminSite {
    name: String,
    prefix: Option<String>,
    header: String,
    title: String,
    stylesheets: Vec<String>,
    models: Vec<Arc<dyn Registered>>,
    /// The site's links, reversed on its first page: a site serves one
    /// project, whose URLs do not change while it runs.
    info: std::sync::OnceLock<SiteInfo>,
}

impl std::fmt::Debug for AdminSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSite")
            .field("name", &self.name)
            .field("header", &self.header)
            .field(
                "models",
                &self
                    .models
                    .iter()
                    .map(|m| m.meta().name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for AdminSite {
    fn default() -> Self {
        Self::new()
    }
}

/// The site named `admin`, which keeps the history table.
const DEFAULT_NAME: &str = "admin";

impl AdminSite {
    /// The site named `admin` (mounted at `/admin/`), with no model yet,
    /// titled "Site administration".
    #[must_use]
    pub fn new() -> Self {
        Self::named(DEFAULT_NAME)
    }

    /// A site named `name`: its app label and URL namespace, and the
    /// path it is mounted at (`name/`) unless [`at`](Self::at) says
    /// otherwise.
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            prefix: None,
            header: "Site administration".to_owned(),
            title: "Site administration".to_owned(),
            stylesheets: Vec::new(),
            models: Vec::new(),
            info: std::sync::OnceLock::new(),
        }
    }

    /// Mounts the site at `prefix` (`"backoffice/"`) instead of its name.
    #[must_use]
    pub fn at(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The title shown at the top of every admin page (Django's
    /// `site_header`).
    #[must_use]
    pub fn site_header(mut self, header: impl Into<String>) -> Self {
        self.header = header.into();
        self
    }

    /// What ends every page's title in the browser's tab (Django's
    /// `site_title`).
    #[must_use]
    pub fn site_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// A stylesheet every page links after the admin's own style, so
    /// its rules win: the project's colours, fonts or layout. The URL is
    /// used as it is (`/static/site/admin.css`, or
    /// [`static_url`](crate::templates::static_url)'s answer).
    #[must_use]
    pub fn stylesheet(mut self, url: impl Into<String>) -> Self {
        self.stylesheets.push(url.into());
        self
    }

    /// The site's name: its app label and URL namespace.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers a model with its options. A model registered twice, or
    /// an option naming no field of the model, is reported by `manage
    /// check` and stops the project from starting.
    #[must_use]
    pub fn register<M: Model + Default>(mut self, admin: ModelAdmin<M>) -> Self {
        self.models.push(Arc::new(admin));
        self
    }

    /// Registers a model with the options of its `#[derive(Admin)]`.
    #[must_use]
    pub fn register_model<M: Admin + Default>(self) -> Self {
        self.register(M::admin())
    }

    /// The URL of the site's page `route` (`"index"`, `"changelist"`,
    /// ...), reversed in the site's namespace.
    pub(crate) fn url(&self, route: &str, args: &[&dyn std::fmt::Display]) -> String {
        let name = format!("{}:{route}", self.name);
        crate::urls::reverse(&name, args).unwrap_or_else(|e| {
            tracing::error!("the admin site {} cannot reverse {name}: {e}", self.name);
            String::new()
        })
    }

    /// What every page shows of the site.
    pub(crate) fn info(&self) -> &SiteInfo {
        self.info.get_or_init(|| SiteInfo {
            header: self.header.clone(),
            title: self.title.clone(),
            index_url: self.url("index", &[]),
            password_change_url: self.url("password_change", &[]),
            logout_url: self.url("logout", &[]),
            login_url: self.url("login", &[]),
            stylesheets: self.stylesheets.clone(),
        })
    }

    /// The site's index: the root of its URLs.
    pub(crate) fn root(&self) -> &str {
        &self.info().index_url
    }

    /// A model's list page.
    pub(crate) fn list_url(&self, meta: &ModelMeta) -> String {
        format!("{}{}/{}/", self.root(), meta.app, meta.model_name())
    }

    /// An object's change page.
    pub(crate) fn change_url(&self, meta: &ModelMeta, pk: &str) -> String {
        format!("{}{pk}/change/", self.list_url(meta))
    }

    /// The admin of the model `meta` (a relation's target), when it is
    /// registered.
    pub(crate) fn admin_of(&self, meta: &ModelMeta) -> Option<&Arc<dyn Registered>> {
        self.models.iter().find(|m| m.meta().table == meta.table)
    }

    /// The registered model `app_label.model_name` (lowercase, as in URLs).
    pub(crate) fn model(&self, app: &str, model: &str) -> Option<&Arc<dyn Registered>> {
        self.models
            .iter()
            .find(|m| m.meta().app == app && m.meta().model_name() == model)
    }

    /// The app to install: its pages under its name (`admin/`) or the
    /// path given to [`at`](Self::at). Install it after the sessions and
    /// auth apps.
    pub fn app(self) -> App {
        let prefix = self
            .prefix
            .clone()
            .unwrap_or_else(|| format!("{}/", self.name));
        let keeps_history = self.name == DEFAULT_NAME;
        let site = Arc::new(self);
        let checked = Arc::clone(&site);
        let app = App::new(site.name.clone())
            .urls(&prefix, views::urls(&site))
            .check(move |context: &CheckContext<'_>| checks(&checked, context));
        if keeps_history {
            app.model::<LogEntry>()
                .migrations(embed_migrations!("src/contrib/admin/migrations"))
        } else {
            app
        }
    }
}

/// What every admin page shows of its site, for the page's template (and
/// a project's own, see [`pages`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SiteInfo {
    /// The title at the top of the page (`site_header`).
    pub header: String,
    /// What ends the title in the browser's tab (`site_title`).
    pub title: String,
    /// The site's index, and its account pages.
    pub index_url: String,
    /// The password change page.
    pub password_change_url: String,
    /// Where the logout form posts.
    pub logout_url: String,
    /// The login page.
    pub login_url: String,
    /// The project's stylesheets, linked after the admin's own style.
    pub stylesheets: Vec<String>,
}

/// `admin.E005`: a site other than `admin` without the `admin` site, which
/// keeps the history; `admin.E001`: the auth app is missing; `admin.E002`: an option names
/// no field; `admin.E003`: a model is registered twice; `admin.E040`: an
/// autocomplete field's model is not in the admin with a search.
fn checks(site: &AdminSite, context: &CheckContext<'_>) -> Vec<CheckMessage> {
    let mut out = Vec::new();
    if site.name != DEFAULT_NAME && !context.apps.iter().any(|a| a.label == DEFAULT_NAME) {
        out.push(CheckMessage::error(
            "admin.E005",
            format!(
                "the admin site {} keeps its history in the log of the site named `admin`, which is not installed",
                site.name
            ),
            "install AdminSite::new().app() as well, or name this site `admin` and mount it elsewhere with .at(\"...\")",
        ));
    }
    if !context.apps.iter().any(|a| a.label == "auth") {
        out.push(CheckMessage::error(
            "admin.E001",
            "the admin logs staff members in with the auth app, which is not installed",
            "add .app(manouche::contrib::sessions::app()) and .app(manouche::contrib::auth::app()) before the admin",
        ));
    }
    for (i, model) in site.models.iter().enumerate() {
        for problem in model.problems() {
            out.push(CheckMessage::error(
                "admin.E002",
                format!("the admin of {}: {problem}", model.meta().name),
                "name fields of the model in the ModelAdmin options",
            ));
        }
        let meta = model.meta();
        for field in model.autocomplete_fields() {
            let Some(target) = model.autocomplete_target(field) else {
                continue;
            };
            let searchable = site.admin_of(target).map(|m| m.searchable());
            if searchable != Some(true) {
                out.push(CheckMessage::error(
                    "admin.E040",
                    format!(
                        "the admin of {} searches {} for `{field}`, which {}",
                        meta.name,
                        target.name,
                        if searchable.is_none() {
                            "is not registered in the admin"
                        } else {
                            "has no search_fields in the admin"
                        }
                    ),
                    "register the related model with search_fields",
                ));
            }
        }
        if site.models[..i]
            .iter()
            .any(|m| m.meta().app == meta.app && m.meta().name == meta.name)
        {
            out.push(CheckMessage::error(
                "admin.E003",
                format!(
                    "{}.{} is registered in the admin twice",
                    meta.app, meta.name
                ),
                "register each model once",
            ));
        }
    }
    out
}
