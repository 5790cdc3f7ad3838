//! Parsing: `#[model(...)]` attributes into plain data, collecting every
//! error with its span.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, ExprArray, ExprLit, Lit, LitStr, Path, Type};

/// Collects errors so that every mistake is reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

pub(crate) const MODEL_OPTIONS: &str = "table, app, ordering, unique_together, index, check, verbose_name, verbose_name_plural, \
     permissions, default_permissions, impl_default";
pub(crate) const FIELD_OPTIONS: &str = "primary_key, max_length, max_digits, decimal_places, unique, db_index, default, \
     default_fn, auto_now, auto_now_add, choices, db_column, blank, help_text, verbose_name, \
     on_delete, through, related_field, upload_to";

#[derive(Default)]
pub(crate) struct ModelOptions {
    pub(crate) table: Option<LitStr>,
    pub(crate) app: Option<LitStr>,
    pub(crate) ordering: Option<LitStr>,
    pub(crate) unique_together: Vec<Vec<LitStr>>,
    pub(crate) indexes: Vec<Vec<LitStr>>,
    /// `check(name = "...", sql = "...")`, repeatable.
    pub(crate) checks: Vec<(LitStr, LitStr)>,
    pub(crate) verbose_name: Option<LitStr>,
    pub(crate) verbose_name_plural: Option<LitStr>,
    /// `permissions = [("codename", "name"), ...]`.
    pub(crate) permissions: Option<Vec<(LitStr, LitStr)>>,
    /// `default_permissions = ["add", ...]`.
    pub(crate) default_permissions: Option<Vec<LitStr>>,
    pub(crate) impl_default: bool,
}

pub(crate) enum DefaultOpt {
    Lit(Lit),
    Function(Path),
}

#[derive(Default)]
pub(crate) struct FieldOptions {
    pub(crate) primary_key: Option<Span>,
    pub(crate) max_length: Option<(u32, Span)>,
    pub(crate) max_digits: Option<(u32, Span)>,
    pub(crate) decimal_places: Option<(u32, Span)>,
    pub(crate) unique: bool,
    pub(crate) db_index: bool,
    pub(crate) default: Option<(DefaultOpt, Span)>,
    pub(crate) auto_now: Option<Span>,
    pub(crate) auto_now_add: Option<Span>,
    pub(crate) choices: Option<Span>,
    pub(crate) db_column: Option<LitStr>,
    pub(crate) blank: bool,
    pub(crate) help_text: Option<LitStr>,
    pub(crate) verbose_name: Option<LitStr>,
    pub(crate) on_delete: Option<(syn::Ident, Span)>,
    pub(crate) through: Option<Path>,
    pub(crate) related_field: Option<LitStr>,
    pub(crate) upload_to: Option<LitStr>,
}

fn lit_str(expr: &Expr, option: &str) -> syn::Result<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        other => Err(syn::Error::new(
            other.span(),
            format!("`{option}` expects a string literal, e.g. `{option} = \"...\"`"),
        )),
    }
}

fn str_list(expr: &Expr, option: &str) -> syn::Result<Vec<LitStr>> {
    match expr {
        Expr::Array(ExprArray { elems, .. }) if !elems.is_empty() => {
            elems.iter().map(|e| lit_str(e, option)).collect()
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{option}` expects a list of field names, e.g. `{option} = [\"a\", \"b\"]`"),
        )),
    }
}

/// `[("codename", "name"), ...]`; every malformed entry is reported.
fn permission_list(expr: &Expr) -> syn::Result<Vec<(LitStr, LitStr)>> {
    const EXAMPLE: &str = "e.g. `permissions = [(\"publish_article\", \"Can publish articles\")]`";
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            format!("`permissions` expects a list of (codename, name) pairs, {EXAMPLE}"),
        ));
    };
    let mut errors = Errors::default();
    let mut pairs = Vec::new();
    for elem in elems {
        let pair = match elem {
            Expr::Tuple(t) if t.elems.len() == 2 => {
                let mut items = t.elems.iter().map(|e| match e {
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }) => Some(s.clone()),
                    _ => None,
                });
                items.next().flatten().zip(items.next().flatten())
            }
            _ => None,
        };
        match pair {
            Some(pair) => pairs.push(pair),
            None => errors.error(
                elem.span(),
                format!(
                    "a permission is a pair of string literals, (codename, human-readable name), {EXAMPLE}"
                ),
            ),
        }
    }
    errors.finish().map(|()| pairs)
}

