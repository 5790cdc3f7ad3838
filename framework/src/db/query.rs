//! Lazy, chainable query sets.
//!
//! Nothing touches the database until a terminal method (`all`, `get`,
//! `count`, ...) is awaited with an executor (`&db` or `&tx`).
//!
//! ```
//! use manouche::db::{Auto, Model};
//!
//! #[derive(Debug, Model)]
//! #[model(app = "blog", ordering = "-id")]
//! pub struct Note {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 100)]
//!     pub title: String,
//!     pub stars: i32,
//! }
//!
//! let recent_popular = Note::objects()
//!     .filter(Note::stars.gte(4))
//!     .exclude(Note::title.istartswith("draft"))
//!     .order_by(Note::stars.desc())
//!     .limit(10);
//! # let _ = recent_popular;
//! ```
//!
//! # Multi-valued relations: joins and subqueries
//!
//! A many-to-many field or the reverse side of a foreign key can reach
//! several rows, and a condition on it means "some related row matches".
//! As in Django ("spanning multi-valued relationships"), **each `filter()`
//! call joins such a relation on its own**, and the conditions inside one
//! call share its join: `filter(tags = a).filter(tags = b)` keeps the
//! articles tagged both `a` and `b`, while `filter(tags = a & tags = b)`
//! asks one tag to be both. A foreign key followed forwards reaches one row,
//! so every call shares its join. The rows are joined, so an article that
//! matches through several related rows comes once per match: add
//! `.distinct()` to fold them. Selected columns, aggregates and sort keys on
//! the relation use the join of the last filter on it (an annotation counts
//! the related rows the filters kept).
//!
//! ```text
//! Post::objects().filter(Post::tags.then(Tag::name).eq("a"))
//!                .filter(Post::tags.then(Tag::name).eq("b"))
//!   SELECT "t0"."id", "t0"."title" FROM "app_post" AS "t0"
//!   LEFT JOIN "app_post_tags" AS "t1_j" ON "t1_j"."post_id" = "t0"."id"
//!   LEFT JOIN "app_tag" AS "t1" ON "t1"."id" = "t1_j"."tag_id"
//!   LEFT JOIN "app_post_tags" AS "t2_j" ON "t2_j"."post_id" = "t0"."id"
//!   LEFT JOIN "app_tag" AS "t2" ON "t2"."id" = "t2_j"."tag_id"
//!   WHERE "t1"."name" = ? AND "t2"."name" = ?
//! ```
//!
//! **Under a negation** (`exclude()`, or `!q` in a filter) a condition on a
//! multi-valued relation is not joined but written as an `EXISTS` subquery
//! on the related rows, correlated with the row: `exclude(tags = a)` drops
//! every post that has *any* tag `a`, and returns the others once each (a
//! join would negate row by row and keep a post through its other tags).
//! Each condition of one `exclude()` gets its own subquery, so they need not
//! hold for the same related row (Django's documented `exclude()`
//! behaviour); chained `exclude()` calls are ANDed. A condition that
//! matches NULL (`isnull(true)`) starts the subquery from the row itself
//! with left joins, so that a row without related rows matches it.
//!
//! ```text
//! Post::objects().exclude(Post::tags.then(Tag::name).eq("a"))
//!   SELECT "t0"."id", "t0"."title" FROM "app_post" AS "t0"
//!   WHERE (EXISTS (SELECT 1 FROM "app_post_tags" AS "u1_j"
//!     INNER JOIN "app_tag" AS "u1" ON "u1"."id" = "u1_j"."tag_id"
//!     WHERE "u1_j"."post_id" = "t0"."id" AND "u1"."name" = ?)) IS NOT TRUE
//! ```
//!
//! Queries that do not follow a multi-valued relation are written as before:
//! a primary-key lookup is one table and one condition.
//!
//! # Expressions, conditions on aggregates, date parts, subqueries
//!
//! Django's query expressions: [`F`] compares two columns
//! or computes (`F(Company::num_employees).gt(F(Company::num_chairs) * 2)`,
//! `Company::num_chairs.set_expr(F(Company::num_employees) + 2)` in an
//! `update`), an aggregate in a filter is a condition on the row's related
//! rows written as `HAVING` (`Author::books.then(Book::id).count().gt(2)`),
//! and sorts rows by its value in `order_by`. Date parts
//! (`Post::created.year().gte(2020)`, `.in_zone(paris).hour()`) read a
//! date and time in UTC or a named zone on both backends. [`exists`] with
//! [`OuterRef`] and [`Column::in_query`] are subqueries the database runs
//! in the same statement.
//!
//! ```text
//! Book::objects().filter(Book::authors.then(Author::id).count().gt(1))
//!   SELECT "t0"."id", ... FROM "press_book" AS "t0"
//!   LEFT JOIN "press_book_authors" AS "t1_j" ON "t1_j"."book_id" = "t0"."id"
//!   LEFT JOIN "press_author" AS "t1" ON "t1"."id" = "t1_j"."author_id"
//!   GROUP BY "t0"."id", ... HAVING COUNT("t1"."id") > ?
//! ```
//!
//! Sort keys place NULLs as the database does unless told
//! ([`OrderBy::nulls_first`] / [`OrderBy::nulls_last`]): SQLite sorts NULL
//! before every value, PostgreSQL after. [`QuerySet::reverse`],
//! [`QuerySet::last`], [`QuerySet::earliest`] and [`QuerySet::latest`]
//! follow Django's.
//!
//! # Aggregates over slices and `distinct()`
//!
//! `sum`, `avg`, `min`, `max` and `values` of aggregates alone read the
//! rows the query set returns: over a slice (`order_by(..).limit(3)`) or
//! `distinct()`, the rows are a subquery and the aggregate reads it, as
//! `count()` does.

