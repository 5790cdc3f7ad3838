//! What the list page shows, as the changelist builds it and the page's
//! template draws it.

/// One column of the list page.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListColumn {
    /// The column's header.
    pub label: String,
    /// Where the header links: sorted by this column first, or the other
    /// way round when it already is.
    pub sort_url: String,
    /// `Some(true)` when sorted descending by it, `Some(false)` ascending.
    pub sorted: Option<bool>,
}

/// One filter of the side bar and its choices: `(label, url, selected)`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ListFilter {
    /// The filter's title ("By published").
    pub label: String,
    /// `(label, url, selected)`.
    pub choices: Vec<(String, String, bool)>,
}

/// Links as `(label, url)`.
pub type Links = Vec<(String, String)>;

/// What the list page shows.
#[derive(Debug)]
#[non_exhaustive]
pub struct ListPage {
    /// The columns' headers.
    pub columns: Vec<ListColumn>,
    /// Each row's primary key (for its link and its box) and cells.
    pub rows: Vec<(String, Vec<String>)>,
    /// For each column, whether its cells link to the change page.
    pub links: Vec<bool>,
    /// The side bar's filters.
    pub filters: Vec<ListFilter>,
    /// The date drill-down: the way back up (`(label, url)`), then the
    /// choices one level down.
    pub hierarchy: Option<(Links, Links)>,
    /// The search typed, if any.
    pub search: Option<String>,
    /// Whether the list has a search box.
    pub searchable: bool,
    /// "3 of 12 rows", "about 1,000,000 rows"...
    pub count_text: String,
    /// When the list is big and the search or a filter reads every row.
    pub notes: Vec<String>,
    /// Links to numbered pages: `(number, url)`, `None` for an ellipsis;
    /// the current page's number (0 on a page reached by cursor).
    pub pages: Vec<Option<(u64, String)>>,
    /// The current page's number (0 on a page reached by cursor).
    pub page: u64,
    /// The keyset link back, past the numbered pages.
    pub previous_url: Option<String>,
    /// The keyset link on.
    pub next_url: Option<String>,
    /// "Show all" (when every matching row fits on one page).
    pub show_all_url: Option<String>,
    /// The query string, to come back to this list after an action.
    pub query: String,
}
