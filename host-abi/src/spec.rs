//! Contract interface descriptions (the "contract spec").
//!
//! The guest SDK's macros write records into the wasm custom section
//! [`SPEC_SECTION`]: one per entry point (`#[contract]`: name, doc comment,
//! arguments, return type, error type), one per user-defined type
//! (`#[contracttype]`: a struct's fields or an enum's variants), one per
//! error type (`#[derive(ContractError)]`: variants, codes, messages) and
//! one per declared event (`#[contractevent]`: topic and data type). Tools
//! read it to encode arguments and decode outputs and events without the
//! contract's source (`verity inspect`, `verity run --arg`), as Soroban's
//! contract spec does.
//!
//! The section is a plain concatenation of records, so the linker may merge
//! records from several blocks and types. Each record is:
//!
//! ```text
//! record  := version:u8 (= 2) kind:u8 body
//! kind 0  := name:str doc:str n:u32 (arg:str type){n} returns:type error:str     entry
//! kind 1  := name:str doc:str (0 fields | 1 n:u32 (variant:str doc:str fields){n}) type (struct | enum)
//! kind 2  := name:str doc:str n:u32 (variant:str doc:str code:u32 message:str){n} error type
//! kind 3  := name:str doc:str topic:str data:type                                event
//! fields  := 0 | 1 n:u32 type{n} | 2 n:u32 (field:str doc:str type){n}           unit | tuple | named
//! str     := len:u32le utf8-bytes
//! type    := tag:u8 [payload]   (tags: see TypeSpec::tag)
//! ```
//!
//! An entry's `error` is the name of its `Result`'s error type, empty for
//! an entry that cannot fail. Version 1 records (entries only, written by
//! earlier SDKs: `version:u8 (= 1) name n (arg type){n} returns fallible:u8`)
//! are still read.
//!
//! Argument values travel as the [postcard] encoding of the tuple of
//! arguments (docs/sdk.md gives the wire format of each type).
//!
//! [postcard]: https://postcard.jamesmunns.com/wire-format
//!
//! ```
//! use verity_host_abi::spec::{ArgSpec, ContractSpec, EntrySpec, TypeSpec};
//!
//! let entry = EntrySpec {
//!     name: "transfer".into(),
//!     doc: "Moves `amount` to `to`.".into(),
//!     args: vec![
//!         ArgSpec { name: "to".into(), ty: TypeSpec::Address },
//!         ArgSpec { name: "amount".into(), ty: TypeSpec::U64 },
//!     ],
//!     returns: TypeSpec::Unit,
//!     error: Some("TokenError".into()),
//! };
//! let section = entry.encode();
//! let spec = ContractSpec::decode(&section).unwrap();
//! assert_eq!(spec.entry("transfer"), Some(&entry));
//! assert_eq!(entry.signature(), "transfer(to: Address, amount: u64) -> Result<(), TokenError>");
//! ```

use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Name of the wasm custom section that holds the spec records.
pub const SPEC_SECTION: &str = "verity.spec";

/// Version byte that starts every record this crate writes.
pub const SPEC_VERSION: u8 = 2;

/// The version of the first spec format (entries only), still read.
const SPEC_VERSION_1: u8 = 1;

/// The largest `verity.spec` section a reader accepts, in bytes (all
/// sections of that name together). A contract with hundreds of entries
/// needs a few KiB; the bound keeps reading a hostile module's spec cheap.
pub const MAX_SPEC_BYTES: usize = 64 << 10;

/// How deeply type expressions (`Option`, `Vec`, tuples) may nest in a
/// spec (bounds decoding).
const MAX_TYPE_DEPTH: u32 = 8;

