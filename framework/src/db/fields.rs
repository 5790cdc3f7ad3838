//! Field types: how each Rust type maps to a column, is bound and decoded.
//!
//! | Rust type | column |
//! |---|---|
//! | [`Auto<i32>`] / [`Auto<i64>`] | auto-increment primary key |
//! | `bool`, `i16`, `i32`, `i64`, `f64` | BOOLEAN, SMALLINT, INTEGER, BIGINT, DOUBLE |
//! | [`Decimal`] | NUMERIC (TEXT on SQLite, no precision lost) |
//! | `String` | VARCHAR(`max_length`) or TEXT |
//! | [`Date`], [`Time`], [`DateTime`] (UTC, timezone-aware) | DATE, TIME, TIMESTAMPTZ |
//! | [`Uuid`] | UUID |
//! | [`Json<T>`] (any serde type) | JSONB / TEXT |
//! | `Vec<u8>` | BYTEA / BLOB |
//! | [`Email`], [`Url`], [`Slug`] | validated VARCHAR |
//! | [`FileField`], [`ImageField`] | the name of a file in a [`Storage`](crate::storage::Storage), `VARCHAR(100)` |
//! | `Option<T>` | the same, nullable |
//!
//! ```
//! use manouche::db::fields::{Email, Slug};
//!
//! assert!(Email::new("ada@example.com").is_ok());
//! assert!(Email::new("not an email").is_err());
//! assert_eq!(Slug::new("hello-world").unwrap().as_str(), "hello-world");
//! ```

use std::fmt;

use sea_query::Value;
use serde::{Deserialize, Serialize};

use super::executor::Row;
use super::{Error, Result};

pub mod files;

pub(crate) use files::reader_dimensions;
pub use files::{FileField, IMAGE_EXTENSIONS, ImageField, image_dimensions};

/// A date and time in UTC (stored timezone-aware).
pub type DateTime = chrono::DateTime<chrono::Utc>;
/// A calendar date.
pub type Date = chrono::NaiveDate;
/// A time of day.
pub type Time = chrono::NaiveTime;
/// An exact decimal number.
pub type Decimal = rust_decimal::Decimal;
/// A UUID.
pub type Uuid = uuid::Uuid;

/// The backend-neutral type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SqlType {
    /// `BOOLEAN`.
    Bool,
    /// 16-bit integer.
    SmallInt,
    /// 32-bit integer.
    Integer,
    /// 64-bit integer.
    BigInt,
    /// Double precision float.
    Double,
    /// Exact decimal.
    Decimal,
    /// Text; `VARCHAR(n)` when the field has a `max_length`.
    String,
    /// Date.
    Date,
    /// Time of day.
    Time,
    /// Timezone-aware timestamp.
    DateTime,
    /// UUID.
    Uuid,
    /// JSON document.
    Json,
    /// Binary data.
    Bytes,
}

/// A value as the text [`SqlType::parse`] reads back into the same value.
pub(crate) fn value_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Bool(Some(b)) => b.to_string(),
        Value::SmallInt(Some(n)) => n.to_string(),
        Value::Int(Some(n)) => n.to_string(),
        Value::BigInt(Some(n)) => n.to_string(),
        // Rust prints the shortest text that parses back to the same f64.
        Value::Double(Some(n)) => n.to_string(),
        Value::Decimal(Some(d)) => d.to_string(),
        Value::String(Some(s)) => s.to_string(),
        Value::ChronoDate(Some(d)) => d.format("%Y-%m-%d").to_string(),
        Value::ChronoTime(Some(t)) => t.format("%H:%M:%S%.f").to_string(),
        Value::ChronoDateTimeUtc(Some(t)) => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        Value::Uuid(Some(u)) => u.to_string(),
        _ => return None,
    })
}

