//! Query set → sea-query statement.

use sea_query::{
    Alias, BinOper, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, SimpleExpr,
    UpdateStatement, Value,
};

use super::cache::Kind;
use crate::db::executor::Backend;
use crate::db::fields::SqlType;
use crate::db::model::{Model, ModelMeta};
use crate::db::query::QuerySet;
use crate::db::query::lookup::{Assignment, Join, JoinOn, Lookup, LookupOp, Node};
use crate::db::query::values::{AggFunc, SelectItem};

const BASE: &str = "t0";

/// Tracks the table aliases of one SELECT and adds the joins it needs.
struct Ctx<'s> {
    stmt: &'s mut SelectStatement,
    base: &'static ModelMeta,
    joins: Vec<(Vec<Join>, String)>,
}

impl<'s> Ctx<'s> {
    fn new(stmt: &'s mut SelectStatement, base: &'static ModelMeta) -> Self {
        stmt.from_as(Alias::new(base.table), Alias::new(BASE));
        Self {
            stmt,
            base,
            joins: Vec::new(),
        }
    }

    /// The alias of the table at the end of `path`, joining as needed.
    fn alias(&mut self, path: &[Join]) -> String {
        let mut parent = BASE.to_owned();
        for depth in 1..=path.len() {
            let prefix = &path[..depth];
            if let Some((_, alias)) = self.joins.iter().find(|(p, _)| p.as_slice() == prefix) {
                parent = alias.clone();
                continue;
            }
            let join = prefix[depth - 1];
            let target = (join.target)();
            let alias = format!("t{}", self.joins.len() + 1);
            let on: SimpleExpr = match join.on {
                JoinOn::Columns {
                    parent_column,
                    target_column,
                } => Expr::col((Alias::new(alias.as_str()), Alias::new(target_column)))
                    .equals((Alias::new(parent.as_str()), Alias::new(parent_column))),
                JoinOn::Table {
                    table,
                    source,
                    target: target_col,
                    parent_pk,
                } => {
                    let via = format!("{alias}_j");
                    self.stmt.join_as(
                        JoinType::LeftJoin,
                        Alias::new(table),
                        Alias::new(via.as_str()),
                        Expr::col((Alias::new(via.as_str()), Alias::new(source)))
                            .equals((Alias::new(parent.as_str()), Alias::new(parent_pk))),
                    );
                    Expr::col((Alias::new(alias.as_str()), Alias::new(target.pk_column)))
                        .equals((Alias::new(via), Alias::new(target_col)))
                }
                JoinOn::Invalid => Expr::cust("1 = 0"),
            };
            self.stmt.join_as(
                JoinType::LeftJoin,
                Alias::new(target.table),
                Alias::new(alias.as_str()),
                on,
            );
            self.joins.push((prefix.to_vec(), alias.clone()));
            parent = alias;
        }
        parent
    }

    fn col(&mut self, path: &[Join], column: &'static str) -> SimpleExpr {
        let alias = self.alias(path);
        Expr::col((Alias::new(alias), Alias::new(column))).into()
    }

    fn condition(&mut self, node: &Node) -> SimpleExpr {
        match node {
            Node::Lookup(lookup) => self.lookup(lookup),
            Node::And(nodes) => {
                let mut exprs = nodes.iter().map(|n| self.condition(n));
                match exprs.next() {
                    None => Expr::cust("1 = 1"),
                    Some(first) => exprs.fold(first, SimpleExpr::and),
                }
            }
            Node::Or(nodes) => {
                let mut exprs = nodes.iter().map(|n| self.condition(n));
                match exprs.next() {
                    None => Expr::cust("1 = 0"),
                    Some(first) => exprs.fold(first, SimpleExpr::or),
                }
            }
            // `IS NOT TRUE` rather than `NOT`: a row whose column is NULL
            // does not match the inner condition, so it must match its
            // negation (as Django's `exclude` does).
            Node::Not(inner) => SimpleExpr::Binary(
                Box::new(SimpleExpr::Tuple(vec![self.condition(inner)])),
                BinOper::IsNot,
                Box::new(SimpleExpr::Constant(true.into())),
            ),
            Node::Pk(op, values) => {
                let lookup = Lookup {
                    path: Vec::new(),
                    column: self.base.pk_column,
                    op: *op,
                    values: values.clone(),
                };
                self.lookup(&lookup)
            }
            Node::PkInJoin {
                table,
                source,
                target,
                owner,
            } => {
                let sub = Query::select()
                    .column(Alias::new(*target))
                    .from(Alias::new(*table))
                    .and_where(Expr::col(Alias::new(*source)).eq(owner.clone()))
                    .to_owned();
                let pk = self.base.pk_column;
                Expr::col((Alias::new(BASE), Alias::new(pk))).in_subquery(sub)
            }
        }
    }

