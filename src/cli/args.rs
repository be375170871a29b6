//! `--arg name=value`: typed entry arguments encoded from text using the
//! module's contract spec, and outputs decoded back to text.
//!
//! Text forms (docs/sdk.md): integers in decimal; `true`/`false`; strings as
//! they are; `Vec<u8>`, `[u8; N]` and `Address` in hex (optional `0x`);
//! `Option<T>` as `none` or a `T`; `()` as the empty string.

use anyhow::{Context, Result, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use verity_runtime::abi::spec::{EntrySpec, TypeSpec};

/// Encodes `name=value` pairs as the postcard tuple `entry` expects.
pub fn encode_args(entry: &EntrySpec, pairs: &[String]) -> Result<Vec<u8>> {
    let mut given: Vec<(&str, &str)> = Vec::new();
    for p in pairs {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--arg `{p}` is not NAME=VALUE"))?;
        if entry.args.iter().all(|a| a.name != name) {
            bail!(
                "`{}` has no argument `{name}` (it is {})",
                entry.name,
                entry.signature()
            );
        }
        if given.iter().any(|(n, _)| *n == name) {
            bail!("--arg {name} is given twice");
        }
        given.push((name, value));
    }
    let mut out = Vec::new();
    for a in &entry.args {
        let (_, value) = given.iter().find(|(n, _)| *n == a.name).ok_or_else(|| {
            anyhow!(
                "missing --arg {}=<{}> for {}",
                a.name,
                a.ty,
                entry.signature()
            )
        })?;
        encode_value(&a.ty, value, &mut out)
            .with_context(|| format!("--arg {}: `{value}` is not of type {}", a.name, a.ty))?;
    }
    Ok(out)
}

fn put<T: Serialize>(v: &T, out: &mut Vec<u8>) -> Result<()> {
    out.extend_from_slice(&postcard::to_allocvec(v)?);
    Ok(())
}

fn hex_bytes(text: &str) -> Result<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).map_err(|e| anyhow!("not hex: {e}"))
}

fn fixed(text: &str, n: usize) -> Result<Vec<u8>> {
    let b = hex_bytes(text)?;
    if b.len() != n {
        bail!("{} bytes, expected {n}", b.len());
    }
    Ok(b)
}

/// Appends the postcard encoding of `text` read as `ty`.
pub fn encode_value(ty: &TypeSpec, text: &str, out: &mut Vec<u8>) -> Result<()> {
    match ty {
        TypeSpec::Unit if text.is_empty() => Ok(()),
        TypeSpec::Unit => bail!("`()` takes an empty value"),
        TypeSpec::Bool => put(&text.parse::<bool>()?, out),
        TypeSpec::U8 => put(&text.parse::<u8>()?, out),
        TypeSpec::U16 => put(&text.parse::<u16>()?, out),
        TypeSpec::U32 => put(&text.parse::<u32>()?, out),
        TypeSpec::U64 => put(&text.parse::<u64>()?, out),
        TypeSpec::U128 => put(&text.parse::<u128>()?, out),
        TypeSpec::I8 => put(&text.parse::<i8>()?, out),
        TypeSpec::I16 => put(&text.parse::<i16>()?, out),
        TypeSpec::I32 => put(&text.parse::<i32>()?, out),
        TypeSpec::I64 => put(&text.parse::<i64>()?, out),
        TypeSpec::I128 => put(&text.parse::<i128>()?, out),
        TypeSpec::String => put(&text, out),
        // A byte vector is a length-prefixed sequence: as serde's Vec<u8>.
        TypeSpec::Bytes => put(&hex_bytes(text)?, out),
        // Fixed arrays and addresses are their bytes, with no length.
        TypeSpec::FixedBytes(n) => {
            out.extend_from_slice(&fixed(text, *n as usize)?);
            Ok(())
        }
        TypeSpec::Address => {
            out.extend_from_slice(&fixed(text, 32)?);
            Ok(())
        }
        TypeSpec::Option(_) if text == "none" => put(&0u8, out),
        TypeSpec::Option(inner) => {
            put(&1u8, out)?;
            encode_value(inner, text, out)
        }
        TypeSpec::Custom(name) => {
            bail!("`{name}` cannot be given as text; pass the encoded bytes with --input")
        }
    }
}

fn take<T: DeserializeOwned>(bytes: &mut &[u8]) -> Option<T> {
    let (v, rest) = postcard::take_from_bytes(bytes).ok()?;
    *bytes = rest;
    Some(v)
}

