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

pub use actions::Action;
pub use history::{ActionFlag, LogEntry};
pub use inlines::TabularInline;
pub use manouche_macros::Admin;
pub use options::ModelAdmin;
pub(crate) use options::Registered;

use crate::App;
use crate::app::{CheckContext, Ready};
use crate::checks::CheckMessage;
use crate::db::{Model, ModelMeta};
use crate::{StartupError, embed_migrations};

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

/// The admin site: the registered models and the site's title. Build it,
/// then install [`app`](Self::app).
#[derive(Clone)]
pub struct AdminSite {
    header: String,
    models: Vec<Arc<dyn Registered>>,
}

impl std::fmt::Debug for AdminSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSite")
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

impl AdminSite {
    /// A site with no model yet, titled "Site administration".
    #[must_use]
    pub fn new() -> Self {
        Self {
            header: "Site administration".to_owned(),
            models: Vec::new(),
        }
    }

    /// The title shown at the top of every admin page (Django's
    /// `site_header`).
    #[must_use]
    pub fn site_header(mut self, header: impl Into<String>) -> Self {
        self.header = header.into();
        self
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

    /// The app to install: its pages under `admin/`. Install it after the
    /// sessions and auth apps.
    pub fn app(self) -> App {
        let site = Arc::new(self);
        let checked = Arc::clone(&site);
        App::new("admin")
            .model::<LogEntry>()
            .migrations(embed_migrations!("src/contrib/admin/migrations"))
            .urls("admin/", views::urls())
            .ready(move |ready: &mut Ready<'_>| -> Result<(), StartupError> {
                ready.services_mut().insert_arc(Arc::clone(&site));
                Ok(())
            })
            .check(move |context: &CheckContext<'_>| checks(&checked, context))
    }
}

/// `admin.E001`: the auth app is missing; `admin.E002`: an option names
/// no field; `admin.E003`: a model is registered twice; `admin.E040`: an
/// autocomplete field's model is not in the admin with a search.
fn checks(site: &AdminSite, context: &CheckContext<'_>) -> Vec<CheckMessage> {
    let mut out = Vec::new();
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
