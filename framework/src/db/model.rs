//! The [`Model`] trait, implemented by `#[derive(Model)]`, and the static
//! description of a model ([`ModelMeta`]) that queries and schemas are built from.
//!
//! ```
//! use manouche::db::{Auto, Model};
//!
//! #[derive(Debug, Model)]
//! #[model(app = "blog", ordering = "-id")]
//! pub struct Tag {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 50, unique)]
//!     pub name: String,
//! }
//!
//! assert_eq!(Tag::meta().table, "blog_tag");
//! assert_eq!(Tag::meta().field("name").and_then(|f| f.max_length), Some(50));
//! ```
//!
//! # Model options: `#[model(...)]` on the struct
//!
//! | option | meaning |
//! |---|---|
//! | `app = "blog"` | app label; the table is `<app>_<model in snake_case>` |
//! | `table = "blog_post"` | explicit table name (then `app` defaults to its first `_` segment) |
//! | `ordering = "-created, title"` | default ordering; `-` for descending |
//! | `unique_together = ["author", "slug"]` | a multi-column unique constraint (repeatable) |
//! | `index = ["published", "created"]` | a multi-column index (repeatable) |
//! | `check(name = "price_not_negative", sql = "price >= 0")` | a check constraint every row must meet (Django's `CheckConstraint`; repeatable). The condition is SQL both backends must read, over the table's columns; `migrate` refuses to add it while rows fail it |
//! | `verbose_name = "..."`, `verbose_name_plural = "..."` | human-readable names |
//! | `permissions = [("publish_article", "Can publish articles")]` | custom `(codename, name)` permissions, besides the default ones (Django's `Meta.permissions`) |
//! | `default_permissions = ["add", "change", "delete", "view"]` | the actions that get a permission `"{action}_{model}"` (the default: all four; `[]` for none) |
//! | `impl_default` | generate `impl Default` from the fields' defaults, for `..Default::default()` (see [Building a value](#building-a-value)) |
//!
//! One of `app` or `table` is required: there is no app registry to infer
//! the label from, and a table name that silently depends on the module path
//! would change when code moves.
//!
//! Permissions are checked when the model compiles, as Django's auth checks
//! check them: a codename is a lowercase identifier (`publish_article`),
//! declared once, not one of the default codenames (`add_article` while
//! `add` is a default action), and fits the permission table (100
//! characters; 255 for a name); the default actions are among `add`,
//! `change`, `delete` and `view`. [`ModelMeta::all_permissions`] gives the
//! full list.
//!
//! # Field options: `#[model(...)]` on a field
//!
//! | option | meaning |
//! |---|---|
//! | `primary_key` | the primary key (implied by an `Auto<_>` field) |
//! | `max_length = 200` | `VARCHAR(200)`; without it a `String` is `TEXT` |
//! | `max_digits = 10, decimal_places = 2` | `NUMERIC(10, 2)` for a `Decimal` |
//! | `unique`, `db_index` | unique constraint / index on the column |
//! | `default = false` / `0` / `1.5` / `"draft"` | database default and `impl_default` value |
//! | `default = path::to::function` | called by `impl_default` for each new instance |
//! | `auto_now`, `auto_now_add` | set to now on every save / on insert |
//! | `choices` | the field's type is a `#[derive(Choices)]` enum |
//! | `db_column = "name"` | column name (default: the field name, `<field>_id` for keys) |
//! | `blank` | an empty text passes [`Model::full_clean`] |
//! | `help_text = "..."`, `verbose_name = "..."` | for forms and the admin |
//! | `on_delete = cascade` | on `ForeignKey`/`OneToOne`: `cascade` (default), `protect`, `restrict`, `set_null`, `set_default`, `do_nothing` |
//! | `through = Membership` | on `ManyToMany`: use an explicit join model |
//! | `related_field = "author"` | on `Reverse<T>`: the foreign key (or many-to-many) field of `T` pointing here |
//! | `upload_to = "covers/"` | on a [`FileField`](super::FileField) / [`ImageField`](super::ImageField): the storage directory uploads go to |
//!
//! Nullability is the type: `Option<T>`. Each field also becomes a typed
//! column handle, an associated constant named like the field
//! (`Tag::name`), used by queries.
//!
//! # Building a value
//!
//! With `impl_default`, a new value names only the fields it sets, as
//! keyword arguments do in Django (`Article(title="...", author=ada)`), and
//! `..Default::default()` fills in the rest: the unsaved primary key, the
//! relation collections ([`ManyToMany`](super::ManyToMany),
//! [`Reverse`](super::Reverse)), `auto_now` / `auto_now_add` fields, and the
//! declared `default = ...` values.
//!
//! ```
//! use manouche::db::{Auto, Database, DateTime, ForeignKey, ManyToMany, Model, Reverse, schema};
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "library", impl_default)]
//! pub struct Writer {
//!     pub id: Auto<i64>,
//!     pub name: String,
//!     #[model(related_field = "writer")]
//!     pub books: Reverse<Book>,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "library")]
//! pub struct Genre {
//!     pub id: Auto<i64>,
//!     pub name: String,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "library", impl_default)]
//! pub struct Book {
//!     pub id: Auto<i64>,
//!     pub title: String,
//!     #[model(default = true)]
//!     pub in_print: bool,
//!     #[model(auto_now_add)]
//!     pub added: DateTime,
//!     pub writer: ForeignKey<Writer>,
//!     pub genres: ManyToMany<Genre>,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! schema::create_tables(&db, &[Writer::schema(), Genre::schema(), Book::schema()]).await?;
//!
//! let mut ursula = Writer { name: "Ursula".into(), ..Default::default() };
//! ursula.save(&db).await?;
//! let mut book = Book {
//!     title: "The Dispossessed".into(),
//!     writer: ForeignKey::from(&ursula),
//!     ..Default::default()
//! };
//! book.save(&db).await?;
//!
//! assert!(book.in_print);
//! assert_eq!(ursula.books.query()?.count(&db).await?, 1);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```
//!
//! A field left out gets a placeholder a save or [`Model::full_clean`]
//! reports: an unset `ForeignKey` fails the save as a `NOT NULL` violation,
//! and an empty `String`, [`Slug`](super::Slug) or [`Email`](super::Email) is
//! blank, which `full_clean` rejects unless the field is `blank`.
//! `#[derive(Default)]` also compiles when every field's type implements
//! `Default`, but it ignores `default = ...` and `auto_now`; prefer
//! `impl_default`.

