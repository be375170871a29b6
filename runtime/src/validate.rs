//! Module validation: every module is checked against the profile before it
//! is compiled, and either accepted or rejected with a precise reason.

use std::collections::BTreeMap;

use verity_host_abi::abi::{self, IMPORT_MODULE, MEMORY_EXPORT};
use verity_host_abi::{Limits, ValType as AbiValType};
use verity_host_core::TxRejection;
use wasmparser::{
    CompositeInnerType, ElementItems, ExternalKind, FuncType, Parser, Payload, TypeRef, ValType,
    Validator, WasmFeatures,
};

use crate::profile::{Profile, REFUSED_PROPOSALS};

/// Why a module or a transaction was refused before anything ran. Its
/// `Display` text is the `reason` of a `rejected` receipt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The binary is larger than `max_module_bytes`.
    #[error("module is {size} bytes, over the limit of {limit}")]
    ModuleTooLarge {
        /// Size of the binary.
        size: usize,
        /// The limit.
        limit: u32,
    },
    /// The module uses a wasm proposal the profile does not accept.
    #[error("module uses the `{proposal}` proposal, which the profile does not accept ({at})")]
    Proposal {
        /// The proposal's name.
        proposal: &'static str,
        /// Where the validator first met it.
        at: Location,
    },
    /// The binary is not a valid wasm module under the profile's features:
    /// malformed, or ill-typed. The reason names where, in Verity's words;
    /// it never quotes the validator's own message, whose text belongs to
    /// a dependency and could change with its version.
    #[error("invalid module: not valid WebAssembly under the profile ({at})")]
    Invalid {
        /// Where the validator found the first error.
        at: Location,
    },
    /// An import from a module other than `verity`.
    #[error(
        "import `{module}`.`{name}` is not allowed: only functions of the `verity` host ABI may be imported"
    )]
    ImportNotAllowed {
        /// The import's module.
        module: String,
        /// The import's field.
        name: String,
    },
    /// An import from `verity` that is not a function.
    #[error("import `{module}`.`{name}` is a {kind}: only functions may be imported")]
    ImportKind {
        /// The import's module.
        module: String,
        /// The import's field.
        name: String,
        /// What it imports (memory, table, global, tag).
        kind: &'static str,
    },
    /// An import from `verity` that names no host function.
    #[error("import `verity`.`{name}` is not a function of host ABI v1")]
    UnknownHostFunction {
        /// The import's field.
        name: String,
    },
    /// A host function imported with the wrong signature.
    #[error("import `verity`.`{name}` has type {found}, but the host ABI defines {expected}")]
    ImportSignature {
        /// The host function.
        name: String,
        /// Its ABI signature.
        expected: String,
        /// The module's signature.
        found: String,
    },
    /// A memory whose initial size is over the page cap.
    #[error("memory declares {initial} initial pages, over the limit of {limit}")]
    MemoryTooLarge {
        /// Declared initial pages.
        initial: u64,
        /// The limit.
        limit: u32,
    },
    /// A table whose initial size is over the element cap.
    #[error("table {index} declares {initial} initial elements, over the limit of {limit}")]
    TableTooLarge {
        /// Table index.
        index: u32,
        /// Declared initial elements.
        initial: u64,
        /// The limit.
        limit: u32,
    },
    /// The module has a start function.
    #[error(
        "module has a start function (function {0}); Verity runs only named entry points, so start functions are rejected"
    )]
    StartFunction(u32),
    /// An export whose name the instrumentation reserves.
    #[error("export `{0}` uses the prefix `__verity`, which is reserved for the runtime")]
    ReservedExport(String),
    /// A count over its limit.
    #[error("module has {count} {what}, over the limit of {limit}")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// How many there are.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A function with too many locals.
    #[error("function {index} has {count} locals (with parameters), over the limit of {limit}")]
    TooManyLocals {
        /// Function index.
        index: u32,
        /// Locals and parameters.
        count: u64,
        /// The limit.
        limit: u32,
    },
    /// A function body over the size limit.
    #[error("function {index} has a {size}-byte body, over the limit of {limit}")]
    FunctionTooLarge {
        /// Function index.
        index: u32,
        /// Body size in bytes.
        size: usize,
        /// The limit.
        limit: u32,
    },
    /// The entry point's type is not `() -> ()`.
    #[error("entry `{name}` has type {found}; entry points must have type () -> ()")]
    EntrySignature {
        /// The entry point.
        name: String,
        /// Its type.
        found: String,
    },
    /// The transaction breaks a rule checked before anything runs: a field
    /// or fuel limit over the profile's, or an entry the module lacks.
    #[error(transparent)]
    Transaction(#[from] TxRejection),
    /// Instrumentation would make a function body larger than
    /// `max_instrumented_function_bytes` (compile time and memory grow
    /// with it).
    #[error("instrumented, function {index} would be {size} bytes, over the limit of {limit}")]
    InstrumentedFunctionTooLarge {
        /// Function index.
        index: u32,
        /// Its instrumented size.
        size: usize,
        /// The limit.
        limit: u32,
    },
    /// Instrumentation would make the module larger than
    /// `max_instrumented_bytes`.
    #[error("instrumented, the module would be {size} bytes, over the limit of {limit}")]
    InstrumentedModuleTooLarge {
        /// Its instrumented size.
        size: usize,
        /// The limit.
        limit: u32,
    },
    /// A stage after validation refused a module the validator accepted.
    /// This is a profile bug, not the module's: the stage is named, but no
    /// dependency's message is quoted (see [`Rejection::Invalid`]).
    #[error("{stage} failed on a module that passed validation")]
    Compile {
        /// `instrumentation` or `compilation`.
        stage: &'static str,
    },
}

