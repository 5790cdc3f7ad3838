//! Typed column handles, lookups and Q-expressions.

use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr, Not};

use sea_query::Value;

use crate::db::fields::{Email, FieldType, Slug, Url};
use crate::db::model::{Model, ModelMeta};
use crate::db::relations::RelationField;

/// How one step of a relation path joins the next table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinOn {
    /// `target.target_column = parent.parent_column` (foreign keys, both ways).
    Columns {
        parent_column: &'static str,
        target_column: &'static str,
    },
    /// Through a join table: `j.source = parent.pk`, `target.pk = j.target`.
    Table {
        table: &'static str,
        source: &'static str,
        target: &'static str,
        parent_pk: &'static str,
    },
    /// A relation whose definition is broken (reported when built): matches
    /// nothing.
    Invalid,
}

/// One step of a relation path, from a model to a related one.
#[derive(Debug, Clone, Copy)]
pub struct Join {
    pub(crate) field: &'static str,
    pub(crate) on: JoinOn,
    pub(crate) target: fn() -> &'static ModelMeta,
}

impl Join {
    /// Whether the step can reach several rows (a many-to-many relation or
    /// the reverse side of a foreign key), which makes each `filter()` call
    /// join it on its own and `exclude()` test it with a subquery.
    pub(crate) fn many(&self) -> bool {
        match self.on {
            JoinOn::Table { .. } => true,
            // A foreign key joins the target's primary key; its reverse side
            // joins the target's foreign key column.
            JoinOn::Columns { target_column, .. } => target_column != (self.target)().pk_column,
            JoinOn::Invalid => false,
        }
    }
}

impl PartialEq for Join {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field
            && self.on == other.on
            && (self.target)().table == (other.target)().table
    }
}

impl<M, T> Column<M, T> {
    pub(crate) fn through(join: Join, column: Column<impl Sized, T>) -> Self {
        let mut path = vec![join];
        path.extend(column.path);
        Column {
            field: column.field,
            column: column.column,
            path,
            _p: PhantomData,
        }
    }
}

/// A typed handle on a column of model `M` holding `T`, possibly reached
/// through relations (`Article::author.then(User::name)`).
///
/// The derive generates one per field as an associated constant
/// (`Article::title`).
pub struct Column<M, T> {
    pub(crate) field: &'static str,
    pub(crate) column: &'static str,
    pub(crate) path: Vec<Join>,
    _p: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Column<M, T> {
    fn clone(&self) -> Self {
        Self {
            field: self.field,
            column: self.column,
            path: self.path.clone(),
            _p: PhantomData,
        }
    }
}

impl<M, T> std::fmt::Debug for Column<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Column({})", self.field)
    }
}

/// Types compared with the text lookups (`contains`, `startswith`, ...).
pub trait Textual: FieldType {}
impl Textual for String {}
impl Textual for Email {}
impl Textual for Url {}
impl Textual for Slug {}

/// The comparison a lookup makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookupOp {
    /// `=` (or `IS NULL` for a null value).
    Exact,
    /// Case-insensitive `=`.
    IExact,
    /// `<>`.
    Ne,
    /// Substring, case-sensitive.
    Contains,
    /// Substring, case-insensitive.
    IContains,
    /// Prefix, case-sensitive.
    StartsWith,
    /// Prefix, case-insensitive.
    IStartsWith,
    /// Suffix, case-sensitive.
    EndsWith,
    /// Suffix, case-insensitive.
    IEndsWith,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
    /// `IN (...)`.
    In,
    /// `BETWEEN a AND b`.
    Range,
    /// `IS NULL` (value `true`) or `IS NOT NULL`.
    IsNull(bool),
}

/// One condition on one column.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub(crate) path: Vec<Join>,
    pub(crate) column: &'static str,
    pub(crate) op: LookupOp,
    pub(crate) values: Vec<Value>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Lookup(Lookup),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// `pk IN (SELECT target FROM join_table WHERE source = owner)`.
    PkInJoin {
        table: &'static str,
        source: &'static str,
        target: &'static str,
        owner: Value,
    },
    /// Compare the primary key (column resolved at compile time).
    Pk(LookupOp, Vec<Value>),
    /// A comparison of expressions ([`F`](super::F), aggregates, date parts).
    Compare(Box<super::expr::Compare>),
    /// `EXISTS (subquery)`.
    Exists(Box<super::expr::Subquery>),
    /// `column IN (subquery)`.
    InQuery {
        path: Vec<Join>,
        column: &'static str,
        query: Box<super::expr::Subquery>,
    },
}

