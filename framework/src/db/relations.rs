//! Relation fields: [`ForeignKey`], [`OneToOne`], [`ManyToMany`] and the
//! reverse side of a foreign key, [`Reverse`].
//!
//! ```
//! use manouche::db::{Auto, ForeignKey, ManyToMany, Model, Reverse};
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "shop")]
//! pub struct Customer {
//!     pub id: Auto<i64>,
//!     pub name: String,
//!     #[model(related_field = "customer")]
//!     pub orders: Reverse<Order>,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "shop")]
//! pub struct Order {
//!     pub id: Auto<i64>,
//!     #[model(on_delete = protect)]
//!     pub customer: ForeignKey<Customer>,
//!     pub tags: ManyToMany<Label>,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "shop")]
//! pub struct Label {
//!     pub id: Auto<i64>,
//!     pub name: String,
//! }
//!
//! assert_eq!(Order::meta().field("customer").and_then(|f| f.column), Some("customer_id"));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;
use sea_query::Value;

use super::executor::{Executor, Row};
use super::fields::FieldType;
use super::model::{FieldMeta, Model, ModelMeta, RelationKind};
use super::query::lookup::{Join, JoinOn};
use super::query::{Column, Q, QuerySet};
use super::sql::join_table::JoinTable;
use super::{Error, Result};

/// A foreign key to `T`: stores `T`'s primary key, and `T` itself when
/// loaded with `select_related`.
pub struct ForeignKey<T: Model> {
    id: Option<T::Pk>,
    cached: Option<Box<T>>,
}

/// A one-to-one relation: a unique [`ForeignKey`].
pub type OneToOne<T> = ForeignKey<T>;

impl<T: Model> ForeignKey<T> {
    /// A key referring to the row whose primary key is `pk`.
    #[must_use]
    pub fn new(pk: T::Pk) -> Self {
        Self {
            id: Some(pk),
            cached: None,
        }
    }

    /// The referenced row's primary key (`None` when built from an unsaved
    /// instance).
    #[must_use]
    pub fn id(&self) -> Option<&T::Pk> {
        self.id.as_ref()
    }

    /// The referenced row, when it was loaded with `select_related`.
    #[must_use]
    pub fn get(&self) -> Option<&T> {
        self.cached.as_deref()
    }

    /// The referenced row: the loaded one, or one query.
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when the row is gone.
    pub async fn fetch(&self, db: &dyn Executor) -> Result<T>
    where
        T: Clone,
    {
        if let Some(obj) = &self.cached {
            return Ok((**obj).clone());
        }
        let Some(id) = &self.id else {
            return Err(Error::NotSaved {
                model: T::meta().name,
                action: "following a foreign key",
            });
        };
        QuerySet::<T>::new()
            .filter(Q::pk_eq(id.to_value()))
            .get(db)
            .await
    }

    #[doc(hidden)]
    pub fn __load(&mut self, row: &Row, offset: &mut usize) -> Result<()> {
        let count = T::meta().column_count();
        let pk_index = T::meta()
            .column_fields()
            .position(|f| f.primary_key)
            .unwrap_or(0);
        if row.is_null(*offset + pk_index) {
            *offset += count;
            return Ok(());
        }
        self.cached = Some(Box::new(T::from_row(row, offset)?));
        Ok(())
    }
}

/// An unset key (saving it fails with a NOT NULL error): lets models with
/// foreign keys use `..Default::default()`.
impl<T: Model> Default for ForeignKey<T> {
    fn default() -> Self {
        Self {
            id: None,
            cached: None,
        }
    }
}

impl<T: Model> From<&T> for ForeignKey<T> {
    fn from(obj: &T) -> Self {
        Self {
            id: obj.pk(),
            cached: None,
        }
    }
}

impl<T: Model + Clone> Clone for ForeignKey<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            cached: self.cached.clone(),
        }
    }
}

impl<T: Model + fmt::Debug> fmt::Debug for ForeignKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cached {
            Some(obj) => obj.fmt(f),
            None => write!(f, "ForeignKey<{}>({:?})", T::meta().name, self.id),
        }
    }
}

impl<T: Model> PartialEq for ForeignKey<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T: Model> serde::Serialize for ForeignKey<T>
where
    T::Pk: serde::Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(s)
    }
}

