//! Pagination: Django's `tests/pagination` cases on lists and query sets
//! (SQLite, and PostgreSQL when `DATABASE_URL` is set), the query counts,
//! and keyset pagination.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use manouche::db::testing::{count_queries, for_each_database};
use manouche::db::{Auto, Database, DateTime, Model, QuerySet, Result, schema};
use manouche::paginator::{
    ELLIPSIS, EmptyPage, InvalidPage, KeysetError, KeysetPaginator, ObjectList, PageError,
    PageItem, Paginator,
};

// ---------------------------------------------------------------------------
// Lists (Django's PaginationTests)
// ---------------------------------------------------------------------------

fn upto(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

/// A paginator over `list` with Django's positional parameters.
fn paginator(
    list: Vec<u32>,
    per_page: u64,
    orphans: u64,
    allow_empty: bool,
) -> Paginator<Vec<u32>> {
    Paginator::new(list, per_page)
        .orphans(orphans)
        .allow_empty_first_page(allow_empty)
}

#[test]
fn paginator_attributes() {
    let (nine, ten, eleven) = (upto(9), upto(10), upto(11));
    // (list, per_page, orphans, allow_empty_first_page) → (count, num_pages, page_range)
    let cases = [
        // Ten items, varying orphans, no empty first page.
        ((ten.clone(), 4, 0, false), (10, 3, vec![1, 2, 3])),
        ((ten.clone(), 4, 1, false), (10, 3, vec![1, 2, 3])),
        ((ten.clone(), 4, 2, false), (10, 2, vec![1, 2])),
        ((ten.clone(), 4, 5, false), (10, 2, vec![1, 2])),
        ((ten.clone(), 4, 6, false), (10, 1, vec![1])),
        // Ten items, varying orphans, allow empty first page.
        ((ten.clone(), 4, 0, true), (10, 3, vec![1, 2, 3])),
        ((ten.clone(), 4, 1, true), (10, 3, vec![1, 2, 3])),
        ((ten.clone(), 4, 2, true), (10, 2, vec![1, 2])),
        ((ten.clone(), 4, 5, true), (10, 2, vec![1, 2])),
        ((ten.clone(), 4, 6, true), (10, 1, vec![1])),
        // One item, varying orphans, no empty first page.
        ((vec![1], 4, 0, false), (1, 1, vec![1])),
        ((vec![1], 4, 1, false), (1, 1, vec![1])),
        ((vec![1], 4, 2, false), (1, 1, vec![1])),
        // One item, varying orphans, allow empty first page.
        ((vec![1], 4, 0, true), (1, 1, vec![1])),
        ((vec![1], 4, 1, true), (1, 1, vec![1])),
        ((vec![1], 4, 2, true), (1, 1, vec![1])),
        // Zero items, varying orphans, no empty first page.
        ((vec![], 4, 0, false), (0, 0, vec![])),
        ((vec![], 4, 1, false), (0, 0, vec![])),
        ((vec![], 4, 2, false), (0, 0, vec![])),
        // Zero items, varying orphans, allow empty first page.
        ((vec![], 4, 0, true), (0, 1, vec![1])),
        ((vec![], 4, 1, true), (0, 1, vec![1])),
        ((vec![], 4, 2, true), (0, 1, vec![1])),
        // Number of items one less than per_page.
        ((vec![], 1, 0, true), (0, 1, vec![1])),
        ((vec![], 1, 0, false), (0, 0, vec![])),
        ((vec![1], 2, 0, true), (1, 1, vec![1])),
        ((nine.clone(), 10, 0, true), (9, 1, vec![1])),
        // Number of items equal to per_page.
        ((vec![1], 1, 0, true), (1, 1, vec![1])),
        ((vec![1, 2], 2, 0, true), (2, 1, vec![1])),
        ((ten.clone(), 10, 0, true), (10, 1, vec![1])),
        // Number of items one more than per_page.
        ((vec![1, 2], 1, 0, true), (2, 2, vec![1, 2])),
        ((vec![1, 2, 3], 2, 0, true), (3, 2, vec![1, 2])),
        ((eleven.clone(), 10, 0, true), (11, 2, vec![1, 2])),
        // Number of items one more than per_page with one orphan.
        ((vec![1, 2], 1, 1, true), (2, 1, vec![1])),
        ((vec![1, 2, 3], 2, 1, true), (3, 1, vec![1])),
        ((eleven.clone(), 10, 1, true), (11, 1, vec![1])),
    ];
    for ((list, per_page, orphans, allow), (count, num_pages, range)) in cases {
        let params = format!("{} items, {per_page}, {orphans}, {allow}", list.len());
        let p = paginator(list, per_page, orphans, allow);
        assert_eq!(p.count(), count, "count: {params}");
        assert_eq!(p.num_pages(), num_pages, "num_pages: {params}");
        assert_eq!(
            p.page_range().collect::<Vec<_>>(),
            range,
            "page_range: {params}"
        );
    }
}

#[test]
fn invalid_page_numbers_raise_django_s_errors() {
    let p = Paginator::new(vec![1, 2, 3], 2);
    assert!(p.page(3).is_err());
    assert_eq!(
        p.validate_number(None::<&str>),
        Err(InvalidPage::PageNotAnInteger)
    );
    assert_eq!(p.validate_number("x"), Err(InvalidPage::PageNotAnInteger));
    assert_eq!(p.validate_number(1.2), Err(InvalidPage::PageNotAnInteger));
    // The messages are Django's.
    assert_eq!(
        p.validate_number("x").unwrap_err().to_string(),
        "That page number is not an integer"
    );
    assert_eq!(
        p.validate_number(-1).unwrap_err().to_string(),
        "That page number is less than 1"
    );
    assert_eq!(
        p.validate_number(3).unwrap_err().to_string(),
        "That page contains no results"
    );
    assert!(p.validate_number(0).unwrap_err().is_empty_page());
    assert!(!p.validate_number("x").unwrap_err().is_empty_page());
}

#[test]
fn a_float_that_is_an_integer_is_a_page_number() {
    let p = Paginator::new(vec![1, 2, 3], 2);
    assert_eq!(p.validate_number(1.0), Ok(1));
}

#[test]
fn with_no_content_page_one_is_valid() {
    let p = Paginator::new(Vec::<u32>::new(), 2);
    assert_eq!(p.validate_number(1), Ok(1));
}

#[test]
fn any_object_list_with_a_count_paginates() {
    struct CountContainer;
    impl ObjectList for CountContainer {
        type Item = u64;
        fn count(&self) -> u64 {
            42
        }
        fn slice(&self, start: u64, end: u64) -> Vec<u64> {
            (start..end).collect()
        }
    }
    let p = Paginator::new(CountContainer, 10);
    assert_eq!(p.count(), 42);
    assert_eq!(p.num_pages(), 5);
    assert_eq!(p.page_range().collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    assert_eq!(p.page(5).expect("last page").object_list, [40, 41]);
    // Slices and arrays too.
    let items = [1, 2, 3];
    assert_eq!(Paginator::new(&items[..], 2).num_pages(), 2);
    assert_eq!(
        Paginator::new(items, 2).page(2).expect("page").object_list,
        [3]
    );
}

#[test]
fn start_and_end_indexes() {
    let ten = upto(10);
    // (params, first page's (start, end), last page's (start, end))
    let cases = [
        // Ten items, varying per_page, no orphans.
        ((ten.clone(), 1, 0, true), (1, 1), (10, 10)),
        ((ten.clone(), 2, 0, true), (1, 2), (9, 10)),
        ((ten.clone(), 3, 0, true), (1, 3), (10, 10)),
        ((ten.clone(), 5, 0, true), (1, 5), (6, 10)),
        // Ten items, varying per_page, with orphans.
        ((ten.clone(), 1, 1, true), (1, 1), (9, 10)),
        ((ten.clone(), 1, 2, true), (1, 1), (8, 10)),
        ((ten.clone(), 3, 1, true), (1, 3), (7, 10)),
        ((ten.clone(), 3, 2, true), (1, 3), (7, 10)),
        ((ten.clone(), 3, 4, true), (1, 3), (4, 10)),
        ((ten.clone(), 5, 1, true), (1, 5), (6, 10)),
        ((ten.clone(), 5, 2, true), (1, 5), (6, 10)),
        ((ten.clone(), 5, 5, true), (1, 10), (1, 10)),
        // One item, varying orphans, no empty first page.
        ((vec![1], 4, 0, false), (1, 1), (1, 1)),
        ((vec![1], 4, 1, false), (1, 1), (1, 1)),
        ((vec![1], 4, 2, false), (1, 1), (1, 1)),
        // One item, varying orphans, allow empty first page.
        ((vec![1], 4, 0, true), (1, 1), (1, 1)),
        ((vec![1], 4, 1, true), (1, 1), (1, 1)),
        ((vec![1], 4, 2, true), (1, 1), (1, 1)),
        // Zero items, varying orphans, allow empty first page.
        ((vec![], 4, 0, true), (0, 0), (0, 0)),
        ((vec![], 4, 1, true), (0, 0), (0, 0)),
        ((vec![], 4, 2, true), (0, 0), (0, 0)),
    ];
    for ((list, per_page, orphans, allow), first, last) in cases {
        let params = format!("{} items, {per_page}, {orphans}, {allow}", list.len());
        let p = paginator(list, per_page, orphans, allow);
        let page = p.page(1).expect("first page");
        assert_eq!(
            (page.start_index(), page.end_index()),
            first,
            "first: {params}"
        );
        let page = p.page(p.num_pages()).expect("last page");
        assert_eq!(
            (page.start_index(), page.end_index()),
            last,
            "last: {params}"
        );
    }
    // No items and no empty first page: page 1 does not exist.
    for orphans in 0..3 {
        let p = paginator(vec![], 4, orphans, false);
        assert_eq!(
            p.page(1).unwrap_err(),
            InvalidPage::EmptyPage(EmptyPage::NoResults)
        );
    }
}

#[test]
fn a_page_is_a_sequence() {
    let eleven: Vec<char> = "abcdefghijk".chars().collect();
    let page2 = Paginator::new(eleven, 5)
        .orphans(1)
        .page(2)
        .expect("page 2");
    assert_eq!(page2.len(), 6);
    assert!(page2.object_list.contains(&'k'));
    assert!(!page2.object_list.contains(&'a'));
    assert_eq!(page2.iter().collect::<String>(), "fghijk");
    assert_eq!(page2.iter().rev().collect::<String>(), "kjihgf");
    assert_eq!(page2[0], 'f');
    assert_eq!((&page2).into_iter().count(), 6);
    assert_eq!(page2.to_string(), "<Page 2 of 2>");
}

#[test]
fn get_page_never_fails_on_the_number() {
    let p = Paginator::new(vec![1, 2, 3], 2);
    let page = p.get_page(1).expect("page");
    assert_eq!(page.number, 1);
    assert_eq!(page.object_list, [1, 2]);
    // An empty page returns the last page.
    assert_eq!(p.get_page(3).expect("page").number, 2);
    // Non-integer page returns the first page.
    assert_eq!(p.get_page(None::<&str>).expect("page").number, 1);
    // What clients write in `?page=`.
    for (raw, number) in [
        ("-1", 2),
        ("0", 2),
        ("abc", 1),
        ("", 1),
        ("1.0", 1),
        ("1000000000000000000000000000000", 2),
        ("-1000000000000000000000000000000", 2),
        (" 2 ", 2),
    ] {
        assert_eq!(
            p.get_page(Some(raw)).expect("page").number,
            number,
            "{raw:?}"
        );
    }
}

#[test]
fn get_page_of_an_empty_list() {
    let p = Paginator::new(Vec::<u32>::new(), 2);
    assert_eq!(p.get_page(1).expect("page").number, 1);
    assert_eq!(p.get_page(2).expect("page").number, 1);
    assert_eq!(p.get_page(None::<&str>).expect("page").number, 1);
    // Without an empty first page there is no page to fall back to.
    let p = Paginator::new(Vec::<u32>::new(), 2).allow_empty_first_page(false);
    assert!(p.get_page(1).unwrap_err().is_empty_page());
}

#[test]
fn iterating_gives_every_page() {
    let p = Paginator::new(vec![1, 2, 3], 2);
    let pages: Vec<Vec<i32>> = p.pages().map(|page| page.object_list).collect();
    assert_eq!(pages, [vec![1, 2], vec![3]]);
    let names: Vec<String> = p.pages().map(|page| page.to_string()).collect();
    assert_eq!(names, ["<Page 1 of 2>", "<Page 2 of 2>"]);
}

#[test]
fn next_and_previous_page_numbers() {
    let p = Paginator::new(upto(9), 5);
    let first = p.page(1).expect("page");
    assert!(first.has_next() && !first.has_previous() && first.has_other_pages());
    assert_eq!(first.next_page_number(), Ok(2));
    assert_eq!(
        first.previous_page_number(),
        Err(InvalidPage::EmptyPage(EmptyPage::LessThanOne))
    );
    let last = p.page(2).expect("page");
    assert!(!last.has_next() && last.has_previous());
    assert_eq!(
        last.next_page_number(),
        Err(InvalidPage::EmptyPage(EmptyPage::NoResults))
    );
    assert_eq!(last.previous_page_number(), Ok(1));
    let only = Paginator::new(upto(3), 5).page(1).expect("page");
    assert!(!only.has_other_pages());
}

fn n(numbers: &[u64]) -> Vec<PageItem> {
    numbers.iter().map(|&n| PageItem::Number(n)).collect()
}

/// Django's test notation: numbers, with 0 for the ellipsis.
fn items(spec: &[u64]) -> Vec<PageItem> {
    spec.iter()
        .map(|&n| {
            if n == 0 {
                PageItem::Ellipsis
            } else {
                PageItem::Number(n)
            }
        })
        .collect()
}

#[test]
fn elided_page_range() {
    const E: u64 = 0;
    // Not elided with few pages and the default arguments.
    let p = Paginator::new((0..10 * 100).collect::<Vec<u32>>(), 100);
    let range = p.get_elided_page_range(1, 3, 2).expect("valid");
    assert!(!range.contains(&PageItem::Ellipsis));
    let p = Paginator::new((0..10 * 100 + 1).collect::<Vec<u32>>(), 100);
    let range = p.get_elided_page_range(1, 3, 2).expect("valid");
    assert!(range.contains(&PageItem::Ellipsis));

    // Elided with enough pages and the default arguments.
    let p = Paginator::new((0..5000).collect::<Vec<u32>>(), 100);
    for (number, expected) in [
        (1, vec![1, 2, 3, 4, E, 49, 50]),
        (6, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, E, 49, 50]),
        (7, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, E, 49, 50]),
        (8, vec![1, 2, E, 5, 6, 7, 8, 9, 10, 11, E, 49, 50]),
        (43, vec![1, 2, E, 40, 41, 42, 43, 44, 45, 46, E, 49, 50]),
        (44, vec![1, 2, E, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]),
        (45, vec![1, 2, E, 42, 43, 44, 45, 46, 47, 48, 49, 50]),
        (50, vec![1, 2, E, 47, 48, 49, 50]),
    ] {
        assert_eq!(
            p.get_elided_page_range(number, 3, 2).expect("valid"),
            items(&expected),
            "page {number}"
        );
        // The page gives the same with Django's defaults.
        assert_eq!(
            p.page(number).expect("page").elided_page_range(),
            items(&expected)
        );
    }

    // Not elided until enough pages with custom arguments.
    for (pages, on_each_side, on_ends, elided_after) in [
        (6, 2, 1, 1),
        (8, 1, 3, 1),
        (8, 4, 0, 1),
        (4, 1, 1, 1),
        // When on_each_side and on_ends are both <= 1 but not both == 1 the
        // range is not elided until an extra page is added.
        (2, 0, 1, 2),
        (2, 1, 0, 2),
        (1, 0, 0, 2),
    ] {
        for offset in 0..=elided_after {
            let p = Paginator::new((0..(pages + offset) * 100).collect::<Vec<u64>>(), 100);
            let range = p
                .get_elided_page_range(1, on_each_side, on_ends)
                .expect("valid");
            assert_eq!(
                range.contains(&PageItem::Ellipsis),
                offset >= elided_after,
                "{pages} pages + {offset}, {on_each_side}, {on_ends}: {range:?}"
            );
        }
    }

    // Elided with custom arguments.
    for (number, on_each_side, on_ends, expected) in [
        (1, 2, 1, vec![1, 2, 3, E, 50]),
        (4, 2, 1, vec![1, 2, 3, 4, 5, 6, E, 50]),
        (5, 2, 1, vec![1, 2, 3, 4, 5, 6, 7, E, 50]),
        (6, 2, 1, vec![1, E, 4, 5, 6, 7, 8, E, 50]),
        (45, 2, 1, vec![1, E, 43, 44, 45, 46, 47, E, 50]),
        (46, 2, 1, vec![1, E, 44, 45, 46, 47, 48, 49, 50]),
        (47, 2, 1, vec![1, E, 45, 46, 47, 48, 49, 50]),
        (50, 2, 1, vec![1, E, 48, 49, 50]),
        (1, 1, 3, vec![1, 2, E, 48, 49, 50]),
        (5, 1, 3, vec![1, 2, 3, 4, 5, 6, E, 48, 49, 50]),
        (6, 1, 3, vec![1, 2, 3, 4, 5, 6, 7, E, 48, 49, 50]),
        (7, 1, 3, vec![1, 2, 3, E, 6, 7, 8, E, 48, 49, 50]),
        (44, 1, 3, vec![1, 2, 3, E, 43, 44, 45, E, 48, 49, 50]),
        (45, 1, 3, vec![1, 2, 3, E, 44, 45, 46, 47, 48, 49, 50]),
        (46, 1, 3, vec![1, 2, 3, E, 45, 46, 47, 48, 49, 50]),
        (50, 1, 3, vec![1, 2, 3, E, 49, 50]),
        (1, 4, 0, vec![1, 2, 3, 4, 5, E]),
        (5, 4, 0, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, E]),
        (6, 4, 0, vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, E]),
        (7, 4, 0, vec![E, 3, 4, 5, 6, 7, 8, 9, 10, 11, E]),
        (44, 4, 0, vec![E, 40, 41, 42, 43, 44, 45, 46, 47, 48, E]),
        (45, 4, 0, vec![E, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50]),
        (46, 4, 0, vec![E, 42, 43, 44, 45, 46, 47, 48, 49, 50]),
        (50, 4, 0, vec![E, 46, 47, 48, 49, 50]),
        (1, 0, 1, vec![1, E, 50]),
        (2, 0, 1, vec![1, 2, E, 50]),
        (3, 0, 1, vec![1, 2, 3, E, 50]),
        (4, 0, 1, vec![1, E, 4, E, 50]),
        (47, 0, 1, vec![1, E, 47, E, 50]),
        (48, 0, 1, vec![1, E, 48, 49, 50]),
        (49, 0, 1, vec![1, E, 49, 50]),
        (50, 0, 1, vec![1, E, 50]),
        (1, 0, 0, vec![1, E]),
        (2, 0, 0, vec![1, 2, E]),
        (3, 0, 0, vec![E, 3, E]),
        (48, 0, 0, vec![E, 48, E]),
        (49, 0, 0, vec![E, 49, 50]),
        (50, 0, 0, vec![E, 50]),
    ] {
        assert_eq!(
            p.get_elided_page_range(number, on_each_side, on_ends)
                .expect("valid"),
            items(&expected),
            "page {number}, {on_each_side}, {on_ends}"
        );
    }

    // The number is validated, and huge arguments do not overflow.
    assert_eq!(
        p.get_elided_page_range(51, 3, 2),
        Err(InvalidPage::EmptyPage(EmptyPage::NoResults))
    );
    let page = p.page(20).expect("page");
    assert_eq!(
        page.get_elided_page_range(u64::MAX, u64::MAX),
        n(&(1..=50).collect::<Vec<_>>())
    );
    // The ellipsis displays as Django's.
    assert_eq!(PageItem::Ellipsis.to_string(), ELLIPSIS);
    assert_eq!(ELLIPSIS, "…");
    assert_eq!(PageItem::Number(7).to_string(), "7");
    assert_eq!(PageItem::Number(7).number(), Some(7));
    assert_eq!(PageItem::Ellipsis.number(), None);
}

