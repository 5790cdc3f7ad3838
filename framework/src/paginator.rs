//! Pagination: Django's `Paginator` and `Page`, over lists and query sets,
//! and a [`KeysetPaginator`] for big tables.
//!
//! A [`Paginator`] cuts a list or a [`QuerySet`] into numbered pages of
//! `per_page` objects. The arithmetic, the `orphans` and
//! `allow_empty_first_page` options, the [`Page`] methods and the error
//! messages are Django's.
//!
//! ```
//! use manouche::paginator::{EmptyPage, InvalidPage, Paginator};
//!
//! let paginator = Paginator::new(vec!["a", "b", "c", "d", "e"], 2);
//! assert_eq!(paginator.num_pages(), 3);
//!
//! let page = paginator.page(2)?;
//! assert_eq!(page.object_list, ["c", "d"]);
//! assert!(page.has_next() && page.has_previous());
//! assert_eq!((page.start_index(), page.end_index()), (3, 4));
//!
//! // Numbers come from `?page=` as text: Django's rules and messages.
//! assert_eq!(paginator.page("3")?.object_list, ["e"]);
//! let err = paginator.page("4").unwrap_err();
//! assert_eq!(err, InvalidPage::EmptyPage(EmptyPage::NoResults));
//! assert_eq!(err.to_string(), "That page contains no results");
//! assert_eq!(paginator.get_page(Some("abc"))?.number, 1); // not a number: first page
//! assert_eq!(paginator.get_page(Some("99"))?.number, 3); // too far: last page
//! # Ok::<_, InvalidPage>(())
//! ```
//!
//! # Query sets: one statement a page
//!
//! Over a query set the methods take the database and are awaited. The
//! first [`page`](Paginator::page) or [`get_page`](Paginator::get_page)
//! reads its rows and the count in one statement
//! ([`QuerySet::all_and_count`]); the paginator remembers the count, and
//! each later page is one `SELECT ... LIMIT ... OFFSET` (plus the query
//! set's own `prefetch_related` queries). [`count`](Paginator::count) asked
//! first is one `SELECT COUNT(*)`, as is the count of a query set cut by
//! its own limit or offset. A number past the last page costs a `COUNT`
//! more (no row carries the count). A page number that is not an integer
//! or is below 1 is refused by `page` before any query.
//!
//! ```no_run
//! # use manouche::db::{Auto, Model};
//! # #[derive(Model)] #[model(app = "blog", ordering = "-id")]
//! # pub struct Article { pub id: Auto<i64>, pub published: bool }
//! use manouche::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Params {
//!     // Text, not a number: `?page=abc` gets Django's behaviour, not a 400.
//!     page: Option<String>,
//! }
//!
//! async fn index(db: Db, Query(params): Query<Params>) -> Result<String> {
//!     let articles = Article::objects().filter(Article::published.eq(true));
//!     let paginator = Paginator::new(articles, 20);
//!     // `get_page`: never fails on the number (first or last page instead).
//!     let page = paginator.get_page(&db, params.page.as_deref()).await?;
//!     // `page`: a bad number becomes a 404 with Django's message:
//!     // let page = paginator.page(&db, params.page.as_deref()).await?;
//!     Ok(format!("{page}: {} articles", page.len()))
//! }
//! ```
//!
//! **`page` or `get_page`.** [`Paginator::get_page`] is for links people
//! follow and edit: a number that is not an integer (`abc`, `1.0`, an empty
//! value, no value) gives the first page, one that is out of range (`-1`,
//! `0`, `99`, `10**30`) the last page, as Django's. [`Paginator::page`]
//! refuses those with an [`InvalidPage`], which `?` turns into a 404 whose
//! message is Django's ("That page number is not an integer", "That page
//! number is less than 1", "That page contains no results"); its
//! `EmptyPage` and `PageNotAnInteger` variants can be matched instead.
//! Numbers bigger than any page (even bigger than `u64`) are out of range,
//! not errors of another kind; nothing a client sends panics or gives a 500.
//!
//! **Unordered query sets.** Django warns (`UnorderedObjectListWarning`)
//! when a query set without an ordering is paginated, because the database
//! may then return rows in any order, and pages may repeat or skip rows.
//! Here the paginator makes the order total instead: a query set without an
//! ordering is ordered by its primary key, and one whose ordering does not
//! end in a unique column (`-created`: two articles can share a date) gets
//! the primary key as the last sort key, in the direction of the key before
//! it, as Django's admin does for its change lists. A warning in a log does
//! not stop a reader from seeing an article twice; the primary key is
//! indexed, so the extra sort key costs next to nothing.
//!
//! **How many per page.** The `per_page` given to [`Paginator::new`] is the
//! developer's and is used as it is (0 counts as 1). A number from the
//! client (`?per_page=`) goes through [`Paginator::per_page_from_query`],
//! which caps it at [`max_per_page`](Paginator::max_per_page)
//! ([`DEFAULT_MAX_PER_PAGE`], 100, unless set): no request can make one
//! page read a million rows.
//!
//! **Big tables.** `OFFSET` makes the database read and skip every row
//! before the page, so page 10 000 of a big table is slow, and rows inserted
//! meanwhile shift the pages. [`KeysetPaginator`] seeks instead
//! (`WHERE (created, id) < (last page's last row)`): every page costs the
//! same, and pages are stable under inserts, but there are no page numbers,
//! only next and previous links with an opaque cursor. See [`keyset`].
//!
//! In templates, a page gives everything a navigation bar needs:
//! `page.has_previous()`, `page.previous_page_number()`, the
//! [`elided range`](Page::get_elided_page_range) (`1 2 … 7 8 9 … 49 50`,
//! each item a number or Django's [`ELLIPSIS`]), `page.number`.

