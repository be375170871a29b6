//! `#[contracttype]` and `#[contractevent]`: serde derives, the type's
//! record and, for events, the topic and its record.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Ident};
use verity_host_abi::spec::{EventDef, FieldDef, Fields, TypeBody, TypeDef, TypeSpec, VariantDef};

use crate::spec_items::{alloc_type, doc_summary, require_alloc, spec_static, type_spec};

/// The longest declared topic, in bytes (the host's `max_topic_bytes`).
const MAX_TOPIC_BYTES: usize = verity_host_abi::Limits::DEFAULT.max_topic_bytes as usize;

pub fn expand_contracttype(item: &DeriveInput, event: Option<String>) -> syn::Result<TokenStream2> {
    let what = if event.is_some() {
        "#[contractevent]"
    } else {
        "#[contracttype]"
    };
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new(
            item.generics.span(),
            format!("{what} types cannot be generic: the spec describes one encoding"),
        ));
    }
    refuse_serde_attrs(&item.attrs, what)?;
    let body = match &item.data {
        Data::Struct(s) => TypeBody::Struct(fields(&s.fields, what)?),
        Data::Enum(e) if event.is_none() => {
            let mut variants = Vec::new();
            for v in &e.variants {
                refuse_serde_attrs(&v.attrs, what)?;
                variants.push(VariantDef {
                    name: v.ident.to_string(),
                    doc: doc_summary(&v.attrs),
                    fields: fields(&v.fields, what)?,
                });
            }
            TypeBody::Enum(variants)
        }
        Data::Enum(_) => {
            return Err(syn::Error::new(
                item.ident.span(),
                "#[contractevent] goes on a struct (its fields are the event's data)",
            ));
        }
        Data::Union(_) => {
            return Err(syn::Error::new(
                item.ident.span(),
                format!("{what} goes on a struct or an enum, not a union"),
            ));
        }
    };
    let name = item.ident.to_string();
    let field_types = |f: &Fields| -> Vec<TypeSpec> {
        match f {
            Fields::Unit => Vec::new(),
            Fields::Tuple(types) => types.clone(),
            Fields::Named(named) => named.iter().map(|f| f.ty.clone()).collect(),
        }
    };
    let types: Vec<TypeSpec> = match &body {
        TypeBody::Struct(f) => field_types(f),
        TypeBody::Enum(variants) => variants
            .iter()
            .flat_map(|v| field_types(&v.fields))
            .collect(),
    };
    let needs_alloc = types
        .iter()
        .find_map(alloc_type)
        .map(|t| require_alloc(&format!("`{t}` (a field of `{name}`)")));
    let doc = doc_summary(&item.attrs);
    let type_record = spec_static(
        "TYPE",
        &name,
        &TypeDef {
            name: name.clone(),
            doc: doc.clone(),
            body,
        }
        .encode(),
    );
    let ident = &item.ident;
    let event_items = event.map(|topic| {
        let record = spec_static(
            "EVENT",
            &name,
            &EventDef {
                name: name.clone(),
                doc,
                topic: topic.clone(),
                data: TypeSpec::Named(name.clone()),
            }
            .encode(),
        );
        quote! {
            #record
            impl ::verity_sdk::events::Event for #ident {
                const TOPIC: &'static str = #topic;
            }
        }
    });
    Ok(quote! {
        #[derive(::verity_sdk::Serialize, ::verity_sdk::Deserialize)]
        #[serde(crate = "verity_sdk::serde")]
        #item

        #needs_alloc

        const _: () = {
            #type_record
            #event_items
        };
    })
}

fn fields(f: &syn::Fields, what: &str) -> syn::Result<Fields> {
    for field in f {
        refuse_serde_attrs(&field.attrs, what)?;
    }
    Ok(match f {
        syn::Fields::Unit => Fields::Unit,
        syn::Fields::Unnamed(u) => {
            Fields::Tuple(u.unnamed.iter().map(|f| type_spec(&f.ty)).collect())
        }
        syn::Fields::Named(n) => Fields::Named(
            n.named
                .iter()
                .map(|f| FieldDef {
                    name: f
                        .ident
                        .as_ref()
                        .map(|i| i.to_string().trim_start_matches("r#").to_string())
                        .unwrap_or_default(),
                    doc: doc_summary(&f.attrs),
                    ty: type_spec(&f.ty),
                })
                .collect(),
        ),
    })
}

fn refuse_serde_attrs(attrs: &[Attribute], what: &str) -> syn::Result<()> {
    match attrs.iter().find(|a| a.path().is_ident("serde")) {
        Some(a) => Err(syn::Error::new(
            a.span(),
            format!(
                "{what} refuses #[serde(...)]: it would make the contract spec describe another encoding than the contract's"
            ),
        )),
        None => Ok(()),
    }
}

/// The topic `#[contractevent(...)]` declares: `topic = "..."`, or the
/// struct's name in snake case.
pub fn event_topic(attr: TokenStream2, ident: &Ident) -> syn::Result<String> {
    let topic = if attr.is_empty() {
        snake_case(&ident.to_string())
    } else {
        let nv: syn::MetaNameValue = syn::parse2(attr)?;
        if !nv.path.is_ident("topic") {
            return Err(syn::Error::new(
                nv.path.span(),
                "#[contractevent] takes only `topic = \"...\"`",
            ));
        }
        match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => s.value(),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "the topic is a string literal",
                ));
            }
        }
    };
    if topic.is_empty() || topic.len() > MAX_TOPIC_BYTES {
        return Err(syn::Error::new(
            ident.span(),
            format!("an event topic has 1 to {MAX_TOPIC_BYTES} bytes"),
        ));
    }
    Ok(topic)
}

/// `OwnerChanged` → `owner_changed`.
fn snake_case(name: &str) -> String {
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
