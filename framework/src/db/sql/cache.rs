//! Rendered SQL, kept per query shape.
//!
//! Building a sea-query statement and rendering it costs more than the rest
//! of a primary-key lookup on the Rust side (about 27,000 of the 58,000
//! instructions such a lookup took before this cache; the hand-written sqlx
//! query takes 26,000). The SQL text of a query set depends only on its
//! *shape* — the model, the backend, the lookups with their columns,
//! relation paths and operators, how many values each has and whether each
//! is `NULL` and of which type, the ordering, whether there is a limit or an
//! offset, `distinct`, `select_related`, `FOR UPDATE` — not on the values
//! themselves, which are always bound. So the text is rendered once per
//! shape and reused, and the bound values are collected by a walk over the
//! query set ([`compiler::bound_values`]).
//!
//! The walk must list the values exactly as sea-query would. That is
//! checked, not assumed: a shape is cached only after the walk's values
//! have been compared with sea-query's for a real query of that shape, and
//! a mismatch (a bug) is never cached and fails debug builds and tests.
//!
//! Shapes are finite in a program except for `IN` lists, whose lengths
//! follow the data: lists longer than [`MAX_IN_VALUES`] are not cached, and
//! the cache stops growing at [`MAX_ENTRIES`] shapes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::Discriminant;
use std::sync::{Arc, LazyLock, RwLock};

use rustc_hash::FxBuildHasher;
use sea_query::{SelectStatement, Value, Values};

use super::compiler;
use crate::db::executor::{Backend, Statement};
use crate::db::model::{Model, ModelMeta};
use crate::db::query::QuerySet;
use crate::db::query::lookup::{Join, JoinOn, LookupOp, Node};

/// Longer `IN (...)` lists are rendered every time.
pub(crate) const MAX_IN_VALUES: usize = 32;

/// The most shapes kept.
pub(crate) const MAX_ENTRIES: usize = 4096;

/// Which statement of a query set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Its rows (`all`, `get`, `first`).
    Select,
    /// `count()`.
    Count,
    /// `exists()`.
    Exists,
}

/// One element of a shape. Names are `&'static str` from the models and
/// are recorded by address and length: equal addresses and lengths mean
/// equal text, and equal text at two addresses only costs a second entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Token {
    Word(usize),
    Op(LookupOp),
    Value(Discriminant<Value>, bool),
}

type Key = Box<[Token]>;

/// Keys are short and come from the program, not from clients: a fast
/// non-cryptographic hash is enough.
static CACHE: LazyLock<RwLock<HashMap<Key, Arc<str>, FxBuildHasher>>> =
    LazyLock::new(|| RwLock::new(HashMap::with_hasher(FxBuildHasher)));

thread_local! {
    /// The shape being built, reused so a cache hit allocates no key.
    static SHAPE: RefCell<Vec<Token>> = const { RefCell::new(Vec::new()) };
}

/// The statement for `kind` of `qs` on `backend`, from the cache when its
/// shape was seen before.
pub(crate) fn statement<M: Model>(qs: &QuerySet<M>, backend: Backend, kind: Kind) -> Statement {
    SHAPE.with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let mut s = Shape(std::mem::take(&mut *buf));
            let cacheable = s.query(qs, backend, kind);
            *buf = s.0;
            if cacheable {
                cached(qs, backend, kind, &buf)
            } else {
                render(qs, backend, kind)
            }
        }
        // Not reentrant, but stay correct if it ever is.
        Err(_) => render(qs, backend, kind),
    })
}

fn cached<M: Model>(qs: &QuerySet<M>, backend: Backend, kind: Kind, key: &[Token]) -> Statement {
    let hit = CACHE.read().ok().and_then(|cache| cache.get(key).cloned());
    if let Some(sql) = hit {
        let mut values = Vec::new();
        compiler::bound_values(qs, backend, kind, &mut values);
        return Statement {
            sql,
            values: Values(values),
        };
    }
    let stmt = render(qs, backend, kind);
    let mut walked = Vec::new();
    compiler::bound_values(qs, backend, kind, &mut walked);
    if walked == stmt.values.0 {
        if let Ok(mut cache) = CACHE.write()
            && cache.len() < MAX_ENTRIES
        {
            cache.insert(key.into(), Arc::clone(&stmt.sql));
        }
    } else {
        // Never reached unless the walk and the compiler disagree: the
        // shape stays uncached and the statement is still right.
        debug_assert!(
            false,
            "bound values walk disagrees with the compiler for {}: {walked:?} vs {:?}",
            stmt.sql, stmt.values.0
        );
    }
    stmt
}

