//! The SQL the compiler writes for representative query sets, on both
//! backends.

use sea_query::Value;

use super::{Kind, Query, Set};
use crate::db::executor::Backend;
use crate::db::query::expr::{Arith, ExprNode};
use crate::db::query::values::Selection as _;
use crate::db::query::{Aggregate, Q, QuerySet};
use crate::db::sql::cache::render;
use crate::db::{Auto, ForeignKey, ManyToMany, Model, Reverse};

#[derive(Debug, Clone, Model)]
#[model(app = "compilertest")]
pub(crate) struct Writer {
    pub(crate) id: Auto<i64>,
    pub(crate) name: String,
}

#[derive(Debug, Clone, Model)]
#[model(app = "compilertest")]
pub(crate) struct Note {
    pub(crate) id: Auto<i64>,
    pub(crate) title: String,
    pub(crate) stars: i32,
    pub(crate) rating: Option<f64>,
    pub(crate) writer: ForeignKey<Writer>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "compilertest")]
pub(crate) struct Tag {
    pub(crate) id: Auto<i64>,
    pub(crate) name: String,
    #[model(related_field = "tags")]
    pub(crate) posts: Reverse<Post>,
}

#[derive(Debug, Clone, Model)]
#[model(app = "compilertest", ordering = "-id")]
pub(crate) struct Post {
    pub(crate) id: Auto<i64>,
    pub(crate) title: String,
    pub(crate) tags: ManyToMany<Tag>,
}

const NOTE: &str = r#"SELECT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id" FROM "compilertest_note" AS "t0""#;
const WRITER_JOIN: &str =
    r#"LEFT JOIN "compilertest_writer" AS "t1" ON "t1"."id" = "t0"."writer_id""#;

fn check<M: Model>(
    qs: &QuerySet<M>,
    kind: Kind<'_>,
    backend: Backend,
    sql: &str,
    values: &[Value],
) {
    let stmt = render(&Query::of(qs), kind, backend);
    assert_eq!(&*stmt.sql, sql);
    assert_eq!(stmt.values.0, values, "{sql}");
}

#[test]
fn a_primary_key_lookup() {
    let qs = Note::objects().filter(Note::id.eq(7));
    let seven = [Value::BigInt(Some(7))];
    let sqlite = format!(r#"{NOTE} WHERE "t0"."id" = ?"#);
    check(&qs, Kind::Select, Backend::Sqlite, &sqlite, &seven);
    let postgres = format!(r#"{NOTE} WHERE "t0"."id" = $1"#);
    check(&qs, Kind::Select, Backend::Postgres, &postgres, &seven);
}

#[test]
fn conditions_joins_ordering_and_limits() {
    let qs = Note::objects()
        .filter((Note::stars.eq(1) | Note::title.icontains("a_b")) & !Note::rating.isnull(true))
        .exclude(Note::stars.in_([4, 5]))
        .order_by([Note::stars.desc(), Note::writer.then(Writer::name).asc()])
        .limit(5)
        .offset(10);
    let filters = r#"WHERE ("t0"."stars" = ? OR "t0"."title" LIKE ? ESCAPE '!') AND ("t0"."rating" IS NULL) IS NOT TRUE AND ("t0"."stars" IN (?, ?)) IS NOT TRUE"#;
    let order = r#"ORDER BY "t0"."stars" DESC, "t1"."name" ASC"#;
    let values = |limit: i64| {
        vec![
            Value::Int(Some(1)),
            Value::from("%a!_b%"),
            Value::Int(Some(4)),
            Value::Int(Some(5)),
            Value::from(limit),
            Value::from(10_i64),
        ]
    };
    let numbered = filters
        .replace(
            r#""t0"."title" LIKE ?"#,
            r#"LOWER("t0"."title") LIKE LOWER(?)"#,
        )
        .replacen('?', "$1", 1)
        .replacen('?', "$2", 1)
        .replacen('?', "$3", 1)
        .replacen('?', "$4", 1);
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        &format!("{NOTE} {WRITER_JOIN} {numbered} {order} LIMIT $5 OFFSET $6"),
        &values(5),
    );
    check(
        &qs,
        Kind::Count,
        Backend::Sqlite,
        &format!(
            r#"SELECT COUNT(*) FROM (SELECT "t0"."id" FROM "compilertest_note" AS "t0" {WRITER_JOIN} {filters} {order} LIMIT ? OFFSET ?) AS "sub""#
        ),
        &values(5),
    );
    // The join of the ordering stays: it can repeat rows, which the
    // offset counts.
    check(
        &qs,
        Kind::Exists,
        Backend::Sqlite,
        &format!(
            r#"SELECT "t0"."id" FROM "compilertest_note" AS "t0" {WRITER_JOIN} {filters} LIMIT ? OFFSET ?"#
        ),
        &values(1),
    );
}

#[test]
fn an_offset_without_a_limit() {
    let qs = Note::objects().offset(3);
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        &format!("{NOTE} LIMIT ? OFFSET ?"),
        &[Value::from(i64::MAX), Value::from(3_i64)],
    );
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        &format!("{NOTE} OFFSET $1"),
        &[Value::from(3_i64)],
    );
}

