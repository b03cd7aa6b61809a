//! `#[derive(Schema)]`: the field keys and field table of a Strake resource schema.
//!
//! For a struct with named fields it generates, for each field, a typed key
//! (`RoleInputs::NAME: Field<RoleInputs, String>`; an `Option<T>` field's key has type `T`),
//! and an implementation of `strake::typed::Schema` listing every field with whether it is
//! required, its documentation, a type check and its default. A field is required unless it
//! is an `Option`, has `#[serde(default)]` or has `#[strake(default = <expr>)]`.
//!
//! With `#[strake(handle = Role)]` on the struct, it also writes the handle's methods for the
//! fields that ask for one, documented with the field's documentation:
//! - `#[strake(set)]` (or `set = "role_name"`) on an input: `fn path(self, value: impl
//!   Into<Output<T>>) -> Self`;
//! - `#[strake(get)]` (or `get = "bucket_region"`) on an output: `fn arn(&self) -> Output<T>`.
//!
//! With `#[strake(handle = Bucket, resource = TYPE)]` (or `data_source = TYPE`) on an input struct,
//! it also writes the handle's constructor: `Bucket::new(stack, name, provider, ...)` declares a
//! resource of type `TYPE` (a data source's is `lookup`), taking the fields marked
//! `#[strake(new)]` as arguments, in order (`new = "cluster_name"` renames the argument). The
//! handle wraps its `Resource` as its one tuple field (`struct Bucket(Resource)`).
//!
//! A field marked `#[strake(dynamic)]` is set from any `Output<Value>` (a policy document with
//! outputs inside), whatever its declared type. A string map marked `#[strake(set, pairs)]` (tags,
//! labels) is set from any `(key, value)` pairs: `.tags([("team", "data")])`.
//!
//! A field's rules, which core applies (see `strake::typed::Rules`): `#[strake(replace_on)]` (a
//! change replaces the object), `unique` (names the object in the cloud), `generated_name = 64`
//! (generated when absent, at most 64 characters), `create_only`, `internal` (never sent to the
//! cloud) on inputs; `secret` and `echo` (the input of the same name, known at plan time with it)
//! on outputs.
//!
//! The handle implements `strake::ResourceHandle`, which `#[derive(ResourceHandle)]` writes for a
//! handle that wraps its `Resource` (`struct Role(Resource)`, or a field named `resource`).

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as Tokens};
use quote::quote;
use syn::{Data, DeriveInput, Expr, Fields, GenericArgument, Ident, LitStr, PathArguments, Type, parse_macro_input};

