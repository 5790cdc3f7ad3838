//! `#[derive(Model)]`: parse → validate → generate.
//!
//! Parsing turns the attributes into plain options ([`parse`]), validation
//! checks them against the fields and decides names (this file), and
//! generation writes the `Model` impl ([`generate`]). Every error carries the
//! span of the code it is about, and all errors are reported together.

mod generate;
pub(crate) mod parse;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, LitStr, PathArguments, Type};

use parse::{DefaultOpt, Errors, FieldOptions, ModelOptions};

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(err) => err.into_compile_error(),
    }
}

/// What a field is, decided from its type.
pub(crate) enum Kind {
    /// A plain column.
    Column,
    /// `ForeignKey<T>` / `OneToOne<T>`, possibly in an `Option`.
    ForeignKey {
        target: Type,
        one_to_one: bool,
        nullable: bool,
    },
    /// `ManyToMany<T>`.
    ManyToMany { target: Type },
    /// `Reverse<T>`.
    Reverse { target: Type },
}

pub(crate) struct FieldDef {
    pub(crate) ident: Ident,
    pub(crate) vis: syn::Visibility,
    pub(crate) ty: Type,
    pub(crate) kind: Kind,
    pub(crate) column: Option<String>,
    pub(crate) primary_key: bool,
    pub(crate) opts: FieldOptions,
    pub(crate) on_delete: &'static str,
    pub(crate) join: Option<(String, String, String)>,
}

pub(crate) struct ModelDef {
    pub(crate) ident: Ident,
    pub(crate) app: String,
    pub(crate) table: String,
    pub(crate) fields: Vec<FieldDef>,
    pub(crate) pk: usize,
    pub(crate) ordering: Vec<(String, bool)>,
    pub(crate) unique_together: Vec<Vec<String>>,
    pub(crate) indexes: Vec<Vec<String>>,
    /// Check constraints: `(name, SQL condition)`.
    pub(crate) checks: Vec<(String, String)>,
    pub(crate) verbose_name: String,
    pub(crate) verbose_name_plural: String,
    /// Custom `(codename, name)` permissions.
    pub(crate) permissions: Vec<(String, String)>,
    /// The actions that get a default permission.
    pub(crate) default_permissions: Vec<String>,
    pub(crate) impl_default: bool,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

/// `Wrapper<T>` → `T` when the type's last segment is `wrapper`.
pub(crate) fn generic_arg<'t>(ty: &'t Type, wrapper: &str) -> Option<&'t Type> {
    let seg = last_segment(ty)?;
    if seg.ident != wrapper {
        return None;
    }
    match &seg.arguments {
        PathArguments::AngleBracketed(args) if args.args.len() == 1 => match args.args.first() {
            Some(GenericArgument::Type(t)) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

fn is_named(ty: &Type, name: &str) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == name)
}

fn classify(ty: &Type) -> Kind {
    let (inner, nullable) = match generic_arg(ty, "Option") {
        Some(inner) => (inner, true),
        None => (ty, false),
    };
    if let Some(target) = generic_arg(inner, "ForeignKey") {
        return Kind::ForeignKey {
            target: target.clone(),
            one_to_one: false,
            nullable,
        };
    }
    if let Some(target) = generic_arg(inner, "OneToOne") {
        return Kind::ForeignKey {
            target: target.clone(),
            one_to_one: true,
            nullable,
        };
    }
    if !nullable {
        if let Some(target) = generic_arg(ty, "ManyToMany") {
            return Kind::ManyToMany {
                target: target.clone(),
            };
        }
        if let Some(target) = generic_arg(ty, "Reverse") {
            return Kind::Reverse {
                target: target.clone(),
            };
        }
    }
    Kind::Column
}