#[test]
fn select_related_and_for_update() {
    let qs = Note::objects()
        .select_related(Note::writer)
        .filter(Note::title.startswith("x"))
        .select_for_update();
    let head = r#"SELECT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id", "t1"."id", "t1"."name" FROM "compilertest_note" AS "t0""#;
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        &format!(
            r#"{head} {WRITER_JOIN} WHERE "t0"."title" LIKE $1 ESCAPE '!' FOR UPDATE OF "t0""#
        ),
        &[Value::from("x%")],
    );
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        &format!(r#"{head} {WRITER_JOIN} WHERE "t0"."title" GLOB ?"#),
        &[Value::from("x*")],
    );
}

#[test]
fn many_to_many_both_ways() {
    let qs = Post::objects()
        .filter(Post::tags.then(Tag::name).eq("x"))
        .distinct();
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT DISTINCT "t0"."id", "t0"."title" FROM "compilertest_post" AS "t0" LEFT JOIN "compilertest_post_tags" AS "t1_j" ON "t1_j"."post_id" = "t0"."id" LEFT JOIN "compilertest_tag" AS "t1" ON "t1"."id" = "t1_j"."tag_id" WHERE "t1"."name" = ? ORDER BY "t0"."id" DESC"#,
        &[Value::from("x")],
    );
    let qs = Tag::objects().filter(Tag::posts.then(Post::title).iexact("y"));
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        r#"SELECT "t0"."id", "t0"."name" FROM "compilertest_tag" AS "t0" LEFT JOIN "compilertest_post_tags" AS "t1_j" ON "t1_j"."tag_id" = "t0"."id" LEFT JOIN "compilertest_post" AS "t1" ON "t1"."id" = "t1_j"."post_id" WHERE LOWER("t1"."title") = LOWER($1)"#,
        &[Value::from("y")],
    );
}

#[test]
fn update_values_and_annotate() {
    let qs = Note::objects().filter(Note::stars.gt(2));
    let sets = [
        Set {
            column: "stars",
            value: ExprNode::Arith(
                Box::new(ExprNode::Column {
                    path: Vec::new(),
                    column: "stars",
                }),
                Arith::Add,
                Box::new(ExprNode::Value(1.into())),
            ),
        },
        Set {
            column: "title",
            value: ExprNode::Value("t".into()),
        },
    ];
    check(
        &qs,
        Kind::Update(&sets),
        Backend::Postgres,
        r#"UPDATE "compilertest_note" SET "stars" = ("stars" + $1), "title" = $2 WHERE "id" IN (SELECT "t0"."id" FROM "compilertest_note" AS "t0" WHERE "t0"."stars" > $3)"#,
        &[Value::Int(Some(1)), Value::from("t"), Value::Int(Some(2))],
    );
    let items = (
        Note::writer.then(Writer::name),
        Aggregate::<Note, i64>::count(),
        Note::stars.sum(),
        Note::rating.avg(),
    )
        .items();
    check(
        &qs,
        Kind::Values(&items),
        Backend::Postgres,
        &format!(
            r#"SELECT "t1"."name", COUNT(*), CAST(SUM("t0"."stars") AS INTEGER), CAST(AVG("t0"."rating") AS DOUBLE PRECISION) FROM "compilertest_note" AS "t0" {WRITER_JOIN} WHERE "t0"."stars" > $1 GROUP BY "t1"."name""#
        ),
        &[Value::Int(Some(2))],
    );
    let items = Note::id.count().items();
    check(
        &Note::objects().filter(Note::stars.range(1, 3)),
        Kind::Annotated(&items),
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id", COUNT("t0"."id") FROM "compilertest_note" AS "t0" WHERE "t0"."stars" BETWEEN ? AND ? GROUP BY "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id""#,
        &[Value::Int(Some(1)), Value::Int(Some(3))],
    );
}

