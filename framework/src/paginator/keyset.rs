//! Keyset ("seek") pagination: pages of a big table that cost the same at
//! any depth and do not shift when rows are inserted.
//!
//! A numbered page `n` is `LIMIT per_page OFFSET (n - 1) * per_page`: the
//! database reads and throws away every row before the page, so deep pages
//! of a big table are slow, and a row inserted at the top while someone
//! reads pushes every page down one row (they see a row twice). A
//! [`KeysetPaginator`] remembers where the page ended instead, as the
//! values of the sort keys of its last row, and asks for the rows after
//! them:
//!
//! ```text
//! ORDER BY created DESC, id DESC
//! WHERE created < :created OR (created = :created AND id < :id)  LIMIT per_page + 1
//! ```
//!
//! With an index on the sort keys (`#[model(index = ["created", "id"])]`)
//! each page is one index range scan. The trade-offs:
//!
//! - **No page numbers** and no count: a page links to the next and the
//!   previous page only, with an opaque [cursor](KeysetPage::next_cursor)
//!   (`?cursor=...`). Use [`Paginator`](super::Paginator) where people jump
//!   to page 7.
//! - **Stable under inserts and deletes**: a page starts right after the
//!   last row the reader saw, whatever changed before it.
//! - **The ordering must be total**: the query set's ordering (or the
//!   model's) on the model's own non-null columns, not through relations.
//!   When its last key is not unique the primary key is added, in the same
//!   direction, so that ties are broken the same way on every page.
//! - **Cursors are readable**: a cursor holds the sort-key values of a row
//!   the reader was shown, base64-encoded, not encrypted; do not sort by a
//!   column you would not show. A tampered or malformed cursor, or one made
//!   for another ordering, is refused with [`KeysetError::InvalidCursor`],
//!   a 400 with `?`; a made-up but well-formed one only moves the reader
//!   within the same query set.
//!
//! ```no_run
//! # use manouche::db::{Auto, DateTime, Model};
//! # #[derive(Model)] #[model(app = "blog", ordering = "-created")]
//! # pub struct Article { pub id: Auto<i64>, pub created: DateTime }
//! use manouche::paginator::KeysetPaginator;
//! use manouche::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Params {
//!     cursor: Option<String>,
//! }
//!
//! async fn archive(db: Db, Query(params): Query<Params>) -> Result<String> {
//!     let paginator = KeysetPaginator::new(Article::objects(), 50)?;
//!     let page = paginator.page(&db, params.cursor.as_deref()).await?;
//!     let next = page.next_cursor().map(|c| format!("?cursor={c}"));
//!     Ok(format!("{} articles, next: {next:?}", page.len()))
//! }
//! ```
//!
//! Cursors are base64url (`A-Z a-z 0-9 - _`), safe in a query string as
//! they are.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::DEFAULT_MAX_PER_PAGE;
use crate::db::query::{LookupOp, OrderBy, Q};
use crate::db::{self, Executor, Model, QuerySet, SqlType};

/// The longest cursor accepted; longer text is refused unread.
const MAX_CURSOR_LEN: usize = 4096;

/// Why a keyset page could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeysetError {
    /// The cursor is malformed, tampered with, or made for another
    /// ordering. With `?` in a handler: a 400 carrying the message.
    #[error(
        "Invalid cursor: {0}. Follow the page's own links, or start again from the first page."
    )]
    InvalidCursor(String),
    /// The query set cannot be paginated by keyset; the message says what
    /// to change. A mistake in the code, met on the first request.
    #[error("{0}")]
    Unsupported(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] db::Error),
}

impl From<KeysetError> for crate::Error {
    fn from(e: KeysetError) -> Self {
        match e {
            KeysetError::InvalidCursor(_) => Self::bad_request(e.to_string()),
            KeysetError::Unsupported(message) => Self::improperly_configured(message),
            KeysetError::Database(e) => e.into(),
        }
    }
}

/// One sort key: a column of the model itself.
#[derive(Debug, Clone, Copy)]
struct Key {
    /// The field's name, for [`Q::named`] and [`Model::field_value`].
    field: &'static str,
    column: &'static str,
    desc: bool,
}

