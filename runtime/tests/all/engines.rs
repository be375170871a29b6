//! Two compilers, one answer: fuel, the logical stack limit and float bits
//! are properties of the instrumented module, so Cranelift and Winch give
//! byte-identical receipts. Fuel figures here follow docs/costs.md by hand.

use verity_runtime::{
    Compiler, Hash32, MemoryState, Profile, Receipt, Runtime, Status, Transaction, TrapKind,
    module_bytes,
};

const COMPILERS: [Compiler; 2] = [Compiler::Cranelift, Compiler::Winch];

/// Deploys the module, then calls `entry` with `fuel`: a call's fuel is
/// the run's alone (a deploy or a one-shot run also pays for preparing the
/// code, docs/costs.md).
fn run_on(compiler: Compiler, wat: &str, entry: &str, fuel: u64) -> Receipt {
    let runtime = Runtime::with_compiler(Profile::default(), compiler).unwrap();
    let wasm = module_bytes(wat.as_bytes()).unwrap();
    let mut state = MemoryState::default();
    let deploy = Transaction::deploy(Hash32::default()).with_fuel(100_000_000);
    let deployed = runtime.execute(&wasm, &deploy, &state).unwrap();
    assert!(deployed.status.is_success(), "{}", deployed.status);
    state.commit(&deployed).unwrap();
    let tx = Transaction::call(deployed.contract, entry).with_fuel(fuel);
    let receipt = runtime.execute_call(&tx, &state).unwrap();
    runtime.verify(&wasm, &receipt).unwrap();
    receipt
}

/// What a call of `wat` pays before its entry runs: loading the stored
/// module (`wasm_load`, by its instrumented size) and the instance with
/// `pages` initial pages.
fn frame(wat: &str, pages: u64) -> u64 {
    let profile = Profile::default();
    let wasm = module_bytes(wat.as_bytes()).unwrap();
    let module = Runtime::new(profile.clone())
        .unwrap()
        .prepare(&wasm)
        .unwrap();
    module.load_fuel(&profile.costs) + profile.costs.wasm_instance.total(pages)
}

/// Runs on both compilers, asserts identical receipts, returns one.
fn run(wat: &str, entry: &str, fuel: u64) -> Receipt {
    let [a, b] = COMPILERS.map(|c| run_on(c, wat, entry, fuel));
    assert_eq!(a, b, "Cranelift and Winch disagree");
    assert_eq!(a.hash(), b.hash());
    a
}

const COUNTING_LOOP: &str = r#"(module
  (func (export "run") (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000))))))"#;

#[test]
fn a_loop_costs_its_instructions_per_iteration_exactly() {
    // Per iteration: local.get, i32.const, i32.add, local.set, local.get,
    // i32.const, i32.lt_u, br_if = 8; `loop` and `end` are free.
    // Loading the module and the instance (no memory) are paid first.
    let fuel = frame(COUNTING_LOOP, 0) + 8 * 1000;
    let r = run(COUNTING_LOOP, "run", 1_000_000);
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.fuel_used, fuel);
    // Exactly enough fuel succeeds; one unit less does not, and a run out
    // of fuel has used its whole limit.
    assert_eq!(run(COUNTING_LOOP, "run", fuel).status, Status::Success);
    let short = run(COUNTING_LOOP, "run", fuel - 1);
    assert_eq!(short.status, Status::OutOfFuel);
    assert_eq!(short.fuel_used, fuel - 1);
}

#[test]
fn bulk_memory_costs_its_base_and_each_byte_on_every_compiler() {
    // Wasmtime's own fuel charged 65541 under Cranelift and 5 under Winch
    // for this fill; here: 3 constants + memory.fill's base + 65536 bytes,
    // after the memory's one initial page.
    let c = Profile::default().costs;
    let wat = r#"(module (memory 1)
      (func (export "fill") (memory.fill (i32.const 0) (i32.const 7) (i32.const 65536)))
      (func (export "copy") (memory.copy (i32.const 0) (i32.const 100) (i32.const 1000))))"#;
    let page = frame(wat, 1);
    let fill = page + 3 * c.wasm_op.base + c.wasm_memory_bulk.total(65536);
    assert_eq!(run(wat, "fill", 1_000_000).fuel_used, fill);
    assert_eq!(
        run(wat, "copy", 1_000_000).fuel_used,
        page + 3 * c.wasm_op.base + c.wasm_memory_bulk.total(1000)
    );
    // The length is charged before the copy runs: too little fuel and
    // nothing is copied, even if the copy would then trap.
    assert_eq!(run(wat, "fill", fill).status, Status::Success);
    assert_eq!(run(wat, "fill", fill - 1).status, Status::OutOfFuel);
    // Length 0 still pays the base.
    let empty = r#"(module (memory 1)
      (func (export "run") (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))))"#;
    assert_eq!(
        run(empty, "run", 1_000_000).fuel_used,
        frame(empty, 1) + 3 * c.wasm_op.base + c.wasm_memory_bulk.base
    );
}

