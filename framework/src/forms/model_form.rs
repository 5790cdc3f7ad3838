//! Model forms: a form for a model's fields, built from its [`ModelMeta`]
//! at run time (Django's `ModelForm`), so that a view (or the admin) needs
//! no form struct of its own.
//!
//! ```
//! use manouche::db::{Auto, Database, ForeignKey, ManyToMany, Model, schema};
//! use manouche::forms::{FormData, ModelForm};
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "blog", impl_default)]
//! pub struct Tag {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 50, unique)]
//!     pub name: String,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "blog", impl_default)]
//! pub struct Post {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 200)]
//!     pub title: String,
//!     #[model(blank)]
//!     pub tags: ManyToMany<Tag>,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! schema::create_tables(&db, &[Tag::schema(), Post::schema()]).await?;
//! let mut rust = Tag { name: "rust".into(), ..Default::default() };
//! rust.save(&db).await?;
//!
//! // A new post: every editable field, the tags as a <select multiple>.
//! let data = FormData::from_pairs([("title", "Hello"), ("tags", "1")]);
//! let form = ModelForm::new(Post::default()).bind(&db, data).await?;
//! assert!(form.is_valid());
//! let post = form.save(&db).await?.expect("valid");
//! assert_eq!(post.tags.all(&db).await?.len(), 1);
//!
//! // A tag name taken: an error on the field, before anything is written.
//! let data = FormData::from_pairs([("name", "rust")]);
//! let form = ModelForm::new(Tag::default()).bind(&db, data).await?;
//! assert_eq!(form.errors().field("name")[0].message(), "Tag with this Name already exists.");
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```
//!
//! # What the form holds
//!
//! Every field a user can edit, in declaration order, unless
//! [`fields`](ModelForm::fields) or [`exclude`](ModelForm::exclude) say
//! otherwise. Keys the database generates, `auto_now` dates, reverse
//! relations, many-to-many fields with a `through` model and bytes are
//! never in it. Each field is drawn as its type asks:
//!
//! | model field | form field |
//! |---|---|
//! | `String` with `max_length` / without | text input with `maxlength` / textarea |
//! | `Email`, `Url`, `Slug` | email / url / text input, checked as such |
//! | integers, `f64`, `Decimal` | number input (a decimal's `step` from its places) |
//! | `bool` | checkbox, never required |
//! | `Date`, `Time`, `DateTime` | the browser's pickers |
//! | `#[model(choices)]` | `<select>` of the choices |
//! | `ForeignKey<T>`, `OneToOne<T>` | `<select>` of `T`'s rows |
//! | `ManyToMany<T>` | `<select multiple>` of `T`'s rows; required unless `blank` |
//! | `Option<T>` | as `T`, not required (empty is `NULL`) |
//!
//! A relation's choices are read from the database by
//! [`load`](ModelForm::load) (which [`bind`](ModelForm::bind) calls):
//! each row's key, labelled with its first text column (a `Tag`'s `name`),
//! or "Tag object (1)" when it has none. Set other choices with
//! [`field_mut`](ModelForm::field_mut) before loading: only those are then
//! accepted.
//!
//! # Validation (Django's `_post_clean`)
//!
//! [`bind`](ModelForm::bind) parses each field (the messages are Django's),
//! writes the values into the instance, runs [`Model::full_clean`], then
//! checks `unique` fields and `unique_together` sets against the table
//! (Django's `validate_unique`), leaving out the instance's own row. A
//! `unique` value taken is an error on its field ("Tag with this Name
//! already exists."); a `unique_together` set taken is an error on its one
//! field in the form, or on the whole form when several of its fields are
//! in it, as in Django. Should another request take the value between the
//! check and the save, [`save`](ModelForm::save) turns the database's
//! refusal into the same error: never a 500.

mod fields;

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use sea_query::Value;

use super::bound::{FormState, SafeHtml, html_name};
use super::bound_field::BoundField;
use super::data::FormData;
use super::field::Field;
use super::files::UploadedFile;
use super::validators::ValidationError;
use super::widgets::{CurrentFile, clear_checkbox_name};
use super::{FieldValue, FormErrors, UnknownField};
use crate::db::Executor;
use crate::db::fields::{FieldType, IMAGE_EXTENSIONS};
use crate::db::model::{FieldMeta, Model, ModelMeta, is_null_value};
use crate::db::query::{Q, QuerySet};
use crate::db::relations::join_table;
use crate::db::sql::choices;
use crate::db::{Error, Result, SqlType};
use crate::storage::{DefaultStorage, Storage};

pub(crate) use fields::{capfirst, field_label, has_changed, value_to_text};