/// `["add", "view"]`, possibly empty; every malformed entry is reported.
fn action_list(expr: &Expr) -> syn::Result<Vec<LitStr>> {
    const EXAMPLE: &str = "e.g. `default_permissions = [\"add\", \"change\", \"delete\", \"view\"]`, or `[]` for none";
    let Expr::Array(ExprArray { elems, .. }) = expr else {
        return Err(syn::Error::new(
            expr.span(),
            format!("`default_permissions` expects a list of actions, {EXAMPLE}"),
        ));
    };
    let mut errors = Errors::default();
    let mut actions = Vec::new();
    for elem in elems {
        match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => actions.push(s.clone()),
            other => errors.error(
                other.span(),
                format!("a default permission is an action as a string literal, {EXAMPLE}"),
            ),
        }
    }
    errors.finish().map(|()| actions)
}

fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("duplicate option `{name}`")));
    }
    *slot = Some(value);
    Ok(())
}

pub(crate) fn model_options(attrs: &[syn::Attribute], errors: &mut Errors) -> ModelOptions {
    let mut opts = ModelOptions::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let name = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match name.as_str() {
                "table" | "app" | "ordering" | "verbose_name" | "verbose_name_plural" => {
                    let value = lit_str(&meta.value()?.parse()?, &name)?;
                    let slot = match name.as_str() {
                        "table" => &mut opts.table,
                        "app" => &mut opts.app,
                        "ordering" => &mut opts.ordering,
                        "verbose_name" => &mut opts.verbose_name,
                        _ => &mut opts.verbose_name_plural,
                    };
                    set_once(slot, value, span, &name)
                }
                "permissions" => {
                    let list = permission_list(&meta.value()?.parse()?)?;
                    set_once(&mut opts.permissions, list, span, &name)
                }
                "default_permissions" => {
                    let list = action_list(&meta.value()?.parse()?)?;
                    set_once(&mut opts.default_permissions, list, span, &name)
                }
                "impl_default" => {
                    opts.impl_default = true;
                    Ok(())
                }
                "unique_together" => {
                    opts.unique_together
                        .push(str_list(&meta.value()?.parse()?, &name)?);
                    Ok(())
                }
                "index" => {
                    opts.indexes.push(str_list(&meta.value()?.parse()?, &name)?);
                    Ok(())
                }
                "check" => {
                    let (mut check_name, mut sql) = (None, None);
                    meta.parse_nested_meta(|inner| {
                        let key = inner
                            .path
                            .get_ident()
                            .map(ToString::to_string)
                            .unwrap_or_default();
                        let slot = match key.as_str() {
                            "name" => &mut check_name,
                            "sql" => &mut sql,
                            _ => {
                                return Err(inner.error(
                                    "unknown check option; expected `name = \"...\"` and `sql = \"...\"`",
                                ));
                            }
                        };
                        let value = lit_str(&inner.value()?.parse()?, &key)?;
                        set_once(slot, value, inner.path.span(), &key)
                    })?;
                    match (check_name, sql) {
                        (Some(n), Some(q)) => {
                            opts.checks.push((n, q));
                            Ok(())
                        }
                        _ => Err(meta.error(
                            "a check needs both `name = \"...\"` and `sql = \"...\"`: \
                             `check(name = \"price_not_negative\", sql = \"price >= 0\")`",
                        )),
                    }
                }
                _ => Err(meta.error(format!(
                    "unknown model option `{}`; expected one of: {MODEL_OPTIONS}",
                    meta.path.to_token_stream_string()
                ))),
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    opts
}

trait PathString {
    fn to_token_stream_string(&self) -> String;
}

impl PathString for Path {
    fn to_token_stream_string(&self) -> String {
        self.segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::")
    }
}

pub(crate) fn field_options(attrs: &[syn::Attribute], errors: &mut Errors) -> FieldOptions {
    let mut opts = FieldOptions::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
        let res = attr.parse_nested_meta(|meta| {
            let span = meta.path.span();
            let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match name.as_str() {
                "primary_key" => set_once(&mut opts.primary_key, span, span, &name),
                "auto_now" => set_once(&mut opts.auto_now, span, span, &name),
                "auto_now_add" => set_once(&mut opts.auto_now_add, span, span, &name),
                "choices" => set_once(&mut opts.choices, span, span, &name),
                "unique" => {
                    opts.unique = true;
                    Ok(())
                }
                "db_index" => {
                    opts.db_index = true;
                    Ok(())
                }
                "blank" => {
                    opts.blank = true;
                    Ok(())
                }
                "max_length" | "max_digits" | "decimal_places" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let n = match &expr {
                        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => {
                            i.base10_parse::<u32>().ok().filter(|n| *n > 0 || name == "decimal_places")
                        }
                        _ => None,
                    };
                    let slot = match name.as_str() {
                        "max_length" => &mut opts.max_length,
                        "max_digits" => &mut opts.max_digits,
                        _ => &mut opts.decimal_places,
                    };
                    match n {
                        Some(n) => set_once(slot, (n, expr.span()), span, &name),
                        None => Err(syn::Error::new(
                            expr.span(),
                            format!("`{name}` expects a positive integer, e.g. `{name} = 10`"),
                        )),
                    }
                }
                "default" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let value = match expr {
                        Expr::Lit(ExprLit { lit, .. }) if !matches!(lit, Lit::ByteStr(_) | Lit::Byte(_) | Lit::Char(_)) => {
                            DefaultOpt::Lit(lit)
                        }
                        Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr, .. }) => match *expr {
                            Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => {
                                let v = i.base10_parse::<i64>().map(|v| -v)?;
                                DefaultOpt::Lit(Lit::Int(syn::LitInt::new(&v.to_string(), i.span())))
                            }
                            Expr::Lit(ExprLit { lit: Lit::Float(f), .. }) => {
                                let v = f.base10_parse::<f64>().map(|v| -v)?;
                                DefaultOpt::Lit(Lit::Float(syn::LitFloat::new(&format!("{v:?}"), f.span())))
                            }
                            other => {
                                return Err(syn::Error::new(other.span(), "`default` expects a literal"));
                            }
                        },
                        Expr::Path(p) => DefaultOpt::Function(p.path),
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "`default` expects a literal (`default = false`, `default = 0`, \
                                 `default = \"draft\"`) or a function path (`default = my_default`)",
                            ));
                        }
                    };
                    set_once(&mut opts.default, (value, span), span, &name)
                }
                "default_fn" => {
                    let path: Path = meta.value()?.parse()?;
                    set_once(&mut opts.default, (DefaultOpt::Function(path), span), span, &name)
                }
                "db_column" | "help_text" | "verbose_name" | "related_field" | "upload_to" => {
                    let value = lit_str(&meta.value()?.parse()?, &name)?;
                    let slot = match name.as_str() {
                        "db_column" => &mut opts.db_column,
                        "help_text" => &mut opts.help_text,
                        "verbose_name" => &mut opts.verbose_name,
                        "upload_to" => &mut opts.upload_to,
                        _ => &mut opts.related_field,
                    };
                    set_once(slot, value, span, &name)
                }
                "on_delete" => {
                    let expr: Expr = meta.value()?.parse()?;
                    let ident = match &expr {
                        Expr::Path(p) => p.path.get_ident().cloned(),
                        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => s.parse::<syn::Ident>().ok(),
                        _ => None,
                    };
                    match ident {
                        Some(i) => set_once(&mut opts.on_delete, (i, expr.span()), span, &name),
                        None => Err(syn::Error::new(
                            expr.span(),
                            "`on_delete` expects one of: cascade, protect, restrict, set_null, \
                             set_default, do_nothing",
                        )),
                    }
                }
                "through" => {
                    let ty: Type = meta.value()?.parse()?;
                    match ty {
                        Type::Path(p) if p.qself.is_none() => set_once(&mut opts.through, p.path, span, &name),
                        other => Err(syn::Error::new(other.span(), "`through` expects a model type, e.g. `through = Membership`")),
                    }
                }
                _ => Err(meta.error(format!(
                    "unknown field option `{}`; expected one of: {FIELD_OPTIONS}",
                    meta.path.to_token_stream_string()
                ))),
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    opts
}