impl SqlType {
    /// Parses text (a form field, a query parameter) into a value of this
    /// type: `true`/`false`/`1`/`0`/`on`/`off` for booleans, RFC 3339 for
    /// date-times, `YYYY-MM-DD`, `HH:MM[:SS]`, decimal text, UUIDs, JSON.
    ///
    /// ```
    /// use manouche::db::SqlType;
    ///
    /// assert!(SqlType::BigInt.parse("42").is_ok());
    /// assert!(SqlType::BigInt.parse("4x2").is_err());
    /// assert!(SqlType::Bool.parse("on").is_ok());
    /// ```
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] saying what was expected.
    pub fn parse(self, text: &str) -> Result<Value, ValidationError> {
        let t = text.trim();
        let bad = |what: &str| ValidationError(format!("`{text}` is not {what}"));
        Ok(match self {
            Self::Bool => match t.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Value::Bool(Some(true)),
                "false" | "0" | "off" | "no" => Value::Bool(Some(false)),
                _ => return Err(bad("true or false")),
            },
            Self::SmallInt => Value::SmallInt(Some(t.parse().map_err(|_| bad("a whole number"))?)),
            Self::Integer => Value::Int(Some(t.parse().map_err(|_| bad("a whole number"))?)),
            Self::BigInt => Value::BigInt(Some(t.parse().map_err(|_| bad("a whole number"))?)),
            // As Django's `FloatField`: `NaN` and infinities are not numbers
            // a form or a query string may give.
            Self::Double => Value::Double(Some(
                t.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| bad("a number"))?,
            )),
            Self::Decimal => Value::Decimal(Some(Box::new(
                t.parse().map_err(|_| bad("a decimal number"))?,
            ))),
            Self::String => Value::String(Some(Box::new(text.to_owned()))),
            Self::Date => Value::ChronoDate(Some(Box::new(
                Date::parse_from_str(t, "%Y-%m-%d").map_err(|_| bad("a date (YYYY-MM-DD)"))?,
            ))),
            Self::Time => Value::ChronoTime(Some(Box::new(
                Time::parse_from_str(t, "%H:%M:%S%.f")
                    .or_else(|_| Time::parse_from_str(t, "%H:%M"))
                    .map_err(|_| bad("a time (HH:MM[:SS])"))?,
            ))),
            Self::DateTime => Value::ChronoDateTimeUtc(Some(Box::new(
                chrono::DateTime::parse_from_rfc3339(t)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .map_err(|_| bad("a date and time (RFC 3339)"))?,
            ))),
            Self::Uuid => Value::Uuid(Some(Box::new(t.parse().map_err(|_| bad("a UUID"))?))),
            Self::Json => Value::Json(Some(Box::new(
                serde_json::from_str(text).map_err(|_| bad("JSON"))?,
            ))),
            Self::Bytes => Value::Bytes(Some(Box::new(text.as_bytes().to_vec()))),
        })
    }

    /// A typed SQL `NULL` of this type.
    #[must_use]
    pub fn null(self) -> Value {
        match self {
            Self::Bool => Value::Bool(None),
            Self::SmallInt => Value::SmallInt(None),
            Self::Integer => Value::Int(None),
            Self::BigInt => Value::BigInt(None),
            Self::Double => Value::Double(None),
            Self::Decimal => Value::Decimal(None),
            Self::String => Value::String(None),
            Self::Date => Value::ChronoDate(None),
            Self::Time => Value::ChronoTime(None),
            Self::DateTime => Value::ChronoDateTimeUtc(None),
            Self::Uuid => Value::Uuid(None),
            Self::Json => Value::Json(None),
            Self::Bytes => Value::Bytes(None),
        }
    }
}

