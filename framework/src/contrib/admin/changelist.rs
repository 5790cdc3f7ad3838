//! The list page (Django's `ChangeList`): the query string read against
//! the options' allow-list, the query, the columns, filters and pages.

use std::collections::BTreeMap;

use chrono::{Datelike as _, Months, NaiveDate};
use sea_query::Value;

use super::AdminSite;
use super::list_page::{Links, ListColumn, ListFilter, ListPage};
use super::options::{BadQuery, ModelAdmin, TITLE_COLUMN};
use super::render;
use crate::db::query::LookupOp;
use crate::db::{Database, Model, ModelMeta, Q, QuerySet, SqlType};
use crate::forms::model_form::capfirst;
use crate::paginator::{KeysetError, KeysetPaginator};

/// The names of the query string the list page reads itself.
pub(super) const SEARCH: &str = "q";
pub(super) const ORDER: &str = "o";
pub(super) const PAGE: &str = "p";
pub(super) const CURSOR: &str = "cursor";
pub(super) const ALL: &str = "all";
/// The date drill-down's parameters, after the field's name and `__`.
const YEAR: &str = "year";
const MONTH: &str = "month";
const DAY: &str = "day";

/// A foreign key's filter lists this many related objects.
const RELATED_CHOICES: u64 = 100;

/// Past this many rows (the database's own estimate), a list is big: its
/// count is estimated when unfiltered and bounded when filtered.
pub(crate) const BIG_TABLE: u64 = 100_000;
/// A big list's filtered count stops after this many pages ("more than
/// 250" at 50 a page): counting every match of a search that reads the
/// table row by row would cost what reading them all does.
const COUNT_PAGES: u64 = 5;
/// Numbered pages of a big list reach this many rows deep; past them
/// the list goes on by keyset cursor, which costs the same at any depth.
const OFFSET_ROWS: u64 = 10_000;

/// Where the list is: a numbered page, a keyset cursor, or every row.
#[derive(Debug, Clone)]
enum Position {
    Page(u64),
    Cursor(String),
    All,
}

/// The query string read.
struct ListQuery<M: Model> {
    qs: QuerySet<M>,
    search: Option<String>,
    order: Vec<(usize, bool)>,
    position: Position,
    /// A search or filter narrows the rows.
    filtered: bool,
    /// The date drill-down's year, month and day chosen.
    date: (Option<i32>, Option<u32>, Option<u32>),
}