/// Builds and renders the statement with sea-query.
fn render<M: Model>(qs: &QuerySet<M>, backend: Backend, kind: Kind) -> Statement {
    let stmt: SelectStatement = match kind {
        Kind::Select => compiler::select(qs, backend),
        Kind::Count => compiler::count(qs, backend),
        Kind::Exists => compiler::exists(qs, backend),
    };
    backend.build(&stmt)
}

/// The number of shapes cached (for tests).
#[cfg(test)]
pub(crate) fn len() -> usize {
    CACHE.read().map(|c| c.len()).unwrap_or(0)
}

struct Shape(Vec<Token>);

impl Shape {
    fn word(&mut self, w: usize) {
        self.0.push(Token::Word(w));
    }

    fn text(&mut self, s: &'static str) {
        self.word(s.as_ptr() as usize);
        self.word(s.len());
    }

    fn meta(&mut self, meta: &'static ModelMeta) {
        self.word(std::ptr::from_ref(meta) as usize);
    }

    fn value(&mut self, v: &Value) {
        self.0.push(Token::Value(
            std::mem::discriminant(v),
            compiler::is_null(v),
        ));
    }

    fn path(&mut self, path: &[Join]) {
        self.word(path.len());
        for join in path {
            self.text(join.field);
            self.meta((join.target)());
            match join.on {
                JoinOn::Columns {
                    parent_column,
                    target_column,
                } => {
                    self.word(1);
                    self.text(parent_column);
                    self.text(target_column);
                }
                JoinOn::Table {
                    table,
                    source,
                    target,
                    parent_pk,
                } => {
                    self.word(2);
                    self.text(table);
                    self.text(source);
                    self.text(target);
                    self.text(parent_pk);
                }
                JoinOn::Invalid => self.word(3),
            }
        }
    }

    /// `false` when the node has too many values to be worth a shape.
    fn node(&mut self, node: &Node) -> bool {
        match node {
            Node::Lookup(l) => {
                self.word(1);
                self.path(&l.path);
                self.text(l.column);
                self.0.push(Token::Op(l.op));
                self.values(&l.values)
            }
            Node::And(nodes) | Node::Or(nodes) => {
                self.word(if matches!(node, Node::And(_)) { 2 } else { 3 });
                self.word(nodes.len());
                nodes.iter().all(|n| self.node(n))
            }
            Node::Not(inner) => {
                self.word(4);
                self.node(inner)
            }
            Node::PkInJoin {
                table,
                source,
                target,
                owner,
            } => {
                self.word(5);
                self.text(table);
                self.text(source);
                self.text(target);
                self.value(owner);
                true
            }
            Node::Pk(op, values) => {
                self.word(6);
                self.0.push(Token::Op(*op));
                self.values(values)
            }
        }
    }

    fn values(&mut self, values: &[Value]) -> bool {
        self.word(values.len());
        for v in values {
            self.value(v);
        }
        values.len() <= MAX_IN_VALUES
    }
}

impl Shape {
    /// Records the shape of `kind` of `qs`; `false` when it is not worth
    /// caching.
    fn query<M: Model>(&mut self, qs: &QuerySet<M>, backend: Backend, kind: Kind) -> bool {
        self.word(kind as usize);
        self.word(backend as usize);
        self.meta(M::meta());
        self.word(usize::from(qs.distinct) | usize::from(qs.for_update) << 1);
        self.word(usize::from(qs.limit.is_some()) | usize::from(qs.offset.is_some()) << 1);
        self.word(qs.filters.len());
        for node in &qs.filters {
            if !self.node(node) {
                return false;
            }
        }
        match &qs.ordering {
            // The model's default ordering is part of the model.
            None => self.word(usize::MAX),
            Some(keys) => {
                self.word(keys.len());
                for key in keys {
                    self.path(&key.path);
                    self.text(key.column);
                    self.word(usize::from(key.desc));
                }
            }
        }
        self.word(qs.related.len());
        for path in &qs.related {
            self.path(path);
        }
        true
    }
}