/// Which way a cursor points from the row it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The rows after it.
    Next,
    /// The rows before it.
    Previous,
}

impl Direction {
    fn tag(self) -> &'static str {
        match self {
            Self::Next => "n",
            Self::Previous => "p",
        }
    }
}

/// Pages of a query set by seeking past the last row shown (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct KeysetPaginator<M: Model> {
    query: QuerySet<M>,
    keys: Vec<Key>,
    /// Ties a cursor to the table and the ordering it was made for.
    fingerprint: String,
    per_page: u64,
    per_page_from_client: Option<u64>,
    max_per_page: u64,
}

impl<M: Model> KeysetPaginator<M> {
    /// Pages of `per_page` rows (0 counts as 1) of `query`, in its ordering
    /// (or the model's), made total with the primary key.
    ///
    /// # Errors
    ///
    /// [`KeysetError::Unsupported`] when the ordering goes through a
    /// relation or uses a nullable, JSON or binary column, or when the query
    /// set has a limit or an offset.
    pub fn new(query: QuerySet<M>, per_page: u64) -> Result<Self, KeysetError> {
        let meta = M::meta();
        if query.limit.is_some() || query.offset.is_some() {
            return Err(KeysetError::Unsupported(format!(
                "a keyset paginator pages the whole query set of {}: remove its limit and offset",
                meta.name
            )));
        }
        let ordering: Vec<OrderBy> = match &query.ordering {
            Some(keys) => keys.clone(),
            None => meta
                .ordering
                .iter()
                .map(|&(column, desc)| OrderBy::column(Vec::new(), column, desc))
                .collect(),
        };
        let mut keys = Vec::new();
        let mut total = false;
        for key in &ordering {
            let field = meta.column_fields().find(|f| f.column == Some(key.column));
            if !key.is_plain() {
                return Err(KeysetError::Unsupported(format!(
                    "a keyset paginator seeks on plain columns of {}: an expression or an \
                     explicit NULLS FIRST/LAST cannot be seeked past",
                    meta.name
                )));
            }
            let field = match field {
                Some(field) if key.path.is_empty() => field,
                _ => {
                    return Err(KeysetError::Unsupported(format!(
                        "a keyset paginator seeks on the columns of {} itself; \
                         `{}` is reached through a relation: order by {}'s own columns",
                        meta.name, key.column, meta.name
                    )));
                }
            };
            if field.nullable {
                return Err(KeysetError::Unsupported(format!(
                    "`{}.{}` is nullable, and NULLs cannot be seeked past: \
                     order by non-null columns for keyset pagination",
                    meta.name, field.name
                )));
            }
            if matches!(field.sql_type, SqlType::Json | SqlType::Bytes) {
                return Err(KeysetError::Unsupported(format!(
                    "`{}.{}` is {:?}, which has no order to seek in: order by another column",
                    meta.name, field.name, field.sql_type
                )));
            }
            keys.push(Key {
                field: field.name,
                column: key.column,
                desc: key.desc,
            });
            if super::unique_column(meta, key.column) {
                // Later keys never decide anything.
                total = true;
                break;
            }
        }
        if !total {
            let pk = meta.pk_field().ok_or_else(|| {
                KeysetError::Unsupported(format!("{} has no primary key field", meta.name))
            })?;
            keys.push(Key {
                field: pk.name,
                column: meta.pk_column,
                desc: keys.last().is_some_and(|k| k.desc),
            });
        }
        let mut hash = Sha256::new();
        hash.update(meta.table.as_bytes());
        for key in &keys {
            hash.update(b"\0");
            hash.update(key.column.as_bytes());
            hash.update(if key.desc { b"-" } else { b"+" });
        }
        let fingerprint = URL_SAFE_NO_PAD.encode(&hash.finalize()[..6]);
        Ok(Self {
            query,
            keys,
            fingerprint,
            per_page,
            per_page_from_client: None,
            max_per_page: DEFAULT_MAX_PER_PAGE,
        })
    }

    /// The most rows a page may have when the client chooses how many
    /// ([`per_page_from_query`](Self::per_page_from_query));
    /// [`DEFAULT_MAX_PER_PAGE`] unless set.
    #[must_use]
    pub fn max_per_page(mut self, max: u64) -> Self {
        self.max_per_page = max.max(1);
        self
    }

