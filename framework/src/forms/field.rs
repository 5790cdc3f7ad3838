//! A form's fields: what each one is called, shows and accepts.
//!
//! A [`Field`] is the description (Django's form `Field`): name, label,
//! help text, whether it is required, its [`Widget`], initial value and
//! choices. [`FieldValue`] is how a Rust type becomes a field: the widget
//! it brings and how submitted text turns into the value (Django's
//! `to_python`). `#[derive(Form)]` puts the two together.

use std::borrow::Cow;

use super::files::UploadedFile;
use super::formats::{parse_date, parse_datetime, parse_time};
use super::validators::ValidationError;
use super::widgets::{Widget, WidgetKind};
use crate::db::fields::{Choices, Date, DateTime, Decimal, Email, Slug, Time, Url, Uuid};

pub use super::widgets::Choice;

/// The description of one form field.
#[derive(Debug, Clone)]
pub struct Field {
    pub(crate) name: Cow<'static, str>,
    pub(crate) label: Cow<'static, str>,
    pub(crate) help_text: Cow<'static, str>,
    pub(crate) required: bool,
    pub(crate) disabled: bool,
    pub(crate) widget: Widget,
    pub(crate) initial: Vec<String>,
    pub(crate) choices: Vec<Choice>,
    pub(crate) input_formats: Vec<Cow<'static, str>>,
    pub(crate) strip: bool,
}

impl Field {
    /// A required text field called `name`, labelled after it
    /// (`pub_date` → "Pub date").
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        let label = label_of(&name).into();
        Self {
            name,
            label,
            help_text: Cow::Borrowed(""),
            required: true,
            disabled: false,
            widget: Widget::text(),
            initial: Vec::new(),
            choices: Vec::new(),
            input_formats: Vec::new(),
            strip: true,
        }
    }

    /// The field's name (the form key, without any prefix).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The label.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether an empty value is refused.
    #[must_use]
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// Whether the field shows its initial value and ignores what is
    /// submitted.
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The widget.
    #[must_use]
    pub fn widget(&self) -> &Widget {
        &self.widget
    }

    /// The choices, for select and radio widgets.
    #[must_use]
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The date/time formats tried in order, before the defaults.
    #[must_use]
    pub fn input_formats(&self) -> &[Cow<'static, str>] {
        &self.input_formats
    }

    /// Sets the label.
    pub fn set_label(&mut self, label: impl Into<Cow<'static, str>>) -> &mut Self {
        self.label = label.into();
        self
    }

    /// Sets the help text, shown under the label. It is HTML: escape what
    /// comes from users (Django's `help_text` is not escaped either).
    pub fn set_help_text(&mut self, text: impl Into<Cow<'static, str>>) -> &mut Self {
        self.help_text = text.into();
        self
    }

    /// Makes the field required or not.
    pub fn set_required(&mut self, required: bool) -> &mut Self {
        self.required = required;
        self
    }

    /// Disables the field: it shows its initial value, and what a client
    /// submits for it is ignored.
    pub fn set_disabled(&mut self, disabled: bool) -> &mut Self {
        self.disabled = disabled;
        self
    }

    /// Replaces the widget, keeping the attributes the field's checks
    /// added (`maxlength`, `min`, `max`, `step`).
    pub fn set_widget(&mut self, widget: Widget) -> &mut Self {
        /// What `set_max_length` and friends put on a widget; anything
        /// else (a textarea's `cols`) belongs to the widget replaced.
        const FROM_CHECKS: &[&str] = &["maxlength", "minlength", "min", "max", "step"];
        let attrs = std::mem::take(&mut self.widget.attrs);
        self.widget = widget;
        for (k, v) in attrs {
            if FROM_CHECKS.contains(&k.as_ref()) && self.widget.attr(&k).is_none() {
                self.widget.attrs.push((k, v));
            }
        }
        self
    }

    /// Sets the initial value shown by an unbound form, as submitted text.
    pub fn set_initial(&mut self, values: Vec<String>) -> &mut Self {
        self.initial = values;
        self
    }

    /// Sets the choices; a text or number field with choices is shown as a
    /// `<select>` unless its widget is a radio list.
    pub fn set_choices(&mut self, choices: Vec<Choice>) -> &mut Self {
        self.choices = choices;
        if !self.widget.has_choices() {
            self.set_widget(if self.widget.allows_multiple() {
                Widget::select_multiple()
            } else {
                Widget::select()
            });
        }
        self
    }

    /// Tries these `chrono` formats first when parsing a date or time.
    pub fn set_input_formats(&mut self, formats: Vec<Cow<'static, str>>) -> &mut Self {
        self.input_formats = formats;
        self
    }

    /// Whether leading and trailing whitespace is removed from text
    /// (default: yes, as Django's `CharField(strip=True)`).
    pub fn set_strip(&mut self, strip: bool) -> &mut Self {
        self.strip = strip;
        self
    }

    /// Declares a maximum length: the `maxlength` attribute of text
    /// inputs. The check itself is [`validators::max_length`](super::validators::max_length).
    pub fn set_max_length(&mut self, n: usize) -> &mut Self {
        if self.widget.is_text_like() {
            self.widget.set_attr("maxlength", n.to_string());
        }
        self
    }

    /// Declares a minimum length: the `minlength` attribute.
    pub fn set_min_length(&mut self, n: usize) -> &mut Self {
        if self.widget.is_text_like() {
            self.widget.set_attr("minlength", n.to_string());
        }
        self
    }

    /// Declares a lower bound: the `min` attribute of number and date
    /// inputs.
    pub fn set_min_value(&mut self, limit: impl std::fmt::Display) -> &mut Self {
        if self.widget.is_ordered() {
            self.widget.set_attr("min", limit.to_string());
        }
        self
    }

    /// Declares an upper bound: the `max` attribute.
    pub fn set_max_value(&mut self, limit: impl std::fmt::Display) -> &mut Self {
        if self.widget.is_ordered() {
            self.widget.set_attr("max", limit.to_string());
        }
        self
    }

    /// Declares the decimal places: the `step` attribute (`0.01` for 2).
    pub fn set_decimal_places(&mut self, places: u32) -> &mut Self {
        if self.widget.input_type() == Some("number") {
            let step = if places == 0 {
                "1".to_owned()
            } else {
                format!("0.{}1", "0".repeat(places as usize - 1))
            };
            self.widget.set_attr("step", step);
        }
        self
    }

    /// The submitted text, normalised as the field does before parsing:
    /// surrounding whitespace removed unless [`set_strip`](Self::set_strip)
    /// said otherwise.
    #[must_use]
    pub fn normalize<'a>(&self, value: &'a str) -> &'a str {
        if self.strip { value.trim() } else { value }
    }
}

