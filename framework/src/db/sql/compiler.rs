//! Query sets → SQL: one walk per statement, written against a [`Pass`].
//!
//! The walk visits the query set in the order of the SQL text and tells the
//! pass what to write: [`KeyPass`](super::pass::KeyPass) turns it into the
//! statement's key and bound values, [`SqlPass`](super::pass::SqlPass) into
//! its text and the same values. [`super::cache`] runs the first for every
//! query and the second only for a statement it has not seen.
//!
//! ```text
//! Note::objects().filter(Note::title.icontains("rust")).limit(5)
//!   SELECT "t0"."id", "t0"."title" FROM "blog_note" AS "t0"
//!   WHERE LOWER("t0"."title") LIKE LOWER(?) ESCAPE '!' LIMIT ?     ["%rust%", 5]
//! ```
//!
//! Tables are aliased `t0` (the model's), `t1`, `t2`, ... (joined, in the
//! order the query first needs them); identifiers come only from model
//! metadata and every value is bound.

use sea_query::Value;

use super::pass::{Alias, Pass};
use crate::db::executor::Backend;
use crate::db::model::{Model, ModelMeta};
use crate::db::query::QuerySet;
use crate::db::query::lookup::{Join, JoinOn, LookupOp, Node, OrderBy};
use crate::db::query::values::{AggFunc, SelectItem};

/// A query set without its model type: what the compiler reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Query<'q> {
    meta: &'static ModelMeta,
    filters: &'q [Node],
    ordering: Option<&'q [OrderBy]>,
    limit: Option<u64>,
    offset: Option<u64>,
    distinct: bool,
    for_update: bool,
    related: &'q [Vec<Join>],
}

impl<'q> Query<'q> {
    pub(crate) fn of<M: Model>(qs: &'q QuerySet<M>) -> Self {
        Self {
            meta: M::meta(),
            filters: &qs.filters,
            ordering: qs.ordering.as_deref(),
            limit: qs.limit,
            offset: qs.offset,
            distinct: qs.distinct,
            for_update: qs.for_update,
            related: &qs.related,
        }
    }

    /// Whether the rows are cut by a limit or an offset.
    fn limited(&self) -> bool {
        self.limit.is_some() || self.offset.is_some()
    }

    /// The LIMIT and OFFSET to write: SQLite needs a LIMIT before an
    /// OFFSET (`u64::MAX >> 1` standing for none).
    fn limits(&self, backend: Backend) -> (Option<u64>, Option<u64>) {
        match (self.limit, self.offset) {
            (None, Some(offset)) if backend == Backend::Sqlite => {
                (Some(u64::MAX >> 1), Some(offset))
            }
            limits => limits,
        }
    }
}

/// `SET column = value` (or `column = column + value`) of an `UPDATE`.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    pub(crate) column: &'static str,
    pub(crate) value: Value,
    pub(crate) increment: bool,
}

/// Which statement of a query set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind<'q> {
    /// Its rows, with their `select_related` rows (`all`, `get`, `first`).
    Select,
    /// `count()`.
    Count,
    /// `exists()`.
    Exists,
    /// The primary keys of its rows (`delete()`).
    Pks,
    /// Selected columns and aggregates (`values()`).
    Values(&'q [SelectItem]),
    /// Its rows with extra columns and aggregates (`annotate()`).
    Annotated(&'q [SelectItem]),
    /// `update()`.
    Update(&'q [Set]),
}

/// Describes `kind` of `q` to `pass`.
pub(crate) fn compile<P: Pass>(q: &Query<'_>, kind: Kind<'_>, pass: &mut P) {
    match kind {
        Kind::Select => {
            Select::new(q, pass).rows(&[]);
            if q.for_update && pass.backend() == Backend::Postgres {
                // Only the queried table: rows of LEFT JOINed tables may be
                // NULL, which PostgreSQL refuses to lock.
                pass.sql(" FOR UPDATE OF ");
                pass.alias(Alias::BASE);
            }
        }
        Kind::Annotated(items) => Select::new(q, pass).rows(items),
        Kind::Values(items) => Select::new(q, pass).values(items),
        Kind::Count => Select::new(q, pass).count(),
        Kind::Exists => Select::new(q, pass).pks(true),
        Kind::Pks => Select::new(q, pass).pks(false),
        Kind::Update(sets) => update(q, sets, pass),
    }
}

/// `UPDATE table SET ... WHERE pk IN (SELECT pk ...)`.
fn update<P: Pass>(q: &Query<'_>, sets: &[Set], pass: &mut P) {
    pass.sql("UPDATE ");
    pass.ident(q.meta.table);
    pass.sql(" SET ");
    for (i, set) in sets.iter().enumerate() {
        if i > 0 {
            pass.sql(", ");
        }
        pass.ident(set.column);
        pass.sql(" = ");
        if set.increment {
            pass.ident(set.column);
            pass.sql(" + ");
        }
        pass.bind(set.value.clone());
    }
    if !q.filters.is_empty() || q.limited() {
        pass.sql(" WHERE ");
        pass.ident(q.meta.pk_column);
        pass.sql(" IN (");
        Select::new(q, pass).pks(false);
        pass.sql(")");
    }
}

/// Where a condition is written: at the top of a `WHERE`, or as an operand
/// of `AND` / `OR` (which decides the parentheses it needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Within {
    Top,
    And,
    Or,
}

/// One joined table: the relation path to it, and its alias and its
/// parent's.
struct Joined<'q> {
    path: &'q [Join],
    parent: Alias,
    alias: Alias,
}

