//! The statements the ORM and `migrate` send, built in one place.
//!
//! Kept apart from the public query API (`db::query`), as Django keeps
//! `models/sql/compiler.py` apart from `models/query.py`. Identifiers come
//! only from model metadata and migration state; values are bound, except
//! the literals of a migration's own SQL, which `sqlmigrate` prints.
//!
//! - [`compiler`] writes a query set's statements (rows, count, exists,
//!   values, annotate, update, the keys a delete starts from) in one walk
//!   per statement, against a [`pass::Pass`]: the same walk yields a
//!   statement's key and bound values, or its SQL and bound values;
//! - [`cache`] keeps the SQL of each key, so that a query whose key was
//!   seen before costs one walk and no SQL writing;
//! - [`write`] builds the statements that write a model's rows (insert,
//!   save, bulk update, the deletes and updates of `on_delete` rules),
//!   [`join_table`] those of many-to-many relations, [`choices`] the rows a
//!   model form offers, and [`migrate`] those
//!   of the migration recorder and the rows a table change moves, with
//!   sea-query.
//!
//! Elsewhere: DDL (`db::schema` for model tables, `migrations::schema_editor`
//! per backend for changes), transaction control (`db::transaction`) and
//! the user's own SQL (`db::raw`).

pub(crate) mod cache;
pub(crate) mod choices;
pub(crate) mod compiler;
pub(crate) mod join_table;
pub(crate) mod migrate;
pub(crate) mod pass;
pub(crate) mod write;
