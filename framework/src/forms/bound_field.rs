//! One field of a form as a template sees it: label, widget, errors and
//! help text (Django's `BoundField`).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::bound::{FormState, SafeHtml, html_name};
use super::field::Field;
use super::validators::ValidationError;
use super::widgets::{WidgetKind, escape_into};

/// One field of a [`BoundForm`](super::BoundForm), for templates that lay a form out by hand
/// (Django's `BoundField`). `{{ field }}` draws the widget.
pub struct BoundField<'a, F> {
    form: &'a FormState,
    field: &'a Field,
    _form: PhantomData<fn() -> F>,
}

impl<'a, F> BoundField<'a, F> {
    pub(crate) fn new(form: &'a FormState, field: &'a Field) -> Self {
        Self {
            form,
            field,
            _form: PhantomData,
        }
    }
}

impl<F> Clone for BoundField<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for BoundField<'_, F> {}

impl<'a, F> BoundField<'a, F> {
    /// The field's name.
    #[must_use]
    pub fn name(&self) -> &'a str {
        self.field.name()
    }

    /// The name in the HTML (`prefix-name` with a prefix).
    #[must_use]
    pub fn html_name(&self) -> String {
        html_name(self.form.prefix.as_deref(), self.field.name())
    }

    /// The widget's id: `id_` and the HTML name.
    #[must_use]
    pub fn auto_id(&self) -> String {
        format!("id_{}", self.html_name())
    }

    /// The id a `<label for>` points at: the widget's own, or for a list of
    /// radio buttons or checkboxes, none (the label is a `<legend>`).
    #[must_use]
    pub fn id_for_label(&self) -> String {
        if self.field.widget().use_fieldset() {
            String::new()
        } else {
            self.auto_id()
        }
    }

    /// The label text.
    #[must_use]
    pub fn label(&self) -> &'a str {
        self.field.label()
    }

    /// The help text.
    #[must_use]
    pub fn help_text(&self) -> &'a str {
        &self.field.help_text
    }

    /// The field description.
    #[must_use]
    pub fn field(&self) -> &'a Field {
        self.field
    }

    /// Whether the widget is a hidden input.
    #[must_use]
    pub fn is_hidden(&self) -> bool {
        self.field.widget().is_hidden()
    }

    /// The field's errors.
    #[must_use]
    pub fn error_list(&self) -> &'a [ValidationError] {
        self.form.errors.field(self.field.name())
    }

    /// The values the widget shows: what was submitted (for a bound form),
    /// else the initial value. A disabled field always shows its initial
    /// value.
    #[must_use]
    pub fn value(&self) -> Vec<String> {
        match &self.form.data {
            Some(data) if !self.field.is_disabled() => data
                .get_all(&self.html_name())
                .into_iter()
                .map(str::to_owned)
                .collect(),
            _ => self
                .form
                .initial
                .get(self.field.name())
                .unwrap_or(&self.field.initial)
                .clone(),
        }
    }

    /// `<label for="id_title">Title:</label>` (a `<legend>` for a list of
    /// radio buttons or checkboxes), text escaped.
    #[must_use]
    pub fn label_tag(&self) -> SafeHtml {
        let mut out = String::new();
        self.write_label(&mut out);
        SafeHtml(out)
    }

    /// The errors as `<ul class="errorlist" id="id_title_error">`, empty
    /// when there are none.
    #[must_use]
    pub fn errors(&self) -> SafeHtml {
        let mut out = String::new();
        self.write_errors(&mut out);
        SafeHtml(out)
    }

    /// The widget alone.
    #[must_use]
    pub fn widget(&self) -> SafeHtml {
        let mut out = String::new();
        self.write_widget(&mut out);
        SafeHtml(out)
    }

    /// Label, help text, errors and widget, as Django's `as_field_group`.
    #[must_use]
    pub fn as_field_group(&self) -> SafeHtml {
        let mut out = String::new();
        self.write_group(&mut out);
        SafeHtml(out)
    }

    fn write_label(&self, out: &mut String) {
        if self.field.label().is_empty() {
            return;
        }
        let legend = self.field.widget().use_fieldset();
        out.push_str(if legend { "<legend" } else { "<label" });
        let id = self.id_for_label();
        if !id.is_empty() {
            out.push_str(" for=\"");
            escape_into(out, &id);
            out.push('"');
        }
        out.push('>');
        escape_into(out, self.field.label());
        // Django's label_suffix, unless the label ends in punctuation.
        if !self.field.label().ends_with(['?', ':', '!', '.']) {
            out.push(':');
        }
        out.push_str(if legend { "</legend>" } else { "</label>" });
    }

    fn write_errors(&self, out: &mut String) {
        let id = format!("{}_error", self.auto_id());
        error_list(
            out,
            "errorlist",
            Some(&id),
            self.error_list().iter().map(ValidationError::message),
        );
    }

    fn aria_describedby(&self) -> String {
        let mut ids = Vec::new();
        if !self.is_hidden() {
            if !self.field.help_text.is_empty() {
                ids.push(format!("{}_helptext", self.auto_id()));
            }
            if !self.error_list().is_empty() {
                ids.push(format!("{}_error", self.auto_id()));
            }
        }
        ids.join(" ")
    }

    pub(crate) fn write_widget(&self, out: &mut String) {
        let widget = self.field.widget();
        let mut extra: Vec<(&str, Cow<'_, str>)> = Vec::new();
        // Not on a disabled field, which is never submitted (browsers skip
        // `required` there anyway).
        if self.field.is_required() && !self.field.is_disabled() && widget.use_required_attribute()
        {
            extra.push(("required", Cow::Borrowed("")));
        }
        if self.field.is_disabled() {
            extra.push(("disabled", Cow::Borrowed("")));
        }
        if !widget.is_hidden() && !self.error_list().is_empty() {
            extra.push(("aria-invalid", Cow::Borrowed("true")));
        }
        let described = self.aria_describedby();
        if !described.is_empty()
            && !widget.use_fieldset()
            && widget.attr("aria-describedby").is_none()
        {
            extra.push(("aria-describedby", Cow::Owned(described)));
        }
        if widget.attr("id").is_none() {
            extra.push(("id", Cow::Owned(self.auto_id())));
        }
        let mut values = self.value();
        if widget.kind() == WidgetKind::Checkbox {
            // Checked when the value is true, as Django's CheckboxInput.
            values = if super::field::is_checked(&values) {
                vec!["on".to_owned()]
            } else {
                Vec::new()
            };
        }
        widget.render(
            out,
            &self.html_name(),
            &values,
            &extra,
            self.field.choices(),
        );
    }

    pub(crate) fn write_group(&self, out: &mut String) {
        let fieldset = self.field.widget().use_fieldset();
        if fieldset {
            out.push_str("<fieldset");
            let described = self.aria_describedby();
            if !described.is_empty() {
                out.push_str(" aria-describedby=\"");
                escape_into(out, &described);
                out.push('"');
            }
            out.push_str(">\n");
        }
        self.write_label(out);
        if !self.field.help_text.is_empty() {
            out.push_str("\n<div class=\"helptext\" id=\"");
            escape_into(out, &self.auto_id());
            out.push_str("_helptext\">");
            escape_into(out, &self.field.help_text);
            out.push_str("</div>");
        }
        out.push('\n');
        self.write_errors(out);
        if !self.error_list().is_empty() {
            out.push('\n');
        }
        self.write_widget(out);
        if fieldset {
            out.push_str("</fieldset>");
        }
    }
}

impl<F> fmt::Display for BoundField<'_, F> {
    /// `{{ field }}` draws the widget, as in Django.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_widget(&mut out);
        f.write_str(&out)
    }
}

impl<F> askama::filters::HtmlSafe for BoundField<'_, F> {}

/// `<ul class="CLASS" id="ID"><li>message</li>...</ul>`, nothing when
/// there is no message.
pub(crate) fn error_list<'a>(
    out: &mut String,
    class: &str,
    id: Option<&str>,
    messages: impl Iterator<Item = &'a str>,
) {
    let mut messages = messages.peekable();
    if messages.peek().is_none() {
        return;
    }
    out.push_str("<ul class=\"");
    out.push_str(class);
    out.push('"');
    if let Some(id) = id {
        out.push_str(" id=\"");
        escape_into(out, id);
        out.push('"');
    }
    out.push('>');
    for m in messages {
        out.push_str("<li>");
        escape_into(out, m);
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}
