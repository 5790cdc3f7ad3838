//! Every statement the framework sends, built in one place.
//!
//! Kept apart from the public query API (`db::query`), as Django keeps
//! `models/sql/compiler.py` apart from `models/query.py`. Identifiers come
//! only from model metadata; every value is bound.
//!
//! - [`compiler`] writes a query set's statements (select, count, exists,
//!   values, update, ...) in one walk, against a [`pass::Pass`]: the same
//!   walk yields a statement's key and bound values, or its SQL and values;
//! - [`cache`] keeps the SQL of each key, so a query whose key was seen
//!   before only walks for its key and values.
//!
//! Hand-written statements go through sea-query here too.

pub(crate) mod cache;
pub(crate) mod compiler;
pub(crate) mod join_table;
pub(crate) mod pass;
pub(crate) mod write;