pub mod keyset;
mod number;
mod page;

use std::ops::RangeInclusive;
use std::sync::OnceLock;

use crate::db::query::OrderBy;
use crate::db::{self, Executor, Model, QuerySet};

pub use keyset::{KeysetError, KeysetPage, KeysetPaginator};
use number::parse_page_number;
pub use number::{EmptyPage, InvalidPage, PageNumber};
use page::Layout;
pub use page::{ELLIPSIS, Page, PageItem};

/// The cap on a per-page count taken from the client
/// ([`Paginator::per_page_from_query`]) unless
/// [`Paginator::max_per_page`] sets another.
pub const DEFAULT_MAX_PER_PAGE: u64 = 100;

/// Why a page of a query set could not be read: a page number refused, or
/// the database's error. With `?` in a handler the first is a 404 and the
/// second answers as database errors do (503 when the database is down).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The page number was refused.
    #[error(transparent)]
    Invalid(#[from] InvalidPage),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] db::Error),
}

impl From<PageError> for crate::Error {
    fn from(e: PageError) -> Self {
        match e {
            PageError::Invalid(e) => e.into(),
            PageError::Database(e) => e.into(),
        }
    }
}

/// What a [`Paginator`] can cut into pages without a database: anything
/// with a length that can hand out a run of its items. Implemented for
/// `Vec<T>`, slices and arrays of `Clone` items; implement it for a
/// collection of your own (Django accepts any object with `count()` or
/// `len()`).
pub trait ObjectList {
    /// The objects on a page.
    type Item;

    /// How many objects there are in all.
    fn count(&self) -> u64;

    /// The objects from index `start` (included) to `end` (excluded); the
    /// paginator asks only for ranges within [`count`](Self::count).
    fn slice(&self, start: u64, end: u64) -> Vec<Self::Item>;
}

/// `start..end` of a slice of length `len`, clamped to it.
fn clamp_range(len: usize, start: u64, end: u64) -> std::ops::Range<usize> {
    let end = usize::try_from(end).unwrap_or(usize::MAX).min(len);
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(end);
    start..end
}

impl<T: Clone> ObjectList for [T] {
    type Item = T;
    fn count(&self) -> u64 {
        self.len() as u64
    }
    fn slice(&self, start: u64, end: u64) -> Vec<T> {
        self[clamp_range(self.len(), start, end)].to_vec()
    }
}

impl<T: Clone> ObjectList for Vec<T> {
    type Item = T;
    fn count(&self) -> u64 {
        self.as_slice().count()
    }
    fn slice(&self, start: u64, end: u64) -> Vec<T> {
        self.as_slice().slice(start, end)
    }
}

impl<T: Clone, const N: usize> ObjectList for [T; N] {
    type Item = T;
    fn count(&self) -> u64 {
        self.as_slice().count()
    }
    fn slice(&self, start: u64, end: u64) -> Vec<T> {
        self.as_slice().slice(start, end)
    }
}

impl<L: ObjectList + ?Sized> ObjectList for &L {
    type Item = L::Item;
    fn count(&self) -> u64 {
        (**self).count()
    }
    fn slice(&self, start: u64, end: u64) -> Vec<L::Item> {
        (**self).slice(start, end)
    }
}

/// Cuts a list or a query set into numbered pages (Django's `Paginator`).
///
/// Over an [`ObjectList`] (a `Vec`, a slice, ...) the methods answer at
/// once; over a [`QuerySet`] they take the database and are awaited. See
/// the [module docs](self).
#[derive(Debug)]
pub struct Paginator<L> {
    object_list: L,
    per_page: u64,
    per_page_from_client: Option<u64>,
    max_per_page: u64,
    orphans: u64,
    allow_empty_first_page: bool,
    /// The query set's count, read once.
    count: OnceLock<u64>,
}

