//! `#[derive(Form)]`: parse the struct and its `#[form(...)]` attributes,
//! validate them (unknown or repeated options, a regex that does not
//! compile, bounds that contradict each other), then generate
//! `manouche::forms::Form`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, ExprLit, ExprUnary, Fields, Lit, LitStr, UnOp};

use crate::model::parse::Errors;

const FIELD_OPTIONS: &str = "label, help_text, required, disabled, initial, widget, max_length, \
     min_length, min_value, max_value, max_digits, decimal_places, email, url, slug, regex, \
     choices, input_formats, strip, validators";

const WIDGETS: &[&str] = &[
    "text",
    "textarea",
    "password",
    "hidden",
    "email",
    "url",
    "number",
    "date",
    "time",
    "datetime",
    "file",
    "checkbox",
    "select",
    "select_multiple",
    "radio_select",
    "checkbox_select_multiple",
];

/// A `min_value` / `max_value`: its tokens as a `Limit`.
struct Bound {
    tokens: TokenStream,
    span: Span,
    number: Option<f64>,
}

#[derive(Default)]
struct FieldOptions {
    label: Option<LitStr>,
    help_text: Option<LitStr>,
    required: Option<(bool, Span)>,
    disabled: Option<Span>,
    initial: Option<LitStr>,
    widget: Option<syn::Ident>,
    max_length: Option<(usize, Span)>,
    min_length: Option<(usize, Span)>,
    min_value: Option<Bound>,
    max_value: Option<Bound>,
    max_digits: Option<(u32, Span)>,
    decimal_places: Option<(u32, Span)>,
    email: Option<Span>,
    url: Option<Span>,
    slug: Option<Span>,
    regex: Option<LitStr>,
    choices: Option<Vec<(LitStr, LitStr)>>,
    input_formats: Option<Vec<LitStr>>,
    strip: Option<(bool, Span)>,
    validators: Vec<syn::Path>,
}

struct FormField {
    ident: syn::Ident,
    ty: syn::Type,
    opts: FieldOptions,
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(err) => err.into_compile_error(),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("`{name}` is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn positive<T: std::str::FromStr>(expr: &Expr, name: &str, zero_ok: bool) -> syn::Result<T>
where
    T::Err: std::fmt::Display,
{
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(i), ..
    }) = expr
        && (zero_ok || i.base10_digits() != "0")
    {
        return i.base10_parse::<T>();
    }
    Err(syn::Error::new(
        expr.span(),
        format!("`{name}` expects a positive integer, e.g. `{name} = 10`"),
    ))
}

fn bool_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(syn::Token![=]) {
        let lit: syn::LitBool = meta.value()?.parse()?;
        Ok(lit.value)
    } else {
        Ok(true)
    }
}

