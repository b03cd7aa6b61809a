//! `#[derive(Schema)]`: the field keys and field table of a Strake resource schema.
//!
//! For a struct with named fields it generates, for each field, a typed key
//! (`RoleInputs::NAME: Field<RoleInputs, String>`; an `Option<T>` field's key has type `T`),
//! and an implementation of `strake::typed::Schema` listing every field with whether it is
//! required, its documentation, a type check and its default. A field is required unless it
//! is an `Option`, has `#[serde(default)]` or has `#[strake(default = <expr>)]`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, GenericArgument, Ident, LitStr, PathArguments, Type, parse_macro_input};

#[proc_macro_derive(Schema, attributes(strake))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&input.generics, "a schema cannot be generic"));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(name, "a schema is a struct with named fields"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(name, "a schema is a struct with named fields"));
    };
    let mut keys = Vec::new();
    let mut infos = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref().expect("named fields have names");
        let field_name = ident.to_string().trim_start_matches("r#").to_string();
        let (value_type, optional) = match option_inner(&field.ty) {
            Some(inner) => (inner, true),
            None => (&field.ty, false),
        };
        let default = strake_default(field)?;
        let required = !optional && default.is_none() && !serde_default(field);
        let doc = doc_text(field);
        let key = Ident::new(&field_name.to_ascii_uppercase(), Span::call_site());
        let key_doc = format!("The `{field_name}` field.");
        keys.push(quote! {
            #[doc = #key_doc]
            pub const #key: ::strake::typed::Field<#name, #value_type> = ::strake::typed::Field::new(#field_name);
        });
        let default = match default {
            Some(expr) => quote! {
                ::core::option::Option::Some(|| {
                    let value: #value_type = ::core::convert::Into::into(#expr);
                    ::strake::typed::to_value(&value)
                })
            },
            None => quote! { ::core::option::Option::None },
        };
        infos.push(quote! {
            ::strake::typed::FieldInfo {
                name: #field_name,
                required: #required,
                doc: #doc,
                check: ::strake::typed::check_type::<#value_type>,
                default: #default,
            }
        });
    }
    Ok(quote! {
        impl #name {
            #(#keys)*
        }
        impl ::strake::typed::Schema for #name {
            const FIELDS: &'static [::strake::typed::FieldInfo] = &[#(#infos),*];
        }
    })
}

/// `T` of an `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

/// The expression of `#[strake(default = <expr>)]`.
fn strake_default(field: &syn::Field) -> syn::Result<Option<Expr>> {
    let mut found = None;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("strake")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                found = Some(meta.value()?.parse::<Expr>()?);
                Ok(())
            } else {
                Err(meta.error("the only `strake` field attribute is `default = <expr>`"))
            }
        })?;
    }
    Ok(found)
}

/// Whether the field has `#[serde(default)]` or `#[serde(default = "...")]`.
fn serde_default(field: &syn::Field) -> bool {
    field.attrs.iter().filter(|a| a.path().is_ident("serde")).any(|attr| {
        let mut has = false;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                has = true;
                if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<LitStr>()?;
                }
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|_| Ok(()))?;
            }
            Ok(())
        });
        has
    })
}

/// The field's doc comment as one line.
fn doc_text(field: &syn::Field) -> String {
    let lines: Vec<String> = field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join(" ").trim().to_string()
}
