//! A model's admin options ([`ModelAdmin`]) and what each page reads from
//! the database through them, without the model's type
//! ([`Registered`]): the views only see rows of text.

use std::fmt;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use sea_query::Value;

use super::actions::{self, Action, ActionInfo};
pub(crate) use super::bad_query::BadQuery;
use super::inlines::{Inline, InlineChange, TabularInline};
use super::list_page::ListPage;
use super::{AdminSite, render};
use crate::db::FieldType as _;
use crate::db::query::LookupOp;
use crate::db::{Database, Deleted, Model, ModelMeta, Q};
use crate::forms::FormData;

/// How a model shows in the admin (Django's `ModelAdmin`), built by
/// chaining options; every name is a field of `M`, checked by `manage
/// check` at startup.
pub struct ModelAdmin<M: Model> {
    pub(super) list_display: Vec<&'static str>,
    pub(super) list_display_links: Option<Vec<&'static str>>,
    pub(super) computed: Vec<Computed<M>>,
    pub(super) search_fields: Vec<&'static str>,
    pub(super) list_filter: Vec<&'static str>,
    pub(super) date_hierarchy: Option<&'static str>,
    pub(super) ordering: Vec<&'static str>,
    pub(super) fields: Vec<&'static str>,
    pub(super) exclude: Vec<&'static str>,
    pub(super) fieldsets: Vec<(&'static str, Vec<&'static str>)>,
    pub(super) readonly: Vec<&'static str>,
    pub(super) autocomplete: Vec<&'static str>,
    pub(super) per_page: u64,
    pub(super) max_show_all: u64,
    pub(super) title: Option<fn(&M) -> String>,
    pub(super) actions: Vec<Action<M>>,
    pub(super) delete_selected: bool,
    pub(super) inlines: Vec<Box<dyn Inline<M>>>,
    _p: PhantomData<fn() -> M>,
}

/// A list column computed from the object (Django's `list_display`
/// naming a method): its name, header and function.
pub(super) struct Computed<M> {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) show: fn(&M) -> String,
}

impl<M: Model> fmt::Debug for ModelAdmin<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelAdmin")
            .field("list_display", &self.list_display)
            .field("search_fields", &self.search_fields)
            .field("list_filter", &self.list_filter)
            .field("ordering", &self.ordering)
            .field("per_page", &self.per_page)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

impl<M: Model> Default for ModelAdmin<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> ModelAdmin<M> {
    /// The defaults: the list shows the primary key, 100 rows a page, in
    /// the model's own order; the forms edit every editable field.
    #[must_use]
    pub fn new() -> Self {
        Self {
            list_display: Vec::new(),
            list_display_links: None,
            computed: Vec::new(),
            search_fields: Vec::new(),
            list_filter: Vec::new(),
            date_hierarchy: None,
            ordering: Vec::new(),
            fields: Vec::new(),
            exclude: Vec::new(),
            fieldsets: Vec::new(),
            readonly: Vec::new(),
            autocomplete: Vec::new(),
            per_page: 100,
            max_show_all: 200,
            title: None,
            actions: Vec::new(),
            delete_selected: true,
            inlines: Vec::new(),
            _p: PhantomData,
        }
    }