    fn lookup(&mut self, l: &Lookup) -> SimpleExpr {
        let col = self.col(&l.path, l.column);
        let first = l.values.first().cloned();
        let value = || first.clone().unwrap_or(Value::String(None));
        match l.op {
            LookupOp::Exact if is_null(&value()) => col.is_null(),
            LookupOp::Exact => col.eq(value()),
            LookupOp::Ne if is_null(&value()) => col.is_not_null(),
            LookupOp::Ne => col.ne(value()),
            LookupOp::IExact => SimpleExpr::from(Func::lower(col))
                .eq(SimpleExpr::from(Func::lower(Expr::val(value())))),
            LookupOp::Gt => col.gt(value()),
            LookupOp::Gte => col.gte(value()),
            LookupOp::Lt => col.lt(value()),
            LookupOp::Lte => col.lte(value()),
            LookupOp::In if l.values.is_empty() => Expr::cust("1 = 0"),
            LookupOp::In => col.is_in(l.values.clone()),
            LookupOp::Range => {
                let high = l.values.get(1).cloned().unwrap_or(Value::String(None));
                col.between(value(), high)
            }
            LookupOp::IsNull(true) => col.is_null(),
            LookupOp::IsNull(false) => col.is_not_null(),
            LookupOp::Contains => like(col, &value(), true, true, false),
            LookupOp::IContains => like(col, &value(), true, true, true),
            LookupOp::StartsWith => like(col, &value(), false, true, false),
            LookupOp::IStartsWith => like(col, &value(), false, true, true),
            LookupOp::EndsWith => like(col, &value(), true, false, false),
            LookupOp::IEndsWith => like(col, &value(), true, false, true),
        }
    }