/// A form editing one instance of `M`, its fields described by
/// `M::meta()` (see the [module docs](self)).
///
/// - [`ModelForm::new`] takes the instance: `M::default()` (or one with
///   some fields set by the view, such as the author) to create a row, one
///   read from the database to change it.
/// - [`load`](Self::load) reads the choices of its relations, for a form
///   to show; [`bind`](Self::bind) also takes a submission and validates
///   it, database checks included.
/// - [`save`](Self::save) writes the instance and its many-to-many
///   relations in one transaction and gives it back.
/// - In a template it draws as a [`BoundForm`](super::BoundForm) does:
///   `{{ form }}`, or field by field.
pub struct ModelForm<M: Model> {
    state: FormState,
    /// The model field each form field edits, in the order of
    /// `state.fields`; `None` for a field the form adds (a formset's
    /// `DELETE` box).
    model_fields: Vec<Option<&'static FieldMeta>>,
    instance: M,
    /// The key of the row the instance was read from, before the form
    /// changed anything: the row the unique checks leave out.
    original_pk: Option<Value>,
    /// The keys chosen for each many-to-many field, once cleaned.
    many: Vec<(&'static FieldMeta, Vec<Value>)>,
    /// The files uploaded to file fields, once cleaned: stored on save.
    uploads: Vec<PendingUpload>,
    /// Where uploads go; the project's `DefaultStorage` when unset.
    storage: Option<Arc<dyn Storage>>,
    /// The names stored by a save in progress, removed if it fails.
    stored: Vec<String>,
    /// Relation fields whose choices are only the rows chosen (see
    /// [`look_up`](Self::look_up)).
    looked_up: Vec<&'static str>,
    loaded: bool,
    valid: bool,
}

impl<M: Model> fmt::Debug for ModelForm<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelForm")
            .field("model", &M::meta().name)
            .field(
                "fields",
                &self
                    .state
                    .fields
                    .iter()
                    .map(Field::name)
                    .collect::<Vec<_>>(),
            )
            .field("bound", &self.state.data.is_some())
            .field("errors", &self.state.errors)
            .finish_non_exhaustive()
    }
}

/// What cleaning one model field gives.
enum Cleaned {
    Column(Value),
    Many(Vec<Value>),
    /// A file field's new upload.
    Upload(UploadedFile),
    /// A file field left empty that keeps the instance's file.
    Keep,
}

/// An upload waiting for [`ModelForm::save`] to store it.
struct PendingUpload {
    field: &'static FieldMeta,
    file: UploadedFile,
    /// The name asked of the storage: `upload_to`, then the file's name,
    /// short enough that the storage's random suffix still fits the column.
    name: String,
}

/// Django's `ImageField` message for an upload that is not an image.
pub(crate) const INVALID_IMAGE: &str =
    "Upload a valid image. The file you uploaded was either not an image or a corrupted image.";

impl<M: Model> ModelForm<M> {
    /// A form for every editable field of `instance` (Django's
    /// `fields = "__all__"`), showing its values.
    #[must_use]
    pub fn new(instance: M) -> Self {
        let editable: Vec<&'static FieldMeta> = M::meta()
            .fields
            .iter()
            .filter(|f| fields::is_editable(f))
            .collect();
        let original_pk = instance.pk().map(|pk| pk.to_value());
        let mut form = Self {
            state: FormState {
                fields: editable.iter().map(|f| fields::describe(f)).collect(),
                ..FormState::default()
            },
            model_fields: editable.into_iter().map(Some).collect(),
            instance,
            original_pk,
            many: Vec::new(),
            uploads: Vec::new(),
            storage: None,
            stored: Vec::new(),
            looked_up: Vec::new(),
            loaded: false,
            valid: false,
        };
        form.initial_from_instance();
        form
    }

    /// The instance's values as the form shows them. A new instance's
    /// placeholders (the `""` or `0` of `Default`) are shown empty unless
    /// the field declares that default.
    fn initial_from_instance(&mut self) {
        let saved = self.original_pk.is_some();
        for f in self.model_fields.iter().flatten() {
            if f.column.is_none() {
                continue;
            }
            let Some(value) = self.instance.field_value(f.name) else {
                continue;
            };
            if fields::is_file(f) {
                // A file input shows no value. With a file stored already,
                // leaving it empty keeps that file (Django's FileField), so
                // the browser must not ask for a new one; the file is shown
                // above the input, with a "Clear" box unless the model
                // requires a file (Django's ClearableFileInput).
                if let Some(name) = value_to_text(&value).filter(|name| !name.is_empty())
                    && let Ok(field) = self.state.field_mut(f.name)
                {
                    field.set_required(false);
                    let url = crate::request::current_service::<DefaultStorage>()
                        .and_then(|storage| storage.url(&name).ok());
                    field.widget.current_file = Some(CurrentFile {
                        name,
                        url,
                        clearable: !fields::is_required(f),
                    });
                }
                continue;
            }
            if !saved && f.default.is_none() && fields::is_placeholder(&value) {
                continue;
            }
            if let Some(text) = value_to_text(&value) {
                self.state.initial.insert(f.name.to_owned(), vec![text]);
            }
        }
    }

    /// Keeps only the fields called `names`, in that order (Django's
    /// `Meta.fields`).
    ///
    /// # Errors
    ///
    /// [`UnknownField`] for a name that is not an editable field of `M`
    /// (or was left out already).
    pub fn fields(mut self, names: &[&str]) -> Result<Self, UnknownField> {
        let mut fields = Vec::with_capacity(names.len());
        let mut metas = Vec::with_capacity(names.len());
        for name in names {
            let i = self.position(name)?;
            fields.push(self.state.fields[i].clone());
            metas.push(self.model_fields[i]);
        }
        self.state.fields = fields;
        self.model_fields = metas;
        Ok(self)
    }

