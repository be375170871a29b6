//! Differential testing on generated modules (wasm-smith), against wasmi as
//! a reference interpreter:
//!
//! 1. **Instrumentation is transparent.** The original module and the
//!    instrumented one, both run on wasmi, end alike (trap or not) with the
//!    same memory and globals, unless the instrumented run stopped for fuel
//!    or the logical stack limit.
//! 2. **Engines agree.** The instrumented module on wasmi uses exactly the
//!    fuel that Verity's receipts (Cranelift and Winch) report, and ends in
//!    the same status; repeated runs give identical receipts.
//! 3. Nothing panics or hangs: every run is bounded by fuel.
//!
//! CI runs a bounded number of modules; `VERITY_FUZZ_MODULES=100000 cargo
//! test --release -p verity-runtime --test all differential` runs more. The
//! closing line printed with `--nocapture` says how many modules ran.

use arbitrary::Unstructured;
use sha2::{Digest, Sha256};
use verity_runtime::instrument::{
    self, ACCESS_GLOBAL, DEPTH_GLOBAL, EXIT_GLOBAL, EXIT_OUT_OF_FUEL, EXIT_STACK_OVERFLOW,
    FUEL_GLOBAL,
};
use verity_runtime::{
    Compiler, MemoryState, Profile, Rejection, Runtime, Status, Transaction, TrapKind,
};

const FUEL: u64 = 200_000;

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        // Exactly the profile's proposals.
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        extended_const_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        bulk_memory_enabled: true,
        // The profile accepts the reference-types encoding rustc emits but
        // not externref values (GC types); MVP funcref tables remain.
        reference_types_enabled: false,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        // The exported memory below is the only one (wasm-smith adds it on
        // top of those it generates).
        max_memories: 0,
        max_tables: 1,
        max_table_elements: 1_000,
        max_memory32_bytes: 16 << 20,
        max_imports: 0,
        allow_start_export: false,
        // The original module must produce canonical NaNs itself for memory
        // to be comparable with the instrumented one.
        canonicalize_nans: true,
        max_funcs: 20,
        min_funcs: 2,
        // One `() -> ()` entry point plus an exported memory to compare.
        exports: Some(
            wat::parse_str(r#"(module (func (export "run")) (memory (export "memory") 1))"#)
                .unwrap(),
        ),
        ..wasm_smith::Config::default()
    }
}

