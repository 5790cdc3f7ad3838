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
//!   WHERE "t0"."title" LIKE ? ESCAPE '!' LIMIT ?     ["%rust%", 5]
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
use crate::db::query::expr::{Arith, Compare, DatePart, ExprNode, Subquery};
use crate::db::query::lookup::{Join, JoinOn, LookupOp, Node, OrderBy};
use crate::db::query::values::{AggFunc, SelectItem};
use crate::db::{fields::SqlType, tz};

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

    /// A subquery's query.
    fn of_subquery(sub: &'q Subquery) -> Self {
        Self {
            meta: sub.meta,
            filters: &sub.filters,
            ordering: sub.ordering.as_deref(),
            limit: sub.limit,
            offset: sub.offset,
            distinct: sub.distinct,
            for_update: false,
            related: &[],
        }
    }

    /// Whether the rows are cut by a limit or an offset.
    fn limited(&self) -> bool {
        self.limit.is_some() || self.offset.is_some()
    }

    /// Whether the rows are grouped: a filter or a sort key on an
    /// aggregate (`HAVING`, `ORDER BY COUNT(...)`).
    fn grouped(&self) -> bool {
        self.filters.iter().any(having)
            || self
                .ordering
                .unwrap_or_default()
                .iter()
                .any(|key| key.expr.as_deref().is_some_and(ExprNode::aggregates))
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

/// `SET column = value` of an `UPDATE`; the value may read the row's own
/// columns (`column + 1`).
#[derive(Debug, Clone)]
pub(crate) struct Set {
    pub(crate) column: &'static str,
    pub(crate) value: ExprNode,
}

/// Which statement of a query set.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind<'q> {
    /// Its rows, with their `select_related` rows (`all`, `get`, `first`).
    Select,
    /// Its rows as [`Kind::Select`], each with a last column: the number of
    /// rows the query matches before its limit and offset, as a subquery
    /// that does not depend on the row (run once by both databases:
    /// SQLite keeps a constant subquery's value, PostgreSQL makes it an
    /// `InitPlan`). A page and its paginator's count in one statement
    /// (`all_and_count()`).
    Counted,
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
        Kind::Counted => {
            let mut select = Select::new(q, pass);
            select.counted = true;
            select.rows(&[]);
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
    let mut select = Select::new(q, &mut *pass);
    // The row's own columns, unqualified: the values read no other table.
    select.unqualified = true;
    for (i, set) in sets.iter().enumerate() {
        if i > 0 {
            select.pass.sql(", ");
        }
        select.pass.ident(set.column);
        select.pass.sql(" = ");
        select.expr(&set.value);
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

/// Which joins a relation path may reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The conditions of the `filter()` call at this index: a multi-valued
    /// step gets a join of its own per call, shared by the conditions of
    /// that call (Django's "spanning multi-valued relationships").
    Filter(usize),
    /// Selected, sorted or loaded columns: the last join of the path made,
    /// so that an aggregate counts the rows the filters kept.
    Any,
}

/// One joined table: the relation path to it, the `filter()` call that owns
/// it (multi-valued steps only), and its alias and its parent's.
struct Joined<'q> {
    path: &'q [Join],
    owner: Option<usize>,
    parent: Alias,
    alias: Alias,
}

/// One `SELECT` being written, with its joins.
struct Select<'a, 'q, P> {
    q: &'a Query<'q>,
    pass: &'a mut P,
    joins: Vec<Joined<'q>>,
    /// Whose joins the paths met now resolve to.
    scope: Scope,
    /// Whether the condition being walked is under a `NOT` (an `exclude()`
    /// or a `!q`): a multi-valued path there is a subquery, not a join.
    negated: bool,
    /// The query whose rows this `SELECT` reads as its table `t0` (an
    /// aggregate over a cut or distinct query), instead of the model's table.
    derived: Option<&'a Query<'q>>,
    /// How deep this `SELECT` is nested in `EXISTS` / `IN` subqueries.
    level: u8,
    /// Columns written without their table (the values of an `UPDATE`).
    unqualified: bool,
    /// Inside an `EXISTS` that tests a multi-valued path, the path and the
    /// alias its columns resolve to.
    redirect: Option<(&'q [Join], Alias)>,
    /// The rows end with the count of the query before its cut
    /// ([`Kind::Counted`]).
    counted: bool,
}

impl<'a, 'q, P: Pass> Select<'a, 'q, P> {
    fn new(q: &'a Query<'q>, pass: &'a mut P) -> Self {
        Self::at(q, pass, 0)
    }

    fn at(q: &'a Query<'q>, pass: &'a mut P, level: u8) -> Self {
        Self {
            q,
            pass,
            joins: Vec::new(),
            scope: Scope::Any,
            negated: false,
            derived: None,
            level,
            unqualified: false,
            redirect: None,
            counted: false,
        }
    }

    /// `t0` at this level.
    fn base(&self) -> Alias {
        Alias::BASE.at(self.level)
    }

    /// `u{n}` at this level.
    fn sub_alias(&self, n: u32) -> Alias {
        Alias::sub(n).at(self.level)
    }

    /// The model's columns, the `select_related` ones, then `extra` (grouped
    /// by every selected model column when `extra` aggregates).
    fn rows(mut self, extra: &'q [SelectItem]) {
        let q = self.q;
        // The filters' joins first: the annotations reuse them.
        self.join_filters();
        for path in q.related {
            self.join(path);
        }
        for item in extra {
            self.join_expr(&item.expr);
        }
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
        if self.counted {
            // The same rows, uncut and unordered, counted one level down.
            let uncut = Query {
                ordering: Some(&[]),
                limit: None,
                offset: None,
                for_update: false,
                related: &[],
                ..*q
            };
            self.pass.sql(", (");
            Select::at(&uncut, &mut *self.pass, self.level + 1).count();
            self.pass.sql(")");
        }
        self.from();
        self.filters();
        if q.grouped() || extra.iter().any(SelectItem::aggregates) {
            // Grouping by every selected column of the rows works on both
            // backends (PostgreSQL would accept the keys alone, SQLite too,
            // but not in every case with joins).
            self.pass.sql(" GROUP BY ");
            for item in extra.iter().filter(|i| !i.aggregates()) {
                self.item(item);
                self.pass.sql(", ");
            }
            self.row_columns();
            self.having();
        }
        self.order_by();
        self.limits(false);
    }

    /// The columns of the model and of its `select_related` models.
    fn row_columns(&mut self) {
        self.pass.columns(self.q.meta, self.base());
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
        if !items.is_empty()
            && items.iter().all(SelectItem::aggregates)
            && (q.limited() || q.distinct || q.grouped())
        {
            self.aggregate_rows(items);
            return;
        }
        let grouped = q.grouped() || items.iter().any(SelectItem::aggregates);
        // The default ordering would add GROUP BY / DISTINCT keys the
        // caller did not select; only an explicit order_by applies here.
        let ordered = !((grouped || q.distinct) && q.ordering.is_none());
        // The filters' joins first: the aggregates reuse them.
        self.join_filters();
        for item in items {
            self.join_expr(&item.expr);
        }
        if ordered {
            self.join_ordering();
        }

        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        self.items(items);
        self.from();
        self.filters();
        if grouped {
            let mut keys = items.iter().filter(|i| !i.aggregates()).peekable();
            if keys.peek().is_some() {
                self.pass.sql(" GROUP BY ");
            }
            self.items(keys);
            self.having();
        }
        if ordered {
            self.order_by();
        }
        self.limits(false);
    }

    /// Aggregates alone over a query cut by a limit or an offset, or made
    /// `distinct`: they read the rows the query returns, as a subquery
    /// named `t0` (as `count()` does), not the whole table.
    ///
    /// ```text
    /// SELECT CAST(AVG("t0"."rating") AS REAL) FROM (SELECT "t0"."id", ...
    ///   FROM "book" AS "t0" ORDER BY "t0"."rating" DESC LIMIT ?) AS "t0"
    /// ```
    fn aggregate_rows(self, items: &'q [SelectItem]) {
        let inner = self.q;
        let outer = Query {
            meta: inner.meta,
            filters: &[],
            ordering: Some(&[]),
            limit: None,
            offset: None,
            distinct: false,
            for_update: false,
            related: &[],
        };
        let mut select = Select::at(&outer, &mut *self.pass, self.level);
        select.derived = Some(inner);
        for item in items {
            select.join_expr(&item.expr);
        }
        select.pass.sql("SELECT ");
        select.items(items);
        select.from();
    }

    /// The model's columns of the rows, honouring `distinct`, and the order,
    /// limit and offset when they cut the rows.
    fn model_rows(mut self) {
        let q = self.q;
        self.join_filters();
        if q.limited() {
            self.join_ordering();
        }
        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        self.pass.columns(q.meta, self.base());
        self.from();
        self.filters();
        if q.grouped() {
            self.pass.sql(" GROUP BY ");
            let base = self.base();
            self.pass.columns(q.meta, base);
            self.having();
        }
        if q.limited() {
            self.order_by();
        }
        self.limits(false);
    }

    /// `COUNT(*)` of the rows; over the cut rows when there is a limit, an
    /// offset or `distinct`.
    fn count(mut self) {
        let q = self.q;
        if q.limited() || q.distinct || q.grouped() {
            self.pass.sql("SELECT COUNT(*) FROM (");
            Select::at(q, &mut *self.pass, self.level).pks(false);
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
    fn pks(self, exists: bool) {
        self.one_column(None, exists);
    }

    /// `SELECT item ...` (the primary key when `None`), honouring limit
    /// and offset: [`pks`](Self::pks), and the subquery of
    /// `in_query(qs.values(column))`.
    fn one_column(mut self, item: Option<&'q SelectItem>, exists: bool) {
        let q = self.q;
        self.join_filters();
        if let Some(item) = item {
            self.join_expr(&item.expr);
        }
        if q.limited() {
            self.join_ordering();
        }
        self.pass.sql("SELECT ");
        if q.distinct {
            self.pass.sql("DISTINCT ");
        }
        match item {
            Some(item) => self.item(item),
            None => {
                let base = self.base();
                self.pass.column(base, q.meta.pk_column);
            }
        }
        self.from();
        self.filters();
        if q.grouped() {
            self.pass.sql(" GROUP BY ");
            let base = self.base();
            self.pass.column(base, q.meta.pk_column);
            self.having();
        }
        if q.limited() && !exists {
            self.order_by();
        }
        self.limits(exists);
    }

    /// The alias of the join for the last step of `prefix` from `parent`
    /// that the current scope may reuse, if there is one.
    fn reusable(&self, prefix: &[Join], parent: Alias) -> Option<Alias> {
        let many = prefix.last().is_some_and(Join::many);
        let mut same = self
            .joins
            .iter()
            .rev()
            .filter(|j| j.parent == parent && j.path == prefix);
        match self.scope {
            Scope::Filter(call) if many => same.find(|j| j.owner == Some(call)),
            // The last one made.
            _ => same.next(),
        }
        .map(|j| j.alias)
    }

    /// Joins the tables on `path` (and its prefixes) that the current scope
    /// has not joined yet.
    #[inline]
    fn join(&mut self, path: &'q [Join]) {
        if path.is_empty() {
            return;
        }
        let mut parent = self.base();
        for depth in 1..=path.len() {
            let prefix = &path[..depth];
            if let Some(alias) = self.reusable(prefix, parent) {
                parent = alias;
                continue;
            }
            let n = u32::try_from(self.joins.len() + 1).unwrap_or(u32::MAX);
            let alias = Alias::table(n).at(self.level);
            let owner = match self.scope {
                Scope::Filter(call) if prefix.last().is_some_and(Join::many) => Some(call),
                _ => None,
            };
            self.joins.push(Joined {
                path: prefix,
                owner,
                parent,
                alias,
            });
            parent = alias;
        }
    }

    /// Joins the tables the filters need, each `filter()` call in its own
    /// scope; a multi-valued path under a `NOT` joins only its
    /// single-valued start (the rest is a subquery).
    ///
    /// The columns inside aggregates are joined last, outside any call's
    /// scope: like an annotation, an aggregate reads the related rows the
    /// filters kept.
    fn join_filters(&mut self) {
        /// What a walk joins: the columns outside aggregates, or inside.
        #[derive(Clone, Copy, PartialEq, Eq)]
        enum Part {
            Plain,
            Aggregated,
        }
        fn path<'a, 'q, P: Pass>(select: &mut Select<'a, 'q, P>, path: &'q [Join]) {
            match first_many(path) {
                Some(k) if select.negated => select.join(&path[..k]),
                _ => select.join(path),
            }
        }
        fn walk<'a, 'q, P: Pass>(select: &mut Select<'a, 'q, P>, node: &'q Node, part: Part) {
            match node {
                Node::Lookup(lookup) if part == Part::Plain => path(select, &lookup.path),
                Node::InQuery { path: p, .. } if part == Part::Plain => path(select, p),
                Node::Compare(compare) => compare.paths(&mut |p, inside| match part {
                    Part::Plain if !inside => path(select, p),
                    Part::Aggregated if inside => select.join(p),
                    _ => {}
                }),
                Node::And(nodes) | Node::Or(nodes) => {
                    for node in nodes {
                        walk(select, node, part);
                    }
                }
                Node::Not(inner) => {
                    let negated = std::mem::replace(&mut select.negated, true);
                    walk(select, inner, part);
                    select.negated = negated;
                }
                Node::Lookup(_)
                | Node::InQuery { .. }
                | Node::PkInJoin { .. }
                | Node::Pk(..)
                | Node::Exists(_) => {}
            }
        }
        for (call, node) in self.q.filters.iter().enumerate() {
            self.scope = Scope::Filter(call);
            walk(self, node, Part::Plain);
        }
        self.scope = Scope::Any;
        for node in self.q.filters {
            walk(self, node, Part::Aggregated);
        }
    }

    /// Joins the tables an expression reads (in the current scope).
    fn join_expr(&mut self, expr: &'q ExprNode) {
        expr.paths(false, &mut |path, _| self.join(path));
    }

    fn join_ordering(&mut self) {
        // The model's default ordering has no relation paths.
        for key in self.q.ordering.unwrap_or_default() {
            match &key.expr {
                Some(expr) => self.join_expr(expr),
                None => self.join(&key.path),
            }
        }
    }

    /// The alias of the table at the end of `path` in the current scope
    /// (joined beforehand).
    fn alias(&self, path: &[Join]) -> Alias {
        let mut parent = self.base();
        for depth in 1..=path.len() {
            match self.reusable(&path[..depth], parent) {
                Some(alias) => parent = alias,
                None => return self.base(),
            }
        }
        parent
    }

    /// `FROM table AS t0 LEFT JOIN ...` (or `FROM (rows) AS t0 ...`).
    fn from(&mut self) {
        self.pass.sql(" FROM ");
        match self.derived {
            Some(inner) => {
                self.pass.sql("(");
                Select::at(inner, &mut *self.pass, self.level).model_rows();
                self.pass.sql(") AS ");
                let base = self.base();
                self.pass.alias(base);
            }
            None => {
                let base = self.base();
                self.pass.table(self.q.meta.table, base);
            }
        }
        for i in 0..self.joins.len() {
            let joined = &self.joins[i];
            let Some(join) = joined.path.last() else {
                continue;
            };
            let (join, parent, alias) = (*join, joined.parent, joined.alias);
            self.step(" LEFT JOIN ", &join, parent, alias);
        }
    }

    /// `<keyword> target AS alias ON ...`: the table(s) of one relation
    /// step from the table `parent`.
    fn step(&mut self, keyword: &'static str, join: &Join, parent: Alias, alias: Alias) {
        let target = (join.target)();
        match join.on {
            JoinOn::Columns {
                parent_column,
                target_column,
            } => {
                self.pass.sql(keyword);
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
                self.pass.sql(keyword);
                self.pass.table(table, via);
                self.pass.sql(" ON ");
                self.pass.column(via, source);
                self.pass.sql(" = ");
                self.pass.column(parent, parent_pk);
                self.pass.sql(keyword);
                self.pass.table(target.table, alias);
                self.pass.sql(" ON ");
                self.pass.column(alias, target.pk_column);
                self.pass.sql(" = ");
                self.pass.column(via, target_column);
            }
            JoinOn::Invalid => {
                self.pass.sql(keyword);
                self.pass.table(target.table, alias);
                self.pass.sql(" ON 1 = 0");
            }
        }
    }

    /// `EXISTS (SELECT 1 ...)`: whether the row has a related row on the
    /// multi-valued `path[k..]` that matches, correlated with the table of
    /// `path[..k]` in the outer query. Used under a `NOT`, so that
    /// `exclude()` drops a row when *any* related row matches, and keeps it
    /// once.
    ///
    /// The subquery starts from the relation's own tables (`u1_j`, `u1`)
    /// with inner joins, unless the lookup matches NULL (`isnull`): then it
    /// starts from the row itself (`u0`) with left joins, so that a row
    /// without related rows matches too.
    fn exists(&mut self, path: &'q [Join], k: usize, test: Test<'q>) {
        let parent = self.alias(&path[..k]);
        let rest = &path[k..];
        let matches_null = match test {
            Test::Lookup(_, op, values) => {
                op == LookupOp::IsNull(true)
                    || (op == LookupOp::Exact && values.first().is_none_or(is_null))
            }
            Test::Compare(compare) => compare.op == LookupOp::IsNull(true),
            Test::InQuery(..) => false,
        };
        self.pass.sql("EXISTS (SELECT 1 FROM ");
        let mut last = self.sub_alias(0);
        if matches_null {
            let owner = match k {
                0 => self.q.meta,
                _ => (path[k - 1].target)(),
            };
            self.pass.table(owner.table, last);
            for (n, join) in (1..).zip(rest) {
                let alias = self.sub_alias(n);
                self.step(" LEFT JOIN ", join, last, alias);
                last = alias;
            }
            self.pass.sql(" WHERE ");
            self.pass.column(self.sub_alias(0), owner.pk_column);
            self.pass.sql(" = ");
            self.pass.column(parent, owner.pk_column);
        } else {
            let first = &rest[0];
            let target = (first.target)();
            last = self.sub_alias(1);
            if let JoinOn::Table {
                table,
                target: target_column,
                ..
            } = first.on
            {
                let via = last.via();
                self.pass.table(table, via);
                self.pass.sql(" INNER JOIN ");
                self.pass.table(target.table, last);
                self.pass.sql(" ON ");
                self.pass.column(last, target.pk_column);
                self.pass.sql(" = ");
                self.pass.column(via, target_column);
            } else {
                self.pass.table(target.table, last);
            }
            for (n, join) in (2..).zip(&rest[1..]) {
                let alias = self.sub_alias(n);
                self.step(" INNER JOIN ", join, last, alias);
                last = alias;
            }
            self.pass.sql(" WHERE ");
            let start = self.sub_alias(1);
            match first.on {
                JoinOn::Table {
                    source, parent_pk, ..
                } => {
                    self.pass.column(start.via(), source);
                    self.pass.sql(" = ");
                    self.pass.column(parent, parent_pk);
                }
                JoinOn::Columns {
                    parent_column,
                    target_column,
                } => {
                    self.pass.column(start, target_column);
                    self.pass.sql(" = ");
                    self.pass.column(parent, parent_column);
                }
                JoinOn::Invalid => self.pass.sql("1 = 0"),
            }
        }
        self.pass.sql(" AND ");
        match test {
            Test::Lookup(column, op, values) => self.compare(last, column, op, values),
            Test::Compare(compare) => {
                let redirect = self.redirect.replace((path, last));
                self.compare_exprs(compare);
                self.redirect = redirect;
            }
            Test::InQuery(column, query) => self.in_query(last, column, query),
        }
        self.pass.sql(")");
    }

    /// `WHERE` and the filters, ANDed; not those on aggregates.
    fn filters(&mut self) {
        self.conditions(" WHERE ", false);
    }

    /// `HAVING` and the filters on aggregates, ANDed.
    fn having(&mut self) {
        self.conditions(" HAVING ", true);
    }

    /// The `filter()` calls that go to `HAVING` (`having`) or `WHERE`.
    fn conditions(&mut self, keyword: &'static str, having: bool) {
        let filters = self.q.filters;
        let count = filters.iter().filter(|n| self::having(n) == having).count();
        if count == 0 {
            return;
        }
        self.pass.sql(keyword);
        // Each `filter()` call in its own scope, as its joins were made.
        let within = if count == 1 { Within::Top } else { Within::And };
        let mut first = true;
        for (call, node) in filters.iter().enumerate() {
            if self::having(node) != having {
                continue;
            }
            if !first {
                self.pass.sql(" AND ");
            }
            first = false;
            self.scope = Scope::Filter(call);
            self.condition(node, within);
        }
        self.scope = Scope::Any;
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
            Node::Lookup(l) => match first_many(&l.path) {
                Some(k) if self.negated => {
                    self.exists(&l.path, k, Test::Lookup(l.column, l.op, &l.values));
                }
                _ => self.lookup(&l.path, l.column, l.op, &l.values),
            },
            Node::Compare(compare) => match self.negated_many(compare) {
                Some((path, k)) => self.exists(path, k, Test::Compare(compare)),
                None => self.compare_exprs(compare),
            },
            Node::Exists(query) => {
                self.pass.sql("EXISTS (");
                let q = Query::of_subquery(query);
                Select::at(&q, &mut *self.pass, self.level + 1).pks(true);
                self.pass.sql(")");
            }
            Node::InQuery {
                path,
                column,
                query,
            } => match first_many(path) {
                Some(k) if self.negated => self.exists(path, k, Test::InQuery(column, query)),
                _ => {
                    let alias = self.alias(path);
                    self.in_query(alias, column, query);
                }
            },
            Node::And(nodes) => self.all(nodes, within),
            Node::Or(nodes) => self.connect(nodes, within, Within::Or),
            // `IS NOT TRUE` rather than `NOT`: a row whose column is NULL
            // does not match the inner condition, so it must match its
            // negation (as Django's `exclude` does).
            Node::Not(inner) => {
                let negated = std::mem::replace(&mut self.negated, true);
                self.pass.sql("(");
                self.condition(inner, Within::Top);
                self.pass.sql(") IS NOT TRUE");
                self.negated = negated;
            }
            Node::Pk(op, values) => self.lookup(&[], self.q.meta.pk_column, *op, values),
            Node::PkInJoin {
                table,
                source,
                target,
                owner,
            } => {
                let base = self.base();
                self.pass.column(base, self.q.meta.pk_column);
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

    /// Under a `NOT`, the first multi-valued path a comparison reads
    /// outside aggregates, and the index of its first multi-valued step.
    fn negated_many(&self, compare: &'q Compare) -> Option<(&'q [Join], usize)> {
        if !self.negated {
            return None;
        }
        let mut found = None;
        compare.paths(&mut |path, inside| {
            if found.is_none() && !inside {
                found = first_many(path).map(|k| (path, k));
            }
        });
        found
    }

    /// `alias.column IN (SELECT ...)`.
    fn in_query(&mut self, alias: Alias, column: &'static str, query: &'q Subquery) {
        self.pass.column(alias, column);
        self.pass.sql(" IN (");
        let q = Query::of_subquery(query);
        let inner = Select::at(&q, &mut *self.pass, self.level + 1);
        inner.one_column(query.item.as_ref(), false);
        self.pass.sql(")");
    }

    /// `left <op> right` between expressions.
    fn compare_exprs(&mut self, compare: &Compare) {
        let Compare { left, op, right } = compare;
        let right = |i: usize| {
            right
                .get(i)
                .cloned()
                .unwrap_or(ExprNode::Value(Value::String(None)))
        };
        let operator = match op {
            LookupOp::IsNull(null) => {
                self.expr(left);
                self.pass
                    .sql(if *null { " IS NULL" } else { " IS NOT NULL" });
                return;
            }
            LookupOp::In if compare.right.is_empty() => {
                self.pass.sql("1 = 0");
                return;
            }
            LookupOp::In => {
                self.expr(left);
                self.pass.sql(" IN (");
                for (i, value) in compare.right.iter().enumerate() {
                    if i > 0 {
                        self.pass.sql(", ");
                    }
                    self.expr(value);
                }
                self.pass.sql(")");
                return;
            }
            LookupOp::Range => {
                self.expr(left);
                self.pass.sql(" BETWEEN ");
                self.expr(&right(0));
                self.pass.sql(" AND ");
                self.expr(&right(1));
                return;
            }
            LookupOp::Ne => " <> ",
            LookupOp::Gt => " > ",
            LookupOp::Gte => " >= ",
            LookupOp::Lt => " < ",
            LookupOp::Lte => " <= ",
            // The text lookups are not offered on expressions.
            _ => " = ",
        };
        self.expr(left);
        self.pass.sql(operator);
        self.expr(&right(0));
    }

    /// One expression.
    fn expr(&mut self, expr: &ExprNode) {
        match expr {
            ExprNode::Column { path, column } => {
                if self.unqualified {
                    self.pass.ident(column);
                } else {
                    let alias = match self.redirect {
                        Some((redirected, alias)) if redirected == path.as_slice() => alias,
                        _ => self.alias(path),
                    };
                    self.pass.column(alias, column);
                }
            }
            ExprNode::Outer(column) => {
                let outer = Alias::BASE.at(self.level.saturating_sub(1));
                self.pass.column(outer, column);
            }
            ExprNode::Value(value) => self.pass.bind(value.clone()),
            ExprNode::Arith(left, op, right) => {
                self.pass.sql("(");
                self.expr(left);
                self.pass.sql(match op {
                    Arith::Add => " + ",
                    Arith::Sub => " - ",
                    Arith::Mul => " * ",
                    Arith::Div => " / ",
                });
                self.expr(right);
                self.pass.sql(")");
            }
            ExprNode::Aggregate(func, arg) => {
                let Some(arg) = arg else {
                    self.pass.sql("COUNT(*)");
                    return;
                };
                self.pass.sql(match func {
                    AggFunc::Count => "COUNT(",
                    AggFunc::CountDistinct => "COUNT(DISTINCT ",
                    AggFunc::Sum => "SUM(",
                    AggFunc::Avg => "AVG(",
                    AggFunc::Min => "MIN(",
                    AggFunc::Max => "MAX(",
                });
                // An aggregate reads the joins the filters kept.
                let scope = std::mem::replace(&mut self.scope, Scope::Any);
                self.expr(arg);
                self.scope = scope;
                self.pass.sql(")");
            }
            ExprNode::Part {
                part,
                source,
                arg,
                zone,
            } => self.date_part(*part, *source, arg, zone.0),
        }
    }

    /// A part of a date, a time or a date and time (the last read in
    /// `zone`, UTC when `None`), as an integer, or the date.
    ///
    /// ```text
    /// PostgreSQL: CAST(EXTRACT(YEAR FROM "t0"."created" AT TIME ZONE 'UTC') AS INTEGER)
    /// SQLite:     CAST(strftime('%Y', "t0"."created") AS INTEGER)
    /// ```
    fn date_part(
        &mut self,
        part: DatePart,
        source: SqlType,
        arg: &ExprNode,
        zone: Option<&'static tz::Zone>,
    ) {
        let zoned = source == SqlType::DateTime;
        if self.pass.backend() == Backend::Postgres {
            let local = |select: &mut Self| {
                select.expr(arg);
                if zoned {
                    select.pass.sql(" AT TIME ZONE ");
                    select.pass.sql(zone.map_or("'UTC'", |z| z.literal));
                }
            };
            if part == DatePart::Date {
                self.pass.sql("CAST(");
                local(self);
                self.pass.sql(" AS DATE)");
                return;
            }
            self.pass.sql("CAST(");
            if part == DatePart::Second {
                self.pass.sql("FLOOR(");
            }
            self.pass.sql(match part {
                DatePart::Year => "EXTRACT(YEAR FROM ",
                DatePart::Month => "EXTRACT(MONTH FROM ",
                DatePart::Day => "EXTRACT(DAY FROM ",
                DatePart::WeekDay => "EXTRACT(DOW FROM ",
                DatePart::Hour => "EXTRACT(HOUR FROM ",
                DatePart::Minute => "EXTRACT(MINUTE FROM ",
                DatePart::Second | DatePart::Date => "EXTRACT(SECOND FROM ",
            });
            local(self);
            self.pass.sql(if part == DatePart::Second {
                ")) AS INTEGER)"
            } else {
                ") AS INTEGER)"
            });
        } else {
            let local = |select: &mut Self| match zone {
                Some(zone) if zoned => {
                    select.pass.sql(zone.sqlite_before);
                    select.expr(arg);
                    select.pass.sql(tz::SQLITE_END);
                }
                _ => select.expr(arg),
            };
            if part == DatePart::Date {
                self.pass.sql("date(");
                local(self);
                self.pass.sql(")");
                return;
            }
            self.pass.sql(match part {
                DatePart::Year => "CAST(strftime('%Y', ",
                DatePart::Month => "CAST(strftime('%m', ",
                DatePart::Day => "CAST(strftime('%d', ",
                DatePart::WeekDay => "CAST(strftime('%w', ",
                DatePart::Hour => "CAST(strftime('%H', ",
                DatePart::Minute => "CAST(strftime('%M', ",
                DatePart::Second | DatePart::Date => "CAST(strftime('%S', ",
            });
            local(self);
            self.pass.sql(") AS INTEGER)");
        }
        if part == DatePart::WeekDay {
            // Django's week_day: 1 is Sunday.
            self.pass.sql(" + 1");
        }
    }

    fn lookup(&mut self, path: &[Join], column: &'static str, op: LookupOp, values: &[Value]) {
        let alias = self.alias(path);
        self.compare(alias, column, op, values);
    }

    /// `alias.column <op> values`.
    fn compare(&mut self, alias: Alias, column: &'static str, op: LookupOp, values: &[Value]) {
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
                let value = value(0);
                if self.pass.backend() == Backend::Sqlite
                    && let Value::String(Some(text)) = &value
                {
                    // SQLite's `LIKE` ignores ASCII case, as its `LOWER`
                    // does, and is faster (see `like`).
                    let pattern = like_pattern(text, false, false);
                    self.pass.column(alias, column);
                    self.pass.sql(" LIKE ");
                    self.pass.bind(pattern.into());
                    self.pass.sql(" ESCAPE '!'");
                    return;
                }
                self.pass.sql("LOWER(");
                self.pass.column(alias, column);
                self.pass.sql(") = LOWER(");
                self.pass.bind(value);
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

    /// The substring, prefix and suffix lookups, with the value's own
    /// wildcards escaped so that `%`, `_`, `*`, `?` and `[` in user input
    /// match literally.
    ///
    /// - PostgreSQL: `column LIKE pattern ESCAPE '!'`, both sides lowered
    ///   for the case-insensitive lookups.
    /// - SQLite: `LIKE` for the case-insensitive lookups, as Django sends
    ///   it: SQLite's `LIKE` ignores the case of ASCII letters (the same
    ///   folding as its `LOWER`, which knows only ASCII, so non-ASCII
    ///   letters match in their own case only, as in Django), and it is
    ///   about twice as fast as lowering both sides. The case-sensitive
    ///   lookups use `GLOB`, SQLite's case-sensitive match.
    fn like(&mut self, alias: Alias, column: &'static str, op: LookupOp, value: &Value) {
        let (any_prefix, any_suffix) = match op {
            LookupOp::StartsWith | LookupOp::IStartsWith => (false, true),
            LookupOp::EndsWith | LookupOp::IEndsWith => (true, false),
            _ => (true, true),
        };
        let text = match value {
            Value::String(Some(s)) => s.as_str(),
            _ => "",
        };
        let insensitive = matches!(
            op,
            LookupOp::IContains | LookupOp::IStartsWith | LookupOp::IEndsWith
        );
        match (self.pass.backend(), insensitive) {
            (Backend::Sqlite, false) => {
                self.pass.column(alias, column);
                self.pass.sql(" GLOB ");
                self.pass
                    .bind(glob_pattern(text, any_prefix, any_suffix).into());
            }
            (Backend::Sqlite, true) | (Backend::Postgres, false) => {
                self.pass.column(alias, column);
                self.pass.sql(" LIKE ");
                self.pass
                    .bind(like_pattern(text, any_prefix, any_suffix).into());
                self.pass.sql(" ESCAPE '!'");
            }
            (Backend::Postgres, true) => {
                self.pass.sql("LOWER(");
                self.pass.column(alias, column);
                self.pass.sql(") LIKE LOWER(");
                self.pass
                    .bind(like_pattern(text, any_prefix, any_suffix).into());
                self.pass.sql(") ESCAPE '!'");
            }
        }
    }

    /// `ORDER BY` the query set's sort keys, or the model's default
    /// ordering; nothing when there are none.
    fn order_by(&mut self) {
        match self.q.ordering {
            Some(keys) => {
                for (i, key) in keys.iter().enumerate() {
                    self.pass.sql(if i == 0 { " ORDER BY " } else { ", " });
                    match &key.expr {
                        Some(expr) => self.expr(expr),
                        None => {
                            let alias = self.alias(&key.path);
                            self.pass.column(alias, key.column);
                        }
                    }
                    self.pass.sql(if key.desc { " DESC" } else { " ASC" });
                    match key.nulls_first {
                        Some(true) => self.pass.sql(" NULLS FIRST"),
                        Some(false) => self.pass.sql(" NULLS LAST"),
                        None => {}
                    }
                }
            }
            None => {
                for (i, &(column, desc)) in self.q.meta.ordering.iter().enumerate() {
                    self.pass.sql(if i == 0 { " ORDER BY " } else { ", " });
                    let base = self.base();
                    self.pass.column(base, column);
                    self.pass.sql(if desc { " DESC" } else { " ASC" });
                }
            }
        }
    }

    /// `LIMIT ? OFFSET ?`; `LIMIT 1` when `exists`.
    fn limits(&mut self, exists: bool) {
        if !exists && !self.q.limited() {
            return;
        }
        let (limit, offset) = self.q.limits(self.pass.backend());
        let limit = if exists { Some(1) } else { limit };
        // Bound as BIGINT: no table holds more than `i64::MAX` rows, so a
        // larger limit or offset (a client's number, a saturated page
        // offset) means the same as `i64::MAX`, where binding the `u64`
        // itself would not fit the column type.
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        if let Some(limit) = limit {
            self.pass.sql(" LIMIT ");
            self.pass.bind(clamp(limit).into());
        }
        if let Some(offset) = offset {
            self.pass.sql(" OFFSET ");
            self.pass.bind(clamp(offset).into());
        }
    }

    /// Selected columns or aggregates, separated by commas.
    fn items<'i>(&mut self, items: impl IntoIterator<Item = &'i SelectItem>) {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.pass.sql(", ");
            }
            self.item(item);
        }
    }

    /// One selected column or aggregate.
    fn item(&mut self, item: &SelectItem) {
        // Keep the column's type: PostgreSQL widens SUM(int) to
        // bigint/numeric, AVG to numeric, and arithmetic on a bound value
        // to the value's type.
        let cast = matches!(
            item.expr,
            ExprNode::Aggregate(AggFunc::Sum | AggFunc::Avg, _) | ExprNode::Arith(..)
        );
        if cast {
            self.pass.sql("CAST(");
        }
        self.expr(&item.expr);
        if cast {
            self.pass.sql(" AS ");
            self.pass.type_name(item.sql_type);
            self.pass.sql(")");
        }
    }
}

/// What an `EXISTS` on a multi-valued relation tests on the related rows.
#[derive(Clone, Copy)]
enum Test<'q> {
    /// A lookup on a column of the last table.
    Lookup(&'static str, LookupOp, &'q [Value]),
    /// A comparison of expressions reading it.
    Compare(&'q Compare),
    /// A column of the last table `IN (SELECT ...)`.
    InQuery(&'static str, &'q Subquery),
}

/// Whether a `filter()` call's condition is on aggregates (`HAVING`).
fn having(node: &Node) -> bool {
    match node {
        Node::Compare(compare) => compare.aggregates(),
        Node::And(nodes) | Node::Or(nodes) => nodes.iter().any(having),
        Node::Not(inner) => having(inner),
        Node::Lookup(_)
        | Node::PkInJoin { .. }
        | Node::Pk(..)
        | Node::Exists(_)
        | Node::InQuery { .. } => false,
    }
}

/// The index of the first step of `path` that can reach several rows.
fn first_many(path: &[Join]) -> Option<usize> {
    path.iter().position(Join::many)
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
fn like_pattern(text: &str, any_prefix: bool, any_suffix: bool) -> String {
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

/// A SQLite `GLOB` pattern matching `text` literally (`*`, `?` and `[`
/// each in a one-character class), with `*` before and/or after.
fn glob_pattern(text: &str, any_prefix: bool, any_suffix: bool) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    if any_prefix {
        pattern.push('*');
    }
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                pattern.push('[');
                pattern.push(c);
                pattern.push(']');
            }
            _ => pattern.push(c),
        }
    }
    if any_suffix {
        pattern.push('*');
    }
    pattern
}

#[cfg(test)]
mod tests;