/// Reads the referenced row's primary key.
impl<'de, T: Model> serde::Deserialize<'de> for ForeignKey<T>
where
    T::Pk: serde::Deserialize<'de>,
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::Pk::deserialize(d).map(Self::new)
    }
}

impl<T: Model> FieldType for ForeignKey<T> {
    type Inner = Self;
    const SQL_TYPE: super::SqlType = <T::Pk as FieldType>::SQL_TYPE;
    fn to_value(&self) -> Value {
        match &self.id {
            Some(id) => id.to_value(),
            None => Self::SQL_TYPE.null(),
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        T::Pk::decode(row, idx).map(Self::new)
    }
    fn from_value(value: Value) -> Result<Self> {
        T::Pk::from_value(value).map(Self::new)
    }
}

/// A field type that refers to another model (`ForeignKey<T>`,
/// `Option<ForeignKey<T>>`).
pub trait RelationField: FieldType {
    /// The referenced model.
    type Target: Model;
}

impl<T: Model> RelationField for ForeignKey<T> {
    type Target = T;
}

impl<T: Model> RelationField for Option<ForeignKey<T>> {
    type Target = T;
}

#[doc(hidden)]
pub trait LoadRelated {
    fn __load(&mut self, rest: &[&str], skip: usize, row: &Row, offset: &mut usize) -> Result<()>;
    fn __loaded(&self) -> Option<&dyn std::any::Any>;
}

impl<T: Model> LoadRelated for ForeignKey<T> {
    fn __load(&mut self, rest: &[&str], skip: usize, row: &Row, offset: &mut usize) -> Result<()> {
        if rest.is_empty() {
            return ForeignKey::__load(self, row, offset);
        }
        match self.cached.as_deref_mut() {
            Some(obj) => obj.__load_related(rest, skip, row, offset),
            None => {
                *offset += skip;
                Ok(())
            }
        }
    }

    fn __loaded(&self) -> Option<&dyn std::any::Any> {
        self.get().map(|obj| obj as &dyn std::any::Any)
    }
}

impl<T: Model> LoadRelated for Option<ForeignKey<T>> {
    fn __load(&mut self, rest: &[&str], skip: usize, row: &Row, offset: &mut usize) -> Result<()> {
        match self {
            Some(fk) => LoadRelated::__load(fk, rest, skip, row, offset),
            None => {
                *offset += skip;
                Ok(())
            }
        }
    }

