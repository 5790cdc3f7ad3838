//! A model field as a form field (Django's `Field.formfield()`): which
//! fields a form edits, how each is drawn, and how submitted text becomes
//! the column's value.

use sea_query::Value;

use crate::db::fields::{Date, DateTime, Decimal, Email, FieldType, Slug, Time, Url, Uuid};
use crate::db::model::{FieldMeta, RelationKind, is_null_value};
use crate::db::{SqlType, TextKind};
use crate::forms::field::{Field, FieldValue, label_of};
use crate::forms::validators::{self, ValidationError};
use crate::forms::widgets::{Choice, Widget};

/// The first choice of an optional `<select>` (Django's
/// `BLANK_CHOICE_DASH`).
pub(crate) const BLANK_LABEL: &str = "---------";

/// Whether a form can edit the field (Django's `editable`): not a key the
/// database generates, not an `auto_now` date, not the reverse side of a
/// relation, not a many-to-many through a model of its own (its rows
/// carry more than the pair), not raw bytes.
pub(crate) fn is_editable(f: &FieldMeta) -> bool {
    if f.auto || f.auto_now || f.auto_now_add {
        return false;
    }
    match f.relation {
        Some(rel) if rel.kind == RelationKind::Reverse => false,
        Some(rel) if rel.kind == RelationKind::ManyToMany => rel.through.is_none(),
        _ => f.column.is_some() && f.sql_type != SqlType::Bytes,
    }
}

/// Whether the field is a many-to-many relation.
pub(crate) fn is_many_to_many(f: &FieldMeta) -> bool {
    f.relation
        .is_some_and(|r| r.kind == RelationKind::ManyToMany)
}

/// Whether the field is a [`FileField`](crate::db::FileField) or an
/// [`ImageField`](crate::db::ImageField): an upload, not text.
pub(crate) fn is_file(f: &FieldMeta) -> bool {
    matches!(f.text_kind, TextKind::File | TextKind::Image)
}

/// Whether the field is a foreign key (or a one-to-one).
pub(crate) fn is_foreign_key(f: &FieldMeta) -> bool {
    f.relation
        .is_some_and(|r| matches!(r.kind, RelationKind::ForeignKey | RelationKind::OneToOne))
}

/// Whether an empty value is refused: a `bool` never (unticked is
/// `false`), a many-to-many unless `blank` (as Django), anything else
/// unless it is an `Option` or blank text.
pub(crate) fn is_required(f: &FieldMeta) -> bool {
    if f.sql_type == SqlType::Bool && f.relation.is_none() {
        return false;
    }
    if is_many_to_many(f) {
        return !f.blank;
    }
    !(f.nullable || (f.blank && f.sql_type == SqlType::String))
}