    /// The list's columns, by field name (or the name of a
    /// [`computed`](Self::computed) column); the first links to the
    /// change page. Each field's header sorts by it. A foreign key shows
    /// the related object's title when its model is in the admin.
    #[must_use]
    pub fn list_display(mut self, fields: &[&'static str]) -> Self {
        self.list_display = fields.to_vec();
        self
    }

    /// The columns that link to the change page (the first, when not
    /// given; none for an empty list).
    #[must_use]
    pub fn list_display_links(mut self, fields: &[&'static str]) -> Self {
        self.list_display_links = Some(fields.to_vec());
        self
    }

    /// A column computed from the object, for `list_display` to name
    /// (Django's method in `list_display`): `.computed("words", "Words",
    /// |a: &Article| a.body.split_whitespace().count().to_string())`. It
    /// cannot be sorted by.
    #[must_use]
    pub fn computed(
        mut self,
        name: &'static str,
        label: &'static str,
        show: fn(&M) -> String,
    ) -> Self {
        self.computed.push(Computed { name, label, show });
        self
    }

    /// The fields the search box looks in: `icontains` by default, a `^`
    /// prefix for starts-with, `=` for an exact (case-insensitive) match.
    #[must_use]
    pub fn search_fields(mut self, fields: &[&'static str]) -> Self {
        self.search_fields = fields.to_vec();
        self
    }

    /// The fields the list can be filtered by, in the side bar: yes/no
    /// fields and fields with choices list their values, foreign keys the
    /// related objects, dates "Today", "Past 7 days", "This month" and
    /// "This year".
    #[must_use]
    pub fn list_filter(mut self, fields: &[&'static str]) -> Self {
        self.list_filter = fields.to_vec();
        self
    }

    /// A date or date-time field to drill down by, above the list: years,
    /// then months, then days (Django's `date_hierarchy`).
    #[must_use]
    pub fn date_hierarchy(mut self, field: &'static str) -> Self {
        self.date_hierarchy = Some(field);
        self
    }

    /// The list's order, by field names (`-` for descending); the
    /// model's own ordering, then the primary key, when not given.
    #[must_use]
    pub fn ordering(mut self, fields: &[&'static str]) -> Self {
        self.ordering = fields.to_vec();
        self
    }

    /// The fields of the add and change forms (every editable field when
    /// not given).
    #[must_use]
    pub fn fields(mut self, fields: &[&'static str]) -> Self {
        self.fields = fields.to_vec();
        self
    }

    /// The fields the forms leave out.
    #[must_use]
    pub fn exclude(mut self, fields: &[&'static str]) -> Self {
        self.exclude = fields.to_vec();
        self
    }

    /// The form in titled groups (Django's `fieldsets`): `[("Content",
    /// &["title", "body"]), ("Publishing", &["published"])]`. The forms
    /// then edit these fields only.
    #[must_use]
    pub fn fieldsets(mut self, sets: &[(&'static str, &[&'static str])]) -> Self {
        self.fieldsets = sets.iter().map(|(t, f)| (*t, f.to_vec())).collect();
        self
    }

    /// Fields shown but not editable: a form field is drawn disabled and
    /// what a client sends for it is ignored; a field the form does not
    /// edit (an automatic date) is shown as text on the change page.
    #[must_use]
    pub fn readonly(mut self, fields: &[&'static str]) -> Self {
        self.readonly = fields.to_vec();
        self
    }

    /// Foreign keys and many-to-many fields chosen by searching the
    /// related model (Django's `autocomplete_fields`), for related tables
    /// too big to list in a `<select>`: the form lists only the rows
    /// chosen, and a search box asks `/admin/autocomplete/` for others,
    /// through the related model's admin and its `search_fields` (which
    /// it must have).
    #[must_use]
    pub fn autocomplete_fields(mut self, fields: &[&'static str]) -> Self {
        self.autocomplete = fields.to_vec();
        self
    }

    /// Rows per list page (Django's `list_per_page`, 100).
    #[must_use]
    pub fn per_page(mut self, per_page: u64) -> Self {
        self.per_page = per_page.max(1);
        self
    }

    /// Up to how many rows "Show all" shows on one page (Django's
    /// `list_max_show_all`, 200); past it, the link is not offered and
    /// `?all=` is refused.
    #[must_use]
    pub fn max_show_all(mut self, rows: u64) -> Self {
        self.max_show_all = rows;
        self
    }

    /// Adds a bulk action to the list page's menu.
    #[must_use]
    pub fn action(mut self, action: Action<M>) -> Self {
        self.actions.push(action);
        self
    }

    /// Whether the menu offers "Delete selected" (yes), which needs the
    /// `delete` permission and asks for confirmation first.
    #[must_use]
    pub fn delete_selected(mut self, offered: bool) -> Self {
        self.delete_selected = offered;
        self
    }

    /// Adds child rows edited on the change page (a [`TabularInline`]).
    #[must_use]
    pub fn inline<C: Model + Default>(mut self, inline: TabularInline<C>) -> Self {
        self.inlines.push(Box::new(inline));
        self
    }

    /// How an object reads in titles, messages and the delete page
    /// (Django's `__str__`): `.title(|a: &Article| a.title.clone())`.
    /// Without it, Django's default: "Article object (7)".
    #[must_use]
    pub fn title(mut self, title: fn(&M) -> String) -> Self {
        self.title = Some(title);
        self
    }

    pub(super) fn title_of(&self, obj: &M) -> String {
        match self.title {
            Some(title) => title(obj),
            None => format!("{} object ({})", M::meta().name, render::pk_text(obj)),
        }
    }

    /// The list's columns: `list_display`, or without it one column of
    /// each object's title, as Django's default `("__str__",)`.
    pub(super) fn columns(&self) -> Vec<&'static str> {
        if self.list_display.is_empty() {
            vec![TITLE_COLUMN]
        } else {
            self.list_display.clone()
        }
    }

    /// The fields the forms edit: the fieldsets', else `fields`, else
    /// every editable one.
    pub(super) fn form_fields(&self) -> Vec<&'static str> {
        if self.fieldsets.is_empty() {
            self.fields.clone()
        } else {
            self.fieldsets
                .iter()
                .flat_map(|(_, f)| f.iter().copied())
                .collect()
        }
    }
}

/// What the form page got.
pub(crate) enum FormOutcome {
    /// The form to show (new, loaded, or with its errors), and each
    /// inline's table.
    Show {
        html: String,
        inlines: Vec<String>,
        multipart: bool,
    },
    /// Saved: the object's primary key, how it reads, the labels of the
    /// fields whose value changed, and what the inlines added, changed
    /// and deleted ("Added comment “…”.").
    Saved {
        pk: String,
        title: String,
        changed: Vec<String>,
        inline_changes: Vec<InlineChange>,
    },
}

/// What a delete removes, or would: the objects asked for, by key and
/// title, and the rows that go with them per model; or why the database
/// refuses (a protected or restricted foreign key).
#[derive(Debug)]
pub(crate) struct DeleteOutcome {
    pub(crate) objects: Vec<(String, String)>,
    pub(crate) result: Result<Deleted, String>,
}

/// The model behind the admin's pages, without its type.
pub(crate) trait Registered: Send + Sync + 'static {
    fn meta(&self) -> &'static ModelMeta;

    /// The option names that are not fields of the model.
    fn problems(&self) -> Vec<String>;

    /// The list page for the query string `params`.
    fn list<'a>(
        &'a self,
        site: &'a AdminSite,
        db: &'a Database,
        params: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Result<ListPage, BadQuery>, crate::Error>>;

    /// The add (`pk` `None`) or change form, every field disabled when
    /// `read_only`; with `data`, bound and saved when valid. `Ok(None)`:
    /// no such object.
    fn form<'a>(
        &'a self,
        db: &'a Database,
        pk: Option<&'a str>,
        data: Option<FormData>,
        read_only: bool,
    ) -> BoxFuture<'a, Result<Option<FormOutcome>, crate::Error>>;

    /// How the objects with these primary keys read (one query), by the
    /// key's text.
    fn titles<'a>(
        &'a self,
        db: &'a Database,
        keys: Vec<Value>,
    ) -> BoxFuture<'a, Result<std::collections::HashMap<String, String>, crate::Error>>;

    /// How `obj` reads, when it is an instance of this model (a row a
    /// foreign key loaded with `select_related`).
    fn loaded_title(&self, obj: &dyn std::any::Any) -> Option<String>;

    /// How the object `pk` reads, or `None` when there is no such object.
    fn title<'a>(
        &'a self,
        db: &'a Database,
        pk: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, crate::Error>>;

    /// Deletes the objects whose keys are the texts `keys` (`confirm`),
    /// or only says what would go: the delete then runs in a transaction
    /// that is rolled back, so the counts follow every `on_delete` rule.
    fn delete<'a>(
        &'a self,
        db: &'a Database,
        keys: &'a [String],
        confirm: bool,
    ) -> BoxFuture<'a, Result<Result<DeleteOutcome, BadQuery>, crate::Error>>;

    /// The list page's bulk actions.
    fn actions(&self) -> Vec<ActionInfo>;

    /// The fields of `autocomplete_fields`.
    fn autocomplete_fields(&self) -> &[&'static str];

    /// The model a field of `autocomplete_fields` points at.
    fn autocomplete_target(&self, field: &str) -> Option<&'static ModelMeta>;

    /// Whether the list has a search (an autocomplete needs one).
    fn searchable(&self) -> bool;

    /// The objects matching `term` through the search fields, `per_page`
    /// a page in the list's order: `(key, title)`, and whether there are
    /// more.
    #[allow(clippy::type_complexity)]
    fn search_page<'a>(
        &'a self,
        db: &'a Database,
        term: &'a str,
        page: u64,
        per_page: u64,
    ) -> BoxFuture<'a, Result<Result<(Vec<(String, String)>, bool), BadQuery>, crate::Error>>;

    /// Runs the project's action `name` on the rows `keys`: its message.
    fn run_action<'a>(
        &'a self,
        db: &'a Database,
        name: &'a str,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Result<String, BadQuery>, crate::Error>>;
}

/// The default list column: each object's title (Django's `__str__`).
pub(super) const TITLE_COLUMN: &str = "__str__";

impl<M: Model + Default> ModelAdmin<M> {
    /// The object with primary key text `pk`, if any (a key that does not
    /// parse finds nothing).
    pub(super) async fn object(db: &Database, pk: &str) -> crate::db::Result<Option<M>> {
        let Some(field) = M::meta().pk_field() else {
            return Ok(None);
        };
        match Q::<M>::named(field.name, LookupOp::Exact, pk) {
            Ok(q) => M::objects().filter(q).first(db).await,
            Err(crate::db::Error::InvalidValue { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An object as the pages name it: its key's text and its title.
    fn keyed(&self, obj: &M) -> (String, String) {
        (render::pk_text(obj), self.title_of(obj))
    }

    async fn delete_objects(
        &self,
        db: &Database,
        keys: &[String],
        confirm: bool,
    ) -> Result<Result<DeleteOutcome, BadQuery>, crate::Error> {
        let selected = match actions::selected::<M>(keys) {
            Ok(qs) => qs,
            Err(bad) => return Ok(Err(bad)),
        };
        let rows = selected.all(db).await?;
        let objects: Vec<(String, String)> = rows.iter().map(|obj| self.keyed(obj)).collect();
        if objects.is_empty() {
            return Ok(Ok(DeleteOutcome {
                objects,
                result: Ok(Deleted::default()),
            }));
        }
        // The rows found, by their own keys.
        let found: Vec<Value> = rows
            .iter()
            .filter_map(|obj| obj.pk().map(|pk| pk.to_value()))
            .collect();
        let tx = db.begin().await?;
        let deleted = M::objects()
            .filter(Q::column_in(M::meta().pk_column, found))
            .delete_counted(&tx)
            .await;
        let result = match deleted {
            Ok(deleted) => {
                if confirm {
                    tx.commit().await?;
                } else {
                    tx.rollback().await?;
                }
                Ok(deleted)
            }
            Err(e @ (crate::db::Error::Protected { .. } | crate::db::Error::Restricted { .. })) => {
                tx.rollback().await?;
                Err(e.to_string())
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Ok(DeleteOutcome { objects, result }))
    }
}

impl<M: Model + Default> Registered for ModelAdmin<M> {
    fn meta(&self) -> &'static ModelMeta {
        M::meta()
    }

    fn problems(&self) -> Vec<String> {
        let meta = M::meta();
        let mut out = Vec::new();
        let column = |name: &str| meta.column_fields().any(|f| f.name == name);
        let computed = |name: &str| self.computed.iter().any(|c| c.name == name);
        for name in &self.list_display {
            if !column(name) && !computed(name) {
                out.push(format!(
                    "list_display names `{name}`, which is neither a field nor a computed column"
                ));
            }
        }
        for name in self.list_display_links.iter().flatten() {
            if !self.columns().contains(name) {
                out.push(format!(
                    "list_display_links names `{name}`, which is not in list_display"
                ));
            }
        }
        for spec in &self.search_fields {
            let name = spec.trim_start_matches(['^', '=']);
            match meta.resolve_path(name) {
                Ok(path) if path.field.sql_type == crate::db::SqlType::String => {}
                _ => out.push(format!(
                    "search_fields names `{spec}`, which is not a text field (of the model, \
                     or through its relations: `author__username`)"
                )),
            }
        }
        for name in &self.list_filter {
            if !column(name) {
                out.push(format!("list_filter names `{name}`, which is not a field"));
            }
        }
        if let Some(name) = self.date_hierarchy {
            match meta.field(name) {
                Some(f)
                    if f.column.is_some()
                        && matches!(
                            f.sql_type,
                            crate::db::SqlType::Date | crate::db::SqlType::DateTime
                        ) => {}
                _ => out.push(format!(
                    "date_hierarchy names `{name}`, which is not a date or date-time field"
                )),
            }
        }
        for name in &self.ordering {
            if !column(name.trim_start_matches('-')) {
                out.push(format!("ordering names `{name}`, which is not a field"));
            }
        }
        for (option, names) in [
            ("fields", self.form_fields()),
            ("exclude", self.exclude.clone()),
            ("readonly", self.readonly.clone()),
        ] {
            for name in names {
                if meta.field(name).is_none() {
                    out.push(format!("{option} names `{name}`, which is not a field"));
                }
            }
        }
        for name in &self.autocomplete {
            let relation = meta.field(name).is_some_and(|f| {
                f.relation
                    .is_some_and(|r| !matches!(r.kind, crate::db::model::RelationKind::Reverse))
            });
            if !relation {
                out.push(format!(
                    "autocomplete_fields names `{name}`, which is not a foreign key or a \
                     many-to-many field"
                ));
            }
        }
        if let Err(e) = self.form(M::default(), false) {
            out.push(e.to_string());
        }
        for inline in &self.inlines {
            out.extend(inline.problems());
        }
        let mut names: Vec<&str> = self.actions.iter().map(|a| a.name).collect();
        if self.delete_selected {
            names.push(actions::DELETE_SELECTED);
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                out.push(format!("two actions are named `{name}`"));
            }
        }
        out
    }

    fn list<'a>(
        &'a self,
        site: &'a AdminSite,
        db: &'a Database,
        params: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Result<ListPage, BadQuery>, crate::Error>> {
        Box::pin(self.list_page(site, db, params))
    }

    fn form<'a>(
        &'a self,
        db: &'a Database,
        pk: Option<&'a str>,
        data: Option<FormData>,
        read_only: bool,
    ) -> BoxFuture<'a, Result<Option<FormOutcome>, crate::Error>> {
        Box::pin(self.form_page(db, pk, data, read_only))
    }

    fn titles<'a>(
        &'a self,
        db: &'a Database,
        keys: Vec<Value>,
    ) -> BoxFuture<'a, Result<std::collections::HashMap<String, String>, crate::Error>> {
        Box::pin(async move {
            let meta = M::meta();
            let mut keys: Vec<Value> = keys
                .into_iter()
                .filter(|k| !crate::db::sql::compiler::is_null(k))
                .collect();
            keys.sort_by_key(render::key);
            keys.dedup();
            let mut out = std::collections::HashMap::new();
            if keys.is_empty() {
                return Ok(out);
            }
            let objects = M::objects()
                .filter(Q::column_in(meta.pk_column, keys))
                .unordered()
                .all(db)
                .await?;
            for obj in &objects {
                if let Some(pk) = obj.pk() {
                    out.insert(render::key(&pk.to_value()), self.title_of(obj));
                }
            }
            Ok(out)
        })
    }

    fn loaded_title(&self, obj: &dyn std::any::Any) -> Option<String> {
        obj.downcast_ref::<M>().map(|obj| self.title_of(obj))
    }

    fn title<'a>(
        &'a self,
        db: &'a Database,
        pk: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, crate::Error>> {
        Box::pin(async move { Ok(Self::object(db, pk).await?.map(|obj| self.title_of(&obj))) })
    }

    fn delete<'a>(
        &'a self,
        db: &'a Database,
        keys: &'a [String],
        confirm: bool,
    ) -> BoxFuture<'a, Result<Result<DeleteOutcome, BadQuery>, crate::Error>> {
        Box::pin(self.delete_objects(db, keys, confirm))
    }

    fn actions(&self) -> Vec<ActionInfo> {
        actions::infos(&self.actions, self.delete_selected)
    }

    fn autocomplete_fields(&self) -> &[&'static str] {
        &self.autocomplete
    }

    fn autocomplete_target(&self, field: &str) -> Option<&'static ModelMeta> {
        let name = self.autocomplete.iter().find(|f| **f == field)?;
        M::meta().field(name)?.relation.map(|r| (r.target)())
    }

    fn searchable(&self) -> bool {
        !self.search_fields.is_empty()
    }

    fn search_page<'a>(
        &'a self,
        db: &'a Database,
        term: &'a str,
        page: u64,
        per_page: u64,
    ) -> BoxFuture<'a, Result<Result<(Vec<(String, String)>, bool), BadQuery>, crate::Error>> {
        Box::pin(async move {
            let mut qs = M::objects();
            if !term.trim().is_empty() {
                match self.search(qs, term) {
                    Ok(searched) => qs = searched,
                    Err(bad) => return Ok(Err(bad)),
                }
            }
            if !self.ordering.is_empty() {
                qs = qs.order_by_names(self.ordering.iter().copied())?;
            }
            let start = page.saturating_sub(1).saturating_mul(per_page);
            let mut rows = qs.offset(start).limit(per_page + 1).all(db).await?;
            let more = rows.len() as u64 > per_page;
            rows.truncate(usize::try_from(per_page).unwrap_or(usize::MAX));
            let found = rows.iter().map(|obj| self.keyed(obj)).collect();
            Ok(Ok((found, more)))
        })
    }

    fn run_action<'a>(
        &'a self,
        db: &'a Database,
        name: &'a str,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Result<String, BadQuery>, crate::Error>> {
        Box::pin(actions::run(&self.actions, db, name, keys))
    }
}