/// Where in a module validation found a problem, in Verity's own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Location {
    /// The 8-byte preamble (magic number and version).
    Header,
    /// A section, by its name in the spec (`type`, `import`, ...).
    Section(&'static str),
    /// The body of a function, by its index (imports included).
    Function(u32),
    /// Past the last section that could be read.
    End,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Header => f.write_str("in the module header"),
            Location::Section(name) => write!(f, "in the {name} section"),
            Location::Function(index) => write!(f, "in the body of function {index}"),
            Location::End => f.write_str("after the last readable section"),
        }
    }
}

/// The name the spec gives section `id`.
fn section_name(id: u8) -> &'static str {
    match id {
        0 => "custom",
        1 => "type",
        2 => "import",
        3 => "function",
        4 => "table",
        5 => "memory",
        6 => "global",
        7 => "export",
        8 => "start",
        9 => "element",
        10 => "code",
        11 => "data",
        12 => "data count",
        13 => "tag",
        _ => "unknown",
    }
}

/// Where `offset`, the position of a validation error in `bytes`, lies.
/// Only section boundaries are read here, which the binary format fixes.
fn locate(bytes: &[u8], features: WasmFeatures, offset: usize) -> Location {
    if offset < 8 {
        return Location::Header;
    }
    let mut imported_funcs = 0u32;
    let mut code_index = 0u32;
    for payload in parser(features).parse_all(bytes) {
        let Ok(payload) = payload else { break };
        if let Payload::ImportSection(reader) = &payload {
            imported_funcs = reader
                .clone()
                .into_imports()
                .filter(|i| matches!(i, Ok(i) if matches!(i.ty, TypeRef::Func(_) | TypeRef::FuncExact(_))))
                .count() as u32;
        }
        if let Payload::CodeSectionEntry(body) = &payload {
            if body.range().contains(&offset) {
                return Location::Function(imported_funcs + code_index);
            }
            code_index += 1;
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            // A section's header (id and size) sits just before its content.
            if range.start.saturating_sub(6) <= offset && offset < range.end {
                return Location::Section(section_name(id));
            }
        }
    }
    Location::End
}

/// A parser that reads exactly the encodings `features` allow, as the
/// validator does. wasmparser's default reads every proposal's encodings (a
/// multi-byte memory index, say): instrumentation parsing that way would
/// turn a binary malformed under the profile into a valid module on
/// re-encoding, so every pass over a module uses this one.
pub(crate) fn parser(features: WasmFeatures) -> Parser {
    let mut parser = Parser::new(0);
    parser.set_features(features);
    parser
}

