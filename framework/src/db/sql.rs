//! SQL compilation: turns query sets into sea-query statements.
//!
//! Kept apart from the public query API (`db::query`), as Django keeps
//! `models/sql/compiler.py` apart from `models/query.py`. Identifiers come
//! only from model metadata; every value is bound.

pub(crate) mod cache;
pub(crate) mod compiler;
