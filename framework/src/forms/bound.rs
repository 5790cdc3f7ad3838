//! A form with its data: validation, errors and HTML.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use axum::extract::{FromRequest, Request};
use serde::Serialize;

use super::Form;
use super::data::FormData;
use super::field::{Field, FieldValue};
use super::validators::{self, ValidationError};
use super::widgets::{WidgetKind, escape_into};

/// HTML that templates show as it is (askama does not escape it): a form,
/// a field or an error list. Everything in it that came from a user is
/// escaped already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeHtml(String);

impl SafeHtml {
    /// The markup.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SafeHtml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for SafeHtml {}

/// The errors of a form: per field, and for the form as a whole (Django's
/// `non_field_errors`, stored under `"__all__"`).
///
/// Serialises as Django's `errors.get_json_data()`:
/// `{"title": [{"message": "...", "code": "required"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    entries: Vec<(Option<String>, Vec<ValidationError>)>,
}

/// The key of errors that belong to the whole form, in [`FormErrors`]'
/// JSON (Django's `NON_FIELD_ERRORS`).
pub const NON_FIELD_ERRORS: &str = "__all__";

impl FormErrors {
    /// Adds `error` to `field`, or to the whole form when `field` is `None`.
    pub fn add(&mut self, field: Option<&str>, error: impl Into<ValidationError>) {
        let error = error.into();
        match self
            .entries
            .iter_mut()
            .find(|(name, _)| name.as_deref() == field)
        {
            Some((_, errors)) => errors.push(error),
            None => self.entries.push((field.map(str::to_owned), vec![error])),
        }
    }

    /// The errors of `field`.
    #[must_use]
    pub fn field(&self, field: &str) -> &[ValidationError] {
        self.find(Some(field))
    }

    /// The errors of the whole form.
    #[must_use]
    pub fn non_field(&self) -> &[ValidationError] {
        self.find(None)
    }

    fn find(&self, field: Option<&str>) -> &[ValidationError] {
        self.entries
            .iter()
            .find(|(name, _)| name.as_deref() == field)
            .map_or(&[], |(_, errors)| errors.as_slice())
    }

    /// Whether there is no error at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many errors there are in all.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.iter().map(|(_, e)| e.len()).sum()
    }

    /// `(field, errors)` in the order they were first added; `None` for the
    /// whole form.
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &[ValidationError])> {
        self.entries
            .iter()
            .map(|(name, errors)| (name.as_deref(), errors.as_slice()))
    }
}

impl Serialize for FormErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Entry<'a> {
            message: &'a str,
            code: &'a str,
        }
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, errors) in &self.entries {
            let entries: Vec<Entry<'_>> = errors
                .iter()
                .map(|e| Entry {
                    message: e.message(),
                    code: e.code(),
                })
                .collect();
            map.serialize_entry(name.as_deref().unwrap_or(NON_FIELD_ERRORS), &entries)?;
        }
        map.end()
    }
}

/// What `#[derive(Form)]`'s code cleans a submission with: one call per
/// field, then the form's own `clean`. Public for the derive; a form
/// written by hand uses it the same way.
pub struct Cleaner<'a> {
    data: &'a FormData,
    fields: &'a [Field],
    prefix: Option<&'a str>,
    initial: &'a HashMap<String, Vec<String>>,
    errors: &'a mut FormErrors,
}