#[test]
fn instantiation_costs_the_instance_and_its_initial_pages() {
    let c = Profile::default().costs;
    let wat = r#"(module (memory 3) (data (i32.const 0) "some data")
      (global $g (mut i32) (i32.const 5))
      (func (export "run")))"#;
    let pages = frame(wat, 3);
    assert_eq!(pages - frame(wat, 0), 3 * c.wasm_instance.per_unit);
    let r = run(wat, "run", pages);
    assert_eq!((r.status, r.fuel_used), (Status::Success, pages));
    // A limit that cannot pay for the pages runs nothing.
    let r = run(wat, "run", pages - 1);
    assert_eq!((r.status, r.fuel_used), (Status::OutOfFuel, pages - 1));
    // No memory: the instance alone.
    let empty = r#"(module (func (export "run")))"#;
    let none = frame(empty, 0);
    assert!(none > c.wasm_instance.base + c.wasm_load.base);
    let r = run(empty, "run", none);
    assert_eq!((r.status, r.fuel_used), (Status::Success, none));
}

#[test]
fn memory_grow_pays_for_the_pages_it_asks_for_granted_or_not() {
    let c = Profile::default().costs;
    let wat = r#"(module (memory 1)
      (func (export "grow2") (drop (memory.grow (i32.const 2))))
      (func (export "refused") (drop (memory.grow (i32.const 1000)))))"#;
    let page = frame(wat, 1);
    // i32.const + memory.grow + drop, then 2 pages.
    let fixed = page + 2 * c.wasm_op.base + c.wasm_memory_grow.base;
    assert_eq!(
        run(wat, "grow2", 10_000_000).fuel_used,
        fixed + 2 * c.wasm_memory_grow.per_unit
    );
    // Asking past the cap is refused (-1) and still pays for what it asked.
    let r = run(wat, "refused", 100_000_000);
    assert_eq!(r.status, Status::Success);
    assert_eq!(r.fuel_used, fixed + 1000 * c.wasm_memory_grow.per_unit);
    // Too little fuel for the pages: out of fuel before the grow.
    assert_eq!(
        run(wat, "grow2", fixed + 2 * c.wasm_memory_grow.per_unit - 1).status,
        Status::OutOfFuel
    );
}

#[test]
fn operators_cost_their_class() {
    let c = Profile::default().costs;
    let wat = r#"(module (memory 1) (table 1 funcref) (func $f) (elem $e func $f)
      (func (export "load") (drop (i64.load (i32.const 8))))
      (func (export "sqrt") (drop (f64.sqrt (f64.const 2))))
      (func (export "drop_elem") (elem.drop $e))
      (func (export "table_grow") (drop (table.grow (ref.null func) (i32.const 5)))))"#;
    let page = frame(wat, 1);
    let op = c.wasm_op.base;
    for (entry, fuel) in [
        ("load", 2 * op + c.memory_access.price(1)),
        ("sqrt", 2 * op + c.wasm_float_slow.base),
        ("drop_elem", c.wasm_segment_drop.base),
        ("table_grow", 3 * op + c.wasm_table_grow.total(5)),
    ] {
        assert_eq!(run(wat, entry, 1_000_000).fuel_used, page + fuel, "{entry}");
    }
}