/// The type of an argument, a field or a return value, as far as tools
/// need to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeSpec {
    /// `()`: encodes to nothing.
    Unit,
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `String`.
    String,
    /// `Vec<u8>`: variable-length bytes.
    Bytes,
    /// `[u8; N]`: fixed-length bytes.
    FixedBytes(u32),
    /// The SDK's `Address` (32 bytes).
    Address,
    /// `Option<T>`.
    Option(Box<TypeSpec>),
    /// A type by its name: a user-defined struct or enum, described by the
    /// [`TypeDef`] of that name if the contract declares one
    /// (`#[contracttype]`); otherwise opaque to tools.
    Named(String),
    /// `Vec<T>` (of anything but `u8`, which is [`TypeSpec::Bytes`]).
    Vec(Box<TypeSpec>),
    /// A tuple `(A, B, ...)` of one or more elements.
    Tuple(Vec<TypeSpec>),
}

impl TypeSpec {
    /// The tag byte of this type in a record.
    pub fn tag(&self) -> u8 {
        match self {
            TypeSpec::Unit => 0,
            TypeSpec::Bool => 1,
            TypeSpec::U8 => 2,
            TypeSpec::U16 => 3,
            TypeSpec::U32 => 4,
            TypeSpec::U64 => 5,
            TypeSpec::U128 => 6,
            TypeSpec::I8 => 7,
            TypeSpec::I16 => 8,
            TypeSpec::I32 => 9,
            TypeSpec::I64 => 10,
            TypeSpec::I128 => 11,
            TypeSpec::String => 12,
            TypeSpec::Bytes => 13,
            TypeSpec::FixedBytes(_) => 14,
            TypeSpec::Address => 15,
            TypeSpec::Option(_) => 16,
            TypeSpec::Named(_) => 17,
            TypeSpec::Vec(_) => 18,
            TypeSpec::Tuple(_) => 19,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            TypeSpec::FixedBytes(n) => out.extend_from_slice(&n.to_le_bytes()),
            TypeSpec::Option(inner) | TypeSpec::Vec(inner) => inner.encode_into(out),
            TypeSpec::Named(name) => put_str(out, name),
            TypeSpec::Tuple(elems) => {
                put_u32(out, elems.len());
                for t in elems {
                    t.encode_into(out);
                }
            }
            _ => {}
        }
    }

    fn decode_from(r: &mut Reader<'_>, depth: u32) -> Result<TypeSpec, SpecError> {
        if depth > MAX_TYPE_DEPTH {
            return Err(SpecError::Invalid("types nest too deeply"));
        }
        Ok(match r.u8()? {
            0 => TypeSpec::Unit,
            1 => TypeSpec::Bool,
            2 => TypeSpec::U8,
            3 => TypeSpec::U16,
            4 => TypeSpec::U32,
            5 => TypeSpec::U64,
            6 => TypeSpec::U128,
            7 => TypeSpec::I8,
            8 => TypeSpec::I16,
            9 => TypeSpec::I32,
            10 => TypeSpec::I64,
            11 => TypeSpec::I128,
            12 => TypeSpec::String,
            13 => TypeSpec::Bytes,
            14 => TypeSpec::FixedBytes(r.u32()?),
            15 => TypeSpec::Address,
            16 => TypeSpec::Option(Box::new(TypeSpec::decode_from(r, depth + 1)?)),
            17 => TypeSpec::Named(r.string()?),
            18 => TypeSpec::Vec(Box::new(TypeSpec::decode_from(r, depth + 1)?)),
            19 => {
                let n = r.count(1)?;
                if n == 0 {
                    return Err(SpecError::Invalid("a tuple has no elements"));
                }
                let mut elems = Vec::with_capacity(n);
                for _ in 0..n {
                    elems.push(TypeSpec::decode_from(r, depth + 1)?);
                }
                TypeSpec::Tuple(elems)
            }
            _ => return Err(SpecError::Invalid("unknown type tag")),
        })
    }
}

