//! PostgreSQL: every change is an `ALTER TABLE` in place. Constraints the
//! database named itself (inline `UNIQUE`, foreign keys) are dropped by
//! looking their name up in the catalog, so that the SQL stays right after
//! tables were renamed.
//!
//! A type change never casts in a way that cuts a value: a length-only
//! change has no `USING` (as Django writes it), so PostgreSQL refuses a
//! value that does not fit instead of truncating it.

use super::{TableChange, column_type, literal, quote};
use crate::db::model::OnDelete;
use crate::db::schema::{ColumnSchema, ForeignKeySchema, IndexSchema};
use crate::db::sql::migrate::fill_nulls;
use crate::db::{Backend, SqlType};

const PG: Backend = Backend::Postgres;

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Drops the single-column constraints of kind `kind` (`u`nique or
/// `f`oreign key) on `table.column`, whatever their names.
fn drop_column_constraints(table: &str, column: &str, kind: char) -> String {
    format!(
        "DO $$ DECLARE r record; BEGIN FOR r IN SELECT con.conname FROM pg_constraint con \
         JOIN pg_class t ON t.oid = con.conrelid \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = con.conkey[1] \
         WHERE t.relname = {} AND pg_table_is_visible(t.oid) AND con.contype = '{kind}' \
         AND array_length(con.conkey, 1) = 1 AND a.attname = {} \
         LOOP EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', {}, r.conname); END LOOP; END $$",
        sql_string(table),
        sql_string(column),
        sql_string(table)
    )
}

fn on_delete(action: OnDelete) -> &'static str {
    match action {
        OnDelete::Cascade => "CASCADE",
        OnDelete::SetNull => "SET NULL",
        OnDelete::SetDefault => "SET DEFAULT",
        OnDelete::Restrict => "RESTRICT",
        OnDelete::Protect | OnDelete::DoNothing => "NO ACTION",
    }
}

fn constraint_name(table: &str, column: &str, suffix: &str) -> String {
    let name = format!("{table}_{column}_{suffix}");
    if name.len() <= 63 {
        return name;
    }
    let hash = name
        .bytes()
        .fold(5381_u32, |h, b| h.wrapping_mul(33) ^ u32::from(b));
    let head: String = name.chars().take(50).collect();
    format!("{head}_{hash:08x}")
}

fn add_foreign_key(table: &str, fk: &ForeignKeySchema) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
        quote(table),
        quote(&constraint_name(table, &fk.column, "fk")),
        quote(&fk.column),
        quote(&fk.target_table),
        quote(&fk.target_column),
        on_delete(fk.on_delete)
    )
}

fn index_key(i: &IndexSchema) -> (&str, &[String], bool) {
    (&i.name, &i.columns, i.unique)
}

pub(super) fn alter_table(change: &TableChange<'_>) -> Vec<String> {
    let TableChange { old, new, .. } = change;
    let t = quote(&new.name);
    let mut out = Vec::new();

    // Renames first: everything below uses the new names.
    for (o, n) in &change.renames {
        if o != n {
            out.push(format!(
                "ALTER TABLE {t} RENAME COLUMN {} TO {}",
                quote(o),
                quote(n)
            ));
        }
    }
    let renamed = |c: &str| {
        change
            .renames
            .get(c)
            .cloned()
            .unwrap_or_else(|| c.to_owned())
    };
    let old_indexes: Vec<IndexSchema> = old
        .indexes
        .iter()
        .map(|i| IndexSchema {
            columns: i.columns.iter().map(|c| renamed(c)).collect(),
            ..i.clone()
        })
        .collect();
    let old_fks: Vec<ForeignKeySchema> = old
        .foreign_keys
        .iter()
        .map(|f| ForeignKeySchema {
            column: renamed(&f.column),
            ..f.clone()
        })
        .collect();

    // Drop what goes away.
    for i in &old_indexes {
        if !new.indexes.iter().any(|n| index_key(n) == index_key(i)) {
            out.push(format!("DROP INDEX {}", quote(&i.name)));
        }
    }
    for f in &old_fks {
        if !new.foreign_keys.contains(f) && new.column(&f.column).is_some() {
            out.push(drop_column_constraints(&new.name, &f.column, 'f'));
        }
    }
    for check in &old.checks {
        if !new.checks.contains(check) {
            out.push(format!(
                "ALTER TABLE {t} DROP CONSTRAINT {}",
                quote(&check.name)
            ));
        }
    }
    for c in &old.columns {
        if change.new_name(&c.name).is_none() {
            out.push(format!("ALTER TABLE {t} DROP COLUMN {}", quote(&c.name)));
        }
    }

    // Add and alter columns.
    for c in &new.columns {
        match change.old_name(&c.name).and_then(|o| old.column(o)) {
            None => add_column(&mut out, &t, c, change),
            Some(before) => alter_column(&mut out, &new.name, before, c, change),
        }
    }

    for f in &new.foreign_keys {
        if !old_fks.contains(f) {
            out.push(add_foreign_key(&new.name, f));
        }
    }
    for i in &new.indexes {
        if !old_indexes.iter().any(|o| index_key(o) == index_key(i)) {
            out.push(super::sqlite::create_index(&new.name, i));
        }
    }
    for check in &new.checks {
        if !old.checks.contains(check) {
            out.push(format!(
                "ALTER TABLE {t} ADD CONSTRAINT {} CHECK ({})",
                quote(&check.name),
                check.sql
            ));
        }
    }
    out
}

