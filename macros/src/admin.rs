//! `#[derive(Admin)]`: parse the `#[admin(...)]` options next to a model,
//! validate them against the struct's fields (a name that is not a field
//! is an error on that name), then generate
//! `manouche::contrib::admin::Admin`, whose `admin()` chains the same
//! options on a `ModelAdmin`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, ExprArray, ExprLit, ExprTuple, Fields, Lit, LitStr};

use crate::model::parse::Errors;

const OPTIONS: &str = "list_display, list_display_links, computed, search_fields, list_filter, \
     date_hierarchy, ordering, fields, exclude, fieldsets, readonly, autocomplete_fields, per_page, max_show_all, \
     title, actions, delete_selected, inlines";

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(err) => err.into_compile_error(),
    }
}

/// A list of field names, each with its span.
type Names = Vec<LitStr>;

#[derive(Default)]
struct Options {
    list_display: Option<Names>,
    list_display_links: Option<Names>,
    computed: Vec<(LitStr, LitStr, syn::Path)>,
    search_fields: Option<Names>,
    list_filter: Option<Names>,
    date_hierarchy: Option<LitStr>,
    ordering: Option<Names>,
    fields: Option<Names>,
    exclude: Option<Names>,
    fieldsets: Option<Vec<(LitStr, Names)>>,
    readonly: Option<Names>,
    autocomplete_fields: Option<Names>,
    per_page: Option<(u64, Span)>,
    max_show_all: Option<(u64, Span)>,
    title: Option<syn::Path>,
    actions: Vec<syn::Path>,
    delete_selected: Option<bool>,
    inlines: Vec<syn::Type>,
}

fn names(expr: &Expr, option: &str) -> syn::Result<Names> {
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            format!("`{option}` expects a list of field names: `{option} = [\"title\"]`"),
        ));
    };
    elems.iter().map(|e| string(e, option)).collect()
}

fn string(expr: &Expr, option: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{option}` expects text in double quotes here"),
        )),
    }
}

fn positive(expr: &Expr, option: &str) -> syn::Result<(u64, Span)> {
    if let Expr::Lit(ExprLit {
        lit: Lit::Int(i), ..
    }) = expr
    {
        let n: u64 = i.base10_parse()?;
        if n > 0 {
            return Ok((n, i.span()));
        }
    }
    Err(syn::Error::new(
        expr.span(),
        format!("`{option}` expects a positive integer, e.g. `{option} = 50`"),
    ))
}

fn paths(expr: &Expr, option: &str) -> syn::Result<Vec<syn::Path>> {
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            format!("`{option}` expects a list: `{option} = [publish]`"),
        ));
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Path(p) => Ok(p.path.clone()),
            other => Err(syn::Error::new(
                other.span(),
                format!("`{option}` expects names of functions or types here"),
            )),
        })
        .collect()
}

/// `[("Text", ["title", "body"]), ...]`.
fn fieldsets(expr: &Expr) -> syn::Result<Vec<(LitStr, Names)>> {
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            "`fieldsets` expects a list of (title, fields): `fieldsets = [(\"Text\", [\"title\"])]`",
        ));
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Tuple(ExprTuple { elems, .. }) if elems.len() == 2 => Ok((
                string(&elems[0], "fieldsets")?,
                names(&elems[1], "fieldsets")?,
            )),
            other => Err(syn::Error::new(
                other.span(),
                "each fieldset is a (title, [fields]) pair",
            )),
        })
        .collect()
}

/// `[("words", "Words", word_count), ...]`.
fn computed(expr: &Expr) -> syn::Result<Vec<(LitStr, LitStr, syn::Path)>> {
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            "`computed` expects a list of (name, header, function): \
             `computed = [(\"words\", \"Words\", word_count)]`",
        ));
    };
    elems
        .iter()
        .map(|e| match e {
            Expr::Tuple(ExprTuple { elems, .. }) if elems.len() == 3 => {
                let Expr::Path(f) = &elems[2] else {
                    return Err(syn::Error::new(
                        elems[2].span(),
                        "the third item is a function `fn(&Model) -> String`",
                    ));
                };
                Ok((
                    string(&elems[0], "computed")?,
                    string(&elems[1], "computed")?,
                    f.path.clone(),
                ))
            }
            other => Err(syn::Error::new(
                other.span(),
                "each computed column is a (name, header, function) triple",
            )),
        })
        .collect()
}

fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("`{name}` is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse(input: &DeriveInput) -> syn::Result<Options> {
    let mut opts = Options::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("admin")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            let span = meta.path.span();
            let expr: Expr = meta.value()?.parse()?;
            match key.as_str() {
                "list_display" => set_once(&mut opts.list_display, names(&expr, &key)?, span, &key),
                "list_display_links" => set_once(
                    &mut opts.list_display_links,
                    names(&expr, &key)?,
                    span,
                    &key,
                ),
                "computed" => {
                    opts.computed.extend(computed(&expr)?);
                    Ok(())
                }
                "search_fields" => {
                    set_once(&mut opts.search_fields, names(&expr, &key)?, span, &key)
                }
                "list_filter" => set_once(&mut opts.list_filter, names(&expr, &key)?, span, &key),
                "date_hierarchy" => {
                    set_once(&mut opts.date_hierarchy, string(&expr, &key)?, span, &key)
                }
                "ordering" => set_once(&mut opts.ordering, names(&expr, &key)?, span, &key),
                "fields" => set_once(&mut opts.fields, names(&expr, &key)?, span, &key),
                "exclude" => set_once(&mut opts.exclude, names(&expr, &key)?, span, &key),
                "fieldsets" => set_once(&mut opts.fieldsets, fieldsets(&expr)?, span, &key),
                "readonly" => set_once(&mut opts.readonly, names(&expr, &key)?, span, &key),
                "autocomplete_fields" => set_once(
                    &mut opts.autocomplete_fields,
                    names(&expr, &key)?,
                    span,
                    &key,
                ),
                "per_page" => set_once(&mut opts.per_page, positive(&expr, &key)?, span, &key),
                "max_show_all" => {
                    set_once(&mut opts.max_show_all, positive(&expr, &key)?, span, &key)
                }
                "title" => match &expr {
                    Expr::Path(p) => set_once(&mut opts.title, p.path.clone(), span, &key),
                    other => Err(syn::Error::new(
                        other.span(),
                        "`title` names a function `fn(&Model) -> String`",
                    )),
                },
                "actions" => {
                    opts.actions.extend(paths(&expr, &key)?);
                    Ok(())
                }
                "delete_selected" => match &expr {
                    Expr::Lit(ExprLit {
                        lit: Lit::Bool(b), ..
                    }) => set_once(&mut opts.delete_selected, b.value, span, &key),
                    other => Err(syn::Error::new(
                        other.span(),
                        "`delete_selected` is `true` or `false`",
                    )),
                },
                "inlines" => {
                    for path in paths(&expr, &key)? {
                        opts.inlines
                            .push(syn::Type::Path(syn::TypePath { qself: None, path }));
                    }
                    Ok(())
                }
                other => Err(syn::Error::new(
                    span,
                    format!("unknown admin option `{other}`; expected one of: {OPTIONS}"),
                )),
            }
        })?;
    }
    Ok(opts)
}