fn bound(expr: &Expr, name: &str) -> syn::Result<Bound> {
    let (negative, lit) = match expr {
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => (true, &**expr),
        other => (false, other),
    };
    let sign = if negative { quote!(-) } else { quote!() };
    let span = expr.span();
    match lit {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let n: i128 = i.base10_parse()?;
            let n = if negative { -n } else { n };
            #[allow(clippy::cast_precision_loss)]
            Ok(Bound {
                tokens: quote!(::manouche::forms::Limit::Int(#n)),
                span,
                number: Some(n as f64),
            })
        }
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => {
            let n: f64 = f.base10_parse()?;
            let digits = syn::LitFloat::new(&format!("{n:?}"), f.span());
            Ok(Bound {
                tokens: quote!(::manouche::forms::Limit::Float(#sign #digits)),
                span,
                number: Some(if negative { -n } else { n }),
            })
        }
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) if !negative => Ok(Bound {
            tokens: quote!(::manouche::forms::Limit::Text(#s)),
            span,
            number: None,
        }),
        _ => Err(syn::Error::new(
            span,
            format!(
                "`{name}` expects a number, or a date or time as text: `{name} = 1`, `{name} = \"2024-01-31\"`"
            ),
        )),
    }
}

fn str_list(expr: &Expr, name: &str) -> syn::Result<Vec<LitStr>> {
    let err = || {
        syn::Error::new(
            expr.span(),
            format!("`{name}` expects a list of strings: `{name} = [\"...\"]`"),
        )
    };
    let Expr::Array(array) = expr else {
        return Err(err());
    };
    array
        .elems
        .iter()
        .map(|e| match e {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s.clone()),
            _ => Err(err()),
        })
        .collect()
}

fn choice_list(expr: &Expr) -> syn::Result<Vec<(LitStr, LitStr)>> {
    let err = |span: Span| {
        syn::Error::new(
            span,
            "`choices` expects a list of (value, label) pairs: `choices = [(\"a\", \"Apple\")]`",
        )
    };
    let Expr::Array(array) = expr else {
        return Err(err(expr.span()));
    };
    let mut out: Vec<(LitStr, LitStr)> = Vec::new();
    for e in &array.elems {
        let Expr::Tuple(t) = e else {
            return Err(err(e.span()));
        };
        let items: Vec<_> = t.elems.iter().collect();
        match items.as_slice() {
            [
                Expr::Lit(ExprLit {
                    lit: Lit::Str(v), ..
                }),
                Expr::Lit(ExprLit {
                    lit: Lit::Str(l), ..
                }),
            ] => {
                if out.iter().any(|(seen, _)| seen.value() == v.value()) {
                    return Err(syn::Error::new(
                        v.span(),
                        format!("the choice `{}` is listed twice", v.value()),
                    ));
                }
                out.push((v.clone(), l.clone()));
            }
            _ => return Err(err(e.span())),
        }
    }
    if out.is_empty() {
        return Err(err(expr.span()));
    }
    Ok(out)
}

fn parse_field(field: &syn::Field, errors: &mut Errors) -> FieldOptions {
    let mut opts = FieldOptions::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("form")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                "label" | "help_text" | "initial" => {
                    let value: LitStr = meta.value()?.parse()?;
                    let slot = match name.as_str() {
                        "label" => &mut opts.label,
                        "help_text" => &mut opts.help_text,
                        _ => &mut opts.initial,
                    };
                    set_once(slot, value, span, &name)
                }
                "required" => set_once(&mut opts.required, (bool_value(&meta)?, span), span, &name),
                "strip" => set_once(&mut opts.strip, (bool_value(&meta)?, span), span, &name),
                "disabled" => set_once(&mut opts.disabled, span, span, &name),
                "email" => set_once(&mut opts.email, span, span, &name),
                "url" => set_once(&mut opts.url, span, span, &name),
                "slug" => set_once(&mut opts.slug, span, span, &name),
                "widget" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let ident = match &expr {
                        Expr::Path(p) => p.path.get_ident().cloned(),
                        _ => None,
                    };
                    match ident {
                        Some(w) if WIDGETS.contains(&w.to_string().as_str()) => {
                            set_once(&mut opts.widget, w, span, &name)
                        }
                        _ => Err(syn::Error::new(
                            expr.span(),
                            format!("unknown widget; expected one of: {}", WIDGETS.join(", ")),
                        )),
                    }
                }
                "max_length" | "min_length" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let n = positive::<usize>(&expr, &name, name == "min_length")?;
                    let slot = if name == "max_length" {
                        &mut opts.max_length
                    } else {
                        &mut opts.min_length
                    };
                    set_once(slot, (n, expr.span()), span, &name)
                }
                "max_digits" | "decimal_places" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let n = positive::<u32>(&expr, &name, name == "decimal_places")?;
                    let slot = if name == "max_digits" {
                        &mut opts.max_digits
                    } else {
                        &mut opts.decimal_places
                    };
                    set_once(slot, (n, expr.span()), span, &name)
                }
                "min_value" | "max_value" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let b = bound(&expr, &name)?;
                    let slot = if name == "min_value" {
                        &mut opts.min_value
                    } else {
                        &mut opts.max_value
                    };
                    set_once(slot, b, span, &name)
                }
                "regex" => {
                    let pattern: LitStr = meta.value()?.parse()?;
                    if let Err(e) = regex_syntax::Parser::new().parse(&pattern.value()) {
                        return Err(syn::Error::new(
                            pattern.span(),
                            format!("this regex does not compile: {e}"),
                        ));
                    }
                    set_once(&mut opts.regex, pattern, span, &name)
                }
                "choices" => {
                    let list = choice_list(&meta.value()?.parse()?)?;
                    set_once(&mut opts.choices, list, span, &name)
                }
                "input_formats" => {
                    let list = str_list(&meta.value()?.parse()?, &name)?;
                    set_once(&mut opts.input_formats, list, span, &name)
                }
                "validators" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let Expr::Array(array) = &expr else {
                        return Err(syn::Error::new(
                            expr.span(),
                            "`validators` expects a list of functions: `validators = [check_name]`",
                        ));
                    };
                    for e in &array.elems {
                        match e {
                            Expr::Path(p) => opts.validators.push(p.path.clone()),
                            _ => {
                                return Err(syn::Error::new(
                                    e.span(),
                                    "a validator is a function's path: `fn(&T) -> Result<(), ValidationError>`",
                                ));
                            }
                        }
                    }
                    Ok(())
                }
                _ => Err(meta.error(format!(
                    "unknown form option `{name}`; expected one of: {FIELD_OPTIONS}"
                ))),
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    check_field(&opts, errors);
    opts
}

