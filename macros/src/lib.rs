//! Procedural macros for Manouche.
//!
//! Each macro lives in its own module (parse → validate → generate) and this
//! file only dispatches to it.

use proc_macro::TokenStream;

mod admin;
mod choices;
mod embed_migrations;
mod form;
mod model;
mod template_response;

/// Derives `manouche::db::Model` for a struct: typed column handles
/// (`Article::title`), the model's metadata and schema, and row decoding.
///
/// See the `manouche::db::model` module for the options.
/// `#[model(impl_default)]` also implements `Default` from the fields'
/// declared defaults, so that a new value ends with `..Default::default()`
/// instead of listing its primary key, relation collections and `auto_now`
/// fields.
#[proc_macro_derive(Model, attributes(model))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    model::derive(&input).into()
}

/// Derives `manouche::contrib::admin::Admin` for a model: its
/// `#[admin(...)]` options are the `ModelAdmin` builder's, checked
/// against the struct's fields at compile time.
///
/// See the `manouche::contrib::admin` module for the options.
#[proc_macro_derive(Admin, attributes(admin))]
pub fn derive_admin(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    admin::derive(&input).into()
}

/// Derives `manouche::db::fields::Choices` and `FieldType` for a unit enum,
/// stored as text: the snake_case variant name, or
/// `#[choice(value = "...", label = "...")]`.
#[proc_macro_derive(Choices, attributes(choice))]
pub fn derive_choices(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    choices::derive(&input).into()
}

/// Derives `manouche::forms::Form` for a struct with named fields: each
/// field is a form field, its type saying what it accepts and how it is
/// drawn, `#[form(...)]` adding checks and presentation.
///
/// See the `manouche::forms` module for the options.
#[proc_macro_derive(Form, attributes(form))]
pub fn derive_form(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    form::derive(&input).into()
}

/// Derives `axum::response::IntoResponse` for an askama template, so that a
/// handler returns the template itself: `Ok(Index { articles })`.
///
/// Rendering answers `200 OK` with the template's `Content-Type`, taken from
/// the template file's extension (`text/html; charset=utf-8` for `.html`;
/// `ext = "..."` for an inline `source`) or given by hand with
/// `#[template_response(content_type = "...")]`; a rendering error answers
/// the project's 500 page, with the reason in debug. Derive askama's
/// `Template` too: `#[derive(Template, TemplateResponse)]`.
///
/// See `manouche::templates::render_response` for the extensions known.
#[proc_macro_derive(TemplateResponse, attributes(template_response))]
pub fn derive_template_response(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    template_response::derive(&input).into()
}

/// The project's migration files compiled into the binary:
/// `embed_migrations!("../migrations")` (relative to the crate's
/// `Cargo.toml`), given to `Project::migrations`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let path = syn::parse_macro_input!(input as syn::LitStr);
    embed_migrations::expand(&path).into()
}
