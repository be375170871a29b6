//! Contract values as JSON, by the contract spec: arguments encoded from
//! JSON into the postcard bytes an entry decodes, and outputs and event data
//! decoded back into JSON. What `verity run --arg name=JSON` and the
//! decoded outputs of the CLI use; embedders (an RPC service, an indexer)
//! use it the same way.
//!
//! The JSON form of each type (docs/sdk.md, "Values as JSON"): `()` is
//! `null`; integers up to 64 bits are numbers, `u128` and `i128` decimal
//! strings (numbers are accepted too); `String` a string; `Vec<u8>`,
//! `[u8; N]` and `Address` hex strings (`0x` optional); `Option<T>` `null`
//! or the `T`; `Vec<T>` and tuples arrays; structs objects with every field
//! (tuple structs arrays, a one-field tuple struct its field, unit structs
//! `null`); enum variants as serde_json writes them: `"Name"` for a unit
//! variant, `{"Name": fields}` for the others.
//!
//! ```
//! use serde_json::json;
//! use verity_host_abi::spec::{ContractSpec, FieldDef, Fields, TypeBody, TypeDef, TypeSpec};
//! use verity_host_abi::spec_json;
//!
//! let spec = ContractSpec {
//!     types: vec![TypeDef {
//!         name: "Order".into(),
//!         doc: String::new(),
//!         body: TypeBody::Struct(Fields::Named(vec![
//!             FieldDef { name: "id".into(), doc: String::new(), ty: TypeSpec::U64 },
//!             FieldDef { name: "tags".into(), doc: String::new(), ty: TypeSpec::Vec(Box::new(TypeSpec::String)) },
//!         ])),
//!     }],
//!     ..ContractSpec::default()
//! };
//! let ty = TypeSpec::Named("Order".into());
//! let value = json!({"id": 300, "tags": ["a"]});
//! let bytes = spec_json::encode(&spec, &ty, &value)?;
//! assert_eq!(bytes, [0xac, 0x02, 1, 1, b'a']);
//! assert_eq!(spec_json::decode(&spec, &ty, &bytes)?, value);
//! # Ok::<(), spec_json::ValueError>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use crate::spec::{ContractSpec, EntrySpec, Fields, TypeBody, TypeDef, TypeSpec};

/// How deeply values may nest (recursive types are legal; hostile bytes
/// must not exhaust the stack).
pub const MAX_VALUE_DEPTH: usize = 64;

/// The most JSON values one decode produces, and what a receipt's output
/// and events together may produce ([`DecodeBudget`]): bounds the work a
/// hostile output of zero-sized elements could ask for (docs/sdk.md).
pub const MAX_DECODED_VALUES: usize = 1 << 18;

/// Why a value could not be encoded or decoded: where (a path such as
/// `order.items[2]`) and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{reason}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct ValueError {
    /// Where in the value, empty for the value itself.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

fn err<T>(path: &str, reason: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError {
        path: path.to_string(),
        reason: reason.into(),
    })
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else if part.starts_with('[') {
        format!("{path}{part}")
    } else {
        format!("{path}.{part}")
    }
}

/// The postcard encoding of `value` read as a `ty`.
pub fn encode(spec: &ContractSpec, ty: &TypeSpec, value: &Value) -> Result<Vec<u8>, ValueError> {
    let mut out = Vec::new();
    Encoder { spec }.value(ty, value, "", 0, &mut out)?;
    Ok(out)
}

/// The input of `entry`: the encoding of the tuple of its arguments, each
/// taken from `args` by name. Every argument must be given, and nothing
/// else.
pub fn encode_args(
    spec: &ContractSpec,
    entry: &EntrySpec,
    args: &Map<String, Value>,
) -> Result<Vec<u8>, ValueError> {
    if let Some(extra) = args
        .keys()
        .find(|k| entry.args.iter().all(|a| &a.name != *k))
    {
        return err(
            extra,
            format!(
                "`{}` has no such argument (it is {})",
                entry.name,
                entry.signature()
            ),
        );
    }
    let mut out = Vec::new();
    for a in &entry.args {
        let Some(v) = args.get(&a.name) else {
            return err(&a.name, format!("missing (an argument of type {})", a.ty));
        };
        Encoder { spec }.value(&a.ty, v, &a.name, 0, &mut out)?;
    }
    Ok(out)
}