/// One `SELECT` being written, with its joins.
struct Select<'a, 'q, P> {
    q: &'a Query<'q>,
    pass: &'a mut P,
    joins: Vec<Joined<'q>>,
}

impl<'a, 'q, P: Pass> Select<'a, 'q, P> {
    fn new(q: &'a Query<'q>, pass: &'a mut P) -> Self {
        Self {
            q,
            pass,
            joins: Vec::new(),
        }
    }

    /// The model's columns, the `select_related` ones, then `extra` (grouped
    /// by every selected model column when `extra` aggregates).
    fn rows(mut self, extra: &'q [SelectItem]) {
        let q = self.q;
        for path in q.related {
            self.join(path);
        }
        for item in extra {
            self.join(&item.path);
        }
        self.join_filters();
        self.join_ordering();

        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        self.row_columns();
        for item in extra {
            self.pass.sql(", ");
            self.item(item);
        }
        self.from();
        self.filters();
        if extra.iter().any(|i| i.agg.is_some()) {
            // Grouping by every selected column of the rows works on both
            // backends (PostgreSQL would accept the keys alone, SQLite too,
            // but not in every case with joins).
            self.pass.sql(" GROUP BY ");
            for item in extra.iter().filter(|i| i.agg.is_none()) {
                self.item(item);
                self.pass.sql(", ");
            }
            self.row_columns();
        }
        self.order_by();
        self.limits(false);
    }

    /// The columns of the model and of its `select_related` models.
    fn row_columns(&mut self) {
        self.pass.columns(self.q.meta, Alias::BASE);
        for path in self.q.related {
            if let Some(join) = path.last() {
                self.pass.sql(", ");
                let alias = self.alias(path);
                self.pass.columns((join.target)(), alias);
            }
        }
    }

