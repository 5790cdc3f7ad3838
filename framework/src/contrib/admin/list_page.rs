//! What the list page shows, as the changelist builds it and the page's
//! template draws it.

/// One column of the list page.
#[derive(Debug, Clone)]
pub(crate) struct ListColumn {
    pub(crate) label: String,
    /// Where the header links: sorted by this column first, or the other
    /// way round when it already is.
    pub(crate) sort_url: String,
    /// `Some(true)` when sorted descending by it, `Some(false)` ascending.
    pub(crate) sorted: Option<bool>,
}

/// One filter of the side bar and its choices: `(label, url, selected)`.
#[derive(Debug, Clone)]
pub(crate) struct ListFilter {
    pub(crate) label: String,
    pub(crate) choices: Vec<(String, String, bool)>,
}

/// Links as `(label, url)`.
pub(crate) type Links = Vec<(String, String)>;

/// What the list page shows.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub(crate) columns: Vec<ListColumn>,
    /// Each row's primary key (for its link and its box) and cells.
    pub(crate) rows: Vec<(String, Vec<String>)>,
    /// For each column, whether its cells link to the change page.
    pub(crate) links: Vec<bool>,
    pub(crate) filters: Vec<ListFilter>,
    /// The date drill-down: the way back up (`(label, url)`), then the
    /// choices one level down.
    pub(crate) hierarchy: Option<(Links, Links)>,
    pub(crate) search: Option<String>,
    pub(crate) searchable: bool,
    /// "3 of 12 rows", "about 1,000,000 rows"...
    pub(crate) count_text: String,
    /// When the list is big and the search or a filter reads every row.
    pub(crate) notes: Vec<String>,
    /// Links to numbered pages: `(number, url)`, `None` for an ellipsis;
    /// the current page's number (0 on a page reached by cursor).
    pub(crate) pages: Vec<Option<(u64, String)>>,
    pub(crate) page: u64,
    /// Keyset links past the numbered pages.
    pub(crate) previous_url: Option<String>,
    pub(crate) next_url: Option<String>,
    /// "Show all" (when every matching row fits on one page).
    pub(crate) show_all_url: Option<String>,
    /// The query string, to come back to this list after an action.
    pub(crate) query: String,
}