/// A condition on rows of `M`; combine with `&`, `|` and `!`.
///
/// ```
/// use manouche::db::{Auto, Model};
///
/// #[derive(Model)]
/// #[model(app = "docs")]
/// pub struct Post { pub id: Auto<i64>, pub title: String, pub views: i64 }
///
/// let q = Post::title.icontains("rust") & !(Post::views.lt(10) | Post::views.gt(1000));
/// let _ = Post::objects().filter(q);
/// ```
pub struct Q<M> {
    pub(crate) node: Node,
    _p: PhantomData<fn() -> M>,
}

impl<M> Clone for Q<M> {
    fn clone(&self) -> Self {
        Self::from_node(self.node.clone())
    }
}

impl<M> std::fmt::Debug for Q<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.node.fmt(f)
    }
}

impl<M> Q<M> {
    pub(crate) fn from_node(node: Node) -> Self {
        Self {
            node,
            _p: PhantomData,
        }
    }

    pub(crate) fn pk_eq(value: Value) -> Self {
        Self::from_node(Node::Pk(LookupOp::Exact, vec![value]))
    }

    pub(crate) fn column_eq(column: &'static str, value: Value) -> Self {
        Self::from_node(Node::Lookup(Lookup {
            path: Vec::new(),
            column,
            op: LookupOp::Exact,
            values: vec![value],
        }))
    }

    pub(crate) fn column_in(column: &'static str, values: Vec<Value>) -> Self {
        Self::from_node(Node::Lookup(Lookup {
            path: Vec::new(),
            column,
            op: LookupOp::In,
            values,
        }))
    }

    pub(crate) fn pk_in_join(
        table: &'static str,
        source: &'static str,
        target: &'static str,
        owner: Value,
    ) -> Self {
        Self::from_node(Node::PkInJoin {
            table,
            source,
            target,
            owner,
        })
    }

    /// A condition every row matches.
    #[must_use]
    pub fn all() -> Self {
        Self::from_node(Node::And(Vec::new()))
    }

    /// A condition no row matches.
    #[must_use]
    pub fn none() -> Self {
        Self::from_node(Node::Or(Vec::new()))
    }
}

impl<M: Model> Q<M> {
    /// A lookup on a field named at run time by the project's code (the
    /// admin's `list_filter`, a paginator's keys), with its value given as
    /// text and parsed for the field's type:
    /// `Q::<Article>::named("published", LookupOp::Exact, "true")`. Every
    /// field can be named: for names from a query string, go through a
    /// [`FilterSet`](super::FilterSet), which allows only the fields it
    /// lists.
    /// The name is a column field of the model, or a path through its
    /// relations as in Django (`"author__username"`, `"tags__name"`; see
    /// [`ModelMeta::resolve_path`]); the value is bound. Through a
    /// many-to-many or reverse relation, a row matching several related
    /// rows comes once per match, as with `then`: add `distinct()`.
    /// For `In`, the text is a comma-separated list; for `Range`, two values
    /// separated by a comma; for `IsNull`, the op's flag decides and the text
    /// is ignored.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`](crate::db::Error::UnknownField) for a name that
    /// is not a field, [`Error::InvalidValue`](crate::db::Error::InvalidValue)
    /// for text the field's type cannot hold or a text lookup on a non-text
    /// field.
    pub fn named(field: &str, op: LookupOp, text: &str) -> crate::db::Result<Self> {
        use crate::db::fields::SqlType;
        let resolved = M::meta().resolve_path(field)?;
        let path = resolved.joins()?;
        let meta = resolved.field;
        let column = meta.column.unwrap_or_default();
        let invalid = |message: String| crate::db::Error::InvalidValue {
            field: meta.name.to_owned(),
            message,
        };
        let parse = |t: &str| meta.sql_type.parse(t).map_err(|e| invalid(e.0));
        let textual = matches!(
            op,
            LookupOp::IExact
                | LookupOp::Contains
                | LookupOp::IContains
                | LookupOp::StartsWith
                | LookupOp::IStartsWith
                | LookupOp::EndsWith
                | LookupOp::IEndsWith
        );
        if textual && meta.sql_type != SqlType::String {
            return Err(invalid("text lookups apply only to text fields".to_owned()));
        }
        let values = match op {
            LookupOp::IsNull(_) => Vec::new(),
            LookupOp::In => text
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(parse)
                .collect::<Result<_, _>>()?,
            LookupOp::Range => {
                let (low, high) = text
                    .split_once(',')
                    .ok_or_else(|| invalid("a range needs two values: `low,high`".to_owned()))?;
                vec![parse(low)?, parse(high)?]
            }
            _ => vec![parse(text)?],
        };
        Ok(Self::from_node(Node::Lookup(Lookup {
            path,
            column,
            op,
            values,
        })))
    }
}

