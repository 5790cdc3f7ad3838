//! The admin's views (in the site's namespace, `admin` by default) and
//! their pages.

use askama::Template;

use axum::Extension;
use axum::extract::{Path, RawQuery};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use std::sync::Arc;

use super::accounts;
use super::actions::DELETE_SELECTED;
use super::history::{self, ActionFlag, RecentAction};
use super::list_page::ListPage;
use super::options::{DeleteOutcome, FormOutcome};
use super::request::AdminRequest;
use super::{AdminSite, SiteInfo};
use crate::TemplateResponse;
use crate::contrib::messages::{Level, Messages};
use crate::db::ModelMeta;
use crate::forms::FormData;
use crate::forms::model_form::capfirst;
use crate::urls::Urls;

/// The site's pages; each route carries `site` (see [`Site`](super::request::Site)).
pub(super) fn urls(site: &Arc<AdminSite>) -> Urls {
    let with_site = |router: MethodRouter| router.layer(Extension(Arc::clone(site)));
    Urls::new()
        .path("", with_site(get(index)), "index")
        .path(
            "autocomplete/",
            with_site(get(autocomplete)),
            "autocomplete",
        )
        .path(
            "<app>/<model>/",
            with_site(get(changelist).post(changelist_action)),
            "changelist",
        )
        .path(
            "<app>/<model>/add/",
            with_site(get(add_form).post(add_submit)),
            "add",
        )
        .path(
            "<app>/<model>/<pk>/change/",
            with_site(get(change_form).post(change_submit)),
            "change",
        )
        .path(
            "<app>/<model>/<pk>/delete/",
            with_site(get(delete_form).post(delete_submit)),
            "delete",
        )
        .path(
            "<app>/<model>/<pk>/history/",
            with_site(get(history::history)),
            "history",
        )
        .path(
            "login/",
            with_site(get(accounts::login_form).post(accounts::login_submit)),
            "login",
        )
        .path(
            "logout/",
            with_site(axum::routing::post(accounts::logout)),
            "logout",
        )
        .path(
            "password_change/",
            with_site(get(accounts::password_change_form).post(accounts::password_change_submit)),
            "password_change",
        )
        .path(
            "password_change/done/",
            with_site(get(accounts::password_change_done)),
            "password_change_done",
        )
}

/// A model on the index: its plural name, its list and (when the user may
/// add) its add page.
pub type IndexEntry = (String, String, Option<String>);

/// The index: the models the user may see, by app.
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/index.html")]
#[non_exhaustive]
pub struct IndexPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// `(app label, [(model name plural, list URL, add URL if allowed)])`.
    pub apps: Vec<(String, Vec<IndexEntry>)>,
    /// The member's last actions.
    pub recent: Vec<RecentAction>,
}

/// A model's list page.
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/change_list.html")]
#[non_exhaustive]
pub struct ChangeListPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// The model's plural name.
    pub title: String,
    /// The add page, when the user may add.
    pub add_url: Option<String>,
    /// The page's contents.
    pub list: ListPage,
    /// The change pages' URL before the primary key.
    pub base: String,
    /// The bulk actions the user may run: `(name, description)`.
    pub actions: Vec<(&'static str, String)>,
}

/// The add or change form.
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/change_form.html")]
#[non_exhaustive]
pub struct ChangeFormPage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// "Add article" / "Change article".
    pub title: String,
    /// The list page.
    pub list_url: String,
    /// The model's plural name.
    pub list_title: String,
    /// The object's title, on a change page.
    pub object: Option<String>,
    /// The form's fields, drawn.
    pub form: String,
    /// Each inline's table.
    pub inlines: Vec<String>,
    /// Whether the form sends files.
    pub multipart: bool,
    /// The delete page, when the user may delete.
    pub delete_url: Option<String>,
    /// Whether the user may save (a `view`-only user sees the form only).
    pub can_save: bool,
}

