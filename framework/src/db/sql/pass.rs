//! What the query compiler writes to: the two passes of one walk.
//!
//! The compiler ([`super::compiler`]) walks a query set once and describes
//! the statement as a sequence of calls on a [`Pass`]: a keyword, an
//! identifier, a column, a bound value. What the calls produce depends on
//! the pass:
//!
//! - [`KeyPass`] records each call as a few machine words (the statement's
//!   *key*) and collects the bound values. It writes no SQL, so it is cheap
//!   enough to run for every query.
//! - [`SqlPass`] writes the SQL text, with the backend's placeholders and
//!   quoting from sea-query, and collects the same bound values.
//!
//! Every call records all its arguments except the bound values in the key,
//! and the SQL of a call depends only on those arguments and the backend
//! (recorded first). So two walks with equal keys write the same SQL, and
//! the SQL of a key can be kept and reused ([`super::cache`]); the values
//! come from the same calls as the placeholders, in the same order, so they
//! always agree.
//!
//! ```text
//! sql("SELECT ") columns(World, t0) sql(" FROM ") table("bench_world", t0)
//! sql(" WHERE ") column(t0, "id") sql(" = ") bind(42)
//!   KeyPass: [start Sqlite] [sql 7 @..] [columns t0 @World] ... [bind]; values [42]
//!   SqlPass: SELECT "t0"."id", "t0"."randomnumber" FROM "bench_world" AS "t0"
//!            WHERE "t0"."id" = ?; values [42]
//! ```

use std::fmt::Write as _;

use sea_query::{Iden as _, Quote, SqlWriter as _, SqlWriterValues, Value};

use crate::db::executor::{Backend, Statement};
use crate::db::fields::SqlType;
use crate::db::model::ModelMeta;

/// `IN (...)` lists longer than this make a statement not worth keeping:
/// their lengths follow the data, and each length is another statement.
pub(crate) const MAX_IN_VALUES: usize = 32;

/// A table alias: `t0` for the queried table, `t1`, `t2`, ... for the
/// joined ones, `t1_j` for the join table on the way to `t1`; `u0`, `u1`,
/// ... (and `u1_j`) inside a subquery that tests a multi-valued relation.
///
/// A query nested in another (`EXISTS (...)`, `IN (SELECT ...)`) names its
/// tables at its own level: `q1t0`, `q1u1`, ... so that a column of the
/// enclosing query stays reachable by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alias {
    n: u32,
    via: bool,
    sub: bool,
    level: u8,
}

impl Alias {
    /// `t0`, the table a query set is about.
    pub(crate) const BASE: Self = Self {
        n: 0,
        via: false,
        sub: false,
        level: 0,
    };

    /// `t{n}`.
    pub(crate) const fn table(n: u32) -> Self {
        Self {
            n,
            via: false,
            sub: false,
            level: 0,
        }
    }

    /// `u{n}`: a table of a subquery.
    pub(crate) const fn sub(n: u32) -> Self {
        Self {
            n,
            via: false,
            sub: true,
            level: 0,
        }
    }

    /// The same alias in the query nested `level` deep.
    pub(crate) const fn at(self, level: u8) -> Self {
        Self { level, ..self }
    }

    /// `t{n}_j`: the join table of a many-to-many step to `t{n}`.
    pub(crate) const fn via(self) -> Self {
        Self { via: true, ..self }
    }

    fn word(self) -> u64 {
        u64::from(self.n) << 10
            | u64::from(self.level) << 2
            | u64::from(self.sub) << 1
            | u64::from(self.via)
    }
}

/// The calls the compiler describes a statement with.
///
/// Implementations must record every argument of every call but the bound
/// values in [`KeyPass`] (see the module documentation).
pub(crate) trait Pass {
    /// The backend the statement is for.
    fn backend(&self) -> Backend;

