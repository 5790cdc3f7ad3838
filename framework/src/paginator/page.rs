//! A page of objects and the arithmetic shared by every paginator.

use std::fmt;
use std::ops::RangeInclusive;

use super::{EmptyPage, InvalidPage};

/// What stands for the omitted page numbers in an elided page range
/// (Django's `Paginator.ELLIPSIS`).
pub const ELLIPSIS: &str = "…";

/// The arithmetic of a paginator once its count is known; every page
/// carries a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    pub(super) count: u64,
    pub(super) per_page: u64,
    pub(super) orphans: u64,
    pub(super) allow_empty_first_page: bool,
}

impl Layout {
    pub(super) fn num_pages(&self) -> u64 {
        if self.count == 0 && !self.allow_empty_first_page {
            return 0;
        }
        let hits = self.count.saturating_sub(self.orphans).max(1);
        hits.div_ceil(self.per_page)
    }

    /// Django's `validate_number`, for a number already read.
    pub(super) fn validate(&self, number: u64) -> Result<u64, InvalidPage> {
        if number < 1 {
            return Err(EmptyPage::LessThanOne.into());
        }
        if number > self.num_pages() && !(number == 1 && self.allow_empty_first_page) {
            return Err(EmptyPage::NoResults.into());
        }
        Ok(number)
    }

    /// Django's `get_page` choice: first page for what is not an integer,
    /// last page for what is out of range.
    pub(super) fn lenient(&self, number: Result<u64, InvalidPage>) -> u64 {
        match number.and_then(|n| self.validate(n)) {
            Ok(n) => n,
            Err(InvalidPage::PageNotAnInteger) => 1,
            Err(InvalidPage::EmptyPage(_)) => self.num_pages(),
        }
    }

    /// The objects of page `number` (valid): `bottom..top`, the last page
    /// taking the orphans.
    pub(super) fn bounds(&self, number: u64) -> (u64, u64) {
        let bottom = (number - 1).saturating_mul(self.per_page).min(self.count);
        let mut top = bottom.saturating_add(self.per_page);
        if top.saturating_add(self.orphans) >= self.count {
            top = self.count;
        }
        (bottom, top)
    }

    pub(super) fn elided(&self, number: u64, on_each_side: u64, on_ends: u64) -> Vec<PageItem> {
        let num_pages = self.num_pages();
        let pages = |range: RangeInclusive<u64>| range.map(PageItem::Number);
        let mut out = Vec::new();
        if num_pages <= on_each_side.saturating_add(on_ends).saturating_mul(2) {
            out.extend(pages(1..=num_pages));
            return out;
        }
        // Here num_pages > 2 * (on_each_side + on_ends): none of the
        // subtractions below goes under zero.
        if number > on_each_side.saturating_add(on_ends).saturating_add(2) {
            out.extend(pages(1..=on_ends));
            out.push(PageItem::Ellipsis);
            out.extend(pages(number - on_each_side..=number));
        } else {
            out.extend(pages(1..=number));
        }
        if number.saturating_add(1) < num_pages - on_each_side - on_ends {
            out.extend(pages(number + 1..=number + on_each_side));
            out.push(PageItem::Ellipsis);
            out.extend(pages(num_pages - on_ends + 1..=num_pages));
        } else {
            out.extend(pages(number + 1..=num_pages));
        }
        out
    }
}

/// One entry of an [elided page range](Page::get_elided_page_range): a page
/// number, or the [`ELLIPSIS`] standing for the numbers left out. It
/// displays as the number or `…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PageItem {
    /// A page to link to.
    Number(u64),
    /// Numbers left out.
    Ellipsis,
}

impl PageItem {
    /// The page number, `None` for the ellipsis (for templates:
    /// `{% if let Some(n) = item.number() %}`).
    #[must_use]
    pub fn number(&self) -> Option<u64> {
        match self {
            Self::Number(n) => Some(*n),
            Self::Ellipsis => None,
        }
    }
}

impl fmt::Display for PageItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Ellipsis => f.write_str(ELLIPSIS),
        }
    }
}

