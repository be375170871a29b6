//! One description of a module, read in one validating pass: what the
//! profile's checks (validate.rs) and the instrumentation (instrument.rs)
//! need, so that neither parses or validates the module again.
//!
//! Reading validates exactly as wasmparser's `Validator::validate_all` does
//! (the module's sections first, every function body after them, in order),
//! so the first error found, and with it a rejection's location, does not
//! depend on this file; while validating bodies it measures each
//! function's frame for the logical stack limit.

use wasmparser::{
    CompositeInnerType, ElementItems, ExternalKind, FuncType, FuncValidatorAllocations, Parser,
    Payload, TypeRef, ValidPayload, Validator, WasmFeatures,
};

use crate::instrument::FRAME_OVERHEAD_SLOTS;
use crate::profile::REFUSED_PROPOSALS;
use crate::validate::{Location, Rejection};

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

/// An import: where from, and what.
#[derive(Clone, Debug)]
pub(crate) struct ImportDesc {
    pub(crate) module: String,
    pub(crate) name: String,
    pub(crate) ty: TypeRef,
}

/// An export: its name, kind and index.
#[derive(Clone, Debug)]
pub(crate) struct ExportDesc {
    pub(crate) name: String,
    pub(crate) kind: ExternalKind,
    pub(crate) index: u32,
}

/// A defined function's body, measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyDesc {
    /// Encoded size of the body in bytes.
    pub(crate) size: usize,
    /// Parameters and declared locals.
    pub(crate) locals: u32,
    /// Stack slots a call of it takes: parameters and locals, the highest
    /// its operand stack gets, and [`FRAME_OVERHEAD_SLOTS`].
    pub(crate) frame: u32,
}

/// A valid module (under the features it was read with), described.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModuleDesc {
    /// Every type by index; `None` for a type that is not a function type.
    pub(crate) types: Vec<Option<FuncType>>,
    pub(crate) imports: Vec<ImportDesc>,
    /// Type index of every function, imports first.
    pub(crate) func_types: Vec<u32>,
    pub(crate) imported_funcs: u32,
    pub(crate) imported_globals: u32,
    /// Number of functions the function section declares (`None` without
    /// one).
    pub(crate) function_section: Option<u32>,
    /// Initial sizes of the tables the module defines (`None` without a
    /// table section).
    pub(crate) tables: Option<Vec<u64>>,
    /// Initial sizes, in pages, of the memories the module defines.
    pub(crate) memories: Vec<u64>,
    /// Number of globals the module defines.
    pub(crate) defined_globals: u32,
    /// The exports, in order (`None` without an export section).
    pub(crate) exports: Option<Vec<ExportDesc>>,
    pub(crate) start: Option<u32>,
    /// Entries of all element segments (`None` without an element section).
    pub(crate) element_entries: Option<u64>,
    /// Bytes of all data segments (`None` without a data section).
    pub(crate) data_bytes: Option<u64>,
    /// Defined functions' bodies, in order.
    pub(crate) bodies: Vec<BodyDesc>,
}

impl ModuleDesc {
    /// Reads and validates `bytes` under `features`. A module that is not
    /// valid is refused with [`Rejection::Proposal`] if a refused proposal
    /// would make it valid, and [`Rejection::Invalid`] otherwise, located.
    pub(crate) fn read(bytes: &[u8], features: WasmFeatures) -> Result<ModuleDesc, Rejection> {
        Self::read_unlocated(bytes, features).map_err(|e| refusal(bytes, features, e.offset()))
    }