impl<M: Model + Default> ModelAdmin<M> {
    /// The query set the list shows for `params`, and the parts of the
    /// page that depend only on them.
    fn query(&self, params: &[(String, String)]) -> Result<ListQuery<M>, BadQuery> {
        let meta = M::meta();
        let mut qs = M::objects();
        let mut search = None;
        let mut order = Vec::new();
        let mut position = Position::Page(1);
        let mut filtered = false;
        let mut date = (None, None, None);
        let mut seen = BTreeMap::new();
        let hierarchy = self.date_hierarchy.unwrap_or_default();
        for (name, value) in params {
            if seen.insert(name.as_str(), ()).is_some() {
                return Err(BadQuery(format!("`{name}` is given twice")));
            }
            let part = name
                .strip_prefix(hierarchy)
                .and_then(|rest| rest.strip_prefix("__"))
                .filter(|_| !hierarchy.is_empty());
            // A date filter's bound: `field__gte` / `field__lt`.
            if let Some((field, op)) = self.date_filter(name) {
                let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
                    BadQuery(format!("`{name}={value}` is not a date (YYYY-MM-DD)"))
                })?;
                let q = Q::<M>::named(field, op, &date_text(meta, field, date))
                    .map_err(|e| BadQuery(e.to_string()))?;
                qs = qs.filter(q);
                filtered = true;
                continue;
            }
            match name.as_str() {
                SEARCH => {
                    if self.search_fields.is_empty() {
                        return Err(BadQuery("this list has no search".to_owned()));
                    }
                    let text = value.trim();
                    if !text.is_empty() {
                        qs = self.search(qs, text)?;
                        search = Some(text.to_owned());
                        filtered = true;
                    }
                }
                ORDER => order = self.parse_order(value)?,
                PAGE => {
                    let page = value
                        .parse::<u64>()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| BadQuery(format!("`p={value}` is not a page number")))?;
                    position = Position::Page(page);
                }
                CURSOR => position = Position::Cursor(value.clone()),
                ALL => position = Position::All,
                field if self.list_filter.contains(&field) => {
                    let q = Q::<M>::named(field, LookupOp::Exact, value)
                        .map_err(|e| BadQuery(e.to_string()))?;
                    qs = qs.filter(q);
                    filtered = true;
                }
                _ if part.is_some() => {
                    let number = |max: u32| {
                        value
                            .parse::<u32>()
                            .ok()
                            .filter(|n| (1..=max).contains(n))
                            .ok_or_else(|| BadQuery(format!("`{name}={value}` is out of range")))
                    };
                    match part {
                        Some(YEAR) => {
                            let year = value
                                .parse::<i32>()
                                .ok()
                                .filter(|y| (1..=9999).contains(y))
                                .ok_or_else(|| {
                                    BadQuery(format!("`{name}={value}` is not a year"))
                                })?;
                            date.0 = Some(year);
                        }
                        Some(MONTH) => date.1 = Some(number(12)?),
                        Some(DAY) => date.2 = Some(number(31)?),
                        _ => {
                            return Err(BadQuery(format!(
                                "`{name}`: the date drill-down takes {hierarchy}__year, \
                                 {hierarchy}__month and {hierarchy}__day"
                            )));
                        }
                    }
                }
                other => {
                    return Err(BadQuery(format!(
                        "`{other}` is not a filter of this list (filters: {})",
                        if self.list_filter.is_empty() {
                            "none".to_owned()
                        } else {
                            self.list_filter.join(", ")
                        }
                    )));
                }
            }
        }
        if let Some(range) = date_range(date)? {
            for (op, bound) in [(LookupOp::Gte, range.0), (LookupOp::Lt, range.1)] {
                let text = date_text(meta, hierarchy, bound);
                let q = Q::<M>::named(hierarchy, op, &text).map_err(|e| BadQuery(e.to_string()))?;
                qs = qs.filter(q);
            }
            filtered = true;
        }
        // The order: the clicked columns, then the options' or the
        // model's, then the primary key, so that pages never overlap.
        let columns = self.columns();
        let mut names: Vec<String> = Vec::new();
        for &(i, desc) in &order {
            if meta.field(columns[i]).is_none() {
                return Err(BadQuery(format!(
                    "`o`: column {} is computed and cannot be sorted by",
                    i + 1
                )));
            }
            names.push(format!("{}{}", if desc { "-" } else { "" }, columns[i]));
        }
        if self.ordering.is_empty() {
            names.extend(
                meta.ordering
                    .iter()
                    .map(|&(column, desc)| format!("{}{column}", if desc { "-" } else { "" })),
            );
        } else {
            names.extend(self.ordering.iter().map(|s| (*s).to_owned()));
        }
        names.push(format!("-{}", meta.pk_column));
        qs = qs
            .order_by_names(names)
            .map_err(|e| BadQuery(e.to_string()))?;
        Ok(ListQuery {
            qs,
            search,
            order,
            position,
            filtered,
            date,
        })
    }

    /// `qs` narrowed to the rows with every word of `text` in some search
    /// field. A search through a many-to-many or reverse relation would
    /// list a row once per related match, so the query is then made
    /// `distinct()`, as Django's admin does.
    pub(super) fn search(&self, qs: QuerySet<M>, text: &str) -> Result<QuerySet<M>, BadQuery> {
        let mut all = Q::all();
        for word in text.split_whitespace() {
            let mut any = Q::none();
            for spec in &self.search_fields {
                let (op, field) = match spec.split_at_checked(1) {
                    Some(("^", rest)) => (LookupOp::IStartsWith, rest),
                    Some(("=", rest)) => (LookupOp::IExact, rest),
                    _ => (LookupOp::IContains, *spec),
                };
                let q = Q::<M>::named(field, op, word).map_err(|e| BadQuery(e.to_string()))?;
                any = any | q;
            }
            all = all & any;
        }
        let duplicates = self.search_fields.iter().any(|spec| {
            M::meta()
                .resolve_path(spec.trim_start_matches(['^', '=']))
                .is_ok_and(|path| path.multi_valued())
        });
        let qs = qs.filter(all);
        Ok(if duplicates { qs.distinct() } else { qs })
    }

    /// `?o=2.-1`: (column index, descending) pairs.
    fn parse_order(&self, value: &str) -> Result<Vec<(usize, bool)>, BadQuery> {
        let count = self.columns().len();
        let mut out: Vec<(usize, bool)> = Vec::new();
        for part in value.split('.').filter(|p| !p.is_empty()) {
            let (desc, digits) = match part.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, part),
            };
            let index = digits
                .parse::<usize>()
                .ok()
                .filter(|i| (1..=count).contains(i))
                .ok_or_else(|| {
                    BadQuery(format!("`o={value}`: columns are numbered 1 to {count}"))
                })?;
            if out.iter().any(|&(i, _)| i == index - 1) {
                return Err(BadQuery(format!("`o={value}` names a column twice")));
            }
            out.push((index - 1, desc));
        }
        Ok(out)
    }

    /// `field__gte` / `field__lt` of a date field of `list_filter`: the
    /// field and the comparison.
    fn date_filter(&self, param: &str) -> Option<(&'static str, LookupOp)> {
        let meta = M::meta();
        self.list_filter.iter().find_map(|&field| {
            let f = meta.field(field)?;
            if !matches!(f.sql_type, SqlType::Date | SqlType::DateTime) {
                return None;
            }
            let rest = param.strip_prefix(field)?.strip_prefix("__")?;
            match rest {
                "gte" => Some((field, LookupOp::Gte)),
                "lt" => Some((field, LookupOp::Lt)),
                _ => None,
            }
        })
    }

    /// The side bar: per `list_filter` field, "All" and its values: yes
    /// and no, the choices, the related objects (the first 100, by their
    /// admin's titles), or date ranges.
    async fn filters(
        &self,
        site: &AdminSite,
        db: &Database,
        params: &[(String, String)],
    ) -> Result<Vec<ListFilter>, crate::Error> {
        let meta = M::meta();
        let mut out = Vec::new();
        for name in &self.list_filter {
            let Some(field) = meta.field(name) else {
                continue;
            };
            let label = crate::forms::model_form::field_label(field);
            if matches!(field.sql_type, SqlType::Date | SqlType::DateTime) {
                out.push(ListFilter {
                    label,
                    choices: date_choices(name, params),
                });
                continue;
            }
            let current = params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let mut choices = vec![(
                "All".to_owned(),
                render::query_url(params, &[(name, None), (PAGE, None), (CURSOR, None)]),
                current.is_none(),
            )];
            let values: Vec<(String, String)> = if field.sql_type == SqlType::Bool {
                vec![
                    ("true".to_owned(), "Yes".to_owned()),
                    ("false".to_owned(), "No".to_owned()),
                ]
            } else if let Some(relation) = field.relation.filter(|_| field.column.is_some()) {
                let target = (relation.target)();
                match site.admin_of(target) {
                    // No search words: nothing to refuse.
                    Some(admin) => admin
                        .search_page(db, "", 1, RELATED_CHOICES)
                        .await?
                        .map(|(found, _)| found)
                        .unwrap_or_default(),
                    None => Vec::new(),
                }
            } else {
                field
                    .choices
                    .iter()
                    .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
                    .collect()
            };
            for (value, label) in values {
                let selected = current == Some(value.as_str());
                choices.push((
                    label,
                    render::query_url(
                        params,
                        &[(name, Some(&value)), (PAGE, None), (CURSOR, None)],
                    ),
                    selected,
                ));
            }
            out.push(ListFilter { label, choices });
        }
        Ok(out)
    }

    /// The rows matching, as the page says it: exact on a small table;
    /// on a big one, the database's estimate unfiltered, and a count that
    /// stops after [`COUNT_PAGES`] pages filtered. `(count text, matching rows as
    /// far as known, exact)`.
    ///
    /// `estimate` is the database's; `known`, the exact count of the
    /// matching rows when it came with the page.
    async fn count(
        &self,
        db: &Database,
        query: &ListQuery<M>,
        estimate: Option<u64>,
        known: Option<u64>,
    ) -> Result<(String, u64, bool), crate::Error> {
        let plural = |n: u64| {
            if n == 1 {
                M::meta().verbose_name.to_owned()
            } else {
                M::meta().verbose_name_plural.to_owned()
            }
        };
        let count = |qs: QuerySet<M>| async move {
            Ok::<u64, crate::Error>(u64::try_from(qs.count(db).await?).unwrap_or(0))
        };
        match estimate {
            Some(total) if total > BIG_TABLE => {
                if !query.filtered {
                    return Ok((
                        format!("about {} {}", thousands(total), plural(total)),
                        total,
                        false,
                    ));
                }
                let bound = (self.per_page * COUNT_PAGES).max(100);
                let n = count(query.qs.clone().unordered().limit(bound + 1)).await?;
                let text = if n > bound {
                    format!(
                        "more than {} of about {}",
                        thousands(bound),
                        thousands(total)
                    )
                } else {
                    format!("{} of about {}", thousands(n), thousands(total))
                };
                Ok((format!("{text} {}", plural(total)), n, n <= bound))
            }
            _ => {
                let n = match known {
                    Some(n) => n,
                    None => count(query.qs.clone().unordered()).await?,
                };
                if !query.filtered {
                    return Ok((format!("{} {}", thousands(n), plural(n)), n, true));
                }
                let total = count(M::objects()).await?;
                Ok((
                    format!("{} of {} {}", thousands(n), thousands(total), plural(total)),
                    n,
                    true,
                ))
            }
        }
    }

    pub(super) async fn list_page(
        &self,
        site: &AdminSite,
        db: &Database,
        params: &[(String, String)],
    ) -> Result<Result<ListPage, BadQuery>, crate::Error> {
        let mut query = match self.query(params) {
            Ok(query) => query,
            Err(bad) => return Ok(Err(bad)),
        };
        let meta = M::meta();
        // Foreign key columns show the related objects' titles when their
        // model is in the admin: joined into the page's own query, so the
        // query count grows with neither the rows nor these columns.
        let names = self.columns();
        let mut related = Vec::new();
        for (column, name) in names.iter().enumerate() {
            let Some(field) = meta.field(name) else {
                continue;
            };
            let Some(relation) = field.relation.filter(|_| field.column.is_some()) else {
                continue;
            };
            let Some(admin) = site.admin_of((relation.target)()) else {
                continue;
            };
            query.qs = query.qs.select_related_path(name)?;
            related.push((column, *name, admin));
        }
        let per_page = self.per_page;
        let estimate = db.estimated_rows(meta.table).await?;
        // A small list's numbered page comes with its count, in one
        // statement.
        let page_at = |offset: u64| query.qs.clone().offset(offset).limit(per_page);
        let mut fetched = None;
        if let Position::Page(page) = query.position
            && estimate.is_none_or(|total| total <= BIG_TABLE)
            // A page number too big for any table is answered by the
            // count alone (past the last page).
            && let Some(offset) = (page - 1)
                .checked_mul(per_page)
                .filter(|&o| i64::try_from(o).is_ok())
        {
            let (rows, n) = page_at(offset).all_and_count(db).await?;
            fetched = Some((rows, u64::try_from(n).unwrap_or(0)));
        }
        let known = fetched.as_ref().map(|&(_, n)| n);
        let (count_text, count, exact) = self.count(db, &query, estimate, known).await?;
        let big = !exact || count > BIG_TABLE;
        let num_pages = count.div_ceil(per_page).max(1);
        // Numbered pages go as deep as is cheap; a big list then goes on
        // by cursor.
        let numbered = if big {
            num_pages.min((OFFSET_ROWS / per_page).max(1))
        } else {
            num_pages
        };
        let keyset = KeysetPaginator::new(query.qs.clone(), per_page).ok();
        let mut notes = Vec::new();
        if big
            && query.search.is_some()
            && self
                .search_fields
                .iter()
                .any(|s| !s.starts_with(['^', '=']))
        {
            notes.push(format!(
                "Searching for words anywhere in {} reads every row of this big table; \
                 a search field marked ^ (starts with) or = (exact) can use an index.",
                text_list(
                    &self
                        .search_fields
                        .iter()
                        .filter(|s| !s.starts_with(['^', '=']))
                        .map(|s| (*s).to_owned())
                        .collect::<Vec<_>>()
                )
            ));
        }
        let (objects, page, previous_url, next_url) = match &query.position {
            Position::All => {
                if !exact || count > self.max_show_all {
                    return Ok(Err(BadQuery(format!(
                        "`all`: this list shows every row only up to {}",
                        self.max_show_all
                    ))));
                }
                (query.qs.clone().all(db).await?, 0, None, None)
            }
            Position::Page(page) => {
                let page = *page;
                if page > numbered {
                    return Ok(Err(BadQuery(if page <= num_pages {
                        format!(
                            "page {page} is past the numbered pages of this big list (1 to \
                             {numbered}): follow the list's Next links"
                        )
                    } else {
                        format!("page {page} is past the last page ({num_pages})")
                    })));
                }
                let rows = match fetched {
                    Some((rows, _)) => rows,
                    None => page_at((page - 1) * per_page).all(db).await?,
                };
                // The last numbered page of a big list goes on by cursor.
                let next = match (&keyset, rows.last()) {
                    (Some(keyset), Some(last)) if page == numbered && numbered < num_pages => {
                        keyset
                            .cursor_after(last)
                            .ok()
                            .map(|c| render::query_url(params, &[(CURSOR, Some(&c)), (PAGE, None)]))
                    }
                    _ => None,
                };
                (rows, page, None, next)
            }
            Position::Cursor(cursor) => {
                let Some(keyset) = &keyset else {
                    return Ok(Err(BadQuery(
                        "this list's order cannot be paged by cursor: use page numbers".to_owned(),
                    )));
                };
                let found = match keyset.page(db, Some(cursor)).await {
                    Ok(found) => found,
                    Err(KeysetError::InvalidCursor(why)) => return Ok(Err(BadQuery(why))),
                    Err(e) => return Err(crate::Error::from(e)),
                };
                let link = |c: Option<&str>| {
                    c.map(|c| render::query_url(params, &[(CURSOR, Some(c)), (PAGE, None)]))
                };
                let previous = link(found.previous_cursor());
                let next = link(found.next_cursor());
                (found.object_list, 0, previous, next)
            }
        };
        let columns = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let sorted = query
                    .order
                    .iter()
                    .find(|(c, _)| *c == i)
                    .map(|&(_, desc)| desc);
                // Clicking puts the column first; again, turns it round.
                let first_desc = query
                    .order
                    .first()
                    .filter(|(c, _)| *c == i)
                    .map(|&(_, d)| !d);
                let mut keys = vec![(i, first_desc.unwrap_or(false))];
                keys.extend(query.order.iter().filter(|(c, _)| *c != i).copied());
                let o = keys
                    .iter()
                    .map(|&(c, desc)| format!("{}{}", if desc { "-" } else { "" }, c + 1))
                    .collect::<Vec<_>>()
                    .join(".");
                let (label, sortable) = match meta.field(name) {
                    Some(field) => (crate::forms::model_form::field_label(field), true),
                    None if *name == TITLE_COLUMN => (capfirst(meta.verbose_name), false),
                    None => (
                        self.computed
                            .iter()
                            .find(|c| c.name == *name)
                            .map_or_else(|| (*name).to_owned(), |c| c.label.to_owned()),
                        false,
                    ),
                };
                ListColumn {
                    label,
                    sort_url: if sortable {
                        render::query_url(
                            params,
                            &[(ORDER, Some(&o)), (PAGE, None), (CURSOR, None)],
                        )
                    } else {
                        String::new()
                    },
                    sorted,
                }
            })
            .collect();
        let links = names
            .iter()
            .enumerate()
            .map(|(i, name)| match &self.list_display_links {
                Some(links) => links.contains(name),
                None => i == 0,
            })
            .collect();
        let rows = objects
            .iter()
            .map(|obj| {
                let pk = render::pk_text(obj);
                let cells = names
                    .iter()
                    .enumerate()
                    .map(|(column, name)| {
                        if let Some(computed) = self.computed.iter().find(|c| c.name == *name) {
                            return (computed.show)(obj);
                        }
                        if *name == TITLE_COLUMN {
                            return self.title_of(obj);
                        }
                        if let Some(title) = related.iter().find(|(c, _, _)| *c == column).and_then(
                            |(_, name, admin)| admin.loaded_title(obj.loaded_related(name)?),
                        ) {
                            return title;
                        }
                        let field = meta.field(name);
                        let value = obj.field_value(name).unwrap_or(Value::String(None));
                        field.map_or_else(|| render::value(&value), |f| render::cell(f, &value))
                    })
                    .collect();
                (pk, cells)
            })
            .collect();
        let pages = if matches!(query.position, Position::Page(_)) {
            render::page_links(page, numbered, |n| {
                render::query_url(params, &[(PAGE, Some(&n.to_string()))])
            })
        } else {
            vec![Some((
                1,
                render::query_url(params, &[(CURSOR, None), (ALL, None), (PAGE, None)]),
            ))]
        };
        let show_all_url = (exact
            && num_pages > 1
            && count <= self.max_show_all
            && !matches!(query.position, Position::All))
        .then(|| render::query_url(params, &[(ALL, Some("")), (PAGE, None), (CURSOR, None)]));
        let hierarchy = match self.date_hierarchy {
            Some(field) => Some(self.hierarchy(db, &query, field, params).await?),
            None => None,
        };
        Ok(Ok(ListPage {
            columns,
            rows,
            links,
            filters: self.filters(site, db, params).await?,
            hierarchy,
            search: query.search,
            searchable: !self.search_fields.is_empty(),
            count_text,
            notes,
            pages,
            page,
            previous_url,
            next_url,
            show_all_url,
            query: render::query_url(params, &[]),
        }))
    }

    /// The date drill-down: the links back up, and the years (months,
    /// days) between the first and the last matching row one level down.
    async fn hierarchy(
        &self,
        db: &Database,
        query: &ListQuery<M>,
        field: &'static str,
        params: &[(String, String)],
    ) -> Result<(Links, Links), crate::Error> {
        let [year, month, day] = [YEAR, MONTH, DAY].map(|p| format!("{field}__{p}"));
        let clear = [
            (year.as_str(), None),
            (month.as_str(), None),
            (day.as_str(), None),
            (PAGE, None),
            (CURSOR, None),
        ];
        let mut up = Vec::new();
        let (y, m, _) = query.date;
        if let Some(y) = y {
            up.push(("‹ All dates".to_owned(), render::query_url(params, &clear)));
            if m.is_some() {
                let y_text = y.to_string();
                let mut to_year = clear;
                to_year[0].1 = Some(&y_text);
                up.push((y_text.clone(), render::query_url(params, &to_year)));
            }
        }
        if query.date.2.is_some() {
            return Ok((up, Vec::new()));
        }
        // The first and last dates, two index lookups.
        let by = |desc: bool| {
            query
                .qs
                .clone()
                .order_by_names([format!("{}{field}", if desc { "-" } else { "" })])
        };
        let date_of = |obj: Option<M>| -> Option<NaiveDate> {
            match obj?.field_value(field)? {
                Value::ChronoDate(Some(d)) => Some(*d),
                Value::ChronoDateTimeUtc(Some(t)) => Some(t.date_naive()),
                _ => None,
            }
        };
        let (Ok(first), Ok(last)) = (by(false), by(true)) else {
            return Ok((up, Vec::new()));
        };
        let first = date_of(first.first(db).await?);
        let last = date_of(last.first(db).await?);
        let (Some(first), Some(last)) = (first, last) else {
            return Ok((up, Vec::new()));
        };
        let (first, last) = (first.min(last), first.max(last));
        let mut down = Vec::new();
        match (y, m) {
            (None, _) => {
                for y in first.year()..=last.year() {
                    let t = y.to_string();
                    down.push((
                        t.clone(),
                        render::query_url(
                            params,
                            &[(year.as_str(), Some(&t)), (PAGE, None), (CURSOR, None)],
                        ),
                    ));
                }
            }
            (Some(y), None) => {
                let y_text = y.to_string();
                for m in 1..=12u32 {
                    let Some(start) = NaiveDate::from_ymd_opt(y, m, 1) else {
                        continue;
                    };
                    let end = start.checked_add_months(Months::new(1)).unwrap_or(start);
                    if end <= first || start > last {
                        continue;
                    }
                    let t = m.to_string();
                    down.push((
                        start.format("%B %Y").to_string(),
                        render::query_url(
                            params,
                            &[
                                (year.as_str(), Some(&y_text)),
                                (month.as_str(), Some(&t)),
                                (PAGE, None),
                                (CURSOR, None),
                            ],
                        ),
                    ));
                }
            }
            (Some(y), Some(m)) => {
                let (y_text, m_text) = (y.to_string(), m.to_string());
                for d in 1..=31u32 {
                    let Some(date) = NaiveDate::from_ymd_opt(y, m, d) else {
                        break;
                    };
                    if date < first || date > last {
                        continue;
                    }
                    let t = d.to_string();
                    down.push((
                        date.format("%B %-d").to_string(),
                        render::query_url(
                            params,
                            &[
                                (year.as_str(), Some(&y_text)),
                                (month.as_str(), Some(&m_text)),
                                (day.as_str(), Some(&t)),
                                (PAGE, None),
                                (CURSOR, None),
                            ],
                        ),
                    ));
                }
            }
        }
        Ok((up, down))
    }
}

