//! `#[contract]`: entry points, their wrappers and their spec records.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ItemImpl, Pat, ReturnType, Visibility};
use verity_host_abi::spec::{ArgSpec, EntrySpec, TypeSpec};

use crate::spec_items::{
    alloc_type, doc_summary, require_alloc, result_types, spec_static, type_name, type_spec,
};

pub fn expand_contract(item: &ItemImpl) -> syn::Result<TokenStream2> {
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
    let mut needs_alloc = Vec::new();
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
        let (returns, error) = match &sig.output {
            ReturnType::Default => (TypeSpec::Unit, None),
            ReturnType::Type(_, ty) => match result_types(ty) {
                Some((ok, err)) => (
                    type_spec(ok),
                    Some(err.map_or_else(|| "Error".to_string(), type_name)),
                ),
                None => (type_spec(ty), None),
            },
        };
        let spec = EntrySpec {
            name: name.clone(),
            doc: doc_summary(&f.attrs),
            args: arg_specs,
            returns,
            error,
        };
        let alloc = spec
            .args
            .iter()
            .map(|a| (&a.ty, format!("argument `{}` of", a.name)))
            .chain([(&spec.returns, "the return value of".to_string())])
            .find_map(|(ty, place)| {
                alloc_type(ty).map(|t| format!("`{t}` ({place} entry `{name}`)"))
            });
        if let Some(what) = alloc {
            needs_alloc.push(require_alloc(&what));
        }
        all_records.extend_from_slice(&spec.encode());
        let wrapper = format_ident!("__verity_entry_{}", sig.ident);
        let method = &sig.ident;
        let decode_msg = format!(
            "invalid input: expected ({})",
            spec.args
                .iter()
                .map(|a| format!("{}: {}", a.name, a.ty))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let finish = if spec.fallible() {
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
            // An entry such as `__migrate` makes `__verity_entry___migrate`.
            #[allow(non_snake_case)]
            extern "C-unwind" fn #wrapper() {
                #decode
                #finish(<#self_ty>::#method(#(#arg_names),*));
            }
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
    // One static for the whole block: its entries stay in declaration
    // order (the linker orders separate statics as it likes).
    let records = spec_static("ENTRIES", &type_name(self_ty), &all_records);
    Ok(quote! {
        #item

        #(#needs_alloc)*

        const _: () = {
            #(#wrappers)*
            #records

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