/// A Rust type that can be stored in a column.
///
/// Implemented for the types in the [module docs](self); implement it for
/// your own newtypes by delegating to an existing implementation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a model field",
    label = "unsupported field type",
    note = "use bool, i16/i32/i64, f64, Decimal, String, Date, Time, DateTime, Uuid, Json<T>, \
            Vec<u8>, Email, Url, Slug, FileField, ImageField, Auto<_>, ForeignKey<_>, OneToOne<_>, \
            or an Option of one"
)]
pub trait FieldType: Sized + Send + Sync + 'static {
    /// The non-null type lookups compare with (`T` for `Option<T>` and
    /// `Auto<T>`, else `Self`).
    type Inner: FieldType;
    /// The column's type.
    const SQL_TYPE: SqlType;
    /// Whether the column accepts `NULL`.
    const NULLABLE: bool = false;
    /// Whether the database generates the value (auto-increment).
    const AUTO: bool = false;
    /// The `max_length` used when the field does not give one.
    const DEFAULT_MAX_LENGTH: Option<u32> = None;
    /// Whether `contains`/`startswith`/... lookups apply.
    const TEXTUAL: bool = false;
    /// What kind of text a text column holds (an e-mail address, a URL, a
    /// slug), so that a form built from the model draws and checks it.
    const TEXT_KIND: TextKind = TextKind::Plain;
    /// The value to bind.
    fn to_value(&self) -> Value;
    /// The Rust value of a bound value of this column's type: the inverse
    /// of [`to_value`](Self::to_value), used to fill a model in from a
    /// form ([`Model::set_field_value`](super::Model::set_field_value)).
    /// The default refuses every value: implement it for a type that model
    /// forms should set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidValue`] when `value` is not of this type (or, for
    /// [`Email`], [`Url`] and [`Slug`], not a valid one).
    fn from_value(value: Value) -> Result<Self> {
        Err(Error::InvalidValue {
            field: std::any::type_name::<Self>().to_owned(),
            message: format!(
                "cannot be set from {value:?}: implement `FieldType::from_value` for this type"
            ),
        })
    }
    /// Decodes column `idx` of `row`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] when the column has another type.
    fn decode(row: &Row, idx: usize) -> Result<Self>;
}

macro_rules! native {
    ($($ty:ty => $sql:ident, $variant:ident;)*) => {$(
        impl FieldType for $ty {
            type Inner = Self;
            const SQL_TYPE: SqlType = SqlType::$sql;
            fn to_value(&self) -> Value {
                Value::$variant(Some(self.clone().into()))
            }
            fn decode(row: &Row, idx: usize) -> Result<Self> {
                row.get::<$ty>(idx)
            }
            fn from_value(value: Value) -> Result<Self> {
                typed(value)
            }
        }
    )*};
}

/// `value` as a `T` when it holds one (and is not NULL).
fn typed<T: sea_query::ValueType>(value: Value) -> Result<T> {
    let shown = format!("{value:?}");
    T::try_from(value).map_err(|_| Error::InvalidValue {
        field: std::any::type_name::<T>().to_owned(),
        message: format!("expected a {}, got {shown}", std::any::type_name::<T>()),
    })
}

/// The kind of text a text column holds: what a form built from the
/// model checks (Django's `EmailField`, `URLField`, `SlugField`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub enum TextKind {
    /// Any text.
    #[default]
    Plain,
    /// An e-mail address ([`Email`]).
    Email,
    /// An `http(s)` URL ([`Url`]).
    Url,
    /// A slug ([`Slug`]).
    Slug,
    /// The name of a stored file ([`FileField`]).
    File,
    /// The name of a stored image ([`ImageField`]).
    Image,
}

native! {
    bool => Bool, Bool;
    i16 => SmallInt, SmallInt;
    i32 => Integer, Int;
    i64 => BigInt, BigInt;
    f64 => Double, Double;
    Date => Date, ChronoDate;
    Time => Time, ChronoTime;
    DateTime => DateTime, ChronoDateTimeUtc;
    Uuid => Uuid, Uuid;
    Vec<u8> => Bytes, Bytes;
}

impl FieldType for String {
    type Inner = Self;
    const SQL_TYPE: SqlType = SqlType::String;
    const TEXTUAL: bool = true;
    fn to_value(&self) -> Value {
        Value::String(Some(Box::new(self.clone())))
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        row.get::<String>(idx)
    }
    fn from_value(value: Value) -> Result<Self> {
        typed(value)
    }
}