/// The field keys and field table of a resource schema.
///
/// Each named field gets a typed key (`RoleInputs::NAME: Field<RoleInputs, String>`) and an entry in
/// `Schema::FIELDS`. A field is required unless it is an `Option`, has `#[serde(default)]` or has
/// `#[strake(default = <expr>)]`. With `#[strake(handle = Role)]` on the struct, `#[strake(set)]` on an
/// input writes the handle's setter and `#[strake(get)]` on an output its getter (`set = "name"` and
/// `get = "name"` rename the method), documented with the field's documentation. With
/// `resource = TYPE` (or `data_source = TYPE`) beside `handle`, the fields marked `#[strake(new)]`
/// are the arguments of the handle's constructor `new` (a data source's: `lookup`). The rules
/// marked on fields (`replace_on`, `unique`, `generated_name = <length>`, `create_only`,
/// `internal`, `secret`, `echo`) are listed in `Schema::RULES`.
#[proc_macro_derive(Schema, attributes(strake))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `strake::ResourceHandle` by returning the wrapped `Resource`: the first tuple field
/// (`struct Role(Resource)`) or the field named `resource`.
#[proc_macro_derive(ResourceHandle)]
pub fn derive_resource_handle(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let field = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Unnamed(fields) if !fields.unnamed.is_empty() => Some(quote! { 0 }),
            Fields::Named(fields) => fields.named.iter().find(|f| f.ident.as_ref().is_some_and(|i| i == "resource")).map(|_| quote! { resource }),
            _ => None,
        },
        _ => None,
    };
    let Some(field) = field else {
        return syn::Error::new_spanned(name, "a handle wraps its `Resource` as its first tuple field or a field named `resource`")
            .to_compile_error()
            .into();
    };
    quote! {
        impl ::strake::ResourceHandle for #name {
            fn resource(&self) -> &::strake::Resource {
                &self.#field
            }
        }
    }
    .into()
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let fields = named_fields(input)?;
    let declared = struct_attrs(input)?;
    let handle = declared.handle.clone();
    let mut keys = Vec::new();
    let mut infos = Vec::new();
    let mut methods = Vec::new();
    let mut arguments = Vec::new();
    let mut rules: Vec<(&str, String)> = Vec::new();
    let mut generated_name = None;
    for field in fields {
        let ident = field.ident.as_ref().expect("named fields have names");
        let field_name = ident.to_string().trim_start_matches("r#").to_string();
        let (value_type, optional) = match option_inner(&field.ty) {
            Some(inner) => (inner, true),
            None => (&field.ty, false),
        };
        let attrs = field_attrs(field)?;
        rules.extend(attrs.rules.iter().map(|r| (*r, field_name.clone())));
        if let Some(length) = &attrs.generated_name {
            if generated_name.is_some() {
                return Err(syn::Error::new_spanned(field, "one field at most has `generated_name`"));
            }
            generated_name = Some(quote! { ::core::option::Option::Some((#field_name, #length)) });
        }
        let required = !optional && attrs.default.is_none() && !serde_default(field);
        let doc = doc_text(field);
        let key = Ident::new(&field_name.to_ascii_uppercase(), Span::call_site());
        if let Some(method) = accessor(&handle, &attrs, field, &field_name, name, &key, value_type)? {
            methods.push(method);
        }
        if let Some(argument) = &attrs.new {
            let argument = Ident::new(argument.as_deref().unwrap_or(&field_name), Span::call_site());
            arguments.push(Argument {
                name: argument,
                key: key.clone(),
                ty: setter_type(&attrs, value_type),
                dynamic: attrs.dynamic,
                doc: doc.clone(),
            });
        }
        let key_doc = format!("The `{field_name}` field.");
        keys.push(quote! {
            #[doc = #key_doc]
            pub const #key: ::strake::typed::Field<#name, #value_type> = ::strake::typed::Field::new(#field_name);
        });
        infos.push(field_info(&field_name, value_type, required, &doc, attrs.default.as_ref()));
    }
    if !arguments.is_empty() && declared.declares.is_none() {
        return Err(syn::Error::new_spanned(name, "`new` fields need `resource = <type token>` or `data_source = <type token>` beside `handle`"));
    }
    if let Some(constructor) = constructor(&declared, name, &arguments) {
        methods.push(constructor);
    }
    let handle_methods = handle.map(|h| quote! { impl #h { #(#methods)* } });
    let lists = RULES.map(|rule| {
        let list = Ident::new(rule, Span::call_site());
        let names = rules.iter().filter(|(r, _)| *r == rule).map(|(_, name)| name);
        quote! { #list: &[#(#names),*], }
    });
    let generated_name = generated_name.unwrap_or_else(|| quote! { ::core::option::Option::None });
    Ok(quote! {
        impl #name {
            #(#keys)*
        }
        impl ::strake::typed::Schema for #name {
            const FIELDS: &'static [::strake::typed::FieldInfo] = &[#(#infos),*];
            const RULES: ::strake::typed::Rules = ::strake::typed::Rules { #(#lists)* generated_name: #generated_name };
        }
        #handle_methods
    })
}

/// The struct's named fields; a schema is nothing else.
fn named_fields(input: &DeriveInput) -> syn::Result<&syn::punctuated::Punctuated<syn::Field, syn::Token![,]>> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(&input.generics, "a schema cannot be generic"));
    }
    match &input.data {
        Data::Struct(syn::DataStruct { fields: Fields::Named(fields), .. }) => Ok(&fields.named),
        _ => Err(syn::Error::new_spanned(&input.ident, "a schema is a struct with named fields")),
    }
}

/// A field's entry in `Schema::FIELDS`: its name, whether it is required, its doc, its type
/// check and its default.
fn field_info(field_name: &str, value_type: &syn::Type, required: bool, doc: &str, default: Option<&syn::Expr>) -> Tokens {
    let default = match default {
        Some(expr) => quote! {
            ::core::option::Option::Some(|| {
                let value: #value_type = ::core::convert::Into::into(#expr);
                ::strake::typed::to_value(&value)
            })
        },
        None => quote! { ::core::option::Option::None },
    };
    quote! {
        ::strake::typed::FieldInfo {
            name: #field_name,
            required: #required,
            doc: #doc,
            check: ::strake::typed::check_type::<#value_type>,
            default: #default,
        }
    }
}

/// What `#[strake(...)]` says of one field.
#[derive(Default)]
struct FieldAttrs {
    default: Option<Expr>,
    /// `set` (the field's name) or `set = "name"`.
    set: Option<Option<String>>,
    /// `get` (the field's name) or `get = "name"`.
    get: Option<Option<String>>,
    /// `new` (an argument of the constructor, named as the field) or `new = "name"`.
    new: Option<Option<String>>,
    /// `dynamic`: set from any `Output<Value>`.
    dynamic: bool,
    /// `pairs`: a string map set from any `(key, value)` pairs of strings.
    pairs: bool,
    /// `replace_on`, `unique`, `create_only`, `internal`, `secret`, `echo`: the field's rules.
    rules: Vec<&'static str>,
    /// `generated_name = <longest length>`.
    generated_name: Option<syn::LitInt>,
}

/// The rules a field can be marked with, as `strake::typed::Rules` names its lists.
const RULES: [&str; 6] = ["replace_on", "unique", "create_only", "internal", "secret", "echo"];

/// What `#[strake(...)]` says of the struct.
#[derive(Default)]
struct StructAttrs {
    /// `handle = Path`: the program-side handle the accessors belong to.
    handle: Option<syn::Path>,
    /// `resource = TYPE` or `data_source = TYPE`: what the handle's constructor declares.
    declares: Option<Declares>,
}

struct Declares {
    data_source: bool,
    type_token: Expr,
}

/// One argument of a handle's constructor.
struct Argument {
    name: Ident,
    key: Ident,
    ty: Tokens,
    dynamic: bool,
    doc: String,
}

fn struct_attrs(input: &DeriveInput) -> syn::Result<StructAttrs> {
    let mut attrs = StructAttrs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("strake")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("handle") {
                attrs.handle = Some(meta.value()?.parse::<syn::Path>()?);
            } else if meta.path.is_ident("resource") || meta.path.is_ident("data_source") {
                let data_source = meta.path.is_ident("data_source");
                attrs.declares = Some(Declares { data_source, type_token: meta.value()?.parse::<Expr>()? });
            } else {
                return Err(
                    meta.error("`strake` struct attributes are `handle = <handle type>`, `resource = <type token>`, `data_source = <type token>`")
                );
            }
            Ok(())
        })?;
    }
    if attrs.declares.is_some() && attrs.handle.is_none() {
        return Err(syn::Error::new_spanned(&input.ident, "`resource` and `data_source` need `handle = <handle type>` beside them"));
    }
    Ok(attrs)
}