    /// Leaves out the fields called `names` (Django's `Meta.exclude`).
    ///
    /// # Errors
    ///
    /// [`UnknownField`] for a name that is not a field of the form.
    pub fn exclude(mut self, names: &[&str]) -> Result<Self, UnknownField> {
        for name in names {
            let i = self.position(name)?;
            self.state.fields.remove(i);
            self.model_fields.remove(i);
        }
        Ok(self)
    }

    fn position(&self, name: &str) -> Result<usize, UnknownField> {
        self.state
            .fields
            .iter()
            .position(|f| f.name() == name)
            .ok_or_else(|| UnknownField(name.to_owned()))
    }

    /// Stores the uploads of the form's file fields in `storage` rather
    /// than in the project's [`DefaultStorage`].
    #[must_use]
    pub fn storage(mut self, storage: Arc<dyn Storage>) -> Self {
        for field in &mut self.state.fields {
            if let Some(current) = &mut field.widget.current_file {
                current.url = storage.url(&current.name).ok();
            }
        }
        self.storage = Some(storage);
        self
    }

    /// Relation fields (foreign keys, many-to-many) whose related rows
    /// are too many to list: their choices are only the rows already
    /// chosen, and what a submission names is checked against the table
    /// (one query per field). A widget that searches the related rows
    /// (the admin's autocomplete) offers the others.
    ///
    /// # Errors
    ///
    /// [`UnknownField`] for a name that is not a relation field of the
    /// form.
    pub fn look_up(mut self, names: &[&str]) -> Result<Self, UnknownField> {
        for name in names {
            let found = self.model_fields.iter().flatten().find(|f| {
                f.name == *name && (fields::is_foreign_key(f) || fields::is_many_to_many(f))
            });
            match found {
                Some(f) => self.looked_up.push(f.name),
                None => return Err(UnknownField((*name).to_owned())),
            }
        }
        Ok(self)
    }

    /// Names the fields `prefix-name`, so that several forms share one
    /// `<form>` (Django's `prefix`). Give it before binding.
    #[must_use]
    pub fn prefixed(mut self, prefix: impl Into<String>) -> Self {
        self.state.prefix = Some(prefix.into());
        self
    }

    /// The description of the field called `name`, to change its label,
    /// widget or choices before the form is loaded or bound.
    ///
    /// # Errors
    ///
    /// [`UnknownField`] when the form has no such field.
    pub fn field_mut(&mut self, name: &str) -> Result<&mut Field, UnknownField> {
        self.state.field_mut(name)
    }

    /// Adds a field that is not the model's (a formset's `DELETE` box);
    /// the form draws it, and whoever added it reads its value.
    pub(crate) fn push_field(&mut self, field: Field) {
        self.state.fields.push(field);
        self.model_fields.push(None);
    }

