//! The autodetector: compares the models (their schemas) with the state the
//! migrations build, and writes the operations that close the gap.
//!
//! Renames are never guessed. A model or field is renamed only with a hint
//! ([`Hints::renames`], `--rename app.Model=NewModel` or
//! `--rename app.Model.old_column=new_column` on the command line). When a
//! field disappears and another of the same type appears without a hint,
//! detection stops with [`MigrationError::PossibleRename`], which names
//! both ways forward: the rename hint, or `--no-rename-check` to drop the
//! old column (and its data) and add the new one. A model that disappears
//! while another with the same fields appears in the same app stops it the
//! same way ([`MigrationError::PossibleModelRename`]): dropping the old
//! table loses its rows. A model that appears with other fields is a new
//! model, as in Django (`--rename` says otherwise). [`Hints::not_renames`] says "not a rename" for one
//! such pair only (what answering "no" in `makemigrations` records; see
//! [`questioner`](super::questioner)). A new non-null column
//! without a default needs a value for the existing rows
//! ([`Hints::defaults`], `--default app.Model.column=VALUE`), and so does a
//! column that becomes non-null. A many-to-many join table that disappears
//! while another appears on the same model (a renamed many-to-many field or
//! model) stops detection too ([`MigrationError::PossibleJoinTableRename`]):
//! renaming join tables is not supported, and drop + create would lose
//! the links silently. An index whose name alone changes (a new name in
//! the model, or the automatic name of a renamed model's or field's index)
//! is renamed ([`Operation::RenameIndex`]), not dropped and built again.
//!
//! ```
//! use manouche::migrations::{MigrationSet, Operation, autodetector::{Hints, detect}};
//! use manouche::db::{Auto, Model};
//!
//! #[derive(Model)]
//! #[model(app = "docs_auto")]
//! pub struct Note {
//!     pub id: Auto<i64>,
//!     pub text: String,
//! }
//!
//! let set = MigrationSet::default();
//! let new = detect(&set, &[Note::schema()], &["docs_auto".into()], &Hints::default())?;
//! assert_eq!(new[0].name, "0001_initial");
//! assert!(matches!(new[0].operations[0], Operation::CreateModel { .. }));
//! # Ok::<_, manouche::migrations::MigrationError>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::error::MigrationError;
use super::loader::{Migration, MigrationSet};
use super::operation::Operation;
use super::state::ProjectState;
use crate::db::OnDelete;
use crate::db::fields::SqlType;
use crate::db::schema::{ColumnDefault, ColumnSchema, IndexSchema, ModelSchema};

/// What the user told the autodetector.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// Renames: `(app, model, None, new_model)` for a model,
    /// `(app, model, Some(old_column), new_column)` for a field (the model
    /// named by its current name).
    pub renames: Vec<(String, String, Option<String>, String)>,
    /// Values for existing rows: `(app, model, column)` → text, parsed by
    /// the column's type.
    pub defaults: BTreeMap<(String, String, String), String>,
    /// Pairs that are not renames, in the shape of [`renames`](Self::renames):
    /// `(app, old_model, None, new_model)` or `(app, model,
    /// Some(old_column), new_column)`. The old one is dropped and the new
    /// one created, without stopping to ask about that pair.
    pub not_renames: Vec<(String, String, Option<String>, String)>,
    /// Turn every removed and added field of the same type (and every
    /// removed and added model) into remove + add instead of stopping with
    /// [`MigrationError::PossibleRename`] or
    /// [`MigrationError::PossibleModelRename`].
    pub no_rename_check: bool,
    /// The name of the new migrations (after the number); derived from the
    /// changes when `None`.
    pub name: Option<String>,
}