/// Every name given is a field of the struct (or, in `list_display`, a
/// computed column); the name's own span carries the error.
fn validate(input: &DeriveInput, opts: &Options) -> syn::Result<()> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Admin)] goes on the model's struct",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Admin)] needs a struct with named fields",
        ));
    };
    let fields: Vec<String> = named
        .named
        .iter()
        .filter_map(|f| f.ident.as_ref().map(ToString::to_string))
        .collect();
    let computed: Vec<String> = opts.computed.iter().map(|(n, _, _)| n.value()).collect();
    let mut errors = Errors::default();
    let mut check = |option: &str, name: &LitStr, strip: &[char], computed_ok: bool| {
        let value = name.value();
        let bare = value.trim_start_matches(strip);
        // A search path through relations (`author__username`) is checked
        // here up to its first step, the rest by `manage check`.
        let bare = if option == "search_fields" {
            bare.split("__").next().unwrap_or(bare)
        } else {
            bare
        };
        if fields.iter().any(|f| f == bare) || (computed_ok && computed.iter().any(|c| c == bare)) {
            return;
        }
        errors.error(
            name.span(),
            format!(
                "`{option}` names `{bare}`, which is not a field of {}{}",
                input.ident,
                if computed_ok {
                    " nor a computed column"
                } else {
                    ""
                }
            ),
        );
    };
    for name in opts.list_display.iter().flatten() {
        check("list_display", name, &[], true);
    }
    for name in opts.list_display_links.iter().flatten() {
        check("list_display_links", name, &[], true);
    }
    for name in opts.search_fields.iter().flatten() {
        check("search_fields", name, &['^', '='], false);
    }
    for (option, list) in [
        ("list_filter", &opts.list_filter),
        ("fields", &opts.fields),
        ("exclude", &opts.exclude),
        ("readonly", &opts.readonly),
        ("autocomplete_fields", &opts.autocomplete_fields),
    ] {
        for name in list.iter().flatten() {
            check(option, name, &[], false);
        }
    }
    for name in opts.ordering.iter().flatten() {
        check("ordering", name, &['-'], false);
    }
    for name in opts.date_hierarchy.iter() {
        check("date_hierarchy", name, &[], false);
    }
    for (_, names) in opts.fieldsets.iter().flatten() {
        for name in names {
            check("fieldsets", name, &[], false);
        }
    }
    if let (Some(fields), Some(sets)) = (&opts.fields, &opts.fieldsets)
        && let (Some(first), Some(_)) = (fields.first(), sets.first())
    {
        errors.error(
            first.span(),
            "give `fields` or `fieldsets`, not both: the fieldsets name the form's fields",
        );
    }
    errors.finish()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let opts = parse(input)?;
    validate(input, &opts)?;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let list = |method: &str, names: &Option<Names>| -> TokenStream {
        match names {
            Some(names) => {
                let method = syn::Ident::new(method, Span::call_site());
                quote!(.#method(&[#(#names),*]))
            }
            None => quote!(),
        }
    };
    let mut chain = TokenStream::new();
    for (method, names) in [
        ("list_display", &opts.list_display),
        ("list_display_links", &opts.list_display_links),
        ("search_fields", &opts.search_fields),
        ("list_filter", &opts.list_filter),
        ("ordering", &opts.ordering),
        ("fields", &opts.fields),
        ("exclude", &opts.exclude),
        ("readonly", &opts.readonly),
        ("autocomplete_fields", &opts.autocomplete_fields),
    ] {
        chain.extend(list(method, names));
    }
    for (name, label, f) in &opts.computed {
        chain.extend(quote_spanned!(f.span()=> .computed(#name, #label, #f)));
    }
    if let Some(field) = &opts.date_hierarchy {
        chain.extend(quote!(.date_hierarchy(#field)));
    }
    if let Some(sets) = &opts.fieldsets {
        let sets = sets
            .iter()
            .map(|(title, names)| quote!((#title, &[#(#names),*][..])));
        chain.extend(quote!(.fieldsets(&[#(#sets),*])));
    }
    if let Some((n, span)) = opts.per_page {
        chain.extend(quote_spanned!(span=> .per_page(#n)));
    }
    if let Some((n, span)) = opts.max_show_all {
        chain.extend(quote_spanned!(span=> .max_show_all(#n)));
    }
    if let Some(title) = &opts.title {
        chain.extend(quote_spanned!(title.span()=> .title(#title)));
    }
    for action in &opts.actions {
        chain.extend(quote_spanned!(action.span()=> .action(#action())));
    }
    if let Some(offered) = opts.delete_selected {
        chain.extend(quote!(.delete_selected(#offered)));
    }
    for inline in &opts.inlines {
        chain.extend(quote_spanned!(inline.span()=>
            .inline(::manouche::contrib::admin::TabularInline::<#inline>::new())
        ));
    }
    Ok(quote! {
        impl #impl_generics ::manouche::contrib::admin::Admin for #ident #ty_generics #where_clause {
            fn admin() -> ::manouche::contrib::admin::ModelAdmin<Self> {
                ::manouche::contrib::admin::ModelAdmin::<Self>::new() #chain
            }
        }
    })
}