impl fmt::Display for TypeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            TypeSpec::Unit => "()",
            TypeSpec::Bool => "bool",
            TypeSpec::U8 => "u8",
            TypeSpec::U16 => "u16",
            TypeSpec::U32 => "u32",
            TypeSpec::U64 => "u64",
            TypeSpec::U128 => "u128",
            TypeSpec::I8 => "i8",
            TypeSpec::I16 => "i16",
            TypeSpec::I32 => "i32",
            TypeSpec::I64 => "i64",
            TypeSpec::I128 => "i128",
            TypeSpec::String => "String",
            TypeSpec::Bytes => "Vec<u8>",
            TypeSpec::Address => "Address",
            TypeSpec::FixedBytes(n) => return write!(f, "[u8; {n}]"),
            TypeSpec::Option(inner) => return write!(f, "Option<{inner}>"),
            TypeSpec::Vec(inner) => return write!(f, "Vec<{inner}>"),
            TypeSpec::Tuple(elems) => {
                f.write_str("(")?;
                for (i, t) in elems.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                return f.write_str(if elems.len() == 1 { ",)" } else { ")" });
            }
            TypeSpec::Named(name) => name,
        };
        f.write_str(name)
    }
}

/// Why a type expression (`verity state get --key-type`) did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeParseError {
    /// The byte offset where parsing stopped.
    pub at: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for TypeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a type: expected {} at byte {}",
            self.expected, self.at
        )
    }
}

impl core::error::Error for TypeParseError {}

/// A type as [`Display`](fmt::Display) writes it, read back: `u64`,
/// `Address`, `Vec<u8>` (bytes), `[u8; 32]`, `Option<T>`, `Vec<T>`,
/// `(A, B)`, `(A,)`, `()`, or the name of a contract type. Spaces between
/// tokens are free; `to_string().parse()` gives back the same type.
///
/// ```
/// use verity_host_abi::spec::TypeSpec;
///
/// let ty: TypeSpec = "(Address, Option<[u8; 4]>)".parse()?;
/// assert_eq!(ty, TypeSpec::Tuple(vec![
///     TypeSpec::Address,
///     TypeSpec::Option(Box::new(TypeSpec::FixedBytes(4))),
/// ]));
/// assert_eq!(ty.to_string().parse::<TypeSpec>()?, ty);
/// assert_eq!("Vec<u8>".parse::<TypeSpec>()?, TypeSpec::Bytes);
/// assert!("Vec<".parse::<TypeSpec>().is_err());
/// # Ok::<(), verity_host_abi::spec::TypeParseError>(())
/// ```
impl core::str::FromStr for TypeSpec {
    type Err = TypeParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut p = TypeParser { text, at: 0 };
        let ty = p.ty(0)?;
        p.space();
        if p.at != text.len() {
            return Err(p.error("the end"));
        }
        Ok(ty)
    }
}

struct TypeParser<'t> {
    text: &'t str,
    at: usize,
}