/// The delete confirmation, for one object or the rows ticked on the
/// list.
#[derive(Debug, Template, TemplateResponse)]
#[template(path = "admin/delete_confirmation.html")]
#[non_exhaustive]
pub struct DeletePage {
    /// The site's header, title, links and stylesheets.
    pub site: SiteInfo,
    /// Who is logged in.
    pub username: String,
    /// The model's name.
    pub model: String,
    /// The model's plural name.
    pub models: String,
    /// The list page, with its query string.
    pub list_url: String,
    /// The objects asked for: `(key, title)`.
    pub objects: Vec<(String, String)>,
    /// What goes: `(model label, rows)`.
    pub deleted: Vec<(String, u64)>,
    /// Why the delete cannot be done (a protected relation).
    pub refused: Option<String>,
    /// Where "No, take me back" goes.
    pub back_url: String,
    /// For the bulk delete: the action's hidden inputs.
    pub bulk: bool,
}

async fn index(admin: AdminRequest) -> crate::Result<IndexPage> {
    let mut apps: Vec<(String, Vec<IndexEntry>)> = Vec::new();
    for model in &admin.site.models {
        let meta = model.meta();
        if !(admin.may(meta, "view") || admin.may(meta, "change")) {
            continue;
        }
        let url = admin.site.list_url(meta);
        let add = admin.may(meta, "add").then(|| format!("{url}add/"));
        let entry = (capfirst(meta.verbose_name_plural), url, add);
        match apps.iter_mut().find(|(app, _)| app == meta.app) {
            Some((_, models)) => models.push(entry),
            None => apps.push((meta.app.to_owned(), vec![entry])),
        }
    }
    let recent = history::recent_actions(&admin.db, &admin.site, admin.user.key()).await?;
    Ok(IndexPage {
        site: admin.site.info().clone(),
        username: admin.user.username,
        apps,
        recent,
    })
}