impl<M> BitAnd for Q<M> {
    type Output = Q<M>;
    fn bitand(self, rhs: Self) -> Self {
        Self::from_node(Node::And(vec![self.node, rhs.node]))
    }
}

impl<M> BitOr for Q<M> {
    type Output = Q<M>;
    fn bitor(self, rhs: Self) -> Self {
        Self::from_node(Node::Or(vec![self.node, rhs.node]))
    }
}

impl<M> Not for Q<M> {
    type Output = Q<M>;
    fn not(self) -> Self {
        Self::from_node(Node::Not(Box::new(self.node)))
    }
}

/// A sort key; build with [`Column::asc`] / [`Column::desc`] (or an
/// expression's), then [`nulls_first`](Self::nulls_first) /
/// [`nulls_last`](Self::nulls_last) to place the NULLs.
///
/// Without either, the databases differ: SQLite sorts NULL before every
/// value (first when ascending, last when descending), PostgreSQL after
/// every value (last when ascending, first when descending). Django leaves
/// this to the database too.
#[derive(Debug, Clone)]
pub struct OrderBy {
    pub(crate) path: Vec<Join>,
    pub(crate) column: &'static str,
    pub(crate) desc: bool,
    /// `Some(true)` for `NULLS FIRST`, `Some(false)` for `NULLS LAST`.
    pub(crate) nulls_first: Option<bool>,
    /// An expression to sort by instead of the column.
    pub(crate) expr: Option<Box<super::expr::ExprNode>>,
}

impl OrderBy {
    /// A sort key on a column.
    pub(crate) fn column(path: Vec<Join>, column: &'static str, desc: bool) -> Self {
        Self {
            path,
            column,
            desc,
            nulls_first: None,
            expr: None,
        }
    }

    /// A sort key on an expression.
    pub(crate) fn expr(expr: super::expr::ExprNode, desc: bool) -> Self {
        Self {
            path: Vec::new(),
            column: "",
            desc,
            nulls_first: None,
            expr: Some(Box::new(expr)),
        }
    }

    /// NULLs before every value (`NULLS FIRST`), on both databases.
    #[must_use]
    pub fn nulls_first(mut self) -> Self {
        self.nulls_first = Some(true);
        self
    }

    /// NULLs after every value (`NULLS LAST`), on both databases.
    #[must_use]
    pub fn nulls_last(mut self) -> Self {
        self.nulls_first = Some(false);
        self
    }

    /// The opposite order, NULLs placed the other way round too (Django's
    /// `reverse()`).
    #[must_use]
    pub(crate) fn reversed(mut self) -> Self {
        self.desc = !self.desc;
        self.nulls_first = self.nulls_first.map(|first| !first);
        self
    }

    /// Whether the key is a plain column (not an expression, NULLs placed
    /// by the database): what a keyset paginator can seek on.
    pub(crate) fn is_plain(&self) -> bool {
        self.expr.is_none() && self.nulls_first.is_none()
    }
}