/// Deterministic pseudo-random bytes for module `n` (SplitMix64).
fn seed_bytes(n: u64, len: usize) -> Vec<u8> {
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5EED;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn wasmi_engine(fuel: bool) -> wasmi::Engine {
    let mut c = wasmi::Config::default();
    // Deep enough that Verity's logical stack limit, not wasmi's, decides.
    c.set_max_recursion_depth(50_000)
        .set_max_stack_height(64 << 20)
        .consume_fuel(fuel)
        .wasm_tail_call(false)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_extended_const(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false);
    wasmi::Engine::new(&c)
}

/// How a wasmi run ended, and the state it left.
#[derive(Debug, PartialEq)]
struct Outcome {
    trapped: bool,
    memory: [u8; 32],
    globals: Vec<String>,
}

/// Runs `run` on wasmi. Returns `None` if wasmi itself gave up (its own
/// fuel or stack), which says nothing about Verity.
fn on_wasmi(
    engine: &wasmi::Engine,
    code: &[u8],
    setup: impl FnOnce(&mut wasmi::Store<wasmi::StoreLimits>, &wasmi::Instance),
) -> Option<(wasmi::Store<wasmi::StoreLimits>, wasmi::Instance, Outcome)> {
    let module = wasmi::Module::new(engine, code).ok()?;
    // The profile's page and table caps, as Verity's store limiter applies
    // them (memory.grow past them returns -1).
    let limits = Profile::default().limits;
    let caps = wasmi::StoreLimitsBuilder::new()
        .memory_size(limits.max_memory_pages as usize * 65_536)
        .table_elements(limits.max_table_elements as usize)
        .build();
    let mut store = wasmi::Store::new(engine, caps);
    store.limiter(|caps| caps);
    // A bound for the original module (the instrumented one is bounded by
    // its own fuel; wasmi's fuel is then off).
    let _ = store.set_fuel(50_000_000);
    let linker = wasmi::Linker::<wasmi::StoreLimits>::new(engine);
    let instance = linker.instantiate_and_start(&mut store, &module).ok()?;
    setup(&mut store, &instance);
    let run = instance.get_typed_func::<(), ()>(&store, "run").ok()?;
    let result = run.call(&mut store, ());
    let gave_up = result
        .as_ref()
        .err()
        .and_then(|e| e.as_trap_code())
        .is_some_and(|c| {
            matches!(
                c,
                wasmi::TrapCode::OutOfFuel | wasmi::TrapCode::StackOverflow
            )
        });
    if gave_up {
        return None;
    }
    let memory = instance
        .get_memory(&store, "memory")
        .map(|m| Sha256::digest(m.data(&store)).into())
        .unwrap_or([0; 32]);
    let mut globals = Vec::new();
    for export in instance.exports(&store) {
        if export.name().starts_with("__verity") {
            continue;
        }
        if let Some(g) = export.into_global() {
            globals.push(format!("{:?}", g.get(&store)));
        }
    }
    Some((
        store,
        instance,
        Outcome {
            trapped: result.is_err(),
            memory,
            globals,
        },
    ))
}

#[test]
fn generated_modules_agree_across_instrumentation_compilers_and_wasmi() {
    // wasmi, allowed a deep wasm call stack so that Verity's logical limit
    // decides, needs more native stack than a test thread's 2 MiB (seed 396
    // overflowed it). The runtime itself runs fine on 2 MiB.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(differential_run)
        .unwrap()
        .join()
        .unwrap();
}

/// The engines every module is compared on.
struct Engines {
    profile: Profile,
    cranelift: Runtime,
    winch: Runtime,
    /// wasmi with its own fuel on (a bound for the original module).
    plain: wasmi::Engine,
    /// wasmi with its own fuel off (the instrumented module meters itself).
    metered: wasmi::Engine,
}

impl Engines {
    fn new() -> Engines {
        let profile = Profile::default();
        Engines {
            cranelift: Runtime::with_compiler(profile.clone(), Compiler::Cranelift).unwrap(),
            winch: Runtime::with_compiler(profile.clone(), Compiler::Winch).unwrap(),
            plain: wasmi_engine(true),
            metered: wasmi_engine(false),
            profile,
        }
    }
}

#[derive(Default)]
struct Stats {
    ran: u64,
    rejected: u64,
    transparent: u64,
    compared_fuel: u64,
    statuses: std::collections::BTreeMap<String, u64>,
}

/// Runs module `n` on Cranelift, Winch and wasmi and checks that they
/// agree (see the file's header).
fn compare(e: &Engines, n: &str, code: &[u8], stats: &mut Stats) {
    // A run pays for preparing its code first (docs/costs.md): the module
    // gets FUEL after that, as on wasmi.
    let prep = instrument::instrument(code, &e.profile)
        .map(|i| e.profile.costs.wasm_prepare.total(i.code.len() as u64))
        .unwrap_or(0);
    let tx = Transaction::new("run").with_fuel(FUEL + prep);
    let receipt = e
        .cranelift
        .execute(code, &tx, &MemoryState::default())
        .unwrap_or_else(|err| panic!("module {n}: host error {err}"));
    if let Status::Rejected { reason } = &receipt.status {
        // Generated modules may exceed a profile limit; nothing else.
        assert!(
            reason.contains("limit") || reason.contains("over the"),
            "module {n} rejected unexpectedly: {reason}"
        );
        stats.rejected += 1;
        return;
    }
    stats.ran += 1;
    *stats
        .statuses
        .entry(receipt.status.to_string())
        .or_default() += 1;
    let again = e
        .cranelift
        .execute(code, &tx, &MemoryState::default())
        .unwrap();
    assert_eq!(
        receipt.encode(),
        again.encode(),
        "module {n}: rerun differs"
    );
    let on_winch = e.winch.execute(code, &tx, &MemoryState::default()).unwrap();
    assert_eq!(
        receipt.encode(),
        on_winch.encode(),
        "module {n}: Cranelift {:?} vs Winch {:?}",
        receipt.status,
        on_winch.status
    );

    // The instrumented module on wasmi (wasmi's own fuel off).
    let inst =
        instrument::instrument(code, &e.profile).unwrap_or_else(|err| panic!("module {n}: {err}"));
    let entry_frame = inst.export_frames["run"];
    // The host charges the memory's initial pages before the entry runs.
    let pages = e
        .cranelift
        .prepare(code)
        .unwrap()
        .info()
        .initial_memory_pages;
    let page_charge = e.profile.costs.wasm_instance.total(pages);
    if page_charge > FUEL {
        assert_eq!(receipt.status, Status::OutOfFuel, "module {n}");
        return;
    }
    let Some((store, instance, metered_out)) = on_wasmi(&e.metered, &inst.code, |s, i| {
        i.get_global(&*s, FUEL_GLOBAL)
            .unwrap()
            .set(&mut *s, wasmi::Val::I64((FUEL - page_charge) as i64))
            .unwrap();
        i.get_global(&*s, ACCESS_GLOBAL)
            .unwrap()
            .set(
                &mut *s,
                wasmi::Val::I64(e.profile.costs.memory_access.price(pages) as i64),
            )
            .unwrap();
        i.get_global(&*s, DEPTH_GLOBAL)
            .unwrap()
            .set(&mut *s, wasmi::Val::I32(entry_frame as i32))
            .unwrap();
    }) else {
        return;
    };
    let global = |name: &str| instance.get_global(&store, name).unwrap().get(&store);
    let left = match global(FUEL_GLOBAL) {
        wasmi::Val::I64(v) => v as u64,
        other => panic!("fuel global is {other:?}"),
    };
    let exit = match global(EXIT_GLOBAL) {
        wasmi::Val::I32(v) => v,
        other => panic!("exit global is {other:?}"),
    };
    let wasmi_status = match (metered_out.trapped, exit) {
        (false, _) => "success",
        (true, EXIT_OUT_OF_FUEL) => "out_of_fuel",
        (true, EXIT_STACK_OVERFLOW) => "stack_overflow",
        (true, _) => "trapped",
    };
    let verity_status = match &receipt.status {
        Status::Trapped {
            trap: TrapKind::StackOverflow,
        } => "stack_overflow",
        s => s.name(),
    };
    assert_eq!(wasmi_status, verity_status, "module {n}: status");
    if receipt.status != Status::OutOfFuel {
        assert_eq!(
            FUEL - left + prep,
            receipt.fuel_used,
            "module {n}: fuel_used"
        );
    }
    stats.compared_fuel += 1;

    // Transparency: the original module behaves the same, unless the
    // instrumented run was stopped by fuel or the logical stack.
    if matches!(wasmi_status, "out_of_fuel" | "stack_overflow") {
        return;
    }
    let Some((_, _, original)) = on_wasmi(&e.plain, code, |_, _| {}) else {
        return;
    };
    if converts_nan_precision(code) {
        // wasm-smith canonicalises arithmetic NaNs but not those of
        // f32.demote_f64 / f64.promote_f32, whose NaN bits the spec
        // leaves to the engine and Verity canonicalises: memory may
        // legitimately differ. Whether it traps may not.
        assert_eq!(original.trapped, metered_out.trapped, "module {n}: trap");
    } else {
        assert_eq!(
            original, metered_out,
            "module {n}: instrumentation changed behaviour"
        );
    }
    stats.transparent += 1;
}

fn differential_run() {
    let modules: u64 = std::env::var("VERITY_FUZZ_MODULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let engines = Engines::new();
    let mut stats = Stats::default();

    // `VERITY_FUZZ_START=n` resumes at seed n; `VERITY_FUZZ_TRACE=1` prints
    // each seed before running it (to find the one that crashed).
    let start: u64 = std::env::var("VERITY_FUZZ_START")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let trace = std::env::var_os("VERITY_FUZZ_TRACE").is_some();
    for n in start..start + modules {
        if trace {
            eprintln!("seed {n}");
        }
        let bytes = seed_bytes(n, 4096);
        let Ok(module) = wasm_smith::Module::new(smith_config(), &mut Unstructured::new(&bytes))
        else {
            continue;
        };
        let code = module.to_bytes();
        if let Some(path) = std::env::var_os("VERITY_FUZZ_DUMP") {
            std::fs::write(path, &code).unwrap();
        }
        compare(&engines, &n.to_string(), &code, &mut stats);
    }
    let Stats {
        ran,
        rejected,
        transparent,
        compared_fuel,
        statuses,
    } = stats;
    println!(
        "differential: {modules} seeds, {ran} modules ran ({rejected} rejected by limits), \
         {compared_fuel} compared with wasmi on fuel and status, {transparent} checked for \
         transparency; statuses {statuses:?}"
    );
    // Every seed makes a module that runs, and the default corpus (the
    // pinned wasm-smith, 1,000 seeds from 0) compares exactly this many: a
    // case that stops being compared fails here instead of vanishing.
    assert_eq!(ran + rejected, modules, "seeds that made no module");
    if modules == 1000 && start == 0 {
        assert_eq!(
            (ran, rejected, compared_fuel, transparent),
            (1000, 0, 997, 699)
        );
    }
}

/// A module whose functions reach each other only through `call_indirect`,
/// naming types by indices that alias one another: every function type is
/// declared several times over, functions are declared with one copy and
/// called through another. The recursion depth is random, often far past
/// the logical stack limit. Deterministic in `seed`.
fn duplicate_type_module(seed: u64) -> String {
    let r = seed_bytes(seed, 64);
    let pick = |i: usize, n: u8| (r[i] % n) as usize;
    // Two shapes of function, each declared 2 to 4 times.
    let shapes = [
        "(param i32) (result i32)",
        "(param i32 i64 i64) (result i32)",
    ];
    let copies = [2 + pick(0, 3), 2 + pick(1, 3)];
    let mut types = String::new();
    let mut type_ids = Vec::new();
    for (s, sig) in shapes.iter().enumerate() {
        let mut ids = Vec::new();
        for c in 0..copies[s] {
            types.push_str(&format!("(type $s{s}c{c} (func {sig}))\n"));
            ids.push(format!("$s{s}c{c}"));
        }
        type_ids.push(ids);
    }
    let funcs = 2 + pick(2, 4);
    let mut bodies = String::new();
    for f in 0..funcs {
        let shape = pick(3 + f, 2);
        let declared = &type_ids[shape][pick(10 + f, copies[shape] as u8)];
        let callee = pick(20 + f, funcs as u8);
        let callee_shape = pick(3 + callee, 2);
        let via = &type_ids[callee_shape][pick(30 + f, copies[callee_shape] as u8)];
        let locals = " i64".repeat(pick(40 + f, 6));
        let locals = if locals.is_empty() {
            String::new()
        } else {
            format!("(local{locals})")
        };
        let args = if callee_shape == 0 {
            "(i32.sub (local.get 0) (i32.const 1))".to_string()
        } else {
            "(i32.sub (local.get 0) (i32.const 1)) (i64.const 7) (i64.const 9)".to_string()
        };
        bodies.push_str(&format!(
            "(func $f{f} (type {declared}) {locals}
               (if (result i32) (i32.eqz (local.get 0))
                 (then (i32.const 1))
                 (else (i32.add (i32.const 1)
                   (call_indirect (type {via}) {args} (i32.const {callee_slot}))))))\n",
            callee_slot = callee * 2 + callee_shape,
        ));
    }
    // Slot 2k holds f_k if its shape is 0, slot 2k+1 if it is 1.
    let mut elems = String::new();
    for f in 0..funcs {
        let shape = pick(3 + f, 2);
        elems.push_str(&format!(
            "(elem (i32.const {}) func $f{f})\n",
            f * 2 + shape
        ));
    }
    let depth = match pick(50, 4) {
        0 => 3,
        1 => 100,
        _ => 1_000_000,
    };
    let entry_shape = pick(3, 2);
    let entry_args = if entry_shape == 0 {
        format!("(i32.const {depth})")
    } else {
        format!("(i32.const {depth}) (i64.const 1) (i64.const 2)")
    };
    format!(
        r#"(module
  {types}
  (table {slots} funcref)
  {elems}
  {bodies}
  (memory (export "memory") 1)
  (func (export "run") (i32.store (i32.const 0) (call $f0 {entry_args}))))"#,
        slots = funcs * 2,
    )
}