impl TypeParser<'_> {
    fn error(&self, expected: &'static str) -> TypeParseError {
        TypeParseError {
            at: self.at,
            expected,
        }
    }

    fn space(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start_matches(' ').len();
    }

    /// Skips spaces, then takes `c` if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.space();
        if self.text[self.at..].starts_with(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, expected: &'static str) -> Result<(), TypeParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    /// The word (`[A-Za-z0-9_]+`) that starts here.
    fn word(&mut self) -> &str {
        self.space();
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    fn ty(&mut self, depth: usize) -> Result<TypeSpec, TypeParseError> {
        // As deep as a spec's types may nest, and no deeper: a hostile
        // `((((...` must not exhaust the stack.
        if depth > MAX_TYPE_DEPTH as usize {
            return Err(self.error("a type nested at most 8 deep"));
        }
        if self.eat('(') {
            if self.eat(')') {
                return Ok(TypeSpec::Unit);
            }
            let mut elems = Vec::from([self.ty(depth + 1)?]);
            // `(T)` is not a tuple in Rust: a one-element tuple is `(T,)`.
            self.expect(',', "`,`")?;
            while !self.eat(')') {
                elems.push(self.ty(depth + 1)?);
                if self.eat(')') {
                    break;
                }
                self.expect(',', "`,` or `)`")?;
            }
            return Ok(TypeSpec::Tuple(elems));
        }
        if self.eat('[') {
            self.space();
            let start = self.at;
            if self.word() != "u8" {
                return Err(TypeParseError {
                    at: start,
                    expected: "`u8` (only byte arrays are types)",
                });
            }
            self.expect(';', "`;`")?;
            self.space();
            let start = self.at;
            let digits = self.word();
            // Decimal as Display writes it: no sign, no leading zero.
            let canonical = digits == "0" || !digits.starts_with('0');
            let n = (canonical && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse::<u32>().ok())
                .flatten()
                .ok_or(TypeParseError {
                    at: start,
                    expected: "a length from 0 to 4294967295",
                })?;
            self.expect(']', "`]`")?;
            return Ok(TypeSpec::FixedBytes(n));
        }
        let start = self.at;
        let ty = match self.word() {
            "" => return Err(self.error("a type")),
            "bool" => TypeSpec::Bool,
            "u8" => TypeSpec::U8,
            "u16" => TypeSpec::U16,
            "u32" => TypeSpec::U32,
            "u64" => TypeSpec::U64,
            "u128" => TypeSpec::U128,
            "i8" => TypeSpec::I8,
            "i16" => TypeSpec::I16,
            "i32" => TypeSpec::I32,
            "i64" => TypeSpec::I64,
            "i128" => TypeSpec::I128,
            "String" => TypeSpec::String,
            "Address" => TypeSpec::Address,
            generic @ ("Vec" | "Option") => {
                let vec = generic == "Vec";
                self.expect('<', "`<`")?;
                let inner = self.ty(depth + 1)?;
                self.expect('>', "`>`")?;
                match (vec, inner) {
                    (true, TypeSpec::U8) => TypeSpec::Bytes,
                    (true, inner) => TypeSpec::Vec(Box::new(inner)),
                    (false, inner) => TypeSpec::Option(Box::new(inner)),
                }
            }
            name if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
                TypeSpec::Named(name.into())
            }
            _ => {
                return Err(TypeParseError {
                    at: start,
                    expected: "a type name",
                });
            }
        };
        Ok(ty)
    }
}

/// One argument of an entry point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgSpec {
    /// The parameter's name in the source.
    pub name: String,
    /// Its type.
    pub ty: TypeSpec,
}

/// One entry point (an exported `() -> ()` wasm function).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySpec {
    /// The export name.
    pub name: String,
    /// The summary of its doc comment (empty if it has none).
    pub doc: String,
    /// Arguments, in the order they are encoded in the input.
    pub args: Vec<ArgSpec>,
    /// The type whose encoding a successful run sets as output.
    pub returns: TypeSpec,
    /// The name of the error type of an entry that returns a `Result` (its
    /// `Err` reverts the run with `error <code>: <message>`); `None` if the
    /// entry cannot fail that way.
    pub error: Option<String>,
}

impl EntrySpec {
    /// The record for this entry (a valid section on its own).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = record_head(KIND_ENTRY, &self.name, &self.doc);
        put_u32(&mut out, self.args.len());
        for a in &self.args {
            put_str(&mut out, &a.name);
            a.ty.encode_into(&mut out);
        }
        self.returns.encode_into(&mut out);
        put_str(&mut out, self.error.as_deref().unwrap_or(""));
        out
    }

    /// Whether an `Err` of the entry reverts the run with a typed error.
    pub fn fallible(&self) -> bool {
        self.error.is_some()
    }

    /// The entry as Rust writes it, e.g. `balance_of(owner: Address) -> u64`.
    pub fn signature(&self) -> String {
        use core::fmt::Write;
        let mut s = String::new();
        let _ = write!(s, "{}(", self.name);
        for (i, a) in self.args.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(s, "{sep}{}: {}", a.name, a.ty);
        }
        s.push(')');
        match (&self.error, &self.returns) {
            (Some(e), r) => {
                let _ = write!(s, " -> Result<{r}, {e}>");
            }
            (None, TypeSpec::Unit) => {}
            (None, r) => {
                let _ = write!(s, " -> {r}");
            }
        }
        s
    }
}

