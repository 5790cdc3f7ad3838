//! Rendered SQL, kept per statement key.
//!
//! Writing a statement's SQL costs more than the rest of a primary-key
//! lookup on the Rust side, yet its text depends only on the query set's
//! shape, not on the values, which are always bound. So [`statement`] walks
//! the query set once with a [`KeyPass`], which yields the statement's key
//! and its bound values, and looks the key up; only a key not seen before
//! runs the same walk again with a [`SqlPass`] to write the SQL, which is
//! then kept. See [`super::pass`] for why equal keys mean equal SQL.
//!
//! Keys are finite in a program except for `IN` lists, whose lengths follow
//! the data: statements with lists longer than
//! [`MAX_IN_VALUES`](super::pass::MAX_IN_VALUES) are written every time.
//! The cache stops growing at [`MAX_ENTRIES`] statements or [`MAX_BYTES`]
//! of keys and text, whichever comes first, so that shapes a client can
//! multiply (filters chosen in a query string) cannot grow it without
//! bound.
//!
//! A statement's text is kept only once its query has succeeded
//! ([`Pending::succeeded`]): a shape the database refuses, or a burst of
//! shapes that all fail, takes no place from the ones that work. In debug
//! builds, one cache hit in [`RECHECK_EVERY`] is written again and compared
//! with the kept text, so that two shapes sharing a key would show in the
//! test suites rather than as a wrong query in production.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use rustc_hash::FxBuildHasher;
use sea_query::Values;

use super::compiler::{Kind, Query, compile};
use super::pass::{KeyPass, SqlPass};
use crate::db::executor::{Backend, Statement};

/// The most statements kept.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// The most bytes of keys and SQL text kept (each entry counted with
/// [`ENTRY_OVERHEAD`]).
pub(crate) const MAX_BYTES: usize = 8 << 20;

// The entry bound is the one a realistic program meets first: 4,096
// statements of 2 KB each still fit in the byte bound.
const _: () = assert!(MAX_BYTES >= MAX_ENTRIES * 2_000);

/// What an entry costs beyond its key and text: the map's slot, the two
/// allocations' headers and the `Arc`'s counts, roughly.
const ENTRY_OVERHEAD: usize = 96;

/// In debug builds, one hit in this many is written again and compared.
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) const RECHECK_EVERY: u32 = 8;

/// SQL by statement key, with its size. Keys come from the program, not
/// from clients: a fast non-cryptographic hash is enough.
#[derive(Debug)]
struct Shapes {
    map: HashMap<Box<[u64]>, Arc<str>, FxBuildHasher>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

impl Shapes {
    fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            map: HashMap::with_hasher(FxBuildHasher),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    fn get(&self, key: &[u64]) -> Option<Arc<str>> {
        self.map.get(key).cloned()
    }

    /// Keeps `sql` under `key` unless a bound would be passed.
    fn insert(&mut self, key: Box<[u64]>, sql: Arc<str>) {
        let cost = key.len() * size_of::<u64>() + sql.len() + ENTRY_OVERHEAD;
        if self.map.len() >= self.max_entries || self.bytes + cost > self.max_bytes {
            return;
        }
        if let Entry::Vacant(slot) = self.map.entry(key) {
            self.bytes += cost;
            slot.insert(sql);
        }
    }
}

static CACHE: LazyLock<RwLock<Shapes>> =
    LazyLock::new(|| RwLock::new(Shapes::new(MAX_ENTRIES, MAX_BYTES)));

thread_local! {
    /// The key being built, reused so that a cache hit allocates no key.
    static KEY: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// A statement written on a cache miss, to be kept once its query has
/// succeeded. Dropping it (the query failed) keeps nothing.
#[derive(Debug)]
#[must_use = "call `succeeded()` once the query has run, or the text is written again next time"]
pub(crate) struct Pending(Option<(Box<[u64]>, Arc<str>)>);

impl Pending {
    /// The query ran: its statement's text is kept for its shape.
    pub(crate) fn succeeded(self) {
        if let Some((key, sql)) = self.0 {
            CACHE
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, sql);
        }
    }
}

/// `kind` of `q` on `backend`: its SQL from the cache when its key was seen
/// (and its query succeeded) before, its values from the walk that made
/// the key. On a miss, the [`Pending`] keeps the text once the caller's
/// query succeeds.
pub(crate) fn statement(q: &Query<'_>, kind: Kind<'_>, backend: Backend) -> (Statement, Pending) {
    KEY.with(|key| {
        // Not reentrant, but stay correct if it ever is.
        let Ok(mut key) = key.try_borrow_mut() else {
            return (render(q, kind, backend), Pending(None));
        };
        let mut pass = KeyPass::new(backend, &mut key);
        compile(q, kind, &mut pass);
        let (values, cacheable) = pass.finish();
        if !cacheable {
            return (render(q, kind, backend), Pending(None));
        }
        let hit = CACHE
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key.as_slice());
        if let Some(sql) = hit {
            #[cfg(debug_assertions)]
            recheck(&sql, q, kind, backend);
            let stmt = Statement {
                sql,
                values: Values(values),
            };
            return (stmt, Pending(None));
        }
        let stmt = render(q, kind, backend);
        debug_assert_eq!(stmt.values.0, values, "the passes bound different values");
        let pending = Pending(Some((key.as_slice().into(), Arc::clone(&stmt.sql))));
        (stmt, pending)
    })
}