impl<L> Paginator<L> {
    /// Pages of `per_page` objects (0 counts as 1), no orphans, and an
    /// empty first page allowed.
    #[must_use]
    pub fn new(object_list: L, per_page: u64) -> Self {
        Self {
            object_list,
            per_page,
            per_page_from_client: None,
            max_per_page: DEFAULT_MAX_PER_PAGE,
            orphans: 0,
            allow_empty_first_page: true,
            count: OnceLock::new(),
        }
    }

    /// Lets the last page take up to `orphans` more objects rather than
    /// leave them alone on a page of their own (Django's `orphans`; keep it
    /// below `per_page`).
    #[must_use]
    pub fn orphans(mut self, orphans: u64) -> Self {
        self.orphans = orphans;
        self
    }

    /// Whether page 1 exists when there are no objects at all (Django's
    /// `allow_empty_first_page`, on by default). Off, an empty list has no
    /// pages, and even `get_page` fails with [`EmptyPage::NoResults`].
    #[must_use]
    pub fn allow_empty_first_page(mut self, allow: bool) -> Self {
        self.allow_empty_first_page = allow;
        self
    }

    /// The most objects a page may have when the client chooses how many
    /// ([`per_page_from_query`](Self::per_page_from_query));
    /// [`DEFAULT_MAX_PER_PAGE`] unless set.
    #[must_use]
    pub fn max_per_page(mut self, max: u64) -> Self {
        self.max_per_page = max.max(1);
        self
    }

    /// Takes the number of objects per page from the client's text (a
    /// `?per_page=` parameter): a positive integer is used, capped at
    /// [`max_per_page`](Self::max_per_page); anything else (no value, `0`,
    /// `-5`, `abc`) leaves the `per_page` given to [`new`](Self::new).
    #[must_use]
    pub fn per_page_from_query(mut self, raw: Option<&str>) -> Self {
        self.per_page_from_client = match raw.map(parse_page_number) {
            Some(Ok(n)) if n > 0 => Some(n),
            Some(Err(InvalidPage::EmptyPage(EmptyPage::NoResults))) => Some(u64::MAX),
            _ => None,
        };
        self
    }

    /// The number of objects per page, as used.
    #[must_use]
    pub fn per_page(&self) -> u64 {
        let per_page = match self.per_page_from_client {
            Some(n) => n.min(self.max_per_page),
            None => self.per_page,
        };
        per_page.max(1)
    }

    /// The object list or query set being paginated.
    #[must_use]
    pub fn object_list(&self) -> &L {
        &self.object_list
    }

    fn layout(&self, count: u64) -> Layout {
        Layout {
            count,
            per_page: self.per_page(),
            orphans: self.orphans,
            allow_empty_first_page: self.allow_empty_first_page,
        }
    }
}

impl<L: ObjectList> Paginator<L> {
    /// How many objects there are, across all pages.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.object_list.count()
    }

    /// How many pages there are: 1 for no objects (0 without
    /// [`allow_empty_first_page`](Self::allow_empty_first_page)).
    #[must_use]
    pub fn num_pages(&self) -> u64 {
        self.layout(self.count()).num_pages()
    }

    /// `1..=num_pages`.
    #[must_use]
    pub fn page_range(&self) -> RangeInclusive<u64> {
        1..=self.num_pages()
    }

    /// Checks a page number (Django's `validate_number`).
    ///
    /// # Errors
    ///
    /// [`InvalidPage`] with Django's message.
    pub fn validate_number(&self, number: impl PageNumber) -> Result<u64, InvalidPage> {
        let layout = self.layout(self.count());
        layout.validate(number.to_page_number()?)
    }

    /// Page `number` (1-based).
    ///
    /// # Errors
    ///
    /// [`InvalidPage`] when `number` is not an integer or has no page.
    pub fn page(&self, number: impl PageNumber) -> Result<Page<L::Item>, InvalidPage> {
        let layout = self.layout(self.count());
        let number = layout.validate(number.to_page_number()?)?;
        Ok(self.make_page(layout, number))
    }

    /// A page whatever the number (Django's `get_page`): the first page for
    /// what is not an integer, the last for what is out of range.
    ///
    /// # Errors
    ///
    /// [`EmptyPage::NoResults`] only when there are no objects and
    /// [`allow_empty_first_page`](Self::allow_empty_first_page) is off.
    pub fn get_page(&self, number: impl PageNumber) -> Result<Page<L::Item>, InvalidPage> {
        let layout = self.layout(self.count());
        let number = layout.lenient(number.to_page_number());
        let number = layout.validate(number)?;
        Ok(self.make_page(layout, number))
    }

    /// Every page in order (iterating over Django's paginator).
    pub fn pages(&self) -> impl Iterator<Item = Page<L::Item>> + '_ {
        let layout = self.layout(self.count());
        (1..=layout.num_pages()).map(move |n| self.make_page(layout, n))
    }

    /// The page numbers around `number` with the rest elided (Django's
    /// `get_elided_page_range`); see [`Page::get_elided_page_range`].
    ///
    /// # Errors
    ///
    /// [`InvalidPage`] when `number` has no page.
    pub fn get_elided_page_range(
        &self,
        number: impl PageNumber,
        on_each_side: u64,
        on_ends: u64,
    ) -> Result<Vec<PageItem>, InvalidPage> {
        let layout = self.layout(self.count());
        let number = layout.validate(number.to_page_number()?)?;
        Ok(layout.elided(number, on_each_side, on_ends))
    }

    fn make_page(&self, layout: Layout, number: u64) -> Page<L::Item> {
        let (bottom, top) = layout.bounds(number);
        Page {
            object_list: self.object_list.slice(bottom, top),
            number,
            layout,
        }
    }
}

