//! What every macro shares: Rust types as spec types, doc comment
//! summaries, and the statics that carry records into `verity.spec`.

use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::{Attribute, Expr, ExprLit, GenericArgument, Lit, PathArguments, Type};
use verity_host_abi::spec::TypeSpec;

/// The longest doc summary a record carries, in bytes (longer ones are cut
/// at a character boundary and end in `…`).
const MAX_DOC_BYTES: usize = 1024;

/// The first paragraph of the `///` comments in `attrs`, lines joined by
/// spaces: what `verity inspect` shows. Empty if there are none.
pub fn doc_summary(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            // `split`, not `lines`: an empty `///` line is `#[doc = ""]`,
            // which ends the paragraph.
            lines.extend(s.value().split('\n').map(|l| l.trim().to_string()));
        }
    }
    let paragraph: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let mut doc = paragraph.join(" ");
    if doc.len() > MAX_DOC_BYTES {
        let mut cut = MAX_DOC_BYTES - '…'.len_utf8();
        while !doc.is_char_boundary(cut) {
            cut -= 1;
        }
        doc.truncate(cut);
        doc.push('…');
    }
    doc
}

/// A wasm-only static holding `record` in the `verity.spec` section. Not
/// `#[used]`: that would copy the bytes into `.rodata` as well; wasm-ld
/// keeps custom sections without it.
///
/// `kind` and `name` make the static's name unique in the crate. That is
/// what keeps builds reproducible: rustc orders statics it cannot tell
/// apart by position by their mangled names, whose hash part depends on
/// where the crate was built; with distinct names the order (and so the
/// module's bytes) depends only on the names.
pub fn spec_static(kind: &str, name: &str, record: &[u8]) -> TokenStream2 {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let ident = format_ident!("__VERITY_SPEC_{}_{}", kind, name);
    let len = record.len();
    quote! {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "verity.spec")]
        #[allow(non_upper_case_globals)]
        static #ident: [u8; #len] = [#(#record),*];
    }
}

/// `(T, E)` when `ty` is `Result<T, E>` (by the last path segment's name).
pub fn result_types(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    let Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

/// The name a spec gives a type outside the built-in ones: its last path
/// segment (`crate::types::Order` is `Order`, as `#[contracttype]` names
/// it), or the whole text of a generic or unusual type (opaque to tools).
pub fn type_name(ty: &Type) -> String {
    if let Type::Path(p) = ty
        && p.qself.is_none()
        && let Some(seg) = p.path.segments.last()
        && matches!(seg.arguments, PathArguments::None)
    {
        return seg.ident.to_string();
    }
    quote!(#ty)
        .to_string()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// The spec type of a Rust type, recognised by its syntax.
pub fn type_spec(ty: &Type) -> TypeSpec {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => TypeSpec::Unit,
        Type::Tuple(t) => TypeSpec::Tuple(t.elems.iter().map(type_spec).collect()),
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
                Err(_) => TypeSpec::Named(type_name(ty)),
            },
            _ => TypeSpec::Named(type_name(ty)),
        },
        Type::Path(p) if p.qself.is_none() => {
            let Some(seg) = p.path.segments.last() else {
                return TypeSpec::Named(type_name(ty));
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
                ("Vec", Some(inner)) => TypeSpec::Vec(Box::new(type_spec(inner))),
                ("Option", Some(inner)) => TypeSpec::Option(Box::new(type_spec(inner))),
                _ => TypeSpec::Named(type_name(ty)),
            }
        }
        _ => TypeSpec::Named(type_name(ty)),
    }
}

/// The first type in `spec` that needs an allocator (`String`, `Vec<_>`),
/// if any: a contract using one must turn on the SDK's `alloc` feature.
pub fn alloc_type(spec: &TypeSpec) -> Option<&'static str> {
    match spec {
        TypeSpec::String => Some("String"),
        TypeSpec::Bytes => Some("Vec<u8>"),
        TypeSpec::Vec(_) => Some("Vec"),
        TypeSpec::Option(inner) => alloc_type(inner),
        TypeSpec::Tuple(items) => items.iter().find_map(alloc_type),
        _ => None,
    }
}

/// An item that fails a wasm build of the contract without the SDK's
/// `alloc` feature, saying that `what` needs it (without it serde has no
/// `String` or `Vec` impls, and rustc's message would name only a trait).
pub fn require_alloc(what: &str) -> TokenStream2 {
    quote! { ::verity_sdk::__requires_alloc!(#what); }
}
