//! The admin's history (Django's `LogEntry`): one row per addition,
//! change and deletion made through the admin, shown on each object's
//! history page and, for the logged-in member, as "Recent actions" on the
//! index.
//!
//! ```
//! use manouche::contrib::admin::{ActionFlag, LogEntry};
//!
//! let entry = LogEntry {
//!     action_flag: ActionFlag::Change.flag(),
//!     change_message: r#"[{"changed": {"fields": ["Title", "Body"]}}]"#.to_owned(),
//!     object_repr: "Hello".to_owned(),
//!     ..LogEntry::default()
//! };
//! assert_eq!(entry.action(), Some(ActionFlag::Change));
//! assert_eq!(entry.change_message_text(), "Changed Title and Body.");
//! assert_eq!(entry.to_string(), "Changed “Hello” — Changed Title and Body.");
//! ```
//!
//! One difference from Django, as for permissions: an entry names its
//! object's model by app label and model name (`shop`, `product`) instead
//! of pointing at a `ContentType` row, which Manouche does not have.

use std::collections::HashMap;
use std::fmt;

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use sea_query::Value;

use super::AdminSite;
use super::SiteInfo;
use super::inlines::InlineChange;
use super::request::AdminRequest;
use crate::TemplateResponse;
use crate::contrib::auth::User;
use crate::db::{Auto, Database, DateTime, ForeignKey, Model, ModelMeta};
use crate::forms::model_form::capfirst;
use crate::paginator::Paginator;

/// What an entry records (Django's `ADDITION`, `CHANGE`, `DELETION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionFlag {
    /// The object was added (flag 1).
    Addition,
    /// The object was changed (flag 2).
    Change,
    /// The object was deleted (flag 3).
    Deletion,
}

impl ActionFlag {
    /// The value stored in [`LogEntry::action_flag`]: 1, 2 or 3, as Django.
    #[must_use]
    pub fn flag(self) -> i16 {
        match self {
            Self::Addition => 1,
            Self::Change => 2,
            Self::Deletion => 3,
        }
    }

    /// The action a stored flag stands for (`None` for any other number).
    #[must_use]
    pub fn from_flag(flag: i16) -> Option<Self> {
        match flag {
            1 => Some(Self::Addition),
            2 => Some(Self::Change),
            3 => Some(Self::Deletion),
            _ => None,
        }
    }

    /// "Added", "Changed", "Deleted".
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Addition => "Added",
            Self::Change => "Changed",
            Self::Deletion => "Deleted",
        }
    }
}

/// One action of a staff member in the admin (Django's
/// `django.contrib.admin.models.LogEntry`, in Django's table
/// `django_admin_log`), newest first.
#[derive(Debug, Clone, Model)]
#[model(
    app = "admin",
    table = "django_admin_log",
    ordering = "-action_time",
    index = ["app_label", "model", "object_id"],
    verbose_name = "log entry",
    verbose_name_plural = "log entries"
)]
pub struct LogEntry {
    /// The key.
    pub id: Auto<i64>,
    /// When.
    pub action_time: DateTime,
    /// Who (the entries go with the user when the user is deleted).
    pub user: ForeignKey<User>,
    /// The object's app label (`shop`), in place of Django's content type.
    #[model(max_length = 100)]
    pub app_label: String,
    /// The object's model name, lowercase (`product`).
    #[model(max_length = 100)]
    pub model: String,
    /// The object's primary key, as the admin's URLs write it.
    pub object_id: Option<String>,
    /// How the object read at the time (at most 200 characters).
    #[model(max_length = 200)]
    pub object_repr: String,
    /// [`ActionFlag::flag`]: 1 addition, 2 change, 3 deletion.
    pub action_flag: i16,
    /// What changed, in Django's JSON form
    /// (`[{"changed": {"fields": ["Title"]}}]`), or plain text.
    #[model(blank)]
    pub change_message: String,
}