impl<M: Model> Paginator<QuerySet<M>> {
    /// How many rows the query set has: one `SELECT COUNT(*)` the first
    /// time, then remembered (as Django's cached `count`).
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn count(&self, db: &dyn Executor) -> db::Result<u64> {
        if let Some(count) = self.count.get() {
            return Ok(*count);
        }
        let count = self.object_list.clone().count(db).await?;
        let count = u64::try_from(count).unwrap_or_default();
        Ok(*self.count.get_or_init(|| count))
    }

    /// How many pages there are (one `COUNT` query, the first time).
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn num_pages(&self, db: &dyn Executor) -> db::Result<u64> {
        Ok(self.layout(self.count(db).await?).num_pages())
    }

    /// `1..=num_pages`.
    ///
    /// # Errors
    ///
    /// The database's error.
    pub async fn page_range(&self, db: &dyn Executor) -> db::Result<RangeInclusive<u64>> {
        Ok(1..=self.num_pages(db).await?)
    }

    /// Checks a page number (Django's `validate_number`); what is not an
    /// integer or is below 1 is refused without a query.
    ///
    /// # Errors
    ///
    /// [`PageError::Invalid`] with Django's message, or the database's
    /// error.
    pub async fn validate_number(
        &self,
        db: &dyn Executor,
        number: impl PageNumber,
    ) -> Result<u64, PageError> {
        let number = number.to_page_number()?;
        if number < 1 {
            return Err(InvalidPage::from(EmptyPage::LessThanOne).into());
        }
        let layout = self.layout(self.count(db).await?);
        Ok(layout.validate(number)?)
    }

    /// Page `number` (1-based). The first time, its rows and the count
    /// come in one statement ([`QuerySet::all_and_count`]); once the count
    /// is known, a page is one `SELECT ... LIMIT ... OFFSET`. A query set
    /// cut by its own limit or offset is counted first, by a `COUNT`. A
    /// number past the last page costs the statement and a `COUNT` (no row
    /// carries the count), then is refused as Django refuses it.
    ///
    /// # Errors
    ///
    /// [`PageError::Invalid`] when `number` is not an integer or has no
    /// page (a 404 with `?`), or the database's error.
    pub async fn page(
        &self,
        db: &dyn Executor,
        number: impl PageNumber,
    ) -> Result<Page<M>, PageError> {
        let number = number.to_page_number()?;
        if number < 1 {
            return Err(InvalidPage::from(EmptyPage::LessThanOne).into());
        }
        if let Some((layout, rows)) = self.first_read(db, number).await? {
            let number = layout.validate(number)?;
            return Ok(Self::page_of(layout, number, rows));
        }
        let layout = self.layout(self.count(db).await?);
        let number = layout.validate(number)?;
        self.read_page(db, layout, number).await
    }

