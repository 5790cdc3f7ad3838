//! A form with its data: validation, errors and HTML.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use serde::Serialize;

use super::Form;
use super::bound_field::{BoundField, error_list};
use super::data::FormData;
use super::field::{Field, FieldValue};
use super::validators::{self, ValidationError};
use super::widgets::WidgetKind;

/// HTML that templates show as it is (askama does not escape it): a form,
/// a field or an error list. Everything in it that came from a user is
/// escaped already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SafeHtml(pub(crate) String);

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

pub(crate) fn html_name(prefix: Option<&str>, name: &str) -> String {
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
    state: FormState,
    cleaned: Option<F>,
}

/// What every kind of form has, whatever builds its value (a
/// `#[derive(Form)]` struct, a model): the fields, the submission, the
/// initial values and the errors; and how it is drawn.
#[derive(Debug, Clone, Default)]
pub(crate) struct FormState {
    pub(crate) fields: Vec<Field>,
    /// Shared, so that the forms of a formset hold one submission.
    pub(crate) data: Option<Arc<FormData>>,
    pub(crate) prefix: Option<String>,
    pub(crate) initial: HashMap<String, Vec<String>>,
    pub(crate) errors: FormErrors,
}

impl<F> fmt::Debug for BoundForm<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundForm")
            .field(
                "fields",
                &self
                    .state
                    .fields
                    .iter()
                    .map(Field::name)
                    .collect::<Vec<_>>(),
            )
            .field("bound", &self.state.data.is_some())
            .field("prefix", &self.state.prefix)
            .field("errors", &self.state.errors)
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
            state: FormState {
                fields: F::fields(),
                ..FormState::default()
            },
            cleaned: None,
        }
    }

    /// A form showing `value`, for editing it (Django's `initial`).
    #[must_use]
    pub fn with_initial(value: &F) -> Self {
        let mut form = Self::new();
        form.state.initial = value
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
        self.state.prefix = Some(prefix.into());
        match self.state.data.take() {
            Some(data) => self.with_data(Arc::unwrap_or_clone(data)),
            None => self,
        }
    }

    /// Binds `data` (replacing any) and validates it.
    #[must_use]
    pub fn with_data(mut self, data: FormData) -> Self {
        self.state.errors = FormErrors::default();
        let mut cleaner = Cleaner {
            data: &data,
            fields: &self.state.fields,
            prefix: self.state.prefix.as_deref(),
            initial: &self.state.initial,
            errors: &mut self.state.errors,
        };
        let cleaned = F::clean(&mut cleaner);
        self.cleaned = cleaned.filter(|_| self.state.errors.is_empty());
        self.state.data = Some(Arc::new(data));
        self
    }

    /// Whether the form has a file field, so that its `<form>` needs
    /// `enctype="multipart/form-data"` (Django's `is_multipart`).
    #[must_use]
    pub fn is_multipart(&self) -> bool {
        self.state.is_multipart()
    }

    /// Whether the form has data (a submission) rather than being shown
    /// empty.
    #[must_use]
    pub fn is_bound(&self) -> bool {
        self.state.data.is_some()
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
        &self.state.errors
    }

    /// Adds an error found after validation (a wrong password, a value the
    /// database refused), to `field` or to the whole form; the form is no
    /// longer valid (Django's `add_error`).
    pub fn add_error(&mut self, field: Option<&str>, error: impl Into<ValidationError>) {
        self.state.errors.add(field, error);
        self.cleaned = None;
    }

    /// The submitted data, when bound.
    #[must_use]
    pub fn data(&self) -> Option<&FormData> {
        self.state.data.as_deref()
    }

    /// The field descriptions, to change a label, a widget or the choices
    /// before showing the form.
    pub fn fields_mut(&mut self) -> &mut [Field] {
        &mut self.state.fields
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
        self.state.field_mut(name)
    }

    /// Every field, in order.
    pub fn fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.state.bound_fields()
    }

    /// The field called `name`.
    ///
    /// # Errors
    ///
    /// [`UnknownField`] when the form has no such field.
    pub fn field(&self, name: &str) -> Result<BoundField<'_, F>, UnknownField> {
        self.state.bound_field(name)
    }

    /// The fields that are shown (not hidden inputs).
    pub fn visible_fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.state.visible_fields()
    }

    /// The hidden inputs.
    pub fn hidden_fields(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.state.hidden_fields()
    }

    /// The errors of the whole form, plus those of hidden fields (which
    /// have nowhere else to be shown), as Django's top error list:
    /// `<ul class="errorlist nonfield">`.
    #[must_use]
    pub fn non_field_errors(&self) -> SafeHtml {
        self.state.non_field_errors()
    }

    /// The whole form as Django's `as_div()`: the form's errors, then one
    /// `<div>` per visible field with its label, help text, errors and
    /// widget, hidden inputs in the last one. No `<form>` tag, no button,
    /// no CSRF field: the template adds those.
    #[must_use]
    pub fn as_div(&self) -> SafeHtml {
        self.state.as_div()
    }
}

impl FormState {
    /// Every field, bound to this state.
    pub(crate) fn bound_fields<F>(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.fields
            .iter()
            .map(move |field| BoundField::new(self, field))
    }

    /// The field called `name`.
    pub(crate) fn bound_field<F>(&self, name: &str) -> Result<BoundField<'_, F>, UnknownField> {
        self.fields
            .iter()
            .find(|f| f.name() == name)
            .map(|field| BoundField::new(self, field))
            .ok_or_else(|| UnknownField(name.to_owned()))
    }

    pub(crate) fn visible_fields<F>(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.bound_fields().filter(|f| !f.is_hidden())
    }

    pub(crate) fn hidden_fields<F>(&self) -> impl Iterator<Item = BoundField<'_, F>> {
        self.bound_fields().filter(BoundField::is_hidden)
    }

    /// The description of the field called `name`.
    pub(crate) fn field_mut(&mut self, name: &str) -> Result<&mut Field, UnknownField> {
        self.fields
            .iter_mut()
            .find(|f| f.name() == name)
            .ok_or_else(|| UnknownField(name.to_owned()))
    }

    /// Whether a field draws a file input.
    pub(crate) fn is_multipart(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.widget().kind() == WidgetKind::File)
    }

    /// The errors of the whole form, plus those of hidden fields (which
    /// have nowhere else to be shown), as Django's top error list:
    /// `<ul class="errorlist nonfield">`.
    #[must_use]
    pub(crate) fn non_field_errors(&self) -> SafeHtml {
        let mut messages: Vec<Cow<'_, str>> = self
            .errors
            .non_field()
            .iter()
            .map(|e| Cow::Borrowed(e.message()))
            .collect();
        for field in self.hidden_fields::<()>() {
            for e in field.error_list() {
                messages.push(Cow::Owned(format!(
                    "(Hidden field {}) {}",
                    field.field().name(),
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
    pub(crate) fn as_div(&self) -> SafeHtml {
        let mut out = self.non_field_errors().0;
        let hidden: Vec<_> = self.hidden_fields::<()>().collect();
        let visible: Vec<_> = self.visible_fields::<()>().collect();
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