/// `1234567` → `"1,234,567"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `["a", "b", "c"]` → `"a, b or c"`.
fn text_list(items: &[String]) -> String {
    crate::forms::model_form::text_list(items, "or")
}

/// A date field's filter: any date, today, the past 7 days, this month,
/// this year (UTC), as `field__gte` and `field__lt`.
fn date_choices(field: &str, params: &[(String, String)]) -> Vec<(String, String, bool)> {
    let today = chrono::Utc::now().date_naive();
    let month = today.with_day(1).unwrap_or(today);
    let year = month.with_month(1).unwrap_or(month);
    let (gte, lt) = (format!("{field}__gte"), format!("{field}__lt"));
    let current = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let ranges = [
        ("Today", today, today.succ_opt()),
        (
            "Past 7 days",
            today - chrono::Days::new(6),
            today.succ_opt(),
        ),
        (
            "This month",
            month,
            month.checked_add_months(Months::new(1)),
        ),
        ("This year", year, year.checked_add_months(Months::new(12))),
    ];
    let mut out = vec![(
        "Any date".to_owned(),
        render::query_url(
            params,
            &[(&gte, None), (&lt, None), (PAGE, None), (CURSOR, None)],
        ),
        current(&gte).is_none() && current(&lt).is_none(),
    )];
    for (label, from, to) in ranges {
        let Some(to) = to else { continue };
        let (from, to) = (from.to_string(), to.to_string());
        out.push((
            label.to_owned(),
            render::query_url(
                params,
                &[
                    (&gte, Some(&from)),
                    (&lt, Some(&to)),
                    (PAGE, None),
                    (CURSOR, None),
                ],
            ),
            current(&gte) == Some(from.as_str()) && current(&lt) == Some(to.as_str()),
        ));
    }
    out
}

