//! Writing instances: insert, update, refresh and deletes that honour every
//! `on_delete` rule.

use std::collections::{BTreeMap, HashSet};

use futures_util::future::BoxFuture;
use sea_query::Value;

use super::executor::Executor;
use super::fields::FieldType;
use super::model::{
    DefaultValue, FieldMeta, Model, ModelMeta, OnDelete, RelationKind, registered_models,
};
use super::query::{Q, QuerySet};
use super::relations::join_table;
use super::sql::write;
use super::{Error, Result};

/// Fills in which table/keys a SQLite foreign key error was about (SQLite
/// does not say).
fn explain(meta: &'static ModelMeta, err: Error) -> Error {
    match err {
        Error::ForeignKeyViolation { table, fields } if table.is_empty() => {
            Error::ForeignKeyViolation {
                table: meta.table.to_owned(),
                fields: if fields.is_empty() {
                    meta.column_fields()
                        .filter(|f| f.relation.is_some())
                        .filter_map(|f| f.column.map(str::to_owned))
                        .collect()
                } else {
                    fields
                },
            }
        }
        other => other,
    }
}

pub(crate) async fn insert<M: Model>(obj: &mut M, db: &dyn Executor) -> Result<()> {
    obj.__pre_save(true);
    let meta = M::meta();
    let has_pk = obj.pk().is_some();
    // An auto primary key is left to the database unless it was set.
    let written = |field: &FieldMeta| has_pk || !field.auto;
    let columns: Vec<&'static str> = meta
        .column_fields()
        .filter(|f| written(f))
        .filter_map(|f| f.column)
        .collect();
    let values = meta
        .column_fields()
        .zip(obj.__values())
        .filter(|(f, _)| written(f))
        .map(|(_, value)| value);
    let stmt = write::insert(meta, &columns, values, db.backend())?;
    let rows = db.fetch_all(stmt).await.map_err(|e| explain(meta, e))?;
    if let Some(row) = rows.first() {
        obj.__set_pk(M::Pk::decode(row, 0)?);
    }
    obj.__bind();
    Ok(())
}

