//! Expressions: Django's `F()`, arithmetic, aggregates in conditions
//! (`HAVING`), date parts and subqueries.
//!
//! A [`Column`] compares with values (`Post::views.gt(10)`). To compare it
//! with another column or a computed value, start from an expression:
//! [`F`] wraps a column, and the comparison's right side may be a value, a
//! column, an aggregate or another expression.
//!
//! ```
//! use manouche::db::{Auto, Model, F};
//!
//! #[derive(Model)]
//! #[model(app = "docs")]
//! pub struct Company {
//!     pub id: Auto<i64>,
//!     pub num_employees: i32,
//!     pub num_chairs: i32,
//! }
//!
//! // Companies with more employees than chairs...
//! let crowded = Company::objects().filter(F(Company::num_employees).gt(Company::num_chairs));
//! // ... or than twice their chairs.
//! let packed = Company::objects().filter(F(Company::num_employees).gt(F(Company::num_chairs) * 2));
//! // One more chair for every employee, computed by the database:
//! let chairs = Company::num_chairs.set_expr(F(Company::num_employees) + 1);
//! # let _ = (crowded, packed, chairs);
//! ```
//!
//! An expression's type parameter is the value type it compares as (`i32`
//! above, whatever the column's nullability): the right side must be of the
//! same type, so `F(Company::num_employees).gt("ten")` does not compile.
//!
//! # Date parts and time zones
//!
//! `Post::created.year()`, `.month()`, `.day()`, `.week_day()`, `.hour()`,
//! `.minute()`, `.second()` and `.date()` are Django's `__year`, ...
//! lookups, compared with any operator (`.year().gte(2020)`). Every
//! [`DateTime`] is stored in UTC and its parts are read in UTC unless a
//! zone is named: `Post::created.in_zone(TimeZone::named("Europe/Paris")?).hour()`.
//! This differs on purpose from Django, which reads them in the *current*
//! time zone (`TIME_ZONE`, or one activated per request): a query here
//! says which zone it means, so the same query set gives the same rows
//! wherever it runs. Both backends give the same answers, summer time
//! included: PostgreSQL reads the zone with `AT TIME ZONE`; SQLite, which
//! has no zone database, gets the zone's UTC offsets from 1900 to 2100
//! (from the IANA database) written into the query.

use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Sub};

use sea_query::Value;

use super::QuerySet;
use super::lookup::{Column, Join, LookupOp, Node, OrderBy, Q};
use super::values::{AggFunc, SelectItem};
use crate::db::fields::{Date, DateTime, Decimal, Email, FieldType, Slug, SqlType, Time, Url};
use crate::db::model::{Model, ModelMeta};

/// Arithmetic between two expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// A part of a date or time, extracted in a time zone
/// ([`Column::year`], [`Column::date`], ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatePart {
    /// The year.
    Year,
    /// 1 to 12.
    Month,
    /// The day of the month, 1 to 31.
    Day,
    /// Django's `week_day`: 1 (Sunday) to 7 (Saturday).
    WeekDay,
    /// 0 to 23.
    Hour,
    /// 0 to 59.
    Minute,
    /// 0 to 59.
    Second,
    /// The date (of a date and time), in the time zone.
    Date,
}

/// A time zone date parts are extracted in: UTC, or a zone of the IANA
/// database by name (`"Europe/Paris"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(pub(crate) Option<&'static crate::db::tz::Zone>);

impl TimeZone {
    /// Coordinated Universal Time, in which every [`DateTime`] is stored.
    pub const UTC: Self = Self(None);

    /// The IANA time zone `name` (`"Europe/Paris"`, `"America/Chicago"`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`](crate::db::Error::InvalidValue) for a name
    /// the time zone database does not know.
    pub fn named(name: &str) -> crate::db::Result<Self> {
        crate::db::tz::Zone::named(name).map(|zone| Self(Some(zone)))
    }

    /// The zone's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.0.map_or("UTC", |zone| zone.name)
    }
}

