//! Page numbers as clients send them, and why one is refused: Django's
//! `PageNotAnInteger` and `EmptyPage`, with Django's messages.

/// Why a page number was refused (Django's `InvalidPage`): its two kinds
/// are Django's exceptions of the same names.
///
/// With `?` in a handler it becomes a 404 carrying the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPage {
    /// The number is not an integer: `abc`, `1.5`, `1.0` written as text,
    /// an empty value, no value.
    #[error("That page number is not an integer")]
    PageNotAnInteger,
    /// The number is an integer but no page has it.
    #[error("{0}")]
    EmptyPage(EmptyPage),
}

/// Why an integer page number has no page (Django's `EmptyPage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmptyPage {
    /// 0 or negative.
    #[error("That page number is less than 1")]
    LessThanOne,
    /// Past the last page (or any page at all, when there are no objects
    /// and `allow_empty_first_page` is off).
    #[error("That page contains no results")]
    NoResults,
}

impl InvalidPage {
    /// Whether this is Django's `EmptyPage` (an integer out of range).
    #[must_use]
    pub fn is_empty_page(&self) -> bool {
        matches!(self, Self::EmptyPage(_))
    }
}

impl From<EmptyPage> for InvalidPage {
    fn from(e: EmptyPage) -> Self {
        Self::EmptyPage(e)
    }
}

impl From<InvalidPage> for crate::Error {
    fn from(e: InvalidPage) -> Self {
        Self::not_found(e.to_string())
    }
}

/// What can be given as a page number: integers, text as it comes from a
/// query string (`"3"`, `" 3 "`, `"-1"`, `"abc"`), an `Option` of either
/// (`None` is not an integer, as Django's `None`), and `f64` (a whole
/// number only, as Django accepts `1.0` but not `1.5`).
///
/// Text follows Python's `int()`: surrounding whitespace, a sign, leading
/// zeros and `_` between digits are accepted; `1.0` as text is not an
/// integer. A number too big for any page, however long, is simply past
/// the last page.
pub trait PageNumber {
    /// The number, or why it cannot be one: `Ok(0)` is returned as it is
    /// (the paginator refuses it as less than 1).
    ///
    /// # Errors
    ///
    /// [`InvalidPage::PageNotAnInteger`] for what is not an integer,
    /// [`EmptyPage::LessThanOne`] for a negative number,
    /// [`EmptyPage::NoResults`] for one past `u64::MAX`.
    fn to_page_number(&self) -> Result<u64, InvalidPage>;
}

impl PageNumber for str {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        parse_page_number(self)
    }
}

impl PageNumber for String {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        parse_page_number(self)
    }
}

impl<T: PageNumber + ?Sized> PageNumber for &T {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        (**self).to_page_number()
    }
}

impl<T: PageNumber> PageNumber for Option<T> {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        match self {
            Some(n) => n.to_page_number(),
            None => Err(InvalidPage::PageNotAnInteger),
        }
    }
}

impl PageNumber for u64 {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        Ok(*self)
    }
}

impl PageNumber for u32 {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        Ok(u64::from(*self))
    }
}

impl PageNumber for usize {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        u64::try_from(*self).map_err(|_| EmptyPage::NoResults.into())
    }
}

macro_rules! signed_page_number {
    ($($t:ty),*) => {$(
        impl PageNumber for $t {
            fn to_page_number(&self) -> Result<u64, InvalidPage> {
                // Negative numbers fail the conversion.
                u64::try_from(*self).map_err(|_| EmptyPage::LessThanOne.into())
            }
        }
    )*};
}

signed_page_number!(i32, i64, isize);

impl PageNumber for f64 {
    fn to_page_number(&self) -> Result<u64, InvalidPage> {
        if !self.is_finite() || self.fract() != 0.0 {
            return Err(InvalidPage::PageNotAnInteger);
        }
        if *self < 0.0 {
            return Err(EmptyPage::LessThanOne.into());
        }
        // 2^64 and above is past any page.
        if *self >= 18_446_744_073_709_551_616.0 {
            return Err(EmptyPage::NoResults.into());
        }
        // Whole, non-negative and below 2^64: the cast is exact.
        Ok(*self as u64)
    }
}

/// Python's `int(text)` for ASCII digits: whitespace around, an optional
/// sign, digits with single `_` between them.
pub(super) fn parse_page_number(text: &str) -> Result<u64, InvalidPage> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.first().is_some_and(u8::is_ascii_digit)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes.iter().all(|b| b.is_ascii_digit() || *b == b'_')
        && !digits.contains("__");
    if !well_formed {
        return Err(InvalidPage::PageNotAnInteger);
    }
    let mut value: Option<u64> = Some(0);
    for b in bytes.iter().filter(|b| b.is_ascii_digit()) {
        value = value
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(u64::from(b - b'0')));
    }
    match (negative, value) {
        (true, Some(0)) => Ok(0),
        (true, _) => Err(EmptyPage::LessThanOne.into()),
        (false, Some(v)) => Ok(v),
        (false, None) => Err(EmptyPage::NoResults.into()),
    }
}
