//! `contractclient!`: a typed client for calling another contract, made
//! from that contract's spec (a committed `verity.spec` file, or the
//! `.wasm` that carries one), with an optional pin of the `.wasm`'s code
//! hash.

use std::path::PathBuf;

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use sha2::{Digest, Sha256};
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};
use verity_host_abi::spec::{ContractSpec, ErrorDef, SectionError, TypeSpec, section_of};

use crate::spec_items::{alloc_type, require_alloc};

/// `contractclient!(Name, "path" [, code_hash = "hex"])`.
pub struct ClientArgs {
    name: Ident,
    path: LitStr,
    code_hash: Option<LitStr>,
}

impl Parse for ClientArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![,]>()?;
        let path = input.parse()?;
        let mut code_hash = None;
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: Ident = input.parse()?;
            if key != "code_hash" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `code_hash = \"<hex>\"`",
                ));
            }
            input.parse::<Token![=]>()?;
            code_hash = Some(input.parse()?);
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(ClientArgs {
            name,
            path,
            code_hash,
        })
    }
}

pub fn expand_client(args: &ClientArgs) -> syn::Result<TokenStream2> {
    let span = args.path.span();
    let err = |m: String| syn::Error::new(span, m);
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| err("CARGO_MANIFEST_DIR is not set".into()))?;
    let path = PathBuf::from(dir).join(args.path.value());
    let bytes =
        std::fs::read(&path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    let is_wasm = bytes.starts_with(b"\0asm");
    if let Some(pin) = &args.code_hash {
        if !is_wasm {
            return Err(syn::Error::new(
                pin.span(),
                "a code_hash pin needs the contract's .wasm, not a spec file",
            ));
        }
        let hash: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if pin.value() != hash {
            return Err(syn::Error::new(
                pin.span(),
                format!(
                    "{} has code hash {hash}, not the pinned one",
                    path.display()
                ),
            ));
        }
    }
    let section = if is_wasm {
        spec_section(&bytes).map_err(err)?
    } else {
        bytes
    };
    let spec = ContractSpec::decode(&section)
        .map_err(|e| err(format!("{}: malformed spec: {e}", path.display())))?;
    let path_str = path.to_string_lossy().into_owned();
    Ok(client_for(&args.name, &spec, &path_str, &args.path.value()))
}

/// The `verity.spec` section of a module (several read as one).
fn spec_section(code: &[u8]) -> Result<Vec<u8>, String> {
    match section_of(code) {
        Ok(Some(section)) => Ok(section),
        Ok(None) => Err("the module has no verity.spec section (build it with the SDK)".into()),
        Err(SectionError::NotWasm(why)) => Err(format!("not a wasm module: {why}")),
        Err(SectionError::TooLarge(_)) => Err("the spec section is too large".into()),
    }
}

/// The client `name` of the contract `spec` describes, read from `path`
/// (`shown` as the user wrote it).
fn client_for(name: &Ident, spec: &ContractSpec, path: &str, shown: &str) -> TokenStream2 {
    let mut needs_alloc = None;
    let mut methods = Vec::new();
    for entry in spec.entries.iter().filter(|e| !e.name.starts_with("__")) {
        let method = format_ident!("{}", entry.name);
        let try_method = format_ident!("try_{}", entry.name);
        let entry_name = &entry.name;
        let doc = format!(
            "Calls `{}`; any failure of the callee reverts this contract too.",
            entry.signature()
        );
        let try_doc = format!(
            "Calls `{}`; a failure is returned, and the callee's writes and events are undone.",
            entry.signature()
        );
        let arg_names: Vec<Ident> = entry
            .args
            .iter()
            .map(|a| format_ident!("{}", a.name))
            .collect();
        let arg_types: Vec<TokenStream2> = entry.args.iter().map(|a| rust_type(&a.ty)).collect();
        for t in entry.args.iter().map(|a| &a.ty).chain([&entry.returns]) {
            needs_alloc = needs_alloc.or_else(|| alloc_type(t));
        }
        let ret = rust_type(&entry.returns);
        let error = match &entry.error {
            Some(e) => {
                let e = format_ident!("{}", e);
                quote!(#e)
            }
            None => quote!(::verity_sdk::env::NoError),
        };
        methods.push(quote! {
            #[doc = #doc]
            pub fn #method(&self, #(#arg_names: &#arg_types),*) -> #ret {
                match self.#try_method(#(#arg_names),*) {
                    ::core::result::Result::Ok(value) => value,
                    ::core::result::Result::Err(e) => ::verity_sdk::env::revert_call(e),
                }
            }
            #[doc = #try_doc]
            pub fn #try_method(
                &self,
                #(#arg_names: &#arg_types),*
            ) -> ::core::result::Result<#ret, ::verity_sdk::env::CallError<#error>> {
                ::verity_sdk::env::try_call(&self.address, #entry_name, &(#(#arg_names,)*), self.fuel_cap)
            }
        });
    }
    let errors = spec.errors.iter().map(error_type);
    let alloc = needs_alloc.map(|t| require_alloc(&format!("a client whose calls pass `{t}`")));
    let doc = format!("A typed client of the contract described by `{shown}`.");
    quote! {
        #alloc
        // Rebuild when the spec changes.
        const _: &[u8] = include_bytes!(#path);

        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct #name {
            address: ::verity_sdk::Address,
            fuel_cap: ::core::option::Option<u64>,
        }

        impl #name {
            /// A client of the contract at `address`, with no fuel cap.
            pub const fn new(address: ::verity_sdk::Address) -> Self {
                #name { address, fuel_cap: ::core::option::Option::None }
            }
            /// The same client, giving each call at most `cap` fuel.
            pub const fn with_fuel_cap(self, cap: u64) -> Self {
                #name { address: self.address, fuel_cap: ::core::option::Option::Some(cap) }
            }
            /// The address it calls.
            pub const fn address(&self) -> ::verity_sdk::Address {
                self.address
            }
            #(#methods)*
        }

        #(#errors)*
    }
}