/// Writes one hit in [`RECHECK_EVERY`] again: the kept text must be the
/// one the statement's own walk writes.
#[cfg(debug_assertions)]
fn recheck(kept: &str, q: &Query<'_>, kind: Kind<'_>, backend: Backend) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HITS: AtomicU32 = AtomicU32::new(0);
    if HITS
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(RECHECK_EVERY)
    {
        let written = render(q, kind, backend);
        assert_eq!(
            kept, &*written.sql,
            "two statement shapes share a cache key: the kept SQL is not the one this \
             query writes"
        );
    }
}

/// `kind` of `q` on `backend`, written without the cache.
pub(crate) fn render(q: &Query<'_>, kind: Kind<'_>, backend: Backend) -> Statement {
    let mut pass = SqlPass::new(backend);
    compile(q, kind, &mut pass);
    pass.finish()
}

/// The number of statements cached (for tests).
#[cfg(test)]
pub(crate) fn len() -> usize {
    CACHE.read().map(|c| c.map.len()).unwrap_or(0)
}

/// The key of `kind` of `q`, or `None` when it is not kept (for tests).
#[cfg(test)]
fn key(q: &Query<'_>, kind: Kind<'_>, backend: Backend) -> Option<Vec<u64>> {
    let mut key = Vec::new();
    let mut pass = KeyPass::new(backend, &mut key);
    compile(q, kind, &mut pass);
    let (_, cacheable) = pass.finish();
    cacheable.then_some(key)
}

#[cfg(test)]
mod tests {
    use sea_query::Value;

    use super::{CACHE, Kind, Query, Shapes, render, statement};
    use crate::db::executor::{Backend, Statement};
    use crate::db::query::QuerySet;
    use crate::db::query::lookup::{Lookup, LookupOp, Node};
    use crate::db::sql::compiler::compile;
    use crate::db::sql::pass::KeyPass;
    use crate::db::{Auto, ForeignKey, ManyToMany, Model};

    const KINDS: [Kind<'static>; 4] = [Kind::Select, Kind::Count, Kind::Exists, Kind::Pks];

    fn key(qs: &QuerySet<Note>, backend: Backend, kind: Kind<'_>) -> Option<Vec<u64>> {
        super::key(&Query::of(qs), kind, backend)
    }

    fn fresh(qs: &QuerySet<Note>, backend: Backend, kind: Kind<'_>) -> Statement {
        render(&Query::of(qs), kind, backend)
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "cachetest", ordering = "-id")]
    pub(crate) struct Writer {
        pub(crate) id: Auto<i64>,
        #[model(max_length = 50)]
        pub(crate) name: String,
    }

    #[derive(Debug, Clone, Model)]
    #[model(app = "cachetest")]
    pub(crate) struct Note {
        pub(crate) id: Auto<i64>,
        #[model(max_length = 50)]
        pub(crate) title: String,
        pub(crate) stars: i32,
        pub(crate) rating: Option<f64>,
        pub(crate) writer: ForeignKey<Writer>,
        pub(crate) fans: ManyToMany<Writer>,
    }

    /// A lookup on `rating` as the string-named lookups build them, with
    /// values typed filters cannot give (a NULL, too few).
    fn raw(op: LookupOp, values: Vec<Value>) -> QuerySet<Note> {
        let mut qs = Note::objects();
        qs.filters.push(Node::Lookup(Lookup {
            path: Vec::new(),
            column: "rating",
            op,
            values,
        }));
        qs
    }