    fn read_unlocated(bytes: &[u8], features: WasmFeatures) -> wasmparser::Result<ModuleDesc> {
        let mut validator = Validator::new_with_features(features);
        let mut d = ModuleDesc::default();
        let mut to_validate = Vec::new();
        for payload in parser(features).parse_all(bytes) {
            let payload = payload?;
            if let ValidPayload::Func(func, body) = validator.payload(&payload)? {
                to_validate.push((func, body));
            }
            d.record(&payload)?;
        }
        // Bodies after the whole module, as `validate_all` does, so the
        // first error is the one it would report.
        let mut allocs = FuncValidatorAllocations::default();
        for (func, body) in to_validate {
            let mut fv = func.into_validator(std::mem::take(&mut allocs));
            let mut reader = body.get_binary_reader();
            fv.read_locals(&mut reader)?;
            reader.set_features(features);
            let mut max_height = 0u32;
            while !reader.eof() {
                reader.visit_operator(&mut fv.visitor(reader.original_position()))??;
                max_height = max_height.max(fv.operand_stack_height());
            }
            reader.finish_expression(&fv.visitor(reader.original_position()))?;
            let locals = fv.len_locals();
            d.bodies.push(BodyDesc {
                size: body.range().len(),
                locals,
                frame: locals
                    .saturating_add(max_height)
                    .saturating_add(FRAME_OVERHEAD_SLOTS),
            });
            allocs = fv.into_allocations();
        }
        Ok(d)
    }

    /// Records what a payload the validator accepted says.
    fn record(&mut self, payload: &Payload<'_>) -> wasmparser::Result<()> {
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for sub in group?.into_types() {
                        self.types.push(match sub.composite_type.inner {
                            CompositeInnerType::Func(f) => Some(f),
                            _ => None,
                        });
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            self.func_types.push(ty);
                            self.imported_funcs += 1;
                        }
                        TypeRef::Global(_) => self.imported_globals += 1,
                        _ => {}
                    }
                    self.imports.push(ImportDesc {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ty: import.ty,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                self.function_section = Some(reader.count());
                for ty in reader.clone() {
                    self.func_types.push(ty?);
                }
            }
            Payload::TableSection(reader) => {
                let tables = reader
                    .clone()
                    .into_iter()
                    .map(|t| t.map(|t| t.ty.initial))
                    .collect::<wasmparser::Result<_>>()?;
                self.tables = Some(tables);
            }
            Payload::MemorySection(reader) => {
                for memory in reader.clone() {
                    self.memories.push(memory?.initial);
                }
            }
            Payload::GlobalSection(reader) => self.defined_globals = reader.count(),
            Payload::ExportSection(reader) => {
                let exports = reader
                    .clone()
                    .into_iter()
                    .map(|e| {
                        e.map(|e| ExportDesc {
                            name: e.name.to_string(),
                            kind: e.kind,
                            index: e.index,
                        })
                    })
                    .collect::<wasmparser::Result<_>>()?;
                self.exports = Some(exports);
            }
            Payload::StartSection { func, .. } => self.start = Some(*func),
            Payload::ElementSection(reader) => {
                let mut entries = 0u64;
                for element in reader.clone() {
                    entries += u64::from(match element?.items {
                        ElementItems::Functions(r) => r.count(),
                        ElementItems::Expressions(_, r) => r.count(),
                    });
                }
                self.element_entries = Some(entries);
            }
            Payload::DataSection(reader) => {
                let mut bytes = 0u64;
                for data in reader.clone() {
                    bytes += data?.data.len() as u64;
                }
                self.data_bytes = Some(bytes);
            }
            _ => {}
        }
        Ok(())
    }

    /// The type of function `index` (imports first), if it is a function
    /// type.
    pub(crate) fn func_type(&self, index: u32) -> Option<&FuncType> {
        let ty = *self.func_types.get(index as usize)?;
        self.types.get(ty as usize)?.as_ref()
    }
}

/// Why `bytes`, invalid under `features` with the first error at `offset`,
/// is refused: the refused proposal that would make it valid, if one does,
/// or `Invalid`; located either way.
fn refusal(bytes: &[u8], features: WasmFeatures, offset: usize) -> Rejection {
    let at = locate(bytes, features, offset);
    for (proposal, extra) in REFUSED_PROPOSALS {
        if Validator::new_with_features(features.union(*extra))
            .validate_all(bytes)
            .is_ok()
        {
            return Rejection::Proposal { proposal, at };
        }
    }
    Rejection::Invalid { at }
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