pub(crate) async fn bulk_insert<M: Model>(mut objs: Vec<M>, db: &dyn Executor) -> Result<Vec<M>> {
    let meta = M::meta();
    let Some(first) = objs.first() else {
        return Ok(objs);
    };
    let has_pk = first.pk().is_some();
    if objs.iter().any(|o| o.pk().is_some() != has_pk) {
        return Err(Error::InvalidValue {
            field: meta.pk_column.to_owned(),
            message: "bulk_create needs either every primary key set or none".to_owned(),
        });
    }
    let tx = db.begin().await?;
    let mut done = 0;
    let result: Result<()> = async {
        let columns: Vec<&'static str> = meta
            .column_fields()
            .filter(|f| !f.auto || has_pk)
            .filter_map(|f| f.column)
            .collect();
        for chunk in objs.chunks_mut(500) {
            let rows = chunk.iter_mut().map(|obj| {
                obj.__pre_save(true);
                meta.column_fields()
                    .zip(obj.__values())
                    .filter(move |(f, _)| !f.auto || has_pk)
                    .map(|(_, v)| v)
            });
            let stmt = write::insert_rows(meta, &columns, rows, tx.backend())?;
            let rows = tx.fetch_all(stmt).await.map_err(|e| explain(meta, e))?;
            for (obj, row) in chunk.iter_mut().zip(rows.iter()) {
                obj.__set_pk(M::Pk::decode(row, 0)?);
                obj.__bind();
            }
            done += chunk.len();
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            tx.commit().await?;
            debug_assert_eq!(done, objs.len());
            Ok(objs)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Writes `fields` of every object in one `UPDATE ... SET col = CASE pk
/// WHEN .. THEN .. END` per 200 objects, in one transaction.
pub(crate) async fn bulk_update<M: Model>(
    objs: &[M],
    fields: &[&str],
    db: &dyn Executor,
) -> Result<u64> {
    let meta = M::meta();
    let mut targets = Vec::new();
    for name in fields {
        let field = meta.resolve_column(name)?;
        if field.primary_key {
            return Err(Error::InvalidValue {
                field: field.name.to_owned(),
                message: "bulk_update cannot change primary keys".to_owned(),
            });
        }
        let index = meta
            .column_fields()
            .position(|f| f.name == field.name)
            .unwrap_or_default();
        targets.push((field.column.unwrap_or_default(), index));
    }
    let saved: Vec<(Value, Vec<Value>)> = objs
        .iter()
        .map(|o| {
            o.pk()
                .map(|pk| (pk.to_value(), o.__values()))
                .ok_or(Error::NotSaved {
                    model: meta.name,
                    action: "bulk_update()",
                })
        })
        .collect::<Result<_>>()?;
    if saved.is_empty() || targets.is_empty() {
        return Ok(0);
    }
    let tx = db.begin().await?;
    let result: Result<u64> = async {
        let mut changed = 0;
        for chunk in saved.chunks(200) {
            let stmt = write::update_rows(meta, &targets, chunk, tx.backend());
            changed += tx.execute(stmt).await.map_err(|e| explain(meta, e))?;
        }
        Ok(changed)
    }
    .await;
    finish(tx, result).await
}

async fn update<M: Model>(obj: &mut M, pk: Value, db: &dyn Executor) -> Result<u64> {
    obj.__pre_save(false);
    let meta = M::meta();
    // The key identifies the row; an `auto_now_add` value stays as created.
    let written = |field: &FieldMeta| !field.primary_key && !field.auto_now_add;
    if !meta.column_fields().any(written) {
        // Nothing to write: report whether the row exists.
        let exists = QuerySet::<M>::new().filter(Q::pk_eq(pk)).exists(db).await?;
        return Ok(u64::from(exists));
    }
    let sets = meta
        .column_fields()
        .zip(obj.__values())
        .filter(|(field, _)| written(field))
        .filter_map(|(field, value)| Some((field.column?, value)));
    let stmt = write::update_row(meta, sets, pk, db.backend());
    db.execute(stmt).await.map_err(|e| explain(meta, e))
}

pub(crate) async fn save<M: Model>(obj: &mut M, db: &dyn Executor) -> Result<()> {
    match obj.pk() {
        None => insert(obj, db).await,
        Some(pk) => {
            if update(obj, pk.to_value(), db).await? == 0 {
                insert(obj, db).await
            } else {
                obj.__bind();
                Ok(())
            }
        }
    }
}

pub(crate) async fn refresh<M: Model>(obj: &mut M, db: &dyn Executor) -> Result<()> {
    let pk = obj.pk().ok_or(Error::NotSaved {
        model: M::meta().name,
        action: "refresh()",
    })?;
    *obj = QuerySet::<M>::new()
        .filter(Q::pk_eq(pk.to_value()))
        .get(db)
        .await?;
    Ok(())
}

/// What a delete removed, as Django's `delete()` reports it: the number of
/// rows in all, and per model, labelled `"app.Model"` (`"app.Model_field"`
/// for the join table of a many-to-many field). Rows of join tables count.
///
/// ```
/// use manouche::db::Deleted;
///
/// let d = Deleted::default();
/// assert_eq!(d.total, 0);
/// assert_eq!(d.count("blog.Article"), 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deleted {
    /// Rows deleted in all, cascades and join-table rows included.
    pub total: u64,
    /// Rows deleted per model label; models with none are left out.
    pub per_model: BTreeMap<String, u64>,
}

impl Deleted {
    /// The rows deleted of the model labelled `label` (`"app.Model"`).
    #[must_use]
    pub fn count(&self, label: &str) -> u64 {
        self.per_model.get(label).copied().unwrap_or(0)
    }

    fn add(&mut self, label: String, n: u64) {
        if n > 0 {
            self.total += n;
            *self.per_model.entry(label).or_default() += n;
        }
    }
}

/// What one delete has seen and removed so far.
#[derive(Default)]
struct Collected {
    /// `(table, key)` of the rows already handled (cycles end here).
    seen: HashSet<(String, String)>,
    deleted: Deleted,
}

pub(crate) async fn delete_instance<M: Model>(obj: &M, db: &dyn Executor) -> Result<Deleted> {
    let pk = obj.pk().ok_or(Error::NotSaved {
        model: M::meta().name,
        action: "delete()",
    })?;
    delete_pks(M::meta(), vec![pk.to_value()], db).await
}

/// Deletes the rows whose keys `select` returns.
pub(crate) async fn delete_where(
    meta: &'static ModelMeta,
    select: super::Statement,
    db: &dyn Executor,
) -> Result<Deleted> {
    let tx = db.begin().await?;
    let result = async {
        let rows = tx.fetch_all(select).await?;
        let pks = rows
            .iter()
            .map(|r| (meta.decode_pk)(r, 0))
            .collect::<Result<Vec<_>>>()?;
        let mut collected = Collected::default();
        collect(meta, pks, &tx, &mut collected, 0).await?;
        Ok(collected.deleted)
    }
    .await;
    finish(tx, result).await
}

async fn delete_pks(
    meta: &'static ModelMeta,
    pks: Vec<Value>,
    db: &dyn Executor,
) -> Result<Deleted> {
    let tx = db.begin().await?;
    let mut collected = Collected::default();
    let result = collect(meta, pks, &tx, &mut collected, 0)
        .await
        .map(|()| collected.deleted);
    finish(tx, result).await
}

async fn finish<T>(tx: super::Transaction, result: Result<T>) -> Result<T> {
    match result {
        Ok(n) => {
            tx.commit().await?;
            Ok(n)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

fn default_value(d: Option<DefaultValue>) -> Value {
    match d {
        Some(DefaultValue::Bool(b)) => b.into(),
        Some(DefaultValue::Int(i)) => i.into(),
        Some(DefaultValue::Float(f)) => f.into(),
        Some(DefaultValue::Str(s)) => s.into(),
        Some(DefaultValue::Function(_)) | None => Value::String(None),
    }
}

/// The number of rows the statement counts.
async fn count_rows(db: &dyn Executor, stmt: super::Statement) -> Result<i64> {
    let rows = db.fetch_all(stmt).await?;
    rows.first().map_or(Ok(0), |r| r.get::<i64>(0))
}

/// Applies the `on_delete` rules of every model referring to `meta`'s rows
/// `pks`, then deletes them, counting the rows deleted in `collected`.
fn collect<'a>(
    meta: &'static ModelMeta,
    pks: Vec<Value>,
    db: &'a dyn Executor,
    collected: &'a mut Collected,
    depth: usize,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let pks: Vec<Value> = pks
            .into_iter()
            .filter(|v| {
                collected
                    .seen
                    .insert((meta.table.to_owned(), format!("{v:?}")))
            })
            .collect();
        if pks.is_empty() {
            return Ok(());
        }
        if pks.len() > IN_CHUNK {
            // Stay under the backends' bound-parameter limits.
            let mut rest = pks;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(IN_CHUNK));
                collect_chunk(meta, rest, db, collected, depth).await?;
                rest = tail;
            }
            return Ok(());
        }
        collect_chunk(meta, pks, db, collected, depth).await
    })
}