use std::fmt;
use std::hash::Hash;

use futures_util::future::BoxFuture;
use sea_query::Value;
use serde::{Deserialize, Serialize};

use super::executor::{Executor, Row};
use super::fields::{FieldType, SqlType, TextKind};
use super::query::QuerySet;
use super::schema::ModelSchema;
use super::{Error, Result, persist};

/// What happens to rows referring to a deleted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum OnDelete {
    /// Delete the referring rows too (the default).
    #[default]
    Cascade,
    /// Refuse the delete with [`Error::Protected`].
    Protect,
    /// Refuse the delete with [`Error::Restricted`] (also enforced by the
    /// database constraint).
    Restrict,
    /// Set the foreign key to `NULL` (the field must be an `Option`).
    SetNull,
    /// Set the foreign key to the field's `default`.
    SetDefault,
    /// Do nothing; the database constraint decides.
    DoNothing,
}

/// The kind of a relation field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RelationKind {
    /// [`ForeignKey`](super::ForeignKey): a column referring to another row.
    ForeignKey,
    /// [`OneToOne`](super::OneToOne): a unique foreign key.
    OneToOne,
    /// [`ManyToMany`](super::ManyToMany): a join table.
    ManyToMany,
    /// [`Reverse`](super::Reverse): the other side of a foreign key (no column).
    Reverse,
}