/// `SET column = value` in a query set [`update`](super::QuerySet::update).
#[derive(Debug, Clone)]
pub struct Assignment<M> {
    pub(crate) column: &'static str,
    pub(crate) value: super::expr::ExprNode,
    _p: PhantomData<fn() -> M>,
}

impl<M> Assignment<M> {
    pub(crate) fn new(column: &'static str, value: super::expr::ExprNode) -> Self {
        Self {
            column,
            value,
            _p: PhantomData,
        }
    }
}

/// Numeric field types, for [`Column::increment`].
pub trait Numeric: FieldType {}
impl Numeric for i16 {}
impl Numeric for i32 {}
impl Numeric for i64 {}
impl Numeric for f64 {}
impl Numeric for crate::db::fields::Decimal {}

impl<M, T> Column<M, T> {
    #[doc(hidden)]
    pub const fn __new(field: &'static str, column: &'static str) -> Self {
        Self {
            field,
            column,
            path: Vec::new(),
            _p: PhantomData,
        }
    }

    /// The Rust field name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.field
    }

    fn lookup(&self, op: LookupOp, values: Vec<Value>) -> Q<M> {
        Q::from_node(Node::Lookup(Lookup {
            path: self.path.clone(),
            column: self.column,
            op,
            values,
        }))
    }

    /// Ascending sort key.
    #[must_use]
    pub fn asc(&self) -> OrderBy {
        OrderBy::column(self.path.clone(), self.column, false)
    }

    /// Descending sort key.
    #[must_use]
    pub fn desc(&self) -> OrderBy {
        OrderBy::column(self.path.clone(), self.column, true)
    }

    /// `IS NULL` (`true`) or `IS NOT NULL` (`false`).
    #[must_use]
    pub fn isnull(&self, is_null: bool) -> Q<M> {
        self.lookup(LookupOp::IsNull(is_null), Vec::new())
    }
}

impl<M, T: FieldType> Column<M, T> {
    /// `= value`.
    #[must_use]
    pub fn eq(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Exact, vec![value.into().to_value()])
    }

    /// `<> value`.
    #[must_use]
    pub fn ne(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Ne, vec![value.into().to_value()])
    }

    /// `> value`.
    #[must_use]
    pub fn gt(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Gt, vec![value.into().to_value()])
    }

    /// `>= value`.
    #[must_use]
    pub fn gte(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Gte, vec![value.into().to_value()])
    }

    /// `< value`.
    #[must_use]
    pub fn lt(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Lt, vec![value.into().to_value()])
    }

    /// `<= value`.
    #[must_use]
    pub fn lte(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(LookupOp::Lte, vec![value.into().to_value()])
    }

    /// `IN (values...)`; an empty list matches nothing.
    #[must_use]
    pub fn in_<V: Into<T::Inner>>(&self, values: impl IntoIterator<Item = V>) -> Q<M> {
        self.lookup(
            LookupOp::In,
            values.into_iter().map(|v| v.into().to_value()).collect(),
        )
    }

    /// `BETWEEN low AND high` (inclusive).
    #[must_use]
    pub fn range(&self, low: impl Into<T::Inner>, high: impl Into<T::Inner>) -> Q<M> {
        self.lookup(
            LookupOp::Range,
            vec![low.into().to_value(), high.into().to_value()],
        )
    }

    /// `SET column = value`, for [`QuerySet::update`](super::QuerySet::update).
    #[must_use]
    pub fn set(&self, value: impl Into<T>) -> Assignment<M> {
        Assignment::new(
            self.column,
            super::expr::ExprNode::Value(value.into().to_value()),
        )
    }
}

impl<M, T: FieldType> Column<M, T>
where
    T::Inner: Numeric,
{
    /// `SET column = column + by`, computed by the database (no lost
    /// updates under concurrency), for [`QuerySet::update`](super::QuerySet::update).
    /// Use a negative `by` to decrement.
    #[must_use]
    pub fn increment(&self, by: impl Into<T::Inner>) -> Assignment<M> {
        use super::expr::{Arith, ExprNode};
        let current = ExprNode::Column {
            path: Vec::new(),
            column: self.column,
        };
        Assignment::new(
            self.column,
            ExprNode::Arith(
                Box::new(current),
                Arith::Add,
                Box::new(ExprNode::Value(by.into().to_value())),
            ),
        )
    }
}

