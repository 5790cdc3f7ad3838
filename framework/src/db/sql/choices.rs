//! The reads a form built from a model needs: the rows a foreign key or a
//! many-to-many field may point at (with a text to show for each), and the
//! rows a many-to-many field of one owner points at.
//!
//! ```text
//! choices(Tag, Some("name"))
//!   SELECT "id", "name" FROM "blog_tag" ORDER BY "name" ASC, "id" ASC
//! related_keys(blog_article_tags, 7)
//!   SELECT "tag_id" FROM "blog_article_tags" WHERE "article_id" = ?
//! ```

use sea_query::{Alias, Expr, Order, Query, Value};

use super::join_table::JoinTable;
use crate::db::executor::{Backend, Statement};
use crate::db::model::ModelMeta;

/// Every row of `meta` as `(key, label)`: its primary key, then the
/// `label` column when there is one; in the model's ordering, then by key,
/// so that the list is stable.
pub(crate) fn choices(
    meta: &ModelMeta,
    label: Option<&'static str>,
    backend: Backend,
) -> Statement {
    let mut stmt = Query::select();
    stmt.column(Alias::new(meta.pk_column));
    if let Some(label) = label {
        stmt.column(Alias::new(label));
    }
    stmt.from(Alias::new(meta.table));
    for (column, desc) in meta.ordering {
        stmt.order_by(
            Alias::new(*column),
            if *desc { Order::Desc } else { Order::Asc },
        );
    }
    stmt.order_by(Alias::new(meta.pk_column), Order::Asc);
    backend.build(&stmt)
}

/// The rows of `meta` whose keys are `keys`, as [`choices`] gives them.
pub(crate) fn choices_in(
    meta: &ModelMeta,
    label: Option<&'static str>,
    keys: Vec<Value>,
    backend: Backend,
) -> Statement {
    let mut stmt = Query::select();
    stmt.column(Alias::new(meta.pk_column));
    if let Some(label) = label {
        stmt.column(Alias::new(label));
    }
    stmt.from(Alias::new(meta.table))
        .and_where(Expr::col(Alias::new(meta.pk_column)).is_in(keys))
        .order_by(Alias::new(meta.pk_column), Order::Asc);
    backend.build(&stmt)
}

/// The keys of the rows `owner` is related to through `join`.
pub(crate) fn related_keys(join: JoinTable, owner: Value, backend: Backend) -> Statement {
    let stmt = Query::select()
        .column(Alias::new(join.target))
        .from(Alias::new(join.table))
        .and_where(Expr::col(Alias::new(join.source)).eq(owner))
        .to_owned();
    backend.build(&stmt)
}