/// The relation a field declares.
#[derive(Debug, Clone, Copy)]
pub struct RelationMeta {
    /// The kind of relation.
    pub kind: RelationKind,
    /// The related model.
    pub target: fn() -> &'static ModelMeta,
    /// What a delete of the target does to this row (foreign keys).
    pub on_delete: OnDelete,
    /// The join table of a many-to-many relation without a `through` model.
    pub join_table: Option<&'static str>,
    /// The join table's column referring to this model.
    pub join_source: &'static str,
    /// The join table's column referring to the target.
    pub join_target: &'static str,
    /// An explicit join ("through") model.
    pub through: Option<fn() -> &'static ModelMeta>,
    /// For [`RelationKind::Reverse`]: the foreign key field on the target.
    pub related_field: Option<&'static str>,
}

/// A default value declared with `#[model(default = ...)]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[non_exhaustive]
pub enum DefaultValue {
    /// A boolean literal.
    Bool(bool),
    /// An integer literal.
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(&'static str),
    /// A function called for each new instance (not a database default).
    Function(&'static str),
}

/// The static description of one field.
#[derive(Debug, Clone, Copy)]
pub struct FieldMeta {
    /// The Rust field name.
    pub name: &'static str,
    /// The column, or `None` for many-to-many and reverse relations.
    pub column: Option<&'static str>,
    /// The column's type.
    pub sql_type: SqlType,
    /// Whether the column accepts `NULL` (`Option<T>`).
    pub nullable: bool,
    /// Whether this is the primary key.
    pub primary_key: bool,
    /// Whether the database generates the value.
    pub auto: bool,
    /// `VARCHAR(n)` length.
    pub max_length: Option<u32>,
    /// `(max_digits, decimal_places)` of a decimal field.
    pub decimal: Option<(u32, u32)>,
    /// Whether values must be unique.
    pub unique: bool,
    /// The kind of text a text column holds (an e-mail address, a URL...).
    pub text_kind: TextKind,
    /// Whether the column is indexed.
    pub db_index: bool,
    /// The declared default.
    pub default: Option<DefaultValue>,
    /// Set to now on every save.
    pub auto_now: bool,
    /// Set to now when first saved.
    pub auto_now_add: bool,
    /// Whether forms accept an empty value.
    pub blank: bool,
    /// The allowed values as `(stored value, label)` pairs.
    pub choices: &'static [(&'static str, &'static str)],
    /// Human-readable name.
    pub verbose_name: &'static str,
    /// Help text for forms and the admin.
    pub help_text: &'static str,
    /// For a [`FileField`](super::FileField) or
    /// [`ImageField`](super::ImageField): the directory of the storage its
    /// uploads go to (`"covers/"`), or `""` for the top.
    pub upload_to: &'static str,
    /// The relation, for relation fields.
    pub relation: Option<RelationMeta>,
}

/// The static description of a model, generated by `#[derive(Model)]`.
#[derive(Debug, Clone, Copy)]
pub struct ModelMeta {
    /// The Rust type name.
    pub name: &'static str,
    /// The app label.
    pub app: &'static str,
    /// The table.
    pub table: &'static str,
    /// The primary key's column.
    pub pk_column: &'static str,
    /// Every field, in declaration order.
    pub fields: &'static [FieldMeta],
    /// Default ordering: `(column, descending)` pairs.
    pub ordering: &'static [(&'static str, bool)],
    /// Sets of columns that must be unique together.
    pub unique_together: &'static [&'static [&'static str]],
    /// Sets of columns to index.
    pub indexes: &'static [&'static [&'static str]],
    /// Check constraints as `(name, SQL condition)` pairs, from
    /// `#[model(check(name = "...", sql = "..."))]` (Django's
    /// `CheckConstraint`).
    pub checks: &'static [(&'static str, &'static str)],
    /// Human-readable name.
    pub verbose_name: &'static str,
    /// Human-readable plural name.
    pub verbose_name_plural: &'static str,
    /// Custom permissions as `(codename, human-readable name)` pairs, from
    /// `#[model(permissions = [...])]` (Django's `Meta.permissions`).
    pub permissions: &'static [(&'static str, &'static str)],
    /// The actions that get a default permission, from
    /// `#[model(default_permissions = [...])]` (Django's
    /// `Meta.default_permissions`): `["add", "change", "delete", "view"]`
    /// unless the model says otherwise.
    pub default_permissions: &'static [&'static str],
    /// Decodes a primary key value of this model from a row.
    pub decode_pk: fn(&Row, usize) -> Result<Value>,
}

/// A path of field names through relations, resolved by
/// [`ModelMeta::resolve_path`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FieldPath {
    /// The relation fields followed, each with the model it is declared on.
    pub relations: Vec<(&'static ModelMeta, &'static FieldMeta)>,
    /// The column field the path ends on.
    pub field: &'static FieldMeta,
    /// The model of that field.
    pub model: &'static ModelMeta,
}

