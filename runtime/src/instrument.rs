//! Module instrumentation: what makes a run's outcome independent of the
//! engine that compiles it.
//!
//! Every accepted module is rewritten before compilation (wasmparser reads,
//! wasm-encoder writes) so that the module itself:
//!
//! - **meters fuel** in a global: each basic block charges the cost of its
//!   instructions (by class, from the profile's schedule) on entry, and
//!   bulk memory and table operations, `memory.grow` and `table.grow`
//!   charge per unit they touch before they run; a block that cannot be
//!   paid for does not run;
//! - **bounds its call stack logically**: each call of a defined function
//!   adds the callee's frame cost (parameters, locals, maximum operand stack
//!   height, plus a fixed overhead) to a depth global and traps when the
//!   profile's `max_stack_slots` is exceeded, long before any native limit.
//!   A `call_indirect` is charged by the *structure* of the type it names
//!   (wasm's type equivalence), never by the index that names it: two
//!   indices naming equal types are charged alike;
//! - **canonicalises NaNs** produced by float arithmetic, so every engine
//!   yields the same bits.
//!
//! Cranelift, Winch and an interpreter then agree on `fuel_used`, on whether
//! a deep recursion traps, and on float results by construction: these are
//! properties of the instrumented module, not of the compiler. docs/costs.md
//! specifies the rules; tests assert them exactly.
//!
//! The instrumentation adds three globals after every global the module
//! imports or defines, exported under reserved names (validation refuses
//! modules exporting names that start with `__verity`), and three scratch
//! locals per function. It adds no imports, so function indices are
//! unchanged.
//!
//! [`instrument`] is correct on its own input, not only behind the
//! runtime's validation: it parses and validates under exactly the
//! features it is given (so a binary malformed under them is refused, not
//! re-encoded into a valid one), and it accepts imported globals, tables
//! and memories (the spec testsuite runs through it with the `spectest`
//! imports). Calls to imported functions push no frame: in Verity they
//! are host functions, which use no wasm stack.

use std::collections::HashMap;

use verity_host_abi::{CostClass, CostSchedule};

use crate::module_desc::{ModuleDesc, parser};
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, RoundtripReencoder, utils};
use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, GlobalSection, GlobalType, Ieee32,
    Ieee64, Instruction as I, Module, SectionId, ValType as EncType,
};
use wasmparser::{FunctionBody, Operator as Op};

/// Version of the instrumentation's rules (fuel per block, frames, NaN
/// canonicalisation, the code it emits). Hashed into every profile with the
/// constants below. Bump it with any change to what [`instrument`] emits:
/// the test `instrumentation_fingerprint` pins a digest of its output on a
/// corpus and fails until both are updated together.
pub const METERING_VERSION: u32 = 5;

/// Export name of the fuel global (i64, fuel left).
pub const FUEL_GLOBAL: &str = "__verity_fuel";
/// Export name of the depth global (i32, stack slots in use).
pub const DEPTH_GLOBAL: &str = "__verity_depth";
/// Export name of the exit global (i32): why instrumentation code trapped.
pub const EXIT_GLOBAL: &str = "__verity_exit";
/// The exported global that holds the price of a load or store for the
/// memory's current size (set by the host at the start, by the module
/// after each `memory.grow`).
pub const ACCESS_GLOBAL: &str = "__verity_access_price";
pub use verity_host_abi::abi::RESERVED_EXPORT_PREFIX;
/// `EXIT_GLOBAL` value: a fuel charge could not be paid.
pub const EXIT_OUT_OF_FUEL: i32 = 1;
/// `EXIT_GLOBAL` value: a call would exceed `max_stack_slots`.
pub const EXIT_STACK_OVERFLOW: i32 = 2;

/// Slots every frame costs on top of its parameters, locals and operand
/// stack: return address, frame pointer, saved registers and the
/// instrumentation's own temporaries.
pub const FRAME_OVERHEAD_SLOTS: u32 = 8;

/// The canonical f32 NaN (quiet, positive, no payload), as Cranelift's NaN
/// canonicalisation produces it.
pub const CANONICAL_NAN_F32: u32 = 0x7fc0_0000;
/// The canonical f64 NaN (see [`CANONICAL_NAN_F32`]).
pub const CANONICAL_NAN_F64: u64 = 0x7ff8_0000_0000_0000;

/// What the counting instrumentation ([`instrument_counted`]) counts, in
/// the order of its counter globals: the fuel the module's own meter
/// charged, by class. `memory_access` is loads and stores at the price of
/// the memory's size.
pub const COUNTED_CLASSES: [&str; 8] = [
    "wasm_op",
    "memory_access",
    "wasm_float_slow",
    "wasm_memory_bulk",
    "wasm_table_bulk",
    "wasm_memory_grow",
    "wasm_table_grow",
    "wasm_segment_drop",
];