impl Hints {
    /// Parses `app.Model=NewModel` or `app.Model.old=new`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::BadHint`] for another shape.
    pub fn add_rename(&mut self, text: &str) -> Result<(), MigrationError> {
        let bad = |reason: &str| MigrationError::BadHint {
            flag: "--rename",
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (path, new) = text
            .split_once('=')
            .ok_or_else(|| bad("expected app.Model=NewModel or app.Model.old_column=new_column"))?;
        let parts: Vec<&str> = path.split('.').collect();
        if new.is_empty() || parts.iter().any(|p| p.is_empty()) {
            return Err(bad("a part is empty"));
        }
        match parts.as_slice() {
            [app, model] => {
                self.renames
                    .push(((*app).to_owned(), (*model).to_owned(), None, new.to_owned()))
            }
            [app, model, old] => self.renames.push((
                (*app).to_owned(),
                (*model).to_owned(),
                Some((*old).to_owned()),
                new.to_owned(),
            )),
            _ => {
                return Err(bad(
                    "expected app.Model=NewModel or app.Model.old_column=new_column",
                ));
            }
        }
        Ok(())
    }

    /// Whether `old` → `new` (a model when `column` is `None`, else the
    /// column `column` → `new` of `model`) was said not to be a rename.
    #[must_use]
    pub fn is_not_rename(&self, app: &str, model: &str, column: Option<&str>, new: &str) -> bool {
        self.not_renames
            .iter()
            .any(|(a, m, c, n)| a == app && m == model && c.as_deref() == column && n == new)
    }

    /// Parses `app.Model.column=VALUE`.
    ///
    /// # Errors
    ///
    /// [`MigrationError::BadHint`] for another shape.
    pub fn add_default(&mut self, text: &str) -> Result<(), MigrationError> {
        let bad = || MigrationError::BadHint {
            flag: "--default",
            value: text.to_owned(),
            reason: "expected app.Model.column=VALUE".to_owned(),
        };
        let (path, value) = text.split_once('=').ok_or_else(bad)?;
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            [app, model, column] if !app.is_empty() && !model.is_empty() && !column.is_empty() => {
                self.defaults.insert(
                    ((*app).to_owned(), (*model).to_owned(), (*column).to_owned()),
                    value.to_owned(),
                );
                Ok(())
            }
            _ => Err(bad()),
        }
    }
}

/// Parses `text` as a value of a column of type `ty`, for the rows that
/// exist when the column is added or becomes non-null (`--default`, or the
/// answer to `makemigrations`' question).
///
/// ```
/// use manouche::db::SqlType;
/// use manouche::db::schema::ColumnDefault;
/// use manouche::migrations::autodetector::parse_default;
///
/// assert_eq!(parse_default(SqlType::BigInt, "42"), Ok(ColumnDefault::Int(42)));
/// assert!(parse_default(SqlType::BigInt, "4x2").unwrap_err().contains("whole number"));
/// assert!(parse_default(SqlType::Date, "2024-02-30").is_err());
/// ```
///
/// # Errors
///
/// What was expected, when `text` is not a value of that type.
pub fn parse_default(ty: SqlType, text: &str) -> Result<ColumnDefault, String> {
    // The same parser as forms and URLs, for its checks and messages.
    ty.parse(text).map_err(|e| e.to_string())?;
    let t = text.trim();
    let number = |what: &str| format!("`{text}` is not {what}");
    Ok(match ty {
        SqlType::Bool => ColumnDefault::Bool(matches!(
            t.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )),
        SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => {
            ColumnDefault::Int(t.parse().map_err(|_| number("a whole number"))?)
        }
        SqlType::Double | SqlType::Decimal => {
            ColumnDefault::Float(t.parse().map_err(|_| number("a number"))?)
        }
        _ => ColumnDefault::Str(text.to_owned()),
    })
}

