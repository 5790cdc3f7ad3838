//! Manouche: a batteries-included web framework in the spirit of Django.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// Lets the derive macros name `::manouche::...` from inside this crate too.
#[allow(unused_extern_crates)] // used by derive output in tests, not by the library itself
extern crate self as manouche;

pub mod db;

/// `#[derive(Model)]` and the [`db::Model`] trait.
pub use db::Model;