    /// One query set per shape the compiler knows, with the values given.
    fn shapes(text: &str, n: i32, maybe: Option<f64>) -> Vec<QuerySet<Note>> {
        let q = Note::objects;
        vec![
            q(),
            q().filter(Note::id.eq(i64::from(n))),
            q().filter(Note::title.eq(text)),
            raw(LookupOp::Exact, vec![Value::Double(maybe)]),
            raw(LookupOp::Ne, vec![Value::Double(maybe)]),
            raw(LookupOp::IExact, Vec::new()),
            raw(LookupOp::Range, vec![Value::Double(maybe)]),
            q().filter(Note::title.iexact(text)),
            q().filter(Note::title.contains(text)),
            q().filter(Note::title.icontains(text)),
            q().filter(Note::title.startswith(text)),
            q().filter(Note::title.istartswith(text)),
            q().filter(Note::title.endswith(text)),
            q().filter(Note::title.iendswith(text)),
            q().filter(Note::stars.gt(n)),
            q().filter(Note::stars.gte(n)),
            q().filter(Note::stars.lt(n)),
            q().filter(Note::stars.lte(n)),
            q().filter(Note::stars.in_([n, n + 1, n + 2])),
            q().filter(Note::stars.in_(Vec::<i32>::new())),
            q().filter(Note::stars.range(n, n + 10)),
            q().filter(Note::rating.isnull(true)),
            q().filter(Note::rating.isnull(false)),
            q().filter(Note::writer.then(Writer::name).eq(text)),
            q().filter((Note::stars.eq(n) | Note::title.contains(text)) & !Note::stars.lt(n)),
            q().exclude(Note::title.eq(text)).filter(Note::stars.gt(n)),
            q().filter(Note::stars.gt(n))
                .order_by([Note::stars.desc(), Note::writer.then(Writer::name).asc()])
                .limit(5)
                .offset(u64::try_from(n).unwrap_or(0)),
            q().offset(3),
            q().limit(7).distinct(),
            q().select_related(Note::writer)
                .filter(Note::writer.then(Writer::name).icontains(text)),
            q().filter(Note::fans.then(Writer::name).eq(text))
                .filter(Note::fans.then(Writer::name).startswith(text))
                .filter(Note::stars.gt(n)),
            q().exclude(Note::fans.then(Writer::name).eq(text))
                .exclude(Note::fans.then(Writer::id).isnull(true) | Note::stars.lt(n)),
            q().filter(!Note::fans.then(Writer::name).in_([text, "other"]))
                .limit(2)
                .distinct(),
        ]
    }

