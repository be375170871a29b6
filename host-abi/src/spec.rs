//! Contract interface descriptions (the "contract spec").
//!
//! The guest SDK's `#[contract]` macro writes one record per entry point into
//! the wasm custom section [`SPEC_SECTION`]: its name, its arguments' names
//! and types, and its return type. Tools read it to encode arguments and
//! decode outputs without the contract's source (`verity inspect`,
//! `verity run --arg`), as Soroban's contract spec does.
//!
//! The section is a plain concatenation of records, so the linker may merge
//! records from several `#[contract]` blocks. Each record is:
//!
//! ```text
//! record := version:u8 (= 1)  name:str  n:u32  (arg_name:str type){n}  returns:type  fallible:u8
//! str    := len:u32le  utf8-bytes
//! type   := tag:u8 [payload]   (tags: see TypeSpec::tag)
//! ```
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
//!     args: vec![
//!         ArgSpec { name: "to".into(), ty: TypeSpec::Address },
//!         ArgSpec { name: "amount".into(), ty: TypeSpec::U64 },
//!     ],
//!     returns: TypeSpec::Unit,
//!     fallible: true,
//! };
//! let section = entry.encode();
//! let spec = ContractSpec::decode(&section).unwrap();
//! assert_eq!(spec.entry("transfer"), Some(&entry));
//! assert_eq!(entry.signature(), "transfer(to: Address, amount: u64) -> Result<(), Error>");
//! ```

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Name of the wasm custom section that holds the spec records.
pub const SPEC_SECTION: &str = "verity.spec";

/// Version byte that starts every record.
pub const SPEC_VERSION: u8 = 1;

/// The largest `verity.spec` section a reader accepts, in bytes (all
/// sections of that name together). A contract with hundreds of entries
/// needs a few KiB; the bound keeps reading a hostile module's spec cheap.
pub const MAX_SPEC_BYTES: usize = 64 << 10;

/// How deeply `Option` types may nest in a spec (bounds decoding).
const MAX_TYPE_DEPTH: u32 = 8;

/// The type of an argument or return value, as far as tools need to know it.
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
    /// Any other type, by the name the source gives it. Tools cannot encode
    /// it from text.
    Custom(String),
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
            TypeSpec::Custom(_) => 17,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            TypeSpec::FixedBytes(n) => out.extend_from_slice(&n.to_le_bytes()),
            TypeSpec::Option(inner) => inner.encode_into(out),
            TypeSpec::Custom(name) => put_str(out, name),
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
            17 => TypeSpec::Custom(r.string()?),
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
            TypeSpec::Custom(name) => name,
        };
        f.write_str(name)
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
    /// Arguments, in the order they are encoded in the input.
    pub args: Vec<ArgSpec>,
    /// The type whose encoding a successful run sets as output.
    pub returns: TypeSpec,
    /// Whether the entry returns a `Result` whose error reverts the run with
    /// `error <code>: <message>`.
    pub fallible: bool,
}

impl EntrySpec {
    /// The record for this entry (a valid section on its own).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(SPEC_VERSION);
        put_str(&mut out, &self.name);
        put_u32(&mut out, self.args.len());
        for a in &self.args {
            put_str(&mut out, &a.name);
            a.ty.encode_into(&mut out);
        }
        self.returns.encode_into(&mut out);
        out.push(u8::from(self.fallible));
        out
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
        match (self.fallible, &self.returns) {
            (true, r) => {
                let _ = write!(s, " -> Result<{r}, Error>");
            }
            (false, TypeSpec::Unit) => {}
            (false, r) => {
                let _ = write!(s, " -> {r}");
            }
        }
        s
    }
}

/// Every entry point a module describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContractSpec {
    /// Entries in section order.
    pub entries: Vec<EntrySpec>,
}

impl ContractSpec {
    /// Decodes the contents of a `verity.spec` section (a concatenation of
    /// records). Entry names must be unique.
    ///
    /// Linear in the section's size, which must be at most
    /// [`MAX_SPEC_BYTES`].
    pub fn decode(section: &[u8]) -> Result<ContractSpec, SpecError> {
        if section.len() > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge(section.len()));
        }
        let mut r = Reader { rest: section };
        let mut entries: Vec<EntrySpec> = Vec::new();
        let mut names = alloc::collections::BTreeSet::new();
        while !r.rest.is_empty() {
            let version = r.u8()?;
            if version != SPEC_VERSION {
                return Err(SpecError::UnsupportedVersion(version));
            }
            let name = r.string()?;
            let n = r.u32()? as usize;
            // Each argument takes at least 5 bytes: bounds the allocation.
            if n.saturating_mul(5) > r.rest.len() {
                return Err(SpecError::Truncated);
            }
            let mut args = Vec::with_capacity(n);
            for _ in 0..n {
                let name = r.string()?;
                let ty = TypeSpec::decode_from(&mut r, 0)?;
                args.push(ArgSpec { name, ty });
            }
            let returns = TypeSpec::decode_from(&mut r, 0)?;
            let fallible = match r.u8()? {
                0 => false,
                1 => true,
                _ => return Err(SpecError::Invalid("fallible flag is neither 0 nor 1")),
            };
            if !names.insert(name.clone()) {
                return Err(SpecError::DuplicateEntry(name));
            }
            entries.push(EntrySpec {
                name,
                args,
                returns,
                fallible,
            });
        }
        Ok(ContractSpec { entries })
    }

    /// The canonical section bytes: every entry's record, in order.
    pub fn encode(&self) -> Vec<u8> {
        self.entries.iter().flat_map(EntrySpec::encode).collect()
    }

    /// Looks an entry up by name.
    pub fn entry(&self, name: &str) -> Option<&EntrySpec> {
        self.entries.iter().find(|e| e.name == name)
    }
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
    /// Two records describe the same entry.
    DuplicateEntry(String),
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
            SpecError::DuplicateEntry(name) => {
                write!(f, "contract spec describes entry `{name}` twice")
            }
        }
    }
}

impl core::error::Error for SpecError {}

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
    fn string(&mut self) -> Result<String, SpecError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| SpecError::Invalid("name is not UTF-8"))
    }
}