/// The new migrations (one per app with changes) that bring the state of
/// `set` to `models`, for the apps in `apps`.
///
/// # Errors
///
/// [`MigrationError::PossibleRename`], [`MigrationError::NeedsDefault`],
/// a bad hint, or migration files that do not apply.
pub fn detect(
    set: &MigrationSet,
    models: &[ModelSchema],
    apps: &[String],
    hints: &Hints,
) -> Result<Vec<Migration>, MigrationError> {
    let mut state = set.state()?;
    let target =
        ProjectState::from_schemas(models.iter().filter(|m| apps.contains(&m.app)).cloned());
    let mut per_app: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    for app in apps {
        let ops = diff_app(app, &mut state, &target, hints)?;
        if !ops.is_empty() {
            per_app.insert(app.clone(), ops);
        }
    }
    let full_target = ProjectState::from_schemas(models.iter().cloned());
    let mut out = Vec::new();
    for (app, operations) in &per_app {
        let number = set
            .leaf(app)
            .and_then(|m| m.name.get(..4))
            .and_then(|n| n.parse::<u32>().ok())
            .map_or(1, |n| n + 1);
        let mut deps: BTreeSet<(String, String)> = BTreeSet::new();
        if let Some(leaf) = set.leaf(app) {
            deps.insert(leaf.key());
        }
        for table in referenced_tables(operations) {
            let Some(owner) = full_target
                .owner_of_table(&table)
                .or_else(|| state.owner_of_table(&table))
            else {
                continue;
            };
            if &owner.app == app {
                continue;
            }
            if let Some(leaf) = set.leaf(&owner.app) {
                deps.insert(leaf.key());
            } else if !per_app.contains_key(&owner.app) {
                // Its table would not exist when this migration runs.
                return Err(MigrationError::DependencyWithoutMigrations {
                    app: app.clone(),
                    other: owner.app.clone(),
                });
            }
        }
        out.push(Migration {
            app: app.clone(),
            name: format!("{number:04}_{}", migration_name(number, operations, hints)),
            dependencies: deps.into_iter().collect(),
            operations: operations.clone(),
        });
    }
    // A migration created now for another app comes before its dependents.
    let created: Vec<(String, String)> = out.iter().map(Migration::key).collect();
    for m in &mut out {
        for table in referenced_tables(&m.operations) {
            if let Some(owner) = full_target.owner_of_table(&table)
                && owner.app != m.app
                && let Some(key) = created.iter().find(|k| k.0 == owner.app)
                && !m.dependencies.contains(key)
            {
                m.dependencies.push(key.clone());
            }
        }
    }
    Ok(out)
}

/// An empty migration for `app` (`makemigrations --empty`).
#[must_use]
pub fn empty(set: &MigrationSet, app: &str, name: Option<&str>) -> Migration {
    let number = set
        .leaf(app)
        .and_then(|m| m.name.get(..4))
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(1, |n| n + 1);
    Migration {
        app: app.to_owned(),
        name: format!("{number:04}_{}", name.unwrap_or("custom")),
        dependencies: set.leaf(app).map(Migration::key).into_iter().collect(),
        operations: Vec::new(),
    }
}

fn migration_name(number: u32, ops: &[Operation], hints: &Hints) -> String {
    if let Some(name) = &hints.name {
        return name.clone();
    }
    if number == 1 {
        return "initial".to_owned();
    }
    let part = |op: &Operation| -> String {
        match op {
            Operation::CreateModel { schema } => schema.model.to_lowercase(),
            Operation::DeleteModel { model } => format!("delete_{}", model.to_lowercase()),
            Operation::AddField { model, column, .. } => {
                format!("{}_{}", model.to_lowercase(), column.name)
            }
            Operation::RemoveField { model, column } => {
                format!("remove_{}_{}", model.to_lowercase(), column)
            }
            Operation::AlterField { model, column, .. } => {
                format!("alter_{}_{}", model.to_lowercase(), column.name)
            }
            Operation::RenameField { model, new, .. } => {
                format!("rename_{}_{}", model.to_lowercase(), new)
            }
            Operation::RenameModel { new, .. } => format!("rename_{}", new.to_lowercase()),
            _ => "auto".to_owned(),
        }
    };
    let mut name = ops.iter().take(2).map(part).collect::<Vec<_>>().join("_");
    if ops.len() > 2 || name.len() > 40 {
        name = format!("auto_{}", chrono::Utc::now().format("%Y%m%d_%H%M"));
    }
    name
}

