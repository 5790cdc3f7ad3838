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
//! [`MAX_IN_VALUES`](super::pass::MAX_IN_VALUES) are written every time,
//! and the cache stops growing at [`MAX_ENTRIES`] statements.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use rustc_hash::FxBuildHasher;
use sea_query::Values;

use super::compiler::{Kind, Query, compile};
use super::pass::{KeyPass, SqlPass};
use crate::db::executor::{Backend, Statement};

/// The most statements kept.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// SQL by statement key. Keys come from the program, not from clients: a
/// fast non-cryptographic hash is enough.
type Cache = HashMap<Box<[u64]>, Arc<str>, FxBuildHasher>;

static CACHE: LazyLock<RwLock<Cache>> =
    LazyLock::new(|| RwLock::new(HashMap::with_hasher(FxBuildHasher)));

thread_local! {
    /// The key being built, reused so that a cache hit allocates no key.
    static KEY: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// `kind` of `q` on `backend`: its SQL from the cache when its key was seen
/// before, its values from the walk that made the key.
pub(crate) fn statement(q: &Query<'_>, kind: Kind<'_>, backend: Backend) -> Statement {
    KEY.with(|key| {
        // Not reentrant, but stay correct if it ever is.
        let Ok(mut key) = key.try_borrow_mut() else {
            return render(q, kind, backend);
        };
        let mut pass = KeyPass::new(backend, &mut key);
        compile(q, kind, &mut pass);
        let (values, cacheable) = pass.finish();
        if !cacheable {
            return render(q, kind, backend);
        }
        let hit = CACHE
            .read()
            .ok()
            .and_then(|cache| cache.get(key.as_slice()).cloned());
        if let Some(sql) = hit {
            return Statement {
                sql,
                values: Values(values),
            };
        }
        let stmt = render(q, kind, backend);
        debug_assert_eq!(stmt.values.0, values, "the passes bound different values");
        if let Ok(mut cache) = CACHE.write()
            && cache.len() < MAX_ENTRIES
        {
            cache.insert(key.as_slice().into(), Arc::clone(&stmt.sql));
        }
        stmt
    })
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
    CACHE.read().map(|c| c.len()).unwrap_or(0)
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

    use super::{Kind, Query, render, statement};
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
                    let _ = statement(&Query::of(&qs), kind, backend);
                }
            }
            for (text, n, maybe) in [("sec%ond", 2, Some(7.0)), ("", 9, None)] {
                for qs in shapes(text, n, maybe) {
                    for kind in KINDS {
                        let fresh = fresh(&qs, backend, kind);
                        let cached = statement(&Query::of(&qs), kind, backend);
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
}
