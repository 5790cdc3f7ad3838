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
//! column that becomes non-null. An index whose name alone changes (a new
//! name in the model, or the automatic name of a renamed model's or
//! field's index) is renamed ([`Operation::RenameIndex`]), not dropped and
//! built again.
//!
//! **Across apps.** Every app's model renames are made first, so that the
//! foreign keys and join tables of other apps follow them in the state and
//! need no `AlterField`, whatever the order of the labels. A renamed
//! model's join tables, and join tables pointing at it, follow with their
//! rows ([`Operation::AlterJoinTable`]); so does a join column whose
//! target's primary key changes type. Without a model rename, a join table
//! that disappears while another appears on the same model (a renamed
//! many-to-many field) stops detection
//! ([`MigrationError::PossibleJoinTableRename`]): drop + create would lose
//! the links silently. New migrations of two apps that would depend on each
//! other (foreign keys both ways) are split as Django does: the first app
//! by label creates its models without the foreign keys into the cycle and
//! adds them in a second migration.
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
use super::operation::{Operation, same_join_shape};
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
    // Every app's model renames first: a rename retargets the foreign keys
    // and join tables of other apps that point at the model (in the
    // state), so that their diff finds nothing to change because of it,
    // whatever the order of the apps' labels (as Django, no `AlterField`
    // when only the target's name changed).
    let mut per_app: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    // (app, new model name) → the model's table before: its join tables
    // follow it.
    let mut renamed_tables = BTreeMap::new();
    let before_renames = state.clone();
    for app in apps {
        let ops = rename_models(app, &mut state, &target, hints, &mut renamed_tables)?;
        per_app.insert(app.clone(), ops);
    }
    // A renamed model's table must keep its old name until every existing
    // migration of another app that points at it has run (on a database
    // where they have not, they would point at a table that is gone): the
    // rename depends on the latest migration of each such app.
    let mut run_after: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for ((app, _), old_table) in &renamed_tables {
        for (other, models) in &before_renames.apps {
            let points_at = models.values().any(|m| {
                std::iter::once(&m.table)
                    .chain(&m.join_tables)
                    .any(|t| t.foreign_keys.iter().any(|f| f.target_table == *old_table))
            });
            if other != app
                && points_at
                && let Some(leaf) = set.leaf(other)
            {
                run_after.entry(app.clone()).or_default().insert(leaf.key());
            }
        }
    }
    for app in apps {
        let mut ops = diff_app(app, &mut state, &target, hints, &renamed_tables)?;
        per_app.entry(app.clone()).or_default().append(&mut ops);
    }
    per_app.retain(|_, ops| !ops.is_empty());
    let full_target = ProjectState::from_schemas(models.iter().cloned());
    let mut out = Vec::new();
    for (app, operations) in &per_app {
        let number = number_after(set.leaf(app));
        let mut deps: BTreeSet<(String, String)> = run_after.remove(app).unwrap_or_default();
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
        for key in new_migrations_pointed_at(&m.operations, &m.app, &full_target, &created) {
            if !m.dependencies.contains(&key) {
                m.dependencies.push(key);
            }
        }
    }
    // New migrations that depend on each other (models of two apps that
    // point at each other) are a cycle no order can apply: as Django, one
    // side creates its models without the foreign keys into the cycle, and
    // a second migration adds them once the other side's tables exist.
    while let Some(cycle) = new_cycle(&out) {
        let Some(&first) = cycle.iter().min_by_key(|&&i| &out[i].app) else {
            break;
        };
        let others: BTreeSet<String> = cycle
            .iter()
            .filter(|&&i| i != first)
            .map(|&i| out[i].app.clone())
            .collect();
        let owned_by_others = |table: &str| {
            full_target
                .owner_of_table(table)
                .is_some_and(|owner| others.contains(&owner.app))
        };
        let later = split_off_foreign_keys(&mut out[first], &owned_by_others);
        if later.is_empty() {
            // Nothing to move: the cycle is not made of foreign keys.
            return Err(MigrationError::InvalidOperation {
                migration: out[first].label(),
                problem: format!(
                    "its new migration and those of {} depend on each other",
                    others.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        let keep = out[first].app.clone();
        let still: BTreeSet<String> = referenced_tables(&out[first].operations)
            .iter()
            .filter_map(|t| full_target.owner_of_table(t).map(|o| o.app.clone()))
            .collect();
        // The other side's new migrations, unless still referred to.
        out[first].dependencies.retain(|dep| {
            !(created.contains(dep) && others.contains(&dep.0) && !still.contains(&dep.0))
        });
        let number = number_after(Some(&out[first]));
        let mut dependencies = vec![out[first].key()];
        for key in new_migrations_pointed_at(&later, &keep, &full_target, &created) {
            if !dependencies.contains(&key) {
                dependencies.push(key);
            }
        }
        out.push(Migration {
            app: keep,
            name: format!(
                "{number:04}_{}",
                migration_name(number, &later, &Hints::default())
            ),
            dependencies,
            operations: later,
        });
    }
    Ok(out)
}

/// The number of the migration after `leaf` (1 without one).
fn number_after(leaf: Option<&Migration>) -> u32 {
    leaf.and_then(|m| m.name.get(..4))
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(1, |n| n + 1)
}

/// The migrations among `created` (made now, one per app) of the other
/// apps whose tables `ops` of `app` point at.
fn new_migrations_pointed_at(
    ops: &[Operation],
    app: &str,
    target: &ProjectState,
    created: &[(String, String)],
) -> Vec<(String, String)> {
    referenced_tables(ops)
        .iter()
        .filter_map(|table| target.owner_of_table(table))
        .filter(|owner| owner.app != app)
        .filter_map(|owner| created.iter().find(|k| k.0 == owner.app).cloned())
        .collect()
}

/// A cycle among the dependencies between `migrations` (their indexes),
/// if there is one.
fn new_cycle(migrations: &[Migration]) -> Option<Vec<usize>> {
    fn visit(
        i: usize,
        migrations: &[Migration],
        path: &mut Vec<usize>,
        done: &mut BTreeSet<usize>,
    ) -> Option<Vec<usize>> {
        if let Some(at) = path.iter().position(|&p| p == i) {
            return Some(path[at..].to_vec());
        }
        if done.contains(&i) {
            return None;
        }
        path.push(i);
        for dep in &migrations[i].dependencies {
            if let Some(j) = migrations.iter().position(|m| m.key() == *dep)
                && let Some(cycle) = visit(j, migrations, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(i);
        None
    }
    let mut done = BTreeSet::new();
    (0..migrations.len()).find_map(|i| visit(i, migrations, &mut Vec::new(), &mut done))
}

/// Takes out of `migration` what points at a table `into_cycle` accepts:
/// the foreign-key columns of the models it creates (as `AddField`s, with
/// their indexes after them), their join tables, and the fields it adds
/// or alters with such a foreign key. What was taken, in order.
fn split_off_foreign_keys(
    migration: &mut Migration,
    into_cycle: &dyn Fn(&str) -> bool,
) -> Vec<Operation> {
    let mut later = Vec::new();
    let mut kept = Vec::new();
    for op in std::mem::take(&mut migration.operations) {
        match op {
            Operation::CreateModel { mut schema } => {
                let model = schema.model.clone();
                let table = &mut schema.table;
                let moved: Vec<_> = table
                    .foreign_keys
                    .iter()
                    .filter(|f| into_cycle(&f.target_table) && f.target_table != table.name)
                    .cloned()
                    .collect();
                for fk in moved {
                    let Some(at) = table.columns.iter().position(|c| c.name == fk.column) else {
                        continue;
                    };
                    let column = table.columns.remove(at);
                    table.foreign_keys.retain(|f| f.column != fk.column);
                    later.push(Operation::AddField {
                        model: model.clone(),
                        column,
                        foreign_key: Some(fk.clone()),
                        fill: None,
                    });
                    let (with, without): (Vec<_>, Vec<_>) = std::mem::take(&mut table.indexes)
                        .into_iter()
                        .partition(|ix| ix.columns.contains(&fk.column));
                    table.indexes = without;
                    for ix in with {
                        later.push(if ix.unique {
                            Operation::AddConstraint {
                                model: model.clone(),
                                constraint: ix,
                            }
                        } else {
                            Operation::AddIndex {
                                model: model.clone(),
                                index: ix,
                            }
                        });
                    }
                }
                let (moved, stay): (Vec<_>, Vec<_>) = std::mem::take(&mut schema.join_tables)
                    .into_iter()
                    .partition(|j| j.foreign_keys.iter().any(|f| into_cycle(&f.target_table)));
                schema.join_tables = stay;
                later.extend(moved.into_iter().map(|table| Operation::CreateJoinTable {
                    model: model.clone(),
                    table,
                }));
                kept.push(Operation::CreateModel { schema });
            }
            Operation::AddField {
                foreign_key: Some(ref fk),
                ..
            }
            | Operation::AlterField {
                foreign_key: Some(ref fk),
                ..
            } if into_cycle(&fk.target_table) => later.push(op),
            Operation::CreateJoinTable { ref table, .. }
                if table
                    .foreign_keys
                    .iter()
                    .any(|f| into_cycle(&f.target_table)) =>
            {
                later.push(op);
            }
            other => kept.push(other),
        }
    }
    migration.operations = kept;
    later
}

/// An empty migration for `app` (`makemigrations --empty`).
#[must_use]
pub fn empty(set: &MigrationSet, app: &str, name: Option<&str>) -> Migration {
    let number = number_after(set.leaf(app));
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
            }
            | Operation::AlterField {
                foreign_key: Some(fk),
                ..
            } => {
                out.insert(fk.target_table.clone());
            }
            Operation::CreateJoinTable { table, .. } | Operation::AlterJoinTable { table, .. } => {
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

/// The join-table changes of the model `name` from `from` to `to`, added
/// to `ops`:
/// - a join table of the same name whose columns' names or types changed
///   (a renamed target model, a target's primary key of another type) is
///   altered in place, its rows kept ([`Operation::AlterJoinTable`]), or
///   dropped and made again when it points at other tables now (a field
///   that points at another model, as Django does);
/// - when the model was renamed in this run (its table was `old_table`),
///   each of its join tables that disappears is paired with the one that
///   appears in its place (same shape; among several, the same name once
///   the owner's old and new table names are taken off the front) and
///   renamed with its rows;
/// - otherwise a join table that disappears while another appears may be a
///   renamed field: [`MigrationError::PossibleJoinTableRename`], unless
///   `--no-rename-check`;
/// - the rest are created or dropped.
fn join_table_changes(
    app: &str,
    name: &str,
    from: &ModelSchema,
    to: &ModelSchema,
    old_table: Option<&str>,
    hints: &Hints,
    ops: &mut Vec<Operation>,
) -> Result<(), MigrationError> {
    let alter = |old: &str, table: &crate::db::schema::TableSchema| Operation::AlterJoinTable {
        model: name.to_owned(),
        old: old.to_owned(),
        table: table.clone(),
    };
    let mut gone: Vec<&crate::db::schema::TableSchema> = Vec::new();
    for j in &from.join_tables {
        match to.join_tables.iter().find(|t| t.name == j.name) {
            Some(t) if t == j => {}
            Some(t) if same_join_shape(j, t) => ops.push(alter(&j.name, t)),
            Some(t) => {
                ops.push(Operation::DeleteJoinTable {
                    model: name.to_owned(),
                    table: j.name.clone(),
                });
                ops.push(Operation::CreateJoinTable {
                    model: name.to_owned(),
                    table: t.clone(),
                });
            }
            None => gone.push(j),
        }
    }
    let mut added: Vec<&crate::db::schema::TableSchema> = to
        .join_tables
        .iter()
        .filter(|t| !from.join_tables.iter().any(|f| f.name == t.name))
        .collect();
    if let Some(old_table) = old_table {
        gone.retain(|old| {
            let fits: Vec<usize> = (0..added.len())
                .filter(|&i| same_join_shape(old, added[i]))
                .collect();
            // The field's part of the name, after the owner's table name.
            let field = old.name.strip_prefix(old_table);
            let pick = match fits.as_slice() {
                [one] => Some(*one),
                _ => fits.iter().copied().find(|&i| {
                    field.is_some() && field == added[i].name.strip_prefix(to.table.name.as_str())
                }),
            };
            match pick {
                Some(i) => {
                    ops.push(alter(&old.name, added.remove(i)));
                    false
                }
                None => true,
            }
        });
    }
    if !hints.no_rename_check
        && let (Some(old), Some(new)) = (gone.first(), added.first())
    {
        return Err(MigrationError::PossibleJoinTableRename {
            app: app.to_owned(),
            model: name.to_owned(),
            old: old.name.clone(),
            new: new.name.clone(),
        });
    }
    for t in added {
        ops.push(Operation::CreateJoinTable {
            model: name.to_owned(),
            table: t.clone(),
        });
    }
    for j in gone {
        ops.push(Operation::DeleteJoinTable {
            model: name.to_owned(),
            table: j.name.clone(),
        });
    }
    Ok(())
}

/// The model renames of `app` (hinted only).
fn rename_models(
    app: &str,
    state: &mut ProjectState,
    target: &ProjectState,
    hints: &Hints,
    renamed: &mut BTreeMap<(String, String), String>,
) -> Result<Vec<Operation>, MigrationError> {
    let mut ops = Vec::new();
    let Some(wanted) = target.apps.get(app) else {
        return Ok(ops);
    };
    for (h_app, old, field, new) in &hints.renames {
        if h_app != app || field.is_some() || state.model(app, new).is_some() {
            continue;
        }
        let (Some(from), Some(to)) = (state.model(app, old), wanted.get(new)) else {
            continue;
        };
        renamed.insert((app.to_owned(), new.clone()), from.table.name.clone());
        let op = Operation::RenameModel {
            old: old.clone(),
            new: new.clone(),
            table: to.table.name.clone(),
        };
        push(app, state, &mut ops, op)?;
    }
    Ok(ops)
}

#[allow(clippy::too_many_lines)]
fn diff_app(
    app: &str,
    state: &mut ProjectState,
    target: &ProjectState,
    hints: &Hints,
    renamed: &BTreeMap<(String, String), String>,
) -> Result<Vec<Operation>, MigrationError> {
    let mut ops = Vec::new();
    let empty = BTreeMap::new();
    let wanted = target.apps.get(app).unwrap_or(&empty);

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
        // Check constraints that go away (or change), before their columns.
        for check in &from.table.checks {
            if !to.table.checks.contains(check) {
                let op = Operation::RemoveCheck {
                    model: name.clone(),
                    name: check.name.clone(),
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
        // New (or changed) check constraints, once their columns exist.
        for check in &to.table.checks {
            if !from.table.checks.contains(check) {
                removals.push(Operation::AddCheck {
                    model: name.clone(),
                    check: check.clone(),
                });
            }
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
        let old_table = renamed
            .get(&(app.to_owned(), name.clone()))
            .map(String::as_str);
        join_table_changes(app, name, &from, to, old_table, hints, &mut removals)?;
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