impl Default for LogEntry {
    fn default() -> Self {
        Self {
            id: Auto::default(),
            action_time: chrono::Utc::now(),
            user: ForeignKey::default(),
            app_label: String::new(),
            model: String::new(),
            object_id: None,
            object_repr: String::new(),
            action_flag: ActionFlag::Change.flag(),
            change_message: String::new(),
        }
    }
}

impl LogEntry {
    /// The action recorded, when the flag is one of the three.
    #[must_use]
    pub fn action(&self) -> Option<ActionFlag> {
        ActionFlag::from_flag(self.action_flag)
    }

    /// The change message as a sentence (Django's `get_change_message`):
    /// "Added.", "Changed Title and Body.", "Deleted.", "No fields
    /// changed."; a message that is not Django's JSON form is shown as it
    /// is.
    #[must_use]
    pub fn change_message_text(&self) -> String {
        readable_message(&self.change_message)
    }

    /// The object's change page on the site named `admin`, while the
    /// entry is not a deletion (Django's `get_admin_url`, which reverses
    /// `admin:..._change`; whether the object still exists is not
    /// checked). Reversed against the project serving the current
    /// request; `/admin/` outside of one.
    #[must_use]
    pub fn admin_url(&self) -> Option<String> {
        let id = self.object_id.as_deref()?;
        (self.action() != Some(ActionFlag::Deletion)).then(|| {
            crate::urls::reverse("admin:change", &[&self.app_label, &self.model, &id])
                .unwrap_or_else(|_| {
                    format!("/admin/{}/{}/{}/change/", self.app_label, self.model, id)
                })
        })
    }
}

/// Django's `LogEntry.__str__`.
impl fmt::Display for LogEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action() {
            Some(ActionFlag::Addition) => write!(f, "Added “{}”.", self.object_repr),
            Some(ActionFlag::Change) => write!(
                f,
                "Changed “{}” — {}",
                self.object_repr,
                self.change_message_text()
            ),
            Some(ActionFlag::Deletion) => write!(f, "Deleted “{}.”", self.object_repr),
            None => f.write_str("LogEntry Object"),
        }
    }
}

/// The change message of `action` in Django's JSON form: `[{"added":
/// {}}]`, `[{"changed": {"fields": [labels]}}]` (`[]` when no field
/// changed), `[{"deleted": {}}]`.
pub(crate) fn change_message(
    action: ActionFlag,
    changed: &[String],
    inlines: &[InlineChange],
) -> String {
    let mut parts = match action {
        ActionFlag::Addition => vec![serde_json::json!({ "added": {} })],
        ActionFlag::Change if changed.is_empty() => Vec::new(),
        ActionFlag::Change => vec![serde_json::json!({ "changed": { "fields": changed } })],
        ActionFlag::Deletion => vec![serde_json::json!({ "deleted": {} })],
    };
    // The inline rows, as Django records them.
    for row in inlines {
        let mut detail = serde_json::json!({ "name": row.name, "object": row.object });
        if row.verb == "changed" {
            detail["fields"] = serde_json::json!([]);
        }
        parts.push(serde_json::json!({ row.verb: detail }));
    }
    serde_json::Value::Array(parts).to_string()
}

