//! The CLI's input parsing: `--arg` text for every kind of spec type, hex
//! byte arguments, and output decoding. Nothing panics; whatever `--arg`
//! text is accepted encodes to bytes that decode back as exactly one value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verity::cli::args::encode_args;
use verity::cli::inputs::parse_bytes_arg;
use verity_host_abi::spec::{
    ArgSpec, ContractSpec, EntrySpec, FieldDef, Fields, TypeBody, TypeDef, TypeSpec, VariantDef,
};
use verity_runtime::spec_json;

fn spec() -> ContractSpec {
    ContractSpec {
        types: vec![
            TypeDef {
                name: "Point".into(),
                doc: String::new(),
                body: TypeBody::Struct(Fields::Named(vec![
                    FieldDef { name: "x".into(), doc: String::new(), ty: TypeSpec::I32 },
                    FieldDef { name: "tags".into(), doc: String::new(), ty: TypeSpec::Vec(Box::new(TypeSpec::String)) },
                ])),
            },
            TypeDef {
                name: "Shape".into(),
                doc: String::new(),
                body: TypeBody::Enum(vec![
                    VariantDef { name: "Dot".into(), doc: String::new(), fields: Fields::Unit },
                    VariantDef { name: "Line".into(), doc: String::new(), fields: Fields::Tuple(vec![TypeSpec::Named("Point".into()), TypeSpec::Named("Point".into())]) },
                ]),
            },
        ],
        ..ContractSpec::default()
    }
}

fn types() -> Vec<TypeSpec> {
    use TypeSpec::*;
    vec![
        Unit, Bool, U8, U16, U32, U64, U128, I8, I16, I32, I64, I128, String, Bytes,
        FixedBytes(4), Address, Option(Box::new(U64)), Option(Box::new(Address)),
        Vec(Box::new(Address)), Tuple(vec![U8, String]),
        Named("Point".into()), Named("Shape".into()), Named("Undeclared".into()),
    ]
}

fuzz_target!(|data: (u8, &str, &[u8])| {
    let (which, text, bytes) = data;
    let types = types();
    let ty = &types[which as usize % types.len()];
    let spec = spec();
    let entry = EntrySpec {
        name: "f".into(),
        doc: String::new(),
        args: vec![ArgSpec { name: "a".into(), ty: ty.clone() }],
        returns: ty.clone(),
        error: None,
    };
    if let Ok(out) = encode_args(&spec, &entry, &[format!("a={text}")], None) {
        assert!(spec_json::decode(&spec, ty, &out).is_ok(), "{ty}: {text:?} -> {out:?}");
    }
    let _ = spec_json::decode(&spec, ty, bytes);
    if !text.starts_with('@') {
        let _ = parse_bytes_arg("--input", text);
    }
});
