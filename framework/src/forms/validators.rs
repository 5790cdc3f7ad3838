//! Validation errors and the validators that `#[form(...)]` attributes
//! name, with Django's messages and codes.
//!
//! Validators run only on a value that is not empty: an empty optional
//! field is never "too short" (Django's `run_validators`). Each takes the
//! field's *inner* value (`String` for `Option<String>`), so that one
//! validator serves a field and its optional form alike.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::db::fields::{Date, DateTime, Decimal, Time};

/// One problem with a submitted value: a message for the person filling in
/// the form and a stable code for programs (Django's `ValidationError`
/// with its `code`: `"required"`, `"max_length"`, `"invalid"`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    message: Cow<'static, str>,
    code: &'static str,
}

impl ValidationError {
    /// An error with `message` and the code `"invalid"`.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            code: "invalid",
        }
    }

    /// The same error with another code.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// The message shown to the user.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The code (`"required"`, `"invalid"`, `"max_length"`, ...).
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// "This field is required."
    #[must_use]
    pub fn required() -> Self {
        Self::new("This field is required.").with_code("required")
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValidationError {}

impl From<&'static str> for ValidationError {
    fn from(message: &'static str) -> Self {
        Self::new(message)
    }
}

impl From<String> for ValidationError {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

/// A validator's result.
pub type Check = Result<(), ValidationError>;

/// Values that the text validators (`max_length`, `min_length`, `email`,
/// `url`, `slug`, `regex`) check.
#[diagnostic::on_unimplemented(
    message = "`max_length`, `min_length`, `email`, `url`, `slug` and `regex` check text, not `{Self}`",
    label = "not text",
    note = "use them on String, Email, Url or Slug fields (or an Option of one)"
)]
pub trait Text {
    /// The text.
    fn text(&self) -> &str;
}

impl Text for str {
    fn text(&self) -> &str {
        self
    }
}

impl Text for String {
    fn text(&self) -> &str {
        self
    }
}

