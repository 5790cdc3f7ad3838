//! The raw SQL escape hatch, with bound values and typed rows.
//!
//! Placeholders are the backend's own (`?` on SQLite, `$1` on PostgreSQL).
//! Rows decode into a model (select its columns in field order, e.g.
//! `SELECT * FROM table`) or a tuple of field types.
//!
//! ```
//! use manouche::db::{Database, raw};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = Database::connect("sqlite::memory:", &Default::default()).await?;
//! let rows: Vec<(i64, String)> = raw("SELECT ?, ?").bind(41_i64 + 1).bind("hi".to_owned()).fetch_all(&db).await?;
//! assert_eq!(rows, vec![(42, "hi".to_owned())]);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

use std::sync::Arc;

use super::Result;
use super::executor::{Executor, Row, Statement};
use super::fields::FieldType;
use super::model::Model;

/// A type a raw row decodes into: a [`Model`] or a tuple of field types.
pub trait FromRow: Sized {
    /// Decodes the row.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`](super::Error::Decode) when a column does not match.
    fn from_row(row: &Row) -> Result<Self>;
}

impl<M: Model> FromRow for M {
    fn from_row(row: &Row) -> Result<Self> {
        let mut obj = M::from_row(row, &mut 0)?;
        obj.__bind();
        Ok(obj)
    }
}

macro_rules! tuple_row {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: FieldType),+> FromRow for ($($name,)+) {
            fn from_row(row: &Row) -> Result<Self> {
                Ok(($($name::decode(row, $idx)?,)+))
            }
        }
    };
}

tuple_row!(A 0);
tuple_row!(A 0, B 1);
tuple_row!(A 0, B 1, C 2);
tuple_row!(A 0, B 1, C 2, D 3);
tuple_row!(A 0, B 1, C 2, D 3, E 4);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_row!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// A raw SQL statement being prepared; see [`raw`].
#[derive(Debug, Clone)]
#[must_use]
pub struct RawQuery {
    stmt: Statement,
}

/// Starts a raw SQL statement. Never format user input into `sql`: pass it
/// with [`RawQuery::bind`].
pub fn raw(sql: impl Into<Arc<str>>) -> RawQuery {
    RawQuery {
        stmt: Statement::raw(sql),
    }
}

impl RawQuery {
    /// Binds the next placeholder.
    pub fn bind<T: FieldType>(mut self, value: T) -> Self {
        self.stmt.values.0.push(value.to_value());
        self
    }

    /// Runs the statement and decodes every row.
    ///
    /// # Errors
    ///
    /// The database's error, or a decode error.
    pub async fn fetch_all<T: FromRow + Send + 'static>(self, db: &dyn Executor) -> Result<Vec<T>> {
        db.fetch_map(self.stmt, T::from_row).await
    }

    /// Runs the statement and returns the number of affected rows.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn execute(self, db: &dyn Executor) -> Result<u64> {
        db.execute(self.stmt).await
    }
}