/// One expression of a query, without its types.
#[derive(Debug, Clone)]
pub(crate) enum ExprNode {
    /// A column, possibly across relations.
    Column {
        path: Vec<Join>,
        column: &'static str,
    },
    /// A column of the query that encloses a subquery ([`OuterRef`]).
    Outer(&'static str),
    /// A bound value.
    Value(Value),
    /// `left <op> right`.
    Arith(Box<ExprNode>, Arith, Box<ExprNode>),
    /// An aggregate; `None` stands for `COUNT(*)`.
    Aggregate(AggFunc, Option<Box<ExprNode>>),
    /// A date part of a `Date`, `Time` or `DateTime` value.
    Part {
        part: DatePart,
        /// The type of `arg`: only a date and time has a time zone.
        source: SqlType,
        arg: Box<ExprNode>,
        zone: TimeZone,
    },
}

impl ExprNode {
    /// Whether the expression contains an aggregate (so that a condition
    /// on it goes to `HAVING`).
    pub(crate) fn aggregates(&self) -> bool {
        match self {
            Self::Aggregate(..) => true,
            Self::Arith(left, _, right) => left.aggregates() || right.aggregates(),
            Self::Part { arg, .. } => arg.aggregates(),
            Self::Column { .. } | Self::Outer(_) | Self::Value(_) => false,
        }
    }

    /// Calls `f` with the relation path of every column the expression
    /// reads, saying whether the column is inside an aggregate.
    pub(crate) fn paths<'q>(&'q self, inside: bool, f: &mut impl FnMut(&'q [Join], bool)) {
        match self {
            Self::Column { path, .. } => f(path, inside),
            Self::Arith(left, _, right) => {
                left.paths(inside, f);
                right.paths(inside, f);
            }
            Self::Aggregate(_, arg) => {
                if let Some(arg) = arg {
                    arg.paths(true, f);
                }
            }
            Self::Part { arg, .. } => arg.paths(inside, f),
            Self::Outer(_) | Self::Value(_) => {}
        }
    }

    /// Whether a column of the expression follows a relation.
    pub(crate) fn joins(&self) -> bool {
        let mut any = false;
        self.paths(false, &mut |path, _| any |= !path.is_empty());
        any
    }

    fn arith(self, op: Arith, right: Self) -> Self {
        Self::Arith(Box::new(self), op, Box::new(right))
    }
}

/// A comparison between two expressions (or one and a list, for `IN` and
/// `BETWEEN`).
#[derive(Debug, Clone)]
pub(crate) struct Compare {
    pub(crate) left: ExprNode,
    pub(crate) op: LookupOp,
    pub(crate) right: Vec<ExprNode>,
}

impl Compare {
    /// Whether the comparison belongs in `HAVING`.
    pub(crate) fn aggregates(&self) -> bool {
        self.left.aggregates() || self.right.iter().any(ExprNode::aggregates)
    }

    /// Calls `f` with every relation path the comparison reads.
    pub(crate) fn paths<'q>(&'q self, f: &mut impl FnMut(&'q [Join], bool)) {
        self.left.paths(false, f);
        for right in &self.right {
            right.paths(false, f);
        }
    }
}

/// A query set without its model type, for a subquery.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct Subquery {
    pub(crate) meta: &'static ModelMeta,
    pub(crate) filters: Vec<Node>,
    pub(crate) ordering: Option<Vec<OrderBy>>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) distinct: bool,
    /// What it selects: its primary key when `None`.
    pub(crate) item: Option<SelectItem>,
}

impl Subquery {
    fn of<N: Model>(qs: QuerySet<N>, item: Option<SelectItem>) -> Self {
        Self {
            meta: N::meta(),
            filters: qs.filters,
            ordering: qs.ordering,
            limit: qs.limit,
            offset: qs.offset,
            distinct: qs.distinct,
            item,
        }
    }
}

/// An expression of model `M` whose value compares as a `T`.
pub struct Expr<M, T> {
    pub(crate) node: ExprNode,
    _p: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Expr<M, T> {
    fn clone(&self) -> Self {
        Self::from_node(self.node.clone())
    }
}

impl<M, T> std::fmt::Debug for Expr<M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.node.fmt(f)
    }
}

impl<M, T> Expr<M, T> {
    pub(crate) const fn from_node(node: ExprNode) -> Self {
        Self {
            node,
            _p: PhantomData,
        }
    }
}

/// Django's `F()`: the value of `column` in each row, as an expression to
/// compare, compute with, or assign from. Follows relations like the
/// column does (`F(Book::author.then(Author::age))`).
#[allow(non_snake_case)]
#[must_use]
pub fn F<M, T: FieldType>(column: Column<M, T>) -> Expr<M, T::Inner> {
    Expr::from_node(ExprNode::Column {
        path: column.path,
        column: column.column,
    })
}

