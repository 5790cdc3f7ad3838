//! The ORM: models, query sets, relations and transactions over SQLite and
//! PostgreSQL.
//!
//! - **Connect** with [`Database::connect`]: the URL picks the backend
//!   (`sqlite://file.db`, `sqlite::memory:`, `postgres://...`). A project connects
//!   to its `database_url` (`DATABASE_URL`) by itself; handlers take [`Db`].
//! - **Define** models with `#[derive(Model)]`; the options are listed in
//!   [`model`]. Field types are in [`fields`], relations in [`relations`].
//! - **Query** with `Model::objects()`, a lazy [`QuerySet`]: `filter` /
//!   `exclude` with typed lookups on the generated column handles
//!   (`Article::title.icontains("rust")`), combined with `&`, `|`, `!`;
//!   `order_by`, `limit`, `offset`, `distinct`, `select_related`,
//!   `prefetch_related`; then `all`, `get`, `first`, `count`, `exists`,
//!   `values`, `sum`/`avg`/`min`/`max`, `update`, `delete`.
//! - **Write** with `save`, `refresh`, `delete` on instances, and
//!   `create`, `bulk_create`, `get_or_create`, `update_or_create`.
//! - **Transactions**: [`Database::transaction`] (commit on `Ok`, roll back
//!   on `Err` or panic), nested through savepoints.
//! - **Raw SQL**: [`raw()`] with bound values and typed rows.
//! - **Schema**: `Model::schema()` describes the tables for migrations;
//!   [`schema::create_tables`] creates them for tests.
//! - **Tests**: [`testing::for_each_database`] runs a test on SQLite and, when
//!   `DATABASE_URL` is set, PostgreSQL; [`testing::count_queries`] counts
//!   statements.
//!
//! Values are always bound; identifiers come only from model definitions
//! (names given at run time, as in [`QuerySet::order_by_names`], are checked
//! against the model's fields). Names from a client's query string go
//! through a [`query::FilterSet`], which allows only the fields it lists.
//!
//! ```
//! use manouche::db::{Auto, Database, DateTime, ForeignKey, Model, schema};
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(app = "blog")]
//! pub struct Author {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 100)]
//!     pub name: String,
//! }
//!
//! #[derive(Debug, Clone, Model)]
//! #[model(table = "blog_article", ordering = "-created")]
//! pub struct Article {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 200)]
//!     pub title: String,
//!     #[model(default = false)]
//!     pub published: bool,
//!     #[model(auto_now_add)]
//!     pub created: DateTime,
//!     pub author: ForeignKey<Author>,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! schema::create_tables(&db, &[Author::schema(), Article::schema()]).await?;
//!
//! let mut ada = Author { id: Auto::new(), name: "Ada".into() };
//! ada.save(&db).await?;
//! let mut post = Article {
//!     id: Auto::new(),
//!     title: "Rust ORMs".into(),
//!     published: true,
//!     created: DateTime::default(),
//!     author: ForeignKey::from(&ada),
//! };
//! post.save(&db).await?;
//!
//! let articles = Article::objects()
//!     .filter(Article::published.eq(true))
//!     .filter(Article::title.icontains("rust"))
//!     .select_related(Article::author)
//!     .order_by(Article::created.desc())
//!     .limit(20)
//!     .all(&db)
//!     .await?;
//! assert_eq!(articles[0].author.get().map(|a| a.name.as_str()), Some("Ada"));
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

mod backends;
mod database;
mod driver;
pub mod error;
mod executor;
pub mod fields;
pub mod model;
mod persist;
pub mod query;
pub mod raw;
pub mod relations;
pub mod schema;
pub(crate) mod sql;
mod sqlite_inline;
mod sqlite_pool;
pub mod testing;
mod transaction;
pub(crate) mod tz;

pub use database::{Database, DatabaseOptions, Db};
pub use error::{Error, Result};
pub use executor::{Backend, Executor, NativeDecode, NewSink, Row, RowSink, Statement};
pub use fields::{
    Auto, Date, DateTime, Decimal, Email, FieldType, FileField, ImageField, Json, Slug, SqlType,
    TextKind, Time, Url, Uuid,
};
pub use manouche_macros::Choices;
/// The options are listed in [`model`]. With `#[model(impl_default)]` the
/// derive also implements `Default` from the fields' declared defaults, so a
/// new value lists only the fields it sets, as Django's keyword arguments
/// do; relation collections, the primary key and `auto_now` fields are
/// filled in (see [Building a value](model#building-a-value)):
///
/// ```
/// use manouche::db::{Auto, ForeignKey, Model, Reverse};
///
/// #[derive(Debug, Clone, Model)]
/// #[model(app = "shop", impl_default)]
/// pub struct Customer {
///     pub id: Auto<i64>,
///     pub name: String,
///     #[model(related_field = "customer")]
///     pub orders: Reverse<Order>,
/// }
///
/// #[derive(Debug, Clone, Model)]
/// #[model(app = "shop", impl_default)]
/// pub struct Order {
///     pub id: Auto<i64>,
///     pub customer: ForeignKey<Customer>,
///     #[model(default = 1)]
///     pub quantity: i32,
/// }
///
/// let ada = Customer { name: "Ada".into(), ..Default::default() };
/// let order = Order { customer: ForeignKey::new(7), ..Default::default() };
/// assert_eq!((ada.id.get(), order.quantity), (None, 1));
/// ```
pub use manouche_macros::Model;
pub use model::{FieldError, FieldPath, Model, ModelMeta, OnDelete, ValidationErrors};
pub use persist::Deleted;
pub use query::{
    Aggregate, Column, DatePart, Expr, F, IntoExpr, OuterRef, Q, QuerySet, TimeZone, exists,
};
pub use raw::raw;
pub use relations::{ForeignKey, ManyToMany, OneToOne, Reverse};
pub use sqlite_inline::LocalRow;
pub use transaction::Transaction;

/// Re-exported for `#[derive(Model)]`; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use sea_query::Value;
}