/// The type of an exported function, by the names of its value types
/// (`i32`, `f64`, `funcref`, ...), spelled by Verity. `Display` writes it as
/// `(i32, i64) -> (i32)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FuncSig {
    /// Parameter types.
    pub params: Vec<String>,
    /// Result types.
    pub results: Vec<String>,
}

impl FuncSig {
    /// Whether a transaction may call it: entry points take nothing and
    /// return nothing (inputs and outputs travel through host functions).
    ///
    /// ```
    /// use verity_runtime::validate::FuncSig;
    /// assert!(FuncSig::default().is_entry());
    /// let f = FuncSig { params: vec!["i32".into()], results: vec![] };
    /// assert!(!f.is_entry());
    /// assert_eq!(f.to_string(), "(i32) -> ()");
    /// ```
    pub fn is_entry(&self) -> bool {
        self.params.is_empty() && self.results.is_empty()
    }

    fn of(ty: &FuncType) -> FuncSig {
        let names = |v: &[ValType]| v.iter().map(|t| val_type_name(t).to_string()).collect();
        FuncSig {
            params: names(ty.params()),
            results: names(ty.results()),
        }
    }
}

impl std::fmt::Display for FuncSig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) -> ({})",
            self.params.join(", "),
            self.results.join(", ")
        )
    }
}

/// What validation learned about an accepted module.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModuleInfo {
    /// Every exported function, with its type.
    pub exported_functions: BTreeMap<String, FuncSig>,
    /// The host functions the module imports.
    pub host_imports: Vec<String>,
    /// Whether the module exports its memory as `memory`.
    pub exports_memory: bool,
    /// The initial size of the module's memory in 64 KiB pages (0 if it
    /// has none): charged before the entry runs (docs/costs.md).
    pub initial_memory_pages: u64,
}

impl ModuleInfo {
    /// Checks that `entry` is an exported `() -> ()` function.
    pub fn check_entry(&self, entry: &str) -> Result<(), Rejection> {
        match self.exported_functions.get(entry) {
            None => Err(TxRejection::MissingEntry(entry.to_string()).into()),
            Some(sig) if sig.is_entry() => Ok(()),
            Some(sig) => Err(Rejection::EntrySignature {
                name: entry.to_string(),
                found: sig.to_string(),
            }),
        }
    }
}

fn fmt_types<'a>(types: impl Iterator<Item = &'a str>) -> String {
    types.collect::<Vec<_>>().join(", ")
}

/// A value type's name in the text format, spelled by Verity (not by a
/// dependency's `Display`), since it can appear in a rejection reason.
fn val_type_name(ty: &ValType) -> &'static str {
    match ty {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        ValType::F32 => "f32",
        ValType::F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(r) if r.is_func_ref() => "funcref",
        ValType::Ref(r) if r.is_extern_ref() => "externref",
        ValType::Ref(_) => "ref",
    }
}

fn abi_sig(params: &[AbiValType], results: &[AbiValType]) -> String {
    format!(
        "({}) -> ({})",
        fmt_types(params.iter().map(|t| t.name())),
        fmt_types(results.iter().map(|t| t.name()))
    )
}

fn over(what: &'static str, count: u64, limit: impl Into<u64>) -> Result<(), Rejection> {
    let limit = limit.into();
    if count > limit {
        return Err(Rejection::TooMany { what, count, limit });
    }
    Ok(())
}

/// Validates `bytes` against `profile`, returning what an accepted module
/// exports and imports.
///
/// ```
/// use verity_runtime::{Profile, validate::{validate, Rejection}};
///
/// let ok = wat::parse_str(r#"(module (func (export "run")))"#).unwrap();
/// let info = validate(&Profile::default(), &ok).unwrap();
/// assert!(info.check_entry("run").is_ok());
///
/// let bad = wat::parse_str(r#"(module (import "env" "clock" (func)))"#).unwrap();
/// assert!(matches!(
///     validate(&Profile::default(), &bad),
///     Err(Rejection::ImportNotAllowed { .. })
/// ));
/// ```
pub fn validate(profile: &Profile, bytes: &[u8]) -> Result<ModuleInfo, Rejection> {
    let limits = &profile.limits;
    if bytes.len() > limits.max_module_bytes as usize {
        return Err(Rejection::ModuleTooLarge {
            size: bytes.len(),
            limit: limits.max_module_bytes,
        });
    }
    check_features(profile.features(), bytes)?;
    check_structure(limits, profile.features(), bytes)
}