impl FieldPath {
    /// The joins that follow the path's relations, in order.
    ///
    /// # Errors
    ///
    /// [`Error::Definition`] for a relation whose definition is broken.
    pub(crate) fn joins(&self) -> Result<Vec<super::query::Join>> {
        self.relations
            .iter()
            .map(|&(owner, field)| super::relations::relation_join(owner, field))
            .collect()
    }

    /// Whether the path can reach several rows (it crosses a many-to-many
    /// or a reverse relation), so that a filter through it can match a row
    /// several times: Django's admin then adds `distinct()`
    /// (`lookup_spawns_duplicates`).
    #[must_use]
    pub fn multi_valued(&self) -> bool {
        self.relations.iter().any(|(_, f)| {
            f.relation
                .is_some_and(|r| matches!(r.kind, RelationKind::ManyToMany | RelationKind::Reverse))
        })
    }
}

/// Decodes column `idx` as `T` and returns it as a bound value (used by the
/// derive for [`ModelMeta::decode_pk`]).
///
/// # Errors
///
/// [`Error::Decode`] when the column does not hold a `T`.
#[doc(hidden)]
pub fn __decode_value<T: FieldType>(row: &Row, idx: usize) -> Result<Value> {
    T::decode(row, idx).map(|v| v.to_value())
}