/// "pub_date" → "Pub date" (Django's `pretty_name`).
pub(crate) fn label_of(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A Rust type that a form field can hold.
///
/// Implemented for text (`String`, [`Email`], [`Url`], [`Slug`]), numbers,
/// `bool`, [`Decimal`], [`Date`], [`Time`], [`DateTime`], [`Uuid`],
/// `#[derive(Choices)]` enums, [`UploadedFile`] (a file input),
/// `Option<T>` (an optional field) and `Vec<T>` (several values: a multiple
/// select).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a form field",
    label = "no form field for this type",
    note = "use String, Email, Url, Slug, bool, an integer, f64, Decimal, Date, Time, DateTime, \
            Uuid, UploadedFile, a #[derive(Choices)] enum, or an Option or Vec of one"
)]
pub trait FieldValue: Sized {
    /// The value validators see: `T` for `Option<T>`, else `Self`.
    type Inner;

    /// Gives a new field this type's widget and defaults (an `Option` is
    /// not required, a `bool` is a checkbox, ...).
    fn describe(field: &mut Field);

    /// Parses the submitted values (usually one; several for a multiple
    /// select). `Ok(None)` when nothing was entered.
    ///
    /// # Errors
    ///
    /// The message for a value of the wrong kind ("Enter a whole number.").
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError>;

    /// Parses the field from the whole submission: its text values and the
    /// files sent under its name. Types read from text keep the default,
    /// which is [`parse`](Self::parse); a file field reads `files`.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse).
    fn parse_submission(
        values: &[&str],
        files: &[&UploadedFile],
        field: &Field,
    ) -> Result<Option<Self>, ValidationError> {
        let _ = files;
        Self::parse(values, field)
    }

    /// The value of a field left empty that is not required, when the type
    /// has one (`""`, `None`, `false`, an empty list).
    fn empty() -> Option<Self> {
        None
    }

    /// The value as submitted text, to show it in the form again.
    fn to_form(&self) -> Vec<String>;

    /// The value validators check, or `None` for an empty optional value
    /// (validators skip it).
    fn inner(&self) -> Option<&Self::Inner>;
}