macro_rules! text_types {
    ($($ty:ty),*) => {$(
        impl Text for $ty {
            fn text(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}
text_types!(
    crate::db::fields::Email,
    crate::db::fields::Url,
    crate::db::fields::Slug
);

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// At most `limit` characters (Django's `MaxLengthValidator`).
///
/// # Errors
///
/// "Ensure this value has at most 5 characters (it has 6)."
pub fn max_length(value: &(impl Text + ?Sized), limit: usize) -> Check {
    let n = value.text().chars().count();
    if n > limit {
        return Err(ValidationError::new(format!(
            "Ensure this value has at most {limit} {} (it has {n}).",
            plural(limit, "character", "characters")
        ))
        .with_code("max_length"));
    }
    Ok(())
}

/// At least `limit` characters (Django's `MinLengthValidator`).
///
/// # Errors
///
/// "Ensure this value has at least 5 characters (it has 2)."
pub fn min_length(value: &(impl Text + ?Sized), limit: usize) -> Check {
    let n = value.text().chars().count();
    if n < limit {
        return Err(ValidationError::new(format!(
            "Ensure this value has at least {limit} {} (it has {n}).",
            plural(limit, "character", "characters")
        ))
        .with_code("min_length"));
    }
    Ok(())
}

/// A bound given in a `#[form(min_value = ..., max_value = ...)]`
/// attribute: a number, or text for dates and times (`"2024-01-31"`,
/// `"09:00"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A whole number.
    Int(i128),
    /// A number with a fraction.
    Float(f64),
    /// Text, parsed by the field's type.
    Text(&'static str),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Float(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

/// Values that `min_value` and `max_value` can bound.
#[diagnostic::on_unimplemented(
    message = "`min_value` / `max_value` cannot bound a `{Self}`",
    label = "not a number, date or time",
    note = "use them on integer, float, Decimal, Date, Time or DateTime fields"
)]
pub trait Bounded {
    /// How the value compares with `limit`, or `None` when the limit is not
    /// a value of this type.
    fn compare(&self, limit: Limit) -> Option<Ordering>;
}

macro_rules! bounded_int {
    ($($ty:ty),*) => {$(
        impl Bounded for $ty {
            fn compare(&self, limit: Limit) -> Option<Ordering> {
                match limit {
                    Limit::Int(n) => Some(i128::from(*self).cmp(&n)),
                    #[allow(clippy::cast_precision_loss)]
                    Limit::Float(f) => (*self as f64).partial_cmp(&f),
                    Limit::Text(_) => None,
                }
            }
        }
    )*};
}
bounded_int!(i16, i32, i64, u8, u16, u32, u64);

impl Bounded for f64 {
    fn compare(&self, limit: Limit) -> Option<Ordering> {
        match limit {
            #[allow(clippy::cast_precision_loss)]
            Limit::Int(n) => self.partial_cmp(&(n as f64)),
            Limit::Float(f) => self.partial_cmp(&f),
            Limit::Text(_) => None,
        }
    }
}

impl Bounded for Decimal {
    fn compare(&self, limit: Limit) -> Option<Ordering> {
        let limit = match limit {
            Limit::Int(n) => Decimal::from_i128_with_scale(n, 0),
            Limit::Float(f) => Decimal::try_from(f).ok()?,
            Limit::Text(s) => s.parse().ok()?,
        };
        Some(self.cmp(&limit))
    }
}

macro_rules! bounded_text {
    ($($ty:ty => $parse:expr),*) => {$(
        impl Bounded for $ty {
            fn compare(&self, limit: Limit) -> Option<Ordering> {
                let Limit::Text(s) = limit else { return None };
                let parse: fn(&str) -> Option<$ty> = $parse;
                Some(self.cmp(&parse(s)?))
            }
        }
    )*};
}
bounded_text!(
    Date => |s| super::formats::parse_date(s, &[]),
    Time => |s| super::formats::parse_time(s, &[]),
    DateTime => |s| super::formats::parse_datetime(s, &[])
);

fn bound(value: &impl Bounded, limit: Limit, which: &str) -> Ordering {
    value.compare(limit).unwrap_or_else(|| {
        panic!("`{which} = {limit:?}` in a #[form] attribute is not a value of the field's type")
    })
}

/// At least `limit` (Django's `MinValueValidator`).
///
/// # Errors
///
/// "Ensure this value is greater than or equal to 1."
///
/// # Panics
///
/// When `limit` is not a value of the field's type (a `min_value = "x"`
/// on a date field): a mistake in the form's declaration.
pub fn min_value(value: &impl Bounded, limit: Limit) -> Check {
    if bound(value, limit, "min_value") == Ordering::Less {
        return Err(ValidationError::new(format!(
            "Ensure this value is greater than or equal to {limit}."
        ))
        .with_code("min_value"));
    }
    Ok(())
}

/// At most `limit` (Django's `MaxValueValidator`).
///
/// # Errors
///
/// "Ensure this value is less than or equal to 10."
///
/// # Panics
///
/// As [`min_value`].
pub fn max_value(value: &impl Bounded, limit: Limit) -> Check {
    if bound(value, limit, "max_value") == Ordering::Greater {
        return Err(ValidationError::new(format!(
            "Ensure this value is less than or equal to {limit}."
        ))
        .with_code("max_value"));
    }
    Ok(())
}

/// No more than `max_digits` digits in all and `decimal_places` after the
/// point (Django's `DecimalValidator`; either may be `None`).
///
/// # Errors
///
/// Django's `max_digits`, `max_decimal_places` or `max_whole_digits`
/// error.
pub fn decimal(value: &Decimal, max_digits: Option<u32>, decimal_places: Option<u32>) -> Check {
    // Django's DecimalValidator counts the digits as written, trailing
    // zeros included ("0.100" has 3), and a number below one as having as
    // many digits as decimal places ("0.002" has 3).
    let written = value.mantissa().unsigned_abs().to_string().len();
    let places = value.scale();
    let digits = written.max(places as usize);
    let whole = digits - places as usize;
    if let Some(max) = max_digits
        && digits > max as usize
    {
        return Err(ValidationError::new(format!(
            "Ensure that there are no more than {max} {} in total.",
            plural(max as usize, "digit", "digits")
        ))
        .with_code("max_digits"));
    }
    if let Some(max) = decimal_places
        && places > max
    {
        return Err(ValidationError::new(format!(
            "Ensure that there are no more than {max} decimal {}.",
            plural(max as usize, "place", "places")
        ))
        .with_code("max_decimal_places"));
    }
    if let (Some(max), Some(places)) = (max_digits, decimal_places) {
        let max_whole = max.saturating_sub(places) as usize;
        if whole > max_whole {
            return Err(ValidationError::new(format!(
                "Ensure that there are no more than {max_whole} {} before the decimal point.",
                plural(max_whole, "digit", "digits")
            ))
            .with_code("max_whole_digits"));
        }
    }
    Ok(())
}

/// An e-mail address (Django's `EmailValidator`).
///
/// # Errors
///
/// "Enter a valid email address."
pub fn email(value: &(impl Text + ?Sized)) -> Check {
    if crate::db::fields::is_email(value.text()) {
        Ok(())
    } else {
        Err(ValidationError::new("Enter a valid email address."))
    }
}

/// An `http` or `https` URL (Django's `URLValidator`).
///
/// # Errors
///
/// "Enter a valid URL."
pub fn url(value: &(impl Text + ?Sized)) -> Check {
    if crate::db::fields::is_url(value.text()) {
        Ok(())
    } else {
        Err(ValidationError::new("Enter a valid URL."))
    }
}

/// Letters, digits, underscores and hyphens (Django's `validate_slug`,
/// Unicode letters included as with `allow_unicode`).
///
/// # Errors
///
/// Django's slug message.
pub fn slug(value: &(impl Text + ?Sized)) -> Check {
    if crate::db::fields::is_slug(value.text()) {
        Ok(())
    } else {
        Err(ValidationError::new(
            "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.",
        ))
    }
}

/// Matches `regex` somewhere in the value (Django's `RegexValidator`,
/// which searches; anchor the pattern with `^...$` to match the whole
/// value).
///
/// # Errors
///
/// "Enter a valid value."
pub fn regex(value: &(impl Text + ?Sized), regex: &regex::Regex) -> Check {
    if regex.is_match(value.text()) {
        Ok(())
    } else {
        Err(ValidationError::new("Enter a valid value."))
    }
}

/// One of `choices`' stored values (Django's `ChoiceField`).
///
/// # Errors
///
/// "Select a valid choice. x is not one of the available choices."
pub fn choice(value: &str, choices: &[(Cow<'static, str>, Cow<'static, str>)]) -> Check {
    if choices.iter().any(|(v, _)| v == value) {
        Ok(())
    } else {
        Err(ValidationError::new(format!(
            "Select a valid choice. {value} is not one of the available choices."
        ))
        .with_code("invalid_choice"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_say_singular_and_plural() {
        assert!(max_length("héllo", 5).is_ok());
        assert_eq!(
            max_length("héllo!", 5).unwrap_err().message(),
            "Ensure this value has at most 5 characters (it has 6)."
        );
        assert_eq!(
            max_length("ab", 1).unwrap_err().message(),
            "Ensure this value has at most 1 character (it has 2)."
        );
        assert_eq!(
            min_length("ab", 3).unwrap_err().message(),
            "Ensure this value has at least 3 characters (it has 2)."
        );
        assert_eq!(min_length("ab", 3).unwrap_err().code(), "min_length");
    }

    #[test]
    fn value_bounds_compare_across_number_kinds() {
        assert!(min_value(&5_i32, Limit::Int(5)).is_ok());
        assert_eq!(
            min_value(&4_i32, Limit::Int(5)).unwrap_err().message(),
            "Ensure this value is greater than or equal to 5."
        );
        assert_eq!(
            max_value(&2.5_f64, Limit::Int(2)).unwrap_err().message(),
            "Ensure this value is less than or equal to 2."
        );
        assert!(max_value(&"1.50".parse::<Decimal>().unwrap(), Limit::Float(1.5)).is_ok());
        let d = Date::from_ymd_opt(2024, 1, 1).unwrap();
        assert!(min_value(&d, Limit::Text("2024-01-02")).is_err());
        assert!(max_value(&d, Limit::Text("2024-01-02")).is_ok());
    }

    #[test]
    #[should_panic(expected = "not a value of the field's type")]
    fn a_limit_of_the_wrong_type_is_a_declaration_mistake() {
        let _ = min_value(&1_i32, Limit::Text("x"));
    }

    #[test]
    fn decimals_follow_djangos_decimal_validator() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        // Django's tests/forms_tests/field_tests/test_decimalfield.py
        assert!(decimal(&d("-12.34"), Some(4), Some(2)).is_ok());
        assert_eq!(
            decimal(&d("123.45"), Some(4), Some(2))
                .unwrap_err()
                .message(),
            "Ensure that there are no more than 4 digits in total."
        );
        assert_eq!(
            decimal(&d("1.234"), Some(4), Some(2))
                .unwrap_err()
                .message(),
            "Ensure that there are no more than 2 decimal places."
        );
        assert_eq!(
            decimal(&d("123.4"), Some(4), Some(2))
                .unwrap_err()
                .message(),
            "Ensure that there are no more than 2 digits before the decimal point."
        );
        assert!(decimal(&d("0.01"), Some(2), Some(2)).is_ok());
        assert!(decimal(&d("-.12"), Some(4), Some(2)).is_ok());
        // Leading zeros collapse, trailing ones count (test_decimalfield_5).
        assert!(decimal(&d("0000000.10"), Some(3), None).is_ok());
        assert!(decimal(&d("0000000.100"), Some(3), None).is_ok());
        assert!(decimal(&d("000000.0002"), Some(3), None).is_err());
        assert!(decimal(&d(".002"), Some(3), None).is_ok());
        assert_eq!(
            decimal(&d("1.1"), Some(2), Some(2)).unwrap_err().message(),
            "Ensure that there are no more than 0 digits before the decimal point."
        );
    }

    #[test]
    fn text_formats() {
        assert!(email("ada@example.com").is_ok());
        assert_eq!(
            email("ada").unwrap_err().message(),
            "Enter a valid email address."
        );
        assert_eq!(url("ftp://x").unwrap_err().message(), "Enter a valid URL.");
        assert!(slug("a-b_c").is_ok());
        assert!(slug("a b").is_err());
        let re = regex::Regex::new("^[0-9]{4}$").unwrap();
        assert!(regex("2024", &re).is_ok());
        assert_eq!(
            regex("24", &re).unwrap_err().message(),
            "Enter a valid value."
        );
        let choices = [("a".into(), "A".into())];
        assert!(choice("a", &choices).is_ok());
        assert_eq!(
            choice("b", &choices).unwrap_err().message(),
            "Select a valid choice. b is not one of the available choices."
        );
    }
}
