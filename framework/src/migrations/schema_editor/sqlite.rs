//! SQLite: `ALTER TABLE` only renames and appends simple columns, so most
//! changes rebuild the table (SQLite's documented procedure): create the
//! new table under a temporary name, copy the rows, drop the old table,
//! rename the new one and recreate the indexes. The executor turns foreign
//! key enforcement off around the migration's transaction (so dropping a
//! parent table does not cascade) and runs `PRAGMA foreign_key_check`
//! before committing.

use super::{TableChange, column_type, literal, quote};
use crate::db::Backend;
use crate::db::schema::{IndexSchema, ModelSchema, TableSchema, create_table_sql};
use crate::db::sql::migrate::{Source, copy_rows};

/// Indexes identified by what they do, not by name.
fn same_index(a: &IndexSchema, b: &IndexSchema) -> bool {
    a.name == b.name && a.columns == b.columns && a.unique == b.unique
}

pub(super) fn alter_table(change: &TableChange<'_>) -> Vec<String> {
    let TableChange { old, new, .. } = change;
    let table = &new.name;
    // Old indexes with their columns renamed: what `RENAME COLUMN` leaves.
    let renamed_indexes: Vec<IndexSchema> = old
        .indexes
        .iter()
        .map(|i| IndexSchema {
            columns: i
                .columns
                .iter()
                .map(|c| change.renames.get(c).cloned().unwrap_or_else(|| c.clone()))
                .collect(),
            ..i.clone()
        })
        .collect();

    let renamed_columns_equal = old.columns.len() == new.columns.len()
        && old.columns.iter().zip(&new.columns).all(|(o, n)| {
            let name = change.renames.get(&o.name).unwrap_or(&o.name);
            *name == n.name
                && o.sql_type == n.sql_type
                && o.nullable == n.nullable
                && o.primary_key == n.primary_key
                && o.auto == n.auto
                && o.max_length == n.max_length
                && o.decimal == n.decimal
                && o.unique == n.unique
                && o.default == n.default
        });
    let renamed_fks_equal = old.foreign_keys.len() == new.foreign_keys.len()
        && old.foreign_keys.iter().all(|o| {
            let col = change.renames.get(&o.column).unwrap_or(&o.column);
            new.foreign_keys.iter().any(|n| {
                n.column == *col
                    && n.target_table == o.target_table
                    && n.target_column == o.target_column
                    && n.on_delete == o.on_delete
            })
        });

    // A check constraint is part of the table's definition: any change of
    // them rebuilds it.
    let checks_equal = old.checks == new.checks;
    let mut out = Vec::new();
    if renamed_columns_equal && renamed_fks_equal && checks_equal {
        for (o, n) in &change.renames {
            if o != n {
                out.push(format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    quote(table),
                    quote(o),
                    quote(n)
                ));
            }
        }
        index_diff(&mut out, table, &renamed_indexes, &new.indexes);
        return out;
    }

    // Appending plain nullable (or defaulted) columns works in place.
    let appended = &new.columns[old.columns.len().min(new.columns.len())..];
    let only_appends = checks_equal
        && change.renames.is_empty()
        && new.columns.len() > old.columns.len()
        && old.columns.iter().zip(&new.columns).all(|(o, n)| o == n)
        && old
            .foreign_keys
            .iter()
            .all(|f| new.foreign_keys.contains(f))
        && appended.iter().all(|c| {
            !c.unique
                && !c.primary_key
                && !c.auto
                && (c.nullable || c.default.is_some())
                && !change.fill.contains_key(&c.name)
                && !new.foreign_keys.iter().any(|f| f.column == c.name)
        });
    if only_appends {
        for c in appended {
            let mut sql = format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                quote(table),
                quote(&c.name),
                column_type(Backend::Sqlite, c)
            );
            if !c.nullable {
                sql.push_str(" NOT NULL");
            }
            if let Some(d) = &c.default {
                sql.push_str(" DEFAULT ");
                sql.push_str(&literal(Backend::Sqlite, d));
            }
            out.push(sql);
        }
        index_diff(&mut out, table, &old.indexes, &new.indexes);
        return out;
    }

    rebuild(change)
}

fn index_diff(out: &mut Vec<String>, table: &str, old: &[IndexSchema], new: &[IndexSchema]) {
    for o in old {
        if !new.iter().any(|n| same_index(o, n)) {
            out.push(format!("DROP INDEX {}", quote(&o.name)));
        }
    }
    for n in new {
        if !old.iter().any(|o| same_index(o, n)) {
            out.push(create_index(table, n));
        }
    }
}

pub(super) fn create_index(table: &str, index: &IndexSchema) -> String {
    let cols: Vec<String> = index.columns.iter().map(|c| quote(c)).collect();
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if index.unique { "UNIQUE " } else { "" },
        quote(&index.name),
        quote(table),
        cols.join(", ")
    )
}

fn rebuild(change: &TableChange<'_>) -> Vec<String> {
    let new = change.new;
    let temp = format!("new__{}", new.name);
    let temp_table = TableSchema {
        name: temp.clone(),
        indexes: Vec::new(),
        ..new.clone()
    };
    let schema = ModelSchema {
        model: String::new(),
        app: String::new(),
        table: temp_table,
        join_tables: Vec::new(),
        ordering: Vec::new(),
        verbose_name: String::new(),
        verbose_name_plural: String::new(),
    };
    let mut out = create_table_sql(Backend::Sqlite, &[schema]);
    let mut columns = Vec::new();
    for c in &new.columns {
        let fill = change.fill_for(c);
        let source = match (change.old_name(&c.name), fill) {
            // Only a column that could hold NULLs needs them replaced.
            (Some(old), Some(v))
                if !c.nullable && change.old.column(old).is_some_and(|o| o.nullable) =>
            {
                Source::ColumnOr(old, literal(Backend::Sqlite, &v))
            }
            (Some(old), _) => Source::Column(old),
            (None, Some(v)) => Source::Literal(literal(Backend::Sqlite, &v)),
            (None, None) => continue,
        };
        columns.push((c.name.as_str(), source));
    }
    if !columns.is_empty() {
        out.push(copy_rows(Backend::Sqlite, &temp, &change.old.name, columns));
    }
    out.push(format!("DROP TABLE {}", quote(&change.old.name)));
    out.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(&temp),
        quote(&new.name)
    ));
    for index in &new.indexes {
        out.push(create_index(&new.name, index));
    }
    out
}
