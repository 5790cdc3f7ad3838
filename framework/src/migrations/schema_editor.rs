//! Turns operations into SQL for one backend: [`forwards`] and
//! [`backwards`] take the states before and after the operation.
//!
//! Changes inside one table go through a single diff of the table's old and
//! new schema ([`alter_table`]), implemented per backend: PostgreSQL alters
//! in place, SQLite rebuilds the table when `ALTER TABLE` cannot do it.
//! Before the statements of such a change come the
//! [`RowCheck`](super::RowCheck)s of the rows it could damage: a value is
//! never cut to a shorter `max_length`, and a `NULL` or a missing value is
//! never replaced by one the user did not give.

mod postgres;
mod sqlite;

use std::collections::BTreeMap;

use super::executor::Step;
use super::operation::Operation;
use super::row_check::{RowCheck, RowProblem};
use super::state::ProjectState;
use crate::db::Backend;
use crate::db::fields::SqlType;
use crate::db::schema::{ColumnDefault, ColumnSchema, ModelSchema, TableSchema, create_table_sql};

/// How one table changes: old and new schema, renamed columns (old → new)
/// and values for existing rows of new or newly non-null columns.
pub(crate) struct TableChange<'a> {
    pub(crate) old: &'a TableSchema,
    pub(crate) new: &'a TableSchema,
    pub(crate) renames: BTreeMap<String, String>,
    pub(crate) fill: BTreeMap<String, ColumnDefault>,
}

impl TableChange<'_> {
    /// The old name of the new column `new`, if it existed before.
    pub(crate) fn old_name<'n>(&'n self, new: &'n str) -> Option<&'n str> {
        let old = self
            .renames
            .iter()
            .find(|(_, n)| n.as_str() == new)
            .map_or(new, |(o, _)| o.as_str());
        if self.renames.contains_key(new) && old == new {
            // `new` was renamed away and nothing was renamed to it.
            return None;
        }
        self.old.column(old).map(|_| old)
    }

    /// The new name of the old column `old`, if it still exists.
    pub(crate) fn new_name<'n>(&'n self, old: &'n str) -> Option<&'n str> {
        let new = self.renames.get(old).map_or(old, String::as_str);
        self.new.column(new).map(|_| new)
    }

    /// The value existing rows get in the new column `c` (or in place of
    /// its `NULL`s when it becomes non-null): the operation's one-off value,
    /// else the column's default. `None` means there is none, and no value
    /// is ever made up: [`row_checks`] refuses the change when rows would
    /// need one.
    pub(crate) fn fill_for(&self, c: &ColumnSchema) -> Option<ColumnDefault> {
        self.fill
            .get(&c.name)
            .cloned()
            .or_else(|| c.default.clone())
    }
}

/// The checks of existing rows that must find none before `change` runs:
/// values too long for a narrower `max_length`, values out of the range of
/// a narrower integer type, `NULL`s in a column that becomes non-null
/// without a value for them, rows without a value for a new non-null
/// column.
fn row_checks(change: &TableChange<'_>) -> Vec<RowCheck> {
    // The checks run before the change's statements: old names.
    let table = change.old.name.as_str();
    let mut out = Vec::new();
    for c in change.new.columns.iter().filter(|c| !c.auto) {
        let has_fill = change.fill_for(c).is_some();
        match change.old_name(&c.name).and_then(|o| change.old.column(o)) {
            Some(before) => {
                if let (SqlType::String, Some(max_length)) = (c.sql_type, c.max_length)
                    && (before.sql_type != SqlType::String
                        || before.max_length.is_none_or(|m| m > max_length))
                {
                    let problem = RowProblem::TooLong { max_length };
                    out.push(RowCheck::new(table, &before.name, problem));
                }
                if let (Some(range), Some(old_range)) =
                    (integer_range(c.sql_type), integer_range(before.sql_type))
                    && (range.0 > old_range.0 || range.1 < old_range.1)
                {
                    let problem = RowProblem::OutOfRange {
                        min: range.0,
                        max: range.1,
                    };
                    out.push(RowCheck::new(table, &before.name, problem));
                }
                if before.nullable && !c.nullable && !has_fill {
                    out.push(RowCheck::new(table, &before.name, RowProblem::Null));
                }
            }
            None if !c.nullable && !has_fill => {
                out.push(RowCheck::new(table, &c.name, RowProblem::NoValue));
            }
            None => {}
        }
    }
    for check in &change.new.checks {
        if !change.old.checks.contains(check) {
            let problem = RowProblem::FailsCheck {
                sql: check.sql.clone(),
            };
            out.push(RowCheck::new(table, &check.name, problem));
        }
    }
    out
}