/// Export name prefix of the counter globals of [`instrument_counted`]:
/// `__verity_spent_` and a name of [`COUNTED_CLASSES`].
pub const COUNTER_PREFIX: &str = "__verity_spent_";

/// The index in [`COUNTED_CLASSES`] of a wasm cost class.
fn counted(class: CostClass) -> usize {
    match class {
        CostClass::wasm_float_slow => 2,
        CostClass::wasm_memory_bulk => 3,
        CostClass::wasm_table_bulk => 4,
        CostClass::wasm_memory_grow => 5,
        CostClass::wasm_table_grow => 6,
        CostClass::wasm_segment_drop => 7,
        _ => 0,
    }
}
const ACCESS_COUNTER: usize = 1;

/// An instrumented module.
pub struct Instrumented {
    /// The module to compile.
    pub code: Vec<u8>,
    /// Frame cost of each exported function, by export name: what the host
    /// charges for the entry call.
    pub export_frames: HashMap<String, u32>,
    /// The largest instrumented function body: (function index, bytes).
    /// Compilers' cost grows with it; the profile caps it.
    pub largest_function: (u32, usize),
}

/// What the rewriting pass needs to know about the whole module.
struct Analysis {
    imported_funcs: u32,
    /// Type index of every function (imports first).
    func_types: Vec<u32>,
    /// Frame cost of every function (0 for imports: host functions do not
    /// use the wasm stack).
    frames: Vec<u32>,
    /// What a `call_indirect` naming each type index is charged (see
    /// [`indirect_frame`]): equal for every index that names the same
    /// function type.
    indirect_frames: Vec<u32>,
    /// Globals in the module's global index space, imported and defined:
    /// the instrumentation's globals are appended after them.
    globals: u32,
    /// Parameter count of every type.
    type_params: Vec<u32>,
    export_frames: HashMap<String, u32>,
}

/// Instruments `code`, validating it under the profile's features first: a
/// module that is malformed or invalid under them is refused with the
/// rejection's text (an internal diagnostic here: the runtime validates
/// with [`validate`](crate::validate::validate) first and instruments the
/// description that read, so a module is read and validated once).
pub fn instrument(code: &[u8], profile: &crate::Profile) -> Result<Instrumented, String> {
    let desc = ModuleDesc::read(code, profile.features()).map_err(|e| e.to_string())?;
    instrument_described(code, &desc, profile)
}

/// Instruments `code`, already read into `desc` under `profile`'s features.
pub(crate) fn instrument_described(
    code: &[u8],
    desc: &ModuleDesc,
    profile: &crate::Profile,
) -> Result<Instrumented, String> {
    rewrite(code, desc, profile, false)
}

/// [`instrument`], and also counts the fuel the module's meter charges by
/// class, in one i64 global per name of [`COUNTED_CLASSES`], exported as
/// [`COUNTER_PREFIX`] and the name: the module behind a run's fuel
/// profile. It charges exactly the fuel [`instrument`]'s module charges
/// (the counters are only added to), so its runs give the same receipts.
///
/// ```
/// use verity_runtime::{Profile, instrument};
///
/// let code = wat::parse_str(r#"(module (memory 1)
///   (func (export "run") (drop (i32.load (i32.const 0)))))"#)?;
/// let counted = instrument::instrument_counted(&code, &Profile::default())?;
/// let plain = instrument::instrument(&code, &Profile::default())?;
/// assert!(counted.code.len() > plain.code.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn instrument_counted(code: &[u8], profile: &crate::Profile) -> Result<Instrumented, String> {
    let desc = ModuleDesc::read(code, profile.features()).map_err(|e| e.to_string())?;
    rewrite(code, &desc, profile, true)
}

fn rewrite(
    code: &[u8],
    desc: &ModuleDesc,
    profile: &crate::Profile,
    counters: bool,
) -> Result<Instrumented, String> {
    let analysis = analyze(desc);
    let mut rewriter = Rewriter {
        counters,
        a: &analysis,
        largest: (0, 0),
        costs: profile.costs,
        max_stack_slots: profile.limits.max_stack_slots,
        defined_index: 0,
        globals_done: false,
        exports_done: false,
    };
    let mut module = Module::new();
    rewriter
        .parse_core_module(&mut module, parser(profile.features()), code)
        .map_err(|e| format!("instrumentation failed: {e}"))?;
    let largest_function = rewriter.largest;
    Ok(Instrumented {
        code: module.finish(),
        export_frames: analysis.export_frames.clone(),
        largest_function,
    })
}