/// Validates `bytes` under `features` only (none of Verity's import,
/// limit or start-function rules); on failure names the refused proposal
/// that would make the module valid ([`Rejection::Proposal`]), if there is
/// one, and [`Rejection::Invalid`] otherwise. [`validate`] runs it first;
/// harnesses that link other imports (the spec testsuite) run it alone.
///
/// ```
/// use verity_runtime::{Profile, validate::{check_features, Rejection}};
///
/// let simd = wat::parse_str(r#"(module (func (drop (v128.const i64x2 0 0))))"#).unwrap();
/// assert!(matches!(
///     check_features(Profile::default().features(), &simd),
///     Err(Rejection::Proposal { proposal: "simd", .. })
/// ));
/// ```
pub fn check_features(features: WasmFeatures, bytes: &[u8]) -> Result<(), Rejection> {
    let err = match Validator::new_with_features(features).validate_all(bytes) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let at = locate(bytes, features, err.offset());
    for (proposal, extra) in REFUSED_PROPOSALS {
        if Validator::new_with_features(features.union(*extra))
            .validate_all(bytes)
            .is_ok()
        {
            return Err(Rejection::Proposal { proposal, at });
        }
    }
    Err(Rejection::Invalid { at })
}

/// Checks imports, limits and the start function of a module that has
/// already passed the validator.
fn check_structure(
    limits: &Limits,
    features: WasmFeatures,
    bytes: &[u8],
) -> Result<ModuleInfo, Rejection> {
    // The validator has read all of `bytes` under `features`, so none of
    // these can fail; should one, it is reported where it happened.
    let invalid = |e: wasmparser::BinaryReaderError| Rejection::Invalid {
        at: locate(bytes, features, e.offset()),
    };
    let mut types: Vec<FuncType> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported_funcs = 0u32;
    let mut info = ModuleInfo::default();
    let mut exports: Vec<(String, u32)> = Vec::new();
    let mut element_entries = 0u64;
    let mut data_bytes = 0u64;
    let mut code_index = 0u32;

    for payload in parser(features).parse_all(bytes) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(invalid)?.into_types() {
                        match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => types.push(f),
                            _ => {
                                return Err(Rejection::Invalid {
                                    at: Location::Section("type"),
                                });
                            }
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    {
                        let import = import.map_err(invalid)?;
                        check_import(&import, &types)?;
                        if let TypeRef::Func(ty) = import.ty {
                            func_types.push(ty);
                            imported_funcs += 1;
                            info.host_imports.push(import.name.to_string());
                        }
                    }
                }
                // Imported functions count towards `max_functions` even in
                // a module that defines none (and so has no function
                // section): each takes room in the instance like any other.
                over("functions", imported_funcs.into(), limits.max_functions)?;
            }
            Payload::FunctionSection(reader) => {
                over(
                    "functions",
                    u64::from(imported_funcs) + u64::from(reader.count()),
                    limits.max_functions,
                )?;
                for ty in reader {
                    func_types.push(ty.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                over("tables", reader.count().into(), limits.max_tables)?;
                for (index, table) in reader.into_iter().enumerate() {
                    let initial = table.map_err(invalid)?.ty.initial;
                    if initial > u64::from(limits.max_table_elements) {
                        return Err(Rejection::TableTooLarge {
                            index: index as u32,
                            initial,
                            limit: limits.max_table_elements,
                        });
                    }
                }
            }
            Payload::MemorySection(reader) => {
                // More than one memory never gets here: without the
                // multi-memory proposal the validator refuses it.
                for memory in reader {
                    let initial = memory.map_err(invalid)?.initial;
                    info.initial_memory_pages = initial;
                    if initial > u64::from(limits.max_memory_pages) {
                        return Err(Rejection::MemoryTooLarge {
                            initial,
                            limit: limits.max_memory_pages,
                        });
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                over("globals", reader.count().into(), limits.max_globals)?;
            }
            Payload::ExportSection(reader) => {
                over("exports", reader.count().into(), limits.max_exports)?;
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if export
                        .name
                        .starts_with(crate::instrument::RESERVED_EXPORT_PREFIX)
                    {
                        return Err(Rejection::ReservedExport(export.name.to_string()));
                    }
                    match export.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => {
                            exports.push((export.name.to_string(), export.index));
                        }
                        ExternalKind::Memory if export.name == MEMORY_EXPORT => {
                            info.exports_memory = true;
                        }
                        _ => {}
                    }
                }
            }
            Payload::StartSection { func, .. } => return Err(Rejection::StartFunction(func)),
            Payload::ElementSection(reader) => {
                for element in reader {
                    element_entries += u64::from(match element.map_err(invalid)?.items {
                        ElementItems::Functions(r) => r.count(),
                        ElementItems::Expressions(_, r) => r.count(),
                    });
                }
                over(
                    "element entries",
                    element_entries,
                    limits.max_element_entries,
                )?;
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    data_bytes += data.map_err(invalid)?.data.len() as u64;
                }
                over("bytes of data segments", data_bytes, limits.max_data_bytes)?;
            }
            Payload::CodeSectionEntry(body) => {
                let index = imported_funcs + code_index;
                code_index += 1;
                let size = body.range().len();
                if size > limits.max_function_body_bytes as usize {
                    return Err(Rejection::FunctionTooLarge {
                        index,
                        size,
                        limit: limits.max_function_body_bytes,
                    });
                }
                let params = func_types
                    .get(index as usize)
                    .and_then(|t| types.get(*t as usize))
                    .map_or(0, |t| t.params().len() as u64);
                let mut count = params;
                for local in body.get_locals_reader().map_err(invalid)? {
                    count += u64::from(local.map_err(invalid)?.0);
                }
                if count > u64::from(limits.max_locals_per_function) {
                    return Err(Rejection::TooManyLocals {
                        index,
                        count,
                        limit: limits.max_locals_per_function,
                    });
                }
            }
            _ => {}
        }
    }
    for (name, index) in exports {
        let sig = func_types
            .get(index as usize)
            .and_then(|t| types.get(*t as usize))
            .map(FuncSig::of)
            .ok_or(Rejection::Invalid {
                at: Location::Section("export"),
            })?;
        info.exported_functions.insert(name, sig);
    }
    Ok(info)
}