/// `BlogPost` → `blog_post`.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn type_name(ty: &Type) -> String {
    last_segment(ty)
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_identifier(lit: &LitStr, what: &str, errors: &mut Errors) -> String {
    let value = lit.value();
    if !is_identifier(&value) || value.len() > 63 {
        errors.error(
            lit.span(),
            format!("{what} `{value}` must be a SQL identifier: ASCII letters, digits and `_`, at most 63 characters"),
        );
    }
    value
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Some(named),
            _ => None,
        },
        _ => None,
    };
    let Some(named) = named else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`#[derive(Model)]` needs a struct with named fields",
        ));
    };
    if !input.generics.params.is_empty() {
        errors.error(
            input.generics.span(),
            "a model cannot have generic parameters",
        );
    }

    let mut option_errors = Errors::default();
    let opts = parse::model_options(&input.attrs, &mut option_errors);
    // A malformed `app`/`table` is reported once, not again as missing.
    let options_ok = option_errors.is_empty();
    if let Err(e) = option_errors.finish() {
        errors.push(e);
    }
    let model_name = input.ident.to_string();
    let app = match (&opts.app, &opts.table) {
        (Some(app), _) => check_identifier(app, "app label", &mut errors),
        (None, Some(table)) => {
            let t = table.value();
            t.split_once('_').map_or(t.clone(), |(a, _)| a.to_owned())
        }
        (None, None) if !options_ok => String::new(),
        (None, None) => {
            errors.error(
                input.ident.span(),
                format!(
                    "model `{model_name}` needs an app label or a table name: add \
                     `#[model(app = \"blog\")]` (table `blog_{}`) or `#[model(table = \"...\")]`",
                    snake(&model_name)
                ),
            );
            String::new()
        }
    };
    let table = match &opts.table {
        Some(t) => check_identifier(t, "table name", &mut errors),
        None => format!("{app}_{}", snake(&model_name)),
    };

    let mut fields = Vec::new();
    for field in &named.named {
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        let fopts = parse::field_options(&field.attrs, &mut errors);
        let kind = classify(&field.ty);
        let name = ident.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        let column = match &kind {
            Kind::ManyToMany { .. } | Kind::Reverse { .. } => None,
            Kind::ForeignKey { .. } => Some(match &fopts.db_column {
                Some(c) => check_identifier(c, "column name", &mut errors),
                None => format!("{name}_id"),
            }),
            Kind::Column => Some(match &fopts.db_column {
                Some(c) => check_identifier(c, "column name", &mut errors),
                None => name.clone(),
            }),
        };
        let auto = is_named(&field.ty, "Auto");
        let primary_key = fopts.primary_key.is_some() || auto;
        let on_delete = validate_field(&field.ty, &kind, &fopts, &mut errors);
        let join = match &kind {
            Kind::ManyToMany { target } if fopts.through.is_none() => {
                let source = snake(&model_name);
                let target = snake(&type_name(target));
                let (s, t) = if source == target {
                    (format!("from_{source}_id"), format!("to_{target}_id"))
                } else {
                    (format!("{source}_id"), format!("{target}_id"))
                };
                Some((format!("{table}_{name}"), s, t))
            }
            _ => None,
        };
        fields.push(FieldDef {
            ident,
            vis: field.vis.clone(),
            ty: field.ty.clone(),
            kind,
            column,
            primary_key,
            opts: fopts,
            on_delete,
            join,
        });
    }

    let pks: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.primary_key)
        .map(|(i, _)| i)
        .collect();
    let pk = match pks.as_slice() {
        [] => {
            errors.error(
                input.ident.span(),
                format!("model `{model_name}` has no primary key: add `pub id: Auto<i64>` or mark a field `#[model(primary_key)]`"),
            );
            0
        }
        [one] => *one,
        [first, rest @ ..] => {
            for i in rest {
                errors.error(
                    fields[*i].ident.span(),
                    format!(
                        "model `{model_name}` has two primary keys (`{}` and `{}`); keep one",
                        fields[*first].ident, fields[*i].ident
                    ),
                );
            }
            *first
        }
    };
    if let Some(f) = fields.get(pk)
        && f.column.is_none()
    {
        errors.error(
            f.ident.span(),
            "a many-to-many or reverse relation cannot be the primary key",
        );
    }

    let column_of = |name: &LitStr, errors: &mut Errors| -> String {
        let value = name.value();
        match fields
            .iter()
            .find(|f| f.ident == value.as_str() || f.column.as_deref() == Some(value.as_str()))
        {
            Some(f) => match &f.column {
                Some(c) => c.clone(),
                None => {
                    errors.error(
                        name.span(),
                        format!("`{value}` is a relation without a column"),
                    );
                    String::new()
                }
            },
            None => {
                let known: Vec<String> = fields
                    .iter()
                    .filter(|f| f.column.is_some())
                    .map(|f| f.ident.to_string())
                    .collect();
                errors.error(
                    name.span(),
                    format!(
                        "`{value}` is not a field of `{model_name}`; expected one of: {}",
                        known.join(", ")
                    ),
                );
                String::new()
            }
        }
    };

    let mut ordering = Vec::new();
    if let Some(lit) = &opts.ordering {
        for key in lit
            .value()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            let (desc, bare) = match key.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, key),
            };
            let column = column_of(&LitStr::new(bare, lit.span()), &mut errors);
            ordering.push((column, desc));
        }
    }
    let unique_together = opts
        .unique_together
        .iter()
        .map(|set| set.iter().map(|n| column_of(n, &mut errors)).collect())
        .collect();
    let indexes = opts
        .indexes
        .iter()
        .map(|set| set.iter().map(|n| column_of(n, &mut errors)).collect())
        .collect();

    let checks = check_constraints(&opts.checks, &mut errors);

    let verbose_name = opts
        .verbose_name
        .as_ref()
        .map_or_else(|| snake(&model_name).replace('_', " "), LitStr::value);
    let (permissions, default_permissions) =
        check_permissions(&input.ident, &verbose_name, &opts, &mut errors);

    errors.finish()?;

    let verbose_name_plural = opts
        .verbose_name_plural
        .as_ref()
        .map_or_else(|| format!("{verbose_name}s"), LitStr::value);
    let def = ModelDef {
        ident: input.ident.clone(),
        app,
        table,
        fields,
        pk,
        ordering,
        unique_together,
        indexes,
        checks,
        verbose_name,
        verbose_name_plural,
        permissions,
        default_permissions,
        impl_default: opts.impl_default,
    };
    Ok(generate::model(&def))
}