#[test]
fn each_filter_call_joins_a_multi_valued_relation_on_its_own() {
    // Two calls: a post tagged "a" and (through another join) "b".
    let qs = Post::objects()
        .filter(Post::tags.then(Tag::name).eq("a"))
        .filter(Post::tags.then(Tag::name).eq("b"))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."title" FROM "compilertest_post" AS "t0" LEFT JOIN "compilertest_post_tags" AS "t1_j" ON "t1_j"."post_id" = "t0"."id" LEFT JOIN "compilertest_tag" AS "t1" ON "t1"."id" = "t1_j"."tag_id" LEFT JOIN "compilertest_post_tags" AS "t2_j" ON "t2_j"."post_id" = "t0"."id" LEFT JOIN "compilertest_tag" AS "t2" ON "t2"."id" = "t2_j"."tag_id" WHERE "t1"."name" = ? AND "t2"."name" = ?"#,
        &[Value::from("a"), Value::from("b")],
    );
    // One call: both conditions on the same tag.
    let qs = Post::objects()
        .filter(Post::tags.then(Tag::name).eq("a") & Post::tags.then(Tag::id).gt(1_i64))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."title" FROM "compilertest_post" AS "t0" LEFT JOIN "compilertest_post_tags" AS "t1_j" ON "t1_j"."post_id" = "t0"."id" LEFT JOIN "compilertest_tag" AS "t1" ON "t1"."id" = "t1_j"."tag_id" WHERE "t1"."name" = ? AND "t1"."id" > ?"#,
        &[Value::from("a"), Value::BigInt(Some(1))],
    );
    // A foreign key is single-valued: every call shares its join.
    let qs = Note::objects()
        .filter(Note::writer.then(Writer::name).eq("a"))
        .filter(Note::writer.then(Writer::id).gt(1_i64));
    check(
        &qs,
        Kind::Count,
        Backend::Sqlite,
        &format!(
            r#"SELECT COUNT(*) FROM "compilertest_note" AS "t0" {WRITER_JOIN} WHERE "t1"."name" = ? AND "t1"."id" > ?"#
        ),
        &[Value::from("a"), Value::BigInt(Some(1))],
    );
}

#[test]
fn exclude_across_a_multi_valued_relation_is_a_subquery() {
    let qs = Post::objects()
        .exclude(Post::tags.then(Tag::name).eq("a"))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        r#"SELECT "t0"."id", "t0"."title" FROM "compilertest_post" AS "t0" WHERE (EXISTS (SELECT 1 FROM "compilertest_post_tags" AS "u1_j" INNER JOIN "compilertest_tag" AS "u1" ON "u1"."id" = "u1_j"."tag_id" WHERE "u1_j"."post_id" = "t0"."id" AND "u1"."name" = $1)) IS NOT TRUE"#,
        &[Value::from("a")],
    );
    // The reverse side of the many-to-many, and a lookup that matches NULL
    // (a tag without posts): anchored on the row itself.
    let qs = Tag::objects().exclude(Tag::posts.then(Post::id).isnull(true));
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."name" FROM "compilertest_tag" AS "t0" WHERE (EXISTS (SELECT 1 FROM "compilertest_tag" AS "u0" LEFT JOIN "compilertest_post_tags" AS "u1_j" ON "u1_j"."tag_id" = "u0"."id" LEFT JOIN "compilertest_post" AS "u1" ON "u1"."id" = "u1_j"."post_id" WHERE "u0"."id" = "t0"."id" AND "u1"."id" IS NULL)) IS NOT TRUE"#,
        &[],
    );
}

#[test]
fn a_primary_key_lookup_gains_no_join_or_subquery() {
    let qs = Post::objects().filter(Post::id.eq(7_i64));
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."title" FROM "compilertest_post" AS "t0" WHERE "t0"."id" = ? ORDER BY "t0"."id" DESC"#,
        &[Value::BigInt(Some(7))],
    );
}