    /// Reads what the form shows from the database: the choices of its
    /// relations (unless set already) and, for a saved instance, the rows
    /// its many-to-many fields point at.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn load(mut self, db: &dyn Executor) -> Result<Self> {
        self.load_choices(db).await?;
        self.load_many_initial(db).await?;
        Ok(self)
    }

    pub(crate) async fn load_choices(&mut self, db: &dyn Executor) -> Result<()> {
        for (i, f) in self.model_fields.iter().enumerate() {
            let Some(f) = f else { continue };
            let Some(rel) = f.relation else { continue };
            if !(fields::is_foreign_key(f) || fields::is_many_to_many(f))
                || !self.state.fields[i].choices().is_empty()
            {
                continue;
            }
            let target = (rel.target)();
            let mut list = Vec::new();
            if fields::is_foreign_key(f)
                && !(self.state.fields[i].is_required() && f.default.is_some())
            {
                list.push(("".into(), fields::BLANK_LABEL.into()));
            }
            if self.looked_up.contains(&f.name) {
                let keys = self.chosen_keys(db, f).await?;
                list.extend(related_choices_in(target, keys, db).await?);
            } else {
                list.extend(related_choices(target, db).await?);
            }
            self.state.fields[i].set_choices(list);
        }
        self.loaded = true;
        Ok(())
    }

    /// Copies the choices another form of the same model loaded (a
    /// formset loads them once for all its forms).
    pub(crate) fn copy_choices(&mut self, from: &Self) {
        for (field, template) in self.state.fields.iter_mut().zip(&from.state.fields) {
            if field.name() == template.name() && field.choices().is_empty() {
                field.choices = template.choices.clone();
            }
        }
        self.loaded = from.loaded;
    }

    pub(crate) async fn load_many_initial(&mut self, db: &dyn Executor) -> Result<()> {
        let Some(owner) = self.original_pk.clone() else {
            return Ok(());
        };
        for f in self.model_fields.iter().flatten() {
            if !fields::is_many_to_many(f) {
                continue;
            }
            let Some(rel) = f.relation else { continue };
            let join = join_table(M::meta(), f)?;
            let target = (rel.target)();
            let rows = db
                .fetch_all(choices::related_keys(join, owner.clone(), db.backend()))
                .await?;
            let keys = rows
                .iter()
                .map(|row| (target.decode_pk)(row, 0).map(|v| value_to_text(&v)))
                .collect::<Result<Vec<_>>>()?;
            self.state
                .initial
                .insert(f.name.to_owned(), keys.into_iter().flatten().collect());
        }
        Ok(())
    }

    /// Binds `data` and validates it: each field, then the instance
    /// ([`Model::full_clean`]), then its `unique` fields and
    /// `unique_together` sets against the table. Loads the form first when
    /// [`load`](Self::load) was not called.
    ///
    /// # Errors
    ///
    /// The database's error (a value the user got wrong is a form error,
    /// see [`errors`](Self::errors)).
    pub async fn bind(mut self, db: &dyn Executor, data: FormData) -> Result<Self> {
        if !self.loaded {
            self.load_choices(db).await?;
            self.load_many_initial(db).await?;
        }
        self.add_submitted_choices(db, &data).await?;
        self.state.data = Some(Arc::new(data));
        self.full_clean(db).await?;
        Ok(self)
    }

    /// The keys the instance points at through the relation `f`.
    async fn chosen_keys(&self, db: &dyn Executor, f: &'static FieldMeta) -> Result<Vec<Value>> {
        if fields::is_foreign_key(f) {
            return Ok(self
                .instance
                .field_value(f.name)
                .filter(|v| value_to_text(v).is_some())
                .into_iter()
                .collect());
        }
        let (Some(owner), Some(rel)) = (self.original_pk.clone(), f.relation) else {
            return Ok(Vec::new());
        };
        let join = join_table(M::meta(), f)?;
        let target = (rel.target)();
        db.fetch_all(choices::related_keys(join, owner, db.backend()))
            .await?
            .iter()
            .map(|row| (target.decode_pk)(row, 0))
            .collect()
    }

    /// For each looked-up field, the rows a submission names become
    /// choices when they exist, so that cleaning accepts them (and
    /// refuses a key with no row).
    async fn add_submitted_choices(&mut self, db: &dyn Executor, data: &FormData) -> Result<()> {
        let prefix = self.state.prefix.clone();
        for (i, f) in self.model_fields.iter().enumerate() {
            let Some(f) = f else { continue };
            if !self.looked_up.contains(&f.name) || self.state.fields[i].is_disabled() {
                continue;
            }
            let Some(rel) = f.relation else { continue };
            let key_type = target_key_type(f);
            let keys: Vec<Value> = data
                .get_all(&html_name(prefix.as_deref(), self.state.fields[i].name()))
                .into_iter()
                .filter(|v| !v.trim().is_empty())
                .filter_map(|v| key_type.parse(v).ok())
                .collect();
            if keys.is_empty() {
                continue;
            }
            let found = related_choices_in((rel.target)(), keys, db).await?;
            let mut list = self.state.fields[i].choices().to_vec();
            for choice in found {
                if !list.iter().any(|(k, _)| *k == choice.0) {
                    list.push(choice);
                }
            }
            self.state.fields[i].set_choices(list);
        }
        Ok(())
    }

    pub(crate) fn set_data(&mut self, data: Arc<FormData>) {
        self.state.data = Some(data);
    }

    /// Cleans the bound data into the instance; the database checks run
    /// last.
    pub(crate) async fn full_clean(&mut self, db: &dyn Executor) -> Result<()> {
        self.state.errors = FormErrors::default();
        self.many.clear();
        self.uploads.clear();
        let Some(data) = self.state.data.as_ref() else {
            self.valid = false;
            return Ok(());
        };
        let prefix = self.state.prefix.as_deref();
        let mut cleaned = Vec::new();
        let mut errors = Vec::new();
        for (i, f) in self.model_fields.iter().enumerate() {
            let Some(f) = f else { continue };
            let field = &self.state.fields[i];
            let values: Vec<&str> = if field.is_disabled() {
                self.state
                    .initial
                    .get(field.name())
                    .unwrap_or(&field.initial)
                    .iter()
                    .map(String::as_str)
                    .collect()
            } else {
                data.get_all(&html_name(prefix, field.name()))
            };
            if fields::is_file(f) {
                let files = if field.is_disabled() {
                    Vec::new()
                } else {
                    data.files(&html_name(prefix, field.name()))
                };
                let has_file = self
                    .instance
                    .field_value(f.name)
                    .and_then(|v| value_to_text(&v))
                    .is_some_and(|name| !name.is_empty());
                let clear = !field.is_disabled()
                    && crate::forms::field::is_checked(
                        &data.get_all(&clear_checkbox_name(&html_name(prefix, field.name()))),
                    );
                match clean_file(f, field, &values, &files, has_file, clear) {
                    Ok(value) => cleaned.push((*f, value)),
                    Err(e) => errors.push((f.name, e)),
                }
                continue;
            }
            match clean_field(f, field, &values) {
                Ok(value) => cleaned.push((*f, value)),
                Err(e) => errors.push((f.name, e)),
            }
        }
        for (name, e) in errors {
            self.state.errors.add(Some(name), e);
        }
        for (f, value) in cleaned {
            match value {
                Cleaned::Many(keys) => self.many.push((f, keys)),
                Cleaned::Keep => {}
                Cleaned::Upload(file) => {
                    if f.text_kind == crate::db::TextKind::Image
                        && let Err(e) = check_image(&file).await
                    {
                        self.state.errors.add(Some(f.name), e);
                        continue;
                    }
                    let name = upload_name(f, &file);
                    if let Err(e) = self
                        .instance
                        .set_field_value(f.name, Value::String(Some(Box::new(name.clone()))))
                    {
                        self.state
                            .errors
                            .add(Some(f.name), ValidationError::new(e.to_string()));
                        continue;
                    }
                    self.uploads.push(PendingUpload {
                        field: f,
                        file,
                        name,
                    });
                }
                Cleaned::Column(value) => {
                    if let Err(e) = self.instance.set_field_value(f.name, value) {
                        let message = match e {
                            Error::InvalidValue { message, .. } => message,
                            other => other.to_string(),
                        };
                        self.state
                            .errors
                            .add(Some(f.name), ValidationError::new(message));
                    }
                }
            }
        }
        if let Err(invalid) = self.instance.full_clean() {
            for e in invalid.errors {
                if self.in_form(e.field) && self.state.errors.field(e.field).is_empty() {
                    self.state
                        .errors
                        .add(Some(e.field), ValidationError::new(e.message));
                }
            }
        }
        self.validate_unique(db).await?;
        self.valid = self.state.errors.is_empty();
        Ok(())
    }

    fn in_form(&self, name: &str) -> bool {
        self.model_fields.iter().flatten().any(|f| f.name == name)
    }

    /// The `unique` fields and `unique_together` sets a form checks: those
    /// with a field in the form.
    pub(crate) fn unique_checks(&self) -> Vec<Vec<&'static FieldMeta>> {
        let meta = M::meta();
        let mut checks = Vec::new();
        for f in meta.column_fields() {
            if (f.unique || (f.primary_key && !f.auto)) && self.in_form(f.name) {
                checks.push(vec![f]);
            }
        }
        for set in meta.unique_together {
            let set: Vec<&'static FieldMeta> = set
                .iter()
                .filter_map(|c| meta.resolve_column(c).ok())
                .collect();
            if set.iter().any(|f| self.in_form(f.name)) {
                checks.push(set);
            }
        }
        checks
    }

    /// Django's `validate_unique`: each check whose fields are all valid
    /// and not `NULL` looks for another row with the same values.
    async fn validate_unique(&mut self, db: &dyn Executor) -> Result<()> {
        for check in self.unique_checks() {
            if check
                .iter()
                .any(|f| !self.state.errors.field(f.name).is_empty())
            {
                continue;
            }
            let Some(values) = self.values_of(&check) else {
                continue;
            };
            let mut query = QuerySet::<M>::new();
            for (column, value) in values {
                query = query.filter(Q::column_eq(column, value));
            }
            if let Some(pk) = &self.original_pk {
                query = query.exclude(Q::pk_eq(pk.clone()));
            }
            if query.exists(db).await? {
                self.add_unique_error(&check);
            }
        }
        Ok(())
    }

    /// The instance's `(column, value)` for each field of a check, or
    /// `None` when one is `NULL` (which never collides).
    pub(crate) fn values_of(
        &self,
        check: &[&'static FieldMeta],
    ) -> Option<Vec<(&'static str, Value)>> {
        check
            .iter()
            .map(|f| {
                let value = self.instance.field_value(f.name)?;
                (!is_null_value(&value)).then_some((f.column?, value))
            })
            .collect()
    }

    /// "Article with this Author and Slug already exists.", on the one
    /// field of the check in the form, or on the form.
    fn add_unique_error(&mut self, check: &[&'static FieldMeta]) {
        let meta = M::meta();
        let labels: Vec<String> = check.iter().map(|f| verbose_label(f)).collect();
        let message = format!(
            "{} with this {} already exists.",
            capfirst(meta.verbose_name),
            text_list(&labels, "and")
        );
        let code = if check.len() == 1 {
            "unique"
        } else {
            "unique_together"
        };
        let in_form: Vec<&str> = check
            .iter()
            .filter(|f| self.in_form(f.name))
            .map(|f| f.name)
            .collect();
        let target = match in_form.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        self.add_error(target, ValidationError::new(message).with_code(code));
    }

    /// The database refused a duplicate of `columns`: the error the check
    /// before saving would have given.
    pub(crate) fn unique_violation(&mut self, columns: &[String]) {
        let meta = M::meta();
        let check: Vec<&'static FieldMeta> = columns
            .iter()
            .filter_map(|c| meta.resolve_column(c).ok())
            .collect();
        if check.is_empty() {
            self.add_error(
                None,
                ValidationError::new(format!(
                    "{} with these values already exists.",
                    capfirst(meta.verbose_name)
                ))
                .with_code("unique"),
            );
        } else {
            self.add_unique_error(&check);
        }
    }

    /// Whether the form has data.
    #[must_use]
    pub fn is_bound(&self) -> bool {
        self.state.data.is_some()
    }

    /// Whether the form is bound and has no error.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The errors.
    #[must_use]
    pub fn errors(&self) -> &FormErrors {
        &self.state.errors
    }

    /// Adds an error found after validation, to `field` or to the whole
    /// form; the form is no longer valid (Django's `add_error`).
    pub fn add_error(&mut self, field: Option<&str>, error: impl Into<ValidationError>) {
        self.state.errors.add(field, error);
        self.valid = false;
    }

    /// The submitted data, when bound.
    #[must_use]
    pub fn data(&self) -> Option<&FormData> {
        self.state.data.as_deref()
    }

    /// The instance, with the submitted values once bound.
    #[must_use]
    pub fn instance(&self) -> &M {
        &self.instance
    }

    /// The instance, to set a field the form leaves out before saving
    /// (Django's `save(commit=False)`).
    pub fn instance_mut(&mut self) -> &mut M {
        &mut self.instance
    }

    /// The instance, and the form no more.
    #[must_use]
    pub fn into_instance(self) -> M {
        self.instance
    }

    /// Whether the submission differs from what the form showed (Django's
    /// `has_changed`).
    #[must_use]
    pub fn has_changed(&self) -> bool {
        let Some(data) = &self.state.data else {
            return false;
        };
        let prefix = self.state.prefix.as_deref();
        self.state.fields.iter().any(|field| {
            // A file sent, or a file cleared, is a change (Django's
            // FileField.has_changed).
            let name = html_name(prefix, field.name());
            if !data.files(&name).is_empty()
                || (field.widget().kind() == crate::forms::WidgetKind::File
                    && crate::forms::field::is_checked(&data.get_all(&clear_checkbox_name(&name))))
            {
                return true;
            }
            let initial = self
                .state
                .initial
                .get(field.name())
                .unwrap_or(&field.initial);
            has_changed(
                field,
                initial,
                &data.get_all(&html_name(prefix, field.name())),
            )
        })
    }

    /// Saves the instance and its many-to-many relations in one
    /// transaction, and gives it back; or gives the form back when it is
    /// not valid, or when the database refused a duplicate value (the
    /// error is then on its field, as the check before saving would have
    /// put it).
    ///
    /// # Errors
    ///
    /// Any other database error.
    // The form comes back whole, to be shown again, as
    // `BoundForm::into_cleaned` gives it.
    #[allow(clippy::result_large_err)]
    pub async fn save(mut self, db: &dyn Executor) -> Result<Result<M, Self>> {
        if !self.valid {
            return Ok(Err(self));
        }
        let tx = db.begin().await?;
        let saved = match self.save_in(&tx).await {
            Ok(()) => tx.commit().await,
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        };
        match saved {
            Ok(()) => {
                self.stored.clear();
                self.uploads.clear();
                Ok(Ok(self.instance))
            }
            Err(e) => {
                self.discard_stored().await;
                self.forget_insert();
                match e {
                    Error::UniqueViolation { fields, .. } => {
                        self.unique_violation(&fields);
                        Ok(Err(self))
                    }
                    Error::FileStorage { field, message } => {
                        // The site's trouble, not the user's: say so on the
                        // field, keep what they typed, log the cause.
                        tracing::error!(field, message, "storing an upload failed");
                        let field = M::meta().field(&field).map(|f| f.name);
                        self.add_error(
                            field,
                            ValidationError::new(
                                "The file could not be saved. Please try again later.",
                            )
                            .with_code("storage"),
                        );
                        Ok(Err(self))
                    }
                    other => Err(other),
                }
            }
        }
    }

    /// Removes the files a failed save stored, so that no upload is left
    /// without a row pointing at it.
    pub(crate) async fn discard_stored(&mut self) {
        if self.stored.is_empty() {
            return;
        }
        if let Ok(storage) = self.resolve_storage() {
            for name in self.stored.drain(..) {
                if let Err(e) = storage.delete(&name).await {
                    tracing::warn!(name, error = %e, "could not remove an upload after a failed save");
                }
            }
        }
        self.stored.clear();
    }

    fn resolve_storage(&self) -> Result<Arc<dyn Storage>> {
        self.storage
            .clone()
            .or_else(|| crate::request::current_service::<DefaultStorage>().map(|s| s.shared()))
            .ok_or_else(|| Error::FileStorage {
                field: self
                    .uploads
                    .first()
                    .map(|u| u.field.name.to_owned())
                    .unwrap_or_default(),
                message: "no storage: outside a project's request, give the form one with \
                          `ModelForm::storage`"
                    .to_owned(),
            })
    }

    /// Stores each pending upload under a free name and puts that name in
    /// the instance (Django's `FieldFile.save` in `pre_save`).
    async fn store_uploads(&mut self) -> Result<()> {
        if self.uploads.is_empty() {
            return Ok(());
        }
        let storage = self.resolve_storage()?;
        for upload in &self.uploads {
            let name = storage
                .save(&upload.name, &upload.file)
                .await
                .map_err(|e| Error::FileStorage {
                    field: upload.field.name.to_owned(),
                    message: e.to_string(),
                })?;
            self.stored.push(name.clone());
            self.instance
                .set_field_value(upload.field.name, Value::String(Some(Box::new(name))))?;
        }
        Ok(())
    }

    /// Writes the instance, then sets each many-to-many field to the keys
    /// chosen (Django's `_save_m2m`).
    pub(crate) async fn save_in(&mut self, db: &dyn Executor) -> Result<()> {
        self.store_uploads().await?;
        self.instance.save(db).await?;
        let Some(owner) = self.instance.pk().map(|pk| pk.to_value()) else {
            return Ok(());
        };
        for (f, keys) in &self.many {
            let join = join_table(M::meta(), f)?;
            db.execute(join.clear(owner.clone(), db.backend())).await?;
            if !keys.is_empty() {
                db.execute(join.add(&owner, keys.iter().cloned(), db.backend())?)
                    .await?;
            }
        }
        Ok(())
    }

    /// After a rolled-back insert: the instance is new again.
    pub(crate) fn forget_insert(&mut self) {
        if self.original_pk.is_some() {
            return;
        }
        if let Some(pk) = M::meta().pk_field().filter(|f| f.auto) {
            let _ = self.instance.set_field_value(pk.name, pk.sql_type.null());
        }
    }

    /// The key of the row the form edits, as shown in a formset's hidden
    /// input.
    pub(crate) fn original_pk(&self) -> Option<&Value> {
        self.original_pk.as_ref()
    }

    /// Whether a form is drawn with `enctype="multipart/form-data"`.
    #[must_use]
    pub fn is_multipart(&self) -> bool {
        self.state.is_multipart()
    }

    /// Every field, in order.
    pub fn bound_fields(&self) -> impl Iterator<Item = BoundField<'_, M>> {
        self.state.bound_fields()
    }

    /// The field called `name`.
    ///
    /// # Errors
    ///
    /// [`UnknownField`] when the form has no such field.
    pub fn field(&self, name: &str) -> Result<BoundField<'_, M>, UnknownField> {
        self.state.bound_field(name)
    }

    /// The fields that are shown (not hidden inputs).
    pub fn visible_fields(&self) -> impl Iterator<Item = BoundField<'_, M>> {
        self.state.visible_fields()
    }

    /// The hidden inputs.
    pub fn hidden_fields(&self) -> impl Iterator<Item = BoundField<'_, M>> {
        self.state.hidden_fields()
    }

    /// The errors of the whole form (and of hidden fields), as Django's
    /// `<ul class="errorlist nonfield">`.
    #[must_use]
    pub fn non_field_errors(&self) -> SafeHtml {
        self.state.non_field_errors()
    }

    /// The whole form as Django's `as_div()`.
    #[must_use]
    pub fn as_div(&self) -> SafeHtml {
        self.state.as_div()
    }
}

