//! Forms: typed validation of submitted data, and the HTML to ask for it
//! (Django's `django.forms`).
//!
//! A form is a struct with `#[derive(Form)]`. Each field's Rust type says
//! what it accepts and how it is drawn (`String` a text input, `i32` a
//! number, `bool` a checkbox, `Option<T>` an optional `T`, `Vec<T>` a
//! multiple select, a `#[derive(Choices)]` enum a `<select>`,
//! [`UploadedFile`] a file input: see its docs and [`crate::storage`]), and
//! `#[form(...)]` attributes add checks and presentation:
//!
//! ```
//! use manouche::forms::{BoundForm, Form, FormData, FormErrors};
//!
//! #[derive(Form)]
//! #[form(clean = Self::check_dates)]
//! struct Booking {
//!     #[form(max_length = 100, help_text = "As on your passport.")]
//!     name: String,
//!     #[form(email)]
//!     email: String,
//!     #[form(min_value = 1, max_value = 8)]
//!     guests: i32,
//!     nights: Option<u32>,
//!     #[form(widget = textarea, required = false)]
//!     notes: String,
//! }
//!
//! impl Booking {
//!     fn check_dates(&mut self, errors: &mut FormErrors) {
//!         if self.nights == Some(0) {
//!             errors.add(Some("nights"), "Stay at least one night.");
//!         }
//!     }
//! }
//!
//! let form = BoundForm::<Booking>::bind(FormData::from_pairs([
//!     ("name", "Ada"),
//!     ("email", "ada@example"),
//!     ("guests", "9"),
//!     ("nights", "0"),
//! ]));
//! assert!(!form.is_valid());
//! let errors = form.errors();
//! assert_eq!(errors.field("email")[0].message(), "Enter a valid email address.");
//! assert_eq!(
//!     errors.field("guests")[0].message(),
//!     "Ensure this value is less than or equal to 8."
//! );
//! // The form's own check runs once every field has a value.
//! assert!(errors.field("nights").is_empty());
//! ```
//!
//! In a view, [`BoundForm`] is an extractor: it reads the request's form
//! data (URL-encoded or multipart, the same way) and validates it. A valid
//! form gives the typed value; an invalid one is shown again, with what the
//! user typed and the errors:
//!
//! ```
//! use manouche::forms::{BoundForm, Form};
//! use manouche::prelude::*;
//!
//! #[derive(Form)]
//! struct Comment {
//!     #[form(max_length = 80)]
//!     name: String,
//!     #[form(widget = textarea, max_length = 2000)]
//!     body: String,
//! }
//!
//! #[derive(Template)]
//! #[template(source = r#"<form method="post">{{ manouche::csrf::input() }}{{ form }}<button>Send</button></form>"#, ext = "html")]
//! struct CommentPage {
//!     form: BoundForm<Comment>,
//! }
//!
//! async fn comment(form: BoundForm<Comment>) -> Result<Response> {
//!     match form.into_cleaned() {
//!         Ok(comment) => {
//!             // save `comment`, then redirect
//!             Ok(manouche::web::found("/thanks/"))
//!         }
//!         Err(form) => Ok(Html(CommentPage { form }.render()?).into_response()),
//!     }
//! }
//! ```
//!
//! A form for a model's fields needs no struct: [`ModelForm`] builds it
//! from the model's metadata (with `<select>`s for its relations, the
//! unique checks and `save()`), and [`InlineFormSet`] edits a parent's
//! child rows in one submit; see their docs and `docs/forms.md`.
//!
//! # Attributes
//!
//! | attribute | effect |
//! |---|---|
//! | `label = "..."`, `help_text = "..."` | text shown with the field (both escaped) |
//! | `required = false` / `required` | empty allowed (`String` becomes `""`, `Vec` empty) / a `bool` box that must be ticked |
//! | `disabled` | shown, never taken from the submission |
//! | `initial = "..."` | the value an empty form shows |
//! | `max_length = N`, `min_length = N` | characters, with `maxlength`/`minlength` on the input |
//! | `min_value = X`, `max_value = X` | numbers, or `"2024-01-31"`-style text for dates and times |
//! | `max_digits = N`, `decimal_places = N` | `Decimal` fields (Django's `DecimalValidator`) |
//! | `email`, `url`, `slug` | the text must be one |
//! | `regex = "..."` | the text must match (searched, as Django's `RegexValidator`; anchor with `^...$`), checked when compiling |
//! | `choices = [("value", "Label"), ...]` | the value must be one; drawn as a `<select>` |
//! | `input_formats = ["%d.%m.%Y"]` | date/time formats tried before Django's defaults |
//! | `strip = false` | keep surrounding whitespace |
//! | `validators = [path, ...]` | `fn(&T) -> Result<(), ValidationError>` on the non-empty value (`&str` for text) |
//! | `widget = textarea` | `text`, `textarea`, `password`, `hidden`, `email`, `url`, `number`, `date`, `time`, `datetime`, `checkbox`, `select`, `select_multiple`, `radio_select`, `checkbox_select_multiple` |
//!
//! On the struct, `#[form(clean = path)]` names a
//! `fn(&mut Self, &mut FormErrors)` that checks the form as a whole (Django's
//! `Form.clean`); it runs only when every field is valid.
//!
//! # Differences from Django, on purpose
//!
//! - A `bool` field is not required (unchecked is `false`); `#[form(required)]`
//!   asks for a ticked box. Django's `BooleanField` is required by default,
//!   which surprises nearly everyone.
//! - Help texts are escaped: they often come from models and translations,
//!   and a form should not be a way to inject markup.
//! - Dates and times are drawn with the browsers' pickers (`type="date"`,
//!   `"time"`, `"datetime-local"`); the values are ISO 8601, which Django's
//!   formats accept too. Date-times without an offset are read as UTC.

mod bound;
mod bound_field;
mod data;
mod field;
pub(crate) mod files;
mod formats;
pub mod formset;
pub mod model_form;
pub mod validators;
mod widgets;
pub(crate) use widgets::escape_into;

pub use bound::{BoundForm, Cleaner, FormErrors, NON_FIELD_ERRORS, SafeHtml, UnknownField};
pub use bound_field::BoundField;
pub(crate) use data::ParsedForm;
pub use data::{FormData, FormDataError, MAX_FIELDS};
#[doc(hidden)]
pub use field::{__choices_describe, __choices_parse};
pub use field::{Choice, Field, FieldValue};
pub use files::{MAX_FILENAME_LENGTH, MAX_FILES, UploadedFile, get_valid_filename};
pub use formset::{DEFAULT_MAX_NUM, InlineFormSet, Saved};
pub use manouche_macros::Form;
pub use model_form::ModelForm;
pub use validators::{Bounded, Limit, Text, ValidationError};
pub use widgets::{Widget, WidgetKind};

#[doc(hidden)]
pub mod __private {
    pub use regex::Regex;
}

/// A struct whose fields are a form's: derive it with `#[derive(Form)]`
/// (see the [module docs](self)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a form",
    label = "not a form",
    note = "add `#[derive(Form)]` to `{Self}`"
)]
pub trait Form: Sized {
    /// The fields, in order.
    fn fields() -> Vec<Field>;

    /// Cleans a submission field by field through `cleaner`, then runs the
    /// form's own check. `None` when any field had an error.
    fn clean(cleaner: &mut Cleaner<'_>) -> Option<Self>;

    /// The value as submitted text, field by field: what an edit form
    /// shows ([`BoundForm::with_initial`]).
    fn to_form(&self) -> Vec<(&'static str, Vec<String>)>;
}