fn referenced_tables(ops: &[Operation]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for op in ops {
        match op {
            Operation::CreateModel { schema } => {
                for t in std::iter::once(&schema.table).chain(&schema.join_tables) {
                    out.extend(t.foreign_keys.iter().map(|f| f.target_table.clone()));
                }
            }
            Operation::AddField {
                foreign_key: Some(fk),
                ..
            } => {
                out.insert(fk.target_table.clone());
            }
            Operation::CreateJoinTable { table, .. } => {
                out.extend(table.foreign_keys.iter().map(|f| f.target_table.clone()));
            }
            _ => {}
        }
    }
    out
}

/// Whether two models have the same fields, as the rename question needs
/// them: the same columns (name, type, nullability, length, default...),
/// the same foreign keys whatever table they point at (a renamed model's
/// foreign key to itself points at its new table), and as many join tables.
fn same_fields(old: &ModelSchema, new: &ModelSchema) -> bool {
    fn columns(m: &ModelSchema) -> Vec<&ColumnSchema> {
        let mut columns: Vec<_> = m.table.columns.iter().collect();
        columns.sort_by(|a, b| a.name.cmp(&b.name));
        columns
    }
    fn foreign_keys(m: &ModelSchema) -> Vec<(&str, &str, OnDelete)> {
        let mut keys: Vec<_> = m
            .table
            .foreign_keys
            .iter()
            .map(|f| (f.column.as_str(), f.target_column.as_str(), f.on_delete))
            .collect();
        keys.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        keys
    }
    columns(old) == columns(new)
        && foreign_keys(old) == foreign_keys(new)
        && old.join_tables.len() == new.join_tables.len()
}

fn push(
    app: &str,
    state: &mut ProjectState,
    ops: &mut Vec<Operation>,
    op: Operation,
) -> Result<(), MigrationError> {
    op.apply(app, state)
        .map_err(|problem| MigrationError::InvalidOperation {
            migration: format!("{app} (new)"),
            problem,
        })?;
    ops.push(op);
    Ok(())
}

