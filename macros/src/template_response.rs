//! `#[derive(TemplateResponse)]`: an askama template that a handler can
//! return as it is. Parse → validate → generate, like the model derive.
//!
//! Parsing reads askama's own `#[template(...)]` attributes (only the keys
//! that say what format the template renders: `path`, `source`, `ext`,
//! `in_doc`) and our `#[template_response(...)]` options. Validation turns
//! the format into a `Content-Type`; askama 0.14 has no MIME information of
//! its own, so the type comes from the template file's extension (or
//! `ext`), through [`content_type_for`]. Generation writes an
//! `IntoResponse` impl that calls `manouche::templates::render_response`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Attribute, Data, DeriveInput, Ident, LitBool, LitStr};

use crate::model::parse::Errors;

/// Where the format of one template is decided: its `path`, or the `ext`
/// that goes with an inline `source` (or `in_doc`).
#[derive(Default, Clone)]
struct TemplateArgs {
    path: Option<LitStr>,
    /// `source = "..."` or `in_doc = true`: the format is `ext`.
    inline: bool,
    ext: Option<LitStr>,
}

impl TemplateArgs {
    /// A variant's arguments on top of the enum's, as askama combines them:
    /// the template source and `ext` are inherited when the variant has none.
    fn inherit(mut self, from: &Self) -> Self {
        if self.path.is_none() && !self.inline {
            self.path.clone_from(&from.path);
            self.inline = from.inline;
        }
        if self.ext.is_none() {
            self.ext.clone_from(&from.ext);
        }
        self
    }
}

/// `#[template_response(...)]`.
#[derive(Default)]
struct Options {
    content_type: Option<LitStr>,
}

/// A template of the type (the type's own, or an enum variant's) and the
/// name to show in errors.
struct Template {
    name: String,
    args: TemplateArgs,
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(err) => err.into_compile_error(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = parse_options(&input.attrs, &mut errors);
    let templates = match parse_templates(input) {
        Ok(templates) => templates,
        // A malformed `#[template]` is askama's to report; saying it twice
        // would only add noise.
        Err(_) => return Ok(TokenStream::new()),
    };
    let content_type = validate(input, &options, &templates, &mut errors);
    errors.finish()?;
    Ok(generate(input, &content_type))
}

// ---- parse ----

fn parse_options(attrs: &[Attribute], errors: &mut Errors) -> Options {
    let mut options = Options::default();
    for attr in attrs
        .iter()
        .filter(|a| a.path().is_ident("template_response"))
    {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("content_type") {
                let value: LitStr = meta.value()?.parse()?;
                if options.content_type.is_some() {
                    return Err(meta.error("`content_type` is given twice"));
                }
                options.content_type = Some(value);
                Ok(())
            } else {
                Err(meta
                    .error("unknown template_response option; expected `content_type = \"...\"`"))
            }
        });
        if let Err(err) = result {
            errors.push(err);
        }
    }
    options
}