/// The actions Django gives a default permission (`Meta.default_permissions`).
const DEFAULT_ACTIONS: [&str; 4] = ["add", "change", "delete", "view"];
/// Lengths of the auth app's `Permission` columns, as in Django: `codename`
/// is `VARCHAR(100)` and `name` `VARCHAR(255)`. A permission that does not
/// fit is an error here, as Django's `auth.E005`-`E012` checks make it.
const CODENAME_MAX: usize = 100;
const PERMISSION_NAME_MAX: usize = 255;

/// `publish_article`: ASCII lowercase letters, digits and `_`, not starting
/// with a digit.
fn is_lowercase_identifier(s: &str) -> bool {
    is_identifier(s) && !s.bytes().any(|b| b.is_ascii_uppercase())
}

/// Validates `permissions` and `default_permissions` as Django's auth checks
/// do, at compile time; returns the custom `(codename, name)` pairs and the
/// default actions.
fn check_permissions(
    ident: &Ident,
    verbose_name: &str,
    opts: &ModelOptions,
    errors: &mut Errors,
) -> (Vec<(String, String)>, Vec<String>) {
    let model_name = ident.to_string();
    // Django's `Options.model_name`: `ArticleTag` → `articletag`.
    let model_lower = model_name.to_lowercase();

    let defaults: Vec<String> = match &opts.default_permissions {
        None => DEFAULT_ACTIONS.map(str::to_owned).to_vec(),
        Some(actions) => {
            let mut defaults = Vec::new();
            for lit in actions {
                let action = lit.value();
                if !DEFAULT_ACTIONS.contains(&action.as_str()) {
                    let mut msg = format!(
                        "unknown default permission `{action}`; expected one of: {}",
                        DEFAULT_ACTIONS.join(", ")
                    );
                    if is_lowercase_identifier(&action) {
                        msg.push_str(&format!(
                            "; declare other permissions with \
                             `permissions = [(\"{action}_{model_lower}\", \"Can {action} {verbose_name}\")]`"
                        ));
                    }
                    errors.error(lit.span(), msg);
                } else if defaults.contains(&action) {
                    errors.error(
                        lit.span(),
                        format!("default permission `{action}` is listed twice"),
                    );
                } else {
                    defaults.push(action);
                }
            }
            defaults
        }
    };

    // Django's auth.E011 and auth.E007: the generated permissions must fit
    // the `Permission` table.
    let model_len = model_lower.chars().count();
    let verbose_len = verbose_name.chars().count();
    let too_long = |fits: &dyn Fn(usize) -> bool| -> Option<(usize, String)> {
        let longest = defaults.iter().map(String::len).max()?;
        let over: Vec<String> = defaults
            .iter()
            .filter(|a| !fits(a.len()))
            .map(|a| format!("`{a}`"))
            .collect();
        (!over.is_empty()).then(|| (longest, over.join(", ")))
    };
    // `{action}_{model_name}`
    if let Some((longest, over)) = too_long(&|action| action + 1 + model_len <= CODENAME_MAX) {
        errors.error(
            ident.span(),
            format!(
                "the name of model `{model_name}` must be at most {} characters for its default \
                 permission codenames to be at most {CODENAME_MAX} characters (it has {model_len}); \
                 shorten it, or leave {over} out of `default_permissions`",
                CODENAME_MAX - longest - 1,
            ),
        );
    }
    // `Can {action} {verbose_name}`
    if let Some((longest, over)) =
        too_long(&|action| 5 + action + verbose_len <= PERMISSION_NAME_MAX)
    {
        let span = opts
            .verbose_name
            .as_ref()
            .map_or(ident.span(), LitStr::span);
        errors.error(
            span,
            format!(
                "the verbose_name of model `{model_name}` must be at most {} characters for its \
                 default permission names to be at most {PERMISSION_NAME_MAX} characters (it has \
                 {verbose_len}); give a shorter `verbose_name = \"...\"`, or leave {over} out of \
                 `default_permissions`",
                PERMISSION_NAME_MAX - 5 - longest,
            ),
        );
    }

    let builtin: Vec<(String, &str)> = defaults
        .iter()
        .map(|action| (format!("{action}_{model_lower}"), action.as_str()))
        .collect();
    let mut custom: Vec<(String, String)> = Vec::new();
    for (code_lit, name_lit) in opts.permissions.iter().flatten() {
        let codename = code_lit.value();
        let name = name_lit.value();
        if !is_lowercase_identifier(&codename) {
            errors.error(
                code_lit.span(),
                format!(
                    "permission codename `{codename}` must be a lowercase identifier: ASCII \
                     lowercase letters, digits and `_`, not starting with a digit, e.g. `publish_{model_lower}`"
                ),
            );
        } else if codename.len() > CODENAME_MAX {
            errors.error(
                code_lit.span(),
                format!(
                    "permission codename `{codename}` has {} characters; at most {CODENAME_MAX} fit",
                    codename.len()
                ),
            );
        }
        if let Some((_, action)) = builtin.iter().find(|(b, _)| *b == codename) {
            errors.error(
                code_lit.span(),
                format!(
                    "permission `{codename}` clashes with the default permission `{action}` of \
                     `{model_name}`; rename it, or leave `{action}` out of `default_permissions`"
                ),
            );
        } else if custom.iter().any(|(c, _)| *c == codename) {
            errors.error(
                code_lit.span(),
                format!("permission `{codename}` is declared twice on `{model_name}`"),
            );
        }
        let name_len = name.chars().count();
        if name.trim().is_empty() {
            errors.error(
                name_lit.span(),
                format!(
                    "permission `{codename}` needs a human-readable name, e.g. `(\"{codename}\", \"Can ...\")`"
                ),
            );
        } else if name_len > PERMISSION_NAME_MAX {
            errors.error(
                name_lit.span(),
                format!(
                    "the name of permission `{codename}` has {name_len} characters; at most \
                     {PERMISSION_NAME_MAX} fit"
                ),
            );
        }
        custom.push((codename, name));
    }
    (custom, defaults)
}