    fn __loaded(&self) -> Option<&dyn std::any::Any> {
        self.as_ref().and_then(LoadRelated::__loaded)
    }
}

/// Where a related collection is bound: the owner's key and the field.
#[derive(Debug, Clone)]
struct Binding {
    owner: Value,
    owner_meta: &'static ModelMeta,
    field: &'static FieldMeta,
}

/// The join table of a many-to-many field of `owner`: the owner's side is
/// its `source`, the related model's its `target`.
pub(crate) fn join_table(
    owner: &'static ModelMeta,
    field: &'static FieldMeta,
) -> Result<JoinTable> {
    let rel = field.relation.ok_or_else(|| {
        Error::Definition(format!("{}.{} is not a relation", owner.name, field.name))
    })?;
    if let Some(table) = rel.join_table {
        return Ok(JoinTable {
            table,
            source: rel.join_source,
            target: rel.join_target,
        });
    }
    let through = rel.through.map(|f| f()).ok_or_else(|| {
        Error::Definition(format!(
            "{}.{} has neither a join table nor a through model",
            owner.name, field.name
        ))
    })?;
    let target = (rel.target)();
    let fk_to = |meta: &ModelMeta, skip: Option<&str>| {
        through
            .column_fields()
            .find(|f| {
                f.relation.is_some_and(|r| {
                    matches!(r.kind, RelationKind::ForeignKey | RelationKind::OneToOne)
                        && (r.target)().table == meta.table
                }) && f.column != skip
            })
            .and_then(|f| f.column)
    };
    let source = fk_to(owner, None).ok_or_else(|| {
        Error::Definition(format!(
            "through model {} has no foreign key to {}",
            through.name, owner.name
        ))
    })?;
    let target_col = fk_to(target, Some(source)).ok_or_else(|| {
        Error::Definition(format!(
            "through model {} has no foreign key to {}",
            through.name, target.name
        ))
    })?;
    Ok(JoinTable {
        table: through.table,
        source,
        target: target_col,
    })
}

/// A many-to-many relation to `T`, through an automatic join table (or an
/// explicit `through` model).
///
/// The field is bound to its instance once the instance is saved or loaded;
/// `add`, `remove`, `set`, `clear` and `all` then work on the join table.
pub struct ManyToMany<T: Model> {
    binding: Option<Binding>,
    cache: Option<Vec<T>>,
    /// Set when the relation changed after `prefetch_related` loaded
    /// `cache`: the loaded rows are then no longer used (as Django drops
    /// its prefetched objects on `add`, `remove`, `set` and `clear`).
    stale: AtomicBool,
}

/// The reverse side of a foreign key or many-to-many field of `T`: the rows
/// of `T` that refer to this one. Declare it with
/// `#[model(related_field = "<field on T>")]`.
pub struct Reverse<T: Model> {
    binding: Option<Binding>,
    cache: Option<Vec<T>>,
    /// See [`ManyToMany`]'s field.
    stale: AtomicBool,
}

macro_rules! collection_common {
    ($ty:ident) => {
        impl<T: Model> Default for $ty<T> {
            fn default() -> Self {
                Self {
                    binding: None,
                    cache: None,
                    stale: AtomicBool::new(false),
                }
            }
        }

        impl<T: Model> $ty<T> {
            /// An unbound field, for new instances.
            #[must_use]
            pub fn new() -> Self {
                Self::default()
            }

            /// The rows loaded by `prefetch_related`, if any and if the
            /// relation was not changed through this field since.
            #[must_use]
            pub fn prefetched(&self) -> Option<&[T]> {
                if self.stale.load(Ordering::Acquire) {
                    return None;
                }
                self.cache.as_deref()
            }

            #[doc(hidden)]
            pub fn __bind(
                &mut self,
                owner: Value,
                owner_meta: &'static ModelMeta,
                field: &'static str,
            ) {
                if let Some(field) = owner_meta.field(field) {
                    self.binding = Some(Binding {
                        owner,
                        owner_meta,
                        field,
                    });
                }
            }

            #[doc(hidden)]
            pub fn __set_cache(&mut self, rows: Vec<T>) {
                self.cache = Some(rows);
                *self.stale.get_mut() = false;
            }

            fn binding(&self, action: &'static str) -> Result<&Binding> {
                // Bound only once the owner has a primary key.
                self.binding.as_ref().ok_or(Error::NotSaved {
                    model: "the instance",
                    action,
                })
            }

            /// Every related row: the prefetched ones, or one query.
            ///
            /// # Errors
            ///
            /// [`Error::NotSaved`] for an unsaved instance, or the query's error.
            pub async fn all(&self, db: &dyn Executor) -> Result<Vec<T>>
            where
                T: Clone,
            {
                if let Some(rows) = self.prefetched() {
                    return Ok(rows.to_vec());
                }
                self.query()?.all(db).await
            }
        }

        impl<T: Model + fmt::Debug> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.prefetched() {
                    Some(rows) => rows.fmt(f),
                    None => f.write_str(concat!(stringify!($ty), "(not loaded)")),
                }
            }
        }

        /// The prefetched rows, or `null` when they were not loaded.
        impl<T: Model + serde::Serialize> serde::Serialize for $ty<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                self.prefetched().serialize(s)
            }
        }

        /// Ignores the input: a relation is changed with its methods once the
        /// instance is saved, not by assigning a list.
        impl<'de, T: Model> serde::Deserialize<'de> for $ty<T> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde::de::IgnoredAny::deserialize(d).map(|_| Self::default())
            }
        }

        impl<T: Model + Clone> Clone for $ty<T> {
            fn clone(&self) -> Self {
                Self {
                    binding: self.binding.clone(),
                    cache: self.cache.clone(),
                    stale: AtomicBool::new(self.stale.load(Ordering::Acquire)),
                }
            }
        }
    };
}

collection_common!(ManyToMany);
collection_common!(Reverse);

impl<T: Model> ManyToMany<T> {
    /// Stops using the rows `prefetch_related` loaded: the relation is
    /// changing, and `all()` then reads it again.
    fn forget_prefetched(&self) {
        self.stale.store(true, Ordering::Release);
    }

    /// A query set over the related rows.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] for an unsaved instance.
    pub fn query(&self) -> Result<QuerySet<T>> {
        let b = self.binding("querying a many-to-many relation")?;
        let JoinTable {
            table,
            source,
            target,
        } = join_table(b.owner_meta, b.field)?;
        Ok(QuerySet::new().filter(Q::pk_in_join(table, source, target, b.owner.clone())))
    }

