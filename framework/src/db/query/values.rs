//! Selected columns and aggregates (`values`, `sum`, grouped counts).

use std::marker::PhantomData;

use crate::db::Result;
use crate::db::executor::Row;
use crate::db::fields::{FieldType, SqlType};

use super::expr::{Expr, ExprNode, IntoExpr};
use super::lookup::{Column, OrderBy, Q};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

/// One selected expression.
#[derive(Debug, Clone)]
pub struct SelectItem {
    pub(crate) expr: ExprNode,
    pub(crate) sql_type: SqlType,
}

impl SelectItem {
    /// Whether the item aggregates rows (so that the others group them).
    pub(crate) fn aggregates(&self) -> bool {
        self.expr.aggregates()
    }
}

/// Something a [`values`](super::QuerySet::values) query can select: a
/// [`Column`] or an [`Aggregate`].
pub trait Selectable<M> {
    /// The decoded Rust value.
    type Output;
    #[doc(hidden)]
    fn item(&self) -> SelectItem;
    #[doc(hidden)]
    fn decode(row: &Row, idx: usize) -> Result<Self::Output>;
}

/// A whole selection: one [`Selectable`] or a tuple of up to six.
pub trait Selection<M> {
    /// The decoded row.
    type Output;
    #[doc(hidden)]
    fn items(&self) -> Vec<SelectItem>;
    #[doc(hidden)]
    /// Decodes the selection from the row's columns starting at `start`.
    fn decode(row: &Row, start: usize) -> Result<Self::Output>;
}

impl<M, T: FieldType> Selectable<M> for Column<M, T> {
    type Output = T;
    fn item(&self) -> SelectItem {
        SelectItem {
            expr: ExprNode::Column {
                path: self.path.clone(),
                column: self.column,
            },
            sql_type: T::SQL_TYPE,
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<T> {
        T::decode(row, idx)
    }
}

/// An aggregate over a column (`COUNT`, `SUM`, `AVG`, `MIN`, `MAX`); `O` is
/// its decoded type.
pub struct Aggregate<M, O> {
    item: SelectItem,
    _p: PhantomData<fn() -> (M, O)>,
}

impl<M, O> Clone for Aggregate<M, O> {
    fn clone(&self) -> Self {
        Self {
            item: self.item.clone(),
            _p: PhantomData,
        }
    }
}

impl<M, O> std::fmt::Debug for Aggregate<M, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item.fmt(f)
    }
}

impl<M, O: FieldType> Selectable<M> for Aggregate<M, O> {
    type Output = O;
    fn item(&self) -> SelectItem {
        self.item.clone()
    }
    fn decode(row: &Row, idx: usize) -> Result<O> {
        O::decode(row, idx)
    }
}

impl<M> Aggregate<M, i64> {
    /// `COUNT(*)`.
    #[must_use]
    pub fn count() -> Self {
        Self {
            item: SelectItem {
                expr: ExprNode::Aggregate(AggFunc::Count, None),
                sql_type: SqlType::BigInt,
            },
            _p: PhantomData,
        }
    }
}

impl<M, T> Aggregate<M, T> {
    fn of<U>(column: &Column<M, U>, agg: AggFunc, sql_type: SqlType) -> Self {
        Self {
            item: SelectItem {
                expr: ExprNode::Aggregate(
                    agg,
                    Some(Box::new(ExprNode::Column {
                        path: column.path.clone(),
                        column: column.column,
                    })),
                ),
                sql_type,
            },
            _p: PhantomData,
        }
    }
}

impl<M, T: FieldType> Aggregate<M, Option<T>> {
    /// `SUM(column)`.
    #[must_use]
    pub fn sum<U: FieldType<Inner = T>>(column: Column<M, U>) -> Self {
        Self::of(&column, AggFunc::Sum, T::SQL_TYPE)
    }

    /// `MIN(column)`.
    #[must_use]
    pub fn min<U: FieldType<Inner = T>>(column: Column<M, U>) -> Self {
        Self::of(&column, AggFunc::Min, T::SQL_TYPE)
    }

    /// `MAX(column)`.
    #[must_use]
    pub fn max<U: FieldType<Inner = T>>(column: Column<M, U>) -> Self {
        Self::of(&column, AggFunc::Max, T::SQL_TYPE)
    }
}

impl<M> Aggregate<M, Option<f64>> {
    /// `AVG(column)` as a float.
    #[must_use]
    pub fn avg<U: FieldType>(column: Column<M, U>) -> Self {
        Self::of(&column, AggFunc::Avg, SqlType::Double)
    }
}

impl<M, U: FieldType> Column<M, U> {
    /// `COUNT(column)`: the non-null values.
    #[must_use]
    pub fn count(&self) -> Aggregate<M, i64> {
        Aggregate::of(self, AggFunc::Count, SqlType::BigInt)
    }