/// What the rewriting needs, from the module's description.
fn analyze(d: &ModuleDesc) -> Analysis {
    // Host functions (the imports) use no wasm stack.
    let frames: Vec<u32> = std::iter::repeat_n(0, d.imported_funcs as usize)
        .chain(d.bodies.iter().map(|b| b.frame))
        .collect();
    // Frames of defined functions by function type: by the type's
    // structure, not by the index that names it, since `call_indirect`
    // accepts any function whose type is equivalent to the one it names.
    let mut by_type: HashMap<&wasmparser::FuncType, u32> = HashMap::new();
    for (index, &frame) in frames.iter().enumerate().skip(d.imported_funcs as usize) {
        if let Some(ty) = d.func_type(index as u32) {
            let slot = by_type.entry(ty).or_insert(0);
            *slot = (*slot).max(frame);
        }
    }
    let indirect_frames = d
        .types
        .iter()
        .map(|ty| ty.as_ref().map_or(0, |ty| indirect_frame(ty, &by_type)))
        .collect();
    let export_frames = d
        .exports
        .iter()
        .flatten()
        .filter(|e| {
            matches!(
                e.kind,
                wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact
            )
        })
        .map(|e| {
            (
                e.name.clone(),
                frames.get(e.index as usize).copied().unwrap_or(0),
            )
        })
        .collect();
    Analysis {
        imported_funcs: d.imported_funcs,
        func_types: d.func_types.clone(),
        indirect_frames,
        globals: d.imported_globals + d.defined_globals,
        type_params: d
            .types
            .iter()
            .map(|ty| ty.as_ref().map_or(0, |f| f.params().len() as u32))
            .collect(),
        export_frames,
        frames,
    }
}

/// The frame a `call_indirect` of type `ty` pushes: the largest frame of
/// any defined function whose type is equivalent to `ty`, and never less
/// than the smallest frame a function of that type can have (its
/// parameters plus the fixed overhead), so that a call through a table
/// always counts, whatever it reaches: a defined function, an import, or a
/// function of another instance through a shared table.
fn indirect_frame(ty: &wasmparser::FuncType, by_type: &HashMap<&wasmparser::FuncType, u32>) -> u32 {
    let least = (ty.params().len() as u32).saturating_add(FRAME_OVERHEAD_SLOTS);
    by_type.get(ty).copied().unwrap_or(0).max(least)
}

/// The fuel an operator adds to its basic block: its class's `base` in the
/// schedule (`host-abi/src/costs.rs`). Structure that compiles to no code
/// (`block`, `loop`, `end`, `else`, `nop`) is free.
pub fn op_cost(op: &Op<'_>, costs: &CostSchedule) -> u64 {
    op_class(op).map_or(0, |class| costs.get(class).base)
}

/// Whether an operator is a load or a store: charged per execution at the
/// price [`AccessPrices`](verity_host_abi::AccessPrices) sets for the
/// memory's current size, not by a class's constant.
pub fn is_memory_access(op: &Op<'_>) -> bool {
    matches!(
        op,
        Op::I32Load { .. }
            | Op::I64Load { .. }
            | Op::F32Load { .. }
            | Op::F64Load { .. }
            | Op::I32Load8S { .. }
            | Op::I32Load8U { .. }
            | Op::I32Load16S { .. }
            | Op::I32Load16U { .. }
            | Op::I64Load8S { .. }
            | Op::I64Load8U { .. }
            | Op::I64Load16S { .. }
            | Op::I64Load16U { .. }
            | Op::I64Load32S { .. }
            | Op::I64Load32U { .. }
            | Op::I32Store { .. }
            | Op::I64Store { .. }
            | Op::F32Store { .. }
            | Op::F64Store { .. }
            | Op::I32Store8 { .. }
            | Op::I32Store16 { .. }
            | Op::I64Store8 { .. }
            | Op::I64Store16 { .. }
            | Op::I64Store32 { .. }
    )
}

/// The cost class of an operator; `None` for those that are free and for
/// loads and stores ([`is_memory_access`]).
pub fn op_class(op: &Op<'_>) -> Option<CostClass> {
    if is_memory_access(op) {
        return None;
    }
    Some(match op {
        Op::Block { .. } | Op::Loop { .. } | Op::End | Op::Else | Op::Nop => return None,
        Op::F32Div | Op::F64Div | Op::F32Sqrt | Op::F64Sqrt => CostClass::wasm_float_slow,
        Op::MemoryFill { .. } | Op::MemoryCopy { .. } | Op::MemoryInit { .. } => {
            CostClass::wasm_memory_bulk
        }
        Op::TableFill { .. } | Op::TableCopy { .. } | Op::TableInit { .. } => {
            CostClass::wasm_table_bulk
        }
        Op::MemoryGrow { .. } => CostClass::wasm_memory_grow,
        Op::TableGrow { .. } => CostClass::wasm_table_grow,
        Op::ElemDrop { .. } | Op::DataDrop { .. } => CostClass::wasm_segment_drop,
        _ => CostClass::wasm_op,
    })
}