impl FieldType for Decimal {
    type Inner = Self;
    const SQL_TYPE: SqlType = SqlType::Decimal;
    fn to_value(&self) -> Value {
        Value::Decimal(Some(Box::new(*self)))
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        match row {
            Row::Postgres(pg) => {
                use sqlx::Row as _;
                pg.try_get::<Decimal, _>(idx)
                    .map_err(|source| Error::Decode {
                        column: format!("#{idx}"),
                        source,
                    })
            }
            // SQLite's NUMERIC affinity stores an integer, a float, or text
            // when the value does not fit either.
            _ => {
                let text = match row.get::<String>(idx) {
                    Ok(text) => text,
                    Err(_) => match row.get::<i64>(idx) {
                        Ok(i) => i.to_string(),
                        Err(_) => row.get::<f64>(idx)?.to_string(),
                    },
                };
                text.parse()
                    .map_err(|e: rust_decimal::Error| Error::InvalidValue {
                        field: format!("#{idx}"),
                        message: e.to_string(),
                    })
            }
        }
    }
    fn from_value(value: Value) -> Result<Self> {
        typed(value)
    }
}

impl<T: FieldType> FieldType for Option<T> {
    type Inner = T::Inner;
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    const DEFAULT_MAX_LENGTH: Option<u32> = T::DEFAULT_MAX_LENGTH;
    const TEXTUAL: bool = T::TEXTUAL;
    const TEXT_KIND: TextKind = T::TEXT_KIND;
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => T::SQL_TYPE.null(),
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        if row.is_null(idx) {
            Ok(None)
        } else {
            T::decode(row, idx).map(Some)
        }
    }
    fn from_value(value: Value) -> Result<Self> {
        if super::model::is_null_value(&value) {
            Ok(None)
        } else {
            T::from_value(value).map(Some)
        }
    }
}

/// A primary key the database generates (`SERIAL` / `INTEGER PRIMARY KEY`).
///
/// `Auto::new()` (or `Default`) is an unsaved key; `save()` fills it in.
///
/// ```
/// use manouche::db::Auto;
///
/// let id: Auto<i64> = Auto::new();
/// assert_eq!(id.get(), None);
/// assert_eq!(Auto::from(7_i64).get(), Some(7));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Auto<T>(Option<T>);

impl<T: Copy> Auto<T> {
    /// An unsaved key.
    #[must_use]
    pub const fn new() -> Self {
        Self(None)
    }

    /// The key, once the row is saved.
    #[must_use]
    pub fn get(&self) -> Option<T> {
        self.0
    }
}

impl<T> From<T> for Auto<T> {
    fn from(value: T) -> Self {
        Self(Some(value))
    }
}

impl<T: fmt::Debug> fmt::Debug for Auto<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("Auto(unsaved)"),
        }
    }
}

impl<T: fmt::Display> fmt::Display for Auto<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

impl<T: Serialize> Serialize for Auto<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Auto<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(Self)
    }
}

/// Integer types usable in [`Auto`].
pub trait AutoInteger: FieldType<Inner = Self> + Copy + Eq + std::hash::Hash + fmt::Debug {}
impl AutoInteger for i32 {}
impl AutoInteger for i64 {}

