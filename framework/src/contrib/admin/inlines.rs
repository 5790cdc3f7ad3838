//! Child rows edited on their parent's page (Django's `TabularInline`):
//! the comments under an article, one table row each, saved with the
//! article in one transaction through an [`InlineFormSet`].

use std::fmt;
use std::marker::PhantomData;

use futures_util::future::BoxFuture;

use crate::db::{Executor, Model};
use crate::forms::escape_into;
use crate::forms::model_form::capfirst;
use crate::forms::{FormData, InlineFormSet, ModelForm};

/// The rows of `C` whose foreign key points at the object of the page,
/// drawn as a table under the form: each row's fields, and a "Delete"
/// box; `extra` empty rows to add new ones.
///
/// ```no_run
/// use manouche::contrib::admin::{ModelAdmin, TabularInline};
/// # use manouche::db::{Auto, ForeignKey, Model};
/// # #[derive(Debug, Default, Model)]
/// # #[model(app = "blog")]
/// # pub struct Article { pub id: Auto<i64>, pub title: String }
/// # #[derive(Debug, Default, Model)]
/// # #[model(app = "blog")]
/// # pub struct Comment { pub id: Auto<i64>, pub article: ForeignKey<Article>, pub body: String }
///
/// let admin = ModelAdmin::<Article>::new()
///     .inline(TabularInline::<Comment>::new().fields(&["body"]).extra(1));
/// ```
pub struct TabularInline<C> {
    fk_name: Option<&'static str>,
    fields: Vec<&'static str>,
    extra: usize,
    max_num: Option<usize>,
    can_delete: bool,
    _p: PhantomData<fn() -> C>,
}

impl<C> fmt::Debug for TabularInline<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TabularInline")
            .field("fk_name", &self.fk_name)
            .field("fields", &self.fields)
            .field("extra", &self.extra)
            .field("max_num", &self.max_num)
            .field("can_delete", &self.can_delete)
            .finish()
    }
}

impl<C: Model> Default for TabularInline<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Model> TabularInline<C> {
    /// Every editable field of `C` but the key to the parent, three empty
    /// rows (Django's `extra`), a "Delete" box on each row.
    #[must_use]
    pub fn new() -> Self {
        Self {
            fk_name: None,
            fields: Vec::new(),
            extra: 3,
            max_num: None,
            can_delete: true,
            _p: PhantomData,
        }
    }

    /// The foreign key to the parent, when `C` has several.
    #[must_use]
    pub fn fk_name(mut self, name: &'static str) -> Self {
        self.fk_name = Some(name);
        self
    }

    /// The columns, by field name.
    #[must_use]
    pub fn fields(mut self, names: &[&'static str]) -> Self {
        self.fields = names.to_vec();
        self
    }

    /// Empty rows drawn to add new children (3).
    #[must_use]
    pub fn extra(mut self, n: usize) -> Self {
        self.extra = n;
        self
    }

    /// At most this many rows.
    #[must_use]
    pub fn max_num(mut self, n: usize) -> Self {
        self.max_num = Some(n);
        self
    }

    /// Whether rows have a "Delete" box (yes).
    #[must_use]
    pub fn can_delete(mut self, yes: bool) -> Self {
        self.can_delete = yes;
        self
    }
}

impl<C: Model + Default> TabularInline<C> {
    fn formset<P: Model>(&self) -> InlineFormSet<P, C> {
        let mut set = InlineFormSet::<P, C>::new()
            .extra(self.extra)
            .can_delete(self.can_delete);
        if let Some(name) = self.fk_name {
            set = set.fk_name(name);
        }
        if !self.fields.is_empty() {
            set = set.fields(&self.fields);
        }
        if let Some(n) = self.max_num {
            set = set.max_num(n);
        }
        set
    }
}

/// A child row an inline added, changed or deleted: the history's
/// `{"added": {"name": "comment", "object": "..."}}`.
#[derive(Debug, Clone)]
pub(crate) struct InlineChange {
    /// `added`, `changed` or `deleted`.
    pub(crate) verb: &'static str,
    /// The child model's verbose name.
    pub(crate) name: &'static str,
    /// How the row reads.
    pub(crate) object: String,
}

impl std::fmt::Display for InlineChange {
    /// "Added comment “Comment object (3)”."
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match self.verb {
            "added" => "Added",
            "changed" => "Changed",
            _ => "Deleted",
        };
        write!(f, "{verb} {} “{}”.", self.name, self.object)
    }
}

/// An inline without its child's type, as the parent's admin holds it.
pub(crate) trait Inline<P>: Send + Sync {
    /// What is wrong with the options (no key to the parent, a field
    /// that is not one), for `manage check`.
    fn problems(&self) -> Vec<String>;

    /// The rows of `parent`, to show.
    fn load<'a>(
        &'a self,
        db: &'a dyn Executor,
        parent: &'a P,
    ) -> BoxFuture<'a, crate::db::Result<Box<dyn BoundInline<P>>>>;

    /// The rows sent for `parent` (not saved yet on an add page).
    fn bind<'a>(
        &'a self,
        db: &'a dyn Executor,
        parent: &'a P,
        data: FormData,
    ) -> BoxFuture<'a, crate::db::Result<Box<dyn BoundInline<P>>>>;
}