/// The values an integer column of type `ty` holds.
fn integer_range(ty: SqlType) -> Option<(i64, i64)> {
    match ty {
        SqlType::SmallInt => Some((i16::MIN.into(), i16::MAX.into())),
        SqlType::Integer => Some((i32::MIN.into(), i32::MAX.into())),
        SqlType::BigInt => Some((i64::MIN, i64::MAX)),
        _ => None,
    }
}

pub(crate) use crate::db::schema::quote_ident as quote;

/// A SQL literal for a default value.
pub(crate) fn literal(backend: Backend, d: &ColumnDefault) -> String {
    match d {
        ColumnDefault::Bool(b) => match (backend, b) {
            (Backend::Postgres, true) => "TRUE".into(),
            (Backend::Postgres, false) => "FALSE".into(),
            (_, true) => "1".into(),
            (_, false) => "0".into(),
        },
        ColumnDefault::Int(i) => i.to_string(),
        ColumnDefault::Float(f) => {
            let s = f.to_string();
            if s.contains(['.', 'e', 'E']) || !f.is_finite() {
                s
            } else {
                format!("{s}.0")
            }
        }
        ColumnDefault::Str(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// The column type on `backend`.
pub(crate) fn column_type(backend: Backend, c: &ColumnSchema) -> String {
    if c.auto {
        backend.dialect().auto_column_type(c.sql_type)
    } else {
        backend
            .dialect()
            .column_type(c.sql_type, c.max_length, c.decimal)
    }
}

/// The DDL creating one table (with its indexes and foreign keys).
pub(crate) fn create_table(
    backend: Backend,
    template: &ModelSchema,
    table: &TableSchema,
) -> Vec<String> {
    let schema = ModelSchema {
        table: table.clone(),
        join_tables: Vec::new(),
        ..template.clone()
    };
    create_table_sql(backend, &[schema])
}

/// PostgreSQL renames an index in place; SQLite cannot (the table diff
/// drops and creates it there).
fn rename_index(old: &str, new: &str) -> String {
    format!("ALTER INDEX {} RENAME TO {}", quote(old), quote(new))
}

fn drop_table(table: &str) -> String {
    format!("DROP TABLE {}", quote(table))
}

/// The steps that alter `change.old` into `change.new`: the checks of
/// existing rows, then the statements.
pub(crate) fn alter_table(backend: Backend, change: &TableChange<'_>) -> Vec<Step> {
    let statements = match backend {
        Backend::Postgres => postgres::alter_table(change),
        _ => sqlite::alter_table(change),
    };
    let checks = row_checks(change).into_iter().map(|check| Step::Check {
        sql: check.sql(backend),
        check,
    });
    checks
        .chain(statements.into_iter().map(Step::Sql))
        .collect()
}

fn model<'s>(state: &'s ProjectState, app: &str, name: &str) -> Result<&'s ModelSchema, String> {
    state
        .model(app, name)
        .ok_or_else(|| format!("model {app}.{name} does not exist"))
}

/// The join table `table` of `app.name` in `state`.
fn join_table<'s>(
    state: &'s ProjectState,
    app: &str,
    name: &str,
    table: &str,
) -> Result<&'s TableSchema, String> {
    model(state, app, name)?
        .join_tables
        .iter()
        .find(|t| t.name == table)
        .ok_or_else(|| format!("{app}.{name} has no join table {table}"))
}