/// Django's `OuterRef()`: inside a subquery given to [`exists`] or
/// [`Column::in_query`], the column `column` of the row of the enclosing
/// query. `Book::objects().filter(F(Book::author).eq(OuterRef(Author::id)))`
/// keeps the books of each author row of the outer query.
///
/// It compares with any expression type (the databases compare the key of
/// a foreign key with the primary key it refers to); only a column of the
/// enclosing model itself, not one across relations, can be referred to.
pub struct OuterRef<O, T>(pub Column<O, T>);

impl<O, T> std::fmt::Debug for OuterRef<O, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OuterRef({})", self.0.field)
    }
}

/// Things an expression compares with or computes from: another
/// [`Expr`], a [`Column`], an [`Aggregate`](super::Aggregate), an
/// [`OuterRef`], or a value of the expression's type.
pub trait IntoExpr<M, T> {
    #[doc(hidden)]
    fn into_expr(self) -> Expr<M, T>;
}

impl<M, T> IntoExpr<M, T> for Expr<M, T> {
    fn into_expr(self) -> Self {
        self
    }
}

impl<M, U: FieldType> IntoExpr<M, U::Inner> for Column<M, U> {
    fn into_expr(self) -> Expr<M, U::Inner> {
        F(self)
    }
}

impl<M, T, O, U> IntoExpr<M, T> for OuterRef<O, U> {
    fn into_expr(self) -> Expr<M, T> {
        Expr::from_node(ExprNode::Outer(self.0.column))
    }
}

macro_rules! value_expr {
    ($($ty:ty),*) => {$(
        impl<M> IntoExpr<M, $ty> for $ty {
            fn into_expr(self) -> Expr<M, $ty> {
                Expr::from_node(ExprNode::Value(self.to_value()))
            }
        }
    )*};
}

value_expr!(
    bool,
    i16,
    i32,
    i64,
    f64,
    Decimal,
    String,
    Date,
    Time,
    DateTime,
    uuid::Uuid,
    Email,
    Url,
    Slug
);

impl<M> IntoExpr<M, String> for &str {
    fn into_expr(self) -> Expr<M, String> {
        Expr::from_node(ExprNode::Value(Value::String(Some(Box::new(
            self.to_owned(),
        )))))
    }
}

impl<M, T> Expr<M, T> {
    fn compare(self, op: LookupOp, right: Vec<ExprNode>) -> Q<M> {
        Q::from_node(Node::Compare(Box::new(Compare {
            left: self.node,
            op,
            right,
        })))
    }

    fn compare_one(self, op: LookupOp, right: impl IntoExpr<M, T>) -> Q<M> {
        let right = right.into_expr().node;
        self.compare(op, vec![right])
    }

    /// `= right`.
    #[must_use]
    pub fn eq(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Exact, right)
    }

    /// `<> right`.
    #[must_use]
    pub fn ne(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Ne, right)
    }

    /// `> right`.
    #[must_use]
    pub fn gt(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Gt, right)
    }

    /// `>= right`.
    #[must_use]
    pub fn gte(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Gte, right)
    }

    /// `< right`.
    #[must_use]
    pub fn lt(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Lt, right)
    }

    /// `<= right`.
    #[must_use]
    pub fn lte(self, right: impl IntoExpr<M, T>) -> Q<M> {
        self.compare_one(LookupOp::Lte, right)
    }

    /// `IN (...)`; an empty list matches nothing.
    #[must_use]
    pub fn in_<V: IntoExpr<M, T>>(self, values: impl IntoIterator<Item = V>) -> Q<M> {
        let right = values.into_iter().map(|v| v.into_expr().node).collect();
        self.compare(LookupOp::In, right)
    }

    /// `BETWEEN low AND high` (inclusive).
    #[must_use]
    pub fn range(self, low: impl IntoExpr<M, T>, high: impl IntoExpr<M, T>) -> Q<M> {
        let right = vec![low.into_expr().node, high.into_expr().node];
        self.compare(LookupOp::Range, right)
    }

    /// `IS NULL` (`true`) or `IS NOT NULL` (`false`).
    #[must_use]
    pub fn isnull(self, is_null: bool) -> Q<M> {
        self.compare(LookupOp::IsNull(is_null), Vec::new())
    }

    /// Ascending sort key.
    #[must_use]
    pub fn asc(self) -> OrderBy {
        OrderBy::expr(self.node, false)
    }

    /// Descending sort key.
    #[must_use]
    pub fn desc(self) -> OrderBy {
        OrderBy::expr(self.node, true)
    }
}

