//! Code generation for `#[derive(Model)]`, from a validated [`ModelDef`].

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Lit;
use syn::spanned::Spanned;

use super::parse::DefaultOpt;
use super::{FieldDef, Kind, ModelDef};

fn opt_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn field_meta(model: &ModelDef, f: &FieldDef) -> TokenStream {
    let name = f.name();
    let ty = &f.ty;
    let column = opt_str(f.column.as_deref());
    let is_column = f.column.is_some();
    let (sql_type, nullable, auto, text_kind) = if is_column {
        (
            quote!(<#ty as ::manouche::db::FieldType>::SQL_TYPE),
            quote!(<#ty as ::manouche::db::FieldType>::NULLABLE),
            quote!(<#ty as ::manouche::db::FieldType>::AUTO),
            quote!(<#ty as ::manouche::db::FieldType>::TEXT_KIND),
        )
    } else {
        (
            quote!(::manouche::db::SqlType::BigInt),
            quote!(false),
            quote!(false),
            quote!(::manouche::db::fields::TextKind::Plain),
        )
    };
    let max_length = match (f.opts.max_length, is_column) {
        (Some((n, _)), _) => quote!(::core::option::Option::Some(#n)),
        (None, true) => quote!(<#ty as ::manouche::db::FieldType>::DEFAULT_MAX_LENGTH),
        (None, false) => quote!(::core::option::Option::None),
    };
    let decimal = match (f.opts.max_digits, f.opts.decimal_places) {
        (Some((d, _)), Some((p, _))) => quote!(::core::option::Option::Some((#d, #p))),
        _ => quote!(::core::option::Option::None),
    };
    let primary_key = f.primary_key;
    let unique = f.opts.unique
        || matches!(
            f.kind,
            Kind::ForeignKey {
                one_to_one: true,
                ..
            }
        );
    let db_index = f.opts.db_index;
    let default = match &f.opts.default {
        None => quote!(::core::option::Option::None),
        Some((DefaultOpt::Lit(lit), _)) => {
            let value = match lit {
                Lit::Bool(b) => quote!(Bool(#b)),
                Lit::Int(i) => quote!(Int(#i)),
                Lit::Float(x) => quote!(Float(#x)),
                Lit::Str(s) => quote!(Str(#s)),
                other => {
                    quote_spanned!(other.span()=> Str(::core::compile_error!("unsupported default literal")))
                }
            };
            quote!(::core::option::Option::Some(::manouche::db::model::DefaultValue::#value))
        }
        Some((DefaultOpt::Function(path), _)) => {
            let text = quote!(#path).to_string().replace(' ', "");
            quote!(::core::option::Option::Some(::manouche::db::model::DefaultValue::Function(#text)))
        }
    };
    let auto_now = f.opts.auto_now.is_some();
    let auto_now_add = f.opts.auto_now_add.is_some();
    let blank = f.opts.blank;
    let choices = match f.opts.choices {
        Some(span) => quote_spanned!(span=> <#ty as ::manouche::db::fields::HasChoices>::CHOICES),
        None => quote!(&[]),
    };
    let verbose_name = f
        .opts
        .verbose_name
        .as_ref()
        .map_or_else(|| name.replace('_', " "), syn::LitStr::value);
    let help_text = f
        .opts
        .help_text
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let upload_to = f
        .opts
        .upload_to
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let relation = relation_meta(model, f);
    quote! {
        ::manouche::db::model::FieldMeta {
            name: #name,
            column: #column,
            sql_type: #sql_type,
            nullable: #nullable,
            primary_key: #primary_key,
            auto: #auto,
            max_length: #max_length,
            decimal: #decimal,
            unique: #unique,
            text_kind: #text_kind,
            db_index: #db_index,
            default: #default,
            auto_now: #auto_now,
            auto_now_add: #auto_now_add,
            blank: #blank,
            choices: #choices,
            verbose_name: #verbose_name,
            help_text: #help_text,
            upload_to: #upload_to,
            relation: #relation,
        }
    }
}

fn relation_meta(_model: &ModelDef, f: &FieldDef) -> TokenStream {
    let on_delete = format_ident!("{}", f.on_delete);
    let (kind, target) = match &f.kind {
        Kind::Column => return quote!(::core::option::Option::None),
        Kind::ForeignKey {
            target,
            one_to_one: false,
            ..
        } => (quote!(ForeignKey), target),
        Kind::ForeignKey {
            target,
            one_to_one: true,
            ..
        } => (quote!(OneToOne), target),
        Kind::ManyToMany { target } => (quote!(ManyToMany), target),
        Kind::Reverse { target } => (quote!(Reverse), target),
    };
    let (join_table, source, dest) = match &f.join {
        Some((t, s, d)) => (
            quote!(::core::option::Option::Some(#t)),
            s.clone(),
            d.clone(),
        ),
        None => (
            quote!(::core::option::Option::None),
            String::new(),
            String::new(),
        ),
    };
    let through = match &f.opts.through {
        Some(path) => {
            quote_spanned!(path.span()=> ::core::option::Option::Some(<#path as ::manouche::db::Model>::meta))
        }
        None => quote!(::core::option::Option::None),
    };
    let related_field = opt_str(
        f.opts
            .related_field
            .as_ref()
            .map(syn::LitStr::value)
            .as_deref(),
    );
    let target_meta = quote_spanned!(target.span()=> <#target as ::manouche::db::Model>::meta);
    quote! {
        ::core::option::Option::Some(::manouche::db::model::RelationMeta {
            kind: ::manouche::db::model::RelationKind::#kind,
            target: #target_meta,
            on_delete: ::manouche::db::OnDelete::#on_delete,
            join_table: #join_table,
            join_source: #source,
            join_target: #dest,
            through: #through,
            related_field: #related_field,
        })
    }
}

pub(crate) fn model(m: &ModelDef) -> TokenStream {
    let ident = &m.ident;
    let model_name = ident.to_string();
    let app = &m.app;
    let table = &m.table;
    let pk = &m.fields[m.pk];
    let pk_ident = &pk.ident;
    let pk_ty = &pk.ty;
    let pk_column = pk.column.clone().unwrap_or_default();
    let verbose_name = &m.verbose_name;
    let verbose_name_plural = &m.verbose_name_plural;

    let field_metas = m.fields.iter().map(|f| field_meta(m, f));
    let column_names = m
        .fields
        .iter()
        .filter(|f| f.column.is_some())
        .map(FieldDef::name)
        .collect::<Vec<_>>()
        .join(", ");
    let ordering = m.ordering.iter().map(|(c, d)| quote!((#c, #d)));
    let unique_together = m.unique_together.iter().map(|set| quote!(&[#(#set),*]));
    let indexes = m.indexes.iter().map(|set| quote!(&[#(#set),*]));
    let check_constraints = m.checks.iter().map(|(name, sql)| quote!((#name, #sql)));
    let permissions = m
        .permissions
        .iter()
        .map(|(codename, name)| quote!((#codename, #name)));
    let default_permissions = &m.default_permissions;

    let mut consts = Vec::new();
    let mut decode = Vec::new();
    let mut inits = Vec::new();
    let mut values = Vec::new();
    let mut pre_save = Vec::new();
    let mut bind = Vec::new();
    let mut load = Vec::new();
    let mut loaded = Vec::new();
    let mut field_values = Vec::new();
    let mut set_values = Vec::new();
    let mut checks = Vec::new();

    for f in &m.fields {
        let fi = &f.ident;
        let ty = &f.ty;
        let vis = &f.vis;
        let name = f.name();
        let doc = format!("The `{name}` field of [`{model_name}`], for queries.");
        // Locals of `from_row` get a prefix so that fields named `row` or
        // `offset` do not shadow its parameters.
        let local = format_ident!("__manouche_field_{}", name);
        match &f.kind {
            Kind::Column | Kind::ForeignKey { .. } => {
                let column = f.column.clone().unwrap_or_default();
                consts.push(quote_spanned! {f.span()=>
                    #[doc = #doc]
                    #vis const #fi: ::manouche::db::Column<#ident, #ty> = ::manouche::db::Column::__new(#name, #column);
                });
                decode.push(quote_spanned! {ty.span()=>
                    let #local = <#ty as ::manouche::db::FieldType>::decode(row, *offset)?;
                    *offset += 1;
                });
                values.push(quote!(::manouche::db::FieldType::to_value(&self.#fi)));
                field_values.push(quote!(#name => ::core::option::Option::Some(::manouche::db::FieldType::to_value(&self.#fi)),));
                set_values.push(quote!(#name => {
                    self.#fi = <#ty as ::manouche::db::FieldType>::from_value(value).map_err(|e| match e {
                        ::manouche::db::Error::InvalidValue { message, .. } => ::manouche::db::Error::InvalidValue {
                            field: ::std::string::ToString::to_string(#name),
                            message,
                        },
                        other => other,
                    })?;
                }));
                if let Kind::ForeignKey { .. } = f.kind {
                    load.push(quote!(::core::option::Option::Some(&#name) => ::manouche::db::relations::LoadRelated::__load(&mut self.#fi, &path[1..], skip, row, offset),));
                    loaded.push(quote!(#name => ::manouche::db::relations::LoadRelated::__loaded(&self.#fi),));
                }
            }
            Kind::ManyToMany { target } => {
                let access = format_ident!("__manouche_access_{}", name);
                consts.push(quote! {
                    #[doc(hidden)]
                    fn #access(m: &mut #ident) -> &mut ::manouche::db::ManyToMany<#target> { &mut m.#fi }
                    #[doc = #doc]
                    #vis const #fi: ::manouche::db::relations::ManyToManyField<#ident, #target> =
                        ::manouche::db::relations::ManyToManyField::__new(#name, Self::#access);
                });
                decode.push(quote!(let #local = ::core::default::Default::default();));
                bind.push(quote!(self.#fi.__bind(pk.clone(), <Self as ::manouche::db::Model>::meta(), #name);));
            }
            Kind::Reverse { target } => {
                let access = format_ident!("__manouche_access_{}", name);
                consts.push(quote! {
                    #[doc(hidden)]
                    fn #access(m: &mut #ident) -> &mut ::manouche::db::Reverse<#target> { &mut m.#fi }
                    #[doc = #doc]
                    #vis const #fi: ::manouche::db::relations::ReverseField<#ident, #target> =
                        ::manouche::db::relations::ReverseField::__new(#name, Self::#access);
                });
                decode.push(quote!(let #local = ::core::default::Default::default();));
                bind.push(quote!(self.#fi.__bind(pk.clone(), <Self as ::manouche::db::Model>::meta(), #name);));
                if let Some(lit) = &f.opts.related_field
                    && let Ok(related) = lit.parse::<syn::Ident>()
                {
                    // Fails to compile, at the attribute, when the other model
                    // has no such foreign key.
                    checks.push(quote_spanned! {lit.span()=>
                        let _ = <#target>::#related;
                    });
                }
            }
        }
        inits.push(quote!(#fi: #local));
        if let Some(span) = f.opts.auto_now {
            pre_save.push(
                quote_spanned!(span=> self.#fi = <#ty as ::manouche::db::fields::AutoNow>::now();),
            );
        }
        if let Some(span) = f.opts.auto_now_add {
            pre_save.push(quote_spanned!(span=> if adding { self.#fi = <#ty as ::manouche::db::fields::AutoNow>::now(); }));
        }
    }

    let default_impl = if m.impl_default {
        default_impl(m)
    } else {
        TokenStream::new()
    };

    quote! {
        #default_impl

        // Column handles a program does not query are not dead code.
        #[allow(non_upper_case_globals, dead_code)]
        impl #ident {
            #(#consts)*
        }

        const _: () = {
            #[allow(dead_code, unused_variables)]
            fn __manouche_checks() {
                #(#checks)*
            }
        };

        impl ::manouche::db::Model for #ident {
            type Pk = <#pk_ty as ::manouche::db::fields::PrimaryKey>::Key;

            fn meta() -> &'static ::manouche::db::ModelMeta {
                static META: ::manouche::db::ModelMeta = ::manouche::db::ModelMeta {
                    name: #model_name,
                    app: #app,
                    table: #table,
                    pk_column: #pk_column,
                    fields: &[#(#field_metas),*],
                    ordering: &[#(#ordering),*],
                    unique_together: &[#(#unique_together),*],
                    indexes: &[#(#indexes),*],
                    checks: &[#(#check_constraints),*],
                    verbose_name: #verbose_name,
                    verbose_name_plural: #verbose_name_plural,
                    permissions: &[#(#permissions),*],
                    default_permissions: &[#(#default_permissions),*],
                    decode_pk: ::manouche::db::model::__decode_value::<<#pk_ty as ::manouche::db::fields::PrimaryKey>::Key>,
                };
                &META
            }

            fn from_row(row: &::manouche::db::Row, offset: &mut usize) -> ::manouche::db::Result<Self> {
                #(#decode)*
                let mut this = Self { #(#inits),* };
                ::manouche::db::Model::__bind(&mut this);
                ::core::result::Result::Ok(this)
            }

            fn pk(&self) -> ::core::option::Option<Self::Pk> {
                ::manouche::db::fields::PrimaryKey::key(&self.#pk_ident)
            }

            fn field_value(&self, name: &str) -> ::core::option::Option<::manouche::db::__private::Value> {
                match name {
                    #(#field_values)*
                    _ => ::core::option::Option::None,
                }
            }

            fn set_field_value(
                &mut self,
                name: &str,
                value: ::manouche::db::__private::Value,
            ) -> ::manouche::db::Result<()> {
                match name {
                    #(#set_values)*
                    _ => {
                        return ::core::result::Result::Err(::manouche::db::Error::UnknownField {
                            model: #model_name,
                            field: ::std::string::ToString::to_string(name),
                            known: ::std::string::ToString::to_string(#column_names),
                        });
                    }
                }
                ::core::result::Result::Ok(())
            }

            fn __set_pk(&mut self, pk: Self::Pk) {
                ::manouche::db::fields::PrimaryKey::set_key(&mut self.#pk_ident, pk);
            }

            fn __values(&self) -> ::std::vec::Vec<::manouche::db::__private::Value> {
                ::std::vec![#(#values),*]
            }

            #[allow(unused_variables)]
            fn __pre_save(&mut self, adding: bool) {
                #(#pre_save)*
            }

            #[allow(unused_variables)]
            fn __bind(&mut self) {
                if let ::core::option::Option::Some(pk) = ::manouche::db::Model::pk(self) {
                    let pk = ::manouche::db::FieldType::to_value(&pk);
                    #(#bind)*
                }
            }

            fn loaded_related(&self, name: &str) -> ::core::option::Option<&dyn ::core::any::Any> {
                match name {
                    #(#loaded)*
                    _ => ::core::option::Option::None,
                }
            }

            #[allow(unused_variables)]
            fn __load_related(
                &mut self,
                path: &[&str],
                skip: usize,
                row: &::manouche::db::Row,
                offset: &mut usize,
            ) -> ::manouche::db::Result<()> {
                match path.first() {
                    #(#load)*
                    _ => {
                        *offset += skip;
                        ::core::result::Result::Ok(())
                    }
                }
            }
        }

        ::manouche::db::__private::inventory::submit! {
            ::manouche::db::model::Registered {
                meta: <#ident as ::manouche::db::Model>::meta,
                module: ::core::module_path!(),
            }
        }
    }
}

/// `impl Default`: declared defaults, `auto_now` fields set to now, and
/// `Default::default()` for the rest.
fn default_impl(m: &ModelDef) -> TokenStream {
    let ident = &m.ident;
    let inits = m.fields.iter().map(|f| {
        let fi = &f.ident;
        let ty = &f.ty;
        let optional = super::generic_arg(ty, "Option").is_some();
        let value = match &f.opts.default {
            Some((DefaultOpt::Function(path), _)) => quote_spanned!(path.span()=> #path()),
            Some((DefaultOpt::Lit(Lit::Str(s)), _)) if f.opts.choices.is_some() => {
                let inner = super::generic_arg(ty, "Option").unwrap_or(ty);
                let value = quote_spanned! {s.span()=>
                    <#inner as ::manouche::db::fields::Choices>::from_value(#s)
                        .expect("the field's default is one of its choices")
                };
                if optional {
                    quote!(::core::option::Option::Some(#value))
                } else {
                    value
                }
            }
            Some((DefaultOpt::Lit(lit), _)) => {
                let value = quote_spanned!(lit.span()=> ::core::convert::Into::into(#lit));
                if optional {
                    quote!(::core::option::Option::Some(#value))
                } else {
                    value
                }
            }
            None if f.opts.auto_now.is_some() || f.opts.auto_now_add.is_some() => {
                quote!(<#ty as ::manouche::db::fields::AutoNow>::now())
            }
            None => quote_spanned!(ty.span()=> ::core::default::Default::default()),
        };
        quote!(#fi: #value)
    });
    quote! {
        impl ::core::default::Default for #ident {
            fn default() -> Self {
                Self { #(#inits),* }
            }
        }
    }
}