/// The steps that turn the join table `from` into `to` (same shape, see
/// [`Operation::AlterJoinTable`]): the table renamed, then one table diff
/// with its columns renamed in order.
fn alter_join_table(backend: Backend, from: &TableSchema, to: &TableSchema) -> Vec<Step> {
    let mut out = Vec::new();
    if from.name != to.name {
        out.push(Step::Sql(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&from.name),
            quote(&to.name)
        )));
    }
    let mut renamed = TableSchema {
        name: to.name.clone(),
        ..from.clone()
    };
    // PostgreSQL renames an index in place when only its name changes (the
    // columns it covers are the same ones under their new names); SQLite
    // cannot, and the table diff drops and creates it.
    if backend == Backend::Postgres {
        let new_column = |c: &String| {
            from.columns
                .iter()
                .position(|o| &o.name == c)
                .and_then(|i| to.columns.get(i))
                .map_or_else(|| c.clone(), |n| n.name.clone())
        };
        for (old, new) in renamed.indexes.iter_mut().zip(&to.indexes) {
            let columns: Vec<String> = old.columns.iter().map(new_column).collect();
            if old.name != new.name && old.unique == new.unique && columns == new.columns {
                out.push(Step::Sql(rename_index(&old.name, &new.name)));
                old.name.clone_from(&new.name);
            }
        }
    }
    let change = TableChange {
        old: &renamed,
        new: to,
        renames: from
            .columns
            .iter()
            .zip(&to.columns)
            .filter(|(o, n)| o.name != n.name)
            .map(|(o, n)| (o.name.clone(), n.name.clone()))
            .collect(),
        fill: BTreeMap::new(),
    };
    out.extend(alter_table(backend, &change));
    out
}

/// The SQL applying `op` (of a migration of `app`) on `backend`, given the
/// states before and after it.
///
/// # Errors
///
/// When the states do not hold the models the operation names.
pub(crate) fn forwards(
    backend: Backend,
    app: &str,
    op: &Operation,
    before: &ProjectState,
    after: &ProjectState,
) -> Result<Vec<Step>, String> {
    let statements = match op {
        Operation::CreateModel { schema } => {
            let schema = model(after, app, &schema.model)?;
            create_table_sql(backend, std::slice::from_ref(schema))
        }
        Operation::DeleteModel { model: name } => {
            let m = model(before, app, name)?;
            let mut out: Vec<String> = m.join_tables.iter().map(|j| drop_table(&j.name)).collect();
            out.push(drop_table(&m.table.name));
            out
        }
        Operation::RenameModel { old, new, .. } => {
            let from = &model(before, app, old)?.table.name;
            let to = &model(after, app, new)?.table.name;
            if from == to {
                Vec::new()
            } else {
                vec![format!(
                    "ALTER TABLE {} RENAME TO {}",
                    quote(from),
                    quote(to)
                )]
            }
        }
        Operation::CreateJoinTable { model: name, table } => {
            create_table(backend, model(after, app, name)?, table)
        }
        Operation::DeleteJoinTable { table, .. } => vec![drop_table(table)],
        Operation::AlterJoinTable {
            model: name,
            old,
            table,
        } => {
            let from = join_table(before, app, name, old)?;
            let to = join_table(after, app, name, &table.name)?;
            return Ok(alter_join_table(backend, from, to));
        }
        Operation::RenameIndex { old, new, .. } if backend == Backend::Postgres => {
            vec![rename_index(old, new)]
        }
        Operation::RunSql {
            sqlite, postgres, ..
        } => match backend {
            Backend::Postgres => postgres.clone(),
            _ => sqlite.clone(),
        },
        // No SQL: the executor calls the function between the statements of
        // the operations around it.
        Operation::RunRust { .. } => Vec::new(),
        Operation::AddField { model: name, .. }
        | Operation::RemoveField { model: name, .. }
        | Operation::AlterField { model: name, .. }
        | Operation::RenameField { model: name, .. }
        | Operation::AddIndex { model: name, .. }
        | Operation::RemoveIndex { model: name, .. }
        | Operation::RenameIndex { model: name, .. }
        | Operation::AddConstraint { model: name, .. }
        | Operation::RemoveConstraint { model: name, .. }
        | Operation::AddCheck { model: name, .. }
        | Operation::RemoveCheck { model: name, .. } => {
            let mut change = TableChange {
                old: &model(before, app, name)?.table,
                new: &model(after, app, name)?.table,
                renames: BTreeMap::new(),
                fill: BTreeMap::new(),
            };
            match op {
                Operation::RenameField { old, new, .. } => {
                    change.renames.insert(old.clone(), new.clone());
                }
                Operation::AddField {
                    column,
                    fill: Some(v),
                    ..
                }
                | Operation::AlterField {
                    column,
                    fill: Some(v),
                    ..
                } => {
                    change.fill.insert(column.name.clone(), v.clone());
                }
                _ => {}
            }
            return Ok(alter_table(backend, &change));
        }
    };
    Ok(statements.into_iter().map(Step::Sql).collect())
}