impl<M: Model> fmt::Display for ModelForm<M> {
    /// `{{ form }}` is [`as_div`](Self::as_div).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_div().as_str())
    }
}

impl<M: Model> askama::filters::HtmlSafe for ModelForm<M> {}

/// A field's label in messages: its verbose name, capitalised.
fn verbose_label(f: &FieldMeta) -> String {
    if f.verbose_name.is_empty() {
        super::field::label_of(f.name)
    } else {
        capfirst(f.verbose_name)
    }
}

/// `["a", "b", "c"]` → `"a, b and c"` (Django's `get_text_list`).
pub(crate) fn text_list(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., end] => format!("{} {last} {end}", rest.join(", ")),
    }
}

/// The rows of `target` as choices: the key, and the first text column
/// (or "Tag object (1)").
async fn related_choices(
    target: &'static ModelMeta,
    db: &dyn Executor,
) -> Result<Vec<super::Choice>> {
    let label = choice_label(target);
    let rows = db
        .fetch_all(choices::choices(target, label, db.backend()))
        .await?;
    choice_rows(target, label, &rows)
}

/// The column a related row's choice is labelled with: its first text
/// column.
fn choice_label(target: &'static ModelMeta) -> Option<&'static str> {
    target
        .column_fields()
        .find(|f| !f.primary_key && f.sql_type == SqlType::String && f.relation.is_none())
        .and_then(|f| f.column)
}

/// Rows read by a choices query as `(key, label)`.
fn choice_rows(
    target: &'static ModelMeta,
    label: Option<&'static str>,
    rows: &[crate::db::Row],
) -> Result<Vec<super::Choice>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(key) = value_to_text(&(target.decode_pk)(row, 0)?) else {
            continue;
        };
        let text = match label {
            Some(_) if !row.is_null(1) => row.get::<String>(1)?,
            _ => format!("{} object ({key})", target.name),
        };
        out.push((key.into(), text.into()));
    }
    Ok(out)
}