/// A named field of a struct or of an enum variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// Its type.
    pub ty: TypeSpec,
}

/// The fields of a struct or of an enum variant. Values encode as their
/// fields in order (postcard, as serde's derive writes them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fields {
    /// No fields (`struct S;`, `Variant`).
    Unit,
    /// Positional fields (`struct S(A, B);`, `Variant(A, B)`).
    Tuple(Vec<TypeSpec>),
    /// Named fields (`struct S { a: A }`, `Variant { a: A }`).
    Named(Vec<FieldDef>),
}

/// One variant of an enum type. On the wire: its index (varint), then its
/// fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantDef {
    /// The variant's name.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// Its fields.
    pub fields: Fields,
}

/// What a user-defined type is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeBody {
    /// A struct.
    Struct(Fields),
    /// An enum, variants in declaration order (their wire indices).
    Enum(Vec<VariantDef>),
}

/// A user-defined type (`#[contracttype]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDef {
    /// The type's name, as [`TypeSpec::Named`] refers to it.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// Its fields or variants.
    pub body: TypeBody,
}

/// One variant of a contract error type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorVariant {
    /// The variant's name.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// Its code (in the revert message `error <code>: <message>`).
    pub code: u32,
    /// Its message.
    pub message: String,
}

/// A contract error type (`#[derive(ContractError)]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorDef {
    /// The type's name, as [`EntrySpec::error`] refers to it.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// Its variants in declaration order.
    pub variants: Vec<ErrorVariant>,
}

/// A declared event (`#[contractevent]`): events with this topic carry
/// data of this type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventDef {
    /// The event type's name.
    pub name: String,
    /// The summary of its doc comment.
    pub doc: String,
    /// The topic its events carry (UTF-8).
    pub topic: String,
    /// The type of its data.
    pub data: TypeSpec,
}

const KIND_ENTRY: u8 = 0;
const KIND_TYPE: u8 = 1;
const KIND_ERROR: u8 = 2;
const KIND_EVENT: u8 = 3;

fn record_head(kind: u8, name: &str, doc: &str) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(SPEC_VERSION);
    out.push(kind);
    put_str(&mut out, name);
    put_str(&mut out, doc);
    out
}

impl Fields {
    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Fields::Unit => out.push(0),
            Fields::Tuple(types) => {
                out.push(1);
                put_u32(out, types.len());
                for t in types {
                    t.encode_into(out);
                }
            }
            Fields::Named(fields) => {
                out.push(2);
                put_u32(out, fields.len());
                for f in fields {
                    put_str(out, &f.name);
                    put_str(out, &f.doc);
                    f.ty.encode_into(out);
                }
            }
        }
    }

    fn decode_from(r: &mut Reader<'_>) -> Result<Fields, SpecError> {
        Ok(match r.u8()? {
            0 => Fields::Unit,
            1 => {
                let n = r.count(1)?;
                let mut types = Vec::with_capacity(n);
                for _ in 0..n {
                    types.push(TypeSpec::decode_from(r, 0)?);
                }
                Fields::Tuple(types)
            }
            2 => {
                let n = r.count(9)?;
                let mut fields = Vec::with_capacity(n);
                let mut names = BTreeSet::new();
                for _ in 0..n {
                    let name = r.string()?;
                    let doc = r.string()?;
                    let ty = TypeSpec::decode_from(r, 0)?;
                    unique(&mut names, "field", &name)?;
                    fields.push(FieldDef { name, doc, ty });
                }
                Fields::Named(fields)
            }
            _ => return Err(SpecError::Invalid("unknown fields kind")),
        })
    }
}