/// The format-deciding keys of the `#[template(...)]` attributes in
/// `attrs`; `None` when there is no such attribute.
fn parse_template_args(attrs: &[Attribute]) -> syn::Result<Option<TemplateArgs>> {
    let mut found: Option<TemplateArgs> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("template")) {
        let args = found.get_or_insert_with(TemplateArgs::default);
        attr.parse_nested_meta(|meta| {
            let value = meta.value()?;
            if meta.path.is_ident("path") {
                args.path = Some(value.parse()?);
            } else if meta.path.is_ident("source") {
                value.parse::<LitStr>()?;
                args.inline = true;
            } else if meta.path.is_ident("in_doc") {
                if value.parse::<LitBool>()?.value {
                    args.inline = true;
                }
            } else if meta.path.is_ident("ext") {
                args.ext = Some(value.parse()?);
            } else {
                // askama's other keys (`escape`, `block`, `askama = path`,
                // `blocks = [...]`...) do not change the format.
                value.parse::<syn::Expr>()?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// The type's templates: the struct's, or for an enum its own (if any) and
/// each variant's, combined as askama combines them.
fn parse_templates(input: &DeriveInput) -> syn::Result<Vec<Template>> {
    let own = parse_template_args(&input.attrs)?;
    let mut templates = Vec::new();
    if let Data::Enum(data) = &input.data {
        let mut variants_all_own = !data.variants.is_empty();
        for variant in &data.variants {
            match parse_template_args(&variant.attrs)? {
                Some(args) => {
                    let args = match &own {
                        Some(own) => args.inherit(own),
                        None => args,
                    };
                    templates.push(Template {
                        name: format!("variant `{}`", variant.ident),
                        args,
                    });
                }
                None => variants_all_own = false,
            }
        }
        // The enum's own template renders the variants that have none.
        if let (Some(own), false) = (own, variants_all_own) {
            templates.insert(
                0,
                Template {
                    name: format!("`{}`", input.ident),
                    args: own,
                },
            );
        }
    } else if let Some(own) = own {
        templates.push(Template {
            name: format!("`{}`", input.ident),
            args: own,
        });
    }
    Ok(templates)
}

// ---- validate ----

/// The extensions askama reads as "a template engine's file" rather than
/// as a format (`index.html.j2` is HTML).
const JINJA_EXTENSIONS: &[&str] = &["askama", "j2", "jinja", "jinja2", "rinja"];

/// The `Content-Type` of a template rendering files with extension `ext`
/// (without the dot, lowercase); `None` for an extension we do not know.
pub(crate) fn content_type_for(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml; charset=utf-8",
        "rss" => "application/rss+xml; charset=utf-8",
        "atom" => "application/atom+xml; charset=utf-8",
        "svg" => "image/svg+xml; charset=utf-8",
        "yml" | "yaml" => "application/yaml; charset=utf-8",
        // askama escapes these as HTML (`page.j2`).
        e if JINJA_EXTENSIONS.contains(&e) => "text/html; charset=utf-8",
        _ => return None,
    })
}

/// The format of a template file name: its extension, or the one before a
/// template engine's extension (`index.html.j2` → `html`). `None` when the
/// name has no extension.
pub(crate) fn format_of_path(path: &str) -> Option<String> {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let mut parts: Vec<String> = file
        .split('.')
        .skip(1)
        .map(str::to_ascii_lowercase)
        .collect();
    let last = parts.pop()?;
    match parts.pop() {
        Some(before) if JINJA_EXTENSIONS.contains(&last.as_str()) => Some(before),
        _ => Some(last),
    }
}

/// A `Content-Type` given by hand must be a valid header value.
fn is_header_value(text: &str) -> bool {
    !text.trim().is_empty()
        && text
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

fn validate(
    input: &DeriveInput,
    options: &Options,
    templates: &[Template],
    errors: &mut Errors,
) -> String {
    if templates.is_empty() {
        errors.error(
            input.ident.span(),
            "`#[derive(TemplateResponse)]` needs askama's `#[template(path = \"...\")]` on the \
             type; derive both: `#[derive(Template, TemplateResponse)]`",
        );
        return String::new();
    }
    if let Some(lit) = &options.content_type {
        let value = lit.value();
        if !is_header_value(&value) {
            errors.error(
                lit.span(),
                format!(
                    "`{}` is not a valid Content-Type header value (printable ASCII, not empty)",
                    value.escape_default()
                ),
            );
        }
        return value;
    }
    // (content type, extension, template name) of the first template.
    let mut first: Option<(&'static str, String, &str)> = None;
    for template in templates {
        let args = &template.args;
        let (format, span) = match (&args.path, &args.ext) {
            (Some(path), _) if !args.inline => (format_of_path(&path.value()), path.span()),
            (_, Some(ext)) => (Some(ext.value().to_ascii_lowercase()), ext.span()),
            // askama reports the missing `path`/`ext` itself.
            _ => continue,
        };
        let Some(format) = format else {
            errors.error(
                span,
                "the template file has no extension to take the Content-Type from; name it \
                 with `#[template_response(content_type = \"...\")]`",
            );
            continue;
        };
        let Some(content_type) = content_type_for(&format) else {
            errors.error(
                span,
                format!(
                    "no Content-Type is known for `.{format}` templates; name it with \
                     `#[template_response(content_type = \"...\")]`"
                ),
            );
            continue;
        };
        match &first {
            None => first = Some((content_type, format, &template.name)),
            Some((first_type, first_format, first_name)) if *first_type != content_type => {
                errors.error(
                    span,
                    format!(
                        "{} renders `.{format}` but {first_name} renders `.{first_format}`, and \
                         a response has one Content-Type; use one format, or name it with \
                         `#[template_response(content_type = \"...\")]`",
                        template.name
                    ),
                );
            }
            Some(_) => {}
        }
    }
    first.map(|(t, _, _)| t.to_owned()).unwrap_or_default()
}

// ---- generate ----

fn generate(input: &DeriveInput, content_type: &str) -> TokenStream {
    let ident: &Ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let content_type = LitStr::new(content_type, Span::call_site());
    // A plain type can be replaced by the project's own template (which
    // is looked up by type, so it needs a `'static` type).
    let render = if input.generics.params.is_empty() {
        quote!(::manouche::templates::render_page_response)
    } else {
        quote!(::manouche::templates::render_response)
    };
    quote! {
        impl #impl_generics ::manouche::templates::__private::IntoResponse
            for #ident #ty_generics #where_clause
        {
            fn into_response(self) -> ::manouche::templates::__private::Response {
                #render(&self, #content_type)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_the_extension_before_a_template_engines_own() {
        assert_eq!(format_of_path("blog/index.html").as_deref(), Some("html"));
        assert_eq!(format_of_path("feed.XML").as_deref(), Some("xml"));
        assert_eq!(
            format_of_path("blog/index.html.j2").as_deref(),
            Some("html")
        );
        assert_eq!(format_of_path("page.jinja").as_deref(), Some("jinja"));
        assert_eq!(format_of_path("v1.2/notes.txt").as_deref(), Some("txt"));
        assert_eq!(format_of_path("LICENSE"), None);
        assert_eq!(format_of_path("dir.d/LICENSE"), None);
    }

    #[test]
    fn known_formats_have_a_content_type_with_a_charset_where_text() {
        assert_eq!(content_type_for("html"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type_for("j2"), Some("text/html; charset=utf-8"));
        assert_eq!(content_type_for("txt"), Some("text/plain; charset=utf-8"));
        assert_eq!(content_type_for("json"), Some("application/json"));
        assert_eq!(content_type_for("tex"), None);
        assert_eq!(content_type_for(""), None);
    }

    #[test]
    fn a_hand_written_content_type_must_be_a_header_value() {
        assert!(is_header_value("text/calendar; charset=utf-8"));
        assert!(!is_header_value(""));
        assert!(!is_header_value("text/html\n"));
        assert!(!is_header_value("texte/é"));
    }
}