/// Checks options against the field's kind; returns the `OnDelete` variant.
fn validate_field(
    ty: &Type,
    kind: &Kind,
    opts: &FieldOptions,
    errors: &mut Errors,
) -> &'static str {
    let is_fk = matches!(kind, Kind::ForeignKey { .. });
    let is_collection = matches!(kind, Kind::ManyToMany { .. } | Kind::Reverse { .. });
    let mut on_delete = "Cascade";
    if let Some((ident, span)) = &opts.on_delete {
        if !is_fk {
            errors.error(
                *span,
                "`on_delete` applies only to `ForeignKey<_>` and `OneToOne<_>` fields",
            );
        }
        on_delete = match ident.to_string().as_str() {
            "cascade" => "Cascade",
            "protect" => "Protect",
            "restrict" => "Restrict",
            "set_null" => "SetNull",
            "set_default" => "SetDefault",
            "do_nothing" => "DoNothing",
            other => {
                errors.error(
                    *span,
                    format!("unknown on_delete rule `{other}`; expected one of: cascade, protect, restrict, set_null, set_default, do_nothing"),
                );
                "Cascade"
            }
        };
        if on_delete == "SetNull" && !matches!(kind, Kind::ForeignKey { nullable: true, .. }) {
            errors.error(*span, "`on_delete = set_null` needs a nullable key: make the field `Option<ForeignKey<_>>`");
        }
        if on_delete == "SetDefault" && !matches!(opts.default, Some((DefaultOpt::Lit(_), _))) {
            errors.error(
                *span,
                "`on_delete = set_default` needs a literal `default = ...` on the field",
            );
        }
    }
    if let Some(path) = &opts.through
        && !matches!(kind, Kind::ManyToMany { .. })
    {
        errors.error(
            path.span(),
            "`through` applies only to `ManyToMany<_>` fields",
        );
    }
    match (&opts.related_field, kind) {
        (Some(lit), k) if !matches!(k, Kind::Reverse { .. }) => {
            errors.error(lit.span(), "`related_field` applies only to `Reverse<_>` fields");
        }
        (None, Kind::Reverse { .. }) => errors.error(
            ty.span(),
            "a `Reverse<_>` field needs `#[model(related_field = \"<foreign key field on the other model>\")]`",
        ),
        _ => {}
    }
    if let Some(lit) = &opts.upload_to {
        let inner = generic_arg(ty, "Option").unwrap_or(ty);
        let value = lit.value();
        if !(is_named(inner, "FileField") || is_named(inner, "ImageField")) {
            errors.error(
                lit.span(),
                "`upload_to` applies only to `FileField` and `ImageField` fields",
            );
        } else if value.starts_with('/')
            || value.contains(['\\', '\0'])
            || value.split('/').any(|s| s == ".." || s == ".")
        {
            errors.error(
                lit.span(),
                "`upload_to` is a directory inside the storage, such as \"covers/\": no leading `/`, no `.` or `..`",
            );
        }
    }
    if is_collection {
        let column_only = [
            (opts.primary_key, "primary_key"),
            (opts.max_length.map(|(_, s)| s), "max_length"),
            (opts.auto_now, "auto_now"),
            (opts.auto_now_add, "auto_now_add"),
            (opts.default.as_ref().map(|(_, s)| *s), "default"),
            (opts.db_column.as_ref().map(LitStr::span), "db_column"),
        ];
        for (span, name) in column_only {
            if let Some(span) = span {
                errors.error(span, format!("`{name}` does not apply to a many-to-many or reverse relation (it has no column)"));
            }
        }
    }
    match (opts.max_digits, opts.decimal_places) {
        (Some((digits, _)), Some((places, span))) if places > digits => {
            errors.error(
                span,
                format!("`decimal_places` ({places}) cannot exceed `max_digits` ({digits})"),
            );
        }
        (Some((_, span)), None) | (None, Some((_, span))) => {
            errors.error(span, "give both `max_digits` and `decimal_places`, e.g. `max_digits = 10, decimal_places = 2`");
        }
        _ => {}
    }
    if let (Some(a), Some(_)) = (opts.auto_now, opts.auto_now_add) {
        errors.error(a, "use either `auto_now` or `auto_now_add`, not both");
    }
    if let (Some(a), Some(_)) = (opts.auto_now.or(opts.auto_now_add), &opts.default) {
        errors.error(
            a,
            "`auto_now` / `auto_now_add` fields cannot also have a `default`",
        );
    }
    on_delete
}