/// The rows of `target` with these keys as choices, as
/// [`related_choices`] labels them.
async fn related_choices_in(
    target: &'static ModelMeta,
    keys: Vec<Value>,
    db: &dyn Executor,
) -> Result<Vec<super::Choice>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let label = choice_label(target);
    let rows = db
        .fetch_all(choices::choices_in(target, label, keys, db.backend()))
        .await?;
    choice_rows(target, label, &rows)
}

/// Whether `text` is the key of one of `field`'s choices (not the blank
/// one).
fn is_choice(field: &Field, text: &str) -> bool {
    !text.is_empty() && field.choices().iter().any(|(v, _)| v == text)
}

/// The key type of the model a relation points at.
fn target_key_type(f: &FieldMeta) -> SqlType {
    f.relation
        .and_then(|rel| (rel.target)().pk_field())
        .map_or(f.sql_type, |pk| pk.sql_type)
}

/// Cleans a file field (Django's `FileField.clean`): the last file sent,
/// Django's messages for an empty file, a form without
/// `enctype="multipart/form-data"` and a name over the column's length;
/// with no file sent, the instance's file is kept unless its "Clear" box
/// is ticked (on a field the model lets be empty), or the field is
/// required, or it becomes empty.
fn clean_file(
    f: &'static FieldMeta,
    field: &Field,
    values: &[&str],
    files: &[&UploadedFile],
    has_file: bool,
    clear: bool,
) -> Result<Cleaned, ValidationError> {
    let clearable = clear && !fields::is_required(f);
    match <UploadedFile as FieldValue>::parse_submission(values, files, field)? {
        Some(_) if clearable => Err(ValidationError::new(
            "Please either submit a file or check the clear checkbox, not both.",
        )
        .with_code("contradiction")),
        None if clearable => Ok(Cleaned::Column(fields::empty_value(f))),
        Some(file) => {
            let length = file.name().chars().count();
            if let Some(max) = f.max_length
                && length > max as usize
            {
                return Err(ValidationError::new(format!(
                    "Ensure this filename has at most {max} characters (it has {length})."
                ))
                .with_code("max_length"));
            }
            Ok(Cleaned::Upload(file))
        }
        None if has_file => Ok(Cleaned::Keep),
        None if field.is_required() => Err(ValidationError::required()),
        None => Ok(Cleaned::Column(fields::empty_value(f))),
    }
}