impl Cleaner<'_> {
    /// Cleans field number `index` as a `T`: reads its values (its initial
    /// value when the field is disabled), checks that a required field is
    /// not empty and that a value is one of the field's choices, parses it,
    /// then runs `validate` on a value that is not empty. Errors are
    /// recorded on the field; `None` when there was one.
    ///
    /// # Panics
    ///
    /// When `index` is not a field of the form: a mistake in a form written
    /// by hand.
    pub fn field<T: FieldValue>(
        &mut self,
        index: usize,
        validate: impl FnOnce(&T::Inner) -> Vec<ValidationError>,
    ) -> Option<T> {
        let field = &self.fields[index];
        let result = self.clean_one::<T>(field, validate);
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                for error in errors {
                    self.errors.add(Some(field.name()), error);
                }
                None
            }
        }
    }

    fn clean_one<T: FieldValue>(
        &self,
        field: &Field,
        validate: impl FnOnce(&T::Inner) -> Vec<ValidationError>,
    ) -> Result<T, Vec<ValidationError>> {
        let (values, files): (Vec<&str>, Vec<_>) = if field.is_disabled() {
            let initial = self
                .initial
                .get(field.name())
                .unwrap_or(&field.initial)
                .iter()
                .map(String::as_str)
                .collect();
            (initial, Vec::new())
        } else {
            let name = html_name(self.prefix, field.name());
            (self.data.get_all(&name), self.data.files(&name))
        };
        if !field.choices().is_empty() {
            for value in &values {
                let value = field.normalize(value);
                if !value.is_empty() {
                    validators::choice(value, field.choices()).map_err(|e| vec![e])?;
                }
            }
        }
        let value = match T::parse_submission(&values, &files, field).map_err(|e| vec![e])? {
            Some(value) => value,
            None if field.is_required() => return Err(vec![ValidationError::required()]),
            None => T::empty().ok_or_else(|| vec![ValidationError::required()])?,
        };
        if let Some(inner) = value.inner() {
            let errors = validate(inner);
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        Ok(value)
    }

    /// The errors so far, for the form's own `clean` to add to.
    pub fn errors(&mut self) -> &mut FormErrors {
        self.errors
    }
}

fn html_name(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}-{name}"),
        None => name.to_owned(),
    }
}

/// A form with its data, or none yet (Django's form instance): what a view
/// validates and a template shows.
///
/// - [`BoundForm::new`] is an empty form to show (unbound);
///   [`BoundForm::with_initial`] shows an existing value for editing.
/// - [`BoundForm::bind`] takes submitted data and validates it at once:
///   [`cleaned`](Self::cleaned) is the typed value when it is valid, and
///   [`errors`](Self::errors) say what is wrong when not.
/// - As an extractor it reads the request's [`FormData`] and binds it.
/// - In a template: `{{ form.as_div() }}`, or field by field with
///   `{{ form.field("title")?.label_tag() }}` and friends.
///
/// ```
/// use manouche::forms::{BoundForm, Form, FormData};
///
/// #[derive(Form)]
/// struct Comment {
///     #[form(max_length = 80)]
///     name: String,
///     body: String,
/// }
///
/// let form = BoundForm::<Comment>::bind(FormData::from_pairs([("name", "Ada"), ("body", "")]));
/// assert!(!form.is_valid());
/// assert_eq!(form.errors().field("body")[0].message(), "This field is required.");
/// assert!(form.as_div().as_str().contains(r#"value="Ada""#));
/// ```
pub struct BoundForm<F> {
    fields: Vec<Field>,
    data: Option<FormData>,
    prefix: Option<String>,
    initial: HashMap<String, Vec<String>>,
    errors: FormErrors,
    cleaned: Option<F>,
}