    /// `SELECT items ...`, grouped by the plain columns when some items
    /// aggregate.
    fn values(mut self, items: &'q [SelectItem]) {
        let q = self.q;
        let grouped = items.iter().any(|i| i.agg.is_some());
        // The default ordering would add GROUP BY / DISTINCT keys the
        // caller did not select; only an explicit order_by applies here.
        let ordered = !((grouped || q.distinct) && q.ordering.is_none());
        for item in items {
            self.join(&item.path);
        }
        self.join_filters();
        if ordered {
            self.join_ordering();
        }

        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.pass.sql(", ");
            }
            self.item(item);
        }
        self.from();
        self.filters();
        if grouped {
            let mut keys = items.iter().filter(|i| i.agg.is_none()).peekable();
            if keys.peek().is_some() {
                self.pass.sql(" GROUP BY ");
            }
            for (i, item) in keys.enumerate() {
                if i > 0 {
                    self.pass.sql(", ");
                }
                self.item(item);
            }
        }
        if ordered {
            self.order_by();
        }
        self.limits(false);
    }

    /// `COUNT(*)` of the rows; over the cut rows when there is a limit, an
    /// offset or `distinct`.
    fn count(mut self) {
        let q = self.q;
        if q.limited() || q.distinct {
            self.pass.sql("SELECT COUNT(*) FROM (");
            Select::new(q, &mut *self.pass).pks(false);
            self.pass.sql(") AS ");
            self.pass.ident("sub");
            return;
        }
        self.join_filters();
        self.pass.sql("SELECT COUNT(*)");
        self.from();
        self.filters();
    }

    /// `SELECT t0.pk ...`, honouring limit and offset; one row at most and
    /// unordered when `exists`.
    fn pks(mut self, exists: bool) {
        let q = self.q;
        self.join_filters();
        if q.limited() {
            self.join_ordering();
        }
        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        self.pass.column(Alias::BASE, q.meta.pk_column);
        self.from();
        self.filters();
        if q.limited() && !exists {
            self.order_by();
        }
        self.limits(exists);
    }

    /// Joins the tables on `path` (and its prefixes) not joined yet.
    #[inline]
    fn join(&mut self, path: &'q [Join]) {
        if path.is_empty() {
            return;
        }
        let mut parent = Alias::BASE;
        for depth in 1..=path.len() {
            let prefix = &path[..depth];
            if let Some(joined) = self.joins.iter().find(|j| j.path == prefix) {
                parent = joined.alias;
                continue;
            }
            let n = u32::try_from(self.joins.len() + 1).unwrap_or(u32::MAX);
            let alias = Alias::table(n);
            self.joins.push(Joined {
                path: prefix,
                parent,
                alias,
            });
            parent = alias;
        }
    }

    fn join_filters(&mut self) {
        fn walk<'a, 'q, P: Pass>(select: &mut Select<'a, 'q, P>, node: &'q Node) {
            match node {
                Node::Lookup(lookup) => select.join(&lookup.path),
                Node::And(nodes) | Node::Or(nodes) => {
                    for node in nodes {
                        walk(select, node);
                    }
                }
                Node::Not(inner) => walk(select, inner),
                Node::PkInJoin { .. } | Node::Pk(..) => {}
            }
        }
        for node in self.q.filters {
            walk(self, node);
        }
    }

    fn join_ordering(&mut self) {
        // The model's default ordering has no relation paths.
        for key in self.q.ordering.unwrap_or_default() {
            self.join(&key.path);
        }
    }

    /// The alias of the table at the end of `path` (joined beforehand).
    fn alias(&self, path: &[Join]) -> Alias {
        if path.is_empty() {
            return Alias::BASE;
        }
        self.joins
            .iter()
            .find(|j| j.path == path)
            .map_or(Alias::BASE, |j| j.alias)
    }

    /// `FROM table AS t0 LEFT JOIN ...`.
    fn from(&mut self) {
        self.pass.sql(" FROM ");
        self.pass.table(self.q.meta.table, Alias::BASE);
        for joined in &self.joins {
            let Some(join) = joined.path.last() else {
                continue;
            };
            let target = (join.target)();
            let (alias, parent) = (joined.alias, joined.parent);
            match join.on {
                JoinOn::Columns {
                    parent_column,
                    target_column,
                } => {
                    self.pass.sql(" LEFT JOIN ");
                    self.pass.table(target.table, alias);
                    self.pass.sql(" ON ");
                    self.pass.column(alias, target_column);
                    self.pass.sql(" = ");
                    self.pass.column(parent, parent_column);
                }
                JoinOn::Table {
                    table,
                    source,
                    target: target_column,
                    parent_pk,
                } => {
                    let via = alias.via();
                    self.pass.sql(" LEFT JOIN ");
                    self.pass.table(table, via);
                    self.pass.sql(" ON ");
                    self.pass.column(via, source);
                    self.pass.sql(" = ");
                    self.pass.column(parent, parent_pk);
                    self.pass.sql(" LEFT JOIN ");
                    self.pass.table(target.table, alias);
                    self.pass.sql(" ON ");
                    self.pass.column(alias, target.pk_column);
                    self.pass.sql(" = ");
                    self.pass.column(via, target_column);
                }
                JoinOn::Invalid => {
                    self.pass.sql(" LEFT JOIN ");
                    self.pass.table(target.table, alias);
                    self.pass.sql(" ON 1 = 0");
                }
            }
        }
    }

    /// `WHERE` and the filters, ANDed.
    fn filters(&mut self) {
        let filters = self.q.filters;
        if filters.is_empty() {
            return;
        }
        self.pass.sql(" WHERE ");
        self.all(filters, Within::Top);
    }

    /// `nodes` joined by `AND` (`1 = 1` when there are none).
    fn all(&mut self, nodes: &'q [Node], within: Within) {
        self.connect(nodes, within, Within::And);
    }

    /// `nodes` joined by `AND` or `OR` (`op`), in parentheses when written
    /// as an operand of the other one.
    fn connect(&mut self, nodes: &'q [Node], within: Within, op: Within) {
        match nodes {
            [] if op == Within::And => self.pass.sql("1 = 1"),
            [] => self.pass.sql("1 = 0"),
            [node] => self.condition(node, within),
            _ => {
                let nested = within != Within::Top && within != op;
                if nested {
                    self.pass.sql("(");
                }
                for (i, node) in nodes.iter().enumerate() {
                    if i > 0 {
                        self.pass
                            .sql(if op == Within::And { " AND " } else { " OR " });
                    }
                    self.condition(node, op);
                }
                if nested {
                    self.pass.sql(")");
                }
            }
        }
    }

    fn condition(&mut self, node: &'q Node, within: Within) {
        match node {
            Node::Lookup(l) => self.lookup(&l.path, l.column, l.op, &l.values),
            Node::And(nodes) => self.all(nodes, within),
            Node::Or(nodes) => self.connect(nodes, within, Within::Or),
            // `IS NOT TRUE` rather than `NOT`: a row whose column is NULL
            // does not match the inner condition, so it must match its
            // negation (as Django's `exclude` does).
            Node::Not(inner) => {
                self.pass.sql("(");
                self.condition(inner, Within::Top);
                self.pass.sql(") IS NOT TRUE");
            }
            Node::Pk(op, values) => self.lookup(&[], self.q.meta.pk_column, *op, values),
            Node::PkInJoin {
                table,
                source,
                target,
                owner,
            } => {
                self.pass.column(Alias::BASE, self.q.meta.pk_column);
                self.pass.sql(" IN (SELECT ");
                self.pass.ident(target);
                self.pass.sql(" FROM ");
                self.pass.ident(table);
                self.pass.sql(" WHERE ");
                self.pass.ident(source);
                self.pass.sql(" = ");
                self.pass.bind(owner.clone());
                self.pass.sql(")");
            }
        }
    }

    fn lookup(&mut self, path: &[Join], column: &'static str, op: LookupOp, values: &[Value]) {
        let alias = self.alias(path);
        // A missing value counts as NULL.
        let value = |i: usize| values.get(i).cloned().unwrap_or(Value::String(None));
        let operator = match op {
            LookupOp::Exact | LookupOp::Ne if values.first().is_none_or(is_null) => {
                self.pass.column(alias, column);
                self.pass.sql(if op == LookupOp::Exact {
                    " IS NULL"
                } else {
                    " IS NOT NULL"
                });
                return;
            }
            LookupOp::Exact => " = ",
            LookupOp::Ne => " <> ",
            LookupOp::Gt => " > ",
            LookupOp::Gte => " >= ",
            LookupOp::Lt => " < ",
            LookupOp::Lte => " <= ",
            LookupOp::IsNull(null) => {
                self.pass.column(alias, column);
                self.pass
                    .sql(if null { " IS NULL" } else { " IS NOT NULL" });
                return;
            }
            LookupOp::IExact => {
                self.pass.sql("LOWER(");
                self.pass.column(alias, column);
                self.pass.sql(") = LOWER(");
                self.pass.bind(value(0));
                self.pass.sql(")");
                return;
            }
            LookupOp::In if values.is_empty() => {
                self.pass.sql("1 = 0");
                return;
            }
            LookupOp::In => {
                self.pass.column(alias, column);
                self.pass.sql(" IN (");
                self.pass.bind_all(values);
                self.pass.sql(")");
                return;
            }
            LookupOp::Range => {
                self.pass.column(alias, column);
                self.pass.sql(" BETWEEN ");
                self.pass.bind(value(0));
                self.pass.sql(" AND ");
                self.pass.bind(value(1));
                return;
            }
            LookupOp::Contains
            | LookupOp::IContains
            | LookupOp::StartsWith
            | LookupOp::IStartsWith
            | LookupOp::EndsWith
            | LookupOp::IEndsWith => {
                self.like(alias, column, op, &value(0));
                return;
            }
        };
        self.pass.column(alias, column);
        self.pass.sql(operator);
        self.pass.bind(value(0));
    }

    /// `column LIKE pattern ESCAPE '!'` (both lowered for the
    /// case-insensitive lookups), the pattern built from the value with its
    /// wildcards escaped, so `%` and `_` in user input match literally.
    fn like(&mut self, alias: Alias, column: &'static str, op: LookupOp, value: &Value) {
        let (any_prefix, any_suffix) = match op {
            LookupOp::StartsWith | LookupOp::IStartsWith => (false, true),
            LookupOp::EndsWith | LookupOp::IEndsWith => (true, false),
            _ => (true, true),
        };
        let pattern = like_pattern(value, any_prefix, any_suffix);
        if matches!(
            op,
            LookupOp::IContains | LookupOp::IStartsWith | LookupOp::IEndsWith
        ) {
            self.pass.sql("LOWER(");
            self.pass.column(alias, column);
            self.pass.sql(") LIKE LOWER(");
            self.pass.bind(pattern.into());
            self.pass.sql(") ESCAPE '!'");
        } else {
            self.pass.column(alias, column);
            self.pass.sql(" LIKE ");
            self.pass.bind(pattern.into());
            self.pass.sql(" ESCAPE '!'");
        }
    }

    /// `ORDER BY` the query set's sort keys, or the model's default
    /// ordering; nothing when there are none.
    fn order_by(&mut self) {
        match self.q.ordering {
            Some(keys) => {
                for (i, key) in keys.iter().enumerate() {
                    self.order_key(i, &key.path, key.column, key.desc);
                }
            }
            None => {
                for (i, &(column, desc)) in self.q.meta.ordering.iter().enumerate() {
                    self.order_key(i, &[], column, desc);
                }
            }
        }
    }

    fn order_key(&mut self, i: usize, path: &[Join], column: &'static str, desc: bool) {
        self.pass.sql(if i == 0 { " ORDER BY " } else { ", " });
        let alias = self.alias(path);
        self.pass.column(alias, column);
        self.pass.sql(if desc { " DESC" } else { " ASC" });
    }

    /// `LIMIT ? OFFSET ?`; `LIMIT 1` when `exists`.
    fn limits(&mut self, exists: bool) {
        if !exists && !self.q.limited() {
            return;
        }
        let (limit, offset) = self.q.limits(self.pass.backend());
        let limit = if exists { Some(1) } else { limit };
        if let Some(limit) = limit {
            self.pass.sql(" LIMIT ");
            self.pass.bind(limit.into());
        }
        if let Some(offset) = offset {
            self.pass.sql(" OFFSET ");
            self.pass.bind(offset.into());
        }
    }

    /// One selected column or aggregate.
    fn item(&mut self, item: &SelectItem) {
        let Some(column) = item.column else {
            self.pass.sql(match item.agg {
                Some(AggFunc::Count) => "COUNT(*)",
                _ => "NULL",
            });
            return;
        };
        let alias = self.alias(&item.path);
        let Some(agg) = item.agg else {
            self.pass.column(alias, column);
            return;
        };
        // Keep the column's type: PostgreSQL widens SUM(int) to
        // bigint/numeric and AVG to numeric.
        let cast = matches!(agg, AggFunc::Sum | AggFunc::Avg);
        if cast {
            self.pass.sql("CAST(");
        }
        self.pass.sql(match agg {
            AggFunc::Count => "COUNT(",
            AggFunc::CountDistinct => "COUNT(DISTINCT ",
            AggFunc::Sum => "SUM(",
            AggFunc::Avg => "AVG(",
            AggFunc::Min => "MIN(",
            AggFunc::Max => "MAX(",
        });
        self.pass.column(alias, column);
        self.pass.sql(")");
        if cast {
            self.pass.sql(" AS ");
            self.pass.type_name(item.sql_type);
            self.pass.sql(")");
        }
    }
}

/// Whether `v` is SQL `NULL`.
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

#[cfg(test)]
mod tests;
