//! Module validation: every module is checked against the profile before it
//! is compiled, and either accepted or rejected with a precise reason.
//!
//! The module is read once, validated by wasmparser under the profile's
//! features ([`ModuleDesc`](crate::module_desc)); the profile's own rules
//! are then small named checks on that description, run in the order of
//! the sections they concern.

use std::collections::BTreeMap;

use verity_host_abi::abi::{self, IMPORT_MODULE, MEMORY_EXPORT};
use verity_host_abi::{Limits, ValType as AbiValType};
use verity_host_core::TxRejection;
use wasmparser::{ExternalKind, FuncType, TypeRef, ValType, WasmFeatures};

use crate::module_desc::{ImportDesc, ModuleDesc};
use crate::profile::Profile;

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
    validated(profile, bytes).map(|(info, _)| info)
}

/// [`validate`], also handing back the module's description for the
/// instrumentation, so that it reads the module no second time.
pub(crate) fn validated(
    profile: &Profile,
    bytes: &[u8],
) -> Result<(ModuleInfo, ModuleDesc), Rejection> {
    let limits = &profile.limits;
    if bytes.len() > limits.max_module_bytes as usize {
        return Err(Rejection::ModuleTooLarge {
            size: bytes.len(),
            limit: limits.max_module_bytes,
        });
    }
    let desc = ModuleDesc::read(bytes, profile.features())?;
    // The profile's rules, in the order of the sections they concern, so a
    // module breaking two is refused for the first one in the binary.
    check_types(&desc)?;
    check_imports(&desc, limits)?;
    check_functions(&desc, limits)?;
    check_tables(&desc, limits)?;
    check_memory(&desc, limits)?;
    check_globals(&desc, limits)?;
    check_exports(&desc, limits)?;
    check_start(&desc)?;
    check_elements(&desc, limits)?;
    check_bodies(&desc, limits)?;
    check_data(&desc, limits)?;
    let info = module_info(&desc)?;
    Ok((info, desc))
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
    ModuleDesc::read(bytes, features).map(|_| ())
}

/// Only function types: the profile refuses the GC proposal's others.
fn check_types(d: &ModuleDesc) -> Result<(), Rejection> {
    if d.types.iter().any(Option::is_none) {
        return Err(Rejection::Invalid {
            at: Location::Section("type"),
        });
    }
    Ok(())
}

/// Only host ABI functions, with the ABI's signatures, and not more than
/// `max_functions` of them.
fn check_imports(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    if d.imports.is_empty() {
        return Ok(());
    }
    for import in &d.imports {
        check_import(import, &d.types)?;
    }
    // Imported functions count towards `max_functions` even in a module
    // that defines none (and so has no function section): each takes room
    // in the instance like any other.
    over("functions", d.imported_funcs.into(), limits.max_functions)
}

/// Imported and defined functions together within `max_functions`.
fn check_functions(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    let Some(defined) = d.function_section else {
        return Ok(());
    };
    over(
        "functions",
        u64::from(d.imported_funcs) + u64::from(defined),
        limits.max_functions,
    )
}

/// At most `max_tables` tables, none starting above `max_table_elements`.
fn check_tables(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    let Some(tables) = &d.tables else {
        return Ok(());
    };
    over("tables", tables.len() as u64, limits.max_tables)?;
    for (index, &initial) in tables.iter().enumerate() {
        if initial > u64::from(limits.max_table_elements) {
            return Err(Rejection::TableTooLarge {
                index: index as u32,
                initial,
                limit: limits.max_table_elements,
            });
        }
    }
    Ok(())
}

/// A memory starts within `max_memory_pages`. (More than one memory never
/// gets here: without the multi-memory proposal the validator refuses it.)
fn check_memory(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    for &initial in &d.memories {
        if initial > u64::from(limits.max_memory_pages) {
            return Err(Rejection::MemoryTooLarge {
                initial,
                limit: limits.max_memory_pages,
            });
        }
    }
    Ok(())
}

