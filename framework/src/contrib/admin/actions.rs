//! Bulk actions on the rows ticked on the list page (Django's admin
//! actions): the built-in `delete_selected`, with its confirmation page,
//! and the project's own, which are plain async functions of the database
//! and the selected rows.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_query::Value;

use super::bad_query::BadQuery;
use crate::db::{Database, Model, Q, QuerySet};

/// The function behind an action.
type Run<M> =
    Arc<dyn Fn(Database, QuerySet<M>) -> BoxFuture<'static, crate::Result<String>> + Send + Sync>;

/// A bulk action of the list page: a name (the form's value), what the
/// menu says, the permission it needs, and the function it runs on the
/// selected rows. The function's text, when not empty, is shown to the
/// user as a success message.
///
/// ```no_run
/// use manouche::contrib::admin::{Action, ModelAdmin};
/// # use manouche::db::{Auto, Model};
/// # #[derive(Debug, Default, Model)]
/// # #[model(app = "blog")]
/// # pub struct Article { pub id: Auto<i64>, pub published: bool }
///
/// let admin = ModelAdmin::<Article>::new().action(Action::new(
///     "publish",
///     "Publish the selected articles",
///     |db, selected| async move {
///         let n = selected
///             .update(&db, [Article::published.set(true)])
///             .await?;
///         Ok(format!("{n} articles published."))
///     },
/// ));
/// ```
pub struct Action<M: Model> {
    pub(crate) name: &'static str,
    pub(crate) description: String,
    pub(crate) permission: &'static str,
    pub(crate) run: Run<M>,
}

impl<M: Model> Clone for Action<M> {
    fn clone(&self) -> Self {
        Self {
            name: self.name,
            description: self.description.clone(),
            permission: self.permission,
            run: Arc::clone(&self.run),
        }
    }
}

impl<M: Model> fmt::Debug for Action<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Action")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("permission", &self.permission)
            .finish_non_exhaustive()
    }
}

impl<M: Model> Action<M> {
    /// An action that needs the `change` permission on the model.
    pub fn new<F, Fut>(name: &'static str, description: impl Into<String>, run: F) -> Self
    where
        F: Fn(Database, QuerySet<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = crate::Result<String>> + Send + 'static,
    {
        Self {
            name,
            description: description.into(),
            permission: "change",
            run: Arc::new(move |db, selected| Box::pin(run(db, selected))),
        }
    }

    /// The permission the action needs (Django's `@action(permissions=)`):
    /// `view`, `add`, `change` or `delete` on the model, or the codename
    /// of one of the model's own permissions (`"publish_article"`).
    #[must_use]
    pub fn permission(mut self, permission: &'static str) -> Self {
        self.permission = permission;
        self
    }
}

/// The built-in action's name.
pub(crate) const DELETE_SELECTED: &str = "delete_selected";

/// An action as the list page offers it: name, description, and the
/// permission codename (`change_article`) it needs.
#[derive(Debug, Clone)]
pub(crate) struct ActionInfo {
    pub(crate) name: &'static str,
    pub(crate) description: String,
    pub(crate) codename: String,
}

/// The menu: `delete_selected` first (unless turned off), then the
/// project's actions.
pub(crate) fn infos<M: Model>(actions: &[Action<M>], delete_selected: bool) -> Vec<ActionInfo> {
    let meta = M::meta();
    let codename = |permission: &str| {
        if ["view", "add", "change", "delete"].contains(&permission) {
            meta.permission_codename(permission)
        } else {
            permission.to_owned()
        }
    };
    let mut out = Vec::new();
    if delete_selected {
        out.push(ActionInfo {
            name: DELETE_SELECTED,
            description: format!("Delete selected {}", meta.verbose_name_plural),
            codename: codename("delete"),
        });
    }
    out.extend(actions.iter().map(|a| ActionInfo {
        name: a.name,
        description: a.description.clone(),
        codename: codename(a.permission),
    }));
    out
}

/// The rows whose primary keys are the texts `keys`; a text that is not a
/// key of the model is a bad request.
pub(crate) fn selected<M: Model>(keys: &[String]) -> Result<QuerySet<M>, BadQuery> {
    let meta = M::meta();
    let pk = meta
        .pk_field()
        .ok_or_else(|| BadQuery(format!("{} has no primary key", meta.name)))?;
    let values = keys
        .iter()
        .map(|k| {
            pk.sql_type
                .parse(k)
                .map_err(|e| BadQuery(format!("`_selected_action`: {}", e.0)))
        })
        .collect::<Result<Vec<Value>, BadQuery>>()?;
    Ok(M::objects().filter(Q::column_in(meta.pk_column, values)))
}

/// Runs the project's action `name` on the rows `keys`.
pub(crate) async fn run<M: Model>(
    actions: &[Action<M>],
    db: &Database,
    name: &str,
    keys: &[String],
) -> Result<Result<String, BadQuery>, crate::Error> {
    let Some(action) = actions.iter().find(|a| a.name == name) else {
        return Ok(Err(BadQuery(format!(
            "`{name}` is not an action of this list"
        ))));
    };
    let selected = match selected::<M>(keys) {
        Ok(qs) => qs,
        Err(bad) => return Ok(Err(bad)),
    };
    Ok(Ok((action.run)(db.clone(), selected).await?))
}