/// Whether a new basic block starts after `op`: control enters the next
/// instruction from somewhere else than `op` (a branch target, or the
/// fall-through of a conditional branch), or `op` never falls through.
fn ends_block(op: &Op<'_>) -> bool {
    matches!(
        op,
        Op::Block { .. }
            | Op::Loop { .. }
            | Op::If { .. }
            | Op::Else
            | Op::End
            | Op::Br { .. }
            | Op::BrIf { .. }
            | Op::BrTable { .. }
            | Op::Return
            | Op::Unreachable
            // What follows is priced at the size it made.
            | Op::MemoryGrow { .. }
    )
}

/// Operators whose result may be a NaN with engine-chosen bits.
enum NanResult {
    F32,
    F64,
}

fn nan_result(op: &Op<'_>) -> Option<NanResult> {
    match op {
        Op::F32Add
        | Op::F32Sub
        | Op::F32Mul
        | Op::F32Div
        | Op::F32Min
        | Op::F32Max
        | Op::F32Sqrt
        | Op::F32Ceil
        | Op::F32Floor
        | Op::F32Trunc
        | Op::F32Nearest
        | Op::F32DemoteF64 => Some(NanResult::F32),
        Op::F64Add
        | Op::F64Sub
        | Op::F64Mul
        | Op::F64Div
        | Op::F64Min
        | Op::F64Max
        | Op::F64Sqrt
        | Op::F64Ceil
        | Op::F64Floor
        | Op::F64Trunc
        | Op::F64Nearest
        | Op::F64PromoteF32 => Some(NanResult::F64),
        _ => None,
    }
}

/// What an operator charges per unit its last operand counts (bytes,
/// elements or pages), before it runs: its class's `per_unit`, for the
/// classes whose operators take such a count (bulk memory and table
/// operations, `memory.grow`, `table.grow`); `None` for every other.
fn unit_cost(op: &Op<'_>, costs: &CostSchedule) -> Option<u64> {
    match op_class(op)? {
        class @ (CostClass::wasm_memory_bulk
        | CostClass::wasm_table_bulk
        | CostClass::wasm_memory_grow
        | CostClass::wasm_table_grow) => Some(costs.get(class).per_unit),
        _ => None,
    }
}

struct Rewriter<'a> {
    /// Whether to count the fuel charged by class ([`instrument_counted`]).
    counters: bool,
    a: &'a Analysis,
    /// The largest instrumented body so far: (function index, bytes).
    largest: (u32, usize),
    costs: CostSchedule,
    max_stack_slots: u32,
    defined_index: u32,
    globals_done: bool,
    exports_done: bool,
}