    /// Takes the number of rows per page from the client's text, as
    /// [`Paginator::per_page_from_query`](super::Paginator::per_page_from_query)
    /// does: a positive integer capped at
    /// [`max_per_page`](Self::max_per_page), else the `per_page` given to
    /// [`new`](Self::new).
    #[must_use]
    pub fn per_page_from_query(mut self, raw: Option<&str>) -> Self {
        self.per_page_from_client = match raw.map(super::parse_page_number) {
            Some(Ok(n)) if n > 0 => Some(n),
            Some(Err(super::InvalidPage::EmptyPage(super::EmptyPage::NoResults))) => Some(u64::MAX),
            _ => None,
        };
        self
    }

    /// The number of rows per page, as used.
    #[must_use]
    pub fn per_page(&self) -> u64 {
        let per_page = match self.per_page_from_client {
            Some(n) => n.min(self.max_per_page),
            None => self.per_page,
        };
        per_page.max(1)
    }

    /// The sort keys as field names, `-` for descending, the primary key
    /// included when it was added (for logs and tests).
    #[must_use]
    pub fn ordering(&self) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| format!("{}{}", if k.desc { "-" } else { "" }, k.field))
            .collect()
    }

    /// The page a cursor points to; no cursor (or an empty one) is the first
    /// page. One query: `per_page + 1` rows, the extra one telling whether
    /// there is more.
    ///
    /// # Errors
    ///
    /// [`KeysetError::InvalidCursor`] for a cursor this paginator did not
    /// make, and the database's error.
    pub async fn page(
        &self,
        db: &dyn Executor,
        cursor: Option<&str>,
    ) -> Result<KeysetPage<M>, KeysetError> {
        let per_page = self.per_page();
        let position = match cursor.map(str::trim) {
            None | Some("") => None,
            Some(cursor) => Some(self.decode(cursor)?),
        };
        let forward = !matches!(position, Some((Direction::Previous, _)));
        let mut qs = self.query.clone();
        if let Some((_, values)) = &position {
            qs = qs.filter(self.seek(values, forward)?);
        }
        let ordering: Vec<OrderBy> = self
            .keys
            .iter()
            .map(|k| OrderBy::column(Vec::new(), k.column, if forward { k.desc } else { !k.desc }))
            .collect();
        let limit = usize::try_from(per_page).unwrap_or(usize::MAX);
        let mut rows = qs
            .order_by(ordering)
            .limit(per_page.saturating_add(1))
            .all(db)
            .await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        if !forward {
            rows.reverse();
        }
        let (has_previous, has_next) = match position {
            None => (false, more),
            Some((Direction::Next, _)) => (true, more),
            Some((Direction::Previous, _)) => (more, true),
        };
        let next_cursor = match rows.last() {
            Some(row) if has_next => Some(self.encode(Direction::Next, row)?),
            _ => None,
        };
        let previous_cursor = match rows.first() {
            Some(row) if has_previous => Some(self.encode(Direction::Previous, row)?),
            _ => None,
        };
        Ok(KeysetPage {
            object_list: rows,
            has_next,
            has_previous,
            next_cursor,
            previous_cursor,
        })
    }

    /// The cursor of the page that starts right after `row`: how a list
    /// paged by number (or any other way) goes on by keyset from a row it
    /// showed.
    ///
    /// # Errors
    ///
    /// [`KeysetError::Unsupported`] when a sort key of `row` has no value
    /// a cursor can hold.
    pub fn cursor_after(&self, row: &M) -> Result<String, KeysetError> {
        self.encode(Direction::Next, row)
    }

    /// `keys > values` (or `<`, per key direction and `forward`), expanded
    /// as `k1 > v1 OR (k1 = v1 AND k2 > v2) OR ...`, which both backends
    /// plan as index ranges.
    pub(super) fn seek(&self, values: &[String], forward: bool) -> Result<Q<M>, KeysetError> {
        let invalid = |e: db::Error| KeysetError::InvalidCursor(e.to_string());
        let mut any: Option<Q<M>> = None;
        for (i, key) in self.keys.iter().enumerate() {
            // Forward, a descending key goes down; back, an ascending one.
            let op = if key.desc == forward {
                LookupOp::Lt
            } else {
                LookupOp::Gt
            };
            let mut term = Q::<M>::named(key.field, op, &values[i]).map_err(invalid)?;
            for (earlier, value) in self.keys[..i].iter().zip(values) {
                term =
                    Q::<M>::named(earlier.field, LookupOp::Exact, value).map_err(invalid)? & term;
            }
            any = Some(match any {
                None => term,
                Some(any) => any | term,
            });
        }
        any.ok_or_else(|| KeysetError::Unsupported("no sort keys".to_owned()))
    }

    fn encode(&self, direction: Direction, row: &M) -> Result<String, KeysetError> {
        let mut parts = vec![direction.tag().to_owned(), self.fingerprint.clone()];
        for key in &self.keys {
            let text = row
                .field_value(key.field)
                .as_ref()
                .and_then(crate::db::fields::value_text)
                .ok_or_else(|| {
                    KeysetError::Unsupported(format!(
                        "the value of `{}.{}` cannot be put in a cursor",
                        M::meta().name,
                        key.field
                    ))
                })?;
            parts.push(text);
        }
        let json =
            serde_json::to_vec(&parts).map_err(|e| KeysetError::Unsupported(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    }

    fn decode(&self, cursor: &str) -> Result<(Direction, Vec<String>), KeysetError> {
        let invalid = |why: &str| KeysetError::InvalidCursor(why.to_owned());
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(invalid("it is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| invalid("it is not base64url text"))?;
        let mut parts: Vec<String> =
            serde_json::from_slice(&bytes).map_err(|_| invalid("it does not hold a position"))?;
        if parts.len() != self.keys.len() + 2 {
            return Err(invalid("it was made for another list"));
        }
        let values = parts.split_off(2);
        let direction = match parts[0].as_str() {
            "n" => Direction::Next,
            "p" => Direction::Previous,
            _ => return Err(invalid("it points neither forward nor back")),
        };
        if parts[1] != self.fingerprint {
            return Err(invalid("it was made for another list or ordering"));
        }
        Ok((direction, values))
    }
}

/// One page of a [`KeysetPaginator`]: the rows, and cursors to the pages
/// either side.
#[derive(Debug, Clone)]
pub struct KeysetPage<M> {
    /// The rows on this page, in the paginator's order.
    pub object_list: Vec<M>,
    has_next: bool,
    has_previous: bool,
    next_cursor: Option<String>,
    previous_cursor: Option<String>,
}

impl<M> KeysetPage<M> {
    /// How many rows this page has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.object_list.len()
    }

    /// Whether this page has no rows (an empty table, or a cursor past the
    /// last row after the rows were deleted).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.object_list.is_empty()
    }

    /// The rows in order.
    pub fn iter(&self) -> std::slice::Iter<'_, M> {
        self.object_list.iter()
    }

    /// Whether rows follow this page.
    #[must_use]
    pub fn has_next(&self) -> bool {
        self.has_next
    }

    /// Whether rows come before this page. On an empty page reached with a
    /// cursor this is true but there is no previous cursor: link to the
    /// first page.
    #[must_use]
    pub fn has_previous(&self) -> bool {
        self.has_previous
    }

    /// The cursor of the next page, for `?cursor=`.
    #[must_use]
    pub fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }

    /// The cursor of the previous page, for `?cursor=`.
    #[must_use]
    pub fn previous_cursor(&self) -> Option<&str> {
        self.previous_cursor.as_deref()
    }
}

impl<M> IntoIterator for KeysetPage<M> {
    type Item = M;
    type IntoIter = std::vec::IntoIter<M>;
    fn into_iter(self) -> Self::IntoIter {
        self.object_list.into_iter()
    }
}

impl<'a, M> IntoIterator for &'a KeysetPage<M> {
    type Item = &'a M;
    type IntoIter = std::slice::Iter<'a, M>;
    fn into_iter(self) -> Self::IntoIter {
        self.object_list.iter()
    }
}
