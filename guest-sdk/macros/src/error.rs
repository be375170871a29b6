//! `#[derive(ContractError)]`: codes, messages and the error type's record.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit};
use verity_host_abi::spec::{ErrorDef, ErrorVariant};

use crate::spec_items::{doc_summary, spec_static};

pub fn expand_contract_error(input: &syn::DeriveInput) -> syn::Result<TokenStream2> {
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
    let mut from_arms = Vec::new();
    let mut variants = Vec::new();
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
        variants.push(ErrorVariant {
            name: v.ident.to_string(),
            doc: doc_summary(&v.attrs),
            code,
            message: message.clone(),
        });
        let ident = &v.ident;
        code_arms.push(quote!(#name::#ident => #code));
        msg_arms.push(quote!(#name::#ident => #message));
        from_arms.push(quote!(#code => ::core::option::Option::Some(#name::#ident)));
    }
    if let Some(dup) = variants
        .iter()
        .enumerate()
        .find(|(i, v)| variants[..*i].iter().any(|w| w.code == v.code))
    {
        return Err(syn::Error::new(
            input.ident.span(),
            format!("two variants have error code {}", dup.1.code),
        ));
    }
    let record = ErrorDef {
        name: name.to_string(),
        doc: doc_summary(&input.attrs),
        variants,
    }
    .encode();
    let record = spec_static("ERROR", &name.to_string(), &record);
    Ok(quote! {
        const _: () = { #record };

        impl ::verity_sdk::ContractError for #name {
            fn code(&self) -> u32 {
                match self { #(#code_arms,)* }
            }
            fn message(&self) -> &'static str {
                match self { #(#msg_arms,)* }
            }
            fn from_code(code: u32) -> ::core::option::Option<Self> {
                match code {
                    #(#from_arms,)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    })
}