impl TypeDef {
    /// The record for this type (a valid section on its own).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = record_head(KIND_TYPE, &self.name, &self.doc);
        match &self.body {
            TypeBody::Struct(fields) => {
                out.push(0);
                fields.encode_into(&mut out);
            }
            TypeBody::Enum(variants) => {
                out.push(1);
                put_u32(&mut out, variants.len());
                for v in variants {
                    put_str(&mut out, &v.name);
                    put_str(&mut out, &v.doc);
                    v.fields.encode_into(&mut out);
                }
            }
        }
        out
    }
}

impl ErrorDef {
    /// The record for this error type (a valid section on its own).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = record_head(KIND_ERROR, &self.name, &self.doc);
        put_u32(&mut out, self.variants.len());
        for v in &self.variants {
            put_str(&mut out, &v.name);
            put_str(&mut out, &v.doc);
            out.extend_from_slice(&v.code.to_le_bytes());
            put_str(&mut out, &v.message);
        }
        out
    }

    /// The variant with error code `code`.
    pub fn variant(&self, code: u32) -> Option<&ErrorVariant> {
        self.variants.iter().find(|v| v.code == code)
    }
}

impl EventDef {
    /// The record for this event (a valid section on its own).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = record_head(KIND_EVENT, &self.name, &self.doc);
        put_str(&mut out, &self.topic);
        self.data.encode_into(&mut out);
        out
    }
}

/// Everything a module describes, each list in section order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractSpec {
    /// Entry points.
    pub entries: Vec<EntrySpec>,
    /// User-defined types.
    pub types: Vec<TypeDef>,
    /// Error types.
    pub errors: Vec<ErrorDef>,
    /// Declared events.
    pub events: Vec<EventDef>,
}

impl ContractSpec {
    /// Decodes the contents of a `verity.spec` section (a concatenation of
    /// records). Names are unique per kind (entries, types, error types,
    /// event topics), and so are field, variant and error-code names within
    /// one type.
    ///
    /// Linear in the section's size, which must be at most
    /// [`MAX_SPEC_BYTES`].
    pub fn decode(section: &[u8]) -> Result<ContractSpec, SpecError> {
        if section.len() > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge(section.len()));
        }
        let mut r = Reader { rest: section };
        let mut spec = ContractSpec::default();
        let mut seen: [BTreeSet<String>; 4] = Default::default();
        while !r.rest.is_empty() {
            let (kind, name) = match r.u8()? {
                SPEC_VERSION_1 => {
                    let e = decode_entry_v1(&mut r)?;
                    let name = e.name.clone();
                    spec.entries.push(e);
                    (KIND_ENTRY, name)
                }
                SPEC_VERSION => {
                    let kind = r.u8()?;
                    let name = r.string()?;
                    let doc = r.string()?;
                    let key = match kind {
                        KIND_ENTRY => {
                            spec.entries.push(decode_entry(&mut r, name.clone(), doc)?);
                            name
                        }
                        KIND_TYPE => {
                            spec.types.push(decode_type(&mut r, name.clone(), doc)?);
                            name
                        }
                        KIND_ERROR => {
                            spec.errors.push(decode_error(&mut r, name.clone(), doc)?);
                            name
                        }
                        KIND_EVENT => {
                            let topic = r.string()?;
                            let data = TypeSpec::decode_from(&mut r, 0)?;
                            spec.events.push(EventDef {
                                name,
                                doc,
                                topic: topic.clone(),
                                data,
                            });
                            topic
                        }
                        _ => return Err(SpecError::Invalid("unknown record kind")),
                    };
                    (kind, key)
                }
                v => return Err(SpecError::UnsupportedVersion(v)),
            };
            let what = ["entry", "type", "error type", "event topic"][usize::from(kind)];
            unique(&mut seen[usize::from(kind)], what, &name)?;
        }
        Ok(spec)
    }

    /// The canonical section bytes: every entry's record, then every
    /// type's, error type's and event's, each in order.
    pub fn encode(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.entries.iter().flat_map(EntrySpec::encode).collect();
        out.extend(self.types.iter().flat_map(TypeDef::encode));
        out.extend(self.errors.iter().flat_map(ErrorDef::encode));
        out.extend(self.events.iter().flat_map(EventDef::encode));
        out
    }

    /// Looks an entry up by name.
    pub fn entry(&self, name: &str) -> Option<&EntrySpec> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Looks a user-defined type up by name.
    pub fn type_def(&self, name: &str) -> Option<&TypeDef> {
        self.types.iter().find(|t| t.name == name)
    }

    /// Looks an error type up by name.
    pub fn error(&self, name: &str) -> Option<&ErrorDef> {
        self.errors.iter().find(|e| e.name == name)
    }

    /// The event declared for `topic`.
    pub fn event(&self, topic: &[u8]) -> Option<&EventDef> {
        self.events.iter().find(|e| e.topic.as_bytes() == topic)
    }
}