/// The shape of `kind` of `qs`, or `None` when it is not worth caching.
#[cfg(test)]
fn shape<M: Model>(qs: &QuerySet<M>, backend: Backend, kind: Kind) -> Option<Key> {
    let mut s = Shape(Vec::new());
    s.query(qs, backend, kind).then(|| s.0.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::{Kind, render, shape, statement};
    use sea_query::Value;

    use crate::db::executor::Backend;
    use crate::db::query::QuerySet;
    use crate::db::query::lookup::{Lookup, LookupOp, Node};
    use crate::db::sql::compiler;
    use crate::db::{Auto, ForeignKey, Model};

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
        ]
    }

    #[test]
    fn the_walk_binds_what_the_compiler_binds() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for (text, n, maybe) in [("a%b_c!", 3, None), ("plain", 40, Some(2.5))] {
                for qs in shapes(text, n, maybe) {
                    for kind in [Kind::Select, Kind::Count, Kind::Exists] {
                        let built = render(&qs, backend, kind);
                        let mut walked = Vec::new();
                        compiler::bound_values(&qs, backend, kind, &mut walked);
                        assert_eq!(walked, built.values.0, "{backend:?} {kind:?} {}", built.sql);
                    }
                }
            }
        }
    }

    #[test]
    fn a_cached_shape_gives_the_same_statement_with_the_new_values() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            // Fill the cache with the first values, then read it with others.
            for qs in shapes("first", 1, Some(1.0)) {
                for kind in [Kind::Select, Kind::Count, Kind::Exists] {
                    let _ = statement(&qs, backend, kind);
                }
            }
            for (text, n, maybe) in [("sec%ond", 2, Some(7.0)), ("", 9, None)] {
                for qs in shapes(text, n, maybe) {
                    for kind in [Kind::Select, Kind::Count, Kind::Exists] {
                        let fresh = render(&qs, backend, kind);
                        let cached = statement(&qs, backend, kind);
                        assert_eq!(cached.sql, fresh.sql);
                        assert_eq!(cached.values.0, fresh.values.0, "{}", fresh.sql);
                    }
                }
            }
        }
        assert!(super::len() > 0);
    }

    #[test]
    fn what_changes_the_text_changes_the_shape() {
        let key = |qs: &QuerySet<Note>| shape(qs, Backend::Sqlite, Kind::Select);
        let q = Note::objects;
        // A NULL value renders `IS NULL`, another `= ?`.
        assert_ne!(
            key(&raw(LookupOp::Exact, vec![Value::Double(None)])),
            key(&raw(LookupOp::Exact, vec![Value::Double(Some(1.0))]))
        );
        assert_ne!(
            key(&q().filter(Note::stars.in_([1, 2]))),
            key(&q().filter(Note::stars.in_([1, 2, 3])))
        );
        assert_ne!(key(&q().limit(1)), key(&q()));
        assert_ne!(
            key(&q().order_by(Note::stars.asc())),
            key(&q().order_by(Note::stars.desc()))
        );
        assert_ne!(
            key(&q().filter(Note::stars.gt(1))),
            key(&q().filter(Note::stars.gte(1)))
        );
        assert_ne!(
            shape(&q(), Backend::Sqlite, Kind::Select),
            shape(&q(), Backend::Postgres, Kind::Select)
        );
        // Values alone do not.
        assert_eq!(
            key(&q().filter(Note::title.contains("x")).limit(3)),
            key(&q().filter(Note::title.contains("something else")).limit(90))
        );
        // Long IN lists are not cached.
        assert!(key(&q().filter(Note::stars.in_(0..100))).is_none());
    }
}