    #[test]
    fn the_key_pass_binds_what_the_sql_pass_binds() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for (text, n, maybe) in [("a%b_c!", 3, None), ("plain", 40, Some(2.5))] {
                for qs in shapes(text, n, maybe) {
                    for kind in KINDS {
                        let built = fresh(&qs, backend, kind);
                        let mut key = Vec::new();
                        let mut pass = KeyPass::new(backend, &mut key);
                        compile(&Query::of(&qs), kind, &mut pass);
                        let (walked, _) = pass.finish();
                        assert_eq!(walked, built.values.0, "{backend:?} {kind:?} {}", built.sql);
                    }
                }
            }
        }
    }

    #[test]
    fn equal_keys_have_equal_sql() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let mut all = Vec::new();
            for (text, n, maybe) in [("a", 1, None), ("b%", 7, Some(1.0))] {
                for qs in shapes(text, n, maybe) {
                    for kind in KINDS {
                        if let Some(key) = key(&qs, backend, kind) {
                            all.push((key, fresh(&qs, backend, kind).sql));
                        }
                    }
                }
            }
            let mut shared = 0;
            for (key, sql) in &all {
                for (other_key, other_sql) in &all {
                    if key == other_key {
                        assert_eq!(sql, other_sql);
                        shared += 1;
                    }
                }
            }
            // The same shapes with other values share their keys.
            assert!(shared >= 2 * all.len(), "{shared} of {}", all.len());
        }
    }

    #[test]
    fn a_cached_statement_is_the_written_one_with_the_new_values() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            // Fill the cache with the first values, then read it with others.
            for qs in shapes("first", 1, Some(1.0)) {
                for kind in KINDS {
                    statement(&Query::of(&qs), kind, backend).1.succeeded();
                }
            }
            for (text, n, maybe) in [("sec%ond", 2, Some(7.0)), ("", 9, None)] {
                for qs in shapes(text, n, maybe) {
                    for kind in KINDS {
                        let fresh = fresh(&qs, backend, kind);
                        let (cached, _) = statement(&Query::of(&qs), kind, backend);
                        assert_eq!(cached.sql, fresh.sql);
                        assert_eq!(cached.values.0, fresh.values.0, "{}", fresh.sql);
                    }
                }
            }
        }
        assert!(super::len() > 0);
    }

    #[test]
    fn what_changes_the_text_changes_the_key() {
        let select = |qs: &QuerySet<Note>| key(qs, Backend::Sqlite, Kind::Select);
        let q = Note::objects;
        // A NULL value renders `IS NULL`, another `= ?`.
        assert_ne!(
            select(&raw(LookupOp::Exact, vec![Value::Double(None)])),
            select(&raw(LookupOp::Exact, vec![Value::Double(Some(1.0))]))
        );
        assert_ne!(
            select(&q().filter(Note::stars.in_([1, 2]))),
            select(&q().filter(Note::stars.in_([1, 2, 3])))
        );
        assert_ne!(select(&q().limit(1)), select(&q()));
        assert_ne!(
            select(&q().order_by(Note::stars.asc())),
            select(&q().order_by(Note::stars.desc()))
        );
        assert_ne!(
            select(&q().filter(Note::stars.gt(1))),
            select(&q().filter(Note::stars.gte(1)))
        );
        assert_ne!(
            key(&q(), Backend::Sqlite, Kind::Select),
            key(&q(), Backend::Postgres, Kind::Select)
        );
        // Values alone do not.
        assert_eq!(
            select(&q().filter(Note::title.contains("x")).limit(3)),
            select(&q().filter(Note::title.contains("something else")).limit(90))
        );
        // Long IN lists are not cached.
        assert!(select(&q().filter(Note::stars.in_(0..100))).is_none());
    }

    /// A shape used by no other test, so that the global cache's state for
    /// it is this test's alone.
    fn lonely(n: usize) -> QuerySet<Note> {
        let mut qs = Note::objects();
        for i in 0..n {
            qs = qs.filter(Note::stars.lte(i32::try_from(i).unwrap_or(0)));
        }
        qs.exclude(Note::title.iendswith("lonely"))
    }

    fn cached(qs: &QuerySet<Note>) -> bool {
        let key = key(qs, Backend::Postgres, Kind::Count).expect("cacheable");
        CACHE.read().expect("cache").get(&key).is_some()
    }

    #[test]
    fn a_statement_is_kept_only_once_its_query_succeeded() {
        let qs = lonely(7);
        let q = Query::of(&qs);
        let (_, pending) = statement(&q, Kind::Count, Backend::Postgres);
        drop(pending); // the query failed
        assert!(!cached(&qs));
        let (first, pending) = statement(&q, Kind::Count, Backend::Postgres);
        assert!(!cached(&qs), "still a miss");
        pending.succeeded();
        assert!(cached(&qs));
        let (hit, pending) = statement(&q, Kind::Count, Backend::Postgres);
        assert!(pending.0.is_none(), "a hit has nothing to keep");
        assert_eq!(hit.sql, first.sql);
    }

    #[test]
    fn the_cache_stops_at_its_byte_bound_as_at_its_entry_bound() {
        let sql = |n: usize| -> std::sync::Arc<str> { "x".repeat(n).into() };
        // 1,050 bytes: three 200-byte statements fit with their keys and
        // overhead (3 x 312), a fourth does not.
        let mut shapes = Shapes::new(100, 1_050);
        for i in 0..10_u64 {
            shapes.insert(vec![i, i].into(), sql(200));
        }
        assert_eq!(shapes.map.len(), 3);
        assert_eq!(shapes.bytes, 936);
        // A small one (105) still fits in what is left.
        shapes.insert(vec![99].into(), sql(1));
        assert_eq!(shapes.map.len(), 4);
        // The same key twice is counted once.
        let before = shapes.bytes;
        shapes.insert(vec![99].into(), sql(1));
        assert_eq!(shapes.bytes, before);
        // The entry bound.
        let mut shapes = Shapes::new(2, usize::MAX);
        for i in 0..5_u64 {
            shapes.insert(vec![i].into(), sql(10));
        }
        assert_eq!(shapes.map.len(), 2);
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "share a cache key")]
    fn debug_builds_write_a_sample_of_hits_again_and_compare() {
        let qs = lonely(9);
        let key = key(&qs, Backend::Postgres, Kind::Count).expect("cacheable");
        // A wrong text under the shape's key, as a key collision would give.
        CACHE
            .write()
            .expect("cache")
            .insert(key.into(), "SELECT 'not this query'".into());
        for _ in 0..100_000 {
            let _ = statement(&Query::of(&qs), Kind::Count, Backend::Postgres);
        }
    }
}