#[test]
fn per_page_from_the_client_is_capped() {
    let list = upto(1000);
    let p = Paginator::new(list.clone(), 10).per_page_from_query(Some("1000000"));
    assert_eq!(p.per_page(), manouche::paginator::DEFAULT_MAX_PER_PAGE);
    assert_eq!(p.page(1).expect("page").len(), 100);
    let p = Paginator::new(list.clone(), 10)
        .max_per_page(25)
        .per_page_from_query(Some("99999999999999999999999999"));
    assert_eq!(p.per_page(), 25);
    let p = Paginator::new(list.clone(), 10).per_page_from_query(Some("20"));
    assert_eq!(p.per_page(), 20);
    for raw in [None, Some("0"), Some("-5"), Some("abc"), Some("")] {
        let p = Paginator::new(list.clone(), 10).per_page_from_query(raw);
        assert_eq!(p.per_page(), 10, "{raw:?}");
    }
    // The developer's own number is used as it is (0 counts as 1).
    assert_eq!(Paginator::new(list.clone(), 500).per_page(), 500);
    assert_eq!(Paginator::new(list, 0).num_pages(), 1000);
}

#[test]
fn an_invalid_page_is_a_404_with_django_s_message() {
    let p = Paginator::new(upto(3), 2);
    let to_error = |raw: &str| -> manouche::Error {
        let result: manouche::Result<_> = p.page(raw).map_err(Into::into);
        result.expect_err("refused")
    };
    for (raw, message) in [
        ("abc", "That page number is not an integer"),
        ("-1", "That page number is less than 1"),
        (
            "1000000000000000000000000000000",
            "That page contains no results",
        ),
    ] {
        let err = to_error(raw);
        assert_eq!(err.status(), StatusCode::NOT_FOUND, "{raw}");
        assert_eq!(err.message(), message);
    }
}

