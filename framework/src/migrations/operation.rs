//! The backend-neutral [`Operation`]s a migration is made of, and how each
//! one changes the [`ProjectState`].
//!
//! Fields are named by their column (`author_id` for a foreign key
//! `author`), as in the models' schemas.
//!
//! ```
//! use manouche::migrations::{Operation, ProjectState};
//!
//! let op: Operation = serde_json::from_str(
//!     r#"{"op": "run_sql", "sqlite": ["SELECT 1"], "postgres": ["SELECT 1"]}"#,
//! ).unwrap();
//! let mut state = ProjectState::default();
//! op.apply("blog", &mut state).unwrap();
//! assert_eq!(op.describe(), "Raw SQL");
//! ```

use serde::{Deserialize, Serialize};

use super::state::ProjectState;
use crate::db::schema::{
    CheckSchema, ColumnDefault, ColumnSchema, ForeignKeySchema, IndexSchema, ModelSchema,
    TableSchema,
};

/// One change to the schema. Model names are those of the migration's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// Creates a model's table, with its indexes, foreign keys and
    /// many-to-many join tables.
    CreateModel {
        /// The whole schema of the new model.
        schema: ModelSchema,
    },
    /// Drops a model's table and its join tables.
    DeleteModel {
        /// The model's name.
        model: String,
    },
    /// Adds a column (with its foreign key, if any).
    AddField {
        /// The model's name.
        model: String,
        /// The new column.
        column: ColumnSchema,
        /// Its foreign key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        foreign_key: Option<ForeignKeySchema>,
        /// A value for the rows that already exist, when the column is not
        /// null and has no default (`makemigrations --default`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<ColumnDefault>,
    },
    /// Drops a column.
    RemoveField {
        /// The model's name.
        model: String,
        /// The column.
        column: String,
    },
    /// Changes a column's type, nullability, default, length, uniqueness
    /// or foreign key.
    AlterField {
        /// The model's name.
        model: String,
        /// The column as it becomes.
        column: ColumnSchema,
        /// The column's foreign key as it becomes (`None`: no foreign key).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        foreign_key: Option<ForeignKeySchema>,
        /// A value for existing `NULL`s when the column becomes not null.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<ColumnDefault>,
    },
    /// Renames a column, keeping its data.
    RenameField {
        /// The model's name.
        model: String,
        /// The current column name.
        old: String,
        /// The new column name.
        new: String,
    },
    /// Renames a model and its table, keeping the data.
    RenameModel {
        /// The current model name.
        old: String,
        /// The new model name.
        new: String,
        /// The new table name.
        table: String,
    },
    /// Creates an index.
    AddIndex {
        /// The model's name.
        model: String,
        /// The index.
        index: IndexSchema,
    },
    /// Drops an index.
    RemoveIndex {
        /// The model's name.
        model: String,
        /// The index's name.
        name: String,
    },
    /// Renames an index (or a multi-column unique constraint), keeping it:
    /// `ALTER INDEX ... RENAME` on PostgreSQL; SQLite, which cannot rename
    /// an index, drops and creates it.
    RenameIndex {
        /// The model's name.
        model: String,
        /// The index's current name.
        old: String,
        /// Its new name.
        new: String,
    },
    /// Adds a multi-column unique constraint.
    AddConstraint {
        /// The model's name.
        model: String,
        /// The constraint (`unique` is true).
        constraint: IndexSchema,
    },
    /// Drops a multi-column unique constraint.
    RemoveConstraint {
        /// The model's name.
        model: String,
        /// The constraint's name.
        name: String,
    },
    /// Adds a check constraint (Django's `AddConstraint` of a
    /// `CheckConstraint`). `migrate` counts the rows that fail it first and
    /// refuses the migration when there are any.
    AddCheck {
        /// The model's name.
        model: String,
        /// The constraint.
        check: CheckSchema,
    },
    /// Drops a check constraint.
    RemoveCheck {
        /// The model's name.
        model: String,
        /// The constraint's name.
        name: String,
    },
    /// Creates the join table of a new many-to-many field.
    CreateJoinTable {
        /// The model owning the field.
        model: String,
        /// The join table.
        table: TableSchema,
    },
    /// Drops the join table of a removed many-to-many field.
    DeleteJoinTable {
        /// The model owning the field.
        model: String,
        /// The join table's name.
        table: String,
    },
    /// Changes the join table `old` of a many-to-many field into `table`,
    /// keeping its rows: the table, its columns (matched in order) and its
    /// indexes take their new names, and its columns their new types. A
    /// renamed model's join tables follow it this way (Django's
    /// `RenameModel` renames the automatic join tables and their columns),
    /// and so do the join tables pointing at it, and a join column follows
    /// a change of the primary key type it points at.
    AlterJoinTable {
        /// The model owning the field.
        model: String,
        /// The join table's current name.
        old: String,
        /// The join table as it becomes: as many columns, in the same
        /// order, pointing at the same tables.
        table: TableSchema,
    },
    /// Raw SQL, per backend. Without `reverse_*` the migration cannot be
    /// unapplied on that backend; give `[]` for "nothing to undo".
    RunSql {
        /// Statements for SQLite.
        sqlite: Vec<String>,
        /// Statements for PostgreSQL.
        postgres: Vec<String>,
        /// Statements that undo `sqlite`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverse_sqlite: Option<Vec<String>>,
        /// Statements that undo `postgres`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverse_postgres: Option<Vec<String>>,
    },
    /// A Rust function the app registered for data migrations
    /// ([`App::data_migration`](crate::App::data_migration)), run inside the
    /// migration's transaction. Without `reverse` the migration cannot be
    /// unapplied.
    RunRust {
        /// The registered name of the function to run.
        function: String,
        /// The registered name of the function that undoes it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverse: Option<String>,
    },
}