/// Django's `ImageField.to_python` then `validate_image_file_extension`:
/// the header must be an image's, and the name must end as one.
async fn check_image(file: &UploadedFile) -> Result<(), ValidationError> {
    if file.image_dimensions().await.is_none() {
        return Err(ValidationError::new(INVALID_IMAGE).with_code("invalid_image"));
    }
    let (_, extension) = crate::forms::files::split_extension(file.name());
    let extension = extension.trim_start_matches('.').to_lowercase();
    if !IMAGE_EXTENSIONS.contains(&extension.as_str()) {
        return Err(ValidationError::new(format!(
            "File extension “{extension}” is not allowed. Allowed extensions are: {}.",
            IMAGE_EXTENSIONS.join(", ")
        ))
        .with_code("invalid_extension"));
    }
    Ok(())
}

/// The name to store `file` under: the field's `upload_to` directory and
/// the file's (already sanitised) name, its stem cut so that the name and
/// a storage's 8-character collision suffix fit the column.
fn upload_name(f: &FieldMeta, file: &UploadedFile) -> String {
    let max = f.max_length.map_or(usize::MAX, |n| n as usize);
    let room = max
        .saturating_sub(f.upload_to.chars().count() + 1)
        .saturating_sub(8)
        .max(1);
    let name = crate::forms::files::truncate_keeping_extension(file.name(), room);
    // `upload_to = "covers"` is a directory too, as Django joins it.
    match f.upload_to {
        "" => name,
        dir if dir.ends_with('/') => format!("{dir}{name}"),
        dir => format!("{dir}/{name}"),
    }
}

