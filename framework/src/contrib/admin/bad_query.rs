//! What the admin's pages answer with 400: a query string, a selection
//! or a search they cannot read as asked.

/// A request a page cannot answer as asked (400), with the reason.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadQuery(pub(crate) String);
