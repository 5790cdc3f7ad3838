//! Checks of existing rows that a column change runs first, so that no
//! value is ever cut or made up: a narrower `max_length` while longer
//! values exist, a narrower integer type while values out of its range
//! exist, `NOT NULL` while `NULL`s exist, or a `NOT NULL` column
//! added without a value for the rows already there.
//!
//! The schema editor emits a [`RowCheck`] before the statements of such a
//! change; [`migrate`](super::executor::migrate) counts the offending rows
//! and, when there are any, refuses the migration with
//! [`MigrationError::RowsBlock`](super::MigrationError::RowsBlock) and rolls
//! it back: the schema, the data and the recorder table stay as they were.
//!
//! ```
//! use manouche::db::Backend;
//! use manouche::migrations::{RowCheck, RowProblem};
//!
//! let check = RowCheck::new("blog_note", "title", RowProblem::TooLong { max_length: 5 });
//! assert_eq!(
//!     check.sql(Backend::Postgres),
//!     r#"SELECT COUNT(*) FROM "blog_note" WHERE LENGTH(CAST("title" AS TEXT)) > (5)"#
//! );
//! assert!(check.explain(2).contains("2 rows are longer than 5 characters"));
//! ```

use crate::db::Backend;
use crate::db::sql::migrate::{RowFilter, count_rows};

/// What the rows of a column must not hold for a change to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RowProblem {
    /// Values longer than the column's new `max_length` (in characters).
    TooLong {
        /// The new `max_length`.
        max_length: u32,
    },
    /// Values out of the range of the column's new, narrower integer type
    /// (PostgreSQL would refuse them; SQLite, which does not enforce
    /// integer sizes, would keep them where Rust cannot read them).
    OutOfRange {
        /// The smallest value the new type holds.
        min: i64,
        /// The largest.
        max: i64,
    },
    /// `NULL`s in a column that becomes `NOT NULL` with no value to put in
    /// their place (no one-off default, no default).
    Null,
    /// Rows at all, when the column is added `NOT NULL` without a value for
    /// them (unapplying the removal of such a field, or adding one without
    /// a one-off default).
    NoValue,
    /// Rows that fail a check constraint being added (its condition is
    /// false; a `NULL` condition passes, as the database judges it). The
    /// check's [`RowCheck::column`] is the constraint's name.
    FailsCheck {
        /// The constraint's condition.
        sql: String,
    },
}

/// A count of the rows of `table` that would block a change of `column`;
/// the change runs only when it is zero.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RowCheck {
    /// The table, under its name at that point of the migration.
    pub table: String,
    /// The column, under its name before the change.
    pub column: String,
    /// What is counted.
    pub problem: RowProblem,
}

impl RowCheck {
    /// A check of `table.column` for `problem`.
    #[must_use]
    pub fn new(table: impl Into<String>, column: impl Into<String>, problem: RowProblem) -> Self {
        Self {
            table: table.into(),
            column: column.into(),
            problem,
        }
    }

    /// The `SELECT COUNT(*)` that counts the offending rows on `backend`.
    #[must_use]
    pub fn sql(&self, backend: Backend) -> String {
        let filter = match &self.problem {
            RowProblem::TooLong { max_length } => RowFilter::LongerThan(&self.column, *max_length),
            RowProblem::OutOfRange { min, max } => RowFilter::Outside(&self.column, *min, *max),
            RowProblem::Null => RowFilter::Null(&self.column),
            RowProblem::NoValue => RowFilter::All,
            RowProblem::FailsCheck { sql } => RowFilter::Failing(sql),
        };
        count_rows(backend, &self.table, filter)
    }

    /// What `rows` offending rows mean and what to do about them.
    #[must_use]
    pub fn explain(&self, rows: u64) -> String {
        let (count, verb) = if rows == 1 {
            ("1 row".to_owned(), "is")
        } else {
            (format!("{rows} rows"), "are")
        };
        let Self {
            table,
            column,
            problem,
        } = self;
        let place = format!("table {table:?}, column {column:?}");
        match problem {
            RowProblem::TooLong { max_length } => format!(
                "{place}: {count} {verb} longer than {max_length} characters, the new \
                 max_length; shorten those values first (a data migration before this one) or \
                 keep a larger max_length"
            ),
            RowProblem::OutOfRange { min, max } => format!(
                "{place}: {count} {verb} outside the range of the new integer type ({min} to \
                 {max}); change those values first (a data migration before this one) or keep \
                 the wider type"
            ),
            RowProblem::Null => format!(
                "{place}: {count} {verb} NULL and the column becomes NOT NULL without a \
                 default; give those rows a value first (a data migration before this one), \
                 give the field a default, or, when making it non-null, a one-off default \
                 (`manage makemigrations` asks for one; it is the operation's \"fill\")"
            ),
            RowProblem::NoValue => format!(
                "{place}: {count} would have no value, as the column is added NOT NULL \
                 without a default; give the field a default (or the operation a one-off \
                 \"fill\" value), or delete those rows first"
            ),
            RowProblem::FailsCheck { sql } => format!(
                "table {table:?}: {count} {verb} failing the check constraint {column:?} \
                 ({sql}); change those rows first (a data migration before this one) or the \
                 condition"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{RowCheck, RowProblem};
    use crate::db::Backend;

    #[test]
    fn each_problem_counts_its_rows_on_both_backends() {
        let null = RowCheck::new("t", "c", RowProblem::Null);
        assert_eq!(
            null.sql(Backend::Sqlite),
            r#"SELECT COUNT(*) FROM "t" WHERE "c" IS NULL"#
        );
        let all = RowCheck::new("t", "c", RowProblem::NoValue);
        assert_eq!(all.sql(Backend::Postgres), r#"SELECT COUNT(*) FROM "t""#);
        let range = RowCheck::new("t", "c", RowProblem::OutOfRange { min: -2, max: 1 });
        assert_eq!(
            range.sql(Backend::Postgres),
            r#"SELECT COUNT(*) FROM "t" WHERE "c" < (-2) OR "c" > (1)"#
        );
        let long = RowCheck::new("t", "c", RowProblem::TooLong { max_length: 3 });
        assert_eq!(
            long.sql(Backend::Sqlite),
            r#"SELECT COUNT(*) FROM "t" WHERE LENGTH(CAST("c" AS TEXT)) > (3)"#
        );
    }

    #[test]
    fn the_explanation_names_table_column_and_count() {
        let check = RowCheck::new("blog_note", "stars", RowProblem::Null);
        let one = check.explain(1);
        assert!(
            one.starts_with(r#"table "blog_note", column "stars": 1 row is NULL"#),
            "{one}"
        );
        let text = RowCheck::new("blog_note", "stars", RowProblem::NoValue).explain(3);
        assert!(text.contains("3 rows would have no value"), "{text}");
        let failing = RowProblem::FailsCheck {
            sql: "stars >= 0".into(),
        };
        let check = RowCheck::new("blog_note", "stars_not_negative", failing);
        assert_eq!(
            check.sql(Backend::Postgres),
            r#"SELECT COUNT(*) FROM "blog_note" WHERE NOT (stars >= 0)"#
        );
        let text = check.explain(2);
        assert!(
            text.starts_with(
                r#"table "blog_note": 2 rows are failing the check constraint "stars_not_negative" (stars >= 0)"#
            ),
            "{text}"
        );
    }
}
