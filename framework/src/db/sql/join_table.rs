//! Statements on the join table of a many-to-many relation: adding,
//! removing and clearing the rows that relate an owner to its targets, and
//! reading the targets of many owners at once (`prefetch_related`).
//!
//! A join table has a `source` column (the owner's key) and a `target`
//! column (the related row's key):
//!
//! ```text
//! add("blog_article_tags", "article_id", "tag_id", 1, [4, 5])
//!   INSERT INTO "blog_article_tags" ("article_id", "tag_id") VALUES (?, ?), (?, ?)
//!   ON CONFLICT ("article_id", "tag_id") DO NOTHING
//! ```

use sea_query::{Alias, Expr, JoinType, OnConflict, Order, Query, SimpleExpr, Value};

use crate::db::executor::{Backend, Statement};
use crate::db::model::ModelMeta;
use crate::db::{Error, Result};

/// A join table: its name, the owner's column and the target's column.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JoinTable {
    pub(crate) table: &'static str,
    pub(crate) source: &'static str,
    pub(crate) target: &'static str,
}

impl JoinTable {
    /// Relates `owner` to each of `targets`; pairs already related are
    /// left alone.
    ///
    /// # Errors
    ///
    /// [`Error::Definition`] if sea-query refuses a row (it cannot: each
    /// row has the two columns' values).
    pub(crate) fn add(
        self,
        owner: &Value,
        targets: impl IntoIterator<Item = Value>,
        backend: Backend,
    ) -> Result<Statement> {
        let columns = [Alias::new(self.source), Alias::new(self.target)];
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new(self.table))
            .columns(columns.clone());
        for target in targets {
            insert
                .values([SimpleExpr::from(owner.clone()), target.into()])
                .map_err(|e| Error::Definition(e.to_string()))?;
        }
        insert.on_conflict(OnConflict::columns(columns).do_nothing().to_owned());
        Ok(backend.build(&insert))
    }

    /// Unrelates `owner` from each of `targets`.
    pub(crate) fn remove(self, owner: Value, targets: Vec<Value>, backend: Backend) -> Statement {
        let delete = Query::delete()
            .from_table(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.source)).eq(owner))
            .and_where(Expr::col(Alias::new(self.target)).is_in(targets))
            .to_owned();
        backend.build(&delete)
    }

    /// Unrelates `owner` from everything.
    pub(crate) fn clear(self, owner: Value, backend: Backend) -> Statement {
        let delete = Query::delete()
            .from_table(Alias::new(self.table))
            .and_where(Expr::col(Alias::new(self.source)).eq(owner))
            .to_owned();
        backend.build(&delete)
    }

    /// The rows of `target` related to each of `owners`, each preceded by
    /// its owner's key, in `target`'s default ordering:
    /// `SELECT j.source, t0.* FROM target t0 JOIN table j ON j.target =
    /// t0.pk WHERE j.source IN (owners)`.
    pub(crate) fn prefetch(
        self,
        target: &'static ModelMeta,
        owners: Vec<Value>,
        backend: Backend,
    ) -> Statement {
        const BASE: &str = "t0";
        let mut stmt = Query::select();
        stmt.column((Alias::new("j"), Alias::new(self.source)));
        stmt.from_as(Alias::new(target.table), Alias::new(BASE));
        for column in target.column_fields().filter_map(|f| f.column) {
            stmt.column((Alias::new(BASE), Alias::new(column)));
        }
        stmt.join_as(
            JoinType::InnerJoin,
            Alias::new(self.table),
            Alias::new("j"),
            Expr::col((Alias::new("j"), Alias::new(self.target)))
                .equals((Alias::new(BASE), Alias::new(target.pk_column))),
        );
        stmt.and_where(Expr::col((Alias::new("j"), Alias::new(self.source))).is_in(owners));
        for (column, desc) in target.ordering {
            stmt.order_by(
                (Alias::new(BASE), Alias::new(*column)),
                if *desc { Order::Desc } else { Order::Asc },
            );
        }
        backend.build(&stmt)
    }
}
