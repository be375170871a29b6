//! Procedural macros of `verity-sdk`. Use them through `verity_sdk`
//! (`#[verity_sdk::contract]`, `#[derive(verity_sdk::ContractError)]`); the
//! generated code names `::verity_sdk` paths.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, FnArg, GenericArgument, ImplItem, ItemImpl, Lit, Pat, PathArguments, ReturnType,
    Type, Visibility,
};
use verity_host_abi::spec::{ArgSpec, EntrySpec, TypeSpec};

/// Turns every `pub fn` of an inherent `impl` block into a contract entry
/// point.
///
/// For `pub fn transfer(to: Address, amount: u64) -> Result<(), TokenError>`
/// it generates a wasm export `transfer: () -> ()` that decodes `(to, amount)`
/// from the transaction input (postcard), calls the method, and on `Ok(v)`
/// sets the postcard encoding of `v` as output; on `Err(e)` it reverts with
/// `error <code>: <message>`. It also writes the entry's description into the
/// `verity.spec` custom section and implements `verity_sdk::Contract` (used
/// by the native test environment to call entries by name).
///
/// Entry points take no `self`: a contract's state lives in storage. Methods
/// that are not `pub` are ordinary helpers. An entry without arguments does
/// not decode the input; it may read it raw with `verity_sdk::env::with_input`.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let item = syn::parse_macro_input!(item as ItemImpl);
    match expand_contract(&item) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_contract(item: &ItemImpl) -> syn::Result<TokenStream2> {
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new(
            path.span(),
            "#[contract] goes on an inherent impl block, not a trait impl",
        ));
    }
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            "a contract type cannot be generic",
        ));
    }
    let self_ty = &item.self_ty;
    let mut wrappers = Vec::new();
    let mut arms = Vec::new();
    let mut all_records = Vec::new();
    for it in &item.items {
        let ImplItem::Fn(f) = it else { continue };
        if !matches!(f.vis, Visibility::Public(_)) {
            continue;
        }
        let sig = &f.sig;
        let name = sig.ident.to_string();
        if name.len() > verity_host_abi::Limits::DEFAULT.max_entry_bytes as usize {
            return Err(syn::Error::new(sig.ident.span(), "entry name is too long"));
        }
        if !sig.generics.params.is_empty() || sig.asyncness.is_some() {
            return Err(syn::Error::new(
                sig.span(),
                "an entry point cannot be generic or async",
            ));
        }
        let mut arg_names = Vec::new();
        let mut arg_types = Vec::new();
        let mut arg_specs = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    return Err(syn::Error::new(
                        r.span(),
                        "entry points take no `self`: contract state lives in storage",
                    ));
                }
                FnArg::Typed(pt) => {
                    let Pat::Ident(pi) = &*pt.pat else {
                        return Err(syn::Error::new(
                            pt.pat.span(),
                            "entry point arguments must be plain names",
                        ));
                    };
                    let arg_name = pi.ident.to_string();
                    arg_specs.push(ArgSpec {
                        name: arg_name.trim_start_matches("r#").to_string(),
                        ty: type_spec(&pt.ty),
                    });
                    arg_names.push(pi.ident.clone());
                    arg_types.push((*pt.ty).clone());
                }
            }
        }
        let (returns, fallible) = match &sig.output {
            ReturnType::Default => (TypeSpec::Unit, false),
            ReturnType::Type(_, ty) => match result_ok_type(ty) {
                Some(ok) => (type_spec(ok), true),
                None => (type_spec(ty), false),
            },
        };
        let spec = EntrySpec {
            name: name.clone(),
            args: arg_specs,
            returns,
            fallible,
        };
        let record = spec.encode();
        all_records.extend_from_slice(&record);
        let record_len = record.len();
        let wrapper = format_ident!("__verity_entry_{}", sig.ident);
        let spec_static = format_ident!("__VERITY_SPEC_{}", sig.ident);
        let method = &sig.ident;
        let decode_msg = format!(
            "invalid input: expected ({})",
            spec.args
                .iter()
                .map(|a| format!("{}: {}", a.name, a.ty))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let finish = if fallible {
            quote!(::verity_sdk::__private::finish_result)
        } else {
            quote!(::verity_sdk::__private::finish_value)
        };
        // An entry without arguments leaves the input alone (it may read it
        // raw with `env::with_input`).
        let decode = (!arg_names.is_empty()).then(|| {
            quote! {
                let (#(#arg_names,)*): (#(#arg_types,)*) =
                    ::verity_sdk::__private::decode_input(#decode_msg);
            }
        });
        wrappers.push(quote! {
            #[cfg_attr(target_arch = "wasm32", unsafe(export_name = #name))]
            extern "C-unwind" fn #wrapper() {
                #decode
                #finish(<#self_ty>::#method(#(#arg_names),*));
            }

            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "verity.spec")]
            #[allow(non_upper_case_globals)]
            static #spec_static: [u8; #record_len] = [#(#record),*];
        });
        arms.push(quote! {
            #name => { #wrapper(); true }
        });
    }
    if arms.is_empty() {
        return Err(syn::Error::new(
            item.self_ty.span(),
            "#[contract] found no `pub fn`: every public associated function is an entry point",
        ));
    }
    Ok(quote! {
        #item

        const _: () = {
            #(#wrappers)*

            impl ::verity_sdk::Contract for #self_ty {
                const SPEC: &'static [u8] = &[#(#all_records),*];

                fn __dispatch(entry: &str) -> bool {
                    match entry {
                        #(#arms)*
                        _ => false,
                    }
                }
            }
        };
    })
}

