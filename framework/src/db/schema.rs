//! The backend-neutral schema of models, and creating tables from it.
//!
//! Every model exposes its schema through [`Model::schema`](super::Model::schema):
//! the migrations autodetector diffs these structs, and tests create their
//! tables with [`create_tables`].
//!
//! ```
//! use manouche::db::{Auto, Model, schema};
//!
//! #[derive(Model)]
//! #[model(table = "docs_item")]
//! pub struct Item {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 20, unique)]
//!     pub code: String,
//! }
//!
//! let s = Item::schema();
//! assert_eq!(s.table.name, "docs_item");
//! assert_eq!(s.table.column("code").unwrap().max_length, Some(20));
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let db = manouche::db::Database::connect("sqlite::memory:", &Default::default()).await?;
//! schema::create_tables(&db, &[Item::schema()]).await?;
//! assert_eq!(Item::objects().count(&db).await?, 0);
//! # Ok::<_, manouche::db::Error>(())
//! # }).unwrap();
//! ```

use sea_query::{
    Alias, ColumnDef, ForeignKey, ForeignKeyAction, Index, Table, TableCreateStatement, Value,
};
use serde::{Deserialize, Serialize};

use super::executor::Backend;
use super::fields::SqlType;
use super::model::{DefaultValue, ModelMeta, OnDelete, RelationKind};
use super::relations::join_table;
use super::sql::join_table::JoinTable;
use super::{Database, Result};

/// A column's database default (owned, so that migration files can be read
/// back into it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ColumnDefault {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
}

impl ColumnDefault {
    fn from_model(d: DefaultValue) -> Option<Self> {
        match d {
            DefaultValue::Bool(b) => Some(Self::Bool(b)),
            DefaultValue::Int(i) => Some(Self::Int(i)),
            DefaultValue::Float(f) => Some(Self::Float(f)),
            DefaultValue::Str(s) => Some(Self::Str(s.to_owned())),
            // Called in Rust for each instance; not a database default.
            DefaultValue::Function(_) => None,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Bool(b) => (*b).into(),
            Self::Int(i) => (*i).into(),
            Self::Float(f) => (*f).into(),
            Self::Str(s) => s.as_str().into(),
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// Backend-neutral type.
    pub sql_type: SqlType,
    /// Whether `NULL` is allowed.
    pub nullable: bool,
    /// Whether this is (part of) the primary key.
    pub primary_key: bool,
    /// Whether the database generates values.
    pub auto: bool,
    /// `VARCHAR(n)`.
    pub max_length: Option<u32>,
    /// `(max_digits, decimal_places)` of a decimal column.
    pub decimal: Option<(u32, u32)>,
    /// Unique constraint on this column alone.
    pub unique: bool,
    /// Indexed.
    pub db_index: bool,
    /// Database default.
    pub default: Option<ColumnDefault>,
}

/// A foreign key constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignKeySchema {
    /// The referring column.
    pub column: String,
    /// The referenced table.
    pub target_table: String,
    /// The referenced column.
    pub target_column: String,
    /// What the database does on delete.
    pub on_delete: OnDelete,
}

/// An index or a multi-column unique constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSchema {
    /// Index name.
    pub name: String,
    /// Columns.
    pub columns: Vec<String>,
    /// Whether it enforces uniqueness.
    pub unique: bool,
}

/// A check constraint: a condition every row must meet (Django's
/// `CheckConstraint`), as SQL both backends read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSchema {
    /// The constraint's name, unique in the database.
    pub name: String,
    /// The condition, an SQL expression over the table's columns
    /// (`price >= 0`).
    pub sql: String,
}

/// One table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<ColumnSchema>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKeySchema>,
    /// Indexes and unique-together constraints.
    pub indexes: Vec<IndexSchema>,
    /// Check constraints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckSchema>,
}

impl TableSchema {
    /// The column called `name`.
    #[must_use]
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A model's schema: its table and its many-to-many join tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSchema {
    /// The model's Rust name.
    pub model: String,
    /// The app label.
    pub app: String,
    /// The model's table.
    pub table: TableSchema,
    /// Automatic join tables of many-to-many fields.
    pub join_tables: Vec<TableSchema>,
    /// Default ordering (`-field` for descending).
    pub ordering: Vec<String>,
    /// Human-readable name.
    pub verbose_name: String,
    /// Human-readable plural name.
    pub verbose_name_plural: String,
}

fn index_name(table: &str, columns: &[String], suffix: &str) -> String {
    let mut name = format!("{table}_{}_{suffix}", columns.join("_"));
    // PostgreSQL truncates identifiers at 63 bytes; keep names unique anyway.
    if name.len() > 63 {
        let hash = columns.iter().fold(5381_u32, |h, c| {
            c.bytes().fold(h, |h, b| h.wrapping_mul(33) ^ u32::from(b))
        });
        let head: String = name.chars().take(50).collect();
        name = format!("{head}_{hash:08x}");
    }
    name
}

