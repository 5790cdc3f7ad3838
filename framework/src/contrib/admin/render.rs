//! Values and links as the admin's pages show them.

use std::fmt::Write as _;

use sea_query::Value;

use crate::db::model::FieldMeta;
use crate::db::{FieldType as _, Model};

/// A list cell: a choice by its label, a yes/no field as "Yes"/"No", an
/// empty value as Django's "-".
pub(crate) fn cell(field: &FieldMeta, value: &Value) -> String {
    if !field.choices.is_empty() {
        let shown = self::value(value);
        if let Some((_, label)) = field.choices.iter().find(|(v, _)| *v == shown) {
            return (*label).to_owned();
        }
        return shown;
    }
    match value {
        Value::Bool(Some(true)) => "Yes".to_owned(),
        Value::Bool(Some(false)) => "No".to_owned(),
        _ => self::value(value),
    }
}

/// A value as text, as a form shows it, but a date and time in a readable
/// form; NULL (and what has no text) as Django's "-".
pub(crate) fn value(value: &Value) -> String {
    match value {
        Value::ChronoDateTimeUtc(Some(t)) => date_time(t),
        Value::Bytes(Some(b)) => format!("({} bytes)", b.len()),
        _ => crate::forms::model_form::value_to_text(value).unwrap_or_else(|| "-".to_owned()),
    }
}

/// `2024-05-01 09:30 UTC`. Written field by field: chrono's `format`
/// parses its pattern again on every call, which a list of 50 rows paid
/// for each of its dates.
fn date_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    if !(0..=9999).contains(&t.year()) {
        return t.format("%Y-%m-%d %H:%M UTC").to_string();
    }
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A primary key as the text of the admin's URLs, which
/// [`SqlType::parse`](crate::db::SqlType::parse) reads back.
pub(crate) fn key(value: &Value) -> String {
    crate::db::fields::value_text(value).unwrap_or_default()
}

/// An object's primary key as the admin's URLs carry it (empty for an
/// object not saved yet).
pub(crate) fn pk_text<M: Model>(obj: &M) -> String {
    obj.pk().map(|pk| key(&pk.to_value())).unwrap_or_default()
}

/// The list page's own URL with `changes` applied to its query string
/// (`None` removes a parameter): `?q=rust&o=2`.
pub(crate) fn query_url(params: &[(String, String)], changes: &[(&str, Option<&str>)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (name, value) in changes {
        if let Some(value) = value {
            pairs.push((name, value));
        }
    }
    if pairs.is_empty() {
        return "?".to_owned();
    }
    let mut out = String::from("?");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(
            out,
            "{}={}",
            percent_encoding::utf8_percent_encode(k, QUERY),
            percent_encoding::utf8_percent_encode(v, QUERY)
        );
    }
    out
}

/// What a query string value escapes.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Links to the pages around `page` of `num_pages`: the first two, the
/// three on each side, the last two, with `None` for the gaps (Django's
/// elided page range).
pub(crate) fn page_links(
    page: u64,
    num_pages: u64,
    url: impl Fn(u64) -> String,
) -> Vec<Option<(u64, String)>> {
    if num_pages <= 1 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut last = 0;
    for n in 1..=num_pages {
        let near = n <= 2 || n + 2 > num_pages || n.abs_diff(page) <= 3;
        if !near {
            continue;
        }
        if n > last + 1 {
            out.push(None);
        }
        out.push(Some((n, url(n))));
        last = n;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_and_times_read_as_chrono_writes_them() {
        use chrono::TimeZone as _;
        for (y, mo, d, h, mi) in [(2024, 5, 1, 9, 30), (1, 1, 1, 0, 0), (9999, 12, 31, 23, 59)] {
            let t = chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, 7).single();
            let t = t.expect("a valid date");
            assert_eq!(
                super::date_time(&t),
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            );
        }
        let far = chrono::Utc.with_ymd_and_hms(12345, 1, 2, 3, 4, 5).single();
        let far = far.expect("a valid date");
        assert_eq!(super::date_time(&far), "+12345-01-02 03:04 UTC");
    }

    use super::*;

    #[test]
    fn query_urls_keep_the_other_parameters_and_escape() {
        let params = vec![
            ("q".to_owned(), "a&b c".to_owned()),
            ("p".to_owned(), "3".to_owned()),
        ];
        assert_eq!(query_url(&params, &[("p", None)]), "?q=a%26b%20c");
        assert_eq!(
            query_url(&params, &[("o", Some("-2.1"))]),
            "?q=a%26b%20c&p=3&o=-2.1"
        );
        assert_eq!(query_url(&[], &[("p", None)]), "?");
    }

    #[test]
    fn page_links_elide_the_middle() {
        let pages: Vec<Option<u64>> = page_links(10, 20, |n| n.to_string())
            .into_iter()
            .map(|l| l.map(|(n, _)| n))
            .collect();
        assert_eq!(
            pages,
            [
                Some(1),
                Some(2),
                None,
                Some(7),
                Some(8),
                Some(9),
                Some(10),
                Some(11),
                Some(12),
                Some(13),
                None,
                Some(19),
                Some(20)
            ]
        );
        assert!(page_links(1, 1, |n| n.to_string()).is_empty());
    }
}
