//! What differs from one database backend to another, one file per backend:
//! [`sqlite`] and [`postgres`] each implement [`Dialect`] (SQL builders,
//! column types, error classification) and connect their own pools.
//!
//! The rest of the ORM reaches a dialect through its [`Backend`]:
//!
//! ```
//! use manouche::db::{Backend, Database};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! assert_eq!(db.backend(), Backend::Sqlite);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

pub(super) mod postgres;
pub(super) mod sqlite;

use super::{Backend, Error, SqlType};

/// What differs from one backend to another, implemented in `sqlite.rs` and
/// `postgres.rs` (connecting differs in its types and stays a function of
/// each module).
pub(crate) trait Dialect: Sync {
    /// The SQL builder for statements.
    fn query_builder(&self) -> &dyn sea_query::QueryBuilder;
    /// The SQL builder for DDL.
    fn schema_builder(&self) -> &dyn sea_query::SchemaBuilder;
    /// The column type for `ty` (`VARCHAR(n)` when `max_length` is given,
    /// `NUMERIC(p, s)` when `decimal` is).
    fn column_type(
        &self,
        ty: SqlType,
        max_length: Option<u32>,
        decimal: Option<(u32, u32)>,
    ) -> String;
    /// The column type of an auto-increment primary key of type `ty`.
    fn auto_column_type(&self, ty: SqlType) -> String;
    /// Turns a database error into a typed [`Error`].
    fn classify(&self, err: Box<dyn sqlx::error::DatabaseError>) -> Error;
}

impl Backend {
    /// This backend's dialect.
    pub(crate) fn dialect(self) -> &'static dyn Dialect {
        match self {
            Self::Sqlite => &sqlite::Sqlite,
            Self::Postgres => &postgres::Postgres,
        }
    }
}