fn last<'a>(values: &[&'a str], field: &Field) -> Option<&'a str> {
    // Django's QueryDict.get: the last value wins.
    values
        .last()
        .map(|v| field.normalize(v))
        .filter(|v| !v.is_empty())
}

fn no_nul(value: &str) -> Result<(), ValidationError> {
    if value.contains('\0') {
        return Err(ValidationError::new("Null characters are not allowed.")
            .with_code("null_characters_not_allowed"));
    }
    Ok(())
}

impl FieldValue for String {
    type Inner = String;
    fn describe(_: &mut Field) {}
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        let Some(v) = last(values, field) else {
            return Ok(None);
        };
        no_nul(v)?;
        Ok(Some(v.to_owned()))
    }
    fn empty() -> Option<Self> {
        Some(String::new())
    }
    fn to_form(&self) -> Vec<String> {
        vec![self.clone()]
    }
    fn inner(&self) -> Option<&String> {
        Some(self)
    }
}

macro_rules! validated_text {
    ($($ty:ty => $widget:expr, $check:path;)*) => {$(
        impl FieldValue for $ty {
            type Inner = $ty;
            fn describe(field: &mut Field) {
                field.set_widget($widget);
            }
            fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
                let Some(v) = last(values, field) else {
                    return Ok(None);
                };
                no_nul(v)?;
                $check(v)?;
                // The check above is the same as the type's own.
                <$ty>::new(v).map(Some).map_err(|e| ValidationError::new(e.0))
            }
            fn to_form(&self) -> Vec<String> {
                vec![self.as_str().to_owned()]
            }
            fn inner(&self) -> Option<&Self> {
                Some(self)
            }
        }
    )*};
}

validated_text! {
    Email => Widget::email(), super::validators::email;
    Url => Widget::url(), super::validators::url;
    Slug => Widget::text(), super::validators::slug;
}

macro_rules! integer {
    ($($ty:ty),*) => {$(
        impl FieldValue for $ty {
            type Inner = $ty;
            fn describe(field: &mut Field) {
                field.set_widget(Widget::number());
            }
            fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
                let Some(v) = last(values, field) else {
                    return Ok(None);
                };
                parse_integer(v).map(Some).ok_or_else(|| out_of_range(v, <$ty>::MIN, <$ty>::MAX))
            }
            fn to_form(&self) -> Vec<String> {
                vec![self.to_string()]
            }
            fn inner(&self) -> Option<&Self> {
                Some(self)
            }
        }
    )*};
}

/// Django's `IntegerField.to_python`: an optional sign, digits, and an
/// optional fraction of zeros (`"1.0"` is 1, `"1.5"` is not whole).
fn parse_integer<T: std::str::FromStr>(v: &str) -> Option<T> {
    let whole = match v.split_once('.') {
        Some((whole, frac)) if !whole.is_empty() && frac.bytes().all(|b| b == b'0') => whole,
        Some(_) => return None,
        None => v,
    };
    whole.parse().ok()
}

integer!(i16, i32, i64, u8, u16, u32, u64);

/// The error for text that did not parse as the integer type: a whole
/// number outside the type's range gets Django's bound message (as a
/// model form's range validators give), anything else "Enter a whole
/// number."
fn out_of_range(
    v: &str,
    min: impl std::fmt::Display,
    max: impl std::fmt::Display,
) -> ValidationError {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    let digits = digits.split_once('.').map_or(digits, |(whole, frac)| {
        if frac.bytes().all(|b| b == b'0') {
            whole
        } else {
            ""
        }
    });
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return ValidationError::new("Enter a whole number.");
    }
    if v.starts_with('-') {
        ValidationError::new(format!(
            "Ensure this value is greater than or equal to {min}."
        ))
        .with_code("min_value")
    } else {
        ValidationError::new(format!("Ensure this value is less than or equal to {max}."))
            .with_code("max_value")
    }
}