macro_rules! arithmetic {
    ($($trait:ident $method:ident $op:ident;)*) => {$(
        impl<M, T: super::Numeric, R: IntoExpr<M, T>> $trait<R> for Expr<M, T> {
            type Output = Expr<M, T>;
            fn $method(self, right: R) -> Expr<M, T> {
                Expr::from_node(self.node.arith(Arith::$op, right.into_expr().node))
            }
        }

        impl<M, U: FieldType, R: IntoExpr<M, U::Inner>> $trait<R> for Column<M, U>
        where
            U::Inner: super::Numeric,
        {
            type Output = Expr<M, U::Inner>;
            fn $method(self, right: R) -> Expr<M, U::Inner> {
                F(self).$method(right)
            }
        }
    )*};
}

arithmetic! {
    Add add Add;
    Sub sub Sub;
    Mul mul Mul;
    Div div Div;
}

/// `part` of the column at `path`/`column`, of type `source`, read in `zone`.
fn date_part<M, O>(
    path: &[Join],
    column: &'static str,
    source: SqlType,
    part: DatePart,
    zone: TimeZone,
) -> Expr<M, O> {
    Expr::from_node(ExprNode::Part {
        part,
        source,
        arg: Box::new(ExprNode::Column {
            path: path.to_vec(),
            column,
        }),
        zone,
    })
}

/// Types that hold a date: [`Date`] and [`DateTime`].
pub trait HasDate: FieldType {}
impl HasDate for Date {}
impl HasDate for DateTime {}

/// Types that hold a time of day: [`Time`] and [`DateTime`].
pub trait HasTime: FieldType {}
impl HasTime for Time {}
impl HasTime for DateTime {}

impl<M, T: FieldType> Column<M, T> {
    fn part<O>(&self, part: DatePart, zone: TimeZone) -> Expr<M, O> {
        date_part(&self.path, self.column, T::SQL_TYPE, part, zone)
    }
}

impl<M, T: FieldType> Column<M, T>
where
    T::Inner: HasDate,
{
    /// Django's `__year`: `Post::created.year().gte(2020)`. A date and time
    /// is read in UTC; [`in_zone`](Self::in_zone) reads it in another zone.
    #[must_use]
    pub fn year(&self) -> Expr<M, i32> {
        self.part(DatePart::Year, TimeZone::UTC)
    }

    /// Django's `__month` (1 to 12).
    #[must_use]
    pub fn month(&self) -> Expr<M, i32> {
        self.part(DatePart::Month, TimeZone::UTC)
    }

    /// Django's `__day`: the day of the month.
    #[must_use]
    pub fn day(&self) -> Expr<M, i32> {
        self.part(DatePart::Day, TimeZone::UTC)
    }

    /// Django's `__week_day`: 1 (Sunday) to 7 (Saturday).
    #[must_use]
    pub fn week_day(&self) -> Expr<M, i32> {
        self.part(DatePart::WeekDay, TimeZone::UTC)
    }
}

impl<M, T: FieldType> Column<M, T>
where
    T::Inner: HasTime,
{
    /// Django's `__hour` (0 to 23).
    #[must_use]
    pub fn hour(&self) -> Expr<M, i32> {
        self.part(DatePart::Hour, TimeZone::UTC)
    }

    /// Django's `__minute`.
    #[must_use]
    pub fn minute(&self) -> Expr<M, i32> {
        self.part(DatePart::Minute, TimeZone::UTC)
    }

    /// Django's `__second`.
    #[must_use]
    pub fn second(&self) -> Expr<M, i32> {
        self.part(DatePart::Second, TimeZone::UTC)
    }
}

impl<M, T: FieldType<Inner = DateTime>> Column<M, T> {
    /// Django's `__date`: the date of a date and time, in UTC.
    #[must_use]
    pub fn date(&self) -> Expr<M, Date> {
        self.part(DatePart::Date, TimeZone::UTC)
    }

    /// The date parts of this date and time read in `zone`, as Django reads
    /// them in the current time zone: `Post::created.in_zone(paris).hour()`.
    #[must_use]
    pub fn in_zone(&self, zone: TimeZone) -> Zoned<M> {
        Zoned {
            path: self.path.clone(),
            column: self.column,
            zone,
            _p: PhantomData,
        }
    }
}

/// A date-and-time column read in a time zone; see [`Column::in_zone`].
pub struct Zoned<M> {
    path: Vec<Join>,
    column: &'static str,
    zone: TimeZone,
    _p: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for Zoned<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Zoned({} in {})", self.column, self.zone.name())
    }
}