/// `bytes` decoded as one `ty`, exactly (bytes left over are an error),
/// producing at most [`MAX_DECODED_VALUES`] values.
pub fn decode(spec: &ContractSpec, ty: &TypeSpec, bytes: &[u8]) -> Result<Value, ValueError> {
    decode_within(spec, ty, bytes, &mut DecodeBudget::new(MAX_DECODED_VALUES))
}

/// What decoding may still produce: a count of JSON values, shared by every
/// decode of one receipt (its output and all its events), so that the work
/// of printing a receipt is bounded by one budget, not one per value
/// decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeBudget {
    values: usize,
}

impl DecodeBudget {
    /// A budget of `values` JSON values.
    pub fn new(values: usize) -> Self {
        DecodeBudget { values }
    }

    /// Whether it ran out (some decode stopped for it).
    pub fn exhausted(&self) -> bool {
        self.values == 0
    }
}

/// [`decode`], drawing on `budget` (which it leaves at what remains).
///
/// ```
/// use verity_host_abi::spec::{ContractSpec, TypeSpec};
/// use verity_host_abi::spec_json::{DecodeBudget, decode_within};
///
/// let spec = ContractSpec::default();
/// let ty = TypeSpec::Vec(Box::new(TypeSpec::Unit));
/// let mut budget = DecodeBudget::new(10);
/// // A vec of 9 units: 10 values.
/// assert!(decode_within(&spec, &ty, &[9], &mut budget).is_ok());
/// assert!(budget.exhausted());
/// assert!(decode_within(&spec, &TypeSpec::Unit, &[], &mut budget).is_err());
/// ```
pub fn decode_within(
    spec: &ContractSpec,
    ty: &TypeSpec,
    bytes: &[u8],
    budget: &mut DecodeBudget,
) -> Result<Value, ValueError> {
    let types: HashMap<&str, &TypeDef> = spec.types.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut d = Decoder {
        types,
        rest: bytes,
        budget,
        path: Vec::new(),
    };
    let v = d.value(ty, 0)?;
    if !d.rest.is_empty() {
        return err("", format!("{} bytes left over after a {ty}", d.rest.len()));
    }
    Ok(v)
}

struct Encoder<'s> {
    spec: &'s ContractSpec,
}

fn put<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    // Serialising a primitive into a vector cannot fail.
    out.extend_from_slice(&postcard::to_allocvec(v).unwrap_or_default());
}

fn hex_bytes(v: &Value, path: &str) -> Result<Vec<u8>, ValueError> {
    let Some(text) = v.as_str() else {
        return err(path, format!("expected a hex string, found {}", kind(v)));
    };
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).or_else(|e| err(path, format!("`{text}` is not hex: {e}")))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An integer from a JSON number or a decimal string.
fn int<T: TryFrom<i128> + core::str::FromStr>(
    v: &Value,
    ty: &TypeSpec,
    path: &str,
) -> Result<T, ValueError> {
    let parsed: Option<T> = match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .and_then(|i| T::try_from(i).ok()),
        Value::String(s) => s.parse().ok(),
        _ => return err(path, format!("expected a {ty}, found {}", kind(v))),
    };
    parsed.map_or_else(|| err(path, format!("{v} is not a {ty}")), Ok)
}