async fn changelist(
    admin: AdminRequest,
    Path((app, model)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> crate::Result<Response> {
    let AdminRequest { site, db, .. } = &admin;
    let model = admin.model(&app, &model)?;
    let meta = model.meta();
    if !admin.may(meta, "change") {
        admin.require(meta, "view")?;
    }
    let params: Vec<(String, String)> =
        FormData::from_urlencoded(query.as_deref().unwrap_or("").as_bytes())?
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    let list = match model.list(site, db, &params).await? {
        Ok(list) => list,
        Err(bad) => return Err(crate::Error::bad_request(bad.to_string())),
    };
    let base = admin.site.list_url(meta);
    let actions = model
        .actions()
        .into_iter()
        .filter(|a| admin.holds(meta, &a.codename))
        .map(|a| (a.name, a.description))
        .collect();
    Ok(ChangeListPage {
        site: site.info().clone(),
        username: admin.user.username.clone(),
        title: capfirst(meta.verbose_name_plural),
        add_url: admin.may(meta, "add").then(|| format!("{base}add/")),
        list,
        base,
        actions,
    }
    .into_response())
}

/// A bulk action sent from the list: the ticked rows' keys in
/// `_selected_action`, the action's name in `action`. `delete_selected`
/// shows its confirmation first, and deletes when it comes back with
/// `post=yes`. Then back to the list, as it was filtered.
async fn changelist_action(
    admin: AdminRequest,
    Path((app, model)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    messages: Result<Messages, crate::Error>,
    data: FormData,
) -> crate::Result<Response> {
    let model = admin.model(&app, &model)?;
    let meta = model.meta();
    let db = &admin.db;
    let messages = messages.ok();
    let say = |level: Level, text: String| {
        if let Some(m) = &messages {
            m.add(level, text);
        }
    };
    let back = match query.as_deref().filter(|q| !q.is_empty()) {
        Some(q) => format!("{}?{q}", admin.site.list_url(meta)),
        None => admin.site.list_url(meta),
    };
    let name = data.get("action").unwrap_or_default();
    if name.is_empty() {
        say(Level::WARNING, "No action selected.".to_owned());
        return Ok(crate::web::found(&back));
    }
    let Some(action) = model.actions().into_iter().find(|a| a.name == name) else {
        return Err(crate::Error::bad_request(format!(
            "`{name}` is not an action of this list"
        )));
    };
    if !admin.holds(meta, &action.codename) {
        return Err(crate::Error::forbidden(format!(
            "you may not run “{}” on {}",
            action.description, meta.verbose_name_plural
        )));
    }
    let keys: Vec<String> = data
        .get_all("_selected_action")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        say(
            Level::WARNING,
            "Items must be selected in order to perform actions on them. No items have been \
             changed."
                .to_owned(),
        );
        return Ok(crate::web::found(&back));
    }
    if action.name != DELETE_SELECTED {
        let text = model
            .run_action(db, action.name, &keys)
            .await?
            .map_err(|bad| crate::Error::bad_request(bad.to_string()))?;
        if !text.is_empty() {
            say(Level::SUCCESS, text);
        }
        return Ok(crate::web::found(&back));
    }
    let confirm = data.get("post") == Some("yes");
    let outcome = model
        .delete(db, &keys, confirm)
        .await?
        .map_err(|bad| crate::Error::bad_request(bad.to_string()))?;
    if confirm && outcome.result.is_ok() {
        history::log_actions(
            db,
            admin.user.key(),
            outcome
                .objects
                .iter()
                .map(|(key, title)| history::deletion(meta, key, title)),
        )
        .await?;
        let n = outcome.objects.len();
        say(
            Level::SUCCESS,
            format!(
                "Successfully deleted {n} {}.",
                if n == 1 {
                    meta.verbose_name
                } else {
                    meta.verbose_name_plural
                }
            ),
        );
        return Ok(crate::web::found(&back));
    }
    Ok(delete_page(&admin, meta, outcome, back.clone(), back, true).into_response())
}

/// The delete confirmation page for `outcome`.
fn delete_page(
    admin: &AdminRequest,
    meta: &ModelMeta,
    outcome: DeleteOutcome,
    list_url: String,
    back_url: String,
    bulk: bool,
) -> DeletePage {
    let (deleted, refused) = match outcome.result {
        Ok(deleted) => (deleted.per_model.into_iter().collect(), None),
        Err(why) => (Vec::new(), Some(why)),
    };
    DeletePage {
        site: admin.site.info().clone(),
        username: admin.user.username.clone(),
        model: meta.verbose_name.to_owned(),
        models: meta.verbose_name_plural.to_owned(),
        list_url,
        objects: outcome.objects,
        deleted,
        refused,
        back_url,
        bulk,
    }
}

async fn add_form(
    admin: AdminRequest,
    Path((app, model)): Path<(String, String)>,
) -> crate::Result<Response> {
    form_view(admin, &app, &model, None, None).await
}

async fn add_submit(
    admin: AdminRequest,
    Path((app, model)): Path<(String, String)>,
    messages: Result<Messages, crate::Error>,
    data: FormData,
) -> crate::Result<Response> {
    let saved = Saved {
        data,
        messages: messages.ok(),
    };
    form_view(admin, &app, &model, None, Some(saved)).await
}

async fn change_form(
    admin: AdminRequest,
    Path((app, model, pk)): Path<(String, String, String)>,
) -> crate::Result<Response> {
    form_view(admin, &app, &model, Some(&pk), None).await
}

async fn change_submit(
    admin: AdminRequest,
    Path((app, model, pk)): Path<(String, String, String)>,
    messages: Result<Messages, crate::Error>,
    data: FormData,
) -> crate::Result<Response> {
    let saved = Saved {
        data,
        messages: messages.ok(),
    };
    form_view(admin, &app, &model, Some(&pk), Some(saved)).await
}

/// A form sent to be saved, and where to say it was (the messages app,
/// when installed).
struct Saved {
    data: FormData,
    messages: Option<Messages>,
}

/// The add (`pk` `None`) or change page; with `data`, the save. After a
/// save, Django's three buttons: "Save" goes to the list, "Save and
/// continue editing" (`_continue`) back to the object, "Save and add
/// another" (`_addanother`) to a new form.
async fn form_view(
    admin: AdminRequest,
    app: &str,
    model: &str,
    pk: Option<&str>,
    sent: Option<Saved>,
) -> crate::Result<Response> {
    let (data, messages) = match sent {
        Some(Saved { data, messages }) => (Some(data), messages),
        None => (None, None),
    };
    let model = admin.model(app, model)?;
    let meta = model.meta();
    let db = &admin.db;
    let list = admin.site.list_url(meta);
    let can_save = match pk {
        None => {
            admin.require(meta, "add")?;
            true
        }
        Some(_) => {
            let change = admin.may(meta, "change");
            if !change {
                admin.require(meta, "view")?;
            }
            change
        }
    };
    let button = data.as_ref().map(|d| {
        if d.get("_continue").is_some() {
            "_continue"
        } else if d.get("_addanother").is_some() {
            "_addanother"
        } else {
            "_save"
        }
    });
    if data.is_some() && !can_save {
        return Err(crate::Error::forbidden(format!(
            "you may not change {}",
            meta.verbose_name_plural
        )));
    }
    let Some(outcome) = model.form(db, pk, data, !can_save).await? else {
        return Err(crate::Error::not_found(format!(
            "{} with primary key {} does not exist",
            meta.verbose_name,
            pk.unwrap_or_default()
        )));
    };
    match outcome {
        FormOutcome::Saved {
            pk: saved_pk,
            title,
            changed,
            inline_changes,
        } => {
            let action = if pk.is_none() {
                ActionFlag::Addition
            } else {
                ActionFlag::Change
            };
            history::log_action(
                db,
                admin.user.key(),
                history::Change {
                    meta,
                    pk: &saved_pk,
                    repr: &title,
                    action,
                    changed: &changed,
                    inlines: &inline_changes,
                },
            )
            .await?;
            let name = meta.verbose_name;
            let done = if pk.is_none() { "added" } else { "changed" };
            let (to, then) = match button {
                Some("_continue") => (
                    admin.site.change_url(meta, &saved_pk),
                    " You may edit it again below.".to_owned(),
                ),
                Some("_addanother") => (
                    format!("{list}add/"),
                    format!(" You may add another {name} below."),
                ),
                _ => (list, String::new()),
            };
            if let Some(messages) = messages {
                let fields = if pk.is_some() && !changed.is_empty() {
                    format!(" (changed: {})", changed.join(", "))
                } else {
                    String::new()
                };
                let inlines: String = inline_changes.iter().map(|c| format!(" {c}")).collect();
                messages.success(format!(
                    "The {name} “{title}” was {done} successfully{fields}.{inlines}{then}"
                ));
            }
            Ok(crate::web::found(&to))
        }
        FormOutcome::Show {
            html,
            inlines,
            multipart,
        } => {
            let (title, object) = match pk {
                None => (format!("Add {}", meta.verbose_name), None),
                Some(pk) => (
                    format!(
                        "{} {}",
                        if can_save { "Change" } else { "View" },
                        meta.verbose_name
                    ),
                    model.title(db, pk).await?,
                ),
            };
            let delete_url = match pk {
                Some(pk) if admin.may(meta, "delete") => Some(format!("{list}{pk}/delete/")),
                _ => None,
            };
            let page = ChangeFormPage {
                site: admin.site.info().clone(),
                username: admin.user.username.clone(),
                title,
                list_url: list,
                list_title: capfirst(meta.verbose_name_plural),
                object,
                form: html,
                inlines,
                multipart,
                delete_url,
                can_save,
            };
            Ok(page.into_response())
        }
    }
}

async fn delete_form(
    admin: AdminRequest,
    Path((app, model, pk)): Path<(String, String, String)>,
) -> crate::Result<Response> {
    delete_view(admin, &app, &model, &pk, false).await
}

async fn delete_submit(
    admin: AdminRequest,
    Path((app, model, pk)): Path<(String, String, String)>,
) -> crate::Result<Response> {
    delete_view(admin, &app, &model, &pk, true).await
}

/// The confirmation (what the delete would remove), or the delete.
async fn delete_view(
    admin: AdminRequest,
    app: &str,
    model: &str,
    pk: &str,
    confirm: bool,
) -> crate::Result<Response> {
    let model = admin.model(app, model)?;
    let meta = model.meta();
    let db = &admin.db;
    admin.require(meta, "delete")?;
    let keys = [pk.to_owned()];
    let outcome = match model.delete(db, &keys, confirm).await? {
        Ok(outcome) if !outcome.objects.is_empty() => outcome,
        _ => {
            return Err(crate::Error::not_found(format!(
                "{} with primary key {pk} does not exist",
                meta.verbose_name
            )));
        }
    };
    let list = admin.site.list_url(meta);
    if confirm && outcome.result.is_ok() {
        let title = outcome.objects.first().map_or("", |(_, t)| t.as_str());
        history::log_action(db, admin.user.key(), history::deletion(meta, pk, title)).await?;
        return Ok(crate::web::found(&list));
    }
    let back = admin.site.change_url(meta, pk);
    Ok(delete_page(&admin, meta, outcome, list, back, false).into_response())
}

/// What the autocomplete is asked: the form's model and field, the words
/// typed, and the page of results.
#[derive(Debug, serde::Deserialize)]
struct AutocompleteQuery {
    app_label: String,
    model_name: String,
    field_name: String,
    #[serde(default)]
    term: String,
    #[serde(default)]
    page: Option<u64>,
}

/// Results of an autocomplete a page at a time.
const AUTOCOMPLETE_PAGE: u64 = 20;

/// The autocomplete of a foreign key or many-to-many field (Django's
/// `AutocompleteJsonView`): the related objects matching `term` through
/// their admin's search, 20 a page, as
/// `{"results": [{"id": "7", "text": "Ada"}], "pagination": {"more": false}}`.
/// The field must be one of the model's `autocomplete_fields`, and the
/// member may view (or change) the related model; else 403.
async fn autocomplete(
    admin: AdminRequest,
    query: Result<
        axum::extract::Query<AutocompleteQuery>,
        axum::extract::rejection::QueryRejection,
    >,
) -> crate::Result<Response> {
    let axum::extract::Query(q) = query.map_err(|e| crate::Error::bad_request(e.body_text()))?;
    let source = admin.model(&q.app_label, &q.model_name)?;
    let Some(target) = source.autocomplete_target(&q.field_name) else {
        return Err(crate::Error::forbidden(format!(
            "`{}` is not an autocomplete field of {}",
            q.field_name,
            source.meta().name
        )));
    };
    let related =
        admin.site.admin_of(target).cloned().ok_or_else(|| {
            crate::Error::forbidden(format!("{} is not in the admin", target.name))
        })?;
    if !(admin.may(target, "view") || admin.may(target, "change")) {
        return Err(crate::Error::forbidden(format!(
            "you may not view {}",
            target.verbose_name_plural
        )));
    }
    let page = q.page.unwrap_or(1).max(1);
    let (found, more) = related
        .search_page(&admin.db, &q.term, page, AUTOCOMPLETE_PAGE)
        .await?
        .map_err(|bad| crate::Error::bad_request(bad.to_string()))?;
    let results: Vec<serde_json::Value> = found
        .into_iter()
        .map(|(id, text)| serde_json::json!({"id": id, "text": text}))
        .collect();
    Ok(axum::Json(serde_json::json!({
        "results": results,
        "pagination": {"more": more},
    }))
    .into_response())
}
