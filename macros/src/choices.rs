//! `#[derive(Choices)]`: a unit enum stored as text, usable as a model field
//! with `#[model(choices)]`. Parse → validate → generate, like the model
//! derive.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::model::parse::Errors;
use crate::model::snake;

struct Variant {
    ident: syn::Ident,
    value: String,
    label: String,
}

pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(err) => err.into_compile_error(),
    }
}

fn label_of(name: &str) -> String {
    let words = snake(name).replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`#[derive(Choices)]` needs an enum of unit variants",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "a choices enum cannot have generic parameters",
        ));
    }
    let mut errors = Errors::default();
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            errors.push(syn::Error::new(
                v.span(),
                "choices must be unit variants (no fields)",
            ));
            continue;
        }
        let mut value = snake(&v.ident.to_string());
        let mut label = label_of(&v.ident.to_string());
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("choice")) {
            let res = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("value") {
                    value = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else if meta.path.is_ident("label") {
                    label = meta.value()?.parse::<LitStr>()?.value();
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown choice option; expected `value = \"...\"` or `label = \"...\"`",
                    ))
                }
            });
            if let Err(e) = res {
                errors.push(e);
            }
        }
        if variants.iter().any(|o: &Variant| o.value == value) {
            errors.push(syn::Error::new(v.ident.span(), format!("two variants are stored as `{value}`; give one another `#[choice(value = \"...\")]`")));
        }
        variants.push(Variant {
            ident: v.ident.clone(),
            value,
            label,
        });
    }
    if variants.is_empty() && errors.is_empty() {
        errors.push(syn::Error::new(
            input.ident.span(),
            "a choices enum needs at least one variant",
        ));
    }
    errors.finish()?;

    let ident = &input.ident;
    let name = ident.to_string();
    let pairs = variants.iter().map(|v| {
        let (value, label) = (&v.value, &v.label);
        quote!((#value, #label))
    });
    let to_str = variants.iter().map(|v| {
        let (vi, value) = (&v.ident, &v.value);
        quote!(Self::#vi => #value,)
    });
    let from_str = variants.iter().map(|v| {
        let (vi, value) = (&v.ident, &v.value);
        quote!(#value => ::core::option::Option::Some(Self::#vi),)
    });
    let max_len = variants
        .iter()
        .map(|v| v.value.chars().count())
        .max()
        .unwrap_or(1);
    let max_len = u32::try_from(max_len).unwrap_or(u32::MAX);
    let known = variants
        .iter()
        .map(|v| v.value.as_str())
        .collect::<Vec<_>>()
        .join(", ");

    Ok(quote! {
        impl #ident {
            /// The value stored in the database.
            pub fn as_str(&self) -> &'static str {
                match self { #(#to_str)* }
            }

        }

        impl ::manouche::db::fields::Choices for #ident {
            const CHOICES: &'static [(&'static str, &'static str)] = &[#(#pairs),*];

            fn from_value(value: &str) -> ::core::option::Option<Self> {
                match value {
                    #(#from_str)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::manouche::db::FieldType for #ident {
            type Inner = Self;
            const SQL_TYPE: ::manouche::db::SqlType = ::manouche::db::SqlType::String;
            const DEFAULT_MAX_LENGTH: ::core::option::Option<u32> = ::core::option::Option::Some(#max_len);
            fn to_value(&self) -> ::manouche::db::__private::Value {
                ::manouche::db::__private::Value::String(::core::option::Option::Some(
                    ::std::boxed::Box::new(::std::string::ToString::to_string(self.as_str())),
                ))
            }
            fn decode(row: &::manouche::db::Row, idx: usize) -> ::manouche::db::Result<Self> {
                let text: ::std::string::String = row.get(idx)?;
                <Self as ::manouche::db::fields::Choices>::from_value(&text).ok_or_else(|| ::manouche::db::Error::InvalidValue {
                    field: ::std::format!("#{idx}"),
                    message: ::std::format!("`{text}` is not a {}; expected one of: {}", #name, #known),
                })
            }
            fn from_value(value: ::manouche::db::__private::Value) -> ::manouche::db::Result<Self> {
                let text = match value {
                    ::manouche::db::__private::Value::String(::core::option::Option::Some(text)) => *text,
                    other => {
                        return ::core::result::Result::Err(::manouche::db::Error::InvalidValue {
                            field: ::std::string::ToString::to_string(#name),
                            message: ::std::format!("expected text, got {other:?}"),
                        });
                    }
                };
                <Self as ::manouche::db::fields::Choices>::from_value(&text).ok_or_else(|| ::manouche::db::Error::InvalidValue {
                    field: ::std::string::ToString::to_string(#name),
                    message: ::std::format!("`{text}` is not a {}; expected one of: {}", #name, #known),
                })
            }
        }

        impl ::manouche::forms::FieldValue for #ident {
            type Inner = Self;
            fn describe(field: &mut ::manouche::forms::Field) {
                ::manouche::forms::__choices_describe::<Self>(field);
            }
            fn parse(
                values: &[&str],
                field: &::manouche::forms::Field,
            ) -> ::core::result::Result<::core::option::Option<Self>, ::manouche::forms::ValidationError> {
                ::manouche::forms::__choices_parse::<Self>(values, field)
            }
            fn to_form(&self) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![::std::string::ToString::to_string(self.as_str())]
            }
            fn inner(&self) -> ::core::option::Option<&Self> {
                ::core::option::Option::Some(self)
            }
        }
    })
}