impl<T: AutoInteger> FieldType for Auto<T> {
    type Inner = T;
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const AUTO: bool = true;
    fn to_value(&self) -> Value {
        match self.0 {
            Some(v) => v.to_value(),
            None => T::SQL_TYPE.null(),
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        T::decode(row, idx).map(|v| Self(Some(v)))
    }
    fn from_value(value: Value) -> Result<Self> {
        if super::model::is_null_value(&value) {
            Ok(Self(None))
        } else {
            T::from_value(value).map(|v| Self(Some(v)))
        }
    }
}

/// A field type that can be a primary key.
pub trait PrimaryKey: FieldType {
    /// The key's value type.
    type Key: FieldType + Clone + Eq + std::hash::Hash + fmt::Debug + Send + Sync;
    /// The key, if set.
    fn key(&self) -> Option<Self::Key>;
    /// Stores a key generated by the database.
    fn set_key(&mut self, key: Self::Key);
}

impl<T: AutoInteger> PrimaryKey for Auto<T> {
    type Key = T;
    fn key(&self) -> Option<T> {
        self.0
    }
    fn set_key(&mut self, key: T) {
        self.0 = Some(key);
    }
}

macro_rules! plain_pk {
    ($($ty:ty),*) => {$(
        impl PrimaryKey for $ty {
            type Key = Self;
            fn key(&self) -> Option<Self> {
                Some(self.clone())
            }
            fn set_key(&mut self, key: Self) {
                *self = key;
            }
        }
    )*};
}
plain_pk!(i16, i32, i64, String, Uuid);

/// A JSON document stored in one column; `T` is any serde type.
///
/// ```
/// use manouche::db::fields::Json;
///
/// let tags = Json(vec!["a".to_owned(), "b".to_owned()]);
/// assert_eq!(tags.0.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> FieldType for Json<T>
where
    T: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Inner = Self;
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self) -> Value {
        match serde_json::to_value(&self.0) {
            Ok(v) => Value::Json(Some(Box::new(v))),
            // A type whose Serialize fails has no JSON form; store NULL so the
            // NOT NULL constraint reports it rather than panicking here.
            Err(_) => Value::Json(None),
        }
    }
    fn decode(row: &Row, idx: usize) -> Result<Self> {
        let value: serde_json::Value = row.get(idx)?;
        serde_json::from_value(value)
            .map(Json)
            .map_err(|e| Error::InvalidValue {
                field: format!("#{idx}"),
                message: format!("stored JSON does not match the field's type: {e}"),
            })
    }
    fn from_value(value: Value) -> Result<Self> {
        let json: serde_json::Value = typed(value)?;
        serde_json::from_value(json)
            .map(Json)
            .map_err(|e| Error::InvalidValue {
                field: std::any::type_name::<T>().to_owned(),
                message: format!("the JSON does not match the field's type: {e}"),
            })
    }
}

/// A validation failure for [`Email`], [`Url`] or [`Slug`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidationError(pub String);

macro_rules! validated {
    ($(#[$doc:meta])* $name:ident, $max:expr, $check:expr, $msg:expr, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates `value`.
            ///
            /// # Errors
            ///
            /// A [`ValidationError`] saying what is wrong.
            pub fn new(value: impl Into<String>) -> Result<Self, ValidationError> {
                let value = value.into();
                let check: fn(&str) -> bool = $check;
                if check(&value) { Ok(Self(value)) } else { Err(ValidationError(format!($msg, value))) }
            }

            /// The value as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// The empty value: a placeholder that lets a model built with
        /// `..Default::default()` leave the field for later. It is the
        /// field's blank value (Django's empty string), which
        /// [`Model::full_clean`](super::Model::full_clean) rejects unless the
        /// field is `#[model(blank)]`, and which [`new`](Self::new) refuses.
        impl Default for $name {
            fn default() -> Self {
                Self(String::new())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl FieldType for $name {
            type Inner = Self;
            const SQL_TYPE: SqlType = SqlType::String;
            const DEFAULT_MAX_LENGTH: Option<u32> = Some($max);
            const TEXTUAL: bool = true;
            const TEXT_KIND: TextKind = TextKind::$kind;
            fn to_value(&self) -> Value {
                Value::String(Some(Box::new(self.0.clone())))
            }
            fn decode(row: &Row, idx: usize) -> Result<Self> {
                // Trust what was validated on the way in.
                row.get::<String>(idx).map(Self)
            }
            fn from_value(value: Value) -> Result<Self> {
                let text: String = typed(value)?;
                Self::new(text).map_err(|e| Error::InvalidValue {
                    field: stringify!($name).to_owned(),
                    message: e.0,
                })
            }
        }
    };
}

validated!(
    /// A validated e-mail address (`VARCHAR(254)`).
    Email, 254, is_email, "`{}` is not a valid e-mail address", Email
);
validated!(
    /// A validated `http`/`https` URL (`VARCHAR(200)`).
    Url, 200, is_url, "`{}` is not a valid http(s) URL", Url
);
validated!(
    /// A validated slug: letters, digits, `-` and `_` (`VARCHAR(50)`).
    Slug, 50, is_slug, "`{}` is not a valid slug: use only letters, digits, `-` and `_`", Slug
);

pub(crate) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && s.len() <= 254
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

pub(crate) fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && host
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-.:[]@".contains(c))
        }
        None => false,
    }
}

