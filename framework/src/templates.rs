//! Helpers for askama templates.
//!
//! Askama compiles templates to Rust and lets them call functions by path
//! (passing variables by reference and literals by value, so the
//! parameters here take anything that displays):
//!
//! ```text
//! <a href="{{ manouche::templates::url("home")? }}">Home</a>
//! <a href="{{ manouche::templates::url_for("blog:article-detail", article.id)? }}">…</a>
//! <a href="{{ manouche::templates::url_for2("blog:archive", year, month)? }}">…</a>
//! <link rel="stylesheet" href="{{ manouche::templates::static_url("site/app.css") }}">
//! ```
//!
//! They reverse against the project serving the current request (see
//! [`crate::urls::reverse`]); the `?` turns a [`NoReverseMatch`] into a
//! rendering error, which the handler reports as a 500 with the reason.

use std::fmt::Display;

pub use crate::contrib::staticfiles::static_url;
use crate::urls::{NoReverseMatch, reverse};

/// The URL of a route without parameters.
///
/// # Errors
/// [`NoReverseMatch`] when the name is unknown or the route has parameters.
pub fn url(name: &str) -> Result<String, NoReverseMatch> {
    reverse(name, &[])
}

/// The URL of a route with one parameter.
///
/// # Errors
/// [`NoReverseMatch`] when the name is unknown, the route takes another
/// number of parameters, or `arg` does not fit its converter.
pub fn url_for<A: Display>(name: &str, arg: A) -> Result<String, NoReverseMatch> {
    reverse(name, &[&arg])
}

/// The URL of a route with two parameters.
///
/// # Errors
/// As [`url_for`].
pub fn url_for2<A: Display, B: Display>(name: &str, a: A, b: B) -> Result<String, NoReverseMatch> {
    reverse(name, &[&a, &b])
}

/// The URL of a route with three parameters.
///
/// # Errors
/// As [`url_for`].
pub fn url_for3<A: Display, B: Display, C: Display>(
    name: &str,
    a: A,
    b: B,
    c: C,
) -> Result<String, NoReverseMatch> {
    reverse(name, &[&a, &b, &c])
}
