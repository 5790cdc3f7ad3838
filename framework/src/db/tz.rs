//! Time zones for date parts read in a zone ([`TimeZone`](super::TimeZone)).
//!
//! PostgreSQL has the IANA database: a date and time is read in a zone
//! with `AT TIME ZONE 'Europe/Paris'`. SQLite has none, and a registered
//! SQL function would need unsafe code, so the zone's UTC offsets are
//! written into the query instead: the offset changes of the zone between
//! 1900 and 2100, taken from `chrono-tz`, become a tree of `CASE`s on the
//! row's Unix time (about nine comparisons a row for a zone with summer
//! time), and the local time is `datetime(unixepoch + offset)`. Before 1900
//! the zone's 1900 offset applies, after 2100 its 2100 offset.
//!
//! A zone is worked out once per process and kept: its SQL is static text,
//! so statements that use it are cached like any other.

use std::sync::Mutex;

use chrono::{DateTime, Offset, TimeZone as _, Utc};

use super::{Error, Result};

/// A named zone and the SQL that reads a date and time in it.
#[derive(Debug)]
pub(crate) struct Zone {
    pub(crate) name: &'static str,
    /// `'Europe/Paris'`, quoted for PostgreSQL's `AT TIME ZONE`.
    pub(crate) literal: &'static str,
    /// SQLite: what comes before the date and time whose local time it
    /// reads (then [`SQLITE_END`]).
    pub(crate) sqlite_before: &'static str,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

/// The zones used so far (a handful per process).
static ZONES: Mutex<Vec<&'static Zone>> = Mutex::new(Vec::new());

impl Zone {
    /// The zone `name`, worked out on first use.
    pub(crate) fn named(name: &str) -> Result<&'static Self> {
        let mut zones = ZONES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(zone) = zones.iter().find(|z| z.name == name) {
            return Ok(zone);
        }
        let tz: chrono_tz::Tz = name.parse().map_err(|_| Error::InvalidValue {
            field: "time zone".to_owned(),
            message: format!(
                "`{name}` is not a time zone of the IANA database (such as `Europe/Paris`)"
            ),
        })?;
        // Names of the database are letters, digits, `/`, `_`, `-` and `+`:
        // safe inside quotes, but checked rather than trusted.
        if !tz
            .name()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        {
            return Err(Error::InvalidValue {
                field: "time zone".to_owned(),
                message: format!("`{name}` has characters a zone name cannot have"),
            });
        }
        let zone: &'static Zone = Box::leak(Box::new(Zone {
            name: tz.name(),
            literal: leak(format!("'{}'", tz.name())),
            sqlite_before: leak(sqlite_before(&offsets(tz))),
        }));
        zones.push(zone);
        Ok(zone)
    }
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The zone's UTC offset (seconds) from each Unix time on: the first entry
/// holds from the beginning of time.
fn offsets(tz: chrono_tz::Tz) -> Vec<(i64, i32)> {
    let offset_at = |t: i64| {
        DateTime::<Utc>::from_timestamp(t, 0).map_or(0, |at| {
            tz.offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    const DAY: i64 = 86_400;
    // 1900-01-01 and 2100-01-01 UTC.
    let (start, end) = (-2_208_988_800_i64, 4_102_444_800_i64);
    let mut out = vec![(i64::MIN, offset_at(start))];
    let mut t = start;
    while t < end {
        let next = t + DAY;
        let (before, after) = (offset_at(t), offset_at(next));
        if before != after {
            // The first second of the new offset.
            let (mut low, mut high) = (t, next);
            while high - low > 1 {
                let mid = low + (high - low) / 2;
                if offset_at(mid) == before {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            out.push((high, after));
        }
        t = next;
    }
    out
}

/// `(SELECT datetime("v" + (<offset of "v">), 'unixepoch') FROM (SELECT unixepoch(`,
/// the offset a binary tree of `CASE`s over the changes.
fn sqlite_before(offsets: &[(i64, i32)]) -> String {
    fn tree(out: &mut String, offsets: &[(i64, i32)]) {
        use std::fmt::Write as _;
        match offsets {
            [] => out.push('0'),
            [(_, offset)] => {
                let _ = write!(out, "{offset}");
            }
            _ => {
                let mid = offsets.len() / 2;
                let _ = write!(out, "CASE WHEN \"v\" < {} THEN ", offsets[mid].0);
                tree(out, &offsets[..mid]);
                out.push_str(" ELSE ");
                tree(out, &offsets[mid..]);
                out.push_str(" END");
            }
        }
    }
    let mut out = String::from("(SELECT datetime(\"v\" + (");
    tree(&mut out, offsets);
    out.push_str("), 'unixepoch') FROM (SELECT unixepoch(");
    out
}

/// What follows the date and time in the SQLite form.
pub(crate) const SQLITE_END: &str = ") AS \"v\"))";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paris_changes_twice_a_year_and_starts_in_paris_mean_time() {
        let zone = Zone::named("Europe/Paris").expect("a zone");
        let tz: chrono_tz::Tz = "Europe/Paris".parse().expect("a zone");
        let changes = offsets(tz);
        // Summer time 2026: from 2026-03-29 01:00 UTC to 2026-10-25 01:00 UTC.
        let summer = changes
            .iter()
            .find(|(t, _)| *t == 1_774_746_000)
            .expect("the change of 2026-03-29");
        assert_eq!(summer.1, 7200);
        assert!(
            changes
                .iter()
                .any(|(t, o)| *t == 1_792_890_000 && *o == 3600)
        );
        assert!(
            zone.sqlite_before
                .starts_with("(SELECT datetime(\"v\" + (CASE WHEN")
        );
        assert_eq!(zone.literal, "'Europe/Paris'");
        // The same zone comes back without being worked out again.
        assert!(std::ptr::eq(
            zone,
            Zone::named("Europe/Paris").expect("a zone")
        ));
    }

    #[test]
    fn an_unknown_zone_is_an_error_naming_it() {
        let err = Zone::named("Mars/Olympus_Mons").expect_err("no such zone");
        assert!(err.to_string().contains("Mars/Olympus_Mons"), "{err}");
    }

    #[test]
    fn a_zone_without_changes_is_one_offset() {
        let tz: chrono_tz::Tz = "Etc/GMT-3".parse().expect("a zone");
        assert_eq!(offsets(tz), vec![(i64::MIN, 10_800)]);
    }
}