impl Encoder<'_> {
    fn value(
        &self,
        ty: &TypeSpec,
        v: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ValueError> {
        if depth > MAX_VALUE_DEPTH {
            return err(path, "the value nests too deeply");
        }
        match ty {
            TypeSpec::Unit => match v {
                Value::Null => {}
                _ => return err(path, format!("expected null for (), found {}", kind(v))),
            },
            TypeSpec::Bool => match v {
                Value::Bool(b) => put(b, out),
                _ => return err(path, format!("expected true or false, found {}", kind(v))),
            },
            TypeSpec::U8 => put(&int::<u8>(v, ty, path)?, out),
            TypeSpec::U16 => put(&int::<u16>(v, ty, path)?, out),
            TypeSpec::U32 => put(&int::<u32>(v, ty, path)?, out),
            TypeSpec::U64 => put(&int::<u64>(v, ty, path)?, out),
            TypeSpec::U128 => put(&int::<u128>(v, ty, path)?, out),
            TypeSpec::I8 => put(&int::<i8>(v, ty, path)?, out),
            TypeSpec::I16 => put(&int::<i16>(v, ty, path)?, out),
            TypeSpec::I32 => put(&int::<i32>(v, ty, path)?, out),
            TypeSpec::I64 => put(&int::<i64>(v, ty, path)?, out),
            TypeSpec::I128 => put(&int::<i128>(v, ty, path)?, out),
            TypeSpec::String => match v {
                Value::String(s) => put(s, out),
                _ => return err(path, format!("expected a string, found {}", kind(v))),
            },
            // A byte vector is a length-prefixed sequence, as serde's Vec<u8>.
            TypeSpec::Bytes => put(&hex_bytes(v, path)?, out),
            // Fixed arrays and addresses are their bytes, with no length.
            TypeSpec::FixedBytes(_) | TypeSpec::Address => {
                let n = match ty {
                    TypeSpec::FixedBytes(n) => *n as usize,
                    _ => 32,
                };
                let b = hex_bytes(v, path)?;
                if b.len() != n {
                    return err(path, format!("{} bytes, expected {n}", b.len()));
                }
                out.extend_from_slice(&b);
            }
            TypeSpec::Option(inner) => match v {
                Value::Null => out.push(0),
                v => {
                    out.push(1);
                    self.value(inner, v, path, depth + 1, out)?;
                }
            },
            TypeSpec::Vec(inner) => {
                let Value::Array(items) = v else {
                    return err(
                        path,
                        format!("expected an array for {ty}, found {}", kind(v)),
                    );
                };
                put(&(items.len() as u64), out);
                for (i, item) in items.iter().enumerate() {
                    self.value(inner, item, &join(path, &format!("[{i}]")), depth + 1, out)?;
                }
            }
            TypeSpec::Tuple(types) => self.tuple(types, v, path, depth, out)?,
            TypeSpec::Named(name) => {
                let Some(def) = self.spec.type_def(name) else {
                    return err(path, undescribed(name));
                };
                match &def.body {
                    TypeBody::Struct(fields) => self.fields(fields, v, path, depth, out)?,
                    TypeBody::Enum(variants) => {
                        let (vname, payload) = match v {
                            Value::String(s) => (s.as_str(), None),
                            Value::Object(m) if m.len() == 1 => {
                                let (k, p) = m.iter().next().expect("one entry");
                                (k.as_str(), Some(p))
                            }
                            _ => {
                                return err(
                                    path,
                                    format!(
                                        "expected a variant of {name} (\"Name\" or {{\"Name\": ...}}), found {}",
                                        kind(v)
                                    ),
                                );
                            }
                        };
                        let Some(index) = variants.iter().position(|x| x.name == vname) else {
                            let names: Vec<&str> =
                                variants.iter().map(|x| x.name.as_str()).collect();
                            return err(
                                path,
                                format!(
                                    "{name} has no variant `{vname}` (it has {})",
                                    names.join(", ")
                                ),
                            );
                        };
                        put(&(index as u32), out);
                        let vpath = join(path, vname);
                        match (&variants[index].fields, payload) {
                            (Fields::Unit, None | Some(Value::Null)) => {}
                            (Fields::Unit, Some(_)) => {
                                return err(&vpath, "a unit variant carries no value");
                            }
                            (_, None) => {
                                return err(
                                    &vpath,
                                    "this variant carries fields: give {\"Name\": ...}",
                                );
                            }
                            (fields, Some(p)) => self.fields(fields, p, &vpath, depth + 1, out)?,
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn tuple(
        &self,
        types: &[TypeSpec],
        v: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ValueError> {
        let Value::Array(items) = v else {
            return err(
                path,
                format!("expected an array of {}, found {}", types.len(), kind(v)),
            );
        };
        if items.len() != types.len() {
            return err(
                path,
                format!("expected {} elements, found {}", types.len(), items.len()),
            );
        }
        for (i, (t, item)) in types.iter().zip(items).enumerate() {
            self.value(t, item, &join(path, &format!("[{i}]")), depth + 1, out)?;
        }
        Ok(())
    }

    fn fields(
        &self,
        fields: &Fields,
        v: &Value,
        path: &str,
        depth: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ValueError> {
        match fields {
            Fields::Unit => match v {
                Value::Null => Ok(()),
                _ => err(path, format!("expected null, found {}", kind(v))),
            },
            // A newtype is its field, as serde_json writes it.
            Fields::Tuple(types) if types.len() == 1 => {
                self.value(&types[0], v, path, depth + 1, out)
            }
            Fields::Tuple(types) => self.tuple(types, v, path, depth, out),
            Fields::Named(fields) => {
                let Value::Object(m) = v else {
                    return err(path, format!("expected an object, found {}", kind(v)));
                };
                if let Some(extra) = m.keys().find(|k| fields.iter().all(|f| &f.name != *k)) {
                    return err(&join(path, extra), "no such field");
                }
                for f in fields {
                    let fpath = join(path, &f.name);
                    let Some(fv) = m.get(&f.name) else {
                        return err(&fpath, format!("missing (a field of type {})", f.ty));
                    };
                    self.value(&f.ty, fv, &fpath, depth + 1, out)?;
                }
                Ok(())
            }
        }
    }
}

fn undescribed(name: &str) -> String {
    format!("type `{name}` is not described by the contract spec (declare it with #[contracttype])")
}

struct Decoder<'s, 'b> {
    /// The spec's types by name.
    types: HashMap<&'s str, &'s TypeDef>,
    rest: &'b [u8],
    budget: &'b mut DecodeBudget,
    /// Where the value being decoded is, rendered only for an error.
    path: Vec<Part<'s>>,
}

/// One step of a path into a value.
#[derive(Clone, Copy)]
enum Part<'s> {
    Index(usize),
    Field(&'s str),
}

impl<'s> Decoder<'s, '_> {
    /// An error at the current path.
    fn fail<T>(&self, reason: impl Into<String>) -> Result<T, ValueError> {
        let mut path = String::new();
        for part in &self.path {
            match part {
                Part::Index(i) => path += &format!("[{i}]"),
                Part::Field(f) if path.is_empty() => path += f,
                Part::Field(f) => path += &format!(".{f}"),
            }
        }
        Err(ValueError {
            path,
            reason: reason.into(),
        })
    }

    /// `decode` of a value one step further in.
    fn at(&mut self, part: Part<'s>, ty: &'s TypeSpec, depth: usize) -> Result<Value, ValueError> {
        self.path.push(part);
        let v = self.value(ty, depth)?;
        self.path.pop();
        Ok(v)
    }

    fn take<T: DeserializeOwned>(&mut self, ty: &dyn core::fmt::Display) -> Result<T, ValueError> {
        match postcard::take_from_bytes(self.rest) {
            Ok((v, rest)) => {
                self.rest = rest;
                Ok(v)
            }
            Err(_) => self.fail(format!("the bytes are not a {ty}")),
        }
    }

    fn take_n(&mut self, n: usize) -> Result<Vec<u8>, ValueError> {
        if self.rest.len() < n {
            return self.fail(format!("{} bytes, expected {n}", self.rest.len()));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head.to_vec())
    }

    /// A sequence length: at most the bytes left plus 1,024 (zero-sized
    /// elements take no bytes), so a hostile length cannot make us loop.
    fn len(&mut self) -> Result<usize, ValueError> {
        let n: u64 = self.take(&"length")?;
        if n > self.rest.len() as u64 + 1024 {
            return self.fail(format!(
                "a length of {n} with {} bytes left",
                self.rest.len()
            ));
        }
        Ok(n as usize)
    }

    fn value(&mut self, ty: &'s TypeSpec, depth: usize) -> Result<Value, ValueError> {
        if depth > MAX_VALUE_DEPTH {
            return self.fail("the value nests too deeply");
        }
        if self.budget.values == 0 {
            return self.fail("more values than the decoding budget allows");
        }
        self.budget.values -= 1;
        Ok(match ty {
            TypeSpec::Unit => Value::Null,
            TypeSpec::Bool => Value::Bool(self.take(ty)?),
            TypeSpec::U8 => self.take::<u8>(ty)?.into(),
            TypeSpec::U16 => self.take::<u16>(ty)?.into(),
            TypeSpec::U32 => self.take::<u32>(ty)?.into(),
            TypeSpec::U64 => self.take::<u64>(ty)?.into(),
            TypeSpec::U128 => self.take::<u128>(ty)?.to_string().into(),
            TypeSpec::I8 => self.take::<i8>(ty)?.into(),
            TypeSpec::I16 => self.take::<i16>(ty)?.into(),
            TypeSpec::I32 => self.take::<i32>(ty)?.into(),
            TypeSpec::I64 => self.take::<i64>(ty)?.into(),
            TypeSpec::I128 => self.take::<i128>(ty)?.to_string().into(),
            TypeSpec::String => self.take::<String>(ty)?.into(),
            TypeSpec::Bytes => {
                let n = self.len()?;
                hex::encode(self.take_n(n)?).into()
            }
            TypeSpec::FixedBytes(n) => hex::encode(self.take_n(*n as usize)?).into(),
            TypeSpec::Address => hex::encode(self.take_n(32)?).into(),
            TypeSpec::Option(inner) => match self.take::<u8>(&"option tag")? {
                0 => Value::Null,
                1 => self.value(inner, depth + 1)?,
                t => return self.fail(format!("option tag {t} is neither 0 nor 1")),
            },
            TypeSpec::Vec(inner) => {
                let n = self.len()?;
                let mut items = Vec::new();
                for i in 0..n {
                    items.push(self.at(Part::Index(i), inner, depth + 1)?);
                }
                Value::Array(items)
            }
            TypeSpec::Tuple(types) => self.tuple(types, depth)?,
            TypeSpec::Named(name) => {
                let Some(def) = self.types.get(name.as_str()).copied() else {
                    return self.fail(undescribed(name));
                };
                match &def.body {
                    TypeBody::Struct(fields) => self.fields(fields, depth)?,
                    TypeBody::Enum(variants) => {
                        let index: u32 = self.take(&"variant index")?;
                        let Some(variant) = variants.get(index as usize) else {
                            return self.fail(format!("{name} has no variant {index}"));
                        };
                        match &variant.fields {
                            Fields::Unit => Value::String(variant.name.clone()),
                            fields => {
                                self.path.push(Part::Field(&variant.name));
                                let v = self.fields(fields, depth + 1)?;
                                self.path.pop();
                                let mut m = Map::new();
                                m.insert(variant.name.clone(), v);
                                Value::Object(m)
                            }
                        }
                    }
                }
            }
        })
    }

    fn tuple(&mut self, types: &'s [TypeSpec], depth: usize) -> Result<Value, ValueError> {
        let mut items = Vec::with_capacity(types.len());
        for (i, t) in types.iter().enumerate() {
            items.push(self.at(Part::Index(i), t, depth + 1)?);
        }
        Ok(Value::Array(items))
    }

    fn fields(&mut self, fields: &'s Fields, depth: usize) -> Result<Value, ValueError> {
        Ok(match fields {
            Fields::Unit => Value::Null,
            Fields::Tuple(types) if types.len() == 1 => self.value(&types[0], depth + 1)?,
            Fields::Tuple(types) => self.tuple(types, depth)?,
            Fields::Named(fields) => {
                let mut m = Map::new();
                for f in fields {
                    let v = self.at(Part::Field(&f.name), &f.ty, depth + 1)?;
                    m.insert(f.name.clone(), v);
                }
                Value::Object(m)
            }
        })
    }
}