fn take_n(bytes: &mut &[u8], n: usize) -> Option<Vec<u8>> {
    if bytes.len() < n {
        return None;
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Some(head.to_vec())
}

/// Reads one `ty` from the front of `bytes` as text, or `None` if the bytes
/// are not one (or the type is opaque).
fn decode_one(ty: &TypeSpec, bytes: &mut &[u8]) -> Option<String> {
    Some(match ty {
        TypeSpec::Unit => "()".into(),
        TypeSpec::Bool => take::<bool>(bytes)?.to_string(),
        TypeSpec::U8 => take::<u8>(bytes)?.to_string(),
        TypeSpec::U16 => take::<u16>(bytes)?.to_string(),
        TypeSpec::U32 => take::<u32>(bytes)?.to_string(),
        TypeSpec::U64 => take::<u64>(bytes)?.to_string(),
        TypeSpec::U128 => take::<u128>(bytes)?.to_string(),
        TypeSpec::I8 => take::<i8>(bytes)?.to_string(),
        TypeSpec::I16 => take::<i16>(bytes)?.to_string(),
        TypeSpec::I32 => take::<i32>(bytes)?.to_string(),
        TypeSpec::I64 => take::<i64>(bytes)?.to_string(),
        TypeSpec::I128 => take::<i128>(bytes)?.to_string(),
        TypeSpec::String => format!("{:?}", take::<String>(bytes)?),
        TypeSpec::Bytes => hex::encode(take::<Vec<u8>>(bytes)?),
        TypeSpec::FixedBytes(n) => hex::encode(take_n(bytes, *n as usize)?),
        TypeSpec::Address => hex::encode(take_n(bytes, 32)?),
        TypeSpec::Option(inner) => match take::<u8>(bytes)? {
            0 => "none".into(),
            1 => decode_one(inner, bytes)?,
            _ => return None,
        },
        TypeSpec::Custom(_) => return None,
    })
}

/// The output of a successful run of `entry` as text, if it decodes exactly.
pub fn decode_output(entry: &EntrySpec, mut output: &[u8]) -> Option<String> {
    let text = decode_one(&entry.returns, &mut output)?;
    output.is_empty().then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use verity_runtime::abi::spec::ArgSpec;

    fn entry(args: Vec<(&str, TypeSpec)>, returns: TypeSpec) -> EntrySpec {
        EntrySpec {
            name: "f".into(),
            args: args
                .into_iter()
                .map(|(n, ty)| ArgSpec { name: n.into(), ty })
                .collect(),
            returns,
            fallible: false,
        }
    }

    #[test]
    fn text_encodes_as_the_sdk_decodes_it() {
        let e = entry(
            vec![
                ("to", TypeSpec::Address),
                ("amount", TypeSpec::U64),
                ("memo", TypeSpec::Option(Box::new(TypeSpec::String))),
                ("delta", TypeSpec::I32),
            ],
            TypeSpec::Unit,
        );
        let to = "ab".repeat(32);
        let got = encode_args(
            &e,
            &[
                "amount=300".into(),
                format!("to={to}"),
                "memo=hi".into(),
                "delta=-2".into(),
            ],
        )
        .unwrap();
        let expected =
            postcard::to_allocvec(&([0xabu8; 32], 300u64, Some("hi".to_string()), -2i32)).unwrap();
        assert_eq!(got, expected);
        let none = encode_args(
            &e,
            &[
                format!("to={to}"),
                "amount=0".into(),
                "memo=none".into(),
                "delta=0".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            none,
            postcard::to_allocvec(&([0xabu8; 32], 0u64, None::<String>, 0i32)).unwrap()
        );
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = entry(vec![("n", TypeSpec::U8)], TypeSpec::Unit);
        let err = |pairs: &[&str]| {
            let pairs: Vec<String> = pairs.iter().map(|s| s.to_string()).collect();
            format!("{:#}", encode_args(&e, &pairs).unwrap_err())
        };
        assert!(err(&[]).contains("missing --arg n=<u8>"));
        assert!(err(&["n=300"]).contains("`300` is not of type u8"));
        assert!(err(&["n=1", "n=2"]).contains("given twice"));
        assert!(err(&["m=1"]).contains("no argument `m`"));
        assert!(err(&["n"]).contains("not NAME=VALUE"));
        let custom = entry(
            vec![("p", TypeSpec::Custom("Point".into()))],
            TypeSpec::Unit,
        );
        let msg = format!("{:#}", encode_args(&custom, &["p=1".into()]).unwrap_err());
        assert!(msg.contains("--input"), "{msg}");
    }

    #[test]
    fn outputs_decode_exactly_or_not_at_all() {
        let e = entry(vec![], TypeSpec::U64);
        let bytes = postcard::to_allocvec(&300u64).unwrap();
        assert_eq!(decode_output(&e, &bytes).as_deref(), Some("300"));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_output(&e, &long), None);
        let o = entry(vec![], TypeSpec::Option(Box::new(TypeSpec::Address)));
        assert_eq!(decode_output(&o, &[0]).as_deref(), Some("none"));
    }
}