impl ModelSchema {
    /// Builds the schema from a model's metadata.
    #[must_use]
    pub fn from_meta(meta: &'static ModelMeta) -> Self {
        let mut columns = Vec::new();
        let mut foreign_keys = Vec::new();
        let mut indexes = Vec::new();
        let mut join_tables = Vec::new();
        for field in meta.fields {
            if let Some(column) = field.column {
                columns.push(ColumnSchema {
                    name: column.to_owned(),
                    sql_type: field.sql_type,
                    nullable: field.nullable,
                    primary_key: field.primary_key,
                    auto: field.auto,
                    max_length: field.max_length,
                    decimal: field.decimal,
                    unique: field.unique && !field.primary_key,
                    db_index: field.db_index,
                    default: field.default.and_then(ColumnDefault::from_model),
                });
                if field.db_index && !field.unique && !field.primary_key {
                    let cols = vec![column.to_owned()];
                    indexes.push(IndexSchema {
                        name: index_name(meta.table, &cols, "idx"),
                        columns: cols,
                        unique: false,
                    });
                }
                if let Some(rel) = field.relation {
                    let target = (rel.target)();
                    foreign_keys.push(ForeignKeySchema {
                        column: column.to_owned(),
                        target_table: target.table.to_owned(),
                        target_column: target.pk_column.to_owned(),
                        on_delete: rel.on_delete,
                    });
                    if !field.unique && !field.db_index {
                        let cols = vec![column.to_owned()];
                        indexes.push(IndexSchema {
                            name: index_name(meta.table, &cols, "idx"),
                            columns: cols,
                            unique: false,
                        });
                    }
                }
            } else if let Some(rel) = field.relation
                && rel.kind == RelationKind::ManyToMany
                && rel.through.is_none()
                && let Ok(JoinTable {
                    table,
                    source,
                    target: target_col,
                }) = join_table(meta, field)
            {
                let target = (rel.target)();
                let pk_type = |m: &ModelMeta| m.pk_field().map_or(SqlType::BigInt, |f| f.sql_type);
                let col = |name: &str, ty| ColumnSchema {
                    name: name.to_owned(),
                    sql_type: ty,
                    nullable: false,
                    primary_key: false,
                    auto: false,
                    max_length: None,
                    decimal: None,
                    unique: false,
                    db_index: false,
                    default: None,
                };
                let pair = vec![source.to_owned(), target_col.to_owned()];
                join_tables.push(TableSchema {
                    name: table.to_owned(),
                    columns: vec![
                        ColumnSchema {
                            primary_key: true,
                            auto: true,
                            ..col("id", SqlType::BigInt)
                        },
                        col(source, pk_type(meta)),
                        col(target_col, pk_type(target)),
                    ],
                    foreign_keys: vec![
                        ForeignKeySchema {
                            column: source.to_owned(),
                            target_table: meta.table.to_owned(),
                            target_column: meta.pk_column.to_owned(),
                            on_delete: OnDelete::Cascade,
                        },
                        ForeignKeySchema {
                            column: target_col.to_owned(),
                            target_table: target.table.to_owned(),
                            target_column: target.pk_column.to_owned(),
                            on_delete: OnDelete::Cascade,
                        },
                    ],
                    indexes: vec![
                        IndexSchema {
                            name: index_name(table, &pair, "uniq"),
                            columns: pair,
                            unique: true,
                        },
                        IndexSchema {
                            name: index_name(table, &[target_col.to_owned()], "idx"),
                            columns: vec![target_col.to_owned()],
                            unique: false,
                        },
                    ],
                    checks: Vec::new(),
                });
            }
        }
        for set in meta.unique_together {
            let cols: Vec<String> = set.iter().map(|c| (*c).to_owned()).collect();
            indexes.push(IndexSchema {
                name: index_name(meta.table, &cols, "uniq"),
                columns: cols,
                unique: true,
            });
        }
        for set in meta.indexes {
            let cols: Vec<String> = set.iter().map(|c| (*c).to_owned()).collect();
            indexes.push(IndexSchema {
                name: index_name(meta.table, &cols, "idx"),
                columns: cols,
                unique: false,
            });
        }
        Self {
            model: meta.name.to_owned(),
            app: meta.app.to_owned(),
            table: TableSchema {
                name: meta.table.to_owned(),
                columns,
                foreign_keys,
                indexes,
                checks: meta
                    .checks
                    .iter()
                    .map(|(name, sql)| CheckSchema {
                        name: (*name).to_owned(),
                        sql: (*sql).to_owned(),
                    })
                    .collect(),
            },
            join_tables,
            ordering: meta
                .ordering
                .iter()
                .map(|(c, desc)| {
                    let name = meta
                        .fields
                        .iter()
                        .find(|f| f.column == Some(c))
                        .map_or(*c, |f| f.name);
                    if *desc {
                        format!("-{name}")
                    } else {
                        name.to_owned()
                    }
                })
                .collect(),
            verbose_name: meta.verbose_name.to_owned(),
            verbose_name_plural: meta.verbose_name_plural.to_owned(),
        }
    }
}