fn decode_entry(r: &mut Reader<'_>, name: String, doc: String) -> Result<EntrySpec, SpecError> {
    let args = decode_args(r)?;
    let returns = TypeSpec::decode_from(r, 0)?;
    let error = r.string()?;
    Ok(EntrySpec {
        name,
        doc,
        args,
        returns,
        error: (!error.is_empty()).then_some(error),
    })
}

/// A version 1 record (after its version byte): no doc, a fallible flag
/// instead of the error type's name.
fn decode_entry_v1(r: &mut Reader<'_>) -> Result<EntrySpec, SpecError> {
    let name = r.string()?;
    let args = decode_args(r)?;
    let returns = TypeSpec::decode_from(r, 0)?;
    let error = match r.u8()? {
        0 => None,
        1 => Some(String::from("Error")),
        _ => return Err(SpecError::Invalid("fallible flag is neither 0 nor 1")),
    };
    Ok(EntrySpec {
        name,
        doc: String::new(),
        args,
        returns,
        error,
    })
}

fn decode_args(r: &mut Reader<'_>) -> Result<Vec<ArgSpec>, SpecError> {
    // Each argument takes at least 5 bytes: bounds the allocation.
    let n = r.count(5)?;
    let mut args = Vec::with_capacity(n);
    let mut names = BTreeSet::new();
    for _ in 0..n {
        let name = r.string()?;
        let ty = TypeSpec::decode_from(r, 0)?;
        unique(&mut names, "argument", &name)?;
        args.push(ArgSpec { name, ty });
    }
    Ok(args)
}

fn decode_type(r: &mut Reader<'_>, name: String, doc: String) -> Result<TypeDef, SpecError> {
    let body = match r.u8()? {
        0 => TypeBody::Struct(Fields::decode_from(r)?),
        1 => {
            let n = r.count(9)?;
            let mut variants = Vec::with_capacity(n);
            let mut names = BTreeSet::new();
            for _ in 0..n {
                let name = r.string()?;
                let doc = r.string()?;
                let fields = Fields::decode_from(r)?;
                unique(&mut names, "variant", &name)?;
                variants.push(VariantDef { name, doc, fields });
            }
            TypeBody::Enum(variants)
        }
        _ => return Err(SpecError::Invalid("a type is neither a struct nor an enum")),
    };
    Ok(TypeDef { name, doc, body })
}

fn decode_error(r: &mut Reader<'_>, name: String, doc: String) -> Result<ErrorDef, SpecError> {
    let n = r.count(16)?;
    let mut variants = Vec::with_capacity(n);
    let mut codes = BTreeSet::new();
    for _ in 0..n {
        let name = r.string()?;
        let doc = r.string()?;
        let code = r.u32()?;
        let message = r.string()?;
        if !codes.insert(code) {
            return Err(SpecError::Duplicate("error code", name));
        }
        variants.push(ErrorVariant {
            name,
            doc,
            code,
            message,
        });
    }
    Ok(ErrorDef {
        name,
        doc,
        variants,
    })
}