/// The handle's constructor, when the struct says what it declares.
fn constructor(declared: &StructAttrs, schema: &Ident, arguments: &[Argument]) -> Option<Tokens> {
    let declares = declared.declares.as_ref()?;
    let type_token = &declares.type_token;
    let (method, declare, what) = if declares.data_source {
        (quote! { lookup }, quote! { data_source }, "Looks up")
    } else {
        (quote! { new }, quote! { resource }, "Declares")
    };
    let mut doc = format!("{what} `name` in `stack`, through `provider`.");
    if !arguments.is_empty() {
        doc.push('\n');
    }
    for a in arguments {
        doc.push_str(&format!("\n- `{}`: {}", a.name, if a.doc.is_empty() { "(undocumented)" } else { &a.doc }));
    }
    let params = arguments.iter().map(|a| {
        let (name, ty) = (&a.name, &a.ty);
        quote! { #name: #ty }
    });
    let sets = arguments.iter().map(|a| {
        let (name, key) = (&a.name, &a.key);
        let set = set_method(a.dynamic);
        quote! { resource.#set(#schema::#key, #name); }
    });
    Some(quote! {
        #[doc = #doc]
        #[track_caller]
        pub fn #method(stack: &::strake::Stack, name: &str, provider: &::strake::ProviderRef, #(#params),*) -> Self {
            let resource = stack.#declare(#type_token, name);
            #(#sets)*
            Self(::strake::ResourceHandle::provider(resource, provider))
        }
    })
}

/// The `Resource` method that sets a field: `set_value` for a dynamic one.
fn set_method(dynamic: bool) -> Tokens {
    if dynamic {
        quote! { set_value }
    } else {
        quote! { set }
    }
}

/// The type a setter or constructor takes for a field.
fn setter_type(attrs: &FieldAttrs, value_type: &Type) -> Tokens {
    if attrs.dynamic {
        quote! { impl ::core::convert::Into<::strake::Output<::strake::Value>> }
    } else {
        quote! { impl ::core::convert::Into<::strake::Output<#value_type>> }
    }
}

fn field_attrs(field: &syn::Field) -> syn::Result<FieldAttrs> {
    let mut attrs = FieldAttrs::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("strake")) {
        attr.parse_nested_meta(|meta| {
            let named = |meta: &syn::meta::ParseNestedMeta| -> syn::Result<Option<String>> {
                if meta.input.peek(syn::Token![=]) { Ok(Some(meta.value()?.parse::<LitStr>()?.value())) } else { Ok(None) }
            };
            if meta.path.is_ident("default") {
                attrs.default = Some(meta.value()?.parse::<Expr>()?);
            } else if meta.path.is_ident("set") {
                attrs.set = Some(named(&meta)?);
            } else if meta.path.is_ident("get") {
                attrs.get = Some(named(&meta)?);
            } else if meta.path.is_ident("new") {
                attrs.new = Some(named(&meta)?);
            } else if meta.path.is_ident("dynamic") {
                attrs.dynamic = true;
            } else if meta.path.is_ident("pairs") {
                attrs.pairs = true;
            } else if meta.path.is_ident("generated_name") {
                attrs.generated_name = Some(meta.value()?.parse::<syn::LitInt>()?);
            } else if let Some(rule) = RULES.iter().find(|r| meta.path.is_ident(r)) {
                attrs.rules.push(rule);
            } else {
                return Err(meta.error(
                    "`strake` field attributes are `default = <expr>`, `set`, `set = \"name\"`, `get`, `get = \"name\"`, `new`, `new = \"name\"`, `dynamic`, `pairs`, `replace_on`, `unique`, `generated_name = <length>`, `create_only`, `internal`, `secret`, `echo`",
                ));
            }
            Ok(())
        })?;
    }
    Ok(attrs)
}

/// The handle's setter or getter for one field, if it asks for one.
fn accessor(
    handle: &Option<syn::Path>,
    attrs: &FieldAttrs,
    field: &syn::Field,
    field_name: &str,
    schema: &Ident,
    key: &Ident,
    value_type: &Type,
) -> syn::Result<Option<Tokens>> {
    if attrs.set.is_none() && attrs.get.is_none() {
        return Ok(None);
    }
    if handle.is_none() {
        return Err(syn::Error::new_spanned(field, "`set` and `get` need `#[strake(handle = <handle type>)]` on the struct"));
    }
    let docs: Vec<&syn::Attribute> = field.attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let method = |named: &Option<String>| Ident::new(named.as_deref().unwrap_or(field_name), Span::call_site());
    Ok(Some(match (&attrs.set, &attrs.get) {
        (Some(named), None) if attrs.pairs => {
            let method = method(named);
            quote! {
                #(#docs)*
                pub fn #method<K: ::core::convert::Into<::std::string::String>, V: ::core::convert::Into<::std::string::String>>(
                    self,
                    pairs: impl ::core::iter::IntoIterator<Item = (K, V)>,
                ) -> Self {
                    let value: #value_type = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                    ::strake::ResourceHandle::resource(&self).set(#schema::#key, value);
                    self
                }
            }
        }
        (Some(named), None) => {
            let method = method(named);
            let ty = setter_type(attrs, value_type);
            let set = set_method(attrs.dynamic);
            quote! {
                #(#docs)*
                pub fn #method(self, value: #ty) -> Self {
                    ::strake::ResourceHandle::resource(&self).#set(#schema::#key, value);
                    self
                }
            }
        }
        (None, Some(named)) => {
            let method = method(named);
            quote! {
                #(#docs)*
                pub fn #method(&self) -> ::strake::Output<#value_type> {
                    ::strake::ResourceHandle::resource(self).get(#schema::#key)
                }
            }
        }
        _ => return Err(syn::Error::new_spanned(field, "a field is an input (`set`) or an output (`get`), not both")),
    }))
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