/// The schema of every model compiled into the program (they register
/// themselves through `#[derive(Model)]`), sorted by app then model: what
/// the migrations autodetector compares with the migrations' state.
#[must_use]
pub fn registered_schemas() -> Vec<ModelSchema> {
    let mut all: Vec<ModelSchema> = super::model::registered_models()
        .map(ModelSchema::from_meta)
        .collect();
    all.sort_by(|a, b| (&a.app, &a.model).cmp(&(&b.app, &b.model)));
    all.dedup_by(|a, b| a.table.name == b.table.name);
    all
}

fn column_type(backend: Backend, c: &ColumnSchema) -> String {
    if c.auto {
        backend.dialect().auto_column_type(c.sql_type)
    } else {
        backend
            .dialect()
            .column_type(c.sql_type, c.max_length, c.decimal)
    }
}

fn action(on_delete: OnDelete) -> ForeignKeyAction {
    match on_delete {
        OnDelete::Cascade => ForeignKeyAction::Cascade,
        OnDelete::SetNull => ForeignKeyAction::SetNull,
        OnDelete::SetDefault => ForeignKeyAction::SetDefault,
        OnDelete::Restrict => ForeignKeyAction::Restrict,
        // The ORM checks `protect` itself, with a clearer error.
        OnDelete::Protect | OnDelete::DoNothing => ForeignKeyAction::NoAction,
    }
}

fn foreign_key(table: &TableSchema, fk: &ForeignKeySchema) -> sea_query::ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(index_name(
            &table.name,
            std::slice::from_ref(&fk.column),
            "fk",
        ))
        .from(
            Alias::new(table.name.as_str()),
            Alias::new(fk.column.as_str()),
        )
        .to(
            Alias::new(fk.target_table.as_str()),
            Alias::new(fk.target_column.as_str()),
        )
        .on_delete(action(fk.on_delete))
        .to_owned()
}

fn create_table(backend: Backend, table: &TableSchema, inline_fks: bool) -> TableCreateStatement {
    let mut stmt = Table::create();
    stmt.table(Alias::new(table.name.as_str()));
    for c in &table.columns {
        let mut def = ColumnDef::new(Alias::new(c.name.as_str()));
        def.custom(Alias::new(column_type(backend, c)));
        if c.primary_key {
            def.primary_key();
        }
        if !c.nullable {
            def.not_null();
        }
        if c.unique {
            def.unique_key();
        }
        if let Some(d) = &c.default {
            def.default(d.to_value());
        }
        stmt.col(&mut def);
    }
    if inline_fks {
        for fk in &table.foreign_keys {
            stmt.foreign_key(&mut foreign_key(table, fk));
        }
    }
    stmt
}

/// `create`, a `CREATE TABLE` statement, with `checks` as named table
/// constraints before its closing parenthesis (sea-query writes only
/// unnamed ones, which could not be dropped by name).
fn with_checks(mut create: String, checks: &[CheckSchema]) -> String {
    if let Some(end) = create.rfind(')') {
        let constraints: String = checks
            .iter()
            .map(|c| format!(", CONSTRAINT {} CHECK ({})", quote_ident(&c.name), c.sql))
            .collect();
        create.insert_str(end, &constraints);
    }
    create
}

/// `ident` quoted as an SQL identifier (both backends).
pub(crate) fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The DDL that creates `tables` on `backend`, in an order that satisfies
/// the foreign keys.
#[must_use]
pub fn create_table_sql(backend: Backend, schemas: &[ModelSchema]) -> Vec<String> {
    let tables: Vec<&TableSchema> = schemas
        .iter()
        .flat_map(|s| std::iter::once(&s.table).chain(s.join_tables.iter()))
        .collect();
    // SQLite checks foreign keys lazily, so they go inline; PostgreSQL needs
    // the referenced table to exist, so they are added once all exist.
    let inline = backend == Backend::Sqlite;
    let mut out = Vec::new();
    for table in &tables {
        out.push(with_checks(
            backend.build_schema(&create_table(backend, table, inline)),
            &table.checks,
        ));
        for index in &table.indexes {
            let mut stmt = Index::create();
            stmt.name(index.name.as_str())
                .table(Alias::new(table.name.as_str()));
            for c in &index.columns {
                stmt.col(Alias::new(c.as_str()));
            }
            if index.unique {
                stmt.unique();
            }
            out.push(backend.build_schema(&stmt));
        }
    }
    if !inline {
        for table in &tables {
            for fk in &table.foreign_keys {
                out.push(backend.build_schema(&foreign_key(table, fk)));
            }
        }
    }
    out
}

/// Creates the tables (and join tables, indexes, foreign keys) of the given
/// models. Meant for tests and prototypes; projects use migrations.
///
/// # Errors
///
/// The database's error, e.g. when a table already exists.
pub async fn create_tables(db: &Database, schemas: &[ModelSchema]) -> Result<()> {
    let tx = db.begin().await?;
    for sql in create_table_sql(db.backend(), schemas) {
        use super::Executor as _;
        tx.execute(super::Statement::raw(sql)).await?;
    }
    tx.commit().await
}