impl<M, T: FieldType> Column<M, T>
where
    T::Inner: Textual,
{
    fn text(&self, op: LookupOp, value: impl Into<T::Inner>) -> Q<M> {
        self.lookup(op, vec![value.into().to_value()])
    }

    /// Case-insensitive `=`.
    #[must_use]
    pub fn iexact(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::IExact, value)
    }

    /// Contains `value` (case-sensitive).
    #[must_use]
    pub fn contains(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::Contains, value)
    }

    /// Contains `value`, ignoring case.
    #[must_use]
    pub fn icontains(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::IContains, value)
    }

    /// Starts with `value` (case-sensitive).
    #[must_use]
    pub fn startswith(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::StartsWith, value)
    }

    /// Starts with `value`, ignoring case.
    #[must_use]
    pub fn istartswith(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::IStartsWith, value)
    }

    /// Ends with `value` (case-sensitive).
    #[must_use]
    pub fn endswith(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::EndsWith, value)
    }

    /// Ends with `value`, ignoring case.
    #[must_use]
    pub fn iendswith(&self, value: impl Into<T::Inner>) -> Q<M> {
        self.text(LookupOp::IEndsWith, value)
    }
}

impl<M, T: RelationField> Column<M, T> {
    /// Follows the relation to a column of the related model:
    /// `Article::author.then(User::name).eq("ada")` filters across the join.
    #[must_use]
    pub fn then<U>(&self, column: Column<T::Target, U>) -> Column<M, U> {
        let mut path = self.path.clone();
        path.push(self.join());
        path.extend(column.path);
        Column {
            field: column.field,
            column: column.column,
            path,
            _p: PhantomData,
        }
    }

    pub(crate) fn join(&self) -> Join {
        Join {
            field: self.field,
            on: JoinOn::Columns {
                parent_column: self.column,
                target_column: <T::Target as Model>::meta().pk_column,
            },
            target: <T::Target as Model>::meta,
        }
    }
}

/// Whether at most one row can match `filters` (AND-ed): one of them is an
/// `exact` comparison of a unique column of the model itself with a value
/// that is not `NULL`, and none follows a relation (a join through a
/// to-many relation repeats rows). `get` then reads one row instead of
/// asking for a second one to prove there is none.
pub(crate) fn at_most_one_row(filters: &[Node], meta: &ModelMeta) -> bool {
    fn joins(node: &Node) -> bool {
        match node {
            Node::Lookup(lookup) => !lookup.path.is_empty(),
            Node::And(nodes) | Node::Or(nodes) => nodes.iter().any(joins),
            Node::Not(node) => joins(node),
            Node::Compare(compare) => {
                compare.left.joins() || compare.right.iter().any(super::expr::ExprNode::joins)
            }
            Node::InQuery { path, .. } => !path.is_empty(),
            Node::PkInJoin { .. } | Node::Pk(..) | Node::Exists(_) => false,
        }
    }
    fn one_value(values: &[Value]) -> bool {
        matches!(values, [value] if !crate::db::sql::compiler::is_null(value))
    }
    fn pins(node: &Node, meta: &ModelMeta) -> bool {
        match node {
            Node::Lookup(lookup) => {
                lookup.op == LookupOp::Exact
                    && lookup.path.is_empty()
                    && one_value(&lookup.values)
                    && meta.column_fields().any(|field| {
                        field.column == Some(lookup.column) && (field.primary_key || field.unique)
                    })
            }
            Node::Pk(LookupOp::Exact, values) => one_value(values),
            Node::And(nodes) => nodes.iter().any(|node| pins(node, meta)),
            Node::Or(_)
            | Node::Not(_)
            | Node::PkInJoin { .. }
            | Node::Pk(..)
            | Node::Compare(_)
            | Node::Exists(_)
            | Node::InQuery { .. } => false,
        }
    }
    !filters.iter().any(joins) && filters.iter().any(|node| pins(node, meta))
}
