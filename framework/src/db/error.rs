//! Errors of the database layer.
//!
//! Every variant says what went wrong *and* what to do about it, so that the
//! message is useful when it reaches a log or a debug page unchanged.
//!
//! ```
//! use manouche::db::Error;
//!
//! let err = Error::MissingTable { table: "blog_article".into() };
//! assert!(err.to_string().contains("manage migrate"));
//! ```

/// An error raised by the database layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL names a backend Manouche does not support.
    #[error(
        "unsupported database URL `{url}`: use `sqlite://path/to/file.db`, `sqlite::memory:` \
         or `postgres://user@host/dbname`"
    )]
    UnsupportedUrl {
        /// The URL that was given.
        url: String,
    },
    /// Connecting to the database failed.
    #[error(
        "could not connect to the database ({source}); check DATABASE_URL and that the \
         database server is running"
    )]
    Connect {
        /// The driver's error.
        source: sqlx::Error,
    },
    /// No connection could be obtained, or the connection was lost.
    #[error(
        "the database is unavailable ({source}); it may be down or overloaded, retry later \
         or raise the pool size / acquire timeout"
    )]
    Unavailable {
        /// The driver's error.
        source: sqlx::Error,
    },
    /// A table a query needs does not exist.
    #[error("table `{table}` does not exist: run `manage migrate` to create it")]
    MissingTable {
        /// The table's name.
        table: String,
    },
    /// A column a query needs does not exist.
    #[error(
        "a column does not exist ({message}): the database schema is older than the models, \
         run `manage makemigrations` and `manage migrate`"
    )]
    MissingColumn {
        /// The database's message.
        message: String,
    },
    /// An insert or update would duplicate a unique value.
    #[error(
        "unique constraint violated on `{table}` ({}): a row with the same value already \
         exists; choose another value or update the existing row",
        fields.join(", ")
    )]
    UniqueViolation {
        /// The table.
        table: String,
        /// The columns of the violated constraint.
        fields: Vec<String>,
    },
    /// An insert, update or delete broke a foreign key.
    #[error(
        "foreign key constraint violated on `{table}` ({}): the referenced row does not exist, \
         or a row still refers to the one being deleted",
        fields.join(", ")
    )]
    ForeignKeyViolation {
        /// The table.
        table: String,
        /// The foreign key columns involved (all of the table's foreign keys when the
        /// backend does not say which one failed).
        fields: Vec<String>,
    },
    /// A `NOT NULL` column got no value.
    #[error(
        "column `{table}.{field}` cannot be NULL: give it a value, or make the field an \
         `Option<_>`"
    )]
    NotNullViolation {
        /// The table.
        table: String,
        /// The column.
        field: String,
    },
    /// An insert or update broke a check constraint
    /// (`#[model(check(...))]`).
    #[error(
        "check constraint `{constraint}` violated{}: the row's values do not meet its condition",
        if table.is_empty() { String::new() } else { format!(" on `{table}`") }
    )]
    CheckViolation {
        /// The table (empty when the backend does not say: SQLite).
        table: String,
        /// The constraint's name.
        constraint: String,
    },
    /// `get()` matched no row.
    #[error("{model} matching query does not exist")]
    DoesNotExist {
        /// The model's name.
        model: &'static str,
    },
    /// `get()` matched more than one row.
    #[error(
        "get() returned more than one {model} (it returned {count}{}); add filters so that \
         exactly one row matches, or use first()",
        if *count > 20 { " or more" } else { "" }
    )]
    MultipleObjectsReturned {
        /// The model's name.
        model: &'static str,
        /// How many rows matched (capped at 21).
        count: usize,
    },
    /// A field name given as a string is not a field of the model.
    #[error("`{field}` is not a field of {model}; choose one of: {known}")]
    UnknownField {
        /// The model's name.
        model: &'static str,
        /// The name that was given.
        field: String,
        /// The model's field names, comma separated.
        known: String,
    },
    /// The database cancelled a statement that ran past the statement
    /// timeout (PostgreSQL's `statement_timeout`; see
    /// [`DatabaseOptions`](crate::db::DatabaseOptions)).
    #[error(
        "the statement ran past the statement timeout and was cancelled ({message}); make \
         the query cheaper (an index, fewer rows) or raise database.statement_timeout"
    )]
    StatementTimeout {
        /// The database's message.
        message: String,
    },
    /// A statement waited too long for a lock another transaction holds
    /// (PostgreSQL's `lock_timeout`; migrations set one).
    #[error(
        "gave up waiting for a lock ({message}): another transaction holds the table; find \
         it in pg_stat_activity (a long transaction, an idle one left open) and run this \
         again once it has ended"
    )]
    LockTimeout {
        /// The database's message.
        message: String,
    },
    /// A name from the client (a query-string filter or sort) is not on the
    /// allow-list of a [`FilterSet`](crate::db::query::FilterSet).
    #[error("`{field}` cannot be filtered or sorted on in {model}; allowed: {allowed}")]
    RefusedField {
        /// The model's name.
        model: &'static str,
        /// The name that was given.
        field: String,
        /// What is allowed instead.
        allowed: String,
    },
    /// A delete was refused because of an `on_delete = protect` foreign key.
    #[error(
        "cannot delete {model}: {count} {related_model} row(s) still refer to it through \
         `{field}` (on_delete = protect); delete or reassign them first"
    )]
    Protected {
        /// The model being deleted.
        model: &'static str,
        /// The model holding the foreign key.
        related_model: &'static str,
        /// The foreign key field.
        field: &'static str,
        /// How many rows refer to the deleted ones.
        count: i64,
    },
    /// A delete was refused because of an `on_delete = restrict` foreign key.
    #[error(
        "cannot delete {model}: {count} {related_model} row(s) still refer to it through \
         `{field}` (on_delete = restrict); delete them first"
    )]
    Restricted {
        /// The model being deleted.
        model: &'static str,
        /// The model holding the foreign key.
        related_model: &'static str,
        /// The foreign key field.
        field: &'static str,
        /// How many rows refer to the deleted ones.
        count: i64,
    },
    /// An operation needs a saved instance (one with a primary key).
    #[error("{model} has no primary key yet: save() it before {action}")]
    NotSaved {
        /// The model's name.
        model: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// A model or relation is declared inconsistently (found at run time).
    #[error("invalid model definition: {0}")]
    Definition(String),
    /// A query set asks for something SQL cannot do (an `UPDATE` reading
    /// related rows, `earliest()` after a slice).
    #[error("invalid query on {model}: {message}")]
    InvalidQuery {
        /// The model queried.
        model: &'static str,
        /// What cannot be done, and what to do instead.
        message: String,
    },
    /// A value could not be converted.
    #[error("invalid value for `{field}`: {message}")]
    InvalidValue {
        /// The field or column.
        field: String,
        /// What is wrong with the value.
        message: String,
    },
    /// The upload of a file field could not be stored (a model form's
    /// save stores it before writing the row).
    #[error(
        "could not store the file of `{field}`: {message}; check the project's storage \
         (media.root is writable, or the object store is reachable)"
    )]
    FileStorage {
        /// The field.
        field: String,
        /// The storage's error.
        message: String,
    },
    /// A value read from the database could not be decoded into its Rust type.
    #[error(
        "could not decode column {column} ({source}); the database schema probably does not \
         match the model: run `manage migrate`"
    )]
    Decode {
        /// The column index or name.
        column: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The transaction was already committed or rolled back.
    #[error(
        "the transaction was already committed or rolled back; start a new one with \
         `db.begin()` or `db.transaction(..)`"
    )]
    TransactionFinished,
    /// Any other error reported by the database.
    #[error("database error: {source}")]
    Query {
        /// The driver's error.
        source: sqlx::Error,
    },
}

impl Error {
    /// Whether this is [`Error::DoesNotExist`] (handy to turn it into a 404).
    #[must_use]
    pub fn is_does_not_exist(&self) -> bool {
        matches!(self, Self::DoesNotExist { .. })
    }

    /// Whether this is a unique constraint violation.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::UniqueViolation { .. })
    }
}

/// The result type of the database layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violation_names_every_column() {
        let unique = Error::UniqueViolation {
            table: "t".into(),
            fields: vec!["a".into(), "b".into()],
        };
        assert!(unique.to_string().contains("(a, b)"), "{unique}");
    }
}
