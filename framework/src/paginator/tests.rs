//! Page numbers as clients write them, and the SQL a page runs.

use super::keyset::KeysetPaginator;
use super::{EmptyPage, InvalidPage, PageNumber, page_query, parse_page_number};
use crate::db::sql::cache::render;
use crate::db::sql::compiler::{Kind, Query};
use crate::db::{Auto, Backend, DateTime, Model, QuerySet};

#[derive(Debug, Clone, Model)]
#[model(app = "pagetest")]
pub(crate) struct Plain {
    pub(crate) id: Auto<i64>,
    pub(crate) rank: i32,
}

#[derive(Debug, Clone, Model)]
#[model(app = "pagetest", ordering = "-created")]
pub(crate) struct Post {
    pub(crate) id: Auto<i64>,
    pub(crate) created: DateTime,
    #[model(max_length = 50, unique)]
    pub(crate) slug: String,
    pub(crate) score: Option<i32>,
}

fn sql<M: Model>(qs: &QuerySet<M>) -> String {
    render(&Query::of(qs), Kind::Select, Backend::Sqlite)
        .sql
        .to_string()
}

#[test]
fn text_is_read_as_python_reads_an_int() {
    let not_int = Err(InvalidPage::PageNotAnInteger);
    let below = Err(InvalidPage::EmptyPage(EmptyPage::LessThanOne));
    let past = Err(InvalidPage::EmptyPage(EmptyPage::NoResults));
    for (text, expected) in [
        ("1", Ok(1)),
        ("  7\n", Ok(7)),
        ("+3", Ok(3)),
        ("007", Ok(7)),
        ("1_000", Ok(1000)),
        ("0", Ok(0)),
        ("-0", Ok(0)),
        ("18446744073709551615", Ok(u64::MAX)),
        ("-1", below),
        ("-99999999999999999999999999", below),
        ("1000000000000000000000000000000", past),
        ("18446744073709551616", past),
        ("", not_int),
        ("   ", not_int),
        ("abc", not_int),
        ("1.0", not_int),
        ("1.5", not_int),
        ("1e3", not_int),
        ("0x10", not_int),
        ("_1", not_int),
        ("1_", not_int),
        ("1__0", not_int),
        ("--1", not_int),
        ("+", not_int),
        ("١", not_int),
        ("1 2", not_int),
    ] {
        assert_eq!(parse_page_number(text), expected, "{text:?}");
        assert_eq!(text.to_page_number(), expected, "{text:?}");
    }
}

#[test]
fn numbers_options_and_floats() {
    assert_eq!(3_i32.to_page_number(), Ok(3));
    assert_eq!(
        (-3_i64).to_page_number(),
        Err(EmptyPage::LessThanOne.into())
    );
    assert_eq!(
        None::<&str>.to_page_number(),
        Err(InvalidPage::PageNotAnInteger)
    );
    assert_eq!(Some("2").to_page_number(), Ok(2));
    assert_eq!(Some(String::from("2")).to_page_number(), Ok(2));
    // Django accepts the float 1.0 but not 1.2.
    assert_eq!(1.0_f64.to_page_number(), Ok(1));
    assert_eq!(1.2_f64.to_page_number(), Err(InvalidPage::PageNotAnInteger));
    assert_eq!(
        f64::NAN.to_page_number(),
        Err(InvalidPage::PageNotAnInteger)
    );
    assert_eq!(1e30_f64.to_page_number(), Err(EmptyPage::NoResults.into()));
    assert_eq!(
        (-2.0_f64).to_page_number(),
        Err(EmptyPage::LessThanOne.into())
    );
}

#[test]
fn an_unordered_query_set_is_paged_by_primary_key() {
    let page = page_query(&Plain::objects(), 20, 30);
    assert_eq!(
        sql(&page),
        r#"SELECT "t0"."id", "t0"."rank" FROM "pagetest_plain" AS "t0" ORDER BY "t0"."id" ASC LIMIT ? OFFSET ?"#
    );
    let page = page_query(&Plain::objects().unordered(), 0, 10);
    assert!(
        sql(&page).ends_with(r#"ORDER BY "t0"."id" ASC LIMIT ?"#),
        "{}",
        sql(&page)
    );
}

#[test]
fn a_non_unique_ordering_gets_the_primary_key_as_tie_breaker() {
    // The model's `-created`: two posts can share a date.
    let page = page_query(&Post::objects(), 0, 10);
    assert!(
        sql(&page).ends_with(r#"ORDER BY "t0"."created" DESC, "t0"."id" DESC LIMIT ?"#),
        "{}",
        sql(&page)
    );
    let page = page_query(&Plain::objects().order_by(Plain::rank.asc()), 10, 20);
    assert!(
        sql(&page).ends_with(r#"ORDER BY "t0"."rank" ASC, "t0"."id" ASC LIMIT ? OFFSET ?"#),
        "{}",
        sql(&page)
    );
    // A unique column already decides: nothing added.
    let page = page_query(&Post::objects().order_by(Post::slug.asc()), 0, 10);
    assert!(
        sql(&page).ends_with(r#"ORDER BY "t0"."slug" ASC LIMIT ?"#),
        "{}",
        sql(&page)
    );
}

#[test]
fn a_page_of_a_cut_query_set_stays_inside_the_cut() {
    let qs = Plain::objects()
        .order_by(Plain::id.asc())
        .offset(100)
        .limit(50);
    let page = page_query(&qs, 20, 30);
    assert_eq!((page.offset, page.limit), (Some(120), Some(10)));
}

#[test]
fn keyset_ordering_is_made_total_and_checked() {
    let paginator = KeysetPaginator::new(Post::objects(), 10).expect("orderable");
    assert_eq!(paginator.ordering(), ["-created", "-id"]);
    let paginator =
        KeysetPaginator::new(Post::objects().order_by(Post::slug.asc()), 10).expect("orderable");
    assert_eq!(paginator.ordering(), ["slug"]);
    let paginator = KeysetPaginator::new(Plain::objects(), 10).expect("orderable");
    assert_eq!(paginator.ordering(), ["id"]);

    let err = KeysetPaginator::new(Post::objects().order_by(Post::score.asc()), 10)
        .expect_err("nullable");
    assert!(err.to_string().contains("nullable"), "{err}");
    let err = KeysetPaginator::new(Post::objects().limit(5), 10).expect_err("limited");
    assert!(err.to_string().contains("limit"), "{err}");
    assert_eq!(
        crate::Error::from(err).status(),
        http::StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[test]
fn keyset_seek_compares_the_keys_in_order() {
    let paginator = KeysetPaginator::new(Post::objects(), 10).expect("orderable");
    let values = ["2026-01-02T03:04:05.000006Z".to_owned(), "42".to_owned()];
    let forward = Post::objects()
        .unordered()
        .filter(paginator.seek(&values, true).expect("valid"));
    assert!(
        sql(&forward)
            .ends_with(r#"WHERE "t0"."created" < ? OR ("t0"."created" = ? AND "t0"."id" < ?)"#),
        "{}",
        sql(&forward)
    );
    let back = Post::objects()
        .unordered()
        .filter(paginator.seek(&values, false).expect("valid"));
    assert!(
        sql(&back)
            .ends_with(r#"WHERE "t0"."created" > ? OR ("t0"."created" = ? AND "t0"."id" > ?)"#),
        "{}",
        sql(&back)
    );
}