impl FieldDef {
    pub(crate) fn name(&self) -> String {
        let name = self.ident.to_string();
        name.strip_prefix("r#").unwrap_or(&name).to_owned()
    }

    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }
}

/// The check constraints, validated: a name is a lowercase SQL identifier
/// of at most 63 bytes (PostgreSQL's limit: longer names are cut, and two
/// cut names could clash), given once; a condition is one non-empty
/// expression (no `;`).
fn check_constraints(checks: &[(LitStr, LitStr)], errors: &mut Errors) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, sql) in checks {
        let (n, q) = (name.value(), sql.value());
        let identifier = !n.is_empty()
            && n.len() <= 63
            && n.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !identifier {
            errors.push(syn::Error::new(
                name.span(),
                "a check's name is a lowercase SQL identifier (letters, digits, `_`) of at most 63 \
                 characters, unique in the database: `price_not_negative`",
            ));
        } else if out.iter().any(|(o, _)| *o == n) {
            errors.push(syn::Error::new(
                name.span(),
                format!("check `{n}` is declared twice"),
            ));
        }
        if q.trim().is_empty() || q.contains(';') {
            errors.push(syn::Error::new(
                sql.span(),
                "a check's `sql` is one SQL condition over the table's columns, without `;`: \
                 `price >= 0`",
            ));
        }
        out.push((n, q));
    }
    out
}