/// The callee's error type, with its codes and messages (no spec record:
/// it is the callee's, not the caller's).
fn error_type(def: &ErrorDef) -> TokenStream2 {
    let name = format_ident!("{}", def.name);
    let doc = if def.doc.is_empty() {
        format!("The errors of `{}`.", def.name)
    } else {
        def.doc.clone()
    };
    let idents: Vec<Ident> = def
        .variants
        .iter()
        .map(|v| format_ident!("{}", v.name))
        .collect();
    let docs: Vec<&String> = def.variants.iter().map(|v| &v.message).collect();
    let codes: Vec<u32> = def.variants.iter().map(|v| v.code).collect();
    let messages = docs.clone();
    quote! {
        #[doc = #doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum #name {
            #(#[doc = #docs] #idents = #codes,)*
        }

        impl ::verity_sdk::ContractError for #name {
            fn code(&self) -> u32 {
                *self as u32
            }
            fn message(&self) -> &'static str {
                match self { #(#name::#idents => #messages,)* }
            }
            fn from_code(code: u32) -> ::core::option::Option<Self> {
                match code {
                    #(#codes => ::core::option::Option::Some(#name::#idents),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    }
}

/// The Rust type a spec type stands for.
fn rust_type(t: &TypeSpec) -> TokenStream2 {
    match t {
        TypeSpec::Unit => quote!(()),
        TypeSpec::Bool => quote!(bool),
        TypeSpec::U8 => quote!(u8),
        TypeSpec::U16 => quote!(u16),
        TypeSpec::U32 => quote!(u32),
        TypeSpec::U64 => quote!(u64),
        TypeSpec::U128 => quote!(u128),
        TypeSpec::I8 => quote!(i8),
        TypeSpec::I16 => quote!(i16),
        TypeSpec::I32 => quote!(i32),
        TypeSpec::I64 => quote!(i64),
        TypeSpec::I128 => quote!(i128),
        TypeSpec::String => quote!(::verity_sdk::__private::String),
        TypeSpec::Bytes => quote!(::verity_sdk::__private::Vec<u8>),
        TypeSpec::FixedBytes(n) => {
            let n = *n as usize;
            quote!([u8; #n])
        }
        TypeSpec::Address => quote!(::verity_sdk::Address),
        TypeSpec::Option(inner) => {
            let inner = rust_type(inner);
            quote!(::core::option::Option<#inner>)
        }
        // A user-defined type: the caller brings one of that name (with
        // the same encoding) into scope.
        TypeSpec::Named(n) => {
            let n = Ident::new(n, Span::call_site());
            quote!(#n)
        }
        TypeSpec::Vec(inner) => {
            let inner = rust_type(inner);
            quote!(::verity_sdk::__private::Vec<#inner>)
        }
        TypeSpec::Tuple(items) => {
            let items = items.iter().map(rust_type);
            quote!((#(#items,)*))
        }
    }
}