impl<F> fmt::Debug for BoundForm<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundForm")
            .field(
                "fields",
                &self.fields.iter().map(Field::name).collect::<Vec<_>>(),
            )
            .field("bound", &self.data.is_some())
            .field("prefix", &self.prefix)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl<F: Form> Default for BoundForm<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Form> BoundForm<F> {
    /// An empty form to show (unbound): no data, no errors.
    #[must_use]
    pub fn new() -> Self {
        Self {
            fields: F::fields(),
            data: None,
            prefix: None,
            initial: HashMap::new(),
            errors: FormErrors::default(),
            cleaned: None,
        }
    }

    /// A form showing `value`, for editing it (Django's `initial`).
    #[must_use]
    pub fn with_initial(value: &F) -> Self {
        let mut form = Self::new();
        form.initial = value
            .to_form()
            .into_iter()
            .map(|(name, values)| (name.to_owned(), values))
            .collect();
        form
    }

    /// The form bound to `data` and validated.
    #[must_use]
    pub fn bind(data: FormData) -> Self {
        Self::new().with_data(data)
    }

    /// Names the fields `prefix-name` (ids `id_prefix-name`), so that two
    /// forms can share one `<form>` (Django's `prefix`). Re-validates a
    /// bound form with the new names.
    #[must_use]
    pub fn prefixed(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        match self.data.take() {
            Some(data) => self.with_data(data),
            None => self,
        }
    }

    /// Binds `data` (replacing any) and validates it.
    #[must_use]
    pub fn with_data(mut self, data: FormData) -> Self {
        self.errors = FormErrors::default();
        let mut cleaner = Cleaner {
            data: &data,
            fields: &self.fields,
            prefix: self.prefix.as_deref(),
            initial: &self.initial,
            errors: &mut self.errors,
        };
        let cleaned = F::clean(&mut cleaner);
        self.cleaned = cleaned.filter(|_| self.errors.is_empty());
        self.data = Some(data);
        self
    }

    /// Whether the form has a file field, so that its `<form>` needs
    /// `enctype="multipart/form-data"` (Django's `is_multipart`).
    #[must_use]
    pub fn is_multipart(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.widget().kind() == WidgetKind::File)
    }

    /// Whether the form has data (a submission) rather than being shown
    /// empty.
    #[must_use]
    pub fn is_bound(&self) -> bool {
        self.data.is_some()
    }

    /// Whether the form has data and no error.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.cleaned.is_some()
    }

    /// The validated value, when the form is valid.
    #[must_use]
    pub fn cleaned(&self) -> Option<&F> {
        self.cleaned.as_ref()
    }

    /// The validated value, or the form back (with its errors, to show it
    /// again) when it is not valid.
    ///
    /// # Errors
    ///
    /// The form itself when it is unbound or has errors.
    // The form comes back whole, to be shown again: boxing it would make
    // every view unbox it.
    #[allow(clippy::result_large_err)]
    pub fn into_cleaned(mut self) -> Result<F, Self> {
        match self.cleaned.take() {
            Some(value) => Ok(value),
            None => Err(self),
        }
    }

    /// The errors.
    #[must_use]
    pub fn errors(&self) -> &FormErrors {
        &self.errors
    }

    /// Adds an error found after validation (a wrong password, a value the
    /// database refused), to `field` or to the whole form; the form is no
    /// longer valid (Django's `add_error`).
    pub fn add_error(&mut self, field: Option<&str>, error: impl Into<ValidationError>) {
        self.errors.add(field, error);
        self.cleaned = None;
    }

    /// The submitted data, when bound.
    #[must_use]
    pub fn data(&self) -> Option<&FormData> {
        self.data.as_ref()
    }

    /// The field descriptions, to change a label, a widget or the choices
    /// before showing the form.
    pub fn fields_mut(&mut self) -> &mut [Field] {
        &mut self.fields
    }

    /// The description of the field called `name`, to change it before
    /// binding data: choices that come from the database, a label that
    /// depends on the user.
    ///
    /// ```
    /// use manouche::forms::{BoundForm, Form, FormData};
    ///
    /// #[derive(Form)]
    /// struct Pick {
    ///     tags: Vec<i64>,
    /// }
    ///
    /// let mut form = BoundForm::<Pick>::new();
    /// form.field_mut("tags")?
    ///     .set_choices(vec![("1".into(), "News".into()), ("2".into(), "Rust".into())]);
    /// let form = form.with_data(FormData::from_pairs([("tags", "2"), ("tags", "3")]));
    /// assert_eq!(
    ///     form.errors().field("tags")[0].message(),
    ///     "Select a valid choice. 3 is not one of the available choices."
    /// );
    /// # Ok::<(), manouche::forms::UnknownField>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`UnknownField`] when the form has no such field.
    pub fn field_mut(&mut self, name: &str) -> Result<&mut Field, UnknownField> {
        self.fields
            .iter_mut()
            .find(|f| f.name() == name)
            .ok_or_else(|| UnknownField(name.to_owned()))
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.fields
            .iter()
            .map(move |field| BoundField { form: self, field })
    }

    /// The field called `name`.
    ///
    /// # Errors
    ///
    /// [`UnknownField`] when the form has no such field.
    pub fn field(&self, name: &str) -> Result<BoundField<'_, F>, UnknownField> {
        self.fields
            .iter()
            .find(|f| f.name() == name)
            .map(|field| BoundField { form: self, field })
            .ok_or_else(|| UnknownField(name.to_owned()))
    }

    /// The fields that are shown (not hidden inputs).
    pub fn visible_fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.fields().filter(|f| !f.is_hidden())
    }

    /// The hidden inputs.
    pub fn hidden_fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.fields().filter(BoundField::is_hidden)
    }

    /// The errors of the whole form, plus those of hidden fields (which
    /// have nowhere else to be shown), as Django's top error list:
    /// `<ul class="errorlist nonfield">`.
    #[must_use]
    pub fn non_field_errors(&self) -> SafeHtml {
        let mut messages: Vec<Cow<'_, str>> = self
            .errors
            .non_field()
            .iter()
            .map(|e| Cow::Borrowed(e.message()))
            .collect();
        for field in self.hidden_fields() {
            for e in field.error_list() {
                messages.push(Cow::Owned(format!(
                    "(Hidden field {}) {}",
                    field.field.name(),
                    e.message()
                )));
            }
        }
        let mut out = String::new();
        error_list(
            &mut out,
            "errorlist nonfield",
            None,
            messages.iter().map(AsRef::as_ref),
        );
        SafeHtml(out)
    }

    /// The whole form as Django's `as_div()`: the form's errors, then one
    /// `<div>` per visible field with its label, help text, errors and
    /// widget, hidden inputs in the last one. No `<form>` tag, no button,
    /// no CSRF field: the template adds those.
    #[must_use]
    pub fn as_div(&self) -> SafeHtml {
        let mut out = self.non_field_errors().0;
        let hidden: Vec<_> = self.hidden_fields().collect();
        let visible: Vec<_> = self.visible_fields().collect();
        for (i, field) in visible.iter().enumerate() {
            out.push_str("\n<div>\n");
            field.write_group(&mut out);
            if i + 1 == visible.len() {
                for h in &hidden {
                    h.write_widget(&mut out);
                }
            }
            out.push_str("\n</div>");
        }
        if visible.is_empty() {
            for h in &hidden {
                h.write_widget(&mut out);
            }
        }
        SafeHtml(out)
    }
}

impl<F: Form> fmt::Display for BoundForm<F> {
    /// `{{ form }}` is [`as_div`](Self::as_div), as in Django.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_div().0)
    }
}

impl<F: Form> askama::filters::HtmlSafe for BoundForm<F> {}

impl<F: Form + Send, S: Send + Sync> FromRequest<S> for BoundForm<F> {
    type Rejection = crate::Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::bind(FormData::from_request(req, state).await?))
    }
}

/// A name given to [`BoundForm::field`] that is not a field of the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the form has no field `{0}`")]
pub struct UnknownField(pub String);

/// A mistake in the view's code (a field name misspelt): a 500 that names
/// the field.
impl From<UnknownField> for crate::Error {
    fn from(e: UnknownField) -> Self {
        crate::Error::improperly_configured(e.to_string())
    }
}

/// One field of a [`BoundForm`], for templates that lay a form out by hand
/// (Django's `BoundField`). `{{ field }}` draws the widget.
pub struct BoundField<'a, F> {
    form: &'a BoundForm<F>,
    field: &'a Field,
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

    fn write_widget(&self, out: &mut String) {
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

    fn write_group(&self, out: &mut String) {
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
fn error_list<'a>(
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