    /// Before the count is known, page `number`'s rows read with the count
    /// in one statement, as many as the page can hold with its orphans:
    /// the page's first row does not depend on the count, only its last
    /// does. `None` when the count is known already, when the query set is
    /// cut itself (the statement would count the uncut rows), or when the
    /// number is too big to be an offset.
    async fn first_read(
        &self,
        db: &dyn Executor,
        number: u64,
    ) -> db::Result<Option<(Layout, Vec<M>)>> {
        let qs = &self.object_list;
        if self.count.get().is_some() || qs.limit.is_some() || qs.offset.is_some() {
            return Ok(None);
        }
        let shape = self.layout(0);
        let Some(bottom) = number
            .checked_sub(1)
            .and_then(|n| n.checked_mul(shape.per_page))
            .filter(|&b| i64::try_from(b).is_ok())
        else {
            return Ok(None);
        };
        let most = bottom.saturating_add(shape.per_page.saturating_add(shape.orphans));
        let (rows, count) = page_query(qs, bottom, most).all_and_count(db).await?;
        let count = u64::try_from(count).unwrap_or_default();
        Ok(Some((self.layout(*self.count.get_or_init(|| count)), rows)))
    }

    /// A page whatever the number (Django's `get_page`): the first page for
    /// what is not an integer, the last for what is out of range.
    ///
    /// # Errors
    ///
    /// The database's error; [`EmptyPage::NoResults`] only when there are
    /// no rows and [`allow_empty_first_page`](Self::allow_empty_first_page)
    /// is off.
    pub async fn get_page(
        &self,
        db: &dyn Executor,
        number: impl PageNumber,
    ) -> Result<Page<M>, PageError> {
        let asked = number.to_page_number();
        // The page to read with the count, before the count is known: the
        // number asked, or the first page for what is not a number.
        let guess = match asked {
            Ok(n) if n >= 1 => Some(n),
            Err(InvalidPage::PageNotAnInteger) => Some(1),
            _ => None,
        };
        let first = match guess {
            Some(guess) => self.first_read(db, guess).await?.map(|read| (guess, read)),
            None => None,
        };
        let layout = match &first {
            Some((_, (layout, _))) => *layout,
            None => self.layout(self.count(db).await?),
        };
        let number = layout.validate(layout.lenient(asked))?;
        match first {
            Some((guess, (layout, rows))) if guess == number => {
                Ok(Self::page_of(layout, number, rows))
            }
            // Past the end: the last page, now that the count is known.
            _ => self.read_page(db, layout, number).await,
        }
    }

    /// Page `number` of `layout` from the rows read from its first row on
    /// (cut to the page's length).
    fn page_of(layout: Layout, number: u64, mut object_list: Vec<M>) -> Page<M> {
        let (bottom, top) = layout.bounds(number);
        object_list.truncate(usize::try_from(top - bottom).unwrap_or(usize::MAX));
        Page {
            object_list,
            number,
            layout,
        }
    }

    async fn read_page(
        &self,
        db: &dyn Executor,
        layout: Layout,
        number: u64,
    ) -> Result<Page<M>, PageError> {
        let (bottom, top) = layout.bounds(number);
        let object_list = if top > bottom {
            page_query(&self.object_list, bottom, top).all(db).await?
        } else {
            Vec::new()
        };
        Ok(Page {
            object_list,
            number,
            layout,
        })
    }
}

/// Rows `bottom..top` of `qs` (itself maybe cut by a limit and an offset),
/// in a total order.
fn page_query<M: Model>(qs: &QuerySet<M>, bottom: u64, top: u64) -> QuerySet<M> {
    let mut qs = total_order(qs.clone());
    let offset = qs.offset.unwrap_or(0).saturating_add(bottom);
    qs.offset = (offset > 0).then_some(offset);
    qs.limit = Some(top - bottom);
    qs
}

/// Whether `column` of `M` holds a different value in every row.
fn unique_column(meta: &db::ModelMeta, column: &str) -> bool {
    column == meta.pk_column
        || meta
            .column_fields()
            .any(|f| f.column == Some(column) && f.unique && !f.nullable)
}

/// `qs` ordered so that no two rows tie: its ordering (or the model's) with
/// the primary key added unless a unique column of the model is already a
/// sort key. See the module docs, "Unordered query sets".
pub(crate) fn total_order<M: Model>(mut qs: QuerySet<M>) -> QuerySet<M> {
    let meta = M::meta();
    let mut keys: Vec<OrderBy> = match qs.ordering.take() {
        Some(keys) => keys,
        None => meta
            .ordering
            .iter()
            .map(|&(column, desc)| OrderBy::column(Vec::new(), column, desc))
            .collect(),
    };
    let total = keys
        .iter()
        .any(|k| k.expr.is_none() && k.path.is_empty() && unique_column(meta, k.column));
    if !total {
        let desc = keys.last().is_some_and(|k| k.desc);
        keys.push(OrderBy::column(Vec::new(), meta.pk_column, desc));
    }
    qs.ordering = Some(keys);
    qs
}

#[cfg(test)]
mod tests;