impl ModelMeta {
    /// The field called `name` (the Rust field name).
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The fields stored as columns, in select order.
    pub fn column_fields(&self) -> impl Iterator<Item = &'static FieldMeta> {
        self.fields.iter().filter(|f| f.column.is_some())
    }

    /// How many columns a row of this model has.
    #[must_use]
    pub fn column_count(&self) -> usize {
        self.column_fields().count()
    }

    /// The column of the field called `name` (field name or column name).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] listing the valid names.
    pub fn resolve_column(&self, name: &str) -> Result<&'static FieldMeta> {
        self.column_fields()
            .find(|f| f.name == name || f.column == Some(name))
            .ok_or_else(|| Error::UnknownField {
                model: self.name,
                field: name.to_owned(),
                known: self
                    .column_fields()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Resolves a path of field names joined by `__`, as in Django's
    /// lookups: `"title"` is a column of this model, `"author__username"`
    /// follows the relation `author` to the column `username` of its model.
    /// Every step but the last is a relation field of any kind (a foreign
    /// key, a many-to-many or a reverse relation); the last is a column
    /// field (a foreign key's own column included).
    ///
    /// ```
    /// use manouche::db::{Auto, ForeignKey, Model};
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct Writer {
    ///     pub id: Auto<i64>,
    ///     pub name: String,
    /// }
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct Post {
    ///     pub id: Auto<i64>,
    ///     pub writer: ForeignKey<Writer>,
    /// }
    ///
    /// let path = Post::meta().resolve_path("writer__name")?;
    /// assert_eq!(path.field.name, "name");
    /// assert_eq!(path.model.name, "Writer");
    /// assert!(!path.multi_valued());
    /// assert!(Post::meta().resolve_path("writer__age").is_err());
    /// # Ok::<(), manouche::db::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] for a step that names no field of its model
    /// (or, before the last step, no relation field), listing the valid
    /// names.
    pub fn resolve_path(&'static self, path: &str) -> Result<FieldPath> {
        let mut model: &'static ModelMeta = self;
        let mut relations = Vec::new();
        let mut steps = path.split("__").peekable();
        while let Some(step) = steps.next() {
            if steps.peek().is_none() {
                return Ok(FieldPath {
                    relations,
                    field: model.resolve_column(step)?,
                    model,
                });
            }
            let field = model
                .field(step)
                .filter(|f| f.relation.is_some())
                .ok_or_else(|| Error::UnknownField {
                    model: model.name,
                    field: step.to_owned(),
                    known: model
                        .fields
                        .iter()
                        .filter(|f| f.relation.is_some())
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            relations.push((model, field));
            model = field.relation.map_or(model, |r| (r.target)());
        }
        Err(Error::UnknownField {
            model: self.name,
            field: path.to_owned(),
            known: String::new(),
        })
    }

    /// The primary key field.
    #[must_use]
    pub fn pk_field(&self) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.primary_key)
    }

    /// The model's name in lowercase, as in permission codenames (Django's
    /// `Options.model_name`): `ArticleTag` → `articletag`.
    #[must_use]
    pub fn model_name(&self) -> String {
        self.name.to_lowercase()
    }

    /// The codename of the permission for `action` on this model, as
    /// Django's `get_permission_codename`: `"{action}_{model_name}"`.
    ///
    /// ```
    /// use manouche::db::{Auto, Model};
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct ArticleTag {
    ///     pub id: Auto<i64>,
    /// }
    ///
    /// assert_eq!(ArticleTag::meta().permission_codename("change"), "change_articletag");
    /// ```
    #[must_use]
    pub fn permission_codename(&self, action: &str) -> String {
        format!("{action}_{}", self.model_name())
    }

    /// Every permission of the model as `(codename, human-readable name)`
    /// pairs, in Django's order: one per [default
    /// action](Self::default_permissions), `"{action}_{model_name}"` named
    /// `"Can {action} {verbose_name}"`, then the custom
    /// [`permissions`](Self::permissions) as declared. This is the list the
    /// auth app keeps in its permission table.
    ///
    /// ```
    /// use manouche::db::{Auto, Model};
    ///
    /// #[derive(Model)]
    /// #[model(
    ///     app = "blog",
    ///     default_permissions = ["change", "view"],
    ///     permissions = [("publish_article", "Can publish articles")],
    /// )]
    /// pub struct Article {
    ///     pub id: Auto<i64>,
    /// }
    ///
    /// let perms = Article::meta().all_permissions();
    /// let perms: Vec<(&str, &str)> = perms.iter().map(|(c, n)| (c.as_str(), n.as_str())).collect();
    /// assert_eq!(
    ///     perms,
    ///     [
    ///         ("change_article", "Can change article"),
    ///         ("view_article", "Can view article"),
    ///         ("publish_article", "Can publish articles"),
    ///     ]
    /// );
    /// ```
    #[must_use]
    pub fn all_permissions(&self) -> Vec<(String, String)> {
        let model_name = self.model_name();
        let defaults = self.default_permissions.iter().map(|action| {
            (
                format!("{action}_{model_name}"),
                format!("Can {action} {}", self.verbose_name),
            )
        });
        let custom = self
            .permissions
            .iter()
            .map(|(codename, name)| ((*codename).to_owned(), (*name).to_owned()));
        defaults.chain(custom).collect()
    }
}

/// A database table mapped to a Rust struct. Derive it with `#[derive(Model)]`.
///
/// The derive generates a typed column handle per field (`Article::title`),
/// the [`ModelMeta`], and row decoding. Instance methods (`save`, `delete`,
/// `refresh`) are provided.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a model",
    label = "not a model",
    note = "add `#[derive(Model)]` to `{Self}`"
)]
pub trait Model: Sized + Send + Sync + 'static {
    /// The primary key's value type (`i64` for `Auto<i64>`).
    type Pk: FieldType + Clone + Eq + Hash + fmt::Debug + Send + Sync;

    /// The model's static description.
    fn meta() -> &'static ModelMeta;

    /// Decodes the model's columns starting at `*offset`, advancing it.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when a column does not match.
    fn from_row(row: &Row, offset: &mut usize) -> Result<Self>;

    /// The primary key, once saved.
    fn pk(&self) -> Option<Self::Pk>;

    /// The value of the column field called `name` (used by prefetching).
    fn field_value(&self, name: &str) -> Option<Value>;

    /// Sets the column field called `name` from a bound value of its type
    /// (the inverse of [`field_value`](Self::field_value)): how a model
    /// form fills an instance in from what was submitted, knowing the
    /// model only by its [`ModelMeta`]. `#[derive(Model)]` implements it.
    ///
    /// ```
    /// use manouche::db::{Auto, Model};
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct Tag {
    ///     pub id: Auto<i64>,
    ///     pub name: String,
    /// }
    ///
    /// let mut tag = Tag { id: Auto::new(), name: String::new() };
    /// tag.set_field_value("name", "rust".into())?;
    /// assert_eq!(tag.name, "rust");
    /// assert!(tag.set_field_value("name", 7_i64.into()).is_err());
    /// # Ok::<(), manouche::db::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] when the model has no column field `name`,
    /// [`Error::InvalidValue`] when `value` does not fit the field.
    fn set_field_value(&mut self, name: &str, value: Value) -> Result<()> {
        let _ = value;
        Err(Error::UnknownField {
            model: Self::meta().name,
            field: name.to_owned(),
            known: String::new(),
        })
    }

    /// The row loaded for the foreign key `name` by
    /// [`select_related`](super::QuerySet::select_related) (or
    /// [`select_related_path`](super::QuerySet::select_related_path)),
    /// as `Any` to downcast to the related model: how code that knows a
    /// model only by field names (the admin's list columns) reads it.
    /// `None` when `name` is not a foreign key, the key is NULL, or the
    /// row was not loaded. `#[derive(Model)]` implements it.
    ///
    /// ```
    /// use manouche::db::{Auto, ForeignKey, Model};
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct Writer {
    ///     pub id: Auto<i64>,
    ///     pub name: String,
    /// }
    ///
    /// #[derive(Model)]
    /// #[model(app = "blog")]
    /// pub struct Post {
    ///     pub id: Auto<i64>,
    ///     pub writer: ForeignKey<Writer>,
    /// }
    ///
    /// let post = Post { id: Auto::new(), writer: ForeignKey::new(1) };
    /// // Not loaded: the key only.
    /// assert!(post.loaded_related("writer").is_none());
    /// ```
    fn loaded_related(&self, name: &str) -> Option<&dyn std::any::Any> {
        let _ = name;
        None
    }

    #[doc(hidden)]
    fn __set_pk(&mut self, pk: Self::Pk);
    #[doc(hidden)]
    /// One value per column field, in field order.
    fn __values(&self) -> Vec<Value>;
    #[doc(hidden)]
    fn __pre_save(&mut self, adding: bool);
    #[doc(hidden)]
    fn __bind(&mut self);
    #[doc(hidden)]
    /// Loads the related rows of `path` (foreign key field names) from the
    /// row; `skip` is the number of columns to pass over when a key is NULL.
    fn __load_related(
        &mut self,
        path: &[&str],
        skip: usize,
        row: &Row,
        offset: &mut usize,
    ) -> Result<()>;

    /// A query set over every row of the model.
    #[must_use]
    fn objects() -> QuerySet<Self> {
        QuerySet::new()
    }

    /// The model's schema, for migrations and [`create_tables`](super::schema::create_tables).
    #[must_use]
    fn schema() -> ModelSchema {
        ModelSchema::from_meta(Self::meta())
    }

    /// Checks the field options a database may not enforce: `max_length`
    /// (SQLite does not), `blank` (an empty text needs `blank`), `choices`
    /// and non-null values. Forms and the admin call it before saving.
    ///
    /// # Errors
    ///
    /// Every failing field, with a message for the user.
    fn full_clean(&self) -> Result<(), ValidationErrors> {
        validate(Self::meta(), &self.__values(), self.pk().is_some())
    }

    /// Inserts the instance when it has no primary key yet (or the key is not
    /// in the table), else updates it. Sets `auto_now` / `auto_now_add` fields
    /// and the generated key.
    ///
    /// # Errors
    ///
    /// [`Error::UniqueViolation`], [`Error::ForeignKeyViolation`], ...
    fn save<'a>(&'a mut self, db: &'a dyn Executor) -> BoxFuture<'a, Result<()>> {
        Box::pin(persist::save(self, db))
    }

    /// Re-reads the instance's columns from the database.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`], or [`Error::DoesNotExist`] when the row is gone.
    fn refresh<'a>(&'a mut self, db: &'a dyn Executor) -> BoxFuture<'a, Result<()>> {
        Box::pin(persist::refresh(self, db))
    }

    /// Deletes the row, applying every `on_delete` rule of the models that
    /// refer to it, in one transaction. Returns how many rows were deleted in
    /// all, the rows of many-to-many join tables included.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`], [`Error::Protected`], [`Error::Restricted`], ...
    fn delete<'a>(&'a self, db: &'a dyn Executor) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { Ok(persist::delete_instance(self, db).await?.total) })
    }

    /// Deletes like [`delete`](Self::delete), and returns the rows deleted
    /// in all and per model, as Django's `delete()` does
    /// (`(total, {"app.Model": n})`).
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`], [`Error::Protected`], [`Error::Restricted`], ...
    fn delete_counted<'a>(&'a self, db: &'a dyn Executor) -> BoxFuture<'a, Result<super::Deleted>> {
        Box::pin(persist::delete_instance(self, db))
    }
}

/// One field that failed [`Model::full_clean`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong, for the user.
    pub message: String,
}

/// The fields that failed [`Model::full_clean`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("invalid {model}: {}", .errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors {
    /// The model's name.
    pub model: &'static str,
    /// One entry per failing field.
    pub errors: Vec<FieldError>,
}

impl ValidationErrors {
    /// The message for `field`, if it failed.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// Whether `v` is a SQL `NULL` (of any type).
pub(crate) fn is_null_value(v: &Value) -> bool {
    matches!(
        v,
        Value::Bool(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::Double(None)
            | Value::Decimal(None)
            | Value::String(None)
            | Value::ChronoDate(None)
            | Value::ChronoTime(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Uuid(None)
            | Value::Json(None)
            | Value::Bytes(None)
    )
}

fn validate(
    meta: &'static ModelMeta,
    values: &[Value],
    _saved: bool,
) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    for (field, value) in meta.column_fields().zip(values) {
        let mut fail = |message: String| {
            errors.push(FieldError {
                field: field.name,
                message,
            })
        };
        if is_null_value(value) {
            if !field.nullable && !field.auto {
                fail("This field cannot be null.".to_owned());
            }
            continue;
        }
        if let (Value::Decimal(Some(d)), Some((max_digits, places))) = (value, field.decimal) {
            let d = d.normalize();
            let scale = d.scale();
            let digits = d.mantissa().unsigned_abs().to_string().len() as u32;
            let whole = digits.saturating_sub(scale);
            if scale > places {
                fail(format!(
                    "Ensure that there are no more than {places} decimal places."
                ));
            } else if whole > max_digits - places {
                fail(format!(
                    "Ensure that there are no more than {} digits before the decimal point.",
                    max_digits - places
                ));
            }
        }
        if let Value::String(Some(text)) = value {
            if text.is_empty() && !field.blank {
                fail("This field cannot be blank.".to_owned());
                continue;
            }
            if let Some(max) = field.max_length {
                let len = text.chars().count();
                if len > max as usize {
                    fail(format!(
                        "Ensure this value has at most {max} characters (it has {len})."
                    ));
                }
            }
            if !field.choices.is_empty() && !field.choices.iter().any(|(v, _)| *v == text.as_str())
            {
                fail(format!("Value `{text}` is not a valid choice."));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors {
            model: meta.name,
            errors,
        })
    }
}

/// Inventory entry: every derived model registers itself so that deletes can
/// find the models that refer to the deleted one.
#[doc(hidden)]
pub struct Registered {
    pub meta: fn() -> &'static ModelMeta,
    /// `module_path!()` where the model is defined.
    pub module: &'static str,
}

inventory::collect!(Registered);

/// Every model compiled into the program, with the module that defines it.
pub fn registered_models_with_modules() -> impl Iterator<Item = (&'static ModelMeta, &'static str)>
{
    inventory::iter::<Registered>
        .into_iter()
        .map(|r| ((r.meta)(), r.module))
}

/// Every model compiled into the program.
pub fn registered_models() -> impl Iterator<Item = &'static ModelMeta> {
    inventory::iter::<Registered>
        .into_iter()
        .map(|r| (r.meta)())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model's description with the given names and permissions, as the
    /// derive would write it.
    fn meta(
        name: &'static str,
        verbose_name: &'static str,
        default_permissions: &'static [&'static str],
        permissions: &'static [(&'static str, &'static str)],
    ) -> ModelMeta {
        ModelMeta {
            name,
            app: "blog",
            table: "blog_table",
            pk_column: "id",
            fields: &[],
            ordering: &[],
            unique_together: &[],
            checks: &[],
            indexes: &[],
            verbose_name,
            verbose_name_plural: "",
            permissions,
            default_permissions,
            decode_pk: __decode_value::<i64>,
        }
    }

    const DEFAULTS: &[&str] = &["add", "change", "delete", "view"];

    fn pairs(perms: &[(String, String)]) -> Vec<(&str, &str)> {
        perms
            .iter()
            .map(|(c, n)| (c.as_str(), n.as_str()))
            .collect()
    }

    // The expected lists are what Django 5.2's
    // `django.contrib.auth.management._get_all_permissions` gives for the
    // same `Meta`.

    #[test]
    fn default_permissions_come_first_then_the_custom_ones() {
        let article = meta(
            "Article",
            "article",
            DEFAULTS,
            &[
                ("publish_article", "Can publish articles"),
                ("feature_article", "Can feature articles"),
            ],
        );
        assert_eq!(
            pairs(&article.all_permissions()),
            [
                ("add_article", "Can add article"),
                ("change_article", "Can change article"),
                ("delete_article", "Can delete article"),
                ("view_article", "Can view article"),
                ("publish_article", "Can publish articles"),
                ("feature_article", "Can feature articles"),
            ]
        );
    }

    #[test]
    fn codenames_use_the_lowercased_model_name_and_names_the_verbose_name() {
        let tag = meta("ArticleTag", "article tag", DEFAULTS, &[]);
        assert_eq!(tag.model_name(), "articletag");
        assert_eq!(tag.permission_codename("delete"), "delete_articletag");
        assert_eq!(
            pairs(&tag.all_permissions()),
            [
                ("add_articletag", "Can add article tag"),
                ("change_articletag", "Can change article tag"),
                ("delete_articletag", "Can delete article tag"),
                ("view_articletag", "Can view article tag"),
            ]
        );
    }

    #[test]
    fn default_actions_keep_their_declared_order() {
        let entry = meta(
            "Entry",
            "blog entry",
            &["view", "add"],
            &[("archive_entry", "Can archive entries")],
        );
        assert_eq!(
            pairs(&entry.all_permissions()),
            [
                ("view_entry", "Can view blog entry"),
                ("add_entry", "Can add blog entry"),
                ("archive_entry", "Can archive entries"),
            ]
        );
    }

    #[test]
    fn no_default_actions_leaves_only_the_custom_permissions() {
        let ledger = meta("Ledger", "ledger", &[], &[("audit", "Can audit")]);
        assert_eq!(pairs(&ledger.all_permissions()), [("audit", "Can audit")]);
        let hidden = meta("Hidden", "hidden", &[], &[]);
        assert!(hidden.all_permissions().is_empty());
    }
}