/// A load or store costs the price of the memory's current size: its
/// initial size, then the size each `memory.grow` made, from the next
/// instruction on; a refused grow changes nothing.
#[test]
fn loads_and_stores_cost_the_price_of_the_memorys_size() {
    let c = Profile::default().costs;
    let prices = c.memory_access;
    let op = c.wasm_op.base;
    let tiers = prices.tiers;
    assert!(tiers.windows(2).all(|w| w[0].price < w[1].price));
    for t in tiers {
        for pages in [t.up_to_pages, t.up_to_pages + 1] {
            if pages > 256 {
                continue;
            }
            let wat = format!(
                r#"(module (memory {pages})
                  (func (export "run") (drop (i64.load (i32.const 8))) (i32.store (i32.const 0) (i32.const 1))))"#
            );
            let expected =
                frame(&wat, u64::from(pages)) + 4 * op + 2 * prices.price(u64::from(pages));
            assert_eq!(
                run(&wat, "run", 100_000_000).fuel_used,
                expected,
                "{pages} pages"
            );
        }
    }
    // Growing from 16 to 17 pages: the load before the grow pays the
    // 16-page price, the load after it the 17-page price.
    let wat = r#"(module (memory 16)
      (func (export "run")
        (drop (i32.load (i32.const 0)))
        (drop (memory.grow (i32.const 1)))
        (drop (i32.load (i32.const 0))))
      (func (export "refused")
        (drop (memory.grow (i32.const 1000)))
        (drop (i32.load (i32.const 0)))))"#;
    let start = frame(wat, 16);
    let grow = |pages| 2 * op + c.wasm_memory_grow.total(pages);
    assert_eq!(
        run(wat, "run", 100_000_000).fuel_used,
        start + 4 * op + grow(1) + prices.price(16) + prices.price(17)
    );
    assert!(prices.price(17) > prices.price(16));
    assert_eq!(
        run(wat, "refused", 100_000_000).fuel_used,
        start + grow(1000) + 2 * op + prices.price(16)
    );
}

#[test]
fn nans_have_the_same_bits_on_every_compiler() {
    let wat = r#"(module
      (import "verity" "output_set" (func $out (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "run")
        (f32.store (i32.const 0) (f32.div (f32.const 0) (f32.const 0)))
        (f64.store (i32.const 4) (f64.sqrt (f64.const -1)))
        (f32.store (i32.const 12) (f32.demote_f64 (f64.const nan:0x4000000000001)))
        (f64.store (i32.const 16) (f64.add (f64.const -nan:0x1) (f64.const 1)))
        (call $out (i32.const 0) (i32.const 24))))"#;
    let r = run(wat, "run", 100_000);
    assert_eq!(r.status, Status::Success);
    let canonical_f32 = 0x7fc0_0000u32.to_le_bytes();
    let canonical_f64 = 0x7ff8_0000_0000_0000u64.to_le_bytes();
    assert_eq!(&r.output[0..4], canonical_f32);
    assert_eq!(&r.output[4..12], canonical_f64);
    assert_eq!(&r.output[12..16], canonical_f32);
    assert_eq!(&r.output[16..24], canonical_f64);
}

/// A recursion `depth` calls deep below an entry frame, with a callee frame
/// shaped by `locals` extra i64 locals and `params` extra parameters.
fn recursion(depth: u32, locals: u32, params: u32) -> String {
    let extra_params = if params == 0 {
        String::new()
    } else {
        format!(" (param{})", " i64".repeat(params as usize))
    };
    let extra_args = "(i64.const 1)".repeat(params as usize);
    let extra_locals = if locals == 0 {
        String::new()
    } else {
        format!("(local{})", " i64".repeat(locals as usize))
    };
    format!(
        r#"(module
  (func $r (param $n i32){extra_params} (result i32) {extra_locals}
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add
        (call $r (i32.sub (local.get $n) (i32.const 1)){extra_args})
        (i32.const 1)))))
  (func (export "run") (drop (call $r (i32.const {depth}){extra_args}))))"#
    )
}

/// Frame slots (docs/costs.md): parameters + locals + maximum operand stack
/// height + 8.
fn deepest_ok_depth(locals: u32, params: u32) -> u32 {
    let limit = Profile::default().limits.max_stack_slots;
    // $r: params 1 + extra; the operand stack peaks at 2 (`n - 1` being
    // computed) or at 1 + extra arguments (the recursive call's arguments).
    let callee = (1 + params) + locals + (1 + params).max(2) + 8;
    // run: no locals; its operand stack peaks at 1 + extra arguments.
    let entry = (1 + params) + 8;
    // `run` calls $r(depth), which recurses depth more times: depth + 1
    // frames of $r on top of the entry's.
    (limit - entry) / callee - 1
}

