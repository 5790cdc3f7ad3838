//! Inline formsets: the rows of a child model that point at one parent
//! (the comments under an article), edited in one `<form>`: changed,
//! added and deleted in one submit (Django's `inlineformset_factory`).
//!
//! ```
//! use manouche::db::{Auto, Database, ForeignKey, Model, Reverse, schema};
//! use manouche::forms::{FormData, InlineFormSet};
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "blog", impl_default)]
//! pub struct Article {
//!     pub id: Auto<i64>,
//!     pub title: String,
//!     #[model(related_field = "article")]
//!     pub comments: Reverse<Comment>,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "blog", impl_default)]
//! pub struct Comment {
//!     pub id: Auto<i64>,
//!     pub article: ForeignKey<Article>,
//!     #[model(max_length = 200)]
//!     pub text: String,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! schema::create_tables(&db, &[Article::schema(), Comment::schema()]).await?;
//! let mut article = Article { title: "Hi".into(), ..Default::default() };
//! article.save(&db).await?;
//!
//! // What the page shows: the comments, then one empty form (`extra`).
//! let formset = InlineFormSet::<Article, Comment>::new().load(&db, &article).await?;
//! assert_eq!(formset.forms().len(), 1);
//! assert!(formset.management_form().as_str().contains(r#"name="comments-TOTAL_FORMS" value="1""#));
//!
//! // What comes back.
//! let data = FormData::from_pairs([
//!     ("comments-TOTAL_FORMS", "1"),
//!     ("comments-INITIAL_FORMS", "0"),
//!     ("comments-0-id", ""),
//!     ("comments-0-text", "First!"),
//! ]);
//! let formset = InlineFormSet::<Article, Comment>::new().bind(&db, &article, data).await?;
//! let saved = formset.save(&db, &article).await?.expect("valid");
//! assert_eq!(saved.created[0].text, "First!");
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```
//!
//! # The management form
//!
//! The page carries, as hidden inputs, how many forms it drew
//! (`<prefix>-TOTAL_FORMS`), how many of them edit an existing row
//! (`INITIAL_FORMS`), and the bounds (`MIN_NUM_FORMS`, `MAX_NUM_FORMS`),
//! under Django's names, so that a page's JavaScript that adds a form
//! works unchanged. The prefix is the parent's reverse relation field
//! (`comments`), else `<child>_set`. Each form is prefixed
//! `<prefix>-<n>` and carries its row's key in a hidden input.
//!
//! # Bad input
//!
//! Nothing a client sends makes the server build more than
//! [`absolute_max`](InlineFormSet::absolute_max) forms (1,000 more than
//! `max_num` by default, as Django): a larger `TOTAL_FORMS` is the error
//! "Please submit at most 1000 forms.". A management form missing or not
//! a number is the error "ManagementForm data is missing or has been
//! tampered with..." and no form is read. A form that claims to edit a
//! row that is not one of the parent's is an error on its key field.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::sync::Arc;

use sea_query::Value;

use super::bound::{SafeHtml, html_name};
use super::bound_field::error_list;
use super::data::FormData;
use super::field::{Field, is_checked};
use super::model_form::{ModelForm, text_list, value_to_text};
use super::validators::ValidationError;
use super::widgets::{Widget, escape_into};
use crate::db::Executor;
use crate::db::fields::FieldType;
use crate::db::model::{FieldMeta, Model, RelationKind};
use crate::db::query::{Q, QuerySet};
use crate::db::{Error, Result};

/// Django's `DEFAULT_MAX_NUM`: `max_num` when none is given, and how far
/// `absolute_max` is above it.
pub const DEFAULT_MAX_NUM: usize = 1000;

/// The management form's field names, without the prefix.
const TOTAL_FORMS: &str = "TOTAL_FORMS";
const INITIAL_FORMS: &str = "INITIAL_FORMS";
const MIN_NUM_FORMS: &str = "MIN_NUM_FORMS";
const MAX_NUM_FORMS: &str = "MAX_NUM_FORMS";
/// The name of the delete box of each form.
const DELETE: &str = "DELETE";

/// What [`InlineFormSet::save`] did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Saved<M> {
    /// The rows added.
    pub created: Vec<M>,
    /// The rows changed.
    pub changed: Vec<M>,
    /// The rows deleted.
    pub deleted: Vec<M>,
}

/// The rows of `C` whose foreign key points at one `P`, as a list of
/// [`ModelForm`]s with a management form (see the [module docs](self)).
///
/// Configure it, then [`load`](Self::load) it to show it or
/// [`bind`](Self::bind) it to a submission, then [`save`](Self::save) it.
/// New rows start as `C::default()` with the key to the parent set.
pub struct InlineFormSet<P: Model, C: Model> {
    fk_name: Option<&'static str>,
    names: Option<Vec<&'static str>>,
    exclude: Vec<&'static str>,
    prefix: Option<String>,
    extra: usize,
    min_num: usize,
    max_num: usize,
    absolute_max: Option<usize>,
    validate_min: bool,
    validate_max: bool,
    can_delete: bool,
    forms: Vec<ModelForm<C>>,
    initial_count: usize,
    /// For each form: the delete box is ticked (and deleting is allowed).
    deleted: Vec<bool>,
    /// For each form: it was left as shown (an extra form not filled in).
    unchanged: Vec<bool>,
    errors: Vec<ValidationError>,
    bound: bool,
    _parent: PhantomData<fn() -> P>,
}

impl<P: Model, C: Model> std::fmt::Debug for InlineFormSet<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineFormSet")
            .field("parent", &P::meta().name)
            .field("child", &C::meta().name)
            .field("forms", &self.forms)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl<P: Model, C: Model + Default> Default for InlineFormSet<P, C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Model, C: Model + Default> InlineFormSet<P, C> {
    /// A formset with Django's defaults: every editable field of `C` but
    /// the key to `P`, one extra form, deleting allowed, `max_num` 1,000.
    #[must_use]
    pub fn new() -> Self {
        Self {
            fk_name: None,
            names: None,
            exclude: Vec::new(),
            prefix: None,
            extra: 1,
            min_num: 0,
            max_num: DEFAULT_MAX_NUM,
            absolute_max: None,
            validate_min: false,
            validate_max: false,
            can_delete: true,
            forms: Vec::new(),
            initial_count: 0,
            deleted: Vec::new(),
            unchanged: Vec::new(),
            errors: Vec::new(),
            bound: false,
            _parent: PhantomData,
        }
    }

    /// The foreign key of `C` to use, when it has several to `P`.
    #[must_use]
    pub fn fk_name(mut self, name: &'static str) -> Self {
        self.fk_name = Some(name);
        self
    }

    /// The fields of each form, in order (Django's `fields`).
    #[must_use]
    pub fn fields(mut self, names: &[&'static str]) -> Self {
        self.names = Some(names.to_vec());
        self
    }

    /// Fields to leave out (Django's `exclude`).
    #[must_use]
    pub fn exclude(mut self, names: &[&'static str]) -> Self {
        self.exclude = names.to_vec();
        self
    }

    /// The prefix of every field name (default: the parent's reverse
    /// relation, e.g. `comments`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// How many empty forms are shown after the existing rows (default 1).
    #[must_use]
    pub fn extra(mut self, n: usize) -> Self {
        self.extra = n;
        self
    }

    /// How many forms are shown at least (default 0).
    #[must_use]
    pub fn min_num(mut self, n: usize) -> Self {
        self.min_num = n;
        self
    }

    /// How many forms are shown at most (default 1,000; existing rows are
    /// always shown).
    #[must_use]
    pub fn max_num(mut self, n: usize) -> Self {
        self.max_num = n;
        self
    }

    /// How many forms a submission may hold at all, whatever it says
    /// (default `max_num` + 1,000): a hard bound against a forged
    /// `TOTAL_FORMS`. Raised to `max_num` if below it.
    #[must_use]
    pub fn absolute_max(mut self, n: usize) -> Self {
        self.absolute_max = Some(n);
        self
    }

    /// Refuse a submission with fewer than `min_num` forms filled in.
    #[must_use]
    pub fn validate_min(mut self, yes: bool) -> Self {
        self.validate_min = yes;
        self
    }

    /// Refuse a submission with more than `max_num` forms.
    #[must_use]
    pub fn validate_max(mut self, yes: bool) -> Self {
        self.validate_max = yes;
        self
    }

    /// Whether each form has a "Delete" box (default: yes).
    #[must_use]
    pub fn can_delete(mut self, yes: bool) -> Self {
        self.can_delete = yes;
        self
    }

    fn bound_max(&self) -> usize {
        self.absolute_max
            .unwrap_or(self.max_num.saturating_add(DEFAULT_MAX_NUM))
            .max(self.max_num)
    }

    /// The foreign key of `C` pointing at `P`: the one named by
    /// [`fk_name`](Self::fk_name), else the only one.
    ///
    /// # Errors
    ///
    /// [`Error::Definition`] when `C` has no foreign key to `P`, or
    /// several and no `fk_name` chose one.
    pub fn fk_field(&self) -> Result<&'static FieldMeta> {
        self.fk()
    }

    fn fk(&self) -> Result<&'static FieldMeta> {
        let child = C::meta();
        let parent = P::meta();
        let candidates: Vec<&'static FieldMeta> = child
            .column_fields()
            .filter(|f| {
                f.relation.is_some_and(|r| {
                    matches!(r.kind, RelationKind::ForeignKey | RelationKind::OneToOne)
                        && (r.target)().table == parent.table
                })
            })
            .filter(|f| self.fk_name.is_none_or(|name| f.name == name))
            .collect();
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::Definition(format!(
                "{} has no foreign key to {}{}",
                child.name,
                parent.name,
                self.fk_name
                    .map(|n| format!(" called `{n}`"))
                    .unwrap_or_default()
            ))),
            _ => Err(Error::Definition(format!(
                "{} has several foreign keys to {}: choose one with `fk_name`",
                child.name, parent.name
            ))),
        }
    }

    /// The prefix: the one given, else the parent's reverse relation over
    /// this key, else `<child>_set` (Django's default).
    #[must_use]
    pub fn prefix_name(&self) -> String {
        if let Some(p) = &self.prefix {
            return p.clone();
        }
        let fk = self.fk().ok().map(|f| f.name);
        P::meta()
            .fields
            .iter()
            .find(|f| {
                f.relation.is_some_and(|r| {
                    r.kind == RelationKind::Reverse
                        && (r.target)().table == C::meta().table
                        && r.related_field == fk
                })
            })
            .map_or_else(
                || format!("{}_set", C::meta().model_name()),
                |f| f.name.to_owned(),
            )
    }

    /// One form for `instance`, numbered `index`, with the key input and
    /// the delete box.
    fn form(&self, instance: C, index: usize, fk: &'static FieldMeta) -> Result<ModelForm<C>> {
        let mut form = ModelForm::new(instance);
        if let Some(names) = &self.names {
            form = form.fields(names).map_err(|e| definition(&e))?;
        }
        let mut exclude: Vec<&str> = self.exclude.clone();
        if form.field(fk.name).is_ok() {
            exclude.push(fk.name);
        }
        let pk = C::meta()
            .pk_field()
            .ok_or_else(|| Error::Definition(format!("{} has no primary key", C::meta().name)))?;
        if form.field(pk.name).is_ok() {
            // A key typed in by the user is edited as a field; it is not
            // also the hidden input.
            exclude.push(pk.name);
        }
        form = form.exclude(&exclude).map_err(|e| definition(&e))?;
        let mut key = Field::new(pk.name);
        key.set_widget(Widget::hidden()).set_required(false);
        if let Some(text) = form.original_pk().and_then(value_to_text) {
            key.set_initial(vec![text]);
        }
        form.push_field(key);
        if self.can_delete {
            let mut delete = Field::new(DELETE);
            delete
                .set_label("Delete")
                .set_widget(Widget::checkbox())
                .set_required(false);
            form.push_field(delete);
        }
        Ok(form.prefixed(format!("{}-{index}", self.prefix_name())))
    }

    /// A new row under `parent`.
    fn new_child(fk: &'static FieldMeta, parent_pk: Option<&Value>) -> Result<C> {
        let mut child = C::default();
        if let Some(pk) = parent_pk {
            child.set_field_value(fk.name, pk.clone())?;
        }
        Ok(child)
    }

    /// The parent's rows, at most `limit`, in the child's ordering (by
    /// key when it has none).
    async fn existing(
        &self,
        db: &dyn Executor,
        fk: &'static FieldMeta,
        parent_pk: Option<&Value>,
        limit: usize,
    ) -> Result<Vec<C>> {
        let (Some(pk), Some(column)) = (parent_pk, fk.column) else {
            return Ok(Vec::new());
        };
        let mut query = QuerySet::<C>::new().filter(Q::column_eq(column, pk.clone()));
        if C::meta().ordering.is_empty()
            && let Some(key) = C::meta().pk_field()
        {
            query = query.order_by_names([key.name])?;
        }
        query.limit(limit as u64).all(db).await
    }

    /// The formset to show: a form per row of `parent` (all of them), then
    /// `extra` empty ones, within `max_num`.
    ///
    /// # Errors
    ///
    /// The database's error; [`Error::Definition`] when `C` has no
    /// foreign key to `P` (or several, and no [`fk_name`](Self::fk_name)),
    /// or a field name given is not one of `C`'s.
    pub async fn load(mut self, db: &dyn Executor, parent: &P) -> Result<Self> {
        let fk = self.fk()?;
        let parent_pk = parent.pk().map(|pk| pk.to_value());
        let rows = self
            .existing(db, fk, parent_pk.as_ref(), self.bound_max())
            .await?;
        let initial = rows.len();
        // Django's total_form_count for an unbound formset.
        let mut total = initial.max(self.min_num) + self.extra;
        if initial > self.max_num {
            total = initial;
        } else if total > self.max_num {
            total = self.max_num;
        }
        let mut template = self.form(Self::new_child(fk, parent_pk.as_ref())?, 0, fk)?;
        template.load_choices(db).await?;
        let mut forms = Vec::with_capacity(total);
        let mut rows = rows.into_iter();
        for i in 0..total {
            let instance = match rows.next() {
                Some(row) => row,
                None => Self::new_child(fk, parent_pk.as_ref())?,
            };
            let mut form = self.form(instance, i, fk)?;
            form.copy_choices(&template);
            form.load_many_initial(db).await?;
            forms.push(form);
        }
        self.initial_count = initial;
        self.deleted = vec![false; forms.len()];
        self.unchanged = vec![true; forms.len()];
        self.forms = forms;
        Ok(self)
    }

    /// Reads a management form count: a whole number (a huge one is
    /// `usize::MAX`, a negative one 0), or `None`.
    fn count(data: &FormData, name: &str) -> Option<usize> {
        let text = data.get(name)?.trim();
        let digits = text.strip_prefix('+').unwrap_or(text);
        if let Some(negative) = digits.strip_prefix('-') {
            return (!negative.is_empty() && negative.bytes().all(|b| b.is_ascii_digit()))
                .then_some(0);
        }
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(digits.parse().unwrap_or(usize::MAX))
    }

    /// The formset bound to `data` and validated: each form not deleted
    /// and not left empty, the counts, and duplicates between forms.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load); what the user got wrong is a form error
    /// ([`non_form_errors`](Self::non_form_errors), each form's own).
    pub async fn bind(mut self, db: &dyn Executor, parent: &P, data: FormData) -> Result<Self> {
        let fk = self.fk()?;
        let prefix = self.prefix_name();
        let parent_pk = parent.pk().map(|pk| pk.to_value());
        self.bound = true;
        self.errors.clear();
        let total_name = format!("{prefix}-{TOTAL_FORMS}");
        let initial_name = format!("{prefix}-{INITIAL_FORMS}");
        let total = Self::count(&data, &total_name);
        let initial = Self::count(&data, &initial_name);
        let (Some(total), Some(initial)) = (total, initial) else {
            let missing: Vec<&str> = [(&total_name, total), (&initial_name, initial)]
                .into_iter()
                .filter(|(_, n)| n.is_none())
                .map(|(name, _)| name.as_str())
                .collect();
            self.errors.push(
                ValidationError::new(format!(
                    "ManagementForm data is missing or has been tampered with. Missing fields: \
                     {}. You may need to file a bug report if the issue persists.",
                    missing.join(", ")
                ))
                .with_code("missing_management_form"),
            );
            self.forms.clear();
            self.deleted.clear();
            self.unchanged.clear();
            self.initial_count = 0;
            return Ok(self);
        };
        let bound_max = self.bound_max();
        if total > bound_max {
            self.errors.push(too_many(self.max_num));
        }
        let total = total.min(bound_max);
        let initial = initial.min(total);
        let rows = self.existing(db, fk, parent_pk.as_ref(), bound_max).await?;
        let mut rows: HashMap<String, C> = rows
            .into_iter()
            .filter_map(|row| {
                let key = row.pk().and_then(|pk| value_to_text(&pk.to_value()))?;
                Some((key, row))
            })
            .collect();
        let key_name = C::meta().pk_field().map_or("id", |f| f.name);
        let shared = Arc::new(data);
        let data = &*shared;
        let mut template = self.form(Self::new_child(fk, parent_pk.as_ref())?, 0, fk)?;
        template.load_choices(db).await?;
        let mut forms = Vec::with_capacity(total);
        let mut deleted = Vec::with_capacity(total);
        let mut unchanged = Vec::with_capacity(total);
        for i in 0..total {
            let form_prefix = format!("{prefix}-{i}");
            let mut claimed_bad_key = false;
            let instance = if i < initial {
                let key = data
                    .get(&html_name(Some(&form_prefix), key_name))
                    .unwrap_or_default()
                    .trim();
                match rows.remove(key) {
                    Some(row) => row,
                    None => {
                        claimed_bad_key = true;
                        Self::new_child(fk, parent_pk.as_ref())?
                    }
                }
            } else {
                Self::new_child(fk, parent_pk.as_ref())?
            };
            let mut form = self.form(instance, i, fk)?;
            form.copy_choices(&template);
            form.load_many_initial(db).await?;
            form.set_data(Arc::clone(&shared));
            let delete = self.can_delete
                && is_checked(&data.get_all(&html_name(Some(&form_prefix), DELETE)));
            let empty = i >= initial && i >= self.min_num && !form.has_changed();
            if !(delete || empty) {
                form.full_clean(db).await?;
                if claimed_bad_key {
                    form.add_error(
                        Some(key_name),
                        ValidationError::new(
                            "Select a valid choice. That choice is not one of the available \
                             choices.",
                        )
                        .with_code("invalid_choice"),
                    );
                }
            }
            deleted.push(delete);
            unchanged.push(empty);
            forms.push(form);
        }
        self.forms = forms;
        self.deleted = deleted;
        self.unchanged = unchanged;
        self.initial_count = initial;
        self.check_counts(total);
        self.check_duplicates();
        Ok(self)
    }

    /// Django's formset `full_clean`: `validate_max` and `validate_min`.
    fn check_counts(&mut self, total: usize) {
        let deleted = self.deleted.iter().filter(|d| **d).count();
        let empty = self
            .unchanged
            .iter()
            .zip(&self.deleted)
            .filter(|(empty, deleted)| **empty && !**deleted)
            .count();
        if self.validate_max
            && total - deleted > self.max_num
            && !self.errors.iter().any(|e| e.code() == "too_many_forms")
        {
            self.errors.push(too_many(self.max_num));
        }
        if self.validate_min && total - deleted - empty < self.min_num {
            let n = self.min_num;
            self.errors.push(
                ValidationError::new(format!(
                    "Please submit at least {n} {}.",
                    if n == 1 { "form" } else { "forms" }
                ))
                .with_code("too_few_forms"),
            );
        }
    }

    /// Django's `BaseModelFormSet.validate_unique`: two forms of one
    /// submission with the same unique value (the key to the parent, the
    /// same for all, left out of the comparison).
    fn check_duplicates(&mut self) {
        let fk = self.fk().ok().map(|f| f.name);
        let Some(first) = self.forms.first() else {
            return;
        };
        let checks = first.unique_checks();
        let mut duplicated: Vec<usize> = Vec::new();
        for check in checks {
            let mut seen = HashSet::new();
            for (i, form) in self.forms.iter().enumerate() {
                if self.deleted[i] || self.unchanged[i] || !form.is_valid() {
                    continue;
                }
                let Some(values) = form.values_of(&check) else {
                    continue;
                };
                let key = format!("{values:?}");
                if !seen.insert(key) {
                    duplicated.push(i);
                    let names: Vec<String> = check
                        .iter()
                        .filter(|f| Some(f.name) != fk)
                        .map(|f| f.name.to_owned())
                        .collect();
                    let message = if names.len() == 1 {
                        format!("Please correct the duplicate data for {}.", names[0])
                    } else {
                        format!(
                            "Please correct the duplicate data for {}, which must be unique.",
                            text_list(&names, "and")
                        )
                    };
                    if !self.errors.iter().any(|e| e.message() == message) {
                        self.errors
                            .push(ValidationError::new(message).with_code("unique"));
                    }
                }
            }
        }
        for i in duplicated {
            self.forms[i].add_error(None, "Please correct the duplicate values below.");
        }
    }

    /// Whether the formset is bound, its management form and counts are
    /// right, and every form that counts is valid (deleted forms and extra
    /// forms left empty do not).
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.bound
            && self.errors.is_empty()
            && self
                .forms
                .iter()
                .enumerate()
                .all(|(i, f)| self.deleted[i] || self.unchanged[i] || f.is_valid())
    }

    /// Whether the formset has data.
    #[must_use]
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// The forms, existing rows first.
    #[must_use]
    pub fn forms(&self) -> &[ModelForm<C>] {
        &self.forms
    }

    /// The forms, to change a field or add an error.
    pub fn forms_mut(&mut self) -> &mut [ModelForm<C>] {
        &mut self.forms
    }

    /// The errors of the formset as a whole (Django's
    /// `non_form_errors`): the management form, the counts, duplicates.
    #[must_use]
    pub fn errors(&self) -> &[ValidationError] {
        &self.errors
    }

    /// Adds an error to the formset as a whole.
    pub fn add_error(&mut self, error: impl Into<ValidationError>) {
        self.errors.push(error.into());
    }

    /// [`errors`](Self::errors) as `<ul class="errorlist nonform">`.
    #[must_use]
    pub fn non_form_errors(&self) -> SafeHtml {
        let mut out = String::new();
        error_list(
            &mut out,
            "errorlist nonform",
            None,
            self.errors.iter().map(ValidationError::message),
        );
        SafeHtml(out)
    }

    /// The hidden inputs of the management form: the forms drawn, those
    /// of existing rows, and the bounds.
    #[must_use]
    pub fn management_form(&self) -> SafeHtml {
        let prefix = self.prefix_name();
        let mut out = String::new();
        for (name, value) in [
            (TOTAL_FORMS, self.forms.len()),
            (INITIAL_FORMS, self.initial_count),
            (MIN_NUM_FORMS, self.min_num),
            (MAX_NUM_FORMS, self.max_num),
        ] {
            let name = format!("{prefix}-{name}");
            out.push_str("<input type=\"hidden\" name=\"");
            escape_into(&mut out, &name);
            let _ = write!(out, "\" value=\"{value}\" id=\"id_");
            escape_into(&mut out, &name);
            out.push_str("\">");
        }
        SafeHtml(out)
    }

    /// The management form, the formset's errors, then each form's
    /// `as_div()`.
    #[must_use]
    pub fn as_div(&self) -> SafeHtml {
        let mut out = self.management_form().0;
        out.push_str(self.non_form_errors().as_str());
        for form in &self.forms {
            out.push_str(form.as_div().as_str());
        }
        SafeHtml(out)
    }

    /// Writes the submission under `parent`, in one transaction: the rows
    /// whose delete box is ticked are deleted, the changed ones updated,
    /// the filled-in extra forms added (with the key to `parent`). Gives
    /// the formset back when it is not valid, or when the database refused
    /// a duplicate (the error is then on its form's field).
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] when `parent` has no key yet; any other
    /// database error.
    // The formset comes back whole, to be shown again.
    #[allow(clippy::result_large_err)]
    pub async fn save(mut self, db: &dyn Executor, parent: &P) -> Result<Result<Saved<C>, Self>> {
        if !self.is_valid() {
            return Ok(Err(self));
        }
        let fk = self.fk()?;
        let parent_pk = parent.pk().map(|pk| pk.to_value()).ok_or(Error::NotSaved {
            model: P::meta().name,
            action: "saving its inline formset",
        })?;
        let tx = db.begin().await?;
        let mut failed = None;
        let mut plan = Vec::new();
        for (i, form) in self.forms.iter_mut().enumerate() {
            let existing = form.original_pk().is_some() && i < self.initial_count;
            if self.deleted[i] {
                if existing {
                    plan.push((i, Action::Delete));
                }
                continue;
            }
            if self.unchanged[i] || !form.has_changed() {
                continue;
            }
            if !existing {
                form.instance_mut()
                    .set_field_value(fk.name, parent_pk.clone())?;
            }
            plan.push((
                i,
                if existing {
                    Action::Change
                } else {
                    Action::Create
                },
            ));
        }
        for (i, action) in &plan {
            let form = &mut self.forms[*i];
            let result = match action {
                Action::Delete => form.instance().delete(&tx).await.map(|_| ()),
                _ => form.save_in(&tx).await,
            };
            if let Err(e) = result {
                failed = Some((*i, e));
                break;
            }
        }
        let Some((i, e)) = failed else {
            tx.commit().await?;
            let mut saved = Saved {
                created: Vec::new(),
                changed: Vec::new(),
                deleted: Vec::new(),
            };
            let mut forms: Vec<Option<ModelForm<C>>> = self.forms.into_iter().map(Some).collect();
            for (i, action) in plan {
                let Some(form) = forms[i].take() else {
                    continue;
                };
                let row = form.into_instance();
                match action {
                    Action::Create => saved.created.push(row),
                    Action::Change => saved.changed.push(row),
                    Action::Delete => saved.deleted.push(row),
                }
            }
            return Ok(Ok(saved));
        };
        let _ = tx.rollback().await;
        for (j, action) in &plan {
            self.forms[*j].discard_stored().await;
            if matches!(action, Action::Create) {
                self.forms[*j].forget_insert();
            }
        }
        match e {
            Error::UniqueViolation { fields, .. } => {
                self.forms[i].unique_violation(&fields);
                Ok(Err(self))
            }
            other => Err(other),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Create,
    Change,
    Delete,
}

fn too_many(max_num: usize) -> ValidationError {
    ValidationError::new(format!(
        "Please submit at most {max_num} {}.",
        if max_num == 1 { "form" } else { "forms" }
    ))
    .with_code("too_many_forms")
}

fn definition(e: &super::UnknownField) -> Error {
    Error::Definition(format!("inline formset: {e}"))
}

impl<P: Model, C: Model + Default> std::fmt::Display for InlineFormSet<P, C> {
    /// `{{ formset }}` is [`as_div`](Self::as_div).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_div().as_str())
    }
}

impl<P: Model, C: Model + Default> askama::filters::HtmlSafe for InlineFormSet<P, C> {}