    /// `COUNT(DISTINCT column)`.
    #[must_use]
    pub fn count_distinct(&self) -> Aggregate<M, i64> {
        Aggregate::of(self, AggFunc::CountDistinct, SqlType::BigInt)
    }

    /// `SUM(column)`.
    #[must_use]
    pub fn sum(&self) -> Aggregate<M, Option<U::Inner>> {
        Aggregate::of(self, AggFunc::Sum, U::SQL_TYPE)
    }

    /// `AVG(column)`.
    #[must_use]
    pub fn avg(&self) -> Aggregate<M, Option<f64>> {
        Aggregate::of(self, AggFunc::Avg, SqlType::Double)
    }

    /// `MIN(column)`.
    #[must_use]
    pub fn min(&self) -> Aggregate<M, Option<U::Inner>> {
        Aggregate::of(self, AggFunc::Min, U::SQL_TYPE)
    }

    /// `MAX(column)`.
    #[must_use]
    pub fn max(&self) -> Aggregate<M, Option<U::Inner>> {
        Aggregate::of(self, AggFunc::Max, U::SQL_TYPE)
    }
}

impl<M, O: FieldType> IntoExpr<M, O::Inner> for Aggregate<M, O> {
    fn into_expr(self) -> Expr<M, O::Inner> {
        Expr::from_node(self.item.expr)
    }
}

impl<M, O: FieldType> Aggregate<M, O> {
    fn expr(&self) -> Expr<M, O::Inner> {
        Expr::from_node(self.item.expr.clone())
    }

    /// `= right`: in a filter, a condition on the groups (`HAVING`), such
    /// as Django's `annotate(n=Count("book")).filter(n=2)`.
    #[must_use]
    pub fn eq(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().eq(right)
    }

    /// `<> right` (`HAVING`).
    #[must_use]
    pub fn ne(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().ne(right)
    }

    /// `> right` (`HAVING`): `Author::objects().filter(Author::books.then(Book::id).count().gt(2))`.
    #[must_use]
    pub fn gt(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().gt(right)
    }

    /// `>= right` (`HAVING`).
    #[must_use]
    pub fn gte(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().gte(right)
    }

    /// `< right` (`HAVING`).
    #[must_use]
    pub fn lt(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().lt(right)
    }

    /// `<= right` (`HAVING`).
    #[must_use]
    pub fn lte(&self, right: impl IntoExpr<M, O::Inner>) -> Q<M> {
        self.expr().lte(right)
    }

    /// Ascending sort key: rows ordered by the aggregate over their
    /// related rows (grouped by the row).
    #[must_use]
    pub fn asc(&self) -> OrderBy {
        self.expr().asc()
    }

    /// Descending sort key.
    #[must_use]
    pub fn desc(&self) -> OrderBy {
        self.expr().desc()
    }
}

/// An expression's value for each row; `None` where it is NULL.
impl<M, T: FieldType> Selectable<M> for Expr<M, T> {
    type Output = Option<T>;
    fn item(&self) -> SelectItem {
        SelectItem {
            expr: self.node.clone(),
            sql_type: T::SQL_TYPE,
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<Option<T>> {
        <Option<T>>::decode(row, idx)
    }
}

impl<M, T: FieldType> Selection<M> for Expr<M, T> {
    type Output = Option<T>;
    fn items(&self) -> Vec<SelectItem> {
        vec![Selectable::<M>::item(self)]
    }
    fn decode(row: &Row, start: usize) -> Result<Option<T>> {
        <Option<T>>::decode(row, start)
    }
}

impl<M, T: FieldType> Selection<M> for Column<M, T> {
    type Output = T;
    fn items(&self) -> Vec<SelectItem> {
        vec![self.item()]
    }
    fn decode(row: &Row, start: usize) -> Result<T> {
        T::decode(row, start)
    }
}

impl<M, O: FieldType> Selection<M> for Aggregate<M, O> {
    type Output = O;
    fn items(&self) -> Vec<SelectItem> {
        vec![self.item.clone()]
    }
    fn decode(row: &Row, start: usize) -> Result<O> {
        O::decode(row, start)
    }
}

macro_rules! tuple_selection {
    ($($name:ident $idx:tt),+) => {
        impl<M, $($name: Selectable<M>),+> Selection<M> for ($($name,)+) {
            type Output = ($($name::Output,)+);
            fn items(&self) -> Vec<SelectItem> {
                vec![$(self.$idx.item()),+]
            }
            fn decode(row: &Row, start: usize) -> Result<Self::Output> {
                Ok(($($name::decode(row, start + $idx)?,)+))
            }
        }
    };
}

tuple_selection!(A 0);
tuple_selection!(A 0, B 1);
tuple_selection!(A 0, B 1, C 2);
tuple_selection!(A 0, B 1, C 2, D 3);
tuple_selection!(A 0, B 1, C 2, D 3, E 4);
tuple_selection!(A 0, B 1, C 2, D 3, E 4, F 5);