#[test]
fn aggregates_over_a_slice_or_distinct_rows_read_a_subquery() {
    let items = Note::stars.sum().items();
    let qs = Note::objects().order_by(Note::rating.desc()).limit(3);
    check(
        &qs,
        Kind::Values(&items),
        Backend::Sqlite,
        r#"SELECT CAST(SUM("t0"."stars") AS INTEGER) FROM (SELECT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id" FROM "compilertest_note" AS "t0" ORDER BY "t0"."rating" DESC LIMIT ?) AS "t0""#,
        &[Value::BigInt(Some(3))],
    );
    let qs = Note::objects()
        .filter(Note::writer.then(Writer::name).eq("a"))
        .distinct();
    check(
        &qs,
        Kind::Values(&items),
        Backend::Postgres,
        &format!(
            r#"SELECT CAST(SUM("t0"."stars") AS INTEGER) FROM (SELECT DISTINCT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id" FROM "compilertest_note" AS "t0" {WRITER_JOIN} WHERE "t1"."name" = $1) AS "t0""#
        ),
        &[Value::from("a")],
    );
}

#[test]
fn f_expressions_compare_columns_and_compute() {
    use crate::db::query::F;
    let qs = Note::objects()
        .filter(F(Note::id).gt(F(Note::writer.then(Writer::id)) * 2))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        &format!(r#"{NOTE} {WRITER_JOIN} WHERE "t0"."id" > ("t1"."id" * $1)"#),
        &[Value::BigInt(Some(2))],
    );
}

#[test]
fn a_condition_on_an_aggregate_is_a_having_clause() {
    let qs = Post::objects()
        .filter(Post::title.startswith("a"))
        .filter(Post::tags.then(Tag::id).count().gt(1))
        .unordered();
    let from = r#"FROM "compilertest_post" AS "t0" LEFT JOIN "compilertest_post_tags" AS "t1_j" ON "t1_j"."post_id" = "t0"."id" LEFT JOIN "compilertest_tag" AS "t1" ON "t1"."id" = "t1_j"."tag_id" WHERE "t0"."title" GLOB ?"#;
    let values = [Value::from("a*"), Value::BigInt(Some(1))];
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        &format!(
            r#"SELECT "t0"."id", "t0"."title" {from} GROUP BY "t0"."id", "t0"."title" HAVING COUNT("t1"."id") > ?"#
        ),
        &values,
    );
    // Counting the groups that pass reads them as a subquery.
    check(
        &qs,
        Kind::Count,
        Backend::Sqlite,
        &format!(
            r#"SELECT COUNT(*) FROM (SELECT "t0"."id" {from} GROUP BY "t0"."id" HAVING COUNT("t1"."id") > ?) AS "sub""#
        ),
        &values,
    );
}

#[test]
fn date_parts_on_both_backends() {
    #[derive(Debug, Clone, Model)]
    #[model(app = "compilertest")]
    pub(crate) struct Stamp {
        pub(crate) id: Auto<i64>,
        pub(crate) at: crate::db::DateTime,
    }
    let qs = Stamp::objects()
        .filter(Stamp::at.year().gte(2020))
        .unordered();
    let two_thousand_twenty = [Value::Int(Some(2020))];
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        r#"SELECT "t0"."id", "t0"."at" FROM "compilertest_stamp" AS "t0" WHERE CAST(EXTRACT(YEAR FROM "t0"."at" AT TIME ZONE 'UTC') AS INTEGER) >= $1"#,
        &two_thousand_twenty,
    );
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."at" FROM "compilertest_stamp" AS "t0" WHERE CAST(strftime('%Y', "t0"."at") AS INTEGER) >= ?"#,
        &two_thousand_twenty,
    );
    let paris = crate::db::TimeZone::named("Europe/Paris").expect("a zone");
    let qs = Stamp::objects()
        .filter(Stamp::at.in_zone(paris).week_day().eq(1))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Postgres,
        r#"SELECT "t0"."id", "t0"."at" FROM "compilertest_stamp" AS "t0" WHERE CAST(EXTRACT(DOW FROM "t0"."at" AT TIME ZONE 'Europe/Paris') AS INTEGER) + 1 = $1"#,
        &[Value::Int(Some(1))],
    );
    let sqlite = render(&Query::of(&qs), Kind::Select, Backend::Sqlite);
    assert!(
        sqlite
            .sql
            .contains(r#"CAST(strftime('%w', (SELECT datetime("v" + (CASE WHEN "v" < "#)
            && sqlite
                .sql
                .ends_with(r#"FROM (SELECT unixepoch("t0"."at") AS "v"))) AS INTEGER) + 1 = ?"#),
        "{}",
        sqlite.sql
    );
}

#[test]
fn subqueries_name_their_tables_at_their_own_level() {
    use crate::db::query::{F, OuterRef, exists};
    let qs = Writer::objects()
        .filter(exists(Note::objects().filter(
            F(Note::writer).eq(OuterRef(Writer::id)) & Note::stars.gt(4),
        )))
        .filter(Writer::id.in_query(Note::objects().values(Note::writer)))
        .unordered();
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        r#"SELECT "t0"."id", "t0"."name" FROM "compilertest_writer" AS "t0" WHERE EXISTS (SELECT "q1t0"."id" FROM "compilertest_note" AS "q1t0" WHERE "q1t0"."writer_id" = "t0"."id" AND "q1t0"."stars" > ? LIMIT ?) AND "t0"."id" IN (SELECT "q1t0"."writer_id" FROM "compilertest_note" AS "q1t0")"#,
        &[Value::Int(Some(4)), Value::from(1_i64)],
    );
}