/// `"first name"` → `"First name"` (Django's `capfirst`).
pub(crate) fn capfirst(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// How model field `f` is labelled (forms, the admin's columns and
/// filters): its verbose name, capitalised (Django's `label_for_field`).
pub(crate) fn field_label(f: &FieldMeta) -> String {
    if f.verbose_name.is_empty() {
        label_of(f.name)
    } else {
        capfirst(f.verbose_name)
    }
}

/// The form field for model field `f`: label from its verbose name, its
/// help text, and the widget its type asks for. The choices of a relation
/// come from the database later ([`super::ModelForm::load`]).
pub(crate) fn describe(f: &'static FieldMeta) -> Field {
    let mut field = Field::new(f.name);
    field.set_label(field_label(f));
    field.set_help_text(f.help_text);
    field.set_required(is_required(f));
    if is_many_to_many(f) {
        field.set_widget(Widget::select_multiple());
        return field;
    }
    if is_foreign_key(f) {
        field.set_widget(Widget::select());
        return field;
    }
    if is_file(f) {
        field.set_widget(Widget::file());
        if f.text_kind == TextKind::Image {
            // Django's ImageField: the browser offers images first.
            field.widget.set_attr("accept", "image/*");
        }
        return field;
    }
    if !f.choices.is_empty() {
        let mut choices: Vec<Choice> = Vec::with_capacity(f.choices.len() + 1);
        if field.is_required() && f.default.is_some() {
            // A required field with a default starts on it: no blank.
        } else {
            choices.push(("".into(), BLANK_LABEL.into()));
        }
        choices.extend(f.choices.iter().map(|(v, l)| ((*v).into(), (*l).into())));
        field.set_choices(choices);
        return field;
    }
    match f.sql_type {
        SqlType::Bool => {
            field.set_widget(Widget::checkbox());
        }
        SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => {
            field.set_widget(Widget::number());
        }
        SqlType::Double => {
            field.set_widget(Widget::number());
            field.widget.set_attr("step", "any");
        }
        SqlType::Decimal => {
            field.set_widget(Widget::number());
            match f.decimal {
                Some((_, places)) => {
                    field.set_decimal_places(places);
                }
                None => {
                    field.widget.set_attr("step", "any");
                }
            }
        }
        SqlType::String => {
            let widget = match f.text_kind {
                TextKind::Email => Widget::email(),
                TextKind::Url => Widget::url(),
                TextKind::Slug => Widget::text(),
                // Django: a CharField is a text input, a TextField a textarea.
                _ if f.max_length.is_none() => Widget::textarea(),
                _ => Widget::text(),
            };
            field.set_widget(widget);
            if let Some(n) = f.max_length {
                field.set_max_length(n as usize);
            }
        }
        SqlType::Date => {
            field.set_widget(Widget::date());
        }
        SqlType::Time => {
            field.set_widget(Widget::time());
        }
        SqlType::DateTime => {
            field.set_widget(Widget::datetime());
        }
        SqlType::Json => {
            field.set_widget(Widget::textarea());
        }
        _ => {}
    }
    field
}

/// `value` as a form shows it, or `None` for `NULL`.
pub(crate) fn value_to_text(value: &Value) -> Option<String> {
    if is_null_value(value) {
        return None;
    }
    Some(match value {
        Value::Bool(Some(b)) => b.to_string(),
        Value::SmallInt(Some(n)) => n.to_string(),
        Value::Int(Some(n)) => n.to_string(),
        Value::BigInt(Some(n)) => n.to_string(),
        Value::Double(Some(n)) => n.to_string(),
        Value::Decimal(Some(d)) => d.to_string(),
        Value::String(Some(s)) => (**s).clone(),
        Value::ChronoDate(Some(d)) => d.format("%Y-%m-%d").to_string(),
        Value::ChronoTime(Some(t)) => t.format("%H:%M:%S").to_string(),
        Value::ChronoDateTimeUtc(Some(d)) => d.format("%Y-%m-%dT%H:%M:%S").to_string(),
        Value::Uuid(Some(u)) => u.to_string(),
        Value::Json(Some(j)) => j.to_string(),
        _ => return None,
    })
}

/// Whether `value` is the placeholder a `Default` instance holds (`""`,
/// `0`, `false`, 1970-01-01...) rather than something chosen: a new
/// instance's form shows it empty, as Django shows a field without a
/// default.
pub(crate) fn is_placeholder(value: &Value) -> bool {
    match value {
        Value::Bool(Some(b)) => !b,
        Value::SmallInt(Some(n)) => *n == 0,
        Value::Int(Some(n)) => *n == 0,
        Value::BigInt(Some(n)) => *n == 0,
        Value::Double(Some(n)) => *n == 0.0,
        Value::Decimal(Some(d)) => d.is_zero(),
        Value::String(Some(s)) => s.is_empty(),
        Value::ChronoDate(Some(d)) => **d == Date::default(),
        Value::ChronoTime(Some(t)) => **t == Time::default(),
        Value::ChronoDateTimeUtc(Some(d)) => **d == DateTime::default(),
        Value::Uuid(Some(u)) => u.is_nil(),
        v => is_null_value(v),
    }
}

fn parse_as<T: FieldValue + FieldType>(
    values: &[&str],
    field: &Field,
) -> Result<Option<Value>, ValidationError> {
    Ok(T::parse(values, field)?.map(|v| v.to_value()))
}

/// Parses submitted text as a value of `sql_type` (and `kind` of text),
/// with the messages of Django's form fields; `None` when it is empty.
pub(crate) fn parse(
    sql_type: SqlType,
    kind: TextKind,
    values: &[&str],
    field: &Field,
) -> Result<Option<Value>, ValidationError> {
    match sql_type {
        SqlType::Bool => parse_as::<bool>(values, field),
        SqlType::SmallInt => parse_as::<i16>(values, field),
        SqlType::Integer => parse_as::<i32>(values, field),
        SqlType::BigInt => parse_as::<i64>(values, field),
        SqlType::Double => parse_as::<f64>(values, field),
        SqlType::Decimal => parse_as::<Decimal>(values, field),
        SqlType::String => match kind {
            TextKind::Email => parse_as::<Email>(values, field),
            TextKind::Url => parse_as::<Url>(values, field),
            TextKind::Slug => parse_as::<Slug>(values, field),
            _ => parse_as::<String>(values, field),
        },
        SqlType::Date => parse_as::<Date>(values, field),
        SqlType::Time => parse_as::<Time>(values, field),
        SqlType::DateTime => parse_as::<DateTime>(values, field),
        SqlType::Uuid => parse_as::<Uuid>(values, field),
        SqlType::Json => {
            let Some(text) = values.last().map(|v| v.trim()).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            serde_json::from_str::<serde_json::Value>(text)
                .map(|j| Some(Value::Json(Some(Box::new(j)))))
                .map_err(|_| ValidationError::new("Enter a valid JSON."))
        }
        // Not editable (see `is_editable`); refuse rather than guess.
        _ => Err(ValidationError::new("This field cannot be edited.")),
    }
}

/// The checks a model field's options add once the value parsed: its
/// `max_length` and its decimal digits.
pub(crate) fn validate(f: &FieldMeta, value: &Value) -> Result<(), ValidationError> {
    match value {
        Value::String(Some(text)) => {
            if let Some(n) = f.max_length {
                validators::max_length(text.as_str(), n as usize)?;
            }
        }
        Value::Decimal(Some(d)) => {
            if let Some((digits, places)) = f.decimal {
                validators::decimal(d, Some(digits), Some(places))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The value an empty submission gives a field that is not required:
/// `NULL` for an `Option`, `false` for a `bool`, `""` for blank text.
pub(crate) fn empty_value(f: &FieldMeta) -> Value {
    if f.nullable {
        f.sql_type.null()
    } else if f.sql_type == SqlType::Bool {
        Value::Bool(Some(false))
    } else {
        Value::String(Some(Box::default()))
    }
}

/// Whether the submitted `values` differ from the `initial` ones (Django's
/// `Field.has_changed`), compared as the form shows them.
pub(crate) fn has_changed(field: &Field, initial: &[String], values: &[&str]) -> bool {
    use crate::forms::widgets::WidgetKind;
    if field.widget().kind() == WidgetKind::Checkbox {
        return crate::forms::field::is_checked(initial) != crate::forms::field::is_checked(values);
    }
    let mut before: Vec<&str> = initial
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let mut after: Vec<&str> = values
        .iter()
        .map(|v| field.normalize(v))
        .filter(|v| !v.is_empty())
        .collect();
    before.sort_unstable();
    after.sort_unstable();
    before != after
}