/// A loaded or bound inline.
pub(crate) trait BoundInline<P>: Send {
    fn is_valid(&self) -> bool;

    /// The table, with its management form.
    fn html(&self) -> String;

    /// Writes the rows under the saved `parent` inside the caller's
    /// transaction: `Ok(Ok(changes))` with the rows added, changed and
    /// deleted, or the inline back to be shown with the
    /// database's refusal on its row.
    #[allow(clippy::type_complexity)]
    fn save<'a>(
        self: Box<Self>,
        db: &'a dyn Executor,
        parent: &'a P,
    ) -> BoxFuture<'a, crate::db::Result<Result<Vec<InlineChange>, Box<dyn BoundInline<P>>>>>;
}

impl<P: Model, C: Model + Default> Inline<P> for TabularInline<C> {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.formset::<P>().fk_field() {
            out.push(format!("inline {}: {e}", C::meta().name));
        }
        for name in &self.fields {
            if C::meta().field(name).is_none() {
                out.push(format!(
                    "inline {}: fields names `{name}`, which is not a field",
                    C::meta().name
                ));
            }
        }
        out
    }

    fn load<'a>(
        &'a self,
        db: &'a dyn Executor,
        parent: &'a P,
    ) -> BoxFuture<'a, crate::db::Result<Box<dyn BoundInline<P>>>> {
        Box::pin(async move {
            let set = self.formset::<P>().load(db, parent).await?;
            Ok(Box::new(Table(set)) as Box<dyn BoundInline<P>>)
        })
    }

    fn bind<'a>(
        &'a self,
        db: &'a dyn Executor,
        parent: &'a P,
        data: FormData,
    ) -> BoxFuture<'a, crate::db::Result<Box<dyn BoundInline<P>>>> {
        Box::pin(async move {
            let set = self.formset::<P>().bind(db, parent, data).await?;
            Ok(Box::new(Table(set)) as Box<dyn BoundInline<P>>)
        })
    }
}

/// A formset drawn as a table.
struct Table<P: Model, C: Model>(InlineFormSet<P, C>);

impl<P: Model, C: Model + Default> BoundInline<P> for Table<P, C> {
    fn is_valid(&self) -> bool {
        self.0.is_valid()
    }

    fn html(&self) -> String {
        let meta = C::meta();
        let set = &self.0;
        let mut out = String::new();
        out.push_str("<fieldset class=\"inline card\"><legend>");
        escape_into(&mut out, &capfirst(meta.verbose_name_plural));
        out.push_str("</legend>");
        out.push_str(set.management_form().as_str());
        out.push_str(set.non_form_errors().as_str());
        out.push_str("<div class=\"table-wrap\"><table><thead><tr>");
        if let Some(first) = set.forms().first() {
            for field in first.visible_fields() {
                out.push_str("<th scope=\"col\">");
                escape_into(&mut out, field.label());
                out.push_str("</th>");
            }
        }
        out.push_str("</tr></thead><tbody>");
        for form in set.forms() {
            write_row(&mut out, form);
        }
        out.push_str("</tbody></table></div></fieldset>");
        out
    }

    fn save<'a>(
        self: Box<Self>,
        db: &'a dyn Executor,
        parent: &'a P,
    ) -> BoxFuture<'a, crate::db::Result<Result<Vec<InlineChange>, Box<dyn BoundInline<P>>>>> {
        Box::pin(async move {
            let name = C::meta().verbose_name;
            match self.0.save(db, parent).await? {
                Ok(saved) => {
                    let mut lines = Vec::new();
                    for (verb, rows) in [
                        ("added", &saved.created),
                        ("changed", &saved.changed),
                        ("deleted", &saved.deleted),
                    ] {
                        for row in rows {
                            let key = super::render::pk_text(row);
                            lines.push(InlineChange {
                                verb,
                                name,
                                object: format!("{} object ({key})", C::meta().name),
                            });
                        }
                    }
                    Ok(Ok(lines))
                }
                Err(set) => Ok(Err(Box::new(Table(set)) as Box<dyn BoundInline<P>>)),
            }
        })
    }
}

/// One child's row: its hidden inputs in the first cell, then a cell per
/// visible field with its errors; the label is the column's header, and
/// each input names it for screen readers.
fn write_row<C: Model>(out: &mut String, form: &ModelForm<C>) {
    out.push_str("<tr>");
    let errors = form.non_field_errors();
    let mut first = true;
    for field in form.visible_fields() {
        out.push_str("<td data-label=\"");
        escape_into(out, field.label());
        out.push_str("\">");
        if first {
            for hidden in form.hidden_fields() {
                out.push_str(hidden.errors().as_str());
                out.push_str(hidden.widget().as_str());
            }
            out.push_str(errors.as_str());
            first = false;
        }
        out.push_str(field.errors().as_str());
        out.push_str("<label class=\"visually-hidden\" for=\"");
        escape_into(out, &field.id_for_label());
        out.push_str("\">");
        escape_into(out, field.label());
        out.push_str("</label>");
        out.push_str(field.widget().as_str());
        out.push_str("</td>");
    }
    out.push_str("</tr>");
}