/// The dates `[from, to)` a drill-down choice covers: a year, a month of
/// it, or a day of that month.
fn date_range(
    (year, month, day): (Option<i32>, Option<u32>, Option<u32>),
) -> Result<Option<(NaiveDate, NaiveDate)>, BadQuery> {
    let bad = || BadQuery("the date drill-down names no such date".to_owned());
    Ok(match (year, month, day) {
        (None, None, None) => None,
        (Some(y), None, None) => Some((
            NaiveDate::from_ymd_opt(y, 1, 1).ok_or_else(bad)?,
            NaiveDate::from_ymd_opt(y + 1, 1, 1).ok_or_else(bad)?,
        )),
        (Some(y), Some(m), None) => {
            let from = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
            Some((
                from,
                from.checked_add_months(Months::new(1)).ok_or_else(bad)?,
            ))
        }
        (Some(y), Some(m), Some(d)) => {
            let from = NaiveDate::from_ymd_opt(y, m, d).ok_or_else(bad)?;
            Some((from, from.succ_opt().ok_or_else(bad)?))
        }
        _ => {
            return Err(BadQuery(
                "the date drill-down needs the year with the month, and the month with the day"
                    .to_owned(),
            ));
        }
    })
}

/// A date as the field's lookups read it: the day for a date field,
/// midnight UTC for a date-time one.
fn date_text(meta: &ModelMeta, field: &str, date: NaiveDate) -> String {
    match meta.field(field).map(|f| f.sql_type) {
        Some(crate::db::SqlType::DateTime) => format!("{date}T00:00:00Z"),
        _ => date.to_string(),
    }
}