/// Why a `verity.spec` section could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// The section ended inside a record.
    Truncated,
    /// A record starts with a version this reader does not know.
    UnsupportedVersion(u8),
    /// A field held a value outside its domain.
    Invalid(&'static str),
    /// Two records (or two parts of one) that must differ by name do not:
    /// what they are and the name.
    Duplicate(&'static str, String),
    /// The section is larger than [`MAX_SPEC_BYTES`].
    TooLarge(usize),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Truncated => f.write_str("contract spec is truncated"),
            SpecError::TooLarge(n) => write!(
                f,
                "contract spec is {n} bytes, over the limit of {MAX_SPEC_BYTES}"
            ),
            SpecError::UnsupportedVersion(v) => {
                write!(f, "contract spec record version {v} is not supported")
            }
            SpecError::Invalid(why) => write!(f, "invalid contract spec: {why}"),
            SpecError::Duplicate(what, name) => {
                write!(f, "contract spec describes {what} `{name}` twice")
            }
        }
    }
}

impl core::error::Error for SpecError {}

/// Adds `name` to `names`; a second one of the same name is an error that
/// says `what` it names.
fn unique(names: &mut BTreeSet<String>, what: &'static str, name: &str) -> Result<(), SpecError> {
    if names.insert(String::from(name)) {
        Ok(())
    } else {
        Err(SpecError::Duplicate(what, String::from(name)))
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("spec field longer than u32::MAX");
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpecError> {
        if self.rest.len() < n {
            return Err(SpecError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, SpecError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, SpecError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A count of items that take at least `min_bytes` each: refused if the
    /// rest cannot hold them, which bounds every allocation by the input.
    fn count(&mut self, min_bytes: usize) -> Result<usize, SpecError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes) > self.rest.len() {
            return Err(SpecError::Truncated);
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<String, SpecError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| SpecError::Invalid("name is not UTF-8"))
    }
}

/// Why [`section_of`] could not read a module's `verity.spec` section.
#[cfg(feature = "wasm-section")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionError {
    /// The bytes are not a wasm module (as far as reading sections goes).
    NotWasm(String),
    /// The sections hold more than [`MAX_SPEC_BYTES`] (this many at least).
    TooLarge(usize),
}

/// The contents of `code`'s `verity.spec` custom sections, concatenated
/// (the linker may split them), at most [`MAX_SPEC_BYTES`]; `None` if it
/// has none. Function bodies are skipped, not parsed, so this is linear in
/// the module's size.
///
/// ```
/// use verity_host_abi::spec::{SectionError, section_of};
///
/// // (module (@custom "verity.spec" "ab") (@custom "verity.spec" "c"))
/// let mut wasm = b"\0asm\x01\0\0\0".to_vec();
/// for data in [&b"ab"[..], b"c"] {
///     wasm.extend([0, 12 + data.len() as u8, 11]);
///     wasm.extend(b"verity.spec");
///     wasm.extend(data);
/// }
/// assert_eq!(section_of(&wasm), Ok(Some(b"abc".to_vec())));
/// assert_eq!(section_of(b"\0asm\x01\0\0\0"), Ok(None));
/// assert!(matches!(section_of(b"junk"), Err(SectionError::NotWasm(_))));
/// ```
#[cfg(feature = "wasm-section")]
pub fn section_of(code: &[u8]) -> Result<Option<Vec<u8>>, SectionError> {
    use wasmparser::{Parser, Payload};
    let mut section: Option<Vec<u8>> = None;
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload.map_err(|e| SectionError::NotWasm(e.message().into()))?;
        if let Payload::CustomSection(c) = payload
            && c.name() == SPEC_SECTION
        {
            let s = section.get_or_insert_with(Vec::new);
            if s.len() + c.data().len() > MAX_SPEC_BYTES {
                return Err(SectionError::TooLarge(s.len() + c.data().len()));
            }
            s.extend_from_slice(c.data());
        }
    }
    Ok(section)
}
