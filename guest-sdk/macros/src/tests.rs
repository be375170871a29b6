//! What the macros accept, refuse and record, tested on their expansion
//! functions (the fixture contracts test the compiled result).

use syn::parse_quote;
use verity_host_abi::spec::{ContractSpec, TypeSpec};

use crate::spec_items::{doc_summary, type_spec};
use crate::types::{event_topic, expand_contracttype};

fn ty(t: syn::Type) -> TypeSpec {
    type_spec(&t)
}

#[test]
fn types_are_recognised_by_syntax() {
    assert_eq!(ty(parse_quote!(Vec<u8>)), TypeSpec::Bytes);
    assert_eq!(
        ty(parse_quote!(Vec<Address>)),
        TypeSpec::Vec(Box::new(TypeSpec::Address))
    );
    assert_eq!(
        ty(parse_quote!((u8, Option<crate::types::Order>))),
        TypeSpec::Tuple(vec![
            TypeSpec::U8,
            TypeSpec::Option(Box::new(TypeSpec::Named("Order".into())))
        ])
    );
    assert_eq!(ty(parse_quote!(Signature)), TypeSpec::FixedBytes(64));
    assert_eq!(ty(parse_quote!([u8; 20])), TypeSpec::FixedBytes(20));
    // Generic and unusual types are named by their text: opaque to tools.
    assert_eq!(
        ty(parse_quote!(BTreeMap<u8, u8>)),
        TypeSpec::Named("BTreeMap<u8,u8>".into())
    );
    assert_eq!(
        ty(parse_quote!([u32; 4])),
        TypeSpec::Named("[u32;4]".into())
    );
}

#[test]
fn a_doc_summary_is_the_first_paragraph_capped_at_1_kib() {
    let item: syn::ItemStruct = parse_quote! {
        /// First line
        /// continues here.
        ///
        /// Details that stay in the source.
        struct S;
    };
    assert_eq!(doc_summary(&item.attrs), "First line continues here.");
    let long = "é".repeat(700);
    let item: syn::ItemStruct = parse_quote! {
        #[doc = #long]
        struct S;
    };
    let doc = doc_summary(&item.attrs);
    assert!(doc.len() <= 1024 && doc.ends_with('…'), "{}", doc.len());
}

fn refused(item: syn::DeriveInput, event: Option<&str>) -> String {
    expand_contracttype(&item, event.map(String::from))
        .unwrap_err()
        .to_string()
}