pub(crate) fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// Types `auto_now` / `auto_now_add` fields can have.
#[diagnostic::on_unimplemented(
    message = "`auto_now` / `auto_now_add` need a date or time field, not `{Self}`",
    label = "not a date/time type",
    note = "use `DateTime`, `Date`, `Time` or an `Option` of one"
)]
pub trait AutoNow {
    /// The current date/time.
    fn now() -> Self;
}

// Truncated to microseconds, the precision PostgreSQL keeps, so that the
// saved instance equals the row read back.
impl AutoNow for DateTime {
    fn now() -> Self {
        use chrono::SubsecRound as _;
        chrono::Utc::now().trunc_subsecs(6)
    }
}

impl AutoNow for Date {
    fn now() -> Self {
        chrono::Utc::now().date_naive()
    }
}

impl AutoNow for Time {
    fn now() -> Self {
        use chrono::SubsecRound as _;
        chrono::Utc::now().time().trunc_subsecs(6)
    }
}

impl<T: AutoNow> AutoNow for Option<T> {
    fn now() -> Self {
        Some(T::now())
    }
}

/// A Rust enum whose variants are a field's allowed values: derive it with
/// `#[derive(Choices)]` (which also implements [`FieldType`], storing the
/// value as text) and mark the field `#[model(choices)]`.
///
/// ```
/// use manouche::db::{Choices, fields::Choices as _};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Choices)]
/// pub enum Status {
///     Draft,
///     #[choice(value = "pub", label = "Published")]
///     Published,
/// }
///
/// assert_eq!(Status::CHOICES, &[("draft", "Draft"), ("pub", "Published")]);
/// assert_eq!(Status::from_value("pub"), Some(Status::Published));
/// ```
pub trait Choices: Sized {
    /// `(stored value, label)` for every variant.
    const CHOICES: &'static [(&'static str, &'static str)];

    /// The variant stored as `value`.
    fn from_value(value: &str) -> Option<Self>;
}

/// Field types with a list of choices: a [`Choices`] type or an `Option` of one.
#[diagnostic::on_unimplemented(
    message = "`#[model(choices)]` needs a field type implementing `Choices`, not `{Self}`",
    label = "no choices",
    note = "implement `manouche::db::fields::Choices` for the enum"
)]
pub trait HasChoices {
    /// The allowed values.
    const CHOICES: &'static [(&'static str, &'static str)];
}

impl<T: Choices> HasChoices for T {
    const CHOICES: &'static [(&'static str, &'static str)] = T::CHOICES;
}

impl<T: Choices> HasChoices for Option<T> {
    const CHOICES: &'static [(&'static str, &'static str)] = T::CHOICES;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(Email::new("a@b.co").is_ok());
        assert!(Email::new("a@b").is_err());
        assert!(Email::new("a b@c.de").is_err());
        assert!(Url::new("https://example.com/x?y=1").is_ok());
        assert!(Url::new("javascript:alert(1)").is_err());
        assert!(Url::new("http://").is_err());
        assert!(Slug::new("a-b_c1").is_ok());
        assert!(Slug::new("a b").is_err());
        assert!(Slug::new("").is_err());
    }
}