// ---------------------------------------------------------------------------
// Query sets (Django's ModelPaginationTests), on each database
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Model)]
#[model(app = "pagination")]
pub struct Article {
    pub id: Auto<i64>,
    #[model(max_length = 100)]
    pub headline: String,
    pub pub_date: DateTime,
    pub rank: i32,
}

impl Article {
    fn new(headline: &str, pub_date: DateTime, rank: i32) -> Self {
        Self {
            id: Auto::new(),
            headline: headline.to_owned(),
            pub_date,
            rank,
        }
    }
}

fn date(secs: i64, micros: i32) -> DateTime {
    let nanos = u32::try_from(micros * 1000).expect("within a second");
    DateTime::from_timestamp(1_122_595_200 + secs, nanos).expect("in range")
}

/// The table, with Django's nine articles: "Article 1" to "Article 9".
async fn nine_articles(db: &Database) -> Result<Vec<Article>> {
    schema::create_tables(db, &[Article::schema()]).await?;
    let articles = (1..=9)
        .map(|i| Article::new(&format!("Article {i}"), date(0, 0), i % 3))
        .collect();
    Article::objects().bulk_create(db, articles).await
}

fn headlines(articles: &[Article]) -> Vec<&str> {
    articles.iter().map(|a| a.headline.as_str()).collect()
}

