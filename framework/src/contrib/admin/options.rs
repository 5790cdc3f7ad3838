//! A model's admin options ([`ModelAdmin`]) and what each page reads from
//! the database through them, without the model's type
//! ([`Registered`]): the views only see rows of text.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use sea_query::Value;

use super::render;
use crate::db::query::LookupOp;
use crate::db::{Database, Deleted, FieldType as _, Model, ModelMeta, Q, QuerySet};
use crate::forms::{FormData, ModelForm};
use crate::paginator::Paginator;

/// How a model shows in the admin (Django's `ModelAdmin`), built by
/// chaining options; every name is a field of `M`, checked by `manage
/// check` at startup.
pub struct ModelAdmin<M> {
    list_display: Vec<&'static str>,
    search_fields: Vec<&'static str>,
    list_filter: Vec<&'static str>,
    ordering: Vec<&'static str>,
    fields: Vec<&'static str>,
    per_page: u64,
    title: Option<fn(&M) -> String>,
    _p: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for ModelAdmin<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelAdmin")
            .field("list_display", &self.list_display)
            .field("search_fields", &self.search_fields)
            .field("list_filter", &self.list_filter)
            .field("ordering", &self.ordering)
            .field("per_page", &self.per_page)
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
            search_fields: Vec::new(),
            list_filter: Vec::new(),
            ordering: Vec::new(),
            fields: Vec::new(),
            per_page: 100,
            title: None,
            _p: PhantomData,
        }
    }

    /// The list's columns, by field name; the first links to the change
    /// page. Each column header sorts by it.
    #[must_use]
    pub fn list_display(mut self, fields: &[&'static str]) -> Self {
        self.list_display = fields.to_vec();
        self
    }

    /// The fields the search box looks in: `icontains` by default, a `^`
    /// prefix for starts-with, `=` for an exact (case-insensitive) match.
    #[must_use]
    pub fn search_fields(mut self, fields: &[&'static str]) -> Self {
        self.search_fields = fields.to_vec();
        self
    }

    /// The fields the list can be filtered by, in the side bar (yes/no
    /// fields and fields with choices list their values).
    #[must_use]
    pub fn list_filter(mut self, fields: &[&'static str]) -> Self {
        self.list_filter = fields.to_vec();
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

    /// Rows per list page (Django's `list_per_page`, 100).
    #[must_use]
    pub fn per_page(mut self, per_page: u64) -> Self {
        self.per_page = per_page.max(1);
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

    fn title_of(&self, obj: &M) -> String {
        match self.title {
            Some(title) => title(obj),
            None => format!(
                "{} object ({})",
                M::meta().name,
                obj.pk()
                    .map(|pk| render::key(&pk.to_value()))
                    .unwrap_or_default()
            ),
        }
    }

    /// The columns shown: the options', or the primary key.
    fn columns(&self) -> Vec<&'static str> {
        if self.list_display.is_empty() {
            M::meta().pk_field().map(|f| f.name).into_iter().collect()
        } else {
            self.list_display.clone()
        }
    }

    fn form(&self, instance: M) -> crate::db::Result<ModelForm<M>> {
        let form = ModelForm::new(instance);
        if self.fields.is_empty() {
            return Ok(form);
        }
        form.fields(&self.fields)
            .map_err(|e| crate::db::Error::UnknownField {
                model: M::meta().name,
                field: e.to_string(),
                known: String::new(),
            })
    }
}

/// A request the list page cannot answer as asked (400).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadQuery(pub(crate) String);

/// One column of the list page.
#[derive(Debug, Clone)]
pub(crate) struct ListColumn {
    pub(crate) label: String,
    /// Where the header links: sorted by this column first, or the other
    /// way round when it already is.
    pub(crate) sort_url: String,
    /// `Some(true)` when sorted descending by it, `Some(false)` ascending.
    pub(crate) sorted: Option<bool>,
}

/// One filter of the side bar and its choices: `(label, url, selected)`.
#[derive(Debug, Clone)]
pub(crate) struct ListFilter {
    pub(crate) label: String,
    pub(crate) choices: Vec<(String, String, bool)>,
}

/// A foreign key column of the list: the related model, and each row's
/// key in it (to show the related objects by their titles, one query for
/// the page).
#[derive(Debug)]
pub(crate) struct Related {
    pub(crate) column: usize,
    pub(crate) target: &'static ModelMeta,
    pub(crate) keys: Vec<Value>,
}

/// What the list page shows.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub(crate) columns: Vec<ListColumn>,
    /// Each row's primary key (for its link) and cells.
    pub(crate) rows: Vec<(String, Vec<String>)>,
    /// The foreign key columns.
    pub(crate) related: Vec<Related>,
    pub(crate) filters: Vec<ListFilter>,
    pub(crate) search: Option<String>,
    pub(crate) searchable: bool,
    /// Rows matching, and rows in all.
    pub(crate) count: u64,
    pub(crate) total: u64,
    pub(crate) page: u64,
    pub(crate) num_pages: u64,
    /// Links to other pages: `(number, url)`, `None` for an ellipsis.
    pub(crate) pages: Vec<Option<(u64, String)>>,
}

/// What the form page got.
pub(crate) enum FormOutcome {
    /// The form to show (new, loaded, or with its errors).
    Show { html: String, multipart: bool },
    /// Saved: the object's primary key, how it reads, and the labels of
    /// the fields whose value changed.
    Saved {
        pk: String,
        title: String,
        changed: Vec<String>,
    },
}

/// The model behind the admin's pages, without its type.
pub(crate) trait Registered: Send + Sync + 'static {
    fn meta(&self) -> &'static ModelMeta;

    /// The option names that are not fields of the model.
    fn problems(&self) -> Vec<String>;

    /// The list page for the query string `params`.
    fn list<'a>(
        &'a self,
        db: &'a Database,
        params: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Result<ListPage, BadQuery>, crate::Error>>;

    /// The add (`pk` `None`) or change form; with `data`, bound and saved
    /// when valid. `Ok(None)`: no such object.
    fn form<'a>(
        &'a self,
        db: &'a Database,
        pk: Option<&'a str>,
        data: Option<FormData>,
    ) -> BoxFuture<'a, Result<Option<FormOutcome>, crate::Error>>;

    /// How the objects with these primary keys read (one query), by the
    /// key's text.
    fn titles<'a>(
        &'a self,
        db: &'a Database,
        keys: Vec<Value>,
    ) -> BoxFuture<'a, Result<std::collections::HashMap<String, String>, crate::Error>>;

    /// How the object `pk` reads, or `None` when there is no such object.
    fn title<'a>(
        &'a self,
        db: &'a Database,
        pk: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, crate::Error>>;

    /// Deletes the object `pk` (`confirm`), or only says what would go:
    /// the delete runs in a transaction that is rolled back.
    fn delete<'a>(
        &'a self,
        db: &'a Database,
        pk: &'a str,
        confirm: bool,
    ) -> BoxFuture<'a, Result<Option<Deleted>, crate::Error>>;
}