#[test]
fn nulls_first_or_last_and_reverse() {
    let qs = Note::objects()
        .order_by([Note::rating.desc().nulls_last(), Note::id.asc()])
        .reverse();
    check(
        &qs,
        Kind::Select,
        Backend::Sqlite,
        &format!(r#"{NOTE} ORDER BY "t0"."rating" ASC NULLS FIRST, "t0"."id" DESC"#),
        &[],
    );
}

#[test]
fn user_wildcards_match_literally_in_like_and_glob_patterns() {
    assert_eq!(super::like_pattern("50%_off!", true, true), "%50!%!_off!!%");
    assert_eq!(super::like_pattern("a", false, true), "a%");
    assert_eq!(
        super::glob_pattern("a*b?c[d]", true, false),
        "*a[*]b[?]c[[]d]"
    );
    assert_eq!(super::glob_pattern("É", false, false), "É");
}

#[test]
fn sqlite_matches_case_insensitively_with_like_and_sensitively_with_glob() {
    let check_one = |q: Q<Note>, sql: &str, value: &str| {
        let qs = Note::objects().filter(q).unordered();
        check(
            &qs,
            Kind::Exists,
            Backend::Sqlite,
            &format!(r#"SELECT "t0"."id" FROM "compilertest_note" AS "t0" WHERE {sql} LIMIT ?"#),
            &[Value::from(value), Value::BigInt(Some(1))],
        );
    };
    check_one(
        Note::title.iexact("A_b"),
        r#""t0"."title" LIKE ? ESCAPE '!'"#,
        "A!_b",
    );
    check_one(
        Note::title.istartswith("a"),
        r#""t0"."title" LIKE ? ESCAPE '!'"#,
        "a%",
    );
    check_one(Note::title.endswith("a"), r#""t0"."title" GLOB ?"#, "*a");
    check_one(Note::title.contains("a"), r#""t0"."title" GLOB ?"#, "*a*");
}

#[test]
fn a_page_with_its_count() {
    // Filtered, ordered, cut, a related row joined: the count is of the
    // filter alone (no join, order or cut), one level down with its own
    // aliases, and its value is written, and bound, first.
    let qs = Note::objects()
        .filter(Note::stars.gte(3))
        .select_related(Note::writer)
        .order_by(Note::title.asc())
        .offset(20)
        .limit(10);
    let page = |p: &str| {
        format!(
            r#"SELECT "t0"."id", "t0"."title", "t0"."stars", "t0"."rating", "t0"."writer_id", "t1"."id", "t1"."name", (SELECT COUNT(*) FROM "compilertest_note" AS "q1t0" WHERE "q1t0"."stars" >= {}) FROM "compilertest_note" AS "t0" {WRITER_JOIN} WHERE "t0"."stars" >= {} ORDER BY "t0"."title" ASC LIMIT {} OFFSET {}"#,
            p.replace('N', "1"),
            p.replace('N', "2"),
            p.replace('N', "3"),
            p.replace('N', "4"),
        )
    };
    let values = [
        Value::Int(Some(3)),
        Value::Int(Some(3)),
        Value::BigInt(Some(10)),
        Value::BigInt(Some(20)),
    ];
    check(&qs, Kind::Counted, Backend::Sqlite, &page("?"), &values);
    check(&qs, Kind::Counted, Backend::Postgres, &page("$N"), &values);
}