/// The SQL undoing `op` on `backend`; `before` and `after` are the states
/// before and after the operation was applied.
///
/// # Errors
///
/// When the operation cannot be reversed (raw SQL without reverse SQL), or
/// the states do not hold the models the operation names.
pub(crate) fn backwards(
    backend: Backend,
    app: &str,
    op: &Operation,
    before: &ProjectState,
    after: &ProjectState,
) -> Result<Vec<Step>, String> {
    let statements = match op {
        Operation::CreateModel { schema } => {
            return forwards(
                backend,
                app,
                &Operation::DeleteModel {
                    model: schema.model.clone(),
                },
                after,
                before,
            );
        }
        Operation::DeleteModel { model: name } => {
            create_table_sql(backend, std::slice::from_ref(model(before, app, name)?))
        }
        Operation::RenameModel { old, new, .. } => {
            let from = &model(after, app, new)?.table.name;
            let to = &model(before, app, old)?.table.name;
            if from == to {
                Vec::new()
            } else {
                vec![format!(
                    "ALTER TABLE {} RENAME TO {}",
                    quote(from),
                    quote(to)
                )]
            }
        }
        Operation::CreateJoinTable { table, .. } => vec![drop_table(&table.name)],
        Operation::AlterJoinTable {
            model: name,
            old,
            table,
        } => {
            let from = join_table(after, app, name, &table.name)?;
            let to = join_table(before, app, name, old)?;
            return Ok(alter_join_table(backend, from, to));
        }
        Operation::RenameIndex { old, new, .. } if backend == Backend::Postgres => {
            vec![rename_index(new, old)]
        }
        Operation::DeleteJoinTable { model: name, table } => {
            let m = model(before, app, name)?;
            let t = m
                .join_tables
                .iter()
                .find(|t| &t.name == table)
                .ok_or_else(|| format!("{app}.{name} has no join table {table}"))?;
            create_table(backend, m, t)
        }
        Operation::RunSql {
            reverse_sqlite,
            reverse_postgres,
            ..
        } => {
            let reverse = match backend {
                Backend::Postgres => reverse_postgres,
                _ => reverse_sqlite,
            };
            reverse.clone().ok_or_else(|| {
                format!(
                    "its raw SQL has no reverse for {backend:?}; add `reverse_{}` to the file",
                    match backend {
                        Backend::Postgres => "postgres",
                        _ => "sqlite",
                    }
                )
            })?
        }
        Operation::RunRust { function, reverse } => {
            if reverse.is_none() {
                return Err(format!(
                    "its Rust function {function} has no reverse; add `\"reverse\": \"<function>\"` \
                     to the `run_rust` operation in the file and register that function with \
                     `App::data_migration`"
                ));
            }
            Vec::new()
        }
        Operation::AddField { model: name, .. }
        | Operation::RemoveField { model: name, .. }
        | Operation::AlterField { model: name, .. }
        | Operation::RenameField { model: name, .. }
        | Operation::AddIndex { model: name, .. }
        | Operation::RemoveIndex { model: name, .. }
        | Operation::RenameIndex { model: name, .. }
        | Operation::AddConstraint { model: name, .. }
        | Operation::RemoveConstraint { model: name, .. }
        | Operation::AddCheck { model: name, .. }
        | Operation::RemoveCheck { model: name, .. } => {
            let mut change = TableChange {
                old: &model(after, app, name)?.table,
                new: &model(before, app, name)?.table,
                renames: BTreeMap::new(),
                fill: BTreeMap::new(),
            };
            if let Operation::RenameField { old, new, .. } = op {
                change.renames.insert(new.clone(), old.clone());
            }
            return Ok(alter_table(backend, &change));
        }
    };
    Ok(statements.into_iter().map(Step::Sql).collect())
}