fn missing_model(app: &str, model: &str) -> String {
    format!("model {app}.{model} does not exist")
}

fn model_mut<'s>(
    state: &'s mut ProjectState,
    app: &str,
    model: &str,
) -> Result<&'s mut ModelSchema, String> {
    state
        .model_mut(app, model)
        .ok_or_else(|| missing_model(app, model))
}

impl Operation {
    /// A one-line description, for `makemigrations` and `migrate --plan`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::CreateModel { schema } => format!("Create model {}", schema.model),
            Self::DeleteModel { model } => format!("Delete model {model}"),
            Self::AddField { model, column, .. } => {
                format!("Add field {} to {model}", column.name)
            }
            Self::RemoveField { model, column } => format!("Remove field {column} from {model}"),
            Self::AlterField { model, column, .. } => {
                format!("Alter field {} on {model}", column.name)
            }
            Self::RenameField { model, old, new } => {
                format!("Rename field {old} on {model} to {new}")
            }
            Self::RenameModel { old, new, .. } => format!("Rename model {old} to {new}"),
            Self::AddIndex { model, index } => format!("Create index {} on {model}", index.name),
            Self::RemoveIndex { model, name } => format!("Remove index {name} from {model}"),
            Self::RenameIndex { model, old, new } => {
                format!("Rename index {old} on {model} to {new}")
            }
            Self::AddConstraint { model, constraint } => {
                format!("Create constraint {} on {model}", constraint.name)
            }
            Self::RemoveConstraint { model, name } => {
                format!("Remove constraint {name} from {model}")
            }
            Self::AddCheck { model, check } => {
                format!("Create check constraint {} on {model}", check.name)
            }
            Self::RemoveCheck { model, name } => {
                format!("Remove check constraint {name} from {model}")
            }
            Self::CreateJoinTable { model, table } => {
                format!("Create join table {} for {model}", table.name)
            }
            Self::DeleteJoinTable { model, table } => {
                format!("Delete join table {table} of {model}")
            }
            Self::AlterJoinTable { model, old, table } if *old == table.name => {
                format!("Alter join table {old} of {model}")
            }
            Self::AlterJoinTable { model, old, table } => {
                format!("Rename join table {old} of {model} to {}", table.name)
            }
            Self::RunSql { .. } => "Raw SQL".to_owned(),
            Self::RunRust { function, .. } => format!("Run Rust function {function}"),
        }
    }

    /// The model (of the migration's app) the operation changes, if any.
    #[must_use]
    pub fn model(&self) -> Option<&str> {
        match self {
            Self::CreateModel { schema } => Some(&schema.model),
            Self::RenameModel { old, .. } => Some(old),
            Self::DeleteModel { model }
            | Self::AddField { model, .. }
            | Self::RemoveField { model, .. }
            | Self::AlterField { model, .. }
            | Self::RenameField { model, .. }
            | Self::AddIndex { model, .. }
            | Self::RemoveIndex { model, .. }
            | Self::RenameIndex { model, .. }
            | Self::AddConstraint { model, .. }
            | Self::RemoveConstraint { model, .. }
            | Self::AddCheck { model, .. }
            | Self::RemoveCheck { model, .. }
            | Self::CreateJoinTable { model, .. }
            | Self::DeleteJoinTable { model, .. }
            | Self::AlterJoinTable { model, .. } => Some(model),
            Self::RunSql { .. } | Self::RunRust { .. } => None,
        }
    }

    /// Applies the operation to `state`, as a migration of `app`.
    ///
    /// # Errors
    ///
    /// What is inconsistent (an unknown model or field, a duplicate one).
    pub fn apply(&self, app: &str, state: &mut ProjectState) -> Result<(), String> {
        match self {
            Self::CreateModel { schema } => {
                if state.model(app, &schema.model).is_some() {
                    return Err(format!("model {app}.{} already exists", schema.model));
                }
                let mut schema = schema.clone();
                app.clone_into(&mut schema.app);
                state.insert(schema);
            }
            Self::DeleteModel { model } => {
                state
                    .remove(app, model)
                    .ok_or_else(|| missing_model(app, model))?;
            }
            Self::AddField {
                model,
                column,
                foreign_key,
                ..
            } => {
                let m = model_mut(state, app, model)?;
                if m.table.column(&column.name).is_some() {
                    return Err(format!("{app}.{model} already has a field {}", column.name));
                }
                m.table.columns.push(column.clone());
                if let Some(fk) = foreign_key {
                    m.table.foreign_keys.push(fk.clone());
                }
            }
            Self::RemoveField { model, column } => {
                let m = model_mut(state, app, model)?;
                let before = m.table.columns.len();
                m.table.columns.retain(|c| &c.name != column);
                if m.table.columns.len() == before {
                    return Err(format!("{app}.{model} has no field {column}"));
                }
                m.table.foreign_keys.retain(|f| &f.column != column);
                m.table.indexes.retain(|i| !i.columns.contains(column));
            }
            Self::AlterField {
                model,
                column,
                foreign_key,
                ..
            } => {
                let m = model_mut(state, app, model)?;
                let slot = m
                    .table
                    .columns
                    .iter_mut()
                    .find(|c| c.name == column.name)
                    .ok_or_else(|| format!("{app}.{model} has no field {}", column.name))?;
                *slot = column.clone();
                let fks = &mut m.table.foreign_keys;
                match (
                    fks.iter_mut().find(|f| f.column == column.name),
                    foreign_key,
                ) {
                    (Some(slot), Some(fk)) => *slot = fk.clone(),
                    (Some(_), None) => fks.retain(|f| f.column != column.name),
                    (None, Some(fk)) => fks.push(fk.clone()),
                    (None, None) => {}
                }
            }
            Self::RenameField { model, old, new } => {
                let m = model_mut(state, app, model)?;
                if m.table.column(new).is_some() {
                    return Err(format!("{app}.{model} already has a field {new}"));
                }
                let table = m.table.name.clone();
                let col = m
                    .table
                    .columns
                    .iter_mut()
                    .find(|c| &c.name == old)
                    .ok_or_else(|| format!("{app}.{model} has no field {old}"))?;
                new.clone_into(&mut col.name);
                for fk in &mut m.table.foreign_keys {
                    if &fk.column == old {
                        new.clone_into(&mut fk.column);
                    }
                }
                for index in &mut m.table.indexes {
                    for c in &mut index.columns {
                        if c == old {
                            new.clone_into(c);
                        }
                    }
                }
                // Foreign keys elsewhere that point at the renamed column.
                for_each_table(state, |t| {
                    for fk in &mut t.foreign_keys {
                        if fk.target_table == table && &fk.target_column == old {
                            new.clone_into(&mut fk.target_column);
                        }
                    }
                });
            }
            Self::RenameModel { old, new, table } => {
                if state.model(app, new).is_some() {
                    return Err(format!("model {app}.{new} already exists"));
                }
                let mut m = state
                    .remove(app, old)
                    .ok_or_else(|| missing_model(app, old))?;
                let old_table = std::mem::replace(&mut m.table.name, table.clone());
                new.clone_into(&mut m.model);
                state.insert(m);
                for_each_table(state, |t| {
                    for fk in &mut t.foreign_keys {
                        if fk.target_table == old_table {
                            table.clone_into(&mut fk.target_table);
                        }
                    }
                });
            }
            Self::AddIndex { model, index: ix }
            | Self::AddConstraint {
                model,
                constraint: ix,
            } => {
                let m = model_mut(state, app, model)?;
                if m.table.indexes.iter().any(|i| i.name == ix.name) {
                    return Err(format!("{app}.{model} already has an index {}", ix.name));
                }
                m.table.indexes.push(ix.clone());
            }
            Self::RemoveIndex { model, name } | Self::RemoveConstraint { model, name } => {
                let m = model_mut(state, app, model)?;
                let before = m.table.indexes.len();
                m.table.indexes.retain(|i| &i.name != name);
                if m.table.indexes.len() == before {
                    return Err(format!("{app}.{model} has no index or constraint {name}"));
                }
            }
            Self::RenameIndex { model, old, new } => {
                let m = model_mut(state, app, model)?;
                if m.table.indexes.iter().any(|i| &i.name == new) {
                    return Err(format!("{app}.{model} already has an index {new}"));
                }
                let ix = m
                    .table
                    .indexes
                    .iter_mut()
                    .find(|i| &i.name == old)
                    .ok_or_else(|| format!("{app}.{model} has no index or constraint {old}"))?;
                new.clone_into(&mut ix.name);
            }
            Self::AddCheck { model, check } => {
                let m = model_mut(state, app, model)?;
                if m.table.checks.iter().any(|c| c.name == check.name) {
                    return Err(format!(
                        "{app}.{model} already has a check constraint {}",
                        check.name
                    ));
                }
                m.table.checks.push(check.clone());
            }
            Self::RemoveCheck { model, name } => {
                let m = model_mut(state, app, model)?;
                let before = m.table.checks.len();
                m.table.checks.retain(|c| &c.name != name);
                if m.table.checks.len() == before {
                    return Err(format!("{app}.{model} has no check constraint {name}"));
                }
            }
            Self::CreateJoinTable { model, table } => {
                let m = model_mut(state, app, model)?;
                if m.join_tables.iter().any(|t| t.name == table.name) {
                    return Err(format!(
                        "{app}.{model} already has join table {}",
                        table.name
                    ));
                }
                m.join_tables.push(table.clone());
            }
            Self::DeleteJoinTable { model, table } => {
                let m = model_mut(state, app, model)?;
                let before = m.join_tables.len();
                m.join_tables.retain(|t| &t.name != table);
                if m.join_tables.len() == before {
                    return Err(format!("{app}.{model} has no join table {table}"));
                }
            }
            Self::AlterJoinTable { model, old, table } => {
                let m = model_mut(state, app, model)?;
                if *old != table.name && m.join_tables.iter().any(|t| t.name == table.name) {
                    return Err(format!(
                        "{app}.{model} already has join table {}",
                        table.name
                    ));
                }
                let slot = m
                    .join_tables
                    .iter_mut()
                    .find(|t| &t.name == old)
                    .ok_or_else(|| format!("{app}.{model} has no join table {old}"))?;
                if !same_join_shape(slot, table) {
                    return Err(format!(
                        "join table {old} of {app}.{model} cannot become {}: a join table keeps \
                         its columns, in order, and the tables they point at",
                        table.name
                    ));
                }
                *slot = table.clone();
            }
            Self::RunSql { .. } | Self::RunRust { .. } => {}
        }
        Ok(())
    }
}

/// Whether `new` can be `old` under other names and column types: as many
/// columns, and the same foreign keys in order (the same tables and
/// columns pointed at).
pub(crate) fn same_join_shape(old: &TableSchema, new: &TableSchema) -> bool {
    old.columns.len() == new.columns.len()
        && old.foreign_keys.len() == new.foreign_keys.len()
        && old
            .foreign_keys
            .iter()
            .zip(&new.foreign_keys)
            .all(|(o, n)| o.target_table == n.target_table && o.target_column == n.target_column)
}

fn for_each_table(state: &mut ProjectState, mut f: impl FnMut(&mut TableSchema)) {
    for models in state.apps.values_mut() {
        for m in models.values_mut() {
            f(&mut m.table);
            for j in &mut m.join_tables {
                f(j);
            }
        }
    }
}