pub(crate) mod expr;
pub mod filterset;
pub(crate) mod lookup;
pub(crate) mod values;

use std::marker::PhantomData;
use std::sync::Arc;

pub use expr::{
    DatePart, Expr, F, HasDate, HasTime, IntoExpr, IntoSubquery, OuterRef, TimeZone, Zoned, exists,
};
pub use filterset::FilterSet;
pub use lookup::{Assignment, Column, Join, Lookup, LookupOp, Numeric, OrderBy, Q, Textual};
pub use values::{Aggregate, Selectable, Selection};

use futures_util::TryStreamExt as _;
use futures_util::stream::BoxStream;

use super::executor::Executor;
use super::executor::{Row, Statement};
use super::fields::FieldType;
use super::model::{FieldMeta, Model};
use super::relations::{Prefetch, RelationField};
use super::sql::cache;
use super::sql::compiler::{Kind, Query, Set};
use super::{Error, Result, persist};

/// Rows per chunk of [`QuerySet::stream`] with `prefetch_related`
/// (Django's default for `iterator()`).
const DEFAULT_CHUNK_SIZE: usize = 2000;

/// Things [`QuerySet::order_by`] accepts: one [`OrderBy`], a column
/// (ascending), or an array / `Vec` of sort keys.
pub trait IntoOrdering {
    /// The sort keys.
    fn into_ordering(self) -> Vec<OrderBy>;
}

impl IntoOrdering for OrderBy {
    fn into_ordering(self) -> Vec<OrderBy> {
        vec![self]
    }
}

impl<M, T> IntoOrdering for Column<M, T> {
    fn into_ordering(self) -> Vec<OrderBy> {
        vec![self.asc()]
    }
}

impl<const N: usize> IntoOrdering for [OrderBy; N] {
    fn into_ordering(self) -> Vec<OrderBy> {
        self.into()
    }
}

impl IntoOrdering for Vec<OrderBy> {
    fn into_ordering(self) -> Vec<OrderBy> {
        self
    }
}

/// A lazy query over rows of `M`.
pub struct QuerySet<M: Model> {
    pub(crate) filters: Vec<lookup::Node>,
    pub(crate) ordering: Option<Vec<OrderBy>>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) distinct: bool,
    pub(crate) for_update: bool,
    /// Relation paths to load with joins, parents before children.
    pub(crate) related: Vec<Vec<Join>>,
    prefetch: Vec<Arc<dyn Prefetch<M>>>,
    _p: PhantomData<fn() -> M>,
}

impl<M: Model> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        Self {
            filters: self.filters.clone(),
            ordering: self.ordering.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            for_update: self.for_update,
            related: self.related.clone(),
            prefetch: self.prefetch.clone(),
            _p: PhantomData,
        }
    }
}