impl<M> Zoned<M> {
    fn part<O>(&self, part: DatePart) -> Expr<M, O> {
        date_part(&self.path, self.column, SqlType::DateTime, part, self.zone)
    }

    /// The year in the zone.
    #[must_use]
    pub fn year(&self) -> Expr<M, i32> {
        self.part(DatePart::Year)
    }

    /// The month in the zone (1 to 12).
    #[must_use]
    pub fn month(&self) -> Expr<M, i32> {
        self.part(DatePart::Month)
    }

    /// The day of the month in the zone.
    #[must_use]
    pub fn day(&self) -> Expr<M, i32> {
        self.part(DatePart::Day)
    }

    /// The day of the week in the zone: 1 (Sunday) to 7 (Saturday).
    #[must_use]
    pub fn week_day(&self) -> Expr<M, i32> {
        self.part(DatePart::WeekDay)
    }

    /// The hour in the zone (0 to 23).
    #[must_use]
    pub fn hour(&self) -> Expr<M, i32> {
        self.part(DatePart::Hour)
    }

    /// The minute in the zone.
    #[must_use]
    pub fn minute(&self) -> Expr<M, i32> {
        self.part(DatePart::Minute)
    }

    /// The second in the zone.
    #[must_use]
    pub fn second(&self) -> Expr<M, i32> {
        self.part(DatePart::Second)
    }

    /// The date in the zone.
    #[must_use]
    pub fn date(&self) -> Expr<M, Date> {
        self.part(DatePart::Date)
    }
}

/// Django's `Exists()`: whether the subquery `qs` returns a row, usually
/// correlated with the enclosing row through [`OuterRef`]:
///
/// ```
/// use manouche::db::{Auto, ForeignKey, Model, F, OuterRef, exists};
///
/// #[derive(Model)]
/// #[model(app = "docs")]
/// pub struct Author { pub id: Auto<i64>, pub name: String }
///
/// #[derive(Model)]
/// #[model(app = "docs")]
/// pub struct Book { pub id: Auto<i64>, pub author: ForeignKey<Author>, pub rating: i32 }
///
/// // Authors with at least one book rated above 4.
/// let good = Author::objects().filter(exists(
///     Book::objects().filter(F(Book::author).eq(OuterRef(Author::id)) & Book::rating.gt(4)),
/// ));
/// # let _ = good;
/// ```
#[must_use]
pub fn exists<M, N: Model>(qs: QuerySet<N>) -> Q<M> {
    Q::from_node(Node::Exists(Box::new(Subquery::of(qs, None))))
}

/// What [`Column::in_query`] accepts: a query set (its primary keys) or a
/// [`values`](QuerySet::values) query of one column.
pub trait IntoSubquery<T> {
    #[doc(hidden)]
    fn into_subquery(self) -> Box<Subquery>;
}

impl<N: Model, T> IntoSubquery<T> for QuerySet<N> {
    fn into_subquery(self) -> Box<Subquery> {
        Box::new(Subquery::of(self, None))
    }
}

/// The column's type is not checked against the compared one: a foreign
/// key compares with the primary key it refers to.
impl<N: Model, U: FieldType, T> IntoSubquery<T> for super::ValuesQuery<N, Column<N, U>> {
    fn into_subquery(self) -> Box<Subquery> {
        let item = super::values::Selectable::<N>::item(&self.selection);
        Box::new(Subquery::of(self.qs, Some(item)))
    }
}

impl<M, T: FieldType> Column<M, T> {
    /// Django's `__in` with a query set: `IN (SELECT ...)`, run by the
    /// database as part of this query (the keys are not fetched first).
    /// `Book::author.in_query(Author::objects().filter(Author::name.startswith("A")))`
    /// compares with the authors' primary keys;
    /// `in_query(Author::objects().values(Author::id))` names the column.
    #[must_use]
    pub fn in_query(&self, query: impl IntoSubquery<T::Inner>) -> Q<M> {
        Q::from_node(Node::InQuery {
            path: self.path.clone(),
            column: self.column,
            query: query.into_subquery(),
        })
    }

    /// `SET column = expression`, computed by the database for each row, for
    /// [`QuerySet::update`]: `Company::num_chairs.set_expr(F(Company::num_employees) + 2)`.
    /// The expression may read the row's own columns only (an `UPDATE`
    /// cannot join).
    #[must_use]
    pub fn set_expr(&self, expr: impl IntoExpr<M, T::Inner>) -> super::Assignment<M> {
        super::Assignment::new(self.column, expr.into_expr().node)
    }
}
