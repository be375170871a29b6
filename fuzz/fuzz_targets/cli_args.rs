//! The CLI's input parsing: `--arg` text for every spec type, hex byte
//! arguments, and output decoding. Nothing panics; whatever `--arg` text is
//! accepted encodes to bytes that decode back as exactly one value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use verity::cli::args::{decode_output, encode_value};
use verity::cli::inputs::parse_bytes_arg;
use verity_host_abi::spec::{EntrySpec, TypeSpec};

fn types() -> Vec<TypeSpec> {
    use TypeSpec::*;
    vec![
        Unit, Bool, U8, U16, U32, U64, U128, I8, I16, I32, I64, I128, String, Bytes,
        FixedBytes(4), Address, Option(Box::new(U64)), Option(Box::new(Address)),
        Custom("Point".into()),
    ]
}

fuzz_target!(|data: (u8, &str, &[u8])| {
    let (which, text, bytes) = data;
    let types = types();
    let ty = &types[which as usize % types.len()];
    let entry = EntrySpec {
        name: "f".into(),
        args: vec![],
        returns: ty.clone(),
        fallible: false,
    };
    let mut out = Vec::new();
    if encode_value(ty, text, &mut out).is_ok() && *ty != TypeSpec::Unit {
        assert!(decode_output(&entry, &out).is_some(), "{ty}: {text:?} -> {out:?}");
    }
    let _ = decode_output(&entry, bytes);
    if !text.starts_with('@') {
        let _ = parse_bytes_arg("--input", text);
    }
});