fn check_import(import: &wasmparser::Import<'_>, types: &[FuncType]) -> Result<(), Rejection> {
    if import.module != IMPORT_MODULE {
        return Err(Rejection::ImportNotAllowed {
            module: import.module.to_string(),
            name: import.name.to_string(),
        });
    }
    let ty = match import.ty {
        TypeRef::Func(t) | TypeRef::FuncExact(t) => t,
        other => {
            return Err(Rejection::ImportKind {
                module: import.module.to_string(),
                name: import.name.to_string(),
                kind: match other {
                    TypeRef::Memory(_) => "memory",
                    TypeRef::Table(_) => "table",
                    TypeRef::Global(_) => "global",
                    _ => "tag",
                },
            });
        }
    };
    let spec = abi::host_fn(import.name).ok_or_else(|| Rejection::UnknownHostFunction {
        name: import.name.to_string(),
    })?;
    let found = types.get(ty as usize).ok_or(Rejection::Invalid {
        at: Location::Section("import"),
    })?;
    let to_wasm = |t: &AbiValType| match t {
        AbiValType::I32 => ValType::I32,
        AbiValType::I64 => ValType::I64,
    };
    let expected_params: Vec<ValType> = spec.params.iter().map(to_wasm).collect();
    let expected_results: Vec<ValType> = spec.results.iter().map(to_wasm).collect();
    if found.params() != expected_params.as_slice()
        || found.results() != expected_results.as_slice()
    {
        return Err(Rejection::ImportSignature {
            name: import.name.to_string(),
            expected: abi_sig(spec.params, spec.results),
            found: FuncSig::of(found).to_string(),
        });
    }
    Ok(())
}