/// Options that contradict each other.
fn check_field(opts: &FieldOptions, errors: &mut Errors) {
    if let (Some((min, span)), Some((max, _))) = (opts.min_length, opts.max_length)
        && min > max
    {
        errors.error(
            span,
            format!("`min_length = {min}` is more than `max_length = {max}`"),
        );
    }
    if let (Some(min), Some(max)) = (&opts.min_value, &opts.max_value)
        && let (Some(a), Some(b)) = (min.number, max.number)
        && a > b
    {
        errors.error(min.span, "`min_value` is more than `max_value`");
    }
    if let (Some((digits, span)), Some((places, _))) = (opts.max_digits, opts.decimal_places)
        && places > digits
    {
        errors.error(
            span,
            format!("`decimal_places = {places}` is more than `max_digits = {digits}`"),
        );
    }
    let formats = [opts.email, opts.url, opts.slug];
    if formats.iter().flatten().count() > 1 {
        let span = formats
            .iter()
            .flatten()
            .nth(1)
            .copied()
            .unwrap_or_else(Span::call_site);
        errors.error(span, "choose one of `email`, `url` and `slug`");
    }
    if let (Some(span), Some(_)) = (opts.disabled, &opts.required) {
        errors.error(span, "a disabled field is never submitted: drop `required`");
    }
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`#[derive(Form)]` needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            data.fields.span(),
            "`#[derive(Form)]` needs named fields: each field is a form field called by its name",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "`#[derive(Form)]` does not take generic parameters",
        ));
    }
    let mut errors = Errors::default();
    let mut clean = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("form")) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("clean") {
                let expr: Expr = meta.value()?.parse()?;
                match expr {
                    Expr::Path(p) => set_once(&mut clean, p.path, meta.path.span(), "clean"),
                    other => Err(syn::Error::new(
                        other.span(),
                        "`clean` expects a function's path: `clean = Self::check`",
                    )),
                }
            } else {
                Err(meta.error("unknown form option on the struct; expected `clean = path`"))
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    let fields: Vec<FormField> = named
        .named
        .iter()
        .map(|f| FormField {
            ident: f.ident.clone().expect("named fields have names"),
            ty: f.ty.clone(),
            opts: parse_field(f, &mut errors),
        })
        .collect();
    if fields.is_empty() {
        errors.error(input.ident.span(), "a form needs at least one field");
    }
    errors.finish()?;

    let ident = &input.ident;
    let describe = fields.iter().map(describe_field);
    let cleans = fields.iter().enumerate().map(|(i, f)| clean_field(i, f));
    let names = fields.iter().map(|f| &f.ident);
    let names2 = names.clone();
    let to_form = fields.iter().map(|f| {
        let (name, ty, field) = (f.ident.to_string(), &f.ty, &f.ident);
        quote!((#name, <#ty as ::manouche::forms::FieldValue>::to_form(&self.#field)))
    });
    let run_clean = clean.map(|path| {
        quote_spanned! {path.span()=>
            let check: fn(&mut Self, &mut ::manouche::forms::FormErrors) = #path;
            check(&mut value, cleaner.errors());
        }
    });
    Ok(quote! {
        impl ::manouche::forms::Form for #ident {
            fn fields() -> ::std::vec::Vec<::manouche::forms::Field> {
                ::std::vec![#(#describe),*]
            }

            fn clean(cleaner: &mut ::manouche::forms::Cleaner<'_>) -> ::core::option::Option<Self> {
                #(#cleans)*
                #[allow(unused_mut)]
                let mut value = Self { #(#names: #names2?),* };
                #run_clean
                ::core::option::Option::Some(value)
            }

            fn to_form(&self) -> ::std::vec::Vec<(&'static str, ::std::vec::Vec<::std::string::String>)> {
                ::std::vec![#(#to_form),*]
            }
        }
    })
}

fn describe_field(f: &FormField) -> TokenStream {
    let name = f.ident.to_string();
    let ty = &f.ty;
    let o = &f.opts;
    let mut steps = Vec::new();
    let widget = o.widget.clone().or_else(|| {
        o.email
            .map(|s| syn::Ident::new("email", s))
            .or_else(|| o.url.map(|s| syn::Ident::new("url", s)))
    });
    if let Some(w) = widget {
        steps.push(quote!(f.set_widget(::manouche::forms::Widget::#w());));
    }
    if let Some(choices) = &o.choices {
        let pairs = choices.iter().map(
            |(v, l)| quote!((::std::borrow::Cow::Borrowed(#v), ::std::borrow::Cow::Borrowed(#l))),
        );
        steps.push(quote!(f.set_choices(::std::vec![#(#pairs),*]);));
    }
    if let Some((n, _)) = o.max_length {
        steps.push(quote!(f.set_max_length(#n);));
    }
    if let Some((n, _)) = o.min_length {
        steps.push(quote!(f.set_min_length(#n);));
    }
    if let Some(b) = &o.min_value {
        let t = &b.tokens;
        steps.push(quote!(f.set_min_value(#t);));
    }
    if let Some(b) = &o.max_value {
        let t = &b.tokens;
        steps.push(quote!(f.set_max_value(#t);));
    }
    if let Some((n, _)) = o.decimal_places {
        steps.push(quote!(f.set_decimal_places(#n);));
    }
    if let Some(l) = &o.label {
        steps.push(quote!(f.set_label(#l);));
    }
    if let Some(h) = &o.help_text {
        steps.push(quote!(f.set_help_text(#h);));
    }
    if let Some((r, _)) = o.required {
        steps.push(quote!(f.set_required(#r);));
    }
    if o.disabled.is_some() {
        steps.push(quote!(f.set_disabled(true);));
    }
    if let Some(i) = &o.initial {
        steps.push(quote!(f.set_initial(::std::vec![::std::string::ToString::to_string(#i)]);));
    }
    if let Some(formats) = &o.input_formats {
        steps.push(
            quote!(f.set_input_formats(::std::vec![#(::std::borrow::Cow::Borrowed(#formats)),*]);),
        );
    }
    if let Some((s, _)) = o.strip {
        steps.push(quote!(f.set_strip(#s);));
    }
    quote_spanned! {ty.span()=> {
        let mut f = ::manouche::forms::Field::new(#name);
        <#ty as ::manouche::forms::FieldValue>::describe(&mut f);
        #(#steps)*
        f
    }}
}

fn clean_field(index: usize, f: &FormField) -> TokenStream {
    let ident = &f.ident;
    let ty = &f.ty;
    let o = &f.opts;
    let v = quote!(::manouche::forms::validators);
    let mut checks = Vec::new();
    let mut check = |span: Span, call: TokenStream| {
        checks.push(quote_spanned! {span=>
            if let ::core::result::Result::Err(e) = #call {
                errors.push(e);
            }
        });
    };
    if let Some((n, span)) = o.min_length {
        check(span, quote_spanned!(span=> #v::min_length(value, #n)));
    }
    if let Some((n, span)) = o.max_length {
        check(span, quote_spanned!(span=> #v::max_length(value, #n)));
    }
    if let Some(b) = &o.min_value {
        let t = &b.tokens;
        check(b.span, quote_spanned!(b.span=> #v::min_value(value, #t)));
    }
    if let Some(b) = &o.max_value {
        let t = &b.tokens;
        check(b.span, quote_spanned!(b.span=> #v::max_value(value, #t)));
    }
    if o.max_digits.is_some() || o.decimal_places.is_some() {
        let span = o
            .max_digits
            .or(o.decimal_places)
            .map_or_else(Span::call_site, |(_, s)| s);
        let digits = o
            .max_digits
            .map_or_else(|| quote!(None), |(n, _)| quote!(Some(#n)));
        let places = o
            .decimal_places
            .map_or_else(|| quote!(None), |(n, _)| quote!(Some(#n)));
        check(
            span,
            quote_spanned!(span=> #v::decimal(value, #digits, #places)),
        );
    }
    if let Some(span) = o.email {
        check(span, quote_spanned!(span=> #v::email(value)));
    }
    if let Some(span) = o.url {
        check(span, quote_spanned!(span=> #v::url(value)));
    }
    if let Some(span) = o.slug {
        check(span, quote_spanned!(span=> #v::slug(value)));
    }
    if let Some(pattern) = &o.regex {
        let span = pattern.span();
        check(
            span,
            quote_spanned!(span=> {
                static REGEX: ::std::sync::LazyLock<::manouche::forms::__private::Regex> =
                    ::std::sync::LazyLock::new(|| {
                        ::manouche::forms::__private::Regex::new(#pattern)
                            .expect("the pattern was checked when the form compiled")
                    });
                #v::regex(value, &REGEX)
            }),
        );
    }
    for path in &o.validators {
        checks.push(quote_spanned! {path.span()=>
            if let ::core::result::Result::Err(e) = #path(value) {
                errors.push(::core::convert::Into::<::manouche::forms::ValidationError>::into(e));
            }
        });
    }
    let value_ty = quote_spanned!(ty.span()=> <#ty as ::manouche::forms::FieldValue>::Inner);
    quote! {
        let #ident = cleaner.field::<#ty>(#index, |value: &#value_ty| {
            let _ = value;
            #[allow(unused_mut)]
            let mut errors = ::std::vec::Vec::new();
            #(#checks)*
            errors
        });
    }
}