#[test]
fn contract_types_refuse_what_would_make_the_spec_lie() {
    let renamed = refused(
        parse_quote! {
            #[serde(rename_all = "camelCase")]
            struct S { a_b: u8 }
        },
        None,
    );
    assert!(renamed.contains("refuses #[serde(...)]"), "{renamed}");
    let skipped = refused(
        parse_quote! {
            enum E { A { #[serde(skip)] x: u8 } }
        },
        None,
    );
    assert!(skipped.contains("refuses #[serde(...)]"), "{skipped}");
    let generic = refused(
        parse_quote!(
            struct S<T> {
                t: T,
            }
        ),
        None,
    );
    assert!(generic.contains("cannot be generic"), "{generic}");
    let enum_event = refused(
        parse_quote!(
            enum E {
                A,
            }
        ),
        Some("e"),
    );
    assert!(enum_event.contains("goes on a struct"), "{enum_event}");
}

#[test]
fn an_event_topic_is_the_snake_case_name_or_the_one_given() {
    let name: syn::Ident = parse_quote!(OwnerChanged);
    assert_eq!(
        event_topic(Default::default(), &name).unwrap(),
        "owner_changed"
    );
    assert_eq!(
        event_topic(quote::quote!(topic = "xfer"), &name).unwrap(),
        "xfer"
    );
    assert!(event_topic(quote::quote!(name = "x"), &name).is_err());
    assert!(event_topic(quote::quote!(topic = ""), &name).is_err());
    let long = "t".repeat(257);
    assert!(event_topic(quote::quote!(topic = #long), &name).is_err());
}

/// The record bytes inside the generated static, decoded.
fn records(tokens: proc_macro2::TokenStream) -> ContractSpec {
    let file: syn::File = syn::parse2(tokens).unwrap();
    let mut bytes = Vec::new();
    for item in file.items {
        let syn::Item::Const(c) = item else { continue };
        let syn::Expr::Block(b) = *c.expr else {
            continue;
        };
        for stmt in b.block.stmts {
            if let syn::Stmt::Item(syn::Item::Static(s)) = stmt
                && let syn::Expr::Array(a) = *s.expr
            {
                for e in a.elems {
                    let syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(n),
                        ..
                    }) = e
                    else {
                        panic!("not a byte")
                    };
                    bytes.push(n.base10_parse::<u8>().unwrap());
                }
            }
        }
    }
    ContractSpec::decode(&bytes).unwrap()
}

#[test]
fn an_event_records_its_type_and_its_topic() {
    let out = expand_contracttype(
        &parse_quote! {
            /// Tokens moved.
            pub struct Transfer { pub from: Address, pub amount: u64 }
        },
        Some("transfer".into()),
    )
    .unwrap();
    let spec = records(out);
    assert_eq!(spec.types.len(), 1);
    assert_eq!(spec.types[0].doc, "Tokens moved.");
    let ev = spec.event(b"transfer").unwrap();
    assert_eq!(ev.data, TypeSpec::Named("Transfer".into()));
}

/// `contractclient!` reads a spec file or a `.wasm` (the same spec either
/// way), holds a `.wasm` to its pinned code hash, and refuses a pin on a
/// spec file, a missing file and a file that is neither.
#[test]
fn contractclient_reads_a_spec_or_a_pinned_wasm_and_refuses_the_rest() {
    use crate::client::{ClientArgs, expand_client};
    use sha2::{Digest, Sha256};
    let dir = env!("CARGO_MANIFEST_DIR");
    let wasm = std::fs::read(format!("{dir}/../../fixtures/wasm/token.wasm")).unwrap();
    let hash: String = Sha256::digest(&wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let expand = |args: proc_macro2::TokenStream| {
        let args: ClientArgs = syn::parse2(args).unwrap();
        expand_client(&args)
            .map(|t| t.to_string())
            .map_err(|e| e.to_string())
    };
    let from_wasm = expand(quote::quote!(T, "../../fixtures/wasm/token.wasm")).unwrap();
    let from_spec = expand(quote::quote!(
        T,
        "../../fixtures/contracts/escrow/token.spec"
    ))
    .unwrap();
    // The same client, but for the file its doc and include name.
    let strip = |s: &str| {
        s.split_once("pub struct T")
            .map(|(_, rest)| rest.to_string())
    };
    assert!(strip(&from_wasm).is_some());
    assert_eq!(strip(&from_wasm), strip(&from_spec));
    assert!(from_wasm.contains("fn try_transfer_from"), "{from_wasm}");
    assert!(
        from_wasm.contains("InsufficientAllowance = 7u32"),
        "{from_wasm}"
    );
    let pinned = quote::quote!(T, "../../fixtures/wasm/token.wasm", code_hash = #hash);
    assert!(expand(pinned).is_ok());
    let wrong = "00".repeat(32);
    let err =
        expand(quote::quote!(T, "../../fixtures/wasm/token.wasm", code_hash = #wrong)).unwrap_err();
    assert!(err.contains("not the pinned one"), "{err}");
    let err =
        expand(quote::quote!(T, "../../fixtures/contracts/escrow/token.spec", code_hash = #hash))
            .unwrap_err();
    assert!(err.contains("needs the contract's .wasm"), "{err}");
    let err = expand(quote::quote!(T, "no/such/file.spec")).unwrap_err();
    assert!(err.contains("cannot read"), "{err}");
    let err = expand(quote::quote!(T, "Cargo.toml")).unwrap_err();
    assert!(err.contains("malformed spec"), "{err}");
}