/// The names of the query string the list page reads itself.
const SEARCH: &str = "q";
const ORDER: &str = "o";
const PAGE: &str = "p";

impl<M: Model + Default> ModelAdmin<M> {
    /// The object with primary key text `pk`, if any (a key that does not
    /// parse finds nothing).
    async fn object(db: &Database, pk: &str) -> crate::db::Result<Option<M>> {
        let Some(field) = M::meta().pk_field() else {
            return Ok(None);
        };
        match Q::<M>::named(field.name, LookupOp::Exact, pk) {
            Ok(q) => M::objects().filter(q).first(db).await,
            Err(crate::db::Error::InvalidValue { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The query set the list shows for `params`, and the parts of the
    /// page that depend only on them.
    #[allow(clippy::type_complexity)]
    fn query(
        &self,
        params: &[(String, String)],
    ) -> Result<(QuerySet<M>, Option<String>, Vec<(usize, bool)>, u64), BadQuery> {
        let meta = M::meta();
        let mut qs = M::objects();
        let mut search = None;
        let mut order = Vec::new();
        let mut page = 1;
        let mut seen = BTreeMap::new();
        for (name, value) in params {
            if seen.insert(name.as_str(), ()).is_some() {
                return Err(BadQuery(format!("`{name}` is given twice")));
            }
            match name.as_str() {
                SEARCH => {
                    if self.search_fields.is_empty() {
                        return Err(BadQuery("this list has no search".to_owned()));
                    }
                    let text = value.trim();
                    if !text.is_empty() {
                        qs = qs.filter(self.search(text)?);
                        search = Some(text.to_owned());
                    }
                }
                ORDER => order = self.parse_order(value)?,
                PAGE => {
                    page = value
                        .parse::<u64>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| BadQuery(format!("`p={value}` is not a page number")))?;
                }
                field if self.list_filter.contains(&field) => {
                    let q = Q::<M>::named(field, LookupOp::Exact, value)
                        .map_err(|e| BadQuery(e.to_string()))?;
                    qs = qs.filter(q);
                }
                other => {
                    return Err(BadQuery(format!(
                        "`{other}` is not a filter of this list (filters: {})",
                        if self.list_filter.is_empty() {
                            "none".to_owned()
                        } else {
                            self.list_filter.join(", ")
                        }
                    )));
                }
            }
        }
        // The order: the clicked columns, then the options' or the
        // model's, then the primary key, so that pages never overlap.
        let columns = self.columns();
        let mut names: Vec<String> = order
            .iter()
            .map(|&(i, desc)| format!("{}{}", if desc { "-" } else { "" }, columns[i]))
            .collect();
        if self.ordering.is_empty() {
            names.extend(
                meta.ordering
                    .iter()
                    .map(|&(column, desc)| format!("{}{column}", if desc { "-" } else { "" })),
            );
        } else {
            names.extend(self.ordering.iter().map(|s| (*s).to_owned()));
        }
        names.push(format!("-{}", meta.pk_column));
        qs = qs
            .order_by_names(names)
            .map_err(|e| BadQuery(e.to_string()))?;
        Ok((qs, search, order, page))
    }

    /// Every word of `text` in some search field.
    fn search(&self, text: &str) -> Result<Q<M>, BadQuery> {
        let mut all = Q::all();
        for word in text.split_whitespace() {
            let mut any = Q::none();
            for spec in &self.search_fields {
                let (op, field) = match spec.split_at_checked(1) {
                    Some(("^", rest)) => (LookupOp::IStartsWith, rest),
                    Some(("=", rest)) => (LookupOp::IExact, rest),
                    _ => (LookupOp::IContains, *spec),
                };
                let q = Q::<M>::named(field, op, word).map_err(|e| BadQuery(e.to_string()))?;
                any = any | q;
            }
            all = all & any;
        }
        Ok(all)
    }

    /// `?o=2.-1`: (column index, descending) pairs.
    fn parse_order(&self, value: &str) -> Result<Vec<(usize, bool)>, BadQuery> {
        let count = self.columns().len();
        let mut out: Vec<(usize, bool)> = Vec::new();
        for part in value.split('.').filter(|p| !p.is_empty()) {
            let (desc, digits) = match part.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            let index = digits
                .parse::<usize>()
                .ok()
                .filter(|i| (1..=count).contains(i))
                .ok_or_else(|| {
                    BadQuery(format!("`o={value}`: columns are numbered 1 to {count}"))
                })?;
            if out.iter().any(|&(i, _)| i == index - 1) {
                return Err(BadQuery(format!("`o={value}` names a column twice")));
            }
            out.push((index - 1, desc));
        }
        Ok(out)
    }

    fn filters(&self, params: &[(String, String)]) -> Vec<ListFilter> {
        let meta = M::meta();
        let mut out = Vec::new();
        for name in &self.list_filter {
            let Some(field) = meta.field(name) else {
                continue;
            };
            let current = params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let mut choices = vec![(
                "All".to_owned(),
                render::query_url(params, &[(name, None), (PAGE, None)]),
                current.is_none(),
            )];
            let values: Vec<(String, String)> = if field.sql_type == crate::db::SqlType::Bool {
                vec![
                    ("true".to_owned(), "Yes".to_owned()),
                    ("false".to_owned(), "No".to_owned()),
                ]
            } else {
                field
                    .choices
                    .iter()
                    .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
                    .collect()
            };
            for (value, label) in values {
                let selected = current == Some(value.as_str());
                choices.push((
                    label,
                    render::query_url(params, &[(name, Some(&value)), (PAGE, None)]),
                    selected,
                ));
            }
            out.push(ListFilter {
                label: crate::forms::model_form::field_label(field),
                choices,
            });
        }
        out
    }

    async fn list_page(
        &self,
        db: &Database,
        params: &[(String, String)],
    ) -> Result<Result<ListPage, BadQuery>, crate::Error> {
        let (qs, search, order, page) = match self.query(params) {
            Ok(parts) => parts,
            Err(bad) => return Ok(Err(bad)),
        };
        let meta = M::meta();
        let paginator = Paginator::new(qs, self.per_page);
        let count = paginator.count(db).await?;
        let num_pages = paginator.num_pages(db).await?;
        if page > num_pages.max(1) {
            return Ok(Err(BadQuery(format!(
                "page {page} is past the last page ({})",
                num_pages.max(1)
            ))));
        }
        let objects = paginator.page(db, page).await?.object_list;
        let total = if params.is_empty() {
            count
        } else {
            u64::try_from(M::objects().count(db).await?).unwrap_or(0)
        };
        let names = self.columns();
        let columns = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let sorted = order.iter().find(|(c, _)| *c == i).map(|&(_, desc)| desc);
                // Clicking puts the column first; again, turns it round.
                let first_desc = order.first().filter(|(c, _)| *c == i).map(|&(_, d)| !d);
                let mut keys = vec![(i, first_desc.unwrap_or(false))];
                keys.extend(order.iter().filter(|(c, _)| *c != i).copied());
                let o = keys
                    .iter()
                    .map(|&(c, desc)| format!("{}{}", if desc { "-" } else { "" }, c + 1))
                    .collect::<Vec<_>>()
                    .join(".");
                ListColumn {
                    label: meta
                        .field(name)
                        .map_or_else(|| (*name).to_owned(), crate::forms::model_form::field_label),
                    sort_url: render::query_url(params, &[(ORDER, Some(&o)), (PAGE, None)]),
                    sorted,
                }
            })
            .collect();
        let rows = objects
            .iter()
            .map(|obj| {
                let pk = obj
                    .pk()
                    .map(|pk| render::key(&pk.to_value()))
                    .unwrap_or_default();
                let cells = names
                    .iter()
                    .map(|name| {
                        let field = meta.field(name);
                        let value = obj.field_value(name).unwrap_or(Value::String(None));
                        field.map_or_else(|| render::value(&value), |f| render::cell(f, &value))
                    })
                    .collect();
                (pk, cells)
            })
            .collect();
        let related = names
            .iter()
            .enumerate()
            .filter_map(|(column, name)| {
                let field = meta.field(name)?;
                let relation = field.relation.filter(|_| field.column.is_some())?;
                let keys = objects
                    .iter()
                    .map(|obj| obj.field_value(name).unwrap_or(Value::String(None)))
                    .collect();
                Some(Related {
                    column,
                    target: (relation.target)(),
                    keys,
                })
            })
            .collect();
        let pages = render::page_links(page, num_pages, |n| {
            render::query_url(params, &[(PAGE, Some(&n.to_string()))])
        });
        Ok(Ok(ListPage {
            columns,
            rows,
            related,
            filters: self.filters(params),
            search,
            searchable: !self.search_fields.is_empty(),
            count,
            total,
            page,
            num_pages,
            pages,
        }))
    }

    async fn form_page(
        &self,
        db: &Database,
        pk: Option<&str>,
        data: Option<FormData>,
    ) -> Result<Option<FormOutcome>, crate::Error> {
        let instance = match pk {
            None => M::default(),
            Some(pk) => match Self::object(db, pk).await? {
                Some(obj) => obj,
                None => return Ok(None),
            },
        };
        let before: Vec<(&'static str, Option<Value>)> = M::meta()
            .fields
            .iter()
            .map(|f| (f.name, instance.field_value(f.name)))
            .collect();
        let form = self.form(instance)?;
        let Some(data) = data else {
            let form = form.load(db).await?;
            return Ok(Some(FormOutcome::Show {
                multipart: form.is_multipart(),
                html: form.as_div().to_string(),
            }));
        };
        let form = form.bind(db, data).await?;
        let labels: Vec<(String, String)> = form
            .bound_fields()
            .map(|f| (f.name().to_owned(), f.label().to_owned()))
            .collect();
        match form.save(db).await? {
            Ok(obj) => {
                let changed = labels
                    .into_iter()
                    .filter(|(name, _)| {
                        let old = before
                            .iter()
                            .find(|(n, _)| n == name)
                            .and_then(|(_, v)| v.clone());
                        old != obj.field_value(name)
                    })
                    .map(|(_, label)| label)
                    .collect();
                Ok(Some(FormOutcome::Saved {
                    pk: obj
                        .pk()
                        .map(|pk| render::key(&pk.to_value()))
                        .unwrap_or_default(),
                    title: self.title_of(&obj),
                    changed,
                }))
            }
            Err(form) => Ok(Some(FormOutcome::Show {
                multipart: form.is_multipart(),
                html: form.as_div().to_string(),
            })),
        }
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
        for name in &self.list_display {
            if !column(name) {
                out.push(format!("list_display names `{name}`, which is not a field"));
            }
        }
        for spec in &self.search_fields {
            let name = spec.trim_start_matches(['^', '=']);
            match meta.field(name) {
                Some(f) if f.column.is_some() && f.sql_type == crate::db::SqlType::String => {}
                _ => out.push(format!(
                    "search_fields names `{spec}`, which is not a text field"
                )),
            }
        }
        for name in &self.list_filter {
            if !column(name) {
                out.push(format!("list_filter names `{name}`, which is not a field"));
            }
            if [SEARCH, ORDER, PAGE].contains(name) {
                out.push(format!(
                    "list_filter cannot name `{name}`: the list's query string uses it"
                ));
            }
        }
        for name in &self.ordering {
            if !column(name.trim_start_matches('-')) {
                out.push(format!("ordering names `{name}`, which is not a field"));
            }
        }
        for name in &self.fields {
            if meta.field(name).is_none() {
                out.push(format!("fields names `{name}`, which is not a field"));
            }
        }
        out
    }

    fn list<'a>(
        &'a self,
        db: &'a Database,
        params: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<Result<ListPage, BadQuery>, crate::Error>> {
        Box::pin(self.list_page(db, params))
    }

    fn form<'a>(
        &'a self,
        db: &'a Database,
        pk: Option<&'a str>,
        data: Option<FormData>,
    ) -> BoxFuture<'a, Result<Option<FormOutcome>, crate::Error>> {
        Box::pin(self.form_page(db, pk, data))
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
        pk: &'a str,
        confirm: bool,
    ) -> BoxFuture<'a, Result<Option<Deleted>, crate::Error>> {
        Box::pin(async move {
            let Some(obj) = Self::object(db, pk).await? else {
                return Ok(None);
            };
            let tx = db.begin().await?;
            let deleted = obj.delete_counted(&tx).await?;
            if confirm {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(Some(deleted))
        })
    }
}