/// Cleans one model field's submitted `values` (Django's
/// `Field.clean`): choices, parsing, the field's own checks, and what an
/// empty value means.
fn clean_field(
    f: &'static FieldMeta,
    field: &Field,
    values: &[&str],
) -> Result<Cleaned, ValidationError> {
    if fields::is_many_to_many(f) {
        let key_type = target_key_type(f);
        let mut keys = Vec::new();
        let mut seen = HashSet::new();
        for v in values {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let invalid = || {
                ValidationError::new(format!("“{v}” is not a valid value."))
                    .with_code("invalid_pk_value")
            };
            let key = fields::parse(key_type, crate::db::TextKind::Plain, &[v], field)
                .map_err(|_| invalid())?
                .ok_or_else(invalid)?;
            let text = value_to_text(&key).unwrap_or_default();
            if !is_choice(field, &text) {
                return Err(ValidationError::new(format!(
                    "Select a valid choice. {v} is not one of the available choices."
                ))
                .with_code("invalid_choice"));
            }
            if seen.insert(text) {
                keys.push(key);
            }
        }
        if keys.is_empty() && field.is_required() {
            return Err(ValidationError::required());
        }
        return Ok(Cleaned::Many(keys));
    }
    let parsed = if fields::is_foreign_key(f) {
        let invalid = || {
            ValidationError::new(
                "Select a valid choice. That choice is not one of the available choices.",
            )
            .with_code("invalid_choice")
        };
        match fields::parse(
            target_key_type(f),
            crate::db::TextKind::Plain,
            values,
            field,
        ) {
            Ok(Some(key)) => {
                if !is_choice(field, &value_to_text(&key).unwrap_or_default()) {
                    return Err(invalid());
                }
                Some(key)
            }
            Ok(None) => None,
            Err(_) => return Err(invalid()),
        }
    } else {
        if !field.choices().is_empty() {
            for v in values {
                let v = field.normalize(v);
                if !v.is_empty() {
                    super::validators::choice(v, field.choices())?;
                }
            }
        }
        fields::parse(f.sql_type, f.text_kind, values, field)?
    };
    match parsed {
        Some(value) => {
            fields::validate(f, &value)?;
            Ok(Cleaned::Column(value))
        }
        None if field.is_required() => Err(ValidationError::required()),
        None => Ok(Cleaned::Column(fields::empty_value(f))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lists_as_django_writes_them() {
        let items = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(text_list(&items(&[]), "and"), "");
        assert_eq!(text_list(&items(&["Slug"]), "and"), "Slug");
        assert_eq!(
            text_list(&items(&["Author", "Slug"]), "and"),
            "Author and Slug"
        );
        assert_eq!(text_list(&items(&["a", "b", "c"]), "and"), "a, b and c");
    }
}
