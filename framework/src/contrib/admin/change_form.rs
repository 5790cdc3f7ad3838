//! The add and change pages: the model form (in fieldsets, with read-only
//! fields) and its inlines, validated together and saved in one
//! transaction, so that an error in a child row saves nothing.

use sea_query::Value;

use super::inlines::BoundInline;
use super::options::{FormOutcome, ModelAdmin};
use super::render;
use crate::db::{Database, Model};
use crate::forms::{FormData, ModelForm, escape_into};

impl<M: Model + Default> ModelAdmin<M> {
    /// The model form of the options: their fields, without the excluded
    /// ones, the read-only ones disabled (every field when `read_only`).
    pub(super) fn form(&self, instance: M, read_only: bool) -> crate::db::Result<ModelForm<M>> {
        let unknown = |e: crate::forms::UnknownField| crate::db::Error::UnknownField {
            model: M::meta().name,
            field: e.0,
            known: M::meta()
                .fields
                .iter()
                .map(|f| f.name)
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut form = ModelForm::new(instance);
        let fields = self.form_fields();
        if !fields.is_empty() {
            form = form.fields(&fields).map_err(unknown)?;
        }
        let exclude: Vec<&str> = self
            .exclude
            .iter()
            .copied()
            .filter(|name| form.field(name).is_ok())
            .collect();
        if !exclude.is_empty() {
            form = form.exclude(&exclude).map_err(unknown)?;
        }
        if !self.autocomplete.is_empty() {
            form = form.look_up(&self.autocomplete).map_err(unknown)?;
            let meta = M::meta();
            for name in &self.autocomplete {
                if let Ok(field) = form.field_mut(name) {
                    let mut widget = field.widget().clone();
                    widget.set_attr(
                        "data-autocomplete",
                        format!(
                            "autocomplete/?app_label={}&model_name={}&field_name={name}",
                            meta.app,
                            meta.model_name()
                        ),
                    );
                    field.set_widget(widget);
                }
            }
        }
        let disabled: Vec<String> = if read_only {
            form.bound_fields().map(|f| f.name().to_owned()).collect()
        } else {
            self.readonly.iter().map(|&n| n.to_owned()).collect()
        };
        for name in disabled {
            if let Ok(field) = form.field_mut(&name) {
                field.set_disabled(true);
            }
        }
        Ok(form)
    }

    /// The read-only fields the form does not edit (an automatic date),
    /// shown as text on a change page: `(label, value)`.
    fn shown(&self, form: &ModelForm<M>, saved: bool) -> Vec<(String, String)> {
        if !saved {
            return Vec::new();
        }
        let meta = M::meta();
        self.readonly
            .iter()
            .filter(|name| form.field(name).is_err())
            .filter_map(|name| {
                let field = meta.field(name)?;
                let value = form.instance().field_value(name)?;
                Some((
                    crate::forms::model_form::field_label(field),
                    render::cell(field, &value),
                ))
            })
            .collect()
    }

    /// The form drawn: in its fieldsets when there are some, then the
    /// read-only values it does not edit.
    fn form_html(&self, form: &ModelForm<M>, saved: bool) -> String {
        let shown = self.shown(form, saved);
        let mut out = String::new();
        if self.fieldsets.is_empty() {
            out.push_str(form.as_div().as_str());
        } else {
            out.push_str(form.non_field_errors().as_str());
            for hidden in form.hidden_fields() {
                out.push_str(hidden.errors().as_str());
                out.push_str(hidden.widget().as_str());
            }
            for (title, names) in &self.fieldsets {
                out.push_str("<fieldset class=\"module\">");
                if !title.is_empty() {
                    out.push_str("<legend>");
                    escape_into(&mut out, title);
                    out.push_str("</legend>");
                }
                for name in names {
                    if let Ok(field) = form.field(name)
                        && !field.is_hidden()
                    {
                        out.push_str(field.as_field_group().as_str());
                    }
                }
                out.push_str("</fieldset>");
            }
        }
        for (label, value) in &shown {
            out.push_str("<div class=\"readonly\"><span class=\"label\">");
            escape_into(&mut out, label);
            out.push_str("</span><div>");
            escape_into(&mut out, value);
            out.push_str("</div></div>");
        }
        out
    }

    fn show(&self, form: &ModelForm<M>, saved: bool, inlines: Vec<String>) -> FormOutcome {
        FormOutcome::Show {
            html: self.form_html(form, saved),
            inlines,
            multipart: form.is_multipart(),
        }
    }

    /// The object `pk` (a new one when `None`): `Ok(None)` when there is
    /// no such object.
    async fn instance(db: &Database, pk: Option<&str>) -> crate::db::Result<Option<M>> {
        match pk {
            None => Ok(Some(M::default())),
            Some(pk) => Self::object(db, pk).await,
        }
    }

    pub(super) async fn form_page(
        &self,
        db: &Database,
        pk: Option<&str>,
        data: Option<FormData>,
        read_only: bool,
    ) -> Result<Option<FormOutcome>, crate::Error> {
        let Some(instance) = Self::instance(db, pk).await? else {
            return Ok(None);
        };
        let shown = pk.is_some();
        let before: Vec<(&'static str, Option<Value>)> = M::meta()
            .fields
            .iter()
            .map(|f| (f.name, instance.field_value(f.name)))
            .collect();
        let Some(data) = data else {
            let form = self.form(instance, read_only)?.load(db).await?;
            let mut inlines = Vec::new();
            for inline in &self.inlines {
                inlines.push(inline.load(db, form.instance()).await?.html());
            }
            return Ok(Some(self.show(&form, shown, inlines)));
        };
        let form = self
            .form(instance, read_only)?
            .bind(db, data.clone())
            .await?;
        let mut bound: Vec<Box<dyn BoundInline<M>>> = Vec::new();
        for inline in &self.inlines {
            bound.push(inline.bind(db, form.instance(), data.clone()).await?);
        }
        if !form.is_valid() || bound.iter().any(|b| !b.is_valid()) {
            let inlines = bound.iter().map(|b| b.html()).collect();
            return Ok(Some(self.show(&form, shown, inlines)));
        }
        let labels: Vec<(String, String)> = form
            .bound_fields()
            .map(|f| (f.name().to_owned(), f.label().to_owned()))
            .collect();
        let tx = db.begin().await?;
        let obj = match form.save(&tx).await? {
            Ok(obj) => obj,
            Err(form) => {
                tx.rollback().await?;
                let inlines = bound.iter().map(|b| b.html()).collect();
                return Ok(Some(self.show(&form, shown, inlines)));
            }
        };
        // Each inline's table when one was refused (a duplicate row): the
        // refused one with its error, the others as sent.
        let mut tables: Vec<Option<String>> = Vec::new();
        let mut inline_changes = Vec::new();
        let mut refused = false;
        for inline in bound {
            if refused {
                tables.push(Some(inline.html()));
                continue;
            }
            match inline.save(&tx, &obj).await? {
                Ok(lines) => {
                    inline_changes.extend(lines);
                    tables.push(None);
                }
                Err(back) => {
                    refused = true;
                    tables.push(Some(back.html()));
                }
            }
        }
        if refused {
            tx.rollback().await?;
            let Some(instance) = Self::instance(db, pk).await? else {
                return Ok(None);
            };
            let form = self
                .form(instance, read_only)?
                .bind(db, data.clone())
                .await?;
            let mut inlines = Vec::new();
            for (inline, table) in self.inlines.iter().zip(tables) {
                inlines.push(match table {
                    Some(html) => html,
                    None => inline.bind(db, form.instance(), data.clone()).await?.html(),
                });
            }
            return Ok(Some(self.show(&form, shown, inlines)));
        }
        tx.commit().await?;
        let changed = labels
            .into_iter()
            .filter(|(name, _)| {
                let old = before
                    .iter()
                    .find(|(n, _)| n == name)
                    .and_then(|(_, v)| v.clone());
                old != obj.field_value(name)
            })
            .map(|(_, label)| label)
            .collect();
        Ok(Some(FormOutcome::Saved {
            pk: render::pk_text(&obj),
            title: self.title_of(&obj),
            changed,
            inline_changes,
        }))
    }
}