/// `T` when `ty` is `Result<T, E>` (by the last path segment's name).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// The spec type of a Rust type, recognised by its syntax.
fn type_spec(ty: &Type) -> TypeSpec {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => TypeSpec::Unit,
        Type::Paren(p) => type_spec(&p.elem),
        Type::Group(g) => type_spec(&g.elem),
        Type::Array(a) => match (&*a.elem, &a.len) {
            (
                Type::Path(p),
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }),
            ) if p.path.is_ident("u8") => match n.base10_parse::<u32>() {
                Ok(n) => TypeSpec::FixedBytes(n),
                Err(_) => custom(ty),
            },
            _ => custom(ty),
        },
        Type::Path(p) if p.qself.is_none() => {
            let Some(seg) = p.path.segments.last() else {
                return custom(ty);
            };
            let generic = match &seg.arguments {
                PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
                    GenericArgument::Type(t) => Some(t),
                    _ => None,
                },
                _ => None,
            };
            match (seg.ident.to_string().as_str(), generic) {
                ("bool", None) => TypeSpec::Bool,
                ("u8", None) => TypeSpec::U8,
                ("u16", None) => TypeSpec::U16,
                ("u32", None) => TypeSpec::U32,
                ("u64", None) => TypeSpec::U64,
                ("u128", None) => TypeSpec::U128,
                ("i8", None) => TypeSpec::I8,
                ("i16", None) => TypeSpec::I16,
                ("i32", None) => TypeSpec::I32,
                ("i64", None) => TypeSpec::I64,
                ("i128", None) => TypeSpec::I128,
                ("String", None) => TypeSpec::String,
                ("Address", None) => TypeSpec::Address,
                ("Signature", None) => TypeSpec::FixedBytes(64),
                ("Vec", Some(Type::Path(inner))) if inner.path.is_ident("u8") => TypeSpec::Bytes,
                ("Option", Some(inner)) => TypeSpec::Option(Box::new(type_spec(inner))),
                _ => custom(ty),
            }
        }
        _ => custom(ty),
    }
}

fn custom(ty: &Type) -> TypeSpec {
    let text: String = quote!(#ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    TypeSpec::Custom(text)
}

/// Implements `verity_sdk::ContractError` for a fieldless enum.
///
/// Each variant needs `#[error("message")]`; its code is its discriminant
/// (explicit `= N` or the previous code plus one, from 0, as Rust counts).
/// An `Err(e)` returned from an entry point reverts the run with the message
/// `error <code>: <message>`.
#[proc_macro_derive(ContractError, attributes(error))]
pub fn derive_contract_error(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    match expand_contract_error(&input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_contract_error(input: &syn::DeriveInput) -> syn::Result<TokenStream2> {
    let syn::Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "ContractError derives only for fieldless enums",
        ));
    };
    let name = &input.ident;
    let mut next: u32 = 0;
    let mut code_arms = Vec::new();
    let mut msg_arms = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, syn::Fields::Unit) {
            return Err(syn::Error::new(
                v.span(),
                "ContractError variants carry no fields",
            ));
        }
        let code = match &v.discriminant {
            Some((
                _,
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }),
            )) => n.base10_parse::<u32>()?,
            Some((_, e)) => {
                return Err(syn::Error::new(
                    e.span(),
                    "the discriminant must be an integer literal",
                ));
            }
            None => next,
        };
        next = code.wrapping_add(1);
        let mut message = None;
        for attr in &v.attrs {
            if attr.path().is_ident("error") {
                let lit: syn::LitStr = attr.parse_args()?;
                message = Some(lit.value());
            }
        }
        let Some(message) = message else {
            return Err(syn::Error::new(
                v.span(),
                "each variant needs #[error(\"message\")]",
            ));
        };
        let ident = &v.ident;
        code_arms.push(quote!(#name::#ident => #code));
        msg_arms.push(quote!(#name::#ident => #message));
    }
    Ok(quote! {
        impl ::verity_sdk::ContractError for #name {
            fn code(&self) -> u32 {
                match self { #(#code_arms,)* }
            }
            fn message(&self) -> &'static str {
                match self { #(#msg_arms,)* }
            }
        }
    })
}