    /// Adds relations to `objs` (already related ones are left alone).
    /// Rows prefetched for this field are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] when this instance or one of `objs` is unsaved.
    pub async fn add(&self, db: &dyn Executor, objs: &[&T]) -> Result<()> {
        let b = self.binding("adding to a many-to-many relation")?;
        if objs.is_empty() {
            return Ok(());
        }
        let targets = objs
            .iter()
            .map(|obj| {
                obj.pk().map(|pk| pk.to_value()).ok_or(Error::NotSaved {
                    model: T::meta().name,
                    action: "adding it to a many-to-many relation",
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let stmt = join_table(b.owner_meta, b.field)?.add(&b.owner, targets, db.backend())?;
        self.forget_prefetched();
        db.execute(stmt).await.map(|_| ())
    }

    /// Removes the relations to `objs`. Rows prefetched for this field are
    /// dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] for an unsaved instance.
    pub async fn remove(&self, db: &dyn Executor, objs: &[&T]) -> Result<()> {
        let b = self.binding("removing from a many-to-many relation")?;
        let join = join_table(b.owner_meta, b.field)?;
        let pks: Vec<Value> = objs
            .iter()
            .filter_map(|o| o.pk())
            .map(|pk| pk.to_value())
            .collect();
        if pks.is_empty() {
            return Ok(());
        }
        let stmt = join.remove(b.owner.clone(), pks, db.backend());
        self.forget_prefetched();
        db.execute(stmt).await.map(|_| ())
    }

    /// Removes every relation of this instance. Rows prefetched for this
    /// field are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] for an unsaved instance.
    pub async fn clear(&self, db: &dyn Executor) -> Result<()> {
        let b = self.binding("clearing a many-to-many relation")?;
        let stmt = join_table(b.owner_meta, b.field)?.clear(b.owner.clone(), db.backend());
        self.forget_prefetched();
        db.execute(stmt).await.map(|_| ())
    }

    /// Makes `objs` exactly the related rows (in one transaction). Rows
    /// prefetched for this field are dropped.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] when this instance or one of `objs` is unsaved.
    pub async fn set(&self, db: &dyn Executor, objs: &[&T]) -> Result<()> {
        self.forget_prefetched();
        let tx = db.begin().await?;
        self.clear(&tx).await?;
        self.add(&tx, objs).await?;
        tx.commit().await
    }
}

impl<T: Model> Reverse<T> {
    /// A query set over the rows of `T` that refer to this instance.
    ///
    /// # Errors
    ///
    /// [`Error::NotSaved`] for an unsaved instance, [`Error::Definition`] when
    /// `related_field` names no foreign key of `T`.
    pub fn query(&self) -> Result<QuerySet<T>> {
        let b = self.binding("querying a reverse relation")?;
        let q = match reverse_via(b.owner_meta, b.field, T::meta())? {
            ReverseVia::ForeignKey(column) => Q::column_eq(column, b.owner.clone()),
            ReverseVia::JoinTable(join) => {
                Q::pk_in_join(join.table, join.source, join.target, b.owner.clone())
            }
        };
        Ok(QuerySet::new().filter(q))
    }
}

/// How a reverse relation reaches the rows of `T`.
#[derive(Debug, Clone, Copy)]
enum ReverseVia {
    /// `T.column = owner.pk` (a foreign key on `T`).
    ForeignKey(&'static str),
    /// Through the join table of a many-to-many field on `T`, seen from
    /// the owner: its `source` is the owner's side, its `target` `T`'s.
    JoinTable(JoinTable),
}

fn reverse_via(
    owner: &'static ModelMeta,
    field: &'static FieldMeta,
    target: &'static ModelMeta,
) -> Result<ReverseVia> {
    let name = field
        .relation
        .and_then(|r| r.related_field)
        .unwrap_or_default();
    let invalid = || {
        Error::Definition(format!(
            "{}.{}: `related_field = \"{name}\"` is not a foreign key or many-to-many field of {} \
             pointing to {}",
            owner.name, field.name, target.name, owner.name
        ))
    };
    let other = target.field(name).ok_or_else(invalid)?;
    let rel = other.relation.ok_or_else(invalid)?;
    if (rel.target)().table != owner.table {
        return Err(invalid());
    }
    match rel.kind {
        RelationKind::ForeignKey | RelationKind::OneToOne => {
            other.column.map(ReverseVia::ForeignKey).ok_or_else(invalid)
        }
        RelationKind::ManyToMany => {
            let join = join_table(target, other)?;
            Ok(ReverseVia::JoinTable(JoinTable {
                table: join.table,
                source: join.target,
                target: join.source,
            }))
        }
        _ => Err(invalid()),
    }
}

/// The join from `owner` through its relation field `field`, for any
/// kind of relation: what `then` follows in a typed path, and what a path
/// of field names (`Q::named("author__username", ..)`) follows.
///
/// # Errors
///
/// [`Error::Definition`] when `field` is not a relation, or its
/// definition is broken (a many-to-many field without its table, a
/// reverse relation naming no field that points back).
pub(crate) fn relation_join(owner: &'static ModelMeta, field: &'static FieldMeta) -> Result<Join> {
    let rel = field.relation.ok_or_else(|| {
        Error::Definition(format!("{}.{} is not a relation", owner.name, field.name))
    })?;
    let target = (rel.target)();
    let on = match rel.kind {
        RelationKind::ForeignKey | RelationKind::OneToOne => JoinOn::Columns {
            parent_column: field.column.ok_or_else(|| {
                Error::Definition(format!("{}.{} has no column", owner.name, field.name))
            })?,
            target_column: target.pk_column,
        },
        RelationKind::ManyToMany => {
            let join = join_table(owner, field)?;
            JoinOn::Table {
                table: join.table,
                source: join.source,
                target: join.target,
                parent_pk: owner.pk_column,
            }
        }
        RelationKind::Reverse => match reverse_via(owner, field, target)? {
            ReverseVia::ForeignKey(fk_column) => JoinOn::Columns {
                parent_column: owner.pk_column,
                target_column: fk_column,
            },
            ReverseVia::JoinTable(join) => JoinOn::Table {
                table: join.table,
                source: join.source,
                target: join.target,
                parent_pk: owner.pk_column,
            },
        },
    };
    Ok(Join {
        field: field.name,
        on,
        target: rel.target,
    })
}

/// The join of `M`'s relation field `name`, or [`JoinOn::Invalid`] (which
/// matches nothing) with the definition error logged: a typed path cannot
/// fail where it is written.
fn typed_join<M: Model, T: Model>(name: &'static str) -> Join {
    M::meta()
        .field(name)
        .ok_or_else(|| Error::Definition(format!("{} has no field {name}", M::meta().name)))
        .and_then(|f| relation_join(M::meta(), f))
        .unwrap_or_else(|e| {
            tracing::error!("{e}");
            Join {
                field: name,
                on: JoinOn::Invalid,
                target: T::meta,
            }
        })
}

/// A relation that `prefetch_related` can load for a list of `M`.
pub trait Prefetch<M: Model>: Send + Sync {
    /// Loads the relation for every instance of `items` in one query.
    fn prefetch<'a>(
        &'a self,
        items: &'a mut [M],
        db: &'a dyn Executor,
    ) -> BoxFuture<'a, Result<()>>;
}

/// The handle of a many-to-many field (`Article::tags`), for `prefetch_related`.
pub struct ManyToManyField<M, T: Model> {
    name: &'static str,
    access: fn(&mut M) -> &mut ManyToMany<T>,
    _p: PhantomData<fn() -> T>,
}

/// The handle of a reverse relation (`User::articles`), for `prefetch_related`.
pub struct ReverseField<M, T: Model> {
    name: &'static str,
    access: fn(&mut M) -> &mut Reverse<T>,
    _p: PhantomData<fn() -> T>,
}

impl<M, T: Model> ManyToManyField<M, T> {
    #[doc(hidden)]
    pub const fn __new(name: &'static str, access: fn(&mut M) -> &mut ManyToMany<T>) -> Self {
        Self {
            name,
            access,
            _p: PhantomData,
        }
    }
}

impl<M, T: Model> ReverseField<M, T> {
    #[doc(hidden)]
    pub const fn __new(name: &'static str, access: fn(&mut M) -> &mut Reverse<T>) -> Self {
        Self {
            name,
            access,
            _p: PhantomData,
        }
    }
}

impl<M: Model, T: Model> ManyToManyField<M, T> {
    /// Follows the relation to a column of the related model, for filters,
    /// ordering and values: `Article::tags.then(Tag::name).eq("rust")`.
    /// A row matching through several related rows appears once per match;
    /// add `.distinct()` to the query set to fold them.
    #[must_use]
    pub fn then<U>(&self, column: Column<T, U>) -> Column<M, U> {
        Column::through(typed_join::<M, T>(self.name), column)
    }
}

impl<M: Model, T: Model> ReverseField<M, T> {
    /// Follows the reverse relation to a column of the referring model:
    /// `User::articles.then(Article::title).icontains("rust")`. A row
    /// matching through several related rows appears once per match; add
    /// `.distinct()` to fold them.
    #[must_use]
    pub fn then<U>(&self, column: Column<T, U>) -> Column<M, U> {
        Column::through(typed_join::<M, T>(self.name), column)
    }
}

fn key(v: &Value) -> String {
    // Values of one column all have the same variant, so their debug form is
    // a faithful key.
    format!("{v:?}")
}

impl<M: Model, T: Model> Prefetch<M> for ManyToManyField<M, T> {
    fn prefetch<'a>(
        &'a self,
        items: &'a mut [M],
        db: &'a dyn Executor,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let field = M::meta().field(self.name).ok_or_else(|| {
                Error::Definition(format!("{} has no field {}", M::meta().name, self.name))
            })?;
            let join = join_table(M::meta(), field)?;
            let owners: Vec<Value> = items
                .iter()
                .filter_map(|m| m.pk())
                .map(|pk| pk.to_value())
                .collect();
            let mut grouped: HashMap<String, Vec<T>> = HashMap::new();
            for owners in owners.chunks(super::persist::IN_CHUNK) {
                let stmt = join.prefetch(T::meta(), owners.to_vec(), db.backend());
                for row in db.fetch_all(stmt).await? {
                    let owner = M::Pk::decode(&row, 0)?.to_value();
                    let mut offset = 1;
                    let mut obj = T::from_row(&row, &mut offset)?;
                    obj.__bind();
                    grouped.entry(key(&owner)).or_default().push(obj);
                }
            }
            for item in items.iter_mut() {
                let rows = item
                    .pk()
                    .and_then(|pk| grouped.remove(&key(&pk.to_value())));
                (self.access)(item).__set_cache(rows.unwrap_or_default());
            }
            Ok(())
        })
    }
}