#[allow(clippy::too_many_lines)]
fn diff_app(
    app: &str,
    state: &mut ProjectState,
    target: &ProjectState,
    hints: &Hints,
) -> Result<Vec<Operation>, MigrationError> {
    let mut ops = Vec::new();
    let empty = BTreeMap::new();
    let wanted = target.apps.get(app).unwrap_or(&empty);

    // Model renames (hinted only).
    for (h_app, old, field, new) in &hints.renames {
        if h_app != app || field.is_some() || state.model(app, new).is_some() {
            continue;
        }
        let (Some(_), Some(to)) = (state.model(app, old), wanted.get(new)) else {
            continue;
        };
        let op = Operation::RenameModel {
            old: old.clone(),
            new: new.clone(),
            table: to.table.name.clone(),
        };
        push(app, state, &mut ops, op)?;
    }

    // New models, those they refer to first.
    let mut new_models: Vec<&ModelSchema> = wanted
        .values()
        .filter(|m| state.model(app, &m.model).is_none())
        .collect();
    // A model gone while another with the same fields appears: maybe
    // renamed (Django's rule). A model whose fields changed too is a new
    // model unless a hint says otherwise: a rename with field changes is
    // `--rename` (or two migrations), as in Django.
    if !hints.no_rename_check {
        let gone = state
            .apps
            .get(app)
            .into_iter()
            .flat_map(BTreeMap::values)
            .filter(|m| !wanted.contains_key(&m.model));
        for old in gone {
            let open: Vec<&&ModelSchema> = new_models
                .iter()
                .filter(|new| !hints.is_not_rename(app, &old.model, None, &new.model))
                .collect();
            if let Some(new) = open.iter().find(|new| same_fields(old, new)) {
                return Err(MigrationError::PossibleModelRename {
                    app: app.to_owned(),
                    old: old.model.clone(),
                    new: new.model.clone(),
                });
            }
        }
    }
    let mut created: BTreeSet<String> = BTreeSet::new();
    while !new_models.is_empty() {
        let ready = new_models
            .iter()
            .position(|m| {
                let join_fks = m.join_tables.iter().flat_map(|j| &j.foreign_keys);
                m.table.foreign_keys.iter().chain(join_fks).all(|f| {
                    f.target_table == m.table.name
                        || created.contains(&f.target_table)
                        || !new_models.iter().any(|o| o.table.name == f.target_table)
                })
            })
            .unwrap_or(0);
        let m = new_models.remove(ready);
        created.insert(m.table.name.clone());
        let op = Operation::CreateModel { schema: m.clone() };
        push(app, state, &mut ops, op)?;
    }

    // Changed models.
    let common: Vec<String> = state
        .apps
        .get(app)
        .map(|models| {
            models
                .keys()
                .filter(|k| wanted.contains_key(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut removals = Vec::new();
    for name in &common {
        let to = &wanted[name];
        // Field renames (hinted only).
        for (h_app, model, old, new) in &hints.renames {
            let Some(old) = old else { continue };
            if h_app != app || model != name {
                continue;
            }
            let from = &state.apps[app][name];
            if from.table.column(old).is_some()
                && from.table.column(new).is_none()
                && to.table.column(new).is_some()
            {
                let op = Operation::RenameField {
                    model: name.clone(),
                    old: old.clone(),
                    new: new.clone(),
                };
                push(app, state, &mut ops, op)?;
            }
        }
        let from = state.apps[app][name].clone();
        let removed: Vec<_> = from
            .table
            .columns
            .iter()
            .filter(|c| to.table.column(&c.name).is_none())
            .collect();
        let added: Vec<_> = to
            .table
            .columns
            .iter()
            .filter(|c| from.table.column(&c.name).is_none())
            .collect();
        if !hints.no_rename_check {
            for r in &removed {
                let candidate = added.iter().find(|a| {
                    a.sql_type == r.sql_type
                        && !hints.is_not_rename(app, name, Some(&r.name), &a.name)
                });
                if let Some(a) = candidate {
                    return Err(MigrationError::PossibleRename {
                        app: app.to_owned(),
                        model: name.clone(),
                        old: r.name.clone(),
                        new: a.name.clone(),
                    });
                }
            }
        }
        let fill_for =
            |column: &str, ty: SqlType| -> Result<Option<ColumnDefault>, MigrationError> {
                let key = (app.to_owned(), name.clone(), column.to_owned());
                match hints.defaults.get(&key) {
                    None => Ok(None),
                    Some(text) => parse_default(ty, text).map(Some).map_err(|reason| {
                        MigrationError::BadHint {
                            flag: "--default",
                            value: format!("{app}.{name}.{column}={text}"),
                            reason,
                        }
                    }),
                }
            };
        let needs_default = |column: &str| MigrationError::NeedsDefault {
            app: app.to_owned(),
            model: name.clone(),
            field: column.to_owned(),
        };

        // An index that only changes its name (the automatic name of a
        // renamed field or model, or a new name in the model) is renamed,
        // not dropped and built again: old name → new name.
        let mut renamed_indexes: Vec<(&IndexSchema, &IndexSchema)> = Vec::new();
        for ix in &from.table.indexes {
            if to.table.indexes.contains(ix) {
                continue;
            }
            let same = to.table.indexes.iter().find(|n| {
                n.columns == ix.columns
                    && n.unique == ix.unique
                    && !from.table.indexes.contains(n)
                    && !from.table.indexes.iter().any(|f| f.name == n.name)
                    && !renamed_indexes.iter().any(|(_, r)| r.name == n.name)
            });
            if let Some(n) = same {
                renamed_indexes.push((ix, n));
            }
        }
        let renamed_from =
            |ix: &IndexSchema| renamed_indexes.iter().any(|(o, _)| o.name == ix.name);
        let renamed_to = |ix: &IndexSchema| renamed_indexes.iter().any(|(_, n)| n.name == ix.name);

        // Indexes and constraints that go away, before their columns do.
        for ix in &from.table.indexes {
            if !to.table.indexes.contains(ix) && !renamed_from(ix) {
                let op = if ix.unique {
                    Operation::RemoveConstraint {
                        model: name.clone(),
                        name: ix.name.clone(),
                    }
                } else {
                    Operation::RemoveIndex {
                        model: name.clone(),
                        name: ix.name.clone(),
                    }
                };
                push(app, state, &mut ops, op)?;
            }
        }
        for (old, new) in &renamed_indexes {
            let op = Operation::RenameIndex {
                model: name.clone(),
                old: old.name.clone(),
                new: new.name.clone(),
            };
            push(app, state, &mut ops, op)?;
        }
        for c in &added {
            let fill = fill_for(&c.name, c.sql_type)?;
            if !c.nullable && c.default.is_none() && !c.auto && fill.is_none() {
                return Err(needs_default(&c.name));
            }
            let op = Operation::AddField {
                model: name.clone(),
                column: (*c).clone(),
                foreign_key: to
                    .table
                    .foreign_keys
                    .iter()
                    .find(|f| f.column == c.name)
                    .cloned(),
                fill,
            };
            push(app, state, &mut ops, op)?;
        }
        for c in &to.table.columns {
            let Some(before) = from.table.column(&c.name) else {
                continue;
            };
            let fk_of = |t: &crate::db::schema::TableSchema| {
                t.foreign_keys.iter().find(|f| f.column == c.name).cloned()
            };
            let foreign_key = fk_of(&to.table);
            if before == c && fk_of(&from.table) == foreign_key {
                continue;
            }
            let fill = fill_for(&c.name, c.sql_type)?;
            if before.nullable && !c.nullable && c.default.is_none() && fill.is_none() {
                return Err(needs_default(&c.name));
            }
            let op = Operation::AlterField {
                model: name.clone(),
                column: c.clone(),
                foreign_key,
                fill,
            };
            push(app, state, &mut ops, op)?;
        }
        for c in &removed {
            removals.push(Operation::RemoveField {
                model: name.clone(),
                column: c.name.clone(),
            });
        }
        for ix in &to.table.indexes {
            if !from.table.indexes.contains(ix) && !renamed_to(ix) {
                let op = if ix.unique {
                    Operation::AddConstraint {
                        model: name.clone(),
                        constraint: ix.clone(),
                    }
                } else {
                    Operation::AddIndex {
                        model: name.clone(),
                        index: ix.clone(),
                    }
                };
                removals.push(op);
            }
        }
        let added_joins: Vec<_> = to
            .join_tables
            .iter()
            .filter(|j| !from.join_tables.iter().any(|f| f.name == j.name))
            .collect();
        if !hints.no_rename_check
            && let Some(old) = from
                .join_tables
                .iter()
                .find(|f| !to.join_tables.iter().any(|t| t.name == f.name))
            && let Some(new) = added_joins.first()
        {
            return Err(MigrationError::PossibleJoinTableRename {
                app: app.to_owned(),
                model: name.clone(),
                old: old.name.clone(),
                new: new.name.clone(),
            });
        }
        for j in &to.join_tables {
            if !from.join_tables.iter().any(|f| f.name == j.name) {
                removals.push(Operation::CreateJoinTable {
                    model: name.clone(),
                    table: j.clone(),
                });
            }
        }
        for j in &from.join_tables {
            if !to.join_tables.iter().any(|t| t.name == j.name) {
                removals.push(Operation::DeleteJoinTable {
                    model: name.clone(),
                    table: j.name.clone(),
                });
            }
        }
    }
    for op in removals {
        push(app, state, &mut ops, op)?;
    }

    // Deleted models.
    let gone: Vec<String> = state
        .apps
        .get(app)
        .map(|models| {
            models
                .keys()
                .filter(|k| !wanted.contains_key(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for model in gone {
        push(app, state, &mut ops, Operation::DeleteModel { model })?;
    }
    Ok(ops)
}