#[test]
fn the_logical_stack_limit_trips_at_the_same_depth_on_every_compiler() {
    for (locals, params) in [(0, 0), (64, 0), (0, 32), (200, 8)] {
        let max = deepest_ok_depth(locals, params);
        let ok = run(&recursion(max, locals, params), "run", 100_000_000);
        assert_eq!(
            ok.status,
            Status::Success,
            "depth {max} with {locals} locals, {params} params must fit"
        );
        let over = run(&recursion(max + 1, locals, params), "run", 100_000_000);
        assert_eq!(
            over.status,
            Status::Trapped {
                trap: TrapKind::StackOverflow
            },
            "depth {} with {locals} locals, {params} params must trap",
            max + 1
        );
    }
}

#[test]
fn the_native_stack_is_never_the_limit() {
    // Frames that are large in machine code but cheap in slots would be the
    // risk: operand stacks kept deep across the recursive call. At the
    // logical limit, neither compiler may run out of native stack.
    let deep_operands = |depth: u32| {
        let pushes = "(i64.const 3)".repeat(60);
        let adds = "(i64.add)".repeat(60);
        format!(
            r#"(module
  (func $r (param $n i32) (result i64)
    {pushes}
    (if (result i64) (i32.eqz (local.get $n))
      (then (i64.const 0))
      (else (call $r (i32.sub (local.get $n) (i32.const 1)))))
    {adds})
  (func (export "run") (drop (call $r (i32.const {depth})))))"#
        )
    };
    let limit = Profile::default().limits.max_stack_slots;
    // $r: 1 param, operand stack 60 + 2, + 8; entry: 1 + 8.
    let max = (limit - 9) / (1 + 62 + 8) - 1;
    assert_eq!(
        run(&deep_operands(max), "run", 100_000_000).status,
        Status::Success
    );
    assert_eq!(
        run(&deep_operands(max + 1), "run", 100_000_000).status,
        Status::Trapped {
            trap: TrapKind::StackOverflow
        }
    );
}

#[test]
fn every_compiler_gives_the_same_receipt_for_traps_and_host_calls() {
    let wat = r#"(module
      (import "verity" "storage_write" (func $w (param i32 i32 i32 i32)))
      (import "verity" "event_emit" (func $e (param i32 i32 i32 i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "key-value")
      (func (export "write") (call $w (i32.const 0) (i32.const 3) (i32.const 4) (i32.const 5))
        (call $e (i32.const 0) (i32.const 3) (i32.const 4) (i32.const 5)))
      (func (export "oob") (drop (i32.load (i32.const 70000))))
      (func (export "div") (drop (i32.div_s (i32.const 1) (i32.const 0))))
      (func (export "unreachable") unreachable))"#;
    assert_eq!(run(wat, "write", 1_000_000).status, Status::Success);
    for (entry, trap) in [
        ("oob", TrapKind::MemoryOutOfBounds),
        ("div", TrapKind::IntegerDivideByZero),
        ("unreachable", TrapKind::Unreachable),
    ] {
        assert_eq!(run(wat, entry, 1_000_000).status, Status::Trapped { trap });
    }
}

#[test]
fn docs_costs_md_states_the_rules_these_tests_check() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/costs.md")).unwrap();
    let overhead = verity_runtime::instrument::FRAME_OVERHEAD_SLOTS;
    for needle in [
        "8000 for 1000 iterations".to_string(),
        format!("frame = parameters + declared locals + maximum operand stack height + {overhead}"),
        format!("(default {})", Profile::default().limits.max_stack_slots),
        "`block`, `loop`, `end`, `else` and `nop` compile".to_string(),
    ] {
        assert!(doc.contains(&needle), "docs/costs.md lacks {needle:?}");
    }
    // The free operators the doc names are the ones the meter treats as free.
    use verity_runtime::instrument::op_cost;
    use wasmparser::Operator as Op;
    let costs = Profile::default().costs;
    for op in [
        Op::Block {
            blockty: wasmparser::BlockType::Empty,
        },
        Op::Loop {
            blockty: wasmparser::BlockType::Empty,
        },
        Op::End,
        Op::Else,
        Op::Nop,
    ] {
        assert_eq!(op_cost(&op, &costs), 0);
    }
    assert_eq!(op_cost(&Op::I32Add, &costs), costs.wasm_op.base);
    assert_eq!(op_cost(&Op::Drop, &costs), costs.wasm_op.base);
    assert_eq!(op_cost(&Op::F64Sqrt, &costs), costs.wasm_float_slow.base);
}