/// One page of objects (Django's `Page`): the objects, its number, and what
/// a navigation bar needs to know about the others.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The objects on this page.
    pub object_list: Vec<T>,
    /// This page's number, from 1.
    pub number: u64,
    pub(super) layout: Layout,
}

impl<T> Page<T> {
    /// How many objects this page has.
    #[must_use]
    pub fn len(&self) -> usize {
        self.object_list.len()
    }

    /// Whether this page has no objects (only page 1 of an empty list).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.object_list.is_empty()
    }

    /// The objects in order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.object_list.iter()
    }

    /// The same page with each object turned into another.
    #[must_use]
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            object_list: self.object_list.into_iter().map(f).collect(),
            number: self.number,
            layout: self.layout,
        }
    }

    /// Whether a page follows this one.
    #[must_use]
    pub fn has_next(&self) -> bool {
        self.number < self.layout.num_pages()
    }

    /// Whether a page comes before this one.
    #[must_use]
    pub fn has_previous(&self) -> bool {
        self.number > 1
    }

    /// Whether there is another page either side.
    #[must_use]
    pub fn has_other_pages(&self) -> bool {
        self.has_previous() || self.has_next()
    }

    /// The next page's number.
    ///
    /// # Errors
    ///
    /// [`EmptyPage::NoResults`] on the last page.
    pub fn next_page_number(&self) -> Result<u64, InvalidPage> {
        self.layout.validate(self.number.saturating_add(1))
    }

    /// The previous page's number.
    ///
    /// # Errors
    ///
    /// [`EmptyPage::LessThanOne`] on the first page.
    pub fn previous_page_number(&self) -> Result<u64, InvalidPage> {
        self.layout.validate(self.number - 1)
    }

    /// The 1-based position of this page's first object among all the
    /// objects; 0 when there are none.
    #[must_use]
    pub fn start_index(&self) -> u64 {
        if self.layout.count == 0 {
            return 0;
        }
        self.layout.per_page * (self.number - 1) + 1
    }

    /// The 1-based position of this page's last object among all the
    /// objects (the last page takes the orphans).
    #[must_use]
    pub fn end_index(&self) -> u64 {
        if self.number == self.layout.num_pages() {
            return self.layout.count;
        }
        self.number * self.layout.per_page
    }

    /// How many objects there are on all pages (the paginator's `count`).
    #[must_use]
    pub fn count(&self) -> u64 {
        self.layout.count
    }

    /// How many pages there are.
    #[must_use]
    pub fn num_pages(&self) -> u64 {
        self.layout.num_pages()
    }

    /// The number of objects per page.
    #[must_use]
    pub fn per_page(&self) -> u64 {
        self.layout.per_page
    }

    /// `1..=num_pages`.
    #[must_use]
    pub fn page_range(&self) -> RangeInclusive<u64> {
        1..=self.num_pages()
    }

    /// The page numbers to show around this one (Django's
    /// `paginator.get_elided_page_range(page.number, on_each_side=...,
    /// on_ends=...)`): every number when there are few pages, else the
    /// first and last `on_ends` numbers and `on_each_side` numbers either
    /// side of this one, with an [`ELLIPSIS`] where numbers are left out.
    /// Django's defaults are `(3, 2)`: for page 43 of 50,
    /// `1 2 … 40 41 42 43 44 45 46 … 49 50`.
    #[must_use]
    pub fn get_elided_page_range(&self, on_each_side: u64, on_ends: u64) -> Vec<PageItem> {
        self.layout.elided(self.number, on_each_side, on_ends)
    }

    /// [`get_elided_page_range`](Self::get_elided_page_range) with Django's
    /// defaults: 3 on each side, 2 on the ends.
    #[must_use]
    pub fn elided_page_range(&self) -> Vec<PageItem> {
        self.get_elided_page_range(3, 2)
    }
}

/// `<Page 2 of 5>`, as Django's `repr`.
impl<T> fmt::Display for Page<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<Page {} of {}>", self.number, self.num_pages())
    }
}

impl<T> std::ops::Index<usize> for Page<T> {
    type Output = T;
    fn index(&self, index: usize) -> &T {
        &self.object_list[index]
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.object_list.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Page<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.object_list.iter()
    }
}
