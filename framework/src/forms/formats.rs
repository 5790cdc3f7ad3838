//! Django's date and time input formats, in `chrono`'s notation, and the
//! parsing that fields and `min_value`/`max_value` limits share.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDateTime, TimeZone};

use crate::db::fields::{Date, DateTime, Time};

/// Django's `DATE_INPUT_FORMATS`, in `chrono`'s notation.
const DATE_FORMATS: &[&str] = &[
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%b %d %Y",
    "%b %d, %Y",
    "%d %b %Y",
    "%d %b, %Y",
    "%B %d %Y",
    "%B %d, %Y",
    "%d %B %Y",
    "%d %B, %Y",
];
/// Django's `TIME_INPUT_FORMATS` (`%.f` takes the fraction).
const TIME_FORMATS: &[&str] = &["%H:%M:%S", "%H:%M:%S%.f", "%H:%M"];
/// Django's `DATETIME_INPUT_FORMATS`, plus the `T` of ISO 8601 that
/// browsers' `datetime-local` inputs send.
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%y %H:%M:%S",
    "%m/%d/%y %H:%M:%S%.f",
    "%m/%d/%y %H:%M",
];

fn formats<'a>(
    own: &'a [Cow<'static, str>],
    defaults: &'a [&'static str],
) -> impl Iterator<Item = &'a str> {
    own.iter()
        .map(AsRef::as_ref)
        .chain(defaults.iter().copied())
}

/// Python's `%Y` takes exactly four digits, `chrono`'s any number: without
/// this, "10/25/06" would be the year 6 by `%m/%d/%Y` instead of 2006 by
/// the next format, `%m/%d/%y`.
fn four_digit_year(v: &str, format: &str, year: i32) -> bool {
    !format.contains("%Y") || year >= 1000 || v.contains(&format!("{year:04}"))
}

pub(crate) fn parse_date(v: &str, own: &[Cow<'static, str>]) -> Option<Date> {
    formats(own, DATE_FORMATS).find_map(|f| {
        Date::parse_from_str(v, f)
            .ok()
            .filter(|d| four_digit_year(v, f, d.year()))
    })
}

pub(crate) fn parse_time(v: &str, own: &[Cow<'static, str>]) -> Option<Time> {
    formats(own, TIME_FORMATS).find_map(|f| Time::parse_from_str(v, f).ok())
}

/// A date and time in UTC: RFC 3339 with its offset, else one of the
/// formats read as UTC, else a date alone at midnight (as Django's
/// `DateTimeField` takes a date).
pub(crate) fn parse_datetime(v: &str, own: &[Cow<'static, str>]) -> Option<DateTime> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(v) {
        return Some(d.with_timezone(&chrono::Utc));
    }
    formats(own, DATETIME_FORMATS)
        .find_map(|f| {
            NaiveDateTime::parse_from_str(v, f)
                .ok()
                .filter(|d| four_digit_year(v, f, d.year()))
        })
        .or_else(|| parse_date(v, own).and_then(|d| d.and_hms_opt(0, 0, 0)))
        .map(|naive| chrono::Utc.from_utc_datetime(&naive))
}