/// Django's `get_text_list(items, "and")`: "A", "A and B", "A, B and C".
fn text_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The sentence for a stored change message (see
/// [`LogEntry::change_message_text`]).
fn readable_message(stored: &str) -> String {
    let Ok(serde_json::Value::Array(parts)) = serde_json::from_str::<serde_json::Value>(stored)
    else {
        return stored.to_owned();
    };
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    // "Added article “Hello”." for a related object (an inline), or just
    // "Added." for the object itself.
    let about = |verb: &str, detail: &serde_json::Value| match (
        text(detail, "name"),
        text(detail, "object"),
    ) {
        (Some(name), Some(object)) => format!("{verb} {name} “{object}”"),
        _ => verb.to_owned(),
    };
    let mut sentences = Vec::new();
    for part in &parts {
        if let Some(detail) = part.get("added") {
            sentences.push(format!("{}.", about("Added", detail)));
        } else if let Some(detail) = part.get("changed") {
            let fields: Vec<String> = detail
                .get("fields")
                .and_then(serde_json::Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(serde_json::Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let fields = text_list(&fields);
            sentences.push(match (text(detail, "name"), text(detail, "object")) {
                (Some(name), Some(object)) if fields.is_empty() => {
                    format!("Changed {name} “{object}”.")
                }
                (Some(name), Some(object)) => {
                    format!("Changed {fields} for {name} “{object}”.")
                }
                _ => format!("Changed {fields}."),
            });
        } else if let Some(detail) = part.get("deleted") {
            sentences.push(format!("{}.", about("Deleted", detail)));
        }
    }
    if sentences.is_empty() {
        "No fields changed.".to_owned()
    } else {
        sentences.join(" ")
    }
}

/// At most `max` characters of `text` (Django stores `str(obj)[:200]`).
fn truncated(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// What [`log_action`] records: `action` on the object `pk` of `meta`,
/// which reads `repr`; for a change, the labels of the fields it changed
/// and the inline rows it added, changed or deleted.
pub(crate) struct Change<'a> {
    pub(crate) meta: &'a ModelMeta,
    pub(crate) pk: &'a str,
    pub(crate) repr: &'a str,
    pub(crate) action: ActionFlag,
    pub(crate) changed: &'a [String],
    pub(crate) inlines: &'a [InlineChange],
}

/// The deletion of the object `pk` of `meta`, which read `repr`.
pub(crate) fn deletion<'a>(meta: &'a ModelMeta, pk: &'a str, repr: &'a str) -> Change<'a> {
    Change {
        meta,
        pk,
        repr,
        action: ActionFlag::Deletion,
        changed: &[],
        inlines: &[],
    }
}

/// Records that `user_id` made `change`.
///
/// # Errors
/// The database failed (the admin's tables are missing: run `manage
/// migrate`).
pub(crate) async fn log_action(
    db: &Database,
    user_id: i64,
    change: Change<'_>,
) -> crate::Result<()> {
    log_actions(db, user_id, [change]).await
}

/// Records that `user_id` made `changes`, in one statement (a bulk delete
/// logs each object, as Django's `log_deletions`).
///
/// # Errors
/// As [`log_action`].
pub(crate) async fn log_actions<'a>(
    db: &Database,
    user_id: i64,
    changes: impl IntoIterator<Item = Change<'a>>,
) -> crate::Result<()> {
    let now = chrono::Utc::now();
    let entries: Vec<LogEntry> = changes
        .into_iter()
        .map(|change| LogEntry {
            id: Auto::default(),
            action_time: now,
            user: ForeignKey::new(user_id),
            app_label: change.meta.app.to_owned(),
            model: change.meta.model_name(),
            object_id: Some(change.pk.to_owned()),
            object_repr: truncated(change.repr, 200),
            action_flag: change.action.flag(),
            change_message: change_message(change.action, change.changed, change.inlines),
        })
        .collect();
    if !entries.is_empty() {
        LogEntry::objects().bulk_create(db, entries).await?;
    }
    Ok(())
}

/// One row of an object's history page.
#[derive(Debug)]
#[non_exhaustive]
pub struct HistoryRow {
    /// `2026-12-02 20:15:07 UTC`.
    pub when: String,
    /// The same in RFC 3339, for `<time>`.
    pub when_iso: String,
    /// The username, with the full name when there is one.
    pub user: String,
    /// The change message as a sentence.
    pub message: String,
}

/// An object's history (`admin/object_history.html`).
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/object_history.html")]
#[non_exhaustive]
pub struct HistoryPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// The object's title.
    pub object: String,
    /// The list page.
    pub list_url: String,
    /// The model's plural name.
    pub list_title: String,
    /// The object's change page.
    pub change_url: String,
    /// This page's entries, newest first.
    pub rows: Vec<HistoryRow>,
    /// Entries in all.
    pub count: u64,
    /// This page's number.
    pub page: u64,
    /// How many pages there are.
    pub num_pages: u64,
    /// Links to other pages: `(number, url)`, `None` for an ellipsis.
    pub pages: Vec<Option<(u64, String)>>,
}