impl<M: Model, T: Model> Prefetch<M> for ReverseField<M, T> {
    fn prefetch<'a>(
        &'a self,
        items: &'a mut [M],
        db: &'a dyn Executor,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let field = M::meta().field(self.name).ok_or_else(|| {
                Error::Definition(format!("{} has no field {}", M::meta().name, self.name))
            })?;
            let via = reverse_via(M::meta(), field, T::meta())?;
            let owners: Vec<Value> = items
                .iter()
                .filter_map(|m| m.pk())
                .map(|pk| pk.to_value())
                .collect();
            let mut grouped: HashMap<String, Vec<T>> = HashMap::new();
            for owners in owners.chunks(super::persist::IN_CHUNK) {
                let owners = owners.to_vec();
                match via {
                    ReverseVia::ForeignKey(column) => {
                        let fk_field = T::meta().resolve_column(column)?.name;
                        let children = QuerySet::<T>::new()
                            .filter(Q::column_in(column, owners))
                            .all(db)
                            .await?;
                        for child in children {
                            if let Some(v) = child.field_value(fk_field) {
                                grouped.entry(key(&v)).or_default().push(child);
                            }
                        }
                    }
                    ReverseVia::JoinTable(join) => {
                        let stmt = join.prefetch(T::meta(), owners, db.backend());
                        for row in db.fetch_all(stmt).await? {
                            let owner = M::Pk::decode(&row, 0)?.to_value();
                            let mut offset = 1;
                            let mut obj = T::from_row(&row, &mut offset)?;
                            obj.__bind();
                            grouped.entry(key(&owner)).or_default().push(obj);
                        }
                    }
                }
            }
            for item in items.iter_mut() {
                let rows = item
                    .pk()
                    .and_then(|pk| grouped.remove(&key(&pk.to_value())));
                (self.access)(item).__set_cache(rows.unwrap_or_default());
            }
            Ok(())
        })
    }
}