fn ids(articles: &[Article]) -> Vec<i64> {
    articles.iter().filter_map(|a| a.id.get()).collect()
}

#[tokio::test]
async fn first_page_of_a_query_set() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let p = Paginator::new(Article::objects().order_by(Article::id.asc()), 5);
        let page = p.page(&db, 1).await.expect("page 1");
        assert_eq!(page.to_string(), "<Page 1 of 2>");
        assert_eq!(
            headlines(&page.object_list),
            [
                "Article 1",
                "Article 2",
                "Article 3",
                "Article 4",
                "Article 5"
            ]
        );
        assert!(page.has_next() && !page.has_previous() && page.has_other_pages());
        assert_eq!(page.next_page_number(), Ok(2));
        assert!(page.previous_page_number().is_err());
        assert_eq!((page.start_index(), page.end_index()), (1, 5));
        assert_eq!(page[0].headline, "Article 1");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn last_page_of_a_query_set() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let p = Paginator::new(Article::objects().order_by(Article::id.asc()), 5);
        let page = p.page(&db, 2).await.expect("page 2");
        assert_eq!(page.to_string(), "<Page 2 of 2>");
        assert_eq!(
            headlines(&page.object_list),
            ["Article 6", "Article 7", "Article 8", "Article 9"]
        );
        assert!(!page.has_next() && page.has_previous() && page.has_other_pages());
        assert!(page.next_page_number().is_err());
        assert_eq!(page.previous_page_number(), Ok(1));
        assert_eq!((page.start_index(), page.end_index()), (6, 9));
        assert_eq!(p.count(&db).await?, 9);
        assert_eq!(p.num_pages(&db).await?, 2);
        assert_eq!(p.page_range(&db).await?.collect::<Vec<_>>(), [1, 2]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_first_page_is_one_statement_and_the_next_ones_one_select_each() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let p = Paginator::new(Article::objects().order_by(Article::id.asc()), 4);
        let (page, queries) = count_queries(&db, p.page(&db, 2)).await;
        assert_eq!(queries, 1, "the page's SELECT, with the count");
        assert_eq!(
            headlines(&page.expect("page").object_list),
            ["Article 5", "Article 6", "Article 7", "Article 8"]
        );
        // The count is remembered.
        let (page, queries) = count_queries(&db, p.page(&db, 3)).await;
        assert_eq!(queries, 1);
        assert_eq!(headlines(&page.expect("page").object_list), ["Article 9"]);
        // What is not a page number costs no query at all.
        let fresh = Paginator::new(Article::objects(), 4);
        for raw in ["abc", "-1", "0", ""] {
            let (page, queries) = count_queries(&db, fresh.page(&db, raw)).await;
            assert!(matches!(page, Err(PageError::Invalid(_))), "{raw}");
            assert_eq!(queries, 0, "{raw}");
        }
        // An empty page of an empty query set is one statement.
        let none = Paginator::new(Article::objects().filter(Article::rank.eq(99)), 4);
        let (page, queries) = count_queries(&db, none.page(&db, 1)).await;
        assert!(page.expect("page 1 exists").is_empty());
        assert_eq!(queries, 1);
        assert_eq!(none.count(&db).await?, 0, "remembered");
        // Past the last page: the statement finds no row to carry the
        // count, a COUNT follows, and the page is refused as Django does.
        let fresh = Paginator::new(Article::objects(), 4);
        let (page, queries) = count_queries(&db, fresh.page(&db, 4)).await;
        assert!(matches!(page, Err(PageError::Invalid(_))));
        assert_eq!(queries, 2);
        // With orphans the first read takes what the last page may hold:
        // four a page and two orphans make pages of 4 and 5.
        let orphans = Paginator::new(Article::objects().order_by(Article::id.asc()), 4).orphans(2);
        let (page, queries) = count_queries(&db, orphans.page(&db, 2)).await;
        assert_eq!(queries, 1);
        assert_eq!(
            headlines(&page.expect("page 2").object_list),
            [
                "Article 5",
                "Article 6",
                "Article 7",
                "Article 8",
                "Article 9"
            ]
        );
        let orphans = Paginator::new(Article::objects().order_by(Article::id.asc()), 4).orphans(1);
        let first = orphans.page(&db, 1).await.expect("page 1").object_list;
        assert_eq!(first.len(), 4, "a page that is not the last keeps per_page");
        assert_eq!(orphans.num_pages(&db).await?, 2);
        // get_page: the same one statement for a number, or for what is
        // not one (the first page); past the end, the last page once the
        // count is known.
        let lenient = || Paginator::new(Article::objects().order_by(Article::id.asc()), 4);
        let p = lenient();
        let (page, queries) = count_queries(&db, p.get_page(&db, "abc")).await;
        assert_eq!((page.expect("page 1").number, queries), (1, 1));
        let p = lenient();
        let (page, queries) = count_queries(&db, p.get_page(&db, "2")).await;
        assert_eq!(
            headlines(&page.expect("page 2").object_list),
            ["Article 5", "Article 6", "Article 7", "Article 8"]
        );
        assert_eq!(queries, 1);
        let p = lenient();
        let (page, queries) = count_queries(&db, p.get_page(&db, "99")).await;
        let page = page.expect("the last page");
        assert_eq!(
            (page.number, headlines(&page.object_list)),
            (3, vec!["Article 9"])
        );
        assert_eq!(queries, 3, "the statement, a COUNT, the last page");
        let (page, queries) = count_queries(&db, lenient().get_page(&db, "0")).await;
        assert_eq!((page.expect("the last page").number, queries), (3, 2));
        // A query set cut by its own limit is counted first.
        let cut = Paginator::new(Article::objects().order_by(Article::id.asc()).limit(6), 4);
        let (page, queries) = count_queries(&db, cut.page(&db, 2)).await;
        assert_eq!(queries, 2);
        assert_eq!(
            headlines(&page.expect("page 2").object_list),
            ["Article 5", "Article 6"]
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_page_and_its_count_come_in_one_statement() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let by_id = || Article::objects().order_by(Article::id.asc());
        // A page inside the rows: the rows and the count of them all.
        let (found, queries) =
            count_queries(&db, by_id().offset(4).limit(4).all_and_count(&db)).await;
        let (rows, count) = found?;
        assert_eq!(queries, 1, "one statement");
        assert_eq!(
            headlines(&rows),
            ["Article 5", "Article 6", "Article 7", "Article 8"]
        );
        assert_eq!(count, 9);
        // Filtered (ranks 1 and 2: six articles), and made distinct: the
        // count is of the filtered rows.
        let ranked = || by_id().filter(Article::rank.gte(1));
        let (rows, count) = ranked().limit(4).all_and_count(&db).await?;
        assert_eq!(rows.len(), 4);
        assert_eq!(count, 6);
        let (rows, count) = ranked().distinct().offset(4).all_and_count(&db).await?;
        assert_eq!(ids(&rows).len(), 2);
        assert_eq!(count, 6);
        // The same as the two statements it replaces, page by page.
        for offset in [0, 3, 6, 8] {
            let (rows, count) = ranked().offset(offset).limit(3).all_and_count(&db).await?;
            let alone = ranked().offset(offset).limit(3).all(&db).await?;
            assert_eq!(ids(&rows), ids(&alone), "offset {offset}");
            assert_eq!(count, ranked().count(&db).await?, "offset {offset}");
        }
        // Past the last row no row carries the count: a second query.
        let (found, queries) =
            count_queries(&db, by_id().offset(20).limit(4).all_and_count(&db)).await;
        let (rows, count) = found?;
        assert!(rows.is_empty());
        assert_eq!(count, 9);
        assert_eq!(queries, 2);
        let (found, queries) = count_queries(&db, by_id().limit(0).all_and_count(&db)).await;
        let (rows, count) = found?;
        assert!(rows.is_empty());
        assert_eq!(count, 9);
        assert_eq!(queries, 2);
        // Nothing matches from the first row on: no second query.
        let none = by_id().filter(Article::rank.eq(99)).limit(4);
        let (found, queries) = count_queries(&db, none.all_and_count(&db)).await;
        let (rows, count) = found?;
        assert!(rows.is_empty());
        assert_eq!(count, 0);
        assert_eq!(queries, 1);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn query_set_pages_with_orphans_filters_and_a_cut() {
    for_each_database(|db| async move {
        let all = nine_articles(&db).await?;
        // Ranks 1 and 2: six articles. Four a page with two orphans allowed
        // makes one page of six rather than a page of four and one of two.
        let qs = Article::objects()
            .filter(Article::rank.gte(1))
            .order_by(Article::id.asc());
        let p = Paginator::new(qs.clone(), 4).orphans(2);
        assert_eq!(p.num_pages(&db).await?, 1);
        assert_eq!(p.page(&db, 1).await.expect("page").len(), 6);
        // A query set already cut by a limit and an offset is paged within.
        let cut = Article::objects()
            .order_by(Article::id.asc())
            .offset(2)
            .limit(5);
        let p = Paginator::new(cut, 2);
        assert_eq!(p.count(&db).await?, 5);
        let pages = [
            p.page(&db, 1).await.expect("1").object_list,
            p.page(&db, 2).await.expect("2").object_list,
            p.page(&db, 3).await.expect("3").object_list,
        ];
        let seen: Vec<i64> = pages.iter().flat_map(|p| ids(p)).collect();
        assert_eq!(seen, ids(&all[2..7]));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_unordered_query_set_is_paged_in_primary_key_order() {
    for_each_database(|db| async move {
        let all = nine_articles(&db).await?;
        // Every rank is shared by three articles: the ties are broken by
        // the primary key, in the direction of the ordering.
        for (qs, expected) in [
            (Article::objects(), ids(&all)),
            (Article::objects().unordered(), ids(&all)),
            (Article::objects().order_by(Article::rank.asc()), {
                let mut v = all.clone();
                v.sort_by_key(|a| (a.rank, a.id.get()));
                ids(&v)
            }),
            (Article::objects().order_by(Article::rank.desc()), {
                let mut v = all.clone();
                v.sort_by_key(|a| std::cmp::Reverse((a.rank, a.id.get())));
                ids(&v)
            }),
        ] {
            let p = Paginator::new(qs, 2);
            let mut seen = Vec::new();
            for number in p.page_range(&db).await? {
                seen.extend(ids(&p.page(&db, number).await.expect("page").object_list));
            }
            assert_eq!(seen, expected);
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn get_page_on_a_query_set_answers_every_client_value() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let p = Paginator::new(Article::objects(), 4);
        for (raw, number) in [
            (Some("2"), 2),
            (Some("-1"), 3),
            (Some("abc"), 1),
            (Some("1000000000000000000000000000000"), 3),
            (Some(""), 1),
            (Some("1.0"), 1),
            (None, 1),
        ] {
            let page = p.get_page(&db, raw).await.expect("a page");
            assert_eq!(page.number, number, "{raw:?}");
        }
        // `page` refuses the same values; `?` makes them 404s.
        for raw in ["-1", "abc", "1000000000000000000000000000000", "", "1.0"] {
            let err: manouche::Error = p.page(&db, raw).await.expect_err("refused").into();
            assert_eq!(err.status(), StatusCode::NOT_FOUND, "{raw}");
        }
        // Without an empty first page, an empty query set has no page.
        let empty = Paginator::new(Article::objects().filter(Article::rank.eq(99)), 4)
            .allow_empty_first_page(false);
        assert!(matches!(
            empty.get_page(&db, Some("1")).await,
            Err(PageError::Invalid(InvalidPage::EmptyPage(_)))
        ));
        Ok(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// Keyset pagination
// ---------------------------------------------------------------------------

/// Every row, page after page from the first.
async fn walk_forward<M: Model + Clone>(
    db: &Database,
    paginator: &KeysetPaginator<M>,
) -> std::result::Result<Vec<M>, KeysetError> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page = paginator.page(db, cursor.as_deref()).await?;
        rows.extend(page.object_list.iter().cloned());
        match page.next_cursor() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(rows),
        }
    }
    panic!("more than 100 pages");
}

async fn ordered(db: &Database, qs: QuerySet<Article>) -> Result<Vec<i64>> {
    Ok(ids(&qs.all(db).await?))
}

#[tokio::test]
async fn keyset_pages_walk_every_row_once_both_ways() {
    for_each_database(|db| async move {
        schema::create_tables(&db, &[Article::schema()]).await?;
        // Ties on every key but the primary key; microseconds in dates.
        let articles = (0..23_i32)
            .map(|i| {
                Article::new(
                    &format!("Headline \"{}\" ünïcode '{}'", i % 5, i % 2),
                    date(i64::from(i % 4) * 60, (i % 3) * 123_456),
                    i % 4,
                )
            })
            .collect();
        Article::objects().bulk_create(&db, articles).await?;

        for (qs, expected) in [
            (
                Article::objects().order_by(Article::rank.desc()),
                Article::objects().order_by([Article::rank.desc(), Article::id.desc()]),
            ),
            (
                Article::objects().order_by([Article::pub_date.desc(), Article::headline.asc()]),
                Article::objects().order_by([
                    Article::pub_date.desc(),
                    Article::headline.asc(),
                    Article::id.asc(),
                ]),
            ),
            (
                Article::objects()
                    .filter(Article::rank.ne(2))
                    .order_by(Article::headline.asc()),
                Article::objects()
                    .filter(Article::rank.ne(2))
                    .order_by([Article::headline.asc(), Article::id.asc()]),
            ),
        ] {
            let expected = ordered(&db, expected).await?;
            let paginator = KeysetPaginator::new(qs, 5).expect("orderable");
            let rows = walk_forward(&db, &paginator).await.expect("forward");
            assert_eq!(ids(&rows), expected, "{:?}", paginator.ordering());

            // Back from the last page with the previous cursors.
            let mut last = paginator.page(&db, None).await.expect("first");
            while let Some(next) = last.next_cursor().map(str::to_owned) {
                last = paginator.page(&db, Some(&next)).await.expect("next");
            }
            let mut back: Vec<Vec<i64>> = vec![ids(&last.object_list)];
            let mut page = last;
            while let Some(previous) = page.previous_cursor().map(str::to_owned) {
                page = paginator
                    .page(&db, Some(&previous))
                    .await
                    .expect("previous");
                assert!(page.has_next());
                back.push(ids(&page.object_list));
            }
            assert!(!page.has_previous(), "the walk back ends on the first page");
            back.reverse();
            assert_eq!(back.concat(), expected, "{:?}", paginator.ordering());
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn keyset_pages_are_stable_under_inserts_and_cost_one_query() {
    for_each_database(|db| async move {
        schema::create_tables(&db, &[Article::schema()]).await?;
        let articles = (0..12_i32)
            .map(|i| Article::new(&format!("A{i}"), date(i64::from(i), 0), 0))
            .collect();
        Article::objects().bulk_create(&db, articles).await?;
        let newest_first = || Article::objects().order_by(Article::pub_date.desc());

        let keyset = KeysetPaginator::new(newest_first(), 5).expect("orderable");
        let (first, queries) = count_queries(&db, keyset.page(&db, None)).await;
        let first = first.expect("first page");
        assert_eq!(queries, 1);
        assert!(first.has_next() && !first.has_previous());
        assert_eq!(first.previous_cursor(), None);
        let numbered = Paginator::new(newest_first(), 5);
        let numbered_first = numbered.page(&db, 1).await.expect("page 1");
        assert_eq!(ids(&numbered_first.object_list), ids(&first.object_list));

        // A new article arrives at the top while the reader is on page 1.
        Article::new("Breaking", date(1000, 0), 0).save(&db).await?;

        let next = first.next_cursor().expect("a next page");
        let (second, queries) = count_queries(&db, keyset.page(&db, Some(next))).await;
        let second = second.expect("second page");
        assert_eq!(queries, 1);
        assert_eq!(
            headlines(&second.object_list),
            ["A6", "A5", "A4", "A3", "A2"],
            "the keyset page starts right after the last row shown"
        );
        // The numbered page 2 shifted: it shows page 1's last row again.
        let numbered_second = Paginator::new(newest_first(), 5)
            .page(&db, 2)
            .await
            .expect("page 2");
        assert_eq!(numbered_second.object_list[0].headline, "A7");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn keyset_per_page_from_the_client_is_capped() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let paginator = KeysetPaginator::new(Article::objects(), 2)
            .expect("orderable")
            .max_per_page(4)
            .per_page_from_query(Some("1000000"));
        assert_eq!(paginator.per_page(), 4);
        let page = paginator.page(&db, None).await.expect("page");
        assert_eq!(page.len(), 4);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn a_bad_cursor_is_a_400_never_a_500() {
    for_each_database(|db| async move {
        nine_articles(&db).await?;
        let paginator = KeysetPaginator::new(Article::objects().order_by(Article::rank.desc()), 2)
            .expect("orderable");
        let first = paginator.page(&db, None).await.expect("first page");
        let good = first.next_cursor().expect("a next page").to_owned();
        let parts: Vec<String> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&good).expect("base64")).expect("json");
        assert_eq!(parts.len(), 4, "direction, ordering, rank, id: {parts:?}");
        let (p1, p2, p3) = (parts[1].as_str(), parts[2].as_str(), parts[3].as_str());
        let forge =
            |parts: &[&str]| URL_SAFE_NO_PAD.encode(serde_json::to_vec(parts).expect("json"));
        let other_ordering = KeysetPaginator::new(Article::objects(), 2)
            .expect("orderable")
            .page(&db, None)
            .await
            .expect("page")
            .next_cursor()
            .expect("next")
            .to_owned();
        let bad = [
            "not a cursor!".to_owned(),
            "%%%".to_owned(),
            URL_SAFE_NO_PAD.encode("just text"),
            URL_SAFE_NO_PAD.encode("{\"a\": 1}"),
            URL_SAFE_NO_PAD.encode("[1, 2, 3, 4]"),
            forge(&["x", p1, p2, p3]),
            forge(&["n", "tampered", p2, p3]),
            forge(&["n", p1, "abc", p3]),
            forge(&["n", p1, p2, "1e999"]),
            forge(&["n", p1, p2, "99999999999999999999999"]),
            forge(&["n", p1, p2]),
            forge(&["n", p1, p2, p3, "extra"]),
            other_ordering,
            "A".repeat(10_000),
            good[..good.len() - 3].to_owned(),
        ];
        for cursor in &bad {
            let err = paginator
                .page(&db, Some(cursor))
                .await
                .expect_err("refused");
            assert!(
                matches!(err, KeysetError::InvalidCursor(_)),
                "{cursor}: {err}"
            );
            assert!(err.to_string().starts_with("Invalid cursor: "), "{err}");
            let err = manouche::Error::from(err);
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{cursor}");
        }
        // A made-up but well-formed position only moves within the list.
        let far = forge(&["n", p1, "-5", "1"]);
        assert!(
            paginator
                .page(&db, Some(&far))
                .await
                .expect("a page")
                .is_empty()
        );
        // The real cursor still works, and an empty one is the first page.
        assert_eq!(
            paginator.page(&db, Some(&good)).await.expect("page").len(),
            2
        );
        let again = paginator.page(&db, Some("")).await.expect("page");
        assert_eq!(ids(&again.object_list), ids(&first.object_list));
        Ok(())
    })
    .await;
}