impl<M: Model> std::fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySet")
            .field("model", &M::meta().name)
            .field("filters", &self.filters)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> QuerySet<M> {
    /// Every row of `M` (same as `M::objects()`).
    #[must_use]
    pub fn new() -> Self {
        Self {
            filters: Vec::new(),
            ordering: None,
            limit: None,
            offset: None,
            distinct: false,
            for_update: false,
            related: Vec::new(),
            prefetch: Vec::new(),
            _p: PhantomData,
        }
    }

    /// Keeps the rows matching `q` (several filters are ANDed).
    #[must_use]
    pub fn filter(mut self, q: Q<M>) -> Self {
        self.filters.push(q.node);
        self
    }

    /// Drops the rows matching `q`.
    #[must_use]
    pub fn exclude(self, q: Q<M>) -> Self {
        self.filter(!q)
    }

    /// Sorts by the given keys, replacing the model's default ordering.
    #[must_use]
    pub fn order_by(mut self, keys: impl IntoOrdering) -> Self {
        self.ordering = Some(keys.into_ordering());
        self
    }

    /// Sorts by field names given as strings by the project's code (the
    /// admin's `ordering`): `-` means descending. Only the model's own field
    /// (or column) names are accepted, so no name reaches the SQL text; but
    /// every field can be named, so for a client's `?ordering=-created` use
    /// a [`FilterSet`], which sorts only on the fields it lists.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] for a name that is not a field of `M`.
    pub fn order_by_names<S: AsRef<str>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        let mut keys = Vec::new();
        for name in names {
            let name = name.as_ref();
            let (desc, bare) = match name.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, name.strip_prefix('+').unwrap_or(name)),
            };
            let field = M::meta().resolve_column(bare)?;
            let column = field.column.ok_or_else(|| Error::UnknownField {
                model: M::meta().name,
                field: bare.to_owned(),
                known: String::new(),
            })?;
            keys.push(OrderBy::column(Vec::new(), column, desc));
        }
        self.ordering = Some(keys);
        Ok(self)
    }

    /// The sort keys in force: the explicit ones, else the model's default
    /// ordering.
    fn current_ordering(&self) -> Vec<OrderBy> {
        match &self.ordering {
            Some(keys) => keys.clone(),
            None => M::meta()
                .ordering
                .iter()
                .map(|&(column, desc)| OrderBy::column(Vec::new(), column, desc))
                .collect(),
        }
    }

    /// Django's `reverse()`: the rows in the opposite order (every sort
    /// key, the model's default ordering included, turned round; NULLs
    /// placed the other way too). Without any ordering it changes nothing.
    #[must_use]
    pub fn reverse(mut self) -> Self {
        let keys = self.current_ordering();
        self.ordering = Some(keys.into_iter().map(OrderBy::reversed).collect());
        self
    }

    /// Returns rows in no particular order (drops the default ordering).
    #[must_use]
    pub fn unordered(mut self) -> Self {
        self.ordering = Some(Vec::new());
        self
    }

    /// At most `n` rows.
    #[must_use]
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    #[must_use]
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    /// `SELECT DISTINCT`.
    #[must_use]
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Locks the selected rows until the end of the transaction
    /// (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite transactions already
    /// hold the database's write lock). Use it inside a transaction.
    #[must_use]
    pub fn select_for_update(mut self) -> Self {
        self.for_update = true;
        self
    }

    /// Loads the row a foreign key refers to in the same query (a `JOIN`);
    /// read it with `obj.field.get()`. Follows several keys too:
    /// `select_related(Comment::article.then(Article::author))` loads the
    /// article and its author.
    #[must_use]
    pub fn select_related<T: RelationField>(mut self, field: Column<M, T>) -> Self {
        let mut full = field.path.clone();
        full.push(field.join());
        self.add_related(&full);
        self
    }

    /// Loads every prefix of the foreign key path `full`, once.
    fn add_related(&mut self, full: &[Join]) {
        for depth in 1..=full.len() {
            let prefix = &full[..depth];
            if !self.related.iter().any(|p| p.as_slice() == prefix) {
                self.related.push(prefix.to_vec());
            }
        }
    }

    /// [`select_related`](Self::select_related) with the path named at run
    /// time, as Django's `select_related("article__author")`: foreign keys
    /// (or one-to-one fields) joined by `__`. Read a loaded row by name with
    /// [`Model::loaded_related`].
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] for a step that
    /// is not a foreign key of its model.
    pub fn select_related_path(mut self, path: &str) -> Result<Self> {
        let resolved = M::meta().resolve_path(path)?;
        // Every step, the last one included, must be a foreign key.
        let joinable = |f: &FieldMeta| {
            f.relation.is_some_and(|r| {
                matches!(
                    r.kind,
                    super::model::RelationKind::ForeignKey | super::model::RelationKind::OneToOne
                )
            })
        };
        let steps = resolved
            .relations
            .iter()
            .copied()
            .chain([(resolved.model, resolved.field)]);
        let mut full = Vec::new();
        for (owner, field) in steps {
            if !joinable(field) {
                return Err(super::Error::UnknownField {
                    model: owner.name,
                    field: field.name.to_owned(),
                    known: owner
                        .column_fields()
                        .filter(|f| joinable(f))
                        .map(|f| f.name)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            full.push(super::relations::relation_join(owner, field)?);
        }
        self.add_related(&full);
        Ok(self)
    }

    /// Loads a many-to-many or reverse relation for every row with one extra
    /// query; read it with `obj.field.prefetched()` or `obj.field.all(&db)`.
    #[must_use]
    pub fn prefetch_related(mut self, field: impl Prefetch<M> + 'static) -> Self {
        self.prefetch.push(Arc::new(field));
        self
    }

    /// The statement `kind` of this query set on `db`'s backend, and
    /// what to call once it has run, so that its text is kept.
    fn statement(&self, kind: Kind<'_>, db: &dyn Executor) -> (Statement, cache::Pending) {
        cache::statement(&Query::of(self), kind, db.backend())
    }

    /// Runs the statement `kind` of this query set with `exec`; once that
    /// succeeded, the statement's text is kept for the next time.
    async fn run<T, F, Fut>(&self, kind: Kind<'_>, db: &dyn Executor, exec: F) -> Result<T>
    where
        F: FnOnce(Statement) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let (stmt, pending) = self.statement(kind, db);
        let out = exec(stmt).await?;
        pending.succeeded();
        Ok(out)
    }

    /// Runs the query and returns every row.
    ///
    /// Each row is decoded as the driver reads it: the result holds the
    /// objects, never a second copy of the raw rows. To go through more rows
    /// than should be held at once, use [`stream`](Self::stream).
    ///
    /// # Errors
    ///
    /// The database's error (see [`Error`]).
    pub async fn all(self, db: &dyn Executor) -> Result<Vec<M>> {
        self.decoded(db).await
    }

    /// The rows, as [`all`](Self::all) returns them, and the number of rows
    /// the query set matches before its [`limit`](Self::limit) and
    /// [`offset`](Self::offset): a page and the count its paginator shows,
    /// in one statement instead of two. The count is a subquery that the
    /// database runs once, whatever the number of rows. A page past the
    /// last row has no row to carry it, so then the count is a second
    /// query (as it is for a limit of 0).
    ///
    /// ```no_run
    /// # use manouche::db::{Auto, Database, Model};
    /// # #[derive(Debug, Model)]
    /// # #[model(app = "shop")]
    /// # pub struct Order { pub id: Auto<i64>, pub total: i64 }
    /// # async fn third_page(db: &Database) -> manouche::db::Result<()> {
    /// let (orders, count) = Order::objects()
    ///     .order_by(Order::id.asc())
    ///     .offset(40)
    ///     .limit(20)
    ///     .all_and_count(db)
    ///     .await?;
    /// println!("{} of {count} orders", orders.len());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The database's error (see [`Error`]).
    pub async fn all_and_count(self, db: &dyn Executor) -> Result<(Vec<M>, i64)> {
        let loads = self.related_loads();
        let rows = self
            .run(Kind::Counted, db, |stmt| {
                db.fetch_map(stmt, move |row| {
                    let (obj, at) = Self::decode(row, &loads)?;
                    Ok((obj, row.get::<i64>(at)?))
                })
            })
            .await?;
        let count = match rows.first() {
            Some(&(_, count)) => count,
            // From the first row on, and not cut to nothing: none match.
            None if self.offset.unwrap_or(0) == 0 && self.limit != Some(0) => 0,
            None => {
                let mut uncut = self.clone().unordered();
                uncut.limit = None;
                uncut.offset = None;
                uncut.count(db).await?
            }
        };
        let mut out: Vec<M> = rows.into_iter().map(|(obj, _)| obj).collect();
        self.prefetch_into(&mut out, db).await?;
        Ok((out, count))
    }

    /// The matching objects one at a time, as the database produces them:
    /// memory stays the same whatever the row count (Django's
    /// `iterator()`). The stream holds a database connection until it ends
    /// or is dropped; dropping it early stops the query.
    ///
    /// `select_related` objects come with each row. With
    /// `prefetch_related`, rows are taken 2,000 at a time and each chunk's
    /// related objects are loaded with one query per relation, as
    /// [`iterator`](Self::iterator) with that chunk size.
    ///
    /// ```no_run
    /// # use manouche::db::{Auto, Database, Model};
    /// # #[derive(Debug, Model)]
    /// # #[model(app = "shop")]
    /// # pub struct Order { pub id: Auto<i64>, pub total: i64 }
    /// # async fn export(db: &Database) -> manouche::db::Result<i64> {
    /// use futures_util::TryStreamExt as _;
    ///
    /// let mut orders = Order::objects().order_by(Order::id.asc()).stream(db);
    /// let mut sum = 0;
    /// while let Some(order) = orders.try_next().await? {
    ///     sum += order.total;
    /// }
    /// # Ok(sum)
    /// # }
    /// ```
    #[must_use = "a stream does nothing until it is read"]
    pub fn stream(self, db: &dyn Executor) -> BoxStream<'_, Result<M>> {
        self.iterator(db, DEFAULT_CHUNK_SIZE)
    }

    /// Django's `iterator(chunk_size)`: the objects as a stream (see
    /// [`stream`](Self::stream)), with `prefetch_related` relations loaded
    /// for every `chunk_size` rows. Without `prefetch_related`, the chunk
    /// size changes nothing: rows are decoded one by one as they arrive.
    ///
    /// With `prefetch_related`, each chunk's prefetch queries run while the
    /// stream holds its connection, so they need a second one: on a
    /// [`Transaction`](super::Transaction), or a database of one connection
    /// (in-memory SQLite), the stream gives an [`Error::InvalidQuery`]
    /// rather than wait for itself. (Django reads such chunks on the same
    /// connection; sqlx runs one statement at a time per connection.)
    ///
    /// # Errors
    ///
    /// The stream yields [`Error::InvalidQuery`] for a `chunk_size` of 0
    /// (Django's `ValueError`) and in the case above, then the database's
    /// errors.
    #[must_use = "a stream does nothing until it is read"]
    pub fn iterator(self, db: &dyn Executor, chunk_size: usize) -> BoxStream<'_, Result<M>> {
        let invalid = |message: &str| Error::InvalidQuery {
            model: M::meta().name,
            message: message.to_owned(),
        };
        Box::pin(async_stream::try_stream! {
            if chunk_size == 0 {
                Err(invalid("the chunk size must be strictly positive"))?;
            }
            if !self.prefetch.is_empty() && db.single_connection() {
                Err(invalid(
                    "iterator() with prefetch_related() needs a second connection for the \
                     prefetch queries; run it on the database, outside the transaction",
                ))?;
            }
            let (stmt, pending) = self.statement(Kind::Select, db);
            let loads = self.related_loads();
            let mut rows = kept_at_first_row(db.fetch_stream(stmt), pending);
            if self.prefetch.is_empty() {
                while let Some(row) = rows.try_next().await? {
                    yield Self::decode(&row, &loads)?.0;
                }
            } else {
                let mut chunk = Vec::with_capacity(chunk_size.min(DEFAULT_CHUNK_SIZE));
                loop {
                    let row = rows.try_next().await?;
                    let done = row.is_none();
                    if let Some(row) = row {
                        chunk.push(Self::decode(&row, &loads)?.0);
                    }
                    if chunk.len() >= chunk_size || (done && !chunk.is_empty()) {
                        self.prefetch_into(&mut chunk, db).await?;
                        for obj in chunk.drain(..) {
                            yield obj;
                        }
                    }
                    if done {
                        break;
                    }
                }
            }
        })
    }

    /// Runs the `prefetch_related` queries for `objs`.
    async fn prefetch_into(&self, objs: &mut [M], db: &dyn Executor) -> Result<()> {
        for prefetch in &self.prefetch {
            prefetch.prefetch(objs, db).await?;
        }
        Ok(())
    }

    /// The `select_related` paths as field names, each with the column
    /// count of its last model: what decoding needs, worked out once per
    /// query rather than once per row.
    fn related_loads(&self) -> Vec<(Vec<&'static str>, usize)> {
        self.related
            .iter()
            .map(|path| {
                let names = path.iter().map(|j| j.field).collect();
                let skip = path.last().map_or(0, |j| (j.target)().column_count());
                (names, skip)
            })
            .collect()
    }

    /// Decodes one row into an object and its `select_related` objects;
    /// also returns the index of the first column after them.
    fn decode(row: &Row, loads: &[(Vec<&'static str>, usize)]) -> Result<(M, usize)> {
        let mut offset = 0;
        let mut obj = M::from_row(row, &mut offset)?;
        for (names, skip) in loads {
            obj.__load_related(names, *skip, row, &mut offset)?;
        }
        Ok((obj, offset))
    }

    /// The first row in the query's order, if any.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn first(self, db: &dyn Executor) -> Result<Option<M>> {
        let mut qs = self.limit(1);
        if qs.ordering.is_none() && M::meta().ordering.is_empty() {
            // Like Django: a stable answer needs an order.
            qs.ordering = Some(vec![OrderBy::column(
                Vec::new(),
                M::meta().pk_column,
                false,
            )]);
        }
        Ok(qs.decoded(db).await?.pop())
    }

    /// The rows of the query, each decoded as the driver reads it, with
    /// their `prefetch_related` queries run (what [`first`](Self::first)
    /// and a [`get`](Self::get) on a unique column take their one row
    /// from): SQLite may then read them on the calling thread.
    async fn decoded(&self, db: &dyn Executor) -> Result<Vec<M>> {
        let loads = self.related_loads();
        let mut out = self
            .run(Kind::Select, db, |stmt| {
                db.fetch_map(stmt, move |row| Ok(Self::decode(row, &loads)?.0))
            })
            .await?;
        self.prefetch_into(&mut out, db).await?;
        Ok(out)
    }

    /// The last row in the query's order, if any: [`first`](Self::first)
    /// of the [`reverse`](Self::reverse)d query, or of the query ordered by
    /// descending primary key when it has no order (as Django's `last()`).
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn last(self, db: &dyn Executor) -> Result<Option<M>> {
        let qs = if self.current_ordering().is_empty() {
            self.order_by(OrderBy::column(Vec::new(), M::meta().pk_column, true))
        } else {
            self.reverse()
        };
        qs.first(db).await
    }

    /// Django's `earliest()`: the first row by `keys` (replacing the
    /// query's order), or [`Error::DoesNotExist`].
    /// `Post::objects().earliest(Post::published)`.
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when no row matches,
    /// [`Error::InvalidQuery`] on a sliced query (as Django refuses it),
    /// and the database's error.
    pub async fn earliest(self, db: &dyn Executor, keys: impl IntoOrdering) -> Result<M> {
        self.edge("earliest", keys.into_ordering())?
            .get_first(db)
            .await
    }

    /// Django's `latest()`: the last row by `keys` (the first by the keys
    /// reversed), or [`Error::DoesNotExist`].
    /// `Post::objects().latest(Post::published)`.
    ///
    /// # Errors
    ///
    /// As [`earliest`](Self::earliest).
    pub async fn latest(self, db: &dyn Executor, keys: impl IntoOrdering) -> Result<M> {
        let keys = keys
            .into_ordering()
            .into_iter()
            .map(OrderBy::reversed)
            .collect::<Vec<_>>();
        self.edge("latest", keys)?.get_first(db).await
    }

    fn edge(self, method: &str, keys: Vec<OrderBy>) -> Result<Self> {
        if self.limit.is_some() || self.offset.is_some() {
            return Err(Error::InvalidQuery {
                model: M::meta().name,
                message: format!("{method}() cannot be used once the query is sliced"),
            });
        }
        if keys.is_empty() {
            return Err(Error::InvalidQuery {
                model: M::meta().name,
                message: format!("{method}() needs the field(s) to order by"),
            });
        }
        Ok(self.order_by(keys))
    }

    async fn get_first(self, db: &dyn Executor) -> Result<M> {
        self.first(db).await?.ok_or(Error::DoesNotExist {
            model: M::meta().name,
        })
    }

    /// The one row matching the query.
    ///
    /// # Errors
    ///
    /// [`Error::DoesNotExist`] when none matches,
    /// [`Error::MultipleObjectsReturned`] when several do.
    pub async fn get(self, db: &dyn Executor) -> Result<M> {
        let not_found = || Error::DoesNotExist {
            model: M::meta().name,
        };
        if lookup::at_most_one_row(&self.filters, M::meta()) {
            // The filters pin a unique column: no need to ask for a second
            // row to prove there is none.
            return self.decoded(db).await?.pop().ok_or_else(not_found);
        }
        let mut rows = self.limit(21).all(db).await?;
        match rows.len() {
            0 => Err(not_found()),
            1 => Ok(rows.remove(0)),
            count => Err(Error::MultipleObjectsReturned {
                model: M::meta().name,
                count,
            }),
        }
    }

    /// The number of matching rows.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn count(self, db: &dyn Executor) -> Result<i64> {
        let rows = self
            .run(Kind::Count, db, |stmt| {
                db.fetch_map(stmt, |row| row.get::<i64>(0))
            })
            .await?;
        Ok(rows.first().copied().unwrap_or(0))
    }

    /// Whether any row matches.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn exists(self, db: &dyn Executor) -> Result<bool> {
        let rows = self
            .run(Kind::Exists, db, |stmt| db.fetch_map(stmt, |_| Ok(())))
            .await?;
        Ok(!rows.is_empty())
    }

    /// Selected columns and/or aggregates instead of whole rows:
    /// `values((Post::title, Post::views))` returns `Vec<(String, i64)>`.
    /// When the selection mixes columns and aggregates, the rows are grouped
    /// by the columns (`GROUP BY`).
    ///
    /// Run it with [`ValuesQuery::all`].
    #[must_use]
    pub fn values<S: Selection<M>>(self, selection: S) -> ValuesQuery<M, S> {
        ValuesQuery {
            qs: self,
            selection,
        }
    }

    /// Each row with extra computed values, typically aggregates over a
    /// relation: `User::objects().annotate(User::articles.then(Article::id).count())`
    /// returns `Vec<(User, i64)>` (grouped by the row).
    #[must_use]
    pub fn annotate<S: Selection<M>>(self, selection: S) -> AnnotatedQuery<M, S> {
        AnnotatedQuery {
            qs: self,
            selection,
        }
    }

    /// Sets columns on every matching row; returns how many rows changed.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn update(
        self,
        db: &dyn Executor,
        assignments: impl IntoIterator<Item = Assignment<M>>,
    ) -> Result<u64> {
        let sets: Vec<Set> = assignments
            .into_iter()
            .map(|a| Set {
                column: a.column,
                value: a.value,
            })
            .collect();
        if let Some(set) = sets.iter().find(|set| set.value.joins()) {
            return Err(Error::InvalidQuery {
                model: M::meta().name,
                message: format!(
                    "the value set to `{}` reads a related row, which an UPDATE cannot join; \
                     compute it per row or use a subquery",
                    set.column
                ),
            });
        }
        if let Some(set) = sets.iter().find(|set| set.value.aggregates()) {
            return Err(Error::InvalidQuery {
                model: M::meta().name,
                message: format!("the value set to `{}` is an aggregate", set.column),
            });
        }
        if sets.is_empty() {
            return Ok(0);
        }
        self.run(Kind::Update(&sets), db, |stmt| db.execute(stmt))
            .await
    }

    /// Deletes every matching row, applying every `on_delete` rule of the
    /// models referring to them, in one transaction. Returns how many rows
    /// were deleted in all: cascades and the rows of many-to-many join
    /// tables included (the total of [`delete_counted`](Self::delete_counted)).
    ///
    /// # Errors
    ///
    /// [`Error::Protected`] / [`Error::Restricted`] and the database's error.
    pub async fn delete(self, db: &dyn Executor) -> Result<u64> {
        Ok(self.delete_counted(db).await?.total)
    }

    /// Deletes like [`delete`](Self::delete), and returns the rows deleted
    /// in all and per model, as Django's `delete()` does
    /// (`(total, {"app.Model": n})`).
    ///
    /// # Errors
    ///
    /// [`Error::Protected`] / [`Error::Restricted`] and the database's error.
    pub async fn delete_counted(self, db: &dyn Executor) -> Result<super::Deleted> {
        self.run(Kind::Pks, db, |stmt| {
            persist::delete_where(M::meta(), stmt, db)
        })
        .await
    }

    /// `SUM(column)`; `None` when no row matches.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn sum<T: FieldType>(
        self,
        db: &dyn Executor,
        column: Column<M, T>,
    ) -> Result<Option<T::Inner>> {
        self.aggregate(db, Aggregate::sum(column)).await
    }

    /// `AVG(column)` as a float; `None` when no row matches.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn avg<T: FieldType>(
        self,
        db: &dyn Executor,
        column: Column<M, T>,
    ) -> Result<Option<f64>> {
        self.aggregate(db, Aggregate::avg(column)).await
    }

    /// `MIN(column)`; `None` when no row matches.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn min<T: FieldType>(
        self,
        db: &dyn Executor,
        column: Column<M, T>,
    ) -> Result<Option<T::Inner>> {
        self.aggregate(db, Aggregate::min(column)).await
    }

    /// `MAX(column)`; `None` when no row matches.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn max<T: FieldType>(
        self,
        db: &dyn Executor,
        column: Column<M, T>,
    ) -> Result<Option<T::Inner>> {
        self.aggregate(db, Aggregate::max(column)).await
    }

    async fn aggregate<T: FieldType>(
        self,
        db: &dyn Executor,
        agg: Aggregate<M, Option<T>>,
    ) -> Result<Option<T>> {
        // The order matters only to choose the rows of a slice (which are
        // then aggregated through a subquery); elsewhere it would have to be
        // grouped by.
        let qs = if self.limit.is_some() || self.offset.is_some() {
            self
        } else {
            self.unordered()
        };
        let rows = qs.values(agg).all(db).await?;
        Ok(rows.into_iter().next().flatten())
    }

    /// Inserts `obj` (always an insert) and returns it with its key set.
    ///
    /// # Errors
    ///
    /// [`Error::UniqueViolation`], [`Error::ForeignKeyViolation`], ...
    pub async fn create(&self, db: &dyn Executor, mut obj: M) -> Result<M> {
        persist::insert(&mut obj, db).await?;
        Ok(obj)
    }

    /// Inserts every object in one statement (per 500 rows) and returns them
    /// with their keys set.
    ///
    /// # Errors
    ///
    /// The database's error; nothing is inserted then.
    pub async fn bulk_create(&self, db: &dyn Executor, objs: Vec<M>) -> Result<Vec<M>> {
        persist::bulk_insert(objs, db).await
    }

    /// Writes the named fields of every object (saved instances) with one
    /// `UPDATE` per 200 objects, in one transaction; returns the number of
    /// rows changed. `auto_now` fields are not touched unless named.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`], [`Error::NotSaved`] for an unsaved object, and
    /// the database's errors.
    pub async fn bulk_update(&self, db: &dyn Executor, objs: &[M], fields: &[&str]) -> Result<u64> {
        persist::bulk_update(objs, fields, db).await
    }

    /// The row matching the query, or a new one made by `make` and inserted.
    /// Returns the row and whether it was created.
    ///
    /// # Errors
    ///
    /// [`Error::MultipleObjectsReturned`] and the database's errors.
    pub async fn get_or_create(
        self,
        db: &dyn Executor,
        make: impl FnOnce() -> M + Send,
    ) -> Result<(M, bool)> {
        match self.clone().get(db).await {
            Ok(obj) => return Ok((obj, false)),
            Err(Error::DoesNotExist { .. }) => {}
            Err(e) => return Err(e),
        }
        // Inserted in a savepoint: when a concurrent request created the
        // same row first, the unique violation is undone and the row read.
        let tx = db.begin().await?;
        match self.create(&tx, make()).await {
            Ok(obj) => {
                tx.commit().await?;
                Ok((obj, true))
            }
            Err(e @ Error::UniqueViolation { .. }) => {
                tx.rollback().await?;
                match self.get(db).await {
                    Ok(obj) => Ok((obj, false)),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Updates the row matching the query with `apply`, or inserts the one
    /// made by `make`. Returns the row and whether it was created.
    ///
    /// Safe when called at the same time for the same row, as Django's: the
    /// row is read with `SELECT ... FOR UPDATE` (on SQLite the transaction
    /// holds the write lock), so concurrent updates take turns; and when
    /// another call inserted the row first (a unique violation), the insert
    /// is undone (a savepoint) and that row is updated instead.
    ///
    /// # Errors
    ///
    /// [`Error::MultipleObjectsReturned`] and the database's errors.
    pub async fn update_or_create(
        self,
        db: &dyn Executor,
        apply: impl FnOnce(&mut M) + Send,
        make: impl FnOnce() -> M + Send,
    ) -> Result<(M, bool)> {
        let tx = db.begin().await?;
        let locked = self.clone().select_for_update();
        let in_tx = &tx;
        let update = move |mut obj: M| async move {
            apply(&mut obj);
            obj.save(in_tx).await?;
            Ok::<_, Error>((obj, false))
        };
        let out = match locked.clone().get(&tx).await {
            Ok(obj) => update(obj).await?,
            Err(Error::DoesNotExist { .. }) => {
                let savepoint = tx.begin().await?;
                match self.create(&savepoint, make()).await {
                    Ok(obj) => {
                        savepoint.commit().await?;
                        (obj, true)
                    }
                    Err(e @ Error::UniqueViolation { .. }) => {
                        // Another call created it meanwhile: update it.
                        savepoint.rollback().await?;
                        match locked.get(&tx).await {
                            Ok(obj) => update(obj).await?,
                            Err(_) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        tx.commit().await?;
        Ok(out)
    }
}

/// `rows`, keeping their statement's text (see [`cache::Pending`]) once
/// the first row came: it shows the query ran. A stream that yields no
/// row has its text written again next time.
fn kept_at_first_row<'a>(
    rows: BoxStream<'a, Result<Row>>,
    pending: cache::Pending,
) -> impl futures_util::Stream<Item = Result<Row>> + Send + 'a {
    let mut pending = Some(pending);
    rows.inspect_ok(move |_| {
        if let Some(pending) = pending.take() {
            pending.succeeded();
        }
    })
}

/// A query returning selected columns / aggregates; see [`QuerySet::values`].
pub struct ValuesQuery<M: Model, S> {
    pub(crate) qs: QuerySet<M>,
    pub(crate) selection: S,
}

impl<M: Model, S: Selection<M> + 'static> ValuesQuery<M, S>
where
    S::Output: Send + 'static,
{
    /// Runs the query; each row is decoded as the driver reads it.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn all(self, db: &dyn Executor) -> Result<Vec<S::Output>> {
        let items = self.selection.items();
        self.qs
            .run(Kind::Values(&items), db, |stmt| {
                db.fetch_map(stmt, |row| S::decode(row, 0))
            })
            .await
    }

    /// The selected values one row at a time, as the database produces
    /// them (see [`QuerySet::stream`]).
    #[must_use = "a stream does nothing until it is read"]
    pub fn stream(self, db: &dyn Executor) -> BoxStream<'_, Result<S::Output>> {
        let items = self.selection.items();
        let (stmt, pending) = self.qs.statement(Kind::Values(&items), db);
        Box::pin(
            kept_at_first_row(db.fetch_stream(stmt), pending)
                .and_then(|row| async move { S::decode(&row, 0) }),
        )
    }
}

/// A query returning rows with annotations; see [`QuerySet::annotate`].
pub struct AnnotatedQuery<M: Model, S> {
    qs: QuerySet<M>,
    selection: S,
}

impl<M: Model, S: Selection<M> + 'static> AnnotatedQuery<M, S>
where
    S::Output: Send + 'static,
{
    /// Runs the query.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn all(self, db: &dyn Executor) -> Result<Vec<(M, S::Output)>> {
        let items = self.selection.items();
        let loads = self.qs.related_loads();
        let out = self
            .qs
            .run(Kind::Annotated(&items), db, |stmt| {
                db.fetch_map(stmt, move |row| {
                    let (obj, offset) = QuerySet::<M>::decode(row, &loads)?;
                    Ok((obj, S::decode(row, offset)?))
                })
            })
            .await?;
        let mut objs: Vec<M> = Vec::new();
        let mut extras = Vec::with_capacity(out.len());
        for (obj, extra) in out {
            objs.push(obj);
            extras.push(extra);
        }
        for prefetch in &self.qs.prefetch {
            prefetch.prefetch(&mut objs, db).await?;
        }
        Ok(objs.into_iter().zip(extras).collect())
    }
}