/// At most this many values go in one `IN (...)` list.
pub(crate) const IN_CHUNK: usize = 10_000;

fn collect_chunk<'a>(
    meta: &'static ModelMeta,
    pks: Vec<Value>,
    db: &'a dyn Executor,
    collected: &'a mut Collected,
    depth: usize,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        if depth > 64 {
            return Err(Error::Definition(format!(
                "on_delete cascade from {} is nested too deeply",
                meta.name
            )));
        }
        for other in registered_models() {
            for field in other.column_fields() {
                let Some(rel) = field.relation else { continue };
                let Some(column) = field.column else { continue };
                if !matches!(rel.kind, RelationKind::ForeignKey | RelationKind::OneToOne)
                    || (rel.target)().table != meta.table
                {
                    continue;
                }
                match rel.on_delete {
                    OnDelete::Protect | OnDelete::Restrict => {
                        let backend = db.backend();
                        let count = count_rows(
                            db,
                            write::count_in(other.table, column, None, &pks, backend),
                        )
                        .await?;
                        let self_refs = if other.table == meta.table {
                            // Rows of the same table being deleted anyway.
                            let also = Some(other.pk_column);
                            count_rows(
                                db,
                                write::count_in(other.table, column, also, &pks, backend),
                            )
                            .await?
                        } else {
                            0
                        };
                        let count = count - self_refs;
                        if count > 0 {
                            return Err(if rel.on_delete == OnDelete::Protect {
                                Error::Protected {
                                    model: meta.name,
                                    related_model: other.name,
                                    field: field.name,
                                    count,
                                }
                            } else {
                                Error::Restricted {
                                    model: meta.name,
                                    related_model: other.name,
                                    field: field.name,
                                    count,
                                }
                            });
                        }
                    }
                    OnDelete::Cascade => {
                        let stmt =
                            write::pks_in(other.table, other.pk_column, column, &pks, db.backend());
                        let rows = db.fetch_all(stmt).await?;
                        let child = rows
                            .iter()
                            .map(|r| (other.decode_pk)(r, 0))
                            .collect::<Result<Vec<_>>>()?;
                        collect(other, child, db, collected, depth + 1).await?;
                    }
                    OnDelete::SetNull | OnDelete::SetDefault => {
                        let value = if rel.on_delete == OnDelete::SetNull {
                            field.sql_type.null()
                        } else {
                            default_value(field.default)
                        };
                        let stmt = write::set_in(other.table, column, value, &pks, db.backend());
                        db.execute(stmt).await?;
                    }
                    OnDelete::DoNothing => {}
                }
            }
            // Join-table rows pointing at the deleted rows, from either side.
            for field in other.fields.iter().filter(|f| {
                f.relation
                    .is_some_and(|r| r.kind == RelationKind::ManyToMany)
            }) {
                let Some(rel) = field.relation else { continue };
                let join = join_table(other, field)?;
                let mut columns = Vec::new();
                if other.table == meta.table {
                    columns.push(join.source);
                }
                if (rel.target)().table == meta.table {
                    columns.push(join.target);
                }
                // A through model's rows are deleted by its own foreign keys' rules.
                if rel.through.is_none() {
                    for column in columns {
                        let stmt = write::delete_in(join.table, column, &pks, db.backend());
                        let n = db.execute(stmt).await?;
                        // Django's label of the automatic through model.
                        let label = format!("{}.{}_{}", other.app, other.name, field.name);
                        collected.deleted.add(label, n);
                    }
                }
            }
        }
        let stmt = write::delete_in(meta.table, meta.pk_column, &pks, db.backend());
        let n = db.execute(stmt).await.map_err(|e| explain(meta, e))?;
        collected
            .deleted
            .add(format!("{}.{}", meta.app, meta.name), n);
        Ok(())
    })
}
