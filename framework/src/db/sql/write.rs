//! Statements that write a model's rows: inserts, the update of one saved
//! instance, bulk updates, and the statements of a delete that applies the
//! `on_delete` rules of the models referring to the deleted rows.
//!
//! Built with sea-query. Columns and tables come from model metadata, every
//! value is bound:
//!
//! ```text
//! insert(Note, ["title", "stars"], ["Hi", 3])
//!   INSERT INTO "blog_note" ("title", "stars") VALUES (?, ?) RETURNING "id"
//! delete_in("blog_note", "id", [1, 2])
//!   DELETE FROM "blog_note" WHERE "id" IN (?, ?)
//! ```

use sea_query::{Alias, CaseStatement, Expr, Query, SimpleExpr, Value};

use crate::db::executor::{Backend, Statement};
use crate::db::model::ModelMeta;
use crate::db::{Error, Result};

/// `INSERT INTO table (columns) VALUES (...) RETURNING pk`, or `DEFAULT
/// VALUES` when there are no columns.
///
/// # Errors
///
/// [`Error::Definition`] when `values` and `columns` differ in length.
pub(crate) fn insert(
    meta: &'static ModelMeta,
    columns: &[&'static str],
    values: impl IntoIterator<Item = Value>,
    backend: Backend,
) -> Result<Statement> {
    insert_rows(meta, columns, std::iter::once(values), backend)
}

/// One `INSERT` of several rows, each with a value per column, returning
/// their primary keys in order.
///
/// # Errors
///
/// [`Error::Definition`] when a row's length differs from `columns`'.
pub(crate) fn insert_rows<R: IntoIterator<Item = Value>>(
    meta: &'static ModelMeta,
    columns: &[&'static str],
    rows: impl IntoIterator<Item = R>,
    backend: Backend,
) -> Result<Statement> {
    let mut stmt = Query::insert();
    stmt.into_table(Alias::new(meta.table));
    if columns.is_empty() {
        stmt.or_default_values();
    } else {
        stmt.columns(columns.iter().map(|c| Alias::new(*c)));
        for row in rows {
            stmt.values(row.into_iter().map(SimpleExpr::from))
                .map_err(|e| Error::Definition(e.to_string()))?;
        }
    }
    stmt.returning_col(Alias::new(meta.pk_column));
    Ok(backend.build(&stmt))
}

/// `UPDATE table SET column = value, ... WHERE pk = pk`.
pub(crate) fn update_row(
    meta: &'static ModelMeta,
    sets: impl IntoIterator<Item = (&'static str, Value)>,
    pk: Value,
    backend: Backend,
) -> Statement {
    let mut stmt = Query::update();
    stmt.table(Alias::new(meta.table));
    for (column, value) in sets {
        stmt.value(Alias::new(column), value);
    }
    stmt.and_where(Expr::col(Alias::new(meta.pk_column)).eq(pk));
    backend.build(&stmt)
}

/// `UPDATE table SET column = CASE WHEN pk = .. THEN .. ELSE column END, ...
/// WHERE pk IN (...)`: writes, for each row `(pk, values)`, the value at
/// `index` of each `(column, index)` target.
pub(crate) fn update_rows(
    meta: &'static ModelMeta,
    targets: &[(&'static str, usize)],
    rows: &[(Value, Vec<Value>)],
    backend: Backend,
) -> Statement {
    let mut stmt = Query::update();
    stmt.table(Alias::new(meta.table));
    for (column, index) in targets {
        let mut case = CaseStatement::new();
        for (pk, values) in rows {
            let value = values.get(*index).cloned().unwrap_or(Value::String(None));
            case = case.case(
                Expr::col(Alias::new(meta.pk_column)).eq(pk.clone()),
                Expr::val(value),
            );
        }
        let case = case.finally(Expr::col(Alias::new(*column)));
        stmt.value(Alias::new(*column), SimpleExpr::Case(Box::new(case)));
    }
    stmt.and_where(
        Expr::col(Alias::new(meta.pk_column)).is_in(rows.iter().map(|(pk, _)| pk.clone())),
    );
    backend.build(&stmt)
}

/// `SELECT COUNT(*) FROM table WHERE column IN (keys)`, also requiring
/// `also IN (keys)` when `also` is given.
pub(crate) fn count_in(
    table: &'static str,
    column: &'static str,
    also: Option<&'static str>,
    keys: &[Value],
    backend: Backend,
) -> Statement {
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("COUNT(*)"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).is_in(keys.iter().cloned()));
    if let Some(also) = also {
        stmt.and_where(Expr::col(Alias::new(also)).is_in(keys.iter().cloned()));
    }
    backend.build(&stmt)
}

/// `SELECT pk_column FROM table WHERE column IN (keys)`.
pub(crate) fn pks_in(
    table: &'static str,
    pk_column: &'static str,
    column: &'static str,
    keys: &[Value],
    backend: Backend,
) -> Statement {
    let stmt = Query::select()
        .column(Alias::new(pk_column))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).is_in(keys.iter().cloned()))
        .to_owned();
    backend.build(&stmt)
}

/// `UPDATE table SET column = value WHERE column IN (keys)` (`SET NULL` and
/// `SET DEFAULT` rules).
pub(crate) fn set_in(
    table: &'static str,
    column: &'static str,
    value: Value,
    keys: &[Value],
    backend: Backend,
) -> Statement {
    let stmt = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(column), value)
        .and_where(Expr::col(Alias::new(column)).is_in(keys.iter().cloned()))
        .to_owned();
    backend.build(&stmt)
}

/// `DELETE FROM table WHERE column IN (keys)`.
pub(crate) fn delete_in(
    table: &'static str,
    column: &'static str,
    keys: &[Value],
    backend: Backend,
) -> Statement {
    let stmt = Query::delete()
        .from_table(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).is_in(keys.iter().cloned()))
        .to_owned();
    backend.build(&stmt)
}