fn check_globals(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    over("globals", d.defined_globals.into(), limits.max_globals)
}

/// At most `max_exports` exports, none under the reserved prefix the
/// instrumentation exports its globals with.
fn check_exports(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    let Some(exports) = &d.exports else {
        return Ok(());
    };
    over("exports", exports.len() as u64, limits.max_exports)?;
    match exports
        .iter()
        .find(|e| e.name.starts_with(abi::RESERVED_EXPORT_PREFIX))
    {
        Some(e) => Err(Rejection::ReservedExport(e.name.clone())),
        None => Ok(()),
    }
}

/// No start function: code runs only in a metered entry point.
fn check_start(d: &ModuleDesc) -> Result<(), Rejection> {
    match d.start {
        Some(func) => Err(Rejection::StartFunction(func)),
        None => Ok(()),
    }
}

fn check_elements(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    match d.element_entries {
        Some(entries) => over("element entries", entries, limits.max_element_entries),
        None => Ok(()),
    }
}

/// Each body within `max_function_body_bytes` and `max_locals_per_function`
/// (parameters included).
fn check_bodies(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    for (i, body) in d.bodies.iter().enumerate() {
        let index = d.imported_funcs + i as u32;
        if body.size > limits.max_function_body_bytes as usize {
            return Err(Rejection::FunctionTooLarge {
                index,
                size: body.size,
                limit: limits.max_function_body_bytes,
            });
        }
        if body.locals > limits.max_locals_per_function {
            return Err(Rejection::TooManyLocals {
                index,
                count: body.locals.into(),
                limit: limits.max_locals_per_function,
            });
        }
    }
    Ok(())
}

fn check_data(d: &ModuleDesc, limits: &Limits) -> Result<(), Rejection> {
    match d.data_bytes {
        Some(bytes) => over("bytes of data segments", bytes, limits.max_data_bytes),
        None => Ok(()),
    }
}

/// What an accepted module exports and imports.
fn module_info(d: &ModuleDesc) -> Result<ModuleInfo, Rejection> {
    let mut info = ModuleInfo {
        host_imports: d
            .imports
            .iter()
            .filter(|i| matches!(i.ty, TypeRef::Func(_) | TypeRef::FuncExact(_)))
            .map(|i| i.name.clone())
            .collect(),
        initial_memory_pages: d.memories.last().copied().unwrap_or(0),
        ..ModuleInfo::default()
    };
    for export in d.exports.iter().flatten() {
        match export.kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                let sig = d
                    .func_type(export.index)
                    .map(FuncSig::of)
                    .ok_or(Rejection::Invalid {
                        at: Location::Section("export"),
                    })?;
                info.exported_functions.insert(export.name.clone(), sig);
            }
            ExternalKind::Memory if export.name == MEMORY_EXPORT => info.exports_memory = true,
            _ => {}
        }
    }
    Ok(info)
}

fn check_import(import: &ImportDesc, types: &[Option<FuncType>]) -> Result<(), Rejection> {
    if import.module != IMPORT_MODULE {
        return Err(Rejection::ImportNotAllowed {
            module: import.module.clone(),
            name: import.name.clone(),
        });
    }
    let ty = match import.ty {
        TypeRef::Func(t) | TypeRef::FuncExact(t) => t,
        other => {
            return Err(Rejection::ImportKind {
                module: import.module.clone(),
                name: import.name.clone(),
                kind: match other {
                    TypeRef::Memory(_) => "memory",
                    TypeRef::Table(_) => "table",
                    TypeRef::Global(_) => "global",
                    _ => "tag",
                },
            });
        }
    };
    let spec = abi::host_fn(&import.name).ok_or_else(|| Rejection::UnknownHostFunction {
        name: import.name.clone(),
    })?;
    let found = types
        .get(ty as usize)
        .and_then(Option::as_ref)
        .ok_or(Rejection::Invalid {
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
            name: import.name.clone(),
            expected: abi_sig(spec.params, spec.results),
            found: FuncSig::of(found).to_string(),
        });
    }
    Ok(())
}