    /// SQL text that is part of the program (keywords, operators).
    fn sql(&mut self, text: &'static str);

    /// A quoted identifier from model metadata.
    fn ident(&mut self, name: &'static str);

    /// A quoted table alias.
    fn alias(&mut self, alias: Alias);

    /// `"alias"."name"`.
    fn column(&mut self, alias: Alias, name: &'static str);

    /// Every column of `meta`, as `"alias"."column"`, separated by commas.
    fn columns(&mut self, meta: &'static ModelMeta, alias: Alias);

    /// `"name" AS "alias"`.
    fn table(&mut self, name: &'static str, alias: Alias);

    /// A placeholder bound to `value`.
    fn bind(&mut self, value: Value);

    /// One placeholder per value, separated by commas.
    fn bind_all(&mut self, values: &[Value]);

    /// The backend's name for a column type (`CAST(... AS <type>)`).
    fn type_name(&mut self, ty: SqlType);
}

/// Kinds of key words (the low four bits of a call's first word).
mod tag {
    pub(super) const START: u64 = 0;
    pub(super) const SQL: u64 = 1;
    pub(super) const IDENT: u64 = 2;
    pub(super) const ALIAS: u64 = 3;
    pub(super) const COLUMN: u64 = 4;
    pub(super) const COLUMNS: u64 = 5;
    pub(super) const TABLE: u64 = 6;
    pub(super) const BIND: u64 = 7;
    pub(super) const BIND_ALL: u64 = 8;
    pub(super) const TYPE: u64 = 9;
}

/// Records a statement's key and its bound values.
///
/// Each call is one word (its tag and small arguments), followed by an
/// address for calls that name a `&'static str` or a model: text in static
/// memory never changes, so its address and length stand for it.
pub(crate) struct KeyPass<'k> {
    backend: Backend,
    key: &'k mut Vec<u64>,
    values: Vec<Value>,
    cacheable: bool,
}

impl<'k> KeyPass<'k> {
    /// Starts a key in `key` (cleared first).
    pub(crate) fn new(backend: Backend, key: &'k mut Vec<u64>) -> Self {
        key.clear();
        key.push(tag::START | (backend as u64) << 4);
        Self {
            backend,
            key,
            values: Vec::new(),
            cacheable: true,
        }
    }

    /// The bound values, and whether the statement is worth keeping (no
    /// long `IN` list); when it is not, the values may be incomplete.
    pub(crate) fn finish(self) -> (Vec<Value>, bool) {
        (self.values, self.cacheable)
    }

    /// A call naming `text`, with a small argument (an alias).
    fn text(&mut self, tag: u64, text: &'static str, arg: u64) {
        let len = text.len() as u64;
        // Never the case for identifiers; such a key would be ambiguous.
        if len > u64::from(u32::MAX) || arg >= 1 << 28 {
            self.cacheable = false;
        }
        self.key.push(tag | arg << 4 | len << 32);
        self.key.push(text.as_ptr().addr() as u64);
    }
}

impl Pass for KeyPass<'_> {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn sql(&mut self, text: &'static str) {
        self.text(tag::SQL, text, 0);
    }

    fn ident(&mut self, name: &'static str) {
        self.text(tag::IDENT, name, 0);
    }

    fn alias(&mut self, alias: Alias) {
        self.key.push(tag::ALIAS | alias.word() << 4);
    }

    fn column(&mut self, alias: Alias, name: &'static str) {
        self.text(tag::COLUMN, name, alias.word());
    }

    fn columns(&mut self, meta: &'static ModelMeta, alias: Alias) {
        self.key.push(tag::COLUMNS | alias.word() << 4);
        self.key.push(std::ptr::from_ref(meta).addr() as u64);
    }

    fn table(&mut self, name: &'static str, alias: Alias) {
        self.text(tag::TABLE, name, alias.word());
    }

    fn bind(&mut self, value: Value) {
        self.key.push(tag::BIND);
        self.values.push(value);
    }

    fn bind_all(&mut self, values: &[Value]) {
        self.key.push(tag::BIND_ALL | (values.len() as u64) << 4);
        if values.len() > MAX_IN_VALUES {
            // The statement will be written with its values by a `SqlPass`:
            // these are not needed.
            self.cacheable = false;
        } else {
            self.values.extend_from_slice(values);
        }
    }

    fn type_name(&mut self, ty: SqlType) {
        self.key.push(tag::TYPE | (ty as u64) << 4);
    }
}

/// Writes a statement's SQL and collects its bound values.
pub(crate) struct SqlPass {
    backend: Backend,
    quote: Quote,
    out: SqlWriterValues,
}

impl SqlPass {
    pub(crate) fn new(backend: Backend) -> Self {
        let builder = backend.dialect().query_builder();
        let (placeholder, numbered) = builder.placeholder();
        Self {
            backend,
            quote: builder.quote(),
            out: SqlWriterValues::new(placeholder, numbered),
        }
    }

    /// The statement written.
    pub(crate) fn finish(self) -> Statement {
        let (sql, values) = self.out.into_parts();
        Statement {
            sql: sql.into(),
            values,
        }
    }

    fn write(&mut self, text: &str) {
        // Writing to a `String` does not fail.
        let _ = self.out.write_str(text);
    }

    fn write_alias(&mut self, alias: Alias) {
        let (left, right) = (self.quote.left(), self.quote.right());
        let via = if alias.via { "_j" } else { "" };
        let letter = if alias.sub { 'u' } else { 't' };
        let _ = if alias.level == 0 {
            write!(self.out, "{left}{letter}{}{via}{right}", alias.n)
        } else {
            write!(
                self.out,
                "{left}q{}{letter}{}{via}{right}",
                alias.level, alias.n
            )
        };
    }
}

impl Pass for SqlPass {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn sql(&mut self, text: &'static str) {
        self.write(text);
    }

    fn ident(&mut self, name: &'static str) {
        sea_query::Alias::new(name).prepare(&mut self.out, self.quote);
    }

    fn alias(&mut self, alias: Alias) {
        self.write_alias(alias);
    }

    fn column(&mut self, alias: Alias, name: &'static str) {
        self.write_alias(alias);
        self.write(".");
        self.ident(name);
    }

    fn columns(&mut self, meta: &'static ModelMeta, alias: Alias) {
        for (i, column) in meta.column_fields().filter_map(|f| f.column).enumerate() {
            if i > 0 {
                self.write(", ");
            }
            self.column(alias, column);
        }
    }

    fn table(&mut self, name: &'static str, alias: Alias) {
        self.ident(name);
        self.write(" AS ");
        self.write_alias(alias);
    }

    fn bind(&mut self, value: Value) {
        self.out
            .push_param(value, self.backend.dialect().query_builder());
    }

    fn bind_all(&mut self, values: &[Value]) {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                self.write(", ");
            }
            self.bind(value.clone());
        }
    }

    fn type_name(&mut self, ty: SqlType) {
        let name = self.backend.dialect().column_type(ty, None, None);
        self.write(&name);
    }
}