impl Rewriter<'_> {
    fn fuel(&self) -> u32 {
        self.a.globals
    }
    fn depth(&self) -> u32 {
        self.a.globals + 1
    }
    fn exit(&self) -> u32 {
        self.a.globals + 2
    }
    fn access_price(&self) -> u32 {
        self.a.globals + 3
    }
    fn counter(&self, k: usize) -> u32 {
        self.a.globals + 4 + k as u32
    }

    /// Adds the i64 that `amount` pushes to counter `k`.
    fn count(&self, f: &mut Function, k: usize, amount: &[I<'static>]) {
        if !self.counters {
            return;
        }
        f.instruction(&I::GlobalGet(self.counter(k)));
        amount.iter().for_each(|i| {
            f.instruction(i);
        });
        f.instruction(&I::I64Add);
        f.instruction(&I::GlobalSet(self.counter(k)));
    }

    fn add_globals(&self, globals: &mut GlobalSection) {
        let mutable = |val_type| GlobalType {
            val_type,
            mutable: true,
            shared: false,
        };
        globals.global(mutable(EncType::I64), &ConstExpr::i64_const(0));
        globals.global(mutable(EncType::I32), &ConstExpr::i32_const(0));
        globals.global(mutable(EncType::I32), &ConstExpr::i32_const(0));
        // The host sets it for the initial size before the entry runs.
        globals.global(mutable(EncType::I64), &ConstExpr::i64_const(0));
        if self.counters {
            for _ in COUNTED_CLASSES {
                globals.global(mutable(EncType::I64), &ConstExpr::i64_const(0));
            }
        }
    }

    fn add_exports(&self, exports: &mut ExportSection) {
        exports.export(FUEL_GLOBAL, ExportKind::Global, self.fuel());
        exports.export(DEPTH_GLOBAL, ExportKind::Global, self.depth());
        exports.export(EXIT_GLOBAL, ExportKind::Global, self.exit());
        exports.export(ACCESS_GLOBAL, ExportKind::Global, self.access_price());
        if self.counters {
            for (k, name) in COUNTED_CLASSES.iter().enumerate() {
                exports.export(
                    &format!("{COUNTER_PREFIX}{name}"),
                    ExportKind::Global,
                    self.counter(k),
                );
            }
        }
    }

    /// Sets the access price for the memory's size after a `memory.grow`
    /// (whose result stays on the stack): the first tier whose bound the
    /// size does not exceed, as [`AccessPrices::price`](verity_host_abi::AccessPrices::price) computes it, by
    /// one `select` per tier.
    fn reprice(&self, f: &mut Function) {
        let tiers = &self.costs.memory_access.tiers;
        for t in tiers {
            let price = t.price.min(verity_host_abi::AccessPrices::MAX_PRICE);
            f.instruction(&I::I64Const(price as i64));
        }
        for t in tiers[..tiers.len() - 1].iter().rev() {
            f.instruction(&I::MemorySize(0));
            f.instruction(&I::I32Const(t.up_to_pages as i32));
            f.instruction(&I::I32LeU);
            f.instruction(&I::Select);
        }
        f.instruction(&I::GlobalSet(self.access_price()));
    }

    /// Traps with `reason` in the exit global.
    fn trap(&self, f: &mut Function, reason: i32) {
        f.instruction(&I::I32Const(reason));
        f.instruction(&I::GlobalSet(self.exit()));
        f.instruction(&I::Unreachable);
    }

    /// Charges the i64 amount that `amount` pushes, or traps out of fuel
    /// (leaving the counter as it was).
    fn charge(&self, f: &mut Function, amount: &[I<'static>]) {
        f.instruction(&I::GlobalGet(self.fuel()));
        amount.iter().for_each(|i| {
            f.instruction(i);
        });
        f.instruction(&I::I64LtU);
        f.instruction(&I::If(wasm_encoder::BlockType::Empty));
        self.trap(f, EXIT_OUT_OF_FUEL);
        f.instruction(&I::End);
        f.instruction(&I::GlobalGet(self.fuel()));
        amount.iter().for_each(|i| {
            f.instruction(i);
        });
        f.instruction(&I::I64Sub);
        f.instruction(&I::GlobalSet(self.fuel()));
    }

    /// [`charge`](Self::charge) for an amount computed at run time: it is
    /// computed once, into `scratch` (an i64 local), since Cranelift at
    /// `opt_level = none` would compute it twice.
    fn charge_computed(&self, f: &mut Function, amount: &[I<'static>], scratch: u32) {
        f.instruction(&I::GlobalGet(self.fuel()));
        amount.iter().for_each(|i| {
            f.instruction(i);
        });
        f.instruction(&I::LocalTee(scratch));
        f.instruction(&I::I64LtU);
        f.instruction(&I::If(wasm_encoder::BlockType::Empty));
        self.trap(f, EXIT_OUT_OF_FUEL);
        f.instruction(&I::End);
        f.instruction(&I::GlobalGet(self.fuel()));
        f.instruction(&I::LocalGet(scratch));
        f.instruction(&I::I64Sub);
        f.instruction(&I::GlobalSet(self.fuel()));
    }

    /// Charges a constant amount of fuel.
    fn charge_const(&self, f: &mut Function, cost: u64) {
        self.charge(f, &[I::I64Const(cost as i64)]);
    }

    /// Charges `unit` fuel per unit of the i32 count on top of the stack
    /// (leaving it there). At most 2^32 - 1 units of at most 2^31 fuel:
    /// the product fits an i64.
    fn charge_count(
        &self,
        f: &mut Function,
        scratch: u32,
        scratch_i64: u32,
        unit: u64,
        counter: usize,
    ) {
        let amount = match unit {
            0 => return,
            1 => vec![I::LocalGet(scratch), I::I64ExtendI32U],
            _ => vec![
                I::LocalGet(scratch),
                I::I64ExtendI32U,
                I::I64Const(unit.min(1 << 31) as i64),
                I::I64Mul,
            ],
        };
        f.instruction(&I::LocalTee(scratch));
        self.charge_computed(f, &amount, scratch_i64);
        self.count(f, counter, &[I::LocalGet(scratch_i64)]);
    }

    fn push_frame(&self, f: &mut Function, frame: u32) {
        f.instruction(&I::GlobalGet(self.depth()));
        f.instruction(&I::I32Const(frame as i32));
        f.instruction(&I::I32Add);
        f.instruction(&I::GlobalSet(self.depth()));
        f.instruction(&I::GlobalGet(self.depth()));
        f.instruction(&I::I32Const(self.max_stack_slots as i32));
        f.instruction(&I::I32GtU);
        f.instruction(&I::If(wasm_encoder::BlockType::Empty));
        self.trap(f, EXIT_STACK_OVERFLOW);
        f.instruction(&I::End);
    }

    fn pop_frame(&self, f: &mut Function, frame: u32) {
        f.instruction(&I::GlobalGet(self.depth()));
        f.instruction(&I::I32Const(frame as i32));
        f.instruction(&I::I32Sub);
        f.instruction(&I::GlobalSet(self.depth()));
    }

    /// The frame a call instruction pushes, if it calls wasm code.
    fn callee_frame(&self, op: &Op<'_>) -> Option<u32> {
        match op {
            Op::Call { function_index } if *function_index >= self.a.imported_funcs => {
                self.a.frames.get(*function_index as usize).copied()
            }
            Op::CallIndirect { type_index, .. } => {
                self.a.indirect_frames.get(*type_index as usize).copied()
            }
            _ => None,
        }
    }

    fn canonicalize(&self, f: &mut Function, kind: NanResult, scratch_f32: u32, scratch_f64: u32) {
        // select(canonical, x, x != x): the canonical NaN if x is a NaN.
        match kind {
            NanResult::F32 => {
                f.instruction(&I::LocalSet(scratch_f32));
                f.instruction(&I::F32Const(Ieee32::new(CANONICAL_NAN_F32)));
                f.instruction(&I::LocalGet(scratch_f32));
                f.instruction(&I::LocalGet(scratch_f32));
                f.instruction(&I::LocalGet(scratch_f32));
                f.instruction(&I::F32Ne);
            }
            NanResult::F64 => {
                f.instruction(&I::LocalSet(scratch_f64));
                f.instruction(&I::F64Const(Ieee64::new(CANONICAL_NAN_F64)));
                f.instruction(&I::LocalGet(scratch_f64));
                f.instruction(&I::LocalGet(scratch_f64));
                f.instruction(&I::LocalGet(scratch_f64));
                f.instruction(&I::F64Ne);
            }
        }
        f.instruction(&I::Select);
    }

    fn rewrite_body(
        &mut self,
        body: FunctionBody<'_>,
    ) -> Result<Function, ReencodeError<std::convert::Infallible>> {
        let index = (self.a.imported_funcs + self.defined_index) as usize;
        self.defined_index += 1;
        // Locals: the original ones, then the scratch locals.
        let mut locals = Vec::new();
        let mut declared = 0u32;
        for pair in body.get_locals_reader()? {
            let (count, ty) = pair?;
            declared += count;
            locals.push((count, RoundtripReencoder.val_type(ty)?));
        }
        let params = {
            let ty = self.a.func_types[index];
            self.param_count(ty)
        };
        let scratch_i32 = params + declared;
        let scratch_f32 = scratch_i32 + 1;
        let scratch_f64 = scratch_i32 + 2;
        let scratch_i64 = scratch_i32 + 3;
        locals.push((1, EncType::I32));
        locals.push((1, EncType::F32));
        locals.push((1, EncType::F64));
        locals.push((1, EncType::I64));
        let mut f = Function::new(locals);

        let mut reader = body.get_operators_reader()?;
        let mut ops = Vec::new();
        while !reader.eof() {
            ops.push(reader.read()?);
        }
        // Basic blocks: (first operator index, fuel, loads and stores, and
        // the fuel by counted class).
        type Block = (usize, u64, u32, [u64; COUNTED_CLASSES.len()]);
        let mut blocks: Vec<Block> = Vec::new();
        let mut start = 0;
        let (mut cost, mut accesses) = (0u64, 0u32);
        let mut by_class = [0u64; COUNTED_CLASSES.len()];
        for (i, op) in ops.iter().enumerate() {
            let c = op_cost(op, &self.costs);
            cost = cost.saturating_add(c);
            if let Some(class) = op_class(op) {
                by_class[counted(class)] = by_class[counted(class)].saturating_add(c);
            }
            accesses += u32::from(is_memory_access(op));
            if ends_block(op) {
                blocks.push((start, cost, accesses, by_class));
                start = i + 1;
                (cost, accesses) = (0, 0);
                by_class = [0; COUNTED_CLASSES.len()];
            }
        }
        blocks.push((start, cost, accesses, by_class));
        let mut next_block = blocks.iter().peekable();

        for (i, op) in ops.iter().enumerate() {
            while let Some(&&(at, cost, accesses, by_class)) = next_block.peek() {
                if at != i {
                    break;
                }
                match accesses {
                    0 if cost == 0 => {}
                    0 => self.charge_const(&mut f, cost),
                    // cost + accesses x price: at most 2^32 accesses of at
                    // most 2^31 fuel, in an i64.
                    n => {
                        let price = I::GlobalGet(self.access_price());
                        let amount = if n == 1 {
                            vec![price]
                        } else {
                            vec![price, I::I64Const(i64::from(n)), I::I64Mul]
                        };
                        let mut total = amount.clone();
                        if cost > 0 {
                            total.extend([I::I64Const(cost as i64), I::I64Add]);
                        }
                        self.charge_computed(&mut f, &total, scratch_i64);
                        // Counted once paid: a charge that traps counts nothing.
                        self.count(&mut f, ACCESS_COUNTER, &amount);
                    }
                }
                for (k, fuel) in by_class.iter().enumerate().filter(|(_, f)| **f > 0) {
                    self.count(&mut f, k, &[I::I64Const(*fuel as i64)]);
                }
                next_block.next();
            }
            if let Some(unit) = unit_cost(op, &self.costs) {
                let counter = op_class(op).map_or(0, counted);
                self.charge_count(&mut f, scratch_i32, scratch_i64, unit, counter);
            }
            let frame = self.callee_frame(op);
            if let Some(frame) = frame {
                self.push_frame(&mut f, frame);
            }
            f.instruction(&RoundtripReencoder.instruction(op.clone())?);
            if let Some(frame) = frame {
                self.pop_frame(&mut f, frame);
            }
            if matches!(op, Op::MemoryGrow { .. }) {
                self.reprice(&mut f);
            }
            if let Some(kind) = nan_result(op) {
                self.canonicalize(&mut f, kind, scratch_f32, scratch_f64);
            }
        }
        Ok(f)
    }

    fn param_count(&self, ty: u32) -> u32 {
        self.a.type_params.get(ty as usize).copied().unwrap_or(0)
    }
}

/// Where a section sits in the module order (custom sections aside).
fn order(id: SectionId) -> u8 {
    match id {
        SectionId::Custom => 0,
        SectionId::Type => 1,
        SectionId::Import => 2,
        SectionId::Function => 3,
        SectionId::Table => 4,
        SectionId::Memory => 5,
        SectionId::Tag => 6,
        SectionId::Global => 7,
        SectionId::Export => 8,
        SectionId::Start => 9,
        SectionId::Element => 10,
        SectionId::DataCount => 11,
        SectionId::Code => 12,
        SectionId::Data => 13,
    }
}

impl Reencode for Rewriter<'_> {
    type Error = std::convert::Infallible;

    fn intersperse_section_hook(
        &mut self,
        module: &mut Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        // Modules without a global or export section get one, in order.
        let past = |id: SectionId| before.is_none_or(|b| order(b) > order(id));
        if before == Some(SectionId::Custom) {
            return Ok(());
        }
        if !self.globals_done && past(SectionId::Global) {
            let mut globals = GlobalSection::new();
            self.add_globals(&mut globals);
            module.section(&globals);
            self.globals_done = true;
        }
        if !self.exports_done && past(SectionId::Export) {
            let mut exports = ExportSection::new();
            self.add_exports(&mut exports);
            module.section(&exports);
            self.exports_done = true;
        }
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_global_section(self, globals, section)?;
        self.add_globals(globals);
        self.globals_done = true;
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        self.exports_done = true;
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut CodeSection,
        func: FunctionBody<'_>,
    ) -> Result<(), ReencodeError<Self::Error>> {
        let index = self.a.imported_funcs + self.defined_index;
        let f = self.rewrite_body(func)?;
        if f.byte_len() > self.largest.1 {
            self.largest = (index, f.byte_len());
        }
        code.function(&f);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use wasmparser::{Parser, Payload, Validator};

    /// SHA-256 over what [`instrument`] emits for a fixed corpus: the
    /// fixture contracts, the example modules and the accepted hostile
    /// modules. Any change to the instrumentation's output changes it.
    const FINGERPRINT: (u32, &str) = (
        5,
        "163c612cc25edff41f00e8930fc4b7cbbfd0331ae6673c2bf81ae98e788afab1",
    );

    fn corpus() -> Vec<(String, Vec<u8>)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
        let mut files = Vec::new();
        for dir in ["wasm", "", "hostile"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                let ext = path.extension().and_then(|e| e.to_str());
                if matches!(ext, Some("wasm" | "wat")) {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
            .into_iter()
            .filter_map(|p| {
                let bytes = wat::parse_file(&p).ok()?;
                Some((p.file_name()?.to_string_lossy().into_owned(), bytes))
            })
            .collect()
    }

    #[test]
    fn instrumentation_fingerprint() {
        let profile = crate::Profile::default();
        let mut hash = Sha256::new();
        let mut instrumented = 0;
        for (name, code) in corpus() {
            let Ok(out) = instrument(&code, &profile) else {
                continue;
            };
            hash.update(name.as_bytes());
            hash.update((out.code.len() as u64).to_le_bytes());
            hash.update(&out.code);
            instrumented += 1;
        }
        assert!(
            instrumented >= 30,
            "only {instrumented} modules instrumented"
        );
        let digest: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            (METERING_VERSION, digest.as_str()),
            FINGERPRINT,
            "the instrumentation's output changed, so receipts made before may not \
             verify: if that is intended, bump METERING_VERSION (it is hashed into the \
             profile) and set FINGERPRINT to (the new version, \"{digest}\")"
        );
    }

    /// Two type indices naming equal function types are charged alike by
    /// `call_indirect`, and never less than a frame of that type can be.
    #[test]
    fn call_indirect_frames_follow_type_identity_not_index() {
        let code = wat::parse_str(
            r#"(module
              (type $a (func (param i64 i64)))
              (type $b (func (param i64 i64)))
              (type $c (func (param i32)))
              (table 1 funcref)
              (elem (i32.const 0) $f)
              (func $f (type $a) (local i32 i32 i32)
                (call_indirect (type $b) (local.get 0) (local.get 1) (i32.const 0))))"#,
        )
        .unwrap();
        let desc = ModuleDesc::read(&code, crate::Profile::default().features()).unwrap();
        let a = analyze(&desc);
        // $f: 2 params + 3 locals + operand stack 3 + overhead.
        let f = 2 + 3 + 3 + FRAME_OVERHEAD_SLOTS;
        assert_eq!(a.frames, vec![f]);
        assert_eq!(a.indirect_frames[0], f);
        assert_eq!(
            a.indirect_frames[1], f,
            "the alias must be charged $f's frame"
        );
        // No function has type $c: still the least frame of that type.
        assert_eq!(a.indirect_frames[2], 1 + FRAME_OVERHEAD_SLOTS);
    }

    #[test]
    fn imported_globals_are_not_aliased_by_the_meters() {
        let code = wat::parse_str(
            r#"(module
              (import "spectest" "global_i32" (global i32))
              (global $g (mut i64) (i64.const 7))
              (func (export "run") (result i32) (global.get 0)))"#,
        )
        .unwrap();
        let out = instrument(&code, &crate::Profile::default()).unwrap();
        // Fuel, depth and exit are globals 2, 3 and 4.
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(&out.code) {
            if let Payload::ExportSection(r) = payload.unwrap() {
                for e in r {
                    let e = e.unwrap();
                    exports.push((e.name.to_string(), e.index));
                }
            }
        }
        for (name, index) in [(FUEL_GLOBAL, 2), (DEPTH_GLOBAL, 3), (EXIT_GLOBAL, 4)] {
            assert!(
                exports.contains(&(name.to_string(), index)),
                "{name} is not global {index}: {exports:?}"
            );
        }
        Validator::new_with_features(crate::Profile::default().features())
            .validate_all(&out.code)
            .unwrap();
    }

    /// Encodings a later proposal allows but the profile's features do not
    /// are malformed: `instrument` must refuse them, not re-encode them
    /// into a valid module.
    #[test]
    fn binaries_malformed_under_the_features_are_refused() {
        let features = crate::Profile::default().features();
        // memory.grow's reserved byte as an overlong LEB (0x80 0x00), and
        // memory.size's reserved byte as 0x01: valid only with multi-memory.
        for reserved in [&[0x80u8, 0x00][..], &[0x01][..]] {
            let mut body = vec![0x00, 0x41, 0x00, 0x40];
            body.extend_from_slice(reserved);
            body.extend_from_slice(&[0x1a, 0x0b]);
            let mut code = vec![0, b'a', b's', b'm', 1, 0, 0, 0];
            code.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type () -> ()
            code.extend_from_slice(&[3, 2, 1, 0]); // one function
            code.extend_from_slice(&[5, 3, 1, 0, 1]); // memory 1
            code.push(10);
            code.push(body.len() as u8 + 2);
            code.push(1);
            code.push(body.len() as u8);
            code.extend_from_slice(&body);
            assert!(
                Validator::new_with_features(features)
                    .validate_all(&code)
                    .is_err(),
                "test module {reserved:x?} should be malformed"
            );
            assert!(
                instrument(&code, &crate::Profile::default()).is_err(),
                "instrument accepted a malformed binary ({reserved:x?})"
            );
        }
    }
}