/// Entries a history page shows (Django's 100).
const PER_PAGE: u64 = 100;

/// The history page's query string: `?p=2`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct HistoryQuery {
    p: Option<String>,
}

/// `/admin/<app>/<model>/<pk>/history/`: who did what to the object,
/// newest first, 100 a page (`?p=`). Allowed as the change page is
/// (`view` or `change`); 404 for a model not in the admin or an object
/// that does not exist.
pub(super) async fn history(
    admin: AdminRequest,
    Path((app, model, pk)): Path<(String, String, String)>,
    Query(query): Query<HistoryQuery>,
) -> crate::Result<Response> {
    let model = admin.model(&app, &model)?;
    let meta = model.meta();
    if !admin.may(meta, "change") {
        admin.require(meta, "view")?;
    }
    let db = &admin.db;
    let object = model.title(db, &pk).await?.ok_or_else(|| {
        crate::Error::not_found(format!(
            "{} with primary key {pk} does not exist",
            meta.verbose_name
        ))
    })?;
    let entries = LogEntry::objects()
        .filter(LogEntry::app_label.eq(meta.app))
        .filter(LogEntry::model.eq(meta.model_name()))
        .filter(LogEntry::object_id.eq(pk.clone()))
        .select_related(LogEntry::user)
        .order_by([LogEntry::action_time.desc(), LogEntry::id.desc()]);
    // A page number that is not one shows the first page, one too far the
    // last (Django's `get_page`).
    let entries = Paginator::new(entries, PER_PAGE)
        .get_page(db, query.p.as_deref())
        .await?;
    let (page, num_pages, count) = (entries.number, entries.num_pages(), entries.count());
    let rows = entries
        .iter()
        .map(|entry| HistoryRow {
            when: entry
                .action_time
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            when_iso: entry.action_time.to_rfc3339(),
            user: entry.user.get().map_or_else(String::new, |u| {
                let full = u.full_name();
                if full.is_empty() {
                    u.username.clone()
                } else {
                    format!("{} ({full})", u.username)
                }
            }),
            message: entry.change_message_text(),
        })
        .collect();
    Ok(HistoryPage {
        site: admin.site.info().clone(),
        username: admin.user.username.clone(),
        object,
        change_url: admin.site.change_url(meta, &pk),
        list_url: admin.site.list_url(meta),
        list_title: capfirst(meta.verbose_name_plural),
        rows,
        count,
        page,
        num_pages,
        pages: super::render::page_links(page, num_pages, |n| format!("?p={n}")),
    }
    .into_response())
}

/// One of the member's recent actions on the index.
#[derive(Debug)]
#[non_exhaustive]
pub struct RecentAction {
    /// "Added", "Changed", "Deleted".
    pub action: &'static str,
    /// `addition`, `change`, `deletion` (for the style).
    pub class: &'static str,
    /// How the object read.
    pub object: String,
    /// Its change page, while it exists and its model is in the admin.
    pub url: Option<String>,
    /// The model's name ("Product"), or `app.model` when not in the admin.
    pub model: String,
}