    fn order(&mut self, keys: &[(Vec<Join>, &'static str, bool)]) {
        for (path, column, desc) in keys {
            let col = self.col(path, column);
            self.stmt
                .order_by_expr(col, if *desc { Order::Desc } else { Order::Asc });
        }
    }
}

pub(crate) fn is_null(v: &Value) -> bool {
    matches!(
        v,
        Value::Bool(None)
            | Value::SmallInt(None)
            | Value::Int(None)
            | Value::BigInt(None)
            | Value::Double(None)
            | Value::Decimal(None)
            | Value::String(None)
            | Value::ChronoDate(None)
            | Value::ChronoTime(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Uuid(None)
            | Value::Json(None)
            | Value::Bytes(None)
    )
}

/// `col LIKE pattern ESCAPE '!'`, the pattern built from the bound value with
/// its wildcards escaped, so `%` and `_` in user input match literally.
fn like(
    col: SimpleExpr,
    value: &Value,
    any_prefix: bool,
    any_suffix: bool,
    ci: bool,
) -> SimpleExpr {
    let pattern = like_pattern(value, any_prefix, any_suffix);
    let (lhs, rhs): (SimpleExpr, SimpleExpr) = if ci {
        (
            Func::lower(col).into(),
            Func::lower(Expr::val(pattern)).into(),
        )
    } else {
        (col, Expr::val(pattern).into())
    };
    SimpleExpr::Binary(
        Box::new(lhs),
        BinOper::Like,
        Box::new(SimpleExpr::Binary(
            Box::new(rhs),
            BinOper::Escape,
            Box::new(SimpleExpr::Constant('!'.into())),
        )),
    )
}

/// The bound pattern of a `LIKE` lookup on `value`.
fn like_pattern(value: &Value, any_prefix: bool, any_suffix: bool) -> String {
    let text = match value {
        Value::String(Some(s)) => s.as_str(),
        _ => "",
    };
    let mut pattern = String::with_capacity(text.len() + 2);
    if any_prefix {
        pattern.push('%');
    }
    for c in text.chars() {
        if matches!(c, '%' | '_' | '!') {
            pattern.push('!');
        }
        pattern.push(c);
    }
    if any_suffix {
        pattern.push('%');
    }
    pattern
}

fn ordering<M: Model>(qs: &QuerySet<M>) -> Vec<(Vec<Join>, &'static str, bool)> {
    match &qs.ordering {
        Some(keys) => keys
            .iter()
            .map(|k| (k.path.clone(), k.column, k.desc))
            .collect(),
        None => M::meta()
            .ordering
            .iter()
            .map(|(c, d)| (Vec::new(), *c, *d))
            .collect(),
    }
}

fn apply_filters<M: Model>(ctx: &mut Ctx<'_>, qs: &QuerySet<M>) {
    for node in &qs.filters {
        let cond = ctx.condition(node);
        ctx.stmt.and_where(cond);
    }
}

/// The LIMIT and OFFSET a query set renders with: SQLite needs a LIMIT
/// before an OFFSET (`u64::MAX >> 1` standing for none).
fn effective_limits<M: Model>(qs: &QuerySet<M>, backend: Backend) -> (Option<u64>, Option<u64>) {
    match (qs.limit, qs.offset) {
        (None, Some(offset)) if backend == Backend::Sqlite => (Some(u64::MAX >> 1), Some(offset)),
        limits => limits,
    }
}

fn limits<M: Model>(stmt: &mut SelectStatement, qs: &QuerySet<M>, backend: Backend) {
    let (limit, offset) = effective_limits(qs, backend);
    if let Some(limit) = limit {
        stmt.limit(limit);
    }
    if let Some(offset) = offset {
        stmt.offset(offset);
    }
}

/// The values `kind` of `qs` binds, in the order of their placeholders, as
/// [`select`], [`count`] and [`exists`] bind them (see `sql::cache`, which
/// checks the two agree before relying on this walk).
pub(crate) fn bound_values<M: Model>(
    qs: &QuerySet<M>,
    backend: Backend,
    kind: Kind,
    out: &mut Vec<Value>,
) {
    for node in &qs.filters {
        node_values(node, out);
    }
    let (limit, offset) = effective_limits(qs, backend);
    let limit = match kind {
        Kind::Select => limit,
        Kind::Count if limit.is_some() || offset.is_some() || qs.distinct => limit,
        Kind::Count => return,
        Kind::Exists => Some(1),
    };
    out.extend(limit.map(Value::from));
    out.extend(offset.map(Value::from));
}

fn node_values(node: &Node, out: &mut Vec<Value>) {
    match node {
        Node::Lookup(l) => lookup_values(l.op, &l.values, out),
        Node::And(nodes) | Node::Or(nodes) => {
            for n in nodes {
                node_values(n, out);
            }
        }
        Node::Not(inner) => node_values(inner, out),
        Node::PkInJoin { owner, .. } => out.push(owner.clone()),
        Node::Pk(op, values) => lookup_values(*op, values, out),
    }
}

/// The values [`Ctx::lookup`] binds for one lookup.
fn lookup_values(op: LookupOp, values: &[Value], out: &mut Vec<Value>) {
    let value = || values.first().cloned().unwrap_or(Value::String(None));
    match op {
        LookupOp::Exact | LookupOp::Ne if is_null(&value()) => {}
        LookupOp::In => out.extend(values.iter().cloned()),
        LookupOp::Range => {
            out.push(value());
            out.push(values.get(1).cloned().unwrap_or(Value::String(None)));
        }
        LookupOp::IsNull(_) => {}
        LookupOp::Contains | LookupOp::IContains => {
            out.push(like_pattern(&value(), true, true).into());
        }
        LookupOp::StartsWith | LookupOp::IStartsWith => {
            out.push(like_pattern(&value(), false, true).into());
        }
        LookupOp::EndsWith | LookupOp::IEndsWith => {
            out.push(like_pattern(&value(), true, false).into());
        }
        LookupOp::Exact
        | LookupOp::Ne
        | LookupOp::IExact
        | LookupOp::Gt
        | LookupOp::Gte
        | LookupOp::Lt
        | LookupOp::Lte => out.push(value()),
    }
}

pub(crate) fn select<M: Model>(qs: &QuerySet<M>, backend: Backend) -> SelectStatement {
    let mut stmt = select_with(qs, backend, &[]);
    if qs.for_update && backend == Backend::Postgres {
        // Only the queried table: rows of LEFT JOINed tables may be NULL,
        // which PostgreSQL refuses to lock.
        stmt.lock_with_tables(sea_query::LockType::Update, [Alias::new(BASE)]);
    }
    stmt
}

/// The model's columns, the select_related ones, then `extra` (grouped by
/// every selected model column when `extra` aggregates).
fn select_with<M: Model>(
    qs: &QuerySet<M>,
    backend: Backend,
    extra: &[SelectItem],
) -> SelectStatement {
    let mut stmt = Query::select();
    let mut ctx = Ctx::new(&mut stmt, M::meta());
    let mut row_columns: Vec<SimpleExpr> = Vec::new();
    let mut add_columns = |ctx: &mut Ctx<'_>, meta: &'static ModelMeta, alias: &str| {
        for field in meta.column_fields() {
            if let Some(column) = field.column {
                let col: SimpleExpr = Expr::col((Alias::new(alias), Alias::new(column))).into();
                ctx.stmt.expr(col.clone());
                row_columns.push(col);
            }
        }
    };
    add_columns(&mut ctx, M::meta(), BASE);
    for path in &qs.related {
        let alias = ctx.alias(path);
        if let Some(join) = path.last() {
            add_columns(&mut ctx, (join.target)(), &alias);
        }
    }
    let grouped = extra.iter().any(|i| i.agg.is_some());
    let mut group_by = Vec::new();
    for item in extra {
        let expr = item_expr(&mut ctx, backend, item);
        if grouped && item.agg.is_none() {
            group_by.push(expr.clone());
        }
        ctx.stmt.expr(expr);
    }
    if grouped {
        // Grouping by every selected column of the rows works on both
        // backends (PostgreSQL would accept the keys alone, SQLite too, but
        // not in every case with joins).
        group_by.extend(row_columns);
        ctx.stmt.add_group_by(group_by);
    }
    apply_filters(&mut ctx, qs);
    let keys = ordering(qs);
    ctx.order(&keys);
    if qs.distinct {
        stmt.distinct();
    }
    limits(&mut stmt, qs, backend);
    stmt
}

/// `SELECT t0.pk FROM ... WHERE ...` (honouring limit/offset).
pub(crate) fn pks<M: Model>(qs: &QuerySet<M>, backend: Backend) -> SelectStatement {
    let mut stmt = Query::select();
    let mut ctx = Ctx::new(&mut stmt, M::meta());
    ctx.stmt
        .column((Alias::new(BASE), Alias::new(M::meta().pk_column)));
    apply_filters(&mut ctx, qs);
    if qs.limit.is_some() || qs.offset.is_some() {
        let keys = ordering(qs);
        ctx.order(&keys);
    }
    if qs.distinct {
        stmt.distinct();
    }
    limits(&mut stmt, qs, backend);
    stmt
}

pub(crate) fn count<M: Model>(qs: &QuerySet<M>, backend: Backend) -> SelectStatement {
    if qs.limit.is_some() || qs.offset.is_some() || qs.distinct {
        let inner = pks(qs, backend);
        return Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(inner, Alias::new("sub"))
            .to_owned();
    }
    let mut stmt = Query::select();
    let mut ctx = Ctx::new(&mut stmt, M::meta());
    ctx.stmt.expr(Expr::cust("COUNT(*)"));
    apply_filters(&mut ctx, qs);
    stmt
}

pub(crate) fn exists<M: Model>(qs: &QuerySet<M>, backend: Backend) -> SelectStatement {
    let mut stmt = pks(qs, backend);
    stmt.clear_order_by();
    stmt.limit(1);
    stmt
}

fn type_name(backend: Backend, ty: SqlType) -> String {
    backend.dialect().column_type(ty, None, None)
}

fn item_expr(ctx: &mut Ctx<'_>, backend: Backend, item: &SelectItem) -> SimpleExpr {
    match (item.agg, item.column) {
        (Some(AggFunc::Count), None) => Expr::cust("COUNT(*)"),
        (Some(agg), Some(column)) => {
            let col = ctx.col(&item.path, column);
            let call: SimpleExpr = match agg {
                AggFunc::Count => Func::count(col).into(),
                AggFunc::CountDistinct => Func::count_distinct(col).into(),
                AggFunc::Sum => Func::sum(col).into(),
                AggFunc::Avg => Func::avg(col).into(),
                AggFunc::Min => Func::min(col).into(),
                AggFunc::Max => Func::max(col).into(),
            };
            match agg {
                // Keep the column's type: PostgreSQL widens SUM(int) to
                // bigint/numeric and AVG to numeric.
                AggFunc::Sum | AggFunc::Avg => {
                    Func::cast_as(call, Alias::new(type_name(backend, item.sql_type))).into()
                }
                _ => call,
            }
        }
        (None, Some(column)) => ctx.col(&item.path, column),
        (_, None) => Expr::cust("NULL"),
    }
}

pub(crate) fn values<M: Model>(
    qs: &QuerySet<M>,
    backend: Backend,
    items: &[SelectItem],
) -> SelectStatement {
    let mut stmt = Query::select();
    let mut ctx = Ctx::new(&mut stmt, M::meta());
    let grouped = items.iter().any(|i| i.agg.is_some());
    let mut group_by = Vec::new();
    for item in items {
        let expr = item_expr(&mut ctx, backend, item);
        if grouped && item.agg.is_none() {
            group_by.push(expr.clone());
        }
        ctx.stmt.expr(expr);
    }
    apply_filters(&mut ctx, qs);
    if !group_by.is_empty() {
        ctx.stmt.add_group_by(group_by);
    }
    // The default ordering would add GROUP BY / DISTINCT keys the caller did
    // not select; only an explicit order_by applies here.
    let keys = if (grouped || qs.distinct) && qs.ordering.is_none() {
        Vec::new()
    } else {
        ordering(qs)
    };
    ctx.order(&keys);
    if qs.distinct {
        stmt.distinct();
    }
    limits(&mut stmt, qs, backend);
    stmt
}

/// The model's columns (and select_related ones) plus `items`.
pub(crate) fn annotated<M: Model>(
    qs: &QuerySet<M>,
    backend: Backend,
    items: &[SelectItem],
) -> SelectStatement {
    select_with(qs, backend, items)
}

pub(crate) fn update<M: Model>(
    qs: &QuerySet<M>,
    backend: Backend,
    assignments: &[Assignment<M>],
) -> UpdateStatement {
    let meta = M::meta();
    let mut stmt = Query::update();
    stmt.table(Alias::new(meta.table));
    for a in assignments {
        if a.increment {
            stmt.value(
                Alias::new(a.column),
                Expr::col(Alias::new(a.column)).add(a.value.clone()),
            );
        } else {
            stmt.value(Alias::new(a.column), a.value.clone());
        }
    }
    if !qs.filters.is_empty() || qs.limit.is_some() || qs.offset.is_some() {
        stmt.and_where(Expr::col(Alias::new(meta.pk_column)).in_subquery(pks(qs, backend)));
    }
    stmt
}

/// `SELECT j.source, t0.* FROM target t0 JOIN join j ON j.target = t0.pk WHERE j.source IN (...)`.
pub(crate) fn m2m_prefetch<T: Model>(
    table: &'static str,
    source: &'static str,
    target: &'static str,
    owners: Vec<Value>,
) -> SelectStatement {
    let meta = T::meta();
    let mut stmt = Query::select();
    stmt.column((Alias::new("j"), Alias::new(source)));
    stmt.from_as(Alias::new(meta.table), Alias::new(BASE));
    for field in meta.column_fields() {
        if let Some(column) = field.column {
            stmt.column((Alias::new(BASE), Alias::new(column)));
        }
    }
    stmt.join_as(
        JoinType::InnerJoin,
        Alias::new(table),
        Alias::new("j"),
        Expr::col((Alias::new("j"), Alias::new(target)))
            .equals((Alias::new(BASE), Alias::new(meta.pk_column))),
    );
    stmt.and_where(Expr::col((Alias::new("j"), Alias::new(source))).is_in(owners));
    for (column, desc) in meta.ordering {
        stmt.order_by(
            (Alias::new(BASE), Alias::new(*column)),
            if *desc { Order::Desc } else { Order::Asc },
        );
    }
    stmt
}