#[test]
fn duplicate_type_call_indirect_modules_agree_across_compilers_and_wasmi() {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let engines = Engines::new();
            let mut stats = Stats::default();
            let mut overflowed = 0;
            for seed in 0..200u64 {
                let wat = duplicate_type_module(seed);
                let code = wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"));
                let before = *stats.statuses.get("trapped: stack_overflow").unwrap_or(&0);
                compare(&engines, &format!("dup-types {seed}"), &code, &mut stats);
                if *stats.statuses.get("trapped: stack_overflow").unwrap_or(&0) > before {
                    overflowed += 1;
                }
            }
            println!("duplicate types: {:?}", stats.statuses);
            assert_eq!(stats.ran, 200, "every generated module must run");
            // The point of the generator: deep recursion through aliased
            // types, ended by the logical limit on every engine.
            assert!(
                overflowed >= 50,
                "only {overflowed} reached the stack limit"
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn the_instrumented_module_is_valid_and_names_its_globals() {
    let code = wat::parse_str(r#"(module (func (export "run") (loop br 0)))"#).unwrap();
    let inst = instrument::instrument(&code, &Profile::default()).unwrap();
    let mut v = wasmparser::Validator::new_with_features(Profile::default().features());
    v.validate_all(&inst.code).unwrap();
    let text = wasmprinter_free_names(&inst.code);
    for name in [FUEL_GLOBAL, DEPTH_GLOBAL, EXIT_GLOBAL] {
        assert!(text.contains(&name.to_string()), "{name} not exported");
    }
    // A module the profile rejects never reaches instrumentation.
    let runtime = Runtime::new(Profile::default()).unwrap();
    let reserved =
        wat::parse_str(r#"(module (func (export "__verity_fuel")) (func (export "run")))"#)
            .unwrap();
    assert!(matches!(
        runtime.prepare(&reserved).map(|_| ()),
        Err(Rejection::ReservedExport(_))
    ));
}

/// Whether the module converts floats between precisions (see the
/// transparency check).
fn converts_nan_precision(code: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        if let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload {
            let mut ops = body.get_operators_reader().unwrap();
            while !ops.eof() {
                if matches!(
                    ops.read().unwrap(),
                    wasmparser::Operator::F32DemoteF64 | wasmparser::Operator::F64PromoteF32
                ) {
                    return true;
                }
            }
        }
    }
    false
}

/// Export names of a module.
fn wasmprinter_free_names(code: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        if let Ok(wasmparser::Payload::ExportSection(r)) = payload {
            for e in r {
                names.push(e.unwrap().name.to_string());
            }
        }
    }
    names
}