impl FieldValue for f64 {
    type Inner = f64;
    fn describe(field: &mut Field) {
        field.set_widget(Widget::number());
        field.widget.set_attr("step", "any");
    }
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        let Some(v) = last(values, field) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(ValidationError::new("Enter a number.")),
        }
    }
    fn to_form(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

impl FieldValue for Decimal {
    type Inner = Decimal;
    fn describe(field: &mut Field) {
        field.set_widget(Widget::number());
        field.widget.set_attr("step", "any");
    }
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        let Some(v) = last(values, field) else {
            return Ok(None);
        };
        // "1e3" is a number to Python's Decimal, and to Django.
        Decimal::from_str_exact(v)
            .or_else(|_| Decimal::from_scientific(v))
            .map(Some)
            .map_err(|_| ValidationError::new("Enter a number."))
    }
    fn to_form(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

/// Whether a checkbox's submitted values tick it: the last value is there
/// and is not a false one (Django's `CheckboxInput.value_from_datadict`
/// and `BooleanField`). Parsing and drawing a box use this one rule.
pub(crate) fn is_checked(values: &[impl AsRef<str>]) -> bool {
    values.last().is_some_and(|v| {
        !matches!(
            v.as_ref().trim().to_ascii_lowercase().as_str(),
            "" | "false" | "0" | "off" | "no"
        )
    })
}

/// A checkbox. Unlike Django's `BooleanField`, a `bool` field is not
/// required by default: unchecked means `false`. `#[form(required)]` makes
/// it a box that must be ticked ("I accept the terms").
impl FieldValue for bool {
    type Inner = bool;
    fn describe(field: &mut Field) {
        field.set_widget(Widget::checkbox());
        field.required = false;
    }
    fn parse(values: &[&str], _: &Field) -> Result<Option<Self>, ValidationError> {
        Ok(is_checked(values).then_some(true))
    }
    fn empty() -> Option<Self> {
        Some(false)
    }
    fn to_form(&self) -> Vec<String> {
        if *self {
            vec!["on".to_owned()]
        } else {
            Vec::new()
        }
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

macro_rules! temporal {
    ($($ty:ty => $widget:expr, $parse:path, $message:literal, $show:expr;)*) => {$(
        impl FieldValue for $ty {
            type Inner = $ty;
            fn describe(field: &mut Field) {
                field.set_widget($widget);
            }
            fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
                let Some(v) = last(values, field) else {
                    return Ok(None);
                };
                $parse(v, &field.input_formats)
                    .map(Some)
                    .ok_or_else(|| ValidationError::new($message))
            }
            fn to_form(&self) -> Vec<String> {
                let show: fn(&$ty) -> String = $show;
                vec![show(self)]
            }
            fn inner(&self) -> Option<&Self> {
                Some(self)
            }
        }
    )*};
}

temporal! {
    Date => Widget::date(), parse_date, "Enter a valid date.", |d| d.format("%Y-%m-%d").to_string();
    Time => Widget::time(), parse_time, "Enter a valid time.", |t| t.format("%H:%M:%S").to_string();
    DateTime => Widget::datetime(), parse_datetime, "Enter a valid date/time.",
        |d| d.format("%Y-%m-%dT%H:%M:%S").to_string();
}

impl FieldValue for Uuid {
    type Inner = Uuid;
    fn describe(_: &mut Field) {}
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        let Some(v) = last(values, field) else {
            return Ok(None);
        };
        v.parse()
            .map(Some)
            .map_err(|_| ValidationError::new("Enter a valid UUID."))
    }
    fn to_form(&self) -> Vec<String> {
        vec![self.to_string()]
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

/// An optional field: empty gives `None`.
impl<T: FieldValue> FieldValue for Option<T> {
    type Inner = T::Inner;
    fn describe(field: &mut Field) {
        T::describe(field);
        field.required = false;
    }
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        Ok(T::parse(values, field)?.map(Some))
    }
    fn parse_submission(
        values: &[&str],
        files: &[&UploadedFile],
        field: &Field,
    ) -> Result<Option<Self>, ValidationError> {
        Ok(T::parse_submission(values, files, field)?.map(Some))
    }
    fn empty() -> Option<Self> {
        Some(None)
    }
    fn to_form(&self) -> Vec<String> {
        self.as_ref().map(T::to_form).unwrap_or_default()
    }
    fn inner(&self) -> Option<&T::Inner> {
        self.as_ref().and_then(T::inner)
    }
}

/// A file (Django's `FileField`), drawn as `<input type="file">` and never
/// filled in again. The last file sent under the field's name is taken; an
/// empty file is refused ("The submitted file is empty."), and text sent
/// where a file was expected means the form lacks
/// `enctype="multipart/form-data"` ("No file was submitted. Check the
/// encoding type on the form.").
impl FieldValue for UploadedFile {
    type Inner = UploadedFile;
    fn describe(field: &mut Field) {
        field.set_widget(Widget::file());
    }
    fn parse(values: &[&str], _: &Field) -> Result<Option<Self>, ValidationError> {
        if values.iter().any(|v| !v.is_empty()) {
            return Err(ValidationError::new(
                "No file was submitted. Check the encoding type on the form.",
            )
            .with_code("invalid"));
        }
        Ok(None)
    }
    fn parse_submission(
        values: &[&str],
        files: &[&UploadedFile],
        field: &Field,
    ) -> Result<Option<Self>, ValidationError> {
        let Some(file) = files.last() else {
            return Self::parse(values, field);
        };
        if file.size() == 0 {
            return Err(ValidationError::new("The submitted file is empty.").with_code("empty"));
        }
        Ok(Some((*file).clone()))
    }
    fn to_form(&self) -> Vec<String> {
        // A file input cannot be given a value.
        Vec::new()
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

/// Several values: a multiple select (Django's `MultipleChoiceField`),
/// required unless `#[form(required = false)]`. Each value is parsed as a
/// `T`; validators see the whole list.
///
/// `Vec<UploadedFile>` is several files: `<input type="file" multiple>`,
/// each file checked as a single one is (an empty file is refused), in
/// the order sent.
impl<T: FieldValue> FieldValue for Vec<T> {
    type Inner = Vec<T>;
    fn describe(field: &mut Field) {
        T::describe(field);
        if field.widget().kind() == WidgetKind::File {
            field.widget.set_attr("multiple", "");
        } else {
            field.set_widget(Widget::select_multiple());
        }
    }
    fn parse_submission(
        values: &[&str],
        files: &[&UploadedFile],
        field: &Field,
    ) -> Result<Option<Self>, ValidationError> {
        if files.is_empty() {
            return Self::parse(values, field);
        }
        let mut out = Vec::with_capacity(files.len());
        for file in files {
            if let Some(item) = T::parse_submission(&[], &[*file], field)? {
                out.push(item);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
    fn parse(values: &[&str], field: &Field) -> Result<Option<Self>, ValidationError> {
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            if let Some(item) = T::parse(&[v], field)? {
                out.push(item);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }
    fn empty() -> Option<Self> {
        Some(Vec::new())
    }
    fn to_form(&self) -> Vec<String> {
        self.iter().flat_map(T::to_form).collect()
    }
    fn inner(&self) -> Option<&Self> {
        Some(self)
    }
}

/// The `FieldValue` of a `#[derive(Choices)]` enum: a `<select>` of its
/// variants. The derive calls it; it is not meant to be called by hand.
#[doc(hidden)]
pub fn __choices_describe<T: Choices>(field: &mut Field) {
    field.set_choices(
        T::CHOICES
            .iter()
            .map(|(v, l)| (Cow::Borrowed(*v), Cow::Borrowed(*l)))
            .collect(),
    );
}

/// Parses a `#[derive(Choices)]` enum's stored value, with Django's
/// invalid-choice message.
#[doc(hidden)]
pub fn __choices_parse<T: Choices>(
    values: &[&str],
    field: &Field,
) -> Result<Option<T>, ValidationError> {
    let Some(v) = last(values, field) else {
        return Ok(None);
    };
    T::from_value(v).map(Some).ok_or_else(|| {
        ValidationError::new(format!(
            "Select a valid choice. {v} is not one of the available choices."
        ))
        .with_code("invalid_choice")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: FieldValue>(v: &str) -> Result<Option<T>, ValidationError> {
        let mut f = Field::new("x");
        T::describe(&mut f);
        T::parse(&[v], &f)
    }

    #[test]
    fn a_new_widget_keeps_what_the_checks_added_and_nothing_else() {
        let mut f = Field::new("x");
        f.set_widget(Widget::textarea()).set_max_length(10);
        f.set_widget(Widget::text());
        assert_eq!(f.widget().attr("maxlength"), Some("10"));
        assert_eq!(f.widget().attr("cols"), None, "the textarea's own");
    }

    #[test]
    fn labels_come_from_names() {
        assert_eq!(Field::new("pub_date").label(), "Pub date");
        assert_eq!(Field::new("email").label(), "Email");
    }

    #[test]
    fn text_is_stripped_and_nul_refused() {
        assert_eq!(parse::<String>("  ada ").unwrap(), Some("ada".to_owned()));
        assert_eq!(parse::<String>("   ").unwrap(), None);
        assert_eq!(
            parse::<String>("a\0b").unwrap_err().message(),
            "Null characters are not allowed."
        );
    }

    #[test]
    fn integers_as_django_parses_them() {
        assert_eq!(parse::<i32>("42").unwrap(), Some(42));
        assert_eq!(parse::<i32>(" -7 ").unwrap(), Some(-7));
        assert_eq!(parse::<i32>("1.0").unwrap(), Some(1));
        assert_eq!(
            parse::<i32>("1.5").unwrap_err().message(),
            "Enter a whole number."
        );
        assert_eq!(
            parse::<i32>("abc").unwrap_err().message(),
            "Enter a whole number."
        );
        assert_eq!(
            parse::<i32>("1000000000000000000000000000000")
                .unwrap_err()
                .message(),
            "Ensure this value is less than or equal to 2147483647."
        );
        assert_eq!(
            parse::<u8>("-1").unwrap_err().message(),
            "Ensure this value is greater than or equal to 0."
        );
    }

    #[test]
    fn floats_and_decimals() {
        assert_eq!(parse::<f64>("1.5").unwrap(), Some(1.5));
        assert_eq!(
            parse::<f64>("inf").unwrap_err().message(),
            "Enter a number."
        );
        assert_eq!(
            parse::<f64>("NaN").unwrap_err().message(),
            "Enter a number."
        );
        assert_eq!(
            parse::<Decimal>("3.14").unwrap(),
            Some("3.14".parse().unwrap())
        );
        assert_eq!(
            parse::<Decimal>("x").unwrap_err().message(),
            "Enter a number."
        );
    }

    #[test]
    fn checkboxes() {
        let f = Field::new("x");
        assert_eq!(bool::parse(&[], &f).unwrap(), None);
        assert_eq!(bool::parse(&["on"], &f).unwrap(), Some(true));
        assert_eq!(bool::parse(&["false"], &f).unwrap(), None);
        assert_eq!(bool::empty(), Some(false));
    }

    #[test]
    fn dates_and_times_in_djangos_formats() {
        let d = Date::from_ymd_opt(2006, 10, 25).unwrap();
        for v in [
            "2006-10-25",
            "10/25/2006",
            "10/25/06",
            "Oct 25 2006",
            "25 October, 2006",
        ] {
            assert_eq!(parse::<Date>(v).unwrap(), Some(d), "{v}");
        }
        assert_eq!(
            parse::<Date>("2006-13-01").unwrap_err().message(),
            "Enter a valid date."
        );
        assert_eq!(
            parse::<Time>("14:30").unwrap(),
            Time::from_hms_opt(14, 30, 0)
        );
        assert_eq!(
            parse::<Time>("25:00").unwrap_err().message(),
            "Enter a valid time."
        );
        let dt = parse::<DateTime>("2006-10-25T14:30").unwrap().unwrap();
        assert_eq!(dt.to_rfc3339(), "2006-10-25T14:30:00+00:00");
        let dt = parse::<DateTime>("2006-10-25T14:30:00+02:00")
            .unwrap()
            .unwrap();
        assert_eq!(dt.to_rfc3339(), "2006-10-25T12:30:00+00:00");
        let dt = parse::<DateTime>("2006-10-25").unwrap().unwrap();
        assert_eq!(dt.to_rfc3339(), "2006-10-25T00:00:00+00:00");
        assert_eq!(
            parse::<DateTime>("soon").unwrap_err().message(),
            "Enter a valid date/time."
        );
        let mut f = Field::new("x");
        f.set_input_formats(vec!["%d.%m.%Y".into()]);
        assert_eq!(Date::parse(&["25.10.2006"], &f).unwrap(), Some(d));
    }

    #[test]
    fn options_and_lists() {
        assert_eq!(parse::<Option<i32>>("").unwrap(), None);
        assert_eq!(parse::<Option<i32>>("3").unwrap(), Some(Some(3)));
        let f = Field::new("x");
        assert_eq!(
            Vec::<i32>::parse(&["1", "2", ""], &f).unwrap(),
            Some(vec![1, 2])
        );
        assert_eq!(Vec::<i32>::parse(&[], &f).unwrap(), None);
        assert!(Vec::<i32>::parse(&["1", "x"], &f).is_err());
    }

    #[test]
    fn typed_text() {
        assert!(parse::<Email>("ada@example.com").unwrap().is_some());
        assert_eq!(
            parse::<Email>("ada").unwrap_err().message(),
            "Enter a valid email address."
        );
        assert_eq!(
            parse::<Uuid>("x").unwrap_err().message(),
            "Enter a valid UUID."
        );
    }
}
