//! Procedural macros for Manouche.
//!
//! Each derive lives in its own module (parse → validate → generate) and this
//! file only dispatches to it.

use proc_macro::TokenStream;

mod choices;
mod model;

/// Derives `manouche::db::Model` for a struct: typed column handles
/// (`Article::title`), the model's metadata and schema, and row decoding.
///
/// See the `manouche::db` module for the options.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    model::derive(&input).into()
}

/// Derives `manouche::db::fields::Choices` and `FieldType` for a unit enum,
/// stored as text: the snake_case variant name, or
/// `#[choice(value = "...", label = "...")]`.
#[proc_macro_derive(Choices, attributes(choice))]
pub fn derive_choices(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    choices::derive(&input).into()
}