/// The last ten actions of `user_id` (Django's "My actions"), linked to
/// the objects still there: one query for the entries, one per model for
/// which objects remain.
pub(crate) async fn recent_actions(
    db: &Database,
    site: &AdminSite,
    user_id: i64,
) -> crate::Result<Vec<RecentAction>> {
    let entries = LogEntry::objects()
        .filter(LogEntry::user.eq(ForeignKey::new(user_id)))
        .order_by([LogEntry::action_time.desc(), LogEntry::id.desc()])
        .limit(10)
        .all(db)
        .await?;
    // The keys to look for, per registered model (deletions need none).
    let mut wanted: HashMap<(String, String), Vec<Value>> = HashMap::new();
    for entry in &entries {
        let (Some(id), Some(model)) = (
            entry.object_id.as_deref(),
            site.model(&entry.app_label, &entry.model),
        ) else {
            continue;
        };
        if entry.action() == Some(ActionFlag::Deletion) {
            continue;
        }
        let Some(key) = model
            .meta()
            .pk_field()
            .and_then(|f| f.sql_type.parse(id).ok())
        else {
            continue;
        };
        wanted
            .entry((entry.app_label.clone(), entry.model.clone()))
            .or_default()
            .push(key);
    }
    let mut existing: HashMap<(String, String), HashMap<String, String>> = HashMap::new();
    for ((app, name), keys) in wanted {
        if let Some(model) = site.model(&app, &name) {
            let titles = model.titles(db, keys).await?;
            existing.insert((app, name), titles);
        }
    }
    Ok(entries
        .iter()
        .map(|entry| {
            let action = entry.action();
            let registered = site.model(&entry.app_label, &entry.model);
            let there = entry.object_id.as_deref().is_some_and(|id| {
                existing
                    .get(&(entry.app_label.clone(), entry.model.clone()))
                    .is_some_and(|titles| titles.contains_key(id))
            });
            RecentAction {
                action: action.map_or("", ActionFlag::label),
                class: match action {
                    Some(ActionFlag::Addition) => "addition",
                    Some(ActionFlag::Change) => "change",
                    Some(ActionFlag::Deletion) => "deletion",
                    None => "",
                },
                object: entry.object_repr.clone(),
                url: entry
                    .object_id
                    .as_deref()
                    .zip(registered.filter(|_| there))
                    .map(|(id, m)| site.change_url(m.meta(), id)),
                model: registered.map_or_else(
                    || format!("{}.{}", entry.app_label, entry.model),
                    |m| capfirst(m.meta().verbose_name),
                ),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_messages_are_djangos_json() {
        assert_eq!(
            change_message(ActionFlag::Addition, &[], &[]),
            r#"[{"added":{}}]"#
        );
        assert_eq!(
            change_message(ActionFlag::Change, &["Title".into(), "Body".into()], &[]),
            r#"[{"changed":{"fields":["Title","Body"]}}]"#
        );
        assert_eq!(change_message(ActionFlag::Change, &[], &[]), "[]");
        assert_eq!(
            change_message(ActionFlag::Deletion, &[], &[]),
            r#"[{"deleted":{}}]"#
        );
    }

    #[test]
    fn change_messages_read_as_sentences() {
        let read = |action, fields: &[&str]| {
            let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
            readable_message(&change_message(action, &fields, &[]))
        };
        assert_eq!(read(ActionFlag::Addition, &[]), "Added.");
        assert_eq!(read(ActionFlag::Change, &["Title"]), "Changed Title.");
        assert_eq!(
            read(ActionFlag::Change, &["Title", "Body"]),
            "Changed Title and Body."
        );
        assert_eq!(
            read(ActionFlag::Change, &["Title", "Body", "Price"]),
            "Changed Title, Body and Price."
        );
        assert_eq!(read(ActionFlag::Change, &[]), "No fields changed.");
        assert_eq!(read(ActionFlag::Deletion, &[]), "Deleted.");
        // Related objects (Django's inlines), and hand-written messages.
        assert_eq!(
            readable_message(
                r#"[{"added": {"name": "review", "object": "Loud"}}, {"changed": {"name": "review", "object": "Heavy", "fields": ["Text"]}}]"#
            ),
            "Added review “Loud”. Changed Text for review “Heavy”."
        );
        assert_eq!(readable_message("Imported by hand"), "Imported by hand");
    }

    #[test]
    fn reprs_are_cut_at_200_characters() {
        let long = "é".repeat(250);
        assert_eq!(truncated(&long, 200).chars().count(), 200);
        assert_eq!(truncated("short", 200), "short");
    }

    #[test]
    fn flags_round_trip() {
        for action in [
            ActionFlag::Addition,
            ActionFlag::Change,
            ActionFlag::Deletion,
        ] {
            assert_eq!(ActionFlag::from_flag(action.flag()), Some(action));
        }
        assert_eq!(ActionFlag::from_flag(4), None);
    }
}