fn add_column(out: &mut Vec<String>, t: &str, c: &ColumnSchema, change: &TableChange<'_>) {
    let mut sql = format!(
        "ALTER TABLE {t} ADD COLUMN {} {}",
        quote(&c.name),
        column_type(PG, c)
    );
    let fill = change.fill_for(c);
    if let Some(v) = &fill {
        sql.push_str(" DEFAULT ");
        sql.push_str(&literal(PG, v));
    }
    if !c.nullable {
        sql.push_str(" NOT NULL");
    }
    if c.unique {
        sql.push_str(" UNIQUE");
    }
    out.push(sql);
    if fill.is_some() && fill != c.default {
        out.push(match &c.default {
            Some(d) => format!(
                "ALTER TABLE {t} ALTER COLUMN {} SET DEFAULT {}",
                quote(&c.name),
                literal(PG, d)
            ),
            None => format!(
                "ALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT",
                quote(&c.name)
            ),
        });
    }
}

fn alter_column(
    out: &mut Vec<String>,
    table: &str,
    before: &ColumnSchema,
    c: &ColumnSchema,
    change: &TableChange<'_>,
) {
    let t = quote(table);
    let col = quote(&c.name);
    let ty = column_type(PG, c);
    if before.sql_type != c.sql_type
        || before.max_length != c.max_length
        || before.decimal != c.decimal
    {
        let ty = if c.auto {
            // SERIAL is not a type: an auto column keeps its sequence.
            match c.sql_type {
                SqlType::Integer | SqlType::SmallInt => "INTEGER".to_owned(),
                _ => "BIGINT".to_owned(),
            }
        } else {
            ty
        };
        out.push(if before.sql_type == c.sql_type {
            // Only the length or precision changes: PostgreSQL's assignment
            // cast refuses a value that does not fit, where an explicit
            // `::VARCHAR(n)` would cut it.
            format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {ty}")
        } else if c.sql_type == SqlType::String {
            // To text through `TEXT`, for the same reason.
            format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {ty} USING {col}::TEXT")
        } else {
            format!("ALTER TABLE {t} ALTER COLUMN {col} TYPE {ty} USING {col}::{ty}")
        });
    }
    if before.default != c.default {
        out.push(match &c.default {
            Some(d) => format!(
                "ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {}",
                literal(PG, d)
            ),
            None => format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT"),
        });
    }
    if before.nullable && !c.nullable {
        if let Some(v) = change.fill_for(c) {
            out.push(fill_nulls(PG, table, &c.name, &literal(PG, &v)));
        }
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {col} SET NOT NULL"));
    } else if !before.nullable && c.nullable {
        out.push(format!("ALTER TABLE {t} ALTER COLUMN {col} DROP NOT NULL"));
    }
    if before.unique && !c.unique {
        out.push(drop_column_constraints(table, &c.name, 'u'));
    } else if !before.unique && c.unique {
        out.push(format!(
            "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE ({col})",
            quote(&constraint_name(table, &c.name, "key"))
        ));
    }
}
